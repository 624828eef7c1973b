//! What a road's topic should look like, and how an actual topic differs.

use std::collections::BTreeMap;

use crate::kafka::ConfigValue;
use crate::roads::{ConfigDrift, Road, RoadKind};

/// The longest segment of a COMPACTED topic. Kafka compacts only closed
/// segments, so the segment must close for compaction to run at all; an hour
/// keeps segments few while bounding how long after the lag a key is cleaned.
const MAX_SEGMENT_MS: u64 = 3_600_000;

/// The topic configs a road asks for; `max_message_bytes` fits Onramp's
/// largest record.
pub fn configs(road: &Road, max_message_bytes: usize) -> BTreeMap<String, String> {
    let mut pairs: Vec<(&str, String)> = match &road.kind {
        RoadKind::Stream { retention_ms, .. } => {
            vec![("cleanup.policy", "delete".into()), ("retention.ms", retention_ms.to_string())]
        }
        RoadKind::Compacted { min_compaction_lag_ms, tombstone_retention_ms } => vec![
            ("cleanup.policy", "compact".into()),
            ("min.compaction.lag.ms", min_compaction_lag_ms.to_string()),
            ("delete.retention.ms", tombstone_retention_ms.to_string()),
            // Segments close no later than the lag, so an update becomes
            // cleanable soon after it is old enough.
            ("segment.ms", (*min_compaction_lag_ms).clamp(1, MAX_SEGMENT_MS).to_string()),
        ],
    };
    pairs.push(("max.message.bytes", max_message_bytes.to_string()));
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Each wanted config whose actual value differs.
pub fn drift(
    wanted: &BTreeMap<String, String>,
    actual: &BTreeMap<String, ConfigValue>,
) -> Vec<ConfigDrift> {
    wanted
        .iter()
        .filter_map(|(config, expected)| {
            let actual = actual.get(config).and_then(|v| v.value.clone()).unwrap_or_default();
            (actual != *expected).then(|| ConfigDrift {
                config: config.clone(),
                expected: expected.clone(),
                actual,
            })
        })
        .collect()
}

/// The full set of configs to write so that the topic has the wanted values
/// except `cleanup.policy`, which keeps its actual value: changing it would
/// change what the topic keeps, which only a change of road type could mean,
/// and road types never change. Other configs someone set are kept (Kafka's
/// AlterConfigs replaces the whole set).
pub fn corrected(
    wanted: &BTreeMap<String, String>,
    actual: &BTreeMap<String, ConfigValue>,
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = actual
        .iter()
        .filter(|(_, v)| !v.is_default)
        .filter_map(|(k, v)| v.value.clone().map(|value| (k.clone(), value)))
        .collect();
    for (k, v) in wanted {
        if k != "cleanup.policy" {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roads::test_road;

    fn actual(pairs: &[(&str, &str, bool)]) -> BTreeMap<String, ConfigValue> {
        pairs
            .iter()
            .map(|(k, v, d)| {
                (k.to_string(), ConfigValue { value: Some(v.to_string()), is_default: *d })
            })
            .collect()
    }

    #[test]
    fn configs_follow_the_road_type() {
        let stream = test_road("s");
        assert_eq!(configs(&stream, 2_000_000)["cleanup.policy"], "delete");
        assert_eq!(configs(&stream, 2_000_000)["retention.ms"], "86400000");
        let mut compacted = test_road("c");
        compacted.kind =
            RoadKind::Compacted { min_compaction_lag_ms: 2000, tombstone_retention_ms: 5000 };
        let c = configs(&compacted, 2_000_000);
        assert_eq!(c["cleanup.policy"], "compact");
        assert_eq!(c["min.compaction.lag.ms"], "2000");
        assert_eq!(c["delete.retention.ms"], "5000");
        assert_eq!(c["segment.ms"], "2000");
        assert_eq!(c["max.message.bytes"], "2000000");
    }

    #[test]
    fn drift_names_each_differing_config() {
        let wanted = configs(&test_road("s"), 2_000_000);
        let found = drift(
            &wanted,
            &actual(&[
                ("cleanup.policy", "compact", false),
                ("retention.ms", "86400000", false),
                ("max.message.bytes", "2000000", false),
            ]),
        );
        assert_eq!(
            found,
            [ConfigDrift {
                config: "cleanup.policy".into(),
                expected: "delete".into(),
                actual: "compact".into()
            }]
        );
    }

    #[test]
    fn corrections_keep_the_cleanup_policy_and_foreign_configs() {
        let wanted = configs(&test_road("s"), 2_000_000);
        let fixed = corrected(
            &wanted,
            &actual(&[
                ("cleanup.policy", "compact", false),
                ("retention.ms", "1", false),
                ("segment.bytes", "5", false),
                ("flush.ms", "9", true),
            ]),
        );
        assert_eq!(fixed["cleanup.policy"], "compact");
        assert_eq!(fixed["retention.ms"], "86400000");
        assert_eq!(fixed["segment.bytes"], "5");
        assert_eq!(fixed["max.message.bytes"], "2000000");
        assert!(!fixed.contains_key("flush.ms"), "defaults are not pinned");
    }
}
