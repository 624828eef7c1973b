//! Scenario 12: the cost of being observed. A second `roadroller serve` on
//! the same broker samples every trace and exports it over OTLP to a
//! receiver in this process, while its metrics are scraped every second;
//! ProduceStream and an Offramp GROUP read run against it and against the
//! stage's server (no tracing, nobody scraping) in turns. Metrics are
//! counted either way: they are a few atomic additions per batch.

use std::path::Path;
use std::time::Duration;

use roadroller_client::Client;
use roadroller_tests::OtlpReceiver;

use crate::stage::{Result, STREAM, Server, Stage};
use crate::throughput;

/// Records per second, unobserved then observed.
pub struct Observed {
    pub produce: (f64, f64),
    pub offramp: (f64, f64),
    /// Spans the receiver got.
    pub spans: usize,
}

pub async fn compare(stage: &Stage, bin: &Path, n: u64) -> Result<Observed> {
    let receiver = OtlpReceiver::start().await;
    let traced = Server::spawn_with(
        bin,
        &stage.bootstrap(),
        &[
            "--telemetry-otlp-endpoint",
            &receiver.endpoint(),
            "--telemetry-traces-sampler",
            "always_on",
        ],
    )?;
    let client = Client::connect(format!("http://{}", traced.grpc)).await?;
    let admin = traced.admin.clone().ok_or("the traced server has no admin listener")?;
    let scraper = tokio::spawn(async move {
        let http = reqwest::Client::new();
        loop {
            let _ = http.get(format!("http://{admin}/metrics")).send().await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let (mut produce, mut offramp) = ((0.0, 0.0), (0.0, 0.0));
    for round in 0..2 {
        produce.0 += throughput::produce_stream_with(&stage.client, STREAM, n / 2).await?;
        produce.1 += throughput::produce_stream_with(&client, STREAM, n / 2).await?;
        let plain = format!("bench_plain_{round}");
        offramp.0 += throughput::offramp_push_with(&stage.client, STREAM, &plain, n).await?;
        let observed = format!("bench_observed_{round}");
        offramp.1 += throughput::offramp_push_with(&client, STREAM, &observed, n).await?;
    }
    scraper.abort();
    // Spans leave in batches every 5 s; the last batch, before counting.
    tokio::time::sleep(Duration::from_secs(6)).await;
    drop(traced);
    Ok(Observed {
        produce: (produce.0 / 2.0, produce.1 / 2.0),
        offramp: (offramp.0 / 2.0, offramp.1 / 2.0),
        spans: receiver.spans().len(),
    })
}
