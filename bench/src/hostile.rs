//! Scenario 17: another caller's Produce latency beside payloads built to
//! trip a schema's patterns.
//!
//! A pattern that needs backtracking is refused when registered; nested
//! quantifiers, which make a backtracking engine take exponential time on
//! a near-miss, run on a linear-time engine. Two hostile callers send
//! near-miss values of 100 kB at a steady rate (each one seconds of CPU on a
//! backtracking engine) while an ordinary caller's unary Produce latency is
//! measured, and compared with the same caller alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use roadroller_client::{Record, pb};

use crate::payload;
use crate::stage::{Result, STREAM, Stage};

pub const ROAD: &str = "bench_hostile";

/// Hostile calls per second, per caller; ten values of 100 kB each.
const HOSTILE_CALLS_PER_SECOND: u64 = 10;
const HOSTILE_CALLERS: usize = 2;

pub struct Hostile {
    /// Whether a back-reference pattern was refused at registration.
    pub refused: bool,
    pub alone_p99_ms: f64,
    pub beside_p99_ms: f64,
    /// Hostile values validated (and refused) meanwhile.
    pub hostile_values: u64,
}

pub async fn study(stage: &Stage, rate: u64, duration: Duration) -> Result<Hostile> {
    let road = pb::Road {
        name: ROAD.into(),
        r#type: pb::RoadType::Stream as i32,
        partitions: 1,
        ..Default::default()
    };
    stage.client.create_road(road).await?;
    let backtracking = serde_json::json!({"type": "object", "properties": {
        "s": {"type": "string", "pattern": r"^(\w+)\s\1$"}}});
    let refused =
        stage.client.register_schema(ROAD, &backtracking.to_string(), None).await.is_err();
    let nested = serde_json::json!({"type": "object", "properties": {
        "s": {"type": "string", "pattern": "^(a+)+$"},
        "t": {"type": "string", "pattern": "^(x+x+)+y$"}}});
    stage.client.register_schema(ROAD, &nested.to_string(), None).await?;
    stage.client.enable_when_ready(ROAD, Duration::from_secs(30)).await?;

    let alone_p99_ms = produce_p99(stage, rate, duration).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let values = Arc::new(AtomicU64::new(0));
    let mut callers = Vec::new();
    for caller in 0..HOSTILE_CALLERS {
        // Its own connection, as another caller has: on the measured
        // caller's, its megabyte requests would queue the small ones.
        let client =
            roadroller_client::Client::connect(format!("http://{}", stage.server.grpc)).await?;
        let (stop, values) = (stop.clone(), values.clone());
        callers.push(tokio::spawn(async move {
            let near_miss = if caller % 2 == 0 {
                serde_json::json!({"s": format!("{}b", "a".repeat(100_000))})
            } else {
                serde_json::json!({"t": "x".repeat(100_000)})
            }
            .to_string();
            let mut ticker =
                tokio::time::interval(Duration::from_millis(1_000 / HOSTILE_CALLS_PER_SECOND));
            while !stop.load(Ordering::Relaxed) {
                ticker.tick().await;
                let records =
                    (0..10).map(|_| Record { key: None, payload: Some(near_miss.clone()) });
                if let Ok(outcomes) = client.produce(ROAD, records).await {
                    values.fetch_add(outcomes.len() as u64, Ordering::Relaxed);
                }
            }
        }));
    }
    // Let the hostile load start before measuring beside it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let beside_p99_ms = produce_p99(stage, rate, duration).await;
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        let _ = caller.await;
    }
    Ok(Hostile {
        refused,
        alone_p99_ms,
        beside_p99_ms: beside_p99_ms?,
        hostile_values: values.load(Ordering::Relaxed),
    })
}

/// The p99 of one-record unary Produce calls to the ordinary road, `rate`
/// calls a second for `duration`.
async fn produce_p99(stage: &Stage, rate: u64, duration: Duration) -> Result<f64> {
    let mut histogram = Histogram::<u64>::new(3)?;
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let started = Instant::now();
    let mut i = 0;
    while started.elapsed() < duration {
        ticker.tick().await;
        let sent = Instant::now();
        let record = Record { key: None, payload: Some(payload::record(i)) };
        stage.client.produce(STREAM, [record]).await?;
        histogram.record(sent.elapsed().as_micros() as u64)?;
        i += 1;
    }
    Ok(histogram.value_at_quantile(0.99) as f64 / 1_000.0)
}
