//! Array keywords: positional and remaining items, counts, uniqueness, `contains`.

use serde_json::Value;

use super::checker::{Checker, Side, TRUE};
use super::num;
use super::objects::has_in_place;
use super::schema::Schema;

/// How a schema constrains array positions: a tuple prefix, then the rest.
struct Shape<'a> {
    prefix: &'a [Value],
    prefix_keyword: &'static str,
    rest: Option<&'a Value>,
    rest_keyword: &'static str,
}

/// The positions, reading `unevaluatedItems` as the rest where it means
/// exactly that: no rest keyword, no `contains` and no in-place applicator
/// evaluates items beside it.
fn shape<'a>(schema: Schema<'a>) -> Shape<'a> {
    let mut shape = own_shape(schema);
    if shape.rest.is_none() && schema.raw("contains").is_none() && !has_in_place(schema) {
        shape.rest = schema.get("unevaluatedItems");
        shape.rest_keyword = "unevaluatedItems";
    }
    shape
}

fn own_shape<'a>(schema: Schema<'a>) -> Shape<'a> {
    if schema.dialect().tuple_items() {
        return match schema.get("items") {
            Some(Value::Array(prefix)) => Shape {
                prefix,
                prefix_keyword: "items",
                rest: schema.get("additionalItems"),
                rest_keyword: "additionalItems",
            },
            // `additionalItems` only applies after an array-form `items`.
            rest => Shape { prefix: &[], prefix_keyword: "items", rest, rest_keyword: "items" },
        };
    }
    let prefix = schema.get("prefixItems").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    Shape {
        prefix,
        prefix_keyword: "prefixItems",
        rest: schema.get("items"),
        rest_keyword: "items",
    }
}

/// `contains` with its counts: `minContains` is 1 unless given.
struct Contains<'a> {
    schema: Option<&'a Value>,
    min: u64,
    max: Option<u64>,
}

fn contains<'a>(schema: Schema<'a>) -> Contains<'a> {
    let count = |keyword| schema.get(keyword).and_then(num::count);
    Contains {
        schema: schema.get("contains"),
        min: count("minContains").unwrap_or(1),
        max: count("maxContains"),
    }
}

impl<'a> Checker<'a> {
    pub(super) fn arrays(&mut self, wide: Schema<'a>, narrow: Schema<'a>, at: &str, depth: usize) {
        let (w, n) = (shape(wide), shape(narrow));
        // Position by position: each is constrained by the tuple entry, if
        // any, or else by the schema for the rest.
        for i in 0..w.prefix.len().max(n.prefix.len()) {
            let ws = w.prefix.get(i).or(w.rest).unwrap_or(&TRUE);
            let ns = n.prefix.get(i).or(n.rest).unwrap_or(&TRUE);
            let keyword = if i < w.prefix.len() { w.prefix_keyword } else { n.prefix_keyword };
            self.sub(ws, ns, &format!("{at}/{keyword}/{i}"), depth + 1);
        }
        if let Some(rest) = w.rest {
            let place = format!("{at}/{}", w.rest_keyword);
            self.sub(rest, n.rest.unwrap_or(&TRUE), &place, depth + 1);
        }

        self.counts(wide, narrow, at, "minItems", "maxItems");
        let unique = |s: Schema<'a>| matches!(s.get("uniqueItems"), Some(Value::Bool(true)));
        if unique(wide) && !unique(narrow) {
            self.fail(
                &format!("{at}/uniqueItems"),
                "narrowed to unique items",
                "widened to allow duplicate items",
            );
        }
        self.contains(wide, narrow, &n, at, depth);
        self.unevaluated_items(wide, narrow, (&w, &n), at, depth);
    }

    /// `contains` with its counts. With `c` the number of items the wide
    /// `contains` matches in a narrow array: `c` is at least the narrow
    /// count when the wide `contains` accepts whatever the narrow one does,
    /// exactly that count when the two match the same items, and the array's
    /// length when every narrow position fits the wide `contains`.
    fn contains(
        &mut self,
        wide: Schema<'a>,
        narrow: Schema<'a>,
        n_shape: &Shape<'a>,
        at: &str,
        depth: usize,
    ) {
        let (w, n) = (contains(wide), contains(narrow));
        let Some(w_schema) = w.schema else { return };
        if w.min == 0 && w.max.is_none() {
            return;
        }
        let min_items = narrow.get("minItems").and_then(num::count).unwrap_or(0);
        let max_items = narrow.get("maxItems").and_then(num::count);
        let by_length =
            min_items >= w.min && w.max.is_none_or(|m| max_items.is_some_and(|x| x <= m));
        if by_length && self.every_item_fits(w_schema, n_shape, depth) {
            return;
        }
        let Some(n_schema) = n.schema else {
            return self.unprovable(&format!("{at}/contains"), "contains", false);
        };
        let same = self.same("contains", wide, narrow);
        let before = self.problems_len();
        if !same {
            self.sub(w_schema, n_schema, &format!("{at}/contains"), depth + 1);
        }
        if self.problems_len() > before {
            return;
        }
        if w.min > n.min {
            self.fail(
                &format!("{at}/minContains"),
                format!("raised from {} to {}", n.min, w.min),
                format!("lowered from {} to {}", w.min, n.min),
            );
        }
        let Some(w_max) = w.max else { return };
        if max_items.is_some_and(|m| m <= w_max) {
            return;
        }
        let place = format!("{at}/maxContains");
        let exact = same || self.reverse_probe(n_schema, w_schema, depth + 1);
        match (exact, n.max) {
            (true, Some(n_max)) if n_max <= w_max => {}
            (true, Some(n_max)) => self.fail(
                &place,
                format!("lowered from {n_max} to {w_max}"),
                format!("raised from {w_max} to {n_max}"),
            ),
            (true, None) => {
                self.fail(&place, format!("added as {w_max}"), format!("removed, was {w_max}"));
            }
            (false, _) => self.fail_both(
                &place,
                "cannot prove compatible: contains matches more items while maxContains limits them",
            ),
        }
    }

    /// Whether every item of a narrow array matches `schema`.
    fn every_item_fits(&mut self, schema: &'a Value, n: &Shape<'a>, depth: usize) -> bool {
        let rest = n.rest.unwrap_or(&TRUE);
        n.prefix.iter().all(|p| self.probe(schema, p, depth + 1))
            && (self.accepts_none(Side::Narrow, rest) || self.probe(schema, rest, depth + 1))
    }

    /// `unevaluatedItems` beside `contains` or in-place applicators (without
    /// them the positions read it). Proven when both sides evaluate alike:
    /// the same applicators and `contains`, and a wide tuple at least as long,
    /// so what the wide side leaves unevaluated the narrow side left to its
    /// own rest.
    fn unevaluated_items(
        &mut self,
        wide: Schema<'a>,
        narrow: Schema<'a>,
        (w, n): (&Shape<'a>, &Shape<'a>),
        at: &str,
        depth: usize,
    ) {
        let Some(u) = wide.get("unevaluatedItems") else { return };
        if self.accepts_all(Side::Wide, u) || w.rest.is_some() {
            return;
        }
        let place = format!("{at}/unevaluatedItems");
        let counts = ["contains", "minContains", "maxContains"];
        let reason = self.evaluates_differently(wide, narrow).or_else(|| {
            let changed = counts.into_iter().find(|k| !self.same(k, wide, narrow));
            changed.map(|k| format!("{k}, which changed")).or_else(|| {
                (w.prefix.len() < n.prefix.len())
                    .then(|| format!("{}, which lists fewer items", n.prefix_keyword))
            })
        });
        if let Some(reason) = reason {
            let problem = format!("cannot prove compatible: unevaluatedItems depends on {reason}");
            return self.fail_both(&place, problem);
        }
        match n.rest.or_else(|| narrow.get("unevaluatedItems")) {
            Some(rest) => self.sub(u, rest, &place, depth + 1),
            None => self.unprovable(&place, "unevaluatedItems", false),
        }
    }
}
