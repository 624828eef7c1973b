//! The road registry: road documents kept in Kafka itself, in a
//! single-partition compacted topic (key = road name, value = the document),
//! tailed by every instance into memory.
//!
//! Reads are served from memory. A write is produced to the topic and returns
//! only once this instance has applied it, so the writer reads its own write;
//! other instances apply it within their tailing delay. Concurrency control is
//! the compare-and-set of [`table`], decided by log order, the same on every
//! instance.

pub(crate) mod record;
mod table;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::kafka::delivery::Batch;
use crate::kafka::{AdminError, Kafka, Outgoing, PacedContext, Pacer, TopicSpec};
use crate::roads::Road;
pub use record::Record;
pub use table::Versioned;
use table::{Outcome, Table};

/// How the registry topic is set up.
#[derive(Clone, Debug)]
pub struct RegistrySettings {
    pub topic: String,
    /// How long every registry record stays before compaction may remove it:
    /// long enough that a record that lost a race is always repaired first.
    pub min_compaction_lag: Duration,
    /// How long a write waits for Kafka and for this instance to apply it.
    pub write_timeout: Duration,
    /// Zero means min(3, brokers).
    pub replication_factor: i32,
}

/// Why the registry could not start or a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("the registry topic: {0}")]
    Topic(#[from] AdminError),
    #[error("the registry topic {topic} has {partitions} partitions; it must have exactly 1")]
    Partitions { topic: String, partitions: i32 },
    #[error("registry topic {topic}: {source}")]
    Kafka {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("registry topic {topic}: the write was not acknowledged: {reason}")]
    Delivery { topic: String, reason: String },
    #[error("registry topic {topic}: not applied within {timeout:?}")]
    Timeout { topic: String, timeout: Duration },
    /// A concurrent write to the same road came first.
    #[error("road {road} was changed concurrently")]
    Conflict { road: String },
    #[error(
        "road {road:?} would be stored as {size} bytes; a road is at most {max} bytes, every \
         schema version and all metadata included"
    )]
    TooLarge { road: String, size: usize, max: usize },
}

/// Largest road document, as stored: below Kafka's default
/// `max.message.bytes` (1 MiB and a little) with room for the record's
/// framing, so that a write the broker would refuse is refused here first,
/// for what it is.
pub const MAX_DOCUMENT_BYTES: usize = 900 * 1024;

/// The registry, shared by every domain of the instance.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    kafka: Kafka,
    settings: RegistrySettings,
    table: RwLock<Table>,
    /// The next offset to apply: every record below it has been applied.
    applied: watch::Sender<i64>,
    /// Offsets of recent void records, so a writer can tell whether it lost.
    void: Mutex<VecDeque<i64>>,
    /// Bumped after every change to the table.
    changes: watch::Sender<u64>,
    /// The tailing task, to wait for at shutdown.
    tailer: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Void offsets remembered; a writer looks its offset up right after apply.
const VOID_MEMORY: usize = 4096;

impl Registry {
    /// Creates the registry topic if needed, replays it into memory and keeps
    /// tailing it until `stop`. Returns once the replay has caught up with the
    /// end of the topic as it was at start.
    pub async fn start(
        kafka: Kafka,
        settings: RegistrySettings,
        stop: CancellationToken,
    ) -> Result<Self, RegistryError> {
        ensure_topic(&kafka, &settings).await?;
        let topic = settings.topic.clone();
        let kafka_error = |source| RegistryError::Kafka { topic: topic.clone(), source };
        let mut config = kafka.consumer_config(None);
        let pacer = kafka.pacer(&settings.topic, &mut config);
        let consumer: StreamConsumer<PacedContext> =
            config.create_with_context(PacedContext(pacer.stats())).map_err(kafka_error)?;
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(&settings.topic, 0, Offset::Beginning)
            .map_err(kafka_error)?;
        consumer.assign(&assignment).map_err(kafka_error)?;
        let (_, end) = kafka.watermarks(&settings.topic, 0).await.map_err(kafka_error)?;

        let registry = Self {
            inner: Arc::new(Inner {
                kafka,
                settings,
                table: RwLock::default(),
                applied: watch::channel(0).0,
                void: Mutex::default(),
                changes: watch::channel(0).0,
                tailer: Mutex::default(),
            }),
        };
        let tailer = registry.clone();
        let task = tokio::spawn(async move { tailer.tail(Arc::new(consumer), pacer, stop).await });
        *registry.inner.tailer.lock().expect("tailer lock") = Some(task);
        registry.wait_applied(end - 1, registry.inner.settings.write_timeout * 6).await?;
        tracing::info!(
            topic = %registry.inner.settings.topic,
            roads = registry.inner.table.read().expect("registry lock").len(),
            "road registry loaded"
        );
        Ok(registry)
    }

    /// Waits for the tailing to end (after the stop token fired), so that
    /// its consumer is closed.
    pub async fn stopped(&self) {
        let task = self.inner.tailer.lock().expect("tailer lock").take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// A road by name.
    pub fn get(&self, name: &str) -> Option<Versioned> {
        self.inner.table.read().expect("registry lock").get(name).cloned()
    }

    /// Up to `limit` roads in name order after `after`, filtered by `keep`.
    pub fn list(
        &self,
        after: Option<&str>,
        limit: usize,
        keep: impl Fn(&Road) -> bool,
    ) -> Vec<Versioned> {
        let table = self.inner.table.read().expect("registry lock");
        table.range_after(after).filter(|v| keep(&v.road)).take(limit).cloned().collect()
    }

    /// Every road.
    pub fn all(&self) -> Vec<Versioned> {
        self.list(None, usize::MAX, |_| true)
    }

    /// Notified after every change.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// Creates (`base` = `None`) or replaces the road if its etag is still
    /// `base`. Returns the road as written, applied here.
    pub async fn write(&self, base: Option<i64>, road: Road) -> Result<Versioned, RegistryError> {
        let name = road.name.clone();
        let record = Record { base, repair_of: None, road };
        let value = record.encode();
        if value.len() > MAX_DOCUMENT_BYTES {
            return Err(RegistryError::TooLarge {
                road: name,
                size: value.len(),
                max: MAX_DOCUMENT_BYTES,
            });
        }
        let offset = self.produce(&name, Some(value)).await?;
        self.wait_applied(offset, self.inner.settings.write_timeout).await?;
        if self.was_void(offset) {
            self.repair(&name).await;
            return Err(RegistryError::Conflict { road: name });
        }
        Ok(Versioned { road: Arc::new(record.road), etag: offset })
    }

    /// Removes a road that is being deleted.
    pub async fn remove(&self, name: &str) -> Result<(), RegistryError> {
        let offset = self.produce(name, None).await?;
        self.wait_applied(offset, self.inner.settings.write_timeout).await?;
        if self.was_void(offset) {
            self.repair(name).await;
            return Err(RegistryError::Conflict { road: name.to_string() });
        }
        Ok(())
    }

    /// Follows a void record with one that re-asserts the road as it is, so
    /// that the last record of the key is valid when compaction keeps only
    /// the last one. Retried while concurrent writes void the repair too.
    async fn repair(&self, name: &str) {
        for _ in 0..5 {
            let value = self.get(name).map(|current| {
                let road = (*current.road).clone();
                Record { base: None, repair_of: Some(current.etag), road }.encode()
            });
            let attempt = async {
                let offset = self.produce(name, value).await?;
                self.wait_applied(offset, self.inner.settings.write_timeout).await?;
                Ok::<_, RegistryError>(!self.was_void(offset))
            };
            match attempt.await {
                Ok(true) => return,
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(road = name, error = %e, "repairing a registry record failed");
                    return;
                }
            }
        }
        tracing::warn!(road = name, "registry repair kept losing races; the next write repairs");
    }

    async fn produce(&self, name: &str, value: Option<Vec<u8>>) -> Result<i64, RegistryError> {
        let topic = &self.inner.settings.topic;
        let kafka = &self.inner.kafka;
        let out = Outgoing {
            key: Some(name.as_bytes()),
            payload: value.as_deref(),
            headers: None,
            partition: Some(0),
        };
        let batch = Batch::new(1);
        kafka.enqueue(&kafka.producer(), topic, out, batch.slot(0)).await;
        match batch.wait(self.inner.settings.write_timeout).await.pop() {
            Some(Ok((_, offset))) => Ok(offset),
            Some(Err(reason)) => Err(RegistryError::Delivery { topic: topic.clone(), reason }),
            None => {
                Err(RegistryError::Delivery { topic: topic.clone(), reason: "no answer".into() })
            }
        }
    }

    /// Waits until the record at `offset` has been applied here.
    async fn wait_applied(&self, offset: i64, timeout: Duration) -> Result<(), RegistryError> {
        let mut applied = self.inner.applied.subscribe();
        match tokio::time::timeout(timeout, applied.wait_for(|next| *next > offset)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(RegistryError::Timeout { topic: self.inner.settings.topic.clone(), timeout }),
        }
    }

    fn was_void(&self, offset: i64) -> bool {
        self.inner.void.lock().expect("void lock").contains(&offset)
    }

    async fn tail(
        self,
        consumer: Arc<StreamConsumer<PacedContext>>,
        mut pacer: Pacer,
        stop: CancellationToken,
    ) {
        let stats = pacer.stats();
        loop {
            let message = tokio::select! {
                () = stop.cancelled() => return,
                () = stats.arrived() => {
                    if pacer.review() {
                        self.pace(&consumer, &mut pacer);
                    }
                    continue;
                }
                () = pacer.probe_due() => {
                    if pacer.probe_async().await {
                        self.pace(&consumer, &mut pacer);
                    }
                    continue;
                }
                message = consumer.recv() => message,
            };
            let message = match message {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(topic = %self.inner.settings.topic, error = %e, "registry tailing failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let offset = message.offset();
            let outcome = match message.key().map(std::str::from_utf8) {
                Some(Ok(name)) => self.apply(offset, name, message.payload()),
                _ => {
                    tracing::error!(topic = %self.inner.settings.topic, offset, "registry record without a UTF-8 key; skipped");
                    Outcome::Void
                }
            };
            if outcome == Outcome::Void {
                let mut void = self.inner.void.lock().expect("void lock");
                if void.len() == VOID_MEMORY {
                    void.pop_front();
                }
                void.push_back(offset);
            }
            self.inner.applied.send_replace(offset + 1);
            if outcome == Outcome::Changed {
                self.inner.changes.send_modify(|n| *n += 1);
            }
        }
    }

    /// Pauses the topic while it is idle on a broker that answers fetches
    /// at once (see [`Pacer`]).
    fn pace(&self, consumer: &StreamConsumer<PacedContext>, pacer: &mut Pacer) {
        if let Err(e) = pacer.apply(consumer) {
            tracing::warn!(topic = %self.inner.settings.topic, error = %e, "cannot pause or resume the registry topic");
        }
    }

    fn apply(&self, offset: i64, name: &str, payload: Option<&[u8]>) -> Outcome {
        let record = match payload.map(Record::decode) {
            None => None,
            Some(Ok(record)) if record.road.name == name => Some(record),
            Some(Ok(_)) => {
                tracing::error!(topic = %self.inner.settings.topic, offset, road = name, "registry record names another road; skipped");
                return Outcome::Void;
            }
            Some(Err(e)) => {
                tracing::error!(topic = %self.inner.settings.topic, offset, road = name, error = %e, "unreadable registry record; skipped");
                return Outcome::Void;
            }
        };
        self.inner.table.write().expect("registry lock").apply(offset, name, record)
    }
}

/// Creates the registry topic, or checks the one that exists.
async fn ensure_topic(kafka: &Kafka, settings: &RegistrySettings) -> Result<(), RegistryError> {
    let topic = &settings.topic;
    let kafka_error = |source| RegistryError::Kafka { topic: topic.clone(), source };
    let replication_factor =
        kafka.replication_factor(settings.replication_factor).await.map_err(kafka_error)?;
    let lag_ms = settings.min_compaction_lag.as_millis().to_string();
    let spec = TopicSpec {
        name: topic.clone(),
        partitions: 1,
        replication_factor,
        configs: BTreeMap::from([
            ("cleanup.policy".to_string(), "compact".to_string()),
            ("min.compaction.lag.ms".to_string(), lag_ms.clone()),
            // Deletions stay visible as long as any other record does.
            ("delete.retention.ms".to_string(), lag_ms),
        ]),
    };
    if kafka.create_topic(&spec).await? {
        tracing::info!(%topic, "created the road registry topic");
        return Ok(());
    }
    let (topics, _) = kafka.topics().await.map_err(kafka_error)?;
    match topics.get(topic) {
        Some(info) if info.partitions != 1 => {
            Err(RegistryError::Partitions { topic: topic.clone(), partitions: info.partitions })
        }
        _ => Ok(()),
    }
}
