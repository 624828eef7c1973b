//! The admin listener: `GET /metrics` (Prometheus text format), `/healthz`
//! (the process is alive and answering) and `/readyz` (ready to serve:
//! Kafka reachable, registry loaded, not draining — what gRPC health says).
//! It also answers `grpc.health.v1` in plaintext HTTP/2, so that a
//! kubelet's gRPC probe works while the gRPC listener speaks TLS; there the
//! service `liveness` is SERVING as long as the process answers.

use std::io;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use roadroller_gateway::Timeouts;
use roadroller_tls::Incoming;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::Metrics;
use crate::health::Health;

#[derive(Clone)]
struct Admin {
    metrics: Arc<Metrics>,
    health: Health,
}

/// Serves the admin routes on `listener` until `stop`, under the same
/// connection time limits as the gateway (a probe port is as open to a
/// client that never finishes its request); `grpc_health` is the gRPC
/// health service the gRPC listener serves too.
pub async fn serve<H>(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: Health,
    grpc_health: H,
    timeouts: Timeouts,
    stop: CancellationToken,
) -> io::Result<()>
where
    H: tonic::codegen::Service<
            axum::http::Request<axum::body::Body>,
            Response = axum::http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    H::Future: Send + 'static,
{
    let app = Router::new()
        .route("/metrics", get(metrics_route))
        .route("/healthz", get(|| async { "alive\n" }))
        .route("/readyz", get(ready_route))
        .route_service("/grpc.health.v1.Health/{*method}", grpc_health)
        .with_state(Admin { metrics, health });
    let incoming = Incoming::new(listener, None)?;
    roadroller_gateway::serve_connections(incoming, app, timeouts, stop).await;
    Ok(())
}

async fn metrics_route(State(admin): State<Admin>) -> impl IntoResponse {
    let text =
        tokio::task::spawn_blocking(move || admin.metrics.render()).await.unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text)
}

async fn ready_route(State(admin): State<Admin>) -> impl IntoResponse {
    match admin.health.not_ready_because() {
        None => (StatusCode::OK, "ready\n".to_string()),
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}\n")),
    }
}
