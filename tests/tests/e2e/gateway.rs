//! The legacy Data Highway HTTP gateway inside `roadroller serve`: a client
//! that knows only Data Highway's REST, JSON and WebSocket formats creates a
//! road, writes to it and reads it back, over real HTTP and WebSocket.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use roadroller_tests::{LegacySocket, TestServer, eventually, http, http_get, http_json};
use serde_json::{Value, json};

pub const WAIT: Duration = Duration::from_secs(20);

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

/// Waits until Paver shows the road intact (its topic exists).
pub async fn wait_intact(base: &str, road: &str) {
    let url = format!("{base}/paver/v1/roads/{road}");
    eventually(WAIT, "roadIntact", || {
        let url = url.clone();
        async move { (http_get(&url).await.json()["roadIntact"] == true).then_some(()) }
    })
    .await;
}

/// Enables a road with a JSON Patch.
pub async fn enable(base: &str, road: &str) {
    let patch = json!([{"op": "replace", "path": "/enabled", "value": true}]);
    let response = http(
        "PATCH",
        &format!("{base}/paver/v1/roads/{road}"),
        &[("content-type", "application/json-patch+json")],
        patch.to_string(),
    )
    .await;
    assert_eq!((response.status, response.message()), (200, "Patch applied".into()));
}

/// Posts `messages` to Onramp gzip'd, as Data Highway's Java client does;
/// returns the per-message answers.
pub async fn post_gzip(base: &str, road: &str, messages: &Value) -> Vec<Value> {
    let response = http(
        "POST",
        &format!("{base}/onramp/v1/roads/{road}/messages"),
        &[("content-type", "application/json"), ("content-encoding", "gzip")],
        gzip(messages.to_string().as_bytes()),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.json().as_array().expect("an array of answers").clone()
}

fn next_offsets(messages: &[Value]) -> BTreeMap<String, i64> {
    let mut offsets = BTreeMap::new();
    for m in messages {
        let next = m["offset"].as_i64().expect("offset") + 1;
        let slot = offsets.entry(m["partition"].to_string()).or_insert(next);
        *slot = (*slot).max(next);
    }
    offsets
}

/// The whole Data Highway flow against the gateway at `base` (`http://...`)
/// and `ws` (`ws://...`): Paver creates the road and its schema and enables
/// it, Onramp takes a gzip'd batch, the WebSocket delivers it on REQUEST,
/// a COMMIT is confirmed, and a new connection on the stream resumes after
/// the commit.
pub async fn data_highway_flow(base: &str, ws: &str, road: &str) {
    let created = http_json(
        "POST",
        &format!("{base}/paver/v1/roads"),
        &json!({"name": road, "description": "orders", "teamName": "shop",
                "contactEmail": "shop@example.com", "enabled": false,
                "metadata": {"source": "legacy"}}),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text());
    assert_eq!(created.message(), format!("Request to create road \"{road}\" received"));
    let schema = json!({"type": "object", "required": ["id"],
                        "properties": {"id": {"type": "integer"}, "item": {"type": "string"}}});
    let added = http_json("POST", &format!("{base}/paver/v1/roads/{road}/schemas"), &schema).await;
    assert_eq!(
        (added.status, added.message()),
        (200, "Request to add a new schema received.".into())
    );
    wait_intact(base, road).await;
    enable(base, road).await;
    let view = http_get(&format!("{base}/paver/v1/roads/{road}")).await.json();
    assert_eq!(view["enabled"], true);
    assert_eq!(view["type"], "STREAM", "a road created without a type is a STREAM road");
    assert_eq!(view["teamName"], "shop");
    let names = http_get(&format!("{base}/paver/v1/roads")).await.json();
    assert!(names.as_array().expect("names").contains(&json!(road)), "{names}");

    let batch = json!([{"id": 1, "item": "tea"}, {"id": 2, "item": "cake"}, {"id": 3}]);
    let answers = post_gzip(base, road, &batch).await;
    assert_eq!(answers.len(), 3);
    for answer in &answers {
        assert_eq!(
            (answer["success"].clone(), answer["message"].clone()),
            (json!(true), json!("Message accepted."))
        );
        assert!(answer["timestamp"].as_i64().expect("timestamp") > 0);
    }

    let url = format!("{ws}/offramp/v2/roads/{road}/streams/flow/messages?defaultOffset=EARLIEST");
    let mut socket = LegacySocket::connect(&url).await.expect("upgrade");
    let connection = socket.next(WAIT).await.expect("CONNECTION first");
    assert_eq!(connection["type"], "CONNECTION");
    assert!(connection["agentName"].as_str().is_some_and(|a| !a.is_empty()), "{connection}");
    socket.no_message_for(Duration::from_millis(500)).await;
    socket.send_text(r#"{"type":"REQUEST","count":3}"#).await;
    let mut messages = socket.messages(3, WAIT).await;
    messages.sort_by_key(|m| m["payload"]["id"].as_i64());
    let payloads: Vec<&Value> = messages.iter().map(|m| &m["payload"]).collect();
    assert_eq!(payloads, [&batch[0], &batch[1], &batch[2]]);
    for m in &messages {
        assert_eq!(m["schema"], 1);
        assert!(m["timestampMs"].as_i64().expect("timestampMs") > 0);
        assert!(m.get("key").is_none(), "no key on a STREAM road: {m}");
    }
    let offsets = next_offsets(&messages);
    // As a Data Highway client writes it: "type" first.
    let commit =
        format!(r#"{{"type":"COMMIT","correlationId":"c-1","offsets":{}}}"#, json!(offsets));
    socket.send_text(&commit).await;
    let response = socket.wait_for("COMMIT_RESPONSE", WAIT).await;
    assert_eq!(
        response,
        json!({"type": "COMMIT_RESPONSE", "correlationId": "c-1", "success": true})
    );
    socket.close().await;

    let later = post_gzip(base, road, &json!([{"id": 4}])).await;
    assert_eq!(later[0]["success"], true);
    let mut again = LegacySocket::connect(&url).await.expect("upgrade");
    again.send_binary(r#"{"type":"REQUEST","count":10}"#).await;
    let resumed = again.messages(1, WAIT).await;
    assert_eq!(resumed[0]["payload"], json!({"id": 4}), "resumed after the commit");
    again.no_message_for(Duration::from_secs(1)).await;
    again.close().await;
}

#[tokio::test]
async fn a_data_highway_client_creates_writes_reads_and_commits() {
    let server = TestServer::start().await;
    data_highway_flow(&server.gateway_url(), &server.gateway_ws_url(), "orders").await;
    server.shutdown().await;
}

#[tokio::test]
async fn paver_routes_manage_roads_schemas_and_the_hive_destination() {
    let server = TestServer::start().await;
    let base = format!("{}/paver/v1", server.gateway_url());
    let created = http_json(
        "POST",
        &format!("{base}/roads"),
        &json!({"name": "catalogue", "type": "COMPACTED", "description": "d", "teamName": "t",
                "contactEmail": "t@example.com", "compatibilityMode": "CAN_READ_ALL",
                "authorisation": {"onramp": {"cidrBlocks": ["10.0.0.0/8"], "authorities": ["*"]},
                                  "offramp": {"authorities": {"reader": ["PUBLIC", "PII"]}}}}),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text());
    let view = http_get(&format!("{base}/roads/catalogue")).await.json();
    assert_eq!(view["type"], "COMPACTED");
    assert_eq!(view["compatibilityMode"], "BACKWARD_TRANSITIVE");
    assert_eq!(view["partitionPath"], Value::Null);
    assert_eq!(view["authorisation"]["offramp"]["authorities"]["reader"], json!(["PUBLIC", "PII"]));

    // Nested JSON Patch paths change their whole field, through the field mask.
    let patch = json!([
        {"op": "add", "path": "/metadata/owner", "value": "ops"},
        {"op": "add", "path": "/authorisation/onramp/authorities/-", "value": "writer"},
        {"op": "replace", "path": "/description", "value": "the catalogue"},
        {"op": "remove", "path": "/authorisation/onramp/cidrBlocks/0"},
    ]);
    let patched = http(
        "PUT",
        &format!("{base}/roads/catalogue"),
        &[("content-type", "application/json-patch+json")],
        patch.to_string(),
    )
    .await;
    assert_eq!((patched.status, patched.message()), (200, "Patch applied".into()));
    let view = http_get(&format!("{base}/roads/catalogue")).await.json();
    assert_eq!(view["metadata"], json!({"owner": "ops"}));
    assert_eq!(view["description"], "the catalogue");
    assert_eq!(
        view["authorisation"]["onramp"],
        json!({"cidrBlocks": [], "authorities": ["*", "writer"]})
    );
    assert_eq!(view["teamName"], "t", "untouched fields keep their values");

    // Schemas: versions 1 and 3, latest, list, delete of the latest only.
    // Closed, so that adding a property in version 3 is backward compatible.
    let v1 = json!({"type": "object", "properties": {"v": {"type": "string"}},
                    "additionalProperties": false});
    let v3 = json!({"type": "object", "properties": {"v": {"type": "string"}, "n": {"type": "integer"}}});
    assert_eq!(
        http_json("POST", &format!("{base}/roads/catalogue/schemas"), &v1).await.status,
        200
    );
    assert_eq!(
        http_json("POST", &format!("{base}/roads/catalogue/schemas/3"), &v3).await.status,
        200
    );
    let stale = http_json("POST", &format!("{base}/roads/catalogue/schemas/2"), &v3).await;
    assert_eq!(stale.status, 400, "{}", stale.text());
    assert_eq!(http_get(&format!("{base}/roads/catalogue/schemas/latest")).await.json(), v3);
    assert_eq!(http_get(&format!("{base}/roads/catalogue/schemas/1")).await.json(), v1);
    assert_eq!(
        http_get(&format!("{base}/roads/catalogue/schemas")).await.json(),
        json!({"1": v1, "3": v3})
    );
    let not_latest = http("DELETE", &format!("{base}/roads/catalogue/schemas/1"), &[], "").await;
    assert_eq!(not_latest.status, 400, "{}", not_latest.text());
    let deleted = http("DELETE", &format!("{base}/roads/catalogue/schemas/3"), &[], "").await;
    assert_eq!(
        (deleted.status, deleted.message()),
        (200, "Request to delete a schema received.".into())
    );
    assert_eq!(http_get(&format!("{base}/roads/catalogue/schemas")).await.json(), json!({"1": v1}));
    assert_eq!(http_get(&format!("{base}/roads/catalogue/schemas/3")).await.status, 404);

    // The Hive destination is the road's hive_destination.
    let hive = format!("{base}/roads/catalogue/destinations/hive");
    assert_eq!(http_get(&hive).await.json(), json!({"enabled": false, "landingInterval": "PT1H"}));
    let set = http_json("POST", &hive, &json!({"enabled": true, "landingInterval": "PT15M"})).await;
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(http_get(&hive).await.json(), json!({"enabled": true, "landingInterval": "PT15M"}));
    let put = http_json("PUT", &hive, &json!({"enabled": true, "landingInterval": "P1D"})).await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(http_get(&hive).await.json()["landingInterval"], "PT24H");
    let short = http_json("PUT", &hive, &json!({"enabled": true, "landingInterval": "PT1M"})).await;
    assert_eq!(short.status, 400, "below PT5M: {}", short.text());
    assert_eq!(http("DELETE", &hive, &[], "").await.status, 200);
    assert_eq!(http_get(&hive).await.json(), json!({"enabled": false, "landingInterval": "PT1H"}));

    // A disabled road can be deleted; it is gone once Traffic Control is done.
    let gone = http("DELETE", &format!("{base}/roads/catalogue"), &[], "").await;
    assert_eq!(gone.status, 200, "{}", gone.text());
    eventually(WAIT, "the road disappears", || async {
        (http_get(&format!("{base}/roads/catalogue")).await.status == 404).then_some(())
    })
    .await;
    server.shutdown().await;
}
