//! One segment: a file of record batches named by its first offset, and a
//! sparse index beside it.
//!
//! `<base>.log` holds batches back to back, as Kafka stores them.
//! `<base>.index` holds one 16-byte entry for a batch every
//! `index.interval.bytes` or so: the batch's offset relative to `base` (u32),
//! its position in the log file (u32), and the largest timestamp of every
//! batch before it (i64), big-endian. The index answers "where is offset N"
//! and "where can records of time T first appear" with one binary search
//! and a short scan.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::batch::{HEADER_LEN, Header, Invalid};

const ENTRY: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    relative_offset: u32,
    position: u32,
    max_timestamp_before: i64,
}

impl Entry {
    fn encode(&self) -> [u8; ENTRY] {
        let mut out = [0; ENTRY];
        out[..4].copy_from_slice(&self.relative_offset.to_be_bytes());
        out[4..8].copy_from_slice(&self.position.to_be_bytes());
        out[8..].copy_from_slice(&self.max_timestamp_before.to_be_bytes());
        out
    }

    fn decode(b: &[u8]) -> Self {
        Self {
            relative_offset: u32::from_be_bytes(b[..4].try_into().expect("4 bytes")),
            position: u32::from_be_bytes(b[4..8].try_into().expect("4 bytes")),
            max_timestamp_before: i64::from_be_bytes(b[8..16].try_into().expect("8 bytes")),
        }
    }
}

/// The file names of the segment starting at `base`.
pub fn paths(dir: &Path, base: i64) -> (PathBuf, PathBuf) {
    (dir.join(format!("{base:020}.log")), dir.join(format!("{base:020}.index")))
}

/// What opening a segment found at its end.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Bytes cut off the end: a torn or corrupted tail.
    pub truncated_bytes: u64,
}

pub struct Segment {
    pub base: i64,
    log_path: PathBuf,
    index_path: PathBuf,
    file: File,
    index_file: File,
    size: AtomicU64,
    next_offset: AtomicI64,
    max_timestamp: AtomicI64,
    index: Mutex<Vec<Entry>>,
    /// Bytes appended since the last index entry; written under the log's
    /// append lock only.
    unindexed: AtomicU64,
    pub created: Instant,
}

impl Segment {
    /// A new, empty segment (any files of the same name are replaced).
    pub fn create(dir: &Path, base: i64) -> io::Result<Self> {
        let (log_path, index_path) = paths(dir, base);
        let open = |p: &Path| {
            OpenOptions::new().read(true).write(true).create(true).truncate(true).open(p)
        };
        Ok(Self::new(base, open(&log_path)?, open(&index_path)?, log_path, index_path))
    }

    fn new(
        base: i64,
        file: File,
        index_file: File,
        log_path: PathBuf,
        index_path: PathBuf,
    ) -> Self {
        Self {
            base,
            log_path,
            index_path,
            file,
            index_file,
            size: AtomicU64::new(0),
            next_offset: AtomicI64::new(base),
            max_timestamp: AtomicI64::new(i64::MIN),
            index: Mutex::new(Vec::new()),
            unindexed: AtomicU64::new(0),
            created: Instant::now(),
        }
    }

    /// Opens an existing segment. Its index is trusted up to its last
    /// entry and the batches after that entry are read and checked; with
    /// `check_all` every batch is (after an unclean shutdown). A batch that
    /// is short or fails its CRC ends the segment: it and everything after
    /// it are cut off.
    pub fn open(dir: &Path, base: i64, check_all: bool) -> io::Result<(Self, Recovered)> {
        let (log_path, index_path) = paths(dir, base);
        let file = OpenOptions::new().read(true).write(true).open(&log_path)?;
        let index_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&index_path)?;
        let len = file.metadata()?.len();
        let mut entries = if check_all { Vec::new() } else { read_index(&index_file, len)? };
        let segment = Self::new(base, file, index_file, log_path, index_path);
        let (mut pos, mut max_ts) = match entries.last() {
            Some(e) => (u64::from(e.position), e.max_timestamp_before),
            None => (0, i64::MIN),
        };
        // The entry itself is re-added by the scan below.
        entries.pop();
        let mut next = entries.last().map_or(base, |e| base + i64::from(e.relative_offset));
        let mut unindexed = u64::MAX;
        let scan_from = pos;
        let mut header_buf = vec![0; HEADER_LEN];
        while pos < len {
            let header = match segment.checked_batch_at(pos, len, &mut header_buf) {
                Ok(h) => h,
                // The batch the index points at is bad: where the one
                // before it ends is unknown without reading from the start.
                Err(_) if pos == scan_from && pos > 0 => return Self::open(dir, base, true),
                Err(_) => break,
            };
            if unindexed >= super::INDEX_INTERVAL {
                entries.push(Entry {
                    relative_offset: (header.base_offset - base) as u32,
                    position: pos as u32,
                    max_timestamp_before: max_ts,
                });
                unindexed = 0;
            }
            unindexed += header.size as u64;
            max_ts = max_ts.max(header.max_timestamp);
            next = header.next_offset();
            pos += header.size as u64;
        }
        let truncated_bytes = len - pos;
        if truncated_bytes > 0 {
            segment.file.set_len(pos)?;
        }
        segment.size.store(pos, Ordering::Release);
        segment.next_offset.store(next, Ordering::Release);
        segment.max_timestamp.store(max_ts, Ordering::Release);
        segment
            .unindexed
            .store(if unindexed == u64::MAX { 0 } else { unindexed }, Ordering::Relaxed);
        write_index(&segment.index_file, &entries)?;
        *segment.index.lock().expect("index lock") = entries;
        Ok((segment, Recovered { truncated_bytes }))
    }

    /// Reads and checks the batch at `pos`.
    fn checked_batch_at(
        &self,
        pos: u64,
        len: u64,
        header_buf: &mut [u8],
    ) -> Result<Header, Invalid> {
        if len - pos < HEADER_LEN as u64 {
            return Err(Invalid::Truncated);
        }
        self.file.read_exact_at(header_buf, pos).map_err(|_| Invalid::Truncated)?;
        let header = Header::parse(header_buf)?;
        if header.base_offset < self.base || pos + header.size as u64 > len {
            return Err(Invalid::Truncated);
        }
        let mut whole = vec![0; header.size];
        self.file.read_exact_at(&mut whole, pos).map_err(|_| Invalid::Truncated)?;
        Header::parse_checked(&whole)
    }

    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    /// The offset after the segment's last batch (`base` when empty).
    pub fn next_offset(&self) -> i64 {
        self.next_offset.load(Ordering::Acquire)
    }

    /// The largest timestamp in the segment, `i64::MIN` when empty.
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.size() == 0
    }

    /// Appends batches whose offsets are already assigned. Callers hold
    /// the log's append lock; the bytes are in the file (not necessarily on
    /// the disk) when this returns.
    pub fn append(&self, bytes: &[u8], headers: &[Header]) -> io::Result<()> {
        let start = self.size();
        self.file.write_all_at(bytes, start)?;
        let mut new_entries = Vec::new();
        let mut pos = start;
        let mut max_ts = self.max_timestamp();
        let mut unindexed = self.unindexed.load(Ordering::Relaxed);
        for h in headers {
            if pos == 0 || unindexed >= super::INDEX_INTERVAL {
                new_entries.push(Entry {
                    relative_offset: (h.base_offset - self.base) as u32,
                    position: pos as u32,
                    max_timestamp_before: max_ts,
                });
                unindexed = 0;
            }
            unindexed += h.size as u64;
            max_ts = max_ts.max(h.max_timestamp);
            pos += h.size as u64;
        }
        if !new_entries.is_empty() {
            let mut index = self.index.lock().expect("index lock");
            let mut encoded = Vec::with_capacity(new_entries.len() * ENTRY);
            for e in &new_entries {
                encoded.extend_from_slice(&e.encode());
            }
            // The index is rebuilt from the log on recovery, so its write
            // may trail the log's.
            self.index_file.write_all_at(&encoded, (index.len() * ENTRY) as u64)?;
            index.extend(new_entries);
        }
        self.unindexed.store(unindexed, Ordering::Relaxed);
        self.max_timestamp.store(max_ts, Ordering::Release);
        if let Some(last) = headers.last() {
            self.next_offset.store(last.next_offset(), Ordering::Release);
        }
        self.size.store(pos, Ordering::Release);
        Ok(())
    }

    /// The position of the first batch that holds `offset` or a later one,
    /// or `None` when the segment ends before it.
    pub fn position_of(&self, offset: i64) -> io::Result<Option<u64>> {
        let size = self.size();
        let start = {
            let index = self.index.lock().expect("index lock");
            let rel = (offset - self.base).clamp(0, i64::from(u32::MAX)) as u32;
            let i = index.partition_point(|e| e.relative_offset <= rel);
            if i == 0 { 0 } else { u64::from(index[i - 1].position) }
        };
        self.scan(start, size, |h| h.last_offset() >= offset)
    }

    /// From `pos`, the position of the first batch `wanted` accepts.
    fn scan(
        &self,
        mut pos: u64,
        size: u64,
        wanted: impl Fn(&Header) -> bool,
    ) -> io::Result<Option<u64>> {
        let mut buf = [0; HEADER_LEN];
        while pos + HEADER_LEN as u64 <= size {
            self.file.read_exact_at(&mut buf, pos)?;
            let h = Header::parse(&buf).map_err(corrupt)?;
            if wanted(&h) {
                return Ok(Some(pos));
            }
            pos += h.size as u64;
        }
        Ok(None)
    }

    /// Whole batches from `pos`, at most `max_bytes` of them, but always the
    /// first batch whole, however large, so a consumer can make progress.
    /// Batches at or past `end` (written, not yet acknowledged) are left out.
    pub fn read(&self, pos: u64, max_bytes: usize, end: i64) -> io::Result<Bytes> {
        let size = self.size();
        let len = (size.saturating_sub(pos)).min(max_bytes as u64) as usize;
        let mut buf = BytesMut::zeroed(len);
        self.file.read_exact_at(&mut buf, pos)?;
        let mut whole = 0;
        while whole + HEADER_LEN <= len {
            let h = Header::parse(&buf[whole..]).map_err(corrupt)?;
            if whole + h.size > len || h.base_offset >= end {
                break;
            }
            whole += h.size;
        }
        if whole == 0 && pos < size {
            let mut header = [0; HEADER_LEN];
            self.file.read_exact_at(&mut header, pos)?;
            let h = Header::parse(&header).map_err(corrupt)?;
            if h.base_offset >= end {
                return Ok(Bytes::new());
            }
            let mut first = BytesMut::zeroed(h.size);
            self.file.read_exact_at(&mut first, pos)?;
            return Ok(first.freeze());
        }
        buf.truncate(whole);
        Ok(buf.freeze())
    }

    /// The batch at `pos` and where the next one starts, for the cleaner
    /// and for timestamp search.
    pub fn batch_at(&self, pos: u64) -> io::Result<Option<(Header, Bytes)>> {
        if pos + HEADER_LEN as u64 > self.size() {
            return Ok(None);
        }
        let mut header = [0; HEADER_LEN];
        self.file.read_exact_at(&mut header, pos)?;
        let h = Header::parse(&header).map_err(corrupt)?;
        let mut whole = BytesMut::zeroed(h.size);
        self.file.read_exact_at(&mut whole, pos)?;
        Ok(Some((h, whole.freeze())))
    }

    /// The headers of the batches after the `entries`-th index entry from
    /// the end: the segment's recent writes.
    pub fn recent_headers(&self, entries: usize) -> io::Result<Vec<Header>> {
        let start = {
            let index = self.index.lock().expect("index lock");
            index.len().checked_sub(entries + 1).map_or(0, |i| u64::from(index[i].position))
        };
        let (mut pos, size, mut out) = (start, self.size(), Vec::new());
        let mut buf = [0; HEADER_LEN];
        while pos + HEADER_LEN as u64 <= size {
            self.file.read_exact_at(&mut buf, pos)?;
            let h = Header::parse(&buf).map_err(corrupt)?;
            pos += h.size as u64;
            out.push(h);
        }
        Ok(out)
    }

    /// Where records with a timestamp of `timestamp` or later can first
    /// appear: every batch before the returned position is older.
    pub fn position_for_time(&self, timestamp: i64) -> u64 {
        let index = self.index.lock().expect("index lock");
        let i = index.partition_point(|e| e.max_timestamp_before < timestamp);
        if i == 0 { 0 } else { u64::from(index[i - 1].position) }
    }

    /// Makes what was written durable.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()?;
        self.index_file.sync_data()
    }

    /// Removes the segment's files; readers that hold it keep reading the
    /// unlinked file.
    pub fn delete(&self) -> io::Result<()> {
        remove_if_exists(&self.log_path)?;
        remove_if_exists(&self.index_path)
    }
}

fn remove_if_exists(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn corrupt(e: Invalid) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("corrupt batch in the log: {e:?}"))
}

/// Index entries that point inside a log of `log_len` bytes, in order.
fn read_index(file: &File, log_len: u64) -> io::Result<Vec<Entry>> {
    let len = file.metadata()?.len() as usize / ENTRY * ENTRY;
    let mut buf = vec![0; len];
    file.read_exact_at(&mut buf, 0)?;
    let mut entries: Vec<Entry> = Vec::with_capacity(len / ENTRY);
    for chunk in buf.chunks_exact(ENTRY) {
        let e = Entry::decode(chunk);
        let ordered = entries
            .last()
            .is_none_or(|p| p.position < e.position && p.relative_offset <= e.relative_offset);
        if !ordered || u64::from(e.position) >= log_len {
            break;
        }
        entries.push(e);
    }
    Ok(entries)
}

fn write_index(file: &File, entries: &[Entry]) -> io::Result<()> {
    let mut encoded = Vec::with_capacity(entries.len() * ENTRY);
    for e in entries {
        encoded.extend_from_slice(&e.encode());
    }
    file.set_len(0)?;
    file.write_all_at(&encoded, 0)
}

/// Builds a segment file from batches, for the cleaner: written beside the
/// live one and renamed over it when complete.
pub struct SegmentWriter {
    segment: Segment,
}

impl SegmentWriter {
    pub fn create(dir: &Path, base: i64) -> io::Result<Self> {
        let (log, index) = paths(dir, base);
        let tmp = |p: &Path| {
            p.with_extension(format!(
                "{}.cleaned",
                p.extension().and_then(|e| e.to_str()).unwrap_or("")
            ))
        };
        let open = |p: &Path| {
            OpenOptions::new().read(true).write(true).create(true).truncate(true).open(p)
        };
        let (log_tmp, index_tmp) = (tmp(&log), tmp(&index));
        let segment = Segment::new(base, open(&log_tmp)?, open(&index_tmp)?, log_tmp, index_tmp);
        Ok(Self { segment })
    }

    pub fn append(&self, bytes: &[u8], header: &Header) -> io::Result<()> {
        self.segment.append(bytes, std::slice::from_ref(header))
    }

    /// Removes the new files: nothing was kept, or the log went away.
    pub fn discard(self) -> io::Result<()> {
        self.segment.delete()
    }

    /// Syncs and renames the new files over the old ones, returning the
    /// segment that now lives under the final names.
    pub fn finish(self, dir: &Path) -> io::Result<Segment> {
        self.segment.sync()?;
        let (log, index) = paths(dir, self.segment.base);
        std::fs::rename(&self.segment.log_path, &log)?;
        std::fs::rename(&self.segment.index_path, &index)?;
        let mut s = self.segment;
        s.log_path = log;
        s.index_path = index;
        Ok(s)
    }
}

/// Settles what an interrupted clean left: the cleaner renames the new log
/// over the old one first and the new index second, so an index left
/// without its log was meant to replace the current index, and anything
/// else half-written is dropped.
pub fn settle_partial(dir: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.to_string_lossy().into_owned();
        if let Some(index) = name.strip_suffix(".index.cleaned") {
            let log = format!("{index}.log.cleaned");
            if Path::new(&log).exists() {
                std::fs::remove_file(&path)?;
            } else {
                std::fs::rename(&path, format!("{index}.index"))?;
            }
        }
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.to_string_lossy().ends_with(".log.cleaned") {
            std::fs::remove_file(path)?;
        }
    }
    Ok(())
}
