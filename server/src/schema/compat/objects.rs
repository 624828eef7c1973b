//! Object keywords: the content model (`properties`, `additionalProperties`,
//! `patternProperties`), `required` and the other object assertions.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use super::checker::{Checker, Side, TRUE};
use super::patterns;
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

/// In-place applicators: their subschemas evaluate properties and items of
/// the same instance, which `unevaluated*` then skips. `not` is not one, as
/// its annotations are always dropped.
pub(super) const IN_PLACE: [&str; 10] = [
    "allOf",
    "anyOf",
    "oneOf",
    "if",
    "then",
    "else",
    "$ref",
    "$dynamicRef",
    "$recursiveRef",
    "dependentSchemas",
];

/// Whether `unevaluated*` depends on more than the schema's own keywords.
pub(super) fn has_in_place(schema: Schema<'_>) -> bool {
    IN_PLACE.iter().any(|k| schema.raw(k).is_some())
}

/// One side's content model.
struct Model<'a> {
    schema: Schema<'a>,
    props: Option<&'a Map<String, Value>>,
    patterns: Vec<(&'a str, &'a Value)>,
    /// What holds for names neither listed nor matched by a pattern.
    rest: Option<&'a Value>,
    rest_keyword: &'static str,
    /// `unevaluatedProperties` beside in-place applicators: it holds for the
    /// names none of them can evaluate.
    unevaluated: Option<&'a Value>,
}

/// Without in-place applicators, `unevaluatedProperties` applies to exactly
/// the names `additionalProperties` would, so it is read as the rest; beside
/// `additionalProperties` it never applies.
fn model(schema: Schema<'_>) -> Model<'_> {
    let patterns = map(schema.get("patternProperties"))
        .map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default();
    let mut unevaluated = None;
    let (rest, rest_keyword) = if schema.raw("additionalProperties").is_some() {
        (schema.get("additionalProperties"), "additionalProperties")
    } else if has_in_place(schema) {
        unevaluated = schema.get("unevaluatedProperties");
        (None, "additionalProperties")
    } else {
        (schema.get("unevaluatedProperties"), "unevaluatedProperties")
    };
    let props = map(schema.get("properties"));
    Model { schema, props, patterns, rest, rest_keyword, unevaluated }
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
        self.unevaluated_properties(wide, narrow, at, depth);
    }

    /// The properties each side lists, the patterns it matches names by, and
    /// what it says of the other names. Patterns are matched against listed
    /// names by the validator's own engine, so a name that moves from
    /// `properties` to a pattern keeps its constraints.
    fn content_model(&mut self, wide: Schema<'a>, narrow: Schema<'a>, at: &str, depth: usize) {
        let (w, n) = (model(wide), model(narrow));
        let mut names: Vec<&'a String> = w.props.into_iter().flat_map(Map::keys).collect();
        let narrow_only = n.props.into_iter().flat_map(Map::keys);
        names.extend(narrow_only.filter(|name| !w.props.is_some_and(|p| p.contains_key(*name))));
        for name in names {
            self.listed_name(&w, &n, name, at, depth);
        }
        self.pattern_names(&w, &n, at, depth);
        self.other_names(&w, &n, at, depth);
    }

    /// One name that either side lists in `properties`.
    fn listed_name(&mut self, w: &Model<'a>, n: &Model<'a>, name: &'a str, at: &str, depth: usize) {
        // A name no narrow document can have (its schema is `false`) needs nothing.
        let Some(held) = self.held(n, name) else { return };
        let place = format!("{at}/properties/{}", esc(name));
        let listed = w.props.and_then(|p| p.get(name));
        // With one narrow schema or none, comparing is proving: no probe first,
        // which would double the work at every level of nesting.
        let single = held.len() <= 1;
        if let Some(schema) = listed
            && (single || !self.holds(schema, &held, depth + 1))
        {
            // Explained by the narrow side's own property where it has several.
            let own = n.props.and_then(|p| p.get(name));
            let first = held.first().copied();
            match if single { first.or(own) } else { own.or(first) } {
                Some(against) => self.sub(schema, against, &place, depth + 1),
                // Not an open model: an in-place applicator may take the name.
                None if has_in_place(n.schema) => self.sub(schema, &TRUE, &place, depth + 1),
                None if self.probe(schema, &TRUE, depth + 1) => {}
                None => self.fail(
                    &place,
                    "property added to an open content model",
                    "property removed from an open content model",
                ),
            }
        }
        let mut matched = false;
        for &(pattern, schema) in &w.patterns {
            let found = patterns::matches(pattern, name);
            matched |= found == Some(true);
            if found == Some(false) || (!single && self.holds(schema, &held, depth + 1)) {
                continue;
            }
            let at_pattern = format!("{at}/patternProperties/{}", esc(pattern));
            let before = self.problems_len();
            self.sub(schema, held.first().copied().unwrap_or(&TRUE), &at_pattern, depth + 1);
            self.annotate(before, &format!(" (property {})", render_name(name)));
        }
        let Some(rest) = w.rest.filter(|_| listed.is_none() && !matched) else { return };
        // A closed rest refuses the name, which narrow documents may have.
        if !self.accepts_none(Side::Wide, rest) && (single || self.holds(rest, &held, depth + 1)) {
            if single {
                self.sub(rest, held.first().copied().unwrap_or(&TRUE), &place, depth + 1);
            }
            return;
        }
        if self.accepts_none(Side::Wide, rest) {
            self.fail(
                &place,
                "property removed from a closed content model",
                "property added to a closed content model",
            );
        } else {
            self.sub(rest, held.first().copied().unwrap_or(&TRUE), &place, depth + 1);
        }
    }

    /// Whether `schema` accepts every value that meets all of `held`.
    fn holds(&mut self, schema: &'a Value, held: &[&'a Value], depth: usize) -> bool {
        if held.is_empty() {
            return self.probe(schema, &TRUE, depth);
        }
        held.iter().any(|h| self.probe(schema, h, depth))
    }

    /// What every narrow document with property `name` meets there: each
    /// schema listed holds (none listed: anything goes). `None` when no narrow
    /// document can have the property at all.
    fn held(&mut self, n: &Model<'a>, name: &str) -> Option<Vec<&'a Value>> {
        let mut held = Vec::new();
        let listed = n.props.and_then(|p| p.get(name));
        held.extend(listed);
        let mut matched = false;
        for &(pattern, schema) in &n.patterns {
            match patterns::matches(pattern, name) {
                Some(true) => {
                    matched = true;
                    held.push(schema);
                }
                Some(false) => {}
                // Unknown whether the pattern or the rest applies: only the
                // listed schema is sure to.
                None => return Some(listed.into_iter().collect()),
            }
        }
        if listed.is_none() && !matched {
            held.extend(n.rest);
            if let Some(u) = n.unevaluated
                && !self.applicators_evaluate(Side::Narrow, n.schema, name, 0)
            {
                held.push(u);
            }
        }
        if held.iter().any(|h| self.accepts_none(Side::Narrow, h)) {
            return None;
        }
        held.retain(|h| !self.accepts_all(Side::Narrow, h));
        Some(held)
    }

    /// Names neither side lists that match a wide pattern: a narrow pattern
    /// that matches all of them says what they hold; otherwise each narrow
    /// pattern that may match some of them, and the narrow rest.
    fn pattern_names(&mut self, w: &Model<'a>, n: &Model<'a>, at: &str, depth: usize) {
        for &(pattern, schema) in &w.patterns {
            if self.accepts_all(Side::Wide, schema) || only_listed(pattern, w, n) {
                continue;
            }
            let place = format!("{at}/patternProperties/{}", esc(pattern));
            let covering: Vec<&'a Value> = n
                .patterns
                .iter()
                .filter(|(own, _)| patterns::covers(own, pattern))
                .map(|p| p.1)
                .collect();
            if let Some(&first) = covering.first() {
                if covering.len() == 1 || !covering.iter().any(|c| self.probe(schema, c, depth + 1))
                {
                    self.sub(schema, first, &place, depth + 1);
                }
                continue;
            }
            for &(own, own_schema) in &n.patterns {
                if !patterns::disjoint(own, pattern) {
                    self.sub(schema, own_schema, &place, depth + 1);
                }
            }
            let rest = n.rest.unwrap_or(&TRUE);
            if !self.accepts_none(Side::Narrow, rest) {
                self.sub(schema, rest, &place, depth + 1);
            }
        }
    }

    /// Names neither side lists and no wide pattern matches: the wide rest
    /// must hold for the narrow side's patterns and rest.
    fn other_names(&mut self, w: &Model<'a>, n: &Model<'a>, at: &str, depth: usize) {
        let Some(rest) = w.rest.filter(|r| !self.accepts_all(Side::Wide, r)) else { return };
        if w.patterns.iter().any(|(pattern, _)| patterns::matches_all(pattern)) {
            return;
        }
        let closed = self.accepts_none(Side::Wide, rest);
        for &(own, own_schema) in &n.patterns {
            if w.patterns.iter().any(|(pattern, _)| patterns::covers(pattern, own))
                || self.accepts_none(Side::Narrow, own_schema)
                || only_listed(own, w, n)
            {
                continue;
            }
            let place = format!("{at}/patternProperties/{}", esc(own));
            if !closed {
                self.sub(rest, own_schema, &place, depth + 1);
            } else if w.patterns.iter().all(|(pattern, _)| patterns::disjoint(pattern, own)) {
                self.fail(
                    &place,
                    "pattern removed from a closed content model",
                    "pattern added to a closed content model",
                );
            } else {
                self.fail(
                    &place,
                    "cannot prove compatible: names this pattern matches may fall outside \
                     the new patterns of a closed content model",
                    "cannot prove compatible: names this pattern matches may fall outside \
                     the old patterns of a closed content model",
                );
            }
        }
        let place = format!("{at}/{}", w.rest_keyword);
        let narrow_rest = n.rest.unwrap_or(&TRUE);
        if self.accepts_none(Side::Narrow, narrow_rest) {
            return;
        }
        if closed {
            self.fail(&place, "content model closed", "content model opened");
        } else {
            self.sub(rest, narrow_rest, &place, depth + 1);
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

    /// Whether an in-place applicator of `schema` may evaluate property
    /// `name`, which `schema` itself neither lists nor matches.
    fn applicators_evaluate(
        &mut self,
        side: Side,
        schema: Schema<'a>,
        name: &str,
        nest: usize,
    ) -> bool {
        if nest > 16 || self.tick() {
            return true;
        }
        IN_PLACE.into_iter().any(|keyword| {
            let Some(v) = schema.raw(keyword) else { return false };
            match (keyword, v) {
                ("allOf" | "anyOf" | "oneOf", Value::Array(list)) => {
                    list.iter().any(|s| self.evaluates(side, s, name, nest + 1))
                }
                ("if" | "then" | "else", s) => self.evaluates(side, s, name, nest + 1),
                ("dependentSchemas", Value::Object(m)) => {
                    m.values().any(|s| self.evaluates(side, s, name, nest + 1))
                }
                ("$ref", Value::String(text)) => match self.root(side).resolve(keyword, text) {
                    Some(target) => self.evaluates(side, target, name, nest + 1),
                    None => true,
                },
                // Dynamic references, or malformed values: anything may be evaluated.
                _ => true,
            }
        })
    }

    /// Whether a subschema may evaluate property `name` of the instance.
    fn evaluates(&mut self, side: Side, schema: &'a Value, name: &str, nest: usize) -> bool {
        let Value::Object(m) = schema else { return !schema.is_boolean() };
        let props = m.get("properties").and_then(Value::as_object);
        let by_pattern = m.get("patternProperties").and_then(Value::as_object);
        if props.is_some_and(|p| p.contains_key(name))
            || by_pattern
                .into_iter()
                .flat_map(Map::keys)
                .any(|p| patterns::matches(p, name) != Some(false))
            || m.contains_key("additionalProperties")
            || m.contains_key("unevaluatedProperties")
        {
            return true;
        }
        let inner = Schema::new(schema, Some(m), self.root(side).dialect);
        self.applicators_evaluate(side, inner, name, nest)
    }

    /// `unevaluatedProperties` beside in-place applicators (without them,
    /// the content model reads it). Proven when both sides evaluate alike:
    /// the same applicators, and the wide side lists every name and pattern
    /// the narrow one does, so it evaluates at least the names the narrow
    /// side does; what it leaves unevaluated, the narrow side left to its
    /// own rest.
    fn unevaluated_properties(
        &mut self,
        wide: Schema<'a>,
        narrow: Schema<'a>,
        at: &str,
        depth: usize,
    ) {
        let Some(w) = wide.get("unevaluatedProperties") else { return };
        if self.accepts_all(Side::Wide, w)
            || !has_in_place(wide)
            || wide.raw("additionalProperties").is_some()
        {
            return;
        }
        let place = format!("{at}/unevaluatedProperties");
        let keys = |s: Schema<'a>, keyword| -> Vec<&'a String> {
            map(s.get(keyword)).map(|m| m.keys().collect()).unwrap_or_default()
        };
        let fewer = [("properties", "names"), ("patternProperties", "patterns")]
            .into_iter()
            .find(|(k, _)| keys(narrow, k).iter().any(|name| !keys(wide, k).contains(name)))
            .map(|(k, what)| format!("{k}, which lists fewer {what}"));
        if let Some(reason) = self.evaluates_differently(wide, narrow).or(fewer) {
            let problem =
                format!("cannot prove compatible: unevaluatedProperties depends on {reason}");
            return self.fail_both(&place, problem);
        }
        match narrow.get("additionalProperties").or_else(|| narrow.get("unevaluatedProperties")) {
            Some(rest) => self.sub(w, rest, &place, depth + 1),
            None => self.unprovable(&place, "unevaluatedProperties", false),
        }
    }

    /// The first in-place applicator that differs, which may make the two
    /// sides evaluate different properties or items.
    pub(super) fn evaluates_differently(
        &mut self,
        wide: Schema<'a>,
        narrow: Schema<'a>,
    ) -> Option<String> {
        let changed = IN_PLACE.into_iter().find(|k| !self.same(k, wide, narrow));
        changed.map(|k| format!("{k}, which changed"))
    }
}

/// Whether a pattern matches only a name that one side lists (those are
/// compared name by name).
fn only_listed(pattern: &str, w: &Model<'_>, n: &Model<'_>) -> bool {
    patterns::exact(pattern).is_some_and(|name| {
        [w.props, n.props].iter().any(|p| p.is_some_and(|p| p.contains_key(&name)))
    })
}

fn render_name(name: &str) -> String {
    value::render(&Value::String(name.to_owned()))
}
