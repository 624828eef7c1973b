//! Scenario 15: the embedded broker with a large road on it. One
//! `roadroller serve` on the embedded default (its own data directory)
//! takes `n` records of 111 bytes from a raw producer; then its
//! memory beyond the empty server, its CPU while idle, the time SIGTERM
//! takes to end it, and the time a restart takes to SERVING are measured.
//! The raw producer and consumer rates are compared, in the same run, with
//! the earlier engine (noida's, as the test crate keeps it) in this process.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use roadroller_server::broker::{EmbeddedBroker, Fsync};

use crate::figures::{Figure, Target};
use crate::payload::record_111;
use crate::proc;
use crate::stage::{Result, json_logs};
use crate::throughput::{raw_consume, raw_produce_with};

const TOPIC: &str = "bench_broker";
const PARTITIONS: i32 = 6;
const GRACE: Duration = Duration::from_secs(10);

/// Sizes of one study.
pub struct Sizes {
    pub records: u64,
    pub settle: Duration,
    pub idle_for: Duration,
}

pub async fn study(bin: &Path, sizes: &Sizes) -> Result<Vec<Figure>> {
    let mut figures = Vec::new();
    figures.extend(rates(sizes.records).await?);
    figures.extend(resources(bin, sizes).await?);
    Ok(figures)
}

/// Raw producer and consumer rates on the new broker and on the old engine,
/// both in this process, one after the other.
async fn rates(n: u64) -> Result<Vec<Figure>> {
    let any = "127.0.0.1:0".parse()?;
    let dir = tempfile::tempdir()?;
    let new = EmbeddedBroker::start(any, dir.path(), Fsync::Interval(Duration::from_secs(1)))?;
    let (new_produce, new_consume) = produce_and_consume(&new.addr().to_string(), n).await?;
    drop(new);
    let old = roadroller_tests::noida::NoidaBroker::start_in_memory(any)?;
    let (old_produce, old_consume) = produce_and_consume(&old.addr().to_string(), n).await?;
    drop(old);
    Ok(vec![
        Figure::new("15 raw producer on the embedded broker", new_produce, "records/s")
            .against(old_produce, Target::RatioAtLeast(1.0)),
        Figure::new("15 raw consumer on the embedded broker", new_consume, "records/s")
            .against(old_consume, Target::RatioAtLeast(1.0)),
    ])
}

async fn produce_and_consume(bootstrap: &str, n: u64) -> Result<(f64, f64)> {
    create_topic(bootstrap).await?;
    let b = bootstrap.to_string();
    let produced =
        tokio::task::spawn_blocking(move || raw_produce_with(&b, TOPIC, n, record_111)).await??;
    let b = bootstrap.to_string();
    // The producer warmed up with 1,000 records first: read them too.
    let consumed =
        tokio::task::spawn_blocking(move || raw_consume(&b, TOPIC, PARTITIONS, n + 1_000))
            .await??;
    Ok((produced, consumed))
}

async fn create_topic(bootstrap: &str) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create()?;
    let topic = NewTopic::new(TOPIC, PARTITIONS, TopicReplication::Fixed(1));
    for result in admin.create_topics([&topic], &AdminOptions::new()).await? {
        result.map_err(|(t, e)| format!("creating {t}: {e}"))?;
    }
    Ok(())
}

/// A `roadroller serve` on the embedded broker in `data_dir`.
struct Embedded {
    child: Child,
    broker: String,
    admin: String,
}

impl Embedded {
    fn spawn(bin: &Path, data_dir: &Path) -> Result<Self> {
        let mut child = Command::new(bin)
            .args(["serve", "--log-format", "json", "--listen", "127.0.0.1:0"])
            .args(["--http-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let rx = json_logs(&mut child)?;
        let (mut broker, mut admin) = (None, None);
        while admin.is_none() {
            let line = rx
                .recv_timeout(Duration::from_secs(120))
                .map_err(|_| "the server did not start")?;
            let field = |name: &str| line[name].as_str().map(str::to_string);
            if line["message"] == "embedded kafka broker started" {
                broker = field("addr");
            }
            if line["message"] == "serving" {
                admin = field("admin_listen");
            }
        }
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Ok(Self {
            child,
            broker: broker.ok_or("no embedded broker address")?,
            admin: admin.ok_or("no admin address")?,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `/readyz` answers 200.
    async fn ready(&self, within: Duration) -> Result<()> {
        let started = Instant::now();
        let url = format!("http://{}/readyz", self.admin);
        let http = reqwest::Client::new();
        loop {
            if let Ok(r) = http.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if started.elapsed() > within {
                return Err(format!("not ready within {within:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// SIGTERM, and the time until the process has exited.
    async fn terminate(mut self) -> Result<Duration> {
        let started = Instant::now();
        Command::new("kill").args(["-TERM", &self.pid().to_string()]).status()?;
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    return Err(format!("the server exited with {status}").into());
                }
                return Ok(started.elapsed());
            }
            if started.elapsed() > GRACE * 6 {
                let _ = self.child.kill();
                return Err("the server did not exit after SIGTERM".into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn resources(bin: &Path, sizes: &Sizes) -> Result<Vec<Figure>> {
    let dir = tempfile::tempdir()?;
    let server = Embedded::spawn(bin, dir.path())?;
    server.ready(Duration::from_secs(60)).await?;
    create_topic(&server.broker).await?;
    let empty = proc::rss(server.pid());
    let bootstrap = server.broker.clone();
    let n = sizes.records;
    tokio::task::spawn_blocking(move || raw_produce_with(&bootstrap, TOPIC, n, record_111))
        .await??;
    // Settle: the interval fsync writes the new data back to the disk (CPU
    // the kernel books to the server), then the memory held with the data
    // on the road and the CPU of an idle server.
    tokio::time::sleep(sizes.settle).await;
    let loaded = proc::rss(server.pid());
    let before = proc::cpu_seconds(server.pid());
    tokio::time::sleep(sizes.idle_for).await;
    let idle = (proc::cpu_seconds(server.pid()) - before) / sizes.idle_for.as_secs_f64();
    let stop = server.terminate().await?;
    let started = Instant::now();
    let server = Embedded::spawn(bin, dir.path())?;
    server.ready(Duration::from_secs(120)).await?;
    let restart = started.elapsed();
    let bootstrap = server.broker.clone();
    // Everything is still there after the restart.
    let total = n + 1_000;
    tokio::task::spawn_blocking(move || raw_consume(&bootstrap, TOPIC, PARTITIONS, total))
        .await??;
    server.terminate().await?;
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    Ok(vec![
        Figure::new(
            "15 server RSS beyond the empty server",
            mib(loaded.saturating_sub(empty)),
            "MiB",
        )
        .target(Target::AtMost(300.0)),
        Figure::new("15 server CPU while idle (share of a core)", idle, "cores")
            .target(Target::AtMost(0.01)),
        Figure::new("15 SIGTERM until exit", stop.as_secs_f64(), "s")
            .target(Target::AtMost(GRACE.as_secs_f64())),
        Figure::new("15 restart until SERVING", restart.as_secs_f64(), "s")
            .target(Target::AtMost(3.0)),
    ])
}
