//! JSON Schemas of roads: compiling, the product's rules on top of JSON
//! Schema (an object root, the reserved property, PII marks), partition paths,
//! compatibility between versions, and validating payloads.

mod cache;
pub mod compat;
pub mod document;
pub mod path;
mod pii;

use std::sync::Arc;

use jsonschema::{Draft, PatternOptions, Validator};

use document::Documents;
use serde_json::Value;

pub use cache::SchemaCache;
pub use pii::PiiPaths;

/// The top-level property Loading Bay uses as its partition column.
pub const RESERVED_PROPERTY: &str = "acquisition_instant";

/// A problem with a schema document, located by a JSON pointer into it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaProblem {
    /// Pointer into the schema; empty for the document as a whole.
    pub pointer: String,
    pub problem: String,
}

impl std::fmt::Display for SchemaProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.pointer.is_empty() {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "{}: {}", self.pointer, self.problem)
        }
    }
}

fn problem(pointer: impl Into<String>, problem: impl Into<String>) -> SchemaProblem {
    SchemaProblem { pointer: pointer.into(), problem: problem.into() }
}

/// A schema that passed every rule, ready to validate payloads.
pub struct CompiledSchema {
    pub document: Value,
    /// Validates payloads parsed as [`document::Document`]s.
    pub validator: Validator<Documents>,
    pub pii: PiiPaths,
}

impl std::fmt::Debug for CompiledSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledSchema").field("pii", &self.pii).finish_non_exhaustive()
    }
}

/// How `pattern`, `patternProperties` and the like are run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Patterns {
    /// A linear-time engine (no back-references, no look-around): a
    /// record's validation costs time in proportion to its size whatever the
    /// pattern, so no producer can stall the others. Every new version is
    /// compiled so.
    Linear,
    /// Backtracking allowed, but each match is cut off after
    /// [`BACKTRACK_BUDGET`] steps and the value refused. Only for versions
    /// stored before patterns had to be linear, which must keep working.
    Budgeted,
}

/// Backtracking steps one match may take under [`Patterns::Budgeted`]:
/// about a millisecond of work.
pub const BACKTRACK_BUDGET: usize = 10_000;

/// Parses and compiles schema text, and checks the rules that hold for any
/// single version: the draft is supported, the root describes an object,
/// the reserved property is absent, PII marks sit on string properties,
/// patterns run in linear time.
pub fn compile(text: &str) -> Result<CompiledSchema, Vec<SchemaProblem>> {
    compile_with(text, Patterns::Linear)
}

/// A stored version: compiled as [`compile`] does when it can, else with
/// its backtracking patterns under the budget.
pub fn compile_stored(text: &str) -> Result<CompiledSchema, Vec<SchemaProblem>> {
    compile(text).or_else(|problems| match compile_with(text, Patterns::Budgeted) {
        Ok(compiled) => Ok(compiled),
        Err(_) => Err(problems),
    })
}

fn compile_with(text: &str, patterns: Patterns) -> Result<CompiledSchema, Vec<SchemaProblem>> {
    let document: Value =
        serde_json::from_str(text).map_err(|e| vec![problem("", format!("is not JSON: {e}"))])?;
    let draft = draft_of(&document).map_err(|p| vec![p])?;
    let options = jsonschema::options_for::<Documents>().with_draft(draft);
    let built = match patterns {
        Patterns::Linear => options.with_pattern_options(PatternOptions::regex()).build(&document),
        Patterns::Budgeted => options
            .with_pattern_options(PatternOptions::fancy_regex().backtrack_limit(BACKTRACK_BUDGET))
            .build(&document),
    };
    let validator = built.map_err(|e| {
        let at = e.schema_path().as_str().to_string();
        if patterns == Patterns::Linear && needs_backtracking(draft, &document) {
            vec![problem(
                at,
                "needs backtracking (a back-reference or a look-around), which could let one \
                 record stall validation; patterns run on a linear-time engine, so write it \
                 without them",
            )]
        } else {
            vec![problem(at, format!("does not compile: {e}"))]
        }
    })?;

    let mut problems = Vec::new();
    if !describes_object(&document) {
        problems.push(problem("/type", "the root must describe an object (\"type\": \"object\")"));
    }
    if document.pointer(&format!("/properties/{RESERVED_PROPERTY}")).is_some() {
        problems.push(problem(
            format!("/properties/{RESERVED_PROPERTY}"),
            "is reserved for Loading Bay's partition column",
        ));
    }
    let pii = match PiiPaths::of(&document) {
        Ok(pii) => pii,
        Err(mut pii_problems) => {
            problems.append(&mut pii_problems);
            PiiPaths::default()
        }
    };
    if problems.is_empty() {
        Ok(CompiledSchema { document, validator, pii })
    } else {
        Err(problems)
    }
}

/// The draft named by `$schema`; 2020-12 when absent.
fn draft_of(document: &Value) -> Result<Draft, SchemaProblem> {
    let Some(uri) = document.get("$schema") else { return Ok(Draft::Draft202012) };
    let Some(uri) = uri.as_str() else {
        return Err(problem("/$schema", "must be a string"));
    };
    let uri = uri.trim_end_matches('#');
    match uri.trim_start_matches("http://").trim_start_matches("https://") {
        "json-schema.org/draft/2020-12/schema" => Ok(Draft::Draft202012),
        "json-schema.org/draft/2019-09/schema" => Ok(Draft::Draft201909),
        "json-schema.org/draft-07/schema" => Ok(Draft::Draft7),
        _ => Err(problem(
            "/$schema",
            format!(
                "{uri:?} is not supported; use draft 2020-12 (the default), 2019-09 or draft-07"
            ),
        )),
    }
}

/// Whether a schema that the linear engine refused compiles with
/// backtracking: then a pattern, not the schema, is at fault.
fn needs_backtracking(draft: Draft, document: &Value) -> bool {
    jsonschema::options()
        .with_draft(draft)
        .with_pattern_options(PatternOptions::fancy_regex())
        .build(document)
        .is_ok()
}

fn describes_object(document: &Value) -> bool {
    match document.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(types)) => types.len() == 1 && types[0] == "object",
        _ => false,
    }
}

/// Properties that an earlier version had without a PII mark and `new`
/// marks: refused, because records written under the earlier version carry
/// the value unmarked.
pub fn pii_marks_added(
    new: &CompiledSchema,
    earlier: &[Arc<CompiledSchema>],
) -> Vec<SchemaProblem> {
    new.pii
        .iter()
        .filter(|path| earlier.iter().any(|old| old.pii.has_unmarked_property(path)))
        .map(|path| problem(pii::schema_pointer(path), "an existing property cannot become PII"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use document::Document;
    use serde_json::json;

    fn problems(schema: Value) -> Vec<String> {
        match compile(&schema.to_string()) {
            Ok(_) => vec![],
            Err(p) => p.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn an_object_schema_compiles() {
        assert!(
            problems(json!({"type": "object", "properties": {"a": {"type": "string"}}})).is_empty()
        );
    }

    #[test]
    fn text_that_is_not_json_is_refused() {
        let p = compile("{not json").expect_err("refused");
        assert!(p[0].problem.starts_with("is not JSON"), "{p:?}");
    }

    #[test]
    fn a_schema_that_does_not_compile_is_refused() {
        let p = problems(json!({"type": "object", "properties": {"a": {"type": 5}}}));
        assert!(p[0].contains("does not compile"), "{p:?}");
        let p = problems(json!({"type": "object", "pattern": "("}));
        assert!(p[0].contains("does not compile"), "{p:?}");
    }

    #[test]
    fn patterns_that_need_backtracking_are_refused_with_the_reason() {
        for pattern in [r"^(a)\1$", r"^(?=a)a", r"(?<!x)y", r"^(\w+)\s\1$"] {
            let schema = json!({"type": "object", "properties": {"a": {"pattern": pattern}}});
            let p = compile(&schema.to_string()).expect_err(pattern);
            assert_eq!(p.len(), 1, "{p:?}");
            assert_eq!(p[0].pointer, "/properties/a/pattern", "{pattern}");
            assert!(p[0].problem.starts_with("needs backtracking"), "{pattern}: {p:?}");
        }
        // Nested quantifiers are fine on a linear engine.
        let nested = json!({"type": "object", "properties": {"a": {"pattern": "^(a+)+$"}}});
        let compiled = compile(&nested.to_string()).expect("linear");
        // A backtracking engine would take 2^40 steps on this.
        let hostile = json!({"a": format!("{}b", "a".repeat(40))});
        assert!(!compiled.validator.is_valid(&Document::of(&hostile)));
    }

    #[test]
    fn a_stored_backtracking_pattern_still_works_under_its_budget() {
        let schema =
            json!({"type": "object", "properties": {"a": {"pattern": r"^(?:a|(?=a)a)*$"}}});
        assert!(compile(&schema.to_string()).is_err());
        let compiled = compile_stored(&schema.to_string()).expect("stored versions keep working");
        assert!(compiled.validator.is_valid(&Document::of(&json!({"a": "aaa"}))));
        // 2^40 ways to fail on a backtracking engine; cut off by the budget
        // and refused, not run to the end.
        let hostile = json!({"a": format!("{}b", "a".repeat(40))});
        assert!(!compiled.validator.is_valid(&Document::of(&hostile)));
    }

    #[test]
    fn the_root_must_be_an_object() {
        let p = problems(json!({"type": "string"}));
        assert_eq!(p, ["/type: the root must describe an object (\"type\": \"object\")"]);
        assert!(!problems(json!({"properties": {}})).is_empty());
    }

    #[test]
    fn the_reserved_property_is_refused() {
        let p = problems(json!({"type": "object", "properties": {"acquisition_instant": {}}}));
        assert_eq!(
            p,
            ["/properties/acquisition_instant: is reserved for Loading Bay's partition column"]
        );
    }

    #[test]
    fn drafts_follow_dollar_schema() {
        let d7 = json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"});
        assert!(problems(d7).is_empty());
        let d4 = json!({"$schema": "http://json-schema.org/draft-04/schema#", "type": "object"});
        assert!(problems(d4)[0].starts_with("/$schema:"));
    }
}
