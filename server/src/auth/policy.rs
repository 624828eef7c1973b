//! What a caller may do: Data Highway's model plus road administrators.
//!
//! - Server admins (`auth.admin_authorities`; `*` means any authenticated
//!   principal) may do everything, PII included.
//! - A road's `admins` may change it and its schemas, and delete it.
//! - Its onramp authorities may produce; so may anonymous callers whose
//!   address is in its onramp CIDR blocks.
//! - Its offramp authorities map to the grants they hold; a subscriber must
//!   hold every grant it asks for, and anonymous subscribers hold PUBLIC at
//!   most.
//! - In a road's rules `*` matches every caller the server admits.
//! - Reading road documents and schemas takes an authenticated principal,
//!   or any caller with `auth.anonymous_read`.
//!
//! With no authentication configured at all the server is open: it serves
//! only loopback listeners (or says `auth.allow_anonymous`), and every
//! caller may do everything, as before there were identities.
//!
//! Every refusal reads the same whether or not the road exists.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;

use super::{Action, Caller, Denied};
use crate::roads::{Grant, Road};

/// Matches every caller in a road's rules, and every authenticated one in
/// `auth.admin_authorities`.
pub const ANY: &str = "*";

/// The decisions.
#[derive(Clone, Debug)]
pub struct Policy {
    /// No authentication is configured: everything is allowed.
    pub open: bool,
    pub admin_authorities: Vec<String>,
    pub anonymous_read: bool,
}

impl Policy {
    /// The open policy of a server without authentication.
    pub fn open() -> Self {
        Self { open: true, admin_authorities: Vec::new(), anonymous_read: true }
    }

    pub fn is_admin(&self, caller: &Caller) -> bool {
        self.open
            || caller.principal.is_some()
                && self.admin_authorities.iter().any(|a| a == ANY || caller.holds(a))
    }

    fn denied(&self, caller: &Caller, action: Action, road: &str, missing: &str) -> Denied {
        Denied {
            who: caller.name().to_string(),
            action,
            road: road.to_string(),
            missing: missing.to_string(),
        }
    }

    /// Reading road documents and schemas.
    pub fn read(&self, caller: &Caller, road: &str) -> Result<(), Denied> {
        if self.open || self.anonymous_read || caller.principal.is_some() {
            return Ok(());
        }
        Err(self.denied(
            caller,
            Action::ReadRoad,
            road,
            "reading roads needs an authenticated principal",
        ))
    }

    /// Creating a road: server admins only.
    pub fn create(&self, caller: &Caller, road: &str) -> Result<(), Denied> {
        if self.is_admin(caller) {
            return Ok(());
        }
        Err(self.denied(
            caller,
            Action::CreateRoad,
            road,
            "creating roads needs an admin authority",
        ))
    }

    /// Changing a road or its schemas, or deleting it: server admins and
    /// the road's admins. `road` is `None` when it does not exist.
    pub fn administer(
        &self,
        caller: &Caller,
        action: Action,
        name: &str,
        road: Option<&Road>,
    ) -> Result<(), Denied> {
        let road_admin = road
            .is_some_and(|r| r.authorisation.admins.iter().any(|a| a == ANY || caller.holds(a)));
        if self.is_admin(caller) || road_admin {
            return Ok(());
        }
        Err(self.denied(caller, action, name, "it needs an admin authority of the road"))
    }

    /// Producing.
    pub fn produce(&self, caller: &Caller, name: &str, road: Option<&Road>) -> Result<(), Denied> {
        if self.is_admin(caller) {
            return Ok(());
        }
        let allowed = road.is_some_and(|r| {
            let onramp = &r.authorisation.onramp;
            onramp.authorities.iter().any(|a| a == ANY || caller.holds(a))
                || caller.principal.is_none()
                    && caller.addr.is_some_and(|addr| in_blocks(addr, &onramp.cidr_blocks))
        });
        if allowed {
            return Ok(());
        }
        Err(self.denied(caller, Action::Produce, name, "it needs an onramp authority of the road"))
    }

    /// Subscribing with `wanted` grants (PUBLIC when none are named).
    pub fn subscribe(
        &self,
        caller: &Caller,
        name: &str,
        road: Option<&Road>,
        wanted: &[Grant],
    ) -> Result<(), Denied> {
        if self.is_admin(caller) {
            return Ok(());
        }
        let held = road.map(|r| self.grants(caller, r)).unwrap_or_default();
        if held.is_empty() {
            return Err(self.denied(
                caller,
                Action::Subscribe,
                name,
                "it needs an offramp authority of the road",
            ));
        }
        let missing: Vec<&str> = wanted
            .iter()
            .filter(|g| !held.contains(g))
            .map(|g| match g {
                Grant::Public => "PUBLIC",
                Grant::Pii => "PII",
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(self.denied(
            caller,
            Action::Subscribe,
            name,
            &format!("it does not hold the grant {}", missing.join(", ")),
        ))
    }

    /// The grants `caller` holds on `road` through its offramp authorities;
    /// empty when none matches. Anonymous callers hold PUBLIC at most.
    fn grants(&self, caller: &Caller, road: &Road) -> BTreeSet<Grant> {
        let mut held = BTreeSet::new();
        for (authority, grants) in &road.authorisation.offramp.authorities {
            if authority == ANY || caller.holds(authority) {
                held.insert(Grant::Public);
                held.extend(grants.iter().copied());
            }
        }
        if caller.principal.is_none() {
            held.retain(|g| *g == Grant::Public);
        }
        held
    }
}

fn in_blocks(addr: IpAddr, blocks: &[String]) -> bool {
    let addr = canonical(addr);
    blocks.iter().filter_map(|b| b.parse::<IpNet>().ok()).any(|net| net.contains(&addr))
}

/// An IPv4 address mapped into IPv6 matches IPv4 blocks.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}
