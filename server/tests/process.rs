//! The `roadroller` binary as a user runs it: defaults, signals, bad
//! configuration, and the embedded broker's persistence across restarts.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Serve, wait_serving};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test]
async fn with_no_configuration_it_serves_on_an_embedded_broker_within_5s() {
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let mut serve = Serve::start(dir.path(), &[]);
    let addr = serve.logged("serving", "listen", Duration::from_secs(5));
    assert_eq!(addr, "127.0.0.1:50051", "the default listen address");
    wait_serving(&addr, Duration::from_secs(5).saturating_sub(started.elapsed())).await;
    assert!(
        dir.path().join("roadroller-data").is_dir(),
        "the default data dir is ./roadroller-data"
    );
    serve.terminate();
    assert!(serve.wait(Duration::from_secs(10)).await.success());
}

#[tokio::test]
async fn sigterm_exits_zero_within_the_grace_period() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = ["--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--grace-period", "3s"];
    let mut serve = Serve::start(dir.path(), &args);
    let addr = serve.logged("serving", "listen", Duration::from_secs(10));
    wait_serving(&addr, Duration::from_secs(10)).await;
    // A client holding a stream open must not keep the server past its grace.
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut watch = HealthClient::new(channel)
        .watch(HealthCheckRequest { service: String::new() })
        .await
        .expect("watch")
        .into_inner();
    let first = watch.message().await.expect("status").expect("a status");
    assert_eq!(first.status, ServingStatus::Serving as i32);

    let signalled = Instant::now();
    serve.terminate();
    let status = serve.wait(Duration::from_secs(4)).await;
    assert!(status.success(), "exit status {status:?}");
    // The grace period plus process exit.
    assert!(signalled.elapsed() < Duration::from_millis(3500), "{:?}", signalled.elapsed());
}

/// Runs `roadroller serve` expecting it to fail; returns standard error.
async fn failing_start(dir: &Path, args: &[&str]) -> String {
    let mut serve = Serve::start(dir, args);
    let status = serve.wait(Duration::from_secs(20)).await;
    assert!(!status.success(), "expected a failure exit, got {status:?}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut serve.child.stderr.take().expect("piped"), &mut stderr)
        .expect("stderr");
    assert_eq!(stderr.lines().count(), 1, "exactly one line on stderr:\n{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
    stderr
}

#[tokio::test]
async fn bad_configuration_exits_nonzero_with_one_line_naming_the_setting() {
    let dir = tempfile::tempdir().expect("tempdir");

    let err = failing_start(dir.path(), &["--listen", "not-an-address"]).await;
    assert!(
        err.contains("--listen=\"not-an-address\"") && err.contains("expected an IP address"),
        "{err}"
    );

    let err = failing_start(dir.path(), &["--grace-period", "-5s"]).await;
    assert!(err.contains("--grace-period=\"-5s\": must not be negative"), "{err}");

    std::fs::write(dir.path().join("bad.toml"), "listen = \"127.0.0.1:0\"\nlisten_port = 1\n")
        .expect("write");
    let err = failing_start(dir.path(), &["--config", "bad.toml"]).await;
    assert!(err.contains("bad.toml") && err.contains("unknown setting `listen_port`"), "{err}");

    let err = failing_start(dir.path(), &["--config", "missing.toml"]).await;
    assert!(err.contains("missing.toml"), "{err}");
}

#[tokio::test]
async fn an_open_server_refuses_a_listener_beyond_loopback() {
    let dir = tempfile::tempdir().expect("tempdir");
    for args in [
        &["--listen", "0.0.0.0:0", "--http-listen", ""][..],
        &["--listen", "127.0.0.1:0", "--http-listen", "0.0.0.0:0"][..],
    ] {
        let err = failing_start(dir.path(), args).await;
        assert!(err.contains("auth.allow_anonymous") && err.contains("non-loopback"), "{err}");
    }
    // Said out loud, it starts.
    let mut serve = Serve::start(
        dir.path(),
        &["--listen", "0.0.0.0:0", "--http-listen", "", "--auth-allow-anonymous", "true"],
    );
    let addr = serve.logged("serving", "listen", Duration::from_secs(10));
    let port = addr.rsplit(':').next().expect("a port");
    wait_serving(&format!("127.0.0.1:{port}"), Duration::from_secs(10)).await;
    serve.terminate();
    assert!(serve.wait(Duration::from_secs(10)).await.success());
}

#[tokio::test]
async fn secrets_in_kafka_properties_are_never_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pw"), "hunter2-in-a-file\n").expect("write");
    // librdkafka refuses this value, and its message would name it.
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--http-listen",
        "",
        "--kafka-bootstrap-servers",
        "127.0.0.1:9",
        "--kafka-properties",
        "security.protocol=${file:pw}",
    ];
    let err = failing_start(dir.path(), &args).await;
    assert!(err.contains("kafka.properties") && !err.contains("hunter2"), "{err}");
    let err = failing_start(dir.path(), &["--kafka-properties", "sasl.password hunter2"]).await;
    assert!(err.contains("--kafka-properties=\"[redacted]\"") && !err.contains("hunter2"), "{err}");
}

#[tokio::test]
async fn a_broker_that_never_answers_fails_start_up_naming_the_setting() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Accepts connections (the kernel completes the handshake) but never
    // reads or answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let bootstrap = silent.local_addr().expect("addr").to_string();
    let started = Instant::now();
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--http-listen",
        "127.0.0.1:0",
        "--kafka-bootstrap-servers",
        &bootstrap,
        "--kafka-startup-timeout",
        "2s",
    ];
    let err = failing_start(dir.path(), &args).await;
    assert!(err.contains("--kafka-bootstrap-servers") && err.contains(&bootstrap), "{err}");
    assert!(started.elapsed() < Duration::from_secs(15), "gave up after the startup timeout");
}

#[tokio::test]
async fn the_embedded_broker_keeps_topics_across_a_clean_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = ["--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"];

    let mut serve = Serve::start(dir.path(), &args);
    let broker = serve.logged("embedded kafka broker started", "addr", Duration::from_secs(10));
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", &broker).create().expect("admin");
    let topic = NewTopic::new("kept_across_restarts", 3, TopicReplication::Fixed(1));
    let created = admin.create_topics([&topic], &AdminOptions::new()).await.expect("create");
    assert!(created[0].is_ok(), "{created:?}");
    drop(admin);
    serve.terminate();
    assert!(serve.wait(Duration::from_secs(10)).await.success());

    let mut serve = Serve::start(dir.path(), &args);
    let broker = serve.logged("embedded kafka broker started", "addr", Duration::from_secs(10));
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", &broker).create().expect("admin");
    // All topics, not the one by name: naming it could auto-create it.
    let metadata = admin.inner().fetch_metadata(None, Duration::from_secs(5)).expect("metadata");
    let topic = metadata.topics().iter().find(|t| t.name() == "kept_across_restarts");
    let topic = topic.expect("the topic survived the restart");
    assert_eq!(topic.partitions().len(), 3);
    serve.terminate();
    assert!(serve.wait(Duration::from_secs(10)).await.success());
}
