//! The changes the checker proves beyond identical keywords (false
//! properties, `oneOf` branches, `not`, patterns, `unevaluated*`, `contains`
//! counts), each with both verdicts and the pointer and message expected.

use serde_json::{Value, json};

use super::CompatibilityMode as M;
use super::tests::{B, Case, DRAFT_07, F, case, chain, closed, mismatch, object};

fn nullable(schema: Value) -> Value {
    json!({ "oneOf": [{ "type": "null" }, schema] })
}

/// An object whose `kind` property tells the branches apart.
fn kind(value: &str, extra: Value) -> Value {
    let mut props = json!({ "kind": { "const": value } });
    if let (Some(p), Value::Object(extra)) = (props.as_object_mut(), extra) {
        p.extend(extra);
    }
    json!({ "properties": props, "required": ["kind"] })
}

fn tagged(branches: Vec<Value>) -> Value {
    json!({ "type": "object", "oneOf": branches })
}

const MAY_OVERLAP: &str = "cannot prove compatible: may match old documents that branch";

#[rustfmt::skip]
fn false_properties() -> Vec<Case> {
    vec![
        case("false property removed from a closed model", M::Backward,
            closed(json!({"a": {}, "b": false})), closed(json!({"a": {}})), &[]),
        case("false property removed from a closed model, forward", M::Forward,
            closed(json!({"a": {}, "b": false})), closed(json!({"a": {}})), &[]),
        case("false property added to a closed model, full", M::Full,
            closed(json!({"a": {}})), closed(json!({"a": {}, "b": false})), &[]),
        case("property written as not-anything removed, full transitive", M::FullTransitive,
            closed(json!({"a": {}, "b": {"not": {}}})), closed(json!({"a": {}})), &[]),
        chain("false properties dropped over versions", M::FullTransitive,
            vec![closed(json!({"a": {}, "b": false})),
                closed(json!({"a": {}, "b": false, "c": false}))],
            closed(json!({"a": {}})), &[]),
        case("possible property removed from a closed model", M::Backward,
            closed(json!({"a": {}, "b": {"type": "null"}})), closed(json!({"a": {}})),
            &[(1, B, "/properties/b", "property removed from a closed content model")]),
        case("false property relaxed, forward", M::Forward,
            closed(json!({"a": {}, "b": false})), closed(json!({"a": {}, "b": {"type": "string"}})),
            &[(1, F, "/properties/b", "widened from false")]),
        case("false property dropped from an open model, forward", M::Forward,
            object(json!({"a": {}, "b": false})), object(json!({"a": {}})),
            &[(1, F, "/properties/b", "property removed from an open content model")]),
    ]
}

#[rustfmt::skip]
fn one_of() -> Vec<Case> {
    let s = || json!({"type": "string", "maxLength": 8});
    vec![
        case("made nullable with oneOf", M::Backward, s(), nullable(s()), &[]),
        case("made nullable with oneOf, backward transitive", M::BackwardTransitive,
            s(), nullable(s()), &[]),
        case("made nullable with oneOf, forward", M::Forward, s(), nullable(s()),
            &[(1, F, "/oneOf/0/type", "null now allowed")]),
        case("made nullable with oneOf, full", M::Full, s(), nullable(s()),
            &[(1, F, "/oneOf/0/type", "null now allowed")]),
        case("nested field made nullable with oneOf", M::Backward,
            object(json!({"name": s()})), object(json!({"name": nullable(s())})), &[]),
        case("definition made nullable with oneOf", M::Backward,
            json!({"$defs": {"s": s()}, "properties": {"p": {"$ref": "#/$defs/s"}}}),
            json!({"$defs": {"s": s()},
                "properties": {"p": nullable(json!({"$ref": "#/$defs/s"}))}}),
            &[]),
        case("oneOf nullable around a schema that accepts null", M::Backward,
            json!({"maxLength": 8}), nullable(json!({"maxLength": 8})),
            &[(1, B, "/oneOf/0", MAY_OVERLAP)]),
        case("nullability moved from type to oneOf, full", M::Full,
            json!({"type": ["string", "null"]}), nullable(json!({"type": "string"})), &[]),
        case("oneOf gains a branch of a new type", M::Backward,
            json!({"oneOf": [{"type": "string"}, {"type": "integer"}]}),
            json!({"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]}), &[]),
        case("oneOf gains an overlapping branch", M::Backward,
            json!({"oneOf": [{"type": "string"}, {"type": "integer"}]}),
            json!({"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "number"}]}),
            &[(1, B, "/oneOf/2", "may match old documents that branch 1 matches too")]),
        case("oneOf gains a branch, forward", M::Forward,
            json!({"oneOf": [{"type": "string"}, {"type": "integer"}]}),
            json!({"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]}),
            &[(1, F, "/oneOf/0/type", "changed from string to boolean")]),
        case("tagged union gains a kind", M::Backward,
            tagged(vec![kind("a", json!({})), kind("b", json!({"n": {"type": "integer"}}))]),
            tagged(vec![kind("a", json!({})), kind("b", json!({"n": {"type": "integer"}})),
                kind("c", json!({}))]),
            &[]),
        case("tagged union gains a kind already taken", M::Backward,
            tagged(vec![kind("a", json!({})), kind("b", json!({}))]),
            tagged(vec![kind("a", json!({})), kind("b", json!({})),
                kind("a", json!({"n": {"type": "integer"}}))]),
            &[(1, B, "/oneOf/2", "may match old documents that branch 0 matches too")]),
        case("overlapping old branches keep their own", M::Backward,
            json!({"oneOf": [{"type": "integer"}, {"type": "number"}]}),
            json!({"oneOf": [{"type": "integer"}, {"type": "number"}, {"type": "null"}]}), &[]),
        case("anyOf of disjoint branches becomes oneOf, full", M::Full,
            json!({"anyOf": [{"type": "string"}, {"type": "null"}]}),
            json!({"oneOf": [{"type": "string"}, {"type": "null"}]}), &[]),
        case("anyOf of overlapping branches becomes oneOf", M::Backward,
            json!({"anyOf": [{"type": "string"}, {"maxLength": 3}]}),
            json!({"oneOf": [{"type": "string"}, {"maxLength": 3}]}),
            &[(1, B, "/oneOf/1", "may match old documents that branch 0 matches too"),
                (1, B, "/oneOf/0", "may match old documents that branch 1 matches too")]),
        case("nullability removed from a oneOf", M::Backward,
            nullable(json!({"type": "string"})), json!({"type": "string"}),
            &[(1, B, "/oneOf/0/type", "null no longer allowed")]),
        case("oneOf branch narrowed", M::Backward,
            nullable(json!({"type": "string", "maxLength": 8})),
            nullable(json!({"type": "string", "maxLength": 4})),
            &[(1, B, "/oneOf/1/maxLength", "lowered from 8 to 4")]),
    ]
}

#[rustfmt::skip]
fn not() -> Vec<Case> {
    vec![
        case("not narrowed", M::Backward,
            json!({"not": {"type": ["string", "number"]}}), json!({"not": {"type": "string"}}), &[]),
        case("not narrowed, forward", M::Forward,
            json!({"not": {"type": ["string", "number"]}}), json!({"not": {"type": "string"}}),
            &[(1, F, "/not/type", "narrowed from string or number to string, inside not")]),
        case("not widened", M::Backward,
            json!({"not": {"type": "string"}}), json!({"not": {"type": ["string", "number"]}}),
            &[(1, B, "/not/type", "widened from string to string or number, inside not")]),
        case("not rewritten alike, full", M::Full,
            json!({"not": {"const": "a"}}), json!({"not": {"enum": ["a"]}}), &[]),
        case("not narrowed by a bound", M::Backward,
            json!({"type": "string", "not": {"maxLength": 3}}),
            json!({"type": "string", "not": {"maxLength": 2}}), &[]),
        chain("not narrowed over versions, backward transitive", M::BackwardTransitive,
            vec![json!({"not": {"enum": ["a", "b"]}}), json!({"not": {"enum": ["a", "b", "c"]}})],
            json!({"not": {"enum": ["a"]}}), &[]),
        chain("not widened past an older version, full transitive", M::FullTransitive,
            vec![json!({"not": {"enum": ["a"]}}), json!({"not": {"enum": ["a", "b"]}})],
            json!({"not": {"enum": ["a", "b"]}}),
            &[(1, B, "/not/enum", "now allows \"b\", inside not")]),
        case("not added around another type", M::Backward,
            json!({"type": "object"}), json!({"type": "object", "not": {"type": "null"}}), &[]),
        case("not added around old documents", M::Backward,
            json!({"type": "string"}), json!({"type": "string", "not": {"const": ""}}),
            &[(1, B, "/not", "cannot prove compatible: not added")]),
        case("not removed, forward", M::Forward,
            json!({"type": "string", "not": {"const": ""}}), json!({"type": "string"}),
            &[(1, F, "/not", "cannot prove compatible: not removed")]),
    ]
}

#[rustfmt::skip]
fn pattern_properties() -> Vec<Case> {
    let closed_with = |props: Value, patterns: Value| json!({"type": "object",
        "properties": props, "patternProperties": patterns, "additionalProperties": false});
    vec![
        case("listed property moved into a new pattern", M::Backward,
            closed(json!({"a": {}, "x-b": {"type": "string"}})),
            closed_with(json!({"a": {}}), json!({"^x-": {"type": "string"}})), &[]),
        case("listed property moved into a new pattern, forward", M::Forward,
            closed(json!({"a": {}, "x-b": {"type": "string"}})),
            closed_with(json!({"a": {}}), json!({"^x-": {"type": "string"}})),
            &[(1, F, "/patternProperties/^x-", "pattern added to a closed content model")]),
        case("listed property moved into a new pattern, full", M::Full,
            closed(json!({"a": {}, "x-b": {"type": "string"}})),
            closed_with(json!({"a": {}}), json!({"^x-": {"type": "string"}})),
            &[(1, F, "/patternProperties/^x-", "pattern added to a closed content model")]),
        case("pattern widened over a listed property", M::Backward,
            closed_with(json!({"x-b": {"type": "string"}}), json!({"^x-a": {"type": "string"}})),
            closed_with(json!({}), json!({"^x-": {"type": "string"}})), &[]),
        case("pattern widened over a listed property, forward", M::Forward,
            closed_with(json!({"x-b": {"type": "string"}}), json!({"^x-a": {"type": "string"}})),
            closed_with(json!({}), json!({"^x-": {"type": "string"}})),
            &[(1, F, "/patternProperties/^x-", "cannot prove compatible: names this pattern \
                matches may fall outside the old patterns")]),
        case("listed property moved into a narrower pattern", M::Backward,
            closed(json!({"x-b": {"type": "string"}})),
            closed_with(json!({}), json!({"^x-": {"type": "integer"}})),
            &[(1, B, "/patternProperties/^x-/type",
                "changed from string to integer (property \"x-b\")")]),
        case("listed property not covered by the new pattern", M::Backward,
            closed(json!({"a": {}, "y": {"type": "string"}})),
            closed_with(json!({"a": {}}), json!({"^x-": {"type": "string"}})),
            &[(1, B, "/properties/y", "property removed from a closed content model")]),
        case("exact pattern replaces a property, full transitive", M::FullTransitive,
            closed(json!({"id": {"type": "integer"}})),
            closed_with(json!({}), json!({"^id$": {"type": "integer"}})), &[]),
        case("suffix pattern covers a listed property", M::Backward,
            closed(json!({"user_id": {"type": "integer"}})),
            closed_with(json!({}), json!({"_id$": {"type": "integer"}})), &[]),
        case("property moved into an existing pattern of an open model", M::Full,
            json!({"properties": {"x-a": {"type": "string"}},
                "patternProperties": {"^x-": {"type": "string"}}}),
            json!({"patternProperties": {"^x-": {"type": "string"}}}), &[]),
        case("pattern added to an open model", M::Backward,
            object(json!({"x-a": {"type": "string"}})),
            json!({"type": "object", "properties": {"x-a": {"type": "string"}},
                "patternProperties": {"^x-": {"type": "string"}}}),
            &[(1, B, "/patternProperties/^x-/type", "narrowed from any type to string")]),
        case("pattern removed from a closed model", M::Backward,
            closed_with(json!({}), json!({"^x-": {}})), closed(json!({})),
            &[(1, B, "/patternProperties/^x-", "pattern removed from a closed content model")]),
    ]
}

#[rustfmt::skip]
fn unevaluated() -> Vec<Case> {
    let sealed = |props: Value| json!({"type": "object", "properties": props,
        "unevaluatedProperties": false});
    let composed = |part: Value, props: Value, rest: Value| json!({"type": "object",
        "allOf": [part], "properties": props, "unevaluatedProperties": rest});
    let part = || json!({"properties": {"a": {"type": "string"}}});
    vec![
        case("unevaluatedProperties false model gains a property", M::Backward,
            sealed(json!({"a": {}})), sealed(json!({"a": {}, "b": {}})), &[]),
        case("unevaluatedProperties false model gains a property, forward", M::Forward,
            sealed(json!({"a": {}})), sealed(json!({"a": {}, "b": {}})),
            &[(1, F, "/properties/b", "property added to a closed content model")]),
        case("unevaluatedProperties false added", M::Backward,
            object(json!({"a": {}})), sealed(json!({"a": {}})),
            &[(1, B, "/unevaluatedProperties", "content model closed")]),
        case("unevaluatedProperties false added, forward", M::Forward,
            object(json!({"a": {}})), sealed(json!({"a": {}})), &[]),
        case("unevaluatedProperties false removed, forward transitive", M::ForwardTransitive,
            sealed(json!({"a": {}})), object(json!({"a": {}})),
            &[(1, F, "/unevaluatedProperties", "content model opened")]),
        case("composed model gains its own property", M::Backward,
            composed(part(), json!({}), json!(false)),
            composed(part(), json!({"b": {"type": "integer"}}), json!(false)), &[]),
        case("composed model widens its unevaluated properties, full", M::Backward,
            composed(part(), json!({}), json!({"type": "string"})),
            composed(part(), json!({}), json!({"type": ["string", "null"]})), &[]),
        case("composed model narrows its unevaluated properties", M::Backward,
            composed(part(), json!({}), json!({"type": ["string", "null"]})),
            composed(part(), json!({}), json!({"type": "string"})),
            &[(1, B, "/unevaluatedProperties/type", "null no longer allowed")]),
        case("composed model changes its applicator", M::Backward,
            composed(part(), json!({}), json!(false)),
            composed(json!({"properties": {"a": {"type": ["string", "null"]}}}), json!({}),
                json!(false)),
            &[(1, B, "/unevaluatedProperties",
                "cannot prove compatible: unevaluatedProperties depends on allOf, which changed")]),
        case("composed model loses its own property", M::Backward,
            composed(part(), json!({"b": {}}), json!(false)), composed(part(), json!({}), json!(false)),
            &[(1, B, "/unevaluatedProperties", "depends on properties, which lists fewer names")]),
        case("unevaluatedProperties false added beside allOf", M::Backward,
            json!({"type": "object", "allOf": [part()]}), composed(part(), json!({}), json!(false)),
            &[(1, B, "/unevaluatedProperties", "cannot prove compatible: unevaluatedProperties added")]),
        case("sealed tuple grows", M::Backward,
            json!({"prefixItems": [{"type": "string"}], "unevaluatedItems": false}),
            json!({"prefixItems": [{"type": "string"}, {"type": "integer"}], "unevaluatedItems": false}),
            &[]),
        case("sealed tuple grows, forward", M::Forward,
            json!({"prefixItems": [{"type": "string"}], "unevaluatedItems": false}),
            json!({"prefixItems": [{"type": "string"}, {"type": "integer"}], "unevaluatedItems": false}),
            &[(1, F, "/prefixItems/1", "widened from false")]),
        case("unevaluated items beside contains widened", M::Backward,
            json!({"contains": {"type": "string"}, "unevaluatedItems": {"type": "integer"}}),
            json!({"contains": {"type": "string"}, "unevaluatedItems": {"type": "number"}}), &[]),
        case("unevaluated items beside a changed contains", M::Backward,
            json!({"contains": {"type": "string"}, "unevaluatedItems": {"type": "integer"}}),
            json!({"contains": {"type": ["string", "null"]}, "unevaluatedItems": {"type": "integer"}}),
            &[(1, B, "/unevaluatedItems",
                "cannot prove compatible: unevaluatedItems depends on contains, which changed")]),
    ]
}

#[rustfmt::skip]
fn contains() -> Vec<Case> {
    let c = |extra: Value| {
        let mut s = json!({"type": "array", "contains": {"type": "string"}});
        if let (Some(m), Value::Object(extra)) = (s.as_object_mut(), extra) {
            m.extend(extra);
        }
        s
    };
    vec![
        case("minContains 1 spelled out", M::Backward, c(json!({})), c(json!({"minContains": 1})), &[]),
        case("minContains 1 spelled out, full transitive", M::FullTransitive,
            c(json!({})), c(json!({"minContains": 1})), &[]),
        case("minContains 1 dropped, forward", M::Forward,
            c(json!({"minContains": 1})), c(json!({})), &[]),
        case("minContains raised", M::Backward, c(json!({})), c(json!({"minContains": 2})),
            &[(1, B, "/minContains", "raised from 1 to 2")]),
        case("minContains lowered", M::Full, c(json!({"minContains": 2})), c(json!({})),
            &[(1, F, "/minContains", "lowered from 2 to 1")]),
        case("minContains 0 makes contains optional", M::Backward,
            c(json!({})), c(json!({"minContains": 0})), &[]),
        case("contains widened", M::Backward,
            json!({"contains": {"type": "integer"}}), json!({"contains": {"type": "number"}}), &[]),
        case("maxContains added", M::Backward, c(json!({})), c(json!({"maxContains": 2})),
            &[(1, B, "/maxContains", "added as 2")]),
        case("maxContains raised", M::Backward,
            c(json!({"maxContains": 2})), c(json!({"maxContains": 3})), &[]),
        case("contains widened under maxContains", M::Backward,
            json!({"contains": {"type": "integer"}, "maxContains": 2}),
            json!({"contains": {"type": "number"}, "maxContains": 2}),
            &[(1, B, "/maxContains", "cannot prove compatible: contains matches more items")]),
        case("contains added that every item meets", M::Backward,
            json!({"type": "array", "items": {"type": "string"}, "minItems": 1}),
            json!({"type": "array", "items": {"type": "string"}, "minItems": 1,
                "contains": {"type": "string"}}), &[]),
        case("contains added", M::Backward,
            json!({"type": "array"}), json!({"type": "array", "contains": {"type": "string"}}),
            &[(1, B, "/contains", "cannot prove compatible: contains added")]),
        case("draft-07 contains kept", M::Full,
            json!({"$schema": DRAFT_07, "contains": {"type": "integer"}}),
            json!({"$schema": DRAFT_07, "contains": {"type": "integer"}, "title": "t"}), &[]),
    ]
}

/// Counter-examples the soundness search found against deliberately broken
/// variants of the checker (it found none against the checker itself): each
/// guards the rule that the broken variant skipped.
#[rustfmt::skip]
fn found_by_search() -> Vec<Case> {
    vec![
        case("search: oneOf beside a branch that accepts everything", M::Backward,
            json!({"properties": {"a": {"enum": ["x-a"]}}}),
            json!({"oneOf": [{"properties": {"a": {"enum": ["x-a"]}}}, true]}),
            &[(1, B, "/oneOf/1", "may match old documents that branch 0 matches too")]),
        case("search: not around everything", M::Backward, json!({}), json!({"not": {}}),
            &[(1, B, "/not", "cannot prove compatible: not added")]),
        case("search: new pattern over a listed name", M::Backward,
            closed(json!({"x-b": {}})),
            json!({"patternProperties": {"b$": {"type": "null"}}}),
            &[(1, B, "/patternProperties/b$/type",
                "narrowed from any type to null (property \"x-b\")")]),
        case("search: new pattern over an old pattern's names", M::Backward,
            json!({"patternProperties": {"a": {}}, "additionalProperties": false}),
            json!({"patternProperties": {"a": {}, "^x-": {"type": "integer"}},
                "additionalProperties": false}),
            &[(1, B, "/patternProperties/^x-/type", "narrowed from any type to integer")]),
        case("search: minContains raised on a contains of anything", M::Backward,
            json!({"contains": true}), json!({"contains": true, "minContains": 2}),
            &[(1, B, "/minContains", "raised from 1 to 2")]),
        case("search: property an applicator evaluates gets constrained", M::Backward,
            json!({"allOf": [{"properties": {"b": {}}}], "unevaluatedProperties": false}),
            json!({"allOf": [{"properties": {"b": {}}}], "unevaluatedProperties": false,
                "properties": {"b": {"type": "string"}}}),
            &[(1, B, "/properties/b/type", "narrowed from any type to string")]),
    ]
}

fn classes() -> Vec<(&'static str, Vec<Case>)> {
    vec![
        ("false properties", false_properties()),
        ("oneOf", one_of()),
        ("not", not()),
        ("patternProperties", pattern_properties()),
        ("unevaluated", unevaluated()),
        ("contains", contains()),
        ("found by search", found_by_search()),
    ]
}

#[test]
fn proof_table() {
    let classes = classes();
    let mut failures = Vec::new();
    let mut total = 0;
    for (class, cases) in &classes {
        total += cases.len();
        failures.extend(cases.iter().filter_map(mismatch).map(|f| format!("[{class}] {f}")));
    }
    assert!(total >= 40, "only {total} cases");
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn proof_table_names_are_unique() {
    let classes = classes();
    let mut names: Vec<&str> = classes.iter().flat_map(|(_, c)| c.iter().map(|c| c.name)).collect();
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), count);
}
