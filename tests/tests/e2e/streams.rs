//! Streams you can see and manage: lag through the API and the gateway,
//! resets that move a stream nobody reads, and refusals while someone does.

use std::time::Duration;

use roadroller_api::v1 as pb;
use roadroller_api::v1::stream_service_client::StreamServiceClient;
use roadroller_tests::{TestServer, error_reason, eventually, http_get, lagging_stream};
use tonic::Code;

const WAIT: Duration = Duration::from_secs(20);

async fn get(
    client: &mut StreamServiceClient<tonic::transport::Channel>,
    road: &str,
    stream: &str,
) -> Result<pb::Stream, tonic::Status> {
    let request = pb::GetStreamRequest { road: road.into(), stream: stream.into() };
    Ok(client.get_stream(request).await?.into_inner().stream.expect("a stream"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_shows_its_lag_and_moves_only_while_nobody_reads_it() {
    let server = TestServer::start().await;
    let lagging = lagging_stream(&server, "ledger", "readers", 100, 70).await;
    let mut streams = StreamServiceClient::new(server.channel().await);

    let s = get(&mut streams, "ledger", "readers").await.expect("the stream");
    assert_eq!(s.lag, 30, "{s:?}");
    assert_eq!(s.members, 1, "{s:?}");
    assert_eq!(s.consumer_group, "roadroller.ledger.readers");
    assert_eq!(s.partitions.len(), 1);
    assert_eq!((s.partitions[0].committed_offset, s.partitions[0].end_offset), (70, 100));

    let lag =
        http_get(&format!("{}/offramp/v2/roads/ledger/streams/readers/lag", server.gateway_url()))
            .await;
    assert_eq!(lag.status, 200, "{}", lag.text());
    let lag = lag.json();
    assert_eq!(lag["lag"], 30, "{lag}");
    assert_eq!(lag["partitions"][0]["committedOffset"], 70, "{lag}");

    let listed = streams
        .list_streams(pb::ListStreamsRequest { road: "ledger".into() })
        .await
        .expect("list")
        .into_inner()
        .streams;
    assert_eq!(
        listed.iter().map(|s| (s.name.as_str(), s.lag)).collect::<Vec<_>>(),
        [("readers", 30)]
    );

    // Measured every lag interval: the first measure may predate the commit.
    let metric = eventually(WAIT, "a lag of 30 in the metrics", || async {
        let text = http_get(&format!("{}/metrics", server.admin_url())).await.text();
        text.lines()
            .find_map(|l| {
                l.strip_prefix(r#"roadroller_consumer_lag{road="ledger",stream="readers"} "#)
            })
            .map(str::to_string)
            .filter(|v| v.trim() == "30")
    })
    .await;
    assert_eq!(metric.trim(), "30");

    // While a subscriber is connected, the position is its to move.
    let millis =
        lagging.halfway.duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_millis()
            as i64;
    let to_halfway = pb::StreamPosition {
        to: Some(pb::stream_position::To::Timestamp(roadroller_api::timestamp_from_millis(millis))),
    };
    let reset = |to: pb::StreamPosition| pb::ResetStreamRequest {
        road: "ledger".into(),
        stream: "readers".into(),
        to: Some(to),
    };
    let refused = streams.reset_stream(reset(to_halfway.clone())).await.expect_err("members");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(error_reason(&refused).as_deref(), Some("STREAM_HAS_MEMBERS"));
    let refused = streams
        .delete_stream(pb::DeleteStreamRequest { road: "ledger".into(), stream: "readers".into() })
        .await
        .expect_err("members");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");

    drop(lagging.subscriber);
    eventually(WAIT, "the subscriber gone from the group", || {
        let mut streams = streams.clone();
        async move { get(&mut streams, "ledger", "readers").await.ok().filter(|s| s.members == 0) }
    })
    .await;
    let moved = streams
        .reset_stream(reset(to_halfway))
        .await
        .expect("reset")
        .into_inner()
        .stream
        .expect("stream");
    assert_eq!(moved.partitions[0].committed_offset, 50, "{moved:?}");
    assert_eq!(moved.lag, 50);
    let latest = pb::StreamPosition {
        to: Some(pb::stream_position::To::Boundary(pb::ResetBoundary::Latest as i32)),
    };
    let moved = streams
        .reset_stream(reset(latest))
        .await
        .expect("reset")
        .into_inner()
        .stream
        .expect("stream");
    assert_eq!(moved.lag, 0);
    let bad = pb::StreamPosition {
        to: Some(pb::stream_position::To::Offsets(pb::PartitionPositions {
            offsets: [(7, 1)].into(),
        })),
    };
    let refused = streams.reset_stream(reset(bad)).await.expect_err("no partition 7");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");

    streams
        .delete_stream(pb::DeleteStreamRequest { road: "ledger".into(), stream: "readers".into() })
        .await
        .expect("delete");
    let gone = get(&mut streams, "ledger", "readers").await.expect_err("deleted");
    assert_eq!(gone.code(), Code::NotFound, "{gone:?}");
    let unknown = get(&mut streams, "nowhere", "readers").await.expect_err("no road");
    assert_eq!(unknown.code(), Code::NotFound);
    server.shutdown().await;
}

/// A reset racing a subscriber that is joining is refused as the caller's
/// precondition (the stream gained a member), never as an outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_racing_a_joining_subscriber_is_refused_for_its_members_never_as_an_outage() {
    use roadroller_tests::{Subscriber, group_start};
    let server = TestServer::start().await;
    let lagging = lagging_stream(&server, "race", "readers", 20, 10).await;
    drop(lagging.subscriber);
    let streams = StreamServiceClient::new(server.channel().await);
    let reset = pb::ResetStreamRequest {
        road: "race".into(),
        stream: "readers".into(),
        to: Some(pb::StreamPosition {
            to: Some(pb::stream_position::To::Boundary(pb::ResetBoundary::Earliest as i32)),
        }),
    };
    let (mut moved, mut refused) = (0, 0);
    for round in 0..8u64 {
        eventually(WAIT, "the group empty again", || {
            let mut streams = streams.clone();
            async move { get(&mut streams, "race", "readers").await.ok().filter(|s| s.members == 0) }
        })
        .await;
        let joining = {
            let server = &server;
            async move {
                // Staggered so that resets meet every stage of the join.
                tokio::time::sleep(Duration::from_millis(round * 40)).await;
                Subscriber::start(server, group_start("race", "readers", 1)).await.expect("joins")
            }
        };
        let (mut client, reset) = (streams.clone(), reset.clone());
        let (subscriber, outcomes) = tokio::join!(joining, async move {
            let mut outcomes = Vec::new();
            for _ in 0..6 {
                outcomes.push(client.reset_stream(reset.clone()).await.map(|_| ()));
                tokio::time::sleep(Duration::from_millis(60)).await;
            }
            outcomes
        });
        for outcome in outcomes {
            match outcome {
                Ok(()) => moved += 1,
                Err(status) => {
                    assert_eq!(
                        status.code(),
                        Code::FailedPrecondition,
                        "round {round}: {status:?}"
                    );
                    assert_eq!(error_reason(&status).as_deref(), Some("STREAM_HAS_MEMBERS"));
                    refused += 1;
                }
            }
        }
        drop(subscriber);
    }
    eprintln!("{moved} resets moved the stream, {refused} were refused for its members");
    assert!(moved > 0 && refused > 0, "the resets met both an empty and a joined group");
}
