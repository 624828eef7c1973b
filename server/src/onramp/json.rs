//! Payload text parsed as JSON, with duplicate object keys refused.
//!
//! JSON leaves duplicate keys to the parser: `serde_json` keeps the last
//! value, other readers the first. A payload whose last `"a"` is valid and
//! whose first is not would reach a reader that keeps the first with a
//! value no schema checked, so a duplicate is refused where it is found.
//! The check costs nothing on the way: the object is built as usual and the
//! insert that finds the key taken is the refusal.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Value};

/// Why payload text is not a JSON document Onramp takes.
#[derive(Debug)]
pub enum Invalid {
    Syntax(serde_json::Error),
    /// The JSON pointer of the second occurrence of a key.
    DuplicateKey(String),
}

/// Parses `text` into a document, refusing duplicate keys at any depth.
pub fn parse(text: &str) -> Result<Value, Invalid> {
    let found = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let parsed = Strict { found: &found }
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    match (parsed, found.into_inner()) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some(path)) => Err(Invalid::DuplicateKey(pointer(path))),
        (Err(e), None) => Err(Invalid::Syntax(e)),
    }
}

/// One step of a path, innermost first as the error travels outwards.
enum Step {
    Key(String),
    Index(usize),
}

fn pointer(mut path: Vec<Step>) -> String {
    path.reverse();
    let mut out = String::new();
    for step in path {
        out.push('/');
        match step {
            Step::Key(k) => out.push_str(&k.replace('~', "~0").replace('/', "~1")),
            Step::Index(i) => out.push_str(&i.to_string()),
        }
    }
    out
}

/// Builds a [`Value`]; records the path of a duplicate key in `found`.
#[derive(Clone, Copy)]
struct Strict<'a> {
    found: &'a RefCell<Option<Vec<Step>>>,
}

impl Strict<'_> {
    /// On the way out of a failed child: adds the child's step to the
    /// duplicate's path, if a duplicate is what failed.
    fn through(&self, step: impl FnOnce() -> Step) {
        if let Some(path) = self.found.borrow_mut().as_mut() {
            path.push(step());
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            match seq.next_element_seed(self) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => return Ok(Value::Array(items)),
                Err(e) => {
                    self.through(|| Step::Index(items.len()));
                    return Err(e);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = match map.next_value_seed(self) {
                Ok(value) => value,
                Err(e) => {
                    self.through(|| Step::Key(key));
                    return Err(e);
                }
            };
            match object.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                Entry::Occupied(taken) => {
                    let key = taken.key().clone();
                    *self.found.borrow_mut() = Some(vec![Step::Key(key)]);
                    return Err(de::Error::custom("duplicate key"));
                }
            }
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn duplicate(text: &str) -> Option<String> {
        match parse(text) {
            Err(Invalid::DuplicateKey(p)) => Some(p),
            _ => None,
        }
    }

    #[test]
    fn documents_parse_as_serde_json_parses_them() {
        let text = r#"{"a": [1, -2, 3.5, true, null, "x", {"b": {}}], "c": "\u00e9", "d": 1e400}"#;
        let strict = parse(text);
        let plain: Result<Value, _> = serde_json::from_str(text);
        assert_eq!(strict.is_ok(), plain.is_ok());
        let text = r#"{"a": [1, -2, 3.5, true, null, "x", {"b": {}}], "c": "\u00e9", "u": 18446744073709551615}"#;
        let strict = parse(text).expect("parses");
        assert_eq!(strict, serde_json::from_str::<Value>(text).expect("parses"));
        assert_eq!(strict["u"], json!(u64::MAX));
    }

    #[test]
    fn a_duplicate_key_is_found_at_any_depth_with_its_pointer() {
        assert_eq!(duplicate(r#"{"a": 1, "a": "x"}"#).as_deref(), Some("/a"));
        assert_eq!(duplicate(r#"{"a": {"b": 1, "c": 2, "b": 3}}"#).as_deref(), Some("/a/b"));
        assert_eq!(
            duplicate(r#"{"l": [0, {"k": 1}, {"a/b~": 1, "a/b~": 2}]}"#).as_deref(),
            Some("/l/2/a~1b~0")
        );
        assert_eq!(duplicate(r#"{"a": 1, "b": {"a": 2}}"#), None, "the same key in two objects");
    }

    #[test]
    fn syntax_errors_and_trailing_text_stay_syntax_errors() {
        for text in ["{", r#"{"a": 1} x"#, r#"{"a": 01}"#, "", r#"{"a" 1}"#] {
            assert!(matches!(parse(text), Err(Invalid::Syntax(_))), "{text:?}");
        }
        // A syntax error after a complete duplicate-free object is syntax.
        assert!(matches!(parse(r#"{"a": {"b": 1}, "c": [1,]}"#), Err(Invalid::Syntax(_))));
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(parse(&deep), Err(Invalid::Syntax(_))));
    }
}
