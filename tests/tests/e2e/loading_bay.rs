//! Loading Bay: roads landed as Hive-layout Parquet tables in a local
//! directory and in a real S3-compatible server (moto), read back by real
//! readers (pyarrow and DuckDB) and through the Hive DDL the API returns.

use std::collections::BTreeSet;
use std::time::Duration;

use roadroller_api::v1 as pb;
use roadroller_tests::warehouse::{Root, S3_KEY_ID, S3_SECRET, S3Server, column_names, read_table};
use roadroller_tests::{
    TestBroker, TestServer, compacted_road, error_reason, open_road, stream_road,
};
use serde_json::{Value, json};
use tonic::Code;

async fn produce(server: &TestServer, road: &str, records: Vec<(Option<&str>, Option<Value>)>) {
    let records = records
        .into_iter()
        .map(|(key, payload)| pb::Record {
            key: key.map(str::to_string),
            payload: payload.map(|p| p.to_string()),
        })
        .collect();
    server.produce_accepted(road, records).await;
}

async fn enable_destination(server: &TestServer, road: &str) {
    server
        .paver()
        .await
        .update_road(pb::UpdateRoadRequest {
            road: Some(pb::Road {
                name: road.into(),
                hive_destination: Some(pb::HiveDestination { enabled: true, ..Default::default() }),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["hive_destination.enabled".into()],
            }),
        })
        .await
        .expect("destination enabled");
}

async fn land(server: &TestServer, road: &str) -> pb::LandResponse {
    server
        .loading_bay()
        .await
        .land(pb::LandRequest { road: road.into() })
        .await
        .expect("land")
        .into_inner()
}

/// `(_partition, _offset)` of every row: each record once.
fn positions(table: &Value) -> Vec<(i64, i64)> {
    table["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (r["_partition"].as_i64().expect("_partition"), r["_offset"].as_i64().expect("_offset"))
        })
        .collect()
}

async fn server_with_warehouse(url: String, endpoint: Option<&str>) -> TestServer {
    let broker = TestBroker::start();
    let endpoint = endpoint.map(str::to_string);
    TestServer::start_on(&broker, move |s| {
        s.loading_bay.warehouse.url = url;
        if let Some(endpoint) = endpoint {
            s.loading_bay.warehouse.s3_endpoint = endpoint;
            s.loading_bay.warehouse.s3_region = "us-east-1".into();
            s.loading_bay.warehouse.s3_access_key_id = S3_KEY_ID.into();
            s.loading_bay.warehouse.s3_secret_access_key = S3_SECRET.into();
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_road_roller_example_lands_as_a_wrapped_table_that_readers_and_the_ddl_read() {
    let warehouse = tempfile::tempdir().expect("tempdir");
    let server =
        server_with_warehouse(format!("file://{}", warehouse.path().display()), None).await;
    let schema = json!({"type": "object", "properties": {"v": {"type": "string"}}});
    open_road(&server, compacted_road("seed", Duration::from_secs(3600)), schema).await;
    produce(
        &server,
        "seed",
        vec![
            (Some("a"), Some(json!({"v": "one"}))),
            (Some("b"), Some(json!({"v": "two"}))),
            (Some("a"), Some(json!({"v": "three"}))),
            (Some("b"), None),
        ],
    )
    .await;
    enable_destination(&server, "seed").await;

    let landed = land(&server, "seed").await;
    assert_eq!(landed.landings.len(), 1, "{landed:?}");
    let first = &landed.landings[0];
    assert_eq!((first.records, first.files), (4, 2), "a and b hash to two partitions: {first:?}");
    assert!(
        first
            .location
            .ends_with(&format!("/seed/acquisition_instant={}", first.acquisition_instant))
    );
    assert_eq!(landed.offsets.values().sum::<i64>(), 4);

    let root = Root::Dir(warehouse.path());
    for reader in ["pyarrow", "duckdb"] {
        let table = read_table(&root, "seed", reader, None);
        assert_eq!(table["partitions"], json!([first.acquisition_instant]), "{reader}");
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
                "acquisition_instant"
            ],
            "{reader}"
        );
        // The history, in order per key; the delete is a null payload.
        let mut by_key: Vec<(String, Value)> = table["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| (r["key"].as_str().expect("key").to_string(), r["payload"].clone()))
            .collect();
        by_key.sort_by(|x, y| x.0.cmp(&y.0));
        assert_eq!(
            by_key,
            [
                ("a".to_string(), json!({"v": "one"})),
                ("a".to_string(), json!({"v": "three"})),
                ("b".to_string(), json!({"v": "two"})),
                ("b".to_string(), Value::Null),
            ],
            "{reader}"
        );
    }

    // Nothing new: nothing landed. Then one more record, one more landing.
    let again = land(&server, "seed").await;
    assert!(again.landings.is_empty(), "{again:?}");
    produce(&server, "seed", vec![(Some("c"), Some(json!({"v": "four"})))]).await;
    let second = land(&server, "seed").await;
    assert_eq!(second.landings.len(), 1);
    assert_eq!(second.landings[0].records, 1);
    let table = read_table(&root, "seed", "pyarrow", None);
    let landed_positions = positions(&table);
    assert_eq!(landed_positions.len(), 5);
    assert_eq!(landed_positions.iter().collect::<BTreeSet<_>>().len(), 5, "each record once");
    assert_eq!(table["partitions"].as_array().expect("partitions").len(), 2);

    // The DDL the API returns describes the data: DuckDB reads it through it.
    let described = server
        .loading_bay()
        .await
        .get_table(pb::GetTableRequest { road: "seed".into() })
        .await
        .expect("table")
        .into_inner();
    assert_eq!(described.partitions.len(), 2);
    assert!(described.ddl.contains("`payload` STRUCT<`v`: STRING>"), "{}", described.ddl);
    let ddl = warehouse.path().join("seed.sql");
    std::fs::write(&ddl, &described.ddl).expect("write ddl");
    let through_ddl = read_table(&root, "seed", "duckdb", Some(&ddl));
    assert_eq!(positions(&through_ddl), landed_positions);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_road_lands_in_s3_with_its_properties_as_columns_and_pii_blanked() {
    let s3 = S3Server::start();
    s3.create_bucket("lake");
    let server = server_with_warehouse("s3://lake/warehouse".into(), Some(&s3.endpoint)).await;
    let schema = json!({"type": "object", "required": ["id"], "properties": {
        "id": {"type": "integer"},
        "email": {"type": "string", "sensitivity": "PII"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "address": {"type": "object", "properties": {"city": {"type": "string"}}},
        "extra": {"type": "object"}
    }});
    open_road(&server, stream_road("people"), schema).await;
    produce(
        &server,
        "people",
        (0..50)
            .map(|i| {
                (
                    None,
                    Some(json!({"id": i, "email": format!("p{i}@example.com"), "tags": ["x"],
                    "address": {"city": "Lyon"}, "extra": {"n": i}})),
                )
            })
            .collect(),
    )
    .await;
    enable_destination(&server, "people").await;
    let landed = land(&server, "people").await;
    assert_eq!(landed.landings.iter().map(|l| l.records).sum::<i64>(), 50);
    assert!(
        landed.landings[0].location.starts_with("s3://lake/warehouse/people/acquisition_instant=")
    );

    let root = Root::S3 { server: &s3, url: "s3://lake/warehouse" };
    let mut seen = Vec::new();
    for reader in ["pyarrow", "duckdb"] {
        let table = read_table(&root, "people", reader, None);
        assert_eq!(table["row_count"], 50, "{reader}");
        let mut ids: Vec<i64> = Vec::new();
        for row in table["rows"].as_array().expect("rows") {
            assert_eq!(row["email"], "", "PII blanked: {row}");
            assert_eq!(row["tags"], json!(["x"]));
            assert_eq!(row["address"], json!({"city": "Lyon"}));
            let extra: Value =
                serde_json::from_str(row["extra"].as_str().expect("JSON text")).expect("JSON");
            assert_eq!(extra["n"], row["id"]);
            ids.push(row["id"].as_i64().expect("id"));
        }
        ids.sort_unstable();
        assert_eq!(ids, (0..50).collect::<Vec<_>>());
        seen.push(table["rows"].clone());
    }
    assert_eq!(seen[0], seen[1], "both readers read the same rows");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn landing_is_refused_clearly_without_a_warehouse_or_a_destination() {
    let server = TestServer::start().await;
    open_road(&server, stream_road("plain"), json!({"type": "object"})).await;
    let refused = server
        .loading_bay()
        .await
        .land(pb::LandRequest { road: "plain".into() })
        .await
        .expect_err("off");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(error_reason(&refused).as_deref(), Some("LOADING_BAY_OFF"), "{refused:?}");
    assert!(refused.message().contains("loading_bay.warehouse"), "{}", refused.message());
    server.shutdown().await;

    let warehouse = tempfile::tempdir().expect("tempdir");
    let server =
        server_with_warehouse(format!("file://{}", warehouse.path().display()), None).await;
    open_road(&server, stream_road("plain"), json!({"type": "object"})).await;
    let mut bay = server.loading_bay().await;
    let refused =
        bay.land(pb::LandRequest { road: "plain".into() }).await.expect_err("no destination");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(error_reason(&refused).as_deref(), Some("NO_HIVE_DESTINATION"));
    let missing = bay.land(pb::LandRequest { road: "nowhere".into() }).await.expect_err("no road");
    assert_eq!(missing.code(), Code::NotFound);
    server.shutdown().await;
}

/// Keyed records `from..to` (a hundred keys, so every partition gets some).
fn keyed(from: usize, to: usize) -> Vec<(String, Value)> {
    (from..to).map(|i| (format!("k{}", i % 100), json!({"v": format!("value {i}")}))).collect()
}

async fn produce_keyed(server: &TestServer, road: &str, records: Vec<(String, Value)>) {
    let records = records
        .into_iter()
        .map(|(k, v)| pb::Record { key: Some(k), payload: Some(v.to_string()) })
        .collect();
    server.produce_accepted(road, records).await;
}

/// A claim not renewed for this long is taken over (30 s in service).
const LEASE: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread")]
async fn a_landing_stopped_at_any_step_is_finished_after_a_restart_with_every_record_once() {
    use roadroller_server::loading_bay::landing::Fault;
    let warehouse = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", warehouse.path().display());
    let broker = TestBroker::start();
    let schema = json!({"type": "object", "properties": {"v": {"type": "string"}}});
    for fault in [
        Fault::BeforeFiles,
        Fault::BetweenFiles,
        Fault::AfterPartition,
        Fault::BeforeCommit,
        Fault::AfterCommit,
    ] {
        let road = format!("crash_{fault:?}").to_lowercase();
        let crashing = {
            let url = url.clone();
            TestServer::start_on(&broker, move |s| {
                s.loading_bay.warehouse.url = url;
                s.loading_bay.fault = Some(fault);
                s.loading_bay.claim_lease = LEASE;
            })
            .await
        };
        open_road(&crashing, compacted_road(&road, Duration::from_secs(3600)), schema.clone())
            .await;
        produce_keyed(&crashing, &road, keyed(0, 300)).await;
        enable_destination(&crashing, &road).await;
        let stopped = crashing
            .loading_bay()
            .await
            .land(pb::LandRequest { road: road.clone() })
            .await
            .expect_err("the landing stops");
        assert_eq!(
            error_reason(&stopped).as_deref(),
            Some("LANDING_STOPPED"),
            "{fault:?}: {stopped:?}"
        );
        // More records arrive before another instance starts, so that its
        // scheduler (due at once: no committed landing there) cannot split
        // them between its landing and the call below.
        produce_keyed(&crashing, &road, keyed(300, 350)).await;
        crashing.shutdown().await;

        let restarted = {
            let url = url.clone();
            TestServer::start_on(&broker, move |s| {
                s.loading_bay.warehouse.url = url;
                s.loading_bay.claim_lease = LEASE;
            })
            .await
        };
        let landed = land(&restarted, &road).await;
        let total: i64 = landed.offsets.values().sum();
        assert_eq!(total, 350, "{fault:?}: {landed:?}");
        // Stopped before its manifest, the landing is finished first; after
        // it, only the new records are landed.
        // The restarted instance's scheduler may have begun first (the road
        // has no committed landing there, so it is due at once): then this
        // call lands only what it left, a tail of the same landings.
        let expected = if fault == Fault::AfterCommit { vec![50] } else { vec![300, 50] };
        let got: Vec<i64> = landed.landings.iter().map(|l| l.records).collect();
        assert!(expected.ends_with(&got), "{fault:?}: {got:?}, expected a tail of {expected:?}");
        for reader in ["pyarrow", "duckdb"] {
            let table = read_table(&Root::Dir(warehouse.path()), &road, reader, None);
            let seen = positions(&table);
            let unique: BTreeSet<(i64, i64)> = seen.iter().copied().collect();
            assert_eq!(seen.len(), 350, "{fault:?} {reader}: every record once");
            assert_eq!(unique.len(), 350, "{fault:?} {reader}: no record twice");
            for (&partition, &end) in &landed.offsets {
                let held = unique.iter().filter(|(p, _)| *p == i64::from(partition)).count();
                assert_eq!(held as i64, end, "{fault:?} {reader}: partition {partition} whole");
            }
        }
        // Stopped after a partition, the stopped instance's partition is
        // kept and the rest taken over once its claims are not renewed.
        if fault == Fault::AfterPartition {
            let mut instants: Vec<std::path::PathBuf> =
                std::fs::read_dir(warehouse.path().join(&road))
                    .expect("table")
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.to_string_lossy().contains("acquisition_instant="))
                    .collect();
            instants.sort();
            let first: Value = serde_json::from_slice(
                &std::fs::read(instants[0].join("_manifest.json")).expect("manifest"),
            )
            .expect("json");
            let owners: BTreeSet<&str> = first["landed_by"]
                .as_object()
                .expect("landed_by")
                .values()
                .filter_map(Value::as_str)
                .collect();
            assert_eq!(owners.len(), 2, "landed by both instances: {first}");
        }
        // The plan is gone once its landing is committed.
        let plans = std::fs::read_dir(warehouse.path().join(&road).join("_loading_bay"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(plans, 0, "{fault:?}");
        restarted.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_landing_the_same_road_at_once_land_each_record_once() {
    let warehouse = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", warehouse.path().display());
    let broker = TestBroker::start();
    let start =
        |url: String| TestServer::start_on(&broker, move |s| s.loading_bay.warehouse.url = url);
    let (one, two) = (start(url.clone()).await, start(url.clone()).await);
    let schema = json!({"type": "object", "properties": {"v": {"type": "string"}}});
    open_road(&one, compacted_road("shared", Duration::from_secs(3600)), schema).await;
    enable_destination(&one, "shared").await;
    // The second instance learns of the road from the registry topic, a moment later.
    roadroller_tests::eventually(Duration::from_secs(5), "the destination on two", || {
        let two = &two;
        async move {
            let mut paver = two.paver().await;
            let road = paver.get_road(pb::GetRoadRequest { name: "shared".into() }).await;
            road.ok()?.into_inner().road?.hive_destination.filter(|h| h.enabled)
        }
    })
    .await;
    let mut produced = 0;
    for round in 0..4 {
        produce_keyed(&one, "shared", keyed(produced, produced + 200)).await;
        produced += 200;
        let (a, b) = tokio::join!(
            async { one.loading_bay().await.land(pb::LandRequest { road: "shared".into() }).await },
            async { two.loading_bay().await.land(pb::LandRequest { road: "shared".into() }).await },
        );
        // Each call lands, or finds the other's landing and finishes it.
        let (a, b) = (a.expect("one lands").into_inner(), b.expect("two lands").into_inner());
        assert_eq!(a.offsets.values().sum::<i64>(), produced as i64, "round {round}: {a:?}");
        assert_eq!(b.offsets.values().sum::<i64>(), produced as i64, "round {round}: {b:?}");
    }
    let table = read_table(&Root::Dir(warehouse.path()), "shared", "pyarrow", None);
    let seen = positions(&table);
    assert_eq!(seen.len(), produced);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), produced, "no record twice");
    one.shutdown().await;
    two.shutdown().await;
}

async fn set_landing_interval(
    server: &TestServer,
    road: &str,
    interval: prost_types::Duration,
) -> Result<pb::UpdateRoadResponse, tonic::Status> {
    let destination = pb::HiveDestination {
        enabled: true,
        landing_interval: Some(interval),
        ..Default::default()
    };
    let road =
        pb::Road { name: road.into(), hive_destination: Some(destination), ..Default::default() };
    let paths = vec!["hive_destination.enabled".into(), "hive_destination.landing_interval".into()];
    let mask = Some(prost_types::FieldMask { paths });
    let mut paver = server.paver().await;
    paver
        .update_road(pb::UpdateRoadRequest { road: Some(road), update_mask: mask })
        .await
        .map(|r| r.into_inner())
}

/// The road's Hive status once `ready` holds for it.
pub async fn hive_status(
    server: &TestServer,
    road: &str,
    what: &str,
    ready: impl Fn(&pb::HiveStatus) -> bool,
) -> pb::HiveStatus {
    roadroller_tests::eventually(Duration::from_secs(60), what, || {
        let ready = &ready;
        async move {
            let mut paver = server.paver().await;
            let got = paver.get_road(pb::GetRoadRequest { name: road.into() }).await.ok()?;
            let status = got.into_inner().road?.hive_destination?.status?;
            ready(&status).then_some(status)
        }
    })
    .await
}

/// With `loading_bay.min_landing_interval` lowered, a road lands on its own
/// every interval; while the object store cannot be reached the landing
/// fails with its reason and is retried, and once the store is back every
/// record is landed once.
#[tokio::test(flavor = "multi_thread")]
async fn scheduled_landings_retry_while_the_object_store_is_down_and_land_each_record_once() {
    use roadroller_tests::link::Link;
    let s3 = S3Server::start();
    s3.create_bucket("sched");
    let moto: std::net::SocketAddr =
        s3.endpoint.trim_start_matches("http://").parse().expect("moto's address");
    let link = Link::start("127.0.0.1:0".parse().expect("address"), moto);
    let store = link.addr();
    let broker = TestBroker::start();
    let server = TestServer::start_on(&broker, move |s| {
        s.roads.min_landing_interval_ms = 1_000;
        s.loading_bay.warehouse.url = "s3://sched/wh".into();
        s.loading_bay.warehouse.s3_endpoint = format!("http://{store}");
        s.loading_bay.warehouse.s3_region = "us-east-1".into();
        s.loading_bay.warehouse.s3_access_key_id = S3_KEY_ID.into();
        s.loading_bay.warehouse.s3_secret_access_key = S3_SECRET.into();
    })
    .await;
    let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}});
    open_road(&server, stream_road("sched"), schema).await;
    let refused = set_landing_interval(
        &server,
        "sched",
        prost_types::Duration { seconds: 0, nanos: 500_000_000 },
    )
    .await
    .expect_err("below the minimum");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("from 1 second to 1 day"), "{}", refused.message());
    set_landing_interval(&server, "sched", prost_types::Duration { seconds: 2, nanos: 0 })
        .await
        .expect("two seconds");

    let numbered = |from: i64, to: i64| (from..to).map(|n| (None, Some(json!({"n": n})))).collect();
    produce(&server, "sched", numbered(0, 100)).await;
    let landed = |n: i64| move |s: &pb::HiveStatus| s.offsets.values().sum::<i64>() == n;
    let first = hive_status(&server, "sched", "a landing nobody asked for", landed(100)).await;
    assert!(first.last_error.is_empty(), "{first:?}");

    // The store goes away: connections to it are refused.
    drop(link);
    produce(&server, "sched", numbered(100, 200)).await;
    let failing =
        hive_status(&server, "sched", "the failure reported", |s| !s.last_error.is_empty()).await;
    assert_eq!(failing.offsets.values().sum::<i64>(), 100, "nothing more landed: {failing:?}");
    eprintln!("while the store is down: {}", failing.last_error);

    // Back on the same address, the retries land the rest.
    let link = Link::start(store, moto);
    let healed = hive_status(&server, "sched", "the rest landed", |s| {
        landed(200)(s) && s.last_error.is_empty()
    })
    .await;
    assert!(healed.last_records > 0, "{healed:?}");
    let table =
        read_table(&Root::S3 { server: &s3, url: "s3://sched/wh" }, "sched", "pyarrow", None);
    let seen = positions(&table);
    assert_eq!(seen.len(), 200, "every record landed");
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 200, "no record twice");
    drop(link);
    server.shutdown().await;
}
