//! The policy as the domains use it: every refusal is also an audit event,
//! and every administrative change can be recorded with its caller.

use std::sync::Arc;

use super::{Action, Caller, Denied, Policy};
use crate::audit::Audit;
use crate::roads::{Grant, Road};

/// The policy and the audit trail, shared by every domain.
#[derive(Clone)]
pub struct Guard {
    policy: Arc<Policy>,
    audit: Audit,
}

impl Guard {
    pub fn new(policy: Arc<Policy>, audit: Audit) -> Self {
        Self { policy, audit }
    }

    /// Everything allowed, nothing recorded beyond the log: for tools and
    /// tests that build a domain without a server.
    pub fn open() -> Self {
        Self::new(Arc::new(Policy::open()), Audit::log_only())
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    fn check(&self, decision: Result<(), Denied>) -> Result<(), Denied> {
        if let Err(denied) = &decision {
            self.audit.denied(
                &denied.who,
                denied.action.as_str(),
                format!("road/{}", denied.road),
                denied.to_string(),
            );
        }
        decision
    }

    /// `road` is `None` when it does not exist or does not matter.
    pub fn read(&self, caller: &Caller, name: &str, road: Option<&Road>) -> Result<(), Denied> {
        self.check(self.policy.read(caller, name, road))
    }

    pub fn create(&self, caller: &Caller, road: &str) -> Result<(), Denied> {
        self.check(self.policy.create(caller, road))
    }

    pub fn administer(
        &self,
        caller: &Caller,
        action: Action,
        name: &str,
        road: Option<&Road>,
    ) -> Result<(), Denied> {
        self.check(self.policy.administer(caller, action, name, road))
    }

    pub fn produce(&self, caller: &Caller, name: &str, road: Option<&Road>) -> Result<(), Denied> {
        self.check(self.policy.produce(caller, name, road))
    }

    pub fn subscribe(
        &self,
        caller: &Caller,
        name: &str,
        road: Option<&Road>,
        wanted: &[Grant],
    ) -> Result<(), Denied> {
        self.check(self.policy.subscribe(caller, name, road, wanted))
    }

    /// Records an administrative change that was made.
    pub fn changed(&self, caller: &Caller, action: Action, resource: String, what: String) {
        self.audit.changed(caller, action, resource, what);
    }

    /// Records a refusal decided outside the policy (an expired token).
    pub fn refused(&self, caller: &Caller, action: Action, resource: String, why: String) {
        self.audit.denied(caller.name(), action.as_str(), resource, why);
    }
}
