//! RPC metrics in front of a tonic service: requests by service, method and
//! code, and their duration. A streaming call is measured to its status,
//! which comes in the trailers at its end; a call its client abandoned
//! counts as CANCELLED.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::Frame;
use tonic::body::Body;
use tonic::codegen::Service;
use tonic::codegen::http::{HeaderMap, Request as HttpRequest, Response as HttpResponse};
use tonic::server::NamedService;

use super::traces::{self, ServerSpan};
use super::{Metrics, Telemetry};

/// A service whose calls are counted, timed and traced.
#[derive(Clone)]
pub struct Measured<S> {
    inner: S,
    telemetry: Telemetry,
}

impl<S> Measured<S> {
    pub fn new(inner: S, telemetry: Telemetry) -> Self {
        Self { inner, telemetry }
    }
}

impl<S: NamedService> NamedService for Measured<S> {
    const NAME: &'static str = S::NAME;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<HttpRequest<B>> for Measured<S>
where
    S: Service<HttpRequest<B>, Response = HttpResponse<Body>>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<HttpResponse<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: HttpRequest<B>) -> Self::Future {
        let path = request.uri().path().trim_start_matches('/');
        let (service, method) = path.split_once('/').unwrap_or((path, ""));
        let (service, method) = (service.to_string(), method.to_string());
        let header = |name| request.headers().get(name).and_then(|v| v.to_str().ok());
        let span = self.telemetry.tracing.server(
            &service,
            &method,
            header("traceparent"),
            header("tracestate"),
        );
        let span = span.map(|(span, cx)| {
            request.extensions_mut().insert(ServerSpan(cx));
            span
        });
        let call = Call {
            metrics: self.telemetry.metrics.clone(),
            service,
            method,
            started: Instant::now(),
            span,
        };
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            // A trailers-only answer (a refusal) carries its status here.
            if let Some(code) = status(response.headers()) {
                call.done(code);
                return Ok(response);
            }
            let (parts, body) = response.into_parts();
            let body = Body::new(Observed { inner: body, call: Some(call) });
            Ok(HttpResponse::from_parts(parts, body))
        })
    }
}

struct Call {
    metrics: Arc<Metrics>,
    service: String,
    method: String,
    started: Instant,
    span: Option<opentelemetry_sdk::trace::Span>,
}

impl Call {
    fn done(self, code: tonic::Code) {
        self.metrics.rpc(&self.service, &self.method, code, self.started.elapsed());
        if let Some(span) = self.span {
            traces::end_server(span, code);
        }
    }
}

fn status(headers: &HeaderMap) -> Option<tonic::Code> {
    let value = headers.get("grpc-status")?.to_str().ok()?.parse::<i32>().ok()?;
    Some(tonic::Code::from_i32(value))
}

/// The response body, watched for the status in its trailers.
struct Observed {
    inner: Body,
    call: Option<Call>,
}

impl http_body::Body for Observed {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(code) = frame.trailers_ref().and_then(status)
                    && let Some(call) = self.call.take()
                {
                    call.done(code);
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(call) = self.call.take() {
                    call.done(tonic::Code::Internal);
                }
            }
            Poll::Ready(None) => {
                if let Some(call) = self.call.take() {
                    call.done(tonic::Code::Unknown);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            call.done(tonic::Code::Cancelled);
        }
    }
}
