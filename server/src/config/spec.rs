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
