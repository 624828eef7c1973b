//! One road's view on disk: a redb file holding key → latest value, the next
//! offset of every partition, and the deletes still within the road's
//! tombstone retention.
//!
//! Entries and offsets change in the same write transaction, so the file
//! always holds the state at exactly the offsets it records, whatever a crash
//! interrupts; a reader's transaction sees one committed state, so an answer
//! never mixes versions. Values hold the record as Kafka has it (the payload
//! bytes untouched); rendering for a caller happens on the way out.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
};

const ENTRIES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("entries");
const OFFSETS: TableDefinition<i32, i64> = TableDefinition::new("offsets");
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
/// Deletes by time: 8 bytes of big-endian timestamp, then the key.
const TOMBSTONES: TableDefinition<&[u8], ()> = TableDefinition::new("tombstones");

/// Bytes before the payload in a stored value.
const HEADER: usize = 4 + 8 + 8 + 4;

#[derive(Debug, thiserror::Error)]
#[error("view {}: {message}", path.display())]
pub struct StoreError {
    path: PathBuf,
    message: String,
}

/// A live value and where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: i64,
    pub schema_version: u32,
    pub payload: Vec<u8>,
}

impl StoredEntry {
    /// The stored form of a value `change` writes: the header, then the
    /// payload (the inverse of [`StoredEntry::decode`]).
    fn encode_into(out: &mut Vec<u8>, change: &Change, payload: &[u8]) {
        out.clear();
        out.extend_from_slice(&change.partition.to_le_bytes());
        out.extend_from_slice(&change.offset.to_le_bytes());
        out.extend_from_slice(&change.timestamp_ms.to_le_bytes());
        out.extend_from_slice(&change.schema_version.to_le_bytes());
        out.extend_from_slice(payload);
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < HEADER {
            return None;
        }
        let (header, payload) = bytes.split_at(HEADER);
        Some(Self {
            partition: i32::from_le_bytes(header[0..4].try_into().ok()?),
            offset: i64::from_le_bytes(header[4..12].try_into().ok()?),
            timestamp_ms: i64::from_le_bytes(header[12..20].try_into().ok()?),
            schema_version: u32::from_le_bytes(header[20..24].try_into().ok()?),
            payload: payload.to_vec(),
        })
    }
}

/// One record to apply: a value, or a delete (`payload: None`).
#[derive(Clone, Debug)]
pub struct Change {
    pub key: Vec<u8>,
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: i64,
    pub schema_version: u32,
    pub payload: Option<Vec<u8>>,
}

/// What an answer reflects: partition → next offset applied.
pub type Offsets = BTreeMap<i32, i64>;

/// A page of [`Store::list`]: entries with their keys, whether more follow,
/// and the offsets the page reflects.
pub type Page = (Vec<(Vec<u8>, StoredEntry)>, bool, Offsets);

/// Counts kept by the view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub live_keys: u64,
    pub tombstones_pending: u64,
}

pub struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Opens (or creates) the view at `path`, with a page cache of
    /// `cache_bytes`: values live on disk, not in memory.
    pub fn open(path: &Path, cache_bytes: usize) -> Result<Self, StoreError> {
        let fail = |e: &dyn std::fmt::Display| StoreError {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
        }
        let db =
            Database::builder().set_cache_size(cache_bytes).create(path).map_err(|e| fail(&e))?;
        let store = Self { db, path: path.to_path_buf() };
        // Every table exists from the start, so reads never meet a missing one.
        store.write(Durability::Immediate, |tx| {
            tx.open_table(ENTRIES)?;
            tx.open_table(OFFSETS)?;
            tx.open_table(META)?;
            tx.open_table(TOMBSTONES)?;
            Ok(())
        })?;
        Ok(store)
    }

    fn fail(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError { path: self.path.clone(), message: e.to_string() }
    }

    fn write<T>(
        &self,
        durability: Durability,
        work: impl FnOnce(&redb::WriteTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, StoreError> {
        let mut tx = self.db.begin_write().map_err(|e| self.fail(e))?;
        tx.set_durability(durability).map_err(|e| self.fail(e))?;
        let out = work(&tx).map_err(|e| self.fail(e))?;
        tx.commit().map_err(|e| self.fail(e))?;
        Ok(out)
    }

    fn read(&self) -> Result<redb::ReadTransaction, StoreError> {
        self.db.begin_read().map_err(|e| self.fail(e))
    }

    /// Empties the view, to be built again from the topic.
    pub fn clear(&self) -> Result<(), StoreError> {
        self.write(Durability::Immediate, |tx| {
            tx.delete_table(ENTRIES)?;
            tx.delete_table(OFFSETS)?;
            tx.delete_table(META)?;
            tx.delete_table(TOMBSTONES)?;
            tx.open_table(ENTRIES)?;
            tx.open_table(OFFSETS)?;
            tx.open_table(META)?;
            tx.open_table(TOMBSTONES)?;
            Ok(())
        })
    }

    /// A value written by [`Store::set_meta`].
    pub fn meta(&self, name: &str) -> Result<Option<String>, StoreError> {
        let tx = self.read()?;
        let table = tx.open_table(META).map_err(|e| self.fail(e))?;
        let value = table.get(name).map_err(|e| self.fail(e))?;
        Ok(value.map(|v| v.value().to_string()))
    }

    pub fn set_meta(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.write(Durability::Immediate, |tx| {
            tx.open_table(META)?.insert(name, value)?;
            Ok(())
        })
    }

    /// The offsets the view reflects.
    pub fn offsets(&self) -> Result<Offsets, StoreError> {
        let tx = self.read()?;
        read_offsets(&tx).map_err(|e| self.fail(e))
    }

    /// Applies `changes` in order and moves to `offsets`, in one transaction.
    /// Deletes older than `tombstone_horizon_ms` stop counting as pending.
    /// `durable` commits to disk before returning; otherwise the commit
    /// becomes durable with the next durable one (a crash in between returns
    /// the view to an earlier consistent state, which it then reapplies).
    pub fn apply(
        &self,
        changes: &[Change],
        offsets: &Offsets,
        tombstone_horizon_ms: i64,
        durable: bool,
    ) -> Result<(), StoreError> {
        let durability = if durable { Durability::Immediate } else { Durability::None };
        // Only the last change of each key matters, and inserting in key
        // order keeps the B-tree's writes local.
        // A stable sort keeps each key's changes in order, so the last of
        // each run is the one that stays.
        let mut sorted: Vec<&Change> = changes.iter().collect();
        sorted.sort_by(|a, b| a.key.cmp(&b.key));
        let mut changes: Vec<&Change> = Vec::with_capacity(sorted.len());
        for change in sorted {
            match changes.last_mut() {
                Some(last) if last.key == change.key => *last = change,
                _ => changes.push(change),
            }
        }
        self.write(durability, |tx| {
            let mut entries = tx.open_table(ENTRIES)?;
            let mut tombstones = tx.open_table(TOMBSTONES)?;
            let mut value = Vec::new();
            for change in changes {
                match &change.payload {
                    Some(payload) => {
                        StoredEntry::encode_into(&mut value, change, payload);
                        entries.insert(change.key.as_slice(), value.as_slice())?;
                    }
                    None => {
                        entries.remove(change.key.as_slice())?;
                        if change.timestamp_ms >= tombstone_horizon_ms {
                            tombstones.insert(tombstone_key(change).as_slice(), ())?;
                        }
                    }
                }
            }
            let horizon = tombstone_horizon_ms.max(0).to_be_bytes();
            let before: std::ops::RangeTo<&[u8]> = ..horizon.as_slice();
            tombstones.retain_in(before, |_, _| false)?;
            let mut table = tx.open_table(OFFSETS)?;
            for (&partition, &offset) in offsets {
                table.insert(partition, offset)?;
            }
            Ok(())
        })
    }

    /// The entries of `keys`, in order, and the offsets they reflect.
    pub fn get(&self, keys: &[&[u8]]) -> Result<(Vec<Option<StoredEntry>>, Offsets), StoreError> {
        let tx = self.read()?;
        let table = tx.open_table(ENTRIES).map_err(|e| self.fail(e))?;
        let mut found = Vec::with_capacity(keys.len());
        for key in keys {
            let value = table.get(*key).map_err(|e| self.fail(e))?;
            found.push(value.and_then(|v| StoredEntry::decode(v.value())));
        }
        let offsets = read_offsets(&tx).map_err(|e| self.fail(e))?;
        Ok((found, offsets))
    }

    /// Up to `limit` entries whose keys start with `prefix`, after `after`
    /// (exclusive) in key order; whether more follow; the offsets.
    pub fn list(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let tx = self.read()?;
        let table = tx.open_table(ENTRIES).map_err(|e| self.fail(e))?;
        let start = match after {
            Some(a) if a >= prefix => Bound::Excluded(a),
            _ => Bound::Included(prefix),
        };
        let bounds: (Bound<&[u8]>, Bound<&[u8]>) = (start, Bound::Unbounded);
        let range = table.range::<&[u8]>(bounds).map_err(|e| self.fail(e))?;
        let mut page = Vec::new();
        let mut more = false;
        for item in range {
            let (key, value) = item.map_err(|e| self.fail(e))?;
            if !key.value().starts_with(prefix) {
                break;
            }
            if page.len() == limit {
                more = true;
                break;
            }
            if let Some(entry) = StoredEntry::decode(value.value()) {
                page.push((key.value().to_vec(), entry));
            }
        }
        let offsets = read_offsets(&tx).map_err(|e| self.fail(e))?;
        Ok((page, more, offsets))
    }

    pub fn counts(&self) -> Result<Counts, StoreError> {
        let tx = self.read()?;
        let entries = tx.open_table(ENTRIES).map_err(|e| self.fail(e))?;
        let tombstones = tx.open_table(TOMBSTONES).map_err(|e| self.fail(e))?;
        Ok(Counts {
            live_keys: entries.len().map_err(|e| self.fail(e))?,
            tombstones_pending: tombstones.len().map_err(|e| self.fail(e))?,
        })
    }
}

fn tombstone_key(change: &Change) -> Vec<u8> {
    let mut key = change.timestamp_ms.max(0).to_be_bytes().to_vec();
    key.extend_from_slice(&change.key);
    key
}

fn read_offsets(tx: &redb::ReadTransaction) -> Result<Offsets, redb::Error> {
    let table = tx.open_table(OFFSETS)?;
    let mut offsets = Offsets::new();
    for item in table.iter()? {
        let (partition, offset) = item?;
        offsets.insert(partition.value(), offset.value());
    }
    Ok(offsets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, partition: i32, offset: i64, payload: &str) -> Change {
        Change {
            key: key.as_bytes().to_vec(),
            partition,
            offset,
            timestamp_ms: 1_000 + offset,
            schema_version: 1,
            payload: Some(payload.as_bytes().to_vec()),
        }
    }

    fn delete(key: &str, partition: i32, offset: i64) -> Change {
        Change { payload: None, ..put(key, partition, offset, "") }
    }

    #[test]
    fn the_latest_value_wins_and_a_delete_removes_the_key() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("v.redb"), 1 << 20).expect("open");
        let changes = [
            put("a", 0, 0, "one"),
            put("b", 0, 1, "two"),
            put("a", 0, 2, "three"),
            delete("b", 0, 3),
        ];
        store.apply(&changes, &Offsets::from([(0, 4)]), 0, true).expect("apply");
        let (found, offsets) = store.get(&[b"a", b"b", b"c"]).expect("get");
        assert_eq!(offsets, Offsets::from([(0, 4)]));
        let a = found[0].clone().expect("a");
        assert_eq!((a.offset, a.payload.as_slice()), (2, b"three".as_slice()));
        assert_eq!(found[1], None);
        assert_eq!(found[2], None);
        assert_eq!(store.counts().expect("counts"), Counts { live_keys: 1, tombstones_pending: 1 });
    }

    #[test]
    fn pages_follow_key_order_within_the_prefix() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(&dir.path().join("v.redb"), 1 << 20).expect("open");
        let changes: Vec<Change> = ["a1", "b1", "b2", "b3", "c1"]
            .iter()
            .enumerate()
            .map(|(i, k)| put(k, 0, i as i64, "{}"))
            .collect();
        store.apply(&changes, &Offsets::from([(0, 5)]), 0, false).expect("apply");
        let keys = |page: &[(Vec<u8>, StoredEntry)]| -> Vec<String> {
            page.iter().map(|(k, _)| String::from_utf8_lossy(k).into_owned()).collect()
        };
        let (page, more, _) = store.list(b"b", None, 2).expect("list");
        assert_eq!((keys(&page), more), (vec!["b1".to_string(), "b2".into()], true));
        let (page, more, _) = store.list(b"b", Some(b"b2"), 2).expect("list");
        assert_eq!((keys(&page), more), (vec!["b3".to_string()], false));
        let (page, _, _) = store.list(b"", Some(b"b3"), 10).expect("list");
        assert_eq!(keys(&page), vec!["c1".to_string()]);
    }

    #[test]
    fn deletes_past_the_horizon_stop_counting_and_state_survives_a_reopen() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("v.redb");
        {
            let store = Store::open(&path, 1 << 20).expect("open");
            store
                .apply(
                    &[put("a", 1, 0, "x"), delete("a", 1, 1)],
                    &Offsets::from([(1, 2)]),
                    0,
                    false,
                )
                .expect("apply");
            assert_eq!(store.counts().expect("counts").tombstones_pending, 1);
            store.apply(&[], &Offsets::from([(1, 2)]), 10_000, true).expect("apply");
            assert_eq!(store.counts().expect("counts").tombstones_pending, 0);
            store.set_meta("topic", "road.t").expect("meta");
        }
        let store = Store::open(&path, 1 << 20).expect("reopen");
        assert_eq!(store.offsets().expect("offsets"), Offsets::from([(1, 2)]));
        assert_eq!(store.meta("topic").expect("meta").as_deref(), Some("road.t"));
    }
}
