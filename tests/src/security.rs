//! Identities made inside the tests: a CA with server and client
//! certificates, a JWKS with signing keys and the tokens they sign, and a
//! password file, all written to a temporary directory. Nothing that
//! expires is committed.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use roadroller_server::auth::{AuthSettings, JwtRules};
use roadroller_server::config::{Settings, TlsFiles};
use serde_json::json;

/// The issuer and audience every test token names.
pub const ISSUER: &str = "https://issuer.test";
pub const AUDIENCE: &str = "roadroller";

/// Signing keys and the JWKS that publishes some of them.
pub struct Tokens {
    /// ES256, published as `k1`.
    signer: KeyPair,
    /// Ed25519, published as `k3`.
    edwards: KeyPair,
    /// ES256, never published.
    stranger: KeyPair,
}

/// A certificate or key as PEM.
#[derive(Clone, Debug)]
pub struct Pem {
    pub cert: String,
    pub key: String,
}

impl Default for Tokens {
    fn default() -> Self {
        Self::new()
    }
}

impl Tokens {
    pub fn new() -> Self {
        let ec = || KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("EC key");
        let edwards = KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("Ed25519 key");
        Self { signer: ec(), edwards, stranger: ec() }
    }

    /// The JWKS: `k1` (ES256) and `k3` (EdDSA).
    pub fn jwks(&self) -> String {
        let point = self.signer.public_key_raw();
        let (x, y) = (&point[1..33], &point[33..65]);
        json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
             "x": B64.encode(x), "y": B64.encode(y)},
            {"kty": "OKP", "crv": "Ed25519", "kid": "k3", "alg": "EdDSA", "use": "sig",
             "x": B64.encode(self.edwards.public_key_raw())},
        ]})
        .to_string()
    }

    fn claims(sub: &str, groups: &[&str], exp_in: i64) -> serde_json::Value {
        let now = now();
        json!({"sub": sub, "groups": groups, "iss": ISSUER, "aud": AUDIENCE,
               "iat": now, "nbf": now - 5, "exp": now + exp_in})
    }

    fn sign(key: &KeyPair, alg: Algorithm, kid: &str, claims: &serde_json::Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(kid.to_string());
        let der = key.serialize_der();
        let encoding = match alg {
            Algorithm::EdDSA => EncodingKey::from_ed_der(&der),
            _ => EncodingKey::from_ec_der(&der),
        };
        jsonwebtoken::encode(&header, claims, &encoding).expect("token")
    }

    /// A good ES256 token for `sub` in `groups`, valid for ten minutes.
    pub fn token(&self, sub: &str, groups: &[&str]) -> String {
        self.token_for(sub, groups, 600)
    }

    /// A good ES256 token that expires in `exp_in` seconds (negative: ago).
    pub fn token_for(&self, sub: &str, groups: &[&str], exp_in: i64) -> String {
        Self::sign(&self.signer, Algorithm::ES256, "k1", &Self::claims(sub, groups, exp_in))
    }

    /// A good EdDSA token.
    pub fn eddsa(&self, sub: &str, groups: &[&str]) -> String {
        Self::sign(&self.edwards, Algorithm::EdDSA, "k3", &Self::claims(sub, groups, 600))
    }

    /// Expired an hour ago.
    pub fn expired(&self, sub: &str, groups: &[&str]) -> String {
        self.token_for(sub, groups, -3600)
    }

    /// Signed by a key the JWKS does not hold, under a kid it does not hold.
    pub fn unknown_key(&self, sub: &str, groups: &[&str]) -> String {
        Self::sign(&self.stranger, Algorithm::ES256, "k2", &Self::claims(sub, groups, 600))
    }

    /// Signed by a stranger's key under the published kid.
    pub fn forged(&self, sub: &str, groups: &[&str]) -> String {
        Self::sign(&self.stranger, Algorithm::ES256, "k1", &Self::claims(sub, groups, 600))
    }

    /// For another audience.
    pub fn wrong_audience(&self, sub: &str, groups: &[&str]) -> String {
        let mut claims = Self::claims(sub, groups, 600);
        claims["aud"] = json!("someone-else");
        Self::sign(&self.signer, Algorithm::ES256, "k1", &claims)
    }

    /// `alg: none`, no signature: any claims at all.
    pub fn alg_none(&self, sub: &str, groups: &[&str]) -> String {
        let header = json!({"alg": "none", "typ": "JWT", "kid": "k1"}).to_string();
        let claims = Self::claims(sub, groups, 600).to_string();
        format!("{}.{}.", B64.encode(header), B64.encode(claims))
    }

    /// HS256 with the published kid, keyed by the JWKS's own text (the
    /// classic key-confusion attack).
    pub fn hmac(&self, sub: &str, groups: &[&str]) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let key = EncodingKey::from_secret(self.jwks().as_bytes()).expect("secret");
        jsonwebtoken::encode(&header, &Self::claims(sub, groups, 600), &key).expect("token")
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A CA and the certificates it signs.
pub struct Pki {
    issuer: Issuer<'static, KeyPair>,
    pub ca_pem: String,
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

impl Pki {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, "Roadroller test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        Self { ca_pem: cert.pem(), issuer: Issuer::new(params, key) }
    }

    /// A server certificate for `localhost`, 127.0.0.1 and 127.0.0.2.
    pub fn server(&self) -> Pem {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string()]).expect("server params");
        params.subject_alt_names.push(SanType::IpAddress([127, 0, 0, 1].into()));
        params.subject_alt_names.push(SanType::IpAddress([127, 0, 0, 2].into()));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params)
    }

    /// A client certificate naming `uri` as a SAN URI, or (`None`) only
    /// the common name `cn`.
    pub fn client(&self, uri: Option<&str>, cn: &str) -> Pem {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        params.distinguished_name.push(DnType::CommonName, cn);
        if let Some(uri) = uri {
            params.subject_alt_names.push(SanType::URI(uri.try_into().expect("uri")));
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }

    fn sign(&self, params: CertificateParams) -> Pem {
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        Pem { cert: cert.pem(), key: key.serialize_pem() }
    }
}

/// An argon2 hash of `password`, as a password file holds it.
pub fn argon2_hash(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(b"roadroller-tests").expect("salt");
    argon2::Argon2::default().hash_password(password.as_bytes(), &salt).expect("hash").to_string()
}

/// Files of a secured server, in a directory that lives as long as this.
pub struct Secured {
    dir: tempfile::TempDir,
    pub tokens: Tokens,
    pub pki: Pki,
}

impl Default for Secured {
    fn default() -> Self {
        Self::new()
    }
}

impl Secured {
    /// Keys, certificates, a JWKS, a server certificate and an identities
    /// file mapping `spiffe://test/ns/shop/*` to `writers`.
    pub fn new() -> Self {
        let secured = Self {
            dir: tempfile::tempdir().expect("tempdir"),
            tokens: Tokens::new(),
            pki: Pki::new(),
        };
        let server = secured.pki.server();
        secured.write("jwks.json", &secured.tokens.jwks());
        secured.write("ca.pem", &secured.pki.ca_pem);
        secured.write("server.pem", &server.cert);
        secured.write("server.key", &server.key);
        secured.write("identities.toml", "\"spiffe://test/ns/shop/*\" = [\"writers\"]\n");
        secured
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    /// Server TLS with client certificates verified (not required).
    pub fn tls(&self) -> TlsFiles {
        TlsFiles {
            cert_file: self.path("server.pem"),
            key_file: self.path("server.key"),
            client_ca_file: Some(self.path("ca.pem")),
            require_client_cert: false,
        }
    }

    /// JWT, mTLS identities, and `platform` as the admin authority; a zero
    /// leeway, so that expiry is exact.
    pub fn auth(&self) -> AuthSettings {
        AuthSettings {
            jwks_file: Some(self.path("jwks.json")),
            jwt: Some(JwtRules {
                issuer: ISSUER.into(),
                audience: AUDIENCE.into(),
                leeway: Duration::ZERO,
                principal_claim: "sub".into(),
                authorities_claim: "groups".into(),
            }),
            identities_file: Some(self.path("identities.toml")),
            client_certificates: true,
            admin_authorities: vec!["platform".into()],
            ..AuthSettings::default()
        }
    }

    /// Applies TLS and authentication to `settings`.
    pub fn apply(&self, settings: &mut Settings) {
        settings.tls = Some(self.tls());
        settings.auth = self.auth();
    }
}
