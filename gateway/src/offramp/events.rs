//! The events of the Offramp WebSocket protocol v2, as JSON text.
//!
//! Data Highway's clients read the property `type` first to know what
//! follows, so every event the gateway sends is a struct whose first field is
//! `type` (serde writes struct fields in declaration order), and every event
//! a client sends must begin with it.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// An event from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientEvent {
    Request(i64),
    Cancel,
    Commit { correlation_id: String, offsets: HashMap<i32, i64> },
}

/// The events a client may send, for error messages.
const CLIENT_EVENTS: &str = "REQUEST, CANCEL or COMMIT";

/// The event in a frame: `Ok(None)` for an empty frame, which Data Highway
/// ignored; `Err` with the reason to send back in an ERROR event.
pub fn decode(frame: &[u8]) -> Result<Option<ClientEvent>, String> {
    if frame.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: Value =
        serde_json::from_slice(frame).map_err(|e| format!("Unable to parse event: {e}"))?;
    let Value::Object(event) = value else {
        return Err("Unable to parse event: an event is a JSON object".into());
    };
    // Maps do not keep document order, so the first member is read from the
    // text itself.
    match first_key(frame).as_deref() {
        Some("type") => {}
        Some(other) => return Err(format!("Expected \"type\" field but got \"{other}\"")),
        None => return Err("Expected \"type\" field but got an empty object".into()),
    }
    let Some(kind) = event.get("type").and_then(Value::as_str) else {
        return Err("\"type\" must be a string naming the event".into());
    };
    match kind {
        "REQUEST" => match event.get("count").and_then(Value::as_i64) {
            Some(count) => Ok(Some(ClientEvent::Request(count))),
            None => Err("REQUEST needs a whole-number \"count\"".into()),
        },
        "CANCEL" => Ok(Some(ClientEvent::Cancel)),
        "COMMIT" => commit(&event).map(Some),
        "CONNECTION" | "MESSAGE" | "COMMIT_RESPONSE" | "REBALANCE" | "ERROR" => Err(format!(
            "Unexpected event type: {kind} is sent by the server; a client sends {CLIENT_EVENTS}"
        )),
        other => Err(format!("Unknown event type: {other}; a client sends {CLIENT_EVENTS}")),
    }
}

fn commit(event: &serde_json::Map<String, Value>) -> Result<ClientEvent, String> {
    let correlation_id = match event.get("correlationId") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(id)) => id.clone(),
        Some(_) => return Err("COMMIT's \"correlationId\" must be a string".into()),
    };
    let Some(Value::Object(given)) = event.get("offsets") else {
        return Err("COMMIT needs \"offsets\": {\"<partition>\": <next offset>, ...}".into());
    };
    let mut offsets = HashMap::new();
    for (partition, offset) in given {
        let p = partition
            .parse::<i32>()
            .map_err(|_| format!("COMMIT offsets: {partition:?} is not a partition number"))?;
        let o = offset
            .as_i64()
            .ok_or_else(|| format!("COMMIT offsets: partition {p} needs a whole-number offset"))?;
        offsets.insert(p, o);
    }
    Ok(ClientEvent::Commit { correlation_id, offsets })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Connection<'a> {
    r#type: &'static str,
    agent_name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    r#type: &'static str,
    partition: i32,
    offset: i64,
    schema: i32,
    timestamp_ms: i64,
    /// COMPACTED roads only; `None` leaves the property out.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<Option<&'a str>>,
    /// `null` for a delete.
    payload: Option<&'a RawValue>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CommitResponse<'a> {
    r#type: &'static str,
    correlation_id: &'a str,
    success: bool,
}

#[derive(Serialize)]
struct Rebalance<'a> {
    r#type: &'static str,
    assignment: &'a [i32],
}

#[derive(Serialize)]
struct Error<'a> {
    r#type: &'static str,
    reason: &'a str,
}

fn text(event: &impl Serialize) -> String {
    // These structs hold only strings, numbers and already-valid JSON, which
    // always serialize.
    serde_json::to_string(event).unwrap_or_default()
}

pub fn connection(agent_name: &str) -> String {
    text(&Connection { r#type: "CONNECTION", agent_name })
}

/// A record. `key` is `Some` on COMPACTED roads (the record's key, or null
/// if it had none); `payload` is `None` for a delete.
pub fn message(
    partition: i32,
    offset: i64,
    schema: i32,
    timestamp_ms: i64,
    key: Option<Option<&str>>,
    payload: Option<&RawValue>,
) -> String {
    text(&Message { r#type: "MESSAGE", partition, offset, schema, timestamp_ms, key, payload })
}

pub fn commit_response(correlation_id: &str, success: bool) -> String {
    text(&CommitResponse { r#type: "COMMIT_RESPONSE", correlation_id, success })
}

pub fn rebalance(assignment: &[i32]) -> String {
    text(&Rebalance { r#type: "REBALANCE", assignment })
}

pub fn error(reason: &str) -> String {
    text(&Error { r#type: "ERROR", reason })
}

/// The name of the first member of the JSON object in `frame`, in document
/// order.
fn first_key(frame: &[u8]) -> Option<String> {
    use serde::Deserializer;
    use serde::de::{IgnoredAny, MapAccess, Visitor};

    struct FirstKey;

    impl<'de> Visitor<'de> for FirstKey {
        type Value = Option<String>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let first = map.next_key::<String>()?;
            if first.is_some() {
                map.next_value::<IgnoredAny>()?;
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            }
            Ok(first)
        }
    }

    serde_json::Deserializer::from_slice(frame).deserialize_map(FirstKey).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_event_begins_with_its_type() {
        let payload = RawValue::from_string(r#"{"type":"inner","a":1}"#.into()).expect("json");
        let events = [
            connection("agent"),
            message(1, 2, 3, 4, Some(Some("k")), Some(&payload)),
            message(1, 2, 3, 4, None, None),
            commit_response("c", true),
            rebalance(&[0, 1]),
            error("why"),
        ];
        for event in &events {
            assert!(event.starts_with(r#"{"type":""#), "{event}");
        }
        assert_eq!(
            events[1],
            r#"{"type":"MESSAGE","partition":1,"offset":2,"schema":3,"timestampMs":4,"key":"k","payload":{"type":"inner","a":1}}"#
        );
        assert_eq!(
            events[2],
            r#"{"type":"MESSAGE","partition":1,"offset":2,"schema":3,"timestampMs":4,"payload":null}"#
        );
        assert_eq!(events[0], r#"{"type":"CONNECTION","agentName":"agent"}"#);
    }

    #[test]
    fn client_events_decode() {
        assert_eq!(decode(br#"{"type":"REQUEST","count":5}"#), Ok(Some(ClientEvent::Request(5))));
        assert_eq!(decode(br#"{"type":"REQUEST","count":-2}"#), Ok(Some(ClientEvent::Request(-2))));
        assert_eq!(decode(br#"{"type":"CANCEL"}"#), Ok(Some(ClientEvent::Cancel)));
        let commit = decode(br#"{"type":"COMMIT","correlationId":"c","offsets":{"3":10}}"#);
        assert_eq!(
            commit,
            Ok(Some(ClientEvent::Commit {
                correlation_id: "c".into(),
                offsets: HashMap::from([(3, 10)])
            }))
        );
        assert_eq!(decode(b""), Ok(None));
    }

    #[test]
    fn type_must_come_first_and_be_known() {
        assert_eq!(
            decode(br#"{"count":5,"type":"REQUEST"}"#),
            Err("Expected \"type\" field but got \"count\"".into())
        );
        assert!(
            decode(br#"{"type":"SEEK"}"#)
                .expect_err("unknown")
                .starts_with("Unknown event type: SEEK")
        );
        assert!(
            decode(br#"{"type":"MESSAGE"}"#)
                .expect_err("server's")
                .starts_with("Unexpected event type: MESSAGE")
        );
        assert!(decode(b"[1]").is_err());
        assert!(decode(b"{").expect_err("json").starts_with("Unable to parse event"));
        assert!(decode(br#"{"type":"REQUEST","count":"5"}"#).is_err());
        assert!(decode(br#"{"type":"COMMIT","offsets":{"x":1}}"#).is_err());
    }
}
