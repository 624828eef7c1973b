//! The gateway's status table, request by request, against a real server:
//! every refusal is a StandardResponse with the status Data Highway's
//! clients expect.

use roadroller_api::v1 as pb;
use roadroller_tests::{
    HttpResponse, LegacySocket, TestBroker, TestServer, create_road_ready, http, http_get,
    http_json, open_road, read_topic, stream_road,
};
use serde_json::json;

use crate::gateway::gzip;

fn schema() -> serde_json::Value {
    json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}})
}

async fn post(
    server: &TestServer,
    road: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> HttpResponse {
    let url = format!("{}/onramp/v1/roads/{road}/messages", server.gateway_url());
    http("POST", &url, headers, body).await
}

fn refused(response: &HttpResponse, status: u16) -> String {
    assert_eq!(response.status, status, "{}", response.text());
    let body = response.json();
    assert_eq!(body["success"], false, "{body}");
    assert!(body["timestamp"].as_i64().is_some_and(|t| t > 0), "{body}");
    body["message"].as_str().expect("message").to_string()
}

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn onramp_requests_get_the_status_data_highway_clients_expect() {
    let broker = TestBroker::start();
    let server = TestServer::start_on(&broker, |s| {
        s.http.limits.max_body_bytes = 64 << 10;
        s.http.limits.max_inflated_bytes = 256 << 10;
        s.http.limits.max_messages = 5;
    })
    .await;
    open_road(&server, stream_road("open"), schema()).await;
    // A disabled road with a schema, and an enabled road without one.
    open_road(&server, stream_road("closed"), schema()).await;
    let mut paver = server.paver().await;
    paver
        .update_road(pb::UpdateRoadRequest {
            road: Some(pb::Road { name: "closed".into(), enabled: false, ..Default::default() }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["enabled".into()] }),
        })
        .await
        .expect("disable");
    create_road_ready(&server, stream_road("bare")).await;
    paver
        .update_road(pb::UpdateRoadRequest {
            road: Some(pb::Road { name: "bare".into(), enabled: true, ..Default::default() }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["enabled".into()] }),
        })
        .await
        .expect("enable without a schema");

    let malformed = post(&server, "open", &[JSON], br#"[{"id": 1"#.to_vec()).await;
    assert!(refused(&malformed, 400).starts_with("Unable to parse message: "));
    let not_array = post(&server, "open", &[JSON], br#"{"id": 1}"#.to_vec()).await;
    assert!(refused(&not_array, 400).starts_with("Unable to parse message: "));
    let corrupt =
        post(&server, "open", &[JSON, ("content-encoding", "gzip")], b"not gzip".to_vec()).await;
    assert!(refused(&corrupt, 400).starts_with("Unable to parse message: "));

    let unknown = post(&server, "nowhere", &[JSON], b"[]".to_vec()).await;
    assert_eq!(refused(&unknown, 404), "Road \"nowhere\" does not exist.");
    let disabled = post(&server, "closed", &[JSON], br#"[{"id": 1}]"#.to_vec()).await;
    assert_eq!(refused(&disabled, 422), "Road 'closed' is disabled, could not send events.");
    let no_schema = post(&server, "bare", &[JSON], br#"[{"id": 1}]"#.to_vec()).await;
    assert_eq!(refused(&no_schema, 422), "Road 'bare' has no schema.");

    let text = post(&server, "open", &[("content-type", "text/plain")], b"[]".to_vec()).await;
    refused(&text, 415);
    let brotli = post(&server, "open", &[JSON, ("content-encoding", "br")], b"[]".to_vec()).await;
    refused(&brotli, 415);

    let big = serde_json::to_vec(&json!([{"id": 1, "pad": "x".repeat(70 << 10)}])).expect("json");
    refused(&post(&server, "open", &[JSON], big).await, 413);
    // 8 MiB of white space inside an array gzips to a few kilobytes: far
    // under the body limit, far over the inflated one.
    let mut bomb = b"[".to_vec();
    bomb.resize(8 << 20, b' ');
    bomb.push(b']');
    let bomb = gzip(&bomb);
    assert!(bomb.len() < 64 << 10, "the bomb is small once compressed: {}", bomb.len());
    let exploded = post(&server, "open", &[JSON, ("content-encoding", "gzip")], bomb).await;
    assert!(refused(&exploded, 413).contains("once decompressed"));
    let many = serde_json::to_vec(
        &json!([{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}, {"id": 5}, {"id": 6}]),
    )
    .expect("json");
    refused(&post(&server, "open", &[JSON], many).await, 413);
    assert!(read_topic(&server.broker().bootstrap(), "road.open").is_empty(), "nothing written");

    // Schema violations refuse exactly those messages; the rest are written.
    let batch = json!([{"id": 1}, {"id": "two"}, {"id": 3}, {"name": "no id"}]);
    let answers = post(&server, "open", &[JSON], batch.to_string().into_bytes()).await;
    assert_eq!(answers.status, 200, "{}", answers.text());
    let answers = answers.json();
    let successes: Vec<bool> =
        answers.as_array().expect("answers").iter().map(|a| a["success"] == true).collect();
    assert_eq!(successes, [true, false, true, false]);
    for failed in [&answers[1], &answers[3]] {
        let message = failed["message"].as_str().expect("message");
        assert!(message.starts_with("The event failed validation. "), "{message}");
    }
    assert!(answers[1]["message"].as_str().expect("message").contains("/id"), "{answers}");
    let written: Vec<_> = read_topic(&server.broker().bootstrap(), "road.open")
        .iter()
        .map(|r| r.value_json().expect("value"))
        .collect();
    assert_eq!(written.len(), 2);
    assert!(
        written.contains(&json!({"id": 1})) && written.contains(&json!({"id": 3})),
        "{written:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn paver_and_offramp_refusals_follow_the_same_table() {
    let server = TestServer::start().await;
    let base = format!("{}/paver/v1", server.gateway_url());
    open_road(&server, stream_road("taken"), schema()).await;

    let again = http_json("POST", &format!("{base}/roads"), &json!({"name": "taken"})).await;
    assert_eq!(refused(&again, 409), "Road already exists.");
    let invalid = http_json("POST", &format!("{base}/roads"), &json!({"name": "Bad Name"})).await;
    refused(&invalid, 400);
    let unknown_field =
        http_json("POST", &format!("{base}/roads"), &json!({"name": "x", "colour": "red"})).await;
    assert!(refused(&unknown_field, 400).contains("colour"));
    assert_eq!(
        refused(&http_get(&format!("{base}/roads/nowhere")).await, 404),
        "Road \"nowhere\" does not exist."
    );
    let patch = |path: &str| json!([{"op": "replace", "path": path, "value": "x"}]).to_string();
    let immutable = http(
        "PATCH",
        &format!("{base}/roads/taken"),
        &[("content-type", "application/json-patch+json")],
        patch("/name"),
    )
    .await;
    assert_eq!(refused(&immutable, 400), "\"/name\" is not a valid path to patch");
    let incompatible = http_json(
        "POST",
        &format!("{base}/roads/taken/schemas"),
        &json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}),
    )
    .await;
    refused(&incompatible, 409);
    let enabled = http("DELETE", &format!("{base}/roads/taken"), &[], "").await;
    refused(&enabled, 400);
    refused(&http_get(&format!("{base}/roads/taken/schemas/zero")).await, 400);
    refused(&http("POST", &format!("{}/nowhere", server.gateway_url()), &[], "").await, 404);
    refused(
        &http("GET", &format!("{}/onramp/v1/roads/taken/messages", server.gateway_url()), &[], "")
            .await,
        405,
    );

    let ws = server.gateway_ws_url();
    let missing =
        LegacySocket::connect(&format!("{ws}/offramp/v2/roads/nowhere/streams/s/messages"))
            .await
            .err()
            .expect("refused before the upgrade");
    assert_eq!(refused(&missing, 404), "Road \"nowhere\" does not exist.");
    let offset = LegacySocket::connect(&format!(
        "{ws}/offramp/v2/roads/taken/streams/s/messages?defaultOffset=MIDDLE"
    ))
    .await
    .err()
    .expect("refused before the upgrade");
    assert!(refused(&offset, 400).contains("defaultOffset"));
    let plain =
        http_get(&format!("{}/offramp/v2/roads/taken/streams/s/messages", server.gateway_url()))
            .await;
    refused(&plain, 400);
    server.shutdown().await;
}
