//! Snapshot resume tokens: which snapshot (the road, its creation time and
//! the boundary offsets) and the last key delivered, as text. Opaque to
//! clients, not secret: a token only says where to continue, and reading the
//! road is authorised on every start like any other. Any instance can
//! continue from one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::Offsets;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumeToken {
    pub road: String,
    pub road_created_ms: i64,
    pub boundary: Offsets,
    /// The last key delivered; the snapshot continues after it.
    pub after: Vec<u8>,
}

/// Tokens name the boundary in a few bytes (varints, offsets as deltas), so
/// that a snapshot message's token is not larger than its record.
const VERSION: &str = "s2";
/// Tokens of the first format (decimal offsets, hex keys) still resume.
const VERSION_1: &str = "s1";

impl ResumeToken {
    /// The part shared by every message of one snapshot, computed once.
    pub fn prefix(road: &str, road_created_ms: i64, boundary: &Offsets) -> String {
        let mut bytes = Vec::with_capacity(8 + 4 * boundary.len());
        put_varint(&mut bytes, zigzag(road_created_ms));
        put_varint(&mut bytes, boundary.len() as u64);
        let (mut partition, mut offset) = (0i64, 0i64);
        for (&p, &o) in boundary {
            put_varint(&mut bytes, zigzag(i64::from(p) - partition));
            put_varint(&mut bytes, zigzag(o - offset));
            (partition, offset) = (i64::from(p), o);
        }
        // Road names hold no dots (`^[a-z][a-z0-9_]*$`).
        format!("{VERSION}.{road}.{}.", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The token after `key`, given the snapshot's [`ResumeToken::prefix`].
    pub fn after_key(prefix: &str, key: &[u8]) -> String {
        let mut token = String::with_capacity(prefix.len() + key.len() * 4 / 3 + 4);
        token.push_str(prefix);
        URL_SAFE_NO_PAD.encode_string(key, &mut token);
        token
    }

    pub fn decode(token: &str) -> Option<Self> {
        let parts: Vec<&str> = token.split('.').collect();
        let token = match parts.as_slice() {
            [VERSION, road, snapshot, key] => decode_2(road, snapshot, key),
            [VERSION_1, road, created, offsets, hex] => decode_1(road, created, offsets, hex),
            _ => None,
        }?;
        (!token.road.is_empty()).then_some(token)
    }
}

fn decode_2(road: &str, snapshot: &str, key: &str) -> Option<ResumeToken> {
    let bytes = URL_SAFE_NO_PAD.decode(snapshot).ok()?;
    let mut rest = bytes.as_slice();
    let road_created_ms = unzigzag(take_varint(&mut rest)?);
    let count = take_varint(&mut rest)?;
    let mut boundary = Offsets::new();
    let (mut partition, mut offset) = (0i64, 0i64);
    for _ in 0..count {
        partition = partition.checked_add(unzigzag(take_varint(&mut rest)?))?;
        offset = offset.checked_add(unzigzag(take_varint(&mut rest)?))?;
        if offset < 0 || boundary.insert(i32::try_from(partition).ok()?, offset).is_some() {
            return None;
        }
    }
    if !rest.is_empty() || partition < 0 {
        return None;
    }
    let after = URL_SAFE_NO_PAD.decode(key).ok()?;
    Some(ResumeToken { road: road.to_string(), road_created_ms, boundary, after })
}

/// A token of the first format: `s1.road.created.p:o,….hexkey`.
fn decode_1(road: &str, created: &str, offsets: &str, hex: &str) -> Option<ResumeToken> {
    let mut boundary = Offsets::new();
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
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    let after = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let road_created_ms = created.parse().ok()?;
    Some(ResumeToken { road: road.to_string(), road_created_ms, boundary, after })
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, n: u64) {
    prost::encoding::encode_varint(n, out);
}

fn take_varint(bytes: &mut &[u8]) -> Option<u64> {
    prost::encoding::decode_varint(bytes).ok()
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
        // A token of the first format still resumes.
        assert_eq!(
            ResumeToken::decode("s1.prices.1700.0:12,1:0,2:7.636c"),
            Some(ResumeToken {
                road: "prices".into(),
                road_created_ms: 1_700,
                boundary: Offsets::from([(0, 12), (1, 0), (2, 7)]),
                after: b"cl".to_vec()
            })
        );
        // It is much shorter than one naming the offsets in decimal.
        let wide: Offsets = (0..12).map(|p| (p, 250_000 + i64::from(p) * 917)).collect();
        let prefix = ResumeToken::prefix("bench_table", 1_765_000_000_000, &wide);
        assert!(prefix.len() < 80, "{prefix} is {} bytes", prefix.len());
        let token = ResumeToken::after_key(&prefix, b"key-000000001");
        assert_eq!(ResumeToken::decode(&token).map(|t| t.boundary), Some(wide));
        for junk in [
            "",
            "s2",
            "s2.r.1.0:1.61",
            "s2..AAA.YQ",
            "s2.r.AAE.YQ",
            "s2.r.AAIABAA.YQ",
            "s2.r.AAECAgI.YQ.x",
            "s3.r.AA.YQ",
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
