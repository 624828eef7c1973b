//! What every tonic adapter shares: turning domain error reports into gRPC
//! statuses with `google.rpc` details.

pub mod decoding;

use std::collections::HashMap;

use tonic::Status;
use tonic_types::{ErrorDetails, StatusExt};

use crate::error::{Code, ErrorReport, Reportable};

/// The `google.rpc.ErrorInfo` domain of every error this service reports.
pub const ERROR_DOMAIN: &str = "roadroller.v1";

/// The wait an UNAVAILABLE answer suggests when its error names none: about
/// how long health takes to notice Kafka back (`kafka.health_interval`).
const UNAVAILABLE_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// The gRPC status for a domain error: its code, its message, an ErrorInfo
/// with the stable reason, BadRequest / PreconditionFailure / QuotaFailure
/// details when there are violations, and RetryInfo when a retry may help.
pub fn status(error: &impl Reportable) -> Status {
    status_of(error.report())
}

pub fn status_of(report: ErrorReport) -> Status {
    let mut details = ErrorDetails::new();
    let metadata: HashMap<String, String> = report.metadata.into_iter().collect();
    details.set_error_info(report.reason, ERROR_DOMAIN, metadata);
    for v in &report.field_violations {
        details.add_bad_request_violation(&v.field, &v.description);
    }
    for v in &report.precondition_violations {
        details.add_precondition_failure_violation(&v.kind, &v.subject, &v.description);
    }
    for v in &report.quota_violations {
        details.add_quota_failure_violation(&v.subject, &v.description);
    }
    // UNAVAILABLE is the code a client retries on; it always says when, so
    // that a fleet of clients does not come back all at once or at random.
    let retry_after = report
        .retry_after
        .or((report.code == Code::Unavailable).then_some(UNAVAILABLE_RETRY_AFTER));
    if let Some(delay) = retry_after {
        details.set_retry_info(Some(delay));
    }
    Status::with_error_details(code(report.code), report.message, details)
}

/// The `google.rpc.Code` number of a code, for per-record results.
pub fn code_number(code: Code) -> i32 {
    self::code(code) as i32
}

fn code(code: Code) -> tonic::Code {
    match code {
        Code::InvalidArgument => tonic::Code::InvalidArgument,
        Code::NotFound => tonic::Code::NotFound,
        Code::AlreadyExists => tonic::Code::AlreadyExists,
        Code::FailedPrecondition => tonic::Code::FailedPrecondition,
        Code::Aborted => tonic::Code::Aborted,
        Code::ResourceExhausted => tonic::Code::ResourceExhausted,
        Code::DeadlineExceeded => tonic::Code::DeadlineExceeded,
        Code::PermissionDenied => tonic::Code::PermissionDenied,
        Code::Unauthenticated => tonic::Code::Unauthenticated,
        Code::Unavailable => tonic::Code::Unavailable,
        Code::Internal => tonic::Code::Internal,
    }
}
