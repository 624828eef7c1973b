//! Schema pairs for the soundness search: random schemas over a few names,
//! patterns and values, and mutations of them like the changes users make.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

pub(super) const NAMES: [&str; 6] = ["a", "b", "c", "x-a", "x-b", "y"];
const PATTERNS: [&str; 5] = ["^x-", "^x-a$", "a", "^y", "b$"];
pub(super) const TYPES: [&str; 7] =
    ["null", "boolean", "object", "array", "string", "integer", "number"];

fn leaf_value() -> impl Strategy<Value = Value> {
    select(vec![
        json!(null),
        json!(true),
        json!(false),
        json!(0),
        json!(1),
        json!(-1),
        json!(2),
        json!(2.5),
        json!(10),
        json!(""),
        json!("a"),
        json!("ab"),
        json!("x-a"),
        json!("abc"),
    ])
}

fn object_of(entries: std::collections::BTreeMap<&'static str, Value>) -> Value {
    Value::Object(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// Documents: small values, arrays and objects over the same names.
fn doc() -> impl Strategy<Value = Value> {
    leaf_value().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(select(NAMES.to_vec()), inner, 0..4).prop_map(object_of),
        ]
    })
}

fn type_keyword() -> impl Strategy<Value = Value> {
    let one = select(TYPES.to_vec());
    prop_oneof![
        one.clone().prop_map(|t| json!(t)),
        (one.clone(), one).prop_filter_map("distinct", |(a, b)| (a != b).then(|| json!([a, b]))),
    ]
}

fn count() -> impl Strategy<Value = Value> {
    (0u8..4).prop_map(|n| json!(n))
}

fn number() -> impl Strategy<Value = Value> {
    select(vec![json!(-1), json!(0), json!(1), json!(2), json!(2.5), json!(10)])
}

fn leaf_schema() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(json!({})),
        4 => type_keyword().prop_map(|t| json!({ "type": t })),
        2 => leaf_value().prop_map(|v| json!({ "const": v })),
        2 => vec(leaf_value(), 0..4).prop_map(|v| json!({ "enum": v })),
        3 => (
            prop::option::of(select(vec!["number", "integer"])),
            prop::option::of(number()),
            prop::option::of(number()),
            prop::option::of(number()),
            prop::option::of(number()),
            prop::option::of(select(vec![json!(1), json!(2), json!(0.5)])),
        )
            .prop_map(|(t, min, max, xmin, xmax, mult)| {
                let mut m = Map::new();
                put(&mut m, "type", t.map(|t| json!(t)));
                put(&mut m, "minimum", min);
                put(&mut m, "maximum", max);
                put(&mut m, "exclusiveMinimum", xmin);
                put(&mut m, "exclusiveMaximum", xmax);
                put(&mut m, "multipleOf", mult);
                Value::Object(m)
            }),
        3 => (
            any::<bool>(),
            prop::option::of(count()),
            prop::option::of(count()),
            prop::option::of(select(PATTERNS.to_vec())),
        )
            .prop_map(|(typed, min, max, pattern)| {
                let mut m = Map::new();
                put(&mut m, "type", typed.then(|| json!("string")));
                put(&mut m, "minLength", min);
                put(&mut m, "maxLength", max);
                put(&mut m, "pattern", pattern.map(|p| json!(p)));
                Value::Object(m)
            }),
    ]
}

fn put(m: &mut Map<String, Value>, keyword: &str, v: Option<Value>) {
    if let Some(v) = v {
        m.insert(keyword.to_owned(), v);
    }
}

fn sub_or_bool(inner: BoxedStrategy<Value>) -> impl Strategy<Value = Value> {
    prop_oneof![any::<bool>().prop_map(Value::Bool), inner]
}

fn object_schema(inner: BoxedStrategy<Value>) -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        btree_map(select(NAMES.to_vec()), inner.clone(), 0..4),
        prop::sample::subsequence(NAMES.to_vec(), 0..3),
        // Closed models most often: they are where removals and patterns matter.
        prop_oneof![
            3 => Just(None),
            4 => Just(Some(json!(false))),
            1 => Just(Some(json!(true))),
            2 => inner.clone().prop_map(Some),
        ],
        prop::option::weighted(0.4, btree_map(select(PATTERNS.to_vec()), inner.clone(), 1..3)),
        prop::option::weighted(0.2, sub_or_bool(inner)),
        prop::option::weighted(0.2, count()),
        prop::option::weighted(0.2, count()),
    )
        .prop_map(|(typed, props, required, rest, patterns, unevaluated, min, max)| {
            let mut m = Map::new();
            put(&mut m, "type", typed.then(|| json!("object")));
            if !props.is_empty() {
                m.insert("properties".to_owned(), object_of(props));
            }
            if !required.is_empty() {
                m.insert("required".to_owned(), json!(required));
            }
            put(&mut m, "additionalProperties", rest);
            put(&mut m, "patternProperties", patterns.map(object_of));
            put(&mut m, "unevaluatedProperties", unevaluated);
            put(&mut m, "minProperties", min);
            put(&mut m, "maxProperties", max);
            Value::Object(m)
        })
}

fn array_schema(inner: BoxedStrategy<Value>) -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        prop::option::of(sub_or_bool(inner.clone())),
        prop::option::weighted(0.3, vec(inner.clone(), 1..3)),
        prop::option::weighted(0.4, inner.clone()),
        prop::option::weighted(0.3, count()),
        prop::option::weighted(0.3, count()),
        (prop::option::weighted(0.3, count()), prop::option::weighted(0.3, count())),
        prop::option::weighted(0.2, any::<bool>()),
        prop::option::weighted(0.2, sub_or_bool(inner)),
    )
        .prop_map(
            |(typed, items, prefix, contains, min_c, max_c, (min, max), unique, unevaluated)| {
                let mut m = Map::new();
                put(&mut m, "type", typed.then(|| json!("array")));
                put(&mut m, "items", items);
                put(&mut m, "prefixItems", prefix.map(Value::Array));
                put(&mut m, "contains", contains);
                put(&mut m, "minContains", min_c);
                put(&mut m, "maxContains", max_c);
                put(&mut m, "minItems", min);
                put(&mut m, "maxItems", max);
                put(&mut m, "uniqueItems", unique.map(Value::Bool));
                put(&mut m, "unevaluatedItems", unevaluated);
                Value::Object(m)
            },
        )
}

fn combinator(inner: BoxedStrategy<Value>) -> impl Strategy<Value = Value> {
    let branches = vec(inner.clone(), 1..4);
    (
        select(vec!["anyOf", "oneOf", "allOf", "not"]),
        branches,
        prop::option::weighted(0.3, type_keyword()),
        // Beside applicators, the unevaluated keywords depend on them.
        prop::option::weighted(0.3, btree_map(select(NAMES.to_vec()), inner.clone(), 1..3)),
        prop::option::weighted(0.3, sub_or_bool(inner.clone())),
        prop::option::weighted(0.15, sub_or_bool(inner)),
    )
        .prop_map(|(keyword, branches, typed, props, unevaluated, unevaluated_items)| {
            let mut m = Map::new();
            put(&mut m, "type", typed);
            let value = if keyword == "not" { branches[0].clone() } else { Value::Array(branches) };
            m.insert(keyword.to_owned(), value);
            put(&mut m, "properties", props.map(object_of));
            put(&mut m, "unevaluatedProperties", unevaluated);
            put(&mut m, "unevaluatedItems", unevaluated_items);
            Value::Object(m)
        })
}

/// A model built from parts, sealed by `unevaluatedProperties`.
fn composed(inner: BoxedStrategy<Value>) -> impl Strategy<Value = Value> {
    (
        select(vec!["allOf", "anyOf", "oneOf"]),
        vec(object_schema(inner.clone()), 1..3),
        btree_map(select(NAMES.to_vec()), inner.clone(), 0..3),
        sub_or_bool(inner),
    )
        .prop_map(|(keyword, parts, props, rest)| {
            let mut m = Map::new();
            m.insert("type".to_owned(), json!("object"));
            m.insert(keyword.to_owned(), Value::Array(parts));
            if !props.is_empty() {
                m.insert("properties".to_owned(), object_of(props));
            }
            m.insert("unevaluatedProperties".to_owned(), rest);
            Value::Object(m)
        })
}

fn schema() -> BoxedStrategy<Value> {
    leaf_schema()
        .prop_recursive(3, 40, 4, |inner| {
            prop_oneof![
                3 => object_schema(inner.clone()),
                2 => array_schema(inner.clone()),
                2 => combinator(inner.clone()),
                2 => composed(inner),
            ]
        })
        .boxed()
}

/// A change made to one subschema.
#[derive(Clone, Debug)]
enum Op {
    NullableOneOf,
    NullableAnyOf,
    AddBranch(Value),
    Replace(Value),
    Set(&'static str, Value),
    Remove(usize),
    PropertyToPattern(usize, &'static str),
    /// Adds an entry to `properties` or `patternProperties`.
    /// With `Some(i)`, the name is the i-th one any part of the schema uses.
    Entry(&'static str, &'static str, Option<usize>, Value),
    DoubleNot,
    /// `s` becomes `{"allOf": [s], "unevaluatedProperties": false}`.
    Compose,
}

fn reuse() -> impl Strategy<Value = Option<usize>> {
    prop::option::of(any::<usize>())
}

fn op() -> impl Strategy<Value = Op> {
    let keyword = select(vec![
        "not",
        "contains",
        "additionalProperties",
        "unevaluatedProperties",
        "unevaluatedItems",
        "items",
        "if",
        "then",
    ]);
    prop_oneof![
        3 => Just(Op::NullableOneOf),
        1 => Just(Op::NullableAnyOf),
        3 => leaf_schema().prop_map(Op::AddBranch),
        2 => schema().prop_map(Op::Replace),
        2 => (keyword, leaf_schema()).prop_map(|(k, v)| Op::Set(k, v)),
        2 => Just(Op::Set("additionalProperties", json!(false))),
        2 => Just(Op::Set("unevaluatedProperties", json!(false))),
        2 => count().prop_map(|n| Op::Set("minContains", n)),
        1 => count().prop_map(|n| Op::Set("maxContains", n)),
        1 => count().prop_map(|n| Op::Set("maxLength", n)),
        1 => number().prop_map(|n| Op::Set("minimum", n)),
        1 => type_keyword().prop_map(|t| Op::Set("type", t)),
        1 => select(NAMES.to_vec()).prop_map(|n| Op::Set("required", json!([n]))),
        3 => (0usize..8).prop_map(Op::Remove),
        3 => ((0usize..4), select(PATTERNS.to_vec())).prop_map(|(i, p)| Op::PropertyToPattern(i, p)),
        2 => (select(NAMES.to_vec()), reuse())
            .prop_map(|(n, r)| Op::Entry("properties", n, r, json!(false))),
        3 => (select(NAMES.to_vec()), reuse(), leaf_schema())
            .prop_map(|(n, r, s)| Op::Entry("properties", n, r, s)),
        4 => (select(PATTERNS.to_vec()), reuse(), leaf_schema())
            .prop_map(|(p, r, s)| Op::Entry("patternProperties", p, r, s)),
        1 => Just(Op::DoubleNot),
        2 => Just(Op::Compose),
        2 => (select(vec!["allOf", "anyOf", "oneOf"]), vec(leaf_schema(), 1..3))
            .prop_map(|(k, v)| Op::Set(k, Value::Array(v))),
    ]
}

/// Pointers to every subschema, the root included.
fn subschemas(root: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![(String::new(), root)];
    while let Some((at, v)) = pending.pop() {
        let Some(m) = v.as_object() else {
            found.push(at);
            continue;
        };
        for (k, child) in m {
            let place = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
            match (k.as_str(), child) {
                ("properties" | "patternProperties" | "$defs", Value::Object(c)) => {
                    for (name, s) in c {
                        let name = name.replace('~', "~0").replace('/', "~1");
                        pending.push((format!("{place}/{name}"), s));
                    }
                }
                ("anyOf" | "oneOf" | "allOf" | "prefixItems", Value::Array(list)) => {
                    for (i, s) in list.iter().enumerate() {
                        pending.push((format!("{place}/{i}"), s));
                    }
                }
                (
                    "not"
                    | "items"
                    | "contains"
                    | "additionalProperties"
                    | "unevaluatedProperties"
                    | "unevaluatedItems",
                    s,
                ) => pending.push((place, s)),
                _ => {}
            }
        }
        found.push(at);
    }
    found.sort();
    found
}

/// Every key of `keyword` maps anywhere in the schema.
fn used(root: &Value, keyword: &str) -> Vec<String> {
    let mut found = Vec::new();
    for place in subschemas(root) {
        let names = root.pointer(&place).and_then(|s| s.get(keyword)).and_then(Value::as_object);
        found.extend(names.into_iter().flat_map(Map::keys).cloned());
    }
    found.sort();
    found.dedup();
    found
}

fn apply(root: &mut Value, at: usize, op: &Op) {
    let mut places = subschemas(root);
    // Entries go to object models when there are any.
    if matches!(op, Op::Entry(..) | Op::PropertyToPattern(..)) {
        let models: Vec<String> = places
            .iter()
            .filter(|p| {
                root.pointer(p).and_then(Value::as_object).is_some_and(|m| {
                    m.contains_key("properties") || m.contains_key("patternProperties")
                })
            })
            .cloned()
            .collect();
        if !models.is_empty() {
            places = models;
        }
    }
    let name = match op {
        Op::Entry(keyword, name, reuse, _) => {
            let known = used(root, keyword);
            reuse
                .filter(|_| !known.is_empty())
                .map_or_else(|| (*name).to_owned(), |i| known[i % known.len()].clone())
        }
        _ => String::new(),
    };
    let place = &places[at % places.len()];
    let Some(node) = root.pointer_mut(place) else { return };
    let old = node.take();
    *node = match (op, old) {
        (Op::NullableOneOf, s) => json!({ "oneOf": [{ "type": "null" }, s] }),
        (Op::NullableAnyOf, s) => json!({ "anyOf": [{ "type": "null" }, s] }),
        (Op::AddBranch(b), Value::Object(mut m)) if m.get("oneOf").is_some_and(Value::is_array) => {
            if let Some(Value::Array(list)) = m.get_mut("oneOf") {
                list.push(b.clone());
            }
            Value::Object(m)
        }
        (Op::AddBranch(b), s) => json!({ "oneOf": [s, b] }),
        (Op::Replace(s), _) => s.clone(),
        (Op::Set(k, v), Value::Object(mut m)) => {
            m.insert((*k).to_owned(), v.clone());
            Value::Object(m)
        }
        (Op::Set(k, v), Value::Bool(true)) => {
            let mut m = Map::new();
            m.insert((*k).to_owned(), v.clone());
            Value::Object(m)
        }
        (Op::Remove(i), Value::Object(mut m)) => {
            if let Some(k) = m.keys().nth(*i % m.len().max(1)).cloned() {
                m.remove(&k);
            }
            Value::Object(m)
        }
        (Op::PropertyToPattern(i, pattern), Value::Object(mut m)) => {
            let props = m.get_mut("properties").and_then(Value::as_object_mut);
            let moved = props.and_then(|p| {
                let name = p.keys().nth(*i % p.len().max(1))?.clone();
                p.remove(&name)
            });
            if let Some(s) = moved {
                let patterns = m.entry("patternProperties").or_insert_with(|| json!({}));
                if let Some(p) = patterns.as_object_mut() {
                    p.insert((*pattern).to_owned(), s);
                }
            }
            Value::Object(m)
        }
        (Op::Entry(keyword, _, _, schema), Value::Object(mut m)) => {
            let entries = m.entry(*keyword).or_insert_with(|| json!({}));
            if let Some(p) = entries.as_object_mut() {
                p.insert(name, schema.clone());
            }
            Value::Object(m)
        }
        (Op::DoubleNot, s) => json!({ "not": { "not": s } }),
        (Op::Compose, s) => json!({ "allOf": [s], "unevaluatedProperties": false }),
        (_, s) => s,
    };
}

#[derive(Debug, Clone)]
pub(super) struct Pair {
    pub(super) old: Value,
    pub(super) new: Value,
    /// Random documents; the search adds ones sampled from both schemas.
    pub(super) docs: Vec<Value>,
    /// Seeds the sampling.
    pub(super) seed: u64,
}

fn dialect() -> impl Strategy<Value = Option<&'static str>> {
    prop::option::weighted(
        0.15,
        select(vec![
            "https://json-schema.org/draft/2019-09/schema",
            "http://json-schema.org/draft-07/schema#",
        ]),
    )
}

/// A schema and a mutation of it (or now and then two unrelated schemas).
pub(super) fn pair() -> impl Strategy<Value = Pair> {
    // Shared changes first build structure both sides have (a composed
    // model, a pattern), then the new side alone changes.
    let ops = |n| vec((any::<usize>(), op()), n);
    let mutated = (schema(), ops(0..3), ops(1..4)).prop_map(|(base, shared, own)| {
        let mut old = base;
        for (at, op) in &shared {
            apply(&mut old, *at, op);
        }
        let mut new = old.clone();
        for (at, op) in &own {
            apply(&mut new, *at, op);
        }
        (old, new)
    });
    let independent = (schema(), schema());
    // Sometimes a property goes through a reference, whose definition may change.
    let definitions = prop::option::weighted(0.2, (leaf_schema(), leaf_schema(), any::<bool>()));
    (
        prop_oneof![5 => mutated, 1 => independent],
        dialect(),
        definitions,
        vec(doc(), 0..12),
        any::<u64>(),
    )
        .prop_map(|((old, new), dialect, defs, docs, seed)| {
            let dress = |mut s: Value, def: Option<&Value>| {
                if let (Some(def), Some(m)) = (def, s.as_object_mut()) {
                    m.insert("$defs".to_owned(), json!({ "d": def }));
                    let props = m.entry("properties").or_insert_with(|| json!({}));
                    if let Some(p) = props.as_object_mut() {
                        p.insert("r".to_owned(), json!({ "$ref": "#/$defs/d" }));
                    }
                }
                if let (Some(d), Some(m)) = (dialect, s.as_object_mut()) {
                    m.insert("$schema".to_owned(), json!(d));
                }
                s
            };
            let (old_def, new_def) = match &defs {
                Some((a, b, same)) => (Some(a), Some(if *same { a } else { b })),
                None => (None, None),
            };
            Pair { old: dress(old, old_def), new: dress(new, new_def), docs, seed }
        })
}
