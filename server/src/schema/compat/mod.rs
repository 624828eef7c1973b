//! Schema compatibility: decides whether one JSON Schema version accepts
//! every document another one accepts.
//!
//! The check is structural and deliberately conservative: whatever cannot be
//! proven safe is reported as an incompatibility, so a road never accepts a
//! schema change that could break its producers or consumers.

use std::fmt;

use serde_json::Value;

mod arrays;
mod bounds;
mod checker;
mod combinators;
mod disjoint;
mod eval;
mod num;
mod objects;
mod patterns;
mod refs;
mod schema;
mod types;
mod value;

use checker::Checker;
use refs::{Dialect, Root};

/// How a new schema version must relate to the earlier ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompatibilityMode {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

/// Which way a check failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// A document the earlier version accepted is refused by the new one.
    Backward,
    /// A document the new version accepts is refused by the earlier one.
    Forward,
}

/// One reason two schema versions are not compatible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incompatibility {
    /// The earlier version this conflicts with.
    pub version: u32,
    pub direction: Direction,
    /// JSON pointer to the place in the schemas, e.g. `/properties/price/type`.
    pub pointer: String,
    /// What changed, e.g. `narrowed from number to integer`.
    pub problem: String,
}

impl fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pointer, self.problem)
    }
}

/// Every document that `older` accepts, `newer` accepts too — or the list of
/// every reason that cannot be proven (empty = proven). Pointers are built
/// from schema keywords as they are walked, e.g. `/properties/a/items/type`.
pub fn subsumes(newer: &Value, older: &Value) -> Vec<(String, String)> {
    compare(newer, older, false)
}

/// Checks `new` against `previous` (the earlier non-deleted versions, oldest
/// first, as (version, schema)) under `mode`. Non-transitive modes compare with
/// the last element only; transitive modes with every element. BACKWARD =
/// subsumes(new, old); FORWARD = subsumes(old, new); FULL = both. NONE and an
/// empty `previous` always pass. Returns every incompatibility found, not just the first.
pub fn check(
    mode: CompatibilityMode,
    new: &Value,
    previous: &[(u32, &Value)],
) -> Result<(), Vec<Incompatibility>> {
    use CompatibilityMode as M;
    let (backward, forward, transitive) = match mode {
        M::None => return Ok(()),
        M::Backward => (true, false, false),
        M::BackwardTransitive => (true, false, true),
        M::Forward => (false, true, false),
        M::ForwardTransitive => (false, true, true),
        M::Full => (true, true, false),
        M::FullTransitive => (true, true, true),
    };
    let against = match previous.split_last() {
        None => return Ok(()),
        Some((last, _)) if !transitive => std::slice::from_ref(last),
        Some(_) => previous,
    };

    let mut found = Vec::new();
    for &(version, old) in against {
        let mut add = |direction, problems: Vec<(String, String)>| {
            found.extend(problems.into_iter().map(|(pointer, problem)| Incompatibility {
                version,
                direction,
                pointer,
                problem,
            }));
        };
        if backward {
            add(Direction::Backward, compare(new, old, false));
        }
        if forward {
            // The old schema must accept what the new one accepts; problems are
            // worded from the new schema's point of view.
            add(Direction::Forward, compare(old, new, true));
        }
    }
    if found.is_empty() { Ok(()) } else { Err(found) }
}

/// Proves `wide` accepts every document `narrow` accepts. `forward` only
/// selects the wording: false when `wide` is the newer schema, true when it
/// is the older one.
fn compare(wide: &Value, narrow: &Value, forward: bool) -> Vec<(String, String)> {
    if value::json_eq(wide, narrow) {
        return Vec::new();
    }
    let (wide_dialect, narrow_dialect) = match (Dialect::of(wide), Dialect::of(narrow)) {
        (Ok(w), Ok(n)) => (w, n),
        (Err(uri), _) | (_, Err(uri)) => {
            let problem = format!("cannot prove compatible: unsupported dialect {uri}");
            return vec![("/$schema".to_owned(), problem)];
        }
    };
    if wide_dialect != narrow_dialect {
        let (old, new) = if forward {
            (wide_dialect.name(), narrow_dialect.name())
        } else {
            (narrow_dialect.name(), wide_dialect.name())
        };
        let problem = format!("cannot prove compatible: dialect changed from {old} to {new}");
        return vec![("/$schema".to_owned(), problem)];
    }
    Checker::new(Root::new(wide, wide_dialect), Root::new(narrow, narrow_dialect), forward).run()
}

#[cfg(test)]
mod proof_table;
#[cfg(test)]
mod soundness;
#[cfg(test)]
mod tests;
