//! Identities and rights beyond the matrix: PII grants, rights that are
//! taken away from open streams, tokens that expire under a stream, every
//! kind of forged token, refusals that do not tell whether a road exists,
//! files that rotate, and the audit trail.

use std::time::{Duration, Instant};

use roadroller_api::v1 as pb;
use roadroller_api::v1::onramp_service_client::OnrampServiceClient;
use roadroller_api::v1::paver_service_client::PaverServiceClient;
use roadroller_api::v1::subscribe_response::Kind as Got;
use roadroller_tests::security::{Pki, Secured, Tokens};
use roadroller_tests::{
    Authed, Bearer, Subscriber, TestBroker, TestServer, error_reason, eventually, group_start,
    open_road, read_topic, stream_road,
};
use serde_json::json;
use tonic::Code;

const WAIT: Duration = Duration::from_secs(10);

fn grants(list: &[(&str, &[pb::Grant])]) -> pb::OfframpAuthorisation {
    pb::OfframpAuthorisation {
        authorities: list
            .iter()
            .map(|(a, g)| {
                (a.to_string(), pb::Grants { grants: g.iter().map(|g| *g as i32).collect() })
            })
            .collect(),
    }
}

fn record(payload: serde_json::Value) -> pb::Record {
    pb::Record { key: None, payload: Some(payload.to_string()) }
}

/// A secured server (TLS, tokens, certificates) whose own clients are
/// `root`, a server admin.
async fn secured_server(broker: &TestBroker, secured: &Secured) -> TestServer {
    let admin = secured.tokens.token("root", &["platform"]);
    TestServer::start_tls(broker, &secured.pki.ca_pem, |s| secured.apply(s))
        .await
        .with_token(&admin)
}

async fn paver_as(server: &TestServer, token: &str) -> PaverServiceClient<Authed> {
    PaverServiceClient::new(Authed::new(server.channel().await, Bearer::new(token)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pii_needs_its_grant_and_a_reader_who_loses_it_is_cut_off_within_a_second() {
    let broker = TestBroker::start();
    let secured = Secured::new();
    let server = secured_server(&broker, &secured).await;
    let mut road = stream_road("people");
    road.authorisation = Some(pb::Authorisation {
        offramp: Some(grants(&[
            ("analysts", &[pb::Grant::Public]),
            ("support", &[pb::Grant::Public, pb::Grant::Pii]),
        ])),
        ..Default::default()
    });
    let schema = json!({"type": "object", "properties": {
        "name": {"type": "string", "sensitivity": "PII"}, "city": {"type": "string"}}});
    open_road(&server, road, schema).await;
    server.produce_accepted("people", vec![record(json!({"name": "Ada", "city": "London"}))]).await;
    let analyst = Bearer::new(&secured.tokens.token("ann", &["analysts"]));
    let support = Bearer::new(&secured.tokens.token("sam", &["support"]));
    let with_pii = |stream: &str| {
        let mut start = group_start("people", stream, 10);
        start.grants = vec![pb::Grant::Pii as i32];
        start
    };

    let refused = Subscriber::start_as(&server, analyst.clone(), with_pii("a"))
        .await
        .err()
        .expect("PII without the grant is refused");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(
        refused.message().contains("ann") && refused.message().contains("grant PII"),
        "{refused:?}"
    );

    let mut public = Subscriber::start_as(&server, analyst, group_start("people", "a", 10))
        .await
        .expect("PUBLIC is held");
    let seen = public.messages(1, WAIT).await[0].payload.clone().expect("payload");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&seen).expect("json"),
        json!({"name": "", "city": "London"})
    );

    let mut raw = Subscriber::start_as(&server, support, with_pii("s")).await.expect("PII is held");
    let seen = raw.messages(1, WAIT).await[0].payload.clone().expect("payload");
    assert!(seen.contains("Ada"), "{seen}");

    // Support loses PII: its open stream ends, the analyst's goes on.
    let mut change = stream_road("people");
    change.r#type = 0;
    change.authorisation = Some(pb::Authorisation {
        offramp: Some(grants(&[
            ("analysts", &[pb::Grant::Public]),
            ("support", &[pb::Grant::Public]),
        ])),
        ..Default::default()
    });
    let dropped = Instant::now();
    server
        .paver()
        .await
        .update_road(pb::UpdateRoadRequest {
            road: Some(change),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["authorisation.offramp.authorities".into()],
            }),
        })
        .await
        .expect("the road's readers change");
    let ended = loop {
        match raw.next(Duration::from_secs(2)).await {
            Err(status) => break status,
            Ok(Some(Got::Message(m))) => panic!("a message after the grant was dropped: {m:?}"),
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the stream was not ended within 2 s"),
        }
    };
    let within = dropped.elapsed();
    assert_eq!(ended.code(), Code::PermissionDenied, "{ended:?}");
    assert!(ended.message().contains("grant PII"), "{ended:?}");
    assert!(within < Duration::from_secs(1), "ended after {within:?}");
    server.produce_accepted("people", vec![record(json!({"name": "Bo", "city": "Oslo"}))]).await;
    let seen = public.messages(1, WAIT).await[0].payload.clone().expect("payload");
    assert!(seen.contains("Oslo") && !seen.contains("Bo\""), "{seen}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_end_when_their_token_expires() {
    let broker = TestBroker::start();
    let secured = Secured::new();
    let server = secured_server(&broker, &secured).await;
    let mut road = stream_road("ticking");
    road.authorisation = Some(pb::Authorisation {
        onramp: Some(pb::OnrampAuthorisation {
            authorities: vec!["writers".into()],
            cidr_blocks: vec![],
        }),
        offramp: Some(grants(&[("writers", &[pb::Grant::Public])])),
        ..Default::default()
    });
    open_road(&server, road, json!({"type": "object"})).await;
    let short = secured.tokens.token_for("alice", &["writers"], 3);
    let opened = Instant::now();
    let mut subscriber =
        Subscriber::start_as(&server, Bearer::new(&short), group_start("ticking", "t", 10))
            .await
            .expect("subscribe while the token is good");

    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let channel = Authed::new(server.channel().await, Bearer::new(&short));
    let mut answers = OnrampServiceClient::new(channel)
        .produce_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .expect("open the stream")
        .into_inner();
    let batch = pb::ProduceStreamRequest {
        sequence: 1,
        road: "ticking".into(),
        records: vec![record(json!({}))],
    };
    tx.send(batch).await.expect("send");
    let first = answers.message().await.expect("answer").expect("an answer");
    assert!(first.error.is_none(), "{first:?}");

    let ended = loop {
        match subscriber.next(Duration::from_secs(10)).await {
            Err(status) => break status,
            Ok(_) => continue,
        }
    };
    assert_eq!(ended.code(), Code::Unauthenticated, "{ended:?}");
    assert_eq!(error_reason(&ended).as_deref(), Some("TOKEN_EXPIRED"));
    let lived = opened.elapsed();
    assert!(lived >= Duration::from_secs(1) && lived < Duration::from_secs(6), "lived {lived:?}");
    let stream_end = tokio::time::timeout(Duration::from_secs(5), answers.message())
        .await
        .expect("the produce stream ends too");
    let status = stream_end.expect_err("ends with a status");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(error_reason(&status).as_deref(), Some("TOKEN_EXPIRED"));
    drop(tx);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_bad_token_is_refused_with_its_reason() {
    let broker = TestBroker::start();
    let secured = Secured::new();
    let server = secured_server(&broker, &secured).await;
    let t = &secured.tokens;
    let cases = [
        (
            "forged with the published kid",
            format!("Bearer {}", t.forged("root", &["platform"])),
            "BAD_SIGNATURE",
        ),
        (
            "HS256 keyed by the JWKS",
            format!("Bearer {}", t.hmac("root", &["platform"])),
            "ALGORITHM_NOT_ALLOWED",
        ),
        (
            "alg none",
            format!("Bearer {}", t.alg_none("root", &["platform"])),
            "ALGORITHM_NOT_ALLOWED",
        ),
        (
            "another audience",
            format!("Bearer {}", t.wrong_audience("root", &["platform"])),
            "WRONG_AUDIENCE",
        ),
        (
            "an unknown kid",
            format!("Bearer {}", t.unknown_key("root", &["platform"])),
            "UNKNOWN_KEY",
        ),
        ("expired", format!("Bearer {}", t.expired("root", &["platform"])), "TOKEN_EXPIRED"),
        ("three dots of nothing", "Bearer a.b.c".to_string(), "MALFORMED_TOKEN"),
        (
            "Basic without a password file",
            "Basic cm9vdDpwdw==".to_string(),
            "UNSUPPORTED_CREDENTIALS",
        ),
        ("an unknown scheme", "Negotiate abc".to_string(), "UNSUPPORTED_CREDENTIALS"),
    ];
    for (case, authorization, reason) in cases {
        let mut request = tonic::Request::new(pb::ListRoadsRequest::default());
        request.metadata_mut().insert("authorization", authorization.parse().expect("ascii"));
        let status = PaverServiceClient::new(server.channel().await)
            .list_roads(request)
            .await
            .expect_err(case);
        assert_eq!(status.code(), Code::Unauthenticated, "{case}: {status:?}");
        assert_eq!(error_reason(&status).as_deref(), Some(reason), "{case}: {status:?}");
    }
    // The good ones, ES256 and EdDSA, pass.
    for token in [t.token("root", &["platform"]), t.eddsa("root", &["platform"])] {
        paver_as(&server, &token)
            .await
            .list_roads(pb::ListRoadsRequest::default())
            .await
            .expect("good token");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_reads_the_same_whether_or_not_the_road_exists() {
    let broker = TestBroker::start();
    let secured = Secured::new();
    let server = secured_server(&broker, &secured).await;
    open_road(&server, stream_road("real"), json!({"type": "object"})).await;
    let bob = secured.tokens.token("bob", &["nobody"]);
    let channel = Authed::new(server.channel().await, Bearer::new(&bob));
    let mut answers = Vec::new();
    for road in ["real", "ghost"] {
        let produce = OnrampServiceClient::new(channel.clone())
            .produce(pb::ProduceRequest { road: road.into(), records: vec![record(json!({}))] })
            .await
            .expect_err("bob may not produce");
        let update = PaverServiceClient::new(channel.clone())
            .update_road(pb::UpdateRoadRequest {
                road: Some(pb::Road {
                    name: road.into(),
                    description: "x".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask { paths: vec!["description".into()] }),
            })
            .await
            .expect_err("bob may not change it");
        let subscribe = Subscriber::start_as(&server, Bearer::new(&bob), group_start(road, "s", 1))
            .await
            .err()
            .expect("bob may not read it");
        let said: Vec<(Code, String)> = [produce, update, subscribe]
            .iter()
            .map(|s| (s.code(), s.message().replace(road, "ROAD")))
            .collect();
        answers.push(said);
    }
    assert_eq!(answers[0], answers[1]);
    assert!(answers[0].iter().all(|(code, _)| *code == Code::PermissionDenied), "{answers:?}");
    assert!(answers[0][0].1.contains("bob may not produce to road \"ROAD\""), "{answers:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_certificates_rotate_without_a_restart() {
    let broker = TestBroker::start();
    let secured = Secured::new();
    let server = secured_server(&broker, &secured).await;
    let old_token = secured.tokens.token("root", &["platform"]);

    // A new signing key replaces the old one under the same kid.
    let rotated = Tokens::new();
    secured.write("jwks.json", &rotated.jwks());
    let new_token = rotated.token("root", &["platform"]);
    eventually(Duration::from_secs(5), "the new key accepted", || {
        let (server, token) = (&server, new_token.clone());
        async move {
            paver_as(server, &token).await.list_roads(pb::ListRoadsRequest::default()).await.ok()
        }
    })
    .await;
    let status = paver_as(&server, &old_token)
        .await
        .list_roads(pb::ListRoadsRequest::default())
        .await
        .expect_err("the old key is gone");
    assert_eq!(error_reason(&status).as_deref(), Some("BAD_SIGNATURE"), "{status:?}");

    // A certificate from another CA replaces the server's.
    let other = Pki::new();
    let cert = other.server();
    secured.write("server.key", &cert.key);
    secured.write("server.pem", &cert.cert);
    let renewed = TestServer::client_for(&server, &other.ca_pem);
    eventually(Duration::from_secs(5), "the new certificate served", || {
        let renewed = renewed.clone();
        async move { renewed.connect().await.ok() }
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_and_refusals_are_audited_with_their_principal() {
    let broker = TestBroker::start();
    let secured = Secured::new();
    let admin = secured.tokens.token("root", &["platform"]);
    let server = TestServer::start_tls(&broker, &secured.pki.ca_pem, |s| {
        secured.apply(s);
        s.audit_topic = Some("_roadroller_audit".into());
    })
    .await
    .with_token(&admin);
    let mut road = stream_road("audited");
    road.authorisation =
        Some(pb::Authorisation { admins: vec!["writers".into()], ..Default::default() });
    open_road(&server, road, json!({"type": "object"})).await;
    let alice = secured.tokens.token("alice", &["writers"]);
    paver_as(&server, &alice)
        .await
        .update_road(pb::UpdateRoadRequest {
            road: Some(pb::Road {
                name: "audited".into(),
                description: "by alice".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["description".into()] }),
        })
        .await
        .expect("alice administers the road");
    let bob = secured.tokens.token("bob", &["nobody"]);
    paver_as(&server, &bob)
        .await
        .delete_road(pb::DeleteRoadRequest { name: "audited".into(), etag: String::new() })
        .await
        .expect_err("bob may not");

    let events = eventually(WAIT, "audit events on the topic", || {
        let bootstrap = broker.bootstrap();
        async move {
            let events: Vec<serde_json::Value> = read_topic(&bootstrap, "_roadroller_audit")
                .into_iter()
                .filter_map(|r| serde_json::from_slice(&r.value?).ok())
                .collect();
            let wanted = |principal: &str, decision: &str| {
                events.iter().any(|e| e["principal"] == principal && e["decision"] == decision)
            };
            (wanted("alice", "allow") && wanted("bob", "deny")).then_some(events)
        }
    })
    .await;
    let change = events.iter().find(|e| e["principal"] == "alice").expect("alice's change");
    assert_eq!(change["action"], "road.update");
    assert_eq!(change["resource"], "road/audited");
    assert!(change["reason"].as_str().is_some_and(|r| r.contains("description")), "{change}");
    let denial = events.iter().find(|e| e["principal"] == "bob").expect("bob's denial");
    assert_eq!(denial["action"], "road.delete");
    assert!(denial["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{denial}");
    let created = events.iter().find(|e| e["action"] == "road.create").expect("the creation");
    assert_eq!(created["principal"], "root");
    server.shutdown().await;
}
