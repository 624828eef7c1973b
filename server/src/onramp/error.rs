//! Onramp's whole-request errors. Problems with single records are
//! [`super::Rejection`]s, reported per record.

use std::time::Duration;

use crate::error::{Code, ErrorReport, Reportable};

#[derive(Debug, thiserror::Error)]
pub enum OnrampError {
    // The messages follow Data Highway's, which legacy clients may match.
    #[error("Road \"{0}\" does not exist.")]
    RoadNotFound(String),
    #[error("Road '{0}' is disabled, could not send events.")]
    RoadDisabled(String),
    #[error("Road '{0}' has no schema.")]
    NoSchema(String),
    #[error("the request holds {count} records; at most {max} are accepted per request")]
    TooManyRecords { count: usize, max: usize },
    #[error("the request is {size} bytes; at most {max} are accepted")]
    TooLarge { size: usize, max: usize },
    #[error(
        "Kafka did not acknowledge any record on topic {topic} within {within:?}; none was accepted"
    )]
    Unavailable { topic: String, within: Duration },
    #[error("internal error: {0}")]
    Internal(String),
    #[error("{0}")]
    Denied(#[from] crate::auth::Denied),
    #[error("{0}")]
    Quota(#[from] crate::quotas::QuotaError),
}

impl Reportable for OnrampError {
    fn report(&self) -> ErrorReport {
        match self {
            OnrampError::Denied(d) => return d.report(),
            OnrampError::Quota(q) => return q.report(),
            _ => {}
        }
        let (code, reason) = match self {
            OnrampError::RoadNotFound(_) => (Code::NotFound, "ROAD_NOT_FOUND"),
            OnrampError::RoadDisabled(_) => (Code::FailedPrecondition, "ROAD_DISABLED"),
            OnrampError::NoSchema(_) => (Code::FailedPrecondition, "ROAD_HAS_NO_SCHEMA"),
            OnrampError::TooManyRecords { .. } => (Code::ResourceExhausted, "TOO_MANY_RECORDS"),
            OnrampError::TooLarge { .. } => (Code::ResourceExhausted, "REQUEST_TOO_LARGE"),
            OnrampError::Unavailable { .. } => (Code::Unavailable, "KAFKA_UNAVAILABLE"),
            OnrampError::Internal(_) | OnrampError::Denied(_) | OnrampError::Quota(_) => {
                (Code::Internal, "INTERNAL")
            }
        };
        ErrorReport::new(code, reason, self.to_string())
    }
}
