//! The embedded Kafka-protocol broker (noida-db's Kafka engine), started
//! in-process when no Kafka is configured.
//!
//! Roadroller talks to it over TCP through librdkafka exactly as it talks to a
//! real cluster; nothing else in the server knows it is embedded. The accept
//! loop is ours rather than noida's so that the broker can be stopped and
//! started again on the same address (shutdown, and tests of Kafka outages),
//! and so that saving happens on our schedule: noida's own signal handler
//! exits the process, which would bypass the drain.
//!
//! Clients connect through [`relay`], which serves Fetch as a broker does
//! (long-polling, trimmed to the requested sizes, large reads served from
//! [`tails`] rather than copied again); the engine's own handler
//! listens on a private loopback port for everything else.
//!
//! Persistence: the whole state is one JSON snapshot, `<dir>/kafka.json`,
//! rewritten atomically on each save. A crash loses what changed since the
//! last save.

mod relay;
mod tails;

use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use noida::kafka::connection::handle_connection;
use noida::kafka::engine::{Engine, Snapshot};
use noida::lifecycle::Lifecycle;

/// A running embedded broker.
pub struct EmbeddedBroker {
    engine: Engine,
    addr: SocketAddr,
    /// Where the engine itself listens; only relays connect to it.
    engine_addr: SocketAddr,
    wakeup: Arc<relay::Wakeup>,
    tails: Arc<tails::Tails>,
    store: Option<Store>,
    /// The current accept loop; `None` while stopped.
    life: Mutex<Option<Lifecycle>>,
}

/// Where a persistent broker keeps its snapshot.
struct Store {
    path: PathBuf,
    /// Held for the broker's lifetime so that a second process cannot write
    /// the same snapshot.
    _lock: File,
    saving: Mutex<()>,
}

impl EmbeddedBroker {
    /// Starts an in-memory broker: its data is gone when the process ends.
    pub fn start_in_memory(listen: SocketAddr) -> io::Result<Arc<Self>> {
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        let engine = Engine::new(addr.ip().to_string(), i32::from(addr.port()));
        Self::serve(engine, listener, None)
    }

    /// Starts an in-memory broker that tells clients to reach it at
    /// `advertised` on the port it listens on (a proxy in front of it, say)
    /// rather than at the address it listens on.
    pub fn start_in_memory_advertising(
        listen: SocketAddr,
        advertised: std::net::IpAddr,
    ) -> io::Result<Arc<Self>> {
        let listener = TcpListener::bind(listen)?;
        let port = listener.local_addr()?.port();
        let engine = Engine::new(advertised.to_string(), i32::from(port));
        Self::serve(engine, listener, None)
    }

    /// Starts a broker whose state is loaded from, and saved to, `data_dir`.
    pub fn start_persistent(listen: SocketAddr, data_dir: &Path) -> io::Result<Arc<Self>> {
        std::fs::create_dir_all(data_dir)?;
        let lock = File::create(data_dir.join("kafka.lock"))?;
        lock.try_lock().map_err(|_| {
            io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is in use by another roadroller process", data_dir.display()),
            )
        })?;
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        let (host, port) = (addr.ip().to_string(), i32::from(addr.port()));
        let path = data_dir.join("kafka.json");
        let engine = if path.exists() {
            let snapshot: Snapshot =
                serde_json::from_slice(&std::fs::read(&path)?).map_err(|e| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))
                })?;
            // The advertised address is the one bound now, not the saved one.
            Engine::new_persistent(snapshot, host, port)
        } else {
            Engine::new(host, port)
        };
        let store = Store { path, _lock: lock, saving: Mutex::new(()) };
        Self::serve(engine, listener, Some(store))
    }

    fn serve(engine: Engine, listener: TcpListener, store: Option<Store>) -> io::Result<Arc<Self>> {
        // Compaction and retention run once a second, honouring the topic's
        // segment.ms and min.compaction.lag.ms; the thread ends with the engine.
        engine.spawn_log_cleaner();
        let addr = listener.local_addr()?;
        let engine_listener = TcpListener::bind((addr.ip(), 0))?;
        let engine_addr = engine_listener.local_addr()?;
        let serving = engine.clone();
        spawn("broker-engine", move || {
            for stream in engine_listener.incoming().flatten() {
                let engine = serving.clone();
                spawn("broker-conn", move || handle_connection(stream, engine));
            }
        });
        let broker = Arc::new(Self {
            engine,
            addr,
            engine_addr,
            wakeup: Arc::default(),
            tails: Arc::default(),
            store,
            life: Mutex::new(None),
        });
        broker.accept(listener);
        Ok(broker)
    }

    fn accept(&self, listener: TcpListener) {
        let life = Lifecycle::default();
        let incoming = life.incoming(listener);
        let (engine_addr, wakeup, tails, engine) =
            (self.engine_addr, self.wakeup.clone(), self.tails.clone(), self.engine.clone());
        spawn("broker-accept", move || {
            for (stream, conn) in incoming {
                let (wakeup, tails, engine) = (wakeup.clone(), tails.clone(), engine.clone());
                spawn("broker-relay", move || {
                    let _conn = conn;
                    if let Err(e) = relay::relay(stream, engine_addr, &engine, &wakeup, &tails) {
                        tracing::debug!(error = %e, "embedded broker connection ended");
                    }
                });
            }
        });
        *self.life.lock().expect("broker lock") = Some(life);
    }

    /// The address clients bootstrap from.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the state is saved to disk.
    pub fn is_persistent(&self) -> bool {
        self.store.is_some()
    }

    /// Writes the whole state to `kafka.json` (atomically: a reader sees the
    /// old file or the new one). Does nothing for an in-memory broker.
    pub fn save(&self) -> io::Result<()> {
        let Some(store) = &self.store else { return Ok(()) };
        let _one_at_a_time = store.saving.lock().expect("save lock");
        let bytes = serde_json::to_vec(&self.engine.snapshot())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        noida::persistence::write_snapshot_atomically(&store.path, &bytes)
    }

    /// Closes the port and every client connection, as if the broker had
    /// gone away. The data stays; [`Self::resume`] serves it again.
    pub fn stop(&self) {
        if let Some(life) = self.life.lock().expect("broker lock").take() {
            life.stop();
        }
    }

    /// Listens again on the same address after [`Self::stop`].
    pub fn resume(&self) -> io::Result<()> {
        if self.life.lock().expect("broker lock").is_some() {
            return Ok(());
        }
        let listener = TcpListener::bind(self.addr)?;
        self.accept(listener);
        Ok(())
    }
}

/// Starts a named thread; a failure to start one is logged, as the broker
/// keeps serving other connections.
fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name(name.into()).spawn(f) {
        tracing::warn!(error = %e, thread = name, "embedded broker could not start a thread");
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_process_cannot_take_the_data_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let any = "127.0.0.1:0".parse().expect("addr");
        let _first = EmbeddedBroker::start_persistent(any, dir.path()).expect("first");
        let second = EmbeddedBroker::start_persistent(any, dir.path());
        // flock is per open file description, so a second open in the same
        // process conflicts just as another process would.
        let err = second.err().expect("refused");
        assert!(err.to_string().contains("in use"), "{err}");
    }
}
