//! The changes UpdateRoad can make, and the rules that only make sense as a
//! change (immutable fields, partitions that only grow, enabling).

use std::collections::{BTreeMap, BTreeSet};

use super::PaverError;
use crate::error::FieldViolation;
use crate::roads::{CompatibilityMode, Grant, Road, RoadKind, RoadQuotas, RoadStatus, RoadType};

/// One field to change.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Description(String),
    TeamName(String),
    ContactEmail(String),
    Metadata(BTreeMap<String, String>),
    Enabled(bool),
    PartitionPath(Option<String>),
    Partitions(u32),
    RetentionMs(u64),
    MinCompactionLagMs(u64),
    TombstoneRetentionMs(u64),
    Compatibility(CompatibilityMode),
    Admins(Vec<String>),
    OnrampAuthorities(Vec<String>),
    OnrampCidrBlocks(Vec<String>),
    OfframpAuthorities(BTreeMap<String, BTreeSet<Grant>>),
    HiveEnabled(bool),
    HiveLandingIntervalMs(u64),
    HiveSnapshotEnabled(bool),
    HiveSnapshotMinute(u32),
    /// The whole of `quotas`, or one of its fields (the others kept).
    Quotas(RoadQuotas, QuotaFields),
    Materialized(bool),
}

/// Which fields of `quotas` a change sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaFields {
    All,
    ProduceRecords,
    ProduceBytes,
    OfframpBytes,
    Subscriptions,
    SnapshotSubscriptions,
}

impl QuotaFields {
    /// The mask path that names it.
    pub fn parse(path: &str) -> Option<Self> {
        Some(match path {
            "quotas" => QuotaFields::All,
            "quotas.produce_records_per_second" => QuotaFields::ProduceRecords,
            "quotas.produce_bytes_per_second" => QuotaFields::ProduceBytes,
            "quotas.offramp_bytes_per_second" => QuotaFields::OfframpBytes,
            "quotas.max_subscriptions" => QuotaFields::Subscriptions,
            "quotas.max_snapshot_subscriptions" => QuotaFields::SnapshotSubscriptions,
            _ => return None,
        })
    }
}

impl Change {
    /// The road field it changes, for the audit trail.
    pub fn field(&self) -> &'static str {
        match self {
            Change::Description(_) => "description",
            Change::TeamName(_) => "team_name",
            Change::ContactEmail(_) => "contact_email",
            Change::Metadata(_) => "metadata",
            Change::Enabled(_) => "enabled",
            Change::PartitionPath(_) => "partition_path",
            Change::Partitions(_) => "partitions",
            Change::RetentionMs(_) => "retention",
            Change::MinCompactionLagMs(_) => "compaction.min_compaction_lag",
            Change::TombstoneRetentionMs(_) => "compaction.tombstone_retention",
            Change::Compatibility(_) => "compatibility_mode",
            Change::Admins(_) => "authorisation.admins",
            Change::OnrampAuthorities(_) => "authorisation.onramp.authorities",
            Change::OnrampCidrBlocks(_) => "authorisation.onramp.cidr_blocks",
            Change::OfframpAuthorities(_) => "authorisation.offramp.authorities",
            Change::HiveEnabled(_) => "hive_destination.enabled",
            Change::HiveLandingIntervalMs(_) => "hive_destination.landing_interval",
            Change::HiveSnapshotEnabled(_) => "hive_destination.snapshot.enabled",
            Change::HiveSnapshotMinute(_) => "hive_destination.snapshot.time",
            Change::Quotas(..) => "quotas",
            Change::Materialized(_) => "materialized",
        }
    }
}

/// Applies `change` to `road`, refusing what a change may not do.
pub fn apply(road: &mut Road, change: Change, status: &RoadStatus) -> Result<(), PaverError> {
    let invalid = |field: &str, description: String| {
        PaverError::InvalidRoad(vec![FieldViolation::new(field, description)])
    };
    let road_type = road.road_type();
    match change {
        Change::Description(v) => road.description = v,
        Change::TeamName(v) => road.team_name = v,
        Change::ContactEmail(v) => road.contact_email = v,
        Change::Metadata(v) => road.metadata = v,
        Change::Enabled(true) if !road.enabled && !status.topic_created => {
            return Err(PaverError::Precondition {
                reason: "TOPIC_NOT_CREATED",
                message: format!(
                    "road {:?} can be enabled only once its topic exists (status.topic_created); {}",
                    road.name,
                    if status.last_problem.is_empty() {
                        "Traffic Control creates it shortly after the road".to_string()
                    } else {
                        format!("Traffic Control reports: {}", status.last_problem)
                    }
                ),
            });
        }
        Change::Enabled(v) => road.enabled = v,
        Change::PartitionPath(v) => match &mut road.kind {
            RoadKind::Stream { partition_path, .. } => *partition_path = v,
            RoadKind::Compacted { .. } if v.is_none() => {}
            RoadKind::Compacted { .. } => {
                return Err(invalid(
                    "road.partition_path",
                    "is not allowed on a COMPACTED road, whose records are keyed by the client"
                        .into(),
                ));
            }
        },
        Change::Partitions(n) if n == road.partitions => {}
        Change::Partitions(_) if road_type == RoadType::Compacted => {
            return Err(invalid(
                "road.partitions",
                "is immutable on a COMPACTED road: moving keys between partitions breaks compaction"
                    .into(),
            ));
        }
        Change::Partitions(n) if n < road.partitions => {
            return Err(invalid(
                "road.partitions",
                format!(
                    "can only grow (Kafka cannot remove partitions): {} < {}",
                    n, road.partitions
                ),
            ));
        }
        Change::Partitions(n) => road.partitions = n,
        Change::RetentionMs(v) => match &mut road.kind {
            RoadKind::Stream { retention_ms, .. } => *retention_ms = v,
            RoadKind::Compacted { .. } => {
                return Err(invalid(
                    "road.retention",
                    "applies to STREAM roads; a COMPACTED road has compaction settings".into(),
                ));
            }
        },
        Change::MinCompactionLagMs(v) => match &mut road.kind {
            RoadKind::Compacted { min_compaction_lag_ms, .. } => *min_compaction_lag_ms = v,
            RoadKind::Stream { .. } => return Err(compaction_on_stream("min_compaction_lag")),
        },
        Change::TombstoneRetentionMs(v) => match &mut road.kind {
            RoadKind::Compacted { tombstone_retention_ms, .. } => *tombstone_retention_ms = v,
            RoadKind::Stream { .. } => return Err(compaction_on_stream("tombstone_retention")),
        },
        Change::Compatibility(v) => road.compatibility = v,
        Change::Admins(v) => road.authorisation.admins = v,
        Change::OnrampAuthorities(v) => road.authorisation.onramp.authorities = v,
        Change::OnrampCidrBlocks(v) => road.authorisation.onramp.cidr_blocks = v,
        Change::OfframpAuthorities(v) => road.authorisation.offramp.authorities = v,
        Change::Materialized(true) if road_type == RoadType::Stream => {
            return Err(PaverError::InvalidRoad(vec![super::materialized_on_stream()]));
        }
        Change::Materialized(v) => road.materialized = v,
        Change::HiveEnabled(v) => road.hive.enabled = v,
        Change::HiveLandingIntervalMs(v) => road.hive.landing_interval_ms = v,
        Change::HiveSnapshotEnabled(v) => road.hive.snapshot.enabled = v,
        Change::HiveSnapshotMinute(v) => road.hive.snapshot.minute_of_day = v,
        Change::Quotas(v, fields) => {
            let q = &mut road.quotas;
            match fields {
                QuotaFields::All => *q = v,
                QuotaFields::ProduceRecords => {
                    q.produce_records_per_second = v.produce_records_per_second
                }
                QuotaFields::ProduceBytes => {
                    q.produce_bytes_per_second = v.produce_bytes_per_second
                }
                QuotaFields::OfframpBytes => {
                    q.offramp_bytes_per_second = v.offramp_bytes_per_second
                }
                QuotaFields::Subscriptions => q.max_subscriptions = v.max_subscriptions,
                QuotaFields::SnapshotSubscriptions => {
                    q.max_snapshot_subscriptions = v.max_snapshot_subscriptions
                }
            }
        }
    }
    Ok(())
}

fn compaction_on_stream(field: &str) -> PaverError {
    PaverError::InvalidRoad(vec![FieldViolation::new(
        format!("road.compaction.{field}"),
        "applies to COMPACTED roads; a STREAM road has a retention",
    )])
}
