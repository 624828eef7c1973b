//! Retention and compaction, as Kafka's log cleaner does them.
//!
//! Retention deletes whole closed segments older than `retention.ms` or
//! beyond `retention.bytes`. Compaction works on the *cleanable* part of a
//! compacted log: the closed segments whose records are all older than
//! `min.compaction.lag.ms` (the active segment is never touched). Once the
//! part written since the last clean is at least `min.cleanable.dirty.ratio`
//! of it, the cleaner maps every key to its latest offset there, copies each
//! segment keeping only those records (offsets and order unchanged), drops
//! tombstones older than `delete.retention.ms`, merges small neighbours up
//! to `segment.bytes`, and swaps the result in. Records in the active
//! segment do not supersede older ones until it rolls, as in Kafka.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io;
use std::sync::Arc;

use bytes::BytesMut;
use kafka_protocol::records::{
    Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
};

use super::batch::Header;
use super::segment::{Segment, SegmentWriter};
use super::{Log, TopicConfig};

/// What the cleaner remembers of a partition between runs.
#[derive(Debug, Default, Clone, Copy)]
pub struct Progress {
    /// Records before this offset were cleaned; what follows is dirty.
    pub cleaned_upto: i64,
    /// When the oldest kept tombstone may go, if a later clean should be
    /// run for it alone.
    pub tombstones_due: Option<i64>,
}

/// Deletes closed segments past the topic's retention.
pub fn retain(log: &Log, config: &TopicConfig, now_ms: i64) -> io::Result<()> {
    if !config.delete || log.is_closed() {
        return Ok(());
    }
    let segments = log.segments();
    let closed = &segments[..segments.len() - 1];
    let mut count = 0;
    if config.retention_ms >= 0 {
        count = closed
            .iter()
            .take_while(|s| s.max_timestamp() < now_ms.saturating_sub(config.retention_ms))
            .count();
    }
    if config.retention_bytes >= 0 {
        let mut total: u64 = segments.iter().map(|s| s.size()).sum();
        total -= closed[..count].iter().map(|s| s.size()).sum::<u64>();
        for s in &closed[count..] {
            if total.saturating_sub(s.size()) < config.retention_bytes as u64 {
                break;
            }
            total -= s.size();
            count += 1;
        }
    }
    log.delete_oldest(count)
}

/// Compacts the log if it is due; returns whether it ran.
pub fn compact(
    log: &Log,
    config: &TopicConfig,
    now_ms: i64,
    progress: &mut Progress,
) -> io::Result<bool> {
    if !config.compact || log.is_closed() {
        return Ok(false);
    }
    let segments = log.segments();
    let closed = &segments[..segments.len() - 1];
    let horizon = now_ms.saturating_sub(config.min_compaction_lag_ms);
    let cleanable: Vec<Arc<Segment>> =
        closed.iter().take_while(|s| s.max_timestamp() <= horizon).cloned().collect();
    let total: u64 = cleanable.iter().map(|s| s.size()).sum();
    let dirty: u64 = cleanable
        .iter()
        .filter(|s| s.next_offset() > progress.cleaned_upto)
        .map(|s| s.size())
        .sum();
    let ratio_due = dirty > 0 && dirty as f64 >= total as f64 * config.min_cleanable_dirty_ratio;
    let tombstones_due = progress.tombstones_due.is_some_and(|t| t <= now_ms);
    if cleanable.is_empty() || !(ratio_due || tombstones_due) {
        return Ok(false);
    }
    let latest = latest_offsets(&cleanable)?;
    let mut next_tombstone_due: Option<i64> = None;
    for group in groups(&cleanable, config.segment_bytes) {
        let writer = SegmentWriter::create(log.dir(), group[0].base)?;
        let mut written = false;
        for segment in group {
            let mut pos = 0;
            while let Some((h, bytes)) = segment.batch_at(pos)? {
                pos += h.size as u64;
                let set = RecordBatchDecoder::decode(&mut bytes.clone()).map_err(invalid)?;
                let total_records = set.records.len();
                let kept: Vec<&Record> = set
                    .records
                    .iter()
                    .filter(|r| {
                        r.key.as_ref().is_none_or(|k| latest.get(&key_hash(k)) == Some(&r.offset))
                    })
                    .filter(|r| {
                        if r.value.is_some() {
                            return true;
                        }
                        let due = r.timestamp.saturating_add(config.delete_retention_ms);
                        if due <= now_ms {
                            return false;
                        }
                        next_tombstone_due = Some(next_tombstone_due.map_or(due, |d| d.min(due)));
                        true
                    })
                    .collect();
                if kept.is_empty() {
                    continue;
                }
                if kept.len() == total_records {
                    writer.append(&bytes, &h)?;
                } else {
                    let mut out = BytesMut::new();
                    let options = RecordEncodeOptions { version: 2, compression: set.compression };
                    RecordBatchEncoder::encode(&mut out, kept.iter().copied(), &options)
                        .map_err(invalid)?;
                    let mut at = 0;
                    while at < out.len() {
                        let nh =
                            Header::parse(&out[at..]).map_err(|e| invalid(format!("{e:?}")))?;
                        writer.append(&out[at..at + nh.size], &nh)?;
                        at += nh.size;
                    }
                }
                written = true;
            }
        }
        let bases: Vec<i64> = group.iter().map(|s| s.base).collect();
        if written {
            log.replace(&bases, Some(writer))?;
        } else {
            writer.discard()?;
            log.replace(&bases, None)?;
        }
    }
    progress.cleaned_upto = cleanable.last().map_or(progress.cleaned_upto, |s| s.next_offset());
    progress.tombstones_due = next_tombstone_due;
    Ok(true)
}

/// Key → the offset of its latest record in `segments`. Keys are held as
/// 128-bit hashes, as Kafka's offset map holds digests, so the map's size
/// does not depend on key length.
fn latest_offsets(segments: &[Arc<Segment>]) -> io::Result<HashMap<u128, i64>> {
    let mut latest = HashMap::new();
    for segment in segments {
        let mut pos = 0;
        while let Some((h, bytes)) = segment.batch_at(pos)? {
            pos += h.size as u64;
            let set = RecordBatchDecoder::decode(&mut bytes.clone()).map_err(invalid)?;
            for r in &set.records {
                if let Some(k) = &r.key {
                    latest.insert(key_hash(k), r.offset);
                }
            }
        }
    }
    Ok(latest)
}

fn key_hash(key: &[u8]) -> u128 {
    let half = |seed: u8| {
        let mut h = DefaultHasher::new();
        seed.hash(&mut h);
        key.hash(&mut h);
        h.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}

/// Consecutive segments whose sizes together stay within `max_bytes` and
/// whose offsets fit one index.
fn groups(segments: &[Arc<Segment>], max_bytes: u64) -> Vec<&[Arc<Segment>]> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < segments.len() {
        let mut end = start + 1;
        let mut size = segments[start].size();
        while end < segments.len()
            && size + segments[end].size() <= max_bytes
            && segments[end].next_offset() - segments[start].base < i64::from(u32::MAX)
        {
            size += segments[end].size();
            end += 1;
        }
        out.push(&segments[start..end]);
        start = end;
    }
    out
}

fn invalid(e: impl ToString) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}
