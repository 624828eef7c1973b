//! Array keywords: positional and remaining items, counts, uniqueness, `contains`.

use serde_json::Value;

use super::checker::{Checker, TRUE};
use super::schema::Schema;

/// How a schema constrains array positions: a tuple prefix, then the rest.
struct Shape<'a> {
    prefix: &'a [Value],
    prefix_keyword: &'static str,
    rest: Option<&'a Value>,
    rest_keyword: &'static str,
}

fn shape<'a>(schema: Schema<'a>) -> Shape<'a> {
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
        if wide.get("contains").is_some() {
            let same = ["contains", "minContains", "maxContains"]
                .iter()
                .all(|k| wide.dialect().lacks(k) || self.same(k, wide, narrow));
            if !same {
                let has = narrow.raw("contains").is_some();
                self.unprovable(&format!("{at}/contains"), "contains", has);
            }
        }
        self.unevaluated(wide, narrow, at, "unevaluatedItems");
    }
}
