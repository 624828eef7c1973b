//! Three-valued validation of one document against one schema, used where a
//! schema lists its values (`enum`, `const`): each value can then be tried.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::checker::{Checker, Side};
use super::num::{self, N};
use super::objects::IN_PLACE;
use super::patterns;
use super::refs::REF_KEYWORDS;
use super::value::{self, esc, is_annotation};

/// Nesting allowed while validating one value.
const MAX_DEPTH: usize = 48;

const OBJECT_KEYWORDS: &[&str] = &[
    "properties",
    "patternProperties",
    "additionalProperties",
    "required",
    "propertyNames",
    "minProperties",
    "maxProperties",
    "dependentRequired",
    "dependentSchemas",
    "dependencies",
    "unevaluatedProperties",
];

const ARRAY_KEYWORDS: &[&str] = &[
    "items",
    "prefixItems",
    "additionalItems",
    "contains",
    "minContains",
    "maxContains",
    "minItems",
    "maxItems",
    "uniqueItems",
    "unevaluatedItems",
];

pub(super) enum Verdict {
    Accept,
    /// Refused, with the pointer (relative to the schema) of the keyword that refused.
    Reject(String),
    /// Depends on something this checker cannot evaluate (e.g. `pattern`).
    Unknown,
}

use Verdict::{Accept, Reject, Unknown};

fn check(ok: bool, place: &str) -> Verdict {
    if ok { Accept } else { Reject(place.to_owned()) }
}

fn nested(verdict: Verdict, prefix: &str) -> Verdict {
    match verdict {
        Reject(place) => Reject(format!("{prefix}{place}")),
        other => other,
    }
}

/// Conjunction: a refusal wins, then doubt.
fn and(a: Verdict, b: Verdict) -> Verdict {
    match (a, b) {
        (Reject(p), _) | (_, Reject(p)) => Reject(p),
        (Unknown, _) | (_, Unknown) => Unknown,
        _ => Accept,
    }
}

impl<'a> Checker<'a> {
    pub(super) fn eval(
        &mut self,
        side: Side,
        schema: &'a Value,
        v: &Value,
        depth: usize,
    ) -> Verdict {
        if depth > MAX_DEPTH || self.tick() {
            return Unknown;
        }
        let map = match schema {
            Value::Bool(true) => return Accept,
            Value::Bool(false) => return Reject(String::new()),
            Value::Object(map) => map,
            _ => return Unknown,
        };
        let dialect = self.root(side).dialect;
        if dialect.ref_overrides() && map.contains_key("$ref") {
            return self.eval_keyword(side, map, "$ref", v, depth);
        }
        let mut verdict = Accept;
        for keyword in map.keys() {
            if is_annotation(keyword) || matches!(keyword.as_str(), "then" | "else") {
                continue;
            }
            let result = if dialect.lacks(keyword) {
                Unknown
            } else {
                self.eval_keyword(side, map, keyword, v, depth)
            };
            verdict = and(verdict, result);
            if matches!(verdict, Reject(_)) {
                break;
            }
        }
        verdict
    }

    fn eval_keyword(
        &mut self,
        side: Side,
        map: &'a Map<String, Value>,
        keyword: &str,
        v: &Value,
        depth: usize,
    ) -> Verdict {
        let Some(arg) = map.get(keyword) else { return Accept };
        let place = format!("/{}", esc(keyword));
        match keyword {
            "type" => match value::type_kinds(Some(arg)) {
                Some(kinds) => check(value::kind_of(v) & kinds != 0, &place),
                None => Unknown,
            },
            "enum" => match arg.as_array() {
                Some(list) => check(list.iter().any(|a| value::json_eq(a, v)), &place),
                None => Unknown,
            },
            "const" => check(value::json_eq(arg, v), &place),
            "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" | "multipleOf" => {
                let Some(n) = v.as_number() else { return Accept };
                number(keyword, arg, n, &place)
            }
            "minLength" | "maxLength" => {
                let Some(s) = v.as_str() else { return Accept };
                let Some(limit) = num::count(arg) else { return Unknown };
                let len = s.chars().count() as u64;
                check(if keyword == "minLength" { len >= limit } else { len <= limit }, &place)
            }
            "pattern" => match (v.as_str(), arg.as_str()) {
                (None, _) => Accept,
                (Some(text), Some(pattern)) => match patterns::matches(pattern, text) {
                    Some(found) => check(found, &place),
                    None => Unknown,
                },
                (Some(_), None) => Unknown,
            },
            "format" => Unknown,
            "allOf" | "anyOf" | "oneOf" => {
                let Some(list) = arg.as_array() else { return Unknown };
                self.eval_list(side, keyword, list, v, depth)
            }
            "not" => match self.eval(side, arg, v, depth + 1) {
                Accept => Reject(place),
                Reject(_) => Accept,
                Unknown => Unknown,
            },
            "if" => self.eval_if(side, map, arg, v, depth),
            _ if REF_KEYWORDS.contains(&keyword) => {
                let target = arg.as_str().and_then(|text| self.root(side).resolve(keyword, text));
                match target.map(|t| self.eval(side, t, v, depth + 1)) {
                    Some(Reject(_)) => Reject(place),
                    Some(verdict) => verdict,
                    None => Unknown,
                }
            }
            _ if OBJECT_KEYWORDS.contains(&keyword) => match v.as_object() {
                Some(_) => self.eval_object(side, map, keyword, arg, v, depth),
                None => Accept,
            },
            _ if ARRAY_KEYWORDS.contains(&keyword) => match v.as_array() {
                Some(items) => self.eval_array(side, map, keyword, arg, items, depth),
                None => Accept,
            },
            _ => Unknown,
        }
    }

    fn eval_list(
        &mut self,
        side: Side,
        keyword: &str,
        list: &'a [Value],
        v: &Value,
        depth: usize,
    ) -> Verdict {
        let (mut accepted, mut unknown) = (0, 0);
        for (i, branch) in list.iter().enumerate() {
            match self.eval(side, branch, v, depth + 1) {
                Accept => accepted += 1,
                Unknown => unknown += 1,
                Reject(place) if keyword == "allOf" => return Reject(format!("/allOf/{i}{place}")),
                Reject(_) => {}
            }
        }
        let place = format!("/{keyword}");
        match keyword {
            "allOf" if unknown == 0 => Accept,
            "anyOf" if accepted > 0 => Accept,
            "anyOf" if unknown == 0 => Reject(place),
            "oneOf" if accepted > 1 => Reject(place),
            "oneOf" if unknown == 0 => check(accepted == 1, &place),
            _ => Unknown,
        }
    }

    fn eval_if(
        &mut self,
        side: Side,
        map: &'a Map<String, Value>,
        condition: &'a Value,
        v: &Value,
        depth: usize,
    ) -> Verdict {
        let branch = |checker: &mut Self, keyword: &str| match map.get(keyword) {
            Some(schema) => {
                nested(checker.eval(side, schema, v, depth + 1), &format!("/{keyword}"))
            }
            None => Accept,
        };
        match self.eval(side, condition, v, depth + 1) {
            Accept => branch(self, "then"),
            Reject(_) => branch(self, "else"),
            Unknown => match (branch(self, "then"), branch(self, "else")) {
                (Accept, Accept) => Accept,
                (Reject(place), Reject(_)) => Reject(place),
                _ => Unknown,
            },
        }
    }

    fn eval_object(
        &mut self,
        side: Side,
        map: &'a Map<String, Value>,
        keyword: &str,
        arg: &'a Value,
        v: &Value,
        depth: usize,
    ) -> Verdict {
        let Some(object) = v.as_object() else { return Accept };
        let place = format!("/{keyword}");
        match keyword {
            "properties" => {
                let Some(props) = arg.as_object() else { return Unknown };
                let mut verdict = Accept;
                for (name, schema) in props {
                    if let Some(item) = object.get(name) {
                        let result = self.eval(side, schema, item, depth + 1);
                        verdict =
                            and(verdict, nested(result, &format!("/properties/{}", esc(name))));
                    }
                }
                verdict
            }
            "patternProperties" => {
                let Some(by_pattern) = arg.as_object() else { return Unknown };
                let mut verdict = Accept;
                for (pattern, schema) in by_pattern {
                    for (name, item) in object {
                        let result = match patterns::matches(pattern, name) {
                            Some(true) => self.eval(side, schema, item, depth + 1),
                            Some(false) => Accept,
                            None => Unknown,
                        };
                        let at = format!("/patternProperties/{}", esc(pattern));
                        verdict = and(verdict, nested(result, &at));
                    }
                }
                verdict
            }
            "additionalProperties" => self.eval_rest(side, map, arg, object, &place, depth),
            // Without in-place applicators it applies where
            // additionalProperties would; beside that one, nowhere.
            "unevaluatedProperties" if map.contains_key("additionalProperties") => Accept,
            "unevaluatedProperties" if !IN_PLACE.iter().any(|k| map.contains_key(*k)) => {
                self.eval_rest(side, map, arg, object, &place, depth)
            }
            "required" => match arg.as_array() {
                Some(names) => check(
                    names.iter().all(|n| n.as_str().is_some_and(|n| object.contains_key(n))),
                    &place,
                ),
                None => Unknown,
            },
            "propertyNames" => {
                let mut verdict = Accept;
                for name in object.keys() {
                    let name = Value::String(name.clone());
                    verdict = and(verdict, nested(self.eval(side, arg, &name, depth + 1), &place));
                }
                verdict
            }
            "minProperties" | "maxProperties" => match num::count(arg) {
                Some(limit) => {
                    let len = object.len() as u64;
                    check(
                        if keyword == "minProperties" { len >= limit } else { len <= limit },
                        &place,
                    )
                }
                None => Unknown,
            },
            "dependentRequired" | "dependentSchemas" | "dependencies" => {
                let Some(deps) = arg.as_object() else { return Unknown };
                let mut verdict = Accept;
                for (name, dependency) in deps.iter().filter(|(n, _)| object.contains_key(*n)) {
                    let place = format!("{place}/{}", esc(name));
                    let result = match dependency {
                        Value::Array(names) if keyword != "dependentSchemas" => check(
                            names
                                .iter()
                                .all(|n| n.as_str().is_some_and(|n| object.contains_key(n))),
                            &place,
                        ),
                        schema if keyword != "dependentRequired" => {
                            nested(self.eval(side, schema, v, depth + 1), &place)
                        }
                        _ => Unknown,
                    };
                    verdict = and(verdict, result);
                }
                verdict
            }
            _ => Unknown,
        }
    }

    /// The properties a schema neither lists nor matches by pattern, against `rest`.
    fn eval_rest(
        &mut self,
        side: Side,
        map: &'a Map<String, Value>,
        rest: &'a Value,
        object: &Map<String, Value>,
        place: &str,
        depth: usize,
    ) -> Verdict {
        let listed = map.get("properties").and_then(Value::as_object);
        let by_pattern = map.get("patternProperties").and_then(Value::as_object);
        let mut verdict = Accept;
        for (name, item) in object {
            if listed.is_some_and(|l| l.contains_key(name)) {
                continue;
            }
            let mut matched = Some(false);
            for pattern in by_pattern.into_iter().flat_map(Map::keys) {
                match patterns::matches(pattern, name) {
                    Some(true) => matched = Some(true),
                    Some(false) => {}
                    None if matched == Some(false) => matched = None,
                    None => {}
                }
            }
            let result = match matched {
                Some(true) => Accept,
                Some(false) => nested(self.eval(side, rest, item, depth + 1), place),
                None => Unknown,
            };
            verdict = and(verdict, result);
        }
        verdict
    }

    fn eval_array(
        &mut self,
        side: Side,
        map: &'a Map<String, Value>,
        keyword: &str,
        arg: &'a Value,
        items: &[Value],
        depth: usize,
    ) -> Verdict {
        let place = format!("/{keyword}");
        let dialect = self.root(side).dialect;
        let tuple = dialect.tuple_items();
        let each = |checker: &mut Self, from: usize, schema: &'a Value, prefix: &str| {
            let mut verdict = Accept;
            for item in items.iter().skip(from) {
                verdict = and(verdict, nested(checker.eval(side, schema, item, depth + 1), prefix));
            }
            verdict
        };
        match keyword {
            "prefixItems" | "items" if arg.is_array() => {
                if keyword == "items" && !tuple {
                    return Unknown;
                }
                let Some(schemas) = arg.as_array() else { return Unknown };
                let mut verdict = Accept;
                for (i, (schema, item)) in schemas.iter().zip(items).enumerate() {
                    let result = self.eval(side, schema, item, depth + 1);
                    verdict = and(verdict, nested(result, &format!("{place}/{i}")));
                }
                verdict
            }
            "items" => {
                let skip = if tuple { 0 } else { prefix_len(map.get("prefixItems")) };
                each(self, skip, arg, &place)
            }
            "additionalItems" => match map.get("items") {
                Some(Value::Array(prefix)) => each(self, prefix.len(), arg, &place),
                _ => Accept,
            },
            "minItems" | "maxItems" => match num::count(arg) {
                Some(limit) => {
                    let len = items.len() as u64;
                    check(if keyword == "minItems" { len >= limit } else { len <= limit }, &place)
                }
                None => Unknown,
            },
            "uniqueItems" => match arg {
                Value::Bool(false) => Accept,
                Value::Bool(true) => {
                    let unique = items
                        .iter()
                        .enumerate()
                        .all(|(i, a)| items[i + 1..].iter().all(|b| !value::json_eq(a, b)));
                    check(unique, &place)
                }
                _ => Unknown,
            },
            "contains" => {
                let (mut matched, mut unknown) = (0u64, false);
                for item in items {
                    match self.eval(side, arg, item, depth + 1) {
                        Accept => matched += 1,
                        Unknown => unknown = true,
                        Reject(_) => {}
                    }
                }
                // Draft-07 has no minContains/maxContains: there they mean nothing.
                let read = |keyword| map.get(keyword).filter(|_| !dialect.lacks(keyword));
                let min = read("minContains").map_or(Some(1), num::count);
                let max = read("maxContains").map(num::count);
                match (min, max) {
                    _ if unknown => Unknown,
                    (Some(min), None) => check(matched >= min, &place),
                    (Some(min), Some(Some(max))) => check(matched >= min && matched <= max, &place),
                    _ => Unknown,
                }
            }
            "minContains" | "maxContains" => Accept,
            _ => Unknown,
        }
    }
}

fn prefix_len(prefix: Option<&Value>) -> usize {
    prefix.and_then(Value::as_array).map_or(0, Vec::len)
}

fn number(keyword: &str, arg: &Value, n: &serde_json::Number, place: &str) -> Verdict {
    if keyword == "multipleOf" {
        let Some(divisor) = num::positive(arg) else { return Unknown };
        return match num::is_multiple(n, divisor) {
            Some(ok) => check(ok, place),
            None => Unknown,
        };
    }
    let (Some(limit), Some(n)) = (N::of_value(arg), N::of(n)) else { return Unknown };
    let order = n.cmp(limit);
    let ok = match keyword {
        "minimum" => order != Ordering::Less,
        "maximum" => order != Ordering::Greater,
        "exclusiveMinimum" => order == Ordering::Greater,
        _ => order == Ordering::Less,
    };
    check(ok, place)
}
