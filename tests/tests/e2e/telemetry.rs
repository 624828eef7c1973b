//! What an operator sees: metrics by road and code that Prometheus' own
//! checker accepts, labels that stay bounded, and probes that follow Kafka
//! and the drain.

use std::process::{Command, Stdio};
use std::time::Duration;

use futures::future::join_all;
use roadroller_api::v1 as pb;
use roadroller_tests::{
    Subscriber, TestBroker, TestServer, eventually, group_start, http_get, open_road, stream_road,
};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

fn record(payload: serde_json::Value) -> pb::Record {
    pb::Record { key: None, payload: Some(payload.to_string()) }
}

/// The value of the sample `name{labels}` in `text`, if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
}

async fn scrape(server: &TestServer) -> String {
    let answer = http_get(&format!("{}/metrics", server.admin_url())).await;
    assert_eq!(answer.status, 200);
    let content_type = answer.headers.get("content-type").and_then(|v| v.to_str().ok());
    assert!(
        content_type.is_some_and(|t| t.starts_with("text/plain; version=0.0.4")),
        "{content_type:?}"
    );
    answer.text()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_by_road_and_code_and_pass_promtool() {
    let server = TestServer::start().await;
    let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}});
    for road in ["apples", "pears"] {
        let mut r = stream_road(road);
        r.partitions = 1;
        open_road(&server, r, schema.clone()).await;
    }
    server.produce_accepted("apples", (0..3).map(|n| record(json!({"n": n}))).collect()).await;
    let results = server
        .onramp()
        .await
        .produce(pb::ProduceRequest {
            road: "pears".into(),
            records: vec![
                record(json!({"n": 1})),
                record(json!({"n": "x"})),
                record(json!({"n": 2})),
            ],
        })
        .await
        .expect("produce")
        .into_inner()
        .results;
    assert_eq!(results.len(), 3);
    let mut apples =
        Subscriber::start(&server, group_start("apples", "eater", 10)).await.expect("subscribe");
    assert_eq!(apples.messages(3, WAIT).await.len(), 3);

    let text = scrape(&server).await;
    assert_eq!(
        sample(&text, r#"roadroller_onramp_records_total{road="apples"}"#),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"roadroller_onramp_records_total{road="pears"}"#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"roadroller_onramp_rejected_records_total{road="pears",code="InvalidArgument"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"roadroller_offramp_records_total{road="apples"}"#),
        Some(3.0),
        "{text}"
    );
    let produce_ok = r#"roadroller_rpc_requests_total{service="roadroller.v1.OnrampService",method="Produce",code="Ok"}"#;
    assert_eq!(sample(&text, produce_ok), Some(2.0), "{text}");
    assert_eq!(
        sample(&text, r#"roadroller_offramp_subscriptions{mode="GROUP"}"#),
        Some(1.0),
        "{text}"
    );
    assert!(
        sample(&text, "roadroller_process_resident_memory_bytes").is_some_and(|v| v > 0.0),
        "{text}"
    );
    assert!(sample(&text, "roadroller_process_open_fds").is_some_and(|v| v > 0.0), "{text}");
    let roads = eventually(WAIT, "the registry gauge", || async {
        let text = scrape(&server).await;
        sample(&text, "roadroller_registry_roads").filter(|n| *n == 2.0)
    })
    .await;
    assert_eq!(roads, 2.0);

    // A refusal before the service (no such method is fine too): a stream
    // that ends counts once it has ended.
    drop(apples);
    let closed = eventually(WAIT, "the subscription counted as closed", || async {
        let text = scrape(&server).await;
        let series = r#"roadroller_rpc_requests_total{service="roadroller.v1.OfframpService",method="Subscribe",code="Cancelled"}"#;
        sample(&text, series)
    })
    .await;
    assert_eq!(closed, 1.0);

    // librdkafka reports its statistics every few seconds.
    let rtt = eventually(WAIT, "the broker round trip from librdkafka", || async {
        sample(&scrape(&server).await, "roadroller_kafka_broker_rtt_seconds").filter(|v| *v > 0.0)
    })
    .await;
    assert!(rtt < 5.0, "{rtt}");
    let text = scrape(&server).await;
    assert!(sample(&text, "roadroller_kafka_producer_queue_messages").is_some(), "{text}");

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (./scripts/install-tools installs Debian's prometheus package)");
    use std::io::Write;
    promtool.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
    let checked = promtool.wait_with_output().expect("promtool");
    assert!(
        checked.status.success(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_roads_leave_the_road_label_at_its_maximum_plus_other() {
    const ROADS: usize = 500;
    const MAX: usize = 20;
    let broker = TestBroker::start();
    let server = TestServer::start_on(&broker, |s| s.metrics.max_roads = MAX).await;
    let mut paver = server.paver().await;
    let names: Vec<String> = (0..ROADS).map(|i| format!("many_{i:03}")).collect();
    for chunk in names.chunks(50) {
        join_all(chunk.iter().map(|name| {
            let mut paver = paver.clone();
            let mut road = stream_road(name);
            road.partitions = 1;
            async move {
                paver.create_road(pb::CreateRoadRequest { road: Some(road) }).await.expect("create")
            }
        }))
        .await;
    }
    for name in &names {
        paver
            .register_schema(pb::RegisterSchemaRequest {
                road: name.clone(),
                schema: r#"{"type":"object"}"#.into(),
                version: 0,
            })
            .await
            .expect("schema");
    }
    eventually(Duration::from_secs(120), "every topic", || {
        let mut paver = paver.clone();
        async move {
            let roads = paver
                .list_roads(pb::ListRoadsRequest { page_size: 1000, ..Default::default() })
                .await
                .ok()?
                .into_inner()
                .roads;
            roads.iter().all(|r| r.status.as_ref().is_some_and(|s| s.topic_created)).then_some(())
        }
    })
    .await;
    for chunk in names.chunks(50) {
        join_all(chunk.iter().map(|name| {
            let mut paver = paver.clone();
            let road = pb::Road { name: name.clone(), enabled: true, ..Default::default() };
            async move {
                paver
                    .update_road(pb::UpdateRoadRequest {
                        road: Some(road),
                        update_mask: Some(prost_types::FieldMask { paths: vec!["enabled".into()] }),
                    })
                    .await
                    .expect("enable")
            }
        }))
        .await;
    }
    for chunk in names.chunks(50) {
        join_all(chunk.iter().map(|name| server.produce_accepted(name, vec![record(json!({}))])))
            .await;
    }
    let text = scrape(&server).await;
    let values: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("roadroller_onramp_records_total{"))
        .filter_map(|l| l.split("road=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(values.len(), MAX + 1, "{values:?}");
    assert!(values.contains("other"));
    let other = sample(&text, r#"roadroller_onramp_records_total{road="other"}"#);
    assert_eq!(other, Some((ROADS - MAX) as f64));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_broker_and_turns_unready_at_once_when_draining() {
    let broker = TestBroker::start();
    let server = TestServer::start_on(&broker, |s| s.grace_period = Duration::from_secs(8)).await;
    open_road(&server, stream_road("probe"), json!({"type": "object"})).await;
    let readyz = || {
        let url = format!("{}/readyz", server.admin_url());
        async move { http_get(&url).await }
    };
    assert_eq!(readyz().await.status, 200);
    assert_eq!(http_get(&format!("{}/healthz", server.admin_url())).await.status, 200);

    // gRPC probes on the admin port, in plaintext: readiness is the
    // server's health, liveness only the process's.
    let probe = |service: &'static str| {
        let url = server.admin_url();
        async move {
            let channel = tonic::transport::Channel::from_shared(url).ok()?.connect().await.ok()?;
            let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
            let answer = client
                .check(tonic_health::pb::HealthCheckRequest { service: service.into() })
                .await
                .ok()?;
            Some(answer.into_inner().status)
        }
    };
    use tonic_health::pb::health_check_response::ServingStatus;
    assert_eq!(probe("").await, Some(ServingStatus::Serving as i32));
    assert_eq!(probe("liveness").await, Some(ServingStatus::Serving as i32));

    broker.stop();
    let down = eventually(WAIT, "unready without Kafka", || async {
        let answer = readyz().await;
        (answer.status == 503).then_some(answer.text())
    })
    .await;
    assert!(down.contains("Kafka"), "{down}");
    assert_eq!(probe("").await, Some(ServingStatus::NotServing as i32));
    assert_eq!(probe("liveness").await, Some(ServingStatus::Serving as i32));
    broker.resume();
    eventually(WAIT, "ready again", || async { (readyz().await.status == 200).then_some(()) })
        .await;

    // A call in flight holds the drain open: a produce waiting for a broker
    // that went away.
    broker.stop();
    let onramp = server.onramp().await;
    let pending = tokio::spawn(async move {
        let mut onramp = onramp;
        let _ = onramp
            .produce(pb::ProduceRequest { road: "probe".into(), records: vec![record(json!({}))] })
            .await;
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let admin = server.admin_url();
    let stopping = tokio::spawn(server.shutdown());
    let draining = eventually(Duration::from_secs(3), "unready while draining", || {
        let url = format!("{admin}/readyz");
        async move {
            let answer = http_get(&url).await;
            answer.text().contains("shutting down").then_some(answer.status)
        }
    })
    .await;
    assert_eq!(draining, 503);
    broker.resume();
    stopping.await.expect("the server stops");
    let _ = pending.await;
}
