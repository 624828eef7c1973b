//! Scenario 18: Loading Bay landing the throughput road into a local
//! warehouse, against a raw consume of the same topic. Scenario 19: the
//! daily snapshot of the table road (scenario 7's keys × 3 versions) rolled
//! up from its landing. A second server, with a warehouse, lands the road;
//! the stage's own has none.

use std::path::Path;
use std::time::Instant;

use roadroller_client::Client;

use crate::proc;
use crate::stage::{Result, Server, Stage};

/// What one landing of the whole road took.
pub struct Landed {
    pub records: u64,
    pub secs: f64,
}

/// Lands all of `road` once, from enabling its destination to the landing's
/// commit (the scheduler may take it first; the call then waits for it).
pub async fn land_all(stage: &Stage, bin: &Path, road: &str) -> Result<Landed> {
    let warehouse = tempfile::tempdir()?;
    let url = format!("file://{}", warehouse.path().display());
    let server = Server::spawn_with(bin, &stage.bootstrap(), &["--loading-bay-warehouse", &url])?;
    let client = Client::connect(format!("http://{}", server.grpc)).await?;
    let started = Instant::now();
    client.set_hive_destination(road, true).await?;
    let landed = client.land(road).await?;
    let secs = started.elapsed().as_secs_f64();
    // Left on, the destination would keep a later run's server landing.
    client.set_hive_destination(road, false).await?;
    let records = landed.offsets.values().sum::<i64>().max(0) as u64;
    Ok(Landed { records, secs })
}

/// What a snapshot roll-up of a whole COMPACTED road took.
pub struct Rolled {
    pub records: u64,
    pub keys: u64,
    pub files: u32,
    pub landing_secs: f64,
    pub snapshot_secs: f64,
    /// The server's peak resident memory during the roll-up, and before it.
    pub peak_bytes: u64,
    pub before_bytes: u64,
}

/// Lands all of `road`, then times its snapshot alone: the roll-up of that
/// landing into one row per live key, in about `memory` (a size setting).
pub async fn snapshot_all(stage: &Stage, bin: &Path, road: &str, memory: &str) -> Result<Rolled> {
    let warehouse = tempfile::tempdir()?;
    let url = format!("file://{}", warehouse.path().display());
    let data = tempfile::tempdir()?;
    let data_dir = data.path().display().to_string();
    let server = Server::spawn_with(
        bin,
        &stage.bootstrap(),
        &[
            "--loading-bay-warehouse",
            &url,
            "--data-dir",
            &data_dir,
            "--loading-bay-snapshot-memory",
            memory,
        ],
    )?;
    let client = Client::connect(format!("http://{}", server.grpc)).await?;
    client.set_hive_destination(road, true).await?;
    let started = Instant::now();
    let landed = client.land(road).await?;
    let landing_secs = started.elapsed().as_secs_f64();
    let records = landed.offsets.values().sum::<i64>().max(0) as u64;
    // A time of day long past, or midnight: the scheduler may begin the
    // snapshot itself; the call then waits for it.
    let pid = server.pid();
    let before_bytes = proc::rss(pid);
    if !proc::reset_peak(pid) {
        return Err("cannot reset the server's peak memory (/proc/<pid>/clear_refs)".into());
    }
    client.set_daily_snapshot(road, true, "").await?;
    let started = Instant::now();
    let taken = client.snapshot_table(road).await?;
    let snapshot_secs = started.elapsed().as_secs_f64();
    let peak_bytes = proc::peak(pid);
    client.set_daily_snapshot(road, false, "").await?;
    client.set_hive_destination(road, false).await?;
    let snapshot = taken.snapshot.ok_or("no snapshot in the answer")?;
    Ok(Rolled {
        records,
        keys: snapshot.keys as u64,
        files: snapshot.files as u32,
        landing_secs,
        snapshot_secs,
        peak_bytes,
        before_bytes,
    })
}
