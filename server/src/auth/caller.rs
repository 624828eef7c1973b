//! Who is calling: a principal with its authorities, or nobody in
//! particular, and from where.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::SystemTime;

/// An authenticated identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    /// Group names; a road's rules name these (or the principal itself).
    pub authorities: BTreeSet<String>,
    pub source: Source,
}

/// How a principal proved who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Certificate,
    Token,
    Password,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Certificate => "certificate",
            Source::Token => "token",
            Source::Password => "password",
        }
    }
}

/// The caller of one call or stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// `None`: anonymous.
    pub principal: Option<Principal>,
    /// The client's address, after a trusted proxy's `X-Forwarded-For`.
    pub addr: Option<IpAddr>,
    /// When the credentials stop being valid (a token's `exp`); a stream
    /// ends then.
    pub expires_at: Option<SystemTime>,
}

impl Caller {
    /// An anonymous caller at `addr`.
    pub fn anonymous(addr: Option<IpAddr>) -> Self {
        Self { principal: None, addr, expires_at: None }
    }

    /// The principal's name, or `anonymous`, for messages and audit events.
    pub fn name(&self) -> &str {
        self.principal.as_ref().map_or("anonymous", |p| p.name.as_str())
    }

    /// Whether the caller holds `authority`: one of its authorities, or its
    /// own name.
    pub fn holds(&self, authority: &str) -> bool {
        self.principal
            .as_ref()
            .is_some_and(|p| p.name == authority || p.authorities.contains(authority))
    }
}
