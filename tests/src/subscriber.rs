//! A subscriber on the Offramp's bidirectional stream.

use std::time::Duration;

use roadroller_api::v1 as pb;
use roadroller_api::v1::offramp_service_client::OfframpServiceClient;
use roadroller_api::v1::subscribe_request::Kind as Ask;
use roadroller_api::v1::subscribe_response::Kind as Got;

use crate::{Authed, Bearer, TestServer};

/// A subscriber on a bidirectional Subscribe stream.
pub struct Subscriber {
    asks: tokio::sync::mpsc::Sender<pb::SubscribeRequest>,
    answers: tonic::Streaming<pb::SubscribeResponse>,
    /// Everything received that was not a message, in order.
    pub others: Vec<Got>,
    /// With `batch_messages`: records and payload bytes of each `messages`
    /// answer, in order.
    pub runs: Vec<(usize, usize)>,
    /// Records of a `messages` answer not taken yet.
    unread: std::collections::VecDeque<pb::RoadMessage>,
}

impl Subscriber {
    /// Opens a subscription and returns it after the `connection` answer.
    pub async fn start(
        server: &TestServer,
        start: pb::StartSubscription,
    ) -> Result<Self, tonic::Status> {
        Self::start_as(server, server.bearer(), start).await
    }

    /// As [`Subscriber::start`], with `bearer`'s credentials.
    pub async fn start_as(
        server: &TestServer,
        bearer: Bearer,
        start: pb::StartSubscription,
    ) -> Result<Self, tonic::Status> {
        Self::open(Authed::new(server.channel().await, bearer), start).await
    }

    /// As [`Subscriber::start`], on any channel: a server in another
    /// process, say.
    pub async fn open(
        channel: Authed,
        start: pb::StartSubscription,
    ) -> Result<Self, tonic::Status> {
        let (asks, rx) = tokio::sync::mpsc::channel(16);
        asks.send(pb::SubscribeRequest { kind: Some(Ask::Start(start)) })
            .await
            .expect("send start");
        let mut client = OfframpServiceClient::new(channel);
        let answers =
            client.subscribe(tokio_stream::wrappers::ReceiverStream::new(rx)).await?.into_inner();
        let mut subscriber = Self {
            asks,
            answers,
            others: Vec::new(),
            runs: Vec::new(),
            unread: Default::default(),
        };
        match subscriber.next(Duration::from_secs(10)).await? {
            Some(Got::Connection(_)) => Ok(subscriber),
            other => panic!("expected connection first, got {other:?}"),
        }
    }

    pub async fn ask(&self, kind: Ask) {
        self.asks.send(pb::SubscribeRequest { kind: Some(kind) }).await.expect("send");
    }

    pub async fn request(&self, count: i64) {
        self.ask(Ask::Request(pb::RequestMessages { count })).await;
    }

    pub async fn commit(&self, correlation_id: &str, offsets: &[(i32, i64)]) {
        let offsets = offsets.iter().copied().collect();
        self.ask(Ask::Commit(pb::CommitOffsets { correlation_id: correlation_id.into(), offsets }))
            .await;
    }

    /// The next answer of any kind, a `messages` answer taken apart into its
    /// records; `None` when nothing came within `within` or the stream ended
    /// cleanly.
    pub async fn next(&mut self, within: Duration) -> Result<Option<Got>, tonic::Status> {
        if let Some(m) = self.unread.pop_front() {
            return Ok(Some(Got::Message(m)));
        }
        let answer = match tokio::time::timeout(within, self.answers.message()).await {
            Err(_) => return Ok(None),
            Ok(Ok(Some(r))) => r.kind,
            Ok(Ok(None)) => return Ok(None),
            Ok(Err(status)) => return Err(status),
        };
        match answer {
            Some(Got::Messages(run)) => {
                let bytes = run.messages.iter().map(|m| m.payload.as_ref().map_or(0, String::len));
                self.runs.push((run.messages.len(), bytes.sum()));
                self.unread.extend(run.messages);
                Ok(self.unread.pop_front().map(Got::Message))
            }
            other => Ok(other),
        }
    }

    /// The next `n` messages; other answers are kept in `others`. Panics if
    /// they do not all come within `within`.
    pub async fn messages(&mut self, n: usize, within: Duration) -> Vec<pb::RoadMessage> {
        let deadline = tokio::time::Instant::now() + within;
        let mut got = Vec::new();
        while got.len() < n {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await.expect("subscription alive") {
                Some(Got::Message(m)) => got.push(m),
                Some(other) => self.others.push(other),
                None => panic!("{} of {n} messages within {within:?}", got.len()),
            }
        }
        got
    }

    /// Asserts that no message arrives for `quiet`; other answers are kept.
    pub async fn no_message_for(&mut self, quiet: Duration) {
        let deadline = tokio::time::Instant::now() + quiet;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            match self.next(left).await.expect("subscription alive") {
                Some(Got::Message(m)) => panic!("unexpected message {m:?}"),
                Some(other) => self.others.push(other),
                None => return,
            }
        }
    }

    /// Waits for an answer matching `pick`, keeping the others.
    pub async fn wait_for<T>(
        &mut self,
        within: Duration,
        mut pick: impl FnMut(&Got) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await.expect("subscription alive") {
                Some(got) => {
                    if let Some(found) = pick(&got) {
                        return found;
                    }
                    self.others.push(got);
                }
                None => panic!("the awaited answer did not come within {within:?}"),
            }
        }
    }
}

/// A GROUP start on `stream` from the earliest offset.
pub fn group_start(road: &str, stream: &str, credit: i64) -> pb::StartSubscription {
    pb::StartSubscription {
        road: road.into(),
        stream: stream.into(),
        initial_position: pb::InitialPosition::Earliest as i32,
        mode: pb::SubscriptionMode::Group as i32,
        grants: vec![],
        initial_credit: credit,
        report_partition_end: false,
        resume_token: String::new(),
        batch_messages: false,
    }
}

/// A SNAPSHOT start.
pub fn snapshot_start(road: &str, credit: i64) -> pb::StartSubscription {
    pb::StartSubscription {
        mode: pb::SubscriptionMode::Snapshot as i32,
        ..group_start(road, "", credit)
    }
}
