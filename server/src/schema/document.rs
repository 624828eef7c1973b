//! The payload as the validator reads it: a tree that borrows its strings
//! from the payload text where they hold no escapes, and keeps an object's
//! members in a vector. Parsing into `serde_json::Value` cost an allocation
//! per string and per map node, and a B-tree insert per property, which was
//! most of Onramp's CPU per record; this costs one allocation per object and
//! per array. `jsonschema` validates it through its `Json` traits, with the
//! same keywords and the same messages.

use std::borrow::Cow;

use jsonschema::JsonType;
use jsonschema::json::{Array, Json, Node, NodeIdentity, Object};
use serde_json::{Number, Value};

/// One JSON value of a payload.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Document<'a> {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Document<'a>>),
    /// Members in the order written; names are unique (the parser refuses
    /// duplicates).
    Object(Vec<(Cow<'a, str>, Document<'a>)>),
}

impl<'a> Document<'a> {
    pub fn is_object(&self) -> bool {
        matches!(self, Document::Object(_))
    }

    /// The member `name` of an object.
    pub fn get(&self, name: &str) -> Option<&Document<'a>> {
        match self {
            Document::Object(members) => member(members, name),
            _ => None,
        }
    }

    /// A `serde_json::Value` as a document, borrowing its strings.
    #[cfg(test)]
    pub fn of(value: &'a Value) -> Self {
        match value {
            Value::Null => Document::Null,
            Value::Bool(b) => Document::Bool(*b),
            Value::Number(n) => Document::Number(n.clone()),
            Value::String(s) => Document::String(Cow::Borrowed(s)),
            Value::Array(items) => Document::Array(items.iter().map(Document::of).collect()),
            Value::Object(members) => Document::Object(
                members.iter().map(|(n, v)| (Cow::Borrowed(n.as_str()), Document::of(v))).collect(),
            ),
        }
    }

    /// The same value as a `serde_json::Value`, for the cold paths (error
    /// instances, `const` and `enum`, partition keys).
    pub fn to_value(&self) -> Value {
        match self {
            Document::Null => Value::Null,
            Document::Bool(b) => Value::Bool(*b),
            Document::Number(n) => Value::Number(n.clone()),
            Document::String(s) => Value::String(s.to_string()),
            Document::Array(items) => Value::Array(items.iter().map(Document::to_value).collect()),
            Document::Object(members) => {
                Value::Object(members.iter().map(|(n, v)| (n.to_string(), v.to_value())).collect())
            }
        }
    }
}

/// The member `name` of an object's members: a scan, as objects are small.
fn member<'m, 'a>(
    members: &'m [(Cow<'a, str>, Document<'a>)],
    name: &str,
) -> Option<&'m Document<'a>> {
    members.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// The validator's view of [`Document`].
pub struct Documents;

impl Json for Documents {
    type Node<'a> = &'a Document<'a>;
    type PreparedKey = String;
    type StringBuffer = Document<'static>;

    // A lookup scans the members, so a pass over them replaces a lookup
    // whenever the object is small.
    const KEYS_PER_LOOKUP: usize = 4;
    const ACYCLIC: bool = true;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>(
        buffer: &mut Document<'static>,
        string: &str,
        f: impl FnOnce(<Self as Json>::Node<'_>) -> T,
    ) -> T {
        // Reuses the buffer's allocation from one name to the next.
        let mut owned = match std::mem::take(buffer) {
            Document::String(Cow::Owned(s)) => s,
            _ => String::new(),
        };
        owned.clear();
        owned.push_str(string);
        *buffer = Document::String(Cow::Owned(owned));
        f(buffer)
    }
}

impl<'a> Node<'a, Documents> for &'a Document<'a> {
    type Object = &'a [(Cow<'a, str>, Document<'a>)];
    type Array = &'a [Document<'a>];
    type Number = &'a Number;

    fn as_object(&self) -> Option<Self::Object> {
        match self {
            Document::Object(members) => Some(members),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<Self::Array> {
        match self {
            Document::Array(items) => Some(items),
            _ => None,
        }
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        match self {
            Document::String(s) => Some(Cow::Borrowed(s.as_ref())),
            _ => None,
        }
    }

    fn as_number(&self) -> Option<&'a Number> {
        match self {
            Document::Number(n) => Some(n),
            _ => None,
        }
    }

    fn as_boolean(&self) -> Option<bool> {
        match self {
            Document::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Document::Null)
    }

    fn json_type(&self) -> JsonType {
        match self {
            Document::Null => JsonType::Null,
            Document::Bool(_) => JsonType::Boolean,
            Document::Number(_) => JsonType::Number,
            Document::String(_) => JsonType::String,
            Document::Array(_) => JsonType::Array,
            Document::Object(_) => JsonType::Object,
        }
    }

    fn string_length_within(&self, min: u64, max: u64) -> Option<bool> {
        let Document::String(s) = self else { return None };
        // A code point is one to four bytes: the byte length often decides.
        let bytes = s.len() as u64;
        if bytes < min || bytes.div_ceil(4) > max {
            return Some(false);
        }
        if min <= bytes.div_ceil(4) && bytes <= max {
            return Some(true);
        }
        Some((min..=max).contains(&(s.chars().count() as u64)))
    }

    fn to_value(&self) -> Cow<'a, Value> {
        Cow::Owned(Document::to_value(self))
    }

    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(std::ptr::from_ref::<Document<'a>>(*self) as usize))
    }
}

/// An object's members, read by name or in order.
pub struct Members<'a>(std::slice::Iter<'a, (Cow<'a, str>, Document<'a>)>);

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, &'a Document<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(name, value)| (name.as_ref(), value))
    }
}

impl<'a> Object<'a, Documents> for &'a [(Cow<'a, str>, Document<'a>)] {
    type Node = &'a Document<'a>;
    type MemberName = &'a str;
    type MembersIter = Members<'a>;

    fn len(&self) -> usize {
        <[_]>::len(self)
    }

    fn get(&self, key: &String) -> Option<&'a Document<'a>> {
        member(self, key)
    }

    fn members(&self) -> Members<'a> {
        Members(self.iter())
    }
}

impl<'a> Array<'a, Documents> for &'a [Document<'a>] {
    type Node = &'a Document<'a>;
    type ElementsIter = std::slice::Iter<'a, Document<'a>>;

    fn len(&self) -> usize {
        <[_]>::len(self)
    }

    fn elements(&self) -> Self::ElementsIter {
        self.iter()
    }
}
