//! Long-lived ingest: batches in, outcomes out, in the order the batches
//! came, with a bound on the records a stream holds unacknowledged.

use std::sync::Arc;

use futures::stream::{FuturesOrdered, Stream, StreamExt};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::{Charged, Onramp, OnrampError, Outcome, Record, TraceContext};
use crate::auth::{self, Caller};

/// How long a stream charges the account it looked up.
const ACCOUNT_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// Far enough away to stand for "never".
const YEAR: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

/// One batch of a stream.
#[derive(Debug)]
pub struct Batch {
    /// The client's tag, echoed back.
    pub sequence: u64,
    pub road: String,
    pub records: Vec<Record>,
    /// The batch's size on the wire; over the request limit it is refused.
    pub encoded_bytes: usize,
}

/// The answer to one batch.
#[derive(Debug)]
pub struct BatchOutcome {
    pub sequence: u64,
    pub result: Result<Vec<Outcome>, OnrampError>,
}

/// What the outbound half of a stream carries.
#[derive(Debug)]
pub enum StreamItem<E> {
    Answer(BatchOutcome),
    /// The inbound half failed; nothing more is read.
    Failed(E),
    /// The server is shutting down: batches answered so far are complete,
    /// later ones were not read.
    Draining,
    /// The caller's token expired: batches answered so far are complete,
    /// later ones were not read.
    Expired,
}

impl Onramp {
    /// Serves one ingest stream until the client closes it, fails, or
    /// `draining` fires. Reading stops while the stream's unacknowledged
    /// records are at the bound, which slows the client through HTTP/2 flow
    /// control.
    pub fn produce_stream<S, E>(
        &self,
        caller: Caller,
        mut inbound: S,
        trace: TraceContext,
        draining: CancellationToken,
    ) -> mpsc::Receiver<StreamItem<E>>
    where
        S: Stream<Item = Result<Batch, E>> + Send + Unpin + 'static,
        E: Send + 'static,
    {
        let (tx, rx) = mpsc::channel(16);
        let onramp = self.clone();
        let bound = self.settings.max_unacked_per_stream.max(1);
        let permits = Arc::new(Semaphore::new(bound));
        let caller = Arc::new(caller);
        tokio::spawn(async move {
            let mut account = (onramp.quotas.account(&caller), std::time::Instant::now());
            let mut pending = FuturesOrdered::new();
            let mut reading = true;
            let mut drained = false;
            let mut expired = false;
            // A stream lives no longer than the token it was opened with.
            let expiry = auth::remaining(&caller).map(|d| tokio::time::Instant::now() + d);
            let expiry_sleep = tokio::time::sleep_until(
                expiry.unwrap_or_else(|| tokio::time::Instant::now() + YEAR),
            );
            tokio::pin!(expiry_sleep);
            loop {
                tokio::select! {
                    biased;
                    Some(done) = pending.next() => {
                        if tx.send(StreamItem::Answer(done)).await.is_err() {
                            return;
                        }
                    }
                    () = draining.cancelled(), if reading => {
                        reading = false;
                        drained = true;
                    }
                    () = &mut expiry_sleep, if reading && expiry.is_some() => {
                        reading = false;
                        expired = true;
                    }
                    next = inbound.next(), if reading => match next {
                        None => reading = false,
                        Some(Err(e)) => {
                            // Answer what was accepted before the failure.
                            while let Some(done) = pending.next().await {
                                let _ = tx.send(StreamItem::Answer(done)).await;
                            }
                            let _ = tx.send(StreamItem::Failed(e)).await;
                            return;
                        }
                        Some(Ok(batch)) => {
                            let wanted = batch.records.len().clamp(1, bound) as u32;
                            // Keep answering finished batches while waiting
                            // for room.
                            let permit = loop {
                                tokio::select! {
                                    biased;
                                    permit = permits.clone().acquire_many_owned(wanted) => {
                                        break permit.expect("the semaphore is never closed");
                                    }
                                    Some(done) = pending.next() => {
                                        if tx.send(StreamItem::Answer(done)).await.is_err() {
                                            return;
                                        }
                                    }
                                }
                            };
                            // Over a quota the stream waits here, reading
                            // nothing more, until the batch may go.
                            let max = onramp.settings.max_request_bytes;
                            let too_large = batch.encoded_bytes > max;
                            if !too_large {
                                let records = batch.records.len() as u64;
                                let bytes = batch.records.iter().map(Record::size).sum();
                                // Looked up again each second, so that a
                                // changed quotas file reaches open streams.
                                if account.1.elapsed() >= ACCOUNT_FOR {
                                    account = (onramp.quotas.account(&caller), std::time::Instant::now());
                                }
                                let throttle = onramp.quotas.throttle_produce(&account.0, &batch.road, records, bytes);
                                tokio::pin!(throttle);
                                let go = loop {
                                    tokio::select! {
                                        biased;
                                        () = &mut throttle => break true,
                                        // Shutdown does not wait for a quota:
                                        // the batch is not answered, so the
                                        // client knows it was not written.
                                        () = draining.cancelled() => break false,
                                        Some(done) = pending.next() => {
                                            if tx.send(StreamItem::Answer(done)).await.is_err() {
                                                return;
                                            }
                                        }
                                    }
                                };
                                if !go {
                                    reading = false;
                                    drained = true;
                                    continue;
                                }
                            }
                            let onramp = onramp.clone();
                            let trace = trace.clone();
                            let caller = caller.clone();
                            pending.push_back(async move {
                                let result = if too_large {
                                    Err(OnrampError::TooLarge { size: batch.encoded_bytes, max })
                                } else {
                                    onramp
                                        .produce_charged(&caller, &batch.road, batch.records, &trace, Charged::Already)
                                        .await
                                };
                                drop(permit);
                                BatchOutcome { sequence: batch.sequence, result }
                            });
                        }
                    },
                    else => break,
                }
            }
            if drained {
                let _ = tx.send(StreamItem::Draining).await;
            } else if expired {
                let _ = tx.send(StreamItem::Expired).await;
            }
        });
        rx
    }
}
