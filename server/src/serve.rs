//! `roadroller serve`: start-up, serving and the ordered shutdown; and
//! `roadroller gateway`, the legacy HTTP gateway alone.
//!
//! Start-up: the embedded broker when no Kafka is configured, Kafka clients
//! (failing fast when no broker answers), health and reflection, the services,
//! and the legacy Data Highway HTTP gateway on its own listener, speaking
//! gRPC to this server like any other client.
//! Shutdown, in this order: health NOT_SERVING, stop accepting (gRPC and
//! HTTP) and end long-lived streams and WebSocket sessions, drain in-flight
//! calls within the grace period, flush the producer, save and stop the
//! embedded broker.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use roadroller_tls::{Incoming, ServerTls};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use roadroller_api::service_names;
use roadroller_api::v1::loading_bay_service_server::LoadingBayServiceServer;
use roadroller_api::v1::offramp_service_server::OfframpServiceServer;
use roadroller_api::v1::onramp_service_server::OnrampServiceServer;
use roadroller_api::v1::paver_service_server::PaverServiceServer;
use roadroller_api::v1::stream_service_server::StreamServiceServer;
use roadroller_api::v1::table_service_server::TableServiceServer;

use crate::audit::Audit;
use crate::auth::grpc::Authenticate;
use crate::auth::{Auth, Guard};
use crate::broker::EmbeddedBroker;
use crate::config::{GatewaySettings, Settings, UpstreamTls};
use crate::health::Health;
use crate::kafka::{self, Connectivity, Kafka};
use crate::offramp::Offramp;
use crate::offramp::grpc::OfframpGrpc;
use crate::onramp::Onramp;
use crate::onramp::grpc::OnrampGrpc;
use crate::paver::Paver;
use crate::paver::grpc::PaverGrpc;
use crate::roads::StatusBoard;
use crate::roads::registry::{Registry, RegistryError};
use crate::schema::SchemaCache;
use crate::telemetry::grpc::Measured;
use crate::traffic_control::TrafficControl;

/// Why the server could not start or stopped with an error. Each renders as
/// one line that names the setting involved.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("embedded broker (--embedded-listen={listen}, --data-dir={}): {source}", data_dir.display())]
    Embedded { listen: SocketAddr, data_dir: PathBuf, source: io::Error },
    #[error("{0}")]
    Kafka(#[from] kafka::ConnectError),
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("{0} (--registry-topic)")]
    Registry(#[from] RegistryError),
    #[error("HTTP gateway: {0}")]
    Gateway(String),
    #[error("{0}")]
    Auth(String),
    #[error("TLS (--tls-cert-file): {0}")]
    Tls(#[from] roadroller_tls::TlsError),
    #[error("listening: {0}")]
    Listen(io::Error),
    #[error("audit.topic: {0}")]
    Audit(String),
    #[error("telemetry.otlp_endpoint: {0}")]
    Telemetry(String),
    #[error("quotas.file: {0}")]
    Quotas(String),
    #[error("loading_bay.warehouse: {0}")]
    LoadingBay(String),
}

/// Where `serve` listens: gRPC, and the HTTP gateway when it has a listener.
/// The caller binds them (`main` from the settings' addresses, tests on port
/// 0), so a bound address is never guessed.
pub struct Listeners {
    pub grpc: TcpListener,
    pub http: Option<TcpListener>,
    /// Metrics and probes.
    pub admin: Option<TcpListener>,
}

impl From<TcpListener> for Listeners {
    /// gRPC only.
    fn from(grpc: TcpListener) -> Self {
        Self { grpc, http: None, admin: None }
    }
}

/// The gRPC services this build serves, as health reports them. A service is
/// listed only once it works.
const SERVICES: &[&str] = &[
    service_names::PAVER,
    service_names::ONRAMP,
    service_names::OFFRAMP,
    service_names::STREAM,
    service_names::TABLE,
    service_names::LOADING_BAY,
];

/// Runs Roadroller on `listeners` until `shutdown` completes, then shuts down
/// in order within the grace period.
pub async fn run(
    settings: Settings,
    listeners: impl Into<Listeners>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let Listeners { grpc: listener, http, admin } = listeners.into();
    let metrics = crate::telemetry::Metrics::new(settings.metrics);
    let settings = settings.with_instance_id();
    let traces = crate::telemetry::Tracing::start(&settings.traces, &settings.instance_id)
        .map_err(ServeError::Telemetry)?;
    let telemetry =
        crate::telemetry::Telemetry { metrics: metrics.clone(), tracing: traces.clone() };
    let auth = Auth::new(&settings.auth).map_err(ServeError::Auth)?;
    if auth.policy.open {
        tracing::warn!(
            "no authentication is configured: every caller may do everything; \
             only loopback listeners are served unless auth.allow_anonymous is set"
        );
    }
    let tls = settings.tls.clone().map(ServerTls::new).transpose()?.map(Arc::new);
    let stop_tasks = CancellationToken::new();
    let _stop_tasks_on_exit = stop_tasks.clone().drop_guard();

    let broker = match &settings.kafka.bootstrap_servers {
        Some(_) => None,
        None => Some(start_embedded(&settings)?),
    };
    let bootstrap = match (&settings.kafka.bootstrap_servers, &broker) {
        (Some(servers), _) => servers.clone(),
        (None, Some(broker)) => broker.addr().to_string(),
        (None, None) => unreachable!("an embedded broker starts when none is configured"),
    };
    let kafka = Kafka::connect(&bootstrap, &settings.instance_id, &settings.kafka).await?;
    tracing::info!(%bootstrap, instance = %settings.instance_id, "connected to kafka");

    let audit = match &settings.audit_topic {
        Some(topic) => Audit::with_topic(&kafka, topic).await.map_err(ServeError::Audit)?,
        None => Audit::log_only(),
    };
    let guard = Guard::new(auth.policy.clone(), audit.clone());
    let gate = Authenticate::new(auth.authenticator.clone(), audit);

    let (reporter, health_service) = tonic_health::server::health_reporter();
    let health = Health::new(reporter, SERVICES).await;
    let watcher = follow_kafka(&health, &kafka, settings.kafka.health_interval, stop_tasks.clone());

    // The registry is replayed before anything is served, so the first
    // SERVING answer comes with every road loaded.
    let registry =
        Registry::start(kafka.clone(), settings.registry.clone(), stop_tasks.clone()).await?;
    let board = Arc::new(StatusBoard::default());
    let schemas = Arc::new(SchemaCache::default());
    let quotas =
        crate::quotas::Quotas::new(settings.quotas.clone(), registry.clone(), metrics.clone())
            .map_err(ServeError::Quotas)?;
    let traffic_control = TrafficControl::new(
        kafka.clone(),
        registry.clone(),
        board.clone(),
        settings.traffic_control.clone(),
    )
    .spawn(stop_tasks.clone());
    let paver = Paver::new(
        registry.clone(),
        board.clone(),
        schemas.clone(),
        settings.roads.clone(),
        settings.traffic_control.topic_prefix.clone(),
        guard.clone(),
        quotas.clone(),
    );
    let gauges = watch_registry(&metrics, &registry, &board, stop_tasks.clone());
    let statistics = metrics.clone();
    kafka.on_statistics(move |s| statistics.set_kafka(s));

    let streams = crate::streams::Streams::new(
        kafka.clone(),
        registry.clone(),
        board.clone(),
        settings.traffic_control.topic_prefix.clone(),
        guard.clone(),
    );
    let lags = watch_lag(&metrics, &streams, settings.metrics.lag_interval, stop_tasks.clone());

    let onramp = Onramp::new(
        kafka.clone(),
        registry.clone(),
        board.clone(),
        schemas.clone(),
        settings.onramp.clone(),
        settings.traffic_control.topic_prefix.clone(),
        guard.clone(),
        quotas.clone(),
        telemetry.clone(),
    );
    let tables = crate::tables::Tables::new(
        kafka.clone(),
        registry.clone(),
        board.clone(),
        schemas.clone(),
        guard.clone(),
        settings.tables.clone(),
        settings.traffic_control.topic_prefix.clone(),
        &settings.data_dir,
    );
    let views = tables.spawn(stop_tasks.clone());
    let loading_bay = crate::loading_bay::LoadingBay::new(
        &kafka,
        registry.clone(),
        board.clone(),
        schemas.clone(),
        guard.clone(),
        &settings,
    )
    .map_err(ServeError::LoadingBay)?;
    let landings = loading_bay.spawn(stop_tasks.clone());
    let offramp = Offramp::new(
        kafka.clone(),
        registry.clone(),
        board.clone(),
        schemas.clone(),
        settings.offramp.clone(),
        settings.traffic_control.topic_prefix.clone(),
        settings.instance_id.clone(),
        guard,
        quotas,
        telemetry.clone(),
        tables.clone(),
    );
    // Long-lived streams end when shutdown begins; unary calls drain.
    let end_streams = CancellationToken::new();
    // Onramp refuses requests over its own limit with RESOURCE_EXHAUSTED;
    // tonic's cap sits above it so that the refusal is Onramp's.
    let max_message = settings.onramp.max_request_bytes.saturating_mul(2).max(4 << 20);

    // Health and reflection answer anyone (probes, grpcurl); the road
    // services know their caller.
    let router = tonic::transport::Server::builder()
        .layer(crate::grpc::decoding::CallerCodesLayer)
        .add_service(health_service.clone())
        .add_service(Measured::new(
            gate.service(PaverServiceServer::new(PaverGrpc::new(paver))),
            telemetry.clone(),
        ))
        .add_service(Measured::new(
            gate.service(
                OnrampServiceServer::new(OnrampGrpc::new(onramp, end_streams.clone()))
                    .max_decoding_message_size(max_message),
            ),
            telemetry.clone(),
        ))
        .add_service(Measured::new(
            gate.service(OfframpServiceServer::new(OfframpGrpc::new(offramp, end_streams.clone()))),
            telemetry.clone(),
        ))
        .add_service(Measured::new(
            gate.service(StreamServiceServer::new(crate::streams::grpc::StreamGrpc::new(streams))),
            telemetry.clone(),
        ))
        .add_service(Measured::new(
            gate.service(TableServiceServer::new(crate::tables::grpc::TableGrpc::new(tables))),
            telemetry.clone(),
        ))
        .add_service(Measured::new(
            gate.service(LoadingBayServiceServer::new(
                crate::loading_bay::grpc::LoadingBayGrpc::new(loading_bay),
            )),
            telemetry.clone(),
        ))
        .add_service(reflection_v1()?)
        .add_service(reflection_v1alpha()?);

    let local = listener.local_addr().ok();
    let incoming = Incoming::new(listener, tls.clone()).map_err(ServeError::Listen)?;
    let stop_gateway = stop_tasks.child_token();
    let gateway = match http {
        Some(http) => {
            let channel = local_channel(incoming.local_connector());
            let http = Incoming::new(http, tls).map_err(ServeError::Listen)?;
            Some(start_gateway(http, channel, &settings, stop_gateway.clone())?)
        }
        None => None,
    };
    let http_listen = gateway.as_ref().map(|(addr, _)| addr.to_string()).unwrap_or_default();
    let admin_listen = admin.as_ref().and_then(|a| a.local_addr().ok()).map(|a| a.to_string());
    // Probes answer until the very end, so that a drain shows as unready.
    let admin = admin.map(|listener| {
        let stop = stop_tasks.clone();
        tokio::spawn(crate::telemetry::admin::serve(
            listener,
            metrics.clone(),
            health.clone(),
            health_service.clone(),
            settings.http.limits.timeouts,
            stop,
        ))
    });
    let stop_accepting = CancellationToken::new();
    // Boxed rather than pinned on the stack, so that it can be dropped (with
    // the services and the Kafka clients they hold) before the broker stops.
    let mut server = Box::pin(
        router.serve_with_incoming_shutdown(incoming, stop_accepting.clone().cancelled_owned()),
    );
    health.set_ready().await;
    tracing::info!(
        listen = %local.map(|a| a.to_string()).unwrap_or_default(),
        %http_listen,
        admin_listen = %admin_listen.unwrap_or_default(),
        "serving"
    );

    tokio::select! {
        result = &mut server => result?,
        () = shutdown => {
            let grace = settings.grace_period;
            let deadline = Instant::now() + grace;
            // Calls drain first; the producer flush gets the last quarter of
            // the grace period (at most 2 s), so both fit within it.
            let drained_by = deadline - (grace / 4).min(Duration::from_secs(2));
            tracing::info!(grace_period = ?grace, "shutting down");
            health.drain().await;
            stop_gateway.cancel();
            stop_accepting.cancel();
            end_streams.cancel();
            match tokio::time::timeout_at(drained_by, &mut server).await {
                Ok(result) => result?,
                Err(_) => tracing::warn!("calls still in flight at the end of the grace period"),
            }
            if let Some((_, task)) = gateway {
                stop_within(task, drained_by).await;
            }
            let flush_for = deadline.saturating_duration_since(Instant::now());
            if let Err(e) = kafka.flush(flush_for).await {
                tracing::warn!(error = %e, "producer flush did not complete");
            }
            // What is left of the grace period exports the last spans.
            traces.shutdown(deadline.saturating_duration_since(Instant::now())).await;
        }
    }
    // Clients go before the broker they talk to, or they log its departure
    // as an outage.
    drop(server);
    stop_tasks.cancel();
    let _ = watcher.await;
    let _ = traffic_control.await;
    let _ = gauges.await;
    let _ = lags.await;
    let _ = views.await;
    if let Some(landings) = landings {
        let _ = landings.await;
    }
    if let Some(admin) = admin {
        let _ = admin.await;
    }
    registry.stopped().await;
    drop(registry);
    drop(kafka);
    if let Some(broker) = broker {
        stop_embedded(broker).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Starts the HTTP gateway on `http`, speaking gRPC to this server over
/// `channel`; it stops when `stop` is cancelled. Returns its address and task.
fn start_gateway(
    http: Incoming,
    channel: tonic::transport::Channel,
    settings: &Settings,
    stop: CancellationToken,
) -> Result<(SocketAddr, JoinHandle<io::Result<()>>), ServeError> {
    let addr = http.local_addr();
    let limits = settings.http.limits;
    let task =
        tokio::spawn(roadroller_gateway::serve(http, channel, limits, stop.cancelled_owned()));
    Ok((addr, task))
}

/// A lazily connecting channel to this server's own gRPC listener, in
/// process: no socket and no TLS, and the server believes what the gateway
/// says of its callers' addresses (it cannot come from the network).
fn local_channel(connector: roadroller_tls::LocalConnector) -> tonic::transport::Channel {
    let connect = tower::service_fn(move |_: tonic::transport::Uri| {
        let connector = connector.clone();
        async move { connector.connect().await.map(hyper_util::rt::TokioIo::new) }
    });
    tonic::transport::Endpoint::from_static("http://roadroller.local")
        .connect_with_connector_lazy(connect)
}

/// Waits for a stopping gateway until `deadline`, then abandons it.
async fn stop_within(mut task: JoinHandle<io::Result<()>>, deadline: Instant) {
    match tokio::time::timeout_at(deadline, &mut task).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "the HTTP gateway stopped with an error"),
        Ok(Err(e)) => tracing::warn!(error = %e, "the HTTP gateway task failed"),
        Err(_) => {
            tracing::warn!("HTTP requests still in flight at the end of the grace period");
            task.abort();
        }
    }
}

/// Runs the HTTP gateway alone on `listener`, in front of the Roadroller at
/// `settings.upstream`, until `shutdown` completes; then closes WebSocket
/// sessions and drains requests within the grace period.
pub async fn run_gateway(
    settings: GatewaySettings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let upstream = tonic::transport::Endpoint::from_shared(settings.upstream.clone())
        .map_err(|e| ServeError::Gateway(format!("{e} (--upstream)")))?;
    let upstream = upstream_tls(upstream, &settings.upstream, &settings.upstream_tls)?;
    // Lazy: the gateway starts before its upstream answers, and requests
    // get 503 until it does.
    let channel = upstream.connect_lazy();
    let tls = settings.tls.clone().map(ServerTls::new).transpose()?.map(Arc::new);
    let listener = Incoming::new(listener, tls).map_err(ServeError::Listen)?;
    let local = listener.local_addr();
    let stop = CancellationToken::new();
    let mut task = tokio::spawn(roadroller_gateway::serve(
        listener,
        channel,
        settings.limits,
        stop.clone().cancelled_owned(),
    ));
    tracing::info!(listen = %local, upstream = %settings.upstream, "serving");
    tokio::select! {
        result = &mut task => {
            return match result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(ServeError::Gateway(e.to_string())),
                Err(e) => Err(ServeError::Gateway(e.to_string())),
            };
        }
        () = shutdown => {}
    }
    tracing::info!(grace_period = ?settings.grace_period, "shutting down");
    stop.cancel();
    stop_within(task, Instant::now() + settings.grace_period).await;
    tracing::info!("stopped");
    Ok(())
}

/// TLS towards an `https://` upstream: its CA (else the webpki roots) and
/// the gateway's own client certificate, when given.
fn upstream_tls(
    endpoint: tonic::transport::Endpoint,
    url: &str,
    files: &UpstreamTls,
) -> Result<tonic::transport::Endpoint, ServeError> {
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};
    if !url.starts_with("https://") {
        return Ok(endpoint);
    }
    let read = |path: &std::path::Path, key: &str| {
        std::fs::read(path)
            .map_err(|e| ServeError::Gateway(format!("{key} {}: {e}", path.display())))
    };
    let mut tls = ClientTlsConfig::new();
    tls = match &files.ca_file {
        Some(ca) => tls.ca_certificate(Certificate::from_pem(read(ca, "upstream_tls.ca_file")?)),
        None => tls.with_webpki_roots(),
    };
    if let (Some(cert), Some(key)) = (&files.cert_file, &files.key_file) {
        let identity = Identity::from_pem(
            read(cert, "upstream_tls.cert_file")?,
            read(key, "upstream_tls.key_file")?,
        );
        tls = tls.identity(identity);
    }
    endpoint.tls_config(tls).map_err(|e| ServeError::Gateway(format!("{e} (--upstream)")))
}

/// Starts the embedded broker on the data directory.
fn start_embedded(settings: &Settings) -> Result<Arc<EmbeddedBroker>, ServeError> {
    let listen = settings.embedded.listen;
    let data_dir = settings.data_dir.clone();
    let broker = EmbeddedBroker::start(listen, &data_dir, settings.embedded.fsync)
        .map_err(|source| ServeError::Embedded { listen, data_dir: data_dir.clone(), source })?;
    tracing::info!(addr = %broker.addr(), data_dir = %data_dir.display(), "embedded kafka broker started");
    Ok(broker)
}

/// Forces the broker's data to the disk and marks the shutdown clean.
async fn stop_embedded(broker: Arc<EmbeddedBroker>) {
    match tokio::task::spawn_blocking(move || broker.shutdown()).await {
        Ok(Ok(())) => tracing::info!("embedded broker stopped"),
        Ok(Err(e)) => tracing::error!(error = %e, "the embedded broker did not stop cleanly"),
        Err(e) => tracing::error!(error = %e, "stopping the embedded broker panicked"),
    }
}

/// Keeps the registry's gauges current until `stop`.
fn watch_registry(
    metrics: &Arc<crate::telemetry::Metrics>,
    registry: &Registry,
    board: &Arc<StatusBoard>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    let (metrics, registry, board) = (metrics.clone(), registry.clone(), board.clone());
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(2));
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = every.tick() => {}
            }
            let roads = registry.all();
            let drifted =
                roads.iter().filter(|v| !board.get(&v.road.name).drift.is_empty()).count();
            metrics.set_registry(roads.len(), drifted);
        }
    })
}

/// Keeps the consumer lag gauge current until `stop`.
fn watch_lag(
    metrics: &Arc<crate::telemetry::Metrics>,
    streams: &crate::streams::Streams,
    period: Duration,
    stop: CancellationToken,
) -> JoinHandle<()> {
    let (metrics, streams) = (metrics.clone(), streams.clone());
    tokio::spawn(async move {
        let mut every = tokio::time::interval(period);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = every.tick() => {}
            }
            match tokio::select! { () = stop.cancelled() => return, l = streams.lags() => l } {
                Ok(lags) => metrics.set_lags(lags),
                Err(e) => tracing::debug!(error = %e, "measuring consumer lag failed"),
            }
        }
    })
}

/// Health follows Kafka connectivity until `stop`.
fn follow_kafka(
    health: &Health,
    kafka: &Kafka,
    every: Duration,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let (mut connectivity, watcher) = kafka::watch_connectivity(kafka.clone(), every, stop);
    let health = health.clone();
    tokio::spawn(async move {
        while connectivity.changed().await.is_ok() {
            let up = *connectivity.borrow_and_update() == Connectivity::Up;
            health.set_kafka_up(up).await;
        }
        let _ = watcher.await;
    })
}

fn reflection_builder() -> tonic_reflection::server::Builder<'static> {
    let mut builder = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(roadroller_api::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .with_service_name("grpc.health.v1.Health");
    for service in SERVICES {
        builder = builder.with_service_name(*service);
    }
    builder
}

fn reflection_v1() -> Result<
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    ServeError,
> {
    Ok(reflection_builder().with_service_name("grpc.reflection.v1.ServerReflection").build_v1()?)
}

fn reflection_v1alpha() -> Result<
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection,
    >,
    ServeError,
> {
    Ok(reflection_builder()
        .with_service_name("grpc.reflection.v1alpha.ServerReflection")
        .build_v1alpha()?)
}
