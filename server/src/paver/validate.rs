//! Checks of a whole road, shared by creation and update. Each problem is a
//! field violation named by its path in the request (`road.contact_email`).

use crate::error::FieldViolation;
use crate::roads::{Road, RoadKind, RoadType, rules};
use crate::schema::path::PartitionPath;

/// Every problem with `road`'s fields; a Hive destination lands at most
/// every `min_landing_ms`.
pub fn road(road: &Road, min_landing_ms: u64) -> Vec<FieldViolation> {
    let mut problems = Vec::new();
    let mut check = |field: &str, result: Result<(), String>| {
        if let Err(description) = result {
            problems.push(FieldViolation::new(field, description));
        }
    };
    check("road.name", rules::name(&road.name));
    if !road.contact_email.is_empty() {
        check("road.contact_email", rules::email(&road.contact_email));
    }
    check("road.partitions", rules::partitions(road.partitions));
    match &road.kind {
        RoadKind::Stream { retention_ms, partition_path } => {
            check("road.retention", rules::positive_ms(*retention_ms));
            if let Some(path) = partition_path {
                check("road.partition_path", partition_path_resolves(road, path));
            }
        }
        RoadKind::Compacted { min_compaction_lag_ms, tombstone_retention_ms } => {
            check("road.compaction.min_compaction_lag", rules::positive_ms(*min_compaction_lag_ms));
            check(
                "road.compaction.tombstone_retention",
                rules::positive_ms(*tombstone_retention_ms),
            );
        }
    }
    for key in road.metadata.keys() {
        if key.is_empty() {
            check("road.metadata", Err("keys must not be empty".into()));
        }
    }
    for (i, authority) in road.authorisation.admins.iter().enumerate() {
        check(&format!("road.authorisation.admins[{i}]"), authority_name(authority));
    }
    let onramp = &road.authorisation.onramp;
    for (i, authority) in onramp.authorities.iter().enumerate() {
        check(&format!("road.authorisation.onramp.authorities[{i}]"), authority_name(authority));
    }
    for (i, block) in onramp.cidr_blocks.iter().enumerate() {
        check(&format!("road.authorisation.onramp.cidr_blocks[{i}]"), rules::cidr_block(block));
    }
    for authority in road.authorisation.offramp.authorities.keys() {
        check("road.authorisation.offramp.authorities", authority_name(authority));
    }
    let q = &road.quotas;
    let quotas = [
        ("produce_records_per_second", q.produce_records_per_second),
        ("produce_bytes_per_second", q.produce_bytes_per_second),
        ("offramp_bytes_per_second", q.offramp_bytes_per_second),
        ("max_subscriptions", q.max_subscriptions.map(u64::from)),
        ("max_snapshot_subscriptions", q.max_snapshot_subscriptions.map(u64::from)),
    ];
    for (name, value) in quotas {
        if value == Some(0) {
            check(
                &format!("road.quotas.{name}"),
                Err("must be positive; leave it unset for no limit (disable the road to stop \
                     its traffic)"
                    .into()),
            );
        }
    }
    if road.hive.snapshot.enabled && road.road_type() != RoadType::Compacted {
        check(
            "road.hive_destination.snapshot.enabled",
            Err("only COMPACTED roads have snapshots: a STREAM road has no latest value per key"
                .into()),
        );
    }
    let interval = road.hive.landing_interval_ms;
    if !(min_landing_ms..=rules::MAX_LANDING_INTERVAL_MS).contains(&interval) {
        check(
            "road.hive_destination.landing_interval",
            Err(format!(
                "must be from {} to 1 day, not {}",
                fmt_interval(min_landing_ms),
                fmt_ms(interval)
            )),
        );
    }
    problems
}

/// The path parses and, when the road has a schema, names a property of its
/// latest version.
pub fn partition_path_resolves(road: &Road, path: &str) -> Result<(), String> {
    let parsed = PartitionPath::parse(path).map_err(|e| format!("{path:?}: {e}"))?;
    let Some(latest) = road.latest_schema() else { return Ok(()) };
    let schema: serde_json::Value = serde_json::from_str(&latest.schema)
        .map_err(|e| format!("schema version {} is unreadable: {e}", latest.version))?;
    parsed
        .resolve_in(&schema)
        .map_err(|e| format!("{path:?} does not resolve in schema version {}: {e}", latest.version))
}

fn authority_name(authority: &str) -> Result<(), String> {
    if authority.trim().is_empty() { Err("must not be empty".into()) } else { Ok(()) }
}

/// "5 minutes", "2 seconds": the lower bound as Data Highway words it.
fn fmt_interval(ms: u64) -> String {
    let (n, unit) = match ms {
        ms if ms % 3_600_000 == 0 => (ms / 3_600_000, "hour"),
        ms if ms % 60_000 == 0 => (ms / 60_000, "minute"),
        ms if ms % 1_000 == 0 => (ms / 1_000, "second"),
        ms => (ms, "millisecond"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

fn fmt_ms(ms: u64) -> String {
    humantime::format_duration(std::time::Duration::from_millis(ms)).to_string()
}
