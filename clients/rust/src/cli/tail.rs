//! `roadroller tail ROAD` and `roadroller snapshot ROAD`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::{Duration, SystemTime};

use futures::{FutureExt, StreamExt};
use indicatif::ProgressBar;

use super::Failure;
use crate::{Client, Event, InitialPosition, Message, SeekTo, StreamPosition, SubscribeOptions};

#[derive(clap::Args, Debug)]
pub struct TailArgs {
    road: String,
    /// Join this stream and commit what was printed; without it the tail
    /// reads on a stream of its own and commits nothing
    #[arg(long)]
    stream: Option<String>,
    /// Where to start: beginning, end, or a time (RFC 3339, e.g.
    /// 2026-11-24T10:00:00Z)
    #[arg(long, default_value = "end", value_parser = parse_from)]
    from: From,
    /// Print the road's current state first (COMPACTED roads), then changes;
    /// with --exit-at-end, only the state
    #[arg(long, conflicts_with_all = ["stream", "from"])]
    snapshot: bool,
    /// Ask for PII intact
    #[arg(long)]
    pii: bool,
    /// Stop after this many records
    #[arg(long)]
    count: Option<u64>,
    /// Stop once every partition has been read to its end, as kcat -e does
    #[arg(long, short = 'e')]
    exit_at_end: bool,
}

#[derive(Clone, Debug)]
pub enum From {
    Beginning,
    End,
    Time(SystemTime),
}

fn parse_from(text: &str) -> Result<From, String> {
    match text {
        "beginning" => Ok(From::Beginning),
        "end" => Ok(From::End),
        t => humantime::parse_rfc3339_weak(t)
            .map(From::Time)
            .map_err(|_| format!("{t:?} is not beginning, end or an RFC 3339 time")),
    }
}

#[derive(clap::Args, Debug)]
pub struct SnapshotArgs {
    road: String,
    /// Write the JSON lines here instead of standard output
    #[arg(long, short)]
    output: Option<String>,
    /// Ask for PII intact
    #[arg(long)]
    pii: bool,
}

/// One record as a JSON line: where it is, its schema version, its key,
/// and the payload exactly as it was produced (`null` for a delete).
fn line(out: &mut impl Write, m: &Message) -> std::io::Result<()> {
    write!(out, "{{\"partition\":{},\"offset\":{}", m.partition, m.offset)?;
    match m.timestamp {
        Some(t) => write!(out, ",\"timestamp\":\"{}\"", humantime::format_rfc3339_millis(t))?,
        None => write!(out, ",\"timestamp\":null")?,
    }
    write!(out, ",\"schema_version\":{}", m.schema_version)?;
    if let Some(key) = &m.key {
        write!(out, ",\"key\":{}", serde_json::Value::from(key.as_str()))?;
    }
    writeln!(out, ",\"payload\":{}}}", m.payload.as_deref().unwrap_or("null"))
}

fn write_failed(e: std::io::Error) -> Failure {
    Failure::local(format!("cannot write: {e}"))
}

pub async fn tail(client: &Client, args: TailArgs) -> Result<(), Failure> {
    let own_stream = args.stream.is_none();
    let stream = args
        .stream
        .clone()
        .unwrap_or_else(|| format!("tail_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]));
    let options = if args.snapshot {
        SubscribeOptions { pii: args.pii, ..SubscribeOptions::snapshot(&args.road) }
    } else {
        let mut options = SubscribeOptions::group(&args.road, &stream);
        options.pii = args.pii;
        options.partition_ends = args.exit_at_end;
        options.initial_position = match args.from {
            From::Beginning => InitialPosition::Earliest,
            _ => InitialPosition::Latest,
        };
        options
    };
    // A position other than the initial one is reached by a seek once the
    // partitions are held. With --exit-at-end the stream is moved before it
    // is joined instead (which takes the right to move streams), so that no
    // end reported from before the move can stop the tail.
    let mut seek = match (&args.from, &args.stream) {
        _ if args.snapshot => None,
        (From::Time(t), _) => Some(SeekTo::Time(*t)),
        (From::Beginning, Some(_)) => Some(SeekTo::Beginning),
        (From::End, Some(_)) => Some(SeekTo::End),
        (_, None) => None,
    };
    let moved_first = args.exit_at_end && seek.is_some();
    if moved_first {
        let to = match seek.take() {
            Some(SeekTo::Time(t)) => StreamPosition::Timestamp(
                t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64),
            ),
            Some(SeekTo::Beginning) => StreamPosition::Earliest,
            _ => StreamPosition::Latest,
        };
        client.reset_stream(&args.road, &stream, to).await?;
    }
    let result = follow(client, options, &args, seek).await;
    // A stream of the tail's own that was given a position is forgotten.
    // Its member leaves the group shortly after the subscription ends.
    if own_stream && moved_first {
        for _ in 0..10 {
            if client.delete_stream(&args.road, &stream).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    result
}

async fn follow(
    client: &Client,
    options: SubscribeOptions,
    args: &TailArgs,
    mut seek: Option<SeekTo>,
) -> Result<(), Failure> {
    let committing = args.stream.is_some();
    let mut subscription = client.subscribe(options).await?;
    let control = subscription.control();
    let mut printed = 0u64;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    // Partitions held, and those read to their end (--exit-at-end).
    let (mut held, mut ended) = (BTreeSet::new(), BTreeSet::new());
    // Offsets printed since the last commit.
    let mut printed_up_to: BTreeMap<i32, i64> = BTreeMap::new();
    loop {
        // Output goes out in batches: flushed (and committed) whenever no
        // more is ready.
        let event = match subscription.next().now_or_never() {
            Some(event) => event,
            None => {
                out.flush().map_err(write_failed)?;
                if committing && !printed_up_to.is_empty() {
                    control.commit(std::mem::take(&mut printed_up_to)).await?;
                }
                subscription.next().await
            }
        };
        let Some(event) = event else { break };
        match event? {
            Event::Message(m) => {
                line(&mut out, &m).map_err(write_failed)?;
                printed_up_to.insert(m.partition, m.offset + 1);
                printed += 1;
                if args.count.is_some_and(|n| printed >= n) {
                    break;
                }
            }
            Event::Rebalance(partitions) => {
                held = partitions.into_iter().collect();
                ended.retain(|p| held.contains(p));
                if let Some(to) = seek.take() {
                    control.seek(to).await?;
                }
            }
            Event::PartitionEnd { partition, .. } => {
                ended.insert(partition);
                if args.exit_at_end && !held.is_empty() && held.is_subset(&ended) {
                    break;
                }
            }
            // The state is what the road held when the snapshot began.
            Event::SnapshotComplete(_) if args.exit_at_end => break,
            Event::SnapshotComplete(_) => eprintln!("-- snapshot complete; following changes"),
            Event::Queued(place) => eprintln!("-- waiting for a snapshot place: {place} in line"),
            Event::Warning(w) => eprintln!("roadroller: {w}"),
            Event::Reconnected => eprintln!("-- reconnected"),
        }
    }
    out.flush().map_err(write_failed)?;
    if committing && !printed_up_to.is_empty() {
        control.commit(printed_up_to).await?;
    }
    Ok(())
}

pub async fn snapshot(client: &Client, args: SnapshotArgs) -> Result<(), Failure> {
    let options = SubscribeOptions { pii: args.pii, ..SubscribeOptions::snapshot(&args.road) };
    let mut subscription = client.subscribe(options).await?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::with_capacity(
            1 << 16,
            std::fs::File::create(path)
                .map_err(|e| Failure::local(format!("cannot create {path}: {e}")))?,
        )),
        None => Box::new(std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock())),
    };
    let progress = ProgressBar::new_spinner().with_message(format!("snapshot of {}", args.road));
    progress.enable_steady_tick(Duration::from_millis(200));
    let mut keys = 0u64;
    while let Some(event) = subscription.next().await {
        match event? {
            Event::Message(m) => {
                let key = serde_json::Value::from(m.key.as_deref().unwrap_or_default());
                let payload = m.payload.as_deref().unwrap_or("null");
                writeln!(
                    out,
                    "{{\"key\":{key},\"schema_version\":{},\"payload\":{payload}}}",
                    m.schema_version
                )
                .map_err(write_failed)?;
                keys += 1;
                if keys.is_multiple_of(1024) {
                    progress.set_position(keys);
                }
            }
            Event::SnapshotComplete(offsets) => {
                out.flush().map_err(write_failed)?;
                progress.finish_and_clear();
                let at: Vec<String> = offsets.iter().map(|(p, o)| format!("{p}:{o}")).collect();
                eprintln!("{}: {keys} keys as of offsets {}", args.road, at.join(","));
                return Ok(());
            }
            Event::Queued(place) => {
                progress.set_message(format!("snapshot of {}: {place} in line", args.road))
            }
            Event::Warning(w) => eprintln!("roadroller: {w}"),
            Event::Rebalance(_) => progress.set_message(format!("snapshot of {}", args.road)),
            Event::PartitionEnd { .. } | Event::Reconnected => {}
        }
    }
    Err(Failure::local("the subscription ended before the snapshot was complete"))
}
