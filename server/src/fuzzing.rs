//! Entry points of the fuzz targets in `fuzz/`, also run for a bounded time
//! by this crate's tests: arbitrary bytes in, no panic, and what must hold
//! of the answer checked.

use std::sync::OnceLock;

use crate::onramp::record::{Prepared, Record, Target, prepare};
use crate::roads::registry::record::Record as Written;
use crate::roads::{Road, RoadKind};
use crate::schema::compat::{self, CompatibilityMode};
use crate::schema::path::PartitionPath;
use crate::schema::{self, CompiledSchema};

/// Two schema texts separated by a NUL byte: each compiled as a new version
/// would be, then the second checked against the first in every mode.
pub fn schema_pair(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (older, newer) = text.split_once('\0').unwrap_or((&text, &text));
    let (Ok(older), Ok(newer)) = (schema::compile(older), schema::compile(newer)) else { return };
    use CompatibilityMode as M;
    for mode in [M::Backward, M::Forward, M::Full, M::BackwardTransitive, M::FullTransitive] {
        let _ = compat::check(mode, &newer.document, &[(1, &older.document)]);
    }
}

/// The schema records are checked against: objects, arrays, patterns,
/// formats and a PII mark, so that validation walks all of them.
fn target_schema() -> &'static CompiledSchema {
    static SCHEMA: OnceLock<CompiledSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let document = serde_json::json!({
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string", "maxLength": 16, "pattern": "^(a+)+$"},
                "email": {"type": "string", "sensitivity": "PII"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "nested": {"type": "object", "additionalProperties": {"type": "number"}}
            }
        });
        schema::compile(&document.to_string()).expect("the fuzz schema compiles")
    })
}

/// One record through Onramp's checks: the first byte picks the road type,
/// the rest is a key and a payload separated by a NUL byte (no separator:
/// no key). An accepted payload is exactly what was sent, and JSON without
/// duplicate keys.
pub fn onramp_record(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let (key, payload) = match text.split_once('\0') {
        Some((k, p)) => (Some(k.to_string()), p),
        None => (None, &*text),
    };
    let payload = (selector & 2 == 0).then(|| payload.to_string());
    let mut road = crate::roads::test_road("fuzz");
    let path = PartitionPath::parse("$.id").ok();
    if selector & 1 == 1 {
        road.kind = RoadKind::Compacted { min_compaction_lag_ms: 1, tombstone_retention_ms: 1 };
    }
    let target = Target {
        road: &road,
        schema: target_schema(),
        schema_version: 1,
        partition_path: path.as_ref(),
        max_record_bytes: 1 << 20,
        topic_limit: None,
    };
    let record = Record { key: key.clone(), payload: payload.clone() };
    if let Ok(Prepared { key: prepared_key, payload: prepared }) = prepare(record, &target) {
        assert_eq!(prepared, payload, "the payload is kept as sent");
        if let Some(p) = &prepared {
            assert!(crate::onramp::json::parse(p).is_ok(), "an accepted payload parses strictly");
        }
        if selector & 1 == 1 {
            assert_eq!(prepared_key, key.map(String::into_bytes), "the key is kept as sent");
        }
    }
}

/// A registry record as read from the registry topic: a document that
/// decodes encodes back to one that decodes the same.
pub fn registry_document(data: &[u8]) {
    let Ok(written) = Written::decode(data) else { return };
    let again = Written::decode(&written.encode()).expect("a decoded record encodes decodably");
    assert_eq!(again, written);
    let _ = road_rules(&written.road);
}

/// The rules a stored road is held to when it is read.
fn road_rules(road: &Road) -> bool {
    crate::roads::rules::name(&road.name).is_ok()
        && road.partition_path().is_none_or(|p| PartitionPath::parse(p).is_ok())
}

/// A partition path and a document, separated by a NUL byte.
pub fn partition_path(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (path, document) = text.split_once('\0').unwrap_or((&text, "{}"));
    let Ok(path) = PartitionPath::parse(path) else { return };
    if let Ok(document) = crate::onramp::json::parse(document) {
        let _ =
            path.value_in(&document).map(|v| crate::schema::path::canonical_json(&v.to_value()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeds() -> Vec<Vec<u8>> {
        let road = crate::roads::test_road("seed");
        let written = Written { base: Some(3), repair_of: None, road };
        vec![
            br#"{"type":"object","properties":{"a":{"type":"string"}}}"#.to_vec(),
            [
                &br#"{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}"#[..],
                b"\0",
                br#"{"type":"object","properties":{"a":{"type":["string","null"]},"b":{"type":"integer"}}}"#,
            ]
            .concat(),
            [&b"\x01k\0"[..], br#"{"id": 7, "name": "aaa", "tags": ["x"], "nested": {"n": 1.5}}"#].concat(),
            [&b"\x00"[..], br#"{"id": 7, "email": "a@b", "id": 8}"#].concat(),
            b"\x03k\0".to_vec(),
            written.encode(),
            b"$.id\0{\"id\": [1, {\"b\": 2}]}".to_vec(),
            b"$.a.b\0{\"a\": {\"b\": \"x\"}}".to_vec(),
            // Found by cargo fuzz: a panic slicing inside a character.
            b"$.[N$\xfe\xff".to_vec(),
        ]
    }

    /// The bounded run (`./scripts/fuzz` runs `cargo fuzz`, which is
    /// coverage-guided).
    #[test]
    fn bounded_run_of_the_server_targets() {
        let targets: [fn(&[u8]); 4] =
            [schema_pair, onramp_record, registry_document, partition_path];
        roadroller_gateway::fuzzing::bounded_run(
            &seeds(),
            &targets,
            std::time::Duration::from_secs(3),
        );
    }
}
