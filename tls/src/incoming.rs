//! Accepting connections: TCP, TLS handshakes run side by side, and
//! in-process connections, all as one stream of [`Conn`]s.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::io::DuplexStream;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use crate::{Conn, PeerInfo, ServerTls};

/// How long a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections waiting to be served; past this, accepting waits.
const BACKLOG: usize = 64;

/// Buffer of each direction of an in-process connection.
const LOCAL_BUFFER: usize = 256 << 10;

/// The connections of one listener. Dropping it closes the listener.
pub struct Incoming {
    rx: mpsc::Receiver<Conn>,
    tx: mpsc::Sender<Conn>,
    local_addr: SocketAddr,
}

impl Incoming {
    /// Accepts on `listener`; with `tls`, every connection is a TLS one and
    /// a failed handshake is logged and dropped.
    pub fn new(listener: TcpListener, tls: Option<Arc<ServerTls>>) -> io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(BACKLOG);
        tokio::spawn(accept(listener, tls, tx.clone()));
        Ok(Self { rx, tx, local_addr })
    }

    /// Connections made in this process to this listener: see
    /// [`LocalConnector`].
    pub fn local_connector(&self) -> LocalConnector {
        LocalConnector { tx: self.tx.downgrade() }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

/// Opens in-process connections to a listener, served like any other but
/// marked [`PeerInfo::local`]. They need neither a socket nor TLS.
#[derive(Clone)]
pub struct LocalConnector {
    tx: mpsc::WeakSender<Conn>,
}

impl LocalConnector {
    pub async fn connect(&self) -> io::Result<DuplexStream> {
        let gone = || io::Error::new(io::ErrorKind::ConnectionRefused, "the server has stopped");
        let tx = self.tx.upgrade().ok_or_else(gone)?;
        let (client, server) = tokio::io::duplex(LOCAL_BUFFER);
        tx.send(Conn::Local(server)).await.map_err(|_| gone())?;
        Ok(client)
    }
}

/// A connected pair: the client half, and the server half as a [`Conn`],
/// for tests and tools that serve one connection in process.
pub fn local_pair() -> (DuplexStream, Conn) {
    let (client, server) = tokio::io::duplex(LOCAL_BUFFER);
    (client, Conn::Local(server))
}

async fn accept(listener: TcpListener, tls: Option<Arc<ServerTls>>, tx: mpsc::Sender<Conn>) {
    loop {
        let accepted = tokio::select! {
            () = tx.closed() => return,
            accepted = listener.accept() => accepted,
        };
        let (tcp, addr) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors and the like: say so, back off, go on.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Without TCP_NODELAY a response's trailers can wait for the peer's
        // delayed ACK: 40 ms on every unary call.
        let _ = tcp.set_nodelay(true);
        let peer = PeerInfo { addr: Some(addr), certs: None, local: false };
        match &tls {
            None => {
                if tx.send(Conn::Plain(tcp, peer)).await.is_err() {
                    return;
                }
            }
            Some(tls) => {
                let acceptor = TlsAcceptor::from(tls.config());
                let tx = tx.clone();
                tokio::spawn(async move {
                    let stream =
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(e)) => {
                                tracing::debug!(%addr, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%addr, "TLS handshake timed out");
                                return;
                            }
                        };
                    let certs = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .map(|c| Arc::new(c.iter().map(|c| c.clone().into_owned()).collect()));
                    let peer = PeerInfo { certs, ..peer };
                    let _ = tx.send(Conn::Tls(Box::new(stream), peer)).await;
                });
            }
        }
    }
}

impl Stream for Incoming {
    type Item = io::Result<Conn>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx).map(|c| c.map(Ok))
    }
}

impl axum::serve::Listener for Incoming {
    type Io = Conn;
    type Addr = PeerInfo;

    async fn accept(&mut self) -> (Conn, PeerInfo) {
        match self.rx.recv().await {
            Some(conn) => {
                let peer = conn.peer();
                (conn, peer)
            }
            // Never: this value holds a sender itself.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<PeerInfo> {
        Ok(PeerInfo { addr: Some(self.local_addr), certs: None, local: false })
    }
}
