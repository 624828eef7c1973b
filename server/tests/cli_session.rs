//! A session with the `roadroller` command line against a running server:
//! create a road, register a schema from a file, produce 10,000 JSON lines,
//! tail them back, export a snapshot.

use std::collections::HashMap;
use std::process::{Command, Output};

use roadroller_tests::TestServer;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_roadroller");

fn roadroller(server: &TestServer, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .args(["--server", &server.endpoint()])
        .env_remove("ROADROLLER_SERVER")
        .output()
        .expect("roadroller runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(output: Output) -> (String, String) {
    let (out, err) = (text(&output.stdout), text(&output.stderr));
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{out}\nstderr:\n{err}",
        output.status.code()
    );
    (out, err)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cli_session_from_road_to_snapshot() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");

    // The commands block, so the test runs them off the runtime threads.
    let s = &server;
    let (out, _) = ok(roadroller(
        s,
        &[
            "road",
            "create",
            "orders",
            "--type",
            "compacted",
            "--partitions",
            "3",
            "--min-compaction-lag",
            "1h",
            "--description",
            "order book",
        ],
    ));
    assert!(out.contains("road        orders") && out.contains("COMPACTED"), "{out}");

    let schema = dir.path().join("schema.json");
    std::fs::write(&schema, json!({"type": "object", "required": ["qty"], "properties": {"qty": {"type": "integer"}, "note": {"type": "string"}}}).to_string()).expect("write");
    let (out, _) =
        ok(roadroller(s, &["schema", "register", "orders", schema.to_str().expect("utf-8")]));
    assert_eq!(out.trim(), "registered orders schema version 1");
    let (out, _) = ok(roadroller(s, &["road", "enable", "orders"]));
    assert!(out.contains("enabled     true"), "{out}");

    // 10,000 lines: 5,000 keys written twice, the second time with qty * 2.
    let input = dir.path().join("orders.jsonl");
    let mut lines = String::new();
    for round in 1..=2 {
        for k in 0..5000 {
            lines +=
                &json!({"key": format!("order-{k}"), "payload": {"qty": k * round}}).to_string();
            lines.push('\n');
        }
    }
    std::fs::write(&input, lines).expect("write");
    let (_, err) =
        ok(roadroller(s, &["produce", "orders", input.to_str().expect("utf-8"), "--batch", "250"]));
    assert!(err.contains("orders: 10000 records, 10000 accepted, 0 rejected"), "{err}");

    let (out, _) =
        ok(roadroller(s, &["tail", "orders", "--from", "beginning", "--count", "10000"]));
    let tailed: Vec<Value> =
        out.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(tailed.len(), 10_000);
    let mut seen: HashMap<String, Vec<i64>> = HashMap::new();
    for line in &tailed {
        let key = line["key"].as_str().expect("key").to_string();
        seen.entry(key).or_default().push(line["payload"]["qty"].as_i64().expect("qty"));
        assert!(
            line["partition"].is_i64() && line["offset"].is_i64() && line["timestamp"].is_string(),
            "{line}"
        );
    }
    assert_eq!(seen.len(), 5000);
    for (key, values) in &seen {
        let k: i64 = key.trim_start_matches("order-").parse().expect("number");
        assert_eq!(values, &[k, 2 * k], "{key}'s updates in order");
    }

    let state = dir.path().join("state.jsonl");
    let (_, err) =
        ok(roadroller(s, &["snapshot", "orders", "--output", state.to_str().expect("utf-8")]));
    assert!(err.contains("orders: 5000 keys as of offsets"), "{err}");
    let exported = std::fs::read_to_string(&state).expect("read");
    let exported: Vec<Value> =
        exported.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(exported.len(), 5000);
    for line in &exported {
        let k: i64 = line["key"]
            .as_str()
            .expect("key")
            .trim_start_matches("order-")
            .parse()
            .expect("number");
        assert_eq!(line["payload"], json!({"qty": 2 * k}), "the latest value");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_read_as_sentences_with_distinct_exit_codes() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let s = &server;

    let missing = roadroller(s, &["road", "get", "nowhere"]);
    assert_eq!(missing.status.code(), Some(3), "not found");
    assert_eq!(text(&missing.stderr).trim(), "roadroller: road \"nowhere\" does not exist");

    let invalid = roadroller(s, &["road", "create", "Bad-Name", "--type", "stream"]);
    assert_eq!(invalid.status.code(), Some(4), "refused");
    let err = text(&invalid.stderr);
    assert!(err.contains("road.name: \"Bad-Name\" must match ^[a-z][a-z0-9_]*$"), "{err}");
    assert!(!err.contains("Status {"), "no debug dumps: {err}");

    let usage = roadroller(s, &["road", "create", "x"]);
    assert_eq!(usage.status.code(), Some(2), "usage: --type is required");

    ok(roadroller(s, &["road", "create", "events", "--type", "stream", "--enable"]));
    let schema = dir.path().join("schema.json");
    std::fs::write(&schema, r#"{"type":"object","properties":{"n":{"type":"integer"}}}"#)
        .expect("write");
    ok(roadroller(s, &["schema", "register", "events", schema.to_str().expect("utf-8")]));
    let input = dir.path().join("mixed.jsonl");
    std::fs::write(&input, "{\"n\":1}\n{\"n\":\"two\"}\n{\"n\":3}\n").expect("write");
    let rejected = roadroller(s, &["produce", "events", input.to_str().expect("utf-8")]);
    assert_eq!(rejected.status.code(), Some(4), "rejected records");
    let err = text(&rejected.stderr);
    assert!(err.contains("events: 3 records, 2 accepted, 1 rejected"), "{err}");
    assert!(err.contains("line 2: payload: fails schema version 1"), "{err}");

    let unreachable = Command::new(BIN)
        .args(["road", "list", "--server", "http://127.0.0.1:1"])
        .output()
        .expect("runs");
    assert_eq!(unreachable.status.code(), Some(5), "server unavailable");
    assert!(
        text(&unreachable.stderr).starts_with("roadroller: cannot connect to http://127.0.0.1:1")
    );
    server.shutdown().await;
}

/// The command line against a server with TLS, client certificates and
/// tokens: a CA, a certificate and a token file or variable get it in, and
/// without the token it is refused with exit code 4.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_reaches_a_secured_server_with_a_ca_a_certificate_and_a_token() {
    use roadroller_tests::security::Secured;
    let broker = roadroller_tests::TestBroker::start();
    let secured = Secured::new();
    let server = TestServer::start_tls(&broker, &secured.pki.ca_pem, |s| secured.apply(s)).await;
    let client = secured.pki.client(None, "cli");
    let cert = secured.write("cli.pem", &client.cert);
    let key = secured.write("cli.key", &client.key);
    let token =
        secured.write("token", &format!("{}\n", secured.tokens.token("root", &["platform"])));
    let ca = secured.path("ca.pem");
    let path = |p: &std::path::Path| p.to_str().expect("utf-8").to_string();
    let with_cert =
        ["--client-cert".to_string(), path(&cert), "--client-key".to_string(), path(&key)];
    let run_as = |args: &[&str], env: &[(&str, String)], cert: bool| {
        let mut cmd = Command::new(BIN);
        cmd.args(args).args(["--ca-cert", &path(&ca), "--server", &server.endpoint()]);
        if cert {
            cmd.args(&with_cert);
        }
        for name in ["ROADROLLER_SERVER", "ROADROLLER_TOKEN", "ROADROLLER_TOKEN_FILE"] {
            cmd.env_remove(name);
        }
        for (name, value) in env {
            cmd.env(name, value);
        }
        cmd.output().expect("roadroller runs")
    };
    let run = |args: &[&str], env: &[(&str, String)]| run_as(args, env, true);

    let (out, _) = ok(run(
        &["road", "create", "secured", "--type", "stream", "--token-file", &path(&token)],
        &[],
    ));
    assert!(out.contains("secured"), "{out}");
    let raw = std::fs::read_to_string(&token).expect("token");
    let (out, _) = ok(run(&["road", "list"], &[("ROADROLLER_TOKEN", raw.trim().to_string())]));
    assert!(out.contains("secured"), "{out}");

    // The certificate alone is an identity without rights to create.
    let refused = run(&["road", "create", "mine", "--type", "stream"], &[]);
    assert_eq!(refused.status.code(), Some(4), "{}", text(&refused.stderr));
    let err = text(&refused.stderr);
    assert!(err.contains("cli may not create road \"mine\""), "{err}");
    // Neither certificate nor token: no way in.
    let refused = run_as(&["road", "list"], &[], false);
    assert_eq!(refused.status.code(), Some(4), "{}", text(&refused.stderr));
    let err = text(&refused.stderr);
    assert!(err.contains("needs credentials"), "{err}");
    assert!(!err.contains(raw.trim()), "the token is never printed");
    server.shutdown().await;
}

/// `roadroller stream ...` shows a stream's lag and moves it.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_shows_a_streams_lag_and_resets_it() {
    let server = TestServer::start().await;
    let lagging = roadroller_tests::lagging_stream(&server, "ledger", "readers", 100, 70).await;
    let (out, _) = ok(roadroller(&server, &["stream", "lag", "ledger", "readers", "--json"]));
    let lag: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(lag["lag"], 30, "{lag}");
    assert_eq!(lag["partitions"][0]["committedOffset"], 70, "{lag}");
    let (out, _) = ok(roadroller(&server, &["stream", "list", "ledger"]));
    assert!(out.starts_with("readers\tlag 30\t1 member(s)"), "{out}");
    let refused =
        roadroller(&server, &["stream", "reset", "ledger", "readers", "--to", "earliest"]);
    assert_eq!(refused.status.code(), Some(4), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("member"), "{}", text(&refused.stderr));
    drop(lagging.subscriber);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (out, _) = ok(roadroller(&server, &["stream", "lag", "ledger", "readers", "--json"]));
        let lag: Value = serde_json::from_str(&out).expect("JSON");
        if lag["members"] == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still a member: {lag}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (out, _) =
        ok(roadroller(&server, &["stream", "reset", "ledger", "readers", "--to", "0:10"]));
    assert!(out.contains("lag         90"), "{out}");
    server.shutdown().await;
}
