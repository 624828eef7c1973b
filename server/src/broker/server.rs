//! The network side: Kafka's framing over TCP, one task per connection,
//! requests answered in order as a Kafka broker answers them.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::api::{self, Context};
use super::state::State;

/// Kafka's `socket.request.max.bytes`: larger frames close the connection.
const MAX_FRAME: usize = 100 << 20;
/// API key, version and correlation id: no request is shorter.
const MIN_FRAME: usize = 8;
const UNSUPPORTED_VERSION: i16 = 35;

/// Where clients are told to connect.
#[derive(Clone)]
pub struct Advertised {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
}

/// Accepts connections until `stop`; each ends with it too.
pub async fn accept(
    listener: TcpListener,
    state: Arc<State>,
    advertised: Advertised,
    stop: CancellationToken,
) {
    loop {
        let (stream, peer) = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::debug!(error = %e, "embedded broker accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let (state, advertised, stop) = (state.clone(), advertised.clone(), stop.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                result = connection(stream, peer, state, advertised) => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, %peer, "embedded broker connection ended");
                    }
                }
            }
        });
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    state: Arc<State>,
    advertised: Advertised,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (mut reader, writer) = stream.into_split();
    let mut writer = BufWriter::new(writer);
    let mut out = BytesMut::new();
    loop {
        let size = match reader.read_u32().await {
            Ok(n) => n as usize,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        };
        if !(MIN_FRAME..=MAX_FRAME).contains(&size) {
            return Err(invalid(format!("a request frame of {size} bytes")));
        }
        let mut frame = BytesMut::zeroed(size);
        reader.read_exact(&mut frame).await?;
        let mut frame = frame.freeze();
        let key_raw = frame.clone().get_i16();
        let version = frame.slice(2..4).get_i16();
        let Ok(key) = ApiKey::try_from(key_raw) else {
            return Err(invalid(format!("unknown API key {key_raw}")));
        };
        if !api::supports(key, version) {
            if key == ApiKey::ApiVersions {
                // Kafka's answer to a too-new ApiVersions: v0, with the error
                // and the versions it does serve.
                let correlation_id = frame.slice(4..8).get_i32();
                let response = ResponseKind::ApiVersions(api::api_versions(UNSUPPORTED_VERSION));
                write(&mut writer, &mut out, correlation_id, key, 0, &response).await?;
                continue;
            }
            return Err(invalid(format!("{key:?} v{version} is not served")));
        }
        let header = RequestHeader::decode(&mut frame, key.request_header_version(version))
            .map_err(invalid)?;
        let request = RequestKind::decode(key, &mut frame, version).map_err(invalid)?;
        let ctx = Context {
            state: state.clone(),
            node_id: advertised.node_id,
            host: advertised.host.clone(),
            port: advertised.port,
            client_id: header.client_id.as_ref().map(|c| c.to_string()).unwrap_or_default(),
            client_host: peer.ip().to_string(),
            version,
        };
        if let Some(response) = api::handle(&ctx, request).await {
            write(&mut writer, &mut out, header.correlation_id, key, version, &response).await?;
        }
    }
}

async fn write(
    writer: &mut BufWriter<tokio::net::tcp::OwnedWriteHalf>,
    out: &mut BytesMut,
    correlation_id: i32,
    key: ApiKey,
    version: i16,
    response: &ResponseKind,
) -> io::Result<()> {
    out.clear();
    out.put_u32(0);
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    header.encode(out, key.response_header_version(version)).map_err(invalid)?;
    response
        .encode(out, version)
        .map_err(|e| invalid(format!("encoding {key:?} v{version}: {e}")))?;
    let len = (out.len() - 4) as u32;
    out[..4].copy_from_slice(&len.to_be_bytes());
    let bytes: Bytes = out.split().freeze();
    writer.write_all(&bytes).await?;
    writer.flush().await
}

fn invalid(e: impl ToString) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}
