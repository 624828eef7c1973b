//! The scenarios that measure more than throughput: SNAPSHOT against a raw
//! read, delivery latency, idle subscriptions, and schema validation.

use std::time::{Duration, Instant};

use futures::StreamExt;
use hdrhistogram::Histogram;
use roadroller_client::{Event, Record, SubscribeOptions};
use serde_json::json;

use crate::stage::{Result, STREAM, Stage, TABLE};
use crate::{payload, proc, throughput};

/// What the SNAPSHOT scenario measured.
pub struct SnapshotFigures {
    pub raw_secs: f64,
    pub snapshot_secs: f64,
    pub bytes_per_key: f64,
}

/// Scenario 7: `keys` keys × 3 versions; a raw read of the whole topic
/// against a SNAPSHOT, and the server's peak memory growth per key.
pub async fn snapshot(stage: &Stage, keys: u64) -> Result<SnapshotFigures> {
    let mut producer = stage.client.producer(16).await?;
    let mut pending = std::collections::VecDeque::new();
    for version in 0..3u64 {
        for start in (0..keys).step_by(500) {
            let records: Vec<Record> = (start..(start + 500).min(keys))
                .map(|k| Record {
                    key: Some(format!("key-{k:0>9}")),
                    payload: Some(payload::record(k * 10 + version)),
                })
                .collect();
            pending.push_back(producer.send(TABLE, records).await?);
            while pending.len() > 32 {
                if let Some(p) = pending.pop_front() {
                    p.outcomes().await?;
                }
            }
        }
    }
    for p in pending {
        p.outcomes().await?;
    }
    let bootstrap = stage.bootstrap();
    let topic = format!("road.{TABLE}");
    let records = keys * 3;
    let raw_started = Instant::now();
    tokio::task::spawn_blocking(move || throughput::raw_consume(&bootstrap, &topic, 12, records))
        .await??;
    let raw_secs = raw_started.elapsed().as_secs_f64();

    let pid = stage.server.pid();
    let before = proc::rss(pid);
    if !proc::reset_peak(pid) {
        return Err("cannot reset the server's peak memory (/proc/<pid>/clear_refs)".into());
    }
    let options = SubscribeOptions {
        window: 1_000_000,
        reconnect: false,
        ..SubscribeOptions::snapshot(TABLE)
    };
    let started = Instant::now();
    let mut subscription = stage.client.subscribe(options).await?;
    let mut received = 0u64;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(120), subscription.next())
            .await
            .map_err(|_| format!("snapshot: {received} of {keys}, then nothing for 120 s"))?;
        match event {
            Some(Ok(Event::Message(_))) => received += 1,
            Some(Ok(Event::SnapshotComplete(_))) => break,
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => return Err("the snapshot ended early".into()),
        }
    }
    let snapshot_secs = started.elapsed().as_secs_f64();
    if received != keys {
        return Err(format!("snapshot: {received} messages for {keys} keys").into());
    }
    let growth = proc::peak(pid).saturating_sub(before);
    Ok(SnapshotFigures { raw_secs, snapshot_secs, bytes_per_key: growth as f64 / keys as f64 })
}

/// Latency percentiles in milliseconds.
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// Scenario 8: records produced through Onramp at `rate` per second for
/// `duration`; the time from the produce call to Offramp delivery.
pub async fn latency(stage: &Stage, rate: u64, duration: Duration) -> Result<Latency> {
    let mut options = SubscribeOptions::group(STREAM, "bench_latency");
    options.initial_position = roadroller_client::InitialPosition::Latest;
    options.window = 100_000;
    options.reconnect = false;
    let mut subscription = stage.client.subscribe(options).await?;
    // Wait until the subscriber holds the partitions.
    loop {
        match tokio::time::timeout(Duration::from_secs(30), subscription.next()).await {
            Ok(Some(Ok(Event::Rebalance(p)))) if !p.is_empty() => break,
            Ok(Some(Ok(_))) => {}
            _ => return Err("the latency subscriber got no partitions".into()),
        }
    }
    // A LATEST subscriber skips what is written before its offsets are
    // looked up: write markers (send time 0) until one arrives.
    let warmed = Instant::now();
    'warm: loop {
        if warmed.elapsed() > Duration::from_secs(30) {
            return Err("the latency subscriber never received a marker".into());
        }
        stage
            .client
            .produce(STREAM, [Record { key: None, payload: Some(payload::timed(0, 0)) }])
            .await?;
        let until = Instant::now() + Duration::from_millis(300);
        while let Ok(Some(event)) = tokio::time::timeout_at(until.into(), subscription.next()).await
        {
            if let Ok(Event::Message(_)) = event {
                break 'warm;
            }
        }
    }
    let clock = Instant::now();
    let per_tick = (rate / 100).max(1);
    let total = per_tick * (duration.as_millis() as u64 / 10);
    let client = stage.client.clone();
    let producing = tokio::spawn(async move {
        let mut producer = client.producer(64).await?;
        let mut ticker = tokio::time::interval(Duration::from_millis(10));
        let mut pending = std::collections::VecDeque::new();
        let mut i = 0;
        while i < total {
            ticker.tick().await;
            let sent = clock.elapsed().as_micros() as u64 + 1;
            let records: Vec<Record> = (i..i + per_tick)
                .map(|n| Record { key: None, payload: Some(payload::timed(n, sent)) })
                .collect();
            i += per_tick;
            pending.push_back(producer.send(STREAM, records).await?);
            while pending.len() > 16 {
                if let Some(p) = pending.pop_front() {
                    p.outcomes().await?;
                }
            }
        }
        for p in pending {
            p.outcomes().await?;
        }
        Ok::<_, roadroller_client::Error>(())
    });
    let mut histogram = Histogram::<u64>::new(3)?;
    let mut received = 0;
    while received < total {
        let event = tokio::time::timeout(Duration::from_secs(30), subscription.next())
            .await
            .map_err(|_| format!("latency: {received} of {total}, then nothing for 30 s"))?;
        if let Some(Ok(Event::Message(m))) = event {
            let now = clock.elapsed().as_micros() as u64 + 1;
            // Markers (send time 0) are not measured.
            if let Some(sent) = m.payload.as_deref().and_then(payload::sent_at).filter(|&t| t > 0) {
                histogram.record(now.saturating_sub(sent))?;
                received += 1;
            }
        }
    }
    producing.await??;
    let ms = |micros: u64| micros as f64 / 1000.0;
    Ok(Latency {
        p50: ms(histogram.value_at_quantile(0.5)),
        p99: ms(histogram.value_at_quantile(0.99)),
        max: ms(histogram.max()),
    })
}

/// What idle subscriptions cost the server.
pub struct Idle {
    pub rss: u64,
    pub threads: u64,
    pub rss_before: u64,
    pub threads_before: u64,
}

/// Scenario 9: `count` subscriptions on distinct streams, without credit,
/// each holding its partitions; the server's memory and threads.
pub async fn idle(stage: &Stage, count: usize) -> Result<Idle> {
    let pid = stage.server.pid();
    let (rss_before, threads_before) = (proc::rss(pid), proc::threads(pid));
    // Several connections, as many clients would have.
    let mut clients = Vec::new();
    for _ in 0..8 {
        clients.push(
            roadroller_client::Client::connect(format!("http://{}", stage.server.grpc)).await?,
        );
    }
    let mut subscriptions = Vec::with_capacity(count);
    for i in 0..count {
        let mut options = SubscribeOptions::group(STREAM, format!("idle_{i}"));
        options.initial_position = roadroller_client::InitialPosition::Latest;
        options.window = 1;
        options.reconnect = false;
        subscriptions.push(clients[i % clients.len()].subscribe(options).await?);
    }
    // Every subscriber holds its partitions before anything is measured.
    let deadline = Instant::now() + Duration::from_secs(300);
    for (i, subscription) in subscriptions.iter_mut().enumerate() {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, subscription.next()).await {
                Ok(Some(Ok(Event::Rebalance(p)))) if !p.is_empty() => break,
                Ok(Some(Ok(_))) => {}
                _ => return Err(format!("idle subscription {i} got no partitions").into()),
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let figures =
        Idle { rss: proc::rss(pid), threads: proc::threads(pid), rss_before, threads_before };
    drop(subscriptions);
    Ok(figures)
}

/// A schema of 30 properties and a 1 KiB document that satisfies it.
pub fn validation_case() -> (serde_json::Value, serde_json::Value) {
    let mut properties = serde_json::Map::new();
    let mut document = serde_json::Map::new();
    for i in 0..30 {
        let (schema, value) = match i % 3 {
            0 => (json!({"type": "string", "maxLength": 40}), json!(format!("value-{i:0>20}"))),
            1 => (json!({"type": "integer", "minimum": 0}), json!(i * 1000)),
            _ => (json!({"type": "number", "maximum": 1e9}), json!(i as f64 * 1.5)),
        };
        properties.insert(format!("field_{i:02}"), schema);
        document.insert(format!("field_{i:02}"), value);
    }
    let schema = json!({"type": "object", "required": ["field_00"], "properties": properties});
    let mut document = serde_json::Value::Object(document);
    let size = document.to_string().len();
    document["pad"] = json!("x".repeat(1024usize.saturating_sub(size + 10)));
    (schema, document)
}

/// Scenario 10 (a quick form of the criterion benchmark): documents read
/// from their text and validated per second on one core, the way Onramp
/// does it, and the way it did before (a `serde_json::Value`, validated by
/// `jsonschema`'s own representation), in that order.
pub fn validation(duration: Duration) -> Result<(f64, f64)> {
    let (schema, document) = validation_case();
    let text = document.to_string();
    let compiled =
        roadroller_server::schema::compile(&schema.to_string()).map_err(|p| format!("{p:?}"))?;
    let onramp = rate(duration, || {
        roadroller_server::onramp::json::parse(std::hint::black_box(&text))
            .is_ok_and(|d| compiled.validator.is_valid(&d))
    })?;
    let plain = jsonschema::validator_for(&schema).map_err(|e| e.to_string())?;
    let value = rate(duration, || {
        serde_json::from_str::<serde_json::Value>(std::hint::black_box(&text))
            .is_ok_and(|d| plain.is_valid(&d))
    })?;
    Ok((onramp, value))
}

/// How often `valid` returns true per second, for `duration`.
fn rate(duration: Duration, mut valid: impl FnMut() -> bool) -> Result<f64> {
    let started = Instant::now();
    let mut done = 0u64;
    while started.elapsed() < duration {
        for _ in 0..1000 {
            if !valid() {
                return Err("the document should be valid".into());
            }
        }
        done += 1000;
    }
    Ok(done as f64 / started.elapsed().as_secs_f64())
}
