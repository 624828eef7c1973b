//! A subscription's delivery loop: records from the consumer go out one per
//! unit of credit. Without credit they wait in a bounded buffer; once it is
//! full the partitions are paused (the consumer keeps polling, so the member
//! stays in its group) and resumed when it drains. Pausing is lossless:
//! librdkafka resumes from the last record it handed out.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::context::{Assignment, SubscriptionContext};
use super::credit::Credit;
use super::held::Held;
use super::render::Renderer;
use super::snapshot::{Progress, Verdict};
use super::{Command, Delivered, Event, OfframpError, SeekTo};
use crate::kafka::Pacer;
use crate::quotas::Payer;

/// How long a seek, commit or offset lookup may take.
const KAFKA_TIMEOUT: Duration = Duration::from_secs(10);

/// Records taken from the consumer per wake-up beyond the first, at most.
const DRAIN: usize = 512;

/// Waits until `at`; forever without one.
async fn sleep_until(at: Option<std::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// What waits to go out, in order.
#[derive(Debug)]
pub(super) enum Outgoing {
    Message(Delivered),
    /// The end of a snapshot: sent without credit, after every snapshot
    /// message before it.
    SnapshotComplete(BTreeMap<i32, i64>),
    /// A partition's end (partition, next offset): sent without credit,
    /// after the partition's records before it.
    PartitionEnd(i32, i64),
}

/// Where a subscription reports its deliveries.
pub(super) struct Observed {
    telemetry: crate::telemetry::Telemetry,
    road: String,
    group: Option<String>,
}

pub(super) struct Session {
    pub consumer: Arc<StreamConsumer<SubscriptionContext>>,
    /// Pauses idle partitions on a broker that answers fetches at once.
    pacer: Pacer,
    pub topic: String,
    pub credit: Credit,
    pub renderer: Renderer,
    pub events: mpsc::Sender<Result<Vec<Event>, OfframpError>>,
    /// Events of the current wake-up, sent together.
    outbox: Vec<Event>,
    /// Changes read before a snapshot completed, sent after it.
    early: Vec<Delivered>,
    pub stop: CancellationToken,
    /// Why `stop` fired when it was not shutdown: the caller lost its right
    /// to the road, or its token expired.
    pub ended: Arc<std::sync::OnceLock<OfframpError>>,
    /// Received but not yet sent, for lack of credit.
    pub held: Held,
    /// Fetching is paused because `held` filled up.
    throttled: bool,
    pub assignment: BTreeSet<i32>,
    paused: BTreeSet<i32>,
    /// Set while a snapshot filters what is delivered.
    pub snapshot: Option<Progress>,
    /// Whether this subscription belongs to a consumer group (and so can
    /// commit).
    pub group: bool,
    /// Where deliveries are counted and traced: for which road, in which
    /// consumer group.
    observed: Option<Observed>,
    opened: std::time::Instant,
    /// Since when records have waited for credit.
    starved_since: Option<std::time::Instant>,
    /// The quotas deliveries pay into.
    payer: Option<Payer>,
    /// Payload bytes in the outbox not yet paid for.
    unpaid: u64,
    /// The last flush stopped at the budget with records still sendable.
    over_budget: bool,
    /// A SNAPSHOT's place among the road's concurrent snapshots, given up
    /// at `snapshot_complete`: following changes costs little.
    loading: Option<Loading>,
}

/// A SNAPSHOT reading the current state: holds its place and counts in
/// `roadroller_snapshots_loading` until dropped.
pub(super) struct Loading {
    _place: crate::quotas::Snapshot,
    metrics: std::sync::Arc<crate::telemetry::Metrics>,
    road: String,
}

impl Loading {
    pub fn new(
        place: crate::quotas::Snapshot,
        metrics: std::sync::Arc<crate::telemetry::Metrics>,
        road: &str,
    ) -> Self {
        metrics.snapshot_loading(road, 1);
        Self { _place: place, metrics, road: road.to_string() }
    }
}

impl Drop for Loading {
    fn drop(&mut self) {
        self.metrics.snapshot_loading(&self.road, -1);
    }
}

impl Session {
    /// A session delivering from `consumer`, paced by its `pacer`.
    pub fn new(
        (consumer, pacer): (Arc<StreamConsumer<SubscriptionContext>>, Pacer),
        topic: String,
        credit: Credit,
        renderer: Renderer,
        events: mpsc::Sender<Result<Vec<Event>, OfframpError>>,
        stop: CancellationToken,
        ended: Arc<std::sync::OnceLock<OfframpError>>,
    ) -> Self {
        Self {
            consumer,
            pacer,
            topic,
            credit,
            renderer,
            events,
            outbox: Vec::new(),
            early: Vec::new(),
            stop,
            ended,
            held: Held::default(),
            throttled: false,
            assignment: BTreeSet::new(),
            paused: BTreeSet::new(),
            snapshot: None,
            group: true,
            observed: None,
            opened: std::time::Instant::now(),
            starved_since: None,
            payer: None,
            unpaid: 0,
            over_budget: false,
            loading: None,
        }
    }

    /// Holds a SNAPSHOT's place until its `snapshot_complete`.
    pub fn loading(&mut self, loading: Loading) {
        self.loading = Some(loading);
    }

    /// Delays deliveries to the caller's and the road's Offramp limits.
    pub fn pay_with(&mut self, payer: Payer) {
        self.payer = Some(payer);
    }

    /// Counts and traces this subscription's deliveries under `road`.
    pub fn observe(
        &mut self,
        telemetry: crate::telemetry::Telemetry,
        road: &str,
        group: Option<&str>,
    ) {
        self.observed =
            Some(Observed { telemetry, road: road.to_string(), group: group.map(str::to_string) });
    }

    /// Why the subscription was stopped from outside.
    pub fn stop_reason(&self) -> OfframpError {
        self.ended.get().cloned().unwrap_or(OfframpError::ShuttingDown)
    }

    /// Sends an event at once; fails when the subscriber is gone.
    pub async fn send(&mut self, event: Event) -> Result<(), OfframpError> {
        self.outbox.push(event);
        self.flush_outbox().await
    }

    /// Queues an event for the end of this wake-up.
    fn emit(&mut self, event: Event) {
        self.outbox.push(event);
    }

    pub async fn flush_outbox(&mut self) -> Result<(), OfframpError> {
        if self.outbox.is_empty() {
            return Ok(());
        }
        if let Some(payer) = &self.payer
            && self.unpaid > 0
        {
            // Delivery waits for the quota; what was received stays held,
            // so nothing is skipped. A batch is at most a bucketful, so the
            // wait is short and commands are served again soon.
            let events = self.events.clone();
            tokio::select! {
                biased;
                () = self.stop.cancelled() => return Err(self.stop_reason()),
                () = events.closed() => return Err(OfframpError::SubscriberGone),
                () = payer.pay(self.unpaid) => {}
            }
            self.unpaid = 0;
        }
        let batch = std::mem::take(&mut self.outbox);
        self.events.send(Ok(batch)).await.map_err(|_| OfframpError::SubscriberGone)
    }

    /// A GROUP subscription: joins the stream's consumer group and delivers
    /// until the subscriber leaves or the server stops.
    pub async fn run_group(
        mut self,
        commands: mpsc::Receiver<Command>,
        assignments: mpsc::UnboundedReceiver<Assignment>,
    ) -> Result<(), OfframpError> {
        self.consumer
            .subscribe(&[&self.topic])
            .map_err(|e| OfframpError::Kafka(format!("topic {}: {e}", self.topic)))?;
        let result = self.deliver(commands, assignments).await;
        super::close(self.consumer.clone());
        self.fail(result).await
    }

    /// Sends a fatal error as the subscription's last word.
    pub async fn fail(&self, result: Result<(), OfframpError>) -> Result<(), OfframpError> {
        if let Err(e) = &result
            && !matches!(e, OfframpError::SubscriberGone)
        {
            let _ = self.events.send(Err(e.clone())).await;
        }
        result
    }

    /// The delivery loop. Each wake-up takes every record ready (up to a
    /// bound), then sends what credit allows in one batch.
    pub async fn deliver(
        &mut self,
        mut commands: mpsc::Receiver<Command>,
        mut assignments: mpsc::UnboundedReceiver<Assignment>,
    ) -> Result<(), OfframpError> {
        let consumer = self.consumer.clone();
        let stats = self.pacer.stats();
        loop {
            self.flush_held();
            self.flush_outbox().await?;
            self.update_pause()?;
            let events = self.events.clone();
            let probe = self.pacer.due();
            tokio::select! {
                biased;
                () = self.stop.cancelled() => return Err(self.stop_reason()),
                // The subscriber went away (its call was cancelled), even if
                // there is nothing to send it: the consumer leaves now.
                () = events.closed() => return Err(OfframpError::SubscriberGone),
                // The last delivery stopped at the quota's budget: go on.
                () = std::future::ready(()), if self.over_budget => {}
                command = commands.recv() => match command {
                    None => return Ok(()),
                    Some(command) => self.handle(command).await?,
                },
                Some(change) = assignments.recv() => self.reassigned(change),
                () = stats.arrived() => {
                    self.pacer.review();
                }
                () = sleep_until(probe) => {
                    self.pacer.probe_async().await;
                }
                // Always polled, with or without credit: polling keeps the
                // member in its group and runs rebalances.
                message = consumer.recv() => {
                    self.take(message);
                    for _ in 0..DRAIN {
                        if self.held.is_full() {
                            break;
                        }
                        match consumer.recv().now_or_never() {
                            Some(message) => self.take(message),
                            None => break,
                        }
                    }
                }
            }
        }
    }

    /// A record from the consumer: filtered by the snapshot while one is
    /// being delivered (before rendering, so skipped records cost little),
    /// then held until credit allows it out.
    fn take(&mut self, message: KafkaResult<BorrowedMessage<'_>>) {
        let m = match message {
            Ok(m) => m,
            Err(rdkafka::error::KafkaError::PartitionEOF(partition)) => {
                let next = self.position(partition);
                self.held.push(Outgoing::PartitionEnd(partition, next));
                return;
            }
            Err(e) => {
                tracing::warn!(topic = %self.topic, error = %e, "consumer error");
                self.emit(Event::Error(format!("topic {}: {e}", self.topic)));
                return;
            }
        };
        let verdict = match &mut self.snapshot {
            Some(progress) => progress.judge(m.partition(), m.offset()),
            None => Verdict::Send,
        };
        if verdict == Verdict::Skip {
            return;
        }
        match (self.renderer.render(&m), verdict) {
            (Ok(delivered), Verdict::Early) => self.early.push(delivered),
            (Ok(delivered), _) => self.held.push(Outgoing::Message(delivered)),
            (Err(reason), _) => self.emit(Event::Error(reason)),
        }
        if let Some(ends) = self.snapshot.as_mut().and_then(Progress::take_completion) {
            self.held.push(Outgoing::SnapshotComplete(ends));
            for delivered in std::mem::take(&mut self.early) {
                self.held.push(Outgoing::Message(delivered));
            }
        }
    }

    /// Moves what credit allows from `held` to the outbox, in order.
    pub fn flush_held(&mut self) {
        let (mut records, mut bytes) = (0u64, 0u64);
        let first = self.outbox.len();
        let mut starved = false;
        // Under an Offramp limit, one delivery carries at most a bucketful.
        let budget =
            if self.held.is_empty() { None } else { self.payer.as_ref().and_then(Payer::budget) };
        self.over_budget = false;
        while let Some(next) = self.held.front() {
            if budget.is_some_and(|b| records > 0 && bytes >= b) {
                self.over_budget = true;
                break;
            }
            if matches!(next, Outgoing::Message(_)) && !self.credit.take() {
                starved = true;
                break;
            }
            match self.held.pop_front() {
                Some(Outgoing::Message(d)) => {
                    records += 1;
                    bytes += d.payload.as_ref().map_or(0, |p| p.len() as u64);
                    self.outbox.push(Event::Message(d))
                }
                Some(Outgoing::PartitionEnd(partition, next_offset)) => {
                    self.outbox.push(Event::PartitionEnd { partition, next_offset })
                }
                Some(Outgoing::SnapshotComplete(ends)) => {
                    // The next SNAPSHOT in the road's queue may start.
                    self.loading = None;
                    if let Some(o) = &self.observed {
                        o.telemetry.metrics.snapshot_took(&o.road, self.opened.elapsed());
                    }
                    self.outbox.push(Event::SnapshotComplete(ends))
                }
                None => break,
            }
        }
        if self.payer.is_some() {
            self.unpaid += bytes;
        }
        let Some(o) = &self.observed else { return };
        let (metrics, road) = (&o.telemetry.metrics, &o.road);
        if records > 0 {
            metrics.delivered(road, records, bytes);
            // One span for the batch, linked to where its records came from.
            if o.telemetry.tracing.is_on() {
                let carried = self.outbox[first..].iter().filter_map(|e| match e {
                    Event::Message(d) => d
                        .traceparent
                        .as_ref()
                        .map(|tp| (tp.as_str(), d.tracestate.as_ref().map(super::Text::as_str))),
                    _ => None,
                });
                o.telemetry.tracing.process(
                    &self.topic,
                    o.group.as_deref(),
                    records as usize,
                    carried,
                );
            }
        }
        match (starved, self.starved_since) {
            (true, None) => self.starved_since = Some(std::time::Instant::now()),
            (false, Some(since)) => {
                metrics.starved(road, since.elapsed());
                self.starved_since = None;
            }
            _ => {}
        }
    }

    /// Pauses every partition while the held records are at their bound,
    /// the partitions a snapshot holds back and those the pacer finds idle;
    /// resumes the rest.
    fn update_pause(&mut self) -> Result<(), OfframpError> {
        if self.held.is_full() {
            self.throttled = true;
        } else if self.held.has_room() {
            self.throttled = false;
        }
        let mut wanted: BTreeSet<i32> = if self.throttled {
            self.assignment.clone()
        } else {
            self.snapshot.as_ref().map(|s| s.held_back(&self.assignment)).unwrap_or_default()
        };
        wanted.extend(self.pacer.idle().filter(|p| self.assignment.contains(p)));
        if wanted == self.paused {
            return Ok(());
        }
        let pause: Vec<i32> = wanted.difference(&self.paused).copied().collect();
        let resume: Vec<i32> = self.paused.difference(&wanted).copied().collect();
        if !pause.is_empty() {
            self.consumer.pause(&self.list(&pause)).map_err(|e| self.kafka_error("pause", e))?;
        }
        if !resume.is_empty() {
            self.consumer.resume(&self.list(&resume)).map_err(|e| self.kafka_error("resume", e))?;
        }
        self.paused = wanted;
        Ok(())
    }

    async fn handle(&mut self, command: Command) -> Result<(), OfframpError> {
        match command {
            Command::Request(count) => {
                if let Err(reason) = self.credit.add(count) {
                    self.emit(Event::Error(reason));
                }
            }
            Command::Cancel => self.credit.cancel(),
            Command::Commit { correlation_id, offsets } => {
                let outcome = self.commit(&offsets).await;
                let (success, error) = match outcome {
                    Ok(()) => (true, String::new()),
                    Err(e) => (false, e),
                };
                self.emit(Event::CommitResponse { correlation_id, success, error });
            }
            Command::Seek(to) => {
                if let Err(reason) = self.seek(to).await {
                    self.emit(Event::Error(reason));
                }
            }
            Command::Refuse(reason) => self.emit(Event::Error(reason)),
            Command::Abort(reason) => return Err(OfframpError::Protocol(reason)),
        }
        Ok(())
    }

    async fn commit(&self, offsets: &BTreeMap<i32, i64>) -> Result<(), String> {
        if !self.group {
            return Err(
                "a SNAPSHOT subscription reads outside any consumer group and cannot commit".into(),
            );
        }
        if offsets.is_empty() {
            return Err("no offsets to commit".into());
        }
        let mut list = TopicPartitionList::new();
        for (&partition, &offset) in offsets {
            if !self.assignment.contains(&partition) {
                return Err(format!("partition {partition} is not assigned to this subscriber"));
            }
            if offset < 0 {
                return Err(format!("offset {offset} for partition {partition} is negative"));
            }
            list.add_partition_offset(&self.topic, partition, Offset::Offset(offset))
                .map_err(|e| e.to_string())?;
        }
        let consumer = self.consumer.clone();
        let topic = self.topic.clone();
        tokio::task::spawn_blocking(move || consumer.commit(&list, CommitMode::Sync))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("topic {topic}: {e}"))
    }

    async fn seek(&mut self, to: SeekTo) -> Result<(), String> {
        if self.snapshot.as_ref().is_some_and(|s| !s.is_complete()) {
            return Err("seek is available once the snapshot is complete".into());
        }
        // After a seek the snapshot's positions no longer apply.
        self.snapshot = None;
        let held: Vec<i32> = self.assignment.iter().copied().collect();
        let mut list = TopicPartitionList::new();
        let add = |list: &mut TopicPartitionList, p: i32, o: Offset| {
            list.add_partition_offset(&self.topic, p, o).map_err(|e| e.to_string())
        };
        match to {
            SeekTo::Beginning => {
                held.iter().try_for_each(|&p| add(&mut list, p, Offset::Beginning))?
            }
            SeekTo::End => held.iter().try_for_each(|&p| add(&mut list, p, Offset::End))?,
            SeekTo::Offsets(offsets) => {
                for (p, o) in offsets {
                    if !self.assignment.contains(&p) {
                        return Err(format!("partition {p} is not assigned to this subscriber"));
                    }
                    if o < 0 {
                        return Err(format!("offset {o} for partition {p} is negative"));
                    }
                    add(&mut list, p, Offset::Offset(o))?;
                }
            }
            SeekTo::Timestamp(ms) => {
                let mut times = TopicPartitionList::new();
                held.iter().try_for_each(|&p| add(&mut times, p, Offset::Offset(ms)))?;
                let consumer = self.consumer.clone();
                let found = tokio::task::spawn_blocking(move || {
                    consumer.offsets_for_times(times, KAFKA_TIMEOUT)
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("topic {}: {e}", self.topic))?;
                for element in found.elements() {
                    // No record at or after the time: the end.
                    let offset = match element.offset() {
                        Offset::Offset(o) => Offset::Offset(o),
                        _ => Offset::End,
                    };
                    add(&mut list, element.partition(), offset)?;
                }
            }
        }
        if list.count() == 0 {
            return Ok(());
        }
        let moved: BTreeSet<i32> = list.elements().iter().map(|e| e.partition()).collect();
        // Records already received from these partitions are from before the
        // seek.
        self.held.forget(&moved);
        self.pacer.forget(moved.iter().copied());
        let consumer = self.consumer.clone();
        let result =
            tokio::task::spawn_blocking(move || consumer.seek_partitions(list, KAFKA_TIMEOUT))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("topic {}: {e}", self.topic))?;
        for element in result.elements() {
            if let Err(e) = element.error() {
                return Err(format!("partition {}: {e}", element.partition()));
            }
        }
        Ok(())
    }

    fn reassigned(&mut self, change: Assignment) {
        match change {
            Assignment::Assigned(partitions) => {
                self.assignment = partitions.iter().copied().collect();
                // Paced again once statistics find them idle.
                let idle: Vec<i32> = self.pacer.idle().collect();
                self.pacer.forget(idle);
                // Newly assigned partitions start unpaused.
                self.paused.retain(|p| self.assignment.contains(p));
                self.emit(Event::Rebalance(partitions));
            }
            Assignment::Revoked(partitions) => {
                let revoked: BTreeSet<i32> = partitions.into_iter().collect();
                self.assignment.retain(|p| !revoked.contains(p));
                self.paused.retain(|p| !revoked.contains(p));
                self.pacer.forget(revoked.iter().copied());
                // Not committed, so the next owner delivers them.
                self.held.forget(&revoked);
            }
        }
    }

    /// The consumer's next offset on `partition`: at a partition's end, the
    /// end. -1 when it has none.
    fn position(&self, partition: i32) -> i64 {
        let positions = self.consumer.position().ok();
        let element = positions.as_ref().and_then(|p| p.find_partition(&self.topic, partition));
        match element.map(|e| e.offset()) {
            Some(Offset::Offset(o)) => o,
            _ => -1,
        }
    }

    pub fn list(&self, partitions: &[i32]) -> TopicPartitionList {
        let mut list = TopicPartitionList::new();
        for &p in partitions {
            list.add_partition(&self.topic, p);
        }
        list
    }

    pub fn kafka_error(&self, what: &str, e: impl std::fmt::Display) -> OfframpError {
        OfframpError::Kafka(format!("topic {}: {what}: {e}", self.topic))
    }
}
