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
//!   a right to produce to or subscribe to the road, or `auth.anonymous_read`.
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

    /// Reading road documents and schemas. A caller who may produce to or
    /// subscribe to `road` may read it too: its type and schema are what a
    /// client needs to use it (the gateway shapes records by the type).
    pub fn read(&self, caller: &Caller, name: &str, road: Option<&Road>) -> Result<(), Denied> {
        if self.open || self.anonymous_read || caller.principal.is_some() {
            return Ok(());
        }
        let user = road.is_some_and(|r| {
            self.produce(caller, name, Some(r)).is_ok() || !self.grants(caller, r).is_empty()
        });
        if user {
            return Ok(());
        }
        Err(self.denied(
            caller,
            Action::ReadRoad,
            name,
            "reading roads needs an authenticated principal, or a right to use the road",
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

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::auth::{Principal, Source};
    use crate::roads::{Authorisation, OfframpAuthorisation, OnrampAuthorisation};

    fn caller(name: &str, authorities: &[&str]) -> Caller {
        let principal = Principal {
            name: name.into(),
            authorities: authorities.iter().map(|a| a.to_string()).collect(),
            source: Source::Token,
        };
        Caller { principal: Some(principal), addr: None, expires_at: None }
    }

    fn anonymous(addr: &str) -> Caller {
        Caller::anonymous(Some(addr.parse().expect("ip")))
    }

    fn road(authorisation: Authorisation) -> Road {
        let json = serde_json::json!({"name": "r", "type": "STREAM", "retention_ms": 1,
            "partitions": 1, "compatibility": "NONE", "create_time_ms": 0, "update_time_ms": 0});
        let mut road: Road = serde_json::from_value(json).expect("a road");
        road.authorisation = authorisation;
        road
    }

    fn policy(admins: &[&str]) -> Policy {
        Policy {
            open: false,
            admin_authorities: admins.iter().map(|a| a.to_string()).collect(),
            anonymous_read: false,
        }
    }

    #[test]
    fn a_star_admin_is_any_authenticated_principal_never_an_anonymous_one() {
        let p = policy(&[ANY]);
        assert!(p.is_admin(&caller("anyone", &[])));
        assert!(!p.is_admin(&anonymous("127.0.0.1")));
        let p = policy(&["platform"]);
        assert!(p.is_admin(&caller("x", &["platform"])));
        // A principal's own name counts as an authority.
        assert!(p.is_admin(&caller("platform", &[])));
        assert!(!p.is_admin(&caller("x", &["platforms"])));
    }

    #[test]
    fn a_star_on_a_road_admits_anonymous_callers_with_public_only() {
        let offramp = OfframpAuthorisation {
            authorities: BTreeMap::from([(
                ANY.to_string(),
                BTreeSet::from([Grant::Public, Grant::Pii]),
            )]),
        };
        let r = road(Authorisation { offramp, ..Default::default() });
        let p = policy(&[]);
        assert!(p.subscribe(&anonymous("10.0.0.1"), "r", Some(&r), &[Grant::Public]).is_ok());
        let denied = p.subscribe(&anonymous("10.0.0.1"), "r", Some(&r), &[Grant::Pii]);
        assert!(denied.expect_err("no PII").missing.contains("PII"));
        assert!(p.subscribe(&caller("bob", &[]), "r", Some(&r), &[Grant::Pii]).is_ok());
    }

    #[test]
    fn cidr_blocks_admit_anonymous_producers_only() {
        let onramp =
            OnrampAuthorisation { authorities: vec![], cidr_blocks: vec!["10.0.0.0/8".into()] };
        let r = road(Authorisation { onramp, ..Default::default() });
        let p = policy(&[]);
        assert!(p.produce(&anonymous("10.1.2.3"), "r", Some(&r)).is_ok());
        // An IPv4 client seen through an IPv6 socket is the same client.
        assert!(p.produce(&anonymous("::ffff:10.1.2.3"), "r", Some(&r)).is_ok());
        assert!(p.produce(&anonymous("192.168.0.1"), "r", Some(&r)).is_err());
        // A principal is judged by its authorities, not its address.
        let mut bob = caller("bob", &[]);
        bob.addr = Some("10.1.2.3".parse().expect("ip"));
        assert!(p.produce(&bob, "r", Some(&r)).is_err());
    }

    #[test]
    fn a_missing_road_is_refused_as_an_existing_one() {
        let p = policy(&[]);
        let r = road(Authorisation::default());
        let bob = caller("bob", &[]);
        let on_missing = p.produce(&bob, "r", None).expect_err("no road");
        let on_existing = p.produce(&bob, "r", Some(&r)).expect_err("no right");
        assert_eq!(on_missing, on_existing);
        let on_missing = p.administer(&bob, Action::ChangeRoad, "r", None).expect_err("no road");
        let on_existing = p.administer(&bob, Action::ChangeRoad, "r", Some(&r)).expect_err("no");
        assert_eq!(on_missing, on_existing);
    }

    #[test]
    fn reading_needs_a_principal_unless_anonymous_reading_is_on() {
        let mut p = policy(&[]);
        assert!(p.read(&anonymous("127.0.0.1"), "r", None).is_err());
        assert!(p.read(&caller("bob", &[]), "r", None).is_ok());
        p.anonymous_read = true;
        assert!(p.read(&anonymous("127.0.0.1"), "r", None).is_ok());
        assert!(Policy::open().create(&anonymous("127.0.0.1"), "r").is_ok());
    }

    #[test]
    fn a_caller_who_may_use_a_road_may_read_it_and_no_other() {
        let onramp =
            OnrampAuthorisation { authorities: vec![], cidr_blocks: vec!["10.0.0.0/8".into()] };
        let r = road(Authorisation { onramp, ..Default::default() });
        let p = policy(&[]);
        // The gateway reads the road's type before it produces for them.
        assert!(p.read(&anonymous("10.1.2.3"), "r", Some(&r)).is_ok());
        assert!(p.read(&anonymous("192.168.0.1"), "r", Some(&r)).is_err());
        // A missing road reads the same as one the caller may not use.
        let missing = p.read(&anonymous("10.1.2.3"), "r", None).expect_err("no road");
        let other = p.read(&anonymous("192.168.0.1"), "r", Some(&r)).expect_err("no right");
        assert_eq!(missing, other);
        let offramp = OfframpAuthorisation {
            authorities: BTreeMap::from([(ANY.to_string(), BTreeSet::from([Grant::Public]))]),
        };
        let public = road(Authorisation { offramp, ..Default::default() });
        assert!(p.read(&anonymous("192.168.0.1"), "r", Some(&public)).is_ok());
    }
}
