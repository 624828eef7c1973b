//! The harness every Roadroller test uses: a real Kafka-protocol broker on
//! port 0 and a real server on a listener bound to `127.0.0.1:0` and handed
//! over (never a probed port), talking gRPC over real sockets.

mod gateway;
mod http;
pub mod https;
mod kafka;
mod lag;
pub mod link;
pub mod noida;
mod otlp;
mod roads;
pub mod security;
mod status;
mod subscriber;
pub mod warehouse;

pub use gateway::{GatewayProcess, TestGateway, roadroller_bin};
pub use http::{HttpResponse, LegacySocket, http, http_get, http_json};
pub use kafka::{KafkaRecord, java_partition, murmur2, read_topic};
pub use lag::{Lagging, lagging_stream};
pub use otlp::OtlpReceiver;
pub use roads::{compacted_road, create_road_ready, duration, open_road, stream_road};
pub use status::{error_reason, field_violations};
pub use subscriber::{Subscriber, group_start, snapshot_start};

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use roadroller_api::v1::onramp_service_client::OnrampServiceClient;
use roadroller_api::v1::paver_service_client::PaverServiceClient;
use roadroller_api::v1::table_service_client::TableServiceClient;

use roadroller_server::broker::EmbeddedBroker;
use roadroller_server::config::Settings;
use roadroller_server::serve::{self, Listeners, ServeError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// A broker in this process, reachable over TCP: Roadroller's embedded
/// broker on a temporary directory, or noida's engine when
/// `ROADROLLER_TEST_BROKER=noida` (an independent Kafka-protocol
/// implementation, so the suite proves Roadroller needs nothing beyond the
/// protocol). It can be stopped and resumed on the same address to play a
/// Kafka outage.
#[derive(Clone)]
pub struct TestBroker {
    broker: Engine,
}

#[derive(Clone)]
enum Engine {
    Log(Arc<EmbeddedBroker>),
    Noida(Arc<noida::NoidaBroker>),
}

/// Whether the suite runs against noida's engine.
pub fn on_noida() -> bool {
    std::env::var("ROADROLLER_TEST_BROKER").is_ok_and(|v| v == "noida")
}

impl TestBroker {
    pub fn start() -> Self {
        let any = "127.0.0.1:0".parse().expect("address");
        let broker = if on_noida() {
            Engine::Noida(noida::NoidaBroker::start_in_memory(any).expect("the test broker starts"))
        } else {
            Engine::Log(EmbeddedBroker::start_temporary(any).expect("the test broker starts"))
        };
        Self { broker }
    }

    /// A broker on 127.0.0.1 that tells clients to reach it at `advertised`
    /// on the same port: a TLS proxy listens there.
    pub fn behind(advertised: std::net::IpAddr) -> Self {
        let any = "127.0.0.1:0".parse().expect("address");
        let broker = if on_noida() {
            Engine::Noida(
                noida::NoidaBroker::start_in_memory_advertising(any, advertised)
                    .expect("the test broker starts"),
            )
        } else {
            Engine::Log(
                EmbeddedBroker::start_temporary_advertising(any, advertised)
                    .expect("the test broker starts"),
            )
        };
        Self { broker }
    }

    fn addr(&self) -> std::net::SocketAddr {
        match &self.broker {
            Engine::Log(b) => b.addr(),
            Engine::Noida(b) => b.addr(),
        }
    }

    /// The bootstrap address for Kafka clients.
    pub fn bootstrap(&self) -> String {
        self.addr().to_string()
    }

    /// Closes the port and every connection, as if the broker went away.
    pub fn stop(&self) {
        match &self.broker {
            Engine::Log(b) => b.stop(),
            Engine::Noida(b) => b.stop(),
        }
    }

    /// Serves again on the same address, with the same data.
    pub fn resume(&self) {
        match &self.broker {
            Engine::Log(b) => b.resume(),
            Engine::Noida(b) => b.resume(),
        }
        .expect("the test broker resumes");
    }

    /// A plain rdkafka admin client on this broker, to look at Kafka
    /// directly.
    pub fn admin(&self) -> AdminClient<DefaultClientContext> {
        ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .expect("admin client")
    }
}

/// Settings for a test server on `broker`: short intervals, so tests observe
/// changes quickly.
pub fn test_settings(broker: &TestBroker) -> Settings {
    let mut settings = Settings::default();
    settings.kafka.bootstrap_servers = Some(broker.bootstrap());
    settings.kafka.startup_timeout = Duration::from_secs(10);
    settings.kafka.health_interval = Duration::from_millis(250);
    settings.grace_period = Duration::from_secs(5);
    settings.traffic_control.sweep_interval = Duration::from_millis(250);
    settings.traffic_control.message_count_interval = Duration::from_millis(500);
    settings.metrics.lag_interval = Duration::from_millis(500);
    settings
}

/// A server running in this process, with its legacy HTTP gateway on a
/// second handed-over listener. [`TestServer::shutdown`] stops it and
/// re-raises a panic of the server task; dropping it without shutting down
/// aborts the task.
pub struct TestServer {
    addr: SocketAddr,
    gateway: SocketAddr,
    /// The admin listener: metrics and probes.
    admin: SocketAddr,
    /// The CA of the server's certificate, when it serves TLS.
    ca: Option<String>,
    /// The certificate this handle's own channels present, if any.
    identity: Option<security::Pem>,
    /// The bearer token [`TestServer::paver`] and [`TestServer::onramp`]
    /// send, if any.
    token: Bearer,
    broker: TestBroker,
    /// The data directory (views of materialized roads), unless the test
    /// chose its own.
    _data_dir: Option<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

impl TestServer {
    /// A server on a new broker of its own.
    pub async fn start() -> Self {
        let broker = TestBroker::start();
        Self::start_on(&broker, |_| {}).await
    }

    /// A server on `broker`, with settings adjusted by `configure`. Returns
    /// once the server reports SERVING.
    pub async fn start_on(broker: &TestBroker, configure: impl FnOnce(&mut Settings)) -> Self {
        Self::start_with(broker, None, None, configure).await
    }

    /// A server on `broker` serving TLS with a certificate that `ca` (PEM)
    /// signed for `localhost`; [`TestServer::channel`] speaks TLS to it.
    pub async fn start_tls(
        broker: &TestBroker,
        ca: &str,
        configure: impl FnOnce(&mut Settings),
    ) -> Self {
        Self::start_with(broker, Some(ca.to_string()), None, configure).await
    }

    /// As [`TestServer::start_tls`], for a server that requires client
    /// certificates: this handle's channels present `identity`.
    pub async fn start_mtls(
        broker: &TestBroker,
        ca: &str,
        identity: &security::Pem,
        configure: impl FnOnce(&mut Settings),
    ) -> Self {
        Self::start_with(broker, Some(ca.to_string()), Some(identity.clone()), configure).await
    }

    async fn start_with(
        broker: &TestBroker,
        ca: Option<String>,
        identity: Option<security::Pem>,
        configure: impl FnOnce(&mut Settings),
    ) -> Self {
        let mut settings = test_settings(broker);
        let data_dir = tempfile::tempdir().expect("data directory");
        settings.data_dir = data_dir.path().to_path_buf();
        configure(&mut settings);
        let data_dir = (settings.data_dir == data_dir.path()).then_some(data_dir);
        let listener =
            tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("bound address");
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let gateway = http.local_addr().expect("bound address");
        let (stop, stopped) = oneshot::channel::<()>();
        let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let admin_addr = admin.local_addr().expect("bound address");
        let listeners = Listeners { grpc: listener, http: Some(http), admin: Some(admin) };
        let task = tokio::spawn(serve::run(settings, listeners, async move {
            let _ = stopped.await;
        }));
        let server = Self {
            addr,
            gateway,
            admin: admin_addr,
            ca,
            identity,
            token: Bearer::default(),
            broker: broker.clone(),
            _data_dir: data_dir,
            stop: Some(stop),
            task: Some(task),
        };
        server.wait_for_health(ServingStatus::Serving, Duration::from_secs(20)).await;
        server
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, or `https://localhost:<port>` with TLS.
    pub fn endpoint(&self) -> String {
        match self.ca {
            None => format!("http://{}", self.addr),
            Some(_) => format!("https://localhost:{}", self.addr.port()),
        }
    }

    /// The legacy HTTP gateway's address.
    pub fn gateway_addr(&self) -> SocketAddr {
        self.gateway
    }

    /// `http://127.0.0.1:<gateway port>` (`https://localhost:…` with TLS).
    pub fn gateway_url(&self) -> String {
        match self.ca {
            None => format!("http://{}", self.gateway),
            Some(_) => format!("https://localhost:{}", self.gateway.port()),
        }
    }

    /// `http://127.0.0.1:<admin port>`: `/metrics`, `/healthz`, `/readyz`.
    pub fn admin_url(&self) -> String {
        format!("http://{}", self.admin)
    }

    /// `ws://127.0.0.1:<gateway port>`.
    pub fn gateway_ws_url(&self) -> String {
        format!("ws://{}", self.gateway)
    }

    pub fn broker(&self) -> &TestBroker {
        &self.broker
    }

    /// A new gRPC channel to the server (TLS when it serves TLS, without a
    /// client certificate).
    pub async fn channel(&self) -> Channel {
        self.try_channel(self.identity.as_ref()).await.expect("connect to the test server")
    }

    /// A new gRPC channel presenting `client` as its certificate; the
    /// server must serve TLS.
    pub async fn channel_as(&self, client: &security::Pem) -> Channel {
        self.try_channel(Some(client)).await.expect("connect to the test server")
    }

    /// An endpoint to `server` that trusts `ca` (PEM) instead of the CA the
    /// server started with, to see which certificate it serves now.
    pub fn client_for(server: &TestServer, ca: &str) -> tonic::transport::Endpoint {
        let tls = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(ca));
        Channel::from_shared(server.endpoint()).expect("endpoint").tls_config(tls).expect("tls")
    }

    /// A new gRPC channel, or why the connection failed.
    pub async fn try_channel(
        &self,
        client: Option<&security::Pem>,
    ) -> Result<Channel, tonic::transport::Error> {
        let endpoint = Channel::from_shared(self.endpoint()).expect("endpoint");
        let endpoint = match &self.ca {
            None => endpoint,
            Some(ca) => {
                let mut tls = tonic::transport::ClientTlsConfig::new()
                    .ca_certificate(tonic::transport::Certificate::from_pem(ca));
                if let Some(client) = client {
                    tls = tls
                        .identity(tonic::transport::Identity::from_pem(&client.cert, &client.key));
                }
                endpoint.tls_config(tls)?
            }
        };
        endpoint.connect().await
    }

    /// The credentials this handle's clients send.
    pub fn bearer(&self) -> Bearer {
        self.token.clone()
    }

    /// The same server, with clients that send `token`.
    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Bearer::new(token);
        self
    }

    /// A PaverService client.
    pub async fn paver(&self) -> PaverServiceClient<Authed> {
        PaverServiceClient::new(Authed::new(self.channel().await, self.token.clone()))
    }

    /// An OnrampService client.
    pub async fn onramp(&self) -> OnrampServiceClient<Authed> {
        OnrampServiceClient::new(Authed::new(self.channel().await, self.token.clone()))
    }

    /// A TableService client.
    pub async fn tables(&self) -> TableServiceClient<Authed> {
        TableServiceClient::new(Authed::new(self.channel().await, self.token.clone()))
    }

    /// A LoadingBayService client.
    pub async fn loading_bay(
        &self,
    ) -> roadroller_api::v1::loading_bay_service_client::LoadingBayServiceClient<Authed> {
        roadroller_api::v1::loading_bay_service_client::LoadingBayServiceClient::new(Authed::new(
            self.channel().await,
            self.token.clone(),
        ))
    }

    /// Produces `records` to `road` and asserts that every one was accepted.
    pub async fn produce_accepted(&self, road: &str, records: Vec<roadroller_api::v1::Record>) {
        use roadroller_api::v1::{ProduceRequest, record_result};
        let results = self
            .onramp()
            .await
            .produce(ProduceRequest { road: road.into(), records })
            .await
            .expect("produce")
            .into_inner()
            .results;
        assert!(
            results.iter().all(|r| matches!(r.result, Some(record_result::Result::Accepted(_)))),
            "{results:?}"
        );
    }

    /// The overall health status, or `None` when the call failed.
    pub async fn health(&self, service: &str) -> Option<ServingStatus> {
        let mut client = HealthClient::new(self.channel().await);
        let request = HealthCheckRequest { service: service.to_string() };
        let response = client.check(request).await.ok()?;
        ServingStatus::try_from(response.into_inner().status).ok()
    }

    /// Waits until the overall health is `want`; panics after `within`,
    /// and at once if the server task has ended.
    pub async fn wait_for_health(&self, want: ServingStatus, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if self.task.as_ref().is_some_and(|t| t.is_finished()) {
                panic!("the server task ended while waiting for {want:?}");
            }
            if self.health("").await == Some(want) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "health not {want:?} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Shuts the server down in order and waits for it; re-raises a panic of
    /// the server task and fails on an error.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().expect("running");
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("the server stopped with an error: {e}"),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("the server task was cancelled: {e}"),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A channel whose calls carry a bearer token, if any.
pub type Authed = tonic::service::interceptor::InterceptedService<Channel, Bearer>;

/// Sends `authorization: Bearer <token>` with every call, or nothing.
#[derive(Clone, Debug, Default)]
pub struct Bearer(Option<tonic::metadata::AsciiMetadataValue>);

impl Bearer {
    pub fn new(token: &str) -> Self {
        Self(Some(format!("Bearer {token}").parse().expect("an ASCII token")))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// Polls `check` every 50 ms until it returns `Some`, or panics after
/// `within` naming `what`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
