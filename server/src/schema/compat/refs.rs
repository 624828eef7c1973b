//! Dialects and resolution of references within one schema document.

use serde_json::{Map, Value};

use super::value::{self, is_annotation, walk_schemas};

/// The JSON Schema dialect a root declares through `$schema`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Draft 2020-12, also assumed when `$schema` is absent.
    Modern,
    Draft2019,
    Draft07,
}

impl Dialect {
    /// The root's dialect, or the rendered `$schema` value when unsupported.
    pub(crate) fn of(root: &Value) -> Result<Dialect, String> {
        let Some(declared) = root.get("$schema") else { return Ok(Dialect::Modern) };
        let Some(uri) = declared.as_str() else { return Err(value::render(declared)) };
        let short = uri.trim().trim_end_matches('#');
        let short = short
            .strip_prefix("https://")
            .or_else(|| short.strip_prefix("http://"))
            .unwrap_or(short);
        match short {
            "json-schema.org/draft/2020-12/schema" => Ok(Dialect::Modern),
            "json-schema.org/draft/2019-09/schema" => Ok(Dialect::Draft2019),
            "json-schema.org/draft-07/schema" => Ok(Dialect::Draft07),
            _ => Err(value::render(declared)),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Dialect::Modern => "2020-12",
            Dialect::Draft2019 => "2019-09",
            Dialect::Draft07 => "draft-07",
        }
    }

    /// Whether an array-valued `items` is a tuple (with `additionalItems` for
    /// the rest) rather than a malformed keyword.
    pub(super) fn tuple_items(self) -> bool {
        matches!(self, Dialect::Draft2019 | Dialect::Draft07)
    }

    /// Whether `$ref` makes its sibling keywords ignored.
    pub(super) fn ref_overrides(self) -> bool {
        matches!(self, Dialect::Draft07)
    }

    /// Keywords this dialect does not define: validators ignore them, and this
    /// checker handles them as unknown keywords.
    pub(super) fn lacks(self, keyword: &str) -> bool {
        match self {
            Dialect::Modern => {
                matches!(keyword, "additionalItems" | "dependencies" | "$recursiveRef")
            }
            Dialect::Draft2019 => matches!(keyword, "prefixItems" | "dependencies" | "$dynamicRef"),
            Dialect::Draft07 => matches!(
                keyword,
                "prefixItems"
                    | "$dynamicRef"
                    | "$recursiveRef"
                    | "dependentRequired"
                    | "dependentSchemas"
                    | "unevaluatedProperties"
                    | "unevaluatedItems"
                    | "minContains"
                    | "maxContains"
            ),
        }
    }
}

pub(super) const REF_KEYWORDS: [&str; 3] = ["$ref", "$dynamicRef", "$recursiveRef"];

/// One schema document, as the root its references resolve against.
#[derive(Clone, Copy)]
pub(crate) struct Root<'a> {
    pub(super) value: &'a Value,
    pub(super) dialect: Dialect,
    /// No embedded resources (`$id` below the root): every reference then
    /// resolves statically within this document.
    simple: bool,
    base: Option<&'a str>,
}

impl<'a> Root<'a> {
    pub(crate) fn new(value: &'a Value, dialect: Dialect) -> Root<'a> {
        let mut ids = 0;
        walk_schemas(value, |schema| {
            if schema.get("$id").is_some_and(Value::is_string) {
                ids += 1;
            }
        });
        let base = value.get("$id").and_then(Value::as_str).map(|id| id.trim_end_matches('#'));
        let simple = ids <= usize::from(base.is_some());
        Root { value, dialect, simple, base }
    }

    /// Whether two roots resolve the same external reference text to the same
    /// resource: only when they share a base URI.
    pub(super) fn same_base(&self, other: &Root<'_>) -> bool {
        self.base == other.base
    }

    pub(super) fn simple(&self) -> bool {
        self.simple
    }

    /// The subschema a reference keyword points to within this document, or
    /// `None` when it is external, ambiguous or missing.
    pub(super) fn resolve(&self, keyword: &str, reference: &str) -> Option<&'a Value> {
        if !self.simple {
            return None;
        }
        let (document, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        if !document.is_empty() && Some(document) != self.base {
            return None;
        }
        if keyword == "$recursiveRef" || fragment.is_empty() {
            return Some(self.value);
        }
        if fragment.starts_with('/') {
            return self.value.pointer(&percent_decode(fragment)?);
        }
        let mut found = None;
        let mut count = 0;
        let anchors: &[&str] =
            if keyword == "$dynamicRef" { &["$dynamicAnchor", "$anchor"] } else { &["$anchor"] };
        for anchor in anchors {
            walk_schemas(self.value, |schema| {
                if schema.get(*anchor).and_then(Value::as_str) == Some(fragment) {
                    found = Some(schema);
                    count += 1;
                }
            });
            if count > 0 {
                break;
            }
        }
        if count == 1 { found } else { None }
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The reference a schema consists of, when it asserts nothing else: its
/// meaning is then exactly that of the target.
pub(super) fn pure_ref(map: &Map<String, Value>, dialect: Dialect) -> Option<(&'static str, &str)> {
    let mut found = None;
    for keyword in REF_KEYWORDS.into_iter().filter(|k| !dialect.lacks(k)) {
        if let Some(target) = map.get(keyword) {
            if found.is_some() {
                return None;
            }
            found = Some((keyword, target.as_str()?));
        }
    }
    let found = found?;
    if dialect.ref_overrides() && found.0 == "$ref" {
        return Some(found);
    }
    let others = map.keys().any(|k| !is_annotation(k) && !REF_KEYWORDS.contains(&k.as_str()));
    if others { None } else { Some(found) }
}

/// Every reference (keyword, text) inside a schema, searched as `walk_schemas` does.
pub(super) fn references(schema: &Value) -> Vec<(&'static str, String)> {
    references_in(None, schema)
}

/// Every reference inside the value of `keyword`, or inside a schema when `None`.
pub(super) fn references_in(keyword: Option<&str>, value: &Value) -> Vec<(&'static str, String)> {
    if let Some(own) = REF_KEYWORDS.iter().find(|k| Some(**k) == keyword) {
        return vec![(own, value.as_str().map_or_else(|| value::render(value), str::to_owned))];
    }
    let mut found = Vec::new();
    let collect = |schema: &Value| {
        for keyword in REF_KEYWORDS {
            if let Some(target) = schema.get(keyword) {
                let text = target.as_str().map_or_else(|| value::render(target), str::to_owned);
                found.push((keyword, text));
            }
        }
    };
    match keyword {
        Some(keyword) => value::walk_keyword(keyword, value, collect),
        None => walk_schemas(value, collect),
    }
    found.sort();
    found.dedup();
    found
}
