//! Combinators and references (`allOf`, `anyOf`, `oneOf`, `not`, `if`,
//! `$ref`, ...) and keywords this checker does not know.

use serde_json::Value;

use super::checker::{Checker, Side};
use super::refs::{self, REF_KEYWORDS};
use super::schema::{Schema, is_known};
use super::value::{self, esc, is_annotation};

impl<'a> Checker<'a> {
    /// Combinators and references on the wide side.
    pub(super) fn combinators(
        &mut self,
        wide: Schema<'a>,
        narrow: Schema<'a>,
        at: &str,
        depth: usize,
    ) {
        if let Some(Value::Array(parts)) = wide.get("allOf")
            && !self.same("allOf", wide, narrow)
        {
            let own = narrow.get("allOf").and_then(Value::as_array);
            for (i, part) in parts.iter().enumerate() {
                let aligned = own.and_then(|o| o.get(i));
                self.conjunct(part, aligned, narrow, &format!("{at}/allOf/{i}"), depth);
            }
        }
        if let Some(Value::Array(branches)) = wide.get("anyOf")
            && !self.same("anyOf", wide, narrow)
            && !self.any_of(branches, narrow, depth)
        {
            self.unprovable(&format!("{at}/anyOf"), "anyOf", narrow.raw("anyOf").is_some());
        }
        for keyword in ["oneOf", "not"] {
            if wide.get(keyword).is_some() && !self.same(keyword, wide, narrow) {
                let has = narrow.raw(keyword).is_some();
                self.unprovable(&format!("{at}/{keyword}"), keyword, has);
            }
        }
        if wide.get("if").is_some()
            && ["if", "then", "else"].iter().any(|k| !self.same(k, wide, narrow))
        {
            let has = narrow.raw("if").is_some();
            self.unprovable(&format!("{at}/if"), "if/then/else", has);
        }
        for keyword in REF_KEYWORDS {
            let Some(text) = wide.get(keyword).and_then(Value::as_str) else { continue };
            if self.same(keyword, wide, narrow) {
                continue;
            }
            let place = format!("{at}/{keyword}");
            let Some(target) = self.root(Side::Wide).resolve(keyword, text) else {
                self.unprovable(&place, keyword, narrow.raw(keyword).is_some());
                continue;
            };
            let own = narrow.get(keyword).and_then(Value::as_str);
            let aligned = own.and_then(|own| self.root(Side::Narrow).resolve(keyword, own));
            self.conjunct(target, aligned, narrow, &place, depth);
        }
    }

    /// One more constraint (an `allOf` part, a `$ref` target) the whole narrow
    /// schema must meet. The narrow side's counterpart at the same place,
    /// when there is one, is the likeliest witness and gives the best message.
    fn conjunct(
        &mut self,
        part: &'a Value,
        aligned: Option<&'a Value>,
        narrow: Schema<'a>,
        at: &str,
        depth: usize,
    ) {
        if let Some(aligned) = aligned {
            if self.probe(part, aligned, depth) || self.probe(part, narrow.value, depth) {
                return;
            }
            return self.sub(part, aligned, at, depth);
        }
        self.sub(part, narrow.value, at, depth);
    }

    /// Whether the narrow schema fits one `anyOf` branch, or each of its own
    /// branches fits some branch.
    fn any_of(&mut self, branches: &'a [Value], narrow: Schema<'a>, depth: usize) -> bool {
        if branches.iter().any(|branch| self.probe(branch, narrow.value, depth)) {
            return true;
        }
        ["anyOf", "oneOf"].into_iter().any(|keyword| {
            narrow.get(keyword).and_then(Value::as_array).is_some_and(|own| {
                own.iter().all(|o| branches.iter().any(|b| self.probe(b, o, depth)))
            })
        })
    }

    /// Keywords this checker does not know may be assertions: they must be
    /// identical, or dropped from the wide side.
    pub(super) fn unknown(&mut self, wide: Schema<'a>, narrow: Schema<'a>, at: &str) {
        let dialect = wide.dialect();
        for keyword in wide.keys() {
            if is_annotation(keyword) || (is_known(keyword) && !dialect.lacks(keyword)) {
                continue;
            }
            let (w, n) = (wide.raw(keyword), narrow.raw(keyword));
            let same = value::opt_eq(w, n)
                && w.is_none_or(|w| self.agree(refs::references_in(Some(keyword), w)));
            if !same {
                let has = n.is_some();
                self.unprovable(&format!("{at}/{}", esc(keyword)), keyword, has);
            }
        }
    }

    /// Sufficient conditions found in the narrow schema's own combinators:
    /// it lies within each `allOf` part and `$ref` target, and within the
    /// union of its `anyOf`/`oneOf` branches.
    pub(super) fn alternatives(
        &mut self,
        wide: Schema<'a>,
        narrow: Schema<'a>,
        depth: usize,
    ) -> bool {
        let parts = narrow.get("allOf").and_then(Value::as_array);
        if parts.is_some_and(|p| p.iter().any(|part| self.probe(wide.value, part, depth))) {
            return true;
        }
        for keyword in ["anyOf", "oneOf"] {
            let branches = narrow.get(keyword).and_then(Value::as_array);
            if branches
                .is_some_and(|b| b.iter().all(|branch| self.probe(wide.value, branch, depth)))
            {
                return true;
            }
        }
        REF_KEYWORDS.into_iter().any(|keyword| {
            let text = narrow.get(keyword).and_then(Value::as_str);
            let target = text.and_then(|text| self.root(Side::Narrow).resolve(keyword, text));
            target.is_some_and(|target| self.probe(wide.value, target, depth))
        })
    }
}
