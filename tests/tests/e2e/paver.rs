//! Paver over gRPC: roads and schemas kept in Kafka, shared by instances,
//! surviving restarts, with every bad request answered precisely.

use std::time::{Duration, Instant};

use prost_types::FieldMask;
use roadroller_api::v1 as pb;
use roadroller_api::v1::paver_service_client::PaverServiceClient;
use roadroller_tests::{
    TestBroker, TestServer, compacted_road, create_road_ready, error_reason, field_violations,
    stream_road,
};
use serde_json::json;
use tonic::Code;

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask { paths: paths.iter().map(|p| p.to_string()).collect() })
}

async fn register(
    paver: &mut PaverServiceClient<roadroller_tests::Authed>,
    road: &str,
    schema: serde_json::Value,
) -> pb::Schema {
    paver
        .register_schema(pb::RegisterSchemaRequest {
            road: road.into(),
            schema: schema.to_string(),
            version: 0,
        })
        .await
        .expect("register schema")
        .into_inner()
        .schema
        .expect("schema")
}

#[tokio::test]
async fn type_partitions_and_partition_paths_follow_the_road_type() {
    let server = TestServer::start().await;
    let mut paver = server.paver().await;
    let compacted =
        create_road_ready(&server, compacted_road("users", Duration::from_secs(60))).await;

    let mut as_stream = compacted.clone();
    as_stream.r#type = pb::RoadType::Stream as i32;
    let err = paver
        .update_road(pb::UpdateRoadRequest { road: Some(as_stream), update_mask: mask(&["type"]) })
        .await
        .expect_err("type is immutable");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&err), [("road.type".to_string(), "is immutable".to_string())]);

    let mut more = compacted.clone();
    more.partitions = 24;
    let err = paver
        .update_road(pb::UpdateRoadRequest { road: Some(more), update_mask: mask(&["partitions"]) })
        .await
        .expect_err("partitions are immutable on a COMPACTED road");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("road.partitions: is immutable on a COMPACTED road"),
        "{}",
        err.message()
    );

    let mut keyed = compacted.clone();
    keyed.partition_path = "$.id".into();
    let err = paver
        .update_road(pb::UpdateRoadRequest {
            road: Some(keyed),
            update_mask: mask(&["partition_path"]),
        })
        .await
        .expect_err("no partition_path on a COMPACTED road");
    assert_eq!(field_violations(&err)[0].0, "road.partition_path");

    let mut created_keyed = compacted_road("keyed", Duration::from_secs(60));
    created_keyed.partition_path = "$.id".into();
    let err = paver
        .create_road(pb::CreateRoadRequest { road: Some(created_keyed) })
        .await
        .expect_err("no partition_path on a COMPACTED road at creation either");
    assert_eq!(field_violations(&err)[0].0, "road.partition_path");
    server.shutdown().await;
}

#[tokio::test]
async fn two_instances_share_roads_and_a_racing_update_loses() {
    let broker = TestBroker::start();
    let a = TestServer::start_on(&broker, |_| {}).await;
    let b = TestServer::start_on(&broker, |_| {}).await;
    let (mut via_a, mut via_b) = (a.paver().await, b.paver().await);

    via_a
        .create_road(pb::CreateRoadRequest { road: Some(stream_road("shared")) })
        .await
        .expect("create through a");
    let created = Instant::now();
    let seen = loop {
        if let Ok(r) = via_b.get_road(pb::GetRoadRequest { name: "shared".into() }).await {
            break r.into_inner().road.expect("road");
        }
        assert!(created.elapsed() < Duration::from_secs(1), "not readable through b within 1 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(created.elapsed() < Duration::from_secs(1));

    // Both updates carry the same etag; exactly one may win.
    let update = |description: &str| {
        let mut road = seen.clone();
        road.description = description.into();
        pb::UpdateRoadRequest { road: Some(road), update_mask: mask(&["description"]) }
    };
    let (first, second) =
        tokio::join!(via_a.update_road(update("from a")), via_b.update_road(update("from b")));
    let outcomes = [&first, &second];
    let won: Vec<_> = outcomes.iter().filter(|r| r.is_ok()).collect();
    let lost: Vec<_> = outcomes.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!((won.len(), lost.len()), (1, 1), "{first:?} / {second:?}");
    assert_eq!(lost[0].code(), Code::Aborted);
    assert_eq!(error_reason(lost[0]).as_deref(), Some("ETAG_MISMATCH"));

    // Both instances settle on the winner.
    let winner = won[0].as_ref().expect("won").get_ref().road.clone().expect("road");
    for paver in [&mut via_a, &mut via_b] {
        let road =
            roadroller_tests::eventually(Duration::from_secs(2), "the winner everywhere", || {
                let mut paver = paver.clone();
                let etag = winner.etag.clone();
                async move {
                    let r =
                        paver.get_road(pb::GetRoadRequest { name: "shared".into() }).await.ok()?;
                    r.into_inner().road.filter(|r| r.etag == etag)
                }
            })
            .await;
        assert_eq!(road.description, winner.description);
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn roads_and_schema_versions_survive_a_restart() {
    let broker = TestBroker::start();
    let server = TestServer::start_on(&broker, |_| {}).await;
    let mut paver = server.paver().await;
    create_road_ready(&server, stream_road("kept")).await;
    create_road_ready(&server, compacted_road("kept_too", Duration::from_secs(60))).await;
    // A closed content model can gain an optional property compatibly.
    let v1 = json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false});
    let v2 = json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "additionalProperties": false});
    register(&mut paver, "kept", v1).await;
    register(&mut paver, "kept", v2).await;
    paver
        .delete_schema(pb::DeleteSchemaRequest { road: "kept".into(), version: 2 })
        .await
        .expect("delete v2");
    let before =
        paver.list_roads(pb::ListRoadsRequest::default()).await.expect("list").into_inner();
    let schemas_before = paver
        .list_schemas(pb::ListSchemasRequest { road: "kept".into(), include_deleted: true })
        .await
        .expect("schemas")
        .into_inner();
    server.shutdown().await;

    let server = TestServer::start_on(&broker, |_| {}).await;
    let mut paver = server.paver().await;
    let after = paver.list_roads(pb::ListRoadsRequest::default()).await.expect("list").into_inner();
    let names = |l: &pb::ListRoadsResponse| {
        l.roads.iter().map(|r| (r.name.clone(), r.etag.clone())).collect::<Vec<_>>()
    };
    assert_eq!(names(&after), names(&before));
    assert_eq!(
        names(&after),
        [
            ("kept".to_string(), before.roads[0].etag.clone()),
            ("kept_too".to_string(), before.roads[1].etag.clone())
        ]
    );
    let schemas_after = paver
        .list_schemas(pb::ListSchemasRequest { road: "kept".into(), include_deleted: true })
        .await
        .expect("schemas")
        .into_inner();
    assert_eq!(schemas_after, schemas_before);
    assert_eq!(schemas_after.schemas.len(), 2);
    assert!(schemas_after.schemas[1].deleted);
    server.shutdown().await;
}

#[tokio::test]
async fn listing_pages_and_filters_by_type() {
    let server = TestServer::start().await;
    let mut paver = server.paver().await;
    for name in ["a_stream", "b_stream", "c_stream"] {
        paver
            .create_road(pb::CreateRoadRequest { road: Some(stream_road(name)) })
            .await
            .expect("create");
    }
    paver
        .create_road(pb::CreateRoadRequest {
            road: Some(compacted_road("d_table", Duration::from_secs(60))),
        })
        .await
        .expect("create");
    let first = paver
        .list_roads(pb::ListRoadsRequest { page_size: 2, ..Default::default() })
        .await
        .expect("page 1")
        .into_inner();
    let names: Vec<_> = first.roads.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a_stream", "b_stream"]);
    let second = paver
        .list_roads(pb::ListRoadsRequest {
            page_size: 2,
            page_token: first.next_page_token,
            ..Default::default()
        })
        .await
        .expect("page 2")
        .into_inner();
    let names: Vec<_> = second.roads.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["c_stream", "d_table"]);
    assert!(second.next_page_token.is_empty());
    let compacted = paver
        .list_roads(pb::ListRoadsRequest {
            r#type: pb::RoadType::Compacted as i32,
            ..Default::default()
        })
        .await
        .expect("filtered")
        .into_inner();
    let names: Vec<_> = compacted.roads.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["d_table"]);
    server.shutdown().await;
}

#[tokio::test]
async fn schema_versions_grow_and_only_the_latest_is_deleted() {
    let server = TestServer::start().await;
    let mut paver = server.paver().await;
    create_road_ready(&server, stream_road("versions")).await;
    let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
    let v1 = register(&mut paver, "versions", schema.clone()).await;
    assert_eq!(v1.version, 1);
    let v5 = paver
        .register_schema(pb::RegisterSchemaRequest {
            road: "versions".into(),
            schema: schema.to_string(),
            version: 5,
        })
        .await
        .expect("explicit version")
        .into_inner()
        .schema
        .expect("schema");
    assert_eq!(v5.version, 5);
    paver
        .delete_schema(pb::DeleteSchemaRequest { road: "versions".into(), version: 5 })
        .await
        .expect("delete 5");
    let latest = paver
        .get_schema(pb::GetSchemaRequest { road: "versions".into(), version: 0 })
        .await
        .expect("latest")
        .into_inner()
        .schema
        .expect("schema");
    assert_eq!(latest.version, 1, "the latest non-deleted version");
    let next = register(&mut paver, "versions", schema).await;
    assert_eq!(next.version, 6, "deleted numbers are never reused");
    let deleted = paver
        .get_schema(pb::GetSchemaRequest { road: "versions".into(), version: 5 })
        .await
        .expect("by number")
        .into_inner()
        .schema
        .expect("schema");
    assert!(deleted.deleted);
    server.shutdown().await;
}
