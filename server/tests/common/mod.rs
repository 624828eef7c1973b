//! A `roadroller serve` child process for the tests that run the binary,
//! and the load they put on it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use roadroller_api::v1 as pb;
use roadroller_api::v1::onramp_service_client::OnrampServiceClient;
use roadroller_api::v1::paver_service_client::PaverServiceClient;
use roadroller_tests::KafkaRecord;
use serde_json::Value;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

pub const BIN: &str = env!("CARGO_BIN_EXE_roadroller");

/// A `roadroller serve` child process whose JSON logs are read as they come.
pub struct Serve {
    pub child: Child,
    logs: mpsc::Receiver<Value>,
}

impl Serve {
    /// Starts `roadroller serve` in `dir` with `args`, JSON logs, and no
    /// ROADROLLER_* variables from the environment.
    pub fn start(dir: &Path, args: &[&str]) -> Self {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve").args(["--log-format", "json"]).args(args).current_dir(dir);
        // Tests that pick their own addresses run side by side: the admin
        // listener's fixed default would clash.
        if args.contains(&"--listen") && !args.contains(&"--admin-listen") {
            cmd.args(["--admin-listen", "127.0.0.1:0"]);
        }
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("ROADROLLER_")) {
            cmd.env_remove(key);
        }
        let mut child = cmd
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("roadroller starts");
        let stdout = child.stdout.take().expect("piped");
        let (tx, logs) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        Self { child, logs }
    }

    /// Waits for the log line whose message is `message` and returns its
    /// `field`.
    pub fn logged(&self, message: &str, field: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .logs
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {message:?} log line within {within:?}"));
            if line["message"] == message {
                return line[field].as_str().expect("a string field").to_string();
            }
        }
    }

    pub fn terminate(&self) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).expect("signal");
    }

    /// Waits for the exit without blocking the test's runtime, whose
    /// clients must stay live to answer the server's shutdown.
    pub async fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "roadroller did not exit within {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn health(addr: &str) -> Option<ServingStatus> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}")).ok()?;
    let mut client = HealthClient::new(channel.connect().await.ok()?);
    let response = client.check(HealthCheckRequest { service: String::new() }).await.ok()?;
    ServingStatus::try_from(response.into_inner().status).ok()
}

pub async fn wait_serving(addr: &str, within: Duration) -> Duration {
    let start = Instant::now();
    while health(addr).await != Some(ServingStatus::Serving) {
        assert!(start.elapsed() < within, "not SERVING within {within:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    start.elapsed()
}

impl Serve {
    /// SIGKILL: no drain, no flush, no clean-shutdown marker.
    pub fn kill(&mut self) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL).expect("signal");
        let _ = self.child.wait();
    }
}

pub async fn channel(addr: &str) -> Channel {
    Channel::from_shared(format!("http://{addr}")).expect("uri").connect().await.expect("connect")
}

/// Creates an enabled STREAM road `name` whose records are `{"n": integer}`,
/// and waits for its topic.
pub async fn open_road(addr: &str, name: &str) {
    let mut paver = PaverServiceClient::new(channel(addr).await);
    let road =
        pb::Road { name: name.into(), r#type: pb::RoadType::Stream as i32, ..Default::default() };
    paver.create_road(pb::CreateRoadRequest { road: Some(road) }).await.expect("create road");
    for _ in 0..200 {
        let road = paver
            .get_road(pb::GetRoadRequest { name: name.into() })
            .await
            .expect("get")
            .into_inner();
        if road.road.and_then(|r| r.status).is_some_and(|s| s.topic_created) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let schema = r#"{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}"#;
    paver
        .register_schema(pb::RegisterSchemaRequest {
            road: name.into(),
            schema: schema.into(),
            version: 0,
        })
        .await
        .expect("schema");
    let enable = pb::Road { name: name.into(), enabled: true, ..Default::default() };
    paver
        .update_road(pb::UpdateRoadRequest {
            road: Some(enable),
            update_mask: Some(prost_types::FieldMask { paths: vec!["enabled".into()] }),
        })
        .await
        .expect("enable");
}

/// Where Kafka acknowledged a record: (partition, offset).
pub type At = (i32, i64);

/// What producers saw: each acknowledged record number with where it was
/// written, and how the others failed.
#[derive(Debug, Default)]
pub struct Tally {
    pub acked: Vec<(u64, At)>,
    /// Failed calls and refused records, by gRPC code.
    pub failed: BTreeMap<String, usize>,
    /// The longest a call took to be answered.
    pub longest: Duration,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.acked.extend(other.acked);
        for (code, n) in other.failed {
            *self.failed.entry(code).or_default() += n;
        }
        self.longest = self.longest.max(other.longest);
    }
}

/// Producers writing batches of numbered records to a road through
/// Onramp until stopped, each on its own connection.
pub struct Load {
    stop: Arc<AtomicBool>,
    producers: Vec<tokio::task::JoinHandle<Tally>>,
}

/// Records per Produce call.
const BATCH: u64 = 20;

impl Load {
    /// `producers` producers numbering their records from `first`, each in
    /// a range of its own; `pause` between calls sets the rate.
    pub fn start(addr: &str, road: &str, producers: u64, first: u64, pause: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let producers = (0..producers)
            .map(|i| {
                let from = first + (i << 24);
                tokio::spawn(produce(addr.to_string(), road.to_string(), from, pause, stop.clone()))
            })
            .collect();
        Self { stop, producers }
    }

    /// Stops the producers and returns what they saw together.
    pub async fn stop(self) -> Tally {
        self.stop.store(true, Ordering::Release);
        let mut tally = Tally::default();
        for producer in self.producers {
            tally.merge(producer.await.expect("producer"));
        }
        tally
    }
}

async fn produce(
    addr: String,
    road: String,
    mut next: u64,
    pause: Duration,
    stop: Arc<AtomicBool>,
) -> Tally {
    let mut tally = Tally::default();
    let endpoint = Channel::from_shared(format!("http://{addr}")).expect("uri");
    let mut onramp = OnrampServiceClient::new(endpoint.connect_lazy());
    let fail = |tally: &mut Tally, code: tonic::Code| {
        *tally.failed.entry(format!("{code:?}")).or_default() += 1;
    };
    while !stop.load(Ordering::Acquire) {
        let numbers: Vec<u64> = (next..next + BATCH).collect();
        next += BATCH;
        let records = numbers
            .iter()
            .map(|n| pb::Record { key: None, payload: Some(format!("{{\"n\":{n}}}")) })
            .collect();
        let request = pb::ProduceRequest { road: road.clone(), records };
        let sent = Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(60), onramp.produce(request)).await;
        tally.longest = tally.longest.max(sent.elapsed());
        match answer {
            Err(_) => fail(&mut tally, tonic::Code::DeadlineExceeded),
            Ok(Err(status)) => fail(&mut tally, status.code()),
            Ok(Ok(response)) => {
                for (n, result) in numbers.iter().zip(response.into_inner().results) {
                    match result.result {
                        Some(pb::record_result::Result::Accepted(a)) => {
                            tally.acked.push((*n, (a.partition, a.offset)))
                        }
                        Some(pb::record_result::Result::Rejected(r)) => {
                            fail(&mut tally, tonic::Code::from(r.code))
                        }
                        None => panic!("record {n} has no result"),
                    }
                }
            }
        }
        tokio::time::sleep(pause).await;
    }
    tally
}

/// Asserts that every acknowledged record is in `records` (as a plain
/// consumer read them) exactly once, at the offset it was acknowledged with.
pub fn assert_exactly_where_acknowledged(acked: &[(u64, At)], records: &[KafkaRecord]) {
    let mut seen: HashMap<u64, Vec<At>> = HashMap::new();
    for r in records {
        let value: serde_json::Value =
            serde_json::from_slice(r.value.as_deref().expect("value")).expect("json");
        seen.entry(value["n"].as_u64().expect("n")).or_default().push((r.partition, r.offset));
    }
    for (n, at) in acked {
        assert_eq!(
            seen.get(n),
            Some(&vec![*at]),
            "record {n} acknowledged at {at:?}: exactly once, there"
        );
    }
}
