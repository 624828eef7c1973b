//! Records received but not yet sent for lack of credit.
//!
//! Partitions are paused only once this buffer fills: a subscriber that asks
//! for a few messages at a time is served from here, instead of pausing and
//! resuming on every request (a resumed partition waits for the fetch in
//! flight, which a broker may hold for up to `fetch.wait.max.ms`).

use std::collections::{BTreeSet, VecDeque};

use super::session::Outgoing;

/// At most this many records, or bytes of payload, before pausing.
const MAX_RECORDS: usize = 1000;
const MAX_BYTES: usize = 512 * 1024;

#[derive(Debug, Default)]
pub struct Held {
    queue: VecDeque<Outgoing>,
    bytes: usize,
}

fn size(o: &Outgoing) -> usize {
    match o {
        Outgoing::Message(d) => d.text_len(),
        Outgoing::SnapshotComplete(_) | Outgoing::PartitionEnd(..) => 0,
    }
}

impl Held {
    pub fn push(&mut self, o: Outgoing) {
        self.bytes += size(&o);
        self.queue.push_back(o);
    }

    pub fn front(&self) -> Option<&Outgoing> {
        self.queue.front()
    }

    pub fn pop_front(&mut self) -> Option<Outgoing> {
        let o = self.queue.pop_front()?;
        self.bytes -= size(&o);
        Some(o)
    }

    /// Drops the records of `partitions` (moved by a seek, or revoked).
    pub fn forget(&mut self, partitions: &BTreeSet<i32>) {
        self.queue.retain(|o| match o {
            Outgoing::Message(d) => !partitions.contains(&d.partition),
            Outgoing::PartitionEnd(p, _) => !partitions.contains(p),
            Outgoing::SnapshotComplete(_) => true,
        });
        self.bytes = self.queue.iter().map(size).sum();
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Full: time to pause fetching.
    pub fn is_full(&self) -> bool {
        self.queue.len() >= MAX_RECORDS || self.bytes >= MAX_BYTES
    }

    /// Drained to half: time to fetch again.
    pub fn has_room(&self) -> bool {
        self.queue.len() <= MAX_RECORDS / 2 && self.bytes <= MAX_BYTES / 2
    }
}
