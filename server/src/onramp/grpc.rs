//! OnrampService over the Onramp domain.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use prost::Message;
use roadroller_api::v1 as pb;
use roadroller_api::v1::onramp_service_server::OnrampService;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};

use super::{Batch, Onramp, OnrampError, Outcome, Record, StreamItem, TraceContext};
use crate::auth::grpc::caller;
use crate::error::{Code, ErrorReport};
use crate::grpc::decoding::caller_status;
use crate::grpc::{code_number, status, status_of};

/// The tonic service. `draining` ends open streams at shutdown.
pub struct OnrampGrpc {
    onramp: Onramp,
    draining: CancellationToken,
}

impl OnrampGrpc {
    pub fn new(onramp: Onramp, draining: CancellationToken) -> Self {
        Self { onramp, draining }
    }

    /// Refuses a request over the size limit.
    fn check_size(&self, size: usize) -> Result<(), OnrampError> {
        let max = self.onramp.settings().max_request_bytes;
        if size > max { Err(OnrampError::TooLarge { size, max }) } else { Ok(()) }
    }
}

fn records(records: Vec<pb::Record>) -> Vec<Record> {
    records.into_iter().map(|r| Record { key: r.key, payload: r.payload }).collect()
}

fn trace_context<T>(request: &Request<T>) -> TraceContext {
    let metadata: &MetadataMap = request.metadata();
    let get = |name| metadata.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let span = request.extensions().get::<crate::telemetry::ServerSpan>().map(|s| s.0.clone());
    TraceContext { traceparent: get("traceparent"), tracestate: get("tracestate"), span }
}

fn result(outcome: Outcome) -> pb::RecordResult {
    use pb::record_result::Result as R;
    let result = match outcome {
        Outcome::Accepted { partition, offset, schema_version } => {
            R::Accepted(pb::RecordAccepted {
                partition,
                offset,
                schema_version: schema_version as i32,
            })
        }
        Outcome::Rejected(r) => R::Rejected(pb::RecordRejected {
            code: code_number(r.code),
            message: r.message,
            violations: r
                .violations
                .into_iter()
                .map(|v| pb::Violation {
                    pointer: v.pointer,
                    keyword: v.keyword,
                    schema_pointer: v.schema_pointer,
                    message: v.message,
                })
                .collect(),
            violation_count: r.violation_count as i32,
        }),
    };
    pb::RecordResult { result: Some(result) }
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<pb::ProduceStreamResponse, Status>> + Send>>;

#[tonic::async_trait]
impl OnrampService for OnrampGrpc {
    async fn produce(
        &self,
        request: Request<pb::ProduceRequest>,
    ) -> Result<Response<pb::ProduceResponse>, Status> {
        let trace = trace_context(&request);
        let caller = caller(&request);
        let request = request.into_inner();
        self.check_size(request.encoded_len()).map_err(|e| status(&e))?;
        let outcomes = self
            .onramp
            .produce(&caller, &request.road, records(request.records), &trace)
            .await
            .map_err(|e| status(&e))?;
        Ok(Response::new(pb::ProduceResponse {
            results: outcomes.into_iter().map(result).collect(),
        }))
    }

    type ProduceStreamStream = ResponseStream;

    async fn produce_stream(
        &self,
        request: Request<Streaming<pb::ProduceStreamRequest>>,
    ) -> Result<Response<Self::ProduceStreamStream>, Status> {
        let trace = trace_context(&request);
        let caller = caller(&request);
        let batches = request.into_inner().map(|message| {
            message.map_err(caller_status).map(|m| Batch {
                encoded_bytes: m.encoded_len(),
                sequence: m.sequence,
                road: m.road,
                records: records(m.records),
            })
        });
        let answers =
            self.onramp.produce_stream(caller, Box::pin(batches), trace, self.draining.clone());
        let outbound = ReceiverStream::new(answers).map(|item| match item {
            StreamItem::Answer(answer) => Ok(match answer.result {
                Ok(outcomes) => pb::ProduceStreamResponse {
                    sequence: answer.sequence,
                    results: outcomes.into_iter().map(result).collect(),
                    error: None,
                },
                Err(e) => {
                    let s = status(&e);
                    pb::ProduceStreamResponse {
                        sequence: answer.sequence,
                        results: Vec::new(),
                        error: Some(pb::BatchError {
                            code: s.code() as i32,
                            message: s.message().to_string(),
                        }),
                    }
                }
            }),
            StreamItem::Failed(status) => Err(status),
            StreamItem::Draining => Err(status_of(ErrorReport::new(
                Code::Unavailable,
                "SHUTTING_DOWN",
                "the server is shutting down; reconnect to send more",
            ))),
            StreamItem::Expired => Err(status(&crate::auth::Unauthenticated::new(
                "TOKEN_EXPIRED",
                "the token this stream was opened with has expired; reconnect with a fresh one",
            ))),
        });
        Ok(Response::new(Box::pin(outbound)))
    }
}
