//! `RoadMessages` by hand, so that a server can put records on the wire that
//! it encoded ahead of time.
//!
//! The Offramp sends most records in `messages` batches. Encoding a batch
//! from generated `RoadMessage` structs means copying every key, payload and
//! token into owned strings first; the server instead writes each record's
//! fields straight from the buffers it already holds and hands the bytes over
//! in `encoded`. On the wire both are the same repeated field 1, so a decoder
//! (this one included) sees only `messages`.

use bytes::{Buf, BufMut, Bytes};
use prost::encoding::{DecodeContext, WireType};

use crate::v1::RoadMessage;

/// Records of a road, in the order they would have come one by one.
#[derive(Clone, PartialEq, Default, Debug)]
pub struct RoadMessages {
    pub messages: Vec<RoadMessage>,
    /// More entries of `messages`, already encoded: each a field-1 key, a
    /// length and a `RoadMessage`. They go on the wire after `messages`.
    /// Decoding never fills it.
    pub encoded: Bytes,
}

impl prost::Message for RoadMessages {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        prost::encoding::message::encode_repeated(1, &self.messages, buf);
        buf.put_slice(&self.encoded);
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
        prost::encoding::message::encoded_len_repeated(1, &self.messages) + self.encoded.len()
    }

    fn clear(&mut self) {
        self.messages.clear();
        self.encoded.clear();
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

    #[test]
    fn encoded_records_decode_as_messages_after_the_others() {
        let mut ahead = Vec::new();
        for offset in [7, 8] {
            prost::encoding::message::encode(1, &record(offset), &mut ahead);
        }
        let batch = RoadMessages { messages: vec![record(6)], encoded: Bytes::from(ahead) };
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
