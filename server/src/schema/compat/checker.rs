//! The walk over two schemas: proves that the wide one accepts every document
//! the narrow one accepts, collecting a problem wherever it cannot.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::eval::Verdict;
use super::refs::{self, Root};
use super::schema::{Schema, well_formed};
use super::value::{self, ALL, ARR, FRAC, NUM, OBJ, STR, esc, is_annotation};

pub(super) static TRUE: Value = Value::Bool(true);

/// Work allowed for one comparison; references can make the walk exponential.
const MAX_STEPS: usize = 100_000;
/// Nesting allowed for one comparison, well within any thread's stack.
const MAX_FRAMES: usize = 96;
/// Nested speculative proofs (disjointness, reversed inclusion) allowed: each
/// level may try several, so deeper nesting would only burn the budget.
const MAX_SPECULATION: usize = 6;

#[derive(Clone, Copy)]
pub(super) enum Side {
    /// The schema that must accept everything (the newer one for BACKWARD).
    Wide,
    /// The schema whose documents must be accepted.
    Narrow,
}

/// The branches of a schema that asserts nothing but `anyOf` or `oneOf`.
fn union<'a>(schema: Schema<'a>) -> Option<(&'static str, &'a Vec<Value>)> {
    let mut found = None;
    for keyword in schema.keys().filter(|k| !is_annotation(k)) {
        let keyword = match keyword.as_str() {
            "anyOf" => "anyOf",
            "oneOf" => "oneOf",
            _ => return None,
        };
        if found.is_some() {
            return None;
        }
        found = Some((keyword, schema.get(keyword)?.as_array()?));
    }
    found
}

enum ByValues {
    Proven,
    Reported,
    Undecided,
}

pub(crate) struct Checker<'a> {
    wide: Root<'a>,
    narrow: Root<'a>,
    /// Word problems from the older (wide) schema's point of view.
    forward: bool,
    problems: Vec<(String, String)>,
    /// Pairs being compared, with the document depth they were entered at.
    active: HashMap<(usize, usize), usize>,
    /// References known to resolve alike in both documents.
    agreed: HashSet<(&'static str, String)>,
    steps: usize,
    frames: usize,
    exhausted: bool,
    /// Kinds the next `sub` considers on the narrow side (see `probe_within`).
    within: u8,
    /// Speculative proofs under way (see `MAX_SPECULATION`).
    speculating: usize,
    /// Probe results that hold in any context, by (wide, narrow, depth, kinds).
    probed: HashMap<(usize, usize, usize, u8), bool>,
    /// Counts outcomes that depend on the context of a comparison (an
    /// assumed pair, a nesting limit): results that saw one are not kept.
    contextual: usize,
}

impl<'a> Checker<'a> {
    pub(crate) fn new(wide: Root<'a>, narrow: Root<'a>, forward: bool) -> Checker<'a> {
        Checker {
            wide,
            narrow,
            forward,
            problems: Vec::new(),
            active: HashMap::new(),
            agreed: HashSet::new(),
            steps: 0,
            frames: 0,
            exhausted: false,
            within: ALL,
            speculating: 0,
            probed: HashMap::new(),
            contextual: 0,
        }
    }

    pub(crate) fn run(mut self) -> Vec<(String, String)> {
        let (wide, narrow) = (self.wide.value, self.narrow.value);
        self.sub(wide, narrow, "", 0);
        if self.exhausted {
            let problem = "cannot prove compatible: schemas too complex to compare";
            self.problems.push((String::new(), problem.to_owned()));
        }
        let mut seen = HashSet::new();
        self.problems.retain(|p| seen.insert(p.clone()));
        self.problems
    }

    pub(super) fn root(&self, side: Side) -> &Root<'a> {
        match side {
            Side::Wide => &self.wide,
            Side::Narrow => &self.narrow,
        }
    }

    /// Enters one level of nesting; false when none is left.
    pub(super) fn enter(&mut self) -> bool {
        if self.frames >= MAX_FRAMES {
            self.contextual += 1;
            return false;
        }
        self.frames += 1;
        true
    }

    pub(super) fn leave(&mut self) {
        self.frames -= 1;
    }

    /// Starts a speculative proof; false when too many are nested already.
    pub(super) fn speculate(&mut self) -> bool {
        if self.speculating >= MAX_SPECULATION {
            self.contextual += 1;
            return false;
        }
        self.speculating += 1;
        true
    }

    pub(super) fn end_speculation(&mut self) {
        self.speculating -= 1;
    }

    /// Counts one unit of work; true once the budget is spent.
    pub(super) fn tick(&mut self) -> bool {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            self.exhausted = true;
        }
        self.exhausted
    }

    /// Records a problem worded for each direction: `narrowed` when the wide
    /// schema is the newer one, `widened` when it is the older one.
    pub(super) fn fail(
        &mut self,
        at: &str,
        narrowed: impl Into<String>,
        widened: impl Into<String>,
    ) {
        let problem = if self.forward { widened.into() } else { narrowed.into() };
        self.problems.push((at.to_owned(), problem));
    }

    pub(super) fn problems_len(&self) -> usize {
        self.problems.len()
    }

    /// Adds `note` to every problem recorded since `before`.
    pub(super) fn annotate(&mut self, before: usize, note: &str) {
        for (_, problem) in self.problems.iter_mut().skip(before) {
            problem.push_str(note);
        }
    }

    pub(super) fn fail_both(&mut self, at: &str, problem: impl Into<String>) {
        self.problems.push((at.to_owned(), problem.into()));
    }

    /// `changed from <old> to <new>`, given the wide and the narrow texts.
    pub(super) fn changed(&mut self, at: &str, wide: &str, narrow: &str) {
        let (old, new) = if self.forward { (wide, narrow) } else { (narrow, wide) };
        self.fail_both(at, format!("changed from {old} to {new}"));
    }

    /// A keyword that must be identical, found added, removed or changed.
    pub(super) fn unprovable(&mut self, at: &str, keyword: &str, narrow_has_it: bool) {
        if narrow_has_it {
            self.fail_both(at, format!("cannot prove compatible: {keyword} changed"));
        } else {
            self.fail(
                at,
                format!("cannot prove compatible: {keyword} added"),
                format!("cannot prove compatible: {keyword} removed"),
            );
        }
    }

    /// Compares without recording problems: true when proven.
    /// Results are remembered, as speculative proofs ask the same questions
    /// again and again, unless they depended on their context.
    pub(super) fn probe(&mut self, wide: &'a Value, narrow: &'a Value, depth: usize) -> bool {
        let key = (std::ptr::from_ref(wide) as usize, std::ptr::from_ref(narrow) as usize);
        let key = (key.0, key.1, depth, self.within);
        if let Some(&known) = self.probed.get(&key) {
            self.within = ALL;
            return known;
        }
        let (before, contextual) = (self.problems.len(), self.contextual);
        self.sub(wide, narrow, "", depth);
        let proven = self.problems.len() == before && !self.exhausted;
        self.problems.truncate(before);
        if !self.exhausted && self.contextual == contextual {
            self.probed.insert(key, proven);
        }
        proven
    }

    /// Proves the opposite inclusion: `wide`, a schema of the narrow root,
    /// accepts every document `narrow`, a schema of the wide root, accepts.
    /// Used where a keyword turns inclusion around (`not`, disjoint `oneOf`
    /// branches). Problems are worded for the swapped roles, at `at`.
    pub(super) fn reverse(
        &mut self,
        wide: &'a Value,
        narrow: &'a Value,
        at: &str,
        depth: usize,
    ) -> Vec<(String, String)> {
        if self.speculating >= MAX_SPECULATION {
            self.contextual += 1;
            let problem = "cannot prove compatible: negations nested too deeply";
            return vec![(at.to_owned(), problem.to_owned())];
        }
        let mut inner = Checker::new(self.narrow, self.wide, !self.forward);
        inner.steps = self.steps;
        inner.frames = self.frames;
        inner.speculating = self.speculating + 1;
        inner.sub(wide, narrow, at, depth);
        self.steps = inner.steps;
        // The inner comparison starts without this one's assumptions, but
        // under its nesting limits.
        self.contextual += inner.contextual;
        if inner.exhausted {
            self.exhausted = true;
            let problem = "cannot prove compatible: schemas too complex to compare";
            inner.problems.push((at.to_owned(), problem.to_owned()));
        }
        let mut seen = HashSet::new();
        inner.problems.retain(|p| seen.insert(p.clone()));
        inner.problems
    }

    /// How many problems comparing the two would find (none = proven).
    pub(super) fn count_problems(
        &mut self,
        wide: &'a Value,
        narrow: &'a Value,
        depth: usize,
    ) -> usize {
        let before = self.problems.len();
        self.sub(wide, narrow, "", depth);
        let found = self.problems.len() - before;
        self.problems.truncate(before);
        found
    }

    /// `probe` for the narrow documents of the given kinds only: the type
    /// comparison and the keywords for other kinds are skipped. Everything
    /// else still holds the whole narrow schema, which only asks for more.
    pub(super) fn probe_within(
        &mut self,
        wide: &'a Value,
        narrow: &'a Value,
        kinds: u8,
        depth: usize,
    ) -> bool {
        self.within = kinds;
        self.probe(wide, narrow, depth)
    }

    /// `reverse` without reporting: true when proven.
    pub(super) fn reverse_probe(
        &mut self,
        wide: &'a Value,
        narrow: &'a Value,
        depth: usize,
    ) -> bool {
        self.reverse(wide, narrow, "", depth).is_empty()
    }

    /// Follows references that make up a whole schema, so both sides are
    /// compared by what they mean rather than by where they point.
    pub(super) fn deref(&self, side: Side, mut schema: &'a Value) -> &'a Value {
        let root = self.root(side);
        for _ in 0..16 {
            let Some(map) = schema.as_object() else { break };
            let Some((keyword, text)) = refs::pure_ref(map, root.dialect) else { break };
            let Some(target) = root.resolve(keyword, text) else { break };
            schema = target;
        }
        schema
    }

    pub(super) fn accepts_all(&self, side: Side, schema: &Value) -> bool {
        match schema {
            Value::Bool(b) => *b,
            Value::Object(map) => {
                map.keys().all(|k| is_annotation(k))
                    && !(self.root(side).dialect.ref_overrides() && map.contains_key("$ref"))
            }
            _ => false,
        }
    }

    /// Whether two equal-looking values also agree in every reference inside
    /// them: each must resolve to equal schemas in both documents.
    pub(super) fn agree(&mut self, mut pending: Vec<(&'static str, String)>) -> bool {
        if pending.is_empty() {
            return true;
        }
        if !(self.wide.simple() && self.narrow.simple()) {
            return false;
        }
        let mut visited = HashSet::new();
        while let Some(reference) = pending.pop() {
            if self.agreed.contains(&reference) || !visited.insert(reference.clone()) {
                continue;
            }
            if self.tick() {
                return false;
            }
            let (keyword, text) = (reference.0, reference.1.as_str());
            match (self.wide.resolve(keyword, text), self.narrow.resolve(keyword, text)) {
                (Some(a), Some(b)) if value::schema_eq(a, b) => {
                    pending.extend(refs::references(a));
                }
                (None, None) if self.wide.same_base(&self.narrow) => {}
                _ => return false,
            }
        }
        // Only a fully successful search proves what it assumed along the way.
        self.agreed.extend(visited);
        true
    }

    /// Both sides have this keyword with the same meaning.
    pub(super) fn same(&mut self, keyword: &str, wide: Schema<'a>, narrow: Schema<'a>) -> bool {
        match (wide.raw(keyword), narrow.raw(keyword)) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                value::keyword_eq(keyword, a, b)
                    && self.agree(refs::references_in(Some(keyword), a))
            }
            _ => false,
        }
    }

    /// Proves `wide` accepts every document `narrow` accepts, reporting at `at`.
    /// `depth` is the depth in the document, used to tell recursion that
    /// descends (sound to assume) from a cycle that does not.
    pub(super) fn sub(&mut self, wide: &'a Value, narrow: &'a Value, at: &str, depth: usize) {
        let within = std::mem::replace(&mut self.within, ALL);
        if self.tick() {
            return;
        }
        let wide = self.deref(Side::Wide, wide);
        let narrow = self.deref(Side::Narrow, narrow);
        if matches!(narrow, Value::Bool(false)) || self.accepts_all(Side::Wide, wide) {
            return;
        }
        if value::schema_eq(wide, narrow) && self.agree(refs::references(wide)) {
            return;
        }
        let (wide_map, mut narrow_map) = match (wide, narrow) {
            (Value::Bool(false), _) => {
                return self.fail(at, "narrowed to false", "widened from false");
            }
            (Value::Object(w), Value::Object(n)) => (Some(w), Some(n)),
            (Value::Object(w), Value::Bool(true)) => (Some(w), None),
            _ => return self.fail_both(at, "cannot prove compatible: invalid schema"),
        };
        if self.narrow.dialect.ref_overrides() && narrow_map.is_some_and(|m| m.contains_key("$ref"))
        {
            // An unresolved draft-07 reference hides its siblings: it may mean anything.
            narrow_map = None;
        }
        if self.frames >= MAX_FRAMES {
            self.contextual += 1;
            return self.fail_both(at, "cannot prove compatible: schema nested too deeply");
        }
        let key = (std::ptr::from_ref(wide) as usize, std::ptr::from_ref(narrow) as usize);
        match self.active.get(&key) {
            // Met again deeper in the document: assuming it holds is sound,
            // since any counterexample would be a smaller document.
            Some(&entered) if entered < depth => {
                self.contextual += 1;
                return;
            }
            Some(_) => {
                self.contextual += 1;
                return self.fail_both(at, "cannot prove compatible: circular reference");
            }
            None => {}
        }
        // Only a comparison of all kinds may serve as the assumption above:
        // one limited to some kinds proves less than the pair claims.
        let whole = within == ALL;
        if whole {
            self.active.insert(key, depth);
        }
        self.frames += 1;
        let wide = Schema::new(wide, wide_map, self.wide.dialect);
        let narrow = Schema::new(narrow, narrow_map, self.narrow.dialect);
        self.compare(wide, narrow, at, depth, within);
        self.frames -= 1;
        if whole {
            self.active.remove(&key);
        }
    }

    fn compare(
        &mut self,
        wide: Schema<'a>,
        narrow: Schema<'a>,
        at: &str,
        depth: usize,
        within: u8,
    ) {
        let before = self.problems.len();
        match self.by_values(wide, narrow, at) {
            ByValues::Proven | ByValues::Reported => return,
            ByValues::Undecided => {}
        }
        self.keywords(wide, narrow, at, depth, within);
        if self.problems.len() == before {
            return;
        }
        if self.alternatives(wide, narrow, depth) {
            self.problems.truncate(before);
        } else if let Some((keyword, branches)) = union(narrow)
            && wide.get("anyOf").is_none()
            && wide.get("oneOf").is_none()
        {
            // A narrow schema that is only a union is best explained by the
            // branches the wide one does not cover.
            self.problems.truncate(before);
            for (i, branch) in branches.iter().enumerate() {
                if !self.probe(wide.value, branch, depth) {
                    self.sub(wide.value, branch, &format!("{at}/{keyword}/{i}"), depth);
                }
            }
        }
    }

    /// When the narrow schema lists its values, tries each against the wide one.
    fn by_values(&mut self, wide: Schema<'a>, narrow: Schema<'a>, at: &str) -> ByValues {
        let values: Vec<&'a Value> = match (narrow.get("const"), narrow.get("enum")) {
            (Some(c), _) => vec![c],
            (None, Some(Value::Array(list))) if list.len() <= 1000 => list.iter().collect(),
            _ => return ByValues::Undecided,
        };
        let mut refused: Vec<(String, Vec<&Value>)> = Vec::new();
        let mut unsure = false;
        for v in values {
            let verdict = self.eval(Side::Wide, wide.value, v, 0);
            if matches!(verdict, Verdict::Accept) {
                continue;
            }
            match (verdict, self.eval(Side::Narrow, narrow.value, v, 0)) {
                (_, Verdict::Reject(_)) => {}
                (Verdict::Reject(place), Verdict::Accept) => {
                    match refused.iter_mut().find(|(p, _)| *p == place) {
                        Some((_, list)) => list.push(v),
                        None => refused.push((place, vec![v])),
                    }
                }
                _ => unsure = true,
            }
        }
        if refused.is_empty() {
            return if unsure { ByValues::Undecided } else { ByValues::Proven };
        }
        for (place, list) in refused {
            let shown = value::render_list(&list);
            self.fail(
                &format!("{at}{place}"),
                format!("no longer allows {shown}"),
                format!("now allows {shown}"),
            );
        }
        ByValues::Reported
    }

    /// `within` limits the narrow documents considered to those kinds.
    fn keywords(
        &mut self,
        wide: Schema<'a>,
        narrow: Schema<'a>,
        at: &str,
        depth: usize,
        within: u8,
    ) {
        self.malformed(wide, narrow, at);
        let common = self.types(wide, narrow, at, within);
        self.values(wide, narrow, at);
        self.text_keyword(wide, narrow, at, "format");
        self.combinators(wide, narrow, at, depth);
        self.unknown(wide, narrow, at);
        if common & NUM != 0 {
            self.numbers(wide, narrow, at, common & FRAC == 0);
        }
        if common & STR != 0 {
            self.strings(wide, narrow, at);
        }
        if common & OBJ != 0 {
            self.objects(wide, narrow, at, depth);
        }
        if common & ARR != 0 {
            self.arrays(wide, narrow, at, depth);
        }
    }

    fn malformed(&mut self, wide: Schema<'a>, narrow: Schema<'a>, at: &str) {
        let mut keywords: Vec<&String> = wide.keys().chain(narrow.keys()).collect();
        keywords.sort();
        keywords.dedup();
        for keyword in keywords {
            let (w, n) = (wide.raw(keyword), narrow.raw(keyword));
            let valid = |v: Option<&Value>, d| v.is_none_or(|v| well_formed(keyword, v, d));
            if !(value::opt_eq(w, n) || valid(w, wide.dialect()) && valid(n, narrow.dialect())) {
                let place = format!("{at}/{}", esc(keyword));
                self.fail_both(&place, format!("cannot prove compatible: invalid {keyword}"));
            }
        }
    }
}
