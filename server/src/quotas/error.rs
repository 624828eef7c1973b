//! Refusals for being over a quota: RESOURCE_EXHAUSTED with the limit named
//! in a QuotaFailure and, where waiting helps, a RetryInfo.

use std::time::Duration;

use super::limits::Limit;
use crate::error::{Code, ErrorReport, QuotaViolation, Reportable};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    /// The limit has no room now; it will after `retry_after`.
    #[error("{subject} is over its {} quota of {allowed}; retry in {}", limit.name(), seconds(*retry_after))]
    Exceeded { limit: Limit, subject: String, allowed: String, retry_after: Duration },
    /// One request asks for more than the limit ever allows at once.
    #[error(
        "the request needs {requested} of {subject}'s {} quota, more than its burst of {burst}; \
         send smaller requests",
        limit.name()
    )]
    OverBurst { limit: Limit, subject: String, requested: u64, burst: u32 },
    /// A SNAPSHOT waited in the road's queue for as long as it may.
    #[error(
        "waited {} in the queue for one of road {road:?}'s {max} concurrent snapshots; \
         retry later",
        seconds(*waited)
    )]
    QueueTimeout { road: String, max: u32, waited: Duration, retry_after: Duration },
}

fn seconds(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

impl QuotaError {
    pub fn limit(&self) -> Limit {
        match self {
            QuotaError::Exceeded { limit, .. } | QuotaError::OverBurst { limit, .. } => *limit,
            QuotaError::QueueTimeout { .. } => Limit::SnapshotSubscriptions,
        }
    }
}

impl Reportable for QuotaError {
    fn report(&self) -> ErrorReport {
        let (subject, description, retry_after) = match self {
            QuotaError::Exceeded { limit, subject, allowed, retry_after } => {
                (subject.clone(), format!("{}: {allowed}", limit.name()), Some(*retry_after))
            }
            QuotaError::OverBurst { limit, subject, burst, .. } => {
                (subject.clone(), format!("{}: at most {burst} at once", limit.name()), None)
            }
            QuotaError::QueueTimeout { road, max, retry_after, .. } => (
                format!("road:{road}"),
                format!("max_snapshot_subscriptions: {max} at once"),
                Some(*retry_after),
            ),
        };
        let mut report =
            ErrorReport::new(Code::ResourceExhausted, "QUOTA_EXCEEDED", self.to_string());
        report.metadata =
            vec![("limit".into(), self.limit().name().into()), ("subject".into(), subject.clone())];
        report.quota_violations = vec![QuotaViolation { subject, description }];
        report.retry_after = retry_after;
        report
    }
}
