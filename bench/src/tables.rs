//! Scenario 16: the SNAPSHOT scenario's table (keys × 3 versions), marked
//! materialized. The view's build rate against the raw read of scenario 7,
//! the server's memory per key once built, GetEntry latency at a fixed
//! request rate, BatchGetEntries of 100 keys, and SNAPSHOTs served from the
//! view: one alone, then a fleet of them at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use hdrhistogram::Histogram;
use roadroller_client::{Client, Event, ReadOptions, SubscribeOptions};

use crate::figures::{Figure, Target};
use crate::proc;
use crate::stage::{Result, Stage, TABLE};

/// How scenario 16 is sized.
pub struct Sizes {
    pub keys: u64,
    /// GetEntry calls per second, and for how long.
    pub get_rate: u64,
    pub get_for: Duration,
    pub batch_for: Duration,
    /// Concurrent SNAPSHOT subscribers in the fleet.
    pub fleet: usize,
}

fn key(k: u64) -> String {
    format!("key-{k:0>9}")
}

/// Waits until the road's view on the server is ready; returns how long it
/// took and the records it applied.
async fn built(client: &Client, within: Duration) -> Result<(f64, u64)> {
    let started = Instant::now();
    loop {
        let road = client.get_road(TABLE).await?;
        if let Some(t) = road.table.filter(|t| t.ready) {
            return Ok((started.elapsed().as_secs_f64(), t.records_applied.max(0) as u64));
        }
        if started.elapsed() > within {
            return Err(format!("the view of {TABLE} was not ready within {within:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads one whole SNAPSHOT; returns its keys.
async fn snapshot(client: Client) -> Result<u64> {
    let options = SubscribeOptions {
        window: 1_000_000,
        reconnect: false,
        ..SubscribeOptions::snapshot(TABLE)
    };
    let mut subscription = client.subscribe(options).await?;
    let mut keys = 0u64;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(300), subscription.next())
            .await
            .map_err(|_| format!("snapshot from the view: {keys} keys, then nothing for 300 s"))?;
        match event {
            Some(Ok(Event::Message(_))) => keys += 1,
            Some(Ok(Event::SnapshotComplete(_))) => return Ok(keys),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => return Err("the snapshot ended early".into()),
        }
    }
}

pub async fn study(stage: &Stage, sizes: &Sizes, raw_secs: f64) -> Result<Vec<Figure>> {
    let mut figures = Vec::new();
    let client = &stage.client;
    let pid = stage.server.pid();
    let records = sizes.keys * 3;

    let before = proc::rss(pid);
    client.set_materialized(TABLE, true).await?;
    let (secs, applied) = built(client, Duration::from_secs(600)).await?;
    if applied != records {
        return Err(format!("the view applied {applied} records of {records}").into());
    }
    let raw_rate = records as f64 / raw_secs;
    figures.push(
        Figure::new("16 view build", records as f64 / secs, "records/s")
            .against(raw_rate, Target::RatioAtLeast(0.7)),
    );
    let grown = proc::rss(pid).saturating_sub(before);
    figures.push(Figure::new(
        format!("16 server RSS per key, {} keys", sizes.keys),
        grown as f64 / sizes.keys as f64,
        "bytes/key",
    ));

    // GetEntry at a fixed rate: each call on its own task, so a slow answer
    // does not hold back the schedule (no coordinated omission).
    let latencies = Arc::new(std::sync::Mutex::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?,
    ));
    let interval = Duration::from_secs_f64(1.0 / sizes.get_rate as f64);
    let calls = (sizes.get_for.as_secs_f64() * sizes.get_rate as f64) as u64;
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..calls {
        ticks.tick().await;
        let (client, latencies) = (client.clone(), latencies.clone());
        let k = key(i.wrapping_mul(7_919) % sizes.keys);
        tasks.spawn(async move {
            let started = Instant::now();
            let (found, _) =
                client.get(TABLE, &k, &ReadOptions::default()).await.map_err(|e| e.to_string())?;
            let micros = started.elapsed().as_micros() as u64;
            latencies.lock().expect("histogram").record(micros.max(1)).ok();
            found.map(|_| ()).ok_or_else(|| format!("GetEntry: {k} not found"))
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    }
    let h = latencies.lock().expect("histogram").clone();
    let rate = sizes.get_rate;
    figures.push(Figure::new(
        format!("16 GetEntry p50 at {rate}/s"),
        h.value_at_quantile(0.5) as f64 / 1000.0,
        "ms",
    ));
    figures.push(Figure::new(
        format!("16 GetEntry p99 at {rate}/s"),
        h.value_at_quantile(0.99) as f64 / 1000.0,
        "ms",
    ));

    // BatchGetEntries of 100 keys, four callers back to back.
    let started = Instant::now();
    let mut callers = tokio::task::JoinSet::new();
    for c in 0..4u64 {
        let (client, keys, until) = (client.clone(), sizes.keys, started + sizes.batch_for);
        callers.spawn(async move {
            let mut read = 0u64;
            let mut round = c;
            while Instant::now() < until {
                let batch: Vec<String> =
                    (0..100).map(|i| key((round * 100 + i) * 7_919 % keys)).collect();
                let (results, _) = client.batch_get(TABLE, &batch, &ReadOptions::default()).await?;
                read += results.iter().filter(|(_, e)| e.is_some()).count() as u64;
                round += 4;
            }
            Ok::<_, roadroller_client::Error>(read)
        });
    }
    let mut read = 0;
    while let Some(done) = callers.join_next().await {
        read += done.map_err(|e| e.to_string())??;
    }
    figures.push(Figure::new(
        "16 BatchGetEntries of 100 keys, 4 callers",
        read as f64 / started.elapsed().as_secs_f64(),
        "keys/s",
    ));

    // SNAPSHOTs from the view: one alone, then the fleet at once.
    let started = Instant::now();
    let one = snapshot(client.clone()).await?;
    let alone = started.elapsed().as_secs_f64();
    if one != sizes.keys {
        return Err(format!("a snapshot from the view held {one} keys of {}", sizes.keys).into());
    }
    figures.push(Figure::new(
        format!("16 SNAPSHOT from the view, {} keys", sizes.keys),
        alone,
        "seconds",
    ));
    if !proc::reset_peak(pid) {
        return Err("cannot reset the server's peak memory (/proc/<pid>/clear_refs)".into());
    }
    // A fleet is many instances: each member has its own connection, as it
    // would from its own host (over one, every stream shares one HTTP/2
    // connection's task on each side).
    let mut members = Vec::with_capacity(sizes.fleet);
    for _ in 0..sizes.fleet {
        members.push(Client::connect(format!("http://{}", stage.server.grpc)).await?);
    }
    let before = proc::rss(pid);
    let cpu = proc::Cpu::start(pid);
    let started = Instant::now();
    let mut fleet = tokio::task::JoinSet::new();
    for member in members {
        fleet.spawn(snapshot(member));
    }
    while let Some(done) = fleet.join_next().await {
        let keys = done.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
        if keys != sizes.keys {
            return Err(format!("a fleet snapshot held {keys} keys of {}", sizes.keys).into());
        }
    }
    let together = started.elapsed().as_secs_f64();
    figures.push(
        Figure::new(
            format!("16 {} SNAPSHOTs at once from the view", sizes.fleet),
            together,
            "seconds",
        )
        .against(alone, Target::RatioAtMost(3.0)),
    );
    // Where the fleet's time goes: the server sends every record once per
    // subscriber, and this process decodes each of them.
    let (bench, server) = cpu.per_record(sizes.keys * sizes.fleet as u64);
    figures.push(Figure::new("16: fleet CPU server, per record sent", server, "us/record"));
    figures.push(Figure::new("16: fleet CPU subscribers, per record received", bench, "us/record"));
    figures.push(Figure::new(
        format!("16 server peak RSS growth, {} snapshots", sizes.fleet),
        proc::peak(pid).saturating_sub(before) as f64 / (1 << 20) as f64,
        "MiB",
    ));
    client.set_materialized(TABLE, false).await?;
    Ok(figures)
}
