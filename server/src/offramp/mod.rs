//! Offramp: following a road over one bidirectional stream. A subscription
//! is a task that owns one Kafka consumer; it takes the subscriber's
//! commands and sends events, never more messages than the credit allows.

mod context;
mod credit;
mod error;
pub mod grpc;
mod held;
mod render;
mod session;
mod shared_pages;
mod slots;
mod snapshot;
mod snapshot_view;
mod text;
mod wire;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use error::OfframpError;
pub use text::Text;

use crate::auth::{self, Action, Caller, Guard};
use crate::error::FieldViolation;
use crate::kafka::Kafka;
use crate::quotas::{Account, Admission, Quotas, Snapshot, Waiting};
use crate::roads::registry::Registry;
use crate::roads::{Grant, RoadType, StatusBoard, rules};
use crate::schema::SchemaCache;
use context::SubscriptionContext;
use credit::Credit;
use render::Renderer;
use session::{Loading, Session};

/// How subscriptions use Kafka.
#[derive(Clone, Debug)]
pub struct OfframpSettings {
    /// How long a group member may go silent before the group moves on.
    pub session_timeout: Duration,
    /// How long a member may go without polling; a subscriber without credit
    /// keeps polling, so this only catches a wedged server.
    pub max_poll_interval: Duration,
    /// How long a Subscribe stream may stay open without sending start.
    pub start_timeout: Duration,
    /// Subscriptions open at once on this instance; `None` fits them to
    /// the process's file descriptors.
    pub max_subscriptions: Option<usize>,
}

/// How a subscription reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Group,
    Snapshot,
}

/// Where a stream without committed offsets starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialPosition {
    Earliest,
    Latest,
}

/// The opening of a subscription.
#[derive(Clone, Debug)]
pub struct Start {
    pub road: String,
    pub stream: String,
    pub initial_position: InitialPosition,
    pub mode: Mode,
    pub grants: Vec<Grant>,
    pub initial_credit: i64,
    /// Tell the subscriber whenever it has been sent a partition's end.
    pub report_partition_end: bool,
    /// SNAPSHOT mode: continue the snapshot this token came from.
    pub resume: Option<crate::tables::ResumeToken>,
}

/// What the subscriber asks for after the start.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Request(i64),
    Cancel,
    Commit {
        correlation_id: String,
        offsets: BTreeMap<i32, i64>,
    },
    Seek(SeekTo),
    /// A request that was ignored; the subscriber is told why.
    Refuse(String),
    /// A request that breaks the protocol; the subscription ends.
    Abort(String),
}

/// Where a seek goes.
#[derive(Clone, Debug, PartialEq)]
pub enum SeekTo {
    Beginning,
    End,
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
    Offsets(BTreeMap<i32, i64>),
}

/// A record as the subscriber receives it. Its texts are shared, so a clone
/// for another subscriber copies none of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: Option<i64>,
    pub schema_version: u32,
    pub key: Option<Text>,
    pub payload: Option<Text>,
    pub traceparent: Option<Text>,
    pub tracestate: Option<Text>,
    /// Snapshot messages from a materialized road's view: where to resume.
    pub resume_token: Option<Text>,
}

impl Delivered {
    /// Bytes of key and payload: what bounds held records and batches.
    pub fn text_len(&self) -> usize {
        self.payload.as_ref().map_or(0, Text::len) + self.key.as_ref().map_or(0, Text::len)
    }
}

/// What the server tells the subscriber.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Connection {
        instance_id: String,
        consumer_group: Option<String>,
    },
    Message(Delivered),
    Rebalance(Vec<i32>),
    CommitResponse {
        correlation_id: String,
        success: bool,
        error: String,
    },
    SnapshotComplete(BTreeMap<i32, i64>),
    /// A SNAPSHOT's place in the road's queue (1: next).
    SnapshotQueued(usize),
    /// Every record of the partition before this offset has been sent.
    PartitionEnd {
        partition: i32,
        next_offset: i64,
    },
    Error(String),
}

/// The Offramp domain service.
#[derive(Clone)]
pub struct Offramp {
    kafka: Kafka,
    registry: Registry,
    board: Arc<StatusBoard>,
    schemas: Arc<SchemaCache>,
    settings: OfframpSettings,
    topic_prefix: String,
    instance_id: String,
    guard: Guard,
    quotas: Quotas,
    telemetry: crate::telemetry::Telemetry,
    /// Materialized roads' views, which SNAPSHOTs are served from.
    tables: crate::tables::Tables,
    /// Snapshot pages shared by concurrent subscribers of a view.
    pages: shared_pages::SharedPages,
    slots: slots::Slots,
}

/// Batches of events waiting for the subscriber; credit bounds messages
/// anyway.
const EVENT_BUFFER: usize = 16;

impl Offramp {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kafka: Kafka,
        registry: Registry,
        board: Arc<StatusBoard>,
        schemas: Arc<SchemaCache>,
        settings: OfframpSettings,
        topic_prefix: String,
        instance_id: String,
        guard: Guard,
        quotas: Quotas,
        telemetry: crate::telemetry::Telemetry,
        tables: crate::tables::Tables,
    ) -> Self {
        let slots = slots::Slots::new(
            settings.max_subscriptions.unwrap_or_else(slots::fitting_descriptors),
        );
        tracing::debug!(max = slots.max(), "subscriptions per instance");
        Self {
            slots,
            kafka,
            registry,
            board,
            schemas,
            settings,
            topic_prefix,
            instance_id,
            guard,
            quotas,
            telemetry,
            tables,
            pages: shared_pages::SharedPages::default(),
        }
    }

    pub fn settings(&self) -> &OfframpSettings {
        &self.settings
    }

    /// Opens a subscription. Its events come in batches on the returned
    /// channel, ending with an error when it fails; it ends when `commands`
    /// closes (the subscriber left), on [`Command::Abort`], or when `stop`
    /// fires (shutdown).
    pub fn subscribe(
        &self,
        caller: Caller,
        start: Start,
        commands: mpsc::Receiver<Command>,
        stop: CancellationToken,
    ) -> Result<mpsc::Receiver<Result<Vec<Event>, OfframpError>>, OfframpError> {
        let mut violations = Vec::new();
        if let Err(e) = rules::name(&start.road) {
            violations.push(FieldViolation::new("start.road", e));
        }
        if start.mode == Mode::Group
            && let Err(e) = rules::name(&start.stream)
        {
            violations.push(FieldViolation::new("start.stream", e));
        }
        if start.initial_credit < 0 {
            violations.push(FieldViolation::new("start.initial_credit", "must not be negative"));
        }
        if !violations.is_empty() {
            return Err(OfframpError::InvalidStart(violations));
        }
        let versioned = self.registry.get(&start.road);
        // Before the road's existence, so that names cannot be probed.
        self.guard
            .subscribe(&caller, &start.road, versioned.as_ref().map(|v| &*v.road), &start.grants)
            .map_err(OfframpError::Denied)?;
        let road = versioned.ok_or_else(|| OfframpError::RoadNotFound(start.road.clone()))?.road;
        let road_type = road.road_type();
        if start.mode == Mode::Snapshot && road_type != RoadType::Compacted {
            return Err(OfframpError::InvalidStart(vec![FieldViolation::new(
                "start.mode",
                format!("SNAPSHOT needs a COMPACTED road; {:?} is a STREAM road", start.road),
            )]));
        }
        if let Some(token) = &start.resume {
            self.resumable(&road, token)?;
        }
        let status = self.board.get(&start.road);
        if !status.topic_created {
            return Err(OfframpError::TopicNotReady(start.road.clone()));
        }
        let topic = format!("{}{}", self.topic_prefix, start.road);
        let group = (start.mode == Mode::Group)
            .then(|| format!("roadroller.{}.{}", start.road, start.stream));
        let credit = Credit::new(start.initial_credit).map_err(|e| {
            OfframpError::InvalidStart(vec![FieldViolation::new("start.initial_credit", e)])
        })?;
        let slot = self.slots.take().ok_or(OfframpError::TooManySubscriptions(self.slots.max()))?;
        let account = self.quotas.account(&caller);
        let subscription = self.quotas.subscribe(&account, &road).map_err(OfframpError::Quota)?;
        let admission =
            (start.mode == Mode::Snapshot).then(|| self.quotas.snapshot(&account, &road));
        // A queued snapshot gets its consumer once it is let in.
        let made = match admission {
            Some(Admission::Queued(_)) => None,
            _ => Some(self.consumer(
                group.as_deref(),
                start.initial_position,
                start.report_partition_end,
                &topic,
            )?),
        };
        let renderer = Renderer::new(
            &start.road,
            self.registry.clone(),
            self.schemas.clone(),
            start.grants.contains(&Grant::Pii),
            road_type == RoadType::Compacted,
        );
        let (events, rx) = mpsc::channel(EVENT_BUFFER);
        let connection = Event::Connection {
            instance_id: self.instance_id.clone(),
            consumer_group: group.clone(),
        };
        let ended = Arc::new(std::sync::OnceLock::new());
        let stop = stop.child_token();
        let payer = self.quotas.payer(&caller, &start.road);
        self.watch_rights(caller, &start, stop.clone(), ended.clone());
        // Ends the watch when the subscription ends for any reason.
        let done = stop.clone().drop_guard();
        let mode = if group.is_some() { "GROUP" } else { "SNAPSHOT" };
        self.telemetry.metrics.subscription(mode, 1);
        let offramp = self.clone();
        tokio::spawn(async move {
            let _subscription = (subscription, slot);
            let outcome = async {
                events
                    .send(Ok(vec![connection]))
                    .await
                    .map_err(|_| OfframpError::SubscriberGone)?;
                let place = match admission {
                    None => None,
                    Some(Admission::Now(place)) => Some(place),
                    Some(Admission::Queued(waiting)) => {
                        let metrics = &offramp.telemetry.metrics;
                        metrics.snapshot_queued(&road.name, 1);
                        let queue = Queue { events: &events, stop: &stop, ended: &ended };
                        let turn = queue.wait(waiting, &offramp.quotas, &account, &road).await;
                        metrics.snapshot_queued(&road.name, -1);
                        Some(turn.inspect_err(|e| {
                            let _ = events.try_send(Err(e.clone()));
                        })?)
                    }
                };
                let loading =
                    place.map(|p| Loading::new(p, offramp.telemetry.metrics.clone(), &road.name));
                let (consumer, assignments, pacer) = match made {
                    Some(made) => made,
                    None => offramp
                        .consumer(None, start.initial_position, false, &topic)
                        .inspect_err(|e| {
                            let _ = events.try_send(Err(e.clone()));
                        })?,
                };
                let mut session = Session::new(
                    (Arc::new(consumer), pacer),
                    topic,
                    credit,
                    renderer,
                    events.clone(),
                    stop.clone(),
                    ended.clone(),
                );
                session.observe(offramp.telemetry.clone(), &start.road, group.as_deref());
                session.pay_with(payer);
                if let Some(loading) = loading {
                    session.loading(loading);
                }
                // A materialized road's view serves the state, when ready.
                let view = match &start.resume {
                    Some(token) => Some(offramp.resumable(&road, token)?),
                    None => offramp.tables.snapshot_source(&road),
                };
                match (group, view) {
                    (Some(_), _) => session.run_group(commands, assignments).await,
                    (None, Some(view)) => {
                        let resume = start.resume.clone();
                        let view = (view, offramp.pages.clone());
                        snapshot_view::run(session, view, resume, commands, assignments).await
                    }
                    (None, None) => {
                        snapshot::run(session, &offramp.kafka, commands, assignments).await
                    }
                }
            }
            .await;
            drop(done);
            offramp.telemetry.metrics.subscription(mode, -1);
            if let Err(e) = outcome {
                tracing::debug!(error = %e, "subscription ended");
            }
        });
        Ok(rx)
    }
}

impl Offramp {
    /// The view a snapshot with `token` continues from, or why there is none.
    fn resumable(
        &self,
        road: &crate::roads::Road,
        token: &crate::tables::ResumeToken,
    ) -> Result<crate::tables::SnapshotSource, OfframpError> {
        let refuse = |why: &str| Err(OfframpError::NotResumable(why.to_string()));
        if token.road != road.name {
            return refuse(&format!("the token belongs to road {:?}", token.road));
        }
        if token.road_created_ms != road.create_time_ms {
            return refuse("the token belongs to an earlier road of this name");
        }
        let Some(view) = self.tables.snapshot_source(road) else {
            return refuse("this instance has no ready view of the road; is it materialized?");
        };
        let at = view.offsets();
        if let Some((p, o)) = token.boundary.iter().find(|(p, o)| at.get(p) < Some(o)) {
            return Err(OfframpError::NotResumable(format!(
                "this instance's view is at offset {} of partition {p}, short of the snapshot's {o}",
                at.get(p).copied().unwrap_or(0)
            )));
        }
        Ok(view)
    }

    /// A consumer for one subscription, in `group` (or none: a SNAPSHOT).
    fn consumer(
        &self,
        group: Option<&str>,
        initial_position: InitialPosition,
        partition_ends: bool,
        topic: &str,
    ) -> Result<Made, OfframpError> {
        let mut config = self.kafka.consumer_config(group);
        let pacer = self.kafka.pacer(topic, &mut config);
        let (context, assignments) = SubscriptionContext::new(pacer.stats());
        config
            .set("session.timeout.ms", self.settings.session_timeout.as_millis().to_string())
            .set(
                "heartbeat.interval.ms",
                (self.settings.session_timeout / 3).as_millis().max(100).to_string(),
            )
            .set("max.poll.interval.ms", self.settings.max_poll_interval.as_millis().to_string())
            // Reaching a partition's end is an event only for those who ask.
            .set(
                "enable.partition.eof",
                if partition_ends && group.is_some() { "true" } else { "false" },
            )
            .set(
                "auto.offset.reset",
                match initial_position {
                    InitialPosition::Earliest => "earliest",
                    InitialPosition::Latest => "latest",
                },
            );
        let consumer = config
            .create_with_context(context)
            .map_err(|e| OfframpError::Kafka(format!("topic {topic}: {e}")))?;
        Ok((consumer, assignments, pacer))
    }
}

/// A subscription's consumer, where it reports assignment changes, and
/// its pacer.
type Made = (
    StreamConsumer<SubscriptionContext>,
    mpsc::UnboundedReceiver<context::Assignment>,
    crate::kafka::Pacer,
);

/// Where a queued SNAPSHOT waits for its turn.
struct Queue<'a> {
    events: &'a mpsc::Sender<Result<Vec<Event>, OfframpError>>,
    stop: &'a CancellationToken,
    ended: &'a std::sync::OnceLock<OfframpError>,
}

impl Queue<'_> {
    /// Waits for the turn, telling the subscriber its place whenever it
    /// changes; refuses after the server's queue timeout.
    async fn wait(
        &self,
        mut waiting: Waiting,
        quotas: &Quotas,
        account: &Account,
        road: &crate::roads::Road,
    ) -> Result<Snapshot, OfframpError> {
        let began = tokio::time::Instant::now();
        let deadline = tokio::time::sleep(quotas.settings().snapshot_queue_timeout);
        tokio::pin!(deadline);
        let mut told = 0;
        loop {
            let place = *waiting.place.borrow_and_update();
            if place != told && place > 0 {
                told = place;
                let event = Ok(vec![Event::SnapshotQueued(place)]);
                self.events.send(event).await.map_err(|_| OfframpError::SubscriberGone)?;
            }
            tokio::select! {
                biased;
                () = self.stop.cancelled() => {
                    return Err(self.ended.get().cloned().unwrap_or(OfframpError::ShuttingDown));
                }
                () = self.events.closed() => return Err(OfframpError::SubscriberGone),
                _ = &mut waiting.granted => {
                    quotas.queued(&road.name, began.elapsed());
                    return Ok(waiting.admit());
                }
                _ = waiting.place.changed() => {}
                () = &mut deadline => {
                    return Err(OfframpError::Quota(quotas.queue_timeout(account, road)));
                }
            }
        }
    }
}

impl Offramp {
    /// Ends the subscription (through `stop`, saying why in `ended`) as soon
    /// as its caller no longer qualifies: the road's rules changed so that
    /// it lost the right or a grant it asked for, or its token expired. The
    /// registry wakes this on every change, well within a second.
    fn watch_rights(
        &self,
        caller: Caller,
        start: &Start,
        stop: CancellationToken,
        ended: Arc<std::sync::OnceLock<OfframpError>>,
    ) {
        let registry = self.registry.clone();
        let guard = self.guard.clone();
        let (road, grants) = (start.road.clone(), start.grants.clone());
        let mut changes = registry.changes();
        let expiry = auth::remaining(&caller).map(|d| tokio::time::Instant::now() + d);
        tokio::spawn(async move {
            let expired = async {
                match expiry {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::pin!(expired);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = &mut expired => {
                        let why = "the token this subscription was opened with has expired";
                        guard.refused(&caller, Action::Subscribe, format!("road/{road}"), why.into());
                        let _ = ended.set(OfframpError::Unauthenticated(
                            auth::Unauthenticated::new("TOKEN_EXPIRED", format!("{why}; reconnect with a fresh one")),
                        ));
                        stop.cancel();
                        return;
                    }
                    changed = changes.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        // A deleted road ends its subscriptions its own way.
                        let Some(current) = registry.get(&road) else { continue };
                        if let Err(denied) = guard.subscribe(&caller, &road, Some(&current.road), &grants) {
                            let _ = ended.set(OfframpError::Denied(denied));
                            stop.cancel();
                            return;
                        }
                    }
                }
            }
        });
    }
}

/// Ends a consumer off the async runtime: closing leaves the group, which
/// waits for the coordinator.
fn close(consumer: Arc<StreamConsumer<SubscriptionContext>>) {
    tokio::task::spawn_blocking(move || {
        consumer.unsubscribe();
        drop(consumer);
    });
}
