//! The gateway alone, in front of a separately started server: as the
//! `roadroller gateway` subcommand in a child process, and through the
//! library entry point. Both pass the same Data Highway flow as the gateway
//! inside `roadroller serve`.

use std::time::Duration;

use roadroller_gateway::Limits;
use roadroller_tests::{GatewayProcess, LegacySocket, TestGateway, TestServer, http_get};

use crate::gateway::{WAIT, data_highway_flow};

#[tokio::test]
async fn the_gateway_subcommand_serves_the_flow_and_exits_cleanly() {
    let server = TestServer::start().await;
    let mut gateway = GatewayProcess::start(&server.endpoint(), &["--grace-period", "3s"]);
    data_highway_flow(&gateway.url(), &gateway.ws_url(), "standalone").await;

    // A WebSocket session open at shutdown is closed, not waited for.
    let url = format!("{}/offramp/v2/roads/standalone/streams/late/messages", gateway.ws_url());
    let mut socket = LegacySocket::connect(&url).await.expect("upgrade");
    assert_eq!(socket.next(WAIT).await.expect("an event")["type"], "CONNECTION");
    let status = gateway.terminate(Duration::from_secs(5)).await;
    assert!(status.success(), "exit status {status:?}");
    assert!(gateway.logged("stopped", Duration::from_secs(1)), "logged its stop");
    while socket.next(Duration::from_secs(2)).await.is_some() {}
    server.shutdown().await;
}

#[tokio::test]
async fn the_library_gateway_serves_the_flow_and_answers_503_without_upstream() {
    let server = TestServer::start().await;
    let gateway = TestGateway::start(&server.endpoint(), Limits::default()).await;
    data_highway_flow(&gateway.url(), &gateway.ws_url(), "library").await;

    // Open sessions end when the gateway shuts down.
    let url = format!("{}/offramp/v2/roads/library/streams/late/messages", gateway.ws_url());
    let mut socket = LegacySocket::connect(&url).await.expect("upgrade");
    assert_eq!(socket.next(WAIT).await.expect("an event")["type"], "CONNECTION");
    // Events already on their way (a REBALANCE once partitions are assigned)
    // may come first; then the session ends well before the drain times out.
    let closed = tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while socket.next(Duration::from_secs(10)).await.is_some() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
        }
        tokio::time::Instant::now() < deadline
    });
    gateway.shutdown().await;
    assert!(closed.await.expect("join"), "the session was closed");

    let endpoint = server.endpoint();
    server.shutdown().await;
    let orphan = TestGateway::start(&endpoint, Limits::default()).await;
    let answer = http_get(&format!("{}/paver/v1/roads/library", orphan.url())).await;
    assert_eq!(answer.status, 503, "{}", answer.text());
    assert!(answer.message().starts_with("Roadroller is unavailable"), "{}", answer.text());
    orphan.shutdown().await;
}
