//! The v2 record batch header, read and checked without decoding records.
//!
//! A batch is stored exactly as the producer sent it, except for its base
//! offset and leader epoch, which the broker assigns; neither is covered by
//! the CRC, so a stored batch keeps the producer's checksum.

use bytes::{Buf, BufMut};

/// Bytes before the records: offsets, sizes, CRC, producer fields.
pub const HEADER_LEN: usize = 61;
/// The base offset and the length field: what precedes `batch_length` bytes.
pub const LOG_OVERHEAD: usize = 12;
const ATTRIBUTES_AT: usize = 21;

/// The fields of a batch header the log needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub base_offset: i64,
    /// The whole batch, header included.
    pub size: usize,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

/// Why bytes are not a usable batch.
#[derive(Debug, PartialEq, Eq)]
pub enum Invalid {
    /// Fewer bytes than the header or the declared length: a torn write.
    Truncated,
    /// A length or magic byte no v2 batch has.
    Malformed(&'static str),
    /// The checksum does not match the contents.
    Crc,
}

impl Header {
    /// Parses the header at the start of `buf` (which may hold more).
    pub fn parse(buf: &[u8]) -> Result<Self, Invalid> {
        if buf.len() < HEADER_LEN {
            return Err(Invalid::Truncated);
        }
        let mut b = buf;
        let base_offset = b.get_i64();
        let length = b.get_i32();
        if length < (HEADER_LEN - LOG_OVERHEAD) as i32 {
            return Err(Invalid::Malformed("batch length below the header size"));
        }
        let _leader_epoch = b.get_i32();
        let magic = b.get_i8();
        if magic != 2 {
            return Err(Invalid::Malformed("only record batch format v2 is supported"));
        }
        let header = Self {
            base_offset,
            size: length as usize + LOG_OVERHEAD,
            magic,
            crc: b.get_u32(),
            attributes: b.get_i16(),
            last_offset_delta: b.get_i32(),
            base_timestamp: b.get_i64(),
            max_timestamp: b.get_i64(),
            producer_id: b.get_i64(),
            producer_epoch: b.get_i16(),
            base_sequence: b.get_i32(),
            record_count: b.get_i32(),
        };
        if header.last_offset_delta < 0 || header.record_count < 0 {
            return Err(Invalid::Malformed("negative record count or offset delta"));
        }
        Ok(header)
    }

    /// Parses and checks a whole batch at the start of `buf`.
    pub fn parse_checked(buf: &[u8]) -> Result<Self, Invalid> {
        let header = Self::parse(buf)?;
        if buf.len() < header.size {
            return Err(Invalid::Truncated);
        }
        if crc32c::crc32c(&buf[ATTRIBUTES_AT..header.size]) != header.crc {
            return Err(Invalid::Crc);
        }
        Ok(header)
    }

    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    /// The last sequence number the batch uses, wrapping as Kafka does.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return self.base_sequence;
        }
        let last = i64::from(self.base_sequence) + i64::from(self.last_offset_delta);
        (last % (i64::from(i32::MAX) + 1)) as i32
    }

    pub fn is_idempotent(&self) -> bool {
        self.producer_id >= 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & 0x20 != 0
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & 0x10 != 0
    }
}

/// Sets the broker-assigned fields of a batch in place.
pub fn assign(batch: &mut [u8], base_offset: i64) {
    (&mut batch[..8]).put_i64(base_offset);
    (&mut batch[LOG_OVERHEAD..LOG_OVERHEAD + 4]).put_i32(0);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    /// One batch holding `key_values` as records, offsets from 0, with no
    /// producer id.
    pub fn batch(key_values: &[(Option<&str>, Option<&str>)], timestamp: i64) -> BytesMut {
        produced(key_values, timestamp, -1, -1, 0)
    }

    /// One batch from a producer, its sequence numbers from `sequence`.
    pub fn produced(
        key_values: &[(Option<&str>, Option<&str>)],
        timestamp: i64,
        producer_id: i64,
        producer_epoch: i16,
        sequence: i32,
    ) -> BytesMut {
        let records: Vec<Record> = key_values
            .iter()
            .enumerate()
            .map(|(i, (k, v))| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id,
                producer_epoch,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: sequence + i as i32,
                timestamp,
                key: k.map(|k| bytes::Bytes::copy_from_slice(k.as_bytes())),
                value: v.map(|v| bytes::Bytes::copy_from_slice(v.as_bytes())),
                headers: Default::default(),
            })
            .collect();
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions { version: 2, compression: Compression::None };
        RecordBatchEncoder::encode(&mut buf, &records, &options).expect("encode");
        buf
    }

    #[test]
    fn a_batch_parses_and_its_crc_holds_after_offsets_are_assigned() {
        let mut b = batch(&[(Some("a"), Some("one")), (Some("b"), None)], 1_000);
        assign(&mut b, 42);
        let h = Header::parse_checked(&b).expect("valid");
        assert_eq!((h.base_offset, h.last_offset(), h.record_count), (42, 43, 2));
        assert_eq!(h.size, b.len());
        assert_eq!(h.max_timestamp, 1_000);
    }

    #[test]
    fn a_flipped_byte_or_a_short_buffer_is_refused() {
        let mut b = batch(&[(Some("a"), Some("one"))], 1);
        assert_eq!(Header::parse_checked(&b[..b.len() - 1]), Err(Invalid::Truncated));
        let last = b.len() - 1;
        b[last] ^= 0xff;
        assert_eq!(Header::parse_checked(&b), Err(Invalid::Crc));
        assert_eq!(Header::parse(&b[..10]), Err(Invalid::Truncated));
    }
}
