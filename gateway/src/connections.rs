//! Serving the router on accepted connections, with the time limits
//! `axum::serve` has no place for.
//!
//! A client that opens a connection and never finishes its request headers
//! (slowloris), or never sends anything, would hold its connection and its
//! task forever. Two limits end them: hyper's header-read timeout, which
//! also runs while a kept-alive HTTP/1 connection waits for its next request,
//! and an idle timeout on the socket itself, which catches what comes
//! before hyper reads a head (the protocol sniff of a silent client) and
//! HTTP/2 connections nobody uses. An upgraded WebSocket leaves both: its
//! session has its own rules.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::Listener;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use roadroller_tls::{Conn, Incoming, PeerInfo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// How long a connection may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// From waiting for a request's head to having all of it.
    pub header_read: Duration,
    /// With nothing read or written, before an upgrade.
    pub idle: Duration,
}

/// Serves `app` on every connection `listener` accepts until `stop`; then
/// asks each connection to finish its request in flight, and returns once
/// they have.
pub async fn serve(
    mut listener: Incoming,
    app: Router,
    timeouts: Timeouts,
    stop: CancellationToken,
) {
    let connections = TaskTracker::new();
    loop {
        let (conn, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => break,
        };
        connections.spawn(serve_one(conn, peer, app.clone(), timeouts, stop.clone()));
    }
    connections.close();
    connections.wait().await;
}

async fn serve_one(
    conn: Conn,
    peer: PeerInfo,
    app: Router,
    timeouts: Timeouts,
    stop: CancellationToken,
) {
    let activity = Activity::default();
    let io = TokioIo::new(Watched { inner: conn, activity: activity.clone() });
    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let mut request = request.map(axum::body::Body::new);
            request.extensions_mut().insert(ConnectInfo(peer.clone()));
            app.clone().oneshot(request)
        });
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(timeouts.header_read);
    // HTTP/2 WebSockets need the CONNECT protocol.
    builder.http2().timer(TokioTimer::new()).enable_connect_protocol();
    let served = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(served);
    let mut draining = false;
    loop {
        tokio::select! {
            result = served.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended");
                }
                return;
            }
            () = stop.cancelled(), if !draining => {
                draining = true;
                served.as_mut().graceful_shutdown();
            }
            () = activity.idle_for(timeouts.idle) => {
                tracing::debug!(idle = ?timeouts.idle, "closing an idle connection");
                return;
            }
        }
    }
}

/// When a connection last moved a byte, shared with its watchdog.
#[derive(Clone)]
struct Activity {
    since: Instant,
    /// Milliseconds after `since`.
    last: Arc<AtomicU64>,
}

impl Default for Activity {
    fn default() -> Self {
        Self { since: Instant::now(), last: Arc::new(AtomicU64::new(0)) }
    }
}

impl Activity {
    fn touch(&self) {
        let now = self.since.elapsed().as_millis() as u64;
        self.last.fetch_max(now, Ordering::Relaxed);
    }

    /// Completes once nothing moved for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let last = self.since + Duration::from_millis(self.last.load(Ordering::Relaxed));
            let deadline = last + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// A connection that tells its [`Activity`] of every byte moved.
struct Watched {
    inner: Conn,
    activity: Activity,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
