//! Snapshot resume tokens: which snapshot (the road, its creation time and
//! the boundary offsets) and the last key delivered, as text. Opaque to
//! clients, not secret: a token only says where to continue, and reading the
//! road is authorised on every start like any other. Any instance can
//! continue from one.

use super::Offsets;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumeToken {
    pub road: String,
    pub road_created_ms: i64,
    pub boundary: Offsets,
    /// The last key delivered; the snapshot continues after it.
    pub after: Vec<u8>,
}

const VERSION: &str = "s1";

impl ResumeToken {
    /// The part shared by every message of one snapshot, computed once.
    pub fn prefix(road: &str, road_created_ms: i64, boundary: &Offsets) -> String {
        let offsets: Vec<String> = boundary.iter().map(|(p, o)| format!("{p}:{o}")).collect();
        // Road names hold no dots (`^[a-z][a-z0-9_]*$`).
        format!("{VERSION}.{road}.{road_created_ms}.{}.", offsets.join(","))
    }

    /// The token after `key`, given the snapshot's [`ResumeToken::prefix`].
    pub fn after_key(prefix: &str, key: &[u8]) -> String {
        let mut token = String::with_capacity(prefix.len() + 2 * key.len());
        token.push_str(prefix);
        for b in key {
            token.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            token.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
        }
        token
    }

    pub fn decode(token: &str) -> Option<Self> {
        let mut parts = token.split('.');
        if parts.next()? != VERSION {
            return None;
        }
        let road = parts.next().filter(|r| !r.is_empty())?.to_string();
        let road_created_ms = parts.next()?.parse().ok()?;
        let mut boundary = Offsets::new();
        let offsets = parts.next()?;
        if !offsets.is_empty() {
            for pair in offsets.split(',') {
                let (p, o) = pair.split_once(':')?;
                let (p, o): (i32, i64) = (p.parse().ok()?, o.parse().ok()?);
                if p < 0 || o < 0 {
                    return None;
                }
                boundary.insert(p, o);
            }
        }
        let hex = parts.next()?;
        if parts.next().is_some() || !hex.len().is_multiple_of(2) {
            return None;
        }
        let after = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        Some(Self { road, road_created_ms, boundary, after })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_and_junk_is_refused() {
        let boundary = Offsets::from([(0, 12), (1, 0), (2, 7)]);
        let prefix = ResumeToken::prefix("prices", 1_700, &boundary);
        let token = ResumeToken::after_key(&prefix, "clé.7".as_bytes());
        assert_eq!(
            ResumeToken::decode(&token),
            Some(ResumeToken {
                road: "prices".into(),
                road_created_ms: 1_700,
                boundary,
                after: "clé.7".as_bytes().into()
            })
        );
        for junk in [
            "",
            "s1",
            "s2.r.1.0:1.61",
            "s1..1.0:1.61",
            "s1.r.x.0:1.61",
            "s1.r.1.0:-1.61",
            "s1.r.1.0:1.6",
            "s1.r.1.0:1.61.x",
        ] {
            assert_eq!(ResumeToken::decode(junk), None, "{junk}");
        }
    }
}
