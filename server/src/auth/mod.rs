//! Who is calling, and what they may do.
//!
//! [`Authenticator`] turns what a call carries (a bearer token, HTTP Basic
//! credentials, a verified client certificate, or nothing) into a
//! [`Caller`]; [`Policy`] decides per road and action. Both know nothing of
//! gRPC: `grpc` reads the credentials from a request and puts the caller in
//! its extensions, and each domain asks the policy before it acts.

mod caller;
mod error;
pub mod grpc;
mod guard;
mod identities;
mod jwt;
mod passwords;
mod policy;
pub(crate) mod reload;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use ipnet::IpNet;

pub use caller::{Caller, Principal, Source};
pub use error::{Action, Denied, Unauthenticated};
pub use guard::Guard;
pub use identities::Identities;
pub use jwt::{JwtRules, JwtVerifier};
pub use passwords::Passwords;
pub use policy::{ANY, Policy, canonical};

/// Authentication and authorisation settings, validated.
#[derive(Clone, Debug, Default)]
pub struct AuthSettings {
    pub jwks_file: Option<PathBuf>,
    /// Required with `jwks_file`.
    pub jwt: Option<JwtRules>,
    pub passwords_file: Option<PathBuf>,
    pub identities_file: Option<PathBuf>,
    /// Client certificates are verified (`tls.client_ca_file` is set).
    pub client_certificates: bool,
    pub admin_authorities: Vec<String>,
    pub allow_anonymous: bool,
    pub anonymous_read: bool,
    pub trusted_proxies: Vec<IpNet>,
}

impl AuthSettings {
    /// Whether any way to prove an identity is configured. Without one the
    /// server is open (and serves loopback listeners only, unless
    /// `auth.allow_anonymous`).
    pub fn any_source(&self) -> bool {
        self.jwks_file.is_some() || self.passwords_file.is_some() || self.client_certificates
    }
}

/// What a call carries that can tell who made it.
#[derive(Clone, Debug, Default)]
pub struct Credentials<'a> {
    /// The `authorization` header or metadata.
    pub authorization: Option<&'a str>,
    /// The principal a verified client certificate names, or why it names
    /// none.
    pub certificate: Option<Result<String, String>>,
    /// The address of the connection's peer.
    pub peer: Option<IpAddr>,
    /// The peer is a trusted proxy whatever its address (the embedded
    /// gateway, in process).
    pub peer_trusted: bool,
    /// `X-Forwarded-For`, believed only from a trusted proxy.
    pub forwarded_for: Option<&'a str>,
}

/// Turns credentials into callers.
pub struct Authenticator {
    jwt: Option<JwtVerifier>,
    passwords: Option<Passwords>,
    identities: Option<Identities>,
    open: bool,
    allow_anonymous: bool,
    trusted_proxies: Vec<IpNet>,
}

/// Authentication and the policy, shared by every service.
#[derive(Clone)]
pub struct Auth {
    pub authenticator: Arc<Authenticator>,
    pub policy: Arc<Policy>,
}

impl Auth {
    /// Loads the files the settings name; a problem names the file.
    pub fn new(settings: &AuthSettings) -> Result<Self, String> {
        let open = !settings.any_source();
        let jwt = match (&settings.jwks_file, &settings.jwt) {
            (Some(file), Some(rules)) => Some(JwtVerifier::new(file, rules.clone())?),
            _ => None,
        };
        let passwords = settings.passwords_file.as_deref().map(Passwords::new).transpose()?;
        let identities = settings.identities_file.as_deref().map(Identities::new).transpose()?;
        let authenticator = Authenticator {
            jwt,
            passwords,
            identities,
            open,
            allow_anonymous: settings.allow_anonymous,
            trusted_proxies: settings.trusted_proxies.clone(),
        };
        let policy = if open {
            Policy::open()
        } else {
            Policy {
                open: false,
                admin_authorities: settings.admin_authorities.clone(),
                anonymous_read: settings.anonymous_read,
            }
        };
        Ok(Self { authenticator: Arc::new(authenticator), policy: Arc::new(policy) })
    }

    /// No authentication: every caller may do everything.
    pub fn open() -> Self {
        Self::new(&AuthSettings::default()).expect("the open configuration needs no files")
    }
}

/// How long the token of an open stream may still be used, at most; a
/// stream ends when its caller's token expires.
pub fn remaining(caller: &Caller) -> Option<Duration> {
    caller
        .expires_at
        .map(|at| at.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO))
}

impl Authenticator {
    /// The caller behind `credentials`. Credentials that are present must be
    /// good, even where anonymous callers are served: a bad token is never
    /// taken for no token.
    pub fn authenticate(&self, credentials: &Credentials<'_>) -> Result<Caller, Unauthenticated> {
        let addr = self.client_addr(credentials);
        if self.open {
            return Ok(Caller::anonymous(addr));
        }
        if let Some(value) = credentials.authorization {
            return self.authorization(value, addr);
        }
        match &credentials.certificate {
            Some(Ok(name)) => {
                let authorities =
                    self.identities.as_ref().map(|i| i.authorities(name)).unwrap_or_default();
                let principal =
                    Principal { name: name.clone(), authorities, source: Source::Certificate };
                return Ok(Caller { principal: Some(principal), addr, expires_at: None });
            }
            Some(Err(problem)) => {
                return Err(Unauthenticated::new("BAD_CERTIFICATE", problem.clone()));
            }
            None => {}
        }
        if self.allow_anonymous {
            return Ok(Caller::anonymous(addr));
        }
        Err(Unauthenticated::new(
            "NO_CREDENTIALS",
            "this server needs credentials: a bearer token, HTTP Basic or a client certificate",
        ))
    }

    fn authorization(&self, value: &str, addr: Option<IpAddr>) -> Result<Caller, Unauthenticated> {
        let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            let Some(jwt) = &self.jwt else {
                return Err(Unauthenticated::new(
                    "UNSUPPORTED_CREDENTIALS",
                    "this server takes no bearer tokens (auth.jwks_file is not set)",
                ));
            };
            let verified = jwt.verify(rest)?;
            let mut authorities = verified.authorities;
            if let Some(identities) = &self.identities {
                authorities.extend(identities.authorities(&verified.principal));
            }
            let principal =
                Principal { name: verified.principal, authorities, source: Source::Token };
            return Ok(Caller {
                principal: Some(principal),
                addr,
                expires_at: verified.expires_at,
            });
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let Some(passwords) = &self.passwords else {
                return Err(Unauthenticated::new(
                    "UNSUPPORTED_CREDENTIALS",
                    "this server takes no passwords (auth.passwords_file is not set)",
                ));
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    Unauthenticated::new(
                        "MALFORMED_CREDENTIALS",
                        "Basic credentials are not base64 of name:password",
                    )
                })?;
            let Some((name, password)) = decoded.split_once(':') else {
                return Err(Unauthenticated::new(
                    "MALFORMED_CREDENTIALS",
                    "Basic credentials are not name:password",
                ));
            };
            let mut authorities = passwords.verify(name, password)?;
            if let Some(identities) = &self.identities {
                authorities.extend(identities.authorities(name));
            }
            let principal =
                Principal { name: name.to_string(), authorities, source: Source::Password };
            return Ok(Caller { principal: Some(principal), addr, expires_at: None });
        }
        Err(Unauthenticated::new(
            "UNSUPPORTED_CREDENTIALS",
            format!("the authorization scheme {scheme:?} is not taken; use Bearer or Basic"),
        ))
    }

    /// The client's address: the peer's, or the nearest untrusted hop of
    /// `X-Forwarded-For` when the peer is a trusted proxy.
    fn client_addr(&self, credentials: &Credentials<'_>) -> Option<IpAddr> {
        let peer = credentials.peer.map(canonical);
        let trusted = |ip: IpAddr| self.trusted_proxies.iter().any(|net| net.contains(&ip));
        let peer_trusted = credentials.peer_trusted || peer.is_some_and(trusted);
        if !peer_trusted {
            return peer;
        }
        let Some(forwarded) = credentials.forwarded_for else { return peer };
        // Right to left: the last hop a trusted proxy added is the first one
        // not itself a trusted proxy.
        let mut client = peer;
        for hop in forwarded.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    let ip = canonical(ip);
                    client = Some(ip);
                    if !trusted(ip) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authenticator(trusted: &[&str]) -> Authenticator {
        Authenticator {
            jwt: None,
            passwords: None,
            identities: None,
            open: false,
            allow_anonymous: true,
            trusted_proxies: trusted.iter().map(|t| t.parse().expect("cidr")).collect(),
        }
    }

    fn addr(a: &Authenticator, peer: &str, forwarded: Option<&str>) -> Option<IpAddr> {
        let credentials = Credentials {
            peer: Some(peer.parse().expect("ip")),
            forwarded_for: forwarded,
            ..Credentials::default()
        };
        a.authenticate(&credentials).expect("anonymous").addr
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().expect("ip"));
        let none = authenticator(&[]);
        assert_eq!(addr(&none, "192.0.2.7", Some("10.1.2.3")), ip("192.0.2.7"));
        let trusted = authenticator(&["192.0.2.0/24"]);
        assert_eq!(addr(&trusted, "192.0.2.7", Some("10.1.2.3")), ip("10.1.2.3"));
        // Hops the trusted proxies added are skipped; a forged hop further
        // left is not believed.
        assert_eq!(
            addr(&trusted, "192.0.2.7", Some("6.6.6.6, 10.1.2.3, 192.0.2.8")),
            ip("10.1.2.3")
        );
        assert_eq!(addr(&trusted, "192.0.2.7", Some("garbage")), ip("192.0.2.7"));
        assert_eq!(addr(&trusted, "::ffff:192.0.2.7", Some("10.1.2.3")), ip("10.1.2.3"));
    }

    #[test]
    fn bad_credentials_are_never_taken_for_none() {
        let a = authenticator(&[]);
        let credentials = Credentials { authorization: Some("Bearer x.y.z"), ..Default::default() };
        let e = a.authenticate(&credentials).expect_err("no JWKS");
        assert_eq!(e.reason, "UNSUPPORTED_CREDENTIALS");
        let credentials =
            Credentials { certificate: Some(Err("no name".into())), ..Default::default() };
        assert_eq!(a.authenticate(&credentials).expect_err("bad cert").reason, "BAD_CERTIFICATE");
    }
}
