//! Channel configuration: timeouts and TLS.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::Error;

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
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            keep_alive: Duration::from_secs(30),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl ConnectOptions {
    /// Trusts a CA given as PEM, for servers with a private certificate.
    #[cfg(feature = "tls")]
    pub fn with_ca_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        let ca = tonic::transport::Certificate::from_pem(pem);
        self.tls = Some(tonic::transport::ClientTlsConfig::new().ca_certificate(ca));
        self
    }

    pub(crate) fn endpoint(&self, url: String) -> Result<Endpoint, Error> {
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| Error::Endpoint { endpoint: url.clone(), reason: e.to_string() })?
            .connect_timeout(self.connect_timeout)
            .tcp_keepalive(Some(self.keep_alive))
            .http2_keep_alive_interval(self.keep_alive)
            .keep_alive_while_idle(true);
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
        let endpoint = self.endpoint(url.clone())?;
        endpoint.connect().await.map_err(|source| Error::Connect { endpoint: url, source })
    }
}
