//! Kafka seen directly, as a plain client would: reading a topic back, and
//! the partitioner Java clients use.

use std::time::Duration;

use rdkafka::ClientConfig;

/// A record as a plain Kafka consumer sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub timestamp_ms: Option<i64>,
}

impl KafkaRecord {
    pub fn key_str(&self) -> Option<&str> {
        self.key.as_deref().and_then(|k| std::str::from_utf8(k).ok())
    }

    pub fn value_json(&self) -> Option<serde_json::Value> {
        self.value.as_deref().map(|v| serde_json::from_slice(v).expect("JSON value"))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// Every record of `topic`, read from the beginning with a plain rdkafka
/// consumer until the end offsets of all partitions are reached. Sorted by
/// partition, then offset.
pub fn read_topic(bootstrap: &str, topic: &str) -> Vec<KafkaRecord> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::{Headers, Message};
    use rdkafka::{Offset, TopicPartitionList};

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "roadroller-tests-reader")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let timeout = Duration::from_secs(10);
    let metadata = consumer.fetch_metadata(Some(topic), timeout).expect("metadata");
    let partitions: Vec<i32> = metadata.topics()[0].partitions().iter().map(|p| p.id()).collect();
    let mut ends = std::collections::HashMap::new();
    let mut assignment = TopicPartitionList::new();
    for &p in &partitions {
        let (_, high) = consumer.fetch_watermarks(topic, p, timeout).expect("watermarks");
        if high > 0 {
            ends.insert(p, high);
            assignment.add_partition_offset(topic, p, Offset::Beginning).expect("assign");
        }
    }
    let mut records = Vec::new();
    if ends.is_empty() {
        return records;
    }
    consumer.assign(&assignment).expect("assign");
    let deadline = std::time::Instant::now() + timeout;
    let mut done = std::collections::HashSet::new();
    while done.len() < ends.len() {
        assert!(std::time::Instant::now() < deadline, "reading {topic} timed out");
        let Some(message) = consumer.poll(Duration::from_millis(100)) else { continue };
        let m = message.expect("message");
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                    .collect()
            })
            .unwrap_or_default();
        records.push(KafkaRecord {
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            value: m.payload().map(<[u8]>::to_vec),
            headers,
            timestamp_ms: m.timestamp().to_millis(),
        });
        if m.offset() + 1 >= ends[&m.partition()] {
            done.insert(m.partition());
        }
    }
    records.sort_by_key(|r| (r.partition, r.offset));
    records
}

/// Kafka's murmur2 partitioner, as the Java client computes it, written here
/// independently of the server's producer.
pub fn java_partition(key: &[u8], partitions: i32) -> i32 {
    ((murmur2(key) & 0x7fff_ffff) % partitions as u32) as i32
}

/// Kafka's murmur2 hash (seed 0x9747b28c).
pub fn murmur2(key: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ key.len() as u32;
    let mut chunks = key.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

#[cfg(test)]
mod tests {
    #[test]
    fn murmur2_matches_the_reference_vectors() {
        // The vectors librdkafka and the Java client test against.
        assert_eq!(super::murmur2(b"kafka"), 0xd067_cf64);
        assert_eq!(super::murmur2(b"giberish123456789"), 0x8f55_2b0c);
        assert_eq!(super::murmur2(b"1234"), 0x9fc9_7b14);
        assert_eq!(super::murmur2(b"234"), 0xe7c0_09ca);
        assert_eq!(super::murmur2(b""), 0x106e_08d9);
    }
}
