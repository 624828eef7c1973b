//! Pacing consumers on brokers that answer empty fetches at once.
//!
//! Kafka holds a Fetch that finds nothing for up to `fetch.wait.max.ms`, and
//! librdkafka counts on it: the next Fetch goes out as soon as an answer
//! arrives, and no setting backs off after an empty one. A broker that
//! answers at once (some Kafka-protocol servers do) turns every idle
//! consumer into a spin of thousands of fetches a second.
//!
//! So a long-lived consumer reads its own statistics each second. Once they
//! show many fetches that brought nothing, the cluster is known to be
//! impatient (for every consumer of this instance, from then on), and each
//! partition with nothing left to fetch is paused. While any is paused, one
//! ListOffsets every [`PROBE_EVERY`] asks how far they reach; a partition
//! that grew is resumed, and paused again once statistics find it caught
//! up. Against a broker that holds its fetches nothing is ever paused, so
//! nothing waits for a probe.
//!
//! Pausing loses nothing: librdkafka resumes from the last record handed
//! out (or, before any, from where its fetching started), and a partition
//! is paused only once it handed out everything up to the end it is paused
//! at, so any record not yet handed out is past that end and the next
//! probe resumes it. Two things librdkafka does decide the
//! rest of the shape, both seen against a broker that answers at once:
//! - an offset lookup on the paced consumer itself disturbed its paused
//!   partitions (records were skipped after the resume), so probes go
//!   through a client of their own, one per instance;
//! - pausing a partition at once when its last record is taken, instead of
//!   at the next statistics, sometimes left it not fetching after the
//!   resume. A partition that resumed therefore fetches for up to a second
//!   or two before it rests again: pacing spares idle partitions, not ones
//!   with a record every second.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaResult;
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use serde::Deserialize;

/// How often paused partitions are asked whether they grew: at most this
/// much latency is added to a record on an impatient broker.
pub const PROBE_EVERY: Duration = Duration::from_millis(250);
/// How long a probe may take before the partitions are resumed regardless.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// A consumer fetching fewer times a second than this is never impatient,
/// however short `fetch.wait.max.ms` is set.
const MIN_SPIN_RATE: f64 = 50.0;

/// Whether this cluster's brokers answer empty fetches at once. Learned by
/// any consumer, used by all; a broker does not change its manners.
#[derive(Clone, Default)]
pub struct Impatience(Arc<AtomicBool>);

impl Impatience {
    pub fn known(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn learn(&self, rate: f64) {
        if !self.0.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                fetches_per_second = rate.round(),
                "the Kafka brokers answer empty fetches at once instead of holding them for \
                 fetch.wait.max.ms; idle partitions are paused and probed every {PROBE_EVERY:?}"
            );
        }
    }
}

/// A consumer's latest statistics, handed from its context to its pacer.
#[derive(Clone, Default)]
pub struct StatsSlot {
    latest: Arc<Mutex<Option<Sample>>>,
    arrived: Arc<tokio::sync::Notify>,
}

impl StatsSlot {
    /// Takes a statistics report (librdkafka's JSON). One that cannot be
    /// read is dropped: pacing then waits for the next.
    pub fn offer(&self, json: &[u8]) {
        let Ok(raw) = serde_json::from_slice::<Raw>(json) else { return };
        *self.latest.lock().unwrap_or_else(|e| e.into_inner()) = Some(Sample::from(raw));
        self.arrived.notify_one();
    }

    /// Waits for a report the pacer has not read.
    pub async fn arrived(&self) {
        self.arrived.notified().await;
    }

    fn take(&self) -> Option<Sample> {
        self.latest.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// librdkafka's default consumer behaviour, with statistics for a pacer.
pub struct PacedContext(pub StatsSlot);

impl ClientContext for PacedContext {
    fn stats_raw(&self, statistics: &[u8]) {
        self.0.offer(statistics);
    }
}

impl ConsumerContext for PacedContext {}

/// The parts of librdkafka's statistics pacing reads.
#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    rxmsgs: u64,
    #[serde(default)]
    brokers: HashMap<String, RawBroker>,
    #[serde(default)]
    topics: HashMap<String, RawTopic>,
}

#[derive(Deserialize)]
struct RawBroker {
    #[serde(default)]
    req: HashMap<String, u64>,
}

#[derive(Deserialize)]
struct RawTopic {
    #[serde(default)]
    partitions: HashMap<String, Fill>,
}

/// Where one partition's fetching stands.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
struct Fill {
    partition: i32,
    /// Records fetched and not yet handed out.
    fetchq_cnt: i64,
    /// The next offset to fetch.
    next_offset: i64,
    /// The offset after the last record handed out; negative before any.
    app_offset: i64,
    /// The high watermark the last fetch answer gave.
    hi_offset: i64,
}

impl Fill {
    /// Nothing left to fetch, and nothing fetched waits to be handed out.
    fn caught_up(&self) -> bool {
        self.hi_offset >= 0
            && self.fetchq_cnt == 0
            && self.next_offset >= self.hi_offset
            && (self.app_offset < 0 || self.app_offset >= self.hi_offset)
    }
}

struct Sample {
    at: Instant,
    fetches: u64,
    /// Brokers that were sent fetches.
    fetching_brokers: usize,
    received: u64,
    topics: HashMap<String, Vec<Fill>>,
}

impl From<Raw> for Sample {
    fn from(raw: Raw) -> Self {
        let fetches = raw.brokers.values().filter_map(|b| b.req.get("Fetch").copied());
        let fetching_brokers = fetches.clone().filter(|&n| n > 0).count();
        let topics = raw
            .topics
            .into_iter()
            .map(|(name, t)| {
                (name, t.partitions.into_values().filter(|f| f.partition >= 0).collect())
            })
            .collect();
        Self {
            at: Instant::now(),
            fetches: fetches.sum(),
            fetching_brokers,
            received: raw.rxmsgs,
            topics,
        }
    }
}

/// Paces one consumer of one topic.
pub struct Pacer {
    topic: String,
    impatience: Impatience,
    stats: StatsSlot,
    /// Empty fetches a second one broker could answer while holding each
    /// for `fetch.wait.max.ms`.
    patient_rate: f64,
    previous: Option<(Instant, u64, u64)>,
    /// Paused partitions, each with the end it had.
    idle: BTreeMap<i32, i64>,
    next_probe: Instant,
    /// What [`Pacer::apply`] last paused.
    applied: BTreeSet<i32>,
    /// The client that asks the probes: not the paced consumer, whose
    /// partitions an offset lookup would disturb.
    prober: Arc<BaseConsumer>,
}

impl Pacer {
    /// A pacer for a consumer of `topic` built from `config`, which it
    /// makes report statistics; the consumer's context must hand them to
    /// [`Pacer::stats`].
    pub fn new(
        topic: &str,
        impatience: Impatience,
        prober: Arc<BaseConsumer>,
        config: &mut ClientConfig,
    ) -> Self {
        config.set("statistics.interval.ms", "1000");
        let wait_ms: f64 =
            config.get("fetch.wait.max.ms").and_then(|v| v.parse().ok()).unwrap_or(500.0);
        Self {
            topic: topic.to_string(),
            impatience,
            stats: StatsSlot::default(),
            patient_rate: 1000.0 / wait_ms.max(1.0),
            previous: None,
            idle: BTreeMap::new(),
            next_probe: Instant::now(),
            applied: BTreeSet::new(),
            prober,
        }
    }

    /// A pacer like this one for a new consumer of the same settings.
    pub fn renew(&self) -> Self {
        Self {
            topic: self.topic.clone(),
            impatience: self.impatience.clone(),
            stats: StatsSlot::default(),
            patient_rate: self.patient_rate,
            previous: None,
            idle: BTreeMap::new(),
            next_probe: Instant::now(),
            applied: BTreeSet::new(),
            prober: self.prober.clone(),
        }
    }

    /// Where the consumer's context hands its statistics.
    pub fn stats(&self) -> StatsSlot {
        self.stats.clone()
    }

    /// The partitions to keep paused for idleness.
    pub fn idle(&self) -> impl Iterator<Item = i32> + '_ {
        self.idle.keys().copied()
    }

    /// Reads the statistics that arrived since the last call, if any.
    /// Returns whether the idle partitions changed.
    pub fn review(&mut self) -> bool {
        let Some(sample) = self.stats.take() else { return false };
        let before = self.previous.replace((sample.at, sample.fetches, sample.received));
        if let Some((at, fetches, received)) = before {
            let seconds = sample.at.duration_since(at).as_secs_f64();
            let fetched = sample.fetches.saturating_sub(fetches);
            let got = sample.received.saturating_sub(received);
            let rate = if seconds > 0.0 { fetched as f64 / seconds } else { 0.0 };
            let patient = self.patient_rate * 4.0 * sample.fetching_brokers.max(1) as f64;
            if rate > patient.max(MIN_SPIN_RATE) && fetched > 2 * got {
                self.impatience.learn(rate);
            }
        }
        if !self.impatience.known() {
            return false;
        }
        let mut changed = false;
        for fill in sample.topics.get(&self.topic).into_iter().flatten() {
            if self.idle.contains_key(&fill.partition) || !fill.caught_up() {
                continue;
            }
            changed |= self.rest(fill.partition, fill.hi_offset);
        }
        changed
    }

    fn rest(&mut self, partition: i32, end: i64) -> bool {
        if self.idle.is_empty() {
            self.next_probe = Instant::now() + PROBE_EVERY;
        }
        self.idle.insert(partition, end).is_none()
    }

    /// Forgets `partitions` (moved by a seek, or no longer assigned): they
    /// fetch again until statistics find them idle. Returns whether any was.
    pub fn forget(&mut self, partitions: impl IntoIterator<Item = i32>) -> bool {
        let mut changed = false;
        for p in partitions {
            changed |= self.idle.remove(&p).is_some();
        }
        changed
    }

    /// When the next probe is due: only while some partition is paused.
    pub fn due(&self) -> Option<Instant> {
        (!self.idle.is_empty()).then_some(self.next_probe)
    }

    /// Asks the brokers how far the paused partitions reach, and resumes
    /// those that grew. Blocks for a round trip. Returns whether any was
    /// resumed.
    pub fn probe(&mut self) -> bool {
        let answer = self.prober.offsets_for_times(self.probe_request(), PROBE_TIMEOUT);
        self.probe_answer(answer)
    }

    /// [`Pacer::probe`] on a blocking thread.
    pub async fn probe_async(&mut self) -> bool {
        let (request, prober) = (self.probe_request(), self.prober.clone());
        let answer =
            tokio::task::spawn_blocking(move || prober.offsets_for_times(request, PROBE_TIMEOUT))
                .await
                .unwrap_or(Err(rdkafka::error::KafkaError::Canceled));
        self.probe_answer(answer)
    }

    /// Waits until the next probe is due; forever while none is.
    pub async fn probe_due(&self) {
        match self.due() {
            Some(at) => tokio::time::sleep_until(at.into()).await,
            None => std::future::pending().await,
        }
    }

    /// What a probe asks: the latest offset of each paused partition.
    pub fn probe_request(&self) -> TopicPartitionList {
        let mut list = TopicPartitionList::new();
        for &p in self.idle.keys() {
            // ListOffsets reads a timestamp of -1 (Offset::End) as "latest".
            let _ = list.add_partition_offset(&self.topic, p, Offset::End);
        }
        list
    }

    /// Reads a probe's answer. A failed probe resumes every partition, so a
    /// broker that cannot answer it costs spinning, never records.
    pub fn probe_answer(&mut self, answer: KafkaResult<TopicPartitionList>) -> bool {
        self.next_probe = Instant::now() + PROBE_EVERY;
        let grown: Vec<i32> = match &answer {
            Ok(list) => self
                .idle
                .iter()
                .filter_map(|(&p, &end)| {
                    let e = list.find_partition(&self.topic, p)?;
                    match (e.error(), e.offset()) {
                        (Ok(()), Offset::Offset(latest)) if latest <= end => None,
                        _ => Some(p),
                    }
                })
                .collect(),
            Err(_) => self.idle.keys().copied().collect(),
        };
        for &p in &grown {
            self.idle.remove(&p);
        }
        !grown.is_empty()
    }

    /// Pauses and resumes `consumer`'s partitions of the topic to match
    /// [`Pacer::idle`], for a consumer that pauses for no other reason.
    pub fn apply<C: Consumer<X>, X: ConsumerContext>(&mut self, consumer: &C) -> KafkaResult<()> {
        let wanted: BTreeSet<i32> = self.idle.keys().copied().collect();
        let list = |ps: Vec<&i32>| {
            let mut list = TopicPartitionList::new();
            for &p in ps {
                list.add_partition(&self.topic, p);
            }
            list
        };
        let pause = list(wanted.difference(&self.applied).collect());
        let resume = list(self.applied.difference(&wanted).collect());
        if pause.count() > 0 {
            consumer.pause(&pause)?;
        }
        if resume.count() > 0 {
            consumer.resume(&resume)?;
        }
        self.applied = wanted;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(partition: i32, next: i64, app: i64, hi: i64, queued: i64) -> Fill {
        Fill { partition, fetchq_cnt: queued, next_offset: next, app_offset: app, hi_offset: hi }
    }

    fn report(fetches: u64, received: u64, fills: &[Fill]) -> String {
        let partitions: serde_json::Map<String, serde_json::Value> = fills
            .iter()
            .map(|f| {
                (
                    f.partition.to_string(),
                    serde_json::json!({
                        "partition": f.partition, "fetchq_cnt": f.fetchq_cnt,
                        "next_offset": f.next_offset, "app_offset": f.app_offset,
                        "hi_offset": f.hi_offset, "msgq_cnt": 0,
                    }),
                )
            })
            .chain([(
                "-1".into(),
                serde_json::json!({"partition": -1, "fetchq_cnt": 0,
                "next_offset": -1001, "app_offset": -1001, "hi_offset": -1001}),
            )])
            .collect();
        serde_json::json!({
            "name": "c", "rxmsgs": received,
            "brokers": {"b:9092/1": {"req": {"Fetch": fetches, "Heartbeat": 3}}},
            "topics": {"t": {"topic": "t", "partitions": partitions}},
        })
        .to_string()
    }

    fn prober() -> Arc<BaseConsumer> {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", "127.0.0.1:1").set("group.id", "probe");
        Arc::new(config.create().expect("a consumer"))
    }

    fn pacer() -> Pacer {
        Pacer::new("t", Impatience::default(), prober(), &mut ClientConfig::new())
    }

    /// Two reports a second apart: `fetches` sent in between.
    fn feed(p: &mut Pacer, fetches: u64, received: u64, fills: &[Fill]) -> bool {
        p.stats.offer(report(0, 0, &[]).as_bytes());
        p.review();
        p.previous = p.previous.map(|(at, f, r)| (at - Duration::from_secs(1), f, r));
        p.stats.offer(report(fetches, received, fills).as_bytes());
        p.review()
    }

    #[test]
    fn a_broker_that_holds_its_fetches_never_gets_a_partition_paused() {
        let mut p = pacer();
        // Two brokers' worth of held fetches, every partition caught up.
        assert!(!feed(&mut p, 4, 0, &[fill(0, 10, 10, 10, 0)]));
        assert!(!p.impatience.known());
        assert_eq!(p.idle().count(), 0);
        assert_eq!(p.due(), None);
    }

    #[test]
    fn many_fetches_that_carry_records_are_not_impatience() {
        let mut p = pacer();
        assert!(!feed(&mut p, 5_000, 400_000, &[fill(0, 10, 10, 10, 0)]));
        assert!(!p.impatience.known());
    }

    #[test]
    fn on_an_impatient_broker_only_caught_up_partitions_rest() {
        let mut p = pacer();
        let fills = [
            fill(0, 10, 10, 10, 0),    // caught up
            fill(1, 10, 4, 10, 6),     // fetched, not yet handed out
            fill(2, 7, 7, 10, 0),      // more to fetch
            fill(3, 20, -1001, 20, 0), // nothing handed out: never paused
        ];
        assert!(feed(&mut p, 9_000, 3, &fills));
        assert!(p.impatience.known());
        assert_eq!(p.idle().collect::<Vec<_>>(), vec![0, 3]);
        assert!(p.due().is_some());
        // Every other pacer of the instance knows at once.
        let mut other = Pacer::new("t", p.impatience.clone(), prober(), &mut ClientConfig::new());
        other.stats.offer(report(0, 0, &[fill(5, 1, 1, 1, 0)]).as_bytes());
        assert!(other.review());
    }

    #[test]
    fn a_probe_resumes_what_grew_and_statistics_pause_it_again() {
        let mut p = pacer();
        feed(&mut p, 9_000, 0, &[fill(0, 10, 10, 10, 0), fill(1, 5, 5, 5, 0)]);
        let request = p.probe_request();
        assert_eq!(request.count(), 2);
        let mut answer = TopicPartitionList::new();
        answer.add_partition_offset("t", 0, Offset::Offset(13)).unwrap();
        answer.add_partition_offset("t", 1, Offset::Offset(5)).unwrap();
        assert!(p.probe_answer(Ok(answer)));
        assert_eq!(p.idle().collect::<Vec<_>>(), vec![1]);
        // Fetched but not all handed out yet: it stays resumed.
        p.stats.offer(report(9_000, 1, &[fill(0, 13, 11, 13, 2)]).as_bytes());
        assert!(!p.review());
        p.stats.offer(report(9_000, 3, &[fill(0, 13, 13, 13, 0)]).as_bytes());
        assert!(p.review());
        assert_eq!(p.idle().collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(p.idle[&0], 13);
    }

    #[test]
    fn a_failed_probe_resumes_every_partition() {
        let mut p = pacer();
        feed(&mut p, 9_000, 0, &[fill(0, 10, 10, 10, 0)]);
        assert!(p.probe_answer(Err(rdkafka::error::KafkaError::Canceled)));
        assert_eq!(p.idle().count(), 0);
        assert_eq!(p.due(), None);
        assert!(!p.forget([0]));
    }

    #[test]
    fn an_unreadable_report_is_dropped() {
        let p = pacer();
        p.stats.offer(b"{not json");
        assert!(p.stats.take().is_none());
    }
}
