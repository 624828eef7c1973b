//! Helpers over raw JSON values: equality, schema-aware traversal, rendering.

use serde_json::{Map, Value};

use super::num;

/// Instance kinds a `type` keyword can name. `number` is `INT | FRAC`.
pub(super) const NULL: u8 = 1;
pub(super) const BOOL: u8 = 2;
pub(super) const OBJ: u8 = 4;
pub(super) const ARR: u8 = 8;
pub(super) const STR: u8 = 16;
pub(super) const INT: u8 = 32;
pub(super) const FRAC: u8 = 64;
pub(super) const NUM: u8 = INT | FRAC;
pub(super) const ALL: u8 = 127;

/// Keywords that never change which documents a schema accepts. Those that
/// locate subschemas (`$id`, `$anchor`, `$defs`, ...) only matter through
/// references, which are compared where they are used.
pub(super) const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "examples",
    "default",
    "$comment",
    "deprecated",
    "readOnly",
    "writeOnly",
    "$schema",
    "$id",
    "$anchor",
    "$dynamicAnchor",
    "$recursiveAnchor",
    "$vocabulary",
    "$defs",
    "definitions",
    "sensitivity",
    "contentEncoding",
    "contentMediaType",
    "contentSchema",
];

pub(super) fn is_annotation(keyword: &str) -> bool {
    ANNOTATIONS.contains(&keyword)
}

fn type_name_kinds(name: &str) -> Option<u8> {
    Some(match name {
        "null" => NULL,
        "boolean" => BOOL,
        "object" => OBJ,
        "array" => ARR,
        "string" => STR,
        "integer" => INT,
        "number" => NUM,
        _ => return None,
    })
}

/// The kinds a `type` keyword allows; `None` when the keyword is malformed.
pub(super) fn type_kinds(keyword: Option<&Value>) -> Option<u8> {
    match keyword {
        None => Some(ALL),
        Some(Value::String(name)) => type_name_kinds(name),
        Some(Value::Array(names)) => names.iter().try_fold(0, |acc, name| {
            name.as_str().and_then(type_name_kinds).map(|kinds| acc | kinds)
        }),
        Some(_) => None,
    }
}

pub(super) fn kind_of(v: &Value) -> u8 {
    match v {
        Value::Null => NULL,
        Value::Bool(_) => BOOL,
        Value::Object(_) => OBJ,
        Value::Array(_) => ARR,
        Value::String(_) => STR,
        Value::Number(n) => match num::N::of(n) {
            Some(n) if !n.is_integral() => FRAC,
            _ => INT,
        },
    }
}

/// JSON equality where numbers compare by value (1 equals 1.0).
pub(super) fn json_eq(a: &Value, b: &Value) -> bool {
    // An explicit stack keeps deeply nested input from exhausting the call stack.
    let mut pending = vec![(a, b)];
    while let Some(pair) = pending.pop() {
        match pair {
            (Value::Null, Value::Null) => {}
            (Value::Bool(x), Value::Bool(y)) if x == y => {}
            (Value::Number(x), Value::Number(y)) if num::num_eq(x, y) => {}
            (Value::String(x), Value::String(y)) if x == y => {}
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                pending.extend(x.iter().zip(y));
            }
            (Value::Object(x), Value::Object(y)) if x.len() == y.len() => {
                for (key, xv) in x {
                    match y.get(key) {
                        Some(yv) => pending.push((xv, yv)),
                        None => return false,
                    }
                }
            }
            _ => return false,
        }
    }
    true
}

pub(super) fn opt_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => json_eq(a, b),
        _ => false,
    }
}

/// What a keyword's value holds, for walking schemas.
#[derive(Clone, Copy)]
enum Pos {
    Schema,
    /// Property name → schema.
    Map,
    /// A list of schemas.
    List,
    /// A schema or a list of schemas (or something unknown that may hold some).
    Any,
    Data,
}

fn child_pos(keyword: &str) -> Pos {
    match keyword {
        "additionalProperties"
        | "propertyNames"
        | "unevaluatedProperties"
        | "not"
        | "if"
        | "then"
        | "else"
        | "contains"
        | "unevaluatedItems"
        | "contentSchema" => Pos::Schema,
        "properties" | "patternProperties" | "dependentSchemas" | "dependencies" | "$defs"
        | "definitions" => Pos::Map,
        "allOf" | "anyOf" | "oneOf" | "prefixItems" => Pos::List,
        "items" | "additionalItems" => Pos::Any,
        "enum" | "const" | "examples" | "default" | "type" | "required" | "dependentRequired"
        | "title" | "description" | "$comment" | "format" | "pattern" => Pos::Data,
        _ if num_or_flag(keyword) => Pos::Data,
        // Unknown keywords may be custom applicators: search them too.
        _ => Pos::Any,
    }
}

fn num_or_flag(keyword: &str) -> bool {
    matches!(
        keyword,
        "minimum"
            | "maximum"
            | "exclusiveMinimum"
            | "exclusiveMaximum"
            | "multipleOf"
            | "minLength"
            | "maxLength"
            | "minItems"
            | "maxItems"
            | "minProperties"
            | "maxProperties"
            | "minContains"
            | "maxContains"
            | "uniqueItems"
            | "deprecated"
            | "readOnly"
            | "writeOnly"
    )
}

/// Known keywords are compared by meaning in `schema_eq`; unknown ones exactly.
fn is_known(keyword: &str) -> bool {
    !matches!(child_pos(keyword), Pos::Any) || matches!(keyword, "items" | "additionalItems")
}

/// Calls `visit` on every schema object inside `root` (itself included).
/// Unknown keywords are searched too, since they may hold subschemas.
pub(super) fn walk_schemas<'a>(root: &'a Value, visit: impl FnMut(&'a Value)) {
    walk_at(root, Pos::Schema, visit);
}

/// Like `walk_schemas`, for the value of `keyword` rather than a whole schema.
pub(super) fn walk_keyword<'a>(keyword: &str, value: &'a Value, visit: impl FnMut(&'a Value)) {
    walk_at(value, child_pos(keyword), visit);
}

fn walk_at<'a>(root: &'a Value, pos: Pos, mut visit: impl FnMut(&'a Value)) {
    let mut pending = vec![(root, pos)];
    while let Some((v, pos)) = pending.pop() {
        match (v, pos) {
            (_, Pos::Data) => {}
            (Value::Object(map), Pos::Schema | Pos::Any) => {
                visit(v);
                pending.extend(map.iter().map(|(k, v)| (v, child_pos(k))));
            }
            (Value::Object(map), Pos::Map) => pending.extend(map.values().map(|v| (v, Pos::Any))),
            (Value::Array(list), _) => pending.extend(list.iter().map(|v| (v, Pos::Any))),
            _ => {}
        }
    }
}

/// Equality of two schemas that ignores annotations. References inside are
/// compared as text; callers check separately that they resolve alike.
pub(super) fn schema_eq(a: &Value, b: &Value) -> bool {
    eq_at(a, b, Pos::Schema)
}

/// `schema_eq` for the values of one keyword; unknown keywords compare exactly.
pub(super) fn keyword_eq(keyword: &str, a: &Value, b: &Value) -> bool {
    eq_at(a, b, if is_known(keyword) { child_pos(keyword) } else { Pos::Data })
}

fn eq_at(a: &Value, b: &Value, pos: Pos) -> bool {
    let mut pending = vec![(a, b, pos)];
    while let Some((a, b, pos)) = pending.pop() {
        match (a, b, pos) {
            (Value::Object(x), Value::Object(y), Pos::Schema | Pos::Any) => {
                let asserted =
                    |m: &'_ Map<String, Value>| m.keys().filter(|k| !is_annotation(k)).count();
                if asserted(x) != asserted(y) {
                    return false;
                }
                for (key, xv) in x.iter().filter(|(k, _)| !is_annotation(k)) {
                    let Some(yv) = y.get(key) else { return false };
                    let pos = if is_known(key) { child_pos(key) } else { Pos::Data };
                    pending.push((xv, yv, pos));
                }
            }
            (Value::Object(x), Value::Object(y), Pos::Map) => {
                if x.len() != y.len() {
                    return false;
                }
                for (key, xv) in x {
                    let Some(yv) = y.get(key) else { return false };
                    pending.push((xv, yv, Pos::Any));
                }
            }
            (Value::Array(x), Value::Array(y), Pos::List | Pos::Any) => {
                if x.len() != y.len() {
                    return false;
                }
                pending.extend(x.iter().zip(y).map(|(a, b)| (a, b, Pos::Schema)));
            }
            (a, b, _) => {
                if !json_eq(a, b) {
                    return false;
                }
            }
        }
    }
    true
}

/// Escapes a property name for use in a JSON pointer.
pub(super) fn esc(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// Compact JSON for messages, cut short when long.
pub(super) fn render(v: &Value) -> String {
    const LIMIT: usize = 60;
    let mut out = String::new();
    write_compact(v, &mut out, LIMIT, 0);
    if out.chars().count() > LIMIT {
        out = out.chars().take(LIMIT).collect::<String>() + "…";
    }
    out
}

fn write_compact(v: &Value, out: &mut String, limit: usize, depth: usize) {
    if out.len() > limit || depth > 8 {
        out.push('…');
        return;
    }
    match v {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_compact(item, out, limit, depth + 1);
                if out.len() > limit {
                    break;
                }
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_compact(item, out, limit, depth + 1);
                if out.len() > limit {
                    break;
                }
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Human text for a `type` keyword, e.g. `string or null`.
pub(super) fn render_type(keyword: Option<&Value>) -> String {
    match keyword {
        None => "any type".to_owned(),
        Some(Value::String(name)) => name.clone(),
        Some(Value::Array(names)) if names.is_empty() => "no type".to_owned(),
        Some(Value::Array(names)) => {
            names.iter().map(|n| n.as_str().unwrap_or("?")).collect::<Vec<_>>().join(" or ")
        }
        Some(other) => render(other),
    }
}

/// Renders a list of values for a message: `"a", "b"`.
pub(super) fn render_list(values: &[&Value]) -> String {
    const SHOWN: usize = 5;
    let mut text: Vec<String> = values.iter().take(SHOWN).map(|v| render(v)).collect();
    if values.len() > SHOWN {
        text.push(format!("and {} more", values.len() - SHOWN));
    }
    text.join(", ")
}
