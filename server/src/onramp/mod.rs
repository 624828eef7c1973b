//! Onramp: schema-checked ingest. Records are checked one by one, written
//! with the instance's idempotent producer, and reported accepted only once
//! Kafka acknowledged them.

mod error;
pub mod grpc;
pub mod json;
pub(crate) mod record;
mod stream;

use std::sync::Arc;
use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};

pub use error::OnrampError;
pub use record::{MAX_KEY_BYTES, MAX_VIOLATIONS, Record, Rejection, Violation};
pub use stream::{Batch, BatchOutcome, StreamItem};

use crate::auth::{Caller, Guard};
use crate::error::Code;
use crate::kafka::delivery::Batch as Acks;
use crate::kafka::{Kafka, Outgoing, RECORD_OVERHEAD};
use crate::quotas::Quotas;
use crate::roads::StatusBoard;
use crate::roads::registry::Registry;
use crate::schema::SchemaCache;
use crate::schema::path::PartitionPath;
use record::{Prepared, Target, TopicLimit};

/// Limits on what one call may carry.
#[derive(Clone, Debug)]
pub struct OnrampSettings {
    pub max_record_bytes: usize,
    pub max_request_bytes: usize,
    pub max_records_per_request: usize,
    pub max_unacked_per_stream: usize,
    /// How long Kafka has to acknowledge a record.
    pub produce_timeout: Duration,
}

/// The outcome of one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Accepted { partition: i32, offset: i64, schema_version: u32 },
    Rejected(Rejection),
}

/// W3C trace context to carry into Kafka headers.
#[derive(Clone, Debug, Default)]
pub struct TraceContext {
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    /// The call's server span, when tracing is on: the batch's send span
    /// is its child.
    pub span: Option<opentelemetry::Context>,
}

/// The Onramp domain service.
#[derive(Clone)]
pub struct Onramp {
    kafka: Kafka,
    registry: Registry,
    board: Arc<StatusBoard>,
    schemas: Arc<SchemaCache>,
    settings: OnrampSettings,
    topic_prefix: String,
    guard: Guard,
    quotas: Quotas,
    telemetry: crate::telemetry::Telemetry,
}

/// Whether a call's quotas are still to be checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Charged {
    /// A unary call: refused whole when over a limit.
    No,
    /// A stream's batch: it waited for its quota before it was read.
    Already,
}

impl Onramp {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kafka: Kafka,
        registry: Registry,
        board: Arc<StatusBoard>,
        schemas: Arc<SchemaCache>,
        settings: OnrampSettings,
        topic_prefix: String,
        guard: Guard,
        quotas: Quotas,
        telemetry: crate::telemetry::Telemetry,
    ) -> Self {
        Self { kafka, registry, board, schemas, settings, topic_prefix, guard, quotas, telemetry }
    }

    pub fn quotas(&self) -> &Quotas {
        &self.quotas
    }

    pub fn settings(&self) -> &OnrampSettings {
        &self.settings
    }

    /// Writes `records` to `road`: one outcome per record, in order, returned
    /// once Kafka has acknowledged every accepted record. Refused whole when
    /// it is over a quota.
    pub async fn produce(
        &self,
        caller: &Caller,
        road_name: &str,
        records: Vec<Record>,
        trace: &TraceContext,
    ) -> Result<Vec<Outcome>, OnrampError> {
        self.produce_charged(caller, road_name, records, trace, Charged::No).await
    }

    async fn produce_charged(
        &self,
        caller: &Caller,
        road_name: &str,
        records: Vec<Record>,
        trace: &TraceContext,
        charged: Charged,
    ) -> Result<Vec<Outcome>, OnrampError> {
        use crate::error::Reportable;
        let started = std::time::Instant::now();
        let sizes: Vec<u64> =
            records.iter().map(|r| r.payload.as_ref().map_or(0, |p| p.len() as u64)).collect();
        let result = self.write(caller, road_name, records, trace, charged).await;
        // Names that are no road's would fill the label's cap.
        let road_name = if self.registry.get(road_name).is_some() {
            road_name
        } else {
            crate::telemetry::metrics::OTHER
        };
        match &result {
            Ok(outcomes) => {
                let (mut accepted, mut bytes) = (0, 0);
                for (outcome, size) in outcomes.iter().zip(&sizes) {
                    match outcome {
                        Outcome::Accepted { .. } => {
                            accepted += 1;
                            bytes += size;
                        }
                        Outcome::Rejected(r) => {
                            self.telemetry.metrics.rejected(road_name, &format!("{:?}", r.code), 1);
                        }
                    }
                }
                self.telemetry.metrics.produced(road_name, accepted, bytes, started.elapsed());
            }
            Err(e) => {
                let code = format!("{:?}", e.report().code);
                self.telemetry.metrics.rejected(road_name, &code, sizes.len() as u64);
            }
        }
        result
    }

    async fn write(
        &self,
        caller: &Caller,
        road_name: &str,
        records: Vec<Record>,
        trace: &TraceContext,
        charged: Charged,
    ) -> Result<Vec<Outcome>, OnrampError> {
        let versioned = self.registry.get(road_name);
        // Before the road's existence, so that names cannot be probed.
        self.guard.produce(caller, road_name, versioned.as_ref().map(|v| &*v.road))?;
        let versioned = versioned.ok_or_else(|| OnrampError::RoadNotFound(road_name.into()))?;
        let road = &versioned.road;
        if !road.enabled || road.deleting {
            return Err(OnrampError::RoadDisabled(road_name.into()));
        }
        let latest = road.latest_schema().ok_or_else(|| OnrampError::NoSchema(road_name.into()))?;
        if records.len() > self.settings.max_records_per_request {
            return Err(OnrampError::TooManyRecords {
                count: records.len(),
                max: self.settings.max_records_per_request,
            });
        }
        if charged == Charged::No {
            let bytes = records.iter().map(Record::size).sum();
            self.quotas.produce(caller, road, records.len() as u64, bytes).await?;
        }
        let schema = self.schemas.get(road_name, latest).map_err(|p| {
            OnrampError::Internal(format!(
                "schema version {} of {road_name}: {p:?}",
                latest.version
            ))
        })?;
        let partition_path = road.partition_path().and_then(|p| PartitionPath::parse(p).ok());
        let topic = format!("{}{road_name}", self.topic_prefix);
        let topic_limit = self
            .board
            .max_message_bytes(road_name)
            .map(|max_message_bytes| TopicLimit { topic: &topic, max_message_bytes })
            .filter(|limit| {
                limit.max_message_bytes < self.settings.max_record_bytes + RECORD_OVERHEAD
            });
        let target = Target {
            road,
            schema: &schema,
            schema_version: latest.version,
            partition_path: partition_path.as_ref(),
            max_record_bytes: self.settings.max_record_bytes,
            topic_limit,
        };
        // Enqueued one after another, so records keep their order per
        // partition; acknowledged as a batch.
        let request_bytes: usize = records.iter().map(|r| r.size() as usize).sum();
        let prepare_all = || {
            let mut prepared: Vec<Result<Prepared, Rejection>> =
                records.into_iter().map(|r| record::prepare(r, &target)).collect();
            let rejections = prepared.iter_mut().filter_map(|p| p.as_mut().err());
            record::fit_violations(rejections, request_bytes.max(MIN_DETAIL_BUDGET));
            prepared
        };
        // Validation is linear in the records' size (patterns included), but
        // a large request still takes milliseconds: off the worker, so that
        // the calls queued behind it move to another.
        let multi_thread = tokio::runtime::Handle::current().runtime_flavor()
            == tokio::runtime::RuntimeFlavor::MultiThread;
        let prepared = if multi_thread && request_bytes > VALIDATE_IN_PLACE_BYTES {
            tokio::task::block_in_place(prepare_all)
        } else {
            prepare_all()
        };
        let sending = prepared.iter().filter(|p| p.is_ok()).count();
        // With tracing on, the records carry the send span's context, so
        // their consumers link to this batch; else the caller's, as sent.
        let mut send = self.telemetry.tracing.send(trace.span.as_ref(), &topic, sending);
        let carried = match &send {
            Some(span) => {
                use crate::telemetry::traces::Span as _;
                let (traceparent, tracestate) =
                    crate::telemetry::traces::inject(span.span_context());
                TraceContext { traceparent, tracestate, span: None }
            }
            None => trace.clone(),
        };
        // A delete is validated against no schema: it says version 0.
        let delete_headers = headers(0, &carried);
        let headers = headers(latest.version, &carried);
        let batch = Acks::new(sending);
        let producer = self.kafka.producer();
        let mut slot = 0;
        for p in &prepared {
            let Ok(p) = p else { continue };
            let out = Outgoing {
                key: p.key.as_deref(),
                payload: p.payload.as_deref().map(str::as_bytes),
                headers: Some(if p.payload.is_some() {
                    headers.clone()
                } else {
                    delete_headers.clone()
                }),
                partition: None,
            };
            self.kafka.enqueue(&producer, &topic, out, batch.slot(slot)).await;
            slot += 1;
        }
        // librdkafka fails a record after `message.timeout.ms`; the margin
        // only guards against a lost report.
        let mut deliveries =
            batch.wait(self.settings.produce_timeout + Duration::from_secs(5)).await.into_iter();
        let mut outcomes = Vec::with_capacity(prepared.len());
        let (mut accepted, mut unavailable) = (0, 0);
        // The key of a single-record batch, for its send span.
        let single_key = match &prepared[..] {
            [Ok(p)] if send.is_some() => {
                p.key.as_ref().map(|k| String::from_utf8_lossy(k).into_owned())
            }
            _ => None,
        };
        for p in prepared {
            let outcome = match p {
                Ok(p) => match deliveries.next() {
                    Some(Ok((partition, offset))) => {
                        accepted += 1;
                        let schema_version = if p.payload.is_some() { latest.version } else { 0 };
                        Outcome::Accepted { partition, offset, schema_version }
                    }
                    // The topic's limit changed since it was last read.
                    Some(Err(reason)) if reason.contains("MessageSizeTooLarge") => {
                        Outcome::Rejected(Rejection::new(
                            Code::ResourceExhausted,
                            format!(
                                "topic {topic}: the record is larger than the topic's \
                                 max.message.bytes: {reason}"
                            ),
                        ))
                    }
                    Some(Err(reason)) => {
                        unavailable += 1;
                        Outcome::Rejected(Rejection::new(
                            Code::Unavailable,
                            format!(
                                "topic {topic}: Kafka did not acknowledge the record: {reason}"
                            ),
                        ))
                    }
                    None => Outcome::Rejected(Rejection::new(
                        Code::Internal,
                        "the record was not answered",
                    )),
                },
                Err(rejection) => Outcome::Rejected(rejection),
            };
            outcomes.push(outcome);
        }
        if let Some(span) = &mut send {
            use crate::telemetry::traces::Span as _;
            use opentelemetry::KeyValue;
            if let [Outcome::Accepted { partition, .. }] = &outcomes[..] {
                span.set_attribute(KeyValue::new(
                    "messaging.destination.partition.id",
                    partition.to_string(),
                ));
                if let Some(key) = single_key {
                    span.set_attribute(KeyValue::new("messaging.kafka.message.key", key));
                }
            }
            if unavailable > 0 {
                span.set_status(opentelemetry::trace::Status::error(
                    "Kafka did not acknowledge every record",
                ));
            }
            span.end();
        }
        // Nothing was written: the whole call is UNAVAILABLE, so that it is
        // retried; unless some records were refused on their own, whose
        // reasons a whole-call status would hide.
        if unavailable > 0 && accepted == 0 {
            self.kafka.recover_producer();
            if unavailable == outcomes.len() {
                return Err(OnrampError::Unavailable {
                    topic,
                    within: self.settings.produce_timeout,
                });
            }
        }
        Ok(outcomes)
    }
}

/// Rejection details an answer carries whatever the size of its request.
const MIN_DETAIL_BUDGET: usize = 64 * 1024;

/// Requests larger than this are validated off the async worker.
const VALIDATE_IN_PLACE_BYTES: usize = 64 * 1024;

fn headers(schema_version: u32, trace: &TraceContext) -> OwnedHeaders {
    let version = schema_version.to_string();
    let mut headers = OwnedHeaders::new_with_capacity(3).insert(Header {
        key: roadroller_api::SCHEMA_VERSION_HEADER,
        value: Some(version.as_bytes()),
    });
    if let Some(tp) = &trace.traceparent {
        headers = headers.insert(Header { key: "traceparent", value: Some(tp.as_bytes()) });
    }
    if let Some(ts) = &trace.tracestate {
        headers = headers.insert(Header { key: "tracestate", value: Some(ts.as_bytes()) });
    }
    headers
}
