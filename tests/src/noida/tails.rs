//! The last Fetch answer of each partition, kept briefly for the next ones.
//!
//! The engine copies everything from the fetch offset to the end of the
//! partition into each answer, under its one lock. A consumer reading a large
//! partition from the start, which takes many fetches, therefore copies the
//! partition about (size / fetch size) times: quadratic, and the whole
//! broker waits meanwhile. Here, the first such copy is kept (its first
//! `MAX_BLOCK` bytes) and later fetches at offsets inside it are answered
//! from it, until it is `FRESH` old.
//!
//! A kept answer is what the engine said at that moment, so it is what the
//! fetch would have returned a moment earlier: compaction or retention
//! becomes visible to fetches within `FRESH`, as with a broker that cleans
//! a little later. Deleting topics or records forgets every kept answer at
//! once. Answers with open or aborted transactions are not kept.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::PartitionData;

/// How long a kept answer is used.
const FRESH: Duration = Duration::from_secs(1);

/// The most kept per partition; a longer answer keeps its leading batches.
const MAX_BLOCK: usize = 8 * 1024 * 1024;

#[derive(Default)]
pub struct Tails {
    /// Per topic, per partition.
    blocks: Mutex<HashMap<String, HashMap<i32, Block>>>,
}

struct Block {
    taken: Instant,
    /// The fetch offset the engine answered.
    from: i64,
    records: Bytes,
    /// Per batch: its last offset and where it starts in `records`.
    batches: Vec<(i64, usize)>,
    high_watermark: i64,
    log_start_offset: i64,
}

impl Tails {
    /// The answer for `partition` of `topic` at `offset`, when a fresh kept
    /// answer covers it.
    pub fn answer(&self, topic: &str, partition: i32, offset: i64) -> Option<PartitionData> {
        let blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        let block = blocks.get(topic)?.get(&partition)?;
        if block.taken.elapsed() >= FRESH || offset < block.from {
            return None;
        }
        // As the engine does: from the first batch that reaches the offset.
        let at = block.batches.partition_point(|&(last, _)| last < offset);
        let &(_, start) = block.batches.get(at)?;
        let mut data = PartitionData::default();
        data.partition_index = partition;
        data.high_watermark = block.high_watermark;
        data.last_stable_offset = block.high_watermark;
        data.log_start_offset = block.log_start_offset;
        data.records = Some(block.records.slice(start..));
        Some(data)
    }

    /// Keeps the engine's answer for `partition` of `topic` at `offset`.
    pub fn keep(&self, topic: &str, offset: i64, data: &PartitionData) {
        let Some(records) = &data.records else { return };
        if data.error_code != 0
            || records.is_empty()
            || data.aborted_transactions.as_ref().is_some_and(|a| !a.is_empty())
            || data.last_stable_offset != data.high_watermark
        {
            return;
        }
        let batches = batches(records, MAX_BLOCK, true);
        let Some(&(_, _, end)) = batches.last() else { return };
        // A slice would hold on to the whole copy.
        let records = if end == records.len() {
            records.clone()
        } else {
            Bytes::copy_from_slice(&records[..end])
        };
        let block = Block {
            taken: Instant::now(),
            from: offset,
            records,
            batches: batches.into_iter().map(|(last, start, _)| (last, start)).collect(),
            high_watermark: data.high_watermark,
            log_start_offset: data.log_start_offset,
        };
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        for partitions in blocks.values_mut() {
            partitions.retain(|_, b| b.taken.elapsed() < FRESH);
        }
        blocks.retain(|_, partitions| !partitions.is_empty());
        blocks.entry(topic.to_owned()).or_default().insert(data.partition_index, block);
    }

    pub fn forget(&self) {
        self.blocks.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// The leading whole record batches within `limit` bytes (the first one
/// always, when `at_least_one`): (last offset, start, end) of each. A batch
/// is its 8-byte base offset, its 4-byte length, then that many bytes; a v2
/// batch (magic 2, 16 bytes in) holds its last offset delta 23 bytes in.
pub(super) fn batches(
    records: &[u8],
    limit: usize,
    at_least_one: bool,
) -> Vec<(i64, usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(header) = records.get(start..start + 12) {
        let base = i64::from_be_bytes(header[0..8].try_into().unwrap_or_default());
        let length = i32::from_be_bytes(header[8..12].try_into().unwrap_or_default());
        let end = start + 12 + usize::try_from(length).unwrap_or(0);
        if end > records.len() || (end > limit && !(at_least_one && out.is_empty())) {
            break;
        }
        let delta = match records.get(start + 16..start + 27) {
            Some(v2) if v2[0] == 2 => i32::from_be_bytes(v2[7..11].try_into().unwrap_or_default()),
            _ => 0,
        };
        out.push((base + i64::from(delta), start, end));
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// v2 record batches of (base offset, records, body size).
    fn log(batches: &[(i64, i32, usize)]) -> Bytes {
        let mut out = Vec::new();
        for &(base, count, size) in batches {
            out.extend_from_slice(&base.to_be_bytes());
            out.extend_from_slice(&((size + 15) as i32).to_be_bytes());
            out.extend_from_slice(&[0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&(count - 1).to_be_bytes());
            out.extend(std::iter::repeat_n(0u8, size));
        }
        Bytes::from(out)
    }

    fn answer(records: Bytes) -> PartitionData {
        let mut data = PartitionData::default();
        data.partition_index = 3;
        data.high_watermark = 30;
        data.last_stable_offset = 30;
        data.records = Some(records);
        data
    }

    #[test]
    fn fetches_inside_a_kept_answer_start_at_the_batch_reaching_the_offset() {
        let records = log(&[(10, 5, 100), (15, 5, 100), (20, 10, 100)]);
        let tails = Tails::default();
        tails.keep("t", 12, &answer(records.clone()));
        let at = |offset| {
            tails.answer("t", 3, offset).and_then(|d| d.records).map(|r| records.len() - r.len())
        };
        assert_eq!(at(12), Some(0));
        assert_eq!(at(14), Some(0));
        assert_eq!(at(15), Some(127));
        assert_eq!(at(29), Some(254));
        assert_eq!(at(30), None, "past the kept answer");
        assert_eq!(at(11), None, "before the offset the engine answered");
        assert!(tails.answer("t", 4, 12).is_none());
        assert!(tails.answer("u", 3, 12).is_none());
    }

    #[test]
    fn forgetting_and_transactions_leave_nothing_kept() {
        let tails = Tails::default();
        tails.keep("t", 0, &answer(log(&[(0, 5, 10)])));
        tails.forget();
        assert!(tails.answer("t", 3, 0).is_none());
        let mut open = answer(log(&[(0, 5, 10)]));
        open.last_stable_offset = 2;
        tails.keep("t", 0, &open);
        assert!(tails.answer("t", 3, 0).is_none());
    }

    #[test]
    fn a_long_answer_keeps_its_leading_batches() {
        let found = batches(&log(&[(0, 1, 100), (1, 1, 100), (2, 1, 100)]), 260, true);
        assert_eq!(found, [(0, 0, 127), (1, 127, 254)]);
        assert_eq!(batches(&log(&[(0, 1, 500)]), 10, true).len(), 1, "the first always");
    }
}
