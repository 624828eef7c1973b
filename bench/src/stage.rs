//! The stage every scenario runs on: one in-memory broker in this process,
//! one `roadroller serve` as a child process pointed at it (so its memory and
//! threads can be measured apart from the broker and the clients), and the
//! roads the scenarios use.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use roadroller_client::{Client, pb};
use roadroller_server::broker::EmbeddedBroker;

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The STREAM road the throughput scenarios write to and read from.
pub const STREAM: &str = "bench_stream";
/// The COMPACTED road of the snapshot scenario.
pub const TABLE: &str = "bench_table";

pub struct Stage {
    pub broker: Arc<EmbeddedBroker>,
    pub server: Server,
    pub client: Client,
}

impl Stage {
    pub async fn start(server_bin: &Path) -> Result<Self> {
        let broker = EmbeddedBroker::start_temporary("127.0.0.1:0".parse()?)?;
        let server = Server::spawn(server_bin, &broker.addr().to_string())?;
        let client = Client::connect(format!("http://{}", server.grpc)).await?;
        let stage = Self { broker, server, client };
        stage.road(STREAM, pb::RoadType::Stream, 6).await?;
        stage.road(TABLE, pb::RoadType::Compacted, 12).await?;
        Ok(stage)
    }

    pub fn bootstrap(&self) -> String {
        self.broker.addr().to_string()
    }

    async fn road(&self, name: &str, road_type: pb::RoadType, partitions: i32) -> Result<()> {
        let road = pb::Road {
            name: name.into(),
            r#type: road_type as i32,
            partitions,
            ..Default::default()
        };
        self.client.create_road(road).await?;
        self.client.register_schema(name, &crate::payload::schema().to_string(), None).await?;
        self.client.enable_when_ready(name, Duration::from_secs(30)).await?;
        Ok(())
    }
}

/// `roadroller serve` as a child process.
pub struct Server {
    child: Child,
    pub grpc: String,
    pub http: Option<String>,
    /// The admin listener: metrics and probes.
    pub admin: Option<String>,
}

impl Server {
    fn spawn(bin: &Path, bootstrap: &str) -> Result<Self> {
        Self::spawn_with(bin, bootstrap, &[])
    }

    /// A server with `extra` settings besides the listeners and the broker.
    pub fn spawn_with(bin: &Path, bootstrap: &str, extra: &[&str]) -> Result<Self> {
        let mut child = Command::new(bin)
            .args([
                "serve",
                "--log-format",
                "json",
                "--listen",
                "127.0.0.1:0",
                "--http-listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
            ])
            .args(["--kafka-bootstrap-servers", bootstrap])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let rx = json_logs(&mut child)?;
        let mut grpc = None;
        let mut http = None;
        let mut admin = None;
        while grpc.is_none() {
            let line =
                rx.recv_timeout(Duration::from_secs(60)).map_err(|_| "the server did not start")?;
            let field = |name: &str| line[name].as_str().map(str::to_string);
            if line["message"] == "serving" {
                grpc = field("listen");
                http = field("http_listen").filter(|a| !a.is_empty());
                admin = field("admin_listen").filter(|a| !a.is_empty());
            }
        }
        let grpc = grpc.ok_or("no gRPC address")?;
        // Keep draining the logs so the child never blocks on a full pipe.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Ok(Self { child, grpc, http, admin })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// The child's JSON log lines as they come (its stdout, piped).
pub fn json_logs(child: &mut Child) -> Result<std::sync::mpsc::Receiver<serde_json::Value>> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(std::io::Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                let _ = tx.send(v);
            }
        }
    });
    Ok(rx)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
