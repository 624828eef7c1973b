//! Regular expressions of `pattern` and `patternProperties`. Whether one
//! matches a given text is decided by the validator's own engine, so the
//! checker agrees with the Onramp exactly; which names a whole pattern may
//! match is only reasoned about for patterns built around a literal.

use std::cell::RefCell;
use std::collections::HashMap;

use jsonschema::Validator;
use serde_json::{Map, Value, json};

/// Distinct patterns remembered per thread before the cache starts afresh.
const CACHED: usize = 512;

thread_local! {
    static COMPILED: RefCell<HashMap<String, Option<Validator>>> = RefCell::new(HashMap::new());
}

/// Whether `pattern` matches somewhere in `text`; `None` when the validator
/// cannot compile it (the schema would not register then).
pub(super) fn matches(pattern: &str, text: &str) -> Option<bool> {
    COMPILED.with(|cell| {
        let mut cache = cell.borrow_mut();
        if cache.len() >= CACHED && !cache.contains_key(pattern) {
            cache.clear();
        }
        let validator = cache.entry(pattern.to_owned()).or_insert_with(|| {
            // The same path a `patternProperties` key takes in the validator:
            // a name it matches meets `false` and is refused.
            jsonschema::validator_for(&json!({ "patternProperties": { pattern: false } })).ok()
        });
        let mut probe = Map::new();
        probe.insert(text.to_owned(), Value::Null);
        validator.as_ref().map(|v| !v.is_valid(&Value::Object(probe)))
    })
}

/// What is known of the names a pattern matches: a literal that they start
/// with (when anchored by `^`), end with (when anchored by `$`), or contain.
#[derive(Debug, Default)]
struct Shape {
    /// Every match starts with this (the pattern starts with `^`).
    prefix: Option<String>,
    /// Every match ends with this (the pattern ends with an unescaped `$`).
    suffix: Option<String>,
    /// The pattern is exactly `^literal$`: it matches this one text.
    exact: Option<String>,
    /// The pattern is a bare literal: it matches the texts containing it.
    contains: Option<String>,
}

const META: &str = "\\.^$|?*+()[]{}";

fn shape(pattern: &str) -> Shape {
    // An alternation can escape any anchor or literal, and a group such as
    // `(?i)` can change what a literal matches: then nothing is known.
    if pattern.contains('|') || pattern.contains("(?") {
        return Shape::default();
    }
    let anchored_start = pattern.starts_with('^');
    let body = pattern.strip_prefix('^').unwrap_or(pattern);
    let anchored_end = body.ends_with('$') && !escaped_at(body, body.len() - 1);
    let body_no_end = if anchored_end { &body[..body.len() - 1] } else { body };
    let literal = !body_no_end.contains(|c| META.contains(c));
    let mut found = Shape::default();
    if literal {
        match (anchored_start, anchored_end) {
            (true, true) => found.exact = Some(body_no_end.to_owned()),
            (false, false) => found.contains = Some(body_no_end.to_owned()),
            _ => {}
        }
    }
    if anchored_start {
        found.prefix = Some(leading_literal(body_no_end));
    }
    if anchored_end {
        found.suffix = Some(trailing_literal(body_no_end));
    }
    found
}

fn escaped_at(text: &str, at: usize) -> bool {
    text[..at].chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// The literal run at the start of `body`, less a last character that a
/// following quantifier makes optional or repeatable.
fn leading_literal(body: &str) -> String {
    let end = body.find(|c| META.contains(c)).unwrap_or(body.len());
    let mut run = body[..end].to_owned();
    if body[end..].starts_with(|c| "?*+{".contains(c)) {
        run.pop();
    }
    run
}

/// The literal run at the end of `body` (no quantifier can follow it).
fn trailing_literal(body: &str) -> String {
    let start = body.rfind(|c| META.contains(c)).map_or(0, |i| i + 1);
    let mut run: String = body[start..].to_owned();
    if start > 0 && escaped_at(body, start) {
        // The run's first character is escaped (`\d`), so not a literal.
        run = run.chars().skip(1).collect();
    }
    run
}

/// Whether every text `inner` matches is also matched by `outer`. False when
/// that cannot be shown.
pub(super) fn covers(outer: &str, inner: &str) -> bool {
    if outer == inner {
        return true;
    }
    let (o, i) = (shape(outer), shape(inner));
    if let Some(text) = &i.exact {
        return matches(outer, text) == Some(true);
    }
    if o.exact.is_some() {
        return false;
    }
    if let Some(lit) = &o.contains {
        // Any text that must contain (or start or end with) a run that
        // contains the literal also contains it.
        return [&i.contains, &i.prefix, &i.suffix]
            .iter()
            .any(|run| run.as_ref().is_some_and(|run| run.contains(lit.as_str())));
    }
    let literal_start = o.prefix.as_ref().filter(|_| o.suffix.is_none() && literal_head(outer));
    if let Some(lit) = literal_start {
        return i.prefix.as_ref().is_some_and(|run| run.starts_with(lit.as_str()));
    }
    let literal_end = o.suffix.as_ref().filter(|_| o.prefix.is_none() && literal_tail(outer));
    if let Some(lit) = literal_end {
        return i.suffix.as_ref().is_some_and(|run| run.ends_with(lit.as_str()));
    }
    false
}

/// `^literal` with nothing after the literal.
fn literal_head(pattern: &str) -> bool {
    pattern.strip_prefix('^').is_some_and(|rest| !rest.contains(|c| META.contains(c)))
}

/// `literal$` with nothing before the literal.
fn literal_tail(pattern: &str) -> bool {
    pattern
        .strip_suffix('$')
        .is_some_and(|rest| !rest.contains(|c| META.contains(c)) && !rest.ends_with('\\'))
}

/// The one text a pattern matches, when it is `^literal$`.
pub(super) fn exact(pattern: &str) -> Option<String> {
    shape(pattern).exact
}

/// Whether `pattern` matches every text (an empty literal, anchored or not).
pub(super) fn matches_all(pattern: &str) -> bool {
    pattern.is_empty() || pattern == "^"
}

/// Whether no text is matched by both patterns. False when that cannot be shown.
pub(super) fn disjoint(a: &str, b: &str) -> bool {
    let (sa, sb) = (shape(a), shape(b));
    if let Some(text) = &sa.exact {
        return matches(b, text) == Some(false);
    }
    if let Some(text) = &sb.exact {
        return matches(a, text) == Some(false);
    }
    let apart = |x: &Option<String>, y: &Option<String>, prefix: bool| match (x, y) {
        (Some(x), Some(y)) if prefix => !x.starts_with(y.as_str()) && !y.starts_with(x.as_str()),
        (Some(x), Some(y)) => !x.ends_with(y.as_str()) && !y.ends_with(x.as_str()),
        _ => false,
    };
    apart(&sa.prefix, &sb.prefix, true) || apart(&sa.suffix, &sb.suffix, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_uses_the_validator() {
        assert_eq!(matches("^x-", "x-a"), Some(true));
        assert_eq!(matches("^x-", "a-x-"), Some(false));
        assert_eq!(matches("id$", "user_id"), Some(true));
        assert_eq!(matches("\\d", "a1"), Some(true));
        assert_eq!(matches("(", "a"), None);
    }

    #[test]
    fn literal_shapes() {
        assert!(covers("^x-", "^x-a"));
        assert!(covers("^x-", "^x-[a-z]+$"));
        assert!(covers("^x-", "^x-a$"));
        assert!(!covers("^x-a", "^x-"));
        assert!(!covers("^x-", "^x?-"));
        assert!(covers("id", "_id$"));
        assert!(covers("_id$", "^[a-z]+_id$"));
        assert!(!covers("abc$", "(?i)abc$"));
        assert!(!covers("^a", "a"));
        assert!(!covers("^a|b", "^a"));
        assert!(disjoint("^x-", "^y-"));
        assert!(!disjoint("^x-", "^x-a"));
        assert!(disjoint("_id$", "_at$"));
        assert!(disjoint("^a$", "^b"));
        assert!(!disjoint("a", "b"));
        assert!(matches_all(""));
    }
}
