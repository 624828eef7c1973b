//! Soundness by search: whenever the checker proves a change compatible, no
//! generated document may be accepted by the schema that must be covered and
//! refused by the other, as the Onramp's own validator decides.
//!
//! Pairs are mostly a schema and a few mutations of it (the changes users
//! make: nullable `oneOf`, new branches, moved properties, `not`, closed
//! models, counts), tried both ways round, so that many are provable and the
//! search has something to refute. Documents are sampled from both schemas
//! (so that many are accepted) and at random.
//!
//! `PROPTEST_CASES` sets the number of pairs (256 by default, as in CI);
//! `PROPTEST_RNG_SEED` a seed other than the fixed default, or `random`.

mod generate;
mod sample;

use std::time::Instant;

use jsonschema::Validator;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use serde_json::Value;

use super::{CompatibilityMode as M, check};
use generate::pair;
use sample::{Rng, sample};

const SEED: u64 = 18;

/// The validator the Onramp builds for a schema, or `None` when the schema
/// would not register.
fn validator(schema: &Value) -> Option<Validator> {
    let draft = crate::schema::draft_of(schema).ok()?;
    jsonschema::options().with_draft(draft).build(schema).ok()
}

#[derive(Default)]
struct Tally {
    pairs: usize,
    proven: usize,
    /// Proven pairs whose schemas differ.
    changed: usize,
    witnesses: usize,
}

/// Checks one ordering: when `new` is proven to accept all of `old`, no
/// document `old` accepts may be refused by `new`.
fn sound(old: &Value, new: &Value, docs: &[Value], tally: &mut Tally) -> Result<(), String> {
    let (Some(old_v), Some(new_v)) = (validator(old), validator(new)) else { return Ok(()) };
    tally.pairs += 1;
    // BACKWARD of new over old is FORWARD of old over new; the transitive
    // and FULL modes repeat the same comparisons.
    let backward = check(M::Backward, new, &[(1, old)]).is_ok();
    let forward = check(M::Forward, old, &[(1, new)]).is_ok();
    if backward != forward {
        return Err(format!("modes disagree: backward {backward}, forward {forward}"));
    }
    if !backward {
        return Ok(());
    }
    let transitive = check(M::BackwardTransitive, new, &[(1, old), (2, old)]).is_ok();
    let full = check(M::Full, new, &[(1, old)]).is_ok();
    let full_reverse = check(M::Full, old, &[(1, new)]).is_ok();
    if !transitive || full != full_reverse {
        return Err(format!("modes disagree: transitive {transitive}, full {full}/{full_reverse}"));
    }
    tally.proven += 1;
    let changed = old != new;
    tally.changed += usize::from(changed);
    for doc in docs {
        if old_v.is_valid(doc) {
            tally.witnesses += usize::from(changed);
            if !new_v.is_valid(doc) {
                return Err(format!(
                    "proven compatible, yet {doc} is accepted by the old schema and refused by the new"
                ));
            }
        }
    }
    Ok(())
}

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok());
    let rng_seed = match std::env::var("PROPTEST_RNG_SEED").as_deref() {
        Ok("random") => RngSeed::Random,
        Ok(text) => text.parse().map_or(RngSeed::Fixed(SEED), RngSeed::Fixed),
        Err(_) => RngSeed::Fixed(SEED),
    };
    Config {
        cases: cases.unwrap_or(256),
        rng_seed,
        failure_persistence: None,
        max_shrink_iters: 2048,
        ..Config::default()
    }
}

/// Generating nested schemas takes deep stacks in debug builds.
const STACK: usize = 64 << 20;

#[test]
fn proven_changes_lose_no_document() {
    let search = std::thread::Builder::new().stack_size(STACK).spawn(search);
    if let Err(panic) = search.expect("spawn the search").join() {
        std::panic::resume_unwind(panic);
    }
}

fn search() {
    let config = config();
    let cases = config.cases;
    let started = Instant::now();
    let tally = std::cell::RefCell::new(Tally::default());
    let mut runner = TestRunner::new(config);
    let result = runner.run(&pair(), |pair| {
        let mut docs = pair.docs.clone();
        let mut rng = Rng(pair.seed | 1);
        for schema in [&pair.old, &pair.new] {
            for _ in 0..16 {
                docs.push(sample(schema, schema, &mut rng, 0));
            }
        }
        let mut tally = tally.borrow_mut();
        for (old, new) in [(&pair.old, &pair.new), (&pair.new, &pair.old)] {
            sound(old, new, &docs, &mut tally)
                .map_err(|e| TestCaseError::fail(format!("{e}\n  old: {old}\n  new: {new}")))?;
        }
        Ok(())
    });
    let tally = tally.into_inner();
    eprintln!(
        "soundness: {cases} cases, {} orderings compiled, {} proven compatible ({} of them \
         changed), {} documents accepted by the old schema of a changed proven pair, in {:.1?}",
        tally.pairs,
        tally.proven,
        tally.changed,
        tally.witnesses,
        started.elapsed()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    // The search only means something when it proves and samples enough.
    assert!(tally.changed * 10 >= tally.pairs, "too few proven changes: {}", tally.changed);
    assert!(tally.witnesses >= tally.changed, "too few witnesses: {}", tally.witnesses);
}
