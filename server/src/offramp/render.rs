//! Turning a Kafka record into what a subscriber receives: key and payload as
//! text, the schema version and trace context from the headers, and PII
//! blanked unless the subscriber holds the grant.

use std::collections::HashMap;
use std::sync::Arc;

use rdkafka::Message;
use rdkafka::message::Headers;

use super::Delivered;
use super::text::Arena;
use crate::roads::registry::Registry;
use crate::schema::{CompiledSchema, SchemaCache};
use crate::tables::StoredEntry;

/// The parts of a record that a subscriber receives.
struct Record<'a> {
    partition: i32,
    offset: i64,
    timestamp_ms: Option<i64>,
    schema_version: u32,
    key: Option<&'a [u8]>,
    payload: Option<&'a [u8]>,
}

/// Renders the records of one subscription.
pub struct Renderer {
    road: String,
    registry: Registry,
    schemas: Arc<SchemaCache>,
    /// Whether PII reaches this subscriber intact.
    pii_granted: bool,
    /// Whether records carry the client's key (COMPACTED roads).
    keyed: bool,
    /// The writer schemas met so far, by version.
    writers: HashMap<u32, Option<Arc<CompiledSchema>>>,
    /// Where keys, payloads and headers are copied to.
    arena: Arena,
}

impl Renderer {
    pub fn new(
        road: &str,
        registry: Registry,
        schemas: Arc<SchemaCache>,
        pii_granted: bool,
        keyed: bool,
    ) -> Self {
        Self {
            road: road.to_string(),
            registry,
            schemas,
            pii_granted,
            keyed,
            writers: HashMap::new(),
            arena: Arena::default(),
        }
    }

    pub fn pii_granted(&self) -> bool {
        self.pii_granted
    }

    /// The record as delivered, or why it cannot be delivered.
    pub fn render(&mut self, m: &impl Message) -> Result<Delivered, String> {
        // One pass over the headers; the first of each name counts.
        let (mut version, mut traceparent, mut tracestate) = (None, None, None);
        for h in m.headers().iter().flat_map(|h| h.iter()) {
            let slot = match h.key {
                roadroller_api::SCHEMA_VERSION_HEADER => &mut version,
                "traceparent" => &mut traceparent,
                "tracestate" => &mut tracestate,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(h.value);
            }
        }
        let (traceparent, tracestate) = (traceparent.flatten(), tracestate.flatten());
        let schema_version = version
            .flatten()
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let record = Record {
            partition: m.partition(),
            offset: m.offset(),
            timestamp_ms: m.timestamp().to_millis(),
            schema_version,
            key: m.key(),
            payload: m.payload(),
        };
        let mut delivered = self.deliver(record)?;
        delivered.traceparent = traceparent.map(|v| self.arena.text(v));
        delivered.tracestate = tracestate.map(|v| self.arena.text(v));
        Ok(delivered)
    }

    /// A value kept by a materialized road's view, as delivered.
    pub fn render_stored(&mut self, key: &[u8], e: &StoredEntry) -> Result<Delivered, String> {
        self.deliver(Record {
            partition: e.partition,
            offset: e.offset,
            timestamp_ms: Some(e.timestamp_ms),
            schema_version: e.schema_version,
            key: Some(key),
            payload: Some(&e.payload),
        })
    }

    fn deliver(&mut self, r: Record<'_>) -> Result<Delivered, String> {
        let mut payload = r.payload.map(|p| self.arena.text(p));
        if let (Some(text), false) = (&payload, self.pii_granted)
            && let Some(writer) = self.writer(r.schema_version)
            && !writer.pii.is_empty()
        {
            let mut document: serde_json::Value = serde_json::from_slice(text.as_bytes()).map_err(|e| {
                format!(
                    "partition {} offset {}: the payload is not JSON ({e}), so its PII cannot be blanked; it was not delivered",
                    r.partition, r.offset
                )
            })?;
            writer.pii.blank(&mut document);
            payload = Some(document.to_string().into());
        }
        Ok(Delivered {
            partition: r.partition,
            offset: r.offset,
            timestamp_ms: r.timestamp_ms,
            schema_version: r.schema_version,
            key: if self.keyed { r.key.map(|k| self.arena.text(k)) } else { None },
            payload,
            traceparent: None,
            tracestate: None,
            resume_token: None,
        })
    }

    /// The schema a record was written with; the latest one when the record
    /// names no version this road has.
    fn writer(&mut self, version: u32) -> Option<Arc<CompiledSchema>> {
        if let Some(found) = self.writers.get(&version) {
            return found.clone();
        }
        let road = self.registry.get(&self.road)?;
        let compiled = self.schemas.writer(&road.road, version);
        self.writers.insert(version, compiled.clone());
        compiled
    }
}
