//! Scenario 18: Loading Bay landing the throughput road into a local
//! warehouse, against a raw consume of the same topic. A second server,
//! with a warehouse, lands the road; the stage's own has none.

use std::path::Path;
use std::time::Instant;

use roadroller_client::Client;

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
