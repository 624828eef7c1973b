//! Authentication in front of a tonic service: the credentials of every
//! request (metadata and the connection's client certificate) become a
//! [`Caller`] in the request's extensions, or the request is answered
//! UNAUTHENTICATED before the service sees it.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::{Either, Ready, ready};
use roadroller_tls::PeerInfo;
use tonic::body::Body;
use tonic::codegen::Service;
use tonic::codegen::http::{Request as HttpRequest, Response as HttpResponse};
use tonic::server::NamedService;

use super::{Authenticator, Caller, Credentials};
use crate::audit::Audit;
use crate::grpc::status;

/// Wraps services with authentication.
#[derive(Clone)]
pub struct Authenticate {
    authenticator: Arc<Authenticator>,
    audit: Audit,
}

impl Authenticate {
    pub fn new(authenticator: Arc<Authenticator>, audit: Audit) -> Self {
        Self { authenticator, audit }
    }

    pub fn service<S>(&self, inner: S) -> Authenticated<S> {
        Authenticated { inner, gate: self.clone() }
    }
}

/// A service whose requests carry their [`Caller`].
#[derive(Clone)]
pub struct Authenticated<S> {
    inner: S,
    gate: Authenticate,
}

impl<S: NamedService> NamedService for Authenticated<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<HttpRequest<B>> for Authenticated<S>
where
    S: Service<HttpRequest<B>, Response = HttpResponse<Body>>,
{
    type Response = HttpResponse<Body>;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<HttpResponse<Body>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: HttpRequest<B>) -> Self::Future {
        let peer = request.extensions().get::<PeerInfo>().cloned().unwrap_or_default();
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
        let certificate = match peer.certs.as_ref().and_then(|chain| chain.first()) {
            Some(leaf) => Some(roadroller_tls::identity::principal(leaf)),
            // The in-process gateway vouches for its callers' certificates.
            None if peer.local => {
                header(roadroller_gateway::CLIENT_PRINCIPAL).map(|name| Ok(name.to_string()))
            }
            None => None,
        };
        let credentials = Credentials {
            authorization: header("authorization"),
            certificate,
            peer: peer.addr.map(|a| a.ip()),
            peer_trusted: peer.local,
            forwarded_for: header("x-forwarded-for"),
        };
        match self.gate.authenticator.authenticate(&credentials) {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                Either::Left(self.inner.call(request))
            }
            Err(refused) => {
                let method = request.uri().path().to_string();
                self.gate.audit.denied(
                    "unauthenticated",
                    &method,
                    method.clone(),
                    refused.to_string(),
                );
                Either::Right(ready(Ok(status(&refused).into_http())))
            }
        }
    }
}

/// The caller of a request that passed [`Authenticated`]; anonymous when
/// the service was not wrapped (the policy then decides what it may do).
pub fn caller<T>(request: &tonic::Request<T>) -> Caller {
    request.extensions().get::<Caller>().cloned().unwrap_or_else(|| Caller::anonymous(None))
}
