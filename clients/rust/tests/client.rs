//! The Rust client against a live server.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use roadroller_client::{Client, Event, Outcome, Record, SubscribeOptions, pb};
use roadroller_tests::{TestServer, compacted_road};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

async fn client(server: &TestServer) -> Client {
    Client::connect(server.endpoint()).await.expect("connect")
}

/// A COMPACTED road with a schema, enabled, through the client alone.
async fn table(client: &Client, name: &str) {
    client.create_road(compacted_road(name, Duration::from_secs(3600))).await.expect("create");
    let schema =
        json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}});
    client.register_schema(name, &schema.to_string(), None).await.expect("schema");
    client.enable_when_ready(name, WAIT).await.expect("enable");
}

async fn next_event(sub: &mut roadroller_client::Subscription) -> Event {
    tokio::time::timeout(WAIT, sub.next())
        .await
        .expect("an event in time")
        .expect("open")
        .expect("ok")
}

async fn next_message(sub: &mut roadroller_client::Subscription) -> roadroller_client::Message {
    loop {
        if let Event::Message(m) = next_event(sub).await {
            return m;
        }
    }
}

#[tokio::test]
async fn roads_schemas_keyed_records_and_deletes() {
    let server = TestServer::start().await;
    let client = client(&server).await;
    table(&client, "people").await;
    let road = client.get_road("people").await.expect("get");
    assert!(road.enabled);
    assert_eq!(road.latest_schema_version, 1);
    assert_eq!(client.list_roads(Some(pb::RoadType::Compacted)).await.expect("list").len(), 1);

    let outcomes = client
        .produce(
            "people",
            [
                Record::keyed("1", &json!({"name": "Ada"})),
                Record::keyed("2", &json!({"name": 7})),
                Record::delete("1"),
            ],
        )
        .await
        .expect("produce");
    assert!(outcomes[0].is_accepted());
    match &outcomes[1] {
        Outcome::Rejected { code, violations, .. } => {
            assert_eq!(*code, tonic::Code::InvalidArgument);
            assert_eq!(violations[0].pointer, "/name");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(outcomes[2].is_accepted(), "a delete is accepted");

    let err = client.produce("nowhere", [Record::delete("x")]).await.expect_err("unknown road");
    assert!(err.is_not_found());
    assert_eq!(err.reason().as_deref(), Some("ROAD_NOT_FOUND"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_group_subscription_commits_and_resumes() {
    let server = TestServer::start().await;
    let client = client(&server).await;
    table(&client, "orders").await;
    let records: Vec<_> = (0..10)
        .map(|i| Record::keyed(format!("k{i}"), &json!({"name": format!("n{i}")})))
        .collect();
    client.produce("orders", records).await.expect("produce");

    let mut sub = client
        .subscribe(SubscribeOptions {
            window: 4,
            ..SubscribeOptions::group_from_earliest("orders", "billing")
        })
        .await
        .expect("subscribe");
    let control = sub.control();
    let mut seen = Vec::new();
    while seen.len() < 10 {
        let m = next_message(&mut sub).await;
        seen.push((m.partition, m.offset));
        control.commit_message(&m).await.expect("commit");
    }
    drop(sub);

    // Everything was committed: a new subscriber on the stream sees only
    // what comes next.
    client
        .produce("orders", [Record::keyed("late", &json!({"name": "late"}))])
        .await
        .expect("produce");
    // From the earliest record where the stream committed nothing: "late"
    // may land on a partition the first reader never saw.
    let mut again = client
        .subscribe(SubscribeOptions::group_from_earliest("orders", "billing"))
        .await
        .expect("resubscribe");
    let m = next_message(&mut again).await;
    assert_eq!(m.key.as_deref(), Some("late"));

    let refused = again.control().commit(BTreeMap::from([(99, 1)])).await.expect_err("not held");
    assert!(refused.to_string().contains("partition 99 is not assigned"), "{refused}");
    server.shutdown().await;
}

#[tokio::test]
async fn snapshot_then_follow_shows_the_boundary() {
    let server = TestServer::start().await;
    let client = client(&server).await;
    table(&client, "catalog").await;
    client
        .produce(
            "catalog",
            [
                Record::keyed("a", &json!({"name": "one"})),
                Record::keyed("b", &json!({"name": "two"})),
                Record::keyed("a", &json!({"name": "three"})),
                Record::delete("b"),
            ],
        )
        .await
        .expect("produce");

    let mut sub = client.subscribe(SubscribeOptions::snapshot("catalog")).await.expect("snapshot");
    let mut state = Vec::new();
    loop {
        match next_event(&mut sub).await {
            Event::Message(m) => {
                state.push((m.key.clone().expect("key"), m.json().expect("payload").expect("json")))
            }
            Event::SnapshotComplete(_) => break,
            _ => {}
        }
    }
    assert_eq!(
        state,
        [("a".to_string(), json!({"name": "three"}))],
        "only live keys, at their latest value"
    );

    client
        .produce("catalog", [Record::keyed("c", &json!({"name": "four"}))])
        .await
        .expect("produce");
    let live = next_message(&mut sub).await;
    assert_eq!(live.key.as_deref(), Some("c"));
    server.shutdown().await;
}

#[tokio::test]
async fn the_streaming_producer_answers_every_batch_in_order() {
    let server = TestServer::start().await;
    let client = client(&server).await;
    table(&client, "stream_in").await;
    let mut producer = client.producer(4).await.expect("producer");
    let mut pending = Vec::new();
    for batch in 0..50 {
        let records: Vec<_> =
            (0..20).map(|i| Record::keyed(format!("{batch}-{i}"), &json!({"name": "x"}))).collect();
        pending.push(producer.send("stream_in", records).await.expect("send"));
    }
    let mut accepted = 0;
    for answer in pending {
        accepted +=
            answer.outcomes().await.expect("outcomes").iter().filter(|o| o.is_accepted()).count();
    }
    assert_eq!(accepted, 1000);

    let missing =
        producer.send("nowhere", [Record::delete("x")]).await.expect("send").outcomes().await;
    assert!(missing.expect_err("unknown road").is_not_found());
    server.shutdown().await;
}

#[tokio::test]
async fn subscribing_to_an_unknown_road_fails_at_once() {
    let server = TestServer::start().await;
    let client = client(&server).await;
    let err =
        client.subscribe(SubscribeOptions::group("nowhere", "s")).await.err().expect("refused");
    assert!(err.is_not_found());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secured_server_is_reached_with_a_ca_a_client_certificate_and_a_token() {
    use roadroller_client::ConnectOptions;
    use roadroller_tests::security::Secured;
    let broker = roadroller_tests::TestBroker::start();
    let secured = Secured::new();
    let own = secured.pki.client(None, "rust-client");
    let server = TestServer::start_mtls(&broker, &secured.pki.ca_pem, &own, |s| {
        secured.apply(s);
        s.tls.as_mut().expect("tls").require_client_cert = true;
    })
    .await;
    let options = || {
        ConnectOptions::default()
            .with_ca_pem(&secured.pki.ca_pem)
            .with_client_cert_pem(&own.cert, &own.key)
    };
    // The certificate alone names a principal without authorities: it may
    // read, not create.
    let cert_only = Client::connect_with(server.endpoint(), options()).await.expect("connect");
    cert_only.list_roads(None).await.expect("a certificate is an identity");
    let refused = cert_only
        .create_road(compacted_road("not_mine", Duration::from_secs(3600)))
        .await
        .expect_err("no rights to create");
    assert_eq!(refused.code(), Some(tonic::Code::PermissionDenied));
    assert!(refused.to_string().contains("rust-client may not create road"), "{refused}");
    let admin = secured.tokens.token("root", &["platform"]);
    let client =
        Client::connect_with(server.endpoint(), options().with_token(&admin).expect("token"))
            .await
            .expect("connect");
    table(&client, "secure_people").await;
    client
        .produce("secure_people", [Record::keyed("1", &json!({"name": "Ada"}))])
        .await
        .expect("produce");
    // Streams carry the token too.
    let mut sub =
        client.subscribe(SubscribeOptions::snapshot("secure_people")).await.expect("subscribe");
    assert_eq!(next_message(&mut sub).await.key.as_deref(), Some("1"));
    let bad = Client::connect_with(
        server.endpoint(),
        options().with_token("not a token").expect("ascii"),
    )
    .await
    .expect("connect");
    let e = bad.list_roads(None).await.expect_err("a bad token");
    assert_eq!(e.code(), Some(tonic::Code::Unauthenticated));
    assert_eq!(e.reason().as_deref(), Some("MALFORMED_TOKEN"));
    server.shutdown().await;
}
