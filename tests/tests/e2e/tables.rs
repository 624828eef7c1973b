//! Materialized COMPACTED roads served as tables: lookups, pages,
//! read-your-writes under concurrent writers, a view that resumes from its
//! offsets after a restart and is rebuilt when its file is lost, and
//! snapshots served from the view that resume on another instance.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use roadroller_api::v1 as pb;
use roadroller_api::v1::record_result::Result as Outcome;
use roadroller_api::v1::subscribe_response::Kind as Got;
use roadroller_tests::{
    Subscriber, TestBroker, TestServer, compacted_road, eventually, open_road, snapshot_start,
    stream_road,
};
use serde_json::json;
use tonic::Code;

const WAIT: Duration = Duration::from_secs(30);

fn schema() -> serde_json::Value {
    json!({"type": "object", "required": ["v"], "properties": {"v": {"type": "string"}}})
}

/// Writes `pairs` (a `None` value deletes) and returns, per partition, the
/// offset after the last write.
async fn put(
    server: &TestServer,
    road: &str,
    pairs: &[(String, Option<String>)],
) -> pb::PartitionOffsets {
    let mut after = pb::PartitionOffsets::default();
    for (partition, offset) in put_at(server, road, pairs).await {
        let next = after.offsets.entry(partition).or_default();
        *next = (*next).max(offset + 1);
    }
    after
}

/// Writes `pairs` and returns where each record was written.
async fn put_at(
    server: &TestServer,
    road: &str,
    pairs: &[(String, Option<String>)],
) -> Vec<(i32, i64)> {
    let records = pairs
        .iter()
        .map(|(k, v)| pb::Record {
            key: Some(k.clone()),
            payload: v.as_ref().map(|v| json!({"v": v}).to_string()),
        })
        .collect();
    let results = server
        .onramp()
        .await
        .produce(pb::ProduceRequest { road: road.into(), records })
        .await
        .expect("produce")
        .into_inner()
        .results;
    results
        .into_iter()
        .map(|r| match r.result {
            Some(Outcome::Accepted(a)) => (a.partition, a.offset),
            other => panic!("not accepted: {other:?}"),
        })
        .collect()
}

fn pairs(items: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    items.iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect()
}

async fn materialize(server: &TestServer, road: &str, on: bool) -> Result<pb::Road, tonic::Status> {
    let road = pb::Road { name: road.into(), materialized: on, ..Default::default() };
    server
        .paver()
        .await
        .update_road(pb::UpdateRoadRequest {
            road: Some(road),
            update_mask: Some(prost_types::FieldMask { paths: vec!["materialized".into()] }),
        })
        .await
        .map(|r| r.into_inner().road.expect("road"))
}

/// The road's table status once `ready`.
async fn ready(server: &TestServer, road: &str) -> pb::TableStatus {
    eventually(WAIT, "the view is ready", || async {
        let road = server
            .paver()
            .await
            .get_road(pb::GetRoadRequest { name: road.into() })
            .await
            .ok()?
            .into_inner()
            .road?;
        road.table.filter(|t| t.ready)
    })
    .await
}

fn value(entry: &pb::Entry) -> String {
    let v: serde_json::Value = serde_json::from_str(&entry.payload).expect("JSON payload");
    v["v"].as_str().expect("v").to_string()
}

async fn get(
    server: &TestServer,
    road: &str,
    key: &str,
    min: Option<pb::PartitionOffsets>,
) -> Result<pb::GetEntryResponse, tonic::Status> {
    let request = pb::GetEntryRequest {
        road: road.into(),
        key: key.into(),
        min_offsets: min,
        ..Default::default()
    };
    server.tables().await.get_entry(request).await.map(tonic::Response::into_inner)
}

fn reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status.get_error_details().error_info().map(|i| i.reason.clone()).unwrap_or_default()
}

#[tokio::test]
async fn a_materialized_road_answers_each_key_with_its_latest_value() {
    let server = TestServer::start().await;
    open_road(&server, compacted_road("roller", Duration::from_secs(60)), schema()).await;
    let at = put_at(
        &server,
        "roller",
        &pairs(&[("a", Some("one")), ("b", Some("two")), ("a", Some("three")), ("b", None)]),
    )
    .await;
    let mut written = pb::PartitionOffsets::default();
    for (p, o) in &at {
        let next = written.offsets.entry(*p).or_default();
        *next = (*next).max(o + 1);
    }

    // Not yet materialized: refused with the reason, as is a STREAM road.
    let refused = get(&server, "roller", "a", None).await.expect_err("not materialized");
    assert_eq!(
        (refused.code(), reason(&refused).as_str()),
        (Code::FailedPrecondition, "NOT_MATERIALIZED")
    );
    open_road(&server, stream_road("events"), schema()).await;
    let stream = materialize(&server, "events", true).await.expect_err("a STREAM road");
    assert_eq!(stream.code(), Code::InvalidArgument, "{stream:?}");
    assert!(stream.message().contains("materialized"), "{}", stream.message());

    let road = materialize(&server, "roller", true).await.expect("materialize");
    assert!(road.materialized);
    let status = ready(&server, "roller").await;
    assert_eq!((status.live_keys, status.tombstones_pending), (1, 1), "{status:?}");

    // The road-roller example: a→three, b deleted.
    let answer = get(&server, "roller", "a", Some(written.clone())).await.expect("get a");
    let a = answer.entry.expect("a is live");
    assert_eq!((a.key.as_str(), value(&a).as_str(), a.schema_version), ("a", "three", 1));
    assert!(a.timestamp.is_some());
    let view = answer.view_offsets.expect("view offsets").offsets;
    for (p, o) in &written.offsets {
        assert!(view.get(p) >= Some(o), "view {view:?} short of {written:?}");
    }
    assert_eq!((a.partition, a.offset), at[2], "where a's second write went");
    assert!(
        get(&server, "roller", "b", None).await.expect("get b").entry.is_none(),
        "b was deleted"
    );

    // One result per key, in order, a key asked twice answered twice.
    let batch = server
        .tables()
        .await
        .batch_get_entries(pb::BatchGetEntriesRequest {
            road: "roller".into(),
            keys: vec!["c".into(), "a".into(), "b".into(), "a".into()],
            ..Default::default()
        })
        .await
        .expect("batch")
        .into_inner();
    let shown: Vec<(String, Option<String>)> =
        batch.results.iter().map(|r| (r.key.clone(), r.entry.as_ref().map(value))).collect();
    assert_eq!(
        shown,
        pairs(&[("c", None), ("a", Some("three")), ("b", None), ("a", Some("three"))])
    );

    // Pages in key order, within a prefix.
    let keys: Vec<(String, Option<String>)> =
        (0..5).map(|i| (format!("k{i}"), Some(format!("v{i}")))).collect();
    let more = put(&server, "roller", &keys).await;
    get(&server, "roller", "k4", Some(more)).await.expect("k4 applied");
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = server
            .tables()
            .await
            .list_entries(pb::ListEntriesRequest {
                road: "roller".into(),
                page_size: 2,
                page_token: token.clone(),
                key_prefix: "k".into(),
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        assert!(page.entries.len() <= 2);
        seen.extend(page.entries.iter().map(|e| e.key.clone()));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ["k0", "k1", "k2", "k3", "k4"]);

    // Bad requests name the field; a view short of min_offsets says so.
    let unknown = get(&server, "nowhere", "a", None).await.expect_err("unknown road");
    assert_eq!(unknown.code(), Code::NotFound);
    let empty = get(&server, "roller", "", None).await.expect_err("empty key");
    assert_eq!(empty.code(), Code::InvalidArgument);
    let far = pb::PartitionOffsets { offsets: [(0, 1_000_000)].into() };
    let outside = pb::PartitionOffsets { offsets: [(99, 1)].into() };
    let no_partition = get(&server, "roller", "a", Some(outside)).await.expect_err("partition 99");
    assert_eq!(no_partition.code(), Code::InvalidArgument);
    assert!(no_partition.message().contains("min_offsets"), "{}", no_partition.message());
    let at_once = server
        .tables()
        .await
        .get_entry(pb::GetEntryRequest {
            road: "roller".into(),
            key: "a".into(),
            min_offsets: Some(far.clone()),
            fail_if_behind: true,
            ..Default::default()
        })
        .await
        .expect_err("behind");
    assert_eq!(
        (at_once.code(), reason(&at_once).as_str()),
        (Code::FailedPrecondition, "VIEW_BEHIND")
    );
    let mut waiting = tonic::Request::new(pb::GetEntryRequest {
        road: "roller".into(),
        key: "a".into(),
        min_offsets: Some(far),
        ..Default::default()
    });
    waiting.set_timeout(Duration::from_millis(500));
    let started = std::time::Instant::now();
    let waited =
        server.tables().await.get_entry(waiting).await.expect_err("behind at the deadline");
    assert_eq!(waited.code(), Code::FailedPrecondition, "{waited:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "waited for its deadline, not max_wait");

    // Turned off, the road is no longer served.
    materialize(&server, "roller", false).await.expect("unmaterialize");
    let off = get(&server, "roller", "a", None).await.expect_err("off");
    assert_eq!(off.code(), Code::FailedPrecondition);
    server.shutdown().await;
}

/// Writers update 1,000 keys while readers look them up: every answer is a
/// value written for that key, a reader never sees a key go back to an
/// earlier version, and a read at the writer's offsets sees that write or a
/// later one.
#[tokio::test]
async fn readers_never_see_a_key_go_back_and_always_see_their_own_writes() {
    const KEYS: usize = 1_000;
    let server = Arc::new(TestServer::start().await);
    open_road(&server, compacted_road("ledger", Duration::from_secs(60)), schema()).await;
    materialize(&server, "ledger", true).await.expect("materialize");
    ready(&server, "ledger").await;
    let stop = Arc::new(AtomicBool::new(false));

    // Two writers over disjoint halves of the keys; each value is
    // "<key>#<version>" with the version growing per key.
    let mut writers = Vec::new();
    for half in 0..2 {
        let (server, stop) = (server.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut version = 0u64;
            let mut checked = 0u64;
            while !stop.load(Ordering::Relaxed) {
                version += 1;
                let batch: Vec<(String, Option<String>)> = (half..KEYS)
                    .step_by(2)
                    .take(100)
                    .map(|k| k + 2 * 100 * (version as usize % 5))
                    .filter(|k| *k < KEYS)
                    .map(|k| (format!("key{k}"), Some(format!("key{k}#{version}"))))
                    .collect();
                let after = put(&server, "ledger", &batch).await;
                // Read-your-writes: the first key of the batch, at the
                // offsets this write returned.
                let (key, _) = &batch[0];
                let answer =
                    get(&server, "ledger", key, Some(after)).await.expect("read own write");
                let entry = answer.entry.expect("just written");
                let seen: u64 = value(&entry).rsplit_once('#').expect("#").1.parse().expect("n");
                assert!(seen >= version, "{key}: wrote #{version}, read #{seen}");
                checked += 1;
            }
            (version, checked)
        }));
    }

    let mut readers = Vec::new();
    for reader in 0..2 {
        let (server, stop) = (server.clone(), stop.clone());
        readers.push(tokio::spawn(async move {
            let mut latest: HashMap<String, u64> = HashMap::new();
            let mut answers = 0u64;
            let mut client = server.tables().await;
            let mut round = 0usize;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let keys: Vec<String> = (0..50)
                    .map(|i| format!("key{}", (round * 37 + i * 19 + reader) % KEYS))
                    .collect();
                let results = if round.is_multiple_of(2) {
                    let r = client
                        .batch_get_entries(pb::BatchGetEntriesRequest {
                            road: "ledger".into(),
                            keys: keys.clone(),
                            ..Default::default()
                        })
                        .await
                        .expect("batch")
                        .into_inner();
                    r.results.into_iter().map(|r| (r.key, r.entry)).collect::<Vec<_>>()
                } else {
                    let key = keys[0].clone();
                    let r = client
                        .get_entry(pb::GetEntryRequest {
                            road: "ledger".into(),
                            key: key.clone(),
                            ..Default::default()
                        })
                        .await
                        .expect("get")
                        .into_inner();
                    vec![(key, r.entry)]
                };
                for (key, entry) in results {
                    let Some(entry) = entry else { continue };
                    let text = value(&entry);
                    let (of, n) = text.rsplit_once('#').expect("a written value");
                    assert_eq!(of, key, "the value of another key");
                    let n: u64 = n.parse().expect("version");
                    let before = latest.insert(key.clone(), n).unwrap_or(0);
                    assert!(n >= before, "{key} went back from #{before} to #{n}");
                    answers += 1;
                }
            }
            answers
        }));
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        let (versions, checked) = writer.await.expect("writer");
        assert!(versions >= 3 && checked >= 3, "each writer wrote and checked several rounds");
    }
    for reader in readers {
        assert!(reader.await.expect("reader") > 100, "each reader saw many live values");
    }
    Arc::into_inner(server).expect("one handle").shutdown().await;
}

/// The view resumes from its recorded offsets after a restart, reading only
/// what came since, and is built again from the topic when its file is lost.
#[tokio::test]
async fn a_restarted_view_resumes_from_its_offsets_and_a_lost_one_is_rebuilt() {
    let broker = TestBroker::start();
    let dir = tempfile::tempdir().expect("data dir");
    let on_dir = |s: &mut roadroller_server::config::Settings| s.data_dir = dir.path().into();
    let server = TestServer::start_on(&broker, on_dir).await;
    open_road(&server, compacted_road("stock", Duration::from_secs(60)), schema()).await;
    let first: Vec<(String, Option<String>)> =
        (0..2_000).map(|i| (format!("sku{i}"), Some(format!("n{i}")))).collect();
    for chunk in first.chunks(500) {
        put(&server, "stock", chunk).await;
    }
    materialize(&server, "stock", true).await.expect("materialize");
    let built = ready(&server, "stock").await;
    assert_eq!((built.live_keys, built.records_applied), (2_000, 2_000), "{built:?}");
    server.shutdown().await;

    // Written while the instance was down, through another one.
    let other = TestServer::start_on(&broker, |_| {}).await;
    let later = put(&other, "stock", &pairs(&[("sku1", Some("changed")), ("sku2", None)])).await;
    other.shutdown().await;

    let server = TestServer::start_on(&broker, on_dir).await;
    let resumed = ready(&server, "stock").await;
    let answer = get(&server, "stock", "sku1", Some(later.clone())).await.expect("after restart");
    assert_eq!(value(&answer.entry.expect("sku1")), "changed");
    assert!(get(&server, "stock", "sku2", None).await.expect("sku2").entry.is_none());
    assert_eq!(resumed.records_applied, 2, "only the two records since the restart: {resumed:?}");
    assert_eq!(resumed.live_keys, 1_999);
    server.shutdown().await;

    std::fs::remove_file(dir.path().join("tables").join("stock.redb")).expect("remove the view");
    let server = TestServer::start_on(&broker, on_dir).await;
    let rebuilt = ready(&server, "stock").await;
    assert_eq!((rebuilt.records_applied, rebuilt.live_keys), (2_002, 1_999), "{rebuilt:?}");
    let answer = get(&server, "stock", "sku1", None).await.expect("rebuilt");
    assert_eq!(value(&answer.entry.expect("sku1")), "changed");
    assert_eq!(
        value(&get(&server, "stock", "sku1999", None).await.expect("get").entry.expect("sku1999")),
        "n1999"
    );
    server.shutdown().await;
}

/// Messages up to `snapshot_complete` (credit permitting), and its offsets.
async fn until_complete(subscriber: &mut Subscriber) -> (Vec<pb::RoadMessage>, HashMap<i32, i64>) {
    let mut messages = Vec::new();
    loop {
        match subscriber.next(WAIT).await.expect("subscription alive") {
            Some(Got::Message(m)) => messages.push(m),
            Some(Got::SnapshotComplete(c)) => return (messages, c.offsets),
            Some(_) => {}
            None => panic!("no snapshot_complete after {} messages", messages.len()),
        }
    }
}

fn keys_of(messages: &[pb::RoadMessage]) -> Vec<String> {
    messages.iter().map(|m| m.key.clone().expect("a key")).collect()
}

/// A snapshot of a materialized road comes from the view, in key order with
/// resume tokens; one cut off after 60 % continues on another instance with
/// exactly the remaining keys, the same boundary, then the same changes as an
/// uninterrupted one.
#[tokio::test]
async fn a_snapshot_cut_off_resumes_on_another_instance_with_exactly_the_rest() {
    const KEYS: usize = 100_000;
    let broker = TestBroker::start();
    let a = TestServer::start_on(&broker, |_| {}).await;
    let b = TestServer::start_on(&broker, |_| {}).await;
    open_road(&a, compacted_road("catalog", Duration::from_secs(60)), schema()).await;
    let all: Vec<(String, Option<String>)> =
        (0..KEYS).map(|i| (format!("k{i:06}"), Some(format!("v{i}")))).collect();
    for chunk in all.chunks(5_000) {
        put(&a, "catalog", chunk).await;
    }
    materialize(&a, "catalog", true).await.expect("materialize");
    ready(&a, "catalog").await;
    ready(&b, "catalog").await;

    // Cut off after 60 %: credit for exactly that many.
    let cut_at = KEYS * 6 / 10;
    let mut cut =
        Subscriber::start(&a, snapshot_start("catalog", cut_at as i64)).await.expect("cut");
    let first = cut.messages(cut_at, WAIT).await;
    cut.no_message_for(Duration::from_millis(300)).await;
    let token = first.last().and_then(|m| m.resume_token.clone()).expect("a resume token");
    assert!(first.iter().all(|m| m.resume_token.is_some()), "every snapshot message has a token");
    drop(cut);

    let mut whole = Subscriber::start(&a, snapshot_start("catalog", 1 << 40)).await.expect("whole");
    let (everything, boundary) = until_complete(&mut whole).await;
    let mut expected: Vec<String> = all.iter().map(|(k, _)| k.clone()).collect();
    expected.sort();
    assert_eq!(keys_of(&everything), expected, "every key once, in key order");

    let mut resume = snapshot_start("catalog", 1 << 40);
    resume.resume_token = token.clone();
    let mut resumed = Subscriber::start(&b, resume).await.expect("resume on b");
    let (rest, resumed_boundary) = until_complete(&mut resumed).await;
    assert_eq!(resumed_boundary, boundary, "the same boundary");
    assert_eq!(keys_of(&rest), expected[cut_at..], "exactly the keys after the cut");
    for (m, (k, v)) in rest.iter().zip(&all[cut_at..]) {
        assert_eq!(
            (m.key.as_deref(), m.payload.clone()),
            (Some(k.as_str()), v.as_ref().map(|v| json!({"v": v}).to_string()))
        );
    }

    // The same changes follow on both.
    put(
        &a,
        "catalog",
        &pairs(&[("k000001", Some("new")), ("k099999", None), ("z", Some("added"))]),
    )
    .await;
    let changes = |messages: Vec<pb::RoadMessage>| -> Vec<(i32, i64, Option<String>)> {
        let mut c: Vec<_> = messages.into_iter().map(|m| (m.partition, m.offset, m.key)).collect();
        c.sort();
        c
    };
    let after_whole = changes(whole.messages(3, WAIT).await);
    let after_resumed = changes(resumed.messages(3, WAIT).await);
    assert_eq!(after_whole, after_resumed);
    for (p, o, _) in &after_whole {
        assert!(*o >= boundary[p], "changes start at the boundary");
    }

    // Refusals: a token from another road, and one this server never gave.
    open_road(&a, compacted_road("other", Duration::from_secs(60)), schema()).await;
    let mut elsewhere = snapshot_start("other", 10);
    elsewhere.resume_token = token;
    let refused = Subscriber::start(&a, elsewhere).await.err().expect("not resumable");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(reason(&refused), "SNAPSHOT_NOT_RESUMABLE");
    let mut junk = snapshot_start("catalog", 10);
    junk.resume_token = "nonsense".into();
    let refused = Subscriber::start(&a, junk).await.err().expect("junk");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");

    drop((whole, resumed));
    a.shutdown().await;
    b.shutdown().await;
}

/// Where a write landed, and what it wrote (`None` deletes).
type Written = ((i32, i64), (String, Option<String>));

/// SNAPSHOT subscribers started together while a writer keeps writing share
/// the view's pages, yet each sees exactly the state at its own boundary:
/// every key's latest value before it, no key deleted before it, and then
/// every change from it, which together give the writer's final state.
#[tokio::test]
async fn snapshots_started_together_under_writes_each_see_the_state_at_their_boundary() {
    const KEYS: usize = 20_000;
    const SUBSCRIBERS: usize = 6;
    let broker = TestBroker::start();
    let server = Arc::new(TestServer::start_on(&broker, |_| {}).await);
    open_road(&server, compacted_road("fleet", Duration::from_secs(60)), schema()).await;
    let initial: Vec<(String, Option<String>)> =
        (0..KEYS).map(|i| (format!("k{i:05}"), Some(format!("v{i}")))).collect();
    // Every accepted write: (partition, offset) → (key, value).
    let mut writes: Vec<Written> = Vec::new();
    for chunk in initial.chunks(5_000) {
        let at = put_at(&server, "fleet", chunk).await;
        writes.extend(at.into_iter().zip(chunk.iter().cloned()));
    }
    materialize(&server, "fleet", true).await.expect("materialize");
    ready(&server, "fleet").await;

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (server, stop) = (server.clone(), stop.clone());
        tokio::spawn(async move {
            let mut done = Vec::new();
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let batch: Vec<(String, Option<String>)> = (0..20)
                    .map(|j| {
                        n += 1;
                        let key = format!("k{:05}", (n * 7_919 + j) % KEYS);
                        (key, (!n.is_multiple_of(9)).then(|| format!("w{n}")))
                    })
                    .collect();
                let at = put_at(&server, "fleet", &batch).await;
                done.extend(at.into_iter().zip(batch));
            }
            done
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut started = Vec::new();
    for i in 0..SUBSCRIBERS {
        let server = server.clone();
        started.push(tokio::spawn(async move {
            // Started a little apart, so that boundaries differ.
            tokio::time::sleep(Duration::from_millis(40 * i as u64)).await;
            let mut s = Subscriber::start(&server, snapshot_start("fleet", 1 << 40))
                .await
                .expect("subscribe");
            let (snapshot, boundary) = until_complete(&mut s).await;
            (s, snapshot, boundary)
        }));
    }
    let mut subscribers = Vec::new();
    for s in started {
        subscribers.push(s.await.expect("subscriber"));
    }
    stop.store(true, Ordering::Relaxed);
    writes.extend(writer.await.expect("writer"));

    // The truth at a boundary: each key's last write before it.
    let state_at = |boundary: &HashMap<i32, i64>| {
        let mut state: HashMap<String, ((i32, i64), String)> = HashMap::new();
        let mut ordered: Vec<_> = writes.iter().collect();
        ordered.sort_by_key(|(at, _)| *at);
        for ((p, o), (k, v)) in ordered {
            if *o >= boundary.get(p).copied().unwrap_or(0) {
                continue;
            }
            match v {
                Some(v) => state.insert(k.clone(), ((*p, *o), v.clone())),
                None => state.remove(k),
            };
        }
        state
    };
    let everything: HashMap<i32, i64> = writes.iter().fold(HashMap::new(), |mut m, ((p, o), _)| {
        let next = m.entry(*p).or_default();
        *next = (*next).max(o + 1);
        m
    });
    let final_state = state_at(&everything);
    let mut boundaries = std::collections::HashSet::new();
    for (mut s, snapshot, boundary) in subscribers {
        let expected = state_at(&boundary);
        let got: HashMap<String, ((i32, i64), String)> = snapshot
            .iter()
            .map(|m| {
                let payload = m.payload.clone().expect("a live value");
                let v: serde_json::Value = serde_json::from_str(&payload).expect("JSON");
                let v = v["v"].as_str().expect("v").to_string();
                (m.key.clone().expect("key"), ((m.partition, m.offset), v))
            })
            .collect();
        assert_eq!(got.len(), snapshot.len(), "each key once");
        // Every value sent is the key's value at the boundary. A key left out
        // is one written again after it (its newer value is among the
        // changes, as when compaction drops it during a topic snapshot).
        let wrong: Vec<_> = got.iter().filter(|(k, v)| expected.get(*k) != Some(v)).collect();
        assert!(
            wrong.is_empty(),
            "not the value at {boundary:?}: {:?}",
            &wrong[..wrong.len().min(5)]
        );
        let written_after: std::collections::HashSet<&String> = writes
            .iter()
            .filter(|((p, o), _)| *o >= boundary.get(p).copied().unwrap_or(0))
            .map(|(_, (k, _))| k)
            .collect();
        let missing: Vec<_> = expected
            .keys()
            .filter(|k| !got.contains_key(*k) && !written_after.contains(k))
            .collect();
        assert!(
            missing.is_empty(),
            "left out at {boundary:?}: {:?}",
            &missing[..missing.len().min(5)]
        );
        // Then every change from the boundary on.
        let after =
            writes.iter().filter(|((p, o), _)| *o >= boundary.get(p).copied().unwrap_or(0)).count();
        let mut state: HashMap<String, String> =
            got.into_iter().map(|(k, (_, v))| (k, v)).collect();
        let mut changes = s.messages(after, WAIT).await;
        changes.sort_by_key(|m| (m.partition, m.offset));
        for m in changes {
            let key = m.key.expect("key");
            match m.payload {
                Some(p) => {
                    let v: serde_json::Value = serde_json::from_str(&p).expect("JSON");
                    state.insert(key, v["v"].as_str().expect("v").to_string());
                }
                None => {
                    state.remove(&key);
                }
            }
        }
        let want: HashMap<String, String> =
            final_state.iter().map(|(k, (_, v))| (k.clone(), v.clone())).collect();
        assert_eq!(state, want, "snapshot and changes give the final state");
        boundaries.insert(format!("{boundary:?}"));
    }
    assert!(boundaries.len() > 1, "the writer moved the boundary between subscribers");
    Arc::into_inner(server).expect("one owner").shutdown().await;
}

/// The gateway marks a road materialized through Data Highway's road patch
/// and serves `GET /offramp/v1/roads/{road}/keys/{key}`.
#[tokio::test]
async fn the_gateway_serves_a_key_of_a_materialized_road() {
    use roadroller_tests::{http, http_get};
    let server = TestServer::start().await;
    open_road(&server, compacted_road("menu", Duration::from_secs(60)), schema()).await;
    let written =
        put(&server, "menu", &pairs(&[("soup", Some("hot")), ("cake", Some("sweet"))])).await;
    let base = server.gateway_url();
    let patch = json!([{"op": "replace", "path": "/materialized", "value": true}]).to_string();
    let patched = http(
        "PATCH",
        &format!("{base}/paver/v1/roads/menu"),
        &[("content-type", "application/json")],
        patch,
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.text());
    let road = http_get(&format!("{base}/paver/v1/roads/menu")).await.json();
    assert_eq!(road["materialized"], true, "{road}");
    ready(&server, "menu").await;

    let min: Vec<String> = written.offsets.iter().map(|(p, o)| format!("{p}:{o}")).collect();
    let url = format!("{base}/offramp/v1/roads/menu/keys/soup?minOffsets={}", min.join(","));
    let found = http_get(&url).await;
    assert_eq!(found.status, 200, "{}", found.text());
    let body = found.json();
    assert_eq!(
        (body["key"].clone(), body["payload"].clone(), body["schema"].clone()),
        (json!("soup"), json!({"v": "hot"}), json!(1))
    );
    assert!(body["offset"].as_i64().is_some() && body["timestampMs"].as_i64() > Some(0), "{body}");

    let missing = http_get(&format!("{base}/offramp/v1/roads/menu/keys/bread")).await;
    assert_eq!(missing.status, 404, "{}", missing.text());
    assert!(missing.message().contains("\"bread\""), "{}", missing.text());
    let behind = http_get(&format!(
        "{base}/offramp/v1/roads/menu/keys/soup?minOffsets=0:999999&timeoutMs=300"
    ))
    .await;
    assert_eq!(behind.status, 503, "{}", behind.text());
    assert!(behind.headers.contains_key("retry-after"), "{:?}", behind.headers);
    let bad = http_get(&format!("{base}/offramp/v1/roads/menu/keys/soup?minOffsets=x")).await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    let stream = http_get(&format!("{base}/offramp/v1/roads/nowhere/keys/soup")).await;
    assert_eq!(stream.status, 404, "{}", stream.text());
    server.shutdown().await;
}
