//! The vocabulary in which every domain reports its errors. Each domain has
//! its own error enum; each enum describes itself as an [`ErrorReport`], and
//! one function (`grpc::status`) turns a report into a gRPC status, so codes
//! and details are decided once.

/// The kind of failure, named after the gRPC code it becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    InvalidArgument,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    Aborted,
    ResourceExhausted,
    DeadlineExceeded,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
    Internal,
}

/// A request field and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field, as a path in the request, e.g. `road.contact_email`.
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self { field: field.into(), description: description.into() }
    }
}

/// A state of the system that forbids the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreconditionViolation {
    /// A stable kind, e.g. `SCHEMA_COMPATIBILITY`.
    pub kind: String,
    /// What it concerns, e.g. a JSON pointer.
    pub subject: String,
    pub description: String,
}

/// A limit the request ran into (`google.rpc.QuotaFailure`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaViolation {
    /// Whose limit, e.g. `principal:alice` or `road:orders`.
    pub subject: String,
    pub description: String,
}

/// Everything a client is told about an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorReport {
    pub code: Code,
    /// A stable, machine-readable reason, e.g. `ROAD_NOT_FOUND`.
    pub reason: &'static str,
    /// A sentence for people.
    pub message: String,
    pub field_violations: Vec<FieldViolation>,
    pub precondition_violations: Vec<PreconditionViolation>,
    /// Extra facts for the ErrorInfo, e.g. the action that was denied.
    pub metadata: Vec<(String, String)>,
    pub quota_violations: Vec<QuotaViolation>,
    /// When a retry may succeed (`google.rpc.RetryInfo`).
    pub retry_after: Option<std::time::Duration>,
}

impl ErrorReport {
    pub fn new(code: Code, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            field_violations: Vec::new(),
            precondition_violations: Vec::new(),
            metadata: Vec::new(),
            quota_violations: Vec::new(),
            retry_after: None,
        }
    }

    /// INVALID_ARGUMENT listing every violation; the message names them all.
    pub fn invalid(reason: &'static str, violations: Vec<FieldViolation>) -> Self {
        let message = violations
            .iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect::<Vec<_>>()
            .join("; ");
        Self { field_violations: violations, ..Self::new(Code::InvalidArgument, reason, message) }
    }
}

/// A domain error that can describe itself to a client.
pub trait Reportable {
    fn report(&self) -> ErrorReport;
}
