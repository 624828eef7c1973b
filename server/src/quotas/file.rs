//! The quotas file: limits and weights per principal or authority.
//!
//! ```toml
//! [[quota]]
//! principal = "ingest-bot"
//! produce_records_per_second = 5000
//! weight = 3
//!
//! [[quota]]
//! authority = "search-fleet"      # its members share these limits
//! max_snapshot_subscriptions = 5
//! ```
//!
//! The first entry that matches a caller (its principal name, or one of its
//! authorities) applies; its unset limits fall back to the server defaults.

use serde::Deserialize;

use super::limits::Limits;
use crate::auth::Caller;

/// What an entry matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    Principal(String),
    /// Every member together: one budget for the authority.
    Authority(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub subject: Subject,
    pub limits: Limits,
    pub weight: u32,
}

/// The parsed file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuotaFile {
    pub entries: Vec<Entry>,
}

/// Weights are relative; this bound keeps one from dwarfing every other.
pub const MAX_WEIGHT: u32 = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(default)]
    quota: Vec<EntryDocument>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryDocument {
    principal: Option<String>,
    authority: Option<String>,
    weight: Option<u32>,
    produce_records_per_second: Option<u64>,
    produce_bytes_per_second: Option<u64>,
    offramp_bytes_per_second: Option<u64>,
    max_subscriptions: Option<u32>,
    max_snapshot_subscriptions: Option<u32>,
    paver_writes_per_second: Option<u64>,
}

impl QuotaFile {
    /// Parses and checks the file; a problem names the entry and field.
    pub fn parse(text: &str) -> Result<Self, String> {
        let document: Document = toml::from_str(text).map_err(|e| e.message().to_string())?;
        let mut entries = Vec::with_capacity(document.quota.len());
        for (i, e) in document.quota.into_iter().enumerate() {
            let at = |field: &str| format!("quota[{i}].{field}");
            let subject = match (e.principal, e.authority) {
                (Some(p), None) if !p.is_empty() => Subject::Principal(p),
                (None, Some(a)) if !a.is_empty() => Subject::Authority(a),
                (Some(_), Some(_)) => {
                    return Err(format!("quota[{i}]: name a principal or an authority, not both"));
                }
                _ => return Err(format!("quota[{i}]: needs a non-empty principal or authority")),
            };
            let weight = e.weight.unwrap_or(1);
            if !(1..=MAX_WEIGHT).contains(&weight) {
                return Err(format!(
                    "{}: must be from 1 to {MAX_WEIGHT}, not {weight}",
                    at("weight")
                ));
            }
            let limits = Limits {
                produce_records_per_second: e.produce_records_per_second,
                produce_bytes_per_second: e.produce_bytes_per_second,
                offramp_bytes_per_second: e.offramp_bytes_per_second,
                max_subscriptions: e.max_subscriptions,
                max_snapshot_subscriptions: e.max_snapshot_subscriptions,
                paver_writes_per_second: e.paver_writes_per_second,
            };
            check_positive(&limits).map_err(|field| {
                format!("{}: must be positive; leave it out for no limit", at(field))
            })?;
            entries.push(Entry { subject, limits, weight });
        }
        Ok(Self { entries })
    }

    /// The first entry that matches `caller`.
    pub fn matching(&self, caller: &Caller) -> Option<&Entry> {
        let principal = caller.principal.as_ref()?;
        self.entries.iter().find(|e| match &e.subject {
            Subject::Principal(name) => *name == principal.name,
            Subject::Authority(name) => principal.authorities.contains(name),
        })
    }
}

/// The first limit set to zero, by name.
pub fn check_positive(limits: &Limits) -> Result<(), &'static str> {
    let fields = [
        ("produce_records_per_second", limits.produce_records_per_second),
        ("produce_bytes_per_second", limits.produce_bytes_per_second),
        ("offramp_bytes_per_second", limits.offramp_bytes_per_second),
        ("max_subscriptions", limits.max_subscriptions.map(u64::from)),
        ("max_snapshot_subscriptions", limits.max_snapshot_subscriptions.map(u64::from)),
        ("paver_writes_per_second", limits.paver_writes_per_second),
    ];
    match fields.into_iter().find(|(_, v)| *v == Some(0)) {
        Some((name, _)) => Err(name),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::auth::{Principal, Source};

    fn caller(name: &str, authorities: &[&str]) -> Caller {
        Caller {
            principal: Some(Principal {
                name: name.into(),
                authorities: authorities.iter().map(|a| a.to_string()).collect::<BTreeSet<_>>(),
                source: Source::Token,
            }),
            addr: None,
            expires_at: None,
        }
    }

    #[test]
    fn the_first_matching_entry_applies() {
        let file = QuotaFile::parse(
            r#"
            [[quota]]
            principal = "bot"
            produce_records_per_second = 10
            weight = 3

            [[quota]]
            authority = "fleet"
            max_snapshot_subscriptions = 5
            "#,
        )
        .expect("valid");
        let bot = file.matching(&caller("bot", &["fleet"])).expect("matches");
        assert_eq!(bot.subject, Subject::Principal("bot".into()));
        assert_eq!(bot.weight, 3);
        let member = file.matching(&caller("search-1", &["fleet"])).expect("matches");
        assert_eq!(member.limits.max_snapshot_subscriptions, Some(5));
        assert_eq!(member.weight, 1);
        assert!(file.matching(&caller("other", &[])).is_none());
        assert!(file.matching(&Caller::anonymous(None)).is_none());
    }

    #[test]
    fn problems_name_the_entry_and_field() {
        let cases = [
            ("[[quota]]\nweight = 2", "quota[0]: needs a non-empty principal or authority"),
            (
                "[[quota]]\nprincipal = \"a\"\nauthority = \"b\"",
                "quota[0]: name a principal or an authority, not both",
            ),
            ("[[quota]]\nprincipal = \"a\"\nweight = 0", "quota[0].weight: must be from 1 to 1000"),
            (
                "[[quota]]\nprincipal = \"a\"\n[[quota]]\nprincipal = \"b\"\nmax_subscriptions = 0",
                "quota[1].max_subscriptions: must be positive",
            ),
            (
                "[[quota]]\nprincipal = \"a\"\nproduce_records = 5",
                "unknown field `produce_records`",
            ),
            ("[[quota]]\nprincipal = \"a\"\nweight = -1", "invalid value"),
        ];
        for (text, expected) in cases {
            let e = QuotaFile::parse(text).expect_err(text);
            assert!(e.contains(expected), "{text:?}: {e}");
        }
    }
}
