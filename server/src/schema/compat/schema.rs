//! A schema object as the checker reads it, and which keyword values are well formed.

use serde_json::{Map, Value};

use super::num::{self, N};
use super::refs::Dialect;
use super::value;

/// A schema object (or `true`), reading only well-formed keyword values.
#[derive(Clone, Copy)]
pub(super) struct Schema<'a> {
    pub(super) value: &'a Value,
    map: Option<&'a Map<String, Value>>,
    dialect: Dialect,
}

impl<'a> Schema<'a> {
    pub(super) fn new(
        value: &'a Value,
        map: Option<&'a Map<String, Value>>,
        dialect: Dialect,
    ) -> Schema<'a> {
        Schema { value, map, dialect }
    }

    /// The keyword's value, or `None` when absent, malformed (reported once,
    /// by `Checker::malformed`) or not part of the dialect (validators ignore
    /// it; the wide side's is handled as an unknown keyword).
    pub(super) fn get(&self, keyword: &str) -> Option<&'a Value> {
        if self.dialect.lacks(keyword) {
            return None;
        }
        self.raw(keyword).filter(|v| well_formed(keyword, v, self.dialect))
    }

    pub(super) fn raw(&self, keyword: &str) -> Option<&'a Value> {
        self.map?.get(keyword)
    }

    pub(super) fn keys(&self) -> impl Iterator<Item = &'a String> + use<'a> {
        self.map.into_iter().flat_map(Map::keys)
    }

    pub(super) fn dialect(&self) -> Dialect {
        self.dialect
    }
}

pub(super) fn is_schema(v: &Value) -> bool {
    matches!(v, Value::Bool(_) | Value::Object(_))
}

fn strings(v: &Value) -> bool {
    v.as_array().is_some_and(|list| list.iter().all(Value::is_string))
}

/// Whether a keyword's value has the shape the specification requires.
/// Subschemas inside are checked when they are compared.
pub(super) fn well_formed(keyword: &str, v: &Value, dialect: Dialect) -> bool {
    if dialect.lacks(keyword) {
        return true;
    }
    match keyword {
        "type" => value::type_kinds(Some(v)).is_some(),
        "enum" | "prefixItems" => v.is_array(),
        "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => N::of_value(v).is_some(),
        "multipleOf" => num::positive(v).is_some(),
        "minLength" | "maxLength" | "minItems" | "maxItems" | "minProperties" | "maxProperties"
        | "minContains" | "maxContains" => num::count(v).is_some(),
        "pattern" | "format" | "$ref" | "$dynamicRef" | "$recursiveRef" => v.is_string(),
        "required" => strings(v),
        "properties" | "patternProperties" | "dependentSchemas" => {
            v.as_object().is_some_and(|m| m.values().all(is_schema))
        }
        "dependentRequired" => v.as_object().is_some_and(|m| m.values().all(strings)),
        "dependencies" => {
            v.as_object().is_some_and(|m| m.values().all(|d| strings(d) || is_schema(d)))
        }
        "additionalProperties"
        | "propertyNames"
        | "unevaluatedProperties"
        | "not"
        | "if"
        | "then"
        | "else"
        | "contains"
        | "unevaluatedItems"
        | "additionalItems" => is_schema(v),
        "items" => {
            is_schema(v)
                || (dialect.tuple_items() && v.as_array().is_some_and(|l| l.iter().all(is_schema)))
        }
        "allOf" | "anyOf" | "oneOf" => v.as_array().is_some_and(|l| !l.is_empty()),
        "uniqueItems" => v.is_boolean(),
        _ => true,
    }
}

/// Keywords this checker understands (everything else is an unknown keyword).
pub(super) fn is_known(keyword: &str) -> bool {
    matches!(
        keyword,
        "type"
            | "enum"
            | "const"
            | "minimum"
            | "maximum"
            | "exclusiveMinimum"
            | "exclusiveMaximum"
            | "multipleOf"
            | "minLength"
            | "maxLength"
            | "pattern"
            | "format"
            | "properties"
            | "patternProperties"
            | "additionalProperties"
            | "required"
            | "propertyNames"
            | "minProperties"
            | "maxProperties"
            | "dependentRequired"
            | "dependentSchemas"
            | "dependencies"
            | "unevaluatedProperties"
            | "items"
            | "prefixItems"
            | "additionalItems"
            | "contains"
            | "minContains"
            | "maxContains"
            | "minItems"
            | "maxItems"
            | "uniqueItems"
            | "unevaluatedItems"
            | "allOf"
            | "anyOf"
            | "oneOf"
            | "not"
            | "if"
            | "then"
            | "else"
            | "$ref"
            | "$dynamicRef"
            | "$recursiveRef"
    )
}
