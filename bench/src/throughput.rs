//! Throughput: raw rdkafka producer and consumer against Onramp (stream and
//! batch), the legacy HTTP Onramp, and the Offramp in push mode.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use roadroller_client::{Event, Outcome, Record, SubscribeOptions};
use roadroller_server::kafka::producer_config;

use crate::payload;
use crate::stage::{Result, STREAM, Stage};

/// Records per batch, as the scenarios say.
const BATCH: u64 = 500;

/// Counts acknowledged and failed deliveries.
#[derive(Default)]
struct Acks {
    ok: AtomicU64,
    failed: AtomicU64,
}

struct Counting(Arc<Acks>);

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.0.ok.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.0.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// Scenario 1: a raw producer with exactly the server's producer settings
/// (idempotent, acks=all, the same linger and batching); records per second
/// acknowledged. Warmed up first (metadata,
/// producer id), as the server's producer is by the time it is measured.
pub fn raw_produce(bootstrap: &str, topic: &str, n: u64) -> Result<f64> {
    raw_produce_with(bootstrap, topic, n, payload::record)
}

/// [`raw_produce`] with values made by `value`.
pub fn raw_produce_with(
    bootstrap: &str,
    topic: &str,
    n: u64,
    value: fn(u64) -> String,
) -> Result<f64> {
    let acks = Arc::new(Acks::default());
    let producer: ThreadedProducer<Counting> =
        producer_config(bootstrap, "bench-raw", Duration::from_secs(120))
            .create_with_context(Counting(acks.clone()))?;
    let warm_up = 1_000;
    send_all(&producer, topic, 0..warm_up, value)?;
    producer.flush(Duration::from_secs(60))?;
    let started = Instant::now();
    send_all(&producer, topic, warm_up..warm_up + n, value)?;
    producer.flush(Duration::from_secs(120))?;
    let elapsed = started.elapsed();
    let ok = acks.ok.load(Ordering::Relaxed);
    if ok != warm_up + n {
        return Err(format!("raw producer: {ok} of {} acknowledged", warm_up + n).into());
    }
    Ok(n as f64 / elapsed.as_secs_f64())
}

fn send_all(
    producer: &ThreadedProducer<Counting>,
    topic: &str,
    range: std::ops::Range<u64>,
    value: fn(u64) -> String,
) -> Result<()> {
    for i in range {
        let value = value(i);
        let mut record = BaseRecord::<(), str>::to(topic).payload(&value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                // The queue is full: deliveries drain it in the background.
                Err((_, back)) => {
                    std::thread::sleep(Duration::from_micros(200));
                    record = back;
                }
            }
        }
    }
    Ok(())
}

/// Scenario 2: Onramp ProduceStream, batches of 500, 16 in flight.
pub async fn produce_stream(stage: &Stage, road: &str, n: u64) -> Result<f64> {
    produce_stream_with(&stage.client, road, n).await
}

/// Scenario 2 through `client`.
pub async fn produce_stream_with(
    client: &roadroller_client::Client,
    road: &str,
    n: u64,
) -> Result<f64> {
    let mut producer = client.producer(16).await?;
    let started = Instant::now();
    let mut pending = std::collections::VecDeque::new();
    let mut accepted = 0u64;
    for start in (0..n).step_by(BATCH as usize) {
        let records: Vec<Record> = (start..(start + BATCH).min(n))
            .map(|i| Record { key: None, payload: Some(payload::record(i)) })
            .collect();
        pending.push_back(producer.send(road, records).await?);
        while pending.len() > 32 {
            if let Some(p) = pending.pop_front() {
                accepted += count(p.outcomes().await?);
            }
        }
    }
    for p in pending {
        accepted += count(p.outcomes().await?);
    }
    let elapsed = started.elapsed();
    check(accepted, n, "ProduceStream")?;
    Ok(n as f64 / elapsed.as_secs_f64())
}

/// Scenario 3: Onramp Produce, batches of 500, 4 concurrent callers.
pub async fn produce_batches(stage: &Stage, n: u64) -> Result<f64> {
    let callers = 4;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..callers {
        let client = stage.client.clone();
        tasks.push(tokio::spawn(async move {
            let mut accepted = 0u64;
            let mine: Vec<u64> = (0..n).filter(|i| i % callers == c).collect();
            for chunk in mine.chunks(BATCH as usize) {
                let records: Vec<Record> = chunk
                    .iter()
                    .map(|&i| Record { key: None, payload: Some(payload::record(i)) })
                    .collect();
                accepted += count(client.produce(STREAM, records).await?);
            }
            Ok::<_, roadroller_client::Error>(accepted)
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        accepted += task.await??;
    }
    let elapsed = started.elapsed();
    check(accepted, n, "Produce")?;
    Ok(n as f64 / elapsed.as_secs_f64())
}

/// Scenario 4: the legacy HTTP Onramp, JSON arrays of 500, 4 concurrent
/// callers.
pub async fn produce_http(stage: &Stage, n: u64) -> Result<f64> {
    let Some(http) = stage.server.http.clone() else {
        return Err("the server reported no HTTP gateway address".into());
    };
    let callers = 4;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..callers {
        let url = format!("http://{http}/onramp/v1/roads/{STREAM}/messages");
        tasks.push(tokio::spawn(async move {
            let mut accepted = 0u64;
            let mine: Vec<u64> = (0..n).filter(|i| i % callers == c).collect();
            for chunk in mine.chunks(BATCH as usize) {
                let body = format!(
                    "[{}]",
                    chunk.iter().map(|&i| payload::record(i)).collect::<Vec<_>>().join(",")
                );
                let answers = crate::http::post_json(&url, body).await?;
                accepted += answers.iter().filter(|a| a["success"] == true).count() as u64;
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(accepted)
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        accepted += task.await??;
    }
    let elapsed = started.elapsed();
    check(accepted, n, "HTTP Onramp")?;
    Ok(n as f64 / elapsed.as_secs_f64())
}

/// Scenario 5: a raw consumer reading `n` records of `topic` from the start.
pub fn raw_consume(bootstrap: &str, topic: &str, partitions: i32, n: u64) -> Result<f64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "bench-raw")
        .set("enable.auto.commit", "false")
        .set("socket.nagle.disable", "true")
        // As Roadroller's consumers: at the 1 s default, a consumer whose
        // queue is full waits that long before fetching again.
        .set("fetch.queue.backoff.ms", "5")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    let started = Instant::now();
    let mut read = 0u64;
    let mut bytes = 0usize;
    while read < n {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            bytes += message?.payload().map_or(0, <[u8]>::len);
            read += 1;
        }
        if started.elapsed() > Duration::from_secs(300) {
            return Err(format!("raw consumer: {read} of {n} in 300 s").into());
        }
    }
    std::hint::black_box(bytes);
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// How many records `topic` holds now: what a read to the end covers.
pub fn records_on(bootstrap: &str, topic: &str, partitions: i32) -> Result<u64> {
    let consumer: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create()?;
    let mut total = 0;
    for p in 0..partitions {
        let (low, high) = consumer.fetch_watermarks(topic, p, Duration::from_secs(10))?;
        total += (high - low).max(0) as u64;
    }
    Ok(total)
}

/// Scenario 6: an Offramp GROUP subscriber in push mode reading `n` records
/// from the start.
pub async fn offramp_push(stage: &Stage, road: &str, n: u64) -> Result<f64> {
    offramp_push_with(&stage.client, road, "bench_push", n).await
}

/// Scenario 6 through `client`, on `stream`.
pub async fn offramp_push_with(
    client: &roadroller_client::Client,
    road: &str,
    stream: &str,
    n: u64,
) -> Result<f64> {
    let mut options = SubscribeOptions::group_from_earliest(road, stream);
    options.window = 1_000_000;
    options.reconnect = false;
    let mut subscription = client.subscribe(options).await?;
    // Timed from the assignment, as the raw consumer is from its assign():
    // joining the group is not reading.
    let mut started = None;
    let mut read = 0u64;
    while read < n {
        let event = tokio::time::timeout(Duration::from_secs(60), subscription.next())
            .await
            .map_err(|_| format!("offramp: {read} of {n}, then nothing for 60 s"))?;
        match event {
            Some(Ok(Event::Message(m))) => {
                started.get_or_insert_with(Instant::now);
                std::hint::black_box(m.payload);
                read += 1;
            }
            Some(Ok(Event::Rebalance(_))) => {
                started.get_or_insert_with(Instant::now);
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => return Err("the subscription ended".into()),
        }
    }
    let elapsed = started.map_or(Duration::ZERO, |s| s.elapsed());
    Ok(n as f64 / elapsed.as_secs_f64())
}

fn count(outcomes: Vec<Outcome>) -> u64 {
    outcomes.iter().filter(|o| o.is_accepted()).count() as u64
}

fn check(accepted: u64, n: u64, what: &str) -> Result<()> {
    if accepted == n { Ok(()) } else { Err(format!("{what}: {accepted} of {n} accepted").into()) }
}
