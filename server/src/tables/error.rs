//! The Tables domain's errors, and how each is reported.

use crate::error::{Code, ErrorReport, FieldViolation, PreconditionViolation, Reportable};

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("invalid request: {0:?}")]
    Invalid(Vec<FieldViolation>),
    #[error("Road \"{0}\" does not exist.")]
    RoadNotFound(String),
    #[error(
        "road {0:?} is not materialized: only a COMPACTED road with `materialized` set is served \
         as a table (UpdateRoad with update_mask \"materialized\")"
    )]
    NotMaterialized(String),
    #[error(
        "the view of road {road:?} is at offset {at} of partition {partition}, short of the \
         {wanted} asked for in min_offsets"
    )]
    Behind { road: String, partition: i32, wanted: i64, at: i64 },
    #[error("road {road:?} cannot be read on this instance yet: {why}")]
    Building { road: String, why: String },
    #[error(
        "road {road:?}: the record at partition {partition} offset {offset} is not JSON ({why}), so its PII cannot be blanked"
    )]
    Unreadable { road: String, partition: i32, offset: i64, why: String },
    #[error("the view cannot be read: {0}")]
    Store(String),
    #[error("{0}")]
    Denied(#[from] crate::auth::Denied),
}

impl Reportable for TableError {
    fn report(&self) -> ErrorReport {
        let (code, reason) = match self {
            TableError::Invalid(v) => {
                return ErrorReport::invalid("INVALID_TABLE_REQUEST", v.clone());
            }
            TableError::Denied(d) => return d.report(),
            TableError::Behind { road, partition, .. } => {
                let mut report =
                    ErrorReport::new(Code::FailedPrecondition, "VIEW_BEHIND", self.to_string());
                report.precondition_violations.push(PreconditionViolation {
                    kind: "VIEW_BEHIND".into(),
                    subject: format!("road:{road}/partition:{partition}"),
                    description: self.to_string(),
                });
                return report;
            }
            TableError::RoadNotFound(_) => (Code::NotFound, "ROAD_NOT_FOUND"),
            TableError::NotMaterialized(_) => (Code::FailedPrecondition, "NOT_MATERIALIZED"),
            TableError::Building { .. } => (Code::Unavailable, "VIEW_BUILDING"),
            TableError::Unreadable { .. } => (Code::Internal, "RECORD_NOT_JSON"),
            TableError::Store(_) => (Code::Unavailable, "VIEW_UNAVAILABLE"),
        };
        ErrorReport::new(code, reason, self.to_string())
    }
}
