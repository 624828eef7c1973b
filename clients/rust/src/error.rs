//! Errors of the client.

use tonic::Code;
use tonic_types::StatusExt;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{endpoint} is not a usable endpoint: {reason}")]
    Endpoint { endpoint: String, reason: String },
    #[error("cannot connect to {endpoint}: {}", chain(source))]
    Connect {
        endpoint: String,
        #[source]
        source: tonic::transport::Error,
    },
    /// The server answered with an error.
    #[error("{}", .0.message())]
    Status(#[from] tonic::Status),
    /// The server's answer broke the contract.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// The subscription or producer is closed.
    #[error("{0}")]
    Closed(String),
    /// The credentials given cannot be sent.
    #[error("unusable credentials: {reason}")]
    Credentials { reason: String },
}

/// An error with its causes: tonic's "transport error" alone does not say
/// that the connection was refused, or why TLS failed.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.ends_with(&next) {
            text = format!("{text}: {next}");
        }
        cause = c.source();
    }
    text
}

impl Error {
    /// The gRPC code, for errors the server sent.
    pub fn code(&self) -> Option<Code> {
        match self {
            Error::Status(s) => Some(s.code()),
            _ => None,
        }
    }

    /// The stable `google.rpc.ErrorInfo` reason, e.g. `ROAD_NOT_FOUND`.
    pub fn reason(&self) -> Option<String> {
        match self {
            Error::Status(s) => s.get_details_error_info().map(|i| i.reason),
            _ => None,
        }
    }

    /// Each field the server named as bad, with what is wrong with it.
    pub fn field_violations(&self) -> Vec<(String, String)> {
        match self {
            Error::Status(s) => s
                .get_details_bad_request()
                .map(|b| b.field_violations.into_iter().map(|v| (v.field, v.description)).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// When the server says a retry may succeed (`google.rpc.RetryInfo`), as
    /// after a refusal for being over a quota.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Error::Status(s) => s.get_details_retry_info().and_then(|r| r.retry_delay),
            _ => None,
        }
    }

    /// The limits the call ran into (`google.rpc.QuotaFailure`): whose
    /// (`principal:NAME`, `road:NAME`, ...) and which.
    pub fn quota_violations(&self) -> Vec<(String, String)> {
        match self {
            Error::Status(s) => s
                .get_details_quota_failure()
                .map(|q| q.violations.into_iter().map(|v| (v.subject, v.description)).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.code() == Some(Code::NotFound)
    }
}
