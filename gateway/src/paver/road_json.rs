//! A road as Data Highway's clients write and read it (camelCase JSON), and
//! its conversion to and from the contract's `Road`.

use std::collections::BTreeMap;

use roadroller_api::v1 as pb;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Who may use a road: `{"onramp": {"cidrBlocks", "authorities"},
/// "offramp": {"authorities": {"<authority>": ["PUBLIC", "PII"]}}}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorisationJson {
    #[serde(default)]
    pub onramp: OnrampJson,
    #[serde(default)]
    pub offramp: OfframpJson,
    /// Roadroller's addition: who administers the road.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admins: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OnrampJson {
    #[serde(default)]
    pub cidr_blocks: Vec<String>,
    #[serde(default)]
    pub authorities: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OfframpJson {
    #[serde(default)]
    pub authorities: BTreeMap<String, Vec<String>>,
}

/// The road view of `GET /roads/{name}`: Data Highway's fields plus `type`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoadView {
    pub name: String,
    #[serde(rename = "type")]
    pub road_type: &'static str,
    pub description: String,
    pub team_name: String,
    pub contact_email: String,
    pub enabled: bool,
    /// Null when the road has none, as Data Highway showed it.
    pub partition_path: Option<String>,
    pub authorisation: AuthorisationJson,
    pub metadata: BTreeMap<String, String>,
    /// Whether the road's topic exists as the road describes it.
    pub road_intact: bool,
    pub compatibility_mode: &'static str,
    /// What the agents (here Traffic Control) last had to say about the road.
    pub agent_messages: BTreeMap<String, String>,
    /// A Roadroller addition: COMPACTED roads served by key
    /// (`GET /offramp/v1/roads/{road}/keys/{key}`).
    pub materialized: bool,
}

/// A road as a client sends it: to create it, or the road view after a
/// patch. Absent and null fields are unset.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoadInput {
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub road_type: Option<String>,
    pub description: Option<String>,
    pub team_name: Option<String>,
    pub contact_email: Option<String>,
    pub enabled: Option<bool>,
    pub partition_path: Option<String>,
    pub authorisation: Option<AuthorisationJson>,
    pub metadata: Option<BTreeMap<String, String>>,
    pub compatibility_mode: Option<String>,
    /// A Roadroller addition: zero or absent takes the server's default.
    pub partitions: Option<i32>,
    /// A Roadroller addition: keep a COMPACTED road's current state on every
    /// instance and serve it by key.
    pub materialized: Option<bool>,
    // Output only in the road view; accepted so that a road read back can be
    // sent again, and ignored.
    #[serde(default, rename = "roadIntact")]
    _road_intact: Option<IgnoredAny>,
    #[serde(default, rename = "agentMessages")]
    _agent_messages: Option<IgnoredAny>,
}

/// Parses a road body, naming the offending field on failure.
pub fn parse_input(value: serde_json::Value) -> Result<RoadInput, ApiError> {
    serde_path_to_error::deserialize(value)
        .map_err(|e| ApiError::unparsable(format!("{}: {}", e.path(), e.inner())))
}

/// The contract's road from a creation body. A body without `type` is a
/// STREAM road: Data Highway knew no other kind, and its clients do not
/// send one.
pub fn new_road(input: RoadInput) -> Result<pb::Road, ApiError> {
    let name = input.name.clone().unwrap_or_default();
    let road_type = match input.road_type.as_deref() {
        None => pb::RoadType::Stream,
        Some(text) => road_type(text)?,
    };
    let mut road = pb::Road { name, r#type: road_type as i32, ..Default::default() };
    road.partitions = input.partitions.unwrap_or(0);
    set_fields(&mut road, &input)?;
    Ok(road)
}

/// Copies the changeable fields of `input` onto `road`; unset fields take
/// their empty value, which is what a `remove` in a patch means.
pub fn set_fields(road: &mut pb::Road, input: &RoadInput) -> Result<(), ApiError> {
    road.description = input.description.clone().unwrap_or_default();
    road.team_name = input.team_name.clone().unwrap_or_default();
    road.contact_email = input.contact_email.clone().unwrap_or_default();
    road.enabled = input.enabled.unwrap_or(false);
    road.materialized = input.materialized.unwrap_or(false);
    road.partition_path = input.partition_path.clone().unwrap_or_default();
    road.metadata = input.metadata.clone().unwrap_or_default().into_iter().collect();
    road.compatibility_mode = match input.compatibility_mode.as_deref() {
        None => pb::CompatibilityMode::Unspecified as i32,
        Some(text) => compatibility(text)? as i32,
    };
    road.authorisation = Some(authorisation(&input.authorisation.clone().unwrap_or_default())?);
    Ok(())
}

fn road_type(text: &str) -> Result<pb::RoadType, ApiError> {
    match text {
        "STREAM" => Ok(pb::RoadType::Stream),
        "COMPACTED" => Ok(pb::RoadType::Compacted),
        other => Err(ApiError::bad_request(format!(
            "type: {other:?} is not a road type; use STREAM or COMPACTED"
        ))),
    }
}

fn road_type_name(value: i32) -> &'static str {
    match pb::RoadType::try_from(value) {
        Ok(pb::RoadType::Stream) => "STREAM",
        Ok(pb::RoadType::Compacted) => "COMPACTED",
        _ => "UNSPECIFIED",
    }
}

/// Roadroller's mode names, and Data Highway's for the same checks.
const MODES: &[(&str, &str, pb::CompatibilityMode)] = &[
    ("NONE", "NONE", pb::CompatibilityMode::None),
    ("BACKWARD", "CAN_READ_LATEST", pb::CompatibilityMode::Backward),
    ("BACKWARD_TRANSITIVE", "CAN_READ_ALL", pb::CompatibilityMode::BackwardTransitive),
    ("FORWARD", "CAN_BE_READ_BY_LATEST", pb::CompatibilityMode::Forward),
    ("FORWARD_TRANSITIVE", "CAN_BE_READ_BY_ALL", pb::CompatibilityMode::ForwardTransitive),
    ("FULL", "MUTUAL_READ_LATEST", pb::CompatibilityMode::Full),
    ("FULL_TRANSITIVE", "MUTUAL_READ_ALL", pb::CompatibilityMode::FullTransitive),
];

fn compatibility(text: &str) -> Result<pb::CompatibilityMode, ApiError> {
    MODES.iter().find(|(ours, theirs, _)| text == *ours || text == *theirs).map(|m| m.2).ok_or_else(
        || {
            let names: Vec<&str> = MODES.iter().map(|m| m.0).collect();
            ApiError::bad_request(format!(
                "compatibilityMode: {text:?} is not a mode; use one of {}",
                names.join(", ")
            ))
        },
    )
}

fn compatibility_name(value: i32) -> &'static str {
    MODES.iter().find(|m| m.2 as i32 == value).map_or("UNSPECIFIED", |m| m.0)
}

fn grant(text: &str) -> Result<pb::Grant, ApiError> {
    match text {
        "PUBLIC" => Ok(pb::Grant::Public),
        "PII" => Ok(pb::Grant::Pii),
        other => Err(ApiError::bad_request(format!(
            "authorisation: {other:?} is not a grant; use PUBLIC or PII"
        ))),
    }
}

fn grant_name(value: i32) -> Option<&'static str> {
    match pb::Grant::try_from(value) {
        Ok(pb::Grant::Public) => Some("PUBLIC"),
        Ok(pb::Grant::Pii) => Some("PII"),
        _ => None,
    }
}

fn authorisation(json: &AuthorisationJson) -> Result<pb::Authorisation, ApiError> {
    let mut offramp = std::collections::HashMap::new();
    for (authority, grants) in &json.offramp.authorities {
        let grants = grants.iter().map(|g| grant(g).map(|g| g as i32)).collect::<Result<_, _>>()?;
        offramp.insert(authority.clone(), pb::Grants { grants });
    }
    Ok(pb::Authorisation {
        onramp: Some(pb::OnrampAuthorisation {
            authorities: json.onramp.authorities.clone(),
            cidr_blocks: json.onramp.cidr_blocks.clone(),
        }),
        offramp: Some(pb::OfframpAuthorisation { authorities: offramp }),
        admins: json.admins.clone(),
    })
}

fn authorisation_json(a: Option<&pb::Authorisation>) -> AuthorisationJson {
    let Some(a) = a else { return AuthorisationJson::default() };
    let onramp = a.onramp.clone().unwrap_or_default();
    let authorities = a
        .offramp
        .as_ref()
        .map(|o| {
            o.authorities
                .iter()
                .map(|(who, g)| {
                    (
                        who.clone(),
                        g.grants.iter().filter_map(|g| grant_name(*g)).map(String::from).collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    AuthorisationJson {
        onramp: OnrampJson { cidr_blocks: onramp.cidr_blocks, authorities: onramp.authorities },
        offramp: OfframpJson { authorities },
        admins: a.admins.clone(),
    }
}

/// The road view of a contract road.
pub fn view(road: &pb::Road) -> RoadView {
    let status = road.status.clone().unwrap_or_default();
    let mut agent_messages = BTreeMap::new();
    if !status.last_problem.is_empty() {
        agent_messages.insert("traffic_control".to_string(), status.last_problem.clone());
    }
    for drift in &status.drift {
        agent_messages.insert(
            format!("traffic_control.drift.{}", drift.config),
            format!("expected {:?}, found {:?}", drift.expected, drift.actual),
        );
    }
    RoadView {
        name: road.name.clone(),
        road_type: road_type_name(road.r#type),
        description: road.description.clone(),
        team_name: road.team_name.clone(),
        contact_email: road.contact_email.clone(),
        enabled: road.enabled,
        partition_path: Some(road.partition_path.clone()).filter(|p| !p.is_empty()),
        authorisation: authorisation_json(road.authorisation.as_ref()),
        metadata: road.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        road_intact: status.topic_created && status.drift.is_empty(),
        compatibility_mode: compatibility_name(road.compatibility_mode),
        agent_messages,
        materialized: road.materialized,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_legacy_body_creates_a_stream_road() {
        let input = parse_input(json!({
            "name": "orders", "description": "d", "teamName": "t", "contactEmail": "a@b.c",
            "enabled": false, "partitionPath": "$.id", "metadata": {"k": "v"},
            "authorisation": {"onramp": {"cidrBlocks": ["0.0.0.0/0"], "authorities": ["*"]},
                              "offramp": {"authorities": {"*": ["PUBLIC", "PII"]}}}
        }))
        .expect("parses");
        let road = new_road(input).expect("valid");
        assert_eq!(road.r#type, pb::RoadType::Stream as i32);
        assert_eq!((road.team_name.as_str(), road.partition_path.as_str()), ("t", "$.id"));
        let grants =
            &road.authorisation.as_ref().expect("auth").offramp.as_ref().expect("off").authorities
                ["*"];
        assert_eq!(grants.grants, [pb::Grant::Public as i32, pb::Grant::Pii as i32]);
    }

    #[test]
    fn bad_fields_are_named() {
        let err = parse_input(json!({"name": "x", "enabled": "yes"})).expect_err("type");
        assert!(
            err.message.starts_with("Unable to parse message: enabled: invalid type"),
            "{}",
            err.message
        );
        let err = parse_input(json!({"name": "x", "colour": "red"})).expect_err("unknown");
        assert!(err.message.contains("unknown field `colour`"), "{}", err.message);
        let input = parse_input(json!({"name": "x", "type": "TABLE"})).expect("parses");
        assert!(new_road(input).expect_err("type").message.starts_with("type: \"TABLE\""));
        let input =
            parse_input(json!({"name": "x", "compatibilityMode": "CAN_READ_ALL"})).expect("parses");
        assert_eq!(
            new_road(input).expect("mode").compatibility_mode,
            pb::CompatibilityMode::BackwardTransitive as i32
        );
    }

    #[test]
    fn the_view_round_trips_through_the_input() {
        let road = pb::Road {
            name: "r".into(),
            r#type: pb::RoadType::Compacted as i32,
            compatibility_mode: pb::CompatibilityMode::Full as i32,
            status: Some(pb::RoadStatus { topic_created: true, ..Default::default() }),
            ..Default::default()
        };
        let view = serde_json::to_value(view(&road)).expect("json");
        assert_eq!(view["type"], "COMPACTED");
        assert_eq!(view["roadIntact"], true);
        assert_eq!(view["compatibilityMode"], "FULL");
        assert_eq!(view["partitionPath"], serde_json::Value::Null);
        let input = parse_input(view).expect("the view parses as input");
        assert_eq!(input.road_type.as_deref(), Some("COMPACTED"));
    }
}
