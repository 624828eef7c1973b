//! `roadroller tail ROAD` and `roadroller snapshot ROAD`.

use std::io::Write;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use indicatif::ProgressBar;

use super::Failure;
use crate::{Client, Event, InitialPosition, Message, SeekTo, SubscribeOptions};

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
    /// Print the road's current state first (COMPACTED roads), then changes
    #[arg(long, conflicts_with_all = ["stream", "from"])]
    snapshot: bool,
    /// Ask for PII intact
    #[arg(long)]
    pii: bool,
    /// Stop after this many records
    #[arg(long)]
    count: Option<u64>,
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

/// One record as a JSON line: the payload as JSON (null for a delete).
fn line(m: &Message) -> serde_json::Value {
    let payload = m.json().and_then(Result::ok).unwrap_or(serde_json::Value::Null);
    let timestamp = m.timestamp.map(|t| humantime::format_rfc3339_millis(t).to_string());
    let mut object = serde_json::json!({
        "partition": m.partition,
        "offset": m.offset,
        "timestamp": timestamp,
    });
    if let Some(key) = &m.key {
        object["key"] = key.clone().into();
    }
    object["payload"] = payload;
    object
}

pub async fn tail(client: &Client, args: TailArgs) -> Result<(), Failure> {
    let options = if args.snapshot {
        SubscribeOptions { pii: args.pii, ..SubscribeOptions::snapshot(&args.road) }
    } else {
        let stream = args.stream.clone().unwrap_or_else(|| {
            format!("tail_{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
        });
        let mut options = SubscribeOptions::group(&args.road, stream);
        options.pii = args.pii;
        options.initial_position = match args.from {
            From::Beginning => InitialPosition::Earliest,
            _ => InitialPosition::Latest,
        };
        options
    };
    let committing = args.stream.is_some();
    let mut subscription = client.subscribe(options).await?;
    let control = subscription.control();
    // A stream with commits starts at them; --from moves it once the
    // partitions are held.
    let mut seek = match (&args.stream, &args.from, args.snapshot) {
        (_, _, true) => None,
        (Some(_), From::Beginning, _) => Some(SeekTo::Beginning),
        (Some(_), From::End, _) => Some(SeekTo::End),
        (_, From::Time(t), _) => Some(SeekTo::Time(*t)),
        _ => None,
    };
    let mut printed = 0u64;
    let stdout = std::io::stdout();
    while let Some(event) = subscription.next().await {
        match event? {
            Event::Message(m) => {
                let mut out = stdout.lock();
                writeln!(out, "{}", line(&m))
                    .map_err(|e| Failure::local(format!("cannot write: {e}")))?;
                if committing {
                    control.commit_message(&m).await?;
                }
                printed += 1;
                if args.count.is_some_and(|n| printed >= n) {
                    out.flush().map_err(|e| Failure::local(format!("cannot write: {e}")))?;
                    return Ok(());
                }
            }
            Event::Rebalance(_) => {
                if let Some(to) = seek.take() {
                    control.seek(to).await?;
                }
            }
            Event::SnapshotComplete(_) => eprintln!("-- snapshot complete; following changes"),
            Event::Queued(place) => eprintln!("-- waiting for a snapshot place: {place} in line"),
            Event::Warning(w) => eprintln!("roadroller: {w}"),
            Event::Reconnected => eprintln!("-- reconnected"),
        }
    }
    Ok(())
}

pub async fn snapshot(client: &Client, args: SnapshotArgs) -> Result<(), Failure> {
    let options =
        SubscribeOptions { pii: args.pii, window: 2000, ..SubscribeOptions::snapshot(&args.road) };
    let mut subscription = client.subscribe(options).await?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| Failure::local(format!("cannot create {path}: {e}")))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    let progress = ProgressBar::new_spinner().with_message(format!("snapshot of {}", args.road));
    progress.enable_steady_tick(Duration::from_millis(200));
    let mut keys = 0u64;
    while let Some(event) = subscription.next().await {
        match event? {
            Event::Message(m) => {
                let payload = m.json().and_then(Result::ok).unwrap_or(serde_json::Value::Null);
                let record = serde_json::json!({"key": m.key, "payload": payload});
                writeln!(out, "{record}")
                    .map_err(|e| Failure::local(format!("cannot write: {e}")))?;
                keys += 1;
                progress.set_position(keys);
            }
            Event::SnapshotComplete(offsets) => {
                out.flush().map_err(|e| Failure::local(format!("cannot write: {e}")))?;
                progress.finish_and_clear();
                let at: Vec<String> = offsets.iter().map(|(p, o)| format!("{p}:{o}")).collect();
                eprintln!("{}: {keys} keys as of offsets {}", args.road, at.join(","));
                return Ok(());
            }
            Event::Queued(place) => {
                progress.set_message(format!("snapshot of {}: {place} in line", args.road))
            }
            Event::Warning(w) => eprintln!("roadroller: {w}"),
            Event::Rebalance(_) | Event::Reconnected => {}
        }
    }
    Err(Failure::local("the subscription ended before the snapshot was complete"))
}
