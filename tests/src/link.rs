//! A TCP link between Roadroller and its broker that a test can pause, or
//! cut and restore: the faults of a stopped broker process and of a failed
//! network, played without privileges.
//!
//! A pause holds every byte where it is, in both directions: connections
//! stay open and carry on from where they were when it ends, as with a
//! broker process under SIGSTOP. A cut loses what is sent: the connections
//! open at the time (and those made during it) never carry anything again,
//! and the restore closes them with their unread bytes, as the peers' TCP
//! stacks would after a partition long enough to give up on them. New
//! connections after the restore work.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A forwarding link on a thread and runtime of its own, so that the faults
/// it plays do not depend on the test's; it ends when dropped.
pub struct Link {
    addr: SocketAddr,
    phase: watch::Sender<Phase>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Phase {
    paused: bool,
    cut: bool,
    /// Cuts so far: a connection made before the latest cut is dead.
    cuts: u64,
}

impl Phase {
    /// Whether a connection made while `born` was the cut count carries
    /// nothing any more.
    fn dead(&self, born: u64) -> bool {
        self.cut || self.cuts != born
    }
}

impl Link {
    /// Listens on `listen` and forwards each connection to `upstream`.
    pub fn start(listen: SocketAddr, upstream: SocketAddr) -> Self {
        let listener = std::net::TcpListener::bind(listen).expect("the link listens");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("address");
        let (phase, watching) = watch::channel(Phase::default());
        std::thread::Builder::new()
            .name("link".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the link's runtime");
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("listener");
                    accept(listener, upstream, watching).await;
                });
            })
            .expect("the link's thread");
        Self { addr, phase }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Holds every byte until [`Link::resume`].
    pub fn pause(&self) {
        self.phase.send_modify(|p| p.paused = true);
    }

    pub fn resume(&self) {
        self.phase.send_modify(|p| p.paused = false);
    }

    /// Loses everything sent until [`Link::restore`], which closes every
    /// connection made before it.
    pub fn cut(&self) {
        self.phase.send_modify(|p| {
            p.cut = true;
            p.cuts += 1;
        });
    }

    pub fn restore(&self) {
        self.phase.send_modify(|p| p.cut = false);
    }
}

/// Accepts until the [`Link`] is dropped; its connections end with it.
async fn accept(listener: TcpListener, upstream: SocketAddr, mut phase: watch::Receiver<Phase>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { return };
                let _ = client.set_nodelay(true);
                tokio::spawn(carry(client, upstream, phase.clone()));
            }
            changed = phase.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

async fn carry(client: TcpStream, upstream: SocketAddr, mut phase: watch::Receiver<Phase>) {
    let now = *phase.borrow();
    // A connection made during a cut is dead from the start.
    let born = if now.cut { u64::MAX } else { now.cuts };
    if now.dead(born) {
        let _ = phase.wait_for(|p| !p.cut).await;
        return;
    }
    let Ok(server) = TcpStream::connect(upstream).await else { return };
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::spawn(pump(server_read, client_write, phase.clone(), born));
    pump(client_read, server_write, phase, born).await;
}

/// Forwards `from` to `to` while the link is open; the connection's halves
/// are dropped, closing it, at its end or at the restore after a cut.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut phase: watch::Receiver<Phase>,
    born: u64,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let passable = |p: &Phase| !p.paused || p.dead(born);
    loop {
        let Ok(now) = phase.wait_for(passable).await.map(|p| *p) else { return };
        if now.dead(born) {
            break;
        }
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => {
                    let _ = to.shutdown().await;
                    return;
                }
                Ok(n) => n,
            },
            changed = phase.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
        };
        // Bytes read just as a pause began wait for its end; those read as
        // a cut began are lost with the connection.
        let Ok(now) = phase.wait_for(passable).await.map(|p| *p) else { return };
        if now.dead(born) {
            break;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
    let _ = phase.wait_for(|p| !p.cut).await;
}
