//! Object keywords: the content model (`properties`, `additionalProperties`,
//! `patternProperties`), `required` and the other object assertions.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use super::checker::{Checker, Side, TRUE};
use super::schema::Schema;
use super::value::{self, esc};

/// What the name of a property always is, when nothing else is said.
static ANY_STRING: LazyLock<Value> = LazyLock::new(|| json!({ "type": "string" }));

fn names(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn map(v: Option<&Value>) -> Option<&Map<String, Value>> {
    v.and_then(Value::as_object).filter(|m| !m.is_empty())
}

impl<'a> Checker<'a> {
    pub(super) fn objects(&mut self, wide: Schema<'a>, narrow: Schema<'a>, at: &str, depth: usize) {
        self.content_model(wide, narrow, at, depth);
        let required = names(narrow.get("required"));
        for name in names(wide.get("required")) {
            if !required.contains(&name) {
                let name = value::render(&Value::String(name.to_owned()));
                self.fail(
                    &format!("{at}/required"),
                    format!("requires {name}, which older documents may lack"),
                    format!("no longer requires {name}"),
                );
            }
        }
        self.counts(wide, narrow, at, "minProperties", "maxProperties");
        if let Some(w) = wide.get("propertyNames") {
            let n = narrow.get("propertyNames").unwrap_or(&*ANY_STRING);
            self.sub(w, n, &format!("{at}/propertyNames"), depth + 1);
        }
        let dependencies = ["dependentRequired", "dependentSchemas", "dependencies"];
        for keyword in dependencies.into_iter().filter(|k| !wide.dialect().lacks(k)) {
            self.dependencies(wide, narrow, at, depth, keyword);
        }
        self.unevaluated(wide, narrow, at, "unevaluatedProperties");
    }

    /// The properties each side lists, and what it says of the others.
    fn content_model(&mut self, wide: Schema<'a>, narrow: Schema<'a>, at: &str, depth: usize) {
        let wide_props = map(wide.get("properties"));
        let narrow_props = map(narrow.get("properties"));
        let wide_patterns = map(wide.get("patternProperties"));
        let narrow_patterns = map(narrow.get("patternProperties"));
        let wide_rest = wide.get("additionalProperties");
        let narrow_rest = narrow.get("additionalProperties");

        // Without regular expressions, patterns are only understood when
        // both sides have the same ones: then they match the same names.
        if wide_patterns.is_some() && !self.same("patternProperties", wide, narrow) {
            let has = narrow_patterns.is_some();
            self.unprovable(&format!("{at}/patternProperties"), "patternProperties", has);
        }

        for (name, w) in wide_props.into_iter().flatten() {
            let place = format!("{at}/properties/{}", esc(name));
            if let Some(n) = narrow_props.and_then(|p| p.get(name)) {
                self.sub(w, n, &place, depth + 1);
                continue;
            }
            // The narrow side constrains this name through a pattern it may
            // match, or else through additionalProperties.
            for (pattern, n) in narrow_patterns.into_iter().flatten() {
                if may_match(pattern, name) {
                    self.sub(w, n, &place, depth + 1);
                }
            }
            match narrow_rest {
                Some(Value::Bool(false)) => {}
                Some(rest) if !self.accepts_all(Side::Narrow, rest) => {
                    self.sub(w, rest, &place, depth + 1);
                }
                _ => {
                    if !self.probe(w, &TRUE, depth + 1) {
                        self.fail(
                            &place,
                            "property added to an open content model",
                            "property removed from an open content model",
                        );
                    }
                }
            }
        }

        for (name, n) in narrow_props.into_iter().flatten() {
            if wide_props.is_some_and(|p| p.contains_key(name)) {
                continue;
            }
            let place = format!("{at}/properties/{}", esc(name));
            match wide_rest {
                Some(Value::Bool(false)) => self.fail(
                    &place,
                    "property removed from a closed content model",
                    "property added to a closed content model",
                ),
                Some(rest) => self.sub(rest, n, &place, depth + 1),
                None => {}
            }
        }

        // Names neither side lists.
        let Some(rest) = wide_rest.filter(|r| !self.accepts_all(Side::Wide, r)) else { return };
        let place = format!("{at}/additionalProperties");
        let narrow_open = narrow_rest.is_none_or(|r| !matches!(r, Value::Bool(false)));
        if matches!(rest, Value::Bool(false)) && narrow_open {
            self.fail(&place, "content model closed", "content model opened");
        } else {
            self.sub(rest, narrow_rest.unwrap_or(&TRUE), &place, depth + 1);
        }
        if wide_patterns.is_none() {
            for (pattern, n) in narrow_patterns.into_iter().flatten() {
                let place = format!("{at}/patternProperties/{}", esc(pattern));
                self.sub(rest, n, &place, depth + 1);
            }
        }
    }

    /// `dependentRequired`, `dependentSchemas` and draft-07 `dependencies`.
    fn dependencies(
        &mut self,
        wide: Schema<'a>,
        narrow: Schema<'a>,
        at: &str,
        depth: usize,
        keyword: &str,
    ) {
        let Some(deps) = map(wide.get(keyword)) else { return };
        let narrow_deps = map(narrow.get(keyword));
        let required = names(narrow.get("required"));
        for (name, dependency) in deps {
            let place = format!("{at}/{keyword}/{}", esc(name));
            let own = narrow_deps.and_then(|d| d.get(name));
            if dependency.is_array() {
                let also = names(own);
                for needed in names(Some(dependency)) {
                    if needed == name || required.contains(&needed) || also.contains(&needed) {
                        continue;
                    }
                    let (needed, name) = (render_name(needed), render_name(name));
                    self.fail(
                        &place,
                        format!("requires {needed} when {name} is present"),
                        format!("no longer requires {needed} when {name} is present"),
                    );
                }
            } else {
                // Documents with the property meet the narrow side's own
                // dependent schema, and in any case the narrow schema itself.
                let n = own.filter(|o| !o.is_array()).unwrap_or(narrow.value);
                self.sub(dependency, n, &place, depth);
            }
        }
    }

    /// `unevaluatedProperties`/`unevaluatedItems` depend on every other
    /// keyword of the schema, so only identical schemas are proven.
    pub(super) fn unevaluated(
        &mut self,
        wide: Schema<'a>,
        narrow: Schema<'a>,
        at: &str,
        keyword: &str,
    ) {
        let Some(w) = wide.get(keyword) else { return };
        if self.accepts_all(Side::Wide, w) {
            return;
        }
        let place = format!("{at}/{keyword}");
        if self.same(keyword, wide, narrow) {
            self.fail_both(
                &place,
                format!("cannot prove compatible: {keyword} depends on changed keywords"),
            );
        } else {
            self.unprovable(&place, keyword, narrow.raw(keyword).is_some());
        }
    }
}

/// False only when `pattern` certainly does not match `name`. Understands
/// literal patterns, optionally anchored (`^x-`, `_id$`); anything else may match.
fn may_match(pattern: &str, name: &str) -> bool {
    let (start, rest) = match pattern.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    let (end, literal) = match rest.strip_suffix('$') {
        Some(literal) if !literal.ends_with('\\') => (true, literal),
        _ => (false, rest),
    };
    if literal.contains(|c| "\\.^$|?*+()[]{}".contains(c)) {
        return true;
    }
    match (start, end) {
        (true, true) => name == literal,
        (true, false) => name.starts_with(literal),
        (false, true) => name.ends_with(literal),
        (false, false) => name.contains(literal),
    }
}

fn render_name(name: &str) -> String {
    value::render(&Value::String(name.to_owned()))
}
