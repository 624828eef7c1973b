//! A relay between each client connection and the engine that makes Fetch
//! long-poll, as a Kafka broker does.
//!
//! The engine answers a Fetch at once, even when there is nothing to return
//! and the client asked to wait (`max_wait_ms`). librdkafka then fetches again
//! immediately, so every idle consumer would spin a core. The relay holds an
//! empty Fetch answer until a Produce lands anywhere or the client's wait is
//! over, then asks the engine again. Like a broker, it handles one request
//! per connection at a time, so answers keep their order.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use kafka_protocol::messages::{
    ApiKey, FetchRequest, FetchResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::Decodable;

/// Largest frame relayed; the engine refuses larger ones too.
const MAX_FRAME: usize = 100 * 1024 * 1024;

/// The longest a Fetch is held, whatever the client asked for.
const MAX_HOLD: Duration = Duration::from_secs(5);

/// Counts produces, so held fetches know when to look again.
#[derive(Default)]
pub struct Wakeup {
    generation: Mutex<u64>,
    changed: Condvar,
}

impl Wakeup {
    fn current(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        *self.generation.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.changed.notify_all();
    }

    /// Waits until the generation moves past `seen` or `deadline`; returns
    /// the generation then.
    fn wait_past(&self, seen: u64, deadline: Instant) -> u64 {
        let mut generation = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        while *generation == seen {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            generation =
                self.changed.wait_timeout(generation, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        *generation
    }
}

enum Request {
    Fetch { version: i16, max_wait: Duration },
    Produce,
    Other,
}

/// Relays `client` to the engine at `engine` until either side closes.
pub fn relay(client: TcpStream, engine: SocketAddr, wakeup: &Wakeup) -> io::Result<()> {
    client.set_nodelay(true)?;
    let upstream = TcpStream::connect(engine)?;
    upstream.set_nodelay(true)?;
    let (mut from_client, mut to_client) = (BufReader::new(&client), BufWriter::new(&client));
    let (mut from_engine, mut to_engine) = (BufReader::new(&upstream), BufWriter::new(&upstream));
    loop {
        let Some(request) = read_frame(&mut from_client)? else { return Ok(()) };
        let kind = classify(&request);
        let mut seen = wakeup.current();
        let mut response = exchange(&mut to_engine, &mut from_engine, &request)?;
        if let Request::Fetch { version, max_wait } = kind {
            let deadline = Instant::now() + max_wait.min(MAX_HOLD);
            while fetched_nothing(&response, version) {
                let now = wakeup.wait_past(seen, deadline);
                if now == seen {
                    break;
                }
                seen = now;
                response = exchange(&mut to_engine, &mut from_engine, &request)?;
            }
        }
        write_frame(&mut to_client, &response)?;
        if matches!(kind, Request::Produce) {
            wakeup.bump();
        }
    }
}

fn exchange(to: &mut impl Write, from: &mut impl Read, request: &[u8]) -> io::Result<Vec<u8>> {
    write_frame(to, request)?;
    read_frame(from)?.ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "engine closed"))
}

fn classify(frame: &[u8]) -> Request {
    if frame.len() < 4 {
        return Request::Other;
    }
    let key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    match ApiKey::try_from(key) {
        Ok(ApiKey::Produce) => Request::Produce,
        Ok(ApiKey::Fetch) => {
            let mut buf = Bytes::copy_from_slice(frame);
            let header_version = ApiKey::Fetch.request_header_version(version);
            let decoded = RequestHeader::decode(&mut buf, header_version)
                .and_then(|_| FetchRequest::decode(&mut buf, version));
            match decoded {
                Ok(fetch) => Request::Fetch {
                    version,
                    max_wait: Duration::from_millis(fetch.max_wait_ms.max(0) as u64),
                },
                Err(_) => Request::Other,
            }
        }
        _ => Request::Other,
    }
}

/// Whether a Fetch answer holds no records and no error for any partition.
fn fetched_nothing(frame: &[u8], version: i16) -> bool {
    let mut buf = Bytes::copy_from_slice(frame);
    let header_version = ApiKey::Fetch.response_header_version(version);
    let Ok(response) = ResponseHeader::decode(&mut buf, header_version)
        .and_then(|_| FetchResponse::decode(&mut buf, version))
    else {
        return false;
    };
    response.error_code == 0
        && response.responses.iter().all(|topic| {
            topic
                .partitions
                .iter()
                .all(|p| p.error_code == 0 && p.records.as_ref().is_none_or(|r| !r.has_remaining()))
        })
}

fn read_frame(reader: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match reader.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("frame of {len} bytes")));
    }
    let mut frame = vec![0u8; len];
    reader.read_exact(&mut frame)?;
    Ok(Some(frame))
}

fn write_frame(writer: &mut impl Write, frame: &[u8]) -> io::Result<()> {
    writer.write_all(&(frame.len() as u32).to_be_bytes())?;
    writer.write_all(frame)?;
    writer.flush()
}
