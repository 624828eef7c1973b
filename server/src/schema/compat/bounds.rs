//! Numeric, length and count bounds, and the string keywords.

use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::checker::Checker;
use super::num::{self, N};
use super::schema::Schema;

#[derive(Clone, Copy, PartialEq)]
pub(super) enum End {
    Lower,
    Upper,
}

/// The effective bound one side of a schema sets on numbers.
#[derive(Clone, Copy)]
pub(super) struct Bound<'a> {
    pub(super) n: N,
    pub(super) exclusive: bool,
    keyword: &'static str,
    raw: &'a Value,
}

impl Bound<'_> {
    /// The equivalent inclusive bound on integers, when exactly computable.
    fn on_integers(self, end: End) -> Self {
        let n = match (end, self.exclusive) {
            (End::Lower, false) => Some(self.n.ceil()),
            (End::Lower, true) => self.n.floor().add(1),
            (End::Upper, false) => Some(self.n.floor()),
            (End::Upper, true) => self.n.ceil().add(-1),
        };
        match n {
            Some(n) => Bound { n, exclusive: false, ..self },
            None => self,
        }
    }

    fn text(&self, with_keyword: bool) -> String {
        if with_keyword { format!("{} {}", self.keyword, self.raw) } else { self.raw.to_string() }
    }
}

pub(super) fn bound<'a>(schema: Schema<'a>, end: End) -> Option<Bound<'a>> {
    let (inclusive, exclusive) = match end {
        End::Lower => ("minimum", "exclusiveMinimum"),
        End::Upper => ("maximum", "exclusiveMaximum"),
    };
    let read = |keyword: &'static str, is_exclusive| {
        let raw = schema.get(keyword)?;
        Some(Bound { n: N::of_value(raw)?, exclusive: is_exclusive, keyword, raw })
    };
    match (read(inclusive, false), read(exclusive, true)) {
        (Some(a), Some(b)) => {
            let order = a.n.cmp(b.n);
            let a_tighter = if end == End::Lower {
                order == Ordering::Greater
            } else {
                order == Ordering::Less
            };
            Some(if a_tighter { a } else { b })
        }
        (a, b) => a.or(b),
    }
}

impl<'a> Checker<'a> {
    pub(super) fn numbers(
        &mut self,
        wide: Schema<'a>,
        narrow: Schema<'a>,
        at: &str,
        integers_only: bool,
    ) {
        self.number_bound(wide, narrow, at, End::Lower, integers_only);
        self.number_bound(wide, narrow, at, End::Upper, integers_only);
        self.multiple_of(wide, narrow, at, integers_only);
    }

    fn number_bound(
        &mut self,
        wide: Schema<'a>,
        narrow: Schema<'a>,
        at: &str,
        end: End,
        integers_only: bool,
    ) {
        let Some(w) = bound(wide, end) else { return };
        let place = format!("{at}/{}", w.keyword);
        let Some(n) = bound(narrow, end) else {
            let shown = w.text(false);
            return self.fail(&place, format!("added as {shown}"), format!("removed, was {shown}"));
        };
        // On integers, `exclusiveMinimum: 2` and `minimum: 3` are the same bound.
        let (wc, nc) =
            if integers_only { (w.on_integers(end), n.on_integers(end)) } else { (w, n) };
        let order = match end {
            End::Lower => wc.n.cmp(nc.n),
            End::Upper => nc.n.cmp(wc.n),
        };
        let fits = match order {
            Ordering::Less => true,
            Ordering::Equal => !wc.exclusive || nc.exclusive,
            Ordering::Greater => false,
        };
        if fits {
            return;
        }
        let with_keyword = w.keyword != n.keyword;
        let (ws, ns) = (w.text(with_keyword), n.text(with_keyword));
        match end {
            End::Lower => self.fail(
                &place,
                format!("raised from {ns} to {ws}"),
                format!("lowered from {ws} to {ns}"),
            ),
            End::Upper => self.fail(
                &place,
                format!("lowered from {ns} to {ws}"),
                format!("raised from {ws} to {ns}"),
            ),
        }
    }

    fn multiple_of(&mut self, wide: Schema<'a>, narrow: Schema<'a>, at: &str, integers_only: bool) {
        let Some(w) = wide.get("multipleOf").and_then(num::positive) else { return };
        let n = narrow.get("multipleOf").and_then(num::positive);
        let divides = |value: &Number| num::is_multiple(value, w) == Some(true);
        if n.is_some_and(divides) || (integers_only && divides(&Number::from(1))) {
            return;
        }
        let place = format!("{at}/multipleOf");
        match n {
            Some(n) => self.changed(&place, &w.to_string(), &n.to_string()),
            None => self.fail(&place, format!("added as {w}"), format!("removed, was {w}")),
        }
    }

    pub(super) fn strings(&mut self, wide: Schema<'a>, narrow: Schema<'a>, at: &str) {
        self.counts(wide, narrow, at, "minLength", "maxLength");
        self.text_keyword(wide, narrow, at, "pattern");
    }

    /// A pair of count bounds (`minLength`/`maxLength`, ...): may only loosen.
    pub(super) fn counts(
        &mut self,
        wide: Schema<'a>,
        narrow: Schema<'a>,
        at: &str,
        min: &str,
        max: &str,
    ) {
        let read = |schema: Schema<'a>, keyword| schema.get(keyword).and_then(num::count);
        if let Some(w) = read(wide, min) {
            let n = read(narrow, min).unwrap_or(0);
            if w > n {
                let place = format!("{at}/{min}");
                self.fail(
                    &place,
                    format!("raised from {n} to {w}"),
                    format!("lowered from {w} to {n}"),
                );
            }
        }
        if let Some(w) = read(wide, max) {
            let place = format!("{at}/{max}");
            match read(narrow, max) {
                Some(n) if n <= w => {}
                Some(n) => self.fail(
                    &place,
                    format!("lowered from {n} to {w}"),
                    format!("raised from {w} to {n}"),
                ),
                None => self.fail(&place, format!("added as {w}"), format!("removed, was {w}")),
            }
        }
    }
}
