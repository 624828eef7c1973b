//! Bearer tokens: JWTs signed with an asymmetric key from a JWKS file.
//!
//! Refused before any key is looked at: `alg: none`, every HMAC algorithm
//! (a shared secret in a JWKS would let anyone who can read it mint
//! tokens), a header without a `kid`, and a `kid` the JWKS does not hold.
//! Then the signature, `iss`, `aud`, `exp` and `nbf` (with a leeway).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::Unauthenticated;
use super::reload::Reloading;

/// Algorithms a token may be signed with.
const ALLOWED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// How tokens are checked.
#[derive(Clone, Debug)]
pub struct JwtRules {
    pub issuer: String,
    pub audience: String,
    pub leeway: Duration,
    pub principal_claim: String,
    pub authorities_claim: String,
}

/// What a good token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub principal: String,
    pub authorities: BTreeSet<String>,
    pub expires_at: Option<SystemTime>,
}

/// The keys of a JWKS file, by `kid`.
struct Keys {
    by_kid: HashMap<String, (DecodingKey, Option<String>)>,
}

/// Verifies tokens against the keys of a JWKS file, re-read when it changes.
pub struct JwtVerifier {
    keys: Reloading<Keys>,
    rules: JwtRules,
}

impl JwtVerifier {
    pub fn new(jwks_file: &Path, rules: JwtRules) -> Result<Self, String> {
        Ok(Self { keys: Reloading::new(jwks_file, parse_jwks)?, rules })
    }

    pub fn verify(&self, token: &str) -> Result<Verified, Unauthenticated> {
        let alg = header_alg(token)?;
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| malformed(format!("the token header does not parse: {e}")))?;
        if !ALLOWED.contains(&header.alg) || header.alg != alg {
            return Err(not_allowed(&alg_name(token)));
        }
        let Some(kid) = header.kid.as_deref() else {
            return Err(Unauthenticated::new("UNKNOWN_KEY", "the token's header names no kid"));
        };
        let keys = self.keys.get();
        let Some((key, key_alg)) = keys.by_kid.get(kid) else {
            return Err(Unauthenticated::new(
                "UNKNOWN_KEY",
                format!("the token is signed by key {kid:?}, which the JWKS does not hold"),
            ));
        };
        if key_alg.as_deref().is_some_and(|a| a != format!("{:?}", header.alg)) {
            return Err(Unauthenticated::new(
                "ALGORITHM_NOT_ALLOWED",
                format!("key {kid:?} is not for {:?}", header.alg),
            ));
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.rules.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.rules.issuer]);
        validation.set_audience(&[&self.rules.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data =
            jsonwebtoken::decode::<Value>(token, key, &validation).map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => {
                    Unauthenticated::new("TOKEN_EXPIRED", "the token has expired")
                }
                ErrorKind::ImmatureSignature => {
                    Unauthenticated::new("TOKEN_NOT_YET_VALID", "the token is not valid yet (nbf)")
                }
                ErrorKind::InvalidSignature => Unauthenticated::new(
                    "BAD_SIGNATURE",
                    format!("the token's signature does not verify with key {kid:?}"),
                ),
                ErrorKind::InvalidIssuer => Unauthenticated::new(
                    "WRONG_ISSUER",
                    format!("the token's issuer is not {:?}", self.rules.issuer),
                ),
                ErrorKind::InvalidAudience => Unauthenticated::new(
                    "WRONG_AUDIENCE",
                    format!("the token is not for audience {:?}", self.rules.audience),
                ),
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    not_allowed(&alg_name(token))
                }
                ErrorKind::MissingRequiredClaim(c) => {
                    malformed(format!("the token has no {c} claim"))
                }
                _ => malformed(format!("the token does not verify: {e}")),
            })?;
        let claims = data.claims;
        let principal = match claims.get(&self.rules.principal_claim) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                return Err(malformed(format!(
                    "the token has no {} claim naming the principal",
                    self.rules.principal_claim
                )));
            }
        };
        let authorities = authorities(claims.get(&self.rules.authorities_claim));
        let expires_at = claims
            .get("exp")
            .and_then(Value::as_u64)
            .map(|exp| SystemTime::UNIX_EPOCH + Duration::from_secs(exp) + self.rules.leeway);
        Ok(Verified { principal, authorities, expires_at })
    }
}

/// A string, an array of strings, or space-separated names (as `scope`).
fn authorities(claim: Option<&Value>) -> BTreeSet<String> {
    match claim {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        Some(Value::Array(items)) => {
            items.iter().filter_map(Value::as_str).map(str::to_string).collect()
        }
        _ => BTreeSet::new(),
    }
}

fn malformed(message: String) -> Unauthenticated {
    Unauthenticated::new("MALFORMED_TOKEN", message)
}

fn not_allowed(alg: &str) -> Unauthenticated {
    Unauthenticated::new(
        "ALGORITHM_NOT_ALLOWED",
        format!(
            "tokens signed with {alg:?} are refused; use RS256, ES256, EdDSA or another \
             asymmetric algorithm"
        ),
    )
}

/// The header's `alg` as written, read before the library does, so that
/// `none` and HMAC are refused by name.
fn alg_name(token: &str) -> String {
    let Some(header) = token.split('.').next() else { return String::new() };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|v| v.get("alg").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default()
}

fn header_alg(token: &str) -> Result<Algorithm, Unauthenticated> {
    if token.split('.').count() != 3 {
        return Err(malformed("a token has three dot-separated parts".into()));
    }
    let name = alg_name(token);
    let alg = ALLOWED.iter().find(|a| format!("{a:?}") == name);
    match alg {
        Some(alg) => Ok(*alg),
        None if name.is_empty() => Err(malformed("the token header names no alg".into())),
        None => Err(not_allowed(&name)),
    }
}

fn parse_jwks(text: &str) -> Result<Keys, String> {
    let set: JwkSet = serde_json::from_str(text).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut by_kid = HashMap::new();
    for (i, jwk) in set.keys.iter().enumerate() {
        let Some(kid) = jwk.common.key_id.clone() else {
            return Err(format!("key {i} has no kid"));
        };
        if matches!(jwk.algorithm, jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)) {
            return Err(format!(
                "key {kid:?} is a shared secret (oct); only public keys are taken"
            ));
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("key {kid:?}: {e}"))?;
        let alg = jwk.common.key_algorithm.map(|a| format!("{a:?}"));
        by_kid.insert(kid, (key, alg));
    }
    Ok(Keys { by_kid })
}
