//! `/paver/v1/roads/{name}/destinations/hive`, onto the road's
//! `hive_destination`.
//!
//! In the contract every road has a Hive destination, disabled until asked
//! for; so GET always answers it, POST and PUT both set it, and DELETE puts
//! it back to its default (disabled, every hour).

use axum::Json;
use axum::body::Body;
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use roadroller_api::v1 as pb;
use serde::{Deserialize, Serialize};

use super::json_body;
use crate::Gateway;
use crate::error::{ApiError, success};
use crate::forward::Calling;

/// `{"enabled": bool, "landingInterval": "PT1H"}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HiveJson {
    #[serde(default)]
    enabled: bool,
    /// ISO-8601, from PT5M to P1D; absent means one hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    landing_interval: Option<String>,
}

pub async fn get(
    Calling(gateway): Calling,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let road = gateway.upstream.road(&name).await?;
    let hive = road.hive_destination.unwrap_or_default();
    let interval = hive.landing_interval.as_ref().map_or(HOUR_MS, duration_ms);
    Ok(Json(HiveJson { enabled: hive.enabled, landing_interval: Some(format_iso(interval)) })
        .into_response())
}

pub async fn create(
    Calling(gateway): Calling,
    Path(name): Path<String>,
    headers: HeaderMap,
    request: Body,
) -> Result<Response, ApiError> {
    let hive = parse(json_body(&gateway, &headers, request).await?)?;
    set(&gateway, &name, hive).await?;
    Ok(success("Creation of a new Hive destination requested."))
}

pub async fn update(
    Calling(gateway): Calling,
    Path(name): Path<String>,
    headers: HeaderMap,
    request: Body,
) -> Result<Response, ApiError> {
    let hive = parse(json_body(&gateway, &headers, request).await?)?;
    set(&gateway, &name, hive).await?;
    Ok(success("Update of existing Hive destination requested."))
}

pub async fn delete(
    Calling(gateway): Calling,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    set(&gateway, &name, pb::HiveDestination { enabled: false, ..Default::default() }).await?;
    Ok(success("Request to delete Hive destination received."))
}

fn parse(body: serde_json::Value) -> Result<pb::HiveDestination, ApiError> {
    let json: HiveJson = serde_path_to_error::deserialize(body)
        .map_err(|e| ApiError::unparsable(format!("{}: {}", e.path(), e.inner())))?;
    let landing_interval = match json.landing_interval.as_deref() {
        None => None,
        Some(text) => {
            let ms = parse_iso(text).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "landingInterval: {text:?} is not an ISO-8601 duration such as PT1H"
                ))
            })?;
            Some(prost_types::Duration {
                seconds: (ms / 1000) as i64,
                nanos: ((ms % 1000) * 1_000_000) as i32,
            })
        }
    };
    Ok(pb::HiveDestination { enabled: json.enabled, landing_interval, ..Default::default() })
}

async fn set(gateway: &Gateway, name: &str, hive: pb::HiveDestination) -> Result<(), ApiError> {
    let road =
        pb::Road { name: name.to_string(), hive_destination: Some(hive), ..Default::default() };
    let request = pb::UpdateRoadRequest {
        road: Some(road),
        // Data Highway's destination has no snapshot: leave the road's as it is.
        update_mask: Some(prost_types::FieldMask {
            paths: vec![
                "hive_destination.enabled".into(),
                "hive_destination.landing_interval".into(),
            ],
        }),
    };
    gateway
        .upstream
        .paver
        .clone()
        .update_road(request)
        .await
        .map_err(|s| ApiError::from_status(&s, name))?;
    Ok(())
}

const HOUR_MS: u64 = 3_600_000;

fn duration_ms(d: &prost_types::Duration) -> u64 {
    (d.seconds.max(0) as u64) * 1000 + (d.nanos.max(0) as u64) / 1_000_000
}

/// An ISO-8601 duration of days, hours, minutes and (decimal) seconds, such
/// as `PT1H`, `PT5M`, `P1D` or `PT1H30M`, in milliseconds.
fn parse_iso(text: &str) -> Option<u64> {
    let upper = text.trim().to_ascii_uppercase();
    let rest = upper.strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((days, time)) if !time.is_empty() => (days, time),
        Some(_) => return None,
        None => (rest, ""),
    };
    let mut total: f64 = 0.0;
    let mut any = false;
    for (part, units) in [
        (days, &[('D', 86_400_000.0)][..]),
        (time, &[('H', 3_600_000.0), ('M', 60_000.0), ('S', 1000.0)][..]),
    ] {
        let mut number = String::new();
        let mut next_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let at = units[next_unit..].iter().position(|(u, _)| *u == c)? + next_unit;
            let value: f64 = number.parse().ok()?;
            total += value * units[at].1;
            number.clear();
            next_unit = at + 1;
            any = true;
        }
        if !number.is_empty() {
            return None;
        }
    }
    (any && total.is_finite()).then_some(total.round() as u64)
}

/// Milliseconds as Java's `Duration.toString()` writes them: hours, minutes
/// and seconds (`PT1H`, `PT24H`, `PT1H30M`).
fn format_iso(ms: u64) -> String {
    let (hours, minutes) = (ms / HOUR_MS, ms % HOUR_MS / 60_000);
    let millis = ms % 60_000;
    let mut out = String::from("PT");
    if hours > 0 {
        out.push_str(&format!("{hours}H"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}M"));
    }
    if millis > 0 || out == "PT" {
        match millis % 1000 {
            0 => out.push_str(&format!("{}S", millis / 1000)),
            frac => {
                let digits = format!("{frac:03}");
                out.push_str(&format!("{}.{}S", millis / 1000, digits.trim_end_matches('0')));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations_parse() {
        assert_eq!(parse_iso("PT1H"), Some(HOUR_MS));
        assert_eq!(parse_iso("PT5M"), Some(300_000));
        assert_eq!(parse_iso("P1D"), Some(86_400_000));
        assert_eq!(parse_iso("P1DT1H30M"), Some(86_400_000 + 5_400_000));
        assert_eq!(parse_iso("pt90s"), Some(90_000));
        assert_eq!(parse_iso("PT1.5S"), Some(1500));
        for bad in ["", "P", "PT", "1H", "PT1", "PTM", "PT1M1H", "P1H", "PT-1H"] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
    }

    #[test]
    fn iso_durations_format_as_java_does() {
        assert_eq!(format_iso(HOUR_MS), "PT1H");
        assert_eq!(format_iso(86_400_000), "PT24H");
        assert_eq!(format_iso(5_400_000), "PT1H30M");
        assert_eq!(format_iso(300_000), "PT5M");
        assert_eq!(format_iso(1500), "PT1.5S");
        assert_eq!(format_iso(1020), "PT1.02S");
        assert_eq!(format_iso(0), "PT0S");
    }
}
