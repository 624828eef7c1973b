//! `roadroller stream ...`: a road's streams (consumer groups), their lag,
//! and moving or deleting their positions.

use clap::Subcommand;

use super::Failure;
use crate::{Client, StreamPosition, pb};

#[derive(Debug, Subcommand)]
pub enum StreamCommand {
    /// List a road's streams with their lag and members
    List { road: String },
    /// Show a stream's committed offset, end offset and lag per partition
    Lag {
        road: String,
        stream: String,
        /// Print the stream as JSON
        #[arg(long)]
        json: bool,
    },
    /// Move a stream without subscribers: earliest, latest, an RFC 3339 time,
    /// or partition:offset[,partition:offset...]
    Reset {
        road: String,
        stream: String,
        #[arg(long, value_parser = position)]
        to: StreamPosition,
    },
    /// Delete a stream without subscribers (its committed offsets)
    Delete { road: String, stream: String },
}

fn position(s: &str) -> Result<StreamPosition, String> {
    match s {
        "earliest" | "beginning" => return Ok(StreamPosition::Earliest),
        "latest" | "end" => return Ok(StreamPosition::Latest),
        _ => {}
    }
    if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        let ms = t.duration_since(std::time::UNIX_EPOCH).map_err(|e| e.to_string())?.as_millis();
        return Ok(StreamPosition::Timestamp(ms as i64));
    }
    let mut offsets = std::collections::BTreeMap::new();
    for pair in s.split(',') {
        let (p, o) = pair.split_once(':').ok_or_else(|| {
            format!("{s:?} is not earliest, latest, an RFC 3339 time or partition:offset,...")
        })?;
        let p = p.trim().parse::<i32>().map_err(|_| format!("{p:?} is not a partition"))?;
        let o = o.trim().parse::<i64>().map_err(|_| format!("{o:?} is not an offset"))?;
        offsets.insert(p, o);
    }
    Ok(StreamPosition::Offsets(offsets))
}

fn print_lag(stream: &pb::Stream) {
    println!("stream      {} (consumer group {})", stream.name, stream.consumer_group);
    println!("state       {}, {} member(s)", stream.state, stream.members);
    println!("lag         {}", stream.lag);
    println!("{:>9} {:>12} {:>12} {:>10}", "partition", "committed", "end", "lag");
    for p in &stream.partitions {
        let committed =
            if p.committed_offset < 0 { "-".to_string() } else { p.committed_offset.to_string() };
        println!("{:>9} {:>12} {:>12} {:>10}", p.partition, committed, p.end_offset, p.lag);
    }
}

fn stream_json(stream: &pb::Stream) -> serde_json::Value {
    serde_json::json!({
        "road": stream.road,
        "stream": stream.name,
        "consumerGroup": stream.consumer_group,
        "state": stream.state,
        "members": stream.members,
        "lag": stream.lag,
        "partitions": stream.partitions.iter().map(|p| serde_json::json!({
            "partition": p.partition,
            "committedOffset": p.committed_offset,
            "endOffset": p.end_offset,
            "lag": p.lag,
        })).collect::<Vec<_>>(),
    })
}

pub async fn run(client: &Client, command: StreamCommand) -> Result<(), Failure> {
    match command {
        StreamCommand::List { road } => {
            for s in client.list_streams(&road).await? {
                println!("{}\tlag {}\t{} member(s)\t{}", s.name, s.lag, s.members, s.state);
            }
        }
        StreamCommand::Lag { road, stream, json } => {
            let s = client.stream(&road, &stream).await?;
            if json { println!("{}", stream_json(&s)) } else { print_lag(&s) }
        }
        StreamCommand::Reset { road, stream, to } => {
            print_lag(&client.reset_stream(&road, &stream, to).await?);
        }
        StreamCommand::Delete { road, stream } => {
            client.delete_stream(&road, &stream).await?;
            println!("stream {stream} of road {road} deleted");
        }
    }
    Ok(())
}
