//! One record: the rules it must meet, and the Kafka record it becomes.

use serde_json::Value;

use super::json;
use crate::error::Code;
use crate::roads::{Road, RoadType};
use crate::schema::CompiledSchema;
use crate::schema::document::Document;
use crate::schema::path::{PartitionPath, canonical_json};

/// A record as a producer sent it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    pub key: Option<String>,
    pub payload: Option<String>,
}

impl Record {
    /// Its bytes, as a bytes/s quota counts them: key plus payload.
    pub fn size(&self) -> u64 {
        (self.key.as_ref().map_or(0, String::len) + self.payload.as_ref().map_or(0, String::len))
            as u64
    }
}

/// Why a record was not written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub code: Code,
    pub message: String,
    /// Schema violations, at most [`MAX_VIOLATIONS`].
    pub violations: Vec<Violation>,
    /// How many violations there were in all.
    pub violation_count: usize,
}

impl Rejection {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), violations: Vec::new(), violation_count: 0 }
    }
}

/// One way a payload fails its schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer to the failing value in the payload.
    pub pointer: String,
    pub keyword: String,
    /// JSON pointer to the keyword in the schema.
    pub schema_pointer: String,
    pub message: String,
}

/// Violations reported per record; the count says how many there were.
pub const MAX_VIOLATIONS: usize = 20;

/// Longest violation message, in bytes. A message names the failing value,
/// which can be most of a megabyte; past this it says "the value" instead,
/// and is cut if still too long, so that an answer stays small beside its
/// request.
pub const MAX_MESSAGE_BYTES: usize = 240;

/// At most this many bytes in a COMPACTED road's key.
pub const MAX_KEY_BYTES: usize = 1024;

/// A record that passed every rule, ready for Kafka.
#[derive(Debug)]
pub struct Prepared {
    pub key: Option<Vec<u8>>,
    /// The payload exactly as sent; `None` is a delete (a tombstone).
    pub payload: Option<String>,
}

/// What a record is checked against.
pub struct Target<'a> {
    pub road: &'a Road,
    pub schema: &'a CompiledSchema,
    pub schema_version: u32,
    pub partition_path: Option<&'a PartitionPath>,
    pub max_record_bytes: usize,
    /// The largest record the road's topic takes, when known and below
    /// `max_record_bytes`: its `max.message.bytes` less the framing.
    pub topic_limit: Option<TopicLimit<'a>>,
}

/// A topic that takes smaller records than Onramp.
#[derive(Clone, Copy, Debug)]
pub struct TopicLimit<'a> {
    pub topic: &'a str,
    pub max_message_bytes: usize,
}

impl TopicLimit<'_> {
    fn max_record_bytes(&self) -> usize {
        self.max_message_bytes.saturating_sub(crate::kafka::RECORD_OVERHEAD)
    }
}

/// Checks `record` against the road and its schema, and works out its key.
pub fn prepare(record: Record, target: &Target<'_>) -> Result<Prepared, Rejection> {
    let invalid = |message: String| Rejection::new(Code::InvalidArgument, message);
    let key = match (target.road.road_type(), record.key) {
        (RoadType::Stream, Some(_)) => {
            return Err(invalid(
                "key: must be absent on a STREAM road (its partition_path keys records)".into(),
            ));
        }
        (RoadType::Stream, None) => None,
        (RoadType::Compacted, None) => {
            return Err(invalid("key: is required on a COMPACTED road".into()));
        }
        (RoadType::Compacted, Some(k)) if k.is_empty() => {
            return Err(invalid("key: must not be empty".into()));
        }
        (RoadType::Compacted, Some(k)) if k.len() > MAX_KEY_BYTES => {
            return Err(invalid(format!(
                "key: is {} bytes; at most {MAX_KEY_BYTES} are allowed",
                k.len()
            )));
        }
        (RoadType::Compacted, Some(k)) => Some(k.into_bytes()),
    };
    let size = key.as_ref().map_or(0, Vec::len) + record.payload.as_ref().map_or(0, String::len);
    if size > target.max_record_bytes {
        return Err(Rejection::new(
            Code::ResourceExhausted,
            format!("the record is {size} bytes; at most {} are accepted", target.max_record_bytes),
        ));
    }
    if let Some(limit) = target.topic_limit
        && size > limit.max_record_bytes()
    {
        // Too large, as over Onramp's own limit; naming both, since that
        // one would let it pass.
        return Err(Rejection::new(
            Code::ResourceExhausted,
            format!(
                "the record is {size} bytes; topic {} takes at most {} (its max.message.bytes, {}, \
             less {} for framing), below onramp.max_record_bytes ({})",
                limit.topic,
                limit.max_record_bytes(),
                limit.max_message_bytes,
                crate::kafka::RECORD_OVERHEAD,
                target.max_record_bytes
            ),
        ));
    }
    let Some(payload) = record.payload else {
        return match target.road.road_type() {
            RoadType::Compacted => Ok(Prepared { key, payload: None }),
            RoadType::Stream => Err(invalid("payload: is required on a STREAM road".into())),
        };
    };
    let document = json::parse(&payload).map_err(|e| match e {
        json::Invalid::Syntax(e) => invalid(format!("payload: is not JSON: {e}")),
        json::Invalid::DuplicateKey(pointer) => duplicate_key(pointer),
    })?;
    if !document.is_object() {
        return Err(invalid(format!("payload: must be a JSON object, not {}", kind_of(&document))));
    }
    check_schema(&document, target)?;
    let key = match (key, target.partition_path) {
        (Some(key), _) => Some(key),
        (None, Some(path)) => {
            path.value_in(&document).map(|v| canonical_json(&v.to_value()).into_bytes())
        }
        (None, None) => None,
    };
    drop(document);
    Ok(Prepared { key, payload: Some(payload) })
}

/// A duplicate key, reported as a violation so that clients find its
/// pointer where they find every other.
fn duplicate_key(pointer: String) -> Rejection {
    Rejection {
        code: Code::InvalidArgument,
        message: format!("payload: {pointer}: the key appears twice in its object"),
        violations: vec![Violation {
            pointer,
            keyword: "duplicateKey".into(),
            schema_pointer: String::new(),
            message: "the key appears twice in its object".into(),
        }],
        violation_count: 1,
    }
}

fn check_schema(document: &Document<'_>, target: &Target<'_>) -> Result<(), Rejection> {
    let validator = &target.schema.validator;
    if validator.is_valid(document) {
        return Ok(());
    }
    let mut violations = Vec::new();
    let mut count = 0;
    for error in validator.iter_errors(document) {
        count += 1;
        if violations.len() < MAX_VIOLATIONS {
            violations.push(Violation {
                pointer: error.instance_path().as_str().to_string(),
                keyword: error.kind().keyword().to_string(),
                schema_pointer: error.schema_path().as_str().to_string(),
                message: bounded_message(&error),
            });
        }
    }
    let first = violations.first().map_or_else(String::new, |v| {
        let at = if v.pointer.is_empty() { "the document".to_string() } else { v.pointer.clone() };
        format!(": {at}: {}", v.message)
    });
    let more = if count > 1 { format!(" (and {} more)", count - 1) } else { String::new() };
    Err(Rejection {
        code: Code::InvalidArgument,
        message: format!("payload: fails schema version {}{first}{more}", target.schema_version),
        violations,
        violation_count: count,
    })
}

fn bounded_message(error: &jsonschema::ValidationError<'_>) -> String {
    // A value whose JSON alone is too long is not formatted in full only to
    // be thrown away: the masked message says the same without it.
    if !json_longer_than(error.instance(), MAX_MESSAGE_BYTES) {
        let message = error.to_string();
        if message.len() <= MAX_MESSAGE_BYTES {
            return message;
        }
    }
    truncate(error.masked_with("the value").to_string(), MAX_MESSAGE_BYTES)
}

/// Whether `value` as JSON is longer than `max` bytes, found by writing at
/// most that much of it.
fn json_longer_than(value: &Value, max: usize) -> bool {
    struct Room(usize);
    impl std::io::Write for Room {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 =
                self.0.checked_sub(bytes.len()).ok_or_else(|| std::io::Error::other("full"))?;
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    serde_json::to_writer(Room(max), value).is_err()
}

/// `text` cut to at most `max` bytes at a character boundary, marked `…`.
pub fn truncate(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push('…');
    text
}

/// Keeps the violations of rejections while their messages fit in
/// `budget` bytes; later rejections keep their message and count only.
/// Bounds an answer by its request's size, whatever the records hold.
pub fn fit_violations<'a>(rejections: impl Iterator<Item = &'a mut Rejection>, budget: usize) {
    let mut used = 0;
    for rejection in rejections {
        used += rejection.message.len();
        for violation in &rejection.violations {
            used +=
                violation.message.len() + violation.pointer.len() + violation.schema_pointer.len();
        }
        if used > budget {
            rejection.violations.clear();
        }
    }
}

fn kind_of(value: &Document<'_>) -> &'static str {
    match value {
        Document::Null => "null",
        Document::Bool(_) => "a boolean",
        Document::Number(_) => "a number",
        Document::String(_) => "a string",
        Document::Array(_) => "an array",
        Document::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roads::{RoadKind, test_road};
    use crate::schema::compile;
    use serde_json::json;

    fn schema() -> CompiledSchema {
        let doc = json!({"type": "object", "required": ["id"], "properties": {
            "id": {"type": "integer"}, "name": {"type": "string", "maxLength": 3}}});
        compile(&doc.to_string()).expect("compiles")
    }

    fn prepare_on(road: &Road, record: Record) -> Result<Prepared, Rejection> {
        let schema = schema();
        let path = road.partition_path().map(|p| PartitionPath::parse(p).expect("path"));
        let target = Target {
            road,
            schema: &schema,
            schema_version: 3,
            partition_path: path.as_ref(),
            max_record_bytes: 64,
            topic_limit: None,
        };
        prepare(record, &target)
    }

    /// A target that takes records up to 1 MiB, as Onramp does by default.
    fn roomy<'a>(
        road: &'a Road,
        schema: &'a CompiledSchema,
        topic_limit: Option<TopicLimit<'a>>,
    ) -> Target<'a> {
        Target {
            road,
            schema,
            schema_version: 1,
            partition_path: None,
            max_record_bytes: 1 << 20,
            topic_limit,
        }
    }

    fn record(key: Option<&str>, payload: Option<&str>) -> Record {
        Record { key: key.map(Into::into), payload: payload.map(Into::into) }
    }

    fn compacted() -> Road {
        let mut road = test_road("c");
        road.kind = RoadKind::Compacted { min_compaction_lag_ms: 1, tombstone_retention_ms: 1 };
        road
    }

    #[test]
    fn keys_follow_the_road_type() {
        let stream = test_road("s");
        assert!(prepare_on(&stream, record(Some("k"), Some(r#"{"id":1}"#))).is_err());
        assert!(prepare_on(&stream, record(None, Some(r#"{"id":1}"#))).expect("ok").key.is_none());
        let c = compacted();
        assert_eq!(
            prepare_on(&c, record(None, Some(r#"{"id":1}"#))).expect_err("no key").message,
            "key: is required on a COMPACTED road"
        );
        assert!(prepare_on(&c, record(Some(""), Some(r#"{"id":1}"#))).is_err());
        let ok = prepare_on(&c, record(Some("k"), Some(r#"{"id":1}"#))).expect("ok");
        assert_eq!(ok.key.as_deref(), Some(&b"k"[..]));
    }

    #[test]
    fn an_absent_payload_deletes_on_a_compacted_road_only() {
        let deleted = prepare_on(&compacted(), record(Some("k"), None)).expect("tombstone");
        assert!(deleted.payload.is_none());
        let err = prepare_on(&test_road("s"), record(None, None)).expect_err("required");
        assert_eq!(err.message, "payload: is required on a STREAM road");
    }

    #[test]
    fn payloads_must_be_json_objects_that_fit_the_schema() {
        let road = test_road("s");
        assert!(
            prepare_on(&road, record(None, Some("{")))
                .expect_err("json")
                .message
                .starts_with("payload: is not JSON")
        );
        assert_eq!(
            prepare_on(&road, record(None, Some("[1]"))).expect_err("array").message,
            "payload: must be a JSON object, not an array"
        );
        let err = prepare_on(&road, record(None, Some(r#"{"id":"x","name":"long"}"#)))
            .expect_err("schema");
        assert_eq!(err.code, Code::InvalidArgument);
        assert_eq!(err.violation_count, 2);
        let mut found: Vec<_> =
            err.violations.iter().map(|v| (v.pointer.as_str(), v.keyword.as_str())).collect();
        found.sort();
        assert_eq!(found, [("/id", "type"), ("/name", "maxLength")]);
        assert!(err.message.starts_with("payload: fails schema version 3: "), "{}", err.message);
    }

    #[test]
    fn a_duplicate_key_is_refused_with_its_pointer() {
        // The last "id" is valid, the first is not: a reader keeping the
        // first would see a value no schema checked.
        let err = prepare_on(&test_road("s"), record(None, Some(r#"{"id":"x","id":1}"#)))
            .expect_err("duplicate");
        assert_eq!(err.code, Code::InvalidArgument);
        assert_eq!(err.message, "payload: /id: the key appears twice in its object");
        assert_eq!(err.violations[0].pointer, "/id");
        assert_eq!(err.violations[0].keyword, "duplicateKey");
    }

    #[test]
    fn a_long_value_is_not_echoed_back() {
        let long = "y".repeat(100_000);
        let payload = json!({"id": 1, "name": long}).to_string();
        let road = test_road("s");
        let schema = schema();
        let err = prepare(record(None, Some(&payload)), &roomy(&road, &schema, None))
            .expect_err("too long");
        assert!(err.message.len() < 2 * MAX_MESSAGE_BYTES, "{}", err.message.len());
        assert!(err.message.contains("the value"), "{}", err.message);
        assert_eq!(err.violations[0].pointer, "/name");
        assert!(err.violations[0].message.len() <= MAX_MESSAGE_BYTES);
    }

    #[test]
    fn violations_beyond_the_budget_keep_message_and_count_only() {
        let bad = record(None, Some(r#"{"id":"x","name":"long"}"#));
        let mut rejections: Vec<Rejection> = (0..100)
            .map(|_| prepare_on(&test_road("s"), bad.clone()).expect_err("invalid"))
            .collect();
        fit_violations(rejections.iter_mut(), 1_000);
        let detailed = rejections.iter().filter(|r| !r.violations.is_empty()).count();
        assert!(detailed > 0 && detailed < 100, "{detailed}");
        assert!(rejections.iter().all(|r| r.violation_count == 2));
        assert!(rejections[99].violations.is_empty());
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("ééé".into(), 5), "é…");
        assert_eq!(truncate("abc".into(), 5), "abc");
    }

    #[test]
    fn a_record_too_large_for_its_topic_is_refused_naming_both_limits() {
        let road = test_road("s");
        let schema = schema();
        let limit = TopicLimit { topic: "road.s", max_message_bytes: 16 * 1024 + 100 };
        let target = roomy(&road, &schema, Some(limit));
        let fits = json!({"id": 1, "name": "x"}).to_string();
        assert!(prepare(record(None, Some(&fits)), &target).is_ok());
        let big = format!(r#"{{"id":1,"pad":"{}"}}"#, "x".repeat(200));
        let err = prepare(record(None, Some(&big)), &target).expect_err("too big for the topic");
        assert_eq!(err.code, Code::ResourceExhausted);
        assert!(err.message.contains("road.s takes at most 100"), "{}", err.message);
        assert!(err.message.contains("onramp.max_record_bytes (1048576)"), "{}", err.message);
    }

    #[test]
    fn an_oversized_record_is_resource_exhausted() {
        let big = format!(r#"{{"id":1,"pad":"{}"}}"#, "x".repeat(100));
        let err = prepare_on(&test_road("s"), record(None, Some(&big))).expect_err("too big");
        assert_eq!(err.code, Code::ResourceExhausted);
    }

    #[test]
    fn a_partition_path_keys_stream_records_with_canonical_json() {
        let mut road = test_road("s");
        road.kind = RoadKind::Stream { retention_ms: 1, partition_path: Some("$.id".into()) };
        let ok = prepare_on(&road, record(None, Some(r#"{ "id" : 7 }"#))).expect("ok");
        assert_eq!(ok.key.as_deref(), Some(&b"7"[..]));
        assert_eq!(ok.payload.as_deref(), Some(r#"{ "id" : 7 }"#), "the payload is kept as sent");
    }
}
