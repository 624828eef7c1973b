//! Onramp over gRPC, checked by reading the topic back with a plain rdkafka
//! consumer.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use roadroller_api::v1 as pb;
use roadroller_api::v1::record_result::Result as Outcome;
use roadroller_tests::{
    TestBroker, TestServer, compacted_road, create_road_ready, error_reason, http_json,
    java_partition, open_road, read_topic, stream_road,
};
use serde_json::json;
use tonic::Code;
use tonic_types::StatusExt;

fn value_schema() -> serde_json::Value {
    json!({"type": "object", "required": ["v"], "properties": {"v": {"type": "string"}}})
}

fn keyed(key: &str, payload: Option<serde_json::Value>) -> pb::Record {
    pb::Record { key: Some(key.into()), payload: payload.map(|p| p.to_string()) }
}

fn unkeyed(payload: serde_json::Value) -> pb::Record {
    pb::Record { key: None, payload: Some(payload.to_string()) }
}

fn produce(road: &str, records: Vec<pb::Record>) -> pb::ProduceRequest {
    pb::ProduceRequest { road: road.into(), records }
}

fn accepted(result: &pb::RecordResult) -> &pb::RecordAccepted {
    match &result.result {
        Some(Outcome::Accepted(a)) => a,
        other => panic!("expected accepted, got {other:?}"),
    }
}

fn rejected(result: &pb::RecordResult) -> &pb::RecordRejected {
    match &result.result {
        Some(Outcome::Rejected(r)) => r,
        other => panic!("expected rejected, got {other:?}"),
    }
}

#[tokio::test]
async fn the_seed_example_lands_keyed_on_murmur2_partitions() {
    let server = TestServer::start().await;
    open_road(&server, compacted_road("seed", Duration::from_secs(60)), value_schema()).await;
    let mut onramp = server.onramp().await;
    let records = vec![
        keyed("a", Some(json!({"v": "one"}))),
        keyed("b", Some(json!({"v": "two"}))),
        keyed("a", Some(json!({"v": "three"}))),
    ];
    let results =
        onramp.produce(produce("seed", records)).await.expect("produce").into_inner().results;
    assert_eq!(results.len(), 3);

    let on_topic = read_topic(&server.broker().bootstrap(), "road.seed");
    let seen: Vec<_> = on_topic
        .iter()
        .map(|r| (r.key_str().expect("key").to_string(), r.value_json().expect("value")))
        .collect();
    assert_eq!(
        seen,
        // a's two records share a partition, so they are read in order.
        sorted_by_partition(
            &on_topic,
            vec![
                ("a", json!({"v": "one"})),
                ("b", json!({"v": "two"})),
                ("a", json!({"v": "three"}))
            ]
        )
    );
    for record in &on_topic {
        let key = record.key.as_deref().expect("key");
        assert_eq!(record.partition, java_partition(key, 12), "key {:?}", record.key_str());
    }
    for (result, key) in results.iter().zip(["a", "b", "a"]) {
        assert_eq!(accepted(result).partition, java_partition(key.as_bytes(), 12));
    }
    server.shutdown().await;
}

/// The expected (key, value) pairs in the order a per-partition read
/// returns them.
fn sorted_by_partition(
    on_topic: &[roadroller_tests::KafkaRecord],
    expected: Vec<(&str, serde_json::Value)>,
) -> Vec<(String, serde_json::Value)> {
    let mut by_partition: BTreeMap<i32, Vec<(String, serde_json::Value)>> = BTreeMap::new();
    for (key, value) in expected {
        let partition = java_partition(key.as_bytes(), 12);
        by_partition.entry(partition).or_default().push((key.to_string(), value));
    }
    assert!(on_topic.len() == by_partition.values().map(Vec::len).sum::<usize>());
    by_partition.into_values().flatten().collect()
}

#[tokio::test]
async fn a_key_without_payload_is_a_tombstone() {
    let server = TestServer::start().await;
    open_road(&server, compacted_road("deletes", Duration::from_secs(60)), value_schema()).await;
    let mut onramp = server.onramp().await;
    let results = onramp
        .produce(produce("deletes", vec![keyed("a", Some(json!({"v": "x"}))), keyed("a", None)]))
        .await
        .expect("produce")
        .into_inner()
        .results;
    let (first, second) = (accepted(&results[0]), accepted(&results[1]));
    assert_eq!(first.partition, second.partition);
    let on_topic = read_topic(&server.broker().bootstrap(), "road.deletes");
    assert_eq!(on_topic.len(), 2);
    assert_eq!(on_topic[1].key_str(), Some("a"));
    assert_eq!(on_topic[1].value, None, "a tombstone has a null value");
    assert_eq!(on_topic[1].offset, second.offset);
    assert_eq!(
        (first.schema_version, second.schema_version),
        (1, 0),
        "no schema validates a delete"
    );
    assert_eq!(on_topic[1].header("roadroller-schema-version"), Some("0"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_partition_path_keeps_equal_values_together_and_in_order() {
    let server = TestServer::start().await;
    let schema = json!({"type": "object", "properties": {"user": {"type": "object", "properties": {"id": {"type": "integer"}}}, "n": {"type": "integer"}}});
    let keyed_road = pb::Road { partition_path: "$.user.id".into(), ..stream_road("by_user") };
    open_road(&server, keyed_road, schema.clone()).await;
    open_road(&server, stream_road("spread"), schema).await;
    let mut onramp = server.onramp().await;

    let records: Vec<_> =
        (0..60).map(|n| unkeyed(json!({"user": {"id": n % 3}, "n": n}))).collect();
    onramp.produce(produce("by_user", records)).await.expect("produce");
    let on_topic = read_topic(&server.broker().bootstrap(), "road.by_user");
    assert_eq!(on_topic.len(), 60);
    for user in 0..3 {
        let mine: Vec<_> = on_topic
            .iter()
            .filter(|r| r.value_json().expect("json")["user"]["id"] == user)
            .collect();
        let partitions: HashSet<_> = mine.iter().map(|r| r.partition).collect();
        assert_eq!(partitions.len(), 1, "user {user} spans {partitions:?}");
        assert_eq!(
            mine[0].key_str(),
            Some(user.to_string().as_str()),
            "the canonical JSON of the value keys the record"
        );
        let order: Vec<i64> =
            mine.iter().map(|r| r.value_json().expect("json")["n"].as_i64().expect("n")).collect();
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(order, sorted, "user {user}'s records kept their order");
    }

    let records: Vec<_> = (0..120).map(|n| unkeyed(json!({"n": n}))).collect();
    onramp.produce(produce("spread", records)).await.expect("produce");
    let on_topic = read_topic(&server.broker().bootstrap(), "road.spread");
    let partitions: HashSet<_> = on_topic.iter().map(|r| r.partition).collect();
    assert!(partitions.len() >= 4, "keyless records spread over the 6 partitions: {partitions:?}");
    assert!(on_topic.iter().all(|r| r.key.is_none()));
    server.shutdown().await;
}

#[tokio::test]
async fn valid_records_land_and_invalid_ones_come_back_with_their_violations() {
    let server = TestServer::start().await;
    let schema = json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "integer", "minimum": 0}, "tag": {"type": "string", "maxLength": 4}}});
    open_road(&server, stream_road("mixed"), schema).await;
    let mut records: Vec<_> = (0..10).map(|id| unkeyed(json!({"id": id, "tag": "ok"}))).collect();
    let invalid = [
        (json!({"tag": "ok"}), "", "required"),
        (json!({"id": -1}), "/id", "minimum"),
        (json!({"id": "x"}), "/id", "type"),
        (json!({"id": 1, "tag": "toolong"}), "/tag", "maxLength"),
        (json!({"id": 2, "tag": 5}), "/tag", "type"),
    ];
    for (i, (payload, _, _)) in invalid.iter().enumerate() {
        records.insert(2 * i + 1, unkeyed(payload.clone()));
    }
    let results = server
        .onramp()
        .await
        .produce(produce("mixed", records))
        .await
        .expect("produce")
        .into_inner()
        .results;
    assert_eq!(results.len(), 15);
    for (i, (_, pointer, keyword)) in invalid.iter().enumerate() {
        let r = rejected(&results[2 * i + 1]);
        assert_eq!(r.code, Code::InvalidArgument as i32);
        assert_eq!(
            (r.violations[0].pointer.as_str(), r.violations[0].keyword.as_str()),
            (*pointer, *keyword),
            "{r:?}"
        );
        assert_eq!(r.violation_count, 1);
        assert!(r.message.starts_with("payload: fails schema version 1"), "{}", r.message);
    }
    let on_topic = read_topic(&server.broker().bootstrap(), "road.mixed");
    let mut ids: Vec<i64> = on_topic
        .iter()
        .map(|r| r.value_json().expect("json")["id"].as_i64().expect("id"))
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..10).collect::<Vec<_>>());
    server.shutdown().await;
}

#[tokio::test]
async fn bad_records_and_bad_requests_are_refused_precisely() {
    let server = TestServer::start_on(&TestBroker::start(), |s| {
        s.onramp.max_record_bytes = 200;
        s.onramp.max_request_bytes = 4096;
    })
    .await;
    open_road(&server, stream_road("events"), value_schema()).await;
    open_road(&server, compacted_road("table", Duration::from_secs(60)), value_schema()).await;
    let mut onramp = server.onramp().await;

    let cases = [
        (
            "events",
            pb::Record { key: Some("k".into()), payload: Some(json!({"v": "x"}).to_string()) },
            Code::InvalidArgument,
            "key: must be absent on a STREAM road",
        ),
        (
            "table",
            unkeyed(json!({"v": "x"})),
            Code::InvalidArgument,
            "key: is required on a COMPACTED road",
        ),
        (
            "events",
            pb::Record { key: None, payload: Some("{oops".into()) },
            Code::InvalidArgument,
            "payload: is not JSON",
        ),
        (
            "events",
            pb::Record { key: None, payload: Some("[1,2]".into()) },
            Code::InvalidArgument,
            "payload: must be a JSON object, not an array",
        ),
        (
            "events",
            unkeyed(json!({"v": 5})),
            Code::InvalidArgument,
            "payload: fails schema version 1: /v",
        ),
        (
            "events",
            unkeyed(json!({"v": "x".repeat(300)})),
            Code::ResourceExhausted,
            "at most 200 are accepted",
        ),
        (
            "table",
            keyed(&"k".repeat(1025), None),
            Code::InvalidArgument,
            "key: is 1025 bytes; at most 1024",
        ),
    ];
    for (road, record, code, says) in cases {
        let results = onramp
            .produce(produce(road, vec![record]))
            .await
            .expect("per-record outcome")
            .into_inner()
            .results;
        let r = rejected(&results[0]);
        assert_eq!(r.code, code as i32, "{says}: {r:?}");
        assert!(r.message.contains(says), "{:?} lacks {says:?}", r.message);
    }

    let err = onramp.produce(produce("nowhere", vec![])).await.expect_err("unknown road");
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(err.message(), "Road \"nowhere\" does not exist.");

    create_road_ready(&server, stream_road("closed")).await;
    let err = onramp
        .produce(produce("closed", vec![unkeyed(json!({"v": "x"}))]))
        .await
        .expect_err("disabled");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(error_reason(&err).as_deref(), Some("ROAD_DISABLED"));

    let mut paver = server.paver().await;
    paver
        .update_road(pb::UpdateRoadRequest {
            road: Some(pb::Road { name: "closed".into(), enabled: true, ..Default::default() }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["enabled".into()] }),
        })
        .await
        .expect("enable");
    let err = onramp
        .produce(produce("closed", vec![unkeyed(json!({"v": "x"}))]))
        .await
        .expect_err("no schema");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(err.message(), "Road 'closed' has no schema.");

    let many: Vec<_> = (0..40).map(|i| unkeyed(json!({"v": format!("{i:0>100}")}))).collect();
    let err = onramp.produce(produce("events", many)).await.expect_err("too large");
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(err.message().contains("at most 4096 are accepted"), "{}", err.message());
    assert!(
        read_topic(&server.broker().bootstrap(), "road.events").is_empty(),
        "nothing was written"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn every_record_names_its_schema_version_and_new_versions_apply() {
    let server = TestServer::start().await;
    let v1 = json!({"type": "object", "required": ["v"], "properties": {"v": {"type": "string"}}, "additionalProperties": false});
    open_road(&server, stream_road("versioned"), v1).await;
    let mut onramp = server.onramp().await;
    onramp.produce(produce("versioned", vec![unkeyed(json!({"v": "one"}))])).await.expect("v1");
    let v2 = json!({"type": "object", "required": ["v"], "properties": {"v": {"type": "string"}, "w": {"type": "integer"}}, "additionalProperties": false});
    let mut paver = server.paver().await;
    paver
        .register_schema(pb::RegisterSchemaRequest {
            road: "versioned".into(),
            schema: v2.to_string(),
            version: 0,
        })
        .await
        .expect("v2");
    let results = onramp
        .produce(produce(
            "versioned",
            vec![
                unkeyed(json!({"v": "two", "w": 2})),
                unkeyed(json!({"v": "three", "extra": true})),
            ],
        ))
        .await
        .expect("v2 records")
        .into_inner()
        .results;
    assert_eq!(accepted(&results[0]).schema_version, 2);
    let refused = rejected(&results[1]);
    assert_eq!(
        refused.violations[0].keyword, "additionalProperties",
        "validated against version 2"
    );

    let on_topic = read_topic(&server.broker().bootstrap(), "road.versioned");
    let versions: Vec<_> = on_topic
        .iter()
        .map(|r| {
            (
                r.value_json().expect("json")["v"].clone(),
                r.header("roadroller-schema-version").map(str::to_string),
            )
        })
        .collect();
    assert!(versions.contains(&(json!("one"), Some("1".into()))), "{versions:?}");
    assert!(versions.contains(&(json!("two"), Some("2".into()))), "{versions:?}");
    assert_eq!(on_topic.len(), 2);
    server.shutdown().await;
}

#[tokio::test]
async fn trace_context_flows_into_kafka_headers() {
    let server = TestServer::start().await;
    open_road(&server, stream_road("traced"), value_schema()).await;
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let mut request = tonic::Request::new(produce("traced", vec![unkeyed(json!({"v": "x"}))]));
    request.metadata_mut().insert("traceparent", traceparent.parse().expect("ascii"));
    server.onramp().await.produce(request).await.expect("produce");
    let on_topic = read_topic(&server.broker().bootstrap(), "road.traced");
    assert_eq!(on_topic[0].header("traceparent"), Some(traceparent));
    server.shutdown().await;
}

#[tokio::test]
async fn with_the_broker_gone_nothing_unacknowledged_is_reported_accepted() {
    let broker = TestBroker::start();
    let server =
        TestServer::start_on(&broker, |s| s.kafka.produce_timeout = Duration::from_secs(2)).await;
    open_road(&server, stream_road("outage"), value_schema()).await;
    let mut onramp = server.onramp().await;

    // Produce continuously while the broker goes away and comes back.
    let mut accepted_records = Vec::new();
    let mut unavailable = 0;
    let mut outage_answer = None;
    let started = Instant::now();
    let mut stopped_at = None;
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(9) {
        if stopped_at.is_none() && started.elapsed() > Duration::from_millis(500) {
            broker.stop();
            stopped_at = Some(Instant::now());
        }
        if stopped_at.is_some_and(|t| t.elapsed() > Duration::from_secs(4)) {
            broker.resume();
        }
        let batch: Vec<_> = (0..5).map(|i| unkeyed(json!({"v": format!("{n}-{i}")}))).collect();
        n += 1;
        let asked = Instant::now();
        match onramp.produce(produce("outage", batch)).await {
            Ok(r) => {
                for (i, result) in r.into_inner().results.iter().enumerate() {
                    if let Some(Outcome::Accepted(a)) = &result.result {
                        accepted_records.push((a.partition, a.offset, format!("{}-{i}", n - 1)));
                    }
                }
            }
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                unavailable += 1;
                outage_answer.get_or_insert(asked.elapsed());
            }
        }
    }
    broker.resume();
    assert!(unavailable > 0, "the outage was noticed");
    let answered_in = outage_answer.expect("an UNAVAILABLE answer");
    assert!(
        answered_in < Duration::from_secs(8),
        "UNAVAILABLE within the deadline: {answered_in:?}"
    );

    // Kafka is back: producing works again, and every accepted record is
    // on the topic where the server said it was.
    roadroller_tests::eventually(Duration::from_secs(15), "produce after the outage", || {
        let mut onramp = onramp.clone();
        async move {
            let r = onramp
                .produce(produce("outage", vec![unkeyed(json!({"v": "after"}))]))
                .await
                .ok()?;
            matches!(r.into_inner().results[0].result, Some(Outcome::Accepted(_))).then_some(())
        }
    })
    .await;
    let on_topic = read_topic(&broker.bootstrap(), "road.outage");
    for (partition, offset, v) in &accepted_records {
        let found = on_topic.iter().find(|r| r.partition == *partition && r.offset == *offset);
        let found = found
            .unwrap_or_else(|| panic!("accepted {v} at {partition}/{offset} is not on the topic"));
        assert_eq!(found.value_json().expect("json")["v"], json!(v));
    }
    assert!(!accepted_records.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn with_the_broker_gone_a_refused_record_keeps_its_own_reason() {
    let broker = TestBroker::start();
    let server =
        TestServer::start_on(&broker, |s| s.kafka.produce_timeout = Duration::from_secs(2)).await;
    open_road(&server, stream_road("half"), value_schema()).await;
    let mut onramp = server.onramp().await;
    broker.stop();
    let batch = vec![unkeyed(json!({"v": "fine"})), unkeyed(json!({"v": 5}))];
    let answer = onramp.produce(produce("half", batch)).await;
    broker.resume();
    let results =
        answer.expect("answered per record: one was refused on its own").into_inner().results;
    assert_eq!(rejected(&results[0]).code, Code::Unavailable as i32, "{results:?}");
    assert_eq!(rejected(&results[1]).code, Code::InvalidArgument as i32, "{results:?}");
    // All of a call unacknowledged is still UNAVAILABLE as a whole.
    broker.stop();
    let whole = onramp.produce(produce("half", vec![unkeyed(json!({"v": "x"}))])).await;
    let legacy = http_json(
        "POST",
        &format!("{}/onramp/v1/roads/half/messages", server.gateway_url()),
        &json!([{"v": "x"}]),
    )
    .await;
    broker.resume();
    let whole = whole.expect_err("nothing written");
    assert_eq!(whole.code(), Code::Unavailable);
    // Both say when to come back.
    let retry = whole.get_details_retry_info().and_then(|r| r.retry_delay);
    assert!(retry.is_some_and(|d| d >= Duration::from_millis(500)), "{whole:?}");
    assert_eq!(legacy.status, 503, "{:?}", legacy.body);
    let seconds = legacy.headers.get("retry-after").and_then(|v| v.to_str().ok());
    assert!(
        seconds.is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s >= 1)),
        "{:?}",
        legacy.headers
    );
}
