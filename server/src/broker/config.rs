//! Topic configuration: the names Kafka knows, their defaults, and the
//! values the log and the cleaner act on.

use std::collections::BTreeMap;

/// How a value is checked.
#[derive(Clone, Copy)]
enum Kind {
    Long {
        min: i64,
    },
    /// An INT in Kafka: at most `i32::MAX`.
    Int {
        min: i64,
    },
    Ratio,
    Policy,
    Choice(&'static [&'static str]),
    Boolean,
}

/// Every topic setting a client may set or describe, with Kafka's default.
/// Settings the log does not act on (replication, flushing by count) are
/// accepted and kept, as a single broker has nothing else to do with them.
const SPECS: &[(&str, &str, Kind)] = &[
    ("cleanup.policy", "delete", Kind::Policy),
    (
        "compression.type",
        "producer",
        Kind::Choice(&["producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"]),
    ),
    ("delete.retention.ms", "86400000", Kind::Long { min: 0 }),
    ("file.delete.delay.ms", "60000", Kind::Long { min: 0 }),
    ("flush.messages", "9223372036854775807", Kind::Long { min: 1 }),
    ("flush.ms", "9223372036854775807", Kind::Long { min: 0 }),
    ("index.interval.bytes", "4096", Kind::Int { min: 0 }),
    ("max.compaction.lag.ms", "9223372036854775807", Kind::Long { min: 1 }),
    ("max.message.bytes", "1048588", Kind::Int { min: 0 }),
    ("message.timestamp.type", "CreateTime", Kind::Choice(&["CreateTime", "LogAppendTime"])),
    ("min.cleanable.dirty.ratio", "0.5", Kind::Ratio),
    ("min.compaction.lag.ms", "0", Kind::Long { min: 0 }),
    ("min.insync.replicas", "1", Kind::Int { min: 1 }),
    ("preallocate", "false", Kind::Boolean),
    ("retention.bytes", "-1", Kind::Long { min: -1 }),
    ("retention.ms", "604800000", Kind::Long { min: -1 }),
    ("segment.bytes", "1073741824", Kind::Int { min: 14 }),
    ("segment.index.bytes", "10485760", Kind::Int { min: 4 }),
    ("segment.jitter.ms", "0", Kind::Long { min: 0 }),
    ("segment.ms", "604800000", Kind::Long { min: 1 }),
    ("unclean.leader.election.enable", "false", Kind::Boolean),
];

/// A topic's settings: what was set on it, and the values in force.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicConfig {
    pub overrides: BTreeMap<String, String>,
    pub compact: bool,
    pub delete: bool,
    pub retention_ms: i64,
    pub retention_bytes: i64,
    pub segment_bytes: u64,
    pub segment_ms: i64,
    pub min_compaction_lag_ms: i64,
    pub delete_retention_ms: i64,
    pub min_cleanable_dirty_ratio: f64,
    pub max_message_bytes: usize,
}

impl TopicConfig {
    /// Checks `overrides` and resolves every value, naming the first bad
    /// one as Kafka does.
    pub fn new(overrides: BTreeMap<String, String>) -> Result<Self, String> {
        for (name, value) in &overrides {
            let Some((_, _, kind)) = SPECS.iter().find(|(n, _, _)| n == name) else {
                return Err(format!("Unknown topic config name: {name}"));
            };
            check(name, value, *kind)?;
        }
        let get = |name: &str| -> String {
            overrides.get(name).cloned().unwrap_or_else(|| default_of(name).to_string())
        };
        let long = |name: &str| get(name).trim().parse::<i64>().expect("checked above");
        let policy = get("cleanup.policy");
        Ok(Self {
            compact: policy.split(',').any(|p| p.trim() == "compact"),
            delete: policy.split(',').any(|p| p.trim() == "delete"),
            retention_ms: long("retention.ms"),
            retention_bytes: long("retention.bytes"),
            segment_bytes: long("segment.bytes") as u64,
            segment_ms: long("segment.ms"),
            min_compaction_lag_ms: long("min.compaction.lag.ms"),
            delete_retention_ms: long("delete.retention.ms"),
            min_cleanable_dirty_ratio: get("min.cleanable.dirty.ratio")
                .trim()
                .parse()
                .expect("checked"),
            max_message_bytes: long("max.message.bytes").clamp(0, i64::from(i32::MAX)) as usize,
            overrides,
        })
    }

    /// Every setting with its value and whether it is the default.
    pub fn describe(&self) -> impl Iterator<Item = (&'static str, String, bool)> + '_ {
        SPECS.iter().map(|(name, default, _)| match self.overrides.get(*name) {
            Some(v) => (*name, v.clone(), false),
            None => (*name, (*default).to_string(), true),
        })
    }
}

impl Default for TopicConfig {
    fn default() -> Self {
        Self::new(BTreeMap::new()).expect("the defaults are valid")
    }
}

fn default_of(name: &str) -> &'static str {
    SPECS.iter().find(|(n, _, _)| *n == name).map_or("", |(_, d, _)| d)
}

fn check(name: &str, value: &str, kind: Kind) -> Result<(), String> {
    let v = value.trim();
    let ok = match kind {
        Kind::Long { min } => v.parse::<i64>().is_ok_and(|n| n >= min),
        Kind::Int { min } => v.parse::<i64>().is_ok_and(|n| n >= min && n <= i64::from(i32::MAX)),
        Kind::Ratio => v.parse::<f64>().is_ok_and(|r| (0.0..=1.0).contains(&r)),
        Kind::Policy => {
            !v.is_empty() && v.split(',').all(|p| matches!(p.trim(), "compact" | "delete"))
        }
        Kind::Choice(choices) => choices.contains(&v),
        Kind::Boolean => matches!(v, "true" | "false"),
    };
    if ok { Ok(()) } else { Err(format!("Invalid value {value} for configuration {name}")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<TopicConfig, String> {
        TopicConfig::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn overrides_resolve_and_unknown_or_bad_values_are_named() {
        let c = config(&[("cleanup.policy", "compact,delete"), ("segment.ms", "100")]).expect("ok");
        assert!(c.compact && c.delete);
        assert_eq!((c.segment_ms, c.retention_ms), (100, 604_800_000));
        assert_eq!(config(&[("no.such", "1")]).unwrap_err(), "Unknown topic config name: no.such");
        assert!(
            config(&[("segment.bytes", "4294967296")]).is_err(),
            "an INT setting stays within i32"
        );
        assert_eq!(
            config(&[("retention.ms", "soon")]).unwrap_err(),
            "Invalid value soon for configuration retention.ms"
        );
        let described: Vec<_> = c.describe().filter(|(_, _, default)| !default).collect();
        assert_eq!(described.len(), 2);
    }
}
