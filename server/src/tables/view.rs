//! Keeping one road's view: a thread that reads every partition of the topic
//! with its own (group-less) consumer and applies each batch of records to
//! the store together with the offsets after it.
//!
//! At start the view checks that its file belongs to this topic and road
//! (the road's creation time) and that the topic still holds every record
//! after the recorded offsets; otherwise it starts again from empty. It is
//! ready once it has reached the end offsets seen at its start.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use super::store::{Change, Offsets, Store, StoreError};
use crate::kafka::{PacedContext, Pacer};

/// Where a view stands, as readers wait on it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub offsets: Arc<Offsets>,
    pub ready: bool,
    /// Why the view is not following; empty when it is.
    pub problem: String,
    /// Grows each time the view starts again from empty.
    pub generation: u64,
}

/// What a view follows.
#[derive(Clone, Debug)]
pub struct Source {
    pub road: String,
    pub topic: String,
    pub partitions: i32,
    /// The road's creation time: a road deleted and created again under the
    /// same name has a new one, and a new topic.
    pub road_created_ms: i64,
    pub tombstone_retention_ms: u64,
}

/// Records applied per transaction at most: following live, and while
/// catching up. Catching up, a transaction is as large as 32 MiB allows:
/// keys spread over the whole key space make every transaction rewrite
/// most of the B-tree's leaves, so fewer transactions write far less (and
/// the view answers only once caught up anyway).
const BATCH: usize = 5_000;
const CATCH_UP_BATCH: usize = 1_000_000;
/// Bytes of keys and values held for one catching-up transaction.
const CATCH_UP_BYTES: usize = 32 << 20;
/// How long a catching-up transaction waits for the next fetch.
const CATCH_UP_GAP: Duration = Duration::from_millis(20);
/// Fetched records queued for the view's thread, in KiB: enough to keep
/// fetches coming while a catching-up transaction commits.
pub const QUEUED_KBYTES: &str = "16384";
/// How often an applied state is made durable (in between, a crash returns
/// the view to the last durable state, which it then reads forward from).
const DURABLE_EVERY: Duration = Duration::from_secs(1);
/// How long one poll waits for records when the view is caught up.
const IDLE_POLL: Duration = Duration::from_millis(500);
const KAFKA_TIMEOUT: Duration = Duration::from_secs(10);

/// A running view.
pub struct View {
    pub source: Source,
    pub store: Arc<Store>,
    pub position: watch::Receiver<Position>,
    stop: Arc<AtomicBool>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
    /// Records applied since this process opened the view.
    pub applied: Arc<std::sync::atomic::AtomicU64>,
}

impl View {
    /// Starts following `source` with consumers of the `consumer` settings,
    /// each paced like `pacer`.
    pub fn start(
        source: Source,
        store: Store,
        consumer: ClientConfig,
        pacer: Pacer,
    ) -> std::io::Result<Self> {
        let store = Arc::new(store);
        let (tx, position) = watch::channel(Position::default());
        let stop = Arc::new(AtomicBool::new(false));
        let applied = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let thread = std::thread::Builder::new().name(format!("view-{}", source.road)).spawn({
            let (source, store, stop, applied) =
                (source.clone(), store.clone(), stop.clone(), applied.clone());
            move || follow(&source, &store, (&consumer, &pacer), &tx, &stop, &applied)
        })?;
        Ok(Self {
            source,
            store,
            position,
            stop,
            thread: std::sync::Mutex::new(Some(thread)),
            applied,
        })
    }

    /// Stops following and waits for the thread; the file stays.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.lock().expect("view thread").take() {
            let _ = thread.join();
        }
    }
}

impl Drop for View {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Follows until stopped, starting again after each failure.
fn follow(
    source: &Source,
    store: &Store,
    consumer: (&ClientConfig, &Pacer),
    tx: &watch::Sender<Position>,
    stop: &AtomicBool,
    applied: &std::sync::atomic::AtomicU64,
) {
    let mut generation = 0;
    while !stop.load(Ordering::Relaxed) {
        let problem = match run(source, store, consumer, tx, stop, applied, &mut generation) {
            Ok(()) => return,
            Err(problem) => problem,
        };
        tracing::warn!(road = %source.road, %problem, "view stopped following; retrying");
        tx.send_modify(|p| {
            p.problem = problem.clone();
        });
        let until = Instant::now() + Duration::from_secs(1);
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn run(
    source: &Source,
    store: &Store,
    (config, pacer): (&ClientConfig, &Pacer),
    tx: &watch::Sender<Position>,
    stop: &AtomicBool,
    applied: &std::sync::atomic::AtomicU64,
    generation: &mut u64,
) -> Result<(), String> {
    let kafka =
        |what: &str, e: rdkafka::error::KafkaError| format!("topic {}: {what}: {e}", source.topic);
    let failed = |e: StoreError| e.to_string();
    let mut pacer = pacer.renew();
    let consumer: BaseConsumer<PacedContext> = config
        .create_with_context(PacedContext(pacer.stats()))
        .map_err(|e| kafka("consumer", e))?;
    let mut ends = Offsets::new();
    let mut starts = Offsets::new();
    for partition in 0..source.partitions {
        let (low, high) = consumer
            .fetch_watermarks(&source.topic, partition, KAFKA_TIMEOUT)
            .map_err(|e| kafka(&format!("partition {partition} watermarks"), e))?;
        starts.insert(partition, low);
        ends.insert(partition, high);
    }
    let created = source.road_created_ms.to_string();
    let mut offsets = store.offsets().map_err(failed)?;
    let belongs = store.meta("topic").map_err(failed)?.as_deref() == Some(source.topic.as_str())
        && store.meta("road_created").map_err(failed)?.as_deref() == Some(created.as_str());
    let covered = offsets.iter().all(|(p, o)| {
        starts.get(p).is_some_and(|low| o >= low) && ends.get(p).is_some_and(|high| o <= high)
    });
    if !belongs || !covered {
        if !offsets.is_empty() {
            tracing::info!(road = %source.road, belongs, covered, "view starts again from empty");
        }
        store.clear().map_err(failed)?;
        store.set_meta("topic", &source.topic).map_err(failed)?;
        store.set_meta("road_created", &created).map_err(failed)?;
        offsets.clear();
        *generation += 1;
    }
    for (&partition, &low) in &starts {
        offsets.entry(partition).or_insert(low);
    }
    let mut assignment = TopicPartitionList::new();
    for (&partition, &from) in &offsets {
        assignment
            .add_partition_offset(&source.topic, partition, Offset::Offset(from))
            .map_err(|e| kafka("assign", e))?;
    }
    consumer.assign(&assignment).map_err(|e| kafka("assign", e))?;
    let reached = |offsets: &Offsets| ends.iter().all(|(p, end)| offsets.get(p) >= Some(end));
    let mut ready = reached(&offsets);
    let publish = |offsets: &Offsets, ready: bool, generation: u64| {
        tx.send_replace(Position {
            offsets: Arc::new(offsets.clone()),
            ready,
            problem: String::new(),
            generation,
        });
    };
    publish(&offsets, ready, *generation);
    let mut durable_at = Instant::now();
    let mut dirty = false;
    let mut batch = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        batch.clear();
        if ready && batch.capacity() > 2 * BATCH {
            // Caught up: the catching-up transaction's room goes back.
            batch = Vec::new();
        }
        let mut moved = false;
        let mut wait = if ready { IDLE_POLL } else { Duration::from_millis(100) };
        if let Some(due) = pacer.due() {
            wait = wait.min(due.saturating_duration_since(Instant::now()));
        }
        let mut paced = false;
        let limit = if ready { BATCH } else { CATCH_UP_BATCH };
        let mut bytes = 0;
        while batch.len() < limit && bytes < CATCH_UP_BYTES {
            // What has arrived first, without reading the clock.
            let Some(message) = consumer.poll(Duration::ZERO).or_else(|| consumer.poll(wait))
            else {
                break;
            };
            // Catching up, the transaction fills while fetches keep coming;
            // following, it takes what has arrived.
            wait = if ready { Duration::ZERO } else { CATCH_UP_GAP };
            let m = message.map_err(|e| kafka("fetch", e))?;
            moved = true;
            offsets.insert(m.partition(), m.offset() + 1);
            // A record without a key is not part of the table.
            let Some(key) = m.key() else { continue };
            bytes += key.len() + m.payload().map_or(0, <[u8]>::len);
            batch.push(Change {
                key: key.to_vec(),
                partition: m.partition(),
                offset: m.offset(),
                timestamp_ms: m.timestamp().to_millis().unwrap_or(0),
                schema_version: crate::kafka::schema_version(&m),
                payload: m.payload().map(<[u8]>::to_vec),
            });
        }
        paced |= pacer.review();
        if pacer.due().is_some_and(|due| due <= Instant::now()) {
            paced |= pacer.probe();
        }
        if paced {
            pacer.apply(&consumer).map_err(|e| kafka("pause", e))?;
        }
        let durable = durable_at.elapsed() >= DURABLE_EVERY;
        if !(moved || durable && dirty) {
            continue;
        }
        let horizon = now_ms() - source.tombstone_retention_ms as i64;
        store.apply(&batch, &offsets, horizon, durable).map_err(failed)?;
        applied.fetch_add(batch.len() as u64, Ordering::Relaxed);
        dirty = !durable;
        if durable {
            durable_at = Instant::now();
        }
        ready = ready || reached(&offsets);
        publish(&offsets, ready, *generation);
    }
    if dirty {
        let horizon = now_ms() - source.tombstone_retention_ms as i64;
        store.apply(&[], &offsets, horizon, true).map_err(failed)?;
    }
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
