use serde_json::{Value, json};

use super::{CompatibilityMode as M, Direction, Incompatibility, check, subsumes};

pub(super) const B: Direction = Direction::Backward;
pub(super) const F: Direction = Direction::Forward;

/// (version, direction, pointer, substring of the problem)
pub(super) type Expected = (u32, Direction, &'static str, &'static str);

pub(super) struct Case {
    pub(super) name: &'static str,
    mode: M,
    /// Earlier versions, numbered from 1, oldest first.
    history: Vec<Value>,
    new: Value,
    expected: Vec<Expected>,
}

pub(super) fn case(
    name: &'static str,
    mode: M,
    old: Value,
    new: Value,
    expected: &[Expected],
) -> Case {
    Case { name, mode, history: vec![old], new, expected: expected.to_vec() }
}

pub(super) fn chain(
    name: &'static str,
    mode: M,
    history: Vec<Value>,
    new: Value,
    exp: &[Expected],
) -> Case {
    Case { name, mode, history, new, expected: exp.to_vec() }
}

pub(super) fn object(props: Value) -> Value {
    json!({ "type": "object", "properties": props })
}

pub(super) fn closed(props: Value) -> Value {
    json!({ "type": "object", "properties": props, "additionalProperties": false })
}

// One case per entry, kept compact: the table reads best as a table.
#[rustfmt::skip]
fn cases() -> Vec<Case> {
    vec![
        // Types and nullability.
        case("integer widened to number", M::Backward,
            json!({"type": "integer"}), json!({"type": "number"}), &[]),
        case("integer widened to number, forward", M::Forward,
            json!({"type": "integer"}), json!({"type": "number"}),
            &[(1, F, "/type", "widened from integer to number")]),
        case("number narrowed to integer", M::Backward,
            json!({"type": "number"}), json!({"type": "integer"}),
            &[(1, B, "/type", "narrowed from number to integer")]),
        case("number narrowed to integer, forward", M::Forward,
            json!({"type": "number"}), json!({"type": "integer"}), &[]),
        case("type replaced, full", M::Full,
            json!({"type": "string"}), json!({"type": "integer"}),
            &[(1, B, "/type", "changed from string to integer"),
                (1, F, "/type", "changed from string to integer")]),
        case("nullability added", M::Backward,
            json!({"type": "string"}), json!({"type": ["string", "null"]}), &[]),
        case("nullability added, forward", M::Forward,
            json!({"type": "string"}), json!({"type": ["string", "null"]}),
            &[(1, F, "/type", "null now allowed")]),
        case("nullability removed", M::Backward,
            object(json!({"name": {"type": ["string", "null"]}})),
            object(json!({"name": {"type": "string"}})),
            &[(1, B, "/properties/name/type", "null no longer allowed")]),
        // Content models.
        case("constrained property added to open model", M::Backward,
            object(json!({"a": {"type": "string"}})),
            object(json!({"a": {"type": "string"}, "b": {"type": "integer"}})),
            &[(1, B, "/properties/b", "property added to an open content model")]),
        case("unconstrained property added to open model", M::Full,
            object(json!({"a": {}})), object(json!({"a": {}, "b": {"description": "free"}})), &[]),
        case("property added to closed model", M::Backward,
            closed(json!({"a": {}})), closed(json!({"a": {}, "b": {"type": "integer"}})), &[]),
        case("property added to closed model, forward", M::Forward,
            closed(json!({"a": {}})), closed(json!({"a": {}, "b": {"type": "integer"}})),
            &[(1, F, "/properties/b", "property added to a closed content model")]),
        case("property removed from closed model", M::Backward,
            closed(json!({"a": {}, "b": {}})), closed(json!({"a": {}})),
            &[(1, B, "/properties/b", "property removed from a closed content model")]),
        case("property removed from open model", M::Backward,
            object(json!({"a": {}, "b": {"type": "string"}})), object(json!({"a": {}})), &[]),
        case("property removed from open model, forward", M::Forward,
            object(json!({"a": {}, "b": {"type": "string"}})), object(json!({"a": {}})),
            &[(1, F, "/properties/b", "property removed from an open content model")]),
        case("content model closed", M::Backward,
            object(json!({"a": {}})), closed(json!({"a": {}})),
            &[(1, B, "/additionalProperties", "content model closed")]),
        case("additionalProperties schema narrowed", M::Backward,
            json!({"additionalProperties": {"type": ["string", "number"]}}),
            json!({"additionalProperties": {"type": "string"}}),
            &[(1, B, "/additionalProperties/type", "narrowed from string or number to string")]),
        case("removed property still fits additionalProperties", M::Backward,
            json!({"properties": {"a": {"type": "string", "maxLength": 3}},
                "additionalProperties": {"type": "string"}}),
            json!({"additionalProperties": {"type": "string"}}), &[]),
        case("removed property does not fit additionalProperties", M::Backward,
            json!({"properties": {"a": {"type": "integer"}},
                "additionalProperties": {"type": "string"}}),
            json!({"additionalProperties": {"type": "string"}}),
            &[(1, B, "/properties/a/type", "changed from integer to string")]),
        case("required added", M::Backward,
            object(json!({"a": {}, "b": {}})),
            json!({"type": "object", "properties": {"a": {}, "b": {}}, "required": ["b"]}),
            &[(1, B, "/required", "requires \"b\", which older documents may lack")]),
        case("required dropped", M::Backward,
            json!({"properties": {"a": {}}, "required": ["a"]}), json!({"properties": {"a": {}}}),
            &[]),
        case("required dropped, forward", M::Forward,
            json!({"properties": {"a": {}}, "required": ["a"]}), json!({"properties": {"a": {}}}),
            &[(1, F, "/required", "no longer requires \"a\"")]),
        case("property counts", M::Backward,
            json!({"minProperties": 1, "maxProperties": 3}),
            json!({"minProperties": 2, "maxProperties": 5}),
            &[(1, B, "/minProperties", "raised from 1 to 2")]),
        case("nested object field changed", M::Full,
            object(json!({"address": object(json!({"zip": {"type": "string"}}))})),
            object(json!({"address": object(json!({"zip": {"type": "integer"}}))})),
            &[(1, B, ZIP_TYPE, "changed from string to integer"),
                (1, F, ZIP_TYPE, "changed from string to integer")]),
        case("propertyNames tightened", M::Backward,
            json!({"propertyNames": {"maxLength": 8}}), json!({"propertyNames": {"maxLength": 4}}),
            &[(1, B, "/propertyNames/maxLength", "lowered from 8 to 4")]),
        case("dependentRequired grows", M::Backward,
            json!({"dependentRequired": {"card": ["expiry"]}}),
            json!({"dependentRequired": {"card": ["expiry", "cvc"]}}),
            &[(1, B, "/dependentRequired/card", "requires \"cvc\" when \"card\" is present")]),
        case("patternProperties changed", M::Backward,
            json!({"patternProperties": {"^x-": {"type": "string"}}}),
            json!({"patternProperties": {"^x-": {"type": "integer"}}}),
            &[(1, B, "/patternProperties/^x-/type", "changed from string to integer")]),
        case("property outside identical patterns added", M::Backward,
            json!({"patternProperties": {"^x-": {"type": "string"}}}),
            json!({"patternProperties": {"^x-": {"type": "string"}},
                "properties": {"id": {"type": "integer"}}}),
            &[(1, B, "/properties/id", "property added to an open content model")]),
        // Values.
        case("enum grows", M::Backward,
            string(json!({"enum": ["a", "b"]})), string(json!({"enum": ["a", "b", "c"]})), &[]),
        case("enum grows, forward", M::Forward,
            string(json!({"enum": ["a", "b"]})), string(json!({"enum": ["a", "b", "c"]})),
            &[(1, F, "/enum", "now allows \"c\"")]),
        case("enum shrinks", M::Backward,
            string(json!({"enum": ["a", "b", "c"]})), string(json!({"enum": ["a", "c"]})),
            &[(1, B, "/enum", "no longer allows \"b\"")]),
        case("enum added to an unrestricted string", M::Backward,
            string(json!({})), string(json!({"enum": ["a"]})),
            &[(1, B, "/enum", "restricts values that were unrestricted")]),
        case("const widened to enum", M::Backward,
            json!({"const": "a"}), json!({"enum": ["a", "b"]}), &[]),
        case("const changed", M::Backward,
            json!({"const": "a"}), json!({"const": "b"}),
            &[(1, B, "/const", "no longer allows \"a\"")]),
        case("enum numbers compare by value", M::Backward,
            json!({"enum": [1, 2.5]}), json!({"enum": [1.0, 2.5, 3]}), &[]),
        case("enum replaced by a type holding every value", M::Backward,
            json!({"enum": ["a", "b"]}), json!({"type": "string", "maxLength": 1}), &[]),
        // Numbers.
        case("maximum lowered", M::Backward,
            json!({"type": "number", "maximum": 10}), json!({"type": "number", "maximum": 5}),
            &[(1, B, "/maximum", "lowered from 10 to 5")]),
        case("maximum raised, full", M::Full,
            json!({"maximum": 10}), json!({"maximum": 20}),
            &[(1, F, "/maximum", "raised from 10 to 20")]),
        case("exclusiveMaximum relaxed to maximum", M::Backward,
            json!({"exclusiveMaximum": 10}), json!({"maximum": 10}), &[]),
        case("maximum tightened to exclusiveMaximum", M::Backward,
            json!({"maximum": 10}), json!({"exclusiveMaximum": 10}),
            &[(1, B, "/exclusiveMaximum", "lowered from maximum 10 to exclusiveMaximum 10")]),
        case("exclusive and inclusive bounds agree on integers", M::Full,
            json!({"type": "integer", "exclusiveMinimum": 2}),
            json!({"type": "integer", "minimum": 3}), &[]),
        case("minimum added", M::Backward,
            json!({"type": "number"}), json!({"type": "number", "minimum": 0}),
            &[(1, B, "/minimum", "added as 0")]),
        case("multipleOf loosened", M::Backward,
            json!({"multipleOf": 0.3}), json!({"multipleOf": 0.1}), &[]),
        case("multipleOf tightened", M::Backward,
            json!({"multipleOf": 2}), json!({"multipleOf": 4}),
            &[(1, B, "/multipleOf", "changed from 2 to 4")]),
        case("multipleOf added", M::Backward,
            json!({"type": "number"}), json!({"type": "number", "multipleOf": 5}),
            &[(1, B, "/multipleOf", "added as 5")]),
        // Strings.
        case("string length narrowed", M::Backward,
            string(json!({"minLength": 2, "maxLength": 10})),
            string(json!({"minLength": 1, "maxLength": 5})),
            &[(1, B, "/maxLength", "lowered from 10 to 5")]),
        case("string length widened, full", M::Full,
            string(json!({"maxLength": 5})), string(json!({"maxLength": 10})),
            &[(1, F, "/maxLength", "raised from 5 to 10")]),
        case("pattern changed", M::Backward,
            string(json!({"pattern": "^[a-z]+$"})), string(json!({"pattern": "^[a-z]*$"})),
            &[(1, B, "/pattern", "changed from \"^[a-z]+$\" to \"^[a-z]*$\"")]),
        case("pattern removed, forward", M::Forward,
            string(json!({"pattern": "^a"})), string(json!({})),
            &[(1, F, "/pattern", "removed")]),
        case("format added", M::Backward,
            string(json!({})), string(json!({"format": "email"})),
            &[(1, B, "/format", "added as \"email\"")]),
        case("length bounds ignored for numbers", M::Backward,
            json!({"type": "integer"}), json!({"type": "integer", "maxLength": 2}), &[]),
        // Arrays.
        case("array items narrowed", M::Backward,
            object(json!({"tags": {"type": "array", "items": {"type": ["string", "integer"]}}})),
            object(json!({"tags": {"type": "array", "items": {"type": "string"}}})),
            &[(1, B, "/properties/tags/items/type", "narrowed from string or integer to string")]),
        case("array items widened", M::Backward,
            json!({"type": "array", "items": {"type": "integer"}}),
            json!({"type": "array", "items": {"type": "number"}}), &[]),
        case("item counts and uniqueness", M::Backward,
            json!({"type": "array", "minItems": 1, "maxItems": 5}),
            json!({"type": "array", "minItems": 2, "maxItems": 9, "uniqueItems": true}),
            &[(1, B, "/minItems", "raised from 1 to 2"),
                (1, B, "/uniqueItems", "narrowed to unique items")]),
        case("tuple position widened", M::Backward,
            json!({"prefixItems": [{"type": "string"}, {"type": "integer"}]}),
            json!({"prefixItems": [{"type": "string"}, {"type": "number"}]}), &[]),
        case("tuple position narrowed, forward", M::Forward,
            json!({"prefixItems": [{"type": "string"}], "items": false}),
            json!({"prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false}),
            &[(1, F, "/prefixItems/1", "widened from false")]),
        case("contains changed", M::Backward,
            json!({"contains": {"type": "string"}}), json!({"contains": {"type": "integer"}}),
            &[(1, B, "/contains/type", "changed from string to integer")]),
        // Boolean schemas.
        case("true narrowed to a type", M::Backward,
            json!(true), json!({"type": "string"}),
            &[(1, B, "/type", "narrowed from any type to string")]),
        case("narrowed to false", M::Backward,
            json!({"type": "string"}), json!(false), &[(1, B, "", "narrowed to false")]),
        case("false widened", M::Full,
            json!(false), json!({"type": "string"}), &[(1, F, "", "widened from false")]),
        case("empty object is true", M::Full, json!({}), json!(true), &[]),
        case("false property schema relaxed", M::Backward,
            object(json!({"a": false})), object(json!({"a": true})), &[]),
        // Combinators, references, unknown keywords.
        case("identical anyOf with new annotations", M::Full,
            json!({"anyOf": [{"type": "string"}, {"type": "null"}]}),
            json!({"description": "d",
                "anyOf": [{"type": "string", "title": "t"}, {"type": "null"}]}),
            &[]),
        case("anyOf gains a branch", M::Backward,
            json!({"anyOf": [{"type": "string"}, {"type": "null"}]}),
            json!({"anyOf": [{"type": "string"}, {"type": "null"}, {"type": "integer"}]}), &[]),
        case("nullability removed from a union", M::Backward,
            json!({"anyOf": [{"type": "string"}, {"type": "null"}]}), json!({"type": "string"}),
            &[(1, B, "/anyOf/1/type", "null no longer allowed")]),
        case("anyOf changed", M::Backward,
            json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
            json!({"anyOf": [{"type": "string"}, {"type": "boolean"}]}),
            &[(1, B, "/anyOf", "cannot prove compatible: anyOf changed")]),
        case("oneOf gains a branch of another type", M::Backward,
            json!({"oneOf": [{"type": "string"}]}),
            json!({"oneOf": [{"type": "string"}, {"type": "null"}]}), &[]),
        case("not added", M::Backward,
            json!({}), json!({"not": {"type": "null"}}),
            &[(1, B, "/not", "cannot prove compatible: not added")]),
        case("allOf part narrowed", M::Backward,
            json!({"allOf": [{"type": "string"}]}),
            json!({"allOf": [{"type": "string", "maxLength": 3}]}),
            &[(1, B, "/allOf/0/maxLength", "added as 3")]),
        case("referenced definition narrowed", M::Backward, money("number"), money("integer"),
            &[(1, B, "/properties/price/type", "narrowed from number to integer")]),
        case("referenced definition widened", M::Backward, money("integer"), money("number"), &[]),
        case("definition renamed", M::Full,
            json!({"$defs": {"a": {"type": "string"}}, "properties": {"p": {"$ref": "#/$defs/a"}}}),
            json!({"$defs": {"b": {"type": "string"}}, "properties": {"p": {"$ref": "#/$defs/b"}}}),
            &[]),
        case("external reference changed", M::Backward,
            json!({"properties": {"p": {"$ref": "money.json"}}}),
            json!({"properties": {"p": {"$ref": "money-v2.json"}}}),
            &[(1, B, "/properties/p/$ref", "cannot prove compatible: $ref changed")]),
        case("recursive definition widened", M::Full, tree("integer"), tree("number"),
            &[(1, F, "/properties/value/type", "widened from integer to number")]),
        case("unknown keyword changed", M::Backward,
            json!({"x-rule": 1}), json!({"x-rule": 2}),
            &[(1, B, "/x-rule", "cannot prove compatible: x-rule changed")]),
        case("unknown keyword dropped", M::Backward, json!({"x-rule": 1}), json!({}), &[]),
        case("dialect changed", M::Backward,
            json!({"$schema": "http://json-schema.org/draft-07/schema#"}),
            json!({"$schema": "https://json-schema.org/draft/2020-12/schema"}),
            &[(1, B, "/$schema", "dialect changed from draft-07 to 2020-12")]),
        case("draft-07 tuple items opened", M::Backward,
            json!({"$schema": DRAFT_07, "items": [{"type": "string"}], "additionalItems": false}),
            json!({"$schema": DRAFT_07, "items": [{"type": "string"}]}), &[]),
        // Annotations never matter.
        case("annotations only", M::FullTransitive,
            object(json!({"email": {"type": "string"}})),
            json!({"type": "object", "title": "Customer", "$comment": "c", "properties": {
                "email": {"type": "string", "sensitivity": "PII", "description": "d",
                    "examples": ["a@b.c"], "default": "", "deprecated": true}}}),
            &[]),
        // Several problems at once.
        case("several incompatibilities", M::Backward,
            json!({"type": "object", "required": ["a"],
                "properties": {"a": {"type": "number"}, "b": {"type": "string"}}}),
            json!({"type": "object", "required": ["a", "b"],
                "properties": {"a": {"type": "integer"}, "b": {"type": "string", "maxLength": 5}}}),
            &[(1, B, "/properties/a/type", "narrowed from number to integer"),
                (1, B, "/properties/b/maxLength", "added as 5"),
                (1, B, "/required", "requires \"b\"")]),
        // Modes.
        case("none accepts anything", M::None,
            json!({"type": "string"}), json!({"type": "integer"}), &[]),
        chain("no earlier version", M::FullTransitive, vec![], json!({"type": "integer"}), &[]),
        chain("backward compares with the last version only", M::Backward,
            lengths(&[30, 20]), string(json!({"maxLength": 25})), &[]),
        chain("backward transitive finds an older conflict", M::BackwardTransitive,
            lengths(&[30, 20]), string(json!({"maxLength": 25})),
            &[(1, B, "/maxLength", "lowered from 30 to 25")]),
        chain("forward compares with the last version only", M::Forward,
            lengths(&[20, 30]), string(json!({"maxLength": 25})), &[]),
        chain("forward transitive finds an older conflict", M::ForwardTransitive,
            lengths(&[20, 30]), string(json!({"maxLength": 25})),
            &[(1, F, "/maxLength", "raised from 20 to 25")]),
        chain("full compares with the last version only", M::Full,
            lengths(&[20, 30]), string(json!({"maxLength": 25})),
            &[(2, B, "/maxLength", "lowered from 30 to 25")]),
        chain("full transitive checks both ways with every version", M::FullTransitive,
            lengths(&[20, 30]), string(json!({"maxLength": 25})),
            &[(1, F, "/maxLength", "raised from 20 to 25"),
                (2, B, "/maxLength", "lowered from 30 to 25")]),
    ]
}

const ZIP_TYPE: &str = "/properties/address/properties/zip/type";
pub(super) const DRAFT_07: &str = "http://json-schema.org/draft-07/schema#";

/// A string schema with extra keywords.
pub(super) fn string(extra: Value) -> Value {
    let mut schema = json!({ "type": "string" });
    if let (Some(base), Value::Object(extra)) = (schema.as_object_mut(), extra) {
        base.extend(extra);
    }
    schema
}

/// String schemas with these maximum lengths, as versions 1, 2, ...
fn lengths(maxima: &[u32]) -> Vec<Value> {
    maxima.iter().map(|max| string(json!({ "maxLength": max }))).collect()
}

/// A price whose type lives in a definition.
fn money(kind: &str) -> Value {
    json!({
        "$defs": { "money": { "type": kind } },
        "properties": { "price": { "$ref": "#/$defs/money" } }
    })
}

/// A recursive tree whose node values are of type `value`.
fn tree(value: &str) -> Value {
    json!({
        "$defs": {"node": {"type": "object", "properties": {
            "value": {"type": value},
            "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}
        }}},
        "$ref": "#/$defs/node"
    })
}

fn run(case: &Case) -> Result<(), Vec<Incompatibility>> {
    let previous: Vec<(u32, &Value)> = (1..).zip(&case.history).collect();
    check(case.mode, &case.new, &previous)
}

pub(super) fn mismatch(case: &Case) -> Option<String> {
    let found = run(case).err().unwrap_or_default();
    let mut unmatched: Vec<&Incompatibility> = found.iter().collect();
    let mut missing = Vec::new();
    for &(version, direction, pointer, problem) in &case.expected {
        let hit = unmatched.iter().position(|i| {
            i.version == version
                && i.direction == direction
                && i.pointer == pointer
                && i.problem.contains(problem)
        });
        match hit {
            Some(at) => {
                unmatched.remove(at);
            }
            None => missing.push(format!("{version} {direction:?} {pointer}: {problem}")),
        }
    }
    if missing.is_empty() && unmatched.is_empty() {
        return None;
    }
    Some(format!("{}:\n  missing {missing:?}\n  unexpected {unmatched:?}", case.name))
}

#[test]
fn compatibility_table() {
    let cases = cases();
    assert!(cases.len() >= 45, "only {} cases", cases.len());
    let failures: Vec<String> = cases.iter().filter_map(mismatch).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn case_names_are_unique() {
    let cases = cases();
    let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len());
}

#[test]
fn subsumes_reports_pointer_and_problem() {
    let older = json!({"properties": {"price": {"type": "number"}}});
    let newer = json!({"properties": {"price": {"type": "integer"}}});
    assert_eq!(
        subsumes(&newer, &older),
        vec![("/properties/price/type".to_owned(), "narrowed from number to integer".to_owned())]
    );
    assert!(subsumes(&older, &newer).is_empty());
}

#[test]
fn display_is_pointer_then_problem() {
    let incompatibility = Incompatibility {
        version: 3,
        direction: Direction::Backward,
        pointer: "/properties/price/type".to_owned(),
        problem: "narrowed from number to integer".to_owned(),
    };
    assert_eq!(
        incompatibility.to_string(),
        "/properties/price/type: narrowed from number to integer"
    );
}

fn deep(levels: usize) -> Value {
    (0..levels).fold(json!({"type": "string"}), |inner, _| json!({"items": inner}))
}

#[test]
fn malformed_schemas_never_panic() {
    let schemas = [
        json!(5),
        json!("x"),
        json!(null),
        json!([]),
        json!({"type": 5}),
        json!({"type": ["string", 7]}),
        json!({"properties": []}),
        json!({"properties": {"a": 5}}),
        json!({"required": "x"}),
        json!({"required": [1]}),
        json!({"enum": {}}),
        json!({"const": {"a": [[[1]]]}}),
        json!({"minimum": "0"}),
        json!({"multipleOf": 0}),
        json!({"multipleOf": -1}),
        json!({"multipleOf": 1e-300}),
        json!({"maxLength": -1}),
        json!({"maxLength": 1.5}),
        json!({"items": 3}),
        json!({"prefixItems": {}}),
        json!({"allOf": []}),
        json!({"anyOf": {}}),
        json!({"not": 1}),
        json!({"$ref": 5}),
        json!({"$ref": "#/nowhere"}),
        json!({"$ref": "#"}),
        json!({"$ref": "#%zz"}),
        json!({"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/a"}}}),
        json!({"$dynamicRef": "#meta", "$id": "x", "$defs": {"a": {"$id": "y"}}}),
        json!({"additionalProperties": "no"}),
        json!({"patternProperties": {"(": {}}}),
        json!({"$schema": 7}),
        json!({"$schema": "http://json-schema.org/draft-07/schema#", "items": [1]}),
        json!({"dependentRequired": {"a": "b"}}),
        json!({"dependentSchemas": {"a": 1}}),
        json!({"uniqueItems": "yes"}),
        json!({"exclusiveMinimum": true, "minimum": 1}),
        json!({"enum": [1e308, -1e308, 18_446_744_073_709_551_615u64, i64::MIN]}),
        json!({"type": "integer", "minimum": 1e300, "maximum": -1e300, "multipleOf": 1e300}),
        json!({"if": 3, "then": [], "else": "x"}),
        json!({"contains": {}, "minContains": "a"}),
        json!({"propertyNames": 1}),
        json!({"enum": [[1, 1], {"a": null}], "uniqueItems": true}),
        json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}),
        deep(300),
    ];
    let modes = [
        M::None,
        M::Backward,
        M::BackwardTransitive,
        M::Forward,
        M::ForwardTransitive,
        M::Full,
        M::FullTransitive,
    ];
    for new in &schemas {
        for old in &schemas {
            for mode in modes {
                let _ = check(mode, new, &[(1, old), (2, new)]);
            }
        }
    }
    let refused = check(M::Backward, &json!({"type": 5}), &[(1, &json!({"type": "string"}))]);
    assert!(refused.is_err(), "a malformed keyword must not be proven compatible");
    assert!(
        check(M::Full, &deep(300), &[(1, &deep(300))]).is_ok(),
        "identical schemas are compatible"
    );
}
