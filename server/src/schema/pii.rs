//! PII marks: a string property may carry `"sensitivity": "PII"`, and readers
//! without the PII grant receive it blanked.
//!
//! Marks are honoured on properties reached through `properties` and array
//! `items`, the places a blanking walk can follow in a payload. A mark
//! anywhere else (inside `anyOf`, `$defs`, ...) is refused rather than
//! silently ignored.

use std::collections::HashSet;

use serde_json::Value;

use super::{SchemaProblem, problem};

/// One step from a value to a part of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    Property(String),
    /// Every element of an array.
    Items,
}

/// Where a property sits in documents of a schema.
pub type Path = Vec<Step>;

/// The PII-marked properties of one schema, and the unmarked ones (to refuse
/// a later version marking an existing property).
#[derive(Clone, Debug, Default)]
pub struct PiiPaths {
    marked: Vec<Path>,
    unmarked: HashSet<Path>,
}

/// Subschema keywords under which marks are not honoured.
const ELSEWHERE: &[&str] = &[
    "additionalProperties",
    "unevaluatedProperties",
    "propertyNames",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "additionalItems",
];
const ELSEWHERE_LISTS: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];
const ELSEWHERE_MAPS: &[&str] = &["$defs", "definitions", "patternProperties", "dependentSchemas"];

impl PiiPaths {
    /// Collects the marks of `schema`, refusing marks that are not `"PII"`,
    /// not on a string property, or in a place blanking cannot follow.
    pub fn of(schema: &Value) -> Result<Self, Vec<SchemaProblem>> {
        let mut paths = Self::default();
        let mut problems = Vec::new();
        paths.walk(schema, "", &mut Vec::new(), &mut problems);
        if problems.is_empty() { Ok(paths) } else { Err(problems) }
    }

    /// The marked properties.
    pub fn iter(&self) -> impl Iterator<Item = &Path> {
        self.marked.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.marked.is_empty()
    }

    /// Whether `path` is a property of this schema that carries no mark.
    pub fn has_unmarked_property(&self, path: &Path) -> bool {
        self.unmarked.contains(path)
    }

    /// Replaces every marked string in `document` with `""`; null stays null.
    pub fn blank(&self, document: &mut Value) {
        for path in &self.marked {
            blank_at(document, path);
        }
    }

    fn walk(
        &mut self,
        schema: &Value,
        pointer: &str,
        path: &mut Path,
        problems: &mut Vec<SchemaProblem>,
    ) {
        let Some(object) = schema.as_object() else { return };
        match object.get("sensitivity") {
            Some(Value::String(s)) if s == "PII" => {
                if path.is_empty() {
                    problems.push(problem(
                        pointer.to_string() + "/sensitivity",
                        "the document itself cannot be PII",
                    ));
                } else if !is_string_typed(schema) {
                    problems.push(problem(
                        pointer.to_string() + "/sensitivity",
                        "PII marks a string property; this one is not \"type\": \"string\"",
                    ));
                } else {
                    self.marked.push(path.clone());
                }
            }
            Some(other) => problems.push(problem(
                pointer.to_string() + "/sensitivity",
                format!("must be \"PII\", not {other}"),
            )),
            None if !path.is_empty() => {
                self.unmarked.insert(path.clone());
            }
            None => {}
        }
        if let Some(Value::Object(properties)) = object.get("properties") {
            for (name, sub) in properties {
                path.push(Step::Property(name.clone()));
                self.walk(sub, &format!("{pointer}/properties/{}", escape(name)), path, problems);
                path.pop();
            }
        }
        if let Some(items) = object.get("items").filter(|i| i.is_object()) {
            path.push(Step::Items);
            self.walk(items, &format!("{pointer}/items"), path, problems);
            path.pop();
        }
        refuse_marks_elsewhere(object, pointer, problems);
    }
}

/// The schema pointer of a property path, e.g. `/properties/a/items`.
pub fn schema_pointer(path: &[Step]) -> String {
    path.iter()
        .map(|step| match step {
            Step::Property(name) => format!("/properties/{}", escape(name)),
            Step::Items => "/items".to_string(),
        })
        .collect()
}

fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

fn is_string_typed(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(types)) => {
            types.iter().any(|t| t == "string")
                && types.iter().all(|t| t == "string" || t == "null")
        }
        _ => false,
    }
}

fn refuse_marks_elsewhere(
    object: &serde_json::Map<String, Value>,
    pointer: &str,
    problems: &mut Vec<SchemaProblem>,
) {
    let mut elsewhere: Vec<(String, &Value)> = Vec::new();
    for key in ELSEWHERE {
        if let Some(sub) = object.get(*key) {
            elsewhere.push((format!("{pointer}/{key}"), sub));
        }
    }
    for key in ELSEWHERE_LISTS {
        if let Some(Value::Array(subs)) = object.get(*key) {
            elsewhere
                .extend(subs.iter().enumerate().map(|(i, s)| (format!("{pointer}/{key}/{i}"), s)));
        }
    }
    for key in ELSEWHERE_MAPS {
        if let Some(Value::Object(subs)) = object.get(*key) {
            elsewhere
                .extend(subs.iter().map(|(n, s)| (format!("{pointer}/{key}/{}", escape(n)), s)));
        }
    }
    for (at, sub) in elsewhere {
        if let Some(found) = find_mark(sub, &at) {
            problems.push(problem(
                found,
                "PII marks are honoured only on properties reached through properties and items",
            ));
        }
    }
}

/// The pointer of the first `sensitivity` keyword in a subschema tree.
fn find_mark(schema: &Value, pointer: &str) -> Option<String> {
    let object = schema.as_object()?;
    if object.contains_key("sensitivity") {
        return Some(format!("{pointer}/sensitivity"));
    }
    for (key, value) in object {
        let at = format!("{pointer}/{}", escape(key));
        let found = match value {
            // Under `properties` the keys are names; their values are schemas.
            Value::Object(map) if key == "properties" || ELSEWHERE_MAPS.contains(&key.as_str()) => {
                map.iter().find_map(|(n, s)| find_mark(s, &format!("{at}/{}", escape(n))))
            }
            Value::Object(_) => find_mark(value, &at),
            Value::Array(list) => {
                list.iter().enumerate().find_map(|(i, s)| find_mark(s, &format!("{at}/{i}")))
            }
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

fn blank_at(value: &mut Value, path: &[Step]) {
    let Some((step, rest)) = path.split_first() else {
        if value.is_string() {
            *value = Value::String(String::new());
        }
        return;
    };
    match (step, value) {
        (Step::Property(name), Value::Object(map)) => {
            if let Some(inner) = map.get_mut(name) {
                blank_at(inner, rest);
            }
        }
        (Step::Items, Value::Array(items)) => {
            for item in items {
                blank_at(item, rest);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn marks(schema: Value) -> Result<Vec<String>, Vec<String>> {
        PiiPaths::of(&schema)
            .map(|p| p.iter().map(|path| schema_pointer(path)).collect())
            .map_err(|p| p.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn marks_are_found_through_properties_and_items() {
        let schema = json!({"type": "object", "properties": {
            "email": {"type": "string", "sensitivity": "PII"},
            "contacts": {"type": "array", "items": {"type": "object", "properties": {
                "phone": {"type": ["string", "null"], "sensitivity": "PII"}}}},
            "age": {"type": "integer"}
        }});
        let mut found = marks(schema).expect("valid");
        found.sort();
        assert_eq!(found, ["/properties/contacts/items/properties/phone", "/properties/email"]);
    }

    #[test]
    fn a_mark_on_a_non_string_is_refused() {
        let schema = json!({"type": "object", "properties": {"age": {"type": "integer", "sensitivity": "PII"}}});
        let err = marks(schema).expect_err("refused");
        assert!(err[0].starts_with("/properties/age/sensitivity: PII marks a string"), "{err:?}");
    }

    #[test]
    fn marks_elsewhere_and_other_values_are_refused() {
        let schema = json!({"type": "object", "anyOf": [{"properties": {"x": {"type": "string", "sensitivity": "PII"}}}]});
        let err = marks(schema).expect_err("refused");
        assert!(
            err[0].starts_with("/anyOf/0/properties/x/sensitivity: PII marks are honoured only"),
            "{err:?}"
        );
        let schema = json!({"type": "object", "properties": {"x": {"type": "string", "sensitivity": "SECRET"}}});
        assert!(marks(schema).is_err());
    }

    #[test]
    fn a_property_named_sensitivity_is_just_a_property() {
        let schema = json!({"type": "object", "properties": {"sensitivity": {"type": "string"}}});
        assert_eq!(marks(schema).expect("valid"), Vec::<String>::new());
    }

    #[test]
    fn blanking_replaces_marked_strings_and_keeps_null() {
        let schema = json!({"type": "object", "properties": {
            "email": {"type": "string", "sensitivity": "PII"},
            "tags": {"type": "array", "items": {"type": ["string", "null"], "sensitivity": "PII"}},
            "name": {"type": "string"}
        }});
        let pii = PiiPaths::of(&schema).expect("valid");
        let mut doc = json!({"email": "a@b.c", "tags": ["x", null], "name": "kept"});
        pii.blank(&mut doc);
        assert_eq!(doc, json!({"email": "", "tags": ["", null], "name": "kept"}));
    }
}
