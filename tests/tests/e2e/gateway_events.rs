//! The Offramp WebSocket protocol's rules on events: `type` first both ways,
//! unknown events, negative and zero REQUESTs, CANCEL; the connection stays
//! open through every refused event.

use std::time::Duration;

use roadroller_tests::{LegacySocket, TestServer, open_road, stream_road};
use serde_json::json;

use crate::gateway::{WAIT, post_gzip};

const QUIET: Duration = Duration::from_secs(1);

async fn error_reason(socket: &mut LegacySocket) -> String {
    let error = socket.wait_for("ERROR", WAIT).await;
    error["reason"].as_str().expect("reason").to_string()
}

#[tokio::test]
async fn refused_events_are_answered_with_error_and_the_connection_stays() {
    let server = TestServer::start().await;
    let single = roadroller_api::v1::Road { partitions: 1, ..stream_road("events") };
    open_road(&server, single, json!({"type": "object", "properties": {"n": {"type": "integer"}}}))
        .await;
    let base = server.gateway_url();
    let sent = post_gzip(&base, "events", &json!([{"n": 0}, {"n": 1}, {"n": 2}])).await;
    assert!(sent.iter().all(|a| a["success"] == true), "{sent:?}");

    let url = format!(
        "{}/offramp/v2/roads/events/streams/s/messages?defaultOffset=EARLIEST",
        server.gateway_ws_url()
    );
    let mut socket = LegacySocket::connect(&url).await.expect("upgrade");
    assert_eq!(socket.next(WAIT).await.expect("an event")["type"], "CONNECTION");

    // `type` must be the first property: this REQUEST is refused, not read.
    socket.send_text(r#"{"count":1,"type":"REQUEST"}"#).await;
    assert_eq!(error_reason(&mut socket).await, "Expected \"type\" field but got \"count\"");
    socket.send_binary(r#"{"type":"SEEK","to":"BEGINNING"}"#).await;
    assert!(error_reason(&mut socket).await.starts_with("Unknown event type: SEEK"));
    socket.send_text(r#"{"type":"MESSAGE","payload":{}}"#).await;
    assert!(error_reason(&mut socket).await.starts_with("Unexpected event type: MESSAGE"));
    socket.send_text("not json").await;
    assert!(error_reason(&mut socket).await.starts_with("Unable to parse event"));
    socket.send_binary(r#"{"type":"REQUEST","count":-3}"#).await;
    assert_eq!(
        error_reason(&mut socket).await,
        "Requested count cannot be negative value (given -3)"
    );
    socket.send_text(r#"{"type":"REQUEST","count":0}"#).await;
    socket.no_message_for(QUIET).await;

    // Still open: credit works exactly.
    socket.send_binary(r#"{"type":"REQUEST","count":1}"#).await;
    let first = socket.messages(1, WAIT).await;
    assert_eq!(first[0]["payload"], json!({"n": 0}));
    socket.no_message_for(QUIET).await;
    socket.send_text(r#"{"type":"REQUEST","count":1}"#).await;
    assert_eq!(socket.messages(1, WAIT).await[0]["payload"], json!({"n": 1}));

    // CANCEL drops the unused credit; the connection stays open for a new
    // REQUEST.
    socket.send_text(r#"{"type":"REQUEST","count":5}"#).await;
    assert_eq!(socket.messages(1, WAIT).await[0]["payload"], json!({"n": 2}));
    socket.send_text(r#"{"type":"CANCEL"}"#).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = post_gzip(&base, "events", &json!([{"n": 3}])).await;
    assert_eq!(later[0]["success"], true);
    socket.no_message_for(QUIET).await;
    socket.send_text(r#"{"type":"REQUEST","count":1}"#).await;
    assert_eq!(socket.messages(1, WAIT).await[0]["payload"], json!({"n": 3}));

    let errors = socket.others.iter().filter(|e| e["type"] == "ERROR").count();
    assert_eq!(errors, 0, "no ERROR beyond those awaited: {:?}", socket.others);
    assert!(
        socket.others.iter().any(|e| e["type"] == "REBALANCE" && e["assignment"] == json!([0]))
    );
    for raw in &socket.raw {
        assert!(raw.starts_with(r#"{"type":""#), "{raw}");
    }
    socket.close().await;
    server.shutdown().await;
}
