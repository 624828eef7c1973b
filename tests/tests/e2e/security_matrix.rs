//! Every RPC and every gateway route against every kind of caller, over
//! real TLS: no credentials, broken and forged tokens, a principal without
//! the authority and one with it, client certificates with and without a
//! mapping. Every cell is asserted; the counts are printed.

use std::time::Duration;

use roadroller_api::v1 as pb;
use roadroller_api::v1::offramp_service_client::OfframpServiceClient;
use roadroller_api::v1::onramp_service_client::OnrampServiceClient;
use roadroller_api::v1::paver_service_client::PaverServiceClient;
use roadroller_api::v1::stream_service_client::StreamServiceClient;
use roadroller_tests::https::TlsClient;
use roadroller_tests::security::{Pem, Secured};
use roadroller_tests::{
    Authed, Bearer, TestBroker, TestServer, error_reason, open_road, stream_road,
};
use serde_json::json;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// The kinds of caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Nobody,
    Malformed,
    Expired,
    UnknownKey,
    AlgNone,
    /// A good token for a principal with no rights on the road.
    Without,
    /// A good token for a principal holding the authority the call needs.
    With,
    CertUnmapped,
    CertMapped,
}

const EVERYONE: [Who; 9] = [
    Who::Nobody,
    Who::Malformed,
    Who::Expired,
    Who::UnknownKey,
    Who::AlgNone,
    Who::Without,
    Who::With,
    Who::CertUnmapped,
    Who::CertMapped,
];

/// What a cell must answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Unauthenticated(&'static str),
    Denied,
    /// Past authorisation, the call's own answer.
    Answer(Code),
}

/// The calls, by what they need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    Nothing,
    Read,
    Admin,
    RoadAdmin,
    Produce,
    Subscribe,
}

struct World {
    secured: Secured,
    server: TestServer,
    mapped: Pem,
    unmapped: Pem,
}

impl World {
    fn token(&self, who: Who, need: Need) -> Option<String> {
        let t = &self.secured.tokens;
        match who {
            Who::Nobody | Who::CertUnmapped | Who::CertMapped => None,
            Who::Malformed => Some("not-a-token".into()),
            Who::Expired => Some(t.expired("alice", &["writers"])),
            Who::UnknownKey => Some(t.unknown_key("alice", &["writers"])),
            Who::AlgNone => Some(t.alg_none("root", &["platform"])),
            Who::Without => Some(t.token("bob", &["nobody"])),
            // Creating roads is for server admins; the rest is the road's.
            Who::With if need == Need::Admin => Some(t.eddsa("root", &["platform"])),
            Who::With => Some(t.token("alice", &["writers"])),
        }
    }

    fn cert(&self, who: Who) -> Option<&Pem> {
        match who {
            Who::CertMapped => Some(&self.mapped),
            Who::CertUnmapped => Some(&self.unmapped),
            _ => None,
        }
    }

    async fn channel(&self, who: Who, need: Need) -> Authed {
        let channel = match self.cert(who) {
            Some(pem) => self.server.channel_as(pem).await,
            None => self.server.channel().await,
        };
        let bearer = self.token(who, need).map(|t| Bearer::new(&t)).unwrap_or_default();
        Authed::new(channel, bearer)
    }
}

fn expect(who: Who, need: Need, allowed: Code) -> Expect {
    if need == Need::Nothing {
        return Expect::Answer(allowed);
    }
    match who {
        Who::Nobody => Expect::Unauthenticated("NO_CREDENTIALS"),
        Who::Malformed => Expect::Unauthenticated("MALFORMED_TOKEN"),
        Who::Expired => Expect::Unauthenticated("TOKEN_EXPIRED"),
        Who::UnknownKey => Expect::Unauthenticated("UNKNOWN_KEY"),
        Who::AlgNone => Expect::Unauthenticated("ALGORITHM_NOT_ALLOWED"),
        // Any authenticated principal reads.
        Who::Without | Who::CertUnmapped if need == Need::Read => Expect::Answer(allowed),
        Who::Without | Who::CertUnmapped => Expect::Denied,
        Who::With => Expect::Answer(allowed),
        // The mapping gives `writers`: the road's rights, not the server's.
        Who::CertMapped if need == Need::Admin => Expect::Denied,
        Who::CertMapped => Expect::Answer(allowed),
    }
}

/// What a call answered: its code, and the ErrorInfo reason if any.
type Got = (Code, Option<String>);

fn got<T>(result: Result<T, tonic::Status>) -> Got {
    match result {
        Ok(_) => (Code::Ok, None),
        Err(s) => (s.code(), error_reason(&s)),
    }
}

fn matches(expect: Expect, got: &Got) -> bool {
    match expect {
        Expect::Unauthenticated(reason) => {
            got.0 == Code::Unauthenticated && got.1.as_deref() == Some(reason)
        }
        Expect::Denied => {
            got.0 == Code::PermissionDenied
                && got.1.as_deref().is_none_or(|r| r == "PERMISSION_DENIED")
        }
        Expect::Answer(code) => got.0 == code,
    }
}

const RPCS: [(&str, Need, Code); 17] = [
    ("grpc.health.v1.Health/Check", Need::Nothing, Code::Ok),
    ("PaverService/CreateRoad", Need::Admin, Code::Ok),
    ("PaverService/GetRoad", Need::Read, Code::Ok),
    ("PaverService/ListRoads", Need::Read, Code::Ok),
    ("PaverService/UpdateRoad", Need::RoadAdmin, Code::Ok),
    // Allowed, then refused by the road's state: it is enabled.
    ("PaverService/DeleteRoad", Need::RoadAdmin, Code::FailedPrecondition),
    ("PaverService/RegisterSchema", Need::RoadAdmin, Code::Ok),
    ("PaverService/GetSchema", Need::Read, Code::Ok),
    ("PaverService/ListSchemas", Need::Read, Code::Ok),
    // Allowed, then there is no such version.
    ("PaverService/DeleteSchema", Need::RoadAdmin, Code::NotFound),
    ("OnrampService/Produce", Need::Produce, Code::Ok),
    ("OnrampService/ProduceStream", Need::Produce, Code::Ok),
    ("OfframpService/Subscribe", Need::Subscribe, Code::Ok),
    ("StreamService/ListStreams", Need::Read, Code::Ok),
    // Allowed, then there is no such stream.
    ("StreamService/GetStream", Need::Read, Code::NotFound),
    ("StreamService/ResetStream", Need::RoadAdmin, Code::Ok),
    ("StreamService/DeleteStream", Need::RoadAdmin, Code::NotFound),
];

const SCHEMA: &str = r#"{"type":"object","properties":{"id":{"type":"integer"}}}"#;

async fn call(world: &World, rpc: &str, need: Need, who: Who, n: usize) -> Got {
    let channel = world.channel(who, need).await;
    let mut paver = PaverServiceClient::new(channel.clone());
    let road = || "guarded".to_string();
    match rpc {
        "grpc.health.v1.Health/Check" => {
            let mut health = HealthClient::new(channel);
            got(health.check(HealthCheckRequest { service: String::new() }).await)
        }
        "PaverService/CreateRoad" => {
            let road = stream_road(&format!("made_{n}"));
            got(paver.create_road(pb::CreateRoadRequest { road: Some(road) }).await)
        }
        "PaverService/GetRoad" => got(paver.get_road(pb::GetRoadRequest { name: road() }).await),
        "PaverService/ListRoads" => got(paver.list_roads(pb::ListRoadsRequest::default()).await),
        "PaverService/UpdateRoad" => {
            let change = pb::Road {
                name: road(),
                description: format!("changed by cell {n}"),
                ..Default::default()
            };
            got(paver
                .update_road(pb::UpdateRoadRequest {
                    road: Some(change),
                    update_mask: Some(prost_types::FieldMask { paths: vec!["description".into()] }),
                })
                .await)
        }
        "PaverService/DeleteRoad" => got(paver
            .delete_road(pb::DeleteRoadRequest { name: road(), etag: String::new() })
            .await),
        "PaverService/RegisterSchema" => got(paver
            .register_schema(pb::RegisterSchemaRequest {
                road: road(),
                schema: SCHEMA.into(),
                version: 0,
            })
            .await),
        "PaverService/GetSchema" => {
            got(paver.get_schema(pb::GetSchemaRequest { road: road(), version: 0 }).await)
        }
        "PaverService/ListSchemas" => got(paver
            .list_schemas(pb::ListSchemasRequest { road: road(), include_deleted: false })
            .await),
        "PaverService/DeleteSchema" => {
            got(paver.delete_schema(pb::DeleteSchemaRequest { road: road(), version: 999 }).await)
        }
        "OnrampService/Produce" => {
            let records = vec![pb::Record { key: None, payload: Some(r#"{"id":1}"#.into()) }];
            let answer = OnrampServiceClient::new(channel)
                .produce(pb::ProduceRequest { road: road(), records })
                .await;
            if let Ok(answer) = &answer {
                let results = &answer.get_ref().results;
                assert!(
                    matches!(results[0].result, Some(pb::record_result::Result::Accepted(_))),
                    "{results:?}"
                );
            }
            got(answer)
        }
        "OnrampService/ProduceStream" => {
            let batch = pb::ProduceStreamRequest {
                sequence: 1,
                road: road(),
                records: vec![pb::Record { key: None, payload: Some(r#"{"id":2}"#.into()) }],
            };
            let (tx, rx) = tokio::sync::mpsc::channel(1);
            tx.send(batch).await.expect("queued");
            let mut client = OnrampServiceClient::new(channel);
            let mut answers = match client
                .produce_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await
            {
                Ok(answers) => answers.into_inner(),
                Err(s) => return got::<()>(Err(s)),
            };
            match answers.message().await {
                Ok(Some(answer)) => match answer.error {
                    // A refused batch: the code is the batch's.
                    Some(e) => (Code::from_i32(e.code), None),
                    None => (Code::Ok, None),
                },
                Ok(None) => (Code::Unknown, Some("the stream ended unanswered".into())),
                Err(s) => got::<()>(Err(s)),
            }
        }
        "OfframpService/Subscribe" => {
            let mut start = roadroller_tests::group_start("guarded", &format!("cell{n}"), 0);
            start.grants = vec![pb::Grant::Pii as i32];
            let start =
                pb::SubscribeRequest { kind: Some(pb::subscribe_request::Kind::Start(start)) };
            let (tx, rx) = tokio::sync::mpsc::channel(1);
            tx.send(start).await.expect("queued");
            let mut client = OfframpServiceClient::new(channel);
            let outcome = client.subscribe(tokio_stream::wrappers::ReceiverStream::new(rx)).await;
            let mut events = match outcome {
                Ok(events) => events.into_inner(),
                Err(s) => return got::<()>(Err(s)),
            };
            match events.message().await {
                Ok(Some(pb::SubscribeResponse {
                    kind: Some(pb::subscribe_response::Kind::Connection(_)),
                })) => (Code::Ok, None),
                Ok(other) => (Code::Unknown, Some(format!("{other:?}"))),
                Err(s) => got::<()>(Err(s)),
            }
        }
        "StreamService/ListStreams" => got(StreamServiceClient::new(channel)
            .list_streams(pb::ListStreamsRequest { road: road() })
            .await),
        "StreamService/GetStream" => got(StreamServiceClient::new(channel)
            .get_stream(pb::GetStreamRequest { road: road(), stream: "never".into() })
            .await),
        "StreamService/ResetStream" => {
            let to = pb::StreamPosition {
                to: Some(pb::stream_position::To::Boundary(pb::ResetBoundary::Latest as i32)),
            };
            got(StreamServiceClient::new(channel)
                .reset_stream(pb::ResetStreamRequest {
                    road: road(),
                    stream: format!("reset{n}"),
                    to: Some(to),
                })
                .await)
        }
        "StreamService/DeleteStream" => got(StreamServiceClient::new(channel)
            .delete_stream(pb::DeleteStreamRequest { road: road(), stream: "never".into() })
            .await),
        other => panic!("no such RPC {other}"),
    }
}

/// The gateway's routes, by what they need, with the status an allowed
/// caller gets.
const ROUTES: [(&str, &str, Need, u16); 20] = [
    ("POST", "/onramp/v1/roads/guarded/messages", Need::Produce, 200),
    ("GET", "/paver/v1/roads", Need::Read, 200),
    ("POST", "/paver/v1/roads", Need::Admin, 200),
    ("GET", "/paver/v1/roads/guarded", Need::Read, 200),
    ("PUT", "/paver/v1/roads/guarded", Need::RoadAdmin, 200),
    ("PATCH", "/paver/v1/roads/guarded", Need::RoadAdmin, 200),
    // Allowed, then refused: the road is enabled.
    ("DELETE", "/paver/v1/roads/guarded", Need::RoadAdmin, 400),
    ("GET", "/paver/v1/roads/guarded/schemas", Need::Read, 200),
    ("POST", "/paver/v1/roads/guarded/schemas", Need::RoadAdmin, 200),
    ("GET", "/paver/v1/roads/guarded/schemas/1", Need::Read, 200),
    // Allowed, then refused: versions only grow.
    ("POST", "/paver/v1/roads/guarded/schemas/1", Need::RoadAdmin, 400),
    // Allowed, then there is no such version.
    ("DELETE", "/paver/v1/roads/guarded/schemas/999", Need::RoadAdmin, 404),
    ("GET", "/paver/v1/roads/guarded/destinations/hive", Need::Read, 200),
    ("POST", "/paver/v1/roads/guarded/destinations/hive", Need::RoadAdmin, 200),
    ("PUT", "/paver/v1/roads/guarded/destinations/hive", Need::RoadAdmin, 200),
    ("DELETE", "/paver/v1/roads/guarded/destinations/hive", Need::RoadAdmin, 200),
    ("GET", "/offramp/v2/roads/guarded/streams/web/messages?grants=PII", Need::Subscribe, 101),
    // Allowed, then there is no such stream.
    ("GET", "/offramp/v2/roads/guarded/streams/never/lag", Need::Read, 404),
    ("GET", "/no/such/route", Need::Nothing, 404),
    ("GET", "/paver/v1/roads/ghost", Need::Read, 404),
];

fn http_expect(expect: Expect) -> u16 {
    match expect {
        Expect::Unauthenticated(_) => 401,
        Expect::Denied => 403,
        Expect::Answer(code) => match code {
            Code::Ok => 200,
            other => panic!("no HTTP status for {other:?}"),
        },
    }
}

async fn route(
    world: &World,
    tls: &TlsClient,
    method: &str,
    path: &str,
    need: Need,
    who: Who,
    n: usize,
) -> u16 {
    let authorization = world.token(who, need).map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = vec![("content-type", "application/json")];
    if let Some(a) = &authorization {
        headers.push(("authorization", a));
    }
    let body = match (method, path) {
        ("POST", "/onramp/v1/roads/guarded/messages") => r#"[{"id": 7}]"#.to_string(),
        ("POST", "/paver/v1/roads") => {
            json!({"name": format!("made_http_{n}"), "description": "d", "teamName": "t",
                   "contactEmail": "t@example.com"})
            .to_string()
        }
        ("PUT" | "PATCH", "/paver/v1/roads/guarded") => {
            headers[0] = ("content-type", "application/json-patch+json");
            json!([{"op": "replace", "path": "/description", "value": format!("http {n}")}])
                .to_string()
        }
        ("POST", p) if p.contains("/schemas") => SCHEMA.to_string(),
        ("POST" | "PUT", p) if p.ends_with("/hive") => {
            json!({"enabled": true, "landingInterval": "PT1H"}).to_string()
        }
        _ => String::new(),
    };
    if path.starts_with("/offramp/") {
        headers.extend([
            ("connection", "upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "13"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ]);
    }
    let tls = match world.cert(who) {
        Some(pem) => TlsClient::new(&world.secured.pki.ca_pem, Some(pem)),
        None => tls.clone(),
    };
    let response = tls
        .request(world.server.gateway_addr(), method, path, &headers, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {path} as {who:?}: {e}"));
    if response.status == 401 {
        assert!(response.headers.contains_key("www-authenticate"), "{method} {path}: no challenge");
    }
    response.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_and_route_answers_each_kind_of_caller_as_it_should() {
    let broker = TestBroker::start();
    let secured = Secured::new();
    let mapped = secured.pki.client(Some("spiffe://test/ns/shop/sa/writer"), "writer");
    let unmapped = secured.pki.client(None, "stranger");
    let admin = secured.tokens.token("root", &["platform"]);
    let server = TestServer::start_tls(&broker, &secured.pki.ca_pem, |s| secured.apply(s))
        .await
        .with_token(&admin);
    let mut road = stream_road("guarded");
    road.authorisation = Some(pb::Authorisation {
        admins: vec!["writers".into()],
        onramp: Some(pb::OnrampAuthorisation {
            authorities: vec!["writers".into()],
            cidr_blocks: vec![],
        }),
        offramp: Some(pb::OfframpAuthorisation {
            authorities: [(
                "writers".to_string(),
                pb::Grants { grants: vec![pb::Grant::Public as i32, pb::Grant::Pii as i32] },
            )]
            .into(),
        }),
    });
    open_road(&server, road, serde_json::from_str(SCHEMA).expect("schema")).await;
    let world = World { secured, server, mapped, unmapped };

    let mut cells = 0;
    let mut wrong = Vec::new();
    for (rpc, need, allowed) in RPCS {
        for who in EVERYONE {
            cells += 1;
            let want = expect(who, need, allowed);
            let answer = call(&world, rpc, need, who, cells).await;
            if !matches(want, &answer) {
                wrong.push(format!("{rpc} as {who:?}: want {want:?}, got {answer:?}"));
            }
        }
    }
    let grpc_cells = cells;
    let tls = TlsClient::new(&world.secured.pki.ca_pem, None);
    for (method, path, need, allowed) in ROUTES {
        for who in EVERYONE {
            cells += 1;
            let want = match (expect(who, need, Code::Ok), need) {
                (_, Need::Nothing) => allowed,
                (Expect::Answer(Code::Ok), _) => allowed,
                (other, _) => http_expect(other),
            };
            let status = route(&world, &tls, method, path, need, who, cells).await;
            if status != want {
                wrong.push(format!("{method} {path} as {who:?}: want {want}, got {status}"));
            }
        }
    }
    println!(
        "security matrix: {grpc_cells} gRPC cells and {} HTTP cells, {} wrong",
        cells - grpc_cells,
        wrong.len()
    );
    assert!(wrong.is_empty(), "{} of {cells} cells wrong:\n{}", wrong.len(), wrong.join("\n"));
    tokio::time::sleep(Duration::from_millis(10)).await;
    world.server.shutdown().await;
}
