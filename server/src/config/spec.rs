//! Every setting of `roadroller serve` and `roadroller gateway`, declared
//! once.
//!
//! A setting's key is its name in the TOML file (`section.name`); its flag and
//! environment variable are derived from the key, so the three spellings can
//! never disagree: `kafka.bootstrap_servers` is `--kafka-bootstrap-servers`
//! and `ROADROLLER_KAFKA_BOOTSTRAP_SERVERS`. Each command has its own table;
//! the gateway's variables carry their own prefix (`ROADROLLER_GATEWAY_`), so
//! that `listen` can mean each command's own address without one variable
//! setting both.

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

    /// Whether the setting is a table of `key=value` entries (a TOML table
    /// in the file).
    pub fn is_table(&self) -> bool {
        self.value_name.starts_with("KEY=VALUE")
    }

    /// The environment variable, in `serve`'s table.
    pub fn env(&self) -> String {
        SERVE.env(self)
    }
}

/// The settings of one command.
#[derive(Debug)]
pub struct Table {
    /// What every environment variable of the table starts with.
    pub env_prefix: &'static str,
    pub specs: &'static [Spec],
}

impl Table {
    /// The environment variable of `spec` in this table.
    pub fn env(&self, spec: &Spec) -> String {
        format!("{}{}", self.env_prefix, spec.key.replace('.', "_").to_ascii_uppercase())
    }

    /// The spec of `key`. Keys are compile-time constants, so an unknown key
    /// is a programming error caught by the tests.
    pub fn find(&self, key: &str) -> Option<&'static Spec> {
        self.specs.iter().find(|s| s.key == key)
    }
}

/// `roadroller serve`.
pub static SERVE: Table = Table { env_prefix: "ROADROLLER_", specs: SETTINGS };

/// `roadroller gateway`.
pub static GATEWAY: Table = Table { env_prefix: "ROADROLLER_GATEWAY_", specs: GATEWAY_SETTINGS };

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
        "Directory that holds the embedded broker's state and the views of materialized roads",
    ),
    LOG_FORMAT,
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
        "offramp.start_timeout",
        "10s",
        "DURATION",
        "How long a Subscribe stream may stay open without sending start",
    ),
    spec(
        "offramp.max_subscriptions",
        "auto",
        "N|auto",
        "Subscriptions open at once on this instance (auto: what the open-file limit allows, about 8 descriptors each)",
    ),
    spec(
        "tables.max_wait",
        "30s",
        "DURATION",
        "Longest a TableService read waits for its view to reach the caller's min_offsets",
    ),
    spec(
        "tables.cache_size",
        "16MiB",
        "SIZE",
        "Page cache of each materialized road's view (values stay on disk)",
    ),
    spec(
        "loading_bay.warehouse",
        "",
        "URL",
        "Where Loading Bay lands roads as Parquet tables: file:///path or s3://bucket/prefix; empty turns it off",
    ),
    spec(
        "loading_bay.min_landing_interval",
        "5m",
        "DURATION",
        "The shortest landing_interval a road's Hive destination may have (whole seconds, 1s at least: for tests and demos)",
    ),
    spec(
        "loading_bay.target_file_size",
        "128MiB",
        "SIZE",
        "Size at which a landing's Parquet files roll over to the next",
    ),
    spec(
        "loading_bay.snapshot_memory",
        "256MiB",
        "SIZE",
        "About the most memory a snapshot's roll-up holds: keys are split into buckets of about this size, merged one at a time, spilled under the data directory",
    ),
    spec(
        "loading_bay.s3_endpoint",
        "",
        "URL",
        "An S3-compatible endpoint other than AWS's (http:// allowed); credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    ),
    spec("loading_bay.s3_region", "", "REGION", "The S3 region; empty: AWS_REGION, else us-east-1"),
    spec(
        "loading_bay.s3_access_key_id",
        "",
        "ID",
        "S3 access key id, with loading_bay.s3_secret_access_key; empty: AWS_ACCESS_KEY_ID",
    ),
    spec(
        "loading_bay.s3_secret_access_key",
        "",
        "SECRET",
        "S3 secret key; give it in the file or the variable, never as a flag (the process list shows flags)",
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
        "embedded.fsync",
        "interval",
        "always|interval|never",
        "When the embedded broker forces writes to the disk: before each acknowledgement, \
         every embedded.fsync_interval, or when the OS chooses (what a power loss can lose)",
    ),
    spec(
        "embedded.fsync_interval",
        "1s",
        "DURATION",
        "With embedded.fsync = interval: how much a power loss can lose at most",
    ),
    spec(
        "http.listen",
        "127.0.0.1:8080",
        "ADDR",
        "Address of the legacy Data Highway HTTP gateway (Onramp, Paver, Offramp WebSocket); \
         empty turns it off",
    ),
    HTTP_MAX_BODY_BYTES,
    HTTP_MAX_INFLATED_BYTES,
    HTTP_MAX_MESSAGES,
    HTTP_HEADER_READ_TIMEOUT,
    HTTP_IDLE_TIMEOUT,
    spec(
        "admin.listen",
        "127.0.0.1:9090",
        "ADDR",
        "Address of the admin listener: /metrics (Prometheus), /healthz, /readyz; empty turns it off",
    ),
    spec(
        "telemetry.otlp_endpoint",
        "",
        "URL",
        "OTLP/gRPC endpoint traces are exported to (else OTEL_EXPORTER_OTLP_ENDPOINT); empty: no traces",
    ),
    spec(
        "telemetry.service_name",
        "",
        "NAME",
        "service.name of the traces (else OTEL_SERVICE_NAME, else roadroller); \
         OTEL_RESOURCE_ATTRIBUTES adds attributes",
    ),
    spec(
        "telemetry.traces_sampler",
        "",
        "SAMPLER",
        "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or \
         parentbased_traceidratio (else OTEL_TRACES_SAMPLER, else parentbased_always_on)",
    ),
    spec(
        "telemetry.traces_sampler_arg",
        "",
        "RATIO",
        "The ratio of the ratio samplers, 0 to 1 (else OTEL_TRACES_SAMPLER_ARG, else 1)",
    ),
    spec(
        "metrics.max_roads",
        "200",
        "N",
        "Roads that get their own metric label values; further roads count as `other`",
    ),
    spec(
        "metrics.lag_interval",
        "15s",
        "DURATION",
        "How often every stream's consumer lag is measured for the metrics",
    ),
    spec(
        "metrics.max_streams",
        "200",
        "N",
        "Streams that get their own metric label values; further streams count as `other`",
    ),
    spec(
        "kafka.properties",
        "",
        "KEY=VALUE;...",
        "librdkafka client settings passed through to every Kafka client (security.protocol, \
         sasl.*, ssl.*, ...), separated by ; or newlines; a TOML table in the file. A value \
         ${file:PATH} or ${env:NAME} is read from that file or variable. Values are never \
         shown",
    ),
    TLS_CERT_FILE,
    TLS_KEY_FILE,
    TLS_CLIENT_CA_FILE,
    TLS_REQUIRE_CLIENT_CERT,
    spec(
        "auth.jwks_file",
        "",
        "FILE",
        "JWKS file of the keys that sign bearer tokens (RS256, ES256, EdDSA); re-read on change",
    ),
    spec("auth.jwt_issuer", "", "ISS", "The issuer (iss) every bearer token must name"),
    spec("auth.jwt_audience", "", "AUD", "The audience (aud) every bearer token must name"),
    spec(
        "auth.jwt_leeway",
        "60s",
        "DURATION",
        "Clock skew allowed when checking a token's exp and nbf",
    ),
    spec("auth.principal_claim", "sub", "CLAIM", "The token claim that names the principal"),
    spec(
        "auth.authorities_claim",
        "groups",
        "CLAIM",
        "The token claim that lists the principal's authorities (a string, an array, or \
         space-separated like scope)",
    ),
    spec(
        "auth.passwords_file",
        "",
        "FILE",
        "HTTP Basic users for legacy clients: name:argon2-or-bcrypt-hash[:authority,...] per \
         line; re-read on change",
    ),
    spec(
        "auth.identities_file",
        "",
        "FILE",
        "TOML table of principal (or pattern with *) = [authorities], for client certificates \
         and Basic users; re-read on change",
    ),
    spec(
        "auth.admin_authorities",
        "",
        "A,B",
        "Authorities that may do everything; * means any authenticated principal",
    ),
    spec(
        "auth.allow_anonymous",
        "false",
        "BOOL",
        "Serve callers without credentials (needed for a non-loopback listener without \
         authentication)",
    ),
    spec(
        "auth.anonymous_read",
        "false",
        "BOOL",
        "Let anonymous callers read road documents and schemas",
    ),
    spec(
        "auth.trusted_proxies",
        "",
        "CIDR,...",
        "Peers whose X-Forwarded-For names the client address (for onramp.cidr_blocks)",
    ),
    spec(
        "quotas.file",
        "",
        "FILE",
        "TOML file of limits and weights per principal or authority ([[quota]] entries); \
         re-read on change",
    ),
    spec(
        "quotas.produce_records_per_second",
        "",
        "N",
        "Default limit of every principal (or anonymous address): records/s the Onramp accepts",
    ),
    spec(
        "quotas.produce_bytes_per_second",
        "",
        "BYTES",
        "Default limit of every principal: record bytes/s (key plus payload) the Onramp accepts",
    ),
    spec(
        "quotas.offramp_bytes_per_second",
        "",
        "BYTES",
        "Default limit of every principal: payload bytes/s the Offramp delivers",
    ),
    spec(
        "quotas.max_subscriptions",
        "",
        "N",
        "Default limit of every principal: subscriptions open at once",
    ),
    spec(
        "quotas.max_snapshot_subscriptions",
        "",
        "N",
        "Default limit of every principal: SNAPSHOT subscriptions reading at once (more queue)",
    ),
    spec(
        "quotas.paver_writes_per_second",
        "",
        "N",
        "Default limit of every principal: road and schema writes/s",
    ),
    spec(
        "quotas.burst",
        "1s",
        "DURATION",
        "How much of a rate a full bucket holds: a client may run this far ahead of its rate",
    ),
    spec(
        "quotas.snapshot_queue_timeout",
        "10m",
        "DURATION",
        "How long a SNAPSHOT waits in a road's queue before RESOURCE_EXHAUSTED",
    ),
    spec(
        "quotas.onramp_capacity",
        "",
        "N",
        "Records/s the instance's Onramp takes in all; once reached, principals share it by \
         their weights. Empty: unlimited",
    ),
    spec(
        "quotas.offramp_capacity",
        "",
        "BYTES",
        "Payload bytes/s the instance's Offramp sends in all; once reached, principals share it \
         by their weights. Empty: unlimited",
    ),
    spec(
        "audit.topic",
        "",
        "TOPIC",
        "A Kafka topic that receives every audit event besides the audit log target; empty: none",
    ),
];

/// All settings of `roadroller gateway`, in the order `--help` shows them.
pub const GATEWAY_SETTINGS: &[Spec] = &[
    spec("listen", "127.0.0.1:8080", "ADDR", "Address the gateway listens on (HTTP and WebSocket)"),
    spec(
        "upstream",
        "http://127.0.0.1:50051",
        "URL",
        "The Roadroller gRPC server the gateway translates to",
    ),
    LOG_FORMAT,
    spec(
        "grace_period",
        "10s",
        "DURATION",
        "How long shutdown waits for in-flight requests once WebSocket sessions are closed",
    ),
    HTTP_MAX_BODY_BYTES,
    HTTP_MAX_INFLATED_BYTES,
    HTTP_MAX_MESSAGES,
    HTTP_HEADER_READ_TIMEOUT,
    HTTP_IDLE_TIMEOUT,
    TLS_CERT_FILE,
    TLS_KEY_FILE,
    TLS_CLIENT_CA_FILE,
    TLS_REQUIRE_CLIENT_CERT,
    spec(
        "upstream_tls.ca_file",
        "",
        "FILE",
        "PEM CA bundle that signed the upstream's certificate (an https:// upstream)",
    ),
    spec(
        "upstream_tls.cert_file",
        "",
        "FILE",
        "PEM client certificate the gateway presents to its upstream",
    ),
    spec("upstream_tls.key_file", "", "FILE", "PEM private key of upstream_tls.cert_file"),
];

const TLS_CERT_FILE: Spec = spec(
    "tls.cert_file",
    "",
    "FILE",
    "PEM certificate chain to serve TLS with (TLS 1.2+); re-read on change. Empty: plain TCP",
);

const TLS_KEY_FILE: Spec =
    spec("tls.key_file", "", "FILE", "PEM private key of tls.cert_file; re-read on change");

const TLS_CLIENT_CA_FILE: Spec = spec(
    "tls.client_ca_file",
    "",
    "FILE",
    "PEM CA bundle that client certificates are verified against (mTLS identities)",
);

const TLS_REQUIRE_CLIENT_CERT: Spec = spec(
    "tls.require_client_cert",
    "false",
    "BOOL",
    "Refuse TLS connections without a client certificate signed by tls.client_ca_file",
);

const LOG_FORMAT: Spec = spec(
    "log_format",
    "pretty",
    "FORMAT",
    "Log format: pretty or json. Levels come from RUST_LOG (default info)",
);

const HTTP_MAX_BODY_BYTES: Spec = spec(
    "http.max_body_bytes",
    "16MiB",
    "SIZE",
    "Largest HTTP request body as sent, before decompression (413 above it)",
);

const HTTP_MAX_INFLATED_BYTES: Spec = spec(
    "http.max_inflated_bytes",
    "16MiB",
    "SIZE",
    "Largest HTTP request body once decompressed (gzip, deflate); decompression stops there (413)",
);

const HTTP_MAX_MESSAGES: Spec = spec(
    "http.max_messages",
    "10000",
    "N",
    "Most messages in one Onramp HTTP request (413 above it)",
);

const HTTP_HEADER_READ_TIMEOUT: Spec = spec(
    "http.header_read_timeout",
    "30s",
    "DURATION",
    "How long an HTTP client has to send a request's headers, and to start its next one on a kept-alive connection",
);

const HTTP_IDLE_TIMEOUT: Spec = spec(
    "http.idle_timeout",
    "60s",
    "DURATION",
    "How long an HTTP connection may move no byte before it is closed (WebSocket sessions excepted)",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_from_the_key() {
        let s = SERVE.find("kafka.bootstrap_servers").expect("declared");
        assert_eq!(s.flag(), "kafka-bootstrap-servers");
        assert_eq!(s.env(), "ROADROLLER_KAFKA_BOOTSTRAP_SERVERS");
        let s = GATEWAY.find("http.max_body_bytes").expect("declared");
        assert_eq!(s.flag(), "http-max-body-bytes");
        assert_eq!(GATEWAY.env(s), "ROADROLLER_GATEWAY_HTTP_MAX_BODY_BYTES");
    }

    #[test]
    fn keys_are_unique() {
        for table in [&SERVE, &GATEWAY] {
            let mut keys: Vec<_> = table.specs.iter().map(|s| s.key).collect();
            keys.sort_unstable();
            keys.dedup();
            assert_eq!(keys.len(), table.specs.len());
        }
    }
}
