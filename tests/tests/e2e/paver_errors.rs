//! Bad Paver requests: each answered with the right code, a message that
//! names the problem and, for bad fields, a BadRequest violation naming the
//! field.

use std::time::Duration;

use prost_types::FieldMask;
use roadroller_api::v1 as pb;
use roadroller_tests::{
    TestServer, compacted_road, create_road_ready, field_violations, stream_road,
};
use serde_json::json;
use tonic::{Code, Status};

/// One expected refusal.
struct Expect {
    case: &'static str,
    code: Code,
    /// The BadRequest field that must be named, if any.
    field: Option<&'static str>,
    /// A phrase the message must contain.
    says: &'static str,
}

fn check<T: std::fmt::Debug>(result: Result<T, Status>, expect: Expect, checked: &mut usize) {
    let err = match result {
        Ok(ok) => panic!("{}: expected {:?}, got {ok:?}", expect.case, expect.code),
        Err(e) => e,
    };
    assert_eq!(err.code(), expect.code, "{}: {}", expect.case, err.message());
    assert!(
        err.message().contains(expect.says),
        "{}: {:?} lacks {:?}",
        expect.case,
        err.message(),
        expect.says
    );
    if let Some(field) = expect.field {
        let fields = field_violations(&err);
        assert!(
            fields.iter().any(|(f, _)| f == field),
            "{}: no violation for {field} in {fields:?}",
            expect.case
        );
    }
    *checked += 1;
}

fn create(road: pb::Road) -> pb::CreateRoadRequest {
    pb::CreateRoadRequest { road: Some(road) }
}

fn schema(road: &str, schema: serde_json::Value) -> pb::RegisterSchemaRequest {
    pb::RegisterSchemaRequest { road: road.into(), schema: schema.to_string(), version: 0 }
}

fn update(road: pb::Road, paths: &[&str]) -> pb::UpdateRoadRequest {
    pb::UpdateRoadRequest {
        road: Some(road),
        update_mask: Some(FieldMask { paths: paths.iter().map(|p| p.to_string()).collect() }),
    }
}

#[tokio::test]
async fn bad_requests_get_precise_answers() {
    use Code::*;
    let server = TestServer::start().await;
    let mut p = server.paver().await;
    // No etag: these updates are refused for other reasons than staleness.
    let base =
        pb::Road { etag: String::new(), ..create_road_ready(&server, stream_road("base")).await };
    create_road_ready(&server, compacted_road("table", Duration::from_secs(60))).await;
    let v1 = json!({"type": "object", "properties": {"email": {"type": "string"}, "n": {"type": "integer"}}});
    p.register_schema(schema("base", v1.clone())).await.expect("v1");
    let mut n = 0;

    check(
        p.create_road(pb::CreateRoadRequest { road: None }).await,
        Expect {
            case: "no road",
            code: InvalidArgument,
            field: Some("road"),
            says: "road: is required",
        },
        &mut n,
    );
    check(
        p.create_road(create(stream_road(""))).await,
        Expect {
            case: "empty name",
            code: InvalidArgument,
            field: Some("road.name"),
            says: "road.name: is required",
        },
        &mut n,
    );
    check(
        p.create_road(create(stream_road("Orders"))).await,
        Expect {
            case: "upper-case name",
            code: InvalidArgument,
            field: Some("road.name"),
            says: "must match ^[a-z][a-z0-9_]*$",
        },
        &mut n,
    );
    check(
        p.create_road(create(stream_road(&"a".repeat(101)))).await,
        Expect {
            case: "long name",
            code: InvalidArgument,
            field: Some("road.name"),
            says: "at most 100 characters",
        },
        &mut n,
    );
    let untyped = pb::Road { name: "untyped".into(), ..Default::default() };
    check(
        p.create_road(create(untyped)).await,
        Expect {
            case: "no type",
            code: InvalidArgument,
            field: Some("road.type"),
            says: "STREAM or COMPACTED",
        },
        &mut n,
    );
    let bad_email = pb::Road { contact_email: "nobody".into(), ..stream_road("mail") };
    check(
        p.create_road(create(bad_email)).await,
        Expect {
            case: "bad e-mail",
            code: InvalidArgument,
            field: Some("road.contact_email"),
            says: "not a valid e-mail address",
        },
        &mut n,
    );
    let negative = pb::Road { partitions: -1, ..stream_road("negative") };
    check(
        p.create_road(create(negative)).await,
        Expect {
            case: "negative partitions",
            code: InvalidArgument,
            field: Some("road.partitions"),
            says: "must not be negative",
        },
        &mut n,
    );
    let bad_path = pb::Road { partition_path: "a.b".into(), ..stream_road("pathless") };
    check(
        p.create_road(create(bad_path)).await,
        Expect {
            case: "path without $",
            code: InvalidArgument,
            field: Some("road.partition_path"),
            says: "must start with $",
        },
        &mut n,
    );
    let with_retention = pb::Road {
        retention: Some(prost_types::Duration { seconds: 60, nanos: 0 }),
        ..compacted_road("kept", Duration::from_secs(60))
    };
    check(
        p.create_road(create(with_retention)).await,
        Expect {
            case: "retention on COMPACTED",
            code: InvalidArgument,
            field: Some("road.retention"),
            says: "applies to STREAM roads",
        },
        &mut n,
    );
    let enabled = pb::Road { enabled: true, ..stream_road("eager") };
    check(
        p.create_road(create(enabled)).await,
        Expect {
            case: "enabled at creation",
            code: InvalidArgument,
            field: Some("road.enabled"),
            says: "only once its topic exists",
        },
        &mut n,
    );
    let cidr = pb::Road {
        authorisation: Some(pb::Authorisation {
            onramp: Some(pb::OnrampAuthorisation {
                authorities: vec![],
                cidr_blocks: vec!["10.0.0.0/33".into()],
            }),
            offramp: None,
            admins: vec![],
        }),
        ..stream_road("cidr")
    };
    check(
        p.create_road(create(cidr)).await,
        Expect {
            case: "bad CIDR",
            code: InvalidArgument,
            field: Some("road.authorisation.onramp.cidr_blocks[0]"),
            says: "prefix longer than 32",
        },
        &mut n,
    );
    let hive = pb::Road {
        hive_destination: Some(pb::HiveDestination {
            enabled: true,
            landing_interval: Some(prost_types::Duration { seconds: 60, nanos: 0 }),
            ..Default::default()
        }),
        ..stream_road("hive")
    };
    check(
        p.create_road(create(hive)).await,
        Expect {
            case: "landing interval",
            code: InvalidArgument,
            field: Some("road.hive_destination.landing_interval"),
            says: "from 5 minutes to 1 day",
        },
        &mut n,
    );
    check(
        p.create_road(create(stream_road("base"))).await,
        Expect { case: "duplicate", code: AlreadyExists, field: None, says: "already exists" },
        &mut n,
    );
    check(
        p.get_road(pb::GetRoadRequest { name: "nowhere".into() }).await,
        Expect {
            case: "unknown road",
            code: NotFound,
            field: None,
            says: "\"nowhere\" does not exist",
        },
        &mut n,
    );
    check(
        p.list_roads(pb::ListRoadsRequest { page_token: "zz".into(), ..Default::default() }).await,
        Expect {
            case: "bad page token",
            code: InvalidArgument,
            field: Some("page_token"),
            says: "not a token this server issued",
        },
        &mut n,
    );

    // Field masks.
    check(
        p.update_road(update(base.clone(), &[])).await,
        Expect {
            case: "empty mask",
            code: InvalidArgument,
            field: Some("update_mask"),
            says: "is required",
        },
        &mut n,
    );
    check(
        p.update_road(update(base.clone(), &["colour"])).await,
        Expect {
            case: "unknown mask path",
            code: InvalidArgument,
            field: Some("update_mask"),
            says: "\"colour\" is not a field of Road",
        },
        &mut n,
    );
    check(
        p.update_road(update(base.clone(), &["status"])).await,
        Expect {
            case: "output-only path",
            code: InvalidArgument,
            field: Some("road.status"),
            says: "is output only",
        },
        &mut n,
    );
    check(
        p.update_road(update(base.clone(), &["name"])).await,
        Expect {
            case: "immutable name",
            code: InvalidArgument,
            field: Some("road.name"),
            says: "is immutable",
        },
        &mut n,
    );
    let shrunk = pb::Road { partitions: 2, ..base.clone() };
    check(
        p.update_road(update(shrunk, &["partitions"])).await,
        Expect {
            case: "shrinking partitions",
            code: InvalidArgument,
            field: Some("road.partitions"),
            says: "can only grow",
        },
        &mut n,
    );
    // The creation's etag: the schema registered since changed the road.
    let stale = pb::Road { etag: "0".into(), description: "late".into(), ..base.clone() };
    check(
        p.update_road(update(stale, &["description"])).await,
        Expect {
            case: "stale etag",
            code: Aborted,
            field: None,
            says: "changed since the etag was read",
        },
        &mut n,
    );
    let garbage = pb::Road { etag: "not-an-etag".into(), ..base.clone() };
    check(
        p.update_road(update(garbage, &["description"])).await,
        Expect {
            case: "garbage etag",
            code: InvalidArgument,
            field: Some("etag"),
            says: "not an etag this server issued",
        },
        &mut n,
    );
    let unresolved = pb::Road { partition_path: "$.missing".into(), ..base.clone() };
    check(
        p.update_road(update(unresolved, &["partition_path"])).await,
        Expect {
            case: "unresolved path",
            code: InvalidArgument,
            field: Some("road.partition_path"),
            says: "does not resolve in schema version 1",
        },
        &mut n,
    );

    // Schemas.
    let not_json =
        pb::RegisterSchemaRequest { road: "base".into(), schema: "{".into(), version: 0 };
    check(
        p.register_schema(not_json).await,
        Expect {
            case: "schema not JSON",
            code: InvalidArgument,
            field: Some("schema"),
            says: "is not JSON",
        },
        &mut n,
    );
    check(
        p.register_schema(schema(
            "base",
            json!({"type": "object", "properties": {"a": {"type": 7}}}),
        ))
        .await,
        Expect {
            case: "schema does not compile",
            code: InvalidArgument,
            field: Some("schema"),
            says: "does not compile",
        },
        &mut n,
    );
    check(
        p.register_schema(schema("base", json!({"type": "array"}))).await,
        Expect {
            case: "non-object root",
            code: InvalidArgument,
            field: Some("schema"),
            says: "/type: the root must describe an object",
        },
        &mut n,
    );
    check(
        p.register_schema(schema(
            "base",
            json!({"type": "object", "properties": {"acquisition_instant": {"type": "string"}}}),
        ))
        .await,
        Expect {
            case: "reserved property",
            code: InvalidArgument,
            field: Some("schema"),
            says: "/properties/acquisition_instant: is reserved",
        },
        &mut n,
    );
    check(p.register_schema(schema("base", json!({"type": "object", "properties": {"n": {"type": "integer", "sensitivity": "PII"}}}))).await, Expect { case: "PII on a non-string", code: InvalidArgument, field: Some("schema"), says: "/properties/n/sensitivity: PII marks a string property" }, &mut n);
    let marked = json!({"type": "object", "properties": {"email": {"type": "string", "sensitivity": "PII"}, "n": {"type": "integer"}}});
    check(
        p.register_schema(schema("base", marked)).await,
        Expect {
            case: "PII added to an existing property",
            code: InvalidArgument,
            field: Some("schema"),
            says: "/properties/email: an existing property cannot become PII",
        },
        &mut n,
    );
    let old_version =
        pb::RegisterSchemaRequest { road: "base".into(), schema: v1.to_string(), version: 1 };
    check(
        p.register_schema(old_version).await,
        Expect {
            case: "version that does not grow",
            code: InvalidArgument,
            field: Some("version"),
            says: "must exceed every earlier version",
        },
        &mut n,
    );
    check(
        p.register_schema(schema("nowhere", v1.clone())).await,
        Expect {
            case: "schema for an unknown road",
            code: NotFound,
            field: None,
            says: "does not exist",
        },
        &mut n,
    );
    check(
        p.get_schema(pb::GetSchemaRequest { road: "base".into(), version: 9 }).await,
        Expect {
            case: "unknown version",
            code: NotFound,
            field: None,
            says: "no schema version 9",
        },
        &mut n,
    );
    check(
        p.get_schema(pb::GetSchemaRequest { road: "table".into(), version: 0 }).await,
        Expect { case: "no schema yet", code: NotFound, field: None, says: "has no schema" },
        &mut n,
    );
    let v2 = json!({"type": "object", "properties": {"email": {"type": "string"}, "n": {"type": "integer"}}, "description": "same documents"});
    p.register_schema(schema("base", v2)).await.expect("v2");
    check(
        p.delete_schema(pb::DeleteSchemaRequest { road: "base".into(), version: 1 }).await,
        Expect {
            case: "deleting a version that is not the latest",
            code: FailedPrecondition,
            field: None,
            says: "only the latest version of road \"base\" (2) can be deleted",
        },
        &mut n,
    );
    let narrowed = json!({"type": "object", "properties": {"email": {"type": "string"}, "n": {"type": "string"}}});
    check(
        p.register_schema(schema("base", narrowed)).await,
        Expect {
            case: "incompatible change",
            code: FailedPrecondition,
            field: None,
            says: "/properties/n/type",
        },
        &mut n,
    );

    assert!(n >= 20, "{n} cases");
    server.shutdown().await;
}
