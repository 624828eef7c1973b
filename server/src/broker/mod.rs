//! The embedded Kafka-protocol broker, started in-process when no Kafka is
//! configured: a single node that keeps each partition as a log of segment
//! files, like Kafka's, and answers the Kafka wire protocol.
//!
//! Roadroller talks to it over TCP through librdkafka exactly as it talks to
//! a real cluster; nothing else in the server knows it is embedded. It runs
//! on its own threads, so its work never competes with the server's
//! runtime for a worker, and it can be stopped and resumed on the same
//! address (shutdown, and tests of Kafka outages).
//!
//! - [`log`]: segments, indexes, recovery, retention and compaction.
//! - [`journal`]: the durable metadata (topics, configs, commits).
//! - [`groups`]: the consumer-group coordinator.
//! - [`api`]: one handler per Kafka request; [`server`]: the framing.
//!
//! The data directory's layout is described in [`state`]; its format is
//! versioned by `<data_dir>/broker/format`.

mod api;
pub mod config;
mod groups;
mod journal;
pub mod log;
mod server;
mod state;

use std::fs::File;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

pub use log::Fsync;
use server::Advertised;
use state::State;

/// The directory format this build reads and writes.
const FORMAT: &str = "roadroller-log 1";
/// How often retention and compaction look at every partition.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(1);
/// How often group sessions and rebalance deadlines are checked.
const GROUP_TICK: Duration = Duration::from_millis(200);

/// A running embedded broker.
pub struct EmbeddedBroker {
    state: Arc<State>,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    addr: SocketAddr,
    advertised: Advertised,
    dir: PathBuf,
    fsync: Fsync,
    /// The current accept loop's; `None` while stopped.
    serving: Mutex<Option<CancellationToken>>,
    closed: Arc<AtomicBool>,
    maintenance: Mutex<Option<std::thread::JoinHandle<()>>>,
    _lock: File,
    /// A temporary broker's directory, removed with it.
    _temporary: Option<tempfile::TempDir>,
}

impl EmbeddedBroker {
    /// Starts a broker whose data lives in `<data_dir>/broker`.
    pub fn start(listen: SocketAddr, data_dir: &Path, fsync: Fsync) -> io::Result<Arc<Self>> {
        Self::launch(listen, data_dir, fsync, None, None)
    }

    /// Starts a broker on a temporary directory, removed when it is
    /// dropped: for tests and benchmarks.
    pub fn start_temporary(listen: SocketAddr) -> io::Result<Arc<Self>> {
        let dir = tempfile::Builder::new().prefix("roadroller-broker").tempdir()?;
        let path = dir.path().to_path_buf();
        Self::launch(listen, &path, Fsync::Never, None, Some(dir))
    }

    /// A temporary broker that tells clients to reach it at `advertised`
    /// on the port it listens on (a proxy in front of it, say).
    pub fn start_temporary_advertising(
        listen: SocketAddr,
        advertised: IpAddr,
    ) -> io::Result<Arc<Self>> {
        let dir = tempfile::Builder::new().prefix("roadroller-broker").tempdir()?;
        let path = dir.path().to_path_buf();
        Self::launch(listen, &path, Fsync::Never, Some(advertised), Some(dir))
    }

    fn launch(
        listen: SocketAddr,
        data_dir: &Path,
        fsync: Fsync,
        advertised: Option<IpAddr>,
        temporary: Option<tempfile::TempDir>,
    ) -> io::Result<Arc<Self>> {
        let dir = data_dir.join("broker");
        check_format(data_dir, &dir)?;
        let lock = File::create(dir.join("lock"))?;
        lock.try_lock().map_err(|_| {
            io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is in use by another roadroller process", data_dir.display()),
            )
        })?;
        let marker = dir.join("clean-shutdown");
        let clean = marker.exists();
        let state = Arc::new(State::open(&dir, fsync, clean)?);
        // From here until a clean shutdown, a crash is unclean.
        if clean {
            std::fs::remove_file(&marker)?;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("broker")
            .enable_all()
            .build()?;
        let listener = std::net::TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        let advertised = Advertised {
            node_id: 1,
            host: advertised.unwrap_or(addr.ip()).to_string(),
            port: i32::from(addr.port()),
        };
        let closed = Arc::new(AtomicBool::new(false));
        let maintenance = spawn_maintenance(state.clone(), fsync, closed.clone())?;
        let ticking = state.clone();
        let stop_ticks = closed.clone();
        runtime.spawn(async move {
            let mut every = tokio::time::interval(GROUP_TICK);
            while !stop_ticks.load(Ordering::Acquire) {
                every.tick().await;
                ticking.groups.tick();
            }
        });
        let broker = Arc::new(Self {
            state,
            runtime: Mutex::new(Some(runtime)),
            addr,
            advertised,
            dir,
            fsync,
            serving: Mutex::new(None),
            closed,
            maintenance: Mutex::new(Some(maintenance)),
            _lock: lock,
            _temporary: temporary,
        });
        broker.serve(listener)?;
        Ok(broker)
    }

    fn serve(&self, listener: std::net::TcpListener) -> io::Result<()> {
        listener.set_nonblocking(true)?;
        let runtime = self.runtime.lock().expect("runtime lock");
        let Some(runtime) = runtime.as_ref() else {
            return Err(io::Error::other("the embedded broker has shut down"));
        };
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let stop = CancellationToken::new();
        runtime.spawn(server::accept(
            listener,
            self.state.clone(),
            self.advertised.clone(),
            stop.clone(),
        ));
        *self.serving.lock().expect("serving lock") = Some(stop);
        Ok(())
    }

    /// The address clients bootstrap from.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the broker keeps its data.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn fsync(&self) -> Fsync {
        self.fsync
    }

    /// Closes the port and every client connection, as if the broker had
    /// gone away. The data stays; [`Self::resume`] serves it again.
    pub fn stop(&self) {
        if let Some(stop) = self.serving.lock().expect("serving lock").take() {
            stop.cancel();
        }
    }

    /// Listens again on the same address after [`Self::stop`].
    pub fn resume(&self) -> io::Result<()> {
        if self.serving.lock().expect("serving lock").is_some() {
            return Ok(());
        }
        // The old listener closes asynchronously; retry the bind briefly.
        let mut tries = 0;
        let listener = loop {
            match std::net::TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) if e.kind() == io::ErrorKind::AddrInUse && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e),
            }
        };
        self.serve(listener)
    }

    /// Stops serving, forces everything to the disk and marks the shutdown
    /// clean, so the next start trusts the indexes. Idempotent.
    pub fn shutdown(&self) -> io::Result<()> {
        self.stop();
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        if let Some(m) = self.maintenance.lock().expect("maintenance lock").take() {
            m.thread().unpark();
            let _ = m.join();
        }
        if let Some(runtime) = self.runtime.lock().expect("runtime lock").take() {
            runtime.shutdown_background();
        }
        self.state.sync();
        File::create(self.dir.join("clean-shutdown"))?.sync_all()?;
        File::open(&self.dir)?.sync_all()
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::warn!(error = %e, "the embedded broker did not shut down cleanly");
        }
    }
}

/// Refuses a directory this build cannot read, and names the directory's
/// format in a new one.
fn check_format(data_dir: &Path, dir: &Path) -> io::Result<()> {
    let format_file = dir.join("format");
    match std::fs::read_to_string(&format_file) {
        Ok(found) if found.trim() == FORMAT => return Ok(()),
        Ok(found) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} holds broker data in format \"{}\"; this roadroller reads \"{FORMAT}\"",
                    dir.display(),
                    found.trim()
                ),
            ));
        }
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    if data_dir.join("kafka.json").exists() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} holds data of the earlier embedded broker (kafka.json), which this roadroller \
                 no longer reads; move kafka.json away to start empty, or point data_dir elsewhere",
                data_dir.display()
            ),
        ));
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(&format_file, format!("{FORMAT}\n"))?;
    File::open(dir)?.sync_all()
}

/// Retention, compaction and the interval fsync, on a thread of their own:
/// they read and write files and must not hold up the network side.
fn spawn_maintenance(
    state: Arc<State>,
    fsync: Fsync,
    closed: Arc<AtomicBool>,
) -> io::Result<std::thread::JoinHandle<()>> {
    let sync_every = match fsync {
        Fsync::Interval(d) => Some(d),
        _ => None,
    };
    let tick = sync_every.map_or(MAINTENANCE_EVERY, |d| d.min(MAINTENANCE_EVERY));
    std::thread::Builder::new().name("broker-maintenance".into()).spawn(move || {
        let mut last_maintenance = std::time::Instant::now();
        let mut last_sync = std::time::Instant::now();
        while !closed.load(Ordering::Acquire) {
            std::thread::park_timeout(tick);
            if closed.load(Ordering::Acquire) {
                return;
            }
            let sync_due = sync_every.is_some_and(|d| last_sync.elapsed() >= d);
            if last_maintenance.elapsed() >= MAINTENANCE_EVERY {
                state.maintain(now_ms(), false);
                last_maintenance = std::time::Instant::now();
            }
            if sync_due {
                state.sync();
                last_sync = std::time::Instant::now();
            }
        }
    })
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any() -> SocketAddr {
        "127.0.0.1:0".parse().expect("addr")
    }

    #[test]
    fn a_second_process_cannot_take_the_data_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _first = EmbeddedBroker::start(any(), dir.path(), Fsync::Never).expect("first");
        // flock is per open file description, so a second open in the same
        // process conflicts just as another process would.
        let err = EmbeddedBroker::start(any(), dir.path(), Fsync::Never).err().expect("refused");
        assert!(err.to_string().contains("in use"), "{err}");
    }

    #[test]
    fn a_directory_of_the_earlier_engine_or_another_format_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("kafka.json"), "{}").expect("write");
        let err = EmbeddedBroker::start(any(), dir.path(), Fsync::Never).err().expect("refused");
        assert!(err.to_string().contains("kafka.json"), "{err}");
        let other = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(other.path().join("broker")).expect("mkdir");
        std::fs::write(other.path().join("broker/format"), "roadroller-log 9\n").expect("write");
        let err = EmbeddedBroker::start(any(), other.path(), Fsync::Never).err().expect("refused");
        assert!(err.to_string().contains("\"roadroller-log 9\""), "{err}");
    }

    #[test]
    fn a_clean_shutdown_is_marked_and_the_mark_is_taken_at_the_next_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let broker = EmbeddedBroker::start(any(), dir.path(), Fsync::Always).expect("start");
        let marker = broker.dir().join("clean-shutdown");
        assert!(!marker.exists());
        broker.shutdown().expect("shutdown");
        assert!(marker.exists());
        drop(broker);
        let _again = EmbeddedBroker::start(any(), dir.path(), Fsync::Always).expect("restart");
        assert!(!marker.exists(), "a crash from now on is unclean");
    }
}
