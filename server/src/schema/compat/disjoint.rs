//! Proofs that no document is accepted by both of two schemas. They make
//! `oneOf` and `not` provable: a `oneOf` branch that no old document can
//! match leaves the old documents matching exactly one branch, and a `not`
//! added around documents the old schema never accepted refuses none of them.

use serde_json::Value;

use super::bounds::{End, bound};
use super::checker::{Checker, Side, TRUE};
use super::eval::Verdict;
use super::num;
use super::objects::has_in_place;
use super::patterns;
use super::schema::Schema;
use super::value::{self, ALL, ARR, NUM, OBJ, STR};

/// Nesting allowed while reasoning about one pair of schemas.
const MAX_NEST: usize = 24;

fn listed<'a>(schema: Schema<'a>) -> Option<Vec<&'a Value>> {
    match (schema.get("const"), schema.get("enum")) {
        (Some(c), _) => Some(vec![c]),
        (None, Some(Value::Array(list))) => Some(list.iter().collect()),
        _ => None,
    }
}

/// Whether two count ranges (`minLength`/`maxLength`, ...) cannot overlap.
fn counts_apart(a: Schema<'_>, b: Schema<'_>, min: &str, max: &str) -> bool {
    let read = |s: Schema<'_>, k| s.get(k).and_then(num::count);
    let below = |x: Schema<'_>, y: Schema<'_>| {
        read(x, max).is_some_and(|hi| read(y, min).is_some_and(|lo| hi < lo))
    };
    below(a, b) || below(b, a)
}

/// Whether two numeric ranges cannot overlap.
fn ranges_apart(a: Schema<'_>, b: Schema<'_>) -> bool {
    let below = |x: Schema<'_>, y: Schema<'_>| {
        let (Some(hi), Some(lo)) = (bound(x, End::Upper), bound(y, End::Lower)) else {
            return false;
        };
        match hi.n.cmp(lo.n) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Equal => hi.exclusive || lo.exclusive,
            std::cmp::Ordering::Greater => false,
        }
    };
    below(a, b) || below(b, a)
}

impl<'a> Checker<'a> {
    /// The kinds of instance a schema may accept: every kind it accepts is
    /// in the result (it may hold more).
    pub(super) fn kinds(&mut self, side: Side, schema: &'a Value, nest: usize) -> u8 {
        if nest > MAX_NEST || self.tick() {
            return ALL;
        }
        let schema = self.deref(side, schema);
        let map = match schema {
            Value::Bool(false) => return 0,
            Value::Object(map) => map,
            _ => return ALL,
        };
        let dialect = self.root(side).dialect;
        if dialect.ref_overrides() && map.contains_key("$ref") {
            return ALL;
        }
        let s = Schema::new(schema, Some(map), dialect);
        let mut kinds = value::type_kinds(s.get("type")).unwrap_or(ALL);
        if let Some(values) = listed(s) {
            kinds &= values.iter().fold(0, |acc, v| acc | value::kind_of(v));
        }
        if let Some(Value::Array(parts)) = s.get("allOf") {
            for part in parts {
                kinds &= self.kinds(side, part, nest + 1);
            }
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = s.get(keyword) {
                let mut any = 0;
                for branch in branches {
                    any |= self.kinds(side, branch, nest + 1);
                }
                kinds &= any;
            }
        }
        if let Some(text) = s.get("$ref").and_then(Value::as_str)
            && let Some(target) = self.root(side).resolve("$ref", text)
        {
            kinds &= self.kinds(side, target, nest + 1);
        }
        if let Some(not) = s.get("not") {
            kinds &= !self.whole_kinds(side, not);
        }
        kinds
    }

    /// The kinds a schema accepts every instance of: it is `true`, or says
    /// nothing but `type`.
    fn whole_kinds(&self, side: Side, schema: &'a Value) -> u8 {
        let schema = self.deref(side, schema);
        if self.accepts_all(side, schema) {
            return ALL;
        }
        let Some(map) = schema.as_object() else { return 0 };
        if map.keys().any(|k| k != "type" && !value::is_annotation(k)) {
            return 0;
        }
        value::type_kinds(map.get("type")).unwrap_or(0)
    }

    /// Whether a schema certainly accepts nothing (`false`, `{"not": {}}`, ...).
    pub(super) fn accepts_none(&mut self, side: Side, schema: &'a Value) -> bool {
        self.kinds(side, schema, 0) == 0
    }

    /// Whether no document of `kinds` is accepted both by `wide`, a schema of
    /// the wide root, and by `narrow`, one of the narrow root. False when that
    /// cannot be shown. `depth` is the depth in the document, as for `sub`.
    pub(super) fn disjoint(
        &mut self,
        wide: &'a Value,
        narrow: &'a Value,
        kinds: u8,
        depth: usize,
    ) -> bool {
        if !self.speculate() {
            return false;
        }
        let found = self.apart(wide, narrow, kinds, depth, 0);
        self.end_speculation();
        found
    }

    fn apart(&mut self, w: &'a Value, n: &'a Value, kinds: u8, depth: usize, nest: usize) -> bool {
        // Nesting shares the comparison's frame budget: each level may probe.
        if nest > MAX_NEST || self.tick() || !self.enter() {
            return false;
        }
        let found = self.apart_here(w, n, kinds, depth, nest);
        self.leave();
        found
    }

    fn apart_here(
        &mut self,
        w: &'a Value,
        n: &'a Value,
        kinds: u8,
        depth: usize,
        nest: usize,
    ) -> bool {
        let (w, n) = (self.deref(Side::Wide, w), self.deref(Side::Narrow, n));
        let common = kinds & self.kinds(Side::Wide, w, 0) & self.kinds(Side::Narrow, n, 0);
        if common == 0 {
            return true;
        }
        let (Some(wm), Some(nm)) = (w.as_object(), n.as_object()) else { return false };
        // An unresolved draft-07 `$ref` hides its siblings: it may mean anything.
        let hidden = |d: super::refs::Dialect, m: &serde_json::Map<String, Value>| {
            d.ref_overrides() && m.contains_key("$ref")
        };
        if hidden(self.root(Side::Wide).dialect, wm) || hidden(self.root(Side::Narrow).dialect, nm)
        {
            return false;
        }
        let ws = Schema::new(w, Some(wm), self.root(Side::Wide).dialect);
        let ns = Schema::new(n, Some(nm), self.root(Side::Narrow).dialect);

        // Listed values, each refused by the other side.
        if let Some(values) = listed(ws)
            && values.iter().all(|v| {
                value::kind_of(v) & common == 0
                    || matches!(self.eval(Side::Narrow, n, v, 0), Verdict::Reject(_))
            })
        {
            return true;
        }
        if let Some(values) = listed(ns)
            && values.iter().all(|v| {
                value::kind_of(v) & common == 0
                    || matches!(self.eval(Side::Wide, w, v, 0), Verdict::Reject(_))
            })
        {
            return true;
        }
        if self.apart_combinators(ws, ns, common, depth, nest) {
            return true;
        }
        // A `not` on one side that holds everything the other side accepts.
        if let Some(not) = ws.get("not")
            && self.probe(not, n, depth)
        {
            return true;
        }
        if let Some(not) = ns.get("not")
            && self.reverse_probe(not, w, depth)
        {
            return true;
        }
        // Kind by kind; null and booleans are only told apart by values.
        let mut left = common;
        if left & OBJ != 0 {
            if !self.objects_apart(ws, ns, depth, nest) {
                return false;
            }
            left &= !OBJ;
        }
        if left & NUM != 0 {
            if !ranges_apart(ws, ns) {
                return false;
            }
            left &= !NUM;
        }
        if left & STR != 0 {
            if !counts_apart(ws, ns, "minLength", "maxLength") {
                return false;
            }
            left &= !STR;
        }
        if left & ARR != 0 {
            if !counts_apart(ws, ns, "minItems", "maxItems") {
                return false;
            }
            left &= !ARR;
        }
        left == 0
    }

    /// A conjunction is apart when one part is; a union when every branch is.
    fn apart_combinators(
        &mut self,
        ws: Schema<'a>,
        ns: Schema<'a>,
        kinds: u8,
        depth: usize,
        nest: usize,
    ) -> bool {
        let (w, n) = (ws.value, ns.value);
        let list = |s: Schema<'a>, k| s.get(k).and_then(Value::as_array);
        if let Some(parts) = list(ws, "allOf")
            && parts.iter().any(|p| self.apart(p, n, kinds, depth, nest + 1))
        {
            return true;
        }
        if let Some(parts) = list(ns, "allOf")
            && parts.iter().any(|p| self.apart(w, p, kinds, depth, nest + 1))
        {
            return true;
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(branches) = list(ws, keyword)
                && branches.iter().all(|b| self.apart(b, n, kinds, depth, nest + 1))
            {
                return true;
            }
            if let Some(branches) = list(ns, keyword)
                && branches.iter().all(|b| self.apart(w, b, kinds, depth, nest + 1))
            {
                return true;
            }
        }
        let target = |c: &Self, side, s: Schema<'a>| {
            let text = s.get("$ref").and_then(Value::as_str)?;
            c.root(side).resolve("$ref", text)
        };
        if let Some(t) = target(self, Side::Wide, ws)
            && self.apart(t, n, kinds, depth, nest + 1)
        {
            return true;
        }
        if let Some(t) = target(self, Side::Narrow, ns)
            && self.apart(w, t, kinds, depth, nest + 1)
        {
            return true;
        }
        false
    }

    /// Objects are apart when one side requires a property whose values the
    /// two sides keep apart, or their property counts cannot overlap.
    fn objects_apart(&mut self, ws: Schema<'a>, ns: Schema<'a>, depth: usize, nest: usize) -> bool {
        if counts_apart(ws, ns, "minProperties", "maxProperties") {
            return true;
        }
        let required = |s: Schema<'a>| -> Vec<&'a str> {
            let list = s.get("required").and_then(Value::as_array);
            list.map(|l| l.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
        };
        let mut names = required(ws);
        names.extend(required(ns));
        names.into_iter().any(|name| {
            let (w, n) = (property_schema(ws, name), property_schema(ns, name));
            self.apart(w, n, ALL, depth + 1, nest + 1)
        })
    }
}

/// A schema that the value of property `name` certainly meets.
fn property_schema<'a>(s: Schema<'a>, name: &str) -> &'a Value {
    if let Some(own) = s.get("properties").and_then(|p| p.get(name)) {
        return own;
    }
    let patterns = s.get("patternProperties").and_then(Value::as_object);
    for (pattern, schema) in patterns.into_iter().flatten() {
        match patterns::matches(pattern, name) {
            Some(true) => return schema,
            Some(false) => {}
            None => return &TRUE,
        }
    }
    if s.raw("additionalProperties").is_some() {
        return s.get("additionalProperties").unwrap_or(&TRUE);
    }
    // Without in-place applicators, unevaluatedProperties is the rest.
    if has_in_place(s) { &TRUE } else { s.get("unevaluatedProperties").unwrap_or(&TRUE) }
}
