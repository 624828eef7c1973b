//! HTTPS to a TLS listener, with or without a client certificate: one
//! request per connection, read whole.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::HttpResponse;
use crate::security::Pem;

/// A TLS client configuration: the server's CA, and maybe a certificate.
#[derive(Clone)]
pub struct TlsClient {
    connector: TlsConnector,
}

impl TlsClient {
    pub fn new(ca_pem: &str, client: Option<&Pem>) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(ca.expect("a PEM CA")).expect("a usable CA");
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots);
        let mut config = match client {
            None => builder.with_no_client_auth(),
            Some(pem) => {
                let chain = CertificateDer::pem_slice_iter(pem.cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .expect("PEM certificates");
                let key = PrivateKeyDer::from_pem_slice(pem.key.as_bytes()).expect("PEM key");
                builder.with_client_auth_cert(chain, key).expect("client certificate")
            }
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self { connector: TlsConnector::from(Arc::new(config)) }
    }

    /// Sends one request over a new TLS connection to `addr` (as
    /// `localhost`) and reads the whole answer. A refused handshake is an
    /// `Err` with its reason.
    pub async fn request(
        &self,
        addr: SocketAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Result<HttpResponse, String> {
        let exchange = async {
            let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
            let name = ServerName::try_from("localhost").expect("name");
            let tls = self.connector.connect(name, tcp).await.map_err(|e| e.to_string())?;
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(connection.with_upgrades());
            let mut request =
                Request::builder().method(method).uri(path).header("host", "localhost");
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let request = request.body(Full::new(body.into())).expect("a valid request");
            let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = if status == 101 {
                Bytes::new()
            } else {
                response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes()
            };
            Ok(HttpResponse { status, headers, body })
        };
        tokio::time::timeout(Duration::from_secs(30), exchange)
            .await
            .unwrap_or_else(|_| panic!("{method} {path}: no answer within 30 s"))
    }
}
