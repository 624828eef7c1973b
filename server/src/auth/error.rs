//! The two ways a call is refused for who made it.

use crate::error::{Code, ErrorReport, Reportable};

/// The credentials are missing, malformed or not good (any more). The reason
/// is stable: `NO_CREDENTIALS`, `MALFORMED_TOKEN`, `ALGORITHM_NOT_ALLOWED`,
/// `UNKNOWN_KEY`, `BAD_SIGNATURE`, `TOKEN_EXPIRED`, `TOKEN_NOT_YET_VALID`,
/// `WRONG_ISSUER`, `WRONG_AUDIENCE`, `BAD_PASSWORD` (also for an unknown user),
/// `UNSUPPORTED_CREDENTIALS`, `BAD_CERTIFICATE`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Unauthenticated {
    pub reason: &'static str,
    pub message: String,
}

impl Unauthenticated {
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self { reason, message: message.into() }
    }
}

impl Reportable for Unauthenticated {
    fn report(&self) -> ErrorReport {
        ErrorReport::new(Code::Unauthenticated, self.reason, self.message.clone())
    }
}

/// What a caller asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    CreateRoad,
    ReadRoad,
    ChangeRoad,
    DeleteRoad,
    RegisterSchema,
    DeleteSchema,
    Produce,
    Subscribe,
}

impl Action {
    /// A stable name, for audit events and error details.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::CreateRoad => "road.create",
            Action::ReadRoad => "road.read",
            Action::ChangeRoad => "road.update",
            Action::DeleteRoad => "road.delete",
            Action::RegisterSchema => "schema.register",
            Action::DeleteSchema => "schema.delete",
            Action::Produce => "onramp.produce",
            Action::Subscribe => "offramp.subscribe",
        }
    }

    fn phrase(self) -> &'static str {
        match self {
            Action::CreateRoad => "create road",
            Action::ReadRoad => "read road",
            Action::ChangeRoad => "change road",
            Action::DeleteRoad => "delete road",
            Action::RegisterSchema => "register a schema on road",
            Action::DeleteSchema => "delete a schema of road",
            Action::Produce => "produce to road",
            Action::Subscribe => "subscribe to road",
        }
    }
}

/// The caller may not do what it asked. The message is the same whether or
/// not the road exists, so that names cannot be probed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{who} may not {} \"{road}\": {missing}", action.phrase())]
pub struct Denied {
    pub who: String,
    pub action: Action,
    pub road: String,
    /// The authority or grant that is missing, as a phrase.
    pub missing: String,
}

impl Reportable for Denied {
    fn report(&self) -> ErrorReport {
        let mut report =
            ErrorReport::new(Code::PermissionDenied, "PERMISSION_DENIED", self.to_string());
        report.metadata = vec![
            ("action".into(), self.action.as_str().into()),
            ("road".into(), self.road.clone()),
            ("missing".into(), self.missing.clone()),
        ];
        report
    }
}
