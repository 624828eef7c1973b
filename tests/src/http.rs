//! Plain HTTP and WebSocket clients for the legacy gateway, as a Data
//! Highway client would use it.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::HeaderMap;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the status and body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{} answered non-JSON ({e}): {}", self.status, self.text()))
    }

    /// The `message` of a StandardResponse body.
    pub fn message(&self) -> String {
        self.json()["message"].as_str().unwrap_or_default().to_string()
    }
}

fn client() -> &'static Client<HttpConnector, Full<Bytes>> {
    static CLIENT: OnceLock<Client<HttpConnector, Full<Bytes>>> = OnceLock::new();
    CLIENT.get_or_init(|| Client::builder(TokioExecutor::new()).build_http())
}

/// Sends one request to `url` and reads the whole answer. Panics when no
/// answer comes within 30 s or the connection fails.
pub async fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> HttpResponse {
    let mut request = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(body.into())).expect("a valid request");
    let exchange = async {
        let response = client().request(request).await.expect("an HTTP answer");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("the answer's body").to_bytes();
        HttpResponse { status, headers, body }
    };
    tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {url}: no answer within 30 s"))
}

/// `GET url`.
pub async fn http_get(url: &str) -> HttpResponse {
    http("GET", url, &[], Bytes::new()).await
}

/// A JSON body sent with `Content-Type: application/json`.
pub async fn http_json(method: &str, url: &str, body: &serde_json::Value) -> HttpResponse {
    http(method, url, &[("content-type", "application/json")], body.to_string()).await
}

/// A client of the Offramp WebSocket protocol v2. Every event received is
/// checked to arrive in a binary frame with `type` as its first property,
/// and kept as raw text in `raw`.
pub struct LegacySocket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Every event received, as sent.
    pub raw: Vec<String>,
    /// Events received while waiting for something else, in order.
    pub others: Vec<serde_json::Value>,
}

impl LegacySocket {
    /// Connects to `url` (`ws://...`); on a refused upgrade, the HTTP answer.
    pub async fn connect(url: &str) -> Result<Self, HttpResponse> {
        match tokio_tungstenite::connect_async(url).await {
            Ok((ws, _)) => Ok(Self { ws, raw: Vec::new(), others: Vec::new() }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let (parts, body) = response.into_parts();
                Err(HttpResponse {
                    status: parts.status.as_u16(),
                    headers: parts.headers,
                    body: body.map(Bytes::from).unwrap_or_default(),
                })
            }
            Err(e) => panic!("connecting to {url}: {e}"),
        }
    }

    /// Sends `event` as a text frame.
    pub async fn send_text(&mut self, event: &str) {
        self.ws.send(Message::text(event)).await.expect("send a text frame");
    }

    /// Sends `event` as a binary frame.
    pub async fn send_binary(&mut self, event: &str) {
        self.ws
            .send(Message::binary(event.as_bytes().to_vec()))
            .await
            .expect("send a binary frame");
    }

    /// The next event, or `None` when nothing came within `within` or the
    /// server closed the connection.
    pub async fn next(&mut self, within: Duration) -> Option<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next()).await.ok()??;
            let text = match frame.expect("a WebSocket frame") {
                Message::Binary(bytes) => String::from_utf8(bytes.to_vec()).expect("UTF-8 event"),
                Message::Text(text) => panic!("events come in binary frames, got text {text}"),
                Message::Close(_) => return None,
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            };
            assert!(text.starts_with(r#"{"type":"#), "`type` is not first in {text}");
            let event = serde_json::from_str(&text).expect("a JSON event");
            self.raw.push(text);
            return Some(event);
        }
    }

    /// The next event of type `kind`; others are kept in `others`. Panics
    /// when none comes within `within`.
    pub async fn wait_for(&mut self, kind: &str, within: Duration) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(event) if event["type"] == kind => return event,
                Some(event) => self.others.push(event),
                None => panic!("no {kind} event within {within:?}; others: {:?}", self.others),
            }
        }
    }

    /// The next `n` MESSAGE events; others are kept in `others`.
    pub async fn messages(&mut self, n: usize, within: Duration) -> Vec<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + within;
        let mut got = Vec::new();
        while got.len() < n {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            got.push(self.wait_for("MESSAGE", left).await);
        }
        got
    }

    /// Asserts that no MESSAGE event comes for `quiet`; others are kept.
    pub async fn no_message_for(&mut self, quiet: Duration) {
        let deadline = tokio::time::Instant::now() + quiet;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            match self.next(left).await {
                Some(event) if event["type"] == "MESSAGE" => panic!("unexpected {event}"),
                Some(event) => self.others.push(event),
                None => return,
            }
        }
    }

    /// The code and reason of the server's close frame, skipping events;
    /// `None` when the connection ended without one.
    pub async fn close_frame(&mut self, within: Duration) -> Option<(u16, String)> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await.ok()?? {
                Ok(Message::Close(frame)) => {
                    return frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
