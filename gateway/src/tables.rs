//! `GET /offramp/v1/roads/{road}/keys/{key}`: the live value of one key of a
//! materialized COMPACTED road, as JSON — Roadroller's addition to the
//! Offramp API, over TableService.
//!
//! Query parameters: `minOffsets=P:O,P:O` (read-your-writes: the offsets
//! after the writes the answer must reflect; the answer waits for the view up
//! to `timeoutMs`, default 10 s, then 503 with `Retry-After`), and `pii=true`
//! to ask for PII intact. A key without a live value is 404.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query};
use roadroller_api::v1 as pb;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::ApiError;
use crate::forward::Calling;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyValue {
    key: String,
    partition: i32,
    offset: i64,
    timestamp_ms: i64,
    /// The schema version, named as in the WebSocket MESSAGE event.
    schema: i32,
    payload: Box<RawValue>,
    /// Partition to the next offset the answer's view reflects.
    view_offsets: HashMap<String, i64>,
}

/// How long a read waits for `minOffsets` when the request names no
/// `timeoutMs`.
const DEFAULT_WAIT: Duration = Duration::from_secs(10);

fn min_offsets(text: &str) -> Result<HashMap<i32, i64>, ApiError> {
    text.split(',')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let bad = || {
                ApiError::bad_request(format!(
                    "minOffsets: {pair:?} is not PARTITION:OFFSET (e.g. minOffsets=0:42,3:7)"
                ))
            };
            let (p, o) = pair.split_once(':').ok_or_else(bad)?;
            Ok((p.trim().parse().map_err(|_| bad())?, o.trim().parse().map_err(|_| bad())?))
        })
        .collect()
}

pub async fn get_key(
    Calling(gateway): Calling,
    Path((road, key)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<KeyValue>, ApiError> {
    let offsets = min_offsets(query.get("minOffsets").map_or("", String::as_str))?;
    let pii = match query.get("pii").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!("pii: {other:?} is not true or false")));
        }
    };
    let wait = match query.get("timeoutMs") {
        None => DEFAULT_WAIT,
        Some(ms) => Duration::from_millis(ms.parse().map_err(|_| {
            ApiError::bad_request(format!("timeoutMs: {ms:?} is not a number of milliseconds"))
        })?),
    };
    let mut request = tonic::Request::new(pb::GetEntryRequest {
        road: road.clone(),
        key: key.clone(),
        min_offsets: Some(pb::PartitionOffsets { offsets }),
        fail_if_behind: false,
        grants: if pii { vec![pb::Grant::Pii as i32] } else { vec![] },
    });
    request.set_timeout(wait);
    let answer = gateway
        .upstream
        .tables
        .clone()
        .get_entry(request)
        .await
        .map_err(|s| ApiError::from_status(&s, &road))?
        .into_inner();
    let entry = answer.entry.ok_or_else(|| {
        ApiError::not_found(format!("Road \"{road}\" has no live value for key \"{key}\"."))
    })?;
    let payload = RawValue::from_string(entry.payload)
        .map_err(|e| ApiError::bad_upstream(format!("the payload is not JSON: {e}")))?;
    Ok(Json(KeyValue {
        key: entry.key,
        partition: entry.partition,
        offset: entry.offset,
        timestamp_ms: entry.timestamp.as_ref().map_or(0, roadroller_api::millis_of),
        schema: entry.schema_version,
        payload,
        view_offsets: answer
            .view_offsets
            .map(|o| o.offsets.into_iter().map(|(p, o)| (p.to_string(), o)).collect())
            .unwrap_or_default(),
    }))
}
