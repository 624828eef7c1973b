//! The Kafka port: every librdkafka client Roadroller uses is built here, with
//! the same settings whether the broker is embedded or a real cluster.

mod admin;
mod connectivity;
pub mod delivery;
mod groups;
mod pacing;
mod polled;
mod properties;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{BaseRecord, Producer};

pub use admin::{AdminError, ConfigValue, TopicInfo, TopicSpec};
pub use connectivity::{Connectivity, watch_connectivity};
use delivery::{BatchingContext, Slot};
pub use groups::GroupInfo;
pub use pacing::{PacedContext, Pacer, StatsSlot};
pub use properties::KafkaProperties;

/// The producer: acknowledgements are filed into batches.
pub type BatchProducer = polled::PolledProducer<BatchingContext>;

/// A record to write.
pub struct Outgoing<'a> {
    pub key: Option<&'a [u8]>,
    /// `None` writes a tombstone.
    pub payload: Option<&'a [u8]>,
    pub headers: Option<OwnedHeaders>,
    pub partition: Option<i32>,
}

use crate::config::KafkaSettings;

/// Kafka clients shared by the whole instance: one idempotent producer and one
/// admin client. Consumers are built per use from [`Kafka::consumer_config`].
#[derive(Clone)]
pub struct Kafka {
    inner: Arc<Inner>,
}

struct Inner {
    bootstrap: String,
    client_id: String,
    properties: KafkaProperties,
    context: BatchingContext,
    producer_config: ClientConfig,
    produce_timeout: Duration,
    /// Replaced when librdkafka declares it fatally failed.
    producer: RwLock<Arc<BatchProducer>>,
    admin: AdminClient<DefaultClientContext>,
    impatience: pacing::Impatience,
    /// Asks how far paused partitions reach (see [`pacing`]).
    prober: Arc<rdkafka::consumer::BaseConsumer>,
}

/// Kafka could not be reached.
#[derive(Debug, thiserror::Error)]
#[error("no Kafka broker at {bootstrap} answered within {timeout:?}: {source}")]
pub struct Unreachable {
    pub bootstrap: String,
    pub timeout: Duration,
    #[source]
    pub source: KafkaError,
}

/// What Kafka adds around the largest record Onramp takes: the batch
/// header, the record's framing, Roadroller's headers (schema version,
/// trace context). Topics and the producer allow a record this much larger
/// than `onramp.max_record_bytes`, so that every record Onramp accepts fits.
pub const RECORD_OVERHEAD: usize = 16 * 1024;

/// Kafka could not be used: its settings are refused, or no broker answers.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("kafka.properties: librdkafka refuses the settings: {0}")]
    Settings(KafkaError),
    #[error("--kafka-bootstrap-servers: {0} (--kafka-startup-timeout)")]
    Unreachable(#[from] Unreachable),
}

impl Kafka {
    /// Builds the clients. librdkafka connects lazily; use [`Kafka::probe`]
    /// to find out whether a broker answers. A record not acknowledged
    /// within `produce_timeout` fails.
    pub fn new(
        bootstrap: &str,
        client_id: &str,
        produce_timeout: Duration,
        max_message_bytes: usize,
        properties: &KafkaProperties,
    ) -> Result<Self, KafkaError> {
        // librdkafka words its refusals with the value in them; none may
        // leave here unredacted.
        let redact = |e: KafkaError| KafkaError::ClientCreation(properties.redact(&e.to_string()));
        let mut base = base_config(bootstrap, client_id);
        properties.apply(&mut base);
        let mut producer_config = producer_config(bootstrap, client_id, produce_timeout);
        // Queue depth and round trips for the metrics, every few seconds.
        producer_config.set("statistics.interval.ms", "5000");
        // librdkafka's own default (1,000,000) is below Onramp's 1 MiB.
        producer_config.set("message.max.bytes", max_message_bytes.max(1_000_000).to_string());
        properties.apply(&mut producer_config);
        let context = BatchingContext::default();
        let producer =
            Arc::new(producer_config.create_with_context(context.clone()).map_err(redact)?);
        let admin = base.create().map_err(redact)?;
        let mut prober = base.clone();
        prober.set("group.id", format!("{client_id}.unjoined"));
        let prober = Arc::new(prober.create().map_err(redact)?);
        Ok(Self {
            inner: Arc::new(Inner {
                bootstrap: bootstrap.to_string(),
                client_id: client_id.to_string(),
                properties: properties.clone(),
                context,
                producer_config,
                produce_timeout,
                producer: RwLock::new(producer),
                admin,
                impatience: pacing::Impatience::default(),
                prober,
            }),
        })
    }

    /// Builds the clients and waits until a broker answers, or fails after
    /// `settings.startup_timeout`.
    pub async fn connect(
        bootstrap: &str,
        client_id: &str,
        settings: &KafkaSettings,
    ) -> Result<Self, ConnectError> {
        let timeout = settings.startup_timeout;
        let unreachable =
            |source| Unreachable { bootstrap: bootstrap.to_string(), timeout, source };
        let kafka = Self::new(
            bootstrap,
            client_id,
            settings.produce_timeout,
            settings.max_message_bytes,
            &settings.properties,
        )
        .map_err(ConnectError::Settings)?;
        kafka.probe(timeout).await.map_err(unreachable)?;
        Ok(kafka)
    }

    /// Hands every statistics report of the producer to `sink`.
    pub fn on_statistics(&self, sink: impl Fn(&rdkafka::Statistics) + Send + Sync + 'static) {
        *self.inner.context.statistics.write().unwrap_or_else(|e| e.into_inner()) =
            Some(Box::new(sink));
    }

    /// The client id every client of this instance gives Kafka.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The bootstrap servers.
    pub fn bootstrap(&self) -> &str {
        &self.inner.bootstrap
    }

    /// The shared idempotent producer (acks=all). Take it once per batch.
    pub fn producer(&self) -> Arc<BatchProducer> {
        self.inner.producer.read().expect("producer lock").clone()
    }

    /// Queues a record; its acknowledgement goes to `slot`. Waits while the
    /// producer's queue is full, up to the produce timeout; a record that
    /// cannot be queued is answered in its slot with the reason.
    pub async fn enqueue(
        &self,
        producer: &BatchProducer,
        topic: &str,
        out: Outgoing<'_>,
        slot: Box<Slot>,
    ) {
        // Read only when the queue is full: a clock read per record showed
        // in Onramp's profile.
        let mut deadline = None;
        let mut record = BaseRecord::<[u8], [u8], Box<Slot>>::with_opaque_to(topic, slot);
        if let Some(key) = out.key {
            record = record.key(key);
        }
        if let Some(payload) = out.payload {
            record = record.payload(payload);
        }
        if let Some(headers) = out.headers {
            record = record.headers(headers);
        }
        if let Some(partition) = out.partition {
            record = record.partition(partition);
        }
        loop {
            match producer.send(record) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                    if tokio::time::Instant::now()
                        < *deadline.get_or_insert_with(|| {
                            tokio::time::Instant::now() + self.inner.produce_timeout
                        }) =>
                {
                    record = back;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                Err((e, back)) => {
                    back.delivery_opaque
                        .settle(Err(format!("the record could not be queued: {e}")));
                    return;
                }
            }
        }
    }

    /// Replaces the producer if librdkafka declared it fatally failed (an
    /// idempotent producer can, after records time out in an outage), so
    /// that Onramp recovers when Kafka does.
    pub fn recover_producer(&self) {
        let fatal = self.producer().client().fatal_error();
        let Some((code, reason)) = fatal else { return };
        let context = self.inner.context.clone();
        match self.inner.producer_config.create_with_context::<_, BatchProducer>(context) {
            Ok(fresh) => {
                tracing::warn!(?code, %reason, "the producer failed fatally; replaced it");
                *self.inner.producer.write().expect("producer lock") = Arc::new(fresh);
            }
            Err(e) => tracing::error!(error = %e, "cannot replace the failed producer"),
        }
    }

    /// The settings of the shared producer, for another producer of the
    /// same kind (the audit trail's).
    pub fn producer_client_config(&self) -> ClientConfig {
        self.inner.producer_config.clone()
    }

    /// The shared admin client.
    pub fn admin(&self) -> &AdminClient<DefaultClientContext> {
        &self.inner.admin
    }

    /// Settings for a consumer of `group_id`, or (`None`) for one that only
    /// assigns partitions itself. Offsets move only through explicit commits,
    /// and the prefetch queue is small, since one server may hold thousands of
    /// consumers (librdkafka's defaults allow 64 MiB per consumer). 4 MiB
    /// keeps a fast reader fed (at 1 MiB it drained between two fetches:
    /// Offramp at 0.74 of a raw consumer, 0.85 at 4 MiB); an idle or paused
    /// consumer holds nothing, as librdkafka drops a paused partition's queue.
    pub fn consumer_config(&self, group_id: Option<&str>) -> ClientConfig {
        let mut config = base_config(&self.inner.bootstrap, &self.inner.client_id);
        self.inner.properties.apply(&mut config);
        config
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set("queued.max.messages.kbytes", "4096")
            .set("queued.min.messages", "10000")
            .set("fetch.message.max.bytes", "1048576")
            // With so small a queue it overflows after most fetches, and
            // librdkafka then waits this long before fetching again (1 s by
            // default, which capped a subscriber near 1 MB/s).
            .set("fetch.queue.backoff.ms", "5");
        // librdkafka wants a group id even for a consumer that only assigns
        // partitions; such a consumer never joins the group nor commits.
        let unjoined = format!("{}.unjoined", self.inner.client_id);
        config.set("group.id", group_id.unwrap_or(&unjoined));
        config
    }

    /// A pacer for a long-lived consumer of `topic` built from `config`
    /// (see [`pacing`]): its context must hand statistics to the pacer.
    pub fn pacer(&self, topic: &str, config: &mut ClientConfig) -> Pacer {
        Pacer::new(topic, self.inner.impatience.clone(), self.inner.prober.clone(), config)
    }

    /// Asks a broker for cluster metadata; returns the number of brokers.
    pub async fn probe(&self, timeout: Duration) -> Result<usize, KafkaError> {
        let kafka = self.clone();
        tokio::task::spawn_blocking(move || {
            let metadata = kafka.inner.admin.inner().fetch_metadata(None, timeout)?;
            Ok(metadata.brokers().len())
        })
        .await
        .unwrap_or(Err(KafkaError::Canceled))
    }

    /// Waits for every queued record to be delivered or `timeout` to pass.
    pub async fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        let kafka = self.clone();
        tokio::task::spawn_blocking(move || kafka.producer().flush(timeout))
            .await
            .unwrap_or(Err(KafkaError::Canceled))
    }
}

/// Settings every client shares.
fn base_config(bootstrap: &str, client_id: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("client.id", client_id)
        // Come back quickly after a broker outage: librdkafka's default
        // backoff grows to 10 s.
        .set("reconnect.backoff.ms", "100")
        .set("reconnect.backoff.max.ms", "1000")
        .set("socket.keepalive.enable", "true")
        // librdkafka leaves Nagle on; with delayed ACKs a lone request can
        // wait 40 ms, which a unary Produce pays on every call.
        .set("socket.nagle.disable", "true");
    config
}

/// The producer of DESIGN.md: acknowledged by every in-sync replica,
/// idempotent (no duplicates or reordering on retry), and partitioning keys
/// with murmur2 as Java clients do, so every producer agrees where a key
/// lives. Linger is short: a Produce call waits for its records' acks, so
/// with a few callers the linger is most of each call (5 ms held four
/// callers of 500 records to 214k records/s and 6 ms p50 latency; 1 ms gives
/// 314k and 2 ms), while a busy producer fills its batches either way.
///
/// Public so that the benchmark's raw baseline produces with the very same
/// settings.
pub fn producer_config(
    bootstrap: &str,
    client_id: &str,
    produce_timeout: Duration,
) -> ClientConfig {
    let mut config = base_config(bootstrap, client_id);
    config
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("partitioner", "murmur2_random")
        // Keyless records go to a random partition each, so a batch spreads
        // over the partitions instead of sticking to one.
        .set("sticky.partitioning.linger.ms", "0")
        .set("linger.ms", "1")
        .set("batch.num.messages", "10000")
        .set("message.timeout.ms", produce_timeout.as_millis().to_string());
    config
}

/// The schema version a record's header names; 0 when it names none (a
/// delete, or a record written outside Roadroller).
pub fn schema_version(m: &impl rdkafka::Message) -> u32 {
    use rdkafka::message::Headers;
    m.headers()
        .and_then(|h| {
            h.iter()
                .find(|h| h.key == roadroller_api::SCHEMA_VERSION_HEADER)
                .and_then(|h| h.value)
                .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
        })
        .unwrap_or(0)
}
