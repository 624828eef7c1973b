//! Requests that tonic cannot decode are the caller's doing, and their
//! codes say so.
//!
//! tonic answers a message that is not valid protobuf (a string field that
//! is not UTF-8, say) with INTERNAL, and one over the size limit with
//! OUT_OF_RANGE. INTERNAL tells a client the server is broken and invites a
//! retry of the same bytes; OUT_OF_RANGE means a value outside a valid
//! range. This contract's codes are INVALID_ARGUMENT (`MALFORMED_REQUEST`)
//! and RESOURCE_EXHAUSTED (`REQUEST_TOO_LARGE`), with an ErrorInfo as every
//! other error has.
//! Unary calls fail before any handler runs, so a layer restates the status
//! tonic wrote into the headers; streams see the failure as an item, which
//! the adapters pass through [`caller_status`].

use std::collections::HashMap;
use std::task::{Context, Poll};

use futures::TryFutureExt;
use futures::future::MapOk;
use tonic::codegen::http::{self, HeaderMap};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tower::{Layer, Service};

use super::ERROR_DOMAIN;

/// tonic's own wording for the two failures, the only way to tell them
/// from an INTERNAL or OUT_OF_RANGE of a handler.
const NOT_PROTOBUF: &str = "failed to decode Protobuf message";
const TOO_LARGE: &str = "Error, decoded message length too large";

/// The code and reason a status from decoding a request should have, if
/// not its own.
fn caller_code(code: Code, message: &str) -> Option<(Code, &'static str)> {
    match code {
        Code::Internal if message.starts_with(NOT_PROTOBUF) => {
            Some((Code::InvalidArgument, "MALFORMED_REQUEST"))
        }
        Code::OutOfRange if message.starts_with(TOO_LARGE) => {
            Some((Code::ResourceExhausted, "REQUEST_TOO_LARGE"))
        }
        _ => None,
    }
}

fn restated(code: Code, reason: &'static str, message: &str) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(reason, ERROR_DOMAIN, HashMap::new());
    Status::with_error_details(code, message, details)
}

/// A status from reading a request stream, with the caller's code.
pub fn caller_status(status: Status) -> Status {
    match caller_code(status.code(), status.message()) {
        Some((code, reason)) => restated(code, reason, status.message()),
        None => status,
    }
}

/// Restates decoding failures of unary requests.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallerCodesLayer;

impl<S> Layer<S> for CallerCodesLayer {
    type Service = CallerCodes<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallerCodes { inner }
    }
}

#[derive(Clone, Debug)]
pub struct CallerCodes<S> {
    inner: S,
}

impl<S, R> Service<R> for CallerCodes<S>
where
    S: Service<R>,
    S::Response: Headers,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = MapOk<S::Future, fn(S::Response) -> S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.inner.call(request).map_ok(restate::<S::Response> as fn(_) -> _)
    }
}

/// An answer whose headers can be rewritten.
pub trait Headers {
    fn headers_mut(&mut self) -> &mut HeaderMap;
}

impl<B> Headers for http::Response<B> {
    fn headers_mut(&mut self) -> &mut HeaderMap {
        http::Response::headers_mut(self)
    }
}

/// A trailers-only answer carries its status in the headers.
fn restate<T: Headers>(mut response: T) -> T {
    let headers = response.headers_mut();
    let Some(code) = headers.get("grpc-status").and_then(|v| v.to_str().ok()) else {
        return response;
    };
    let Ok(code) = code.parse::<i32>() else { return response };
    let message =
        headers.get("grpc-message").map(|v| percent_decode(v.as_bytes())).unwrap_or_default();
    if let Some((code, reason)) = caller_code(Code::from_i32(code), &message) {
        // Writes grpc-status, grpc-message and the details anew; a status
        // tonic itself produced always encodes.
        let _ = restated(code, reason, &message).add_header(headers);
    }
    response
}

/// `grpc-message` is percent-encoded; only its prefix matters here.
fn percent_decode(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = raw.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (raw[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tonics_decoding_failures_change_code() {
        let not_utf8 = Status::internal(format!("{NOT_PROTOBUF}: Record.payload: invalid string"));
        let restated = caller_status(not_utf8);
        assert_eq!(restated.code(), Code::InvalidArgument);
        let reason = restated.get_details_error_info().map(|i| i.reason);
        assert_eq!(reason.as_deref(), Some("MALFORMED_REQUEST"));
        let large = Status::out_of_range(format!("{TOO_LARGE}: found 9 bytes, the limit is: 4"));
        assert_eq!(caller_status(large).code(), Code::ResourceExhausted);
        assert_eq!(caller_status(Status::internal("a bug")).code(), Code::Internal);
        assert_eq!(caller_status(Status::out_of_range("seek past end")).code(), Code::OutOfRange);
    }

    #[test]
    fn the_header_status_is_restated_after_percent_decoding() {
        let status = Status::internal(format!("{NOT_PROTOBUF}: bad"));
        let response = restate(status.into_http::<()>());
        assert_eq!(response.headers()["grpc-status"], "3");
        assert!(response.headers().contains_key("grpc-status-details-bin"), "an ErrorInfo");
        assert_eq!(percent_decode(b"a%20b%2"), "a b%2");
    }
}
