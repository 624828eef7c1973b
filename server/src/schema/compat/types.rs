//! `type`, `enum`/`const`, and the textual keywords `pattern` and `format`.

use serde_json::Value;

use super::checker::{Checker, Side, TRUE};
use super::eval::Verdict;
use super::schema::Schema;
use super::value::{self, BOOL, NULL};

static FALSE: Value = Value::Bool(false);
static NULL_VALUE: Value = Value::Null;

impl<'a> Checker<'a> {
    /// Compares `type` for the narrow documents of kinds `within`; returns
    /// the kinds both schemas can hold.
    pub(super) fn types(
        &mut self,
        wide: Schema<'a>,
        narrow: Schema<'a>,
        at: &str,
        within: u8,
    ) -> u8 {
        // A malformed `type` was reported already: assume every kind is in play.
        let (Some(wide_kinds), Some(mut narrow_kinds)) =
            (value::type_kinds(wide.raw("type")), value::type_kinds(narrow.raw("type")))
        else {
            return within;
        };
        narrow_kinds &= within;
        if let Some(values) = self.listed_values(narrow) {
            narrow_kinds &= values.iter().fold(0, |acc, v| acc | value::kind_of(v));
        }
        let missing = narrow_kinds & !wide_kinds;
        let place = format!("{at}/type");
        if missing == NULL {
            self.fail(&place, "null no longer allowed", "null now allowed");
        } else if missing != 0 {
            let w = value::render_type(wide.raw("type"));
            let n = value::render_type(narrow.raw("type"));
            if wide_kinds & !narrow_kinds == 0 {
                self.fail(
                    &place,
                    format!("narrowed from {n} to {w}"),
                    format!("widened from {w} to {n}"),
                );
            } else {
                // Neither contains the other: some values lost, others gained.
                self.changed(&place, &w, &n);
            }
        }
        wide_kinds & narrow_kinds
    }

    /// The values a schema lists through `const` or `enum`.
    pub(super) fn listed_values(&self, schema: Schema<'a>) -> Option<Vec<&'a Value>> {
        match (schema.get("const"), schema.get("enum")) {
            (Some(c), _) => Some(vec![c]),
            (None, Some(Value::Array(list))) => Some(list.iter().collect()),
            _ => None,
        }
    }

    /// The only values the narrow schema can take, when they are few and known.
    fn narrow_values(&self, narrow: Schema<'a>) -> Option<Vec<&'a Value>> {
        if let Some(values) = self.listed_values(narrow) {
            return Some(values);
        }
        let kinds = value::type_kinds(narrow.get("type"))?;
        if kinds & !(NULL | BOOL) != 0 {
            return None;
        }
        let mut values = Vec::new();
        if kinds & NULL != 0 {
            values.push(&NULL_VALUE);
        }
        if kinds & BOOL != 0 {
            values.extend([&TRUE, &FALSE]);
        }
        Some(values)
    }

    /// `enum` and `const` on the wide side.
    pub(super) fn values(&mut self, wide: Schema<'a>, narrow: Schema<'a>, at: &str) {
        for keyword in ["enum", "const"] {
            let allowed: Vec<&Value> = match wide.get(keyword) {
                None => continue,
                Some(Value::Array(list)) if keyword == "enum" => list.iter().collect(),
                Some(v) => vec![v],
            };
            let place = format!("{at}/{keyword}");
            let Some(values) = self.narrow_values(narrow) else {
                self.fail(
                    &place,
                    "restricts values that were unrestricted",
                    "no longer restricts values",
                );
                continue;
            };
            let mut missing = Vec::new();
            for v in values {
                if !allowed.iter().any(|a| value::json_eq(a, v))
                    && !matches!(self.eval(Side::Narrow, narrow.value, v, 0), Verdict::Reject(_))
                {
                    missing.push(v);
                }
            }
            if !missing.is_empty() {
                let shown = value::render_list(&missing);
                self.fail(
                    &place,
                    format!("no longer allows {shown}"),
                    format!("now allows {shown}"),
                );
            }
        }
    }

    /// `pattern` and `format`: kept, dropped, or refused.
    pub(super) fn text_keyword(
        &mut self,
        wide: Schema<'a>,
        narrow: Schema<'a>,
        at: &str,
        keyword: &str,
    ) {
        let Some(w) = wide.get(keyword) else { return };
        let place = format!("{at}/{keyword}");
        match narrow.get(keyword) {
            Some(n) if value::json_eq(w, n) => {}
            Some(n) => self.changed(&place, &value::render(w), &value::render(n)),
            None => {
                let shown = value::render(w);
                self.fail(&place, format!("added as {shown}"), format!("removed, was {shown}"));
            }
        }
    }
}
