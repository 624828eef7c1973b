//! Channel configuration: timeouts, TLS, and the credentials every call
//! carries.

use std::time::Duration;

use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Channel, Endpoint};

use crate::Error;

/// What every call sends to prove who makes it: a bearer token, or
/// nothing. (A client certificate is part of the TLS settings.)
#[derive(Clone, Default)]
pub struct Credentials {
    authorization: Option<AsciiMetadataValue>,
}

impl std::fmt::Debug for Credentials {
    /// Never shows the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = if self.authorization.is_some() { "Bearer [redacted]" } else { "none" };
        f.debug_struct("Credentials").field("authorization", &shown).finish()
    }
}

impl Credentials {
    /// `authorization: Bearer <token>` on every call.
    pub fn bearer(token: &str) -> Result<Self, Error> {
        let value = format!("Bearer {}", token.trim())
            .parse()
            .map_err(|_| Error::Credentials { reason: "a token must be printable ASCII".into() })?;
        Ok(Self { authorization: Some(value) })
    }
}

impl tonic::service::Interceptor for Credentials {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.authorization {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// How to reach the server.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub connect_timeout: Duration,
    /// TCP and HTTP/2 keep-alive, so a dead peer is noticed on long streams.
    pub keep_alive: Duration,
    /// TLS settings for `https://` endpoints. `None` uses the webpki roots
    /// when the endpoint is `https://`.
    #[cfg(feature = "tls")]
    pub tls: Option<tonic::transport::ClientTlsConfig>,
    /// Sent with every call.
    pub credentials: Credentials,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            keep_alive: Duration::from_secs(30),
            #[cfg(feature = "tls")]
            tls: None,
            credentials: Credentials::default(),
        }
    }
}

impl ConnectOptions {
    /// Trusts a CA given as PEM, for servers with a private certificate.
    #[cfg(feature = "tls")]
    pub fn with_ca_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        let ca = tonic::transport::Certificate::from_pem(pem);
        let tls = self.tls.take().unwrap_or_default();
        self.tls = Some(tls.ca_certificate(ca));
        self
    }

    /// Presents a client certificate (PEM chain and key) for mutual TLS.
    #[cfg(feature = "tls")]
    pub fn with_client_cert_pem(mut self, cert: impl AsRef<[u8]>, key: impl AsRef<[u8]>) -> Self {
        let identity = tonic::transport::Identity::from_pem(cert, key);
        let tls = self
            .tls
            .take()
            .unwrap_or_else(|| tonic::transport::ClientTlsConfig::new().with_webpki_roots());
        self.tls = Some(tls.identity(identity));
        self
    }

    /// Sends `token` as a bearer token with every call.
    pub fn with_token(mut self, token: &str) -> Result<Self, Error> {
        self.credentials = Credentials::bearer(token)?;
        Ok(self)
    }

    pub(crate) fn credentials(&self) -> Credentials {
        self.credentials.clone()
    }

    pub(crate) fn endpoint(&self, url: String) -> Result<Endpoint, Error> {
        let url = with_scheme(url);
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| Error::Endpoint { endpoint: url.clone(), reason: e.to_string() })?
            .connect_timeout(self.connect_timeout)
            .tcp_keepalive(Some(self.keep_alive))
            .http2_keep_alive_interval(self.keep_alive)
            .keep_alive_while_idle(true)
            // Let the server send a batch of records in a few large frames:
            // at HTTP/2's default 16 KiB it writes and this client reads
            // once per frame.
            .max_frame_size(MAX_FRAME_BYTES);
        #[cfg(feature = "tls")]
        let endpoint = match (&self.tls, url.starts_with("https://")) {
            (Some(tls), _) => endpoint.tls_config(tls.clone()),
            (None, true) => {
                endpoint.tls_config(tonic::transport::ClientTlsConfig::new().with_webpki_roots())
            }
            (None, false) => Ok(endpoint),
        }
        .map_err(|e| Error::Endpoint { endpoint: url, reason: e.to_string() })?;
        Ok(endpoint)
    }

    pub(crate) async fn connect(&self, url: String) -> Result<Channel, Error> {
        let url = with_scheme(url);
        let endpoint = self.endpoint(url.clone())?;
        endpoint.connect().await.map_err(|source| Error::Connect { endpoint: url, source })
    }
}

/// The largest HTTP/2 frame this client accepts; the protocol allows up to
/// 16 MiB.
const MAX_FRAME_BYTES: u32 = 1 << 20;

/// `host:port` means `http://host:port`, as gRPC tools read it.
fn with_scheme(url: String) -> String {
    if url.contains("://") { url } else { format!("http://{url}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_without_a_scheme_is_http() {
        assert_eq!(with_scheme("127.0.0.1:50051".into()), "http://127.0.0.1:50051");
        assert_eq!(with_scheme("https://h:1".into()), "https://h:1");
    }
}
