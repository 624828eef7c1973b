//! A stream that lags by a known amount: records on a one-partition road,
//! some of them read and committed by a subscriber that stays connected.

use std::time::{Duration, SystemTime};

use roadroller_api::v1 as pb;
use roadroller_api::v1::subscribe_response::Kind as Got;

use crate::{Subscriber, TestServer, group_start, open_road};

/// What [`lagging_stream`] made.
pub struct Lagging {
    /// Still in the stream's group.
    pub subscriber: Subscriber,
    /// A time between the first half of the records and the second.
    pub halfway: SystemTime,
}

/// `total` records on the one-partition STREAM road `road`, the first
/// `committed` of them read and committed on `stream`.
pub async fn lagging_stream(
    server: &TestServer,
    road: &str,
    stream: &str,
    total: usize,
    committed: usize,
) -> Lagging {
    let mut r = crate::stream_road(road);
    r.partitions = 1;
    open_road(server, r, serde_json::json!({"type": "object"})).await;
    let record = |i: usize| pb::Record { key: None, payload: Some(format!("{{\"i\":{i}}}")) };
    server.produce_accepted(road, (0..total / 2).map(record).collect()).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let halfway = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    server.produce_accepted(road, (total / 2..total).map(record).collect()).await;
    let mut subscriber = Subscriber::start(server, group_start(road, stream, committed as i64))
        .await
        .expect("subscribe");
    let got = subscriber.messages(committed, Duration::from_secs(20)).await;
    let next = got.last().map_or(0, |m| m.offset + 1);
    subscriber.commit("lag", &[(0, next)]).await;
    let answer = subscriber
        .wait_for(Duration::from_secs(10), |got| match got {
            Got::CommitResponse(r) => Some(r.clone()),
            _ => None,
        })
        .await;
    assert!(answer.success, "{answer:?}");
    Lagging { subscriber, halfway }
}
