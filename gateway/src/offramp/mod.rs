//! Offramp WebSocket v2:
//! `GET /offramp/v2/roads/{road}/streams/{stream}/messages?defaultOffset=EARLIEST|LATEST&grants=PII`
//! onto one OfframpService.Subscribe stream in GROUP mode.
//!
//! The subscription is opened before the upgrade, so an unknown road or a
//! refused start is an HTTP error from the one error table rather than a
//! socket that opens and dies. Credit, commits and rebalances are the gRPC
//! Offramp's; this module only translates events.

pub(crate) mod events;

use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Path, Query};
use axum::response::Response;
use futures::SinkExt;
use roadroller_api::v1 as pb;
use roadroller_api::v1::subscribe_request::Kind as Ask;
use roadroller_api::v1::subscribe_response::Kind as Got;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

use crate::Sessions;
use crate::error::ApiError;
use crate::forward::Calling;
use events::ClientEvent;

/// How long the upstream has to confirm a subscription before the upgrade
/// is refused.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long closing a socket may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Client events are small; a larger one is a mistake or an attack, and
/// closes the session with 1009 (message too big).
const MAX_CLIENT_EVENT: usize = 64 * 1024;

/// What the socket reads whole before the gateway looks at it: above
/// [`MAX_CLIENT_EVENT`], so that an oversized event is read to its end and
/// the close is an orderly one. A frame larger still is refused by the
/// socket as it arrives; the close is still sent, but the unread rest of
/// the frame may make the connection end in a reset.
const MAX_CLIENT_FRAME: usize = 1 << 20;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Params {
    default_offset: Option<String>,
    grants: Option<String>,
}

pub async fn connect(
    Calling(gateway): Calling,
    Path((road, stream)): Path<(String, String)>,
    params: Result<Query<Params>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let upgrade = upgrade.map_err(|e| {
        ApiError::bad_request(format!("This endpoint speaks WebSocket: {}", e.body_text()))
    })?;
    let start = start(&road, &stream, &params)?;
    let compacted = gateway.upstream.road_type(&road).await? == pb::RoadType::Compacted;

    let (asks, asked) = mpsc::channel(16);
    let _ = asks.send(pb::SubscribeRequest { kind: Some(Ask::Start(start)) }).await;
    let mut client = gateway.upstream.offramp.clone();
    let mut answers = client
        .subscribe(ReceiverStream::new(asked))
        .await
        .map_err(|s| ApiError::from_status(&s, &road))?
        .into_inner();
    let first = tokio::time::timeout(START_TIMEOUT, answers.message())
        .await
        .map_err(|_| ApiError::upstream_timeout("Offramp did not confirm the subscription"))?
        .map_err(|s| ApiError::from_status(&s, &road))?;
    let agent = match first.and_then(|r| r.kind) {
        Some(Got::Connection(c)) => c.instance_id,
        other => {
            return Err(ApiError::bad_upstream(format!(
                "Offramp began the subscription with {other:?} instead of connection"
            )));
        }
    };
    let session = Session { asks, answers, compacted, sessions: gateway.sessions.clone() };
    let tracker = gateway.sessions.tracker.clone();
    Ok(upgrade
        .max_message_size(MAX_CLIENT_FRAME)
        .max_frame_size(MAX_CLIENT_FRAME)
        .on_upgrade(move |socket| tracker.track_future(session.run(socket, agent))))
}

fn too_big() -> End {
    End::Close(close_code::SIZE, format!("events are at most {MAX_CLIENT_EVENT} bytes"))
}

/// Whether the socket refused a frame for its size.
fn too_large(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(tungstenite::Error::Capacity(_)) = e.downcast_ref::<tungstenite::Error>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// The gRPC start for the connection's parameters.
fn start(road: &str, stream: &str, params: &Params) -> Result<pb::StartSubscription, ApiError> {
    let initial_position = match params.default_offset.as_deref() {
        None | Some("LATEST") => pb::InitialPosition::Latest,
        Some("EARLIEST") => pb::InitialPosition::Earliest,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "defaultOffset: {other:?} is not EARLIEST or LATEST"
            )));
        }
    };
    let mut grants = Vec::new();
    for name in params.grants.as_deref().unwrap_or("").split(',').map(str::trim) {
        let grant = match name.to_ascii_uppercase().as_str() {
            "" => continue,
            "PII" => pb::Grant::Pii,
            "PUBLIC" => pb::Grant::Public,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "grants: {name:?} is not a grant; use PUBLIC or PII"
                )));
            }
        };
        grants.push(grant as i32);
    }
    Ok(pb::StartSubscription {
        road: road.to_string(),
        stream: stream.to_string(),
        initial_position: initial_position as i32,
        mode: pb::SubscriptionMode::Group as i32,
        grants,
        // Nothing is sent until the client's first REQUEST, as in Data
        // Highway.
        initial_credit: 0,
        resume_token: String::new(),
        report_partition_end: false,
        // Fewer, larger answers to read; each record still becomes its own
        // MESSAGE event.
        batch_messages: true,
    })
}

/// One WebSocket connection and its gRPC subscription.
struct Session {
    asks: mpsc::Sender<pb::SubscribeRequest>,
    answers: Streaming<pb::SubscribeResponse>,
    compacted: bool,
    sessions: Sessions,
}

/// Why a session ends, and how the socket is closed.
enum End {
    /// The client closed or went away: nothing more to send.
    Client,
    /// Close with this code and reason.
    Close(u16, String),
}

impl Session {
    async fn run(mut self, mut socket: WebSocket, agent: String) {
        let end = match send(&mut socket, events::connection(&agent)).await {
            Ok(()) => self.relay(&mut socket).await,
            Err(()) => End::Client,
        };
        // Bounded, so a peer that stopped reading cannot hold shutdown.
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            match end {
                End::Close(code, reason) => {
                    let frame = CloseFrame { code, reason: reason.into() };
                    let _ = socket.send(Message::Close(Some(frame))).await;
                }
                // Sends the reply to a client's close frame, which the
                // socket queued when it read it.
                End::Client => {
                    let _ = socket.flush().await;
                }
            }
        })
        .await;
        // Dropping `asks` ends the gRPC subscription, and its consumer
        // leaves the group.
    }

    async fn relay(&mut self, socket: &mut WebSocket) -> End {
        let closing = self.sessions.closing.clone();
        loop {
            tokio::select! {
                () = closing.cancelled() => {
                    return End::Close(close_code::AWAY, "the gateway is shutting down".into());
                }
                answer = self.answers.message() => match answer {
                    Ok(Some(answer)) => {
                        for event in self.events(answer) {
                            if send(socket, event).await.is_err() {
                                return End::Client;
                            }
                        }
                    }
                    Ok(None) => return End::Close(close_code::NORMAL, "the subscription ended".into()),
                    Err(status) => {
                        let _ = send(socket, events::error(status.message())).await;
                        let code = if status.code() == tonic::Code::Unavailable {
                            close_code::AWAY
                        } else {
                            close_code::ERROR
                        };
                        return End::Close(code, "the subscription ended with an error".into());
                    }
                },
                frame = socket.recv() => {
                    let data = match frame {
                        Some(Ok(Message::Text(text))) => text.as_bytes().to_vec(),
                        Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Err(e)) if too_large(&e) => return too_big(),
                        Some(Ok(Message::Close(_)) | Err(_)) | None => return End::Client,
                    };
                    if data.len() > MAX_CLIENT_EVENT {
                        return too_big();
                    }
                    match events::decode(&data) {
                        Ok(None) => {}
                        Ok(Some(event)) => {
                            if self.asks.send(ask(event)).await.is_err() {
                                return End::Close(close_code::ERROR, "the subscription ended".into());
                            }
                        }
                        Err(reason) => {
                            if send(socket, events::error(&reason)).await.is_err() {
                                return End::Client;
                            }
                        }
                    }
                }
            }
        }
    }

    /// The events for one gRPC answer (none for those the legacy protocol
    /// has no event for).
    fn events(&self, answer: pb::SubscribeResponse) -> Vec<String> {
        match answer.kind {
            Some(Got::Message(m)) => vec![self.message(&m)],
            Some(Got::Messages(run)) => run.messages.iter().map(|m| self.message(m)).collect(),
            Some(Got::Rebalance(r)) => {
                let mut assignment = r.partitions;
                assignment.sort_unstable();
                vec![events::rebalance(&assignment)]
            }
            Some(Got::CommitResponse(c)) => {
                let mut out = vec![events::commit_response(&c.correlation_id, c.success)];
                // COMMIT_RESPONSE has no room for the why; an ERROR says it.
                if !c.success && !c.error.is_empty() {
                    out.push(events::error(&format!(
                        "Commit {:?} failed: {}",
                        c.correlation_id, c.error
                    )));
                }
                out
            }
            Some(Got::Error(e)) => vec![events::error(&e.reason)],
            Some(
                Got::Connection(_)
                | Got::SnapshotComplete(_)
                | Got::SnapshotQueued(_)
                | Got::PartitionEnd(_),
            )
            | None => Vec::new(),
        }
    }

    fn message(&self, m: &pb::RoadMessage) -> String {
        let payload = match m.payload.as_deref().map(|p| RawValue::from_string(p.to_string())) {
            None => None,
            Some(Ok(raw)) => Some(raw),
            Some(Err(e)) => {
                return events::error(&format!(
                    "the record at partition {} offset {} is not JSON: {e}",
                    m.partition, m.offset
                ));
            }
        };
        // Kafka's convention for a record without a timestamp.
        let timestamp_ms = m.timestamp.as_ref().map_or(-1, roadroller_api::millis_of);
        let key = self.compacted.then_some(m.key.as_deref());
        events::message(
            m.partition,
            m.offset,
            m.schema_version,
            timestamp_ms,
            key,
            payload.as_deref(),
        )
    }
}

fn ask(event: ClientEvent) -> pb::SubscribeRequest {
    let kind = match event {
        ClientEvent::Request(count) => Ask::Request(pb::RequestMessages { count }),
        ClientEvent::Cancel => Ask::Cancel(pb::CancelMessages {}),
        ClientEvent::Commit { correlation_id, offsets } => {
            Ask::Commit(pb::CommitOffsets { correlation_id, offsets })
        }
    };
    pb::SubscribeRequest { kind: Some(kind) }
}

/// Sends one event as a binary frame, as Data Highway's server did.
async fn send(socket: &mut WebSocket, event: String) -> Result<(), ()> {
    socket.send(Message::Binary(event.into())).await.map_err(|_| ())
}
