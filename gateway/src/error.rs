//! The one place where failures become HTTP answers: the table from gRPC
//! status codes (and `google.rpc.ErrorInfo` reasons) to HTTP statuses, and
//! the gateway's own refusals (parse, media type, size). Every error body is
//! a Data Highway `StandardResponse`.

use axum::Json;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tonic::Code;
use tonic_types::StatusExt;

/// Data Highway's answer body: `{"timestamp", "success", "message"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandardResponse {
    /// Milliseconds since the Unix epoch when the answer was made.
    pub timestamp: i64,
    pub success: bool,
    pub message: String,
}

impl StandardResponse {
    pub fn new(success: bool, message: impl Into<String>) -> Self {
        Self { timestamp: now_ms(), success, message: message.into() }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A 200 `StandardResponse` with `success: true`.
pub fn success(message: impl Into<String>) -> Response {
    Json(StandardResponse::new(true, message)).into_response()
}

/// A refused request: its HTTP status and the sentence for the client.
#[derive(Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// When a retry may succeed: `Retry-After`, in whole seconds.
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), retry_after: None }
    }

    /// 400 for a request that breaks a rule of the legacy API.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 400 for a body that is not what the route reads, worded as Data
    /// Highway did.
    pub fn unparsable(detail: impl std::fmt::Display) -> Self {
        Self::bad_request(format!("Unable to parse message: {detail}"))
    }

    /// 413 for a body or batch over a limit.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    /// 415 for a content type or encoding the gateway does not read.
    pub fn unsupported_media(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
    }

    /// 404 for a path that names nothing.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 502 when the upstream answered something the contract rules out.
    pub fn bad_upstream(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, message)
    }

    /// 504 when the upstream did not answer in time.
    pub fn upstream_timeout(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GATEWAY_TIMEOUT, message)
    }

    /// 500 for a failure inside the gateway.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// THE table: a gRPC status from Roadroller as an HTTP answer. `road` is
    /// the road the request named, for Data Highway's not-found sentence.
    pub fn from_status(status: &tonic::Status, road: &str) -> Self {
        let reason = status.get_details_error_info().map(|info| info.reason);
        let reason = reason.as_deref().unwrap_or("");
        let message = status.message();
        let (http, text) = match (status.code(), reason) {
            (Code::NotFound, "ROAD_NOT_FOUND") => {
                (StatusCode::NOT_FOUND, format!("Road \"{road}\" does not exist."))
            }
            (Code::NotFound, _) => (StatusCode::NOT_FOUND, message.to_string()),
            // Onramp's refusals of a road that cannot take events; their
            // messages are already Data Highway's sentences.
            (Code::FailedPrecondition, "ROAD_DISABLED" | "ROAD_HAS_NO_SCHEMA") => {
                (StatusCode::UNPROCESSABLE_ENTITY, message.to_string())
            }
            (Code::FailedPrecondition, "SCHEMA_INCOMPATIBLE") => {
                (StatusCode::CONFLICT, message.to_string())
            }
            // A materialized road's view has not reached the offsets asked
            // for yet: it will, so come back shortly.
            (Code::FailedPrecondition, "VIEW_BEHIND") => {
                let mut error = Self::new(StatusCode::SERVICE_UNAVAILABLE, message);
                error.retry_after = Some(std::time::Duration::from_secs(1));
                return error;
            }
            // The road's state forbids the call (deleting an enabled road,
            // deleting a schema that is not the latest, enabling a road
            // before its topic exists): Data Highway answered these 400.
            (Code::FailedPrecondition, _) => (StatusCode::BAD_REQUEST, message.to_string()),
            (Code::InvalidArgument | Code::OutOfRange, _) => {
                (StatusCode::BAD_REQUEST, message.to_string())
            }
            (Code::AlreadyExists, _) => (StatusCode::CONFLICT, "Road already exists.".to_string()),
            (Code::Aborted, _) => (StatusCode::CONFLICT, message.to_string()),
            (Code::Unauthenticated, _) => (StatusCode::UNAUTHORIZED, message.to_string()),
            (Code::PermissionDenied, _) => (StatusCode::FORBIDDEN, message.to_string()),
            // Over a quota: come back later, as RetryInfo says.
            (Code::ResourceExhausted, "QUOTA_EXCEEDED") => {
                let retry_after = status.get_details_retry_info().and_then(|r| r.retry_delay);
                // Without RetryInfo the request is larger than the quota
                // ever allows at once: waiting cannot help, a smaller one can.
                let Some(retry_after) = retry_after else {
                    return Self::new(StatusCode::PAYLOAD_TOO_LARGE, message);
                };
                let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, message);
                error.retry_after = Some(retry_after);
                return error;
            }
            // The instance is full: another instance, or this one later,
            // takes the subscription.
            (Code::ResourceExhausted, "TOO_MANY_SUBSCRIPTIONS") => {
                let retry_after = status.get_details_retry_info().and_then(|r| r.retry_delay);
                let mut error = Self::new(StatusCode::SERVICE_UNAVAILABLE, message);
                error.retry_after = Some(retry_after.unwrap_or(std::time::Duration::from_secs(1)));
                return error;
            }
            (Code::ResourceExhausted, _) => (StatusCode::PAYLOAD_TOO_LARGE, message.to_string()),
            // A retry may succeed; RetryInfo says when.
            (Code::Unavailable, _) => {
                let text = format!("Roadroller is unavailable: {message}");
                let mut error = Self::new(StatusCode::SERVICE_UNAVAILABLE, text);
                error.retry_after = status.get_details_retry_info().and_then(|r| r.retry_delay);
                return error;
            }
            // tonic's words for a connection that broke under the call (a
            // TLS upstream that refused the gateway's certificate, say; which
            // one depends on when the refusal arrives): no answer came from
            // Roadroller at all. The gateway itself never cancels a call.
            (Code::Unknown, "") if message.starts_with("transport error") => {
                (StatusCode::SERVICE_UNAVAILABLE, format!("Roadroller is unavailable: {message}"))
            }
            (Code::Cancelled, "") => {
                (StatusCode::SERVICE_UNAVAILABLE, format!("Roadroller is unavailable: {message}"))
            }
            (Code::DeadlineExceeded, _) => (StatusCode::GATEWAY_TIMEOUT, message.to_string()),
            (code, _) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{code:?}: {message}")),
        };
        Self::new(http, text)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, Json(StandardResponse::new(false, self.message))).into_response();
        // Data Highway's clients answer a Basic challenge.
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Basic realm=\"roadroller\", Bearer"),
            );
        }
        if let Some(after) = self.retry_after {
            // Whole seconds, rounded up, so a client never comes back early.
            let seconds = (after.as_millis().div_ceil(1000).max(1)) as u64;
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// Any path outside the legacy API.
pub async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("No route for {method} {}", uri.path()))
}

/// A known path with a method it does not take.
pub async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} does not accept {method}", uri.path()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use tonic_types::ErrorDetails;

    fn with_reason(code: Code, reason: &str, message: &str) -> tonic::Status {
        let mut details = ErrorDetails::new();
        details.set_error_info(reason, "roadroller.v1", HashMap::new());
        tonic::Status::with_error_details(code, message, details)
    }

    #[test]
    fn reasons_pick_the_status_where_a_code_is_not_enough() {
        let disabled = with_reason(
            Code::FailedPrecondition,
            "ROAD_DISABLED",
            "Road 'r' is disabled, could not send events.",
        );
        assert_eq!(
            ApiError::from_status(&disabled, "r"),
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Road 'r' is disabled, could not send events."
            )
        );
        let incompatible = with_reason(Code::FailedPrecondition, "SCHEMA_INCOMPATIBLE", "no");
        assert_eq!(ApiError::from_status(&incompatible, "r").status, StatusCode::CONFLICT);
        let enabled = with_reason(Code::FailedPrecondition, "ROAD_ENABLED", "disable it first");
        assert_eq!(ApiError::from_status(&enabled, "r").status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn a_quota_refusal_is_429_with_retry_after_rounded_up() {
        let mut details = ErrorDetails::new();
        details.set_error_info("QUOTA_EXCEEDED", "roadroller.v1", HashMap::new());
        details.set_retry_info(Some(std::time::Duration::from_millis(1200)));
        let status = tonic::Status::with_error_details(Code::ResourceExhausted, "slow", details);
        let error = ApiError::from_status(&status, "r");
        assert_eq!(error.status, StatusCode::TOO_MANY_REQUESTS);
        let response = error.into_response();
        assert_eq!(response.headers()[axum::http::header::RETRY_AFTER], "2");
        let too_large = with_reason(Code::ResourceExhausted, "REQUEST_TOO_LARGE", "big");
        assert_eq!(ApiError::from_status(&too_large, "r").status, StatusCode::PAYLOAD_TOO_LARGE);
        let over_burst = with_reason(Code::ResourceExhausted, "QUOTA_EXCEEDED", "send smaller");
        let error = ApiError::from_status(&over_burst, "r");
        assert_eq!(error.status, StatusCode::PAYLOAD_TOO_LARGE, "no wait lets it pass");
        assert!(error.retry_after.is_none());
        let full = with_reason(Code::ResourceExhausted, "TOO_MANY_SUBSCRIPTIONS", "full");
        let error = ApiError::from_status(&full, "r");
        assert_eq!(error.status, StatusCode::SERVICE_UNAVAILABLE, "not the request's size");
        assert!(error.retry_after.is_some());
    }

    #[test]
    fn a_missing_road_is_worded_as_data_highway_did() {
        let missing = with_reason(Code::NotFound, "ROAD_NOT_FOUND", "road \"x\" does not exist");
        assert_eq!(ApiError::from_status(&missing, "x").message, "Road \"x\" does not exist.");
        let schema = with_reason(Code::NotFound, "SCHEMA_NOT_FOUND", "no version 3");
        assert_eq!(ApiError::from_status(&schema, "x").message, "no version 3");
    }

    #[test]
    fn codes_without_reasons_map_by_code() {
        let cases = [
            (Code::InvalidArgument, StatusCode::BAD_REQUEST),
            (Code::AlreadyExists, StatusCode::CONFLICT),
            (Code::Aborted, StatusCode::CONFLICT),
            (Code::PermissionDenied, StatusCode::FORBIDDEN),
            (Code::ResourceExhausted, StatusCode::PAYLOAD_TOO_LARGE),
            (Code::Unavailable, StatusCode::SERVICE_UNAVAILABLE),
            (Code::Cancelled, StatusCode::SERVICE_UNAVAILABLE),
            (Code::Internal, StatusCode::INTERNAL_SERVER_ERROR),
            (Code::Unknown, StatusCode::INTERNAL_SERVER_ERROR),
        ];
        for (code, http) in cases {
            assert_eq!(ApiError::from_status(&tonic::Status::new(code, "m"), "r").status, http);
        }
        let exists = tonic::Status::already_exists("road \"r\" already exists");
        assert_eq!(ApiError::from_status(&exists, "r").message, "Road already exists.");
    }
}
