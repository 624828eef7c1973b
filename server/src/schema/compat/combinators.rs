//! Combinators and references (`allOf`, `anyOf`, `oneOf`, `not`, `if`,
//! `$ref`, ...) and keywords this checker does not know.

use serde_json::Value;

use super::checker::{Checker, Side};
use super::refs::{self, REF_KEYWORDS};
use super::schema::{Schema, is_known};
use super::value::{self, ALL, ARR, BOOL, FRAC, INT, NULL, OBJ, STR, esc, is_annotation};

/// Each kind of document on its own.
const KINDS: [u8; 7] = [NULL, BOOL, OBJ, ARR, STR, INT, FRAC];

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
        if let Some(Value::Array(branches)) = wide.get("oneOf")
            && !self.same("oneOf", wide, narrow)
        {
            self.one_of(branches, narrow, at, depth);
        }
        if let Some(not) = wide.get("not")
            && !self.same("not", wide, narrow)
        {
            self.not(not, narrow, &format!("{at}/not"), depth);
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

    /// `oneOf` on the wide side: every narrow document must match exactly one
    /// branch. Shown for the whole narrow schema, or else for each branch of
    /// its own union: one wide branch accepts all of it and every other wide
    /// branch accepts none of it. So branches no old document can match (for
    /// example `{"type": "null"}` beside a string) may be added.
    fn one_of(&mut self, branches: &'a [Value], narrow: Schema<'a>, at: &str, depth: usize) {
        let kinds = self.kinds(Side::Narrow, narrow.value, 0);
        let whole = self.one_branch(branches, narrow.value, None, kinds, depth);
        if whole.is_ok() || self.kind_by_kind(branches, narrow.value, None, kinds, depth) {
            return;
        }
        for keyword in ["oneOf", "anyOf"] {
            let Some(own) = narrow.get(keyword).and_then(Value::as_array) else { continue };
            // In a narrow `oneOf`, a document matching one branch matches no other.
            let exclusive = (keyword == "oneOf").then_some(own.as_slice());
            let mut misses = Vec::new();
            for (k, alternative) in own.iter().enumerate() {
                let others = exclusive.map(|own| (own, k));
                if let Err(miss) = self.one_branch(branches, alternative, others, kinds, depth)
                    && !self.kind_by_kind(branches, alternative, others, kinds, depth)
                {
                    misses.push((alternative, Some(k), miss));
                }
            }
            if misses.is_empty() {
                return;
            }
            for (alternative, k, miss) in misses {
                self.one_of_miss(branches, alternative, k, miss, at, depth);
            }
            return;
        }
        if let Err(miss) = whole {
            self.one_of_miss(branches, narrow.value, None, miss, at, depth);
        }
    }

    /// `one_branch` for each kind of document on its own, so that
    /// `{"type": ["string", "null"]}` may become a `oneOf` of the two.
    fn kind_by_kind(
        &mut self,
        branches: &'a [Value],
        alternative: &'a Value,
        others: Option<(&'a [Value], usize)>,
        kinds: u8,
        depth: usize,
    ) -> bool {
        kinds.count_ones() > 1
            && KINDS
                .into_iter()
                .filter(|&k| kinds & k != 0)
                .all(|k| self.one_branch(branches, alternative, others, k, depth).is_ok())
    }

    /// One narrow alternative, among its documents of `kinds`, against the
    /// wide branches. `others` are the
    /// narrow `oneOf` branches with this one's index, which its documents
    /// do not match.
    fn one_branch(
        &mut self,
        branches: &'a [Value],
        alternative: &'a Value,
        others: Option<(&'a [Value], usize)>,
        kinds: u8,
        depth: usize,
    ) -> Result<(), Miss> {
        let mut miss = Miss::NoBranch;
        for (j, holder) in branches.iter().enumerate() {
            if !self.probe_within(holder, alternative, kinds, depth) {
                continue;
            }
            let overlap = (0..branches.len()).filter(|&i| i != j).find(|&i| {
                let excluded = self.disjoint(&branches[i], alternative, kinds, depth)
                    || others.is_some_and(|(own, k)| {
                        own.iter().enumerate().any(|(l, other)| {
                            l != k && self.reverse_probe(other, &branches[i], depth)
                        })
                    });
                !excluded
            });
            match overlap {
                None => return Ok(()),
                Some(other) if matches!(miss, Miss::NoBranch) => {
                    miss = Miss::Overlap { holder: j, other };
                }
                Some(_) => {}
            }
        }
        Err(miss)
    }

    fn one_of_miss(
        &mut self,
        branches: &'a [Value],
        alternative: &'a Value,
        k: Option<usize>,
        miss: Miss,
        at: &str,
        depth: usize,
    ) {
        match miss {
            Miss::Overlap { holder, other } => self.fail(
                &format!("{at}/oneOf/{other}"),
                format!(
                    "cannot prove compatible: may match old documents that branch {holder} \
                     matches too, and oneOf refuses a document matching two branches"
                ),
                format!(
                    "cannot prove compatible: may match new documents that branch {holder} \
                     matches too, and oneOf refuses a document matching two branches"
                ),
            ),
            // The aligned branch, or else the one with the fewest problems,
            // best explains what is missing.
            Miss::NoBranch => {
                let aligned = k.filter(|&k| k < branches.len());
                let best = aligned.unwrap_or_else(|| {
                    let counts =
                        branches.iter().map(|b| self.count_problems(b, alternative, depth));
                    let counts: Vec<usize> = counts.collect();
                    (0..branches.len()).min_by_key(|&i| counts[i]).unwrap_or(0)
                });
                self.sub(&branches[best], alternative, &format!("{at}/oneOf/{best}"), depth);
            }
        }
    }

    /// `not` on the wide side refuses what its schema accepts: proven when that
    /// schema accepts no narrow document, in particular when the narrow side
    /// has `not` around a schema that accepts at least as much.
    fn not(&mut self, not: &'a Value, narrow: Schema<'a>, at: &str, depth: usize) {
        if self.disjoint(not, narrow.value, ALL, depth) {
            return;
        }
        let Some(own) = narrow.get("not") else {
            return self.unprovable(at, "not", false);
        };
        // Inside `not`, inclusion turns around: the old negated schema must
        // accept everything the new one does.
        for (pointer, problem) in self.reverse(own, not, at, depth) {
            self.fail_both(&pointer, format!("{problem}, inside not"));
        }
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

/// Why a narrow alternative is not shown to match exactly one wide branch.
#[derive(Clone, Copy)]
enum Miss {
    /// No branch accepts all of it.
    NoBranch,
    /// Branch `holder` does, but branch `other` may accept some of it too.
    Overlap { holder: usize, other: usize },
}
