//! JSON Patch (RFC 6902) on a road: the operations `add`, `remove` and
//! `replace`, on the paths Data Highway let clients patch.
//!
//! The patch is applied to the road as the client sees it (its JSON view),
//! so nested paths such as `/metadata/owner` or
//! `/authorisation/onramp/authorities/-` behave as RFC 6902 says; each
//! touched field then becomes one path of UpdateRoad's field mask.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::ApiError;

/// THE mapping: the JSON Patch paths a client may change (and every path
/// beneath them), and the UpdateRoad field-mask path each one becomes.
pub const PATCHABLE: &[(&str, &str)] = &[
    ("/description", "description"),
    ("/teamName", "team_name"),
    ("/contactEmail", "contact_email"),
    ("/enabled", "enabled"),
    ("/materialized", "materialized"),
    ("/partitionPath", "partition_path"),
    ("/metadata", "metadata"),
    ("/compatibilityMode", "compatibility_mode"),
    ("/authorisation/admins", "authorisation.admins"),
    ("/authorisation/onramp/authorities", "authorisation.onramp.authorities"),
    ("/authorisation/onramp/cidrBlocks", "authorisation.onramp.cidr_blocks"),
    ("/authorisation/offramp/authorities", "authorisation.offramp.authorities"),
];

/// One operation as a client sends it.
#[derive(Debug, Deserialize)]
pub struct Operation {
    op: String,
    path: String,
    /// Present-but-null is a value (`"value": null`), distinct from absent.
    #[serde(default, deserialize_with = "present")]
    value: Option<Value>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The field-mask path of a patch path, if it may be patched.
fn mask_path(path: &str) -> Option<&'static str> {
    PATCHABLE.iter().find_map(|(prefix, mask)| {
        let beneath =
            path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        beneath.then_some(*mask)
    })
}

/// Checks every operation before anything is read or written, and returns
/// the field mask they make, in the order of [`PATCHABLE`].
pub fn mask(ops: &[Operation]) -> Result<Vec<String>, ApiError> {
    let mut touched = Vec::new();
    for op in ops {
        if !matches!(op.op.as_str(), "add" | "remove" | "replace") {
            return Err(ApiError::bad_request(format!(
                "\"{}\" is not a supported patch operation: use add, remove or replace",
                op.op
            )));
        }
        let mask = mask_path(&op.path).ok_or_else(|| {
            ApiError::bad_request(format!("\"{}\" is not a valid path to patch", op.path))
        })?;
        if op.op != "remove" && op.value.is_none() {
            return Err(ApiError::bad_request(format!("{} \"{}\" needs a value", op.op, op.path)));
        }
        touched.push(mask);
    }
    Ok(PATCHABLE
        .iter()
        .filter(|(_, mask)| touched.contains(mask))
        .map(|(_, mask)| mask.to_string())
        .collect())
}

/// Applies `ops`, in order, to `doc`.
pub fn apply(doc: &mut Value, ops: &[Operation]) -> Result<(), ApiError> {
    for op in ops {
        let tokens = pointer(&op.path)?;
        let fail =
            |problem: &str| ApiError::bad_request(format!("{} \"{}\": {problem}", op.op, op.path));
        let Some((last, parents)) = tokens.split_last() else {
            return Err(fail("the whole road cannot be patched"));
        };
        let parent = parents
            .iter()
            .try_fold(&mut *doc, |node, token| child(node, token))
            .ok_or_else(|| fail("the path does not exist"))?;
        let value = op.value.clone().unwrap_or(Value::Null);
        match (op.op.as_str(), parent) {
            ("add", Value::Object(map)) => {
                map.insert(last.clone(), value);
            }
            ("add", Value::Array(items)) => {
                let at = if last == "-" {
                    items.len()
                } else {
                    index(last, items.len() + 1).ok_or_else(|| fail("no such index"))?
                };
                items.insert(at, value);
            }
            ("remove", Value::Object(map)) => {
                map.remove(last).ok_or_else(|| fail("the path does not exist"))?;
            }
            ("remove", Value::Array(items)) => {
                let at = index(last, items.len()).ok_or_else(|| fail("no such index"))?;
                items.remove(at);
            }
            ("replace", Value::Object(map)) => match map.get_mut(last) {
                Some(slot) => *slot = value,
                None => return Err(fail("the path does not exist")),
            },
            ("replace", Value::Array(items)) => {
                let at = index(last, items.len()).ok_or_else(|| fail("no such index"))?;
                items[at] = value;
            }
            _ => return Err(fail("the parent is neither an object nor an array")),
        }
    }
    Ok(())
}

/// The reference tokens of a JSON pointer (RFC 6901).
fn pointer(path: &str) -> Result<Vec<String>, ApiError> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(ApiError::bad_request(format!("\"{path}\" is not a valid path to patch")));
    };
    Ok(rest.split('/').map(|t| t.replace("~1", "/").replace("~0", "~")).collect())
}

fn child<'a>(node: &'a mut Value, token: &str) -> Option<&'a mut Value> {
    match node {
        Value::Object(map) => map.get_mut(token),
        Value::Array(items) => {
            let at = index(token, items.len())?;
            items.get_mut(at)
        }
        _ => None,
    }
}

/// An array index below `bound`, written without leading zeros.
fn index(token: &str, bound: usize) -> Option<usize> {
    let canonical =
        token == "0" || (!token.starts_with('0') && token.bytes().all(|b| b.is_ascii_digit()));
    token.parse().ok().filter(|&i| canonical && i < bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ops(value: Value) -> Vec<Operation> {
        serde_json::from_value(value).expect("operations")
    }

    #[test]
    fn nested_paths_patch_their_field() {
        let mut doc = json!({"metadata": {"a": "1"}, "enabled": false,
            "authorisation": {"onramp": {"authorities": ["x"], "cidrBlocks": []}}});
        let patch = ops(json!([
            {"op": "add", "path": "/metadata/b", "value": "2"},
            {"op": "remove", "path": "/metadata/a"},
            {"op": "replace", "path": "/enabled", "value": true},
            {"op": "add", "path": "/authorisation/onramp/authorities/-", "value": "y"},
            {"op": "add", "path": "/authorisation/onramp/authorities/0", "value": "w"},
        ]));
        assert_eq!(
            mask(&patch).expect("valid"),
            ["enabled", "metadata", "authorisation.onramp.authorities"]
        );
        apply(&mut doc, &patch).expect("applies");
        assert_eq!(doc["metadata"], json!({"b": "2"}));
        assert_eq!(doc["enabled"], json!(true));
        assert_eq!(doc["authorisation"]["onramp"]["authorities"], json!(["w", "x", "y"]));
    }

    #[test]
    fn other_paths_and_operations_are_refused() {
        let err = mask(&ops(json!([{"op": "replace", "path": "/name", "value": "n"}])))
            .expect_err("immutable");
        assert_eq!(err.message, "\"/name\" is not a valid path to patch");
        let err = mask(&ops(json!([{"op": "replace", "path": "/enabledness", "value": 1}])))
            .expect_err("a prefix is not a parent");
        assert_eq!(err.message, "\"/enabledness\" is not a valid path to patch");
        assert!(mask(&ops(json!([{"op": "move", "from": "/a", "path": "/description"}]))).is_err());
        assert!(mask(&ops(json!([{"op": "add", "path": "/description"}]))).is_err(), "no value");
        assert!(mask(&ops(json!([{"op": "add", "path": "/description", "value": null}]))).is_ok());
    }

    #[test]
    fn missing_targets_fail_as_rfc_6902_says() {
        let mut doc = json!({"metadata": {}});
        let err = apply(&mut doc, &ops(json!([{"op": "remove", "path": "/metadata/x"}])))
            .expect_err("nothing to remove");
        assert_eq!(err.message, "remove \"/metadata/x\": the path does not exist");
        assert!(
            apply(&mut doc, &ops(json!([{"op": "replace", "path": "/metadata/x", "value": "1"}])))
                .is_err()
        );
        assert!(
            apply(&mut doc, &ops(json!([{"op": "add", "path": "/metadata/x~1y", "value": "1"}])))
                .is_ok()
        );
        assert_eq!(doc["metadata"]["x/y"], json!("1"));
    }
}
