//! A relay between each client connection and the engine that makes Fetch
//! behave as a Kafka broker's does.
//!
//! The engine answers a Fetch at once, even when there is nothing to return
//! and the client asked to wait (`max_wait_ms`); librdkafka then fetches
//! again immediately, so every idle consumer would spin a core. And it returns
//! everything from the fetch offset to the end of the log, ignoring
//! `max_bytes` and `partition_max_bytes`, so a large partition yields answers
//! beyond what a client accepts. The relay serves Fetch itself, calling the
//! engine in-process: it holds an empty answer until a Produce lands or the
//! client's wait is over, and trims answers to the requested sizes at record
//! batch boundaries (always keeping a first batch, so a large one still
//! passes, as in Kafka). Other requests go to the engine's own connection
//! handler. Like a broker, the relay handles one request per connection at a
//! time, so answers keep their order.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::fetch_response::FetchableTopicResponse;
use kafka_protocol::messages::{
    ApiKey, FetchRequest, FetchResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable};
use noida::kafka::engine::Engine;

use super::tails::{Tails, batches};

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
    Fetch {
        header: RequestHeader,
        fetch: Box<FetchRequest>,
        version: i16,
    },
    Produce,
    /// Deletes topics or records, which kept answers must not outlive.
    Delete,
    Other,
}

/// Relays `client` to the engine until either side closes: Fetch served
/// in-process by `engine`, everything else by its handler at `handler`.
pub fn relay(
    client: TcpStream,
    handler: SocketAddr,
    engine: &Engine,
    wakeup: &Wakeup,
    tails: &Tails,
) -> io::Result<()> {
    client.set_nodelay(true)?;
    let upstream = TcpStream::connect(handler)?;
    upstream.set_nodelay(true)?;
    let (mut from_client, mut to_client) = (BufReader::new(&client), BufWriter::new(&client));
    let (mut from_engine, mut to_engine) = (BufReader::new(&upstream), BufWriter::new(&upstream));
    loop {
        let Some(request) = read_frame(&mut from_client)? else { return Ok(()) };
        let response = match classify(&request) {
            Request::Fetch { header, fetch, version } => {
                fetch_answer(engine, wakeup, tails, &header, &fetch, version)?
            }
            Request::Produce => {
                let response = exchange(&mut to_engine, &mut from_engine, &request)?;
                wakeup.bump();
                response
            }
            Request::Delete => {
                let response = exchange(&mut to_engine, &mut from_engine, &request)?;
                tails.forget();
                response
            }
            Request::Other => exchange(&mut to_engine, &mut from_engine, &request)?,
        };
        write_frame(&mut to_client, &response)?;
    }
}

/// A Fetch answered as a broker would: held while empty, trimmed to size.
fn fetch_answer(
    engine: &Engine,
    wakeup: &Wakeup,
    tails: &Tails,
    header: &RequestHeader,
    fetch: &FetchRequest,
    version: i16,
) -> io::Result<Vec<u8>> {
    let max_wait = Duration::from_millis(fetch.max_wait_ms.max(0) as u64);
    let deadline = Instant::now() + max_wait.min(MAX_HOLD);
    let mut seen = wakeup.current();
    let mut response = serve(engine, tails, fetch, version);
    while fetched_nothing(&response) {
        let now = wakeup.wait_past(seen, deadline);
        if now == seen {
            break;
        }
        seen = now;
        response = serve(engine, tails, fetch, version);
    }
    trim(&mut response, fetch);
    let response_header = ResponseHeader::default().with_correlation_id(header.correlation_id);
    let mut out = BytesMut::new();
    response_header
        .encode(&mut out, ApiKey::Fetch.response_header_version(version))
        .and_then(|()| response.encode(&mut out, version))
        .map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("encoding a fetch answer: {e}"))
        })?;
    Ok(out.to_vec())
}

/// A Fetch answered from kept answers where they reach, by the engine for
/// the other partitions.
fn serve(engine: &Engine, tails: &Tails, fetch: &FetchRequest, version: i16) -> FetchResponse {
    let mut kept = Vec::new();
    let mut rest = FetchRequest::default();
    for topic in &fetch.topics {
        let mut missing = Vec::new();
        for partition in &topic.partitions {
            match tails.answer(&topic.topic, partition.partition, partition.fetch_offset) {
                Some(data) => kept.push((topic.topic.clone(), topic.topic_id, data)),
                None => missing.push(partition.clone()),
            }
        }
        if !missing.is_empty() {
            let mut asked = topic.clone();
            asked.partitions = missing;
            rest.topics.push(asked);
        }
    }
    let mut response = if kept.is_empty() {
        engine.handle_fetch(fetch, version)
    } else if rest.topics.is_empty() {
        FetchResponse::default()
    } else {
        rest.isolation_level = fetch.isolation_level;
        rest.max_bytes = fetch.max_bytes;
        engine.handle_fetch(&rest, version)
    };
    for topic in &response.responses {
        let asked = fetch.topics.iter().find(|t| t.topic == topic.topic);
        for data in &topic.partitions {
            let offset = asked
                .and_then(|t| t.partitions.iter().find(|p| p.partition == data.partition_index))
                .map(|p| p.fetch_offset);
            if let Some(offset) = offset {
                tails.keep(&topic.topic, offset, data);
            }
        }
    }
    for (name, id, data) in kept {
        match response.responses.iter_mut().find(|t| t.topic == name) {
            Some(topic) => topic.partitions.push(data),
            None => {
                let mut topic = FetchableTopicResponse::default();
                topic.topic = name;
                topic.topic_id = id;
                topic.partitions.push(data);
                response.responses.push(topic);
            }
        }
    }
    response
}

/// Cuts each partition's records to the request's `partition_max_bytes`
/// and the whole answer to `max_bytes`, at batch boundaries.
fn trim(response: &mut FetchResponse, request: &FetchRequest) {
    let mut budget =
        usize::try_from(request.max_bytes).ok().filter(|b| *b > 0).unwrap_or(usize::MAX);
    let mut first = true;
    for topic in &mut response.responses {
        let asked = request.topics.iter().find(|t| t.topic == topic.topic);
        for partition in &mut topic.partitions {
            let Some(records) = &partition.records else { continue };
            if records.is_empty() {
                continue;
            }
            let partition_max = asked
                .and_then(|t| {
                    t.partitions.iter().find(|p| p.partition == partition.partition_index)
                })
                .and_then(|p| usize::try_from(p.partition_max_bytes).ok())
                .filter(|m| *m > 0)
                .unwrap_or(usize::MAX);
            let keep = whole_batches(records, partition_max.min(budget), first || budget > 0);
            first = false;
            budget = budget.saturating_sub(keep);
            if keep < records.len() {
                partition.records = Some(records.slice(..keep));
            }
        }
    }
}

/// The length of the leading whole record batches that fit in `limit`
/// (the first batch always, when `at_least_one`).
fn whole_batches(records: &Bytes, limit: usize, at_least_one: bool) -> usize {
    batches(records, limit, at_least_one).last().map_or(0, |&(_, _, end)| end)
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
        Ok(ApiKey::DeleteTopics | ApiKey::DeleteRecords) => Request::Delete,
        Ok(ApiKey::Fetch) => {
            let mut buf = Bytes::copy_from_slice(frame);
            let header =
                RequestHeader::decode(&mut buf, ApiKey::Fetch.request_header_version(version));
            match header.and_then(|h| Ok((h, FetchRequest::decode(&mut buf, version)?))) {
                Ok((header, fetch)) => Request::Fetch { header, fetch: Box::new(fetch), version },
                // Let the engine's handler answer what it makes of it.
                Err(_) => Request::Other,
            }
        }
        _ => Request::Other,
    }
}

/// Whether a Fetch answer holds no records and no error for any partition.
fn fetched_nothing(response: &FetchResponse) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Record batches of the given body sizes, as Kafka lays them out.
    fn sized(sizes: &[usize]) -> Bytes {
        let mut out = Vec::new();
        for (i, &size) in sizes.iter().enumerate() {
            out.extend_from_slice(&(i as i64).to_be_bytes());
            out.extend_from_slice(&(size as i32).to_be_bytes());
            out.extend(std::iter::repeat_n(0u8, size));
        }
        Bytes::from(out)
    }

    #[test]
    fn only_whole_batches_within_the_limit_are_kept() {
        let records = sized(&[100, 100, 100]);
        assert_eq!(whole_batches(&records, 250, false), 224);
        assert_eq!(whole_batches(&records, 1_000, false), 336);
        assert_eq!(whole_batches(&records, 50, false), 0);
    }

    #[test]
    fn a_first_batch_larger_than_the_limit_still_passes() {
        let records = sized(&[500, 100]);
        assert_eq!(whole_batches(&records, 50, true), 512);
    }
}
