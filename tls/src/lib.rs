//! TLS for Roadroller's listeners, gRPC and HTTP alike.
//!
//! [`ServerTls`] holds a rustls configuration built from PEM files and
//! rebuilds it when a file changes, so certificates rotate without a restart.
//! [`Incoming`] accepts TCP connections, runs their handshakes concurrently
//! (a slow or silent client never holds up the next one) and hands over
//! [`Conn`]s that tell who is on the other end ([`PeerInfo`]): tonic reads it
//! as the connection info of every request, axum as a listener's address.
//! [`identity`] names the principal of a verified client certificate.

mod conn;
mod files;
pub mod identity;
mod incoming;

pub use conn::{Conn, PeerInfo};
pub use files::{ServerTls, TlsError, TlsFiles};
pub use incoming::{Incoming, LocalConnector, local_pair};
