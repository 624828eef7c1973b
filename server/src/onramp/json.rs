//! Payload text parsed as JSON, with duplicate object keys refused.
//!
//! JSON leaves duplicate keys to the parser: `serde_json` keeps the last
//! value, other readers the first. A payload whose last `"a"` is valid and
//! whose first is not would reach a reader that keeps the first with a
//! value no schema checked, so a duplicate is refused where it is found.
//!
//! The document borrows every string that holds no escape from the text;
//! `serde_json` does the parsing, with its nesting limit.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use crate::schema::document::Document;

/// Why payload text is not a JSON document Onramp takes.
#[derive(Debug)]
pub enum Invalid {
    Syntax(serde_json::Error),
    /// The JSON pointer of the second occurrence of a key.
    DuplicateKey(String),
}

/// Parses `text` into a document, refusing duplicate keys at any depth.
pub fn parse(text: &str) -> Result<Document<'_>, Invalid> {
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

/// Objects up to this many members find a duplicate by scanning them as
/// each is added; larger ones sort their names once complete, so that the
/// check stays O(n log n) without hashing every name.
const SCANNED_MEMBERS: usize = 8;

/// The first name in `members`, in document order, that appeared before.
fn first_duplicate<'m>(members: &'m [(Cow<'_, str>, Document<'_>)]) -> Option<&'m str> {
    let mut names: Vec<&str> = members.iter().map(|(n, _)| n.as_ref()).collect();
    names.sort_unstable();
    if names.windows(2).all(|w| w[0] != w[1]) {
        return None;
    }
    // Rare: which one came second first is worth a set.
    let mut seen = HashSet::new();
    members.iter().map(|(n, _)| n.as_ref()).find(|n| !seen.insert(*n))
}

/// Builds a [`Document`]; records the path of a duplicate key in `found`.
#[derive(Clone, Copy)]
struct Strict<'f> {
    found: &'f RefCell<Option<Vec<Step>>>,
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
    type Value = Document<'de>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// A member name, borrowed from the text unless it holds an escape.
struct Name;

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Document<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Document::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Document::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Document::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Document::Null, Document::Number))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Document::String(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Document::String(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Document::String(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Document::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Document::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            match seq.next_element_seed(self) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => return Ok(Document::Array(items)),
                Err(e) => {
                    self.through(|| Step::Index(items.len()));
                    return Err(e);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members: Vec<(Cow<'de, str>, Document<'de>)> = Vec::new();
        let duplicate = |name: &str| {
            *self.found.borrow_mut() = Some(vec![Step::Key(name.to_owned())]);
            de::Error::custom("duplicate key")
        };
        while let Some(name) = map.next_key_seed(Name)? {
            let value = match map.next_value_seed(self) {
                Ok(value) => value,
                Err(e) => {
                    self.through(|| Step::Key(name.into_owned()));
                    return Err(e);
                }
            };
            if members.len() < SCANNED_MEMBERS && members.iter().any(|(n, _)| *n == name) {
                return Err(duplicate(&name));
            }
            members.push((name, value));
        }
        if members.len() > SCANNED_MEMBERS
            && let Some(name) = first_duplicate(&members)
        {
            return Err(duplicate(name));
        }
        Ok(Document::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

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
        assert_eq!(strict.to_value(), serde_json::from_str::<Value>(text).expect("parses"));
        assert_eq!(strict.get("u").map(Document::to_value), Some(json!(u64::MAX)));
    }

    #[test]
    fn strings_without_escapes_are_borrowed_from_the_text() {
        let text = r#"{"plain": "abc", "esc\u0061ped": "x\ny"}"#;
        let Document::Object(members) = parse(text).expect("parses") else { panic!("an object") };
        assert!(matches!(members[0].0, Cow::Borrowed("plain")));
        assert!(matches!(members[0].1, Document::String(Cow::Borrowed("abc"))));
        assert_eq!(members[1].0, "escaped");
        assert!(matches!(members[1].0, Cow::Owned(_)));
        assert!(matches!(&members[1].1, Document::String(Cow::Owned(s)) if s == "x\ny"));
    }

    #[test]
    fn a_duplicate_is_found_in_a_wide_object_too() {
        let members: Vec<String> = (0..100).map(|i| format!(r#""k{i}": {i}"#)).collect();
        let wide = format!("{{{}}}", members.join(","));
        assert!(parse(&wide).is_ok());
        for at in [1, 7, 8, 9, 99] {
            let text = format!(r#"{{{}, "k{at}": 0}}"#, members.join(","));
            assert_eq!(duplicate(&text), Some(format!("/k{at}")), "k{at} again after 100 members");
        }
        let text = format!(r#"{{"x": {{{}, "k3": 0}}}}"#, members.join(","));
        assert_eq!(duplicate(&text).as_deref(), Some("/x/k3"));
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
