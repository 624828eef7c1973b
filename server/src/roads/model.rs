//! The road document, as stored in the registry topic and used by every
//! domain. Defaults are resolved at creation and stored, so that changing a
//! server default never changes an existing road.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use crate::schema::compat::CompatibilityMode;

/// A named, schema-checked stream backed by one Kafka topic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Road {
    pub name: String,
    /// The type and its type-specific settings. Immutable in type.
    #[serde(flatten)]
    pub kind: RoadKind,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub team_name: String,
    #[serde(default)]
    pub contact_email: String,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub enabled: bool,
    pub partitions: u32,
    #[serde(with = "mode_name")]
    pub compatibility: CompatibilityMode,
    #[serde(default)]
    pub authorisation: Authorisation,
    #[serde(default)]
    pub hive: HiveDestination,
    /// Limits on everyone's use of the road together.
    #[serde(default, skip_serializing_if = "RoadQuotas::is_empty")]
    pub quotas: RoadQuotas,
    /// COMPACTED roads only: every instance keeps a view of the road's
    /// current state and serves it (TableService).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub materialized: bool,
    #[serde(default)]
    pub schemas: Vec<SchemaVersion>,
    /// DeleteRoad was accepted: Traffic Control removes the topic, then the
    /// document.
    #[serde(default)]
    pub deleting: bool,
    pub create_time_ms: i64,
    pub update_time_ms: i64,
}

/// The two kinds of road, each with the settings only it has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RoadKind {
    Stream {
        retention_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partition_path: Option<String>,
    },
    Compacted {
        min_compaction_lag_ms: u64,
        tombstone_retention_ms: u64,
    },
}

/// The road's type without its settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RoadType {
    Stream,
    Compacted,
}

impl RoadType {
    pub fn as_str(self) -> &'static str {
        match self {
            RoadType::Stream => "STREAM",
            RoadType::Compacted => "COMPACTED",
        }
    }
}

impl RoadKind {
    pub fn road_type(&self) -> RoadType {
        match self {
            RoadKind::Stream { .. } => RoadType::Stream,
            RoadKind::Compacted { .. } => RoadType::Compacted,
        }
    }
}

impl Road {
    pub fn road_type(&self) -> RoadType {
        self.kind.road_type()
    }

    /// The partition path of a STREAM road, if it has one.
    pub fn partition_path(&self) -> Option<&str> {
        match &self.kind {
            RoadKind::Stream { partition_path, .. } => partition_path.as_deref(),
            RoadKind::Compacted { .. } => None,
        }
    }

    /// The latest schema version that is not deleted.
    pub fn latest_schema(&self) -> Option<&SchemaVersion> {
        self.schemas.iter().rev().find(|s| !s.deleted)
    }

    /// A schema version by number, deleted or not.
    pub fn schema(&self, version: u32) -> Option<&SchemaVersion> {
        self.schemas.iter().find(|s| s.version == version)
    }
}

/// One version of the road's JSON Schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaVersion {
    pub version: u32,
    /// The schema as JSON text, exactly as registered.
    pub schema: String,
    #[serde(default)]
    pub deleted: bool,
    pub create_time_ms: i64,
}

/// What a reader may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Grant {
    Public,
    Pii,
}

/// Who may use a road.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorisation {
    #[serde(default)]
    pub onramp: OnrampAuthorisation,
    #[serde(default)]
    pub offramp: OfframpAuthorisation,
    /// Who administers the road (besides the server's admins).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admins: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnrampAuthorisation {
    #[serde(default)]
    pub authorities: Vec<String>,
    #[serde(default)]
    pub cidr_blocks: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfframpAuthorisation {
    #[serde(default)]
    pub authorities: BTreeMap<String, BTreeSet<Grant>>,
}

/// Landing into a Hive-layout table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HiveDestination {
    pub enabled: bool,
    pub landing_interval_ms: u64,
    #[serde(default, skip_serializing_if = "DailySnapshot::is_off")]
    pub snapshot: DailySnapshot,
}

impl Default for HiveDestination {
    fn default() -> Self {
        Self { enabled: false, landing_interval_ms: 3_600_000, snapshot: DailySnapshot::default() }
    }
}

/// A daily snapshot of a COMPACTED road's table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailySnapshot {
    pub enabled: bool,
    /// When it is taken: minutes after midnight, UTC.
    #[serde(default)]
    pub minute_of_day: u32,
}

impl DailySnapshot {
    fn is_off(&self) -> bool {
        *self == Self::default()
    }
}

/// Limits on a road, shared by all its callers; `None` is no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoadQuotas {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub produce_records_per_second: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub produce_bytes_per_second: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offramp_bytes_per_second: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_subscriptions: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_snapshot_subscriptions: Option<u32>,
}

impl RoadQuotas {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Compatibility modes stored by their contract names, e.g.
/// `BACKWARD_TRANSITIVE`.
mod mode_name {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use super::CompatibilityMode as M;

    const NAMES: [(M, &str); 7] = [
        (M::None, "NONE"),
        (M::Backward, "BACKWARD"),
        (M::BackwardTransitive, "BACKWARD_TRANSITIVE"),
        (M::Forward, "FORWARD"),
        (M::ForwardTransitive, "FORWARD_TRANSITIVE"),
        (M::Full, "FULL"),
        (M::FullTransitive, "FULL_TRANSITIVE"),
    ];

    pub fn serialize<S: Serializer>(mode: &M, s: S) -> Result<S::Ok, S::Error> {
        let name = NAMES.iter().find(|(m, _)| m == mode).map_or("NONE", |(_, n)| n);
        s.serialize_str(name)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<M, D::Error> {
        let name = String::deserialize(d)?;
        NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(m, _)| *m)
            .ok_or_else(|| D::Error::custom(format!("unknown compatibility mode {name:?}")))
    }
}
