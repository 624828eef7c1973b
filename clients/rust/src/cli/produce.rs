//! `roadroller produce ROAD [FILE]`: JSON lines in, per-record results out.
//!
//! On a STREAM road each line is a payload object. On a COMPACTED road each
//! line is `{"key": "...", "payload": {...}}`, and `"payload": null` deletes
//! the key; or, with `--key-separator`, `key<SEP>payload` as kcat's `-K`
//! reads it, where an empty payload deletes the key. A line that cannot be
//! read as a record is reported like a rejected record, and the rest is
//! produced (`--fail-fast` stops at the first).

use std::io::BufRead;

use indicatif::{ProgressBar, ProgressStyle};

use super::Failure;
use crate::{Client, Outcome, Record, pb};

#[derive(clap::Args, Debug)]
pub struct ProduceArgs {
    road: String,
    /// A file of JSON lines; standard input when absent or -
    file: Option<String>,
    /// Records per batch
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Batches in flight at once
    #[arg(long, default_value_t = 8)]
    in_flight: usize,
    /// COMPACTED roads: lines are KEY<SEP>PAYLOAD; an empty payload deletes
    /// the key
    #[arg(long, short = 'K', value_name = "SEP")]
    key_separator: Option<String>,
    /// Stop at the first line that is not a record, before sending it
    #[arg(long)]
    fail_fast: bool,
}

/// Rejections listed in the summary; the rest are counted.
const SHOWN_REJECTIONS: usize = 10;

pub async fn run(client: &Client, args: ProduceArgs) -> Result<(), Failure> {
    let road = client.get_road(&args.road).await?;
    let keyed = road.r#type == pb::RoadType::Compacted as i32;
    if let (false, Some(_)) = (keyed, &args.key_separator) {
        return Err(Failure::refused(format!(
            "road {} is a STREAM road, whose records carry no key; --key-separator is for \
             COMPACTED roads",
            args.road
        )));
    }
    let format = Format { keyed, separator: args.key_separator.clone().filter(|s| !s.is_empty()) };
    // A file of known size shows a percentage and the time left.
    let (input, size): (Box<dyn BufRead>, Option<u64>) = match args.file.as_deref() {
        None | Some("-") => (Box::new(std::io::stdin().lock()), None),
        Some(path) => {
            let file = std::fs::File::open(path)
                .map_err(|e| Failure::local(format!("cannot read {path}: {e}")))?;
            let size = file.metadata().ok().map(|m| m.len()).filter(|n| *n > 0);
            (Box::new(std::io::BufReader::with_capacity(1 << 16, file)), size)
        }
    };
    let progress = progress_bar(&args.road, size);
    let mut producer = client.producer(args.in_flight).await?;
    let mut pending = std::collections::VecDeque::new();
    let mut batch = Vec::with_capacity(args.batch);
    let mut lines = Vec::with_capacity(args.batch);
    let mut summary = Summary {
        total: 0,
        accepted: 0,
        rejected: Vec::new(),
        road: args.road.clone(),
        started: std::time::Instant::now(),
    };
    let mut read = 0u64;
    // With --fail-fast, the first line that is not a record: the lines
    // before it are produced, none from it on.
    let mut stopped_at = None;
    for (number, line) in input.lines().enumerate() {
        let line =
            line.map_err(|e| Failure::local(format!("cannot read line {}: {e}", number + 1)))?;
        read += line.len() as u64 + 1;
        if size.is_some() {
            progress.set_position(read);
        }
        if line.trim().is_empty() {
            continue;
        }
        let record = match format.parse(&line) {
            Ok(record) => record,
            Err(e) if args.fail_fast => {
                stopped_at = Some(format!("line {}: {e}", number + 1));
                break;
            }
            Err(e) => {
                summary.unreadable(number + 1, e);
                continue;
            }
        };
        batch.push(record);
        lines.push(number + 1);
        if batch.len() >= args.batch.max(1) {
            pending.push_back((
                producer.send(&args.road, std::mem::take(&mut batch)).await?,
                std::mem::take(&mut lines),
            ));
        }
        // Collect answers that are ready so memory stays bounded.
        while pending.len() >= args.in_flight {
            let Some((answer, numbers)) = pending.pop_front() else { break };
            summary.add(answer.outcomes().await?, &numbers, &progress);
        }
    }
    if !batch.is_empty() {
        pending.push_back((producer.send(&args.road, batch).await?, lines));
    }
    for (answer, numbers) in pending {
        summary.add(answer.outcomes().await?, &numbers, &progress);
    }
    progress.finish_and_clear();
    summary.rejected.sort_by_key(|(line, _)| *line);
    eprintln!(
        "{}: {} records, {} accepted, {} rejected",
        args.road,
        summary.total,
        summary.accepted,
        summary.rejected.len()
    );
    for (line, reason) in summary.rejected.iter().take(SHOWN_REJECTIONS) {
        eprintln!("  line {line}: {reason}");
    }
    if summary.rejected.len() > SHOWN_REJECTIONS {
        eprintln!("  ... and {} more", summary.rejected.len() - SHOWN_REJECTIONS);
    }
    if let Some(line) = stopped_at {
        return Err(Failure::refused(format!(
            "{line}; stopped there (--fail-fast): the lines before it were produced, none from it \
             on"
        )));
    }
    if summary.rejected.is_empty() {
        Ok(())
    } else {
        Err(Failure::refused(format!(
            "{} of {} records were rejected",
            summary.rejected.len(),
            summary.total
        )))
    }
}

/// A bar with a percentage and the time left for a file of known size, a
/// spinner otherwise; the message counts the records.
fn progress_bar(road: &str, size: Option<u64>) -> ProgressBar {
    let (bar, template) = match size {
        Some(size) => (ProgressBar::new(size), "{msg} {wide_bar} {percent}%, {eta} left"),
        None => (ProgressBar::new_spinner(), "{spinner} {msg}"),
    };
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(format!("producing to {road}"));
    bar
}

/// How lines become records.
struct Format {
    keyed: bool,
    separator: Option<String>,
}

impl Format {
    fn parse(&self, line: &str) -> Result<Record, String> {
        if let Some(sep) = &self.separator {
            let Some((key, payload)) = line.split_once(sep.as_str()) else {
                return Err(format!("no key separator {sep:?} in the line"));
            };
            if key.is_empty() {
                return Err("the key before the separator is empty".into());
            }
            if payload.trim().is_empty() {
                return Ok(Record { key: Some(key.to_string()), payload: None });
            }
            serde_json::from_str::<serde::de::IgnoredAny>(payload)
                .map_err(|e| format!("the payload is not JSON: {e}"))?;
            return Ok(Record { key: Some(key.to_string()), payload: Some(payload.to_string()) });
        }
        parse(line, self.keyed)
    }
}

fn parse(line: &str, keyed: bool) -> Result<Record, String> {
    if !keyed {
        serde_json::from_str::<serde::de::IgnoredAny>(line)
            .map_err(|e| format!("not JSON: {e}"))?;
        return Ok(Record { key: None, payload: Some(line.to_string()) });
    }
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let key = match value.get("key") {
        Some(serde_json::Value::String(k)) => k.clone(),
        _ => {
            return Err(r#"a COMPACTED road takes {"key": "...", "payload": {...} | null}, or KEY<SEP>PAYLOAD with --key-separator"#.into());
        }
    };
    let payload = match value.get("payload") {
        None | Some(serde_json::Value::Null) => None,
        Some(p) => Some(p.to_string()),
    };
    Ok(Record { key: Some(key), payload })
}

struct Summary {
    total: usize,
    accepted: usize,
    rejected: Vec<(usize, String)>,
    road: String,
    started: std::time::Instant,
}

impl Summary {
    /// A line that is not a record counts as a rejected one.
    fn unreadable(&mut self, line: usize, reason: String) {
        self.total += 1;
        self.rejected.push((line, reason));
    }

    fn add(&mut self, outcomes: Vec<Outcome>, lines: &[usize], progress: &ProgressBar) {
        for (outcome, line) in outcomes.into_iter().zip(lines) {
            self.total += 1;
            match outcome {
                Outcome::Accepted { .. } => self.accepted += 1,
                Outcome::Rejected { message, .. } => self.rejected.push((*line, message)),
            }
        }
        let rate = self.total as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        progress.set_message(format!(
            "producing to {}: {} records ({} a second)",
            self.road,
            self.total,
            rate.round() as u64
        ));
    }
}
