//! Delivered records written straight into a `RoadMessages` batch.
//!
//! Each record becomes one entry of the batch's repeated field 1, byte for
//! byte what prost writes for the same `RoadMessage`, but from the shared
//! texts the record already holds, into the call's own buffer: no owned
//! strings, no struct per record, and no copy in between.

use bytes::BufMut;
use prost::encoding::{self, WireType, encode_key, encode_varint, encoded_len_varint, key_len};
use roadroller_api::v1::Entries;

use super::{Delivered, Text};
use crate::paver::grpc::timestamp;

/// `RoadMessages.messages`.
const MESSAGES: u32 = 1;

/// A run of records for one `messages` response, with the length of each
/// one's `RoadMessage`.
#[derive(Default)]
pub struct Batch {
    records: Vec<(Delivered, usize)>,
    len: usize,
}

impl Batch {
    pub fn push(&mut self, d: Delivered) {
        let body = body_len(&d);
        self.len += key_len(MESSAGES) + encoded_len_varint(body as u64) + body;
        self.records.push((d, body));
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

impl Entries for Batch {
    fn encoded_len(&self) -> usize {
        self.len
    }

    fn encode(&self, buf: &mut dyn BufMut) {
        // Each record is written here first and handed over in one piece:
        // through `dyn BufMut`, every varint byte would be a call of its own.
        let mut record =
            Vec::with_capacity(self.records.iter().map(|(_, b)| *b).max().unwrap_or(0) + 16);
        for (d, body) in &self.records {
            record.clear();
            put_entry(d, *body, &mut record);
            buf.put_slice(&record);
        }
    }
}

/// Appends the entry of `d`, whose `RoadMessage` is `body` bytes long.
fn put_entry(d: &Delivered, body: usize, buf: &mut impl BufMut) {
    encode_key(MESSAGES, WireType::LengthDelimited, buf);
    encode_varint(body as u64, buf);
    if d.partition != 0 {
        encoding::int32::encode(1, &d.partition, buf);
    }
    if d.offset != 0 {
        encoding::int64::encode(2, &d.offset, buf);
    }
    if let Some(ms) = d.timestamp_ms {
        encoding::message::encode(3, &timestamp(ms), buf);
    }
    let version = d.schema_version as i32;
    if version != 0 {
        encoding::int32::encode(4, &version, buf);
    }
    for (tag, text) in texts(d) {
        if let Some(text) = text {
            // As `encoding::bytes::encode`, without its clone of the `Bytes`.
            encode_key(tag, WireType::LengthDelimited, buf);
            encode_varint(text.len() as u64, buf);
            buf.put_slice(text.as_bytes());
        }
    }
}

fn body_len(d: &Delivered) -> usize {
    let version = d.schema_version as i32;
    let mut len = 0;
    if d.partition != 0 {
        len += encoding::int32::encoded_len(1, &d.partition);
    }
    if d.offset != 0 {
        len += encoding::int64::encoded_len(2, &d.offset);
    }
    if let Some(ms) = d.timestamp_ms {
        len += encoding::message::encoded_len(3, &timestamp(ms));
    }
    if version != 0 {
        len += encoding::int32::encoded_len(4, &version);
    }
    for (tag, text) in texts(d) {
        if let Some(text) = text {
            len += key_len(tag) + encoded_len_varint(text.len() as u64) + text.len();
        }
    }
    len
}

/// The string fields of `RoadMessage`, by tag.
fn texts(d: &Delivered) -> [(u32, Option<&Text>); 5] {
    [
        (5, d.key.as_ref()),
        (6, d.payload.as_ref()),
        (7, d.traceparent.as_ref()),
        (8, d.tracestate.as_ref()),
        (9, d.resume_token.as_ref()),
    ]
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use prost::Message;
    use roadroller_api::v1 as pb;

    use super::*;
    use crate::offramp::grpc::road_message;

    fn records() -> Vec<Delivered> {
        let full = Delivered {
            partition: 11,
            offset: 1 << 40,
            timestamp_ms: Some(1_764_000_000_123),
            schema_version: 3,
            key: Some("k\u{e9}y".into()),
            payload: Some(r#"{"a":[1,2,"x"]}"#.into()),
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            tracestate: Some("congo=t61rcWkgMzE".into()),
            resume_token: Some("rt1.abc".into()),
        };
        let empty = Delivered {
            partition: 0,
            offset: 0,
            timestamp_ms: None,
            schema_version: 0,
            key: Some("".into()),
            payload: None,
            traceparent: None,
            tracestate: None,
            resume_token: None,
        };
        let negative = Delivered { partition: -1, timestamp_ms: Some(-1500), ..empty.clone() };
        vec![full, empty, negative]
    }

    #[test]
    fn entries_are_what_prost_writes_for_the_same_messages() {
        let records = records();
        let generated: Vec<pb::RoadMessage> = records.iter().cloned().map(road_message).collect();
        let expected = pb::RoadMessages { messages: generated.clone(), ..Default::default() };
        let mut batch = Batch::default();
        for d in records {
            batch.push(d);
        }
        let len = batch.encoded_len();
        let ours = pb::RoadMessages { messages: Vec::new(), encoded: Some(Arc::new(batch)) };
        let wire = ours.encode_to_vec();
        assert_eq!(wire, expected.encode_to_vec());
        assert_eq!(wire.len(), len);
        let decoded = pb::RoadMessages::decode(wire.as_slice()).expect("decodes");
        assert_eq!(decoded.messages, generated);
    }
}
