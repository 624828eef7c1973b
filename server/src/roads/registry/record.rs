//! The value of a registry record: a road and how it was written. A null
//! value (a Kafka tombstone) removes the road.

use serde::{Deserialize, Serialize};

use crate::roads::Road;

/// One write to the registry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The etag the writer read; `None` creates the road.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<i64>,
    /// Set on a repair: re-asserts the road at this etag without changing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair_of: Option<i64>,
    pub road: Road,
}

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a road always serializes")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}
