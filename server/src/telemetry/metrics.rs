//! Prometheus metrics. Labels are `road`, `stream`, `service`/`method`,
//! `code` and a subscription's `mode` only — never a key, a partition or a
//! principal — and past `metrics.max_roads` roads (or `metrics.max_streams`
//! streams) further values count under `other`, so a scrape stays small
//! however many roads there are.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// The value counted for roads (and streams) past the cap.
pub const OTHER: &str = "other";

/// How many label values of each kind are kept before `other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricsSettings {
    pub max_roads: usize,
    pub max_streams: usize,
    /// How often every stream's lag is measured.
    pub lag_interval: Duration,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self { max_roads: 200, max_streams: 200, lag_interval: Duration::from_secs(15) }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    pub service: String,
    pub method: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub service: String,
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RoadLabels {
    pub road: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RoadLimitLabels {
    pub road: String,
    pub limit: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RoadCodeLabels {
    pub road: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StreamLabels {
    pub road: String,
    pub stream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModeLabels {
    pub mode: String,
}

/// The first `max` distinct values, then `other`.
#[derive(Debug)]
struct Capped {
    max: usize,
    seen: RwLock<HashSet<String>>,
}

impl Capped {
    fn new(max: usize) -> Self {
        Self { max, seen: RwLock::default() }
    }

    fn label(&self, value: &str) -> String {
        if self.seen.read().unwrap_or_else(|e| e.into_inner()).contains(value) {
            return value.to_string();
        }
        let mut seen = self.seen.write().unwrap_or_else(|e| e.into_inner());
        if seen.contains(value) || seen.len() < self.max {
            seen.insert(value.to_string());
            value.to_string()
        } else {
            OTHER.to_string()
        }
    }
}

/// Half a millisecond to 16 s: RPCs and acknowledgements.
fn fast() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Ten milliseconds to about 5 minutes: snapshots.
fn slow() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 16))
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn histograms<L: Clone + std::hash::Hash + Eq>(buckets: fn() -> Histogram) -> HistogramFamily<L> {
    Family::new_with_constructor(buckets)
}

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    roads: Capped,
    streams: Capped,
    rpc_requests: Family<RpcLabels, Counter>,
    rpc_duration: HistogramFamily<MethodLabels>,
    produced_records: Family<RoadLabels, Counter>,
    produced_bytes: Family<RoadLabels, Counter>,
    rejected_records: Family<RoadCodeLabels, Counter>,
    ack_latency: HistogramFamily<RoadLabels>,
    subscriptions: Family<ModeLabels, Gauge>,
    delivered_records: Family<RoadLabels, Counter>,
    delivered_bytes: Family<RoadLabels, Counter>,
    credit_starved: Family<RoadLabels, Counter<f64, std::sync::atomic::AtomicU64>>,
    snapshot_duration: HistogramFamily<RoadLabels>,
    quota_refusals: Family<RoadLimitLabels, Counter>,
    snapshots_loading: Family<RoadLabels, Gauge>,
    snapshots_queued: Family<RoadLabels, Gauge>,
    quota_throttled: Family<RoadLimitLabels, Counter<f64, std::sync::atomic::AtomicU64>>,
    registry_roads: Gauge,
    drifted_roads: Gauge,
    producer_queue: Gauge,
    broker_rtt: Gauge<f64, std::sync::atomic::AtomicU64>,
    consumer_lag: Family<StreamLabels, Gauge>,
    resident: Gauge,
    threads: Gauge,
    open_fds: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new(settings: MetricsSettings) -> Arc<Self> {
        let mut m = Self {
            registry: Registry::with_prefix("roadroller"),
            roads: Capped::new(settings.max_roads),
            streams: Capped::new(settings.max_streams),
            rpc_requests: Family::default(),
            rpc_duration: histograms(fast),
            produced_records: Family::default(),
            produced_bytes: Family::default(),
            rejected_records: Family::default(),
            ack_latency: histograms(fast),
            subscriptions: Family::default(),
            delivered_records: Family::default(),
            delivered_bytes: Family::default(),
            credit_starved: Family::default(),
            snapshot_duration: histograms(slow),
            quota_refusals: Family::default(),
            snapshots_loading: Family::default(),
            snapshots_queued: Family::default(),
            quota_throttled: Family::default(),
            registry_roads: Gauge::default(),
            drifted_roads: Gauge::default(),
            producer_queue: Gauge::default(),
            broker_rtt: Gauge::default(),
            consumer_lag: Family::default(),
            resident: Gauge::default(),
            threads: Gauge::default(),
            open_fds: Gauge::default(),
        };
        let r = &mut m.registry;
        r.register(
            "rpc_requests",
            "RPCs answered, by service, method and gRPC code",
            m.rpc_requests.clone(),
        );
        r.register_with_unit(
            "rpc_duration",
            "Time from an RPC's arrival to its status (the whole stream for streaming calls)",
            Unit::Seconds,
            m.rpc_duration.clone(),
        );
        r.register(
            "onramp_records",
            "Records Kafka acknowledged, by road",
            m.produced_records.clone(),
        );
        r.register_with_unit(
            "onramp",
            "Payload bytes Kafka acknowledged, by road",
            Unit::Bytes,
            m.produced_bytes.clone(),
        );
        r.register(
            "onramp_rejected_records",
            "Records refused, by road and the code of their refusal",
            m.rejected_records.clone(),
        );
        r.register_with_unit(
            "onramp_ack_latency",
            "Time from a batch's arrival to Kafka's acknowledgement of its last record, by road",
            Unit::Seconds,
            m.ack_latency.clone(),
        );
        r.register("offramp_subscriptions", "Open subscriptions, by mode", m.subscriptions.clone());
        r.register(
            "offramp_records",
            "Records delivered to subscribers, by road",
            m.delivered_records.clone(),
        );
        r.register_with_unit(
            "offramp",
            "Payload bytes delivered to subscribers, by road",
            Unit::Bytes,
            m.delivered_bytes.clone(),
        );
        r.register_with_unit(
            "offramp_credit_starved",
            "Time subscriptions had records waiting but no credit, by road",
            Unit::Seconds,
            m.credit_starved.clone(),
        );
        r.register_with_unit(
            "snapshot_duration",
            "Time from a SNAPSHOT subscription's start to snapshot_complete, by road",
            Unit::Seconds,
            m.snapshot_duration.clone(),
        );
        r.register(
            "quota_refusals",
            "Calls refused for being over a quota, by road and limit",
            m.quota_refusals.clone(),
        );
        r.register(
            "snapshots_loading",
            "SNAPSHOT subscriptions reading the current state (before snapshot_complete), by road",
            m.snapshots_loading.clone(),
        );
        r.register(
            "snapshots_queued",
            "SNAPSHOT subscriptions waiting for a place, by road",
            m.snapshots_queued.clone(),
        );
        r.register_with_unit(
            "quota_throttled",
            "Time streams waited for a quota (or a snapshot place), by road and limit",
            Unit::Seconds,
            m.quota_throttled.clone(),
        );
        r.register("registry_roads", "Roads in the registry", m.registry_roads.clone());
        r.register(
            "traffic_control_drifted_roads",
            "Roads whose topic differs from what the road asks for",
            m.drifted_roads.clone(),
        );
        r.register(
            "kafka_producer_queue_messages",
            "Records in the producer's queue, not yet acknowledged (librdkafka statistics)",
            m.producer_queue.clone(),
        );
        r.register_with_unit(
            "kafka_broker_rtt",
            "Average request round trip to the brokers (librdkafka statistics)",
            Unit::Seconds,
            m.broker_rtt.clone(),
        );
        r.register(
            "consumer_lag",
            "Records between each stream's committed offsets and the road's end, by road and stream",
            m.consumer_lag.clone(),
        );
        let p = r.sub_registry_with_prefix("process");
        p.register_with_unit(
            "resident_memory",
            "Resident set size",
            Unit::Bytes,
            m.resident.clone(),
        );
        p.register("threads", "Threads of the process", m.threads.clone());
        p.register("open_fds", "Open file descriptors", m.open_fds.clone());
        Arc::new(m)
    }

    fn road(&self, road: &str) -> RoadLabels {
        RoadLabels { road: self.roads.label(road) }
    }

    /// The label value of `stream`, capped.
    pub fn stream_label(&self, stream: &str) -> String {
        self.streams.label(stream)
    }

    pub fn rpc(&self, service: &str, method: &str, code: tonic::Code, took: Duration) {
        let code = format!("{code:?}");
        let (service, method) = (service.to_string(), method.to_string());
        self.rpc_duration
            .get_or_create(&MethodLabels { service: service.clone(), method: method.clone() })
            .observe(took.as_secs_f64());
        self.rpc_requests.get_or_create(&RpcLabels { service, method, code }).inc();
    }

    pub fn produced(&self, road: &str, records: u64, bytes: u64, took: Duration) {
        let labels = self.road(road);
        if records > 0 {
            self.produced_records.get_or_create(&labels).inc_by(records);
            self.produced_bytes.get_or_create(&labels).inc_by(bytes);
            self.ack_latency.get_or_create(&labels).observe(took.as_secs_f64());
        }
    }

    pub fn rejected(&self, road: &str, code: &str, records: u64) {
        let labels = RoadCodeLabels { road: self.roads.label(road), code: code.to_string() };
        self.rejected_records.get_or_create(&labels).inc_by(records);
    }

    /// A subscription of `mode` opened (+1) or closed (-1).
    pub fn subscription(&self, mode: &str, change: i64) {
        self.subscriptions.get_or_create(&ModeLabels { mode: mode.to_string() }).inc_by(change);
    }

    pub fn delivered(&self, road: &str, records: u64, bytes: u64) {
        let labels = self.road(road);
        self.delivered_records.get_or_create(&labels).inc_by(records);
        self.delivered_bytes.get_or_create(&labels).inc_by(bytes);
    }

    pub fn starved(&self, road: &str, for_: Duration) {
        self.credit_starved.get_or_create(&self.road(road)).inc_by(for_.as_secs_f64());
    }

    pub fn snapshot_took(&self, road: &str, took: Duration) {
        self.snapshot_duration.get_or_create(&self.road(road)).observe(took.as_secs_f64());
    }

    pub fn quota_refused(&self, road: &str, limit: &str) {
        let labels = RoadLimitLabels { road: self.roads.label(road), limit: limit.to_string() };
        self.quota_refusals.get_or_create(&labels).inc();
    }

    /// A SNAPSHOT started (+1) or finished (-1) loading.
    pub fn snapshot_loading(&self, road: &str, change: i64) {
        self.snapshots_loading.get_or_create(&self.road(road)).inc_by(change);
    }

    /// A SNAPSHOT joined (+1) or left (-1) a road's queue.
    pub fn snapshot_queued(&self, road: &str, change: i64) {
        self.snapshots_queued.get_or_create(&self.road(road)).inc_by(change);
    }

    pub fn quota_throttled(&self, road: &str, limit: &str, waited: Duration) {
        let labels = RoadLimitLabels { road: self.roads.label(road), limit: limit.to_string() };
        self.quota_throttled.get_or_create(&labels).inc_by(waited.as_secs_f64());
    }

    pub fn set_registry(&self, roads: usize, drifted: usize) {
        self.registry_roads.set(roads as i64);
        self.drifted_roads.set(drifted as i64);
    }

    /// From librdkafka's statistics of the producer.
    pub fn set_kafka(&self, statistics: &rdkafka::Statistics) {
        self.producer_queue.set(statistics.msg_cnt as i64);
        let rtts: Vec<f64> = statistics
            .brokers
            .values()
            .filter_map(|b| b.rtt.as_ref())
            .filter(|w| w.cnt > 0)
            .map(|w| w.avg as f64 / 1e6)
            .collect();
        if !rtts.is_empty() {
            self.broker_rtt.set(rtts.iter().sum::<f64>() / rtts.len() as f64);
        }
    }

    /// The lag of every stream, replacing the last; streams whose labels
    /// overflow into `other` add up there.
    pub fn set_lags(&self, lags: impl IntoIterator<Item = (String, String, i64)>) {
        let mut summed: std::collections::HashMap<StreamLabels, i64> = Default::default();
        for (road, stream, lag) in lags {
            let labels =
                StreamLabels { road: self.roads.label(&road), stream: self.streams.label(&stream) };
            *summed.entry(labels).or_default() += lag;
        }
        self.consumer_lag.clear();
        for (labels, lag) in summed {
            self.consumer_lag.get_or_create(&labels).set(lag);
        }
    }

    /// The exposition in Prometheus' text format (0.0.4), process figures
    /// read now.
    pub fn render(&self) -> String {
        let process = super::process::read();
        self.resident.set(process.resident_bytes as i64);
        self.threads.set(process.threads as i64);
        self.open_fds.set(process.open_fds as i64);
        let mut text = String::new();
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
        {
            tracing::warn!(error = %e, "metrics could not be encoded");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn road_labels_are_capped_and_overflow_counts_as_other() {
        let m =
            Metrics::new(MetricsSettings { max_roads: 2, max_streams: 2, ..Default::default() });
        for road in ["a", "b", "c", "d", "a"] {
            m.produced(road, 1, 10, Duration::from_millis(1));
        }
        let text = m.render();
        let line = |road: &str| format!("roadroller_onramp_records_total{{road=\"{road}\"}}");
        assert!(text.contains(&format!("{} 2", line("a"))), "{text}");
        assert!(text.contains(&format!("{} 1", line("b"))), "{text}");
        assert!(text.contains(&format!("{} 2", line(OTHER))), "{text}");
        assert!(!text.contains(&line("c")), "{text}");
        assert!(text.contains("roadroller_process_resident_memory_bytes "), "{text}");
    }
}
