//! A partition's log: segments on disk, appended under one lock, read
//! without it.
//!
//! Appends assign offsets and write the batches to the active segment
//! before they return, so an acknowledged record survives the process
//! being killed; whether it also survives a power loss is the fsync
//! policy's business ([`Fsync`]). Reads take a snapshot of the segment list
//! and read the files directly, so a long read never holds up a writer and
//! partitions never wait on each other.

pub mod batch;
pub mod cleaner;
pub mod segment;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::RecordBatchDecoder;
use tokio::sync::watch;

use batch::{Header, Invalid};
use segment::Segment;

use super::config::TopicConfig;

/// Bytes of log between two index entries, as Kafka's `index.interval.bytes`.
pub const INDEX_INTERVAL: u64 = 4096;

/// How many batches per producer are remembered to recognise a retry.
const PRODUCER_WINDOW: usize = 5;
/// How much of the active segment's tail is read at start for producer
/// state: this many index entries (about 4 KiB each).
const RECENT_INDEX_ENTRIES: usize = 256;

/// When written data is forced to the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    /// Before each acknowledgement: a power loss loses nothing acknowledged.
    Always,
    /// Every period: a power loss loses at most that much.
    Interval(Duration),
    /// Left to the operating system.
    Never,
}

/// Why an append or a read was refused.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("offset {offset} is outside the log ({start}..{end})")]
    OffsetOutOfRange { offset: i64, start: i64, end: i64 },
    #[error("{0}")]
    Corrupt(String),
    #[error("a batch of {size} bytes is larger than max.message.bytes ({max})")]
    TooLarge { size: usize, max: usize },
    #[error("{0}")]
    InvalidRecord(String),
    #[error("sequence {got} follows {last} for producer {producer}")]
    OutOfOrderSequence { producer: i64, got: i32, last: i32 },
    #[error("producer {producer} epoch {got} is older than {current}")]
    ProducerFenced { producer: i64, got: i16, current: i16 },
    #[error("transactions are not supported")]
    Transactional,
    #[error("the log is closed: its topic was deleted or a write to it failed")]
    Closed,
    #[error("storage: {0}")]
    Storage(#[from] io::Error),
}

/// What an accepted append was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub base_offset: i64,
    pub log_start: i64,
}

/// What a read found.
#[derive(Debug)]
pub struct Read {
    pub records: Bytes,
    pub end: i64,
    pub start: i64,
}

struct ProducerState {
    epoch: i16,
    /// (first sequence, last sequence, base offset) of recent batches.
    recent: VecDeque<(i32, i32, i64)>,
}

struct Inner {
    producers: HashMap<i64, ProducerState>,
}

pub struct Log {
    dir: PathBuf,
    /// Set when the topic is deleted (its directory then belongs to no one,
    /// or to a new topic of the same name) or when a write failed halfway:
    /// from then on the log refuses writes and touches no file.
    closed: AtomicBool,
    inner: Mutex<Inner>,
    segments: RwLock<Arc<Vec<Arc<Segment>>>>,
    start: AtomicI64,
    end: watch::Sender<i64>,
    unsynced: AtomicBool,
    fsync: Fsync,
}

impl Log {
    /// Opens the log in `dir`, creating it when absent. After an unclean
    /// shutdown (`check_all`) the active segment is checked batch by batch;
    /// otherwise only the part after each segment's last index entry.
    pub fn open(dir: &Path, check_all: bool, fsync: Fsync) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        segment::settle_partial(dir)?;
        let mut bases: Vec<i64> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".log")?.parse().ok()
            })
            .collect();
        bases.sort_unstable();
        let mut segments: Vec<Arc<Segment>> = Vec::with_capacity(bases.len().max(1));
        let last = bases.len().saturating_sub(1);
        for (i, base) in bases.iter().copied().enumerate() {
            let (segment, recovered) = Segment::open(dir, base, check_all && i == last)?;
            if recovered.truncated_bytes > 0 {
                tracing::warn!(
                    log = %dir.display(), segment = base, bytes = recovered.truncated_bytes,
                    "cut a torn or corrupted tail off the log"
                );
            }
            // A merge by the cleaner that stopped before removing the
            // segments it had merged leaves them behind the merged one.
            if segments.last().is_some_and(|prev| base < prev.next_offset()) {
                segment.delete()?;
                continue;
            }
            segments.push(Arc::new(segment));
        }
        if segments.is_empty() {
            segments.push(Arc::new(Segment::create(dir, 0)?));
            if fsync != Fsync::Never {
                sync_dir(dir)?;
                if let Some(parent) = dir.parent() {
                    sync_dir(parent)?;
                }
            }
        }
        // Producers that wrote recently may retry a batch whose answer was
        // lost with the process: remember their last batches.
        let mut inner = Inner { producers: HashMap::new() };
        if let Some(active) = segments.last() {
            for h in active.recent_headers(RECENT_INDEX_ENTRIES)? {
                remember(&mut inner, &h);
            }
        }
        let start = segments[0].base;
        let end = segments.last().map_or(0, |s| s.next_offset());
        Ok(Self {
            dir: dir.to_path_buf(),
            closed: AtomicBool::new(false),
            inner: Mutex::new(inner),
            segments: RwLock::new(Arc::new(segments)),
            start: AtomicI64::new(start),
            end: watch::channel(end).0,
            unsynced: AtomicBool::new(false),
            fsync,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Stops every write and file operation, for a topic being deleted.
    /// Waits for an append in progress.
    pub fn close(&self) {
        let _inner = self.inner.lock().expect("log lock");
        self.closed.store(true, Ordering::Release);
    }

    /// The offset the next record gets: the high watermark of a single
    /// replica.
    pub fn end(&self) -> i64 {
        *self.end.borrow()
    }

    pub fn start(&self) -> i64 {
        self.start.load(Ordering::Acquire)
    }

    /// Changes of [`Self::end`], for long-polling fetches.
    pub fn watch_end(&self) -> watch::Receiver<i64> {
        self.end.subscribe()
    }

    pub fn segments(&self) -> Arc<Vec<Arc<Segment>>> {
        self.segments.read().expect("segments lock").clone()
    }

    /// Bytes on disk.
    pub fn size(&self) -> u64 {
        self.segments().iter().map(|s| s.size()).sum()
    }

    /// Appends the batches of one produce request for this partition and
    /// returns the first offset they got. A retried batch an idempotent
    /// producer already wrote is answered with its original offset and not
    /// written again.
    pub fn append(&self, data: &[u8], config: &TopicConfig) -> Result<Appended, LogError> {
        let headers = check(data, config)?;
        let mut inner = self.inner.lock().expect("log lock");
        if self.is_closed() {
            return Err(LogError::Closed);
        }
        if let Some(base_offset) = duplicate(&inner, &headers)? {
            return Ok(Appended { base_offset, log_start: self.start() });
        }
        let mut next = self.end();
        let base_offset = next;
        let mut bytes = BytesMut::from(data);
        let mut assigned = Vec::with_capacity(headers.len());
        let mut at = 0;
        for h in &headers {
            batch::assign(&mut bytes[at..at + h.size], next);
            assigned.push(Header { base_offset: next, ..*h });
            next += i64::from(h.last_offset_delta) + 1;
            at += h.size;
        }
        let written = self.roll_if_due(bytes.len(), next, config).and_then(|active| {
            active.append(&bytes, &assigned)?;
            match self.fsync {
                Fsync::Always => active.sync(),
                _ => {
                    self.unsynced.store(true, Ordering::Release);
                    Ok(())
                }
            }
        });
        if let Err(e) = written {
            // What was written may be in the file without being answered:
            // taking more writes would give its offsets again. As Kafka takes
            // a failed log directory offline, the log stops here.
            self.closed.store(true, Ordering::Release);
            return Err(e.into());
        }
        for h in &assigned {
            remember(&mut inner, h);
        }
        drop(inner);
        self.end.send_replace(next);
        Ok(Appended { base_offset, log_start: self.start() })
    }

    /// The active segment, after starting a new one if the current one is
    /// full or old enough (`segment.bytes`, `segment.ms`).
    fn roll_if_due(
        &self,
        incoming: usize,
        next: i64,
        config: &TopicConfig,
    ) -> io::Result<Arc<Segment>> {
        let segments = self.segments();
        let active = segments.last().expect("a log has a segment").clone();
        let full = active.size() + incoming as u64 > config.segment_bytes;
        let old = active.created.elapsed().as_millis() as i64 >= config.segment_ms;
        let offsets_overflow = next - active.base > i64::from(u32::MAX);
        if active.is_empty() || !(full || old || offsets_overflow) {
            return Ok(active);
        }
        if self.fsync != Fsync::Never {
            active.sync()?;
        }
        let fresh = Arc::new(Segment::create(&self.dir, self.end())?);
        if self.fsync != Fsync::Never {
            // The new file's name must survive a power loss as its data will.
            sync_dir(&self.dir)?;
        }
        let mut list = segments.as_ref().clone();
        list.push(fresh.clone());
        *self.segments.write().expect("segments lock") = Arc::new(list);
        Ok(fresh)
    }

    /// Up to `max_bytes` of whole batches from the one holding `offset`
    /// (always at least one batch when there is one).
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<Read, LogError> {
        let (start, end) = (self.start(), self.end());
        if offset < start || offset > end {
            return Err(LogError::OffsetOutOfRange { offset, start, end });
        }
        let segments = self.segments();
        let first = segments.partition_point(|s| s.base <= offset).saturating_sub(1);
        for segment in &segments[first..] {
            if let Some(pos) = segment.position_of(offset)? {
                let records = segment.read(pos, max_bytes, end)?;
                return Ok(Read { records, end, start });
            }
        }
        Ok(Read { records: Bytes::new(), end, start })
    }

    /// The first record with a timestamp at or after `timestamp`: its
    /// offset and timestamp.
    pub fn offset_for_time(&self, timestamp: i64) -> io::Result<Option<(i64, i64)>> {
        for segment in self.segments().iter() {
            if segment.max_timestamp() < timestamp {
                continue;
            }
            let mut pos = segment.position_for_time(timestamp);
            while let Some((h, bytes)) = segment.batch_at(pos)? {
                pos += h.size as u64;
                if h.max_timestamp < timestamp {
                    continue;
                }
                let set = RecordBatchDecoder::decode(&mut bytes.clone())
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                if let Some(r) = set.records.iter().find(|r| r.timestamp >= timestamp) {
                    return Ok(Some((r.offset, r.timestamp)));
                }
            }
        }
        Ok(None)
    }

    /// Forces written data to the disk if anything was written since the
    /// last time.
    pub fn sync(&self) -> io::Result<()> {
        if self.unsynced.swap(false, Ordering::AcqRel) {
            let active = self.segments().last().expect("a log has a segment").clone();
            if let Err(e) = active.sync() {
                self.unsynced.store(true, Ordering::Release);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Replaces the closed segments whose bases are `old` (consecutive, in
    /// order) with `new`, for the cleaner. The append lock keeps a roll
    /// from changing the list meanwhile.
    pub fn replace(&self, old: &[i64], new: Option<segment::SegmentWriter>) -> io::Result<()> {
        let _inner = self.inner.lock().expect("log lock");
        if self.is_closed() {
            return new.map_or(Ok(()), |w| w.discard());
        }
        let new = match new {
            Some(writer) => Some(writer.finish(&self.dir)?),
            None => None,
        };
        let segments = self.segments();
        // The new segment was renamed over the first old one's files.
        let renamed_over = new.as_ref().map(|n| n.base);
        let mut new = new.map(Arc::new);
        let mut list: Vec<Arc<Segment>> = Vec::with_capacity(segments.len());
        let mut removed = Vec::new();
        for s in segments.iter() {
            if !old.contains(&s.base) {
                list.push(s.clone());
                continue;
            }
            if let Some(n) = new.take() {
                list.push(n);
            }
            if Some(s.base) != renamed_over {
                removed.push(s.clone());
            }
        }
        *self.segments.write().expect("segments lock") = Arc::new(list);
        for s in removed {
            s.delete()?;
        }
        Ok(())
    }

    /// Deletes the oldest `count` segments (never the active one) and moves
    /// the log start past them.
    pub fn delete_oldest(&self, count: usize) -> io::Result<()> {
        if count == 0 {
            return Ok(());
        }
        let _inner = self.inner.lock().expect("log lock");
        if self.is_closed() {
            return Ok(());
        }
        let segments = self.segments();
        let count = count.min(segments.len() - 1);
        let list: Vec<Arc<Segment>> = segments[count..].to_vec();
        self.start.store(list[0].base, Ordering::Release);
        *self.segments.write().expect("segments lock") = Arc::new(list);
        for s in &segments[..count] {
            s.delete()?;
        }
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Checks every batch of a produce request: whole, unaltered, within the
/// topic's size limit, not transactional, and keyed on a compacted topic.
fn check(data: &[u8], config: &TopicConfig) -> Result<Vec<Header>, LogError> {
    let mut headers = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let h = Header::parse_checked(&data[at..]).map_err(|e| {
            LogError::Corrupt(match e {
                Invalid::Truncated => "the record batch is truncated".into(),
                Invalid::Malformed(why) => why.into(),
                Invalid::Crc => "the record batch fails its CRC".into(),
            })
        })?;
        if h.size > config.max_message_bytes {
            return Err(LogError::TooLarge { size: h.size, max: config.max_message_bytes });
        }
        if h.is_transactional() || h.is_control() {
            return Err(LogError::Transactional);
        }
        if config.compact {
            let set =
                RecordBatchDecoder::decode(&mut Bytes::copy_from_slice(&data[at..at + h.size]))
                    .map_err(|e| LogError::Corrupt(e.to_string()))?;
            if set.records.iter().any(|r| r.key.is_none()) {
                return Err(LogError::InvalidRecord(
                    "a compacted topic does not accept records without a key".into(),
                ));
            }
        }
        headers.push(h);
        at += h.size;
    }
    if headers.is_empty() {
        return Err(LogError::Corrupt("the request holds no record batch".into()));
    }
    Ok(headers)
}

/// The offset a retried batch was written at, or an error for a sequence
/// that does not follow on. A producer the log has not seen (new, or from
/// before a restart) starts wherever it is.
fn duplicate(inner: &Inner, headers: &[Header]) -> Result<Option<i64>, LogError> {
    let h = &headers[0];
    if !h.is_idempotent() {
        return Ok(None);
    }
    let Some(state) = inner.producers.get(&h.producer_id) else { return Ok(None) };
    if h.producer_epoch < state.epoch {
        return Err(LogError::ProducerFenced {
            producer: h.producer_id,
            got: h.producer_epoch,
            current: state.epoch,
        });
    }
    if h.producer_epoch > state.epoch {
        return Ok(None);
    }
    if let Some(&(_, _, offset)) = state
        .recent
        .iter()
        .find(|(first, last, _)| *first == h.base_sequence && *last == h.last_sequence())
    {
        return Ok(Some(offset));
    }
    let last = state.recent.back().map_or(-1, |r| r.1);
    let expected = if last == i32::MAX { 0 } else { last + 1 };
    if h.base_sequence != expected {
        return Err(LogError::OutOfOrderSequence {
            producer: h.producer_id,
            got: h.base_sequence,
            last,
        });
    }
    Ok(None)
}

fn remember(inner: &mut Inner, h: &Header) {
    if !h.is_idempotent() {
        return;
    }
    let state = inner
        .producers
        .entry(h.producer_id)
        .or_insert_with(|| ProducerState { epoch: h.producer_epoch, recent: VecDeque::new() });
    if h.producer_epoch > state.epoch {
        state.epoch = h.producer_epoch;
        state.recent.clear();
    }
    if state.recent.len() == PRODUCER_WINDOW {
        state.recent.pop_front();
    }
    state.recent.push_back((h.base_sequence, h.last_sequence(), h.base_offset));
}
