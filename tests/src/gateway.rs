//! Standalone legacy gateways in front of a test server: through the
//! library entry point in this process, or as the `roadroller gateway`
//! subcommand in a child process.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use roadroller_gateway::Limits;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A gateway served by `roadroller_gateway::serve` in this process, on a
/// listener bound to `127.0.0.1:0` and handed over.
pub struct TestGateway {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestGateway {
    /// A gateway in front of the Roadroller at `upstream` (`http://...`).
    pub async fn start(upstream: &str, limits: Limits) -> Self {
        let listener =
            tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("bound address");
        let channel = tonic::transport::Endpoint::from_shared(upstream.to_string())
            .expect("upstream endpoint")
            .connect_lazy();
        let (stop, stopped) = oneshot::channel::<()>();
        let listener = roadroller_tls::Incoming::new(listener, None).expect("incoming");
        let task = tokio::spawn(roadroller_gateway::serve(listener, channel, limits, async move {
            let _ = stopped.await;
        }));
        Self { addr, stop: Some(stop), task: Some(task) }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://127.0.0.1:<port>`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Stops the gateway and waits for it; re-raises a panic of its task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().expect("running");
        match tokio::time::timeout(Duration::from_secs(10), task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => panic!("the gateway stopped with an error: {e}"),
            Ok(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Ok(Err(e)) => panic!("the gateway task was cancelled: {e}"),
            Err(_) => panic!("the gateway did not stop within 10 s"),
        }
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The `roadroller` binary built beside the running test executable
/// (`<target>/<profile>/roadroller`), or `ROADROLLER_TEST_BIN` when set.
/// `cargo nextest run --workspace` builds it, as the server's own
/// integration tests need it.
pub fn roadroller_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("ROADROLLER_TEST_BIN") {
        return path.into();
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    // <target>/<profile>/deps/<test> -> <target>/<profile>/roadroller
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("a target directory");
    let bin = profile_dir.join("roadroller");
    assert!(
        bin.is_file(),
        "{} is missing: build it with `cargo build -p roadroller-server --bin roadroller` \
         (`cargo nextest run --workspace` does), or name it in ROADROLLER_TEST_BIN",
        bin.display()
    );
    bin
}

/// `roadroller gateway` in a child process, with JSON logs read as they
/// come. Dropping it kills the process.
pub struct GatewayProcess {
    child: Child,
    logs: mpsc::Receiver<serde_json::Value>,
    addr: SocketAddr,
}

impl GatewayProcess {
    /// Starts `roadroller gateway --upstream <upstream> --listen 127.0.0.1:0`
    /// plus `args`, with no ROADROLLER_* variables from the environment, and
    /// returns once it logs the address it serves on.
    pub fn start(upstream: &str, args: &[&str]) -> Self {
        let mut cmd = Command::new(roadroller_bin());
        cmd.arg("gateway")
            .args(["--upstream", upstream, "--listen", "127.0.0.1:0", "--log-format", "json"])
            .args(args);
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("ROADROLLER_")) {
            cmd.env_remove(key);
        }
        let mut child = cmd
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("roadroller gateway starts");
        let stdout = child.stdout.take().expect("piped");
        let (tx, logs) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = logs.recv_timeout(left).expect("a \"serving\" log line within 20 s");
            if line["message"] == "serving" {
                let listen = line["listen"].as_str().expect("the listen field");
                break listen.parse().expect("a socket address");
            }
        };
        Self { child, logs, addr }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://127.0.0.1:<port>`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Whether a log line with this message was written, within `within`.
    pub fn logged(&self, message: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while let Ok(line) =
            self.logs.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if line["message"] == message {
                return true;
            }
        }
        false
    }

    /// Sends SIGTERM and waits for the exit, without blocking the runtime.
    pub async fn terminate(&mut self, within: Duration) -> ExitStatus {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).expect("signal");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "roadroller gateway did not exit within {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
