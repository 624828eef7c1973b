//! A `roadroller serve` child process for the tests that run the binary.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;
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
