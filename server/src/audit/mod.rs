//! The audit trail: every administrative change and every refusal, as one
//! JSON line on the `roadroller::audit` log target and, with `audit.topic`,
//! as a record on that Kafka topic (keyed by the resource, kept 90 days).

use std::collections::BTreeMap;
use std::time::SystemTime;

use rdkafka::producer::{BaseRecord, DefaultProducerContext, ThreadedProducer};
use serde::Serialize;

use crate::auth::{Action, Caller};
use crate::kafka::{Kafka, TopicSpec};

/// The log target of audit lines.
pub const TARGET: &str = "roadroller::audit";

/// How long the audit topic keeps events.
const RETENTION_MS: u64 = 90 * 24 * 3600 * 1000;

/// One audit event.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AuditEvent {
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    pub principal: String,
    pub action: String,
    /// What it concerned: `road/<name>`, `road/<name>/schema`, or the RPC.
    pub resource: String,
    /// `allow` or `deny`.
    pub decision: &'static str,
    /// Why: the refusal's message, or what changed.
    pub reason: String,
}

/// Where audit events go.
#[derive(Clone, Default)]
pub struct Audit {
    topic: Option<(String, std::sync::Arc<ThreadedProducer<DefaultProducerContext>>)>,
}

impl Audit {
    /// Events go to the log only.
    pub fn log_only() -> Self {
        Self::default()
    }

    /// Events also go to `topic`, created when missing.
    pub async fn with_topic(kafka: &Kafka, topic: &str) -> Result<Self, String> {
        let replication_factor =
            kafka.replication_factor(0).await.map_err(|e| format!("{topic}: {e}"))?;
        let spec = TopicSpec {
            name: topic.to_string(),
            partitions: 1,
            replication_factor,
            configs: BTreeMap::from([
                ("cleanup.policy".to_string(), "delete".to_string()),
                ("retention.ms".to_string(), RETENTION_MS.to_string()),
            ]),
        };
        kafka.create_topic(&spec).await.map_err(|e| e.to_string())?;
        let producer = kafka
            .producer_client_config()
            .create_with_context(DefaultProducerContext)
            .map_err(|e| format!("{topic}: {e}"))?;
        Ok(Self { topic: Some((topic.to_string(), std::sync::Arc::new(producer))) })
    }

    /// A change that was allowed and made.
    pub fn changed(&self, caller: &Caller, action: Action, resource: String, what: String) {
        self.record(AuditEvent {
            time: now(),
            principal: caller.name().to_string(),
            action: action.as_str().to_string(),
            resource,
            decision: "allow",
            reason: what,
        });
    }

    /// A refusal: authentication failed or the policy said no.
    pub fn denied(&self, principal: &str, action: &str, resource: String, reason: String) {
        self.record(AuditEvent {
            time: now(),
            principal: principal.to_string(),
            action: action.to_string(),
            resource,
            decision: "deny",
            reason,
        });
    }

    fn record(&self, event: AuditEvent) {
        let line = serde_json::to_string(&event).expect("an audit event always serializes");
        tracing::info!(target: TARGET, "{line}");
        if let Some((topic, producer)) = &self.topic {
            let record = BaseRecord::<str, str>::to(topic).key(&event.resource).payload(&line);
            if let Err((e, _)) = producer.send(record) {
                tracing::warn!(error = %e, %topic, "an audit event could not be queued");
            }
        }
    }
}

fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}
