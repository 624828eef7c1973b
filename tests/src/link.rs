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
//!
//! It also counts the Kafka requests clients send through it, by API key.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A forwarding link on a thread and runtime of its own, so that the faults
/// it plays do not depend on the test's; it ends when dropped.
pub struct Link {
    addr: SocketAddr,
    phase: watch::Sender<Phase>,
    requests: Arc<Requests>,
}

/// Requests seen so far, by Kafka API key.
#[derive(Default)]
struct Requests(Mutex<HashMap<i16, u64>>);

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
        let requests = Arc::new(Requests::default());
        let counting = requests.clone();
        std::thread::Builder::new()
            .name("link".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the link's runtime");
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("listener");
                    accept(listener, upstream, watching, counting).await;
                });
            })
            .expect("the link's thread");
        Self { addr, phase, requests }
    }

    /// How many requests with `api_key` (1 is Fetch) clients have sent.
    pub fn requests(&self, api_key: i16) -> u64 {
        self.requests.0.lock().expect("requests").get(&api_key).copied().unwrap_or(0)
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
async fn accept(
    listener: TcpListener,
    upstream: SocketAddr,
    mut phase: watch::Receiver<Phase>,
    requests: Arc<Requests>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { return };
                let _ = client.set_nodelay(true);
                tokio::spawn(carry(client, upstream, phase.clone(), requests.clone()));
            }
            changed = phase.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

async fn carry(
    client: TcpStream,
    upstream: SocketAddr,
    mut phase: watch::Receiver<Phase>,
    requests: Arc<Requests>,
) {
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
    tokio::spawn(pump(server_read, client_write, phase.clone(), born, None));
    let counter = Counter { requests, frame: Vec::new(), left: 0 };
    pump(client_read, server_write, phase, born, Some(counter)).await;
}

/// Forwards `from` to `to` while the link is open; the connection's halves
/// are dropped, closing it, at its end or at the restore after a cut.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut phase: watch::Receiver<Phase>,
    born: u64,
    mut counter: Option<Counter>,
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
        if let Some(counter) = &mut counter {
            counter.feed(&buf[..n]);
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
    let _ = phase.wait_for(|p| !p.cut).await;
}

/// Follows a client's stream of length-prefixed Kafka requests, counting
/// each by the API key that opens its header.
struct Counter {
    requests: Arc<Requests>,
    /// The length prefix and header read so far of the current request.
    frame: Vec<u8>,
    /// Bytes of the current request's body still to skip.
    left: usize,
}

impl Counter {
    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.left > 0 {
                let skip = self.left.min(bytes.len());
                self.left -= skip;
                bytes = &bytes[skip..];
                continue;
            }
            // Length (4 bytes), then the API key (2).
            let take = (6 - self.frame.len()).min(bytes.len());
            self.frame.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.frame.len() == 6 {
                let len = i32::from_be_bytes(self.frame[..4].try_into().expect("4 bytes"));
                let key = i16::from_be_bytes([self.frame[4], self.frame[5]]);
                *self.requests.0.lock().expect("requests").entry(key).or_default() += 1;
                self.left = usize::try_from(len).unwrap_or(0).saturating_sub(2);
                self.frame.clear();
            }
        }
    }
}
