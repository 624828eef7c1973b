//! The registry's state machine: how each record of the registry topic
//! changes the table of roads. Every instance applies the same records in the
//! same order with this one function, so every instance reaches the same
//! table.
//!
//! Writes are compare-and-set: a record names the etag it was based on, and
//! the first record in log order whose base matches wins; a later one with the
//! same base is *void* and changes nothing. The etag of a road is the offset
//! of the record that last changed it: unique and never reused, even when a
//! road is deleted and created again.
//!
//! Compaction keeps only the last record of each key, so a void record must
//! never stay last: its writer follows it at once with a repair, which
//! re-asserts the current road without changing it (see `Registry::write`).
//! A replay that starts after compaction may meet a road's record without
//! the records it was based on; a record for a road this table has never seen
//! is therefore taken as it is, unless the road was deleted in the history
//! this table did see.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use super::record::Record;
use crate::roads::Road;

/// A road with its etag.
#[derive(Clone, Debug, PartialEq)]
pub struct Versioned {
    pub road: Arc<Road>,
    pub etag: i64,
}

/// What applying one record did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The road changed (or was removed).
    Changed,
    /// A valid repair: the road is unchanged.
    Unchanged,
    /// The record lost a race; nothing changed.
    Void,
}

/// The roads, by name.
#[derive(Default)]
pub struct Table {
    roads: BTreeMap<String, Versioned>,
    /// Roads removed by a tombstone this table applied. A stale write for one
    /// of them must not bring it back.
    deleted: HashSet<String>,
}

impl Table {
    pub fn get(&self, name: &str) -> Option<&Versioned> {
        self.roads.get(name)
    }

    /// Roads in name order, starting after `after` when given.
    pub fn range_after<'a>(&'a self, after: Option<&str>) -> impl Iterator<Item = &'a Versioned> {
        use std::ops::Bound;
        let start = match after {
            Some(name) => Bound::Excluded(name.to_string()),
            None => Bound::Unbounded,
        };
        self.roads.range((start, Bound::Unbounded)).map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.roads.len()
    }

    /// Applies the record at `offset` for road `name` (`None` = tombstone).
    pub fn apply(&mut self, offset: i64, name: &str, record: Option<Record>) -> Outcome {
        let current = self.roads.get(name);
        let Some(record) = record else {
            // A tombstone removes a road that is being deleted (or is already
            // gone). One arriving after the road was created again is void.
            return match current {
                Some(v) if !v.road.deleting => Outcome::Void,
                Some(_) => {
                    self.roads.remove(name);
                    self.deleted.insert(name.to_string());
                    Outcome::Changed
                }
                None => {
                    self.deleted.insert(name.to_string());
                    Outcome::Unchanged
                }
            };
        };
        if let Some(of) = record.repair_of {
            return match current {
                Some(v) if v.etag == of => Outcome::Unchanged,
                // Taken as it is for a road never seen (history compacted).
                None if !self.deleted.contains(name) => {
                    self.insert(name, record.road, of);
                    Outcome::Changed
                }
                _ => Outcome::Void,
            };
        }
        let valid = match (record.base, current) {
            (None, None) => true,
            (Some(base), Some(v)) => v.etag == base,
            (Some(_), None) => !self.deleted.contains(name),
            (None, Some(_)) => false,
        };
        if !valid {
            return Outcome::Void;
        }
        self.insert(name, record.road, offset);
        Outcome::Changed
    }

    fn insert(&mut self, name: &str, road: Road, etag: i64) {
        self.deleted.remove(name);
        self.roads.insert(name.to_string(), Versioned { road: Arc::new(road), etag });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roads::test_road;

    fn write(base: Option<i64>, description: &str) -> Option<Record> {
        let mut road = test_road("orders");
        road.description = description.to_string();
        Some(Record { base, repair_of: None, road })
    }

    fn deleting(base: i64) -> Option<Record> {
        let mut road = test_road("orders");
        road.deleting = true;
        Some(Record { base: Some(base), repair_of: None, road })
    }

    fn description(t: &Table) -> Option<String> {
        t.get("orders").map(|v| v.road.description.clone())
    }

    #[test]
    fn the_first_write_on_a_base_wins_and_the_second_is_void() {
        let mut t = Table::default();
        assert_eq!(t.apply(0, "orders", write(None, "created")), Outcome::Changed);
        assert_eq!(t.apply(1, "orders", write(Some(0), "first")), Outcome::Changed);
        assert_eq!(t.apply(2, "orders", write(Some(0), "second")), Outcome::Void);
        assert_eq!(description(&t).as_deref(), Some("first"));
        assert_eq!(t.get("orders").map(|v| v.etag), Some(1));
    }

    #[test]
    fn creating_an_existing_road_is_void() {
        let mut t = Table::default();
        t.apply(0, "orders", write(None, "a"));
        assert_eq!(t.apply(1, "orders", write(None, "b")), Outcome::Void);
        assert_eq!(description(&t).as_deref(), Some("a"));
    }

    #[test]
    fn a_repair_of_the_current_etag_changes_nothing() {
        let mut t = Table::default();
        t.apply(0, "orders", write(None, "a"));
        let repair = Some(Record { base: None, repair_of: Some(0), road: test_road("orders") });
        assert_eq!(t.apply(5, "orders", repair), Outcome::Unchanged);
        assert_eq!(t.get("orders").map(|v| v.etag), Some(0));
        assert_eq!(description(&t).as_deref(), Some("a"));
    }

    #[test]
    fn a_stale_repair_is_void() {
        let mut t = Table::default();
        t.apply(0, "orders", write(None, "a"));
        t.apply(1, "orders", write(Some(0), "b"));
        let repair = Some(Record { base: None, repair_of: Some(0), road: test_road("orders") });
        assert_eq!(t.apply(2, "orders", repair), Outcome::Void);
        assert_eq!(description(&t).as_deref(), Some("b"));
    }

    #[test]
    fn a_tombstone_removes_only_a_road_being_deleted() {
        let mut t = Table::default();
        t.apply(0, "orders", write(None, "a"));
        assert_eq!(t.apply(1, "orders", None), Outcome::Void);
        assert!(t.get("orders").is_some());
        t.apply(2, "orders", deleting(0));
        assert_eq!(t.apply(3, "orders", None), Outcome::Changed);
        assert!(t.get("orders").is_none());
    }

    #[test]
    fn a_stale_write_cannot_bring_back_a_deleted_road() {
        let mut t = Table::default();
        t.apply(0, "orders", write(None, "a"));
        t.apply(1, "orders", deleting(0));
        t.apply(2, "orders", None);
        assert_eq!(t.apply(3, "orders", write(Some(1), "late")), Outcome::Void);
        assert!(t.get("orders").is_none());
        // Created again, with an etag that no earlier incarnation had.
        assert_eq!(t.apply(4, "orders", write(None, "again")), Outcome::Changed);
        assert_eq!(t.get("orders").map(|v| v.etag), Some(4));
    }

    #[test]
    fn a_replay_after_compaction_takes_a_road_it_never_saw() {
        // Compaction removed the creation and earlier updates.
        let mut t = Table::default();
        assert_eq!(t.apply(7, "orders", write(Some(3), "kept")), Outcome::Changed);
        assert_eq!(description(&t).as_deref(), Some("kept"));
        assert_eq!(t.apply(8, "orders", write(Some(7), "next")), Outcome::Changed);
        assert_eq!(t.apply(9, "orders", write(Some(7), "racing")), Outcome::Void);
    }

    #[test]
    fn ranges_are_in_name_order() {
        let mut t = Table::default();
        for (i, name) in ["b", "a", "c"].iter().enumerate() {
            let road = test_road(name);
            t.apply(i as i64, name, Some(Record { base: None, repair_of: None, road }));
        }
        let names: Vec<_> = t.range_after(None).map(|v| v.road.name.clone()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let names: Vec<_> = t.range_after(Some("a")).map(|v| v.road.name.clone()).collect();
        assert_eq!(names, ["b", "c"]);
    }
}
