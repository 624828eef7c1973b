//! Paver's errors, and how each is reported.

use crate::error::{Code, ErrorReport, FieldViolation, PreconditionViolation, Reportable};
use crate::roads::registry::RegistryError;
use crate::schema::compat::Incompatibility;

#[derive(Debug, thiserror::Error)]
pub enum PaverError {
    #[error("invalid road: {0:?}")]
    InvalidRoad(Vec<FieldViolation>),
    #[error("invalid schema: {0:?}")]
    InvalidSchema(Vec<FieldViolation>),
    #[error("Road \"{0}\" does not exist.")]
    RoadNotFound(String),
    #[error("road {road:?} has no schema version {version}")]
    SchemaNotFound { road: String, version: u32 },
    #[error("road {0:?} has no schema")]
    NoSchema(String),
    #[error("road {0:?} already exists")]
    RoadExists(String),
    #[error("{message}")]
    Precondition { reason: &'static str, message: String },
    #[error("the schema is not compatible with road {road:?} under {mode}")]
    Incompatible { road: String, mode: &'static str, problems: Vec<Incompatibility> },
    #[error("road {0:?} changed since the etag was read")]
    StaleEtag(String),
    #[error("the road registry is unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Denied(#[from] crate::auth::Denied),
    #[error("{0}")]
    Quota(#[from] crate::quotas::QuotaError),
}

impl From<RegistryError> for PaverError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Conflict { road } => PaverError::StaleEtag(road),
            e @ RegistryError::TooLarge { .. } => {
                PaverError::InvalidRoad(vec![FieldViolation::new("road", e.to_string())])
            }
            other => PaverError::Unavailable(other.to_string()),
        }
    }
}

impl Reportable for PaverError {
    fn report(&self) -> ErrorReport {
        match self {
            PaverError::Denied(d) => d.report(),
            PaverError::Quota(q) => q.report(),
            PaverError::InvalidRoad(v) => ErrorReport::invalid("INVALID_ROAD", v.clone()),
            PaverError::InvalidSchema(v) => ErrorReport::invalid("INVALID_SCHEMA", v.clone()),
            PaverError::RoadNotFound(_) => {
                ErrorReport::new(Code::NotFound, "ROAD_NOT_FOUND", self.to_string())
            }
            PaverError::SchemaNotFound { .. } | PaverError::NoSchema(_) => {
                ErrorReport::new(Code::NotFound, "SCHEMA_NOT_FOUND", self.to_string())
            }
            PaverError::RoadExists(_) => {
                ErrorReport::new(Code::AlreadyExists, "ROAD_ALREADY_EXISTS", self.to_string())
            }
            PaverError::Precondition { reason, message } => {
                ErrorReport::new(Code::FailedPrecondition, reason, message.clone())
            }
            PaverError::Incompatible { problems, .. } => {
                let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
                let mut report = ErrorReport::new(
                    Code::FailedPrecondition,
                    "SCHEMA_INCOMPATIBLE",
                    format!("{self}: {}", listed.join("; ")),
                );
                report.precondition_violations = problems
                    .iter()
                    .map(|p| PreconditionViolation {
                        kind: "SCHEMA_COMPATIBILITY".into(),
                        subject: p.pointer.clone(),
                        description: format!("{} (against version {})", p.problem, p.version),
                    })
                    .collect();
                report
            }
            PaverError::StaleEtag(_) => {
                ErrorReport::new(Code::Aborted, "ETAG_MISMATCH", self.to_string())
            }
            PaverError::Unavailable(_) => {
                ErrorReport::new(Code::Unavailable, "REGISTRY_UNAVAILABLE", self.to_string())
            }
        }
    }
}
