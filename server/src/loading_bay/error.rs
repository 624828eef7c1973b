//! The Loading Bay domain's errors, and how each is reported.

use crate::error::{Code, ErrorReport, Reportable};

#[derive(Debug, thiserror::Error)]
pub enum LandingError {
    #[error("Road \"{0}\" does not exist.")]
    RoadNotFound(String),
    #[error(
        "Loading Bay is off on this instance: set loading_bay.warehouse to a file:// or s3:// URL"
    )]
    Off,
    #[error(
        "road {0:?} has no enabled Hive destination (UpdateRoad with update_mask \
         \"hive_destination.enabled\")"
    )]
    NoDestination(String),
    #[error("road {0:?} has no schema yet, so it has no table")]
    NoSchema(String),
    #[error("road {0:?} is not COMPACTED: only COMPACTED roads have snapshots")]
    NotCompacted(String),
    #[error("the warehouse refused or failed: {0}")]
    Storage(String),
    #[error("road {road:?}: reading partition {partition} failed: {why}")]
    Kafka { road: String, partition: i32, why: String },
    #[error("road {road:?}: a landing file cannot be written: {why}")]
    Encode { road: String, why: String },
    #[error("road {road:?}: the landing of {instant} is unreadable: {why}")]
    Manifest { road: String, instant: String, why: String },
    #[error("the landing stopped at {0}, as the crash tests ask")]
    Stopped(String),
    #[error("{0}")]
    Denied(#[from] crate::auth::Denied),
}

impl From<object_store::Error> for LandingError {
    fn from(e: object_store::Error) -> Self {
        LandingError::Storage(e.to_string())
    }
}

impl Reportable for LandingError {
    fn report(&self) -> ErrorReport {
        let (code, reason) = match self {
            LandingError::Denied(d) => return d.report(),
            LandingError::RoadNotFound(_) => (Code::NotFound, "ROAD_NOT_FOUND"),
            LandingError::Off => (Code::FailedPrecondition, "LOADING_BAY_OFF"),
            LandingError::NoDestination(_) => (Code::FailedPrecondition, "NO_HIVE_DESTINATION"),
            LandingError::NoSchema(_) => (Code::FailedPrecondition, "ROAD_HAS_NO_SCHEMA"),
            LandingError::NotCompacted(_) => (Code::FailedPrecondition, "ROAD_NOT_COMPACTED"),
            LandingError::Storage(_) => (Code::Unavailable, "WAREHOUSE_UNAVAILABLE"),
            LandingError::Kafka { .. } => (Code::Unavailable, "KAFKA_UNAVAILABLE"),
            LandingError::Encode { .. } => (Code::Internal, "LANDING_NOT_ENCODED"),
            LandingError::Manifest { .. } => (Code::Internal, "LANDING_UNREADABLE"),
            LandingError::Stopped(_) => (Code::Unavailable, "LANDING_STOPPED"),
        };
        ErrorReport::new(code, reason, self.to_string())
    }
}
