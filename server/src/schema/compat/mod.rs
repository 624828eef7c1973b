//! Stand-in until the checker lands: refuses every change but identical ones.
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompatibilityMode { None, Backward, BackwardTransitive, Forward, ForwardTransitive, Full, FullTransitive }

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction { Backward, Forward }

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incompatibility { pub version: u32, pub direction: Direction, pub pointer: String, pub problem: String }

impl std::fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{}: {}", self.pointer, self.problem) }
}

pub fn check(mode: CompatibilityMode, new: &Value, previous: &[(u32, &Value)]) -> Result<(), Vec<Incompatibility>> {
    if mode == CompatibilityMode::None { return Ok(()); }
    let bad: Vec<_> = previous.iter().filter(|(_, p)| *p != new).map(|(v, _)| Incompatibility { version: *v, direction: Direction::Backward, pointer: String::new(), problem: "changed".into() }).collect();
    if bad.is_empty() { Ok(()) } else { Err(bad) }
}
