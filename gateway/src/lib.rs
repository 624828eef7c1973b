//! The legacy Data Highway HTTP API in front of Roadroller.
//!
//! Existing Data Highway clients keep working unchanged: Onramp's JSON
//! `POST /onramp/v1/roads/{road}/messages`, Paver's REST routes under
//! `/paver/v1`, and the Offramp WebSocket protocol v2. Every route is a thin
//! translation onto the `roadroller.v1` gRPC contract, reached through a
//! [`Channel`], so the gateway runs inside `roadroller serve` or standalone in
//! front of any Roadroller. The exact formats are those of the shared
//! `LEGACY-API.md`; every gRPC error becomes an HTTP status through the one
//! table in `error.rs`.

mod body;
mod connections;
mod error;
mod forward;
#[doc(hidden)]
pub mod fuzzing;
mod offramp;
mod onramp;
mod paver;
mod streams;
mod tables;
mod upstream;

use std::future::Future;
use std::io;

use axum::Router;
use axum::routing::{get, post};
use roadroller_tls::Incoming;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::transport::Channel;

pub use connections::{Timeouts, serve as serve_connections};
pub use error::StandardResponse;
pub use forward::CLIENT_PRINCIPAL;

use upstream::Upstream;

/// How much a request may carry, and how long its connection may take.
/// Bodies over a limit are refused with 413 before they are parsed or sent
/// upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body as sent, before decompression.
    pub max_body_bytes: usize,
    /// Largest request body after decompression. Decompression stops as
    /// soon as it would pass this, so a small gzip bomb never inflates in
    /// memory.
    pub max_inflated_bytes: usize,
    /// Most messages in one Onramp request.
    pub max_messages: usize,
    pub timeouts: Timeouts,
}

impl Default for Limits {
    /// The same bounds as the server's Onramp defaults, so that a request the
    /// gateway lets through is not refused upstream for its size.
    fn default() -> Self {
        Self {
            max_body_bytes: 16 << 20,
            max_inflated_bytes: 16 << 20,
            max_messages: 10_000,
            timeouts: Timeouts {
                header_read: std::time::Duration::from_secs(30),
                idle: std::time::Duration::from_secs(60),
            },
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
struct Gateway {
    upstream: Upstream,
    limits: Limits,
    sessions: Sessions,
}

/// The open WebSocket sessions: `closing` asks them to close, `tracker`
/// lets shutdown wait until they have.
#[derive(Clone, Default)]
struct Sessions {
    closing: CancellationToken,
    tracker: TaskTracker,
}

/// Every route of the legacy API over `upstream`. WebSocket sessions made
/// through this router end when their client or their upstream subscription
/// does; [`serve`] also closes them at shutdown.
pub fn router(upstream: Channel, limits: Limits) -> Router {
    app(upstream, limits, Sessions::default())
}

fn app(upstream: Channel, limits: Limits, sessions: Sessions) -> Router {
    let gateway = Gateway { upstream: Upstream::new(upstream), limits, sessions };
    Router::new()
        .route("/onramp/v1/roads/{road}/messages", post(onramp::post_messages))
        .route("/offramp/v2/roads/{road}/streams/{stream}/messages", get(offramp::connect))
        .route("/offramp/v2/roads/{road}/streams/{stream}/lag", get(streams::lag))
        .route("/offramp/v1/roads/{road}/keys/{key}", get(tables::get_key))
        .merge(paver::routes())
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::wrong_method)
        .with_state(gateway)
}

/// Serves the legacy API on `listener` (TLS or not, as it was made) until
/// `shutdown` completes. Every call upstream carries the caller's
/// `Authorization` and its address in `X-Forwarded-For`. Then it
/// stops accepting connections, closes every WebSocket session (code 1001,
/// going away), and returns once in-flight requests and sessions are done;
/// callers bound that with their own grace period.
pub async fn serve(
    listener: Incoming,
    upstream: Channel,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let sessions = Sessions::default();
    let closing = sessions.closing.clone();
    let app = app(upstream, limits, sessions.clone());
    let stop = CancellationToken::new();
    let stopping = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopping.cancel();
        closing.cancel();
    });
    connections::serve(listener, app, limits.timeouts, stop).await;
    // Upgraded connections are no longer hyper's; wait for their sessions.
    sessions.tracker.close();
    sessions.tracker.wait().await;
    Ok(())
}
