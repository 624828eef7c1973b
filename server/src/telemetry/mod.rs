//! What an operator sees: logs through `tracing` (levels from `RUST_LOG`,
//! default `info`, written to standard output as pretty text or JSON lines;
//! standard error is kept for the one-line fatal error), Prometheus metrics,
//! and the admin listener that serves them with the probes.

pub mod admin;
pub mod grpc;
pub mod metrics;
mod process;
pub mod traces;

pub use metrics::{Metrics, MetricsSettings};
pub use traces::{ServerSpan, TraceSettings, Tracing};

/// What the domains report to: metrics and traces. Cheap to clone.
#[derive(Clone)]
pub struct Telemetry {
    pub metrics: std::sync::Arc<Metrics>,
    pub tracing: Tracing,
}

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. Safe to call more than once; later calls do
/// nothing (tests start many servers in one process).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stdout);
    let _already_set = match format {
        // Colours only for a terminal: redirected logs stay plain text.
        LogFormat::Pretty => {
            use std::io::IsTerminal;
            builder.with_ansi(std::io::stdout().is_terminal()).try_init()
        }
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
