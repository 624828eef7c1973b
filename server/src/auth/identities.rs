//! The identities file: principals (or patterns with `*`) to authorities,
//! for client certificates and Basic users. TOML, one entry per principal:
//!
//! ```toml
//! "spiffe://example.org/ns/shop/*" = ["shop"]
//! "indexer.search.svc" = ["search", "readers"]
//! ```

use std::collections::BTreeSet;
use std::path::Path;

use super::reload::Reloading;

struct Rules {
    rules: Vec<(String, Vec<String>)>,
}

/// The file, re-read when it changes.
pub struct Identities {
    rules: Reloading<Rules>,
}

impl Identities {
    pub fn new(path: &Path) -> Result<Self, String> {
        Ok(Self { rules: Reloading::new(path, parse)? })
    }

    /// Every authority of every rule that matches `principal`.
    pub fn authorities(&self, principal: &str) -> BTreeSet<String> {
        let rules = self.rules.get();
        rules
            .rules
            .iter()
            .filter(|(pattern, _)| matches(pattern, principal))
            .flat_map(|(_, authorities)| authorities.iter().cloned())
            .collect()
    }
}

fn parse(text: &str) -> Result<Rules, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.message().to_string())?;
    let mut rules = Vec::with_capacity(table.len());
    for (pattern, value) in table {
        let authorities = value
            .as_array()
            .and_then(|items| items.iter().map(|i| i.as_str().map(str::to_string)).collect())
            .ok_or_else(|| format!("{pattern:?} must map to an array of authority names"))?;
        rules.push((pattern, authorities));
    }
    Ok(Rules { rules })
}

/// A glob where `*` matches any run of characters.
pub fn matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || !name[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs() {
        assert!(matches("spiffe://example.org/ns/shop/*", "spiffe://example.org/ns/shop/sa/x"));
        assert!(!matches("spiffe://example.org/ns/shop/*", "spiffe://example.org/ns/other/sa"));
        assert!(matches("*", "anything"));
        assert!(matches("a*b*c", "aXbYc"));
        assert!(!matches("a*b*c", "aXcYb"));
        assert!(!matches("ab*ba", "aba"));
        assert!(matches("exact", "exact"));
        assert!(!matches("exact", "exactly"));
    }
}
