//! noida-db's Kafka engine as a second, independent Kafka-protocol broker:
//! the end-to-end suite runs against it too (`ROADROLLER_TEST_BROKER=noida`),
//! so Roadroller never leans on a quirk of its own embedded broker.
//!
//! Clients connect through [`relay`], which serves Fetch as a broker does
//! (long-polling, trimmed to the requested sizes, large reads served from
//! [`tails`] rather than copied again); the engine's own handler listens on
//! a private loopback port for everything else. In memory only.

mod relay;
mod tails;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

use noida::kafka::connection::handle_connection;
use noida::kafka::engine::Engine;
use noida::lifecycle::Lifecycle;

/// A running noida broker.
pub struct NoidaBroker {
    engine: Engine,
    addr: SocketAddr,
    /// Where the engine itself listens; only relays connect to it.
    engine_addr: SocketAddr,
    wakeup: Arc<relay::Wakeup>,
    tails: Arc<tails::Tails>,
    /// The current accept loop; `None` while stopped.
    life: Mutex<Option<Lifecycle>>,
}

impl NoidaBroker {
    /// Starts an in-memory broker: its data is gone when the process ends.
    pub fn start_in_memory(listen: SocketAddr) -> io::Result<Arc<Self>> {
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        let engine = Engine::new(addr.ip().to_string(), i32::from(addr.port()));
        Self::serve(engine, listener)
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
        Self::serve(engine, listener)
    }

    fn serve(engine: Engine, listener: TcpListener) -> io::Result<Arc<Self>> {
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

/// noida's engine serving clients directly, without the relay: it answers
/// every Fetch at once, even when it has nothing and the client asked it to
/// wait, as some Kafka-protocol servers do. It tells clients to reach it at
/// `advertised` on the port it listens on, and lives as long as the process.
pub fn start_impatient(listen: SocketAddr, advertised: std::net::IpAddr) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(listen)?;
    let addr = listener.local_addr()?;
    let engine = Engine::new(advertised.to_string(), i32::from(addr.port()));
    spawn("impatient-accept", move || {
        for stream in listener.incoming().flatten() {
            let engine = engine.clone();
            spawn("impatient-conn", move || handle_connection(stream, engine));
        }
    });
    Ok(addr)
}

/// Starts a named thread; a failure to start one is logged, as the broker
/// keeps serving other connections.
fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name(name.into()).spawn(f) {
        tracing::warn!(error = %e, thread = name, "embedded broker could not start a thread");
    }
}

impl Drop for NoidaBroker {
    fn drop(&mut self) {
        self.stop();
    }
}
