//! OfframpService over the Offramp domain.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use roadroller_api::v1 as pb;
use roadroller_api::v1::offramp_service_server::OfframpService;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

use super::{Command, Event, InitialPosition, Mode, Offramp, OfframpError, SeekTo, Start, wire};
use crate::auth::grpc::caller;
use crate::grpc::decoding::caller_status;
use crate::grpc::status;
use crate::paver::grpc::{grant, timestamp};

/// The tonic service. `end_streams` ends every subscription at shutdown.
pub struct OfframpGrpc {
    offramp: Offramp,
    end_streams: CancellationToken,
}

impl OfframpGrpc {
    pub fn new(offramp: Offramp, end_streams: CancellationToken) -> Self {
        Self { offramp, end_streams }
    }
}

type Outbound = Pin<Box<dyn Stream<Item = Result<pb::SubscribeResponse, Status>> + Send>>;

fn protocol(message: &str) -> Status {
    status(&OfframpError::Protocol(message.to_string()))
}

fn start(s: pb::StartSubscription) -> Result<Start, Status> {
    let invalid = |field: &str, e: String| {
        status(&OfframpError::InvalidStart(vec![crate::error::FieldViolation::new(field, e)]))
    };
    let initial_position = match pb::InitialPosition::try_from(s.initial_position) {
        Ok(pb::InitialPosition::Unspecified | pb::InitialPosition::Latest) => {
            InitialPosition::Latest
        }
        Ok(pb::InitialPosition::Earliest) => InitialPosition::Earliest,
        Err(_) => {
            return Err(invalid(
                "start.initial_position",
                format!("{} is not a position", s.initial_position),
            ));
        }
    };
    let mode = match pb::SubscriptionMode::try_from(s.mode) {
        Ok(pb::SubscriptionMode::Unspecified | pb::SubscriptionMode::Group) => Mode::Group,
        Ok(pb::SubscriptionMode::Snapshot) => Mode::Snapshot,
        Err(_) => return Err(invalid("start.mode", format!("{} is not a mode", s.mode))),
    };
    let grants = s
        .grants
        .iter()
        .map(|g| grant(*g))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("start.grants", e))?;
    let resume = match s.resume_token.as_str() {
        "" => None,
        _ if mode != Mode::Snapshot => {
            return Err(invalid("start.resume_token", "applies to SNAPSHOT mode only".into()));
        }
        token => Some(crate::tables::ResumeToken::decode(token).ok_or_else(|| {
            invalid(
                "start.resume_token",
                "is not a token this server gave; pass a snapshot message's resume_token".into(),
            )
        })?),
    };
    Ok(Start {
        road: s.road,
        stream: s.stream,
        initial_position,
        mode,
        grants,
        initial_credit: s.initial_credit,
        report_partition_end: s.report_partition_end,
        resume,
    })
}

/// A later request as a command: refused (with a reason for the subscriber)
/// when it cannot be followed, aborting when it breaks the protocol.
fn command(kind: pb::subscribe_request::Kind) -> Command {
    use pb::subscribe_request::Kind;
    match kind {
        Kind::Start(_) => {
            Command::Abort("start may be sent only once, as the first message".into())
        }
        Kind::Request(r) => Command::Request(r.count),
        Kind::Cancel(_) => Command::Cancel,
        Kind::Commit(c) => Command::Commit {
            correlation_id: c.correlation_id,
            offsets: c.offsets.into_iter().collect(),
        },
        Kind::Seek(s) => {
            use pb::seek_position::To;
            let to = match s.to {
                Some(To::Boundary(b)) => match pb::SeekBoundary::try_from(b) {
                    Ok(pb::SeekBoundary::Beginning) => SeekTo::Beginning,
                    Ok(pb::SeekBoundary::End) => SeekTo::End,
                    _ => return Command::Refuse("seek.boundary must be BEGINNING or END".into()),
                },
                Some(To::Timestamp(t)) => SeekTo::Timestamp(roadroller_api::millis_of(&t)),
                Some(To::Offsets(o)) => {
                    SeekTo::Offsets(o.offsets.into_iter().collect::<BTreeMap<_, _>>())
                }
                None => {
                    return Command::Refuse(
                        "seek needs a position: boundary, timestamp or offsets".into(),
                    );
                }
            };
            Command::Seek(to)
        }
    }
}

/// A record as its own response (subscribers that do not batch).
pub(super) fn road_message(d: super::Delivered) -> pb::RoadMessage {
    let text = |t: Option<super::Text>| t.map(|t| t.as_str().to_owned());
    pb::RoadMessage {
        partition: d.partition,
        offset: d.offset,
        timestamp: d.timestamp_ms.map(timestamp),
        schema_version: d.schema_version as i32,
        key: text(d.key),
        payload: text(d.payload),
        traceparent: text(d.traceparent),
        resume_token: text(d.resume_token),
        tracestate: text(d.tracestate),
    }
}

/// Payload and key bytes per `messages` response, beyond which the next
/// record starts another: far below gRPC's usual 4 MiB message limit, and
/// large enough that the per-response cost no longer counts.
const BATCH_BYTES: usize = 1 << 20;

/// A batch of events as responses: each event its own, or with
/// `batch_messages`, runs of records packed into `messages`, which write
/// themselves to the wire ([`wire::Batch`]).
fn responses(
    events: Vec<Event>,
    batch_messages: bool,
) -> Vec<Result<pb::SubscribeResponse, Status>> {
    use pb::subscribe_response::Kind;
    if !batch_messages {
        return events.into_iter().map(|e| Ok(response(e))).collect();
    }
    let mut out = Vec::new();
    let mut run = wire::Batch::default();
    let mut bytes = 0;
    let close = |run: &mut wire::Batch, out: &mut Vec<_>| {
        if !run.is_empty() {
            let entries: Arc<dyn pb::Entries> = Arc::new(std::mem::take(run));
            let messages = pb::RoadMessages { messages: Vec::new(), encoded: Some(entries) };
            out.push(Ok(pb::SubscribeResponse { kind: Some(Kind::Messages(messages)) }));
        }
    };
    for event in events {
        match event {
            Event::Message(d) => {
                let size = d.text_len();
                if bytes + size > BATCH_BYTES {
                    close(&mut run, &mut out);
                    bytes = 0;
                }
                bytes += size;
                run.push(d);
            }
            other => {
                close(&mut run, &mut out);
                bytes = 0;
                out.push(Ok(response(other)));
            }
        }
    }
    close(&mut run, &mut out);
    out
}

fn response(event: Event) -> pb::SubscribeResponse {
    use pb::subscribe_response::Kind;
    let kind = match event {
        Event::Connection { instance_id, consumer_group } => Kind::Connection(pb::Connection {
            instance_id,
            consumer_group: consumer_group.unwrap_or_default(),
        }),
        Event::Message(d) => Kind::Message(road_message(d)),
        Event::Rebalance(partitions) => Kind::Rebalance(pb::Rebalance { partitions }),
        Event::CommitResponse { correlation_id, success, error } => {
            Kind::CommitResponse(pb::CommitResponse { correlation_id, success, error })
        }
        Event::SnapshotComplete(offsets) => {
            Kind::SnapshotComplete(pb::SnapshotComplete { offsets: offsets.into_iter().collect() })
        }
        Event::SnapshotQueued(place) => Kind::SnapshotQueued(pb::SnapshotQueued {
            place: i32::try_from(place).unwrap_or(i32::MAX),
        }),
        Event::PartitionEnd { partition, next_offset } => {
            Kind::PartitionEnd(pb::PartitionEnd { partition, next_offset })
        }
        Event::Error(reason) => Kind::Error(pb::SubscriptionError { reason }),
    };
    pb::SubscribeResponse { kind: Some(kind) }
}

#[tonic::async_trait]
impl OfframpService for OfframpGrpc {
    type SubscribeStream = Outbound;

    async fn subscribe(
        &self,
        request: Request<Streaming<pb::SubscribeRequest>>,
    ) -> Result<Response<Outbound>, Status> {
        use pb::subscribe_request::Kind;
        let caller = caller(&request);
        let mut inbound = request.into_inner();
        // A stream that never starts would hold its connection forever.
        let within = self.offramp.settings().start_timeout;
        let first = tokio::time::timeout(within, inbound.message())
            .await
            .map_err(|_| status(&OfframpError::NoStart(within)))?
            .map_err(caller_status)?;
        let (start, batch_messages) = match first.and_then(|m| m.kind) {
            Some(Kind::Start(s)) => {
                let batch = s.batch_messages;
                (start(s)?, batch)
            }
            Some(_) => return Err(protocol("the first message must be start")),
            None => return Err(protocol("the stream began without start")),
        };
        let (commands, command_rx) = mpsc::channel(64);
        let events = self
            .offramp
            .subscribe(caller, start, command_rx, self.end_streams.child_token())
            .map_err(|e| status(&e))?;
        // Requests become commands. The subscription ends when `commands`
        // is dropped (the subscriber went away) or on an abort; a
        // half-closed request stream keeps it, until it ends by itself.
        tokio::spawn(async move {
            loop {
                let command = match inbound.message().await {
                    Ok(Some(pb::SubscribeRequest { kind: Some(kind) })) => command(kind),
                    Ok(Some(_)) => Command::Refuse("an empty request was ignored".into()),
                    Ok(None) => {
                        commands.closed().await;
                        return;
                    }
                    // A request that cannot be read ends the subscription
                    // with the reason; a broken or cancelled call just ends.
                    Err(status) => {
                        let status = caller_status(status);
                        if matches!(
                            status.code(),
                            tonic::Code::InvalidArgument | tonic::Code::ResourceExhausted
                        ) {
                            let why = format!("a request could not be read: {}", status.message());
                            let _ = commands.send(Command::Abort(why)).await;
                        }
                        return;
                    }
                };
                if commands.send(command).await.is_err() {
                    return;
                }
            }
        });
        // Events come in batches, encoded by tonic straight from the
        // subscription's channel.
        let outbound = ReceiverStream::new(events).flat_map(move |batch| {
            let responses = match batch {
                Ok(events) => responses(events, batch_messages),
                Err(e) => vec![Err(status(&e))],
            };
            futures::stream::iter(responses)
        });
        Ok(Response::new(Box::pin(outbound)))
    }
}
