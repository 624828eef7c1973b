//! Daily snapshots of COMPACTED roads: one row per live key, rolled from the
//! previous snapshot and the landings since, read back by pyarrow and DuckDB
//! and compared row for row with an Offramp SNAPSHOT at the same offsets.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use roadroller_api::v1 as pb;
use roadroller_api::v1::subscribe_response::Kind as Got;
use roadroller_tests::warehouse::{Root, column_names, read_table};
use roadroller_tests::{
    Subscriber, TestBroker, TestServer, compacted_road, error_reason, open_road, snapshot_start,
    stream_road,
};
use serde_json::{Value, json};
use tonic::Code;

const WAIT: Duration = Duration::from_secs(60);

/// A server landing into `url`, its snapshot dates `skew_days` ahead.
async fn server(broker: &TestBroker, url: &str, skew_days: i64) -> TestServer {
    let url = url.to_string();
    TestServer::start_on(broker, move |s| {
        s.loading_bay.warehouse.url = url;
        s.loading_bay.skew_days = skew_days;
        // Small enough that a few hundred thousand keys take many buckets,
        // split again where one turns out too large, and several files.
        s.loading_bay.snapshot_memory = 1 << 20;
        s.loading_bay.target_file_bytes = 1 << 20;
    })
    .await
}

/// Turns on the road's destination, and its daily snapshots at `daily`
/// (`HH:MM`); without them, only the Snapshot calls take snapshots.
async fn enable_destination(
    server: &TestServer,
    road: &str,
    daily: Option<&str>,
) -> Result<pb::UpdateRoadResponse, tonic::Status> {
    let snapshot =
        pb::HiveSnapshot { enabled: daily.is_some(), time: daily.unwrap_or_default().to_string() };
    let destination =
        pb::HiveDestination { enabled: true, snapshot: Some(snapshot), ..Default::default() };
    server
        .paver()
        .await
        .update_road(pb::UpdateRoadRequest {
            road: Some(pb::Road {
                name: road.into(),
                hive_destination: Some(destination),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["hive_destination.enabled".into(), "hive_destination.snapshot".into()],
            }),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn snapshot(server: &TestServer, road: &str) -> Result<pb::SnapshotResponse, tonic::Status> {
    server
        .loading_bay()
        .await
        .snapshot(pb::SnapshotRequest { road: road.into() })
        .await
        .map(tonic::Response::into_inner)
}

async fn produce(server: &TestServer, road: &str, records: Vec<(String, Option<Value>)>) {
    for chunk in records.chunks(5_000) {
        let records = chunk
            .iter()
            .map(|(k, v)| pb::Record {
                key: Some(k.clone()),
                payload: v.as_ref().map(Value::to_string),
            })
            .collect();
        server.produce_accepted(road, records).await;
    }
}

/// Key → payload of every row of a snapshot table.
fn rows(table: &Value) -> Vec<(String, Value)> {
    let mut rows: Vec<(String, Value)> = table["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (r["key"].as_str().expect("key").to_string(), r["payload"].clone()))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

#[tokio::test(flavor = "multi_thread")]
async fn the_road_roller_example_snapshots_to_its_one_live_key() {
    let warehouse = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", warehouse.path().display());
    let broker = TestBroker::start();
    let server = server(&broker, &url, 0).await;
    let schema = json!({"type": "object", "properties": {"v": {"type": "string"}}});
    open_road(&server, compacted_road("seed", Duration::from_secs(3600)), schema.clone()).await;
    enable_destination(&server, "seed", None).await.expect("destination on");
    produce(
        &server,
        "seed",
        vec![("a".into(), Some(json!({"v": "one"}))), ("b".into(), Some(json!({"v": "two"})))],
    )
    .await;
    // Two landings at least (the scheduler may land too): the first two
    // records, then the rest.
    let first = server
        .loading_bay()
        .await
        .land(pb::LandRequest { road: "seed".into() })
        .await
        .expect("land")
        .into_inner();
    assert_eq!(first.offsets.values().sum::<i64>(), 2, "{first:?}");
    produce(&server, "seed", vec![("a".into(), Some(json!({"v": "three"}))), ("b".into(), None)])
        .await;

    let taken = snapshot(&server, "seed").await.expect("snapshot");
    assert!(taken.taken_now, "{taken:?}");
    let s = taken.snapshot.expect("a snapshot");
    assert_eq!((s.keys, s.files), (1, 1), "{s:?}");
    assert_eq!(s.offsets.values().sum::<i64>(), 4, "as of every record: {s:?}");
    assert!(s.previous_snapshot_date.is_empty(), "{s:?}");
    assert!(s.location.ends_with(&format!("/seed_snapshot/snapshot_date={}", s.snapshot_date)));

    let root = Root::Dir(warehouse.path());
    for reader in ["pyarrow", "duckdb"] {
        let table = read_table(&root, "seed_snapshot", reader, None);
        assert_eq!(table["partitions"], json!([s.snapshot_date]), "{reader}");
        assert_eq!(rows(&table), [("a".to_string(), json!({"v": "three"}))], "{reader}");
        let names = column_names(&table);
        assert_eq!(
            names,
            [
                "key",
                "payload",
                "_partition",
                "_offset",
                "_timestamp",
                "_schema_version",
                "snapshot_date"
            ],
            "{reader}"
        );
    }

    // Asked again the same day: the committed snapshot, not another.
    let again = snapshot(&server, "seed").await.expect("again");
    assert!(!again.taken_now, "{again:?}");
    assert_eq!(again.snapshot.map(|s| s.snapshot_date), Some(s.snapshot_date.clone()));

    // The DDL describes the snapshot table: DuckDB reads it through it.
    let described = server
        .loading_bay()
        .await
        .get_table(pb::GetTableRequest { road: "seed".into() })
        .await
        .expect("table")
        .into_inner();
    assert_eq!(described.snapshot_partitions, std::slice::from_ref(&s.snapshot_date));
    assert!(
        described.snapshot_ddl.contains("PARTITIONED BY (`snapshot_date` STRING)"),
        "{}",
        described.snapshot_ddl
    );
    let ddl = warehouse.path().join("seed_snapshot.sql");
    std::fs::write(&ddl, &described.snapshot_ddl).expect("write ddl");
    let through_ddl = read_table(&root, "seed_snapshot", "duckdb", Some(&ddl));
    assert_eq!(rows(&through_ddl), [("a".to_string(), json!({"v": "three"}))]);

    // The next day's snapshot rolls the first and what came since.
    server.shutdown().await;
    let tomorrow = self::server(&broker, &url, 1).await;
    produce(&tomorrow, "seed", vec![("c".into(), Some(json!({"v": "four"}))), ("a".into(), None)])
        .await;
    let next = snapshot(&tomorrow, "seed").await.expect("tomorrow's").snapshot.expect("snapshot");
    assert_eq!(next.previous_snapshot_date, s.snapshot_date, "{next:?}");
    assert_eq!(next.keys, 1);
    let table = read_table(&root, "seed_snapshot", "pyarrow", None);
    assert_eq!(table["partitions"], json!([s.snapshot_date, next.snapshot_date]));
    let latest: Vec<(String, Value)> = table["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["snapshot_date"] == json!(next.snapshot_date))
        .map(|r| (r["key"].as_str().expect("key").to_string(), r["payload"].clone()))
        .collect();
    assert_eq!(latest, [("c".to_string(), json!({"v": "four"}))]);
    tomorrow.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshots_are_refused_clearly_where_they_cannot_be() {
    let warehouse = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start();
    let server = server(&broker, &format!("file://{}", warehouse.path().display()), 0).await;
    let schema = json!({"type": "object"});
    open_road(&server, stream_road("events"), schema.clone()).await;
    let refused =
        enable_destination(&server, "events", Some("00:00")).await.expect_err("a STREAM road");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(refused.message().contains("road.hive_destination.snapshot.enabled"), "{refused:?}");
    let refused = snapshot(&server, "events").await.expect_err("a STREAM road");
    assert_eq!(error_reason(&refused).as_deref(), Some("ROAD_NOT_COMPACTED"), "{refused:?}");

    open_road(&server, compacted_road("state", Duration::from_secs(3600)), schema).await;
    let refused = snapshot(&server, "state").await.expect_err("no destination");
    assert_eq!(error_reason(&refused).as_deref(), Some("NO_HIVE_DESTINATION"), "{refused:?}");
    let mut bad = pb::HiveDestination {
        snapshot: Some(pb::HiveSnapshot { enabled: true, time: "24:00".into() }),
        ..Default::default()
    };
    bad.enabled = true;
    let refused = server
        .paver()
        .await
        .update_road(pb::UpdateRoadRequest {
            road: Some(pb::Road {
                name: "state".into(),
                hive_destination: Some(bad),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["hive_destination.snapshot.time".into()],
            }),
        })
        .await
        .expect_err("no such time");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("HH:MM"), "{}", refused.message());
    let refused = snapshot(&server, "nowhere").await.expect_err("no road");
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    server.shutdown().await;
}

/// Every live key once, with its latest value, as an Offramp SNAPSHOT taken
/// at the same offsets sees it: 200,000 keys, three versions each, every
/// tenth deleted, over two days' snapshots (the second rolled from the
/// first) in buckets far smaller than the data.
#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_of_200000_keys_equals_an_offramp_snapshot_row_for_row() {
    const KEYS: usize = 200_000;
    let warehouse = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", warehouse.path().display());
    let broker = TestBroker::start();
    let today = server(&broker, &url, 0).await;
    let schema = json!({"type": "object", "properties": {
        "v": {"type": "string"}, "n": {"type": "integer"}
    }});
    open_road(&today, compacted_road("catalog", Duration::from_secs(3600)), schema).await;
    enable_destination(&today, "catalog", None).await.expect("destination on");
    let version = |n: usize| -> Vec<(String, Option<Value>)> {
        (0..KEYS)
            .map(|i| (format!("k{i:06}"), Some(json!({"v": format!("{i}-{n}"), "n": n}))))
            .collect()
    };
    produce(&today, "catalog", version(1)).await;
    let first = snapshot(&today, "catalog").await.expect("first").snapshot.expect("snapshot");
    assert_eq!(first.keys, KEYS as i64);
    assert!(first.files > 1, "files of about the target size: {first:?}");
    today.shutdown().await;

    let tomorrow = server(&broker, &url, 1).await;
    produce(&tomorrow, "catalog", version(2)).await;
    let deletes = |r: usize| -> Vec<(String, Option<Value>)> {
        (0..KEYS).filter(|i| i % 10 == r).map(|i| (format!("k{i:06}"), None)).collect()
    };
    // Deleted, then written again: the delete does not win.
    produce(&tomorrow, "catalog", deletes(5)).await;
    produce(&tomorrow, "catalog", version(3)).await;
    produce(&tomorrow, "catalog", deletes(0)).await;
    let second = snapshot(&tomorrow, "catalog").await.expect("second").snapshot.expect("snapshot");
    assert_eq!(second.previous_snapshot_date, first.snapshot_date);
    let live = KEYS - KEYS / 10;
    assert_eq!(second.keys, live as i64, "{second:?}");

    // The Offramp's SNAPSHOT of the same road, nothing written since.
    let mut subscriber =
        Subscriber::start(&tomorrow, snapshot_start("catalog", 1 << 40)).await.expect("subscribe");
    let mut offramp: BTreeMap<String, (i32, i64, Value)> = BTreeMap::new();
    let boundary: HashMap<i32, i64> = loop {
        match subscriber.next(WAIT).await.expect("subscription alive") {
            Some(Got::Message(m)) => {
                let payload = serde_json::from_str(&m.payload.expect("a live key")).expect("json");
                offramp.insert(m.key.expect("a key"), (m.partition, m.offset, payload));
            }
            Some(Got::SnapshotComplete(c)) => break c.offsets,
            Some(_) => {}
            None => panic!("no snapshot_complete after {} keys", offramp.len()),
        }
    };
    drop(subscriber);
    let at: BTreeMap<i32, i64> = boundary.into_iter().collect();
    assert_eq!(at, second.offsets.clone().into_iter().collect(), "the same offsets");

    let table = read_table(&Root::Dir(warehouse.path()), "catalog_snapshot", "pyarrow", None);
    let mut landed: BTreeMap<String, (i32, i64, Value)> = BTreeMap::new();
    for row in table["rows"].as_array().expect("rows") {
        if row["snapshot_date"] != json!(second.snapshot_date) {
            continue;
        }
        let key = row["key"].as_str().expect("key").to_string();
        let held = (
            row["_partition"].as_i64().expect("partition") as i32,
            row["_offset"].as_i64().expect("offset"),
            row["payload"].clone(),
        );
        assert!(landed.insert(key.clone(), held).is_none(), "{key} twice");
    }
    assert_eq!(landed.len(), live);
    assert_eq!(landed, offramp, "row for row");
    tomorrow.shutdown().await;
}

/// With its time of day passed, the scheduler lands the road and takes the
/// day's snapshot on its own, once; the road's status says so.
#[tokio::test(flavor = "multi_thread")]
async fn the_scheduler_takes_the_daily_snapshot_once_its_time_has_passed() {
    let warehouse = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start();
    let server = server(&broker, &format!("file://{}", warehouse.path().display()), 0).await;
    let schema = json!({"type": "object", "properties": {"v": {"type": "string"}}});
    open_road(&server, compacted_road("daily", Duration::from_secs(3600)), schema).await;
    produce(
        &server,
        "daily",
        vec![("x".into(), Some(json!({"v": "1"}))), ("y".into(), Some(json!({"v": "2"})))],
    )
    .await;
    // Midnight has always passed today.
    enable_destination(&server, "daily", Some("00:00")).await.expect("snapshots on");
    let status = crate::loading_bay::hive_status(&server, "daily", "the day's snapshot", |s| {
        !s.last_snapshot_date.is_empty()
    })
    .await;
    assert_eq!(status.last_snapshot_keys, 2, "{status:?}");
    // Asked now, the scheduler's snapshot is the day's.
    let asked = snapshot(&server, "daily").await.expect("snapshot");
    assert!(!asked.taken_now, "{asked:?}");
    let table = read_table(&Root::Dir(warehouse.path()), "daily_snapshot", "pyarrow", None);
    assert_eq!(
        rows(&table),
        [("x".to_string(), json!({"v": "1"})), ("y".to_string(), json!({"v": "2"}))]
    );
    server.shutdown().await;
}
