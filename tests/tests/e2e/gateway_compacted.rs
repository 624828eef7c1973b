//! COMPACTED roads through the gateway: `{"key", "payload"}` items, `null`
//! deletes, the same Kafka records as the gRPC Onramp writes, and MESSAGE
//! events that carry the key.

use std::time::Duration;

use roadroller_api::v1 as pb;
use roadroller_tests::{
    KafkaRecord, LegacySocket, TestServer, compacted_road, http, open_road, read_topic,
};
use serde_json::json;

use crate::gateway::{WAIT, post_gzip};

fn schema() -> serde_json::Value {
    json!({"type": "object", "required": ["v"], "properties": {"v": {"type": "string"}}})
}

/// A record's partition, offset, key, value and schema version header.
type Essence = (i32, i64, Option<String>, Option<serde_json::Value>, Option<String>);

/// What identifies a record on the topic, leaving out its timestamp.
fn essence(records: &[KafkaRecord]) -> Vec<Essence> {
    records
        .iter()
        .map(|r| {
            let version = r.header(roadroller_api::SCHEMA_VERSION_HEADER).map(String::from);
            (r.partition, r.offset, r.key_str().map(String::from), r.value_json(), version)
        })
        .collect()
}

#[tokio::test]
async fn keyed_items_and_deletes_write_what_the_grpc_onramp_writes() {
    let server = TestServer::start().await;
    let lag = Duration::from_secs(3600);
    open_road(&server, compacted_road("via_http", lag), schema()).await;
    open_road(&server, compacted_road("via_grpc", lag), schema()).await;

    let items = json!([
        {"key": "a", "payload": {"v": "one"}},
        {"key": "b", "payload": {"v": "two"}},
        {"key": "a", "payload": null},
        {"payload": {"v": "keyless"}},
    ]);
    let answers = post_gzip(&server.gateway_url(), "via_http", &items).await;
    let successes: Vec<bool> = answers.iter().map(|a| a["success"] == true).collect();
    assert_eq!(successes, [true, true, true, false], "{answers:?}");
    let keyless = answers[3]["message"].as_str().expect("message");
    assert!(keyless.starts_with("The event failed validation. key: is required"), "{keyless}");

    let records = vec![
        pb::Record { key: Some("a".into()), payload: Some(json!({"v": "one"}).to_string()) },
        pb::Record { key: Some("b".into()), payload: Some(json!({"v": "two"}).to_string()) },
        pb::Record { key: Some("a".into()), payload: None },
    ];
    server
        .onramp()
        .await
        .produce(pb::ProduceRequest { road: "via_grpc".into(), records })
        .await
        .expect("produce");

    let bootstrap = server.broker().bootstrap();
    let via_http = read_topic(&bootstrap, "road.via_http");
    let via_grpc = read_topic(&bootstrap, "road.via_grpc");
    assert_eq!(via_http.len(), 3);
    assert_eq!(essence(&via_http), essence(&via_grpc));
    let delete = via_http.iter().find(|r| r.value.is_none()).expect("a tombstone");
    assert_eq!(delete.key_str(), Some("a"));

    let url = format!(
        "{}/offramp/v2/roads/via_http/streams/s/messages?defaultOffset=EARLIEST",
        server.gateway_ws_url()
    );
    let mut socket = LegacySocket::connect(&url).await.expect("upgrade");
    socket.send_text(r#"{"type":"REQUEST","count":3}"#).await;
    let mut messages = socket.messages(3, WAIT).await;
    messages.sort_by_key(|m| (m["partition"].as_i64(), m["offset"].as_i64()));
    let seen: Vec<_> = messages.iter().map(|m| (m["key"].clone(), m["payload"].clone())).collect();
    // read_topic sorts by partition, then offset, as the messages are.
    let expected: Vec<_> = via_http
        .iter()
        .map(|r| (json!(r.key_str()), r.value_json().unwrap_or(serde_json::Value::Null)))
        .collect();
    assert_eq!(seen, expected);
    assert!(
        socket.raw.iter().any(|raw| raw.contains(r#""key":"a","payload":null"#)),
        "the delete has a key and a null payload: {:?}",
        socket.raw
    );
    socket.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_item_with_its_key_or_payload_twice_is_refused_and_the_others_written() {
    let server = TestServer::start().await;
    open_road(&server, compacted_road("twice", Duration::from_secs(3600)), schema()).await;
    // A reader keeping the first "key" would delete "a", one keeping the
    // last would delete "b": neither may be guessed.
    let body = r#"[
        {"key": "a", "payload": null, "key": "b"},
        {"key": "c", "payload": {"v": "kept"}, "payload": null},
        {"key": "d", "payload": {"v": "fine"}}
    ]"#;
    let url = format!("{}/onramp/v1/roads/twice/messages", server.gateway_url());
    let response = http("POST", &url, &[("content-type", "application/json")], body).await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    let answers: Vec<serde_json::Value> = serde_json::from_slice(&response.body).expect("json");
    let successes: Vec<bool> = answers.iter().map(|a| a["success"] == true).collect();
    assert_eq!(successes, [false, false, true], "{answers:?}");
    for (answer, property) in answers.iter().zip(["key", "payload"]) {
        let message = answer["message"].as_str().expect("message");
        assert!(message.contains(&format!("duplicate property {property:?}")), "{message}");
    }
    let records = read_topic(&server.broker().bootstrap(), "road.twice");
    assert_eq!(records.iter().map(|r| r.key_str()).collect::<Vec<_>>(), [Some("d")]);
}
