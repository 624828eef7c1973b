//! Scenario 14: the read paths users run, against the Offramp rates the
//! bench's own client reached in the same run: `roadroller snapshot` of the
//! SNAPSHOT scenario's table and `roadroller tail --exit-at-end` of the
//! throughput road, both written to /dev/null.

use std::path::Path;
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
