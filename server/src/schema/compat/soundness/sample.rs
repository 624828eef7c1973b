//! Documents sampled from a schema, so that many are accepted by it.

use serde_json::{Map, Value, json};

use super::super::patterns;
use super::generate::{NAMES, TYPES};

const STRINGS: [&str; 8] = ["", "a", "b", "ab", "x-a", "abc", "yy", "x-"];

/// A tiny deterministic generator for sampling documents from schemas.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'v, T>(&mut self, list: &'v [T]) -> &'v T {
        &list[self.below(list.len())]
    }
}

/// A document likely (not certain) to be accepted by `schema`.
pub(super) fn sample(schema: &Value, root: &Value, rng: &mut Rng, depth: usize) -> Value {
    let leaves = [json!(null), json!(true), json!(0), json!(1), json!(2.5), json!("a"), json!([])];
    let Some(m) = schema.as_object() else { return rng.pick(&leaves).clone() };
    if depth > 4 {
        return rng.pick(&leaves).clone();
    }
    if let Some(c) = m.get("const").filter(|_| rng.chance(90)) {
        return c.clone();
    }
    if let Some(Value::Array(list)) = m.get("enum")
        && !list.is_empty()
        && rng.chance(90)
    {
        return rng.pick(list).clone();
    }
    if let Some(target) = m.get("$ref").and_then(Value::as_str).and_then(|r| root.pointer(&r[1..]))
    {
        return sample(target, root, rng, depth + 1);
    }
    for keyword in ["oneOf", "anyOf", "allOf"] {
        if let Some(Value::Array(list)) = m.get(keyword)
            && !list.is_empty()
            && rng.chance(70)
        {
            // One branch (every part of an allOf), then the schema's own properties.
            let parts: Vec<&Value> =
                if keyword == "allOf" { list.iter().collect() } else { vec![rng.pick(list)] };
            let mut found = sample(parts[0], root, rng, depth + 1);
            let own = sample_object(m, root, rng, depth);
            for part in &parts[1..] {
                merge(&mut found, sample(part, root, rng, depth + 1));
            }
            if found.is_object() && rng.chance(70) {
                merge(&mut found, own);
            }
            return found;
        }
    }
    let kinds: Vec<&str> = match m.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(l)) => l.iter().filter_map(Value::as_str).collect(),
        _ if m.contains_key("properties") || m.contains_key("required") => vec!["object"],
        _ if m.contains_key("items") || m.contains_key("contains") => vec!["array"],
        _ if m.contains_key("minLength") || m.contains_key("pattern") => vec!["string"],
        _ if m.contains_key("minimum") || m.contains_key("maximum") => vec!["number"],
        _ => TYPES.to_vec(),
    };
    let kind = if kinds.is_empty() { "null" } else { *rng.pick(&kinds) };
    match kind {
        "null" => json!(null),
        "boolean" => json!(rng.chance(50)),
        "integer" | "number" => sample_number(m, kind == "integer", rng),
        "string" => sample_string(m, rng),
        "array" => sample_array(m, root, rng, depth),
        _ => sample_object(m, root, rng, depth),
    }
}

/// Adds the properties of `more` to `into`, when both are objects.
fn merge(into: &mut Value, more: Value) {
    if let (Some(into), Value::Object(more)) = (into.as_object_mut(), more) {
        for (k, v) in more {
            into.entry(k).or_insert(v);
        }
    }
}

fn sample_number(m: &Map<String, Value>, integer: bool, rng: &mut Rng) -> Value {
    let mut candidates = vec![json!(0), json!(1), json!(-1), json!(2), json!(10)];
    if !integer {
        candidates.push(json!(2.5));
    }
    for k in ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] {
        if let Some(n) = m.get(k).and_then(Value::as_f64) {
            candidates.extend([json!(n), json!(n + 1.0), json!(n - 1.0)]);
            if !integer {
                candidates.push(json!(n + 0.5));
            }
        }
    }
    let n = rng.pick(&candidates).clone();
    if integer { n.as_f64().map_or(json!(0), |f| json!(f.floor() as i64)) } else { n }
}

fn sample_string(m: &Map<String, Value>, rng: &mut Rng) -> Value {
    let fits = |s: &&str| {
        let len = s.chars().count() as u64;
        m.get("minLength").and_then(Value::as_u64).is_none_or(|n| len >= n)
            && m.get("maxLength").and_then(Value::as_u64).is_none_or(|n| len <= n)
            && m.get("pattern")
                .and_then(Value::as_str)
                .is_none_or(|p| patterns::matches(p, s) == Some(true))
    };
    let good: Vec<&str> = STRINGS.iter().copied().filter(fits).collect();
    let list = if good.is_empty() || rng.chance(10) { STRINGS.to_vec() } else { good };
    json!(rng.pick(&list))
}

fn sample_array(m: &Map<String, Value>, root: &Value, rng: &mut Rng, depth: usize) -> Value {
    let mut items = Vec::new();
    if let Some(Value::Array(prefix)) = m.get("prefixItems") {
        for s in prefix {
            items.push(sample(s, root, rng, depth + 1));
        }
    }
    let rest = m.get("items").unwrap_or(&Value::Bool(true));
    for _ in 0..rng.below(3) {
        items.push(sample(rest, root, rng, depth + 1));
    }
    if let Some(c) = m.get("contains") {
        for _ in 0..rng.below(3) {
            let at = rng.below(items.len() + 1);
            items.insert(at, sample(c, root, rng, depth + 1));
        }
    }
    Value::Array(items)
}

fn sample_object(m: &Map<String, Value>, root: &Value, rng: &mut Rng, depth: usize) -> Value {
    let mut out = Map::new();
    let required: Vec<&str> = m
        .get("required")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(Value::Object(props)) = m.get("properties") {
        for (name, s) in props {
            if required.contains(&name.as_str()) || rng.chance(60) {
                out.insert(name.clone(), sample(s, root, rng, depth + 1));
            }
        }
    }
    if let Some(Value::Object(by_pattern)) = m.get("patternProperties") {
        for (pattern, s) in by_pattern {
            let names: Vec<&str> = NAMES
                .iter()
                .copied()
                .filter(|n| patterns::matches(pattern, n) == Some(true))
                .collect();
            if !names.is_empty() && rng.chance(60) {
                out.insert((*rng.pick(&names)).to_owned(), sample(s, root, rng, depth + 1));
            }
        }
    }
    for name in required {
        out.entry(name.to_owned()).or_insert_with(|| json!(1));
    }
    if rng.chance(30) {
        let rest = m.get("additionalProperties").unwrap_or(&Value::Bool(true));
        out.insert((*rng.pick(&NAMES)).to_owned(), sample(rest, root, rng, depth + 1));
    }
    Value::Object(out)
}
