//! ProduceStream: many batches, answered once each, in order.

use std::collections::HashSet;

use roadroller_api::v1 as pb;
use roadroller_api::v1::record_result::Result as Outcome;
use roadroller_tests::{TestServer, open_road, read_topic, stream_road};
use serde_json::json;

#[tokio::test]
async fn twenty_thousand_records_in_two_hundred_batches() {
    let server = TestServer::start().await;
    let schema = json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "integer", "minimum": 0}}});
    open_road(&server, stream_road("firehose"), schema).await;

    // Every 7th record is invalid; the client's sequence numbers start at
    // 1000 and step by 3, to show they are echoed, not counted.
    let batches: Vec<pb::ProduceStreamRequest> = (0..200u64)
        .map(|b| pb::ProduceStreamRequest {
            sequence: 1000 + 3 * b,
            road: "firehose".into(),
            records: (0..100u64)
                .map(|i| {
                    let id = b * 100 + i;
                    let payload = if id % 7 == 0 { json!({"id": -1}) } else { json!({"id": id}) };
                    pb::Record { key: None, payload: Some(payload.to_string()) }
                })
                .collect(),
        })
        .collect();
    let mut onramp = server.onramp().await;
    let mut answers =
        onramp.produce_stream(tokio_stream::iter(batches)).await.expect("stream").into_inner();

    let mut sequences = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    while let Some(answer) = answers.message().await.expect("answer") {
        assert!(answer.error.is_none(), "{:?}", answer.error);
        assert_eq!(answer.results.len(), 100);
        let b = (answer.sequence - 1000) / 3;
        for (i, result) in answer.results.iter().enumerate() {
            let id = b * 100 + i as u64;
            match &result.result {
                Some(Outcome::Accepted(_)) => {
                    assert_ne!(id % 7, 0, "record {id} should have been rejected");
                    accepted += 1;
                }
                Some(Outcome::Rejected(r)) => {
                    assert_eq!(id % 7, 0, "record {id} was rejected: {r:?}");
                    assert_eq!(r.violations[0].keyword, "minimum");
                    rejected += 1;
                }
                None => panic!("empty result"),
            }
        }
        sequences.push(answer.sequence);
    }
    let expected: Vec<u64> = (0..200).map(|b| 1000 + 3 * b).collect();
    assert_eq!(sequences, expected, "every batch answered once, in order");
    assert_eq!(rejected, (0..20_000u64).filter(|id| id % 7 == 0).count());
    assert_eq!(accepted + rejected, 20_000);

    let on_topic = read_topic(&server.broker().bootstrap(), "road.firehose");
    assert_eq!(on_topic.len(), accepted, "every valid record once");
    let ids: HashSet<i64> = on_topic
        .iter()
        .map(|r| r.value_json().expect("json")["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids.len(), accepted, "none twice");
    assert!(ids.iter().all(|id| id % 7 != 0));
    server.shutdown().await;
}

#[tokio::test]
async fn a_batch_for_an_unknown_road_is_answered_and_the_stream_goes_on() {
    let server = TestServer::start().await;
    open_road(&server, stream_road("known"), json!({"type": "object"})).await;
    let batch = |sequence, road: &str| pb::ProduceStreamRequest {
        sequence,
        road: road.into(),
        records: vec![pb::Record { key: None, payload: Some("{}".into()) }],
    };
    let requests = vec![batch(1, "known"), batch(2, "unknown"), batch(3, "known")];
    let mut answers = server
        .onramp()
        .await
        .produce_stream(tokio_stream::iter(requests))
        .await
        .expect("stream")
        .into_inner();
    let mut seen = Vec::new();
    while let Some(answer) = answers.message().await.expect("answer") {
        seen.push((answer.sequence, answer.error.map(|e| e.code)));
    }
    assert_eq!(seen, [(1, None), (2, Some(tonic::Code::NotFound as i32)), (3, None)]);
    server.shutdown().await;
}

#[tokio::test]
async fn at_shutdown_an_open_stream_ends_unavailable_shutting_down_after_its_answers() {
    let server = TestServer::start().await;
    open_road(&server, stream_road("draining"), json!({"type": "object"})).await;
    let (batches, rx) = tokio::sync::mpsc::channel(4);
    let mut onramp = server.onramp().await;
    let mut answers = onramp
        .produce_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .expect("stream")
        .into_inner();
    let batch = pb::ProduceStreamRequest {
        sequence: 1,
        road: "draining".into(),
        records: vec![pb::Record { key: None, payload: Some(json!({"n": 1}).to_string()) }],
    };
    batches.send(batch).await.expect("send");
    let answer = answers.message().await.expect("answer").expect("one");
    assert_eq!(answer.sequence, 1);
    // The client keeps its side open; the server's shutdown ends the stream.
    let stopping = tokio::spawn(server.shutdown());
    let ended = answers.message().await.expect_err("ended by the shutdown");
    assert_eq!(ended.code(), tonic::Code::Unavailable, "{ended:?}");
    assert_eq!(roadroller_tests::error_reason(&ended).as_deref(), Some("SHUTTING_DOWN"));
    use tonic_types::StatusExt;
    assert!(ended.get_details_retry_info().is_some(), "says when to come back: {ended:?}");
    drop(batches);
    stopping.await.expect("shut down");
}
