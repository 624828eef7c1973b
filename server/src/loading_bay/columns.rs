//! A road's JSON Schema as table columns.
//!
//! The mapping, applied recursively:
//!
//! | JSON Schema | column |
//! |---|---|
//! | `string` (any `format`), or an `enum`/`const` of strings | string |
//! | `integer` | 64-bit integer |
//! | `number`, or `["integer", "number"]` | double |
//! | `boolean` | boolean |
//! | `object` with `properties` | struct of the properties, in name order |
//! | `array` with one `items` schema | list of the items' column |
//! | `anyOf`/`oneOf` of one schema and `{"type": "null"}` | that schema's column, nullable |
//! | anything else: several types, objects without `properties` (maps), tuples, `oneOf` of objects, `$ref`, `allOf`, `not`, no type at all | string holding the value as JSON |
//!
//! A property is nullable unless it is `required` and its type does not
//! allow `null`. Properties that `additionalProperties` would allow beyond
//! the declared ones are not kept: the table has the declared columns.

use serde_json::Value;

/// The type of one column.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Utf8,
    Int64,
    Float64,
    Boolean,
    Struct(Vec<Column>),
    List(Box<Column>),
    /// The value as JSON text: what has no faithful column type.
    Json,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
    pub nullable: bool,
}

impl Kind {
    /// Whether a value of this kind must be rewritten before decoding
    /// (some part of it is kept as JSON text).
    pub fn has_json(&self) -> bool {
        match self {
            Kind::Json => true,
            Kind::Struct(fields) => fields.iter().any(|f| f.kind.has_json()),
            Kind::List(item) => item.kind.has_json(),
            _ => false,
        }
    }

    /// Rewrites `value` so that every part mapped to [`Kind::Json`] is a
    /// string holding that part's JSON text.
    pub fn jsonify(&self, value: &mut Value) {
        match (self, value) {
            (_, Value::Null) => {}
            (Kind::Json, v) => *v = Value::String(v.to_string()),
            (Kind::Struct(fields), Value::Object(map)) => {
                for field in fields {
                    if let Some(v) = map.get_mut(&field.name) {
                        field.kind.jsonify(v);
                    }
                }
            }
            (Kind::List(item), Value::Array(items)) => {
                for v in items {
                    item.kind.jsonify(v);
                }
            }
            _ => {}
        }
    }
}

/// The columns a record's payload fills, and whether the payload's
/// properties are the columns themselves (an object schema) or the payload
/// is one column named `payload`.
#[derive(Clone, Debug, PartialEq)]
pub struct PayloadColumns {
    pub kind: Kind,
    /// True when `kind` is a struct whose fields become top-level columns
    /// of a STREAM road's table.
    pub spread: bool,
}

/// Maps a road's schema document.
pub fn payload_columns(schema: &Value) -> PayloadColumns {
    let (kind, _) = kind_of(schema);
    let spread = matches!(&kind, Kind::Struct(fields) if !fields.is_empty());
    PayloadColumns { kind, spread }
}

/// The kind of a schema and whether it allows null.
fn kind_of(schema: &Value) -> (Kind, bool) {
    let Some(object) = schema.as_object() else {
        // `true` (anything) or `false` (nothing).
        return (Kind::Json, true);
    };
    for combinator in ["anyOf", "oneOf"] {
        if let Some(options) = object.get(combinator).and_then(Value::as_array) {
            let (nulls, others): (Vec<&Value>, Vec<&Value>) =
                options.iter().partition(|o| o.get("type") == Some(&Value::from("null")));
            return match others.as_slice() {
                [one] if object.len() == 1 || !object.contains_key("type") => {
                    let (kind, nullable) = kind_of(one);
                    (kind, nullable || !nulls.is_empty())
                }
                _ => (Kind::Json, true),
            };
        }
    }
    if ["$ref", "allOf", "not", "if"].iter().any(|k| object.contains_key(*k)) {
        return (Kind::Json, true);
    }
    let mut types: Vec<&str> = match object.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.is_empty() {
        if object.contains_key("properties") {
            types.push("object");
        } else if let Some(values) = object.get("enum").and_then(Value::as_array) {
            if !values.is_empty() && values.iter().all(Value::is_string) {
                return (Kind::Utf8, false);
            }
            return (Kind::Json, true);
        } else if let Some(Value::String(_)) = object.get("const") {
            return (Kind::Utf8, false);
        } else {
            return (Kind::Json, true);
        }
    }
    let nullable = types.contains(&"null");
    types.retain(|t| *t != "null");
    types.sort_unstable();
    let kind = match types.as_slice() {
        ["string"] => Kind::Utf8,
        ["integer"] => Kind::Int64,
        ["number"] | ["integer", "number"] => Kind::Float64,
        ["boolean"] => Kind::Boolean,
        ["object"] => object_kind(object),
        ["array"] => match object.get("items") {
            Some(items @ (Value::Object(_) | Value::Bool(true))) => {
                let (kind, nullable) = kind_of(items);
                Kind::List(Box::new(Column { name: "item".into(), kind, nullable }))
            }
            _ => Kind::Json,
        },
        _ => Kind::Json,
    };
    (kind, nullable)
}

fn object_kind(object: &serde_json::Map<String, Value>) -> Kind {
    let Some(properties) = object.get("properties").and_then(Value::as_object) else {
        return Kind::Json;
    };
    if properties.is_empty() {
        return Kind::Json;
    }
    let required: Vec<&str> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let fields = properties
        .iter()
        .map(|(name, schema)| {
            let (kind, allows_null) = kind_of(schema);
            Column {
                name: name.clone(),
                kind,
                nullable: allows_null || !required.contains(&name.as_str()),
            }
        })
        .collect();
    Kind::Struct(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(kind: &Kind, name: &str) -> Column {
        let Kind::Struct(fields) = kind else { panic!("not a struct: {kind:?}") };
        fields.iter().find(|f| f.name == name).cloned().expect("field")
    }

    #[test]
    fn objects_become_structs_with_nullability_from_required_and_types() {
        let schema = json!({
            "type": "object",
            "required": ["id", "tags", "maybe"],
            "properties": {
                "id": {"type": "integer"},
                "price": {"type": "number"},
                "name": {"type": "string", "format": "email"},
                "ok": {"type": "boolean"},
                "maybe": {"type": ["string", "null"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "address": {"type": "object", "properties": {"city": {"type": "string"}}}
            }
        });
        let columns = payload_columns(&schema);
        assert!(columns.spread);
        let kind = &columns.kind;
        assert_eq!(
            field(kind, "id"),
            Column { name: "id".into(), kind: Kind::Int64, nullable: false }
        );
        assert_eq!(field(kind, "price").kind, Kind::Float64);
        assert!(field(kind, "price").nullable);
        assert_eq!(field(kind, "name").kind, Kind::Utf8);
        assert_eq!(field(kind, "ok").kind, Kind::Boolean);
        assert!(field(kind, "maybe").nullable, "null in the type array");
        let tags = field(kind, "tags");
        assert!(!tags.nullable);
        assert!(matches!(&tags.kind, Kind::List(item) if item.kind == Kind::Utf8));
        let address = field(kind, "address");
        assert_eq!(field(&address.kind, "city").kind, Kind::Utf8);
        // Columns come in name order, whatever order the schema lists them.
        let Kind::Struct(fields) = kind else { unreachable!() };
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["address", "id", "maybe", "name", "ok", "price", "tags"]);
    }

    #[test]
    fn what_has_no_faithful_type_becomes_json_text() {
        let schema = json!({
            "type": "object",
            "properties": {
                "mixed": {"type": ["string", "integer"]},
                "map": {"type": "object", "additionalProperties": {"type": "integer"}},
                "either": {"oneOf": [
                    {"type": "object", "properties": {"a": {"type": "string"}}},
                    {"type": "object", "properties": {"b": {"type": "string"}}}
                ]},
                "tuple": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
                "anything": {},
                "linked": {"$ref": "#/definitions/x"},
                "optional": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                "colour": {"enum": ["red", "green"]}
            }
        });
        let kind = payload_columns(&schema).kind;
        for name in ["mixed", "map", "either", "tuple", "anything", "linked"] {
            assert_eq!(field(&kind, name).kind, Kind::Json, "{name}");
        }
        assert_eq!(field(&kind, "optional").kind, Kind::Int64);
        assert!(field(&kind, "optional").nullable);
        assert_eq!(field(&kind, "colour").kind, Kind::Utf8);
        assert!(kind.has_json());
    }

    #[test]
    fn a_schema_without_properties_is_one_json_column() {
        for schema in [json!({"type": "object"}), json!(true), json!({})] {
            let columns = payload_columns(&schema);
            assert_eq!(columns.kind, Kind::Json, "{schema}");
            assert!(!columns.spread);
        }
        let columns = payload_columns(&json!({"type": "string"}));
        assert_eq!((columns.kind, columns.spread), (Kind::Utf8, false));
    }

    #[test]
    fn jsonify_turns_only_the_json_parts_into_text() {
        let kind = payload_columns(&json!({
            "type": "object",
            "properties": {
                "n": {"type": "integer"},
                "map": {"type": "object"},
                "list": {"type": "array", "items": {"type": ["string", "integer"]}}
            }
        }))
        .kind;
        let mut value = json!({"n": 1, "map": {"x": 1}, "list": ["a", 2], "extra": {"y": 2}});
        kind.jsonify(&mut value);
        assert_eq!(
            value,
            json!({"n": 1, "map": "{\"x\":1}", "list": ["\"a\"", "2"], "extra": {"y": 2}})
        );
    }
}
