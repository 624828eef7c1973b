//! The broker's metadata log: topics, their settings, committed offsets and
//! producer ids, appended as checksummed entries and replayed at start.
//!
//! Each entry is `length (u32) | crc32c (u32) | JSON`, big-endian. An entry
//! that is short or fails its checksum ends the journal (a torn write) and
//! is cut off. The journal is rewritten as a snapshot of the current state
//! at start and whenever it has grown large, so replay stays short.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::log::Fsync;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum Entry {
    Topic { name: String, partitions: i32, configs: BTreeMap<String, String> },
    TopicDeleted { name: String },
    Offsets { group: String, offsets: Vec<Committed> },
    GroupDeleted { group: String },
    ProducerIds { next: i64 },
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Committed {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    fsync: Fsync,
    unsynced: AtomicBool,
    bytes: AtomicU64,
    /// Whether opening it cut entries off: what they said is unknown.
    cut: bool,
}

impl Journal {
    /// Opens the journal at `path` and returns what it holds.
    pub fn open(path: &Path, fsync: Fsync) -> io::Result<(Self, Vec<Entry>)> {
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(path)?;
        let mut raw = Vec::new();
        file.read_to_end(&mut raw)?;
        let (entries, valid) = decode(&raw);
        if valid < raw.len() {
            tracing::warn!(journal = %path.display(), bytes = raw.len() - valid, "cut a torn tail off the broker journal");
            file.set_len(valid as u64)?;
        }
        let journal = Self {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            fsync,
            unsynced: AtomicBool::new(false),
            bytes: AtomicU64::new(valid as u64),
            cut: valid < raw.len(),
        };
        Ok((journal, entries))
    }

    /// Appends entries; they are in the file when this returns.
    pub fn append(&self, entries: &[Entry]) -> io::Result<()> {
        let bytes = encode(entries)?;
        let mut file = self.file.lock().expect("journal lock");
        file.write_all(&bytes)?;
        if self.fsync == Fsync::Always {
            file.sync_data()?;
        } else {
            self.unsynced.store(true, Ordering::Release);
        }
        self.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Whether entries were cut off when it was opened.
    pub fn was_cut(&self) -> bool {
        self.cut
    }

    /// Bytes in the journal, to decide when to rewrite it.
    pub fn len(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Replaces the journal with `entries` (atomically: a crash leaves the
    /// old journal or the new one).
    pub fn rewrite(&self, entries: &[Entry]) -> io::Result<()> {
        let bytes = encode(entries)?;
        let tmp = self.path.with_extension("rewrite");
        let mut out = File::create(&tmp)?;
        out.write_all(&bytes)?;
        out.sync_data()?;
        let mut file = self.file.lock().expect("journal lock");
        std::fs::rename(&tmp, &self.path)?;
        *file = OpenOptions::new().append(true).open(&self.path)?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)?.sync_all()?;
        }
        self.bytes.store(bytes.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    pub fn sync(&self) -> io::Result<()> {
        if self.unsynced.swap(false, Ordering::AcqRel) {
            self.file.lock().expect("journal lock").sync_data()?;
        }
        Ok(())
    }
}

fn encode(entries: &[Entry]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    for e in entries {
        let json = serde_json::to_vec(e).map_err(io::Error::other)?;
        out.extend_from_slice(&(json.len() as u32).to_be_bytes());
        out.extend_from_slice(&crc32c::crc32c(&json).to_be_bytes());
        out.extend_from_slice(&json);
    }
    Ok(out)
}

/// The entries of `raw` and how many bytes of it are whole, valid entries.
fn decode(raw: &[u8]) -> (Vec<Entry>, usize) {
    let mut entries = Vec::new();
    let mut at = 0;
    while raw.len() - at >= 8 {
        let len = u32::from_be_bytes(raw[at..at + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_be_bytes(raw[at + 4..at + 8].try_into().expect("4 bytes"));
        let Some(json) = raw.get(at + 8..at + 8 + len) else { break };
        if crc32c::crc32c(json) != crc {
            break;
        }
        let Ok(entry) = serde_json::from_slice(json) else { break };
        entries.push(entry);
        at += 8 + len;
    }
    (entries, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_tail_is_cut_and_what_came_before_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal");
        let (journal, none) = Journal::open(&path, Fsync::Never).expect("open");
        assert!(none.is_empty());
        let first = Entry::ProducerIds { next: 7 };
        journal.append(std::slice::from_ref(&first)).expect("append");
        journal.append(&[Entry::GroupDeleted { group: "g".into() }]).expect("append");
        drop(journal);
        let len = std::fs::metadata(&path).expect("meta").len();
        OpenOptions::new().write(true).open(&path).expect("open").set_len(len - 3).expect("cut");
        let (_, entries) = Journal::open(&path, Fsync::Never).expect("reopen");
        assert_eq!(entries, vec![first]);
    }
}
