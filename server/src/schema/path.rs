//! Partition paths: a path into the payload (`$.a.b`, `$.a["b-c"]`) whose
//! value keys a STREAM road's Kafka records, so equal values share a
//! partition and keep their order.

use serde_json::Value;

use super::document::Document;

/// A parsed partition path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionPath {
    segments: Vec<String>,
}

impl PartitionPath {
    /// Parses `$` followed by `.name` or `["name"]` (or `['name']`) segments.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut rest = text.strip_prefix('$').ok_or("must start with $")?;
        let mut segments = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                if end == 0 {
                    let next: String = after.chars().take(8).collect();
                    return Err(format!("empty name before {next:?}"));
                }
                segments.push(after[..end].to_string());
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let (name, after) = quoted(after)?;
                rest = after.strip_prefix(']').ok_or("a quoted name must be followed by ]")?;
                segments.push(name);
            } else {
                return Err(format!("expected . or [ at {rest:?}"));
            }
        }
        if segments.is_empty() {
            return Err("must name at least one property, e.g. $.id".into());
        }
        Ok(Self { segments })
    }

    /// Checks that the path names nested properties of `schema`.
    pub fn resolve_in(&self, schema: &Value) -> Result<(), String> {
        let mut at = schema;
        let mut pointer = String::new();
        for segment in &self.segments {
            let next = at.get("properties").and_then(|p| p.get(segment));
            let Some(next) = next else {
                let place = if pointer.is_empty() { "the root".to_string() } else { pointer };
                return Err(format!("{place} has no property {segment:?}"));
            };
            pointer =
                format!("{pointer}/properties/{}", segment.replace('~', "~0").replace('/', "~1"));
            at = next;
        }
        Ok(())
    }

    /// The value at the path in a payload, if present.
    pub fn value_in<'a>(&self, document: &'a Document<'a>) -> Option<&'a Document<'a>> {
        self.segments.iter().try_fold(document, |at, segment| at.get(segment))
    }
}

fn quoted(text: &str) -> Result<(String, &str), String> {
    let quote = text
        .chars()
        .next()
        .filter(|c| *c == '"' || *c == '\'')
        .ok_or("expected a quoted name after [")?;
    let body = &text[1..];
    let mut name = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, escaped)) => name.push(escaped),
                None => break,
            },
            c if c == quote => {
                if name.is_empty() {
                    return Err("empty quoted name".into());
                }
                return Ok((name, &body[i + 1..]));
            }
            c => name.push(c),
        }
    }
    Err("unterminated quoted name".into())
}

/// The canonical JSON of a value: object members sorted by name, no
/// insignificant white space, so equal values give equal keys.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut members: Vec<_> = map.iter().collect();
            members.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (name, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(name.clone()).to_string());
                out.push(':');
                write_canonical(member, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_empty_name_before_wide_characters_is_an_error_not_a_panic() {
        // Found by the partition_path fuzz target: the message cut the rest
        // of the path at a byte inside a character.
        let err = PartitionPath::parse("$.[N$\u{fffd}\u{fffd}").expect_err("an empty name");
        assert!(err.starts_with("empty name before"), "{err}");
        assert!(PartitionPath::parse("$..ééééééé").is_err());
    }

    #[test]
    fn paths_parse_in_both_notations() {
        assert_eq!(PartitionPath::parse("$.a.b").expect("ok").segments, ["a", "b"]);
        assert_eq!(PartitionPath::parse(r#"$.a["b-c"]"#).expect("ok").segments, ["a", "b-c"]);
        assert_eq!(PartitionPath::parse("$['x.y'].z").expect("ok").segments, ["x.y", "z"]);
        for bad in ["a.b", "$", "$.", "$..a", "$[a]", "$[\"a\"", "$.a[\"\"]"] {
            assert!(PartitionPath::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn paths_resolve_through_nested_properties() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "object", "properties": {"b-c": {}}}}});
        assert!(PartitionPath::parse(r#"$.a["b-c"]"#).expect("ok").resolve_in(&schema).is_ok());
        let err =
            PartitionPath::parse("$.a.x").expect("ok").resolve_in(&schema).expect_err("missing");
        assert_eq!(err, "/properties/a has no property \"x\"");
    }

    #[test]
    fn values_are_found_and_canonicalised() {
        let doc = json!({"a": {"b": {"y": 2, "x": [1, "s"]}}});
        let doc = Document::of(&doc);
        let path = PartitionPath::parse("$.a.b").expect("ok");
        let value = path.value_in(&doc).expect("present").to_value();
        assert_eq!(canonical_json(&value), r#"{"x":[1,"s"],"y":2}"#);
        assert!(PartitionPath::parse("$.a.z").expect("ok").value_in(&doc).is_none());
    }
}
