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
    assert_eq!(text(&missing.stderr).trim(), "roadroller: Road \"nowhere\" does not exist.");

    let invalid = roadroller(s, &["road", "create", "Bad-Name", "--type", "stream"]);
    assert_eq!(invalid.status.code(), Some(4), "refused");
    let err = text(&invalid.stderr);
    assert!(err.contains("road.name: \"Bad-Name\" must match ^[a-z][a-z0-9_]*$"), "{err}");
    assert!(!err.contains("Status {"), "no debug dumps: {err}");
    assert_eq!(err.matches("must match").count(), 1, "each problem said once: {err}");

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

/// Runs the CLI with `args` as given (no --server appended).
fn roadroller_raw(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env_remove("ROADROLLER_SERVER").output().expect("roadroller runs")
}

/// Habits from kcat and the Kafka tools: stop at the end of the data,
/// payloads printed as produced, bad lines reported like rejected records,
/// key separators, server flags anywhere, an address without a scheme.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_behaves_as_kafka_users_expect() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let s = &server;
    ok(roadroller(
        s,
        &["road", "create", "clicks", "--type", "stream", "--partitions", "3", "--enable"],
    ));
    let schema = dir.path().join("schema.json");
    std::fs::write(
        &schema,
        r#"{"type":"object","properties":{"n":{"type":"integer"},"page":{"type":"string"}}}"#,
    )
    .expect("write");
    ok(roadroller(s, &["schema", "register", "clicks", schema.to_str().expect("utf-8")]));

    // Properties out of order and with spaces: they come back byte for byte.
    let input = dir.path().join("clicks.jsonl");
    let mut lines = String::new();
    for n in 0..5 {
        lines += &format!("{{\"page\": \"p{n}\",  \"n\": {n}}}\n");
        if n == 2 {
            lines += "this is not JSON\n";
        }
    }
    std::fs::write(&input, &lines).expect("write");
    let produced = roadroller(s, &["produce", "clicks", input.to_str().expect("utf-8")]);
    assert_eq!(produced.status.code(), Some(4), "a bad line is a rejection");
    let err = text(&produced.stderr);
    assert!(err.contains("clicks: 6 records, 5 accepted, 1 rejected"), "{err}");
    assert!(err.contains("line 4: not JSON"), "the bad line is named: {err}");

    // --exit-at-end: the five records, then exit, though --count asks for more.
    let (out, _) =
        ok(roadroller(s, &["tail", "clicks", "--from", "beginning", "-e", "--count", "10"]));
    let printed: Vec<&str> = out.lines().collect();
    assert_eq!(printed.len(), 5, "{out}");
    for n in 0..5 {
        let expected =
            format!(",\"schema_version\":1,\"payload\":{{\"page\": \"p{n}\",  \"n\": {n}}}}}");
        assert!(printed.iter().any(|l| l.ends_with(&expected)), "p{n} as produced in {out}");
    }
    let line: Value = serde_json::from_str(printed[0]).expect("a JSON line");
    assert!(line["partition"].is_i64() && line["offset"].is_i64() && line["timestamp"].is_string());
    // From the end there is nothing to read: it exits at once.
    let (out, _) = ok(roadroller(s, &["tail", "clicks", "-e"]));
    assert_eq!(out, "");

    // --fail-fast stops at the bad line; the lines before it are produced.
    let failing =
        roadroller(s, &["produce", "clicks", input.to_str().expect("utf-8"), "--fail-fast"]);
    assert_eq!(failing.status.code(), Some(4));
    let err = text(&failing.stderr);
    assert!(err.contains("clicks: 3 records, 3 accepted, 0 rejected"), "{err}");
    assert!(err.contains("line 4: not JSON") && err.contains("--fail-fast"), "{err}");

    // Key separators on a COMPACTED road; an empty payload deletes the key.
    ok(roadroller(
        s,
        &[
            "road",
            "create",
            "prices",
            "--type",
            "compacted",
            "--min-compaction-lag",
            "1h",
            "--enable",
        ],
    ));
    ok(roadroller(s, &["schema", "register", "prices", schema.to_str().expect("utf-8")]));
    let keyed = dir.path().join("prices.txt");
    std::fs::write(&keyed, "apple|{\"n\":1}\npear|{\"n\":2}\napple|\nplum\n").expect("write");
    let produced = roadroller(s, &["produce", "prices", keyed.to_str().expect("utf-8"), "-K", "|"]);
    let err = text(&produced.stderr);
    assert!(err.contains("prices: 4 records, 3 accepted, 1 rejected"), "{err}");
    assert!(err.contains("line 4: no key separator \"|\""), "{err}");
    let (out, _) = ok(roadroller(s, &["snapshot", "prices"]));
    assert_eq!(out.trim(), r#"{"key":"pear","schema_version":1,"payload":{"n":2}}"#);
    let stream_road =
        roadroller(s, &["produce", "clicks", keyed.to_str().expect("utf-8"), "-K", "|"]);
    assert_eq!(stream_road.status.code(), Some(4));
    assert!(text(&stream_road.stderr).contains("STREAM road"), "{}", text(&stream_road.stderr));

    // Server flags before the subcommand, and an address without a scheme.
    let bare = server.addr().to_string();
    let (out, _) = ok(roadroller_raw(&["--server", &bare, "road", "list"]));
    assert!(out.contains("clicks") && out.contains("prices"), "{out}");
    let (out, _) = ok(roadroller_raw(&["road", "--server", &bare, "list"]));
    assert!(out.contains("clicks"), "{out}");
    let via_env = Command::new(BIN)
        .args(["road", "get", "clicks"])
        .env("ROADROLLER_SERVER", &bare)
        .output()
        .expect("runs");
    assert!(via_env.status.success(), "{}", text(&via_env.stderr));

    // A refused connection says what was tried and why.
    let refused = roadroller_raw(&["road", "list", "--server", "127.0.0.1:1"]);
    assert_eq!(refused.status.code(), Some(5));
    let err = text(&refused.stderr);
    assert!(err.contains("http://127.0.0.1:1") && err.contains("Connection refused"), "{err}");

    let (script, _) = ok(roadroller_raw(&["completions", "bash"]));
    assert!(
        script.contains("roadroller") && script.contains("snapshot"),
        "a bash completion script"
    );
    server.shutdown().await;
}

/// `road update --materialized true`, then `get` and `keys` on the view.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_looks_up_keys_of_a_materialized_road() {
    let server = TestServer::start().await;
    let s = &server;
    let dir = tempfile::tempdir().expect("tempdir");
    ok(roadroller(s, &["road", "create", "prices", "--type", "compacted", "--partitions", "2"]));
    let schema = dir.path().join("schema.json");
    std::fs::write(
        &schema,
        json!({"type": "object", "properties": {"eur": {"type": "number"}}}).to_string(),
    )
    .expect("write");
    ok(roadroller(s, &["schema", "register", "prices", schema.to_str().expect("utf-8")]));
    ok(roadroller(s, &["road", "enable", "prices"]));
    let input = dir.path().join("prices.jsonl");
    std::fs::write(
        &input,
        "apple\t{\"eur\": 1.5}\npear\t{\"eur\": 2}\nplum\t{\"eur\": 3}\napple\t{\"eur\": 1.25}\n",
    )
    .expect("write");
    ok(roadroller(
        s,
        &["produce", "prices", input.to_str().expect("utf-8"), "--key-separator", "\t"],
    ));
    let (out, _) = ok(roadroller(s, &["road", "update", "prices", "--materialized", "true"]));
    assert!(out.contains("table"), "{out}");

    // The view is built in the background: `get` answers once it is ready.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let found = loop {
        let output = roadroller(s, &["get", "prices", "apple", "pear"]);
        if output.status.success() {
            break text(&output.stdout);
        }
        assert!(std::time::Instant::now() < deadline, "{}", text(&output.stderr));
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let lines: Vec<Value> =
        found.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(lines.len(), 2, "{found}");
    assert_eq!(
        (lines[0]["key"].as_str(), lines[0]["payload"].clone()),
        (Some("apple"), json!({"eur": 1.25}))
    );
    assert_eq!(lines[1]["payload"], json!({"eur": 2}));
    assert_eq!(lines[0]["schema_version"], 1);

    let missing = roadroller(s, &["get", "prices", "kiwi"]);
    assert_eq!(missing.status.code(), Some(3), "not found");
    assert!(text(&missing.stderr).contains("\"kiwi\""), "{}", text(&missing.stderr));

    let (keys, _) = ok(roadroller(s, &["keys", "prices", "--keys-only"]));
    assert_eq!(keys.lines().collect::<Vec<_>>(), ["apple", "pear", "plum"]);
    let (some, _) = ok(roadroller(s, &["keys", "prices", "--prefix", "p", "--limit", "1"]));
    assert_eq!(some.lines().count(), 1);
    assert!(some.contains("\"key\":\"pear\""), "{some}");

    // The road reports its view once the view has reported itself ready.
    let road = loop {
        let (json_road, _) = ok(roadroller(s, &["road", "get", "prices", "--json"]));
        let road: Value = serde_json::from_str(&json_road).expect("road JSON");
        if road["table"]["ready"] == json!(true) {
            break road;
        }
        assert!(std::time::Instant::now() < deadline, "{road}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(
        (road["materialized"].clone(), road["table"]["liveKeys"].clone()),
        (json!(true), json!(3))
    );
    server.shutdown().await;
}
