//! `roadroller get ROAD KEY...` and `roadroller keys ROAD`: lookups on a
//! materialized COMPACTED road.

use std::io::Write;

use super::Failure;
use crate::{Client, Entry, ReadOptions};

#[derive(clap::Args, Debug)]
pub struct GetArgs {
    road: String,
    /// The keys to look up; each found one prints as a JSON line
    #[arg(required = true)]
    keys: Vec<String>,
    /// Read-your-writes: PARTITION:OFFSET pairs (the offset after a write)
    /// the answer must reflect, e.g. 3:1042,7:88
    #[arg(long, value_parser = offsets, value_name = "P:O,...")]
    min_offsets: Option<std::collections::BTreeMap<i32, i64>>,
    /// Ask for PII intact
    #[arg(long)]
    pii: bool,
}

#[derive(clap::Args, Debug)]
pub struct KeysArgs {
    road: String,
    /// Only keys starting with this
    #[arg(long, default_value = "")]
    prefix: String,
    /// Print the keys only, not their values
    #[arg(long)]
    keys_only: bool,
    /// Stop after this many
    #[arg(long)]
    limit: Option<u64>,
    /// Ask for PII intact
    #[arg(long)]
    pii: bool,
}

fn offsets(text: &str) -> Result<std::collections::BTreeMap<i32, i64>, String> {
    text.split(',')
        .map(|pair| {
            let (p, o) =
                pair.split_once(':').ok_or_else(|| format!("{pair:?} is not PARTITION:OFFSET"))?;
            Ok((
                p.trim().parse().map_err(|_| format!("{p:?} is not a partition"))?,
                o.trim().parse().map_err(|_| format!("{o:?} is not an offset"))?,
            ))
        })
        .collect()
}

/// One entry as a JSON line: the key, where it was written, its schema
/// version, and the payload exactly as it was produced.
fn line(out: &mut impl Write, e: &Entry) -> std::io::Result<()> {
    write!(out, "{{\"key\":{}", serde_json::Value::from(e.key.as_str()))?;
    write!(out, ",\"partition\":{},\"offset\":{}", e.partition, e.offset)?;
    match e.timestamp {
        Some(t) => write!(out, ",\"timestamp\":\"{}\"", humantime::format_rfc3339_millis(t))?,
        None => write!(out, ",\"timestamp\":null")?,
    }
    writeln!(out, ",\"schema_version\":{},\"payload\":{}}}", e.schema_version, e.payload)
}

fn write_failed(e: std::io::Error) -> Failure {
    Failure::local(format!("cannot write: {e}"))
}

/// Prints each key found; a key without a live value is named on standard
/// error, and the exit code is then 3 (not found).
pub async fn get(client: &Client, args: GetArgs) -> Result<(), Failure> {
    let options = ReadOptions {
        min_offsets: args.min_offsets.unwrap_or_default(),
        pii: args.pii,
        ..ReadOptions::default()
    };
    let (results, _) = client.batch_get(&args.road, &args.keys, &options).await?;
    let mut out = std::io::stdout().lock();
    let mut missing = Vec::new();
    for (key, entry) in results {
        match entry {
            Some(e) => line(&mut out, &e).map_err(write_failed)?,
            None => missing.push(key),
        }
    }
    out.flush().map_err(write_failed)?;
    if missing.is_empty() {
        return Ok(());
    }
    let named: Vec<String> = missing.iter().map(|k| format!("{k:?}")).collect();
    Err(Failure::not_found(format!(
        "road {:?} has no live value for {}",
        args.road,
        named.join(", ")
    )))
}

/// Prints the live entries in key order, a page at a time.
pub async fn keys(client: &Client, args: KeysArgs) -> Result<(), Failure> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut token = String::new();
    let mut printed = 0u64;
    loop {
        let page = client.list_entries(&args.road, &args.prefix, 1000, &token, args.pii).await?;
        for e in &page.entries {
            if args.limit.is_some_and(|n| printed >= n) {
                return out.flush().map_err(write_failed);
            }
            if args.keys_only {
                writeln!(out, "{}", e.key).map_err(write_failed)?;
            } else {
                line(&mut out, e).map_err(write_failed)?;
            }
            printed += 1;
        }
        if page.next_page_token.is_empty() {
            return out.flush().map_err(write_failed);
        }
        token = page.next_page_token;
    }
}
