//! gRPC health (`grpc.health.v1`): every served service, and the server as a
//! whole (the empty service name), is SERVING only while the instance is
//! ready, Kafka answers, and shutdown has not begun.

use std::sync::Arc;

use tokio::sync::Mutex;
use tokio::sync::watch;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// The health service name that is SERVING while the process answers.
pub const LIVENESS: &str = "liveness";

/// What serving depends on.
#[derive(Clone, Copy, Debug)]
struct Gates {
    ready: bool,
    kafka_up: bool,
    draining: bool,
}

/// The instance's health, pushed to the health service on every change.
#[derive(Clone)]
pub struct Health {
    inner: Arc<Mutex<(Gates, HealthReporter)>>,
    services: Arc<[&'static str]>,
    /// The gates as last set, for readers that cannot wait (`/readyz`).
    seen: watch::Sender<Gates>,
}

impl Health {
    /// Starts NOT_SERVING: the instance is not ready yet.
    pub async fn new(reporter: HealthReporter, services: &[&'static str]) -> Self {
        let gates = Gates { ready: false, kafka_up: true, draining: false };
        let health = Self {
            inner: Arc::new(Mutex::new((gates, reporter))),
            services: services.into(),
            seen: watch::Sender::new(gates),
        };
        health.update(|_| {}).await;
        // For liveness probes: the process answers, whatever Kafka does.
        let guard = health.inner.lock().await;
        guard.1.set_service_status(LIVENESS, ServingStatus::Serving).await;
        drop(guard);
        health
    }

    /// The instance has loaded what it needs to serve.
    pub async fn set_ready(&self) {
        self.update(|g| g.ready = true).await;
    }

    /// Kafka answered, or stopped answering.
    pub async fn set_kafka_up(&self, up: bool) {
        self.update(|g| g.kafka_up = up).await;
    }

    /// Shutdown has begun: NOT_SERVING from now on.
    pub async fn drain(&self) {
        self.update(|g| g.draining = true).await;
    }

    /// Why the instance is not ready to serve, or `None` when it is.
    pub fn not_ready_because(&self) -> Option<&'static str> {
        let gates = *self.seen.borrow();
        if gates.draining {
            Some("shutting down")
        } else if !gates.kafka_up {
            Some("Kafka does not answer")
        } else if !gates.ready {
            Some("starting")
        } else {
            None
        }
    }

    async fn update(&self, change: impl FnOnce(&mut Gates)) {
        let mut guard = self.inner.lock().await;
        let (gates, reporter) = &mut *guard;
        change(gates);
        self.seen.send_replace(*gates);
        let status = if gates.ready && gates.kafka_up && !gates.draining {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        reporter.set_service_status("", status).await;
        for service in self.services.iter() {
            reporter.set_service_status(service, status).await;
        }
    }
}
