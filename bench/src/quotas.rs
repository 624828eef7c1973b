//! Scenario 13: the cost of quotas that are configured but not reached. A
//! second `roadroller serve` on the same broker has every Onramp limit set
//! (per principal, and an instance capacity shared by weight) far above what
//! the run reaches; ProduceStream runs against it and against the server
//! without quotas in turns, twice each, so that both see the same machine.

use std::path::Path;

use roadroller_client::Client;

use crate::stage::{Result, STREAM, Server, Stage};
use crate::throughput;

/// Records per second of ProduceStream: (no quotas, quotas not reached).
pub async fn produce_stream_with_quotas(stage: &Stage, bin: &Path, n: u64) -> Result<(f64, f64)> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("quotas.toml");
    // The bench's caller is anonymous on loopback: the defaults apply to
    // it; the entry is there so that every call looks the file up.
    std::fs::write(&file, "[[quota]]\nprincipal = \"someone-else\"\nweight = 3\n")?;
    let file = file.to_str().ok_or("a UTF-8 path")?.to_string();
    let limited = Server::spawn_with(
        bin,
        &stage.bootstrap(),
        &[
            "--quotas-file",
            &file,
            "--quotas-produce-records-per-second",
            "1000000000",
            "--quotas-produce-bytes-per-second",
            "1000000000000",
            "--quotas-onramp-capacity",
            "1000000000",
        ],
    )?;
    let client = Client::connect(format!("http://{}", limited.grpc)).await?;
    let (mut open, mut quotas) = (0.0, 0.0);
    for _ in 0..2 {
        open += throughput::produce_stream_with(&stage.client, STREAM, n / 2).await?;
        quotas += throughput::produce_stream_with(&client, STREAM, n / 2).await?;
    }
    drop(limited);
    Ok((open / 2.0, quotas / 2.0))
}
