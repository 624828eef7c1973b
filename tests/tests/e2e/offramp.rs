//! Offramp GROUP mode: credit, commits, resumption, rebalances, seeks, PII
//! and errors, over real gRPC against a real broker.

use std::collections::BTreeSet;
use std::time::Duration;

use roadroller_api::v1 as pb;
use roadroller_api::v1::subscribe_request::Kind as Ask;
use roadroller_api::v1::subscribe_response::Kind as Got;
use roadroller_tests::{
    Subscriber, TestBroker, TestServer, group_start, open_road, snapshot_start, stream_road,
};
use serde_json::json;
use tonic::Code;

const SECOND: Duration = Duration::from_secs(1);
const WAIT: Duration = Duration::from_secs(20);

async fn produce(
    server: &TestServer,
    road: &str,
    payloads: impl IntoIterator<Item = serde_json::Value>,
) {
    let records = payloads
        .into_iter()
        .map(|p| pb::Record { key: None, payload: Some(p.to_string()) })
        .collect();
    server.produce_accepted(road, records).await;
}

fn n_of(m: &pb::RoadMessage) -> i64 {
    serde_json::from_str::<serde_json::Value>(m.payload.as_deref().expect("payload")).expect("json")
        ["n"]
        .as_i64()
        .expect("n")
}

/// A one-partition road, so order is total and offsets are positions.
fn single(name: &str) -> pb::Road {
    pb::Road { partitions: 1, ..stream_road(name) }
}

fn numbered() -> serde_json::Value {
    json!({"type": "object", "properties": {"n": {"type": "integer"}}})
}

#[tokio::test]
async fn credit_bounds_delivery_exactly() {
    let server = TestServer::start().await;
    open_road(&server, single("credited"), numbered()).await;
    produce(&server, "credited", (0..20).map(|n| json!({"n": n}))).await;

    let mut sub =
        Subscriber::start(&server, group_start("credited", "reader", 0)).await.expect("subscribe");
    sub.no_message_for(SECOND).await;
    sub.request(5).await;
    let first = sub.messages(5, WAIT).await;
    assert_eq!(first.iter().map(n_of).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    sub.no_message_for(SECOND).await;
    sub.request(3).await;
    let next = sub.messages(3, WAIT).await;
    assert_eq!(next.iter().map(n_of).collect::<Vec<_>>(), [5, 6, 7], "the next ones, none skipped");
    sub.no_message_for(SECOND).await;

    sub.request(100).await;
    let _ = sub.messages(2, WAIT).await;
    sub.ask(Ask::Cancel(pb::CancelMessages {})).await;
    // Whatever was in flight before the cancel may still arrive; then
    // nothing until more credit.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok(Some(_)) = sub.next(Duration::from_millis(100)).await {}
    sub.no_message_for(SECOND).await;

    sub.request(-4).await;
    let reason = sub
        .wait_for(WAIT, |g| match g {
            Got::Error(e) => Some(e.reason.clone()),
            _ => None,
        })
        .await;
    assert_eq!(reason, "Requested count cannot be negative value (given -4)");
    sub.no_message_for(Duration::from_millis(300)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn batched_messages_are_the_same_records_in_order_under_the_same_credit() {
    let server = TestServer::start().await;
    open_road(&server, single("packed"), numbered()).await;
    produce(&server, "packed", (0..300).map(|n| json!({"n": n}))).await;
    let key = |m: &pb::RoadMessage| (m.partition, m.offset, m.payload.clone());

    let mut plain =
        Subscriber::start(&server, group_start("packed", "plain", 300)).await.expect("plain");
    let expected: Vec<_> = plain.messages(300, WAIT).await.iter().map(key).collect();
    assert!(plain.runs.is_empty(), "no `messages` unless asked for");

    let start = pb::StartSubscription { batch_messages: true, ..group_start("packed", "runs", 0) };
    let mut packed = Subscriber::start(&server, start).await.expect("packed");
    packed.no_message_for(SECOND).await;
    packed.request(120).await;
    let mut got: Vec<_> = packed.messages(120, WAIT).await.iter().map(key).collect();
    packed.no_message_for(SECOND).await;
    packed.request(180).await;
    got.extend(packed.messages(180, WAIT).await.iter().map(key));
    packed.no_message_for(SECOND).await;
    assert_eq!(got, expected, "the same records in the same order");
    let in_runs: usize = packed.runs.iter().map(|(n, _)| n).sum();
    assert_eq!(in_runs, 300, "every record came in a `messages` answer");
    assert!(packed.runs.len() < 300 / 2, "records share answers: {:?}", packed.runs);
    server.shutdown().await;
}

#[tokio::test]
async fn a_batch_of_large_records_is_split_near_a_mebibyte() {
    let server = TestServer::start().await;
    open_road(&server, single("large"), numbered()).await;
    let pad = "x".repeat(300_000);
    produce(&server, "large", (0..8).map(|n| json!({"n": n, "pad": pad}))).await;
    let start = pb::StartSubscription { batch_messages: true, ..group_start("large", "r", 8) };
    let mut sub = Subscriber::start(&server, start).await.expect("subscribe");
    let got = sub.messages(8, WAIT).await;
    assert_eq!(got.iter().map(n_of).collect::<Vec<_>>(), (0..8).collect::<Vec<_>>());
    for &(records, bytes) in &sub.runs {
        assert!(records == 1 || bytes <= 1 << 20, "a run of {records} holds {bytes} bytes");
    }
    assert!(sub.runs.len() >= 3, "2.4 MB in answers of about 1 MiB: {:?}", sub.runs);
    server.shutdown().await;
}

#[tokio::test]
async fn a_reconnecting_subscriber_resumes_after_its_commit() {
    let server = TestServer::start().await;
    open_road(&server, single("resumable"), numbered()).await;
    produce(&server, "resumable", (0..10).map(|n| json!({"n": n}))).await;

    let mut sub =
        Subscriber::start(&server, group_start("resumable", "worker", 6)).await.expect("subscribe");
    let got = sub.messages(6, WAIT).await;
    assert_eq!(got.iter().map(n_of).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
    // Processed 0..=3; 4 and 5 were delivered but not committed.
    sub.commit("c1", &[(0, got[3].offset + 1)]).await;
    let response = sub
        .wait_for(WAIT, |g| match g {
            Got::CommitResponse(r) => Some(r.clone()),
            _ => None,
        })
        .await;
    assert_eq!((response.correlation_id.as_str(), response.success), ("c1", true), "{response:?}");
    drop(sub);

    let mut again = Subscriber::start(&server, group_start("resumable", "worker", 100))
        .await
        .expect("resubscribe");
    let got = again.messages(6, WAIT).await;
    assert_eq!(
        got.iter().map(n_of).collect::<Vec<_>>(),
        [4, 5, 6, 7, 8, 9],
        "redelivered from the commit, no gap"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_commit_for_a_partition_not_held_fails() {
    let server = TestServer::start().await;
    open_road(&server, single("narrow"), numbered()).await;
    produce(&server, "narrow", [json!({"n": 1})]).await;
    let mut sub =
        Subscriber::start(&server, group_start("narrow", "s", 1)).await.expect("subscribe");
    sub.messages(1, WAIT).await;
    sub.commit("bad", &[(7, 1)]).await;
    let response = sub
        .wait_for(WAIT, |g| match g {
            Got::CommitResponse(r) => Some(r.clone()),
            _ => None,
        })
        .await;
    assert!(!response.success);
    assert_eq!(response.error, "partition 7 is not assigned to this subscriber");
    server.shutdown().await;
}

fn assignment(g: &Got) -> Option<Vec<i32>> {
    match g {
        Got::Rebalance(r) => Some(r.partitions.clone()),
        _ => None,
    }
}

#[tokio::test]
async fn subscribers_of_a_stream_share_and_take_over_partitions() {
    let server = TestServer::start().await;
    open_road(&server, stream_road("shared"), numbered()).await;
    let mut one = Subscriber::start(&server, group_start("shared", "team", 0)).await.expect("one");
    let alone = one.wait_for(WAIT, assignment).await;
    assert_eq!(alone, (0..6).collect::<Vec<_>>(), "a lone subscriber holds every partition");

    let mut two = Subscriber::start(&server, group_start("shared", "team", 0)).await.expect("two");
    let theirs: BTreeSet<i32> = two.wait_for(WAIT, assignment).await.into_iter().collect();
    let mine: BTreeSet<i32> = loop {
        let p: BTreeSet<i32> = one.wait_for(WAIT, assignment).await.into_iter().collect();
        if p.len() < 6 {
            break p;
        }
    };
    assert!(mine.is_disjoint(&theirs), "{mine:?} / {theirs:?}");
    assert_eq!(mine.union(&theirs).copied().collect::<Vec<_>>(), (0..6).collect::<Vec<_>>());
    assert!(!mine.is_empty() && !theirs.is_empty());

    // The second subscriber goes away: its consumer leaves the group and
    // the first holds everything again, well within a session timeout.
    drop(two);
    let started = std::time::Instant::now();
    let back = one.wait_for(WAIT, |g| assignment(g).filter(|p| p.len() == 6)).await;
    assert_eq!(back, (0..6).collect::<Vec<_>>());
    assert!(started.elapsed() < Duration::from_secs(9), "took {:?}", started.elapsed());
    server.shutdown().await;
}

#[tokio::test]
async fn without_credit_a_subscriber_stays_in_its_group_past_the_poll_interval() {
    let broker = TestBroker::start();
    let server = TestServer::start_on(&broker, |s| {
        // Kafka's smallest session timeout is 6 s; the poll interval may not
        // be shorter.
        s.offramp.max_poll_interval = Duration::from_secs(6);
        s.offramp.session_timeout = Duration::from_secs(6);
    })
    .await;
    open_road(&server, single("patient"), numbered()).await;
    let mut sub =
        Subscriber::start(&server, group_start("patient", "idle", 0)).await.expect("subscribe");
    sub.wait_for(WAIT, assignment).await;
    produce(&server, "patient", (0..3).map(|n| json!({"n": n}))).await;
    // Longer than the max poll interval without credit.
    sub.no_message_for(Duration::from_secs(9)).await;
    let rebalances = sub.others.iter().filter(|g| matches!(g, Got::Rebalance(_))).count();
    assert_eq!(rebalances, 0, "the member never left its group: {:?}", sub.others);
    sub.request(3).await;
    let got = sub.messages(3, WAIT).await;
    assert_eq!(got.iter().map(n_of).collect::<Vec<_>>(), [0, 1, 2]);
    server.shutdown().await;
}

#[tokio::test]
async fn seeks_move_the_read_position() {
    let server = TestServer::start().await;
    open_road(&server, single("seekable"), numbered()).await;
    produce(&server, "seekable", (0..5).map(|n| json!({"n": n}))).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let middle = std::time::SystemTime::now();
    tokio::time::sleep(Duration::from_millis(50)).await;
    produce(&server, "seekable", (5..10).map(|n| json!({"n": n}))).await;

    let mut sub = Subscriber::start(&server, group_start("seekable", "seeker", 1_000))
        .await
        .expect("subscribe");
    assert_eq!(
        sub.messages(10, WAIT).await.iter().map(n_of).collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );

    let seek = |to| Ask::Seek(pb::SeekPosition { to: Some(to) });
    use pb::seek_position::To;
    sub.ask(seek(To::Boundary(pb::SeekBoundary::Beginning as i32))).await;
    assert_eq!(
        sub.messages(10, WAIT).await.iter().map(n_of).collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>(),
        "replayed"
    );

    sub.ask(seek(To::Offsets(pb::PartitionOffsets { offsets: [(0, 7)].into() }))).await;
    assert_eq!(sub.messages(3, WAIT).await.iter().map(n_of).collect::<Vec<_>>(), [7, 8, 9]);

    let since = middle.duration_since(std::time::UNIX_EPOCH).expect("clock");
    let at = prost_types::Timestamp {
        seconds: since.as_secs() as i64,
        nanos: since.subsec_nanos() as i32,
    };
    sub.ask(seek(To::Timestamp(at))).await;
    assert_eq!(
        sub.messages(5, WAIT).await.iter().map(n_of).collect::<Vec<_>>(),
        [5, 6, 7, 8, 9],
        "from the first record at or after the time"
    );

    sub.ask(seek(To::Boundary(pb::SeekBoundary::End as i32))).await;
    sub.no_message_for(Duration::from_millis(500)).await;
    produce(&server, "seekable", [json!({"n": 10})]).await;
    assert_eq!(
        sub.messages(1, WAIT).await.iter().map(n_of).collect::<Vec<_>>(),
        [10],
        "only new records after END"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn pii_is_blanked_without_the_grant() {
    let server = TestServer::start().await;
    let schema = json!({"type": "object", "properties": {
        "name": {"type": "string"},
        "email": {"type": "string", "sensitivity": "PII"},
        "phone": {"type": ["string", "null"], "sensitivity": "PII"}}});
    open_road(&server, single("people"), schema).await;
    produce(&server, "people", [json!({"name": "Ada", "email": "ada@example.com", "phone": null})])
        .await;

    let mut public =
        Subscriber::start(&server, group_start("people", "public", 1)).await.expect("subscribe");
    let m = &public.messages(1, WAIT).await[0];
    let payload: serde_json::Value =
        serde_json::from_str(m.payload.as_deref().expect("payload")).expect("json");
    assert_eq!(payload, json!({"name": "Ada", "email": "", "phone": null}));

    let mut start = group_start("people", "trusted", 1);
    start.grants = vec![pb::Grant::Pii as i32];
    let mut trusted = Subscriber::start(&server, start).await.expect("subscribe");
    let m = &trusted.messages(1, WAIT).await[0];
    let payload: serde_json::Value =
        serde_json::from_str(m.payload.as_deref().expect("payload")).expect("json");
    assert_eq!(payload["email"], "ada@example.com");
    server.shutdown().await;
}

#[tokio::test]
async fn bad_subscriptions_end_with_the_right_status() {
    let server = TestServer::start().await;
    open_road(&server, single("events"), numbered()).await;

    let err = Subscriber::start(&server, group_start("nowhere", "s", 1))
        .await
        .err()
        .expect("unknown road");
    assert_eq!(err.code(), Code::NotFound);

    let err = Subscriber::start(&server, snapshot_start("events", 1))
        .await
        .err()
        .expect("snapshot of a stream");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("SNAPSHOT needs a COMPACTED road"), "{}", err.message());

    let err = Subscriber::start(&server, group_start("events", "Bad-Name", 1))
        .await
        .err()
        .expect("bad stream name");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("start.stream"), "{}", err.message());

    // A first message that is not start.
    let (asks, rx) = tokio::sync::mpsc::channel(4);
    asks.send(pb::SubscribeRequest { kind: Some(Ask::Request(pb::RequestMessages { count: 1 })) })
        .await
        .expect("send");
    let mut client = roadroller_api::v1::offramp_service_client::OfframpServiceClient::new(
        server.channel().await,
    );
    let err = client
        .subscribe(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(err.message(), "the first message must be start");

    // A second start ends the stream.
    let mut sub =
        Subscriber::start(&server, group_start("events", "twice", 1)).await.expect("subscribe");
    sub.ask(Ask::Start(group_start("events", "twice", 1))).await;
    let err = loop {
        match sub.next(WAIT).await {
            Err(status) => break status,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("expected the stream to fail"),
        }
    };
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("start may be sent only once"), "{}", err.message());

    let err = Subscriber::start(&server, snapshot_start("events", -1))
        .await
        .err()
        .expect("negative credit");
    assert_eq!(err.code(), Code::InvalidArgument);
    server.shutdown().await;
}

#[tokio::test]
async fn credit_granted_after_a_quiet_start_delivers_from_every_partition() {
    let server = TestServer::start().await;
    open_road(&server, stream_road("spread_out"), numbered()).await;
    produce(&server, "spread_out", (0..3).map(|n| json!({"n": n}))).await;
    let mut sub =
        Subscriber::start(&server, group_start("spread_out", "late", 0)).await.expect("subscribe");
    sub.no_message_for(Duration::from_millis(500)).await;
    sub.request(3).await;
    let mut got: Vec<i64> = sub.messages(3, WAIT).await.iter().map(n_of).collect();
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2]);
    server.shutdown().await;
}
