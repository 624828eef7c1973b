//! A real S3-compatible server (moto, from PyPI) and real table readers
//! (pyarrow and DuckDB) for Loading Bay's tests, from the Python
//! environment `scripts/install-tools` sets up in `.tools/py`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The credentials every test S3 call uses; moto accepts any.
pub const S3_KEY_ID: &str = "roadroller-test";
pub const S3_SECRET: &str = "roadroller-test-secret";

fn repository() -> PathBuf {
    // At run time, not `env!`: a cached test binary may have been built from
    // another checkout of the same sources.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest.join("..")
}

/// The Python of `.tools/py`.
pub fn python() -> PathBuf {
    let python = repository().join(".tools/py/bin/python");
    assert!(python.exists(), "{} is missing: run ./scripts/install-tools", python.display());
    python
}

/// A moto S3 server on a free loopback port, stopped on drop.
pub struct S3Server {
    child: Child,
    pub endpoint: String,
}

impl S3Server {
    pub fn start() -> Self {
        let moto = repository().join(".tools/py/bin/moto_server");
        assert!(moto.exists(), "{} is missing: run ./scripts/install-tools", moto.display());
        let mut child = Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("moto_server starts");
        // It names its port on stderr: " * Running on http://127.0.0.1:NNNNN".
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("Running on http://") {
                    let _ = tx.send(line[at + "Running on ".len()..].trim().to_string());
                }
            }
        });
        let endpoint =
            rx.recv_timeout(Duration::from_secs(60)).expect("moto_server names its port");
        Self { child, endpoint }
    }

    /// Creates `bucket`.
    pub fn create_bucket(&self, bucket: &str) {
        let script = format!(
            "import boto3; boto3.client('s3', endpoint_url={:?}, region_name='us-east-1', \
             aws_access_key_id={S3_KEY_ID:?}, aws_secret_access_key={S3_SECRET:?})\
             .create_bucket(Bucket={bucket:?})",
            self.endpoint
        );
        let done = Command::new(python()).args(["-c", &script]).output().expect("python runs");
        assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a table is read from.
pub enum Root<'a> {
    Dir(&'a Path),
    S3 { server: &'a S3Server, url: &'a str },
}

/// The table `table` under `root` as read by `reader` (`pyarrow` or
/// `duckdb`), optionally through the Hive DDL in `ddl`: its schema, the
/// committed partitions and every row, as `tests/readers/read_table.py`
/// prints them.
pub fn read_table(root: &Root, table: &str, reader: &str, ddl: Option<&Path>) -> serde_json::Value {
    let script = repository().join("tests/readers/read_table.py");
    let mut command = Command::new(python());
    command.arg(script).args(["--table", table, "--reader", reader]);
    match root {
        Root::Dir(dir) => {
            command.arg("--root").arg(dir);
        }
        Root::S3 { server, url } => {
            command.args(["--root", url, "--endpoint", &server.endpoint, "--region", "us-east-1"]);
            command.env("AWS_ACCESS_KEY_ID", S3_KEY_ID).env("AWS_SECRET_ACCESS_KEY", S3_SECRET);
        }
    }
    if let Some(ddl) = ddl {
        command.arg("--ddl").arg(ddl);
    }
    let started = Instant::now();
    let done = command.output().expect("read_table.py runs");
    assert!(
        done.status.success(),
        "read_table.py ({reader}) failed after {:?}:\n{}",
        started.elapsed(),
        String::from_utf8_lossy(&done.stderr)
    );
    serde_json::from_slice(&done.stdout).unwrap_or_else(|e| {
        panic!("read_table.py printed no JSON ({e}):\n{}", String::from_utf8_lossy(&done.stdout))
    })
}

/// The column names of a table as `read_table` printed it, in order.
pub fn column_names(table: &serde_json::Value) -> Vec<&str> {
    table["schema"]
        .as_array()
        .expect("schema")
        .iter()
        .map(|f| f["name"].as_str().expect("a column name"))
        .collect()
}
