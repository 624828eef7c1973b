//! The stream domain's errors, and how each is reported.

use crate::error::{Code, ErrorReport, FieldViolation, Reportable};

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("invalid request: {0:?}")]
    Invalid(Vec<FieldViolation>),
    #[error("Road \"{0}\" does not exist.")]
    RoadNotFound(String),
    #[error("road {road:?} has no stream {stream:?}")]
    StreamNotFound { road: String, stream: String },
    #[error(
        "stream {stream:?} of road {road:?} has {members} member(s), or one joining; its \
         position moves only while no subscriber is connected"
    )]
    HasMembers { road: String, stream: String, members: usize },
    #[error("road {0:?} has no topic yet")]
    TopicNotReady(String),
    #[error("Kafka: {0}")]
    Kafka(String),
    #[error("{0}")]
    Denied(#[from] crate::auth::Denied),
}

impl Reportable for StreamError {
    fn report(&self) -> ErrorReport {
        let (code, reason) = match self {
            StreamError::Invalid(v) => {
                return ErrorReport::invalid("INVALID_STREAM_REQUEST", v.clone());
            }
            StreamError::Denied(d) => return d.report(),
            StreamError::RoadNotFound(_) => (Code::NotFound, "ROAD_NOT_FOUND"),
            StreamError::StreamNotFound { .. } => (Code::NotFound, "STREAM_NOT_FOUND"),
            StreamError::HasMembers { .. } => (Code::FailedPrecondition, "STREAM_HAS_MEMBERS"),
            StreamError::TopicNotReady(_) => (Code::FailedPrecondition, "TOPIC_NOT_CREATED"),
            StreamError::Kafka(_) => (Code::Unavailable, "KAFKA_UNAVAILABLE"),
        };
        ErrorReport::new(code, reason, self.to_string())
    }
}
