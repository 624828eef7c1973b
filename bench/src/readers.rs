//! Scenario 14: the read paths users run, against the Offramp rates the
//! bench's own client reached in the same run: `roadroller snapshot` of the
//! SNAPSHOT scenario's table and `roadroller tail --exit-at-end` of the
//! throughput road, both written to /dev/null, and the Python and
//! TypeScript clients' snapshot of the same table (their bench scripts,
//! reading an existing road).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::stage::{Result, STREAM, Stage, TABLE};

/// Records per second of a CLI read, or why it failed.
fn timed(bin: &Path, args: &[&str], records: u64) -> Result<f64> {
    let started = Instant::now();
    let output = Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env_remove("ROADROLLER_SERVER")
        .output()?;
    let secs = started.elapsed().as_secs_f64();
    if !output.status.success() {
        return Err(format!(
            "roadroller {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    Ok(records as f64 / secs)
}

/// `roadroller snapshot` of the table (`keys` keys): keys per second.
pub fn cli_snapshot(stage: &Stage, bin: &Path, keys: u64) -> Result<f64> {
    let server = format!("http://{}", stage.server.grpc);
    timed(bin, &["snapshot", TABLE, "--server", &server], keys)
}

/// `roadroller tail --from beginning -e` of the throughput road (`records`
/// records): records per second.
pub fn cli_tail(stage: &Stage, bin: &Path, records: u64) -> Result<f64> {
    let server = format!("http://{}", stage.server.grpc);
    timed(bin, &["tail", STREAM, "--from", "beginning", "-e", "--server", &server], records)
}

/// A client library whose snapshot read the bench times.
#[derive(Clone, Copy, Debug)]
pub enum Library {
    Python,
    TypeScript,
}

impl Library {
    pub fn name(self) -> &'static str {
        match self {
            Library::Python => "Python",
            Library::TypeScript => "TypeScript",
        }
    }
}

/// The repository the bench was built from: the clients' scripts and the
/// environments `scripts/test-clients` sets up live there.
fn repository() -> PathBuf {
    // The scripts run the bench from the repository's root; a cached binary
    // may have been built from another checkout of the same sources.
    let here = std::env::current_dir().unwrap_or_default();
    if here.join("clients/python/bench").is_dir() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The library's snapshot of the table, in keys per second, read by its
/// bench script with its default window; `Ok(None)` when the library's
/// environment is not set up (`./scripts/test-clients` does that).
pub fn library_snapshot(stage: &Stage, library: Library) -> Result<Option<f64>> {
    let root = repository();
    let mut command = match library {
        Library::Python => {
            let python = root.join(".tools/venv/bin/python");
            if !python.exists() {
                return Ok(None);
            }
            let mut c = Command::new(python);
            c.arg(root.join("clients/python/bench/snapshot_rate.py"));
            c.args(["--target", stage.server.grpc.as_str(), "--road", TABLE]);
            c.args(["--runs", "1", "--json"]);
            c
        }
        Library::TypeScript => {
            let dir = root.join("clients/typescript");
            if !dir.join("dist/src/index.js").exists() {
                return Ok(None);
            }
            let mut c = Command::new("node");
            c.arg(dir.join("bench/snapshot.mjs")).current_dir(&dir);
            c.env("TARGET", format!("http://{}", stage.server.grpc));
            c.env("ROAD", TABLE).env("ROUNDS", "1");
            c
        }
    };
    let output = command.stderr(Stdio::piped()).stdout(Stdio::piped()).output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "{} snapshot: {}{}",
            library.name(),
            stdout.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    let last = stdout.lines().last().unwrap_or_default();
    let best: serde_json::Value = serde_json::from_str(last)
        .map_err(|e| format!("{} snapshot printed {last:?}: {e}", library.name()))?;
    match (best["keys"].as_f64(), best["seconds"].as_f64()) {
        (Some(keys), Some(seconds)) if seconds > 0.0 => Ok(Some(keys / seconds)),
        _ => Err(format!("{} snapshot printed {last:?}", library.name()).into()),
    }
}
