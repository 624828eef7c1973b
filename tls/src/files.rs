//! A rustls server configuration built from PEM files, rebuilt when one of
//! them changes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

/// The files a TLS listener serves with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// Client certificates are asked for and verified against this bundle.
    pub client_ca_file: Option<PathBuf>,
    /// Without a verified client certificate the handshake fails.
    pub require_client_cert: bool,
}

/// Why a TLS configuration could not be built. It names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: {problem}", path.display())]
    File { path: PathBuf, problem: String },
    #[error("{0}")]
    Config(String),
}

/// How often the files' modification times are looked at, at most.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The current configuration, rebuilt from the files when they change. A
/// change that does not build (a half-written file, a key that does not
/// match) keeps the previous configuration and is logged.
pub struct ServerTls {
    files: TlsFiles,
    state: Mutex<State>,
}

struct State {
    config: Arc<ServerConfig>,
    stamps: Vec<Option<SystemTime>>,
    checked: Instant,
}

impl ServerTls {
    /// Builds the configuration, failing when a file is missing or invalid.
    pub fn new(files: TlsFiles) -> Result<Self, TlsError> {
        let config = build(&files)?;
        let stamps = stamps(&files);
        let state = State { config, stamps, checked: Instant::now() };
        Ok(Self { files, state: Mutex::new(state) })
    }

    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// The configuration for the next handshake.
    pub fn config(&self) -> Arc<ServerConfig> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.checked.elapsed() >= CHECK_EVERY {
            state.checked = Instant::now();
            let now = stamps(&self.files);
            if now != state.stamps {
                match build(&self.files) {
                    Ok(config) => {
                        tracing::info!(cert = %self.files.cert_file.display(), "TLS files changed; reloaded");
                        state.config = config;
                        state.stamps = now;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "TLS files changed but do not load; kept the previous ones")
                    }
                }
            }
        }
        state.config.clone()
    }
}

fn stamps(files: &TlsFiles) -> Vec<Option<SystemTime>> {
    let paths = [Some(&files.cert_file), Some(&files.key_file), files.client_ca_file.as_ref()];
    paths
        .into_iter()
        .flatten()
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect()
}

/// The one crypto provider, so that no process-wide default is needed.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn build(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = certificates(&files.cert_file)?;
    let key = PrivateKeyDer::from_pem_file(&files.key_file).map_err(|e| TlsError::File {
        path: files.key_file.clone(),
        problem: format!("no PEM private key: {e}"),
    })?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match &files.client_ca_file {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for ca in certificates(path)? {
                roots.add(ca).map_err(|e| TlsError::File {
                    path: path.clone(),
                    problem: format!("not a usable CA certificate: {e}"),
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
            let verifier =
                if files.require_client_cert { verifier } else { verifier.allow_unauthenticated() };
            let verifier = verifier.build().map_err(|e| TlsError::File {
                path: path.clone(),
                problem: format!("cannot verify clients with it: {e}"),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        TlsError::Config(format!(
            "{} and {} do not make a certificate and its key: {e}",
            files.cert_file.display(),
            files.key_file.display()
        ))
    })?;
    // gRPC needs HTTP/2; the HTTP gateway speaks both.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Every certificate in a PEM file; at least one.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let problem = |problem: String| TlsError::File { path: path.to_path_buf(), problem };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| problem(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| problem(format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(problem("holds no PEM certificate".into()));
    }
    Ok(certs)
}
