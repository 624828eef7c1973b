//! `roadroller produce ROAD [FILE]`: JSON lines in, per-record results out.
//!
//! On a STREAM road each line is a payload object. On a COMPACTED road each
//! line is `{"key": "...", "payload": {...}}`, and `"payload": null` deletes
//! the key.

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
}

/// Rejections listed in the summary; the rest are counted.
const SHOWN_REJECTIONS: usize = 10;

pub async fn run(client: &Client, args: ProduceArgs) -> Result<(), Failure> {
    let road = client.get_road(&args.road).await?;
    let keyed = road.r#type == pb::RoadType::Compacted as i32;
    let input: Box<dyn BufRead> = match args.file.as_deref() {
        None | Some("-") => Box::new(std::io::stdin().lock()),
        Some(path) => Box::new(std::io::BufReader::new(
            std::fs::File::open(path)
                .map_err(|e| Failure::local(format!("cannot read {path}: {e}")))?,
        )),
    };
    let progress = ProgressBar::new_spinner().with_message(format!("producing to {}", args.road));
    progress.set_style(
        ProgressStyle::with_template("{spinner} {msg}: {pos} records ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );

    let mut producer = client.producer(args.in_flight).await?;
    let mut pending = std::collections::VecDeque::new();
    let mut batch = Vec::with_capacity(args.batch);
    let mut lines = Vec::with_capacity(args.batch);
    let mut summary = Summary::default();
    for (number, line) in input.lines().enumerate() {
        let line =
            line.map_err(|e| Failure::local(format!("cannot read line {}: {e}", number + 1)))?;
        if line.trim().is_empty() {
            continue;
        }
        let record =
            parse(&line, keyed).map_err(|e| Failure::local(format!("line {}: {e}", number + 1)))?;
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

fn parse(line: &str, keyed: bool) -> Result<Record, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    if !keyed {
        return Ok(Record { key: None, payload: Some(line.to_string()) });
    }
    let key = match value.get("key") {
        Some(serde_json::Value::String(k)) => k.clone(),
        _ => return Err(r#"a COMPACTED road takes {"key": "...", "payload": {...} | null}"#.into()),
    };
    let payload = match value.get("payload") {
        None | Some(serde_json::Value::Null) => None,
        Some(p) => Some(p.to_string()),
    };
    Ok(Record { key: Some(key), payload })
}

#[derive(Default)]
struct Summary {
    total: usize,
    accepted: usize,
    rejected: Vec<(usize, String)>,
}

impl Summary {
    fn add(&mut self, outcomes: Vec<Outcome>, lines: &[usize], progress: &ProgressBar) {
        for (outcome, line) in outcomes.into_iter().zip(lines) {
            self.total += 1;
            match outcome {
                Outcome::Accepted { .. } => self.accepted += 1,
                Outcome::Rejected { message, .. } => self.rejected.push((*line, message)),
            }
        }
        progress.set_position(self.total as u64);
    }
}
