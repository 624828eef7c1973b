//! SNAPSHOT mode and the road-roller example: load the current state of a
//! COMPACTED road, then follow its changes without a gap.

use std::collections::HashMap;
use std::time::Duration;

use roadroller_api::v1 as pb;
use roadroller_api::v1::subscribe_response::Kind as Got;
use roadroller_tests::{
    Subscriber, TestServer, compacted_road, eventually, group_start, open_road, snapshot_start,
};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

fn schema() -> serde_json::Value {
    json!({"type": "object", "required": ["v"], "properties": {"v": {"type": "string"}}})
}

async fn put(server: &TestServer, road: &str, pairs: &[(&str, Option<&str>)]) {
    let records = pairs
        .iter()
        .map(|(k, v)| pb::Record {
            key: Some(k.to_string()),
            payload: v.map(|v| json!({"v": v}).to_string()),
        })
        .collect();
    server.produce_accepted(road, records).await;
}

fn pair(m: &pb::RoadMessage) -> (String, Option<String>) {
    let value = m.payload.as_deref().map(|p| {
        let v: serde_json::Value = serde_json::from_str(p).expect("json");
        v["v"].as_str().expect("v").to_string()
    });
    (m.key.clone().expect("a key"), value)
}

fn sorted(mut pairs: Vec<(String, Option<String>)>) -> Vec<(String, Option<String>)> {
    pairs.sort();
    pairs
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, Option<String>)> {
    pairs.iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))).collect()
}

/// The seed's example, end to end: a→one, b→two, a→three.
#[tokio::test]
async fn the_road_roller_example() {
    let server = TestServer::start().await;
    open_road(&server, compacted_road("roller", Duration::from_secs(2)), schema()).await;
    put(&server, "roller", &[("a", Some("one")), ("b", Some("two")), ("a", Some("three"))]).await;

    // A GROUP subscriber from EARLIEST sees the whole history, with keys.
    let mut history =
        Subscriber::start(&server, group_start("roller", "history", 100)).await.expect("subscribe");
    let all = history.messages(3, WAIT).await;
    assert_eq!(
        sorted(all.iter().map(pair).collect()),
        sorted(owned(&[("a", "one"), ("b", "two"), ("a", "three")]))
    );
    let a_values: Vec<_> = all.iter().map(pair).filter(|(k, _)| k == "a").map(|(_, v)| v).collect();
    assert_eq!(
        a_values,
        [Some("one".to_string()), Some("three".to_string())],
        "a's updates in order"
    );

    // A SNAPSHOT subscriber sees the current state, then the boundary.
    let mut snapshot =
        Subscriber::start(&server, snapshot_start("roller", 100)).await.expect("snapshot");
    let state = snapshot.messages(2, WAIT).await;
    assert_eq!(
        sorted(state.iter().map(pair).collect()),
        sorted(owned(&[("b", "two"), ("a", "three")]))
    );
    let boundary = snapshot
        .wait_for(WAIT, |g| match g {
            Got::SnapshotComplete(c) => Some(c.offsets.clone()),
            Got::Message(m) => panic!("a message before snapshot_complete: {m:?}"),
            _ => None,
        })
        .await;
    assert_eq!(boundary.values().sum::<i64>(), 3, "the end offsets of the three records");

    // After the compaction lag, a→four rolls the segment; the snapshot
    // subscriber sees it live.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    put(&server, "roller", &[("a", Some("four"))]).await;
    let live = snapshot.messages(1, WAIT).await;
    assert_eq!(pair(&live[0]), ("a".to_string(), Some("four".to_string())));

    // Once the broker has cleaned, a new GROUP subscriber from EARLIEST
    // reads only b→two and a→three, then a→four.
    let mut attempt = 0;
    eventually(Duration::from_secs(30), "compaction to remove a→one", || {
        attempt += 1;
        let stream = format!("fresh{attempt}");
        let server = &server;
        async move {
            let mut fresh =
                Subscriber::start(server, group_start("roller", &stream, 100)).await.ok()?;
            let got = fresh.messages(3, WAIT).await;
            let pairs: Vec<_> = got.iter().map(pair).collect();
            let expected = vec![
                ("b".to_string(), Some("two".to_string())),
                ("a".to_string(), Some("three".to_string())),
                ("a".to_string(), Some("four".to_string())),
            ];
            (sorted(pairs.clone()) == sorted(expected)).then_some(pairs)
        }
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_snapshot_holds_exactly_the_live_keys_at_their_latest_values() {
    let server = TestServer::start().await;
    open_road(&server, compacted_road("catalog", Duration::from_secs(3600)), schema()).await;
    // 5,000 keys, 3 versions each, then 500 of them deleted.
    for version in 1..=3 {
        for chunk in (0..5000).collect::<Vec<_>>().chunks(2500) {
            let values: Vec<(String, String)> =
                chunk.iter().map(|k| (format!("key-{k}"), format!("v{version}-{k}"))).collect();
            let pairs: Vec<(&str, Option<&str>)> =
                values.iter().map(|(k, v)| (k.as_str(), Some(v.as_str()))).collect();
            put(&server, "catalog", &pairs).await;
        }
    }
    let deleted: Vec<String> = (0..5000).step_by(10).map(|k| format!("key-{k}")).collect();
    let pairs: Vec<(&str, Option<&str>)> = deleted.iter().map(|k| (k.as_str(), None)).collect();
    put(&server, "catalog", &pairs).await;

    let mut sub =
        Subscriber::start(&server, snapshot_start("catalog", i64::MAX)).await.expect("snapshot");
    let got = sub.messages(4500, WAIT).await;
    let complete = sub
        .wait_for(WAIT, |g| match g {
            Got::SnapshotComplete(c) => Some(c.offsets.clone()),
            Got::Message(m) => panic!("more than 4,500 messages: {m:?}"),
            _ => None,
        })
        .await;
    assert_eq!(complete.values().sum::<i64>(), 15_500);
    let mut state = HashMap::new();
    for m in &got {
        let (key, value) = pair(m);
        assert!(state.insert(key.clone(), value).is_none(), "{key} sent twice");
    }
    assert_eq!(state.len(), 4500);
    for k in 0..5000 {
        let key = format!("key-{k}");
        if k % 10 == 0 {
            assert!(!state.contains_key(&key), "deleted {key} is left out");
        } else {
            assert_eq!(state[&key], Some(format!("v3-{k}")), "{key} at its latest value");
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_snapshot_follows_credit_and_then_changes_including_deletes() {
    let server = TestServer::start().await;
    open_road(&server, compacted_road("settings", Duration::from_secs(3600)), schema()).await;
    put(
        &server,
        "settings",
        &[("x", Some("1")), ("y", Some("1")), ("z", Some("1")), ("x", Some("2"))],
    )
    .await;

    let mut sub =
        Subscriber::start(&server, snapshot_start("settings", 2)).await.expect("snapshot");
    sub.messages(2, WAIT).await;
    sub.no_message_for(Duration::from_secs(1)).await;
    assert!(
        !sub.others.iter().any(|g| matches!(g, Got::SnapshotComplete(_))),
        "not complete while a key is unsent"
    );
    sub.request(10).await;
    sub.messages(1, WAIT).await;
    sub.wait_for(WAIT, |g| matches!(g, Got::SnapshotComplete(_)).then_some(())).await;

    put(&server, "settings", &[("y", None)]).await;
    let deleted = sub.messages(1, WAIT).await;
    assert_eq!(pair(&deleted[0]), ("y".to_string(), None), "deletes follow the snapshot");

    sub.commit("c", &[(0, 1)]).await;
    let response = sub
        .wait_for(WAIT, |g| match g {
            Got::CommitResponse(r) => Some(r.clone()),
            _ => None,
        })
        .await;
    assert!(!response.success);
    assert!(response.error.contains("cannot commit"), "{}", response.error);
    server.shutdown().await;
}
