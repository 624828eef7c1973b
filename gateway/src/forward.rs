//! Who the gateway speaks for: the caller's credentials and address travel
//! with every gRPC call it makes, and the server decides. The gateway
//! itself authorises nothing.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use roadroller_tls::PeerInfo;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;

use crate::Gateway;

/// The metadata that names the principal of the client certificate a
/// caller presented to the gateway. The server believes it only from its
/// own in-process gateway; a standalone gateway's callers authenticate with
/// a token or a password.
pub const CLIENT_PRINCIPAL: &str = "x-roadroller-client-principal";

/// The caller's `authorization` and the address chain for
/// `x-forwarded-for`, added to every request to the upstream.
#[derive(Clone, Debug, Default)]
pub struct Forward {
    authorization: Option<AsciiMetadataValue>,
    forwarded_for: Option<AsciiMetadataValue>,
    client_principal: Option<AsciiMetadataValue>,
}

impl Forward {
    /// From an HTTP request's parts: its `Authorization` header, and its
    /// `X-Forwarded-For` with the peer's address appended (the server
    /// believes the chain only when it trusts the gateway).
    pub fn from_parts(parts: &Parts) -> Self {
        let authorization = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| MetadataValue::try_from(v).ok());
        let info = parts.extensions.get::<ConnectInfo<PeerInfo>>().map(|info| &info.0);
        let peer = info.and_then(|info| info.addr).map(|addr| addr.ip().to_string());
        let client_principal = info
            .and_then(|info| info.certs.as_ref())
            .and_then(|chain| chain.first())
            .and_then(|leaf| roadroller_tls::identity::principal(leaf).ok())
            .and_then(|name| MetadataValue::try_from(name.as_str()).ok());
        let earlier = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        let chain = match (earlier, peer) {
            (Some(earlier), Some(peer)) => Some(format!("{earlier}, {peer}")),
            (None, Some(peer)) => Some(peer),
            (Some(earlier), None) => Some(earlier.to_string()),
            (None, None) => None,
        };
        let forwarded_for = chain.and_then(|c| MetadataValue::try_from(c.as_str()).ok());
        Self { authorization, forwarded_for, client_principal }
    }
}

impl Interceptor for Forward {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let metadata = request.metadata_mut();
        if let Some(value) = &self.authorization {
            metadata.insert("authorization", value.clone());
        }
        if let Some(value) = &self.forwarded_for {
            metadata.insert("x-forwarded-for", value.clone());
        }
        if let Some(value) = &self.client_principal {
            metadata.insert(CLIENT_PRINCIPAL, value.clone());
        }
        Ok(request)
    }
}

/// The gateway, speaking for the caller of this request: every handler
/// takes it instead of the bare state.
pub struct Calling(pub Gateway);

impl FromRequestParts<Gateway> for Calling {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        gateway: &Gateway,
    ) -> Result<Self, Self::Rejection> {
        let forward = Forward::from_parts(parts);
        Ok(Calling(Gateway { upstream: gateway.upstream.forwarding(forward), ..gateway.clone() }))
    }
}
