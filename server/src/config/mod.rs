//! Configuration of `roadroller serve` and `roadroller gateway`: defaults, an
//! optional TOML file, environment variables and flags, in rising
//! precedence, validated once at start into [`Settings`] and
//! [`GatewaySettings`].

mod layers;
mod spec;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use layers::Value;
pub use layers::{Resolved, add_args, add_args_of};
pub use roadroller_gateway::Limits as HttpLimits;
pub use spec::{GATEWAY, SERVE};

pub use crate::auth::AuthSettings;
pub use crate::kafka::KafkaProperties;
pub use crate::offramp::OfframpSettings;
pub use crate::onramp::OnrampSettings;
pub use crate::paver::RoadDefaults;
pub use crate::roads::registry::RegistrySettings;
pub use crate::traffic_control::TrafficControlSettings;
pub use roadroller_tls::TlsFiles;

/// A configuration problem, reported as one line that names the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {}: {problem}", path.display())]
    File { path: PathBuf, problem: String },
    #[error("invalid setting {setting}: {problem}")]
    Invalid { setting: String, problem: String },
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Validated settings of one server instance.
#[derive(Clone, Debug)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    pub grace_period: Duration,
    /// Empty until [`Settings::instance_id`] fills it at start.
    pub instance_id: String,
    pub kafka: KafkaSettings,
    pub embedded: EmbeddedSettings,
    pub registry: RegistrySettings,
    pub roads: RoadDefaults,
    pub traffic_control: TrafficControlSettings,
    pub onramp: OnrampSettings,
    pub offramp: OfframpSettings,
    pub tables: crate::tables::TableSettings,
    pub loading_bay: crate::loading_bay::LoadingBaySettings,
    pub http: HttpSettings,
    /// TLS on the gRPC and HTTP listeners; `None` serves plain TCP.
    pub tls: Option<TlsFiles>,
    pub auth: AuthSettings,
    /// The Kafka topic that also receives audit events.
    pub audit_topic: Option<String>,
    /// The admin listener (metrics and probes); `None` turns it off.
    pub admin_listen: Option<SocketAddr>,
    pub metrics: crate::telemetry::MetricsSettings,
    pub traces: crate::telemetry::TraceSettings,
    pub quotas: crate::quotas::QuotaSettings,
}

/// The legacy Data Highway HTTP gateway that `serve` runs beside gRPC.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// `None` turns the gateway off.
    pub listen: Option<SocketAddr>,
    pub limits: HttpLimits,
}

/// Validated settings of `roadroller gateway`.
#[derive(Clone, Debug)]
pub struct GatewaySettings {
    pub listen: SocketAddr,
    /// The Roadroller gRPC server, as an `http://` URL.
    pub upstream: String,
    pub log_format: LogFormat,
    pub grace_period: Duration,
    pub limits: HttpLimits,
    /// TLS on the gateway's own listener.
    pub tls: Option<TlsFiles>,
    /// How to reach an `https://` upstream.
    pub upstream_tls: UpstreamTls,
}

/// The gateway's side of TLS towards its upstream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpstreamTls {
    pub ca_file: Option<PathBuf>,
    /// With its key, presented as the gateway's client certificate.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

impl GatewaySettings {
    /// Validates resolved values of the gateway's table.
    pub fn from_resolved(r: &Resolved) -> Result<Self, ConfigError> {
        let upstream_tls = UpstreamTls {
            ca_file: parse(r.get("upstream_tls.ca_file"), readable_file)?,
            cert_file: parse(r.get("upstream_tls.cert_file"), readable_file)?,
            key_file: parse(r.get("upstream_tls.key_file"), readable_file)?,
        };
        if upstream_tls.cert_file.is_some() != upstream_tls.key_file.is_some() {
            return Err(invalid(
                r.get("upstream_tls.key_file"),
                "upstream_tls.cert_file and upstream_tls.key_file go together",
            ));
        }
        let settings = Self {
            listen: parse(r.get("listen"), socket_addr)?,
            upstream: parse(r.get("upstream"), upstream)?,
            log_format: parse(r.get("log_format"), log_format)?,
            grace_period: parse(r.get("grace_period"), duration)?,
            limits: http_limits(r)?,
            tls: tls(r)?,
            upstream_tls,
        };
        if settings.upstream.starts_with("http://")
            && settings.upstream_tls != UpstreamTls::default()
        {
            return Err(invalid(r.get("upstream"), "upstream_tls.* needs an https:// upstream"));
        }
        Ok(settings)
    }
}

/// How Roadroller reaches Kafka.
#[derive(Clone, Debug)]
pub struct KafkaSettings {
    /// `None` starts the embedded broker.
    pub bootstrap_servers: Option<String>,
    pub startup_timeout: Duration,
    pub health_interval: Duration,
    /// How long Kafka has to acknowledge a record before it counts as failed.
    pub produce_timeout: Duration,
    /// librdkafka settings passed through (TLS, SASL, ...).
    pub properties: KafkaProperties,
    /// The producer's `message.max.bytes`: Onramp's largest record and
    /// [`crate::kafka::RECORD_OVERHEAD`].
    pub max_message_bytes: usize,
}

/// The embedded broker, used when no bootstrap servers are configured.
#[derive(Clone, Debug)]
pub struct EmbeddedSettings {
    pub listen: SocketAddr,
    pub fsync: crate::broker::Fsync,
}

impl Default for Settings {
    fn default() -> Self {
        Self::from_resolved(&Resolved::defaults()).expect("the defaults are valid")
    }
}

impl Settings {
    /// Validates resolved values into settings. Every value is checked, and
    /// the first problem is returned naming the setting as the user wrote it.
    pub fn from_resolved(r: &Resolved) -> Result<Self, ConfigError> {
        let max_record_bytes = parse(r.get("onramp.max_record_bytes"), size)?;
        let max_message_bytes = max_record_bytes.saturating_add(crate::kafka::RECORD_OVERHEAD);
        let replication_factor = parse(r.get("kafka.replication_factor"), |s| {
            s.parse::<i32>()
                .ok()
                .filter(|n| (0..=32).contains(n))
                .ok_or_else(|| "expected a number from 0 (automatic) to 32".to_string())
        })?;
        let tls = tls(r)?;
        let auth = auth(r, tls.as_ref())?;
        let settings = Self {
            listen: parse(r.get("listen"), socket_addr)?,
            data_dir: parse(r.get("data_dir"), non_empty)?.into(),
            log_format: parse(r.get("log_format"), log_format)?,
            grace_period: parse(r.get("grace_period"), duration)?,
            instance_id: r.get("instance_id").raw.trim().to_string(),
            kafka: KafkaSettings {
                bootstrap_servers: parse(r.get("kafka.bootstrap_servers"), bootstrap_servers)?,
                startup_timeout: parse(r.get("kafka.startup_timeout"), positive_duration)?,
                health_interval: parse(r.get("kafka.health_interval"), positive_duration)?,
                produce_timeout: parse(r.get("kafka.produce_timeout"), positive_duration)?,
                properties: kafka_properties(r.get("kafka.properties"))?,
                max_message_bytes,
            },
            embedded: EmbeddedSettings {
                listen: parse(r.get("embedded.listen"), socket_addr)?,
                fsync: fsync(r)?,
            },
            registry: RegistrySettings {
                topic: parse(r.get("registry.topic"), topic_name)?,
                min_compaction_lag: parse(r.get("registry.min_compaction_lag"), positive_duration)?,
                write_timeout: parse(r.get("registry.write_timeout"), positive_duration)?,
                replication_factor,
            },
            roads: RoadDefaults {
                stream_partitions: parse(r.get("roads.stream_partitions"), partitions)?,
                compacted_partitions: parse(r.get("roads.compacted_partitions"), partitions)?,
                retention_ms: parse(r.get("roads.retention"), positive_ms)?,
                min_compaction_lag_ms: parse(r.get("roads.min_compaction_lag"), positive_ms)?,
                tombstone_retention_ms: parse(r.get("roads.tombstone_retention"), positive_ms)?,
                min_landing_interval_ms: parse(r.get("loading_bay.min_landing_interval"), |s| {
                    let ms = positive_ms(s)?;
                    if ms % 1_000 != 0 || ms > crate::roads::rules::MAX_LANDING_INTERVAL_MS {
                        Err(format!("whole seconds from 1s to 1 day, not {s}"))
                    } else {
                        Ok(ms)
                    }
                })?,
            },
            onramp: OnrampSettings {
                max_record_bytes,
                max_request_bytes: parse(r.get("onramp.max_request_bytes"), size)?,
                max_records_per_request: parse(r.get("onramp.max_records_per_request"), count)?,
                max_unacked_per_stream: parse(r.get("onramp.max_unacked_per_stream"), count)?,
                produce_timeout: parse(r.get("kafka.produce_timeout"), positive_duration)?,
            },
            offramp: offramp(r)?,
            traffic_control: TrafficControlSettings {
                act: parse(r.get("traffic_control.enabled"), boolean)?,
                topic_prefix: parse(r.get("traffic_control.topic_prefix"), topic_prefix)?,
                sweep_interval: parse(r.get("traffic_control.sweep_interval"), positive_duration)?,
                message_count_interval: parse(
                    r.get("traffic_control.message_count_interval"),
                    positive_duration,
                )?,
                replication_factor,
                max_message_bytes,
            },
            http: HttpSettings {
                listen: parse(r.get("http.listen"), |s| match s {
                    "" => Ok(None),
                    s => socket_addr(s).map(Some),
                })?,
                limits: http_limits(r)?,
            },
            tls,
            auth,
            audit_topic: parse(r.get("audit.topic"), |s| {
                if s.is_empty() { Ok(None) } else { topic_name(s).map(Some) }
            })?,
            admin_listen: parse(r.get("admin.listen"), |s| match s {
                "" => Ok(None),
                s => socket_addr(s).map(Some),
            })?,
            metrics: crate::telemetry::MetricsSettings {
                max_roads: parse(r.get("metrics.max_roads"), count)?,
                max_streams: parse(r.get("metrics.max_streams"), count)?,
                lag_interval: parse(r.get("metrics.lag_interval"), positive_duration)?,
            },
            traces: traces(r)?,
            quotas: quotas(r)?,
            tables: crate::tables::TableSettings {
                max_wait: parse(r.get("tables.max_wait"), positive_duration)?,
                cache_bytes: parse(r.get("tables.cache_size"), size)?,
            },
            loading_bay: crate::loading_bay::LoadingBaySettings {
                warehouse: crate::loading_bay::warehouse::WarehouseSettings {
                    url: parse(r.get("loading_bay.warehouse"), |s| {
                        if s.is_empty() {
                            Ok(String::new())
                        } else {
                            crate::loading_bay::warehouse::check_url(s).map(|()| s.to_string())
                        }
                    })?,
                    s3_endpoint: parse(r.get("loading_bay.s3_endpoint"), |s| Ok(s.to_string()))?,
                    s3_region: parse(r.get("loading_bay.s3_region"), |s| Ok(s.to_string()))?,
                    s3_access_key_id: parse(r.get("loading_bay.s3_access_key_id"), |s| {
                        Ok(s.to_string())
                    })?,
                    s3_secret_access_key: parse(r.get("loading_bay.s3_secret_access_key"), |s| {
                        Ok(s.to_string())
                    })?,
                },
                target_file_bytes: parse(r.get("loading_bay.target_file_size"), at_least_mib)?,
                snapshot_memory: parse(r.get("loading_bay.snapshot_memory"), at_least_mib)?,
                fault: None,
                skew_days: 0,
                claim_lease: crate::loading_bay::CLAIM_LEASE,
            },
        };
        settings.refuse_open_networks(r)?;
        Ok(settings)
    }

    /// Without authentication every caller may do everything, which is
    /// safe only where nobody else can connect: a listener beyond loopback
    /// then needs `auth.allow_anonymous` said out loud.
    fn refuse_open_networks(&self, r: &Resolved) -> Result<(), ConfigError> {
        if self.auth.any_source() || self.auth.allow_anonymous {
            return Ok(());
        }
        let open = [
            ("listen", Some(self.listen)),
            ("http.listen", self.http.listen),
            ("admin.listen", self.admin_listen),
        ]
        .into_iter()
        .find(|(_, addr)| addr.is_some_and(|a| !a.ip().is_loopback()));
        match open {
            Some((key, _)) => Err(invalid(
                r.get(key),
                "serves every caller with full rights on a non-loopback address, since no \
                 authentication is configured (auth.jwks_file, auth.passwords_file, \
                 tls.client_ca_file); configure one, or set auth.allow_anonymous = true to \
                 serve anonymous callers on purpose",
            )),
            None => Ok(()),
        }
    }

    /// The instance id, picking a random one when none is configured.
    pub fn with_instance_id(mut self) -> Self {
        if self.instance_id.is_empty() {
            let id = uuid::Uuid::new_v4().simple().to_string();
            self.instance_id = format!("roadroller-{}", &id[..12]);
        }
        self
    }
}

fn offramp(r: &Resolved) -> Result<OfframpSettings, ConfigError> {
    let session_timeout = parse(r.get("offramp.session_timeout"), positive_duration)?;
    let max_poll_interval = parse(r.get("offramp.max_poll_interval"), |s| {
        let d = positive_duration(s)?;
        // librdkafka refuses a poll interval shorter than the session.
        if d < session_timeout {
            return Err(format!(
                "must not be shorter than offramp.session_timeout ({})",
                humantime::format_duration(session_timeout)
            ));
        }
        Ok(d)
    })?;
    let start_timeout = parse(r.get("offramp.start_timeout"), positive_duration)?;
    let max_subscriptions = parse(r.get("offramp.max_subscriptions"), |s| {
        if s == "auto" { Ok(None) } else { count(s).map(Some).map_err(|e| format!("{e}, or auto")) }
    })?;
    Ok(OfframpSettings { session_timeout, max_poll_interval, start_timeout, max_subscriptions })
}

fn quotas(r: &Resolved) -> Result<crate::quotas::QuotaSettings, ConfigError> {
    let rate = |key: &str| {
        parse(
            r.get(key),
            |s| if s.is_empty() { Ok(None) } else { count(s).map(|n| Some(n as u64)) },
        )
    };
    let concurrent = |key: &str| {
        parse(r.get(key), |s| {
            if s.is_empty() {
                return Ok(None);
            }
            count(s)?.try_into().map(Some).map_err(|_| "expected at most 4294967295".to_string())
        })
    };
    Ok(crate::quotas::QuotaSettings {
        defaults: crate::quotas::Limits {
            produce_records_per_second: rate("quotas.produce_records_per_second")?,
            produce_bytes_per_second: rate("quotas.produce_bytes_per_second")?,
            offramp_bytes_per_second: rate("quotas.offramp_bytes_per_second")?,
            max_subscriptions: concurrent("quotas.max_subscriptions")?,
            max_snapshot_subscriptions: concurrent("quotas.max_snapshot_subscriptions")?,
            paver_writes_per_second: rate("quotas.paver_writes_per_second")?,
        },
        file: parse(r.get("quotas.file"), readable_file)?,
        burst: parse(r.get("quotas.burst"), positive_duration)?,
        snapshot_queue_timeout: parse(r.get("quotas.snapshot_queue_timeout"), positive_duration)?,
        onramp_capacity: rate("quotas.onramp_capacity")?,
        offramp_capacity: rate("quotas.offramp_capacity")?,
    })
}

fn http_limits(r: &Resolved) -> Result<HttpLimits, ConfigError> {
    Ok(HttpLimits {
        max_body_bytes: parse(r.get("http.max_body_bytes"), size)?,
        max_inflated_bytes: parse(r.get("http.max_inflated_bytes"), size)?,
        max_messages: parse(r.get("http.max_messages"), count)?,
        timeouts: roadroller_gateway::Timeouts {
            header_read: parse(r.get("http.header_read_timeout"), positive_duration)?,
            idle: parse(r.get("http.idle_timeout"), positive_duration)?,
        },
    })
}

/// Tracing: each setting, else its standard `OTEL_*` variable.
fn traces(r: &Resolved) -> Result<crate::telemetry::TraceSettings, ConfigError> {
    use crate::telemetry::traces::SamplerKind;
    let or_env = |key: &str, var: &str| {
        let mut value = r.get(key).clone();
        if value.raw.trim().is_empty()
            && let Ok(from_env) = std::env::var(var)
        {
            value.raw = from_env;
        }
        value
    };
    let endpoint = parse(&or_env("telemetry.otlp_endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT"), |s| {
        if s.is_empty() {
            return Ok(None);
        }
        let uri: tonic::transport::Uri =
            s.parse().map_err(|_| "expected an http:// or https:// URL".to_string())?;
        match uri.scheme_str() {
            Some("http" | "https") if uri.host().is_some() => Ok(Some(s.to_string())),
            _ => Err("expected an http:// or https:// URL, such as http://127.0.0.1:4317".into()),
        }
    })?;
    let service_name = parse(&or_env("telemetry.service_name", "OTEL_SERVICE_NAME"), |s| {
        Ok(if s.is_empty() { "roadroller".to_string() } else { s.to_string() })
    })?;
    let sampler = parse(&or_env("telemetry.traces_sampler", "OTEL_TRACES_SAMPLER"), |s| {
        if s.is_empty() { Ok(SamplerKind::ParentBasedAlwaysOn) } else { SamplerKind::parse(s) }
    })?;
    let sampler_arg =
        parse(&or_env("telemetry.traces_sampler_arg", "OTEL_TRACES_SAMPLER_ARG"), |s| {
            if s.is_empty() {
                return Ok(1.0);
            }
            s.parse::<f64>()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| "expected a ratio from 0 to 1".to_string())
        })?;
    Ok(crate::telemetry::TraceSettings { endpoint, service_name, sampler, sampler_arg })
}

/// TLS files, when `tls.cert_file` is set.
fn tls(r: &Resolved) -> Result<Option<TlsFiles>, ConfigError> {
    let cert_file = parse(r.get("tls.cert_file"), readable_file)?;
    let key_file = parse(r.get("tls.key_file"), readable_file)?;
    let client_ca_file = parse(r.get("tls.client_ca_file"), readable_file)?;
    let require_client_cert = parse(r.get("tls.require_client_cert"), boolean)?;
    let files = match (cert_file, key_file) {
        (Some(cert_file), Some(key_file)) => {
            TlsFiles { cert_file, key_file, client_ca_file, require_client_cert }
        }
        (None, None) if client_ca_file.is_none() && !require_client_cert => return Ok(None),
        (None, None) => {
            return Err(invalid(
                r.get("tls.cert_file"),
                "tls.client_ca_file and tls.require_client_cert need TLS: set tls.cert_file and tls.key_file",
            ));
        }
        (Some(_), None) => {
            return Err(invalid(r.get("tls.key_file"), "must be set with tls.cert_file"));
        }
        (None, Some(_)) => {
            return Err(invalid(r.get("tls.cert_file"), "must be set with tls.key_file"));
        }
    };
    if files.require_client_cert && files.client_ca_file.is_none() {
        return Err(invalid(
            r.get("tls.require_client_cert"),
            "needs tls.client_ca_file to verify client certificates against",
        ));
    }
    // Loaded once here, so that a bad file stops the start with its name.
    roadroller_tls::ServerTls::new(files.clone())
        .map_err(|e| invalid(r.get("tls.cert_file"), e))?;
    Ok(Some(files))
}

fn auth(r: &Resolved, tls: Option<&TlsFiles>) -> Result<AuthSettings, ConfigError> {
    let jwks_file = parse(r.get("auth.jwks_file"), readable_file)?;
    let jwt = match &jwks_file {
        None => None,
        Some(_) => {
            let required = |key: &str| {
                parse(r.get(key), |s| {
                    if s.is_empty() {
                        Err("is required with auth.jwks_file: tokens are checked against it".into())
                    } else {
                        Ok(s.to_string())
                    }
                })
            };
            Some(crate::auth::JwtRules {
                issuer: required("auth.jwt_issuer")?,
                audience: required("auth.jwt_audience")?,
                leeway: parse(r.get("auth.jwt_leeway"), duration)?,
                principal_claim: parse(r.get("auth.principal_claim"), non_empty)?,
                authorities_claim: parse(r.get("auth.authorities_claim"), non_empty)?,
            })
        }
    };
    let settings = AuthSettings {
        jwks_file,
        jwt,
        passwords_file: parse(r.get("auth.passwords_file"), readable_file)?,
        identities_file: parse(r.get("auth.identities_file"), readable_file)?,
        client_certificates: tls.is_some_and(|t| t.client_ca_file.is_some()),
        admin_authorities: parse(r.get("auth.admin_authorities"), list)?,
        allow_anonymous: parse(r.get("auth.allow_anonymous"), boolean)?,
        anonymous_read: parse(r.get("auth.anonymous_read"), boolean)?,
        trusted_proxies: parse(r.get("auth.trusted_proxies"), |s| {
            list(s)?
                .iter()
                .map(|n| {
                    n.parse::<ipnet::IpNet>()
                        .or_else(|_| n.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                        .map_err(|_| format!("{n:?} is not an address or CIDR block"))
                })
                .collect()
        })?,
    };
    // Loaded once here, so that a bad file stops the start with its name.
    crate::auth::Auth::new(&settings).map_err(|e| invalid(r.get("auth.jwks_file"), e))?;
    Ok(settings)
}

fn kafka_properties(value: &Value) -> Result<KafkaProperties, ConfigError> {
    // Never echoes the value: it may hold a secret.
    KafkaProperties::parse(value.raw.trim())
        .map_err(|problem| ConfigError::Invalid { setting: value.to_string(), problem })
}

/// A comma-separated list, empty entries dropped.
fn list(s: &str) -> Result<Vec<String>, String> {
    Ok(s.split(',').map(str::trim).filter(|e| !e.is_empty()).map(str::to_string).collect())
}

/// A file that can be read, or empty for none.
fn readable_file(s: &str) -> Result<Option<PathBuf>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    std::fs::metadata(s).map_err(|e| format!("cannot read {s}: {e}"))?;
    Ok(Some(PathBuf::from(s)))
}

fn invalid(value: &Value, problem: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid { setting: value.to_string(), problem: problem.to_string() }
}

/// `embedded.fsync`, with its period for `interval`.
fn fsync(r: &Resolved) -> Result<crate::broker::Fsync, ConfigError> {
    use crate::broker::Fsync;
    let every = parse(r.get("embedded.fsync_interval"), positive_duration)?;
    parse(r.get("embedded.fsync"), |s| match s.trim() {
        "always" => Ok(Fsync::Always),
        "interval" => Ok(Fsync::Interval(every)),
        "never" => Ok(Fsync::Never),
        _ => Err("expected always, interval or never".to_string()),
    })
}

fn log_format(s: &str) -> Result<LogFormat, String> {
    match s {
        "pretty" => Ok(LogFormat::Pretty),
        "json" => Ok(LogFormat::Json),
        _ => Err("expected pretty or json".into()),
    }
}

/// The gRPC server the gateway speaks to: an `http://` URL with a host.
fn upstream(s: &str) -> Result<String, String> {
    let problem = || {
        "expected an http:// or https:// URL of a Roadroller gRPC server, such as \
         http://127.0.0.1:50051"
            .to_string()
    };
    let uri: tonic::transport::Uri = s.parse().map_err(|_| problem())?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none_or(str::is_empty) {
        return Err(problem());
    }
    Ok(s.to_string())
}

fn parse<T>(value: &Value, f: impl FnOnce(&str) -> Result<T, String>) -> Result<T, ConfigError> {
    f(value.raw.trim())
        .map_err(|problem| ConfigError::Invalid { setting: value.to_string(), problem })
}

fn socket_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse().map_err(|_| "expected an IP address and port, such as 127.0.0.1:50051".into())
}

fn non_empty(s: &str) -> Result<String, String> {
    if s.is_empty() { Err("must not be empty".into()) } else { Ok(s.to_string()) }
}

/// A duration such as `10s`, `500ms` or `1h 30m`.
pub fn duration(s: &str) -> Result<Duration, String> {
    if s.starts_with('-') {
        return Err("must not be negative".into());
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("expected a duration such as 10s, 500ms or 1h ({e})"))
}

fn positive_duration(s: &str) -> Result<Duration, String> {
    let d = duration(s)?;
    if d.is_zero() { Err("must be greater than zero".into()) } else { Ok(d) }
}

fn positive_ms(s: &str) -> Result<u64, String> {
    Ok(positive_duration(s)?.as_millis() as u64)
}

/// A size in bytes: `1048576`, `512KiB`, `1MiB`.
/// A size of 1 MiB or more.
fn at_least_mib(s: &str) -> Result<u64, String> {
    size(s).and_then(|n| {
        if n < 1 << 20 { Err(format!("at least 1MiB, not {s}")) } else { Ok(n as u64) }
    })
}

fn size(s: &str) -> Result<usize, String> {
    let (number, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, ""),
    };
    let multiplier = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err("expected a size such as 1048576, 512KiB or 1MiB".into()),
    };
    let n: usize = number
        .parse()
        .map_err(|_| "expected a size such as 1048576, 512KiB or 1MiB".to_string())?;
    match n.checked_mul(multiplier) {
        Some(0) | None => Err("must be greater than zero and fit in memory".into()),
        Some(bytes) => Ok(bytes),
    }
}

/// A positive count.
fn count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) | Err(_) => Err("expected a positive whole number".into()),
        Ok(n) => Ok(n),
    }
}

fn partitions(s: &str) -> Result<u32, String> {
    let n: u32 = s.parse().map_err(|_| format!("expected a number of partitions, got {s:?}"))?;
    crate::roads::rules::partitions(n).map(|()| n)
}

fn boolean(s: &str) -> Result<bool, String> {
    match s {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

/// Kafka topic names: letters, digits, `.`, `_`, `-`; at most 249.
fn topic_name(s: &str) -> Result<String, String> {
    let valid = !s.is_empty()
        && s.len() <= 249
        && s != "."
        && s != ".."
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid { Ok(s.to_string()) } else { Err("is not a valid Kafka topic name".into()) }
}

/// A topic prefix: what a topic name may hold, or empty.
fn topic_prefix(s: &str) -> Result<String, String> {
    if s.is_empty() { Ok(String::new()) } else { topic_name(s) }
}

fn bootstrap_servers(s: &str) -> Result<Option<String>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    for server in s.split(',') {
        let server = server.trim();
        let valid = server
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !valid {
            return Err(format!("expected host:port[,host:port...], got {server:?}"));
        }
    }
    Ok(Some(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(args: &[&str]) -> Result<Settings, ConfigError> {
        let cmd = add_args(clap::Command::new("serve"));
        let matches =
            cmd.try_get_matches_from(std::iter::once("serve").chain(args.iter().copied()));
        Settings::from_resolved(&Resolved::from_matches(&matches.expect("parses"))?)
    }

    fn gateway(args: &[&str]) -> Result<GatewaySettings, ConfigError> {
        let cmd = add_args_of(&GATEWAY, clap::Command::new("gateway"));
        let matches =
            cmd.try_get_matches_from(std::iter::once("gateway").chain(args.iter().copied()));
        GatewaySettings::from_resolved(&Resolved::from_matches_of(
            &GATEWAY,
            &matches.expect("parses"),
        )?)
    }

    #[test]
    fn the_http_gateway_is_on_by_default_and_can_be_turned_off() {
        let s = Settings::default();
        assert_eq!(s.http.listen.map(|a| a.to_string()).as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(s.http.limits, HttpLimits::default());
        let s = settings(&["--http-listen", "", "--http-max-messages", "5"]).expect("valid");
        assert_eq!(s.http.listen, None);
        assert_eq!(s.http.limits.max_messages, 5);
        let e = settings(&["--http-max-inflated-bytes", "0"]).expect_err("zero").to_string();
        assert!(e.starts_with("invalid setting --http-max-inflated-bytes=\"0\""), "{e}");
    }

    #[test]
    fn the_gateway_command_has_its_own_settings() {
        let g = gateway(&[]).expect("defaults");
        assert_eq!(g.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(g.upstream, "http://127.0.0.1:50051");
        let g = gateway(&["--upstream", "http://10.0.0.1:9000", "--http-max-body-bytes", "1KiB"])
            .expect("valid");
        assert_eq!((g.upstream.as_str(), g.limits.max_body_bytes), ("http://10.0.0.1:9000", 1024));
        for bad in ["10.0.0.1:9000", "ftp://x:1", "http://", "not a url"] {
            let e = gateway(&["--upstream", bad]).expect_err(bad).to_string();
            assert!(e.contains("--upstream") && e.contains("http://"), "{e}");
        }
    }

    #[test]
    fn defaults_need_no_kafka() {
        let s = Settings::default();
        assert_eq!(s.listen.to_string(), "127.0.0.1:50051");
        assert!(s.kafka.bootstrap_servers.is_none());
        assert_eq!(s.grace_period, Duration::from_secs(10));
    }

    #[test]
    fn a_flag_overrides_the_default() {
        let s = settings(&["--grace-period", "2s"]).expect("valid");
        assert_eq!(s.grace_period, Duration::from_secs(2));
    }

    #[test]
    fn problems_name_the_setting() {
        let e = settings(&["--grace-period", "-5s"]).expect_err("negative").to_string();
        assert_eq!(e, r#"invalid setting --grace-period="-5s": must not be negative"#);
        let e = settings(&["--listen", "nope"]).expect_err("bad address").to_string();
        assert!(e.starts_with(r#"invalid setting --listen="nope": expected an IP address"#), "{e}");
        let e = settings(&["--kafka-bootstrap-servers", "a:b"]).expect_err("bad port").to_string();
        assert!(e.contains("--kafka-bootstrap-servers"), "{e}");
    }

    #[test]
    fn the_file_sits_between_defaults_and_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.toml");
        std::fs::write(&path, "grace_period = \"3s\"\n[kafka]\nstartup_timeout = \"4s\"\n")
            .expect("write");
        let file = path.to_str().expect("utf-8");
        let s = settings(&["--config", file]).expect("valid");
        assert_eq!(s.grace_period, Duration::from_secs(3));
        assert_eq!(s.kafka.startup_timeout, Duration::from_secs(4));
        let s = settings(&["--config", file, "--grace-period", "7s"]).expect("valid");
        assert_eq!(s.grace_period, Duration::from_secs(7));
    }

    #[test]
    fn the_file_refuses_unknown_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:1\"\n[kafka]\nbootstrap = \"x:1\"\n")
            .expect("write");
        let e = settings(&["--config", path.to_str().expect("utf-8")]).expect_err("unknown");
        assert!(e.to_string().ends_with("unknown setting `kafka.bootstrap`"), "{e}");
    }

    #[test]
    fn the_kubernetes_config_names_only_settings_that_exist() {
        let manifest = include_str!("../../../deploy/kubernetes/10-configmap.yaml");
        let toml: String = manifest
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("roadroller.toml: |"))
            .skip(1)
            .map(|l| l.strip_prefix("    ").unwrap_or(l))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(toml.contains("[admin]"), "{toml}");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("roadroller.toml");
        std::fs::write(&path, &toml).expect("write");
        // Every key is known; what fails is the first file it names, which
        // only exists in the pod.
        let e =
            settings(&["--config", path.to_str().expect("utf-8")]).expect_err("no secrets here");
        let e = e.to_string();
        assert!(!e.contains("unknown setting") && !e.contains("must be a single value"), "{e}");
        assert!(e.contains("/etc/roadroller/"), "{e}");
    }

    #[test]
    fn kafka_properties_come_as_a_table_or_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.toml");
        std::fs::write(
            &path,
            "[kafka.properties]\nsecurity.protocol = \"ssl\"\n\"ssl.ca.location\" = \"/ca.pem\"\n\
             socket.timeout.ms = 5000\n",
        )
        .expect("write");
        let s = settings(&["--config", path.to_str().expect("utf-8")]).expect("valid");
        let mut config = rdkafka::ClientConfig::new();
        s.kafka.properties.apply(&mut config);
        assert_eq!(config.get("security.protocol"), Some("ssl"));
        assert_eq!(config.get("ssl.ca.location"), Some("/ca.pem"));
        assert_eq!(config.get("socket.timeout.ms"), Some("5000"));
        let s = settings(&["--kafka-properties", "sasl.mechanism=PLAIN;sasl.username=me"])
            .expect("valid");
        let mut config = rdkafka::ClientConfig::new();
        s.kafka.properties.apply(&mut config);
        assert_eq!(config.get("sasl.username"), Some("me"));
        let e = settings(&["--kafka-properties", "acks=0"]).expect_err("reserved").to_string();
        assert!(e.contains("--kafka-properties") && e.contains("set by Roadroller"), "{e}");
    }

    #[test]
    fn security_settings_are_checked_together() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("any.pem");
        std::fs::write(&file, "x").expect("write");
        let file = file.to_str().expect("utf-8");
        let e = settings(&["--tls-cert-file", file]).expect_err("no key").to_string();
        assert!(e.contains("--tls-key-file") || e.contains("tls.key_file"), "{e}");
        let e = settings(&["--tls-require-client-cert", "true"]).expect_err("no tls").to_string();
        assert!(e.contains("tls.cert_file"), "{e}");
        let e = settings(&["--auth-jwks-file", file]).expect_err("no issuer").to_string();
        assert!(e.contains("auth.jwt_issuer") && e.contains("required"), "{e}");
        let e = settings(&["--auth-passwords-file", "/nonexistent"]).expect_err("missing");
        assert!(e.to_string().contains("--auth-passwords-file"), "{e}");
        let e = settings(&["--auth-trusted-proxies", "10.0.0.0/8,nope"]).expect_err("bad cidr");
        assert!(e.to_string().contains("\"nope\" is not an address"), "{e}");
        let e = settings(&["--listen", "0.0.0.0:50051"]).expect_err("open").to_string();
        assert!(e.contains("auth.allow_anonymous"), "{e}");
        settings(&["--listen", "0.0.0.0:50051", "--auth-allow-anonymous", "true"])
            .expect("said so");
    }

    #[test]
    fn file_values_are_named_with_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.toml");
        std::fs::write(&path, "[embedded]\nfsync_interval = 0\n").expect("write");
        let e = settings(&["--config", path.to_str().expect("utf-8")]).expect_err("zero");
        let e = e.to_string();
        assert!(e.starts_with("invalid setting embedded.fsync_interval = \"0\" in "), "{e}");
    }
}
