//! `roadroller road ...`

use std::time::Duration;

use clap::{Subcommand, ValueEnum};

use super::{Failure, duration};
use crate::{Client, pb};

#[derive(Debug, Subcommand)]
pub enum RoadCommand {
    /// Create a road (disabled until its topic exists; see --enable)
    Create(Box<CreateArgs>),
    /// Show a road
    Get {
        name: String,
        /// Print the road as JSON
        #[arg(long)]
        json: bool,
    },
    /// List roads
    List {
        #[arg(long = "type", value_enum)]
        road_type: Option<Kind>,
    },
    /// Change the given fields of a road
    Update(Box<UpdateArgs>),
    /// Enable a road, waiting for its topic if needed
    Enable {
        name: String,
        /// How long to wait for the topic
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        wait: Duration,
    },
    /// Disable a road
    Disable { name: String },
    /// Delete a disabled road (its topic first, then the road)
    Delete { name: String },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Kind {
    Stream,
    Compacted,
}

impl Kind {
    fn pb(self) -> pb::RoadType {
        match self {
            Kind::Stream => pb::RoadType::Stream,
            Kind::Compacted => pb::RoadType::Compacted,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Compatibility {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl Compatibility {
    fn pb(self) -> i32 {
        use pb::CompatibilityMode as M;
        (match self {
            Compatibility::None => M::None,
            Compatibility::Backward => M::Backward,
            Compatibility::BackwardTransitive => M::BackwardTransitive,
            Compatibility::Forward => M::Forward,
            Compatibility::ForwardTransitive => M::ForwardTransitive,
            Compatibility::Full => M::Full,
            Compatibility::FullTransitive => M::FullTransitive,
        }) as i32
    }
}

/// Fields a road can be created or updated with.
#[derive(clap::Args, Debug, Default)]
pub struct Fields {
    #[arg(long)]
    description: Option<String>,
    #[arg(long)]
    team: Option<String>,
    #[arg(long)]
    contact: Option<String>,
    #[arg(long)]
    partitions: Option<i32>,
    /// STREAM roads: the payload path that keys records, e.g. $.user.id
    #[arg(long)]
    partition_path: Option<String>,
    /// STREAM roads: how long records live, e.g. 7d
    #[arg(long, value_parser = duration)]
    retention: Option<prost_types::Duration>,
    /// COMPACTED roads: how long every update stays readable
    #[arg(long, value_parser = duration)]
    min_compaction_lag: Option<prost_types::Duration>,
    /// COMPACTED roads: how long deletes stay visible
    #[arg(long, value_parser = duration)]
    tombstone_retention: Option<prost_types::Duration>,
    #[arg(long, value_enum)]
    compatibility: Option<Compatibility>,
    /// Records/s the road accepts from everyone together; `none` removes the limit
    #[arg(long, value_name = "N|none", value_parser = limit)]
    produce_records_per_second: Option<Limit>,
    /// Record bytes/s (key plus payload) the road accepts; `none` removes the limit
    #[arg(long, value_name = "BYTES|none", value_parser = limit)]
    produce_bytes_per_second: Option<Limit>,
    /// Payload bytes/s the road delivers to all its subscribers; `none` removes the limit
    #[arg(long, value_name = "BYTES|none", value_parser = limit)]
    offramp_bytes_per_second: Option<Limit>,
    /// Subscriptions open on the road at once; `none` removes the limit
    #[arg(long, value_name = "N|none", value_parser = limit)]
    max_subscriptions: Option<Limit>,
    /// SNAPSHOT subscriptions reading the road at once (more wait in line); `none` removes the limit
    #[arg(long, value_name = "N|none", value_parser = limit)]
    max_snapshot_subscriptions: Option<Limit>,
    /// COMPACTED roads: keep the road's current state on every instance and
    /// serve it by key (`roadroller get`, `roadroller keys`)
    #[arg(long, value_name = "BOOL")]
    materialized: Option<bool>,
    /// Land the road into a Hive table in the server's warehouse (Loading Bay)
    #[arg(long, value_name = "BOOL")]
    hive: Option<bool>,
    /// How often the road is landed, from 5m to 1d
    #[arg(long, value_parser = duration)]
    landing_interval: Option<prost_types::Duration>,
    /// COMPACTED roads: take a daily snapshot of the Hive table, one row per
    /// live key
    #[arg(long, value_name = "BOOL")]
    snapshot: Option<bool>,
    /// When the daily snapshot is taken, HH:MM in UTC
    #[arg(long, value_name = "HH:MM")]
    snapshot_time: Option<String>,
}

/// A quota as given on the command line: a positive number, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit(Option<u64>);

fn limit(s: &str) -> Result<Limit, String> {
    match s {
        "none" => Ok(Limit(None)),
        n => match n.parse::<u64>() {
            Ok(0) | Err(_) => Err(format!("expected a positive number or none, not {n:?}")),
            Ok(n) => Ok(Limit(Some(n))),
        },
    }
}

impl Fields {
    /// Sets the given fields on `road`; returns their field-mask paths.
    fn apply(self, road: &mut pb::Road) -> Vec<&'static str> {
        let mut paths = Vec::new();
        let mut set = |given: bool, path| {
            if given {
                paths.push(path);
            }
        };
        set(self.description.is_some(), "description");
        set(self.team.is_some(), "team_name");
        set(self.contact.is_some(), "contact_email");
        set(self.partitions.is_some(), "partitions");
        set(self.partition_path.is_some(), "partition_path");
        set(self.retention.is_some(), "retention");
        set(self.min_compaction_lag.is_some(), "compaction.min_compaction_lag");
        set(self.tombstone_retention.is_some(), "compaction.tombstone_retention");
        set(self.compatibility.is_some(), "compatibility_mode");
        set(self.materialized.is_some(), "materialized");
        road.materialized = self.materialized.unwrap_or_default();
        set(self.hive.is_some(), "hive_destination.enabled");
        set(self.landing_interval.is_some(), "hive_destination.landing_interval");
        set(self.snapshot.is_some(), "hive_destination.snapshot.enabled");
        set(self.snapshot_time.is_some(), "hive_destination.snapshot.time");
        let snapshot =
            (self.snapshot.is_some() || self.snapshot_time.is_some()).then(|| pb::HiveSnapshot {
                enabled: self.snapshot.unwrap_or_default(),
                time: self.snapshot_time.clone().unwrap_or_default(),
            });
        if self.hive.is_some() || self.landing_interval.is_some() || snapshot.is_some() {
            road.hive_destination = Some(pb::HiveDestination {
                enabled: self.hive.unwrap_or_default(),
                landing_interval: self.landing_interval,
                status: None,
                snapshot,
            });
        }
        road.description = self.description.unwrap_or_default();
        road.team_name = self.team.unwrap_or_default();
        road.contact_email = self.contact.unwrap_or_default();
        road.partitions = self.partitions.unwrap_or_default();
        road.partition_path = self.partition_path.unwrap_or_default();
        road.retention = self.retention;
        if self.min_compaction_lag.is_some() || self.tombstone_retention.is_some() {
            road.compaction = Some(pb::Compaction {
                min_compaction_lag: self.min_compaction_lag,
                tombstone_retention: self.tombstone_retention,
            });
        }
        road.compatibility_mode = self.compatibility.map_or(0, Compatibility::pb);
        let quotas = [
            (self.produce_records_per_second, "quotas.produce_records_per_second"),
            (self.produce_bytes_per_second, "quotas.produce_bytes_per_second"),
            (self.offramp_bytes_per_second, "quotas.offramp_bytes_per_second"),
            (self.max_subscriptions, "quotas.max_subscriptions"),
            (self.max_snapshot_subscriptions, "quotas.max_snapshot_subscriptions"),
        ];
        if quotas.iter().any(|(given, _)| given.is_some()) {
            let count =
                |l: Option<Limit>| l.and_then(|l| l.0).map(|n| n.min(u32::MAX.into()) as u32);
            road.quotas = Some(pb::RoadQuotas {
                produce_records_per_second: self.produce_records_per_second.and_then(|l| l.0),
                produce_bytes_per_second: self.produce_bytes_per_second.and_then(|l| l.0),
                offramp_bytes_per_second: self.offramp_bytes_per_second.and_then(|l| l.0),
                max_subscriptions: count(self.max_subscriptions),
                max_snapshot_subscriptions: count(self.max_snapshot_subscriptions),
            });
        }
        for (given, path) in quotas {
            set(given.is_some(), path);
        }
        paths
    }
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    name: String,
    #[arg(long = "type", value_enum)]
    road_type: Kind,
    #[command(flatten)]
    fields: Fields,
    /// Wait for the topic, then enable the road
    #[arg(long)]
    enable: bool,
}

#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    name: String,
    #[command(flatten)]
    fields: Fields,
    /// With `--materialized true`: how long to wait for this instance's view
    /// to catch up with the topic
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    wait: Duration,
}

pub async fn run(client: &Client, command: RoadCommand) -> Result<(), Failure> {
    match command {
        RoadCommand::Create(args) => {
            let mut road = pb::Road {
                name: args.name.clone(),
                r#type: args.road_type.pb() as i32,
                ..Default::default()
            };
            args.fields.apply(&mut road);
            let mut created = client.create_road(road).await?;
            if args.enable {
                created = client.enable_when_ready(&args.name, Duration::from_secs(30)).await?;
            }
            print_road(&created);
        }
        RoadCommand::Get { name, json } => {
            let road = client.get_road(&name).await?;
            if json { println!("{}", road_json(&road)) } else { print_road(&road) }
        }
        RoadCommand::List { road_type } => {
            for road in client.list_roads(road_type.map(Kind::pb)).await? {
                println!(
                    "{:<32} {:<10} {:<9} {} messages",
                    road.name,
                    type_name(road.r#type),
                    if road.enabled { "enabled" } else { "disabled" },
                    road.message_count
                );
            }
        }
        RoadCommand::Update(args) => {
            let mut road = pb::Road { name: args.name, ..Default::default() };
            let paths = args.fields.apply(&mut road);
            if paths.is_empty() {
                return Err(Failure::local(
                    "name at least one field to change, e.g. --description",
                ));
            }
            let mut updated = client.update_road(road, &paths).await?;
            // As `enable` waits for the topic: reads work once this returns.
            if updated.materialized && paths.contains(&"materialized") {
                updated = client.wait_for_table(&updated.name, args.wait).await?;
            }
            print_road(&updated);
        }
        RoadCommand::Enable { name, wait } => {
            print_road(&client.enable_when_ready(&name, wait).await?)
        }
        RoadCommand::Disable { name } => print_road(&client.set_enabled(&name, false).await?),
        RoadCommand::Delete { name } => {
            client.delete_road(&name).await?;
            println!("road {name} is being deleted: its topic goes first, then the road");
        }
    }
    Ok(())
}

fn type_name(t: i32) -> &'static str {
    match pb::RoadType::try_from(t) {
        Ok(pb::RoadType::Stream) => "STREAM",
        Ok(pb::RoadType::Compacted) => "COMPACTED",
        _ => "?",
    }
}

fn print_road(road: &pb::Road) {
    let status = road.status.clone().unwrap_or_default();
    println!("road        {}", road.name);
    println!("type        {}", type_name(road.r#type));
    println!("enabled     {}{}", road.enabled, if road.deleting { " (being deleted)" } else { "" });
    println!("partitions  {}", road.partitions);
    println!(
        "topic       {} ({})",
        status.topic_name,
        if status.topic_created { "created" } else { "not created yet" }
    );
    println!("messages    {}", road.message_count);
    println!(
        "schema      {}",
        if road.latest_schema_version > 0 {
            format!("version {}", road.latest_schema_version)
        } else {
            "none".into()
        }
    );
    for d in &status.drift {
        println!("drift       {}: road says {:?}, topic has {:?}", d.config, d.expected, d.actual);
    }
    if !status.last_problem.is_empty() {
        println!("problem     {}", status.last_problem);
    }
    if road.materialized {
        match &road.table {
            Some(t) if t.ready => println!(
                "table       {} live keys, {} deletes pending{}",
                t.live_keys,
                t.tombstones_pending,
                if t.last_problem.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", t.last_problem)
                }
            ),
            Some(t) => println!(
                "table       building: {} records applied{}",
                t.records_applied,
                if t.last_problem.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", t.last_problem)
                }
            ),
            None => println!("table       materialized; no view on this instance yet"),
        }
    }
    if let Some(hive) = road.hive_destination.as_ref().filter(|h| h.enabled) {
        let every = hive.landing_interval.map_or(3600, |d| d.seconds);
        let every = humantime::format_duration(std::time::Duration::from_secs(every as u64));
        let last = match hive.status.as_ref() {
            Some(s) if !s.last_error.is_empty() => {
                format!("; last attempt failed: {}", s.last_error)
            }
            Some(s) if !s.last_acquisition_instant.is_empty() => format!(
                "; last landing {} ({} records, {} files)",
                s.last_acquisition_instant, s.last_records, s.last_files
            ),
            _ => String::new(),
        };
        println!("hive        landed every {every}{last}");
        if let Some(daily) = hive.snapshot.as_ref().filter(|s| s.enabled) {
            let last = match hive.status.as_ref() {
                Some(s) if !s.last_snapshot_date.is_empty() => {
                    format!("; last {} ({} keys)", s.last_snapshot_date, s.last_snapshot_keys)
                }
                _ => String::new(),
            };
            println!("snapshot    daily at {} UTC{last}", daily.time);
        }
    }
    let quotas = quota_list(road);
    if !quotas.is_empty() {
        let listed: Vec<String> = quotas.iter().map(|(name, n)| format!("{name} {n}")).collect();
        println!("quotas      {}", listed.join(", "));
    }
}

/// The road's quotas that are set, by their field names.
fn quota_list(road: &pb::Road) -> Vec<(&'static str, u64)> {
    let Some(q) = &road.quotas else { return Vec::new() };
    [
        ("produce_records_per_second", q.produce_records_per_second),
        ("produce_bytes_per_second", q.produce_bytes_per_second),
        ("offramp_bytes_per_second", q.offramp_bytes_per_second),
        ("max_subscriptions", q.max_subscriptions.map(u64::from)),
        ("max_snapshot_subscriptions", q.max_snapshot_subscriptions.map(u64::from)),
    ]
    .into_iter()
    .filter_map(|(name, v)| v.map(|v| (name, v)))
    .collect()
}

fn road_json(road: &pb::Road) -> serde_json::Value {
    let status = road.status.clone().unwrap_or_default();
    serde_json::json!({
        "name": road.name,
        "type": type_name(road.r#type),
        "enabled": road.enabled,
        "deleting": road.deleting,
        "partitions": road.partitions,
        "partitionPath": road.partition_path,
        "description": road.description,
        "teamName": road.team_name,
        "contactEmail": road.contact_email,
        "messageCount": road.message_count,
        "latestSchemaVersion": road.latest_schema_version,
        "etag": road.etag,
        "materialized": road.materialized,
        "table": road.table.as_ref().map(|t| serde_json::json!({
            "ready": t.ready,
            "liveKeys": t.live_keys,
            "tombstonesPending": t.tombstones_pending,
            "recordsApplied": t.records_applied,
            "offsets": t.offsets.iter().map(|(p, o)| (p.to_string(), serde_json::Value::from(*o))).collect::<serde_json::Map<_, _>>(),
        })),
        "hive": road.hive_destination.as_ref().map(|h| serde_json::json!({
            "enabled": h.enabled,
            "landingIntervalSeconds": h.landing_interval.map_or(3600, |d| d.seconds),
            "lastAcquisitionInstant": h.status.as_ref().map(|s| s.last_acquisition_instant.clone()),
            "lastError": h.status.as_ref().map(|s| s.last_error.clone()),
        })),
        "topic": {"name": status.topic_name, "created": status.topic_created, "partitions": status.partitions},
        "quotas": quota_list(road).into_iter().map(|(k, v)| (k.to_string(), v.into())).collect::<serde_json::Map<String, serde_json::Value>>(),
    })
}
