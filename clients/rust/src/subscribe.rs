//! Subscribing: a `futures::Stream` of events with credit managed for you,
//! commits that return when the server answered, and reconnection that
//! resumes a GROUP subscription from its committed offsets.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use futures::{FutureExt, Stream};
use roadroller_api::v1 as pb;
use roadroller_api::v1::subscribe_request::Kind as Ask;
use roadroller_api::v1::subscribe_response::Kind as Got;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

use crate::{Client, Error};

/// Where a stream without committed offsets starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialPosition {
    Earliest,
    Latest,
}

/// How to subscribe.
#[derive(Clone, Debug)]
pub struct SubscribeOptions {
    pub road: String,
    /// The stream (consumer group) name; ignored in SNAPSHOT mode.
    pub stream: String,
    pub initial_position: InitialPosition,
    pub snapshot: bool,
    /// Ask for PII intact.
    pub pii: bool,
    /// Messages asked for at a time; more are asked for as these are read.
    pub window: u32,
    /// Reconnect when the server goes away: GROUP resumes from the
    /// committed offsets; SNAPSHOT continues from the last message's resume
    /// token when the road is materialized, and otherwise (or when no
    /// instance can continue it) starts a new snapshot.
    pub reconnect: bool,
    /// Receive [`Event::PartitionEnd`] whenever a partition has been read
    /// to its end (GROUP mode), to stop at the end of the data.
    pub partition_ends: bool,
    /// SNAPSHOT mode: continue the snapshot a message's
    /// [`Message::resume_token`] came from.
    pub resume_token: Option<String>,
}

/// Messages asked for at a time by default. The server pauses a partition
/// whose records wait for credit and resumes it when credit comes, and a
/// resumed partition waits for a fetch: a window that covers several fetches
/// keeps that from ever happening (5,000 delivered 4,400 records/s where
/// 50,000 delivers 40,000). It bounds what waits here, as librdkafka's own
/// queue does (about as many bytes at 1 KiB a record).
pub const DEFAULT_WINDOW: u32 = 50_000;

impl SubscribeOptions {
    /// A GROUP subscription on `stream`. A stream that has committed
    /// nothing starts at the end (LATEST, as in the contract, Kafka and
    /// Data Highway); set `initial_position` to read what is already there.
    pub fn group(road: impl Into<String>, stream: impl Into<String>) -> Self {
        Self {
            road: road.into(),
            stream: stream.into(),
            initial_position: InitialPosition::Latest,
            snapshot: false,
            pii: false,
            window: DEFAULT_WINDOW,
            reconnect: true,
            partition_ends: false,
            resume_token: None,
        }
    }

    /// As [`SubscribeOptions::group`], starting at the earliest record when
    /// the stream has committed nothing.
    pub fn group_from_earliest(road: impl Into<String>, stream: impl Into<String>) -> Self {
        Self { initial_position: InitialPosition::Earliest, ..Self::group(road, stream) }
    }

    /// The current state of a COMPACTED road, then its changes.
    pub fn snapshot(road: impl Into<String>) -> Self {
        Self { snapshot: true, ..Self::group(road, "") }
    }

    fn start(&self) -> pb::StartSubscription {
        pb::StartSubscription {
            road: self.road.clone(),
            stream: self.stream.clone(),
            initial_position: match self.initial_position {
                InitialPosition::Earliest => pb::InitialPosition::Earliest,
                InitialPosition::Latest => pb::InitialPosition::Latest,
            } as i32,
            mode: if self.snapshot {
                pb::SubscriptionMode::Snapshot
            } else {
                pb::SubscriptionMode::Group
            } as i32,
            grants: if self.pii { vec![pb::Grant::Pii as i32] } else { vec![] },
            initial_credit: i64::from(self.window.max(1)),
            report_partition_end: self.partition_ends && !self.snapshot,
            resume_token: self.resume_token.clone().filter(|_| self.snapshot).unwrap_or_default(),
            batch_messages: true,
        }
    }
}

/// A record of the road.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub partition: i32,
    pub offset: i64,
    pub timestamp: Option<SystemTime>,
    pub schema_version: u32,
    pub key: Option<String>,
    /// JSON text; `None` is a delete.
    pub payload: Option<String>,
    /// Snapshot messages of a materialized road: where to continue the
    /// snapshot from (see [`SubscribeOptions::resume_token`]).
    pub resume_token: Option<String>,
}

impl Message {
    /// The payload parsed, if there is one.
    pub fn json(&self) -> Option<Result<serde_json::Value, serde_json::Error>> {
        self.payload.as_deref().map(serde_json::from_str)
    }
}

/// What a subscription yields.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Message(Message),
    /// The partitions this subscriber now holds.
    Rebalance(Vec<i32>),
    /// SNAPSHOT mode: every live key has been sent; changes follow.
    SnapshotComplete(BTreeMap<i32, i64>),
    /// Every record of `partition` before `next_offset` has been received
    /// (only with [`SubscribeOptions::partition_ends`]).
    PartitionEnd {
        partition: i32,
        next_offset: i64,
    },
    /// SNAPSHOT mode: the road (or the caller) is at its limit of
    /// concurrent snapshots; this one waits, at this place (1: next).
    Queued(u32),
    /// A problem the server reported without ending the subscription.
    Warning(String),
    /// The connection was lost and made again; messages not committed
    /// before may come again.
    Reconnected,
}

/// Where to move the read position.
#[derive(Clone, Debug, PartialEq)]
pub enum SeekTo {
    Beginning,
    End,
    Time(SystemTime),
    Offsets(BTreeMap<i32, i64>),
}

enum Order {
    Commit(BTreeMap<i32, i64>, oneshot::Sender<Result<(), Error>>),
    Seek(SeekTo),
}

/// Commits and seeks for a subscription; cheap to clone and usable while
/// the subscription is being read.
#[derive(Clone, Debug)]
pub struct Control {
    orders: mpsc::Sender<Order>,
}

impl std::fmt::Debug for Order {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Order::Commit(o, _) => write!(f, "Commit({o:?})"),
            Order::Seek(s) => write!(f, "Seek({s:?})"),
        }
    }
}

impl Control {
    /// Commits `offsets` (partition to the next offset to read) and returns
    /// once the server answered.
    pub async fn commit(&self, offsets: BTreeMap<i32, i64>) -> Result<(), Error> {
        let (reply, rx) = oneshot::channel();
        self.orders.send(Order::Commit(offsets, reply)).await.map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }

    /// Commits everything up to and including `message`.
    pub async fn commit_message(&self, message: &Message) -> Result<(), Error> {
        self.commit(BTreeMap::from([(message.partition, message.offset + 1)])).await
    }

    pub async fn seek(&self, to: SeekTo) -> Result<(), Error> {
        self.orders.send(Order::Seek(to)).await.map_err(|_| closed())
    }
}

fn closed() -> Error {
    Error::Closed("the subscription has ended".into())
}

/// A subscription: a stream of events. Dropping it ends the subscription
/// (the server's consumer leaves its group).
pub struct Subscription {
    /// Events arrive in batches, handed out one at a time from `buffer`.
    events: mpsc::Receiver<Result<Vec<Event>, Error>>,
    buffer: VecDeque<Event>,
    control: Control,
}

impl Subscription {
    pub fn control(&self) -> Control {
        self.control.clone()
    }
}

impl Stream for Subscription {
    type Item = Result<Event, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            match self.events.poll_recv(cx) {
                Poll::Ready(Some(Ok(batch))) => self.buffer.extend(batch),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Client {
    /// Opens a subscription. Fails at once when the server refuses the start
    /// (unknown road, SNAPSHOT of a STREAM road, ...).
    pub async fn subscribe(&self, options: SubscribeOptions) -> Result<Subscription, Error> {
        let connection = open(self, &options).await?;
        // Messages are asked for as the reader takes them, so the server
        // holds at most a window; a few batches wait here.
        let (events, rx) = mpsc::channel(4);
        let (orders, order_rx) = mpsc::channel(16);
        let client = self.clone();
        tokio::spawn(run(client, options, connection, events, order_rx));
        Ok(Subscription { events: rx, buffer: VecDeque::new(), control: Control { orders } })
    }
}

struct Connection {
    asks: mpsc::Sender<pb::SubscribeRequest>,
    answers: tonic::Streaming<pb::SubscribeResponse>,
}

async fn open(client: &Client, options: &SubscribeOptions) -> Result<Connection, Error> {
    let (asks, rx) = mpsc::channel(16);
    asks.send(pb::SubscribeRequest { kind: Some(Ask::Start(options.start())) })
        .await
        .map_err(|_| closed())?;
    let mut answers = client.offramp.clone().subscribe(ReceiverStream::new(rx)).await?.into_inner();
    match answers.message().await? {
        Some(pb::SubscribeResponse { kind: Some(Got::Connection(_)) }) => {
            Ok(Connection { asks, answers })
        }
        other => Err(Error::Protocol(format!("expected connection first, got {other:?}"))),
    }
}

/// Runs a subscription across reconnections until the reader leaves.
async fn run(
    client: Client,
    mut options: SubscribeOptions,
    mut connection: Connection,
    events: mpsc::Sender<Result<Vec<Event>, Error>>,
    mut orders: mpsc::Receiver<Order>,
) {
    let mut backoff = Duration::from_millis(200);
    // A snapshot in progress: the token of the last message handed over.
    let mut resume = Resume::default();
    loop {
        match serve(&options, &mut connection, &events, &mut orders, &mut resume).await {
            Ended::ReaderGone => return,
            Ended::Failed(e) => {
                let retryable = options.reconnect
                    && matches!(
                        e.code(),
                        Some(
                            tonic::Code::Unavailable
                                | tonic::Code::Cancelled
                                | tonic::Code::Unknown
                        )
                    );
                if !retryable {
                    let _ = events.send(Err(e)).await;
                    return;
                }
            }
        }
        loop {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
            if events.is_closed() {
                return;
            }
            if options.snapshot {
                options.resume_token = resume.token.clone().filter(|_| !resume.complete);
            }
            let mut opened = open(&client, &options).await;
            if let Err(Error::Status(s)) = &opened
                && options.resume_token.is_some()
                && s.code() == tonic::Code::FailedPrecondition
            {
                // Nobody can continue it: a new snapshot, from the start.
                options.resume_token = None;
                resume = Resume::default();
                opened = open(&client, &options).await;
            }
            match opened {
                Ok(c) => {
                    connection = c;
                    backoff = Duration::from_millis(200);
                    if events.send(Ok(vec![Event::Reconnected])).await.is_err() {
                        return;
                    }
                    break;
                }
                Err(e)
                    if e.code() == Some(tonic::Code::Unavailable)
                        || matches!(e, Error::Connect { .. }) =>
                {
                    continue;
                }
                Err(e) => {
                    let _ = events.send(Err(e)).await;
                    return;
                }
            }
        }
    }
}

enum Ended {
    ReaderGone,
    Failed(Error),
}

/// How far a snapshot got, to continue it after a reconnection.
#[derive(Default)]
struct Resume {
    token: Option<String>,
    complete: bool,
}

/// One connection's life: answers routed to the reader and to waiting
/// commits. Events wait in `ready` while the reader is busy, so commits are
/// still answered; they go to the reader in batches, and credit is topped up
/// as messages reach it, which bounds `ready` by the window.
async fn serve(
    options: &SubscribeOptions,
    connection: &mut Connection,
    events: &mpsc::Sender<Result<Vec<Event>, Error>>,
    orders: &mut mpsc::Receiver<Order>,
    resume: &mut Resume,
) -> Ended {
    let window = i64::from(options.window.max(1));
    let mut outstanding = window;
    let mut ready: Vec<Event> = Vec::new();
    let mut commits: HashMap<String, oneshot::Sender<Result<(), Error>>> = HashMap::new();
    let ask = |kind| pb::SubscribeRequest { kind: Some(kind) };
    let outcome = loop {
        tokio::select! {
            permit = events.reserve(), if !ready.is_empty() => {
                let Ok(permit) = permit else { break Ended::ReaderGone };
                let batch = std::mem::take(&mut ready);
                let messages = batch.iter().filter(|e| matches!(e, Event::Message(_))).count() as i64;
                for event in batch.iter().rev() {
                    match event {
                        Event::SnapshotComplete(_) => resume.complete = true,
                        Event::Message(Message { resume_token: Some(t), .. }) => {
                            resume.token = Some(t.clone());
                        }
                        _ => continue,
                    }
                    break;
                }
                permit.send(Ok(batch));
                outstanding -= messages;
                // Top up once half the window is used.
                if messages > 0 && outstanding <= window / 2 {
                    let more = window - outstanding;
                    outstanding = window;
                    if connection.asks.send(ask(Ask::Request(pb::RequestMessages { count: more }))).await.is_err() {
                        break Ended::Failed(closed());
                    }
                }
            }
            answer = connection.answers.message() => {
                let mut answer = answer;
                // Whatever else has arrived, without waiting.
                loop {
                    match answer {
                        Ok(Some(pb::SubscribeResponse { kind: Some(kind) })) => route(kind, &mut ready, &mut commits),
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(_) => break,
                    }
                    match connection.answers.message().now_or_never() {
                        Some(next) => answer = next,
                        None => {
                            answer = Ok(Some(pb::SubscribeResponse { kind: None }));
                            break;
                        }
                    }
                }
                match answer {
                    Ok(None) => break Ended::Failed(Error::Status(tonic::Status::unavailable("the server ended the subscription"))),
                    Err(status) => break Ended::Failed(Error::Status(status)),
                    Ok(Some(_)) => {}
                }
            }
            order = orders.recv() => {
                let Some(order) = order else { break Ended::ReaderGone };
                let request = match order {
                    Order::Commit(offsets, reply) => {
                        let id = uuid::Uuid::new_v4().to_string();
                        commits.insert(id.clone(), reply);
                        Ask::Commit(pb::CommitOffsets { correlation_id: id, offsets: offsets.into_iter().collect() })
                    }
                    Order::Seek(to) => Ask::Seek(seek(to)),
                };
                if connection.asks.send(ask(request)).await.is_err() {
                    break Ended::Failed(closed());
                }
            }
            () = events.closed() => break Ended::ReaderGone,
        }
    };
    for (_, reply) in commits.drain() {
        let _ = reply.send(Err(Error::Closed(
            "the connection was lost before the commit was answered".into(),
        )));
    }
    outcome
}

/// An answer from the server: an event for the reader, or the reply to a
/// commit.
fn route(
    kind: Got,
    ready: &mut Vec<Event>,
    commits: &mut HashMap<String, oneshot::Sender<Result<(), Error>>>,
) {
    match kind {
        Got::Message(m) => ready.push(Event::Message(message(m))),
        Got::Messages(run) => {
            ready.extend(run.messages.into_iter().map(|m| Event::Message(message(m))))
        }
        Got::Rebalance(r) => ready.push(Event::Rebalance(r.partitions)),
        Got::SnapshotComplete(c) => {
            ready.push(Event::SnapshotComplete(c.offsets.into_iter().collect()))
        }
        Got::SnapshotQueued(q) => ready.push(Event::Queued(q.place.max(0) as u32)),
        Got::PartitionEnd(e) => {
            ready.push(Event::PartitionEnd { partition: e.partition, next_offset: e.next_offset })
        }
        Got::Error(e) => ready.push(Event::Warning(e.reason)),
        Got::CommitResponse(r) => {
            if let Some(reply) = commits.remove(&r.correlation_id) {
                let result = if r.success {
                    Ok(())
                } else {
                    Err(Error::Closed(format!("commit refused: {}", r.error)))
                };
                let _ = reply.send(result);
            }
        }
        Got::Connection(_) => {}
    }
}

fn message(m: pb::RoadMessage) -> Message {
    Message {
        partition: m.partition,
        offset: m.offset,
        timestamp: m.timestamp.and_then(|t| {
            let nanos = u32::try_from(t.nanos).ok()?;
            let seconds = u64::try_from(t.seconds).ok()?;
            SystemTime::UNIX_EPOCH.checked_add(Duration::new(seconds, nanos))
        }),
        schema_version: m.schema_version.max(0) as u32,
        key: m.key,
        payload: m.payload,
        resume_token: m.resume_token,
    }
}

fn seek(to: SeekTo) -> pb::SeekPosition {
    use pb::seek_position::To;
    let to = match to {
        SeekTo::Beginning => To::Boundary(pb::SeekBoundary::Beginning as i32),
        SeekTo::End => To::Boundary(pb::SeekBoundary::End as i32),
        SeekTo::Time(t) => {
            let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
            To::Timestamp(prost_types::Timestamp {
                seconds: since.as_secs() as i64,
                nanos: since.subsec_nanos() as i32,
            })
        }
        SeekTo::Offsets(o) => {
            To::Offsets(pb::PartitionOffsets { offsets: o.into_iter().collect() })
        }
    };
    pb::SeekPosition { to: Some(to) }
}
