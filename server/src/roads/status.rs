//! What Traffic Control last saw of each road's topic. Every instance observes
//! Kafka itself, so the status lives in memory and is not written to the
//! registry: instances would otherwise race to write the same observation.

use std::collections::HashMap;
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
}

/// One topic setting that differs from the road.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigDrift {
    pub config: String,
    pub expected: String,
    pub actual: String,
}

/// Statuses by road name.
#[derive(Default)]
pub struct StatusBoard {
    statuses: RwLock<HashMap<String, RoadStatus>>,
}

impl StatusBoard {
    /// The road's status; empty (topic not created) when never observed.
    pub fn get(&self, road: &str) -> RoadStatus {
        self.statuses.read().expect("status lock").get(road).cloned().unwrap_or_default()
    }

    pub fn set(&self, road: &str, status: RoadStatus) {
        self.statuses.write().expect("status lock").insert(road.to_string(), status);
    }

    /// Forgets roads for which `keep` is false.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.statuses.write().expect("status lock").retain(|road, _| keep(road));
    }
}
