//! Conversions between the roadroller.v1 messages and Paver's domain types.
//! Problems are collected as field violations named by their request path.

use std::collections::{BTreeMap, BTreeSet};

use prost_types::{Duration, Timestamp};
use roadroller_api::v1 as pb;

use crate::error::FieldViolation;
use crate::paver::{Change, NewRoad, QuotaFields, RoadView};
use crate::roads::{
    Authorisation, CompatibilityMode, DailySnapshot, Grant, HiveDestination, OfframpAuthorisation,
    OnrampAuthorisation, RoadKind, RoadQuotas, RoadType, SchemaVersion,
};

/// Collects violations while converting.
#[derive(Default)]
pub struct Problems(pub Vec<FieldViolation>);

impl Problems {
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    pub fn duration_ms(&mut self, field: &str, d: &Duration) -> Option<u64> {
        if d.seconds < 0 || d.nanos < 0 {
            self.add(field, "must not be negative");
            return None;
        }
        Some(d.seconds as u64 * 1000 + d.nanos as u64 / 1_000_000)
    }
}

pub fn road_type(value: i32) -> Result<Option<RoadType>, String> {
    match pb::RoadType::try_from(value) {
        Ok(pb::RoadType::Unspecified) => Ok(None),
        Ok(pb::RoadType::Stream) => Ok(Some(RoadType::Stream)),
        Ok(pb::RoadType::Compacted) => Ok(Some(RoadType::Compacted)),
        Err(_) => Err(format!("{value} is not a road type")),
    }
}

fn compatibility(value: i32) -> Result<Option<CompatibilityMode>, String> {
    use pb::CompatibilityMode as P;
    let mode =
        match P::try_from(value).map_err(|_| format!("{value} is not a compatibility mode"))? {
            P::Unspecified => return Ok(None),
            P::None => CompatibilityMode::None,
            P::Backward => CompatibilityMode::Backward,
            P::BackwardTransitive => CompatibilityMode::BackwardTransitive,
            P::Forward => CompatibilityMode::Forward,
            P::ForwardTransitive => CompatibilityMode::ForwardTransitive,
            P::Full => CompatibilityMode::Full,
            P::FullTransitive => CompatibilityMode::FullTransitive,
        };
    Ok(Some(mode))
}

fn compatibility_to_pb(mode: CompatibilityMode) -> pb::CompatibilityMode {
    use pb::CompatibilityMode as P;
    match mode {
        CompatibilityMode::None => P::None,
        CompatibilityMode::Backward => P::Backward,
        CompatibilityMode::BackwardTransitive => P::BackwardTransitive,
        CompatibilityMode::Forward => P::Forward,
        CompatibilityMode::ForwardTransitive => P::ForwardTransitive,
        CompatibilityMode::Full => P::Full,
        CompatibilityMode::FullTransitive => P::FullTransitive,
    }
}

pub fn grant(value: i32) -> Result<Grant, String> {
    match pb::Grant::try_from(value) {
        Ok(pb::Grant::Public) => Ok(Grant::Public),
        Ok(pb::Grant::Pii) => Ok(Grant::Pii),
        _ => Err(format!("{value} is not a grant (PUBLIC or PII)")),
    }
}

fn authorisation(a: Option<&pb::Authorisation>, p: &mut Problems) -> Authorisation {
    let Some(a) = a else { return Authorisation::default() };
    Authorisation {
        onramp: a.onramp.as_ref().map(onramp).unwrap_or_default(),
        offramp: OfframpAuthorisation {
            authorities: a
                .offramp
                .as_ref()
                .map(|o| offramp_authorities(&o.authorities, p))
                .unwrap_or_default(),
        },
        admins: a.admins.clone(),
    }
}

fn onramp(o: &pb::OnrampAuthorisation) -> OnrampAuthorisation {
    OnrampAuthorisation { authorities: o.authorities.clone(), cidr_blocks: o.cidr_blocks.clone() }
}

fn offramp_authorities(
    authorities: &std::collections::HashMap<String, pb::Grants>,
    p: &mut Problems,
) -> BTreeMap<String, BTreeSet<Grant>> {
    let mut out = BTreeMap::new();
    for (authority, grants) in authorities {
        let mut set = BTreeSet::new();
        for g in &grants.grants {
            match grant(*g) {
                Ok(g) => {
                    set.insert(g);
                }
                Err(e) => p.add(format!("road.authorisation.offramp.authorities[{authority}]"), e),
            }
        }
        out.insert(authority.clone(), set);
    }
    out
}

fn hive(h: &pb::HiveDestination, p: &mut Problems) -> HiveDestination {
    let landing_interval_ms = match &h.landing_interval {
        Some(d) => p
            .duration_ms("road.hive_destination.landing_interval", d)
            .unwrap_or(HiveDestination::default().landing_interval_ms),
        None => HiveDestination::default().landing_interval_ms,
    };
    let snapshot = h.snapshot.as_ref().map_or_else(DailySnapshot::default, |d| DailySnapshot {
        enabled: d.enabled,
        minute_of_day: match time_of_day(&d.time) {
            Ok(minute) => minute,
            Err(e) => {
                p.add("road.hive_destination.snapshot.time", e);
                0
            }
        },
    });
    HiveDestination { enabled: h.enabled, landing_interval_ms, snapshot }
}

/// `HH:MM` (UTC) as minutes after midnight; empty is midnight.
fn time_of_day(text: &str) -> Result<u32, String> {
    if text.is_empty() {
        return Ok(0);
    }
    let refuse = || format!("must be a UTC time of day as HH:MM (00:00 to 23:59), not {text:?}");
    let (h, m) = text.split_once(':').ok_or_else(refuse)?;
    let digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || !digits(m) {
        return Err(refuse());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| refuse())?, m.parse().map_err(|_| refuse())?);
    if h > 23 || m > 59 {
        return Err(refuse());
    }
    Ok(h * 60 + m)
}

fn quotas(q: Option<&pb::RoadQuotas>) -> RoadQuotas {
    let Some(q) = q else { return RoadQuotas::default() };
    RoadQuotas {
        produce_records_per_second: q.produce_records_per_second,
        produce_bytes_per_second: q.produce_bytes_per_second,
        offramp_bytes_per_second: q.offramp_bytes_per_second,
        max_subscriptions: q.max_subscriptions,
        max_snapshot_subscriptions: q.max_snapshot_subscriptions,
    }
}

fn quotas_to_pb(q: &RoadQuotas) -> pb::RoadQuotas {
    pb::RoadQuotas {
        produce_records_per_second: q.produce_records_per_second,
        produce_bytes_per_second: q.produce_bytes_per_second,
        offramp_bytes_per_second: q.offramp_bytes_per_second,
        max_subscriptions: q.max_subscriptions,
        max_snapshot_subscriptions: q.max_snapshot_subscriptions,
    }
}

/// A CreateRoad request's road.
pub fn new_road(road: &pb::Road) -> Result<NewRoad, Vec<FieldViolation>> {
    let mut p = Problems::default();
    let road_type = road_type(road.r#type).unwrap_or_else(|e| {
        p.add("road.type", e);
        None
    });
    let compatibility = compatibility(road.compatibility_mode).unwrap_or_else(|e| {
        p.add("road.compatibility_mode", e);
        None
    });
    let partitions = match road.partitions {
        0 => None,
        n if n < 0 => {
            p.add("road.partitions", format!("must not be negative, not {n}"));
            None
        }
        n => Some(n as u32),
    };
    let retention_ms = road.retention.as_ref().and_then(|d| p.duration_ms("road.retention", d));
    let (min_compaction_lag_ms, tombstone_retention_ms) = match &road.compaction {
        Some(c) => (
            c.min_compaction_lag
                .as_ref()
                .and_then(|d| p.duration_ms("road.compaction.min_compaction_lag", d)),
            c.tombstone_retention
                .as_ref()
                .and_then(|d| p.duration_ms("road.compaction.tombstone_retention", d)),
        ),
        None => (None, None),
    };
    let new = NewRoad {
        name: road.name.clone(),
        road_type,
        description: road.description.clone(),
        team_name: road.team_name.clone(),
        contact_email: road.contact_email.clone(),
        metadata: road.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        enabled: road.enabled,
        partition_path: Some(road.partition_path.clone()).filter(|s| !s.is_empty()),
        partitions,
        retention_ms,
        min_compaction_lag_ms,
        tombstone_retention_ms,
        compatibility,
        authorisation: authorisation(road.authorisation.as_ref(), &mut p),
        hive: road.hive_destination.as_ref().map(|h| hive(h, &mut p)),
        quotas: quotas(road.quotas.as_ref()),
        materialized: road.materialized,
    };
    if p.0.is_empty() { Ok(new) } else { Err(p.0) }
}

/// The changes named by an UpdateRoad field mask, with values from `road`.
pub fn changes(road: &pb::Road, paths: &[String]) -> Result<Vec<Change>, Vec<FieldViolation>> {
    let mut p = Problems::default();
    if paths.is_empty() {
        p.add("update_mask", "is required: name the fields to change");
    }
    let mut out = Vec::new();
    for path in paths {
        let field = format!("road.{path}");
        match path.as_str() {
            "description" => out.push(Change::Description(road.description.clone())),
            "team_name" => out.push(Change::TeamName(road.team_name.clone())),
            "contact_email" => out.push(Change::ContactEmail(road.contact_email.clone())),
            "metadata" => out.push(Change::Metadata(
                road.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            )),
            "enabled" => out.push(Change::Enabled(road.enabled)),
            "partition_path" => out.push(Change::PartitionPath(
                Some(road.partition_path.clone()).filter(|s| !s.is_empty()),
            )),
            "partitions" if road.partitions <= 0 => {
                p.add(field, format!("must be positive, not {}", road.partitions));
            }
            "partitions" => out.push(Change::Partitions(road.partitions as u32)),
            "retention" => match &road.retention {
                Some(d) => {
                    if let Some(ms) = p.duration_ms(&field, d) {
                        out.push(Change::RetentionMs(ms));
                    }
                }
                None => p.add(field, "must be set when named in the mask"),
            },
            "compaction" | "compaction.min_compaction_lag" | "compaction.tombstone_retention" => {
                let c = road.compaction.unwrap_or_default();
                let whole = path == "compaction";
                if whole || path.ends_with("min_compaction_lag") {
                    match &c.min_compaction_lag {
                        Some(d) => {
                            let f = "road.compaction.min_compaction_lag";
                            if let Some(ms) = p.duration_ms(f, d) {
                                out.push(Change::MinCompactionLagMs(ms));
                            }
                        }
                        None => p.add(
                            "road.compaction.min_compaction_lag",
                            "must be set when named in the mask",
                        ),
                    }
                }
                if whole || path.ends_with("tombstone_retention") {
                    match &c.tombstone_retention {
                        Some(d) => {
                            let f = "road.compaction.tombstone_retention";
                            if let Some(ms) = p.duration_ms(f, d) {
                                out.push(Change::TombstoneRetentionMs(ms));
                            }
                        }
                        None => p.add(
                            "road.compaction.tombstone_retention",
                            "must be set when named in the mask",
                        ),
                    }
                }
            }
            "compatibility_mode" => match compatibility(road.compatibility_mode) {
                Ok(Some(mode)) => out.push(Change::Compatibility(mode)),
                Ok(None) => p.add(field, "must be set when named in the mask"),
                Err(e) => p.add(field, e),
            },
            "authorisation"
            | "authorisation.admins"
            | "authorisation.onramp"
            | "authorisation.onramp.authorities"
            | "authorisation.onramp.cidr_blocks"
            | "authorisation.offramp"
            | "authorisation.offramp.authorities" => {
                let a = road.authorisation.clone().unwrap_or_default();
                let o = a.onramp.clone().unwrap_or_default();
                if matches!(path.as_str(), "authorisation" | "authorisation.admins") {
                    out.push(Change::Admins(a.admins.clone()));
                }
                if matches!(
                    path.as_str(),
                    "authorisation" | "authorisation.onramp" | "authorisation.onramp.authorities"
                ) {
                    out.push(Change::OnrampAuthorities(o.authorities.clone()));
                }
                if matches!(
                    path.as_str(),
                    "authorisation" | "authorisation.onramp" | "authorisation.onramp.cidr_blocks"
                ) {
                    out.push(Change::OnrampCidrBlocks(o.cidr_blocks.clone()));
                }
                if matches!(
                    path.as_str(),
                    "authorisation" | "authorisation.offramp" | "authorisation.offramp.authorities"
                ) {
                    let authorities = a.offramp.map(|off| off.authorities).unwrap_or_default();
                    out.push(Change::OfframpAuthorities(offramp_authorities(&authorities, &mut p)));
                }
            }
            "hive_destination"
            | "hive_destination.enabled"
            | "hive_destination.landing_interval"
            | "hive_destination.snapshot"
            | "hive_destination.snapshot.enabled"
            | "hive_destination.snapshot.time" => {
                let h = hive(&road.hive_destination.clone().unwrap_or_default(), &mut p);
                let whole = path == "hive_destination";
                if whole || path == "hive_destination.enabled" {
                    out.push(Change::HiveEnabled(h.enabled));
                }
                if whole || path == "hive_destination.landing_interval" {
                    out.push(Change::HiveLandingIntervalMs(h.landing_interval_ms));
                }
                let snapshot = whole || path == "hive_destination.snapshot";
                if snapshot || path == "hive_destination.snapshot.enabled" {
                    out.push(Change::HiveSnapshotEnabled(h.snapshot.enabled));
                }
                if snapshot || path == "hive_destination.snapshot.time" {
                    out.push(Change::HiveSnapshotMinute(h.snapshot.minute_of_day));
                }
            }
            path if path == "quotas" || path.starts_with("quotas.") => {
                match QuotaFields::parse(path) {
                    Some(fields) => out.push(Change::Quotas(quotas(road.quotas.as_ref()), fields)),
                    None => p.add(
                        "update_mask",
                        format!("{path:?} is not a field of RoadQuotas that can be updated"),
                    ),
                }
            }
            "materialized" => out.push(Change::Materialized(road.materialized)),
            "name" | "type" => p.add(field, "is immutable"),
            "status"
            | "message_count"
            | "latest_schema_version"
            | "deleting"
            | "table"
            | "create_time"
            | "update_time"
            | "etag" => p.add(field, "is output only"),
            other if other.starts_with("status.") || other.starts_with("table.") => {
                p.add(field, "is output only")
            }
            other => p.add(
                "update_mask",
                format!("{other:?} is not a field of Road that can be updated"),
            ),
        }
    }
    if p.0.is_empty() { Ok(out) } else { Err(p.0) }
}

/// An etag as clients send it: empty for none.
pub fn etag(text: &str) -> Result<Option<i64>, Vec<FieldViolation>> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        vec![FieldViolation::new("etag", format!("{text:?} is not an etag this server issued"))]
    })
}

fn duration(ms: u64) -> Duration {
    Duration { seconds: (ms / 1000) as i64, nanos: ((ms % 1000) * 1_000_000) as i32 }
}

pub fn timestamp(ms: i64) -> Timestamp {
    roadroller_api::timestamp_from_millis(ms)
}

/// The road as the contract shows it.
pub fn road_to_pb(view: &RoadView) -> pb::Road {
    let road = &view.road;
    let (retention, compaction, partition_path) = match &road.kind {
        RoadKind::Stream { retention_ms, partition_path } => {
            (Some(duration(*retention_ms)), None, partition_path.clone().unwrap_or_default())
        }
        RoadKind::Compacted { min_compaction_lag_ms, tombstone_retention_ms } => (
            None,
            Some(pb::Compaction {
                min_compaction_lag: Some(duration(*min_compaction_lag_ms)),
                tombstone_retention: Some(duration(*tombstone_retention_ms)),
            }),
            String::new(),
        ),
    };
    let status = &view.status;
    pb::Road {
        name: road.name.clone(),
        r#type: match road.road_type() {
            RoadType::Stream => pb::RoadType::Stream,
            RoadType::Compacted => pb::RoadType::Compacted,
        } as i32,
        description: road.description.clone(),
        team_name: road.team_name.clone(),
        contact_email: road.contact_email.clone(),
        metadata: road.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        enabled: road.enabled,
        partition_path,
        partitions: road.partitions as i32,
        retention,
        compaction,
        compatibility_mode: compatibility_to_pb(road.compatibility) as i32,
        authorisation: Some(pb::Authorisation {
            admins: road.authorisation.admins.clone(),
            onramp: Some(pb::OnrampAuthorisation {
                authorities: road.authorisation.onramp.authorities.clone(),
                cidr_blocks: road.authorisation.onramp.cidr_blocks.clone(),
            }),
            offramp: Some(pb::OfframpAuthorisation {
                authorities: road
                    .authorisation
                    .offramp
                    .authorities
                    .iter()
                    .map(|(a, grants)| {
                        let grants = grants
                            .iter()
                            .map(|g| match g {
                                Grant::Public => pb::Grant::Public as i32,
                                Grant::Pii => pb::Grant::Pii as i32,
                            })
                            .collect();
                        (a.clone(), pb::Grants { grants })
                    })
                    .collect(),
            }),
        }),
        hive_destination: Some(pb::HiveDestination {
            enabled: road.hive.enabled,
            landing_interval: Some(duration(road.hive.landing_interval_ms)),
            snapshot: (road.hive.snapshot != DailySnapshot::default()).then(|| pb::HiveSnapshot {
                enabled: road.hive.snapshot.enabled,
                time: format!(
                    "{:02}:{:02}",
                    road.hive.snapshot.minute_of_day / 60,
                    road.hive.snapshot.minute_of_day % 60
                ),
            }),
            status: view.landing.as_ref().map(|l| pb::HiveStatus {
                last_landing_time: (l.last_landing_ms > 0)
                    .then(|| roadroller_api::timestamp_from_millis(l.last_landing_ms)),
                last_acquisition_instant: l.last_instant.clone(),
                offsets: l.offsets.clone().into_iter().collect(),
                last_records: l.last_records as i64,
                last_files: l.last_files as i32,
                last_error: l.last_error.clone(),
                last_snapshot_date: l.last_snapshot_date.clone(),
                last_snapshot_keys: l.last_snapshot_keys as i64,
            }),
        }),
        quotas: (!road.quotas.is_empty()).then(|| quotas_to_pb(&road.quotas)),
        status: Some(pb::RoadStatus {
            topic_name: status.topic_name.clone(),
            topic_created: status.topic_created,
            partitions: status.partitions,
            replication_factor: status.replication_factor,
            last_problem: status.last_problem.clone(),
            drift: status
                .drift
                .iter()
                .map(|d| pb::ConfigDrift {
                    config: d.config.clone(),
                    expected: d.expected.clone(),
                    actual: d.actual.clone(),
                })
                .collect(),
            update_time: (status.update_time_ms > 0).then(|| timestamp(status.update_time_ms)),
        }),
        message_count: status.message_count,
        latest_schema_version: road.latest_schema().map_or(0, |s| s.version as i32),
        deleting: road.deleting,
        materialized: road.materialized,
        table: view.table.as_ref().map(|t| pb::TableStatus {
            ready: t.ready,
            live_keys: t.live_keys as i64,
            tombstones_pending: t.tombstones_pending as i64,
            offsets: t.offsets.iter().map(|(p, o)| (*p, *o)).collect(),
            last_problem: t.last_problem.clone(),
            records_applied: t.records_applied as i64,
        }),
        create_time: Some(timestamp(road.create_time_ms)),
        update_time: Some(timestamp(road.update_time_ms)),
        etag: view.etag.to_string(),
    }
}

pub fn schema_to_pb(road: &str, s: &SchemaVersion) -> pb::Schema {
    pb::Schema {
        road: road.to_string(),
        version: s.version as i32,
        schema: s.schema.clone(),
        deleted: s.deleted,
        create_time: Some(timestamp(s.create_time_ms)),
    }
}
