//! What Traffic Control last saw of each road's topic. Every instance observes
//! Kafka itself, so the status lives in memory and is not written to the
//! registry: instances would otherwise race to write the same observation.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

/// The observed state of one road's topic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoadStatus {
    pub topic_name: String,
    pub topic_created: bool,
    pub partitions: i32,
    pub replication_factor: i32,
    /// The last problem met with this road; empty when none.
    pub last_problem: String,
    /// Topic settings that differ from what the road asks for.
    pub drift: Vec<ConfigDrift>,
    pub update_time_ms: i64,
    /// Sum over partitions of high minus low watermark.
    pub message_count: i64,
    /// The topic's `max.message.bytes` as last described, when known.
    pub max_message_bytes: Option<usize>,
}

/// One topic setting that differs from the road.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigDrift {
    pub config: String,
    pub expected: String,
    pub actual: String,
}

/// One instance's view of a materialized road, as the Tables domain last
/// reported it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableStatus {
    pub ready: bool,
    pub live_keys: u64,
    pub tombstones_pending: u64,
    pub offsets: BTreeMap<i32, i64>,
    pub last_problem: String,
    pub records_applied: u64,
}

/// What Loading Bay last did for a road on this instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LandingStatus {
    /// When the last landing committed; 0 before the first.
    pub last_landing_ms: i64,
    pub last_instant: String,
    /// Partition to the next offset to land.
    pub offsets: BTreeMap<i32, i64>,
    pub last_records: u64,
    pub last_files: u32,
    /// Why the last attempt failed; empty once one succeeded after it.
    pub last_error: String,
    /// The date of the last snapshot taken, and its live keys.
    pub last_snapshot_date: String,
    pub last_snapshot_keys: u64,
}

/// Statuses by road name: the topic's, from Traffic Control, the view's,
/// from Tables, and the landings', from Loading Bay.
#[derive(Default)]
pub struct StatusBoard {
    statuses: RwLock<HashMap<String, RoadStatus>>,
    tables: RwLock<HashMap<String, TableStatus>>,
    landings: RwLock<HashMap<String, LandingStatus>>,
}

impl StatusBoard {
    /// The road's status; empty (topic not created) when never observed.
    pub fn get(&self, road: &str) -> RoadStatus {
        self.statuses.read().expect("status lock").get(road).cloned().unwrap_or_default()
    }

    /// The road's topic's `max.message.bytes`, when known; without copying
    /// the whole status, since Onramp asks on every call.
    pub fn max_message_bytes(&self, road: &str) -> Option<usize> {
        self.statuses.read().expect("status lock").get(road).and_then(|s| s.max_message_bytes)
    }

    pub fn set(&self, road: &str, status: RoadStatus) {
        self.statuses.write().expect("status lock").insert(road.to_string(), status);
    }

    /// Forgets roads for which `keep` is false.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.statuses.write().expect("status lock").retain(|road, _| keep(road));
    }

    /// The view of a materialized road on this instance, if it has one.
    pub fn table(&self, road: &str) -> Option<TableStatus> {
        self.tables.read().expect("status lock").get(road).cloned()
    }

    pub fn set_table(&self, road: &str, status: TableStatus) {
        self.tables.write().expect("status lock").insert(road.to_string(), status);
    }

    pub fn remove_table(&self, road: &str) {
        self.tables.write().expect("status lock").remove(road);
    }

    /// What Loading Bay last did for the road on this instance.
    pub fn landing(&self, road: &str) -> Option<LandingStatus> {
        self.landings.read().expect("status lock").get(road).cloned()
    }

    pub fn set_landing(&self, road: &str, status: LandingStatus) {
        self.landings.write().expect("status lock").insert(road.to_string(), status);
    }
}
