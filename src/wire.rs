//! `RoadMessages` by hand, so that a server can write records to the wire
//! itself.
//!
//! The Offramp sends most records in `messages` batches. Encoding a batch
//! from generated `RoadMessage` structs means copying every key, payload and
//! token into owned strings first; the server instead hands over its records
//! as [`Entries`], which write their fields straight from the buffers the
//! server already holds into the call's own buffer. On the wire both are the
//! same repeated field 1, so a decoder (this one included) sees only
//! `messages`.

use std::sync::Arc;

use bytes::{Buf, BufMut};
use prost::encoding::{DecodeContext, WireType};

use crate::v1::RoadMessage;

/// Records that write their own wire form: entries of `RoadMessages`'
/// field 1, each its key, its length and a `RoadMessage`.
pub trait Entries: Send + Sync {
    /// The bytes `encode` writes.
    fn encoded_len(&self) -> usize;
    fn encode(&self, buf: &mut dyn BufMut);
}

/// Records of a road, in the order they would have come one by one.
#[derive(Clone, Default)]
pub struct RoadMessages {
    pub messages: Vec<RoadMessage>,
    /// More entries, written after `messages`. Decoding never fills it.
    pub encoded: Option<Arc<dyn Entries>>,
}

impl RoadMessages {
    /// What `encoded` writes.
    fn encoded_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(entries) = &self.encoded {
            entries.encode(&mut out);
        }
        out
    }
}

impl PartialEq for RoadMessages {
    fn eq(&self, other: &Self) -> bool {
        self.messages == other.messages && self.encoded_bytes() == other.encoded_bytes()
    }
}

impl std::fmt::Debug for RoadMessages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoadMessages")
            .field("messages", &self.messages)
            .field("encoded_bytes", &self.encoded.as_ref().map_or(0, |e| e.encoded_len()))
            .finish()
    }
}

impl prost::Message for RoadMessages {
    fn encode_raw(&self, mut buf: &mut impl BufMut) {
        prost::encoding::message::encode_repeated(1, &self.messages, buf);
        if let Some(entries) = &self.encoded {
            entries.encode(&mut buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        match tag {
            1 => prost::encoding::message::merge_repeated(wire_type, &mut self.messages, buf, ctx)
                .map_err(|mut e| {
                    e.push("RoadMessages", "messages");
                    e
                }),
            _ => prost::encoding::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        prost::encoding::message::encoded_len_repeated(1, &self.messages)
            + self.encoded.as_ref().map_or(0, |e| e.encoded_len())
    }

    fn clear(&mut self) {
        self.messages.clear();
        self.encoded = None;
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    fn record(offset: i64) -> RoadMessage {
        RoadMessage {
            partition: 3,
            offset,
            key: Some(format!("k{offset}")),
            payload: Some(format!("{{\"n\":{offset}}}")),
            ..RoadMessage::default()
        }
    }

    /// Records encoded ahead, as a server's own would write them.
    struct Ahead(Vec<u8>);

    impl Entries for Ahead {
        fn encoded_len(&self) -> usize {
            self.0.len()
        }
        fn encode(&self, buf: &mut dyn BufMut) {
            buf.put_slice(&self.0);
        }
    }

    #[test]
    fn encoded_records_decode_as_messages_after_the_others() {
        let mut ahead = Vec::new();
        for offset in [7, 8] {
            prost::encoding::message::encode(1, &record(offset), &mut ahead);
        }
        let batch =
            RoadMessages { messages: vec![record(6)], encoded: Some(Arc::new(Ahead(ahead))) };
        let wire = batch.encode_to_vec();
        assert_eq!(wire.len(), batch.encoded_len());
        let decoded = RoadMessages::decode(wire.as_slice()).expect("decodes");
        assert_eq!(
            decoded,
            RoadMessages { messages: vec![record(6), record(7), record(8)], ..Default::default() }
        );
    }

    #[test]
    fn unknown_fields_are_skipped() {
        let mut wire =
            RoadMessages { messages: vec![record(1)], ..Default::default() }.encode_to_vec();
        prost::encoding::string::encode(15, &"later".to_string(), &mut wire);
        let decoded = RoadMessages::decode(wire.as_slice()).expect("decodes");
        assert_eq!(decoded.messages, vec![record(1)]);
    }
}
