//! Loading Bay: roads landed as Hive-layout Parquet tables in a warehouse,
//! exactly once (see `landing` for how).
//!
//! Every instance runs the scheduler: a road with an enabled Hive
//! destination is landed once its interval has passed since the last
//! committed landing (read from the warehouse, so a restart keeps the
//! rhythm). Landings of one road on one instance run one at a time; across
//! instances the landing plan is claimed with a conditional write, so two
//! instances never land the same records.

pub mod columns;
pub mod ddl;
pub mod encode;
pub mod error;
pub mod files;
pub mod grpc;
pub mod landing;
pub mod warehouse;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use self::error::LandingError;
use self::landing::{Lander, Manifest, Outcome};
use self::warehouse::{Warehouse, WarehouseSettings};
use crate::auth::{Action, Caller, Guard};
use crate::kafka::Kafka;
use crate::roads::registry::Registry;
use crate::roads::{Road, StatusBoard};
use crate::schema::SchemaCache;

/// `loading_bay.*` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadingBaySettings {
    pub warehouse: WarehouseSettings,
    /// Parquet files roll over at about this size.
    pub target_file_bytes: u64,
    /// Where landings stop, for the crash tests; never set from outside.
    pub fault: Option<landing::Fault>,
}

/// How often the scheduler looks for roads that are due.
const SCHEDULE_EVERY: Duration = Duration::from_secs(5);

/// Backoff after a failed landing (or the road's interval, if shorter),
/// doubling up to the interval.
const FIRST_RETRY: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct LoadingBay {
    inner: Arc<Inner>,
}

struct Inner {
    lander: Option<Lander>,
    registry: Registry,
    board: Arc<StatusBoard>,
    guard: Guard,
    /// One landing at a time per road on this instance.
    running: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A table's description for metastores.
#[derive(Clone, Debug)]
pub struct TableDescription {
    pub name: String,
    pub location: String,
    pub ddl: String,
    pub partitions: Vec<String>,
}

impl LoadingBay {
    /// Loading Bay over the warehouse of `settings`; off (every call says
    /// so) without one.
    pub fn new(
        kafka: &Kafka,
        registry: Registry,
        board: Arc<StatusBoard>,
        schemas: Arc<SchemaCache>,
        guard: Guard,
        settings: &LoadingBaySettings,
        topic_prefix: String,
    ) -> Result<Self, String> {
        let lander = if settings.warehouse.url.is_empty() {
            None
        } else {
            Some(Lander {
                warehouse: Warehouse::open(&settings.warehouse)?,
                consumer: kafka.consumer_config(None),
                schemas,
                topic_prefix,
                target_file_bytes: usize::try_from(settings.target_file_bytes)
                    .unwrap_or(usize::MAX),
                fault: settings.fault,
            })
        };
        Ok(Self {
            inner: Arc::new(Inner {
                lander,
                registry,
                board,
                guard,
                running: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Lands `road` now, on a caller's request.
    pub async fn land_now(&self, caller: &Caller, name: &str) -> Result<Outcome, LandingError> {
        // Authorised before the road's existence, so that names cannot be
        // probed.
        let road = self.road(name).ok();
        self.inner.guard.administer(caller, Action::ChangeRoad, name, road.as_deref())?;
        let road = road.ok_or_else(|| LandingError::RoadNotFound(name.to_string()))?;
        let lander = self.lander()?;
        if !road.hive.enabled {
            return Err(LandingError::NoDestination(name.to_string()));
        }
        self.land(lander, &road).await
    }

    /// The road's table as Hive DDL.
    pub async fn table(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<TableDescription, LandingError> {
        let versioned = self.inner.registry.get(name);
        self.inner.guard.read(caller, name, versioned.as_ref().map(|v| &*v.road))?;
        let road = versioned.ok_or_else(|| LandingError::RoadNotFound(name.to_string()))?.road;
        let lander = self.lander()?;
        let schema =
            road.latest_schema().ok_or_else(|| LandingError::NoSchema(name.to_string()))?;
        let document =
            serde_json::from_str(&schema.schema).unwrap_or(serde_json::Value::Bool(true));
        let layout = encode::Layout::new(road.road_type(), &document);
        let committed = lander.committed(&road).await?;
        let partitions: Vec<(String, String)> = committed
            .iter()
            .map(|m| {
                let dir = landing::partition_dir(&road.name, &m.instant);
                (m.instant.clone(), lander.warehouse.location(&dir))
            })
            .collect();
        let location = lander.warehouse.location(&road.name);
        Ok(TableDescription {
            name: road.name.clone(),
            ddl: ddl::ddl(&road.name, &layout.schema(), &location, &partitions),
            location,
            partitions: partitions.into_iter().map(|(instant, _)| instant).collect(),
        })
    }

    /// The URL of a committed landing's directory.
    pub fn location(&self, manifest: &Manifest) -> String {
        self.inner
            .lander
            .as_ref()
            .map(|l| {
                l.warehouse.location(&landing::partition_dir(&manifest.road, &manifest.instant))
            })
            .unwrap_or_default()
    }

    fn road(&self, name: &str) -> Result<Arc<Road>, LandingError> {
        self.inner
            .registry
            .get(name)
            .map(|v| v.road)
            .filter(|r| !r.deleting)
            .ok_or_else(|| LandingError::RoadNotFound(name.to_string()))
    }

    fn lander(&self) -> Result<&Lander, LandingError> {
        self.inner.lander.as_ref().ok_or(LandingError::Off)
    }

    /// One landing of `road`, after any other of it on this instance; its
    /// outcome goes into the road's status.
    async fn land(&self, lander: &Lander, road: &Road) -> Result<Outcome, LandingError> {
        let lock = self
            .inner
            .running
            .lock()
            .expect("running lock")
            .entry(road.name.clone())
            .or_default()
            .clone();
        let _one = lock.lock().await;
        let result = lander.land(road).await;
        let mut status = self.inner.board.landing(&road.name).unwrap_or_default();
        match &result {
            Ok(outcome) => {
                status.offsets = outcome.offsets.clone();
                status.last_error.clear();
                if let Some(last) = outcome.committed.last() {
                    status.last_landing_ms = last.committed_ms;
                    status.last_instant = last.instant.clone();
                    status.last_records = last.records;
                    status.last_files = last.files.len() as u32;
                    tracing::info!(
                        road = %road.name,
                        instant = %last.instant,
                        records = last.records,
                        files = last.files.len(),
                        "landed"
                    );
                }
            }
            Err(e) => {
                tracing::warn!(road = %road.name, error = %e, "landing failed");
                status.last_error = e.to_string();
            }
        }
        self.inner.board.set_landing(&road.name, status);
        result
    }

    /// The scheduler: lands every road with an enabled destination once its
    /// interval has passed, retrying failures with backoff.
    pub fn spawn(&self, stop: CancellationToken) -> Option<JoinHandle<()>> {
        let lander = self.inner.lander.clone()?;
        let bay = self.clone();
        Some(tokio::spawn(async move {
            // Road → when it is due next (a monotonic instant), and the
            // backoff of its failures.
            let mut due: HashMap<String, (tokio::time::Instant, Duration)> = HashMap::new();
            loop {
                // New roads are noticed within SCHEDULE_EVERY; due ones on time.
                let mut wake = tokio::time::Instant::now() + SCHEDULE_EVERY;
                let roads: Vec<Arc<Road>> = bay
                    .inner
                    .registry
                    .all()
                    .into_iter()
                    .map(|v| v.road)
                    .filter(|r| r.hive.enabled && !r.deleting && r.latest_schema().is_some())
                    .collect();
                due.retain(|name, _| roads.iter().any(|r| &r.name == name));
                for road in roads {
                    let interval = Duration::from_millis(road.hive.landing_interval_ms);
                    let now = tokio::time::Instant::now();
                    let first_retry = FIRST_RETRY.min(interval);
                    let (at, backoff) = match due.get(&road.name) {
                        Some(&entry) => entry,
                        None => (first_due(&lander, &road, interval).await, first_retry),
                    };
                    if at > now {
                        due.insert(road.name.clone(), (at, backoff));
                        wake = wake.min(at);
                        continue;
                    }
                    let next = tokio::select! {
                        result = bay.land(&lander, &road) => match result {
                            Ok(_) => (tokio::time::Instant::now() + interval, first_retry),
                            Err(_) => (tokio::time::Instant::now() + backoff, (backoff * 2).min(interval)),
                        },
                        () = stop.cancelled() => return,
                    };
                    wake = wake.min(next.0);
                    due.insert(road.name.clone(), next);
                }
                tokio::select! {
                    () = tokio::time::sleep_until(wake) => {}
                    () = stop.cancelled() => return,
                }
            }
        }))
    }
}

/// When a road not seen since this instance started is due: an interval
/// after its last committed landing, or now.
async fn first_due(lander: &Lander, road: &Road, interval: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    let Ok(Some(last)) = lander.last_committed(road).await else { return now };
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
        - last.committed_ms;
    let since = Duration::from_millis(since.max(0) as u64);
    now + interval.saturating_sub(since)
}
