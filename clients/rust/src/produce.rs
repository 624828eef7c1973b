//! Producing records: one batch at a time (`Client::produce`) or over a
//! long-lived stream with backpressure (`Producer`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use roadroller_api::v1 as pb;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

use crate::{Client, Error};

/// A record to write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    pub key: Option<String>,
    /// JSON text; `None` with a key deletes the key on a COMPACTED road.
    pub payload: Option<String>,
}

impl Record {
    /// A record for a STREAM road.
    pub fn value(payload: &serde_json::Value) -> Self {
        Self { key: None, payload: Some(payload.to_string()) }
    }

    /// A keyed record for a COMPACTED road.
    pub fn keyed(key: impl Into<String>, payload: &serde_json::Value) -> Self {
        Self { key: Some(key.into()), payload: Some(payload.to_string()) }
    }

    /// Deletes `key` from a COMPACTED road.
    pub fn delete(key: impl Into<String>) -> Self {
        Self { key: Some(key.into()), payload: None }
    }
}

/// What became of one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Kafka acknowledged it.
    Accepted { partition: i32, offset: i64, schema_version: u32 },
    /// It was not written (for `Unavailable`, not acknowledged).
    Rejected { code: tonic::Code, message: String, violations: Vec<Violation> },
}

impl Outcome {
    pub fn is_accepted(&self) -> bool {
        matches!(self, Outcome::Accepted { .. })
    }
}

/// One way a payload failed its schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub pointer: String,
    pub keyword: String,
    pub message: String,
}

fn to_pb(records: impl IntoIterator<Item = Record>) -> Vec<pb::Record> {
    records.into_iter().map(|r| pb::Record { key: r.key, payload: r.payload }).collect()
}

fn outcome(result: pb::RecordResult) -> Result<Outcome, Error> {
    use pb::record_result::Result as R;
    match result.result {
        Some(R::Accepted(a)) => Ok(Outcome::Accepted {
            partition: a.partition,
            offset: a.offset,
            schema_version: a.schema_version as u32,
        }),
        Some(R::Rejected(r)) => Ok(Outcome::Rejected {
            code: tonic::Code::from(r.code),
            message: r.message,
            violations: r
                .violations
                .into_iter()
                .map(|v| Violation { pointer: v.pointer, keyword: v.keyword, message: v.message })
                .collect(),
        }),
        None => Err(Error::Protocol("a record result without an outcome".into())),
    }
}

fn outcomes(results: Vec<pb::RecordResult>) -> Result<Vec<Outcome>, Error> {
    results.into_iter().map(outcome).collect()
}

impl Client {
    /// Writes a batch; returns one outcome per record, in order, once Kafka
    /// has acknowledged every accepted record.
    pub async fn produce(
        &self,
        road: &str,
        records: impl IntoIterator<Item = Record>,
    ) -> Result<Vec<Outcome>, Error> {
        let request = pb::ProduceRequest { road: road.into(), records: to_pb(records) };
        let response = self.onramp.clone().produce(request).await?;
        outcomes(response.into_inner().results)
    }

    /// A streaming producer that keeps at most `in_flight` batches
    /// unanswered: `send` waits when the server falls behind.
    pub async fn producer(&self, in_flight: usize) -> Result<Producer, Error> {
        let (requests, rx) = mpsc::channel::<pb::ProduceStreamRequest>(in_flight.max(1));
        let mut answers =
            self.onramp.clone().produce_stream(ReceiverStream::new(rx)).await?.into_inner();
        let waiting: Arc<Mutex<VecDeque<Waiter>>> = Arc::default();
        let slots = Arc::new(Semaphore::new(in_flight.max(1)));
        let routed = waiting.clone();
        tokio::spawn(async move {
            // Answers come in the order the batches were sent.
            let failure = loop {
                match answers.message().await {
                    Ok(Some(answer)) => {
                        let Some(waiter) = routed.lock().expect("waiters").pop_front() else {
                            break "an answer to no batch".to_string();
                        };
                        let result = match answer.error {
                            Some(e) => Err(Error::Status(tonic::Status::new(
                                tonic::Code::from(e.code),
                                e.message,
                            ))),
                            None if answer.sequence == waiter.sequence => outcomes(answer.results),
                            None => Err(Error::Protocol(format!(
                                "answer {} came for batch {}",
                                answer.sequence, waiter.sequence
                            ))),
                        };
                        // The slot frees as the answer arrives, whether or not
                        // the caller has looked at it yet.
                        drop(waiter.slot);
                        let _ = waiter.reply.send(result);
                    }
                    Ok(None) => break "the server closed the stream".to_string(),
                    Err(status) => break status.message().to_string(),
                }
            };
            for waiter in routed.lock().expect("waiters").drain(..) {
                let _ = waiter.reply.send(Err(Error::Closed(failure.clone())));
            }
        });
        Ok(Producer { requests, waiting, slots, next: 0 })
    }
}

struct Waiter {
    sequence: u64,
    reply: oneshot::Sender<Result<Vec<Outcome>, Error>>,
    slot: tokio::sync::OwnedSemaphorePermit,
}

/// A long-lived ingest stream. Batches are answered in order.
pub struct Producer {
    requests: mpsc::Sender<pb::ProduceStreamRequest>,
    waiting: Arc<Mutex<VecDeque<Waiter>>>,
    slots: Arc<Semaphore>,
    next: u64,
}

/// The answer to one batch, to await when convenient.
pub struct Pending {
    reply: oneshot::Receiver<Result<Vec<Outcome>, Error>>,
}

impl Pending {
    /// The outcomes of the batch's records, in order.
    pub async fn outcomes(self) -> Result<Vec<Outcome>, Error> {
        self.reply.await.unwrap_or_else(|_| Err(Error::Closed("the producer stopped".into())))
    }
}

impl Producer {
    /// Sends a batch; waits while `in_flight` batches are unanswered by the
    /// server.
    pub async fn send(
        &mut self,
        road: &str,
        records: impl IntoIterator<Item = Record>,
    ) -> Result<Pending, Error> {
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Closed("the producer stopped".into()))?;
        let sequence = self.next;
        self.next += 1;
        let (reply, rx) = oneshot::channel();
        self.waiting.lock().expect("waiters").push_back(Waiter { sequence, reply, slot });
        let request =
            pb::ProduceStreamRequest { sequence, road: road.into(), records: to_pb(records) };
        self.requests
            .send(request)
            .await
            .map_err(|_| Error::Closed("the produce stream is closed".into()))?;
        Ok(Pending { reply: rx })
    }
}
