//! Onramp: `POST /onramp/v1/roads/{road}/messages`, a JSON array of
//! messages, answered with one `StandardResponse` per message, in order.
//!
//! A STREAM road's array holds the payloads themselves. A COMPACTED road's
//! array holds `{"key": "...", "payload": {...} | null}` items, where `null`
//! deletes the key. Payloads travel upstream as the exact text the client
//! sent, so numbers keep their precision and the Kafka value is that text.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::Path;
use axum::http::HeaderMap;
use roadroller_api::v1 as pb;
use roadroller_api::v1::record_result::Result as Outcome;
use serde_json::value::RawValue;

use crate::body;
use crate::error::{ApiError, StandardResponse};
use crate::forward::Calling;

const ACCEPTED: &str = "Message accepted.";
const INVALID: &str = "The event failed validation. ";

pub async fn post_messages(
    Calling(gateway): Calling,
    Path(road): Path<String>,
    headers: HeaderMap,
    request: Body,
) -> Result<Json<Vec<StandardResponse>>, ApiError> {
    let text = body::read_json(&headers, request, &gateway.limits).await?;
    let items: Vec<&RawValue> = serde_json::from_slice(&text).map_err(|e| {
        ApiError::unparsable(format!("the body must be a JSON array of messages ({e})"))
    })?;
    let max = gateway.limits.max_messages;
    if items.len() > max {
        return Err(ApiError::too_large(format!(
            "The request holds {} messages; at most {max} are accepted per request",
            items.len()
        )));
    }
    let road_type = gateway.upstream.road_type(&road).await?;
    let prepared: Vec<Result<pb::Record, String>> =
        items.iter().map(|item| record(item, road_type)).collect();
    let records: Vec<pb::Record> =
        prepared.iter().filter_map(|r| r.as_ref().ok()).cloned().collect();
    let mut results = if records.is_empty() {
        Vec::new()
    } else {
        let sent = records.len();
        let request = pb::ProduceRequest { road: road.clone(), records };
        let response = gateway
            .upstream
            .onramp
            .clone()
            .produce(request)
            .await
            .map_err(|s| ApiError::from_status(&s, &road))?;
        let results = response.into_inner().results;
        if results.len() != sent {
            return Err(ApiError::bad_upstream(format!(
                "Onramp answered {} results for {sent} records",
                results.len()
            )));
        }
        results
    }
    .into_iter();
    let answers = prepared
        .into_iter()
        .map(|p| match p {
            Err(problem) => StandardResponse::new(false, format!("{INVALID}{problem}")),
            Ok(_) => answer(results.next()),
        })
        .collect();
    Ok(Json(answers))
}

/// The gRPC record for one array item, or why the item cannot be one.
pub(crate) fn record(item: &RawValue, road_type: pb::RoadType) -> Result<pb::Record, String> {
    match road_type {
        pb::RoadType::Compacted => keyed(item),
        _ => Ok(pb::Record { key: None, payload: Some(item.get().to_string()) }),
    }
}

/// A COMPACTED road's item: `{"key": "<string>", "payload": <object> | null}`.
fn keyed(item: &RawValue) -> Result<pb::Record, String> {
    const SHAPE: &str =
        r#"an item of a COMPACTED road is {"key": "<string>", "payload": <object> | null}"#;
    let Fields(entries) = serde_json::from_str(item.get()).map_err(|_| SHAPE.to_string())?;
    let mut fields: HashMap<String, &RawValue> = HashMap::with_capacity(entries.len());
    for (name, value) in entries {
        // Which of two keys or payloads would win is the reader's guess:
        // Onramp refuses duplicated properties inside a payload, and the
        // wrapper is no different.
        if fields.insert(name.clone(), value).is_some() {
            return Err(format!("duplicate property {name:?}: {SHAPE}"));
        }
    }
    if let Some(other) = fields.keys().find(|k| !matches!(k.as_str(), "key" | "payload")) {
        return Err(format!("unexpected property {other:?}: {SHAPE}"));
    }
    let key = match fields.get("key") {
        None => return Err(format!("key: is required: {SHAPE}")),
        Some(raw) => serde_json::from_str::<String>(raw.get())
            .map_err(|_| format!("key: must be a string: {SHAPE}"))?,
    };
    let payload = match fields.get("payload") {
        // A forgotten payload must not delete the key: only null does.
        None => return Err(format!("payload: is required (null deletes the key): {SHAPE}")),
        Some(raw) if raw.get().trim() == "null" => None,
        Some(raw) => Some(raw.get().to_string()),
    };
    Ok(pb::Record { key: Some(key), payload })
}

/// An object's properties in order, duplicates kept, so that they can be
/// refused (a map keeps only the last).
struct Fields<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Fields<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Fields<'a>, M::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'a RawValue>()? {
                    entries.push(entry);
                }
                Ok(Fields(entries))
            }
        }
        deserializer.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// The client's answer for one upstream result.
fn answer(result: Option<pb::RecordResult>) -> StandardResponse {
    match result.and_then(|r| r.result) {
        Some(Outcome::Accepted(_)) => StandardResponse::new(true, ACCEPTED),
        Some(Outcome::Rejected(r)) if r.code == tonic::Code::Unavailable as i32 => {
            StandardResponse::new(false, format!("The event was not acknowledged. {}", r.message))
        }
        Some(Outcome::Rejected(r)) => {
            StandardResponse::new(false, format!("{INVALID}{}", r.message))
        }
        None => StandardResponse::new(false, "Onramp answered without a result for this event."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).expect("json")
    }

    #[test]
    fn stream_items_travel_as_sent() {
        let item = raw(r#"{ "n" : 12345678901234567890123 }"#);
        let record = record(&item, pb::RoadType::Stream).expect("record");
        assert_eq!(record.key, None);
        assert_eq!(record.payload.as_deref(), Some(r#"{ "n" : 12345678901234567890123 }"#));
    }

    #[test]
    fn compacted_items_carry_a_key_and_null_deletes() {
        let put = record(&raw(r#"{"key":"a","payload":{"v":1}}"#), pb::RoadType::Compacted);
        let put = put.expect("put");
        assert_eq!((put.key.as_deref(), put.payload.as_deref()), (Some("a"), Some(r#"{"v":1}"#)));
        let delete = record(&raw(r#"{"payload":null,"key":"a"}"#), pb::RoadType::Compacted);
        let delete = delete.expect("delete");
        assert_eq!((delete.key.as_deref(), delete.payload), (Some("a"), None));
    }

    #[test]
    fn malformed_compacted_items_name_the_problem() {
        let problem = |text: &str| {
            record(&raw(text), pb::RoadType::Compacted).expect_err("refused").to_string()
        };
        assert!(problem(r#"{"v":"x"}"#).starts_with("unexpected property \"v\""));
        assert!(problem(r#"{"payload":{}}"#).starts_with("key: is required"));
        assert!(problem(r#"{"key":1,"payload":{}}"#).starts_with("key: must be a string"));
        assert!(problem(r#"{"key":"a"}"#).starts_with("payload: is required"));
        assert!(
            problem(r#"{"key":"a","payload":{},"key":"b"}"#)
                .starts_with(r#"duplicate property "key""#)
        );
        assert!(
            problem(r#"{"payload":null,"key":"a","payload":{"v":1}}"#)
                .starts_with(r#"duplicate property "payload""#)
        );
        assert!(problem("[1]").starts_with("an item of a COMPACTED road"));
    }
}
