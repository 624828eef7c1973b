//! Every setting of `roadroller serve`, declared once.
//!
//! A setting's key is its name in the TOML file (`section.name`); its flag and
//! environment variable are derived from the key, so the three spellings can
//! never disagree: `kafka.bootstrap_servers` is `--kafka-bootstrap-servers`
//! and `ROADROLLER_KAFKA_BOOTSTRAP_SERVERS`.

/// One setting: its key, default (as text) and help.
#[derive(Debug)]
pub struct Spec {
    pub key: &'static str,
    pub default: &'static str,
    pub value_name: &'static str,
    pub help: &'static str,
}

impl Spec {
    /// The command-line flag, without the leading dashes.
    pub fn flag(&self) -> String {
        self.key.replace(['.', '_'], "-")
    }

    /// The environment variable.
    pub fn env(&self) -> String {
        format!("ROADROLLER_{}", self.key.replace('.', "_").to_ascii_uppercase())
    }
}

const fn spec(
    key: &'static str,
    default: &'static str,
    value_name: &'static str,
    help: &'static str,
) -> Spec {
    Spec { key, default, value_name, help }
}

/// All settings, in the order `--help` shows them.
pub const SETTINGS: &[Spec] = &[
    spec("listen", "127.0.0.1:50051", "ADDR", "Address the gRPC server listens on"),
    spec(
        "data_dir",
        "./roadroller-data",
        "DIR",
        "Directory that holds the embedded broker's state (unused with an external Kafka)",
    ),
    spec(
        "log_format",
        "pretty",
        "FORMAT",
        "Log format: pretty or json. Levels come from RUST_LOG (default info)",
    ),
    spec(
        "grace_period",
        "10s",
        "DURATION",
        "How long shutdown waits for in-flight calls and the producer flush",
    ),
    spec(
        "instance_id",
        "",
        "ID",
        "This instance's id, reported to subscribers; empty picks a random one at start",
    ),
    spec(
        "kafka.bootstrap_servers",
        "",
        "HOSTS",
        "Kafka bootstrap servers (host:port,...). Empty starts the embedded broker",
    ),
    spec(
        "kafka.startup_timeout",
        "15s",
        "DURATION",
        "How long start-up waits for Kafka to answer before giving up",
    ),
    spec(
        "kafka.health_interval",
        "1s",
        "DURATION",
        "How often Kafka connectivity is checked; health follows it",
    ),
    spec(
        "kafka.produce_timeout",
        "10s",
        "DURATION",
        "How long Kafka has to acknowledge a record; after it Onramp answers UNAVAILABLE",
    ),
    spec(
        "kafka.replication_factor",
        "0",
        "N",
        "Replication factor of new topics; 0 means min(3, brokers)",
    ),
    spec(
        "registry.topic",
        "_roadroller_roads",
        "TOPIC",
        "The single-partition compacted topic that holds the road documents",
    ),
    spec(
        "registry.min_compaction_lag",
        "24h",
        "DURATION",
        "How long every registry record is kept before compaction may remove it",
    ),
    spec(
        "registry.write_timeout",
        "10s",
        "DURATION",
        "How long a Paver write waits for Kafka and for this instance to apply it",
    ),
    spec("roads.stream_partitions", "6", "N", "Partitions of a new STREAM road"),
    spec("roads.compacted_partitions", "12", "N", "Partitions of a new COMPACTED road"),
    spec("roads.retention", "7d", "DURATION", "How long a new STREAM road keeps records"),
    spec(
        "roads.min_compaction_lag",
        "24h",
        "DURATION",
        "How long every update of a new COMPACTED road stays readable before compaction",
    ),
    spec(
        "roads.tombstone_retention",
        "24h",
        "DURATION",
        "How long a delete on a new COMPACTED road stays visible",
    ),
    spec("onramp.max_record_bytes", "1MiB", "SIZE", "Largest record (key plus payload) accepted"),
    spec(
        "onramp.max_request_bytes",
        "16MiB",
        "SIZE",
        "Largest Produce request or ProduceStream batch accepted",
    ),
    spec("onramp.max_records_per_request", "10000", "N", "Most records in one request or batch"),
    spec(
        "onramp.max_unacked_per_stream",
        "20000",
        "N",
        "Most records a ProduceStream holds unacknowledged before it stops reading",
    ),
    spec(
        "offramp.session_timeout",
        "10s",
        "DURATION",
        "How long a silent subscriber keeps its partitions before its group moves on",
    ),
    spec(
        "offramp.max_poll_interval",
        "5m",
        "DURATION",
        "How long a subscription may go without polling Kafka (subscribers without credit still poll)",
    ),
    spec(
        "traffic_control.enabled",
        "true",
        "BOOL",
        "Whether this instance creates, alters and deletes topics (status is observed either way)",
    ),
    spec("traffic_control.topic_prefix", "road.", "PREFIX", "Prefix of every road's topic name"),
    spec(
        "traffic_control.sweep_interval",
        "30s",
        "DURATION",
        "How often every road is reconciled besides on each change",
    ),
    spec(
        "traffic_control.message_count_interval",
        "30s",
        "DURATION",
        "How often each road's message count is refreshed",
    ),
    spec(
        "embedded.listen",
        "127.0.0.1:0",
        "ADDR",
        "Address of the embedded broker (port 0 picks a free one, logged at start)",
    ),
    spec(
        "embedded.save_interval",
        "1s",
        "DURATION",
        "How often the embedded broker's state is saved; a crash loses at most this much",
    ),
];

/// The spec of `key`. Keys are compile-time constants, so an unknown key is a
/// programming error caught by the tests.
pub fn find(key: &str) -> Option<&'static Spec> {
    SETTINGS.iter().find(|s| s.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_from_the_key() {
        let s = find("kafka.bootstrap_servers").expect("declared");
        assert_eq!(s.flag(), "kafka-bootstrap-servers");
        assert_eq!(s.env(), "ROADROLLER_KAFKA_BOOTSTRAP_SERVERS");
    }

    #[test]
    fn keys_are_unique() {
        let mut keys: Vec<_> = SETTINGS.iter().map(|s| s.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), SETTINGS.len());
    }
}
