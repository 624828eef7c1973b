//! Offramp's errors that end a subscription, and how each is reported.

use crate::error::{Code, ErrorReport, FieldViolation, Reportable};

#[derive(Clone, Debug, thiserror::Error)]
pub enum OfframpError {
    #[error("invalid start: {0:?}")]
    InvalidStart(Vec<FieldViolation>),
    #[error("{0}")]
    Protocol(String),
    #[error("Road \"{0}\" does not exist.")]
    RoadNotFound(String),
    #[error("road {0:?} has no topic yet; subscribe once status.topic_created is true")]
    TopicNotReady(String),
    #[error("Kafka: {0}")]
    Kafka(String),
    #[error("the road's view cannot be read: {0}")]
    View(String),
    #[error("the snapshot cannot be resumed here ({0}); start a new snapshot")]
    NotResumable(String),
    #[error("the server is shutting down; reconnect to resume from the committed offsets")]
    ShuttingDown,
    #[error("{0}")]
    Denied(crate::auth::Denied),
    #[error("{0}")]
    Unauthenticated(crate::auth::Unauthenticated),
    #[error("{0}")]
    Quota(crate::quotas::QuotaError),
    #[error(
        "this instance serves at most {0} subscriptions at once (offramp.max_subscriptions); \
         subscribe through another instance or retry later"
    )]
    TooManySubscriptions(usize),
    #[error("no start message within {0:?} of opening the stream; send start first")]
    NoStart(std::time::Duration),
    /// The subscriber went away; nothing is left to tell.
    #[error("the subscriber left")]
    SubscriberGone,
}

impl Reportable for OfframpError {
    fn report(&self) -> ErrorReport {
        match self {
            OfframpError::InvalidStart(v) => ErrorReport::invalid("INVALID_START", v.clone()),
            OfframpError::Protocol(_) => {
                ErrorReport::new(Code::InvalidArgument, "PROTOCOL_VIOLATION", self.to_string())
            }
            OfframpError::RoadNotFound(_) => {
                ErrorReport::new(Code::NotFound, "ROAD_NOT_FOUND", self.to_string())
            }
            OfframpError::TopicNotReady(_) => {
                ErrorReport::new(Code::FailedPrecondition, "TOPIC_NOT_CREATED", self.to_string())
            }
            OfframpError::View(_) => {
                ErrorReport::new(Code::Unavailable, "VIEW_UNAVAILABLE", self.to_string())
            }
            OfframpError::NotResumable(_) => ErrorReport::new(
                Code::FailedPrecondition,
                "SNAPSHOT_NOT_RESUMABLE",
                self.to_string(),
            ),
            OfframpError::Kafka(_) => {
                ErrorReport::new(Code::Unavailable, "KAFKA_UNAVAILABLE", self.to_string())
            }
            OfframpError::ShuttingDown => {
                ErrorReport::new(Code::Unavailable, "SHUTTING_DOWN", self.to_string())
            }
            OfframpError::Denied(d) => d.report(),
            OfframpError::Unauthenticated(u) => u.report(),
            OfframpError::Quota(q) => q.report(),
            OfframpError::TooManySubscriptions(_) => {
                let mut report = ErrorReport::new(
                    Code::ResourceExhausted,
                    "TOO_MANY_SUBSCRIPTIONS",
                    self.to_string(),
                );
                report.retry_after = Some(std::time::Duration::from_secs(1));
                report
            }
            OfframpError::NoStart(_) => {
                ErrorReport::new(Code::DeadlineExceeded, "NO_START", self.to_string())
            }
            OfframpError::SubscriberGone => {
                ErrorReport::new(Code::Internal, "SUBSCRIBER_GONE", self.to_string())
            }
        }
    }
}
