//! Loading Bay: roads landed as Hive-layout Parquet tables in a warehouse,
//! exactly once (see `landing` for how).
//!
//! Every instance runs the scheduler: a road with an enabled Hive
//! destination is landed once its interval has passed since the last
//! committed landing (read from the warehouse, so a restart keeps the
//! rhythm). Landings of one road on one instance run one at a time; across
//! instances the landing plan is created with a conditional write, so two
//! instances never plan the same records twice, and the instances that find
//! a plan share its partitions (see `landing`). COMPACTED roads may also have a
//! daily snapshot (see `snapshot`), taken after a landing at the road's
//! time of day.

pub mod columns;
pub mod ddl;
pub mod encode;
pub mod error;
pub mod files;
pub mod grpc;
pub mod landing;
pub mod roll;
pub mod snapshot;
pub mod warehouse;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use self::error::LandingError;
use self::landing::{Lander, Manifest, Outcome};
use self::snapshot::{SnapshotManifest, Taken};
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
    /// About the most memory a snapshot's roll-up holds.
    pub snapshot_memory: u64,
    /// Where landings stop, for the crash tests; never set from outside.
    pub fault: Option<landing::Fault>,
    /// Days added to today's date for snapshots, so that tests can take the
    /// snapshots of several days; never set from outside.
    pub skew_days: i64,
    /// How long an instance's claim on a partition of a landing holds
    /// without renewal ([`CLAIM_LEASE`]; shorter in the crash tests).
    pub claim_lease: Duration,
}

/// After this long without renewal, a claim on a partition of a landing
/// (its instance stopped) is taken over by another instance.
pub const CLAIM_LEASE: Duration = Duration::from_secs(30);

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
    skew_days: i64,
}

/// A table's description for metastores.
#[derive(Clone, Debug)]
pub struct TableDescription {
    pub name: String,
    pub location: String,
    pub ddl: String,
    pub partitions: Vec<String>,
    /// The snapshot table's DDL and dates; empty without snapshots.
    pub snapshot_ddl: String,
    pub snapshot_partitions: Vec<String>,
}

impl LoadingBay {
    /// Loading Bay over the warehouse of the server's `loading_bay`
    /// settings; off (every call says so) without one. Roll-ups spill under
    /// the data directory.
    pub fn new(
        kafka: &Kafka,
        registry: Registry,
        board: Arc<StatusBoard>,
        schemas: Arc<SchemaCache>,
        guard: Guard,
        server: &crate::config::Settings,
    ) -> Result<Self, String> {
        let settings = &server.loading_bay;
        let topic_prefix = server.traffic_control.topic_prefix.clone();
        let spill_dir = server.data_dir.join("loading_bay");
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
                snapshot_memory: settings.snapshot_memory,
                spill_dir,
                owner: instance_id(),
                claim_lease: settings.claim_lease,
            })
        };
        Ok(Self {
            inner: Arc::new(Inner {
                lander,
                registry,
                board,
                guard,
                running: Mutex::new(HashMap::new()),
                skew_days: settings.skew_days,
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

    /// Takes today's snapshot of `road` now (after landing it), on a
    /// caller's request.
    pub async fn snapshot_now(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<(Outcome, Taken), LandingError> {
        let road = self.road(name).ok();
        self.inner.guard.administer(caller, Action::ChangeRoad, name, road.as_deref())?;
        let road = road.ok_or_else(|| LandingError::RoadNotFound(name.to_string()))?;
        let lander = self.lander()?;
        if road.road_type() != crate::roads::RoadType::Compacted {
            return Err(LandingError::NotCompacted(name.to_string()));
        }
        if !road.hive.enabled {
            return Err(LandingError::NoDestination(name.to_string()));
        }
        self.snapshot(lander, &road).await
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
        let snapshots = if road.road_type() == crate::roads::RoadType::Compacted {
            lander.snapshots(&road).await?
        } else {
            Vec::new()
        };
        let snapshot_ddl = if snapshots.is_empty() && !road.hive.snapshot.enabled {
            String::new()
        } else {
            let dates: Vec<(String, String)> =
                snapshots.iter().map(|s| (s.date.clone(), self.snapshot_location(s))).collect();
            let table = snapshot::table_dir(&road.name);
            ddl::ddl(
                &table,
                &layout.schema(),
                &lander.warehouse.location(&table),
                "snapshot_date",
                &dates,
            )
        };
        Ok(TableDescription {
            name: road.name.clone(),
            ddl: ddl::ddl(
                &road.name,
                &layout.schema(),
                &location,
                "acquisition_instant",
                &partitions,
            ),
            location,
            partitions: partitions.into_iter().map(|(instant, _)| instant).collect(),
            snapshot_ddl,
            snapshot_partitions: snapshots.into_iter().map(|s| s.date).collect(),
        })
    }

    /// The URL of a committed landing's directory.
    pub fn location(&self, manifest: &Manifest) -> String {
        self.url(&landing::partition_dir(&manifest.road, &manifest.instant))
    }

    /// The URL of a committed snapshot's directory.
    pub fn snapshot_location(&self, taken: &SnapshotManifest) -> String {
        self.url(&snapshot::snapshot_dir(&taken.road, &taken.date))
    }

    fn url(&self, key: &str) -> String {
        self.inner.lander.as_ref().map(|l| l.warehouse.location(key)).unwrap_or_default()
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

    /// Landings and snapshots of one road run one at a time on this
    /// instance.
    fn road_lock(&self, road: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.inner
            .running
            .lock()
            .expect("running lock")
            .entry(road.to_string())
            .or_default()
            .clone()
    }

    /// One landing of `road`, after any other of it on this instance.
    async fn land(&self, lander: &Lander, road: &Road) -> Result<Outcome, LandingError> {
        let lock = self.road_lock(&road.name);
        let _one = lock.lock().await;
        self.land_alone(lander, road).await
    }

    /// Today's snapshot of `road`, after landing it.
    async fn snapshot(
        &self,
        lander: &Lander,
        road: &Road,
    ) -> Result<(Outcome, Taken), LandingError> {
        let lock = self.road_lock(&road.name);
        let _one = lock.lock().await;
        let date = snapshot::date(std::time::SystemTime::now(), self.inner.skew_days);
        // Taken already (before a restart, or by another instance): no
        // landing ahead of the road's interval.
        let (landed, result) = match lander.snapshot_on(road, &date).await? {
            Some(snapshot) => (Outcome::default(), Ok(Taken { snapshot, now: false })),
            None => (self.land_alone(lander, road).await?, lander.snapshot(road, &date).await),
        };
        let mut status = self.inner.board.landing(&road.name).unwrap_or_default();
        match &result {
            Ok(taken) => {
                status.last_snapshot_date = taken.snapshot.date.clone();
                status.last_snapshot_keys = taken.snapshot.keys;
                if taken.now {
                    tracing::info!(
                        road = %road.name,
                        date = %taken.snapshot.date,
                        keys = taken.snapshot.keys,
                        files = taken.snapshot.files.len(),
                        "snapshot taken"
                    );
                }
            }
            Err(e) => {
                tracing::warn!(road = %road.name, error = %e, "snapshot failed");
                status.last_error = e.to_string();
            }
        }
        self.inner.board.set_landing(&road.name, status);
        Ok((landed, result?))
    }

    /// One landing, its outcome written into the road's status; the
    /// caller holds the road's lock.
    async fn land_alone(&self, lander: &Lander, road: &Road) -> Result<Outcome, LandingError> {
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
            // Road → the date of its last snapshot seen, or when to retry.
            let mut snapshots: HashMap<String, Snapshotted> = HashMap::new();
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
                for road in &roads {
                    let interval = Duration::from_millis(road.hive.landing_interval_ms);
                    let now = tokio::time::Instant::now();
                    let first_retry = FIRST_RETRY.min(interval);
                    let (at, backoff) = match due.get(&road.name) {
                        Some(&entry) => entry,
                        None => (first_due(&lander, road, interval).await, first_retry),
                    };
                    if at > now {
                        due.insert(road.name.clone(), (at, backoff));
                        wake = wake.min(at);
                        continue;
                    }
                    let next = tokio::select! {
                        result = bay.land(&lander, road) => match result {
                            Ok(_) => (tokio::time::Instant::now() + interval, first_retry),
                            Err(_) => (tokio::time::Instant::now() + backoff, (backoff * 2).min(interval)),
                        },
                        () = stop.cancelled() => return,
                    };
                    wake = wake.min(next.0);
                    due.insert(road.name.clone(), next);
                }
                snapshots.retain(|name, _| roads.iter().any(|r| &r.name == name));
                for road in roads.iter().filter(|r| r.hive.snapshot.enabled) {
                    if !bay.snapshot_due(&road.hive.snapshot, snapshots.get(&road.name)) {
                        continue;
                    }
                    let next = tokio::select! {
                        result = bay.snapshot(&lander, road) => match result {
                            Ok((_, taken)) => Snapshotted::On(taken.snapshot.date),
                            Err(_) => Snapshotted::RetryAt(tokio::time::Instant::now() + SNAPSHOT_RETRY),
                        },
                        () = stop.cancelled() => return,
                    };
                    snapshots.insert(road.name.clone(), next);
                }
                tokio::select! {
                    () = tokio::time::sleep_until(wake) => {}
                    () = stop.cancelled() => return,
                }
            }
        }))
    }
}

/// This instance in claims: its host, process and a random part (several
/// servers may run in one process, in tests).
fn instance_id() -> String {
    use std::hash::BuildHasher;
    let random =
        std::collections::hash_map::RandomState::new().hash_one(std::time::SystemTime::now());
    let host = std::env::var("HOSTNAME").unwrap_or_default();
    format!("{host}-{}-{random:016x}", std::process::id())
}

/// What the scheduler knows of a road's snapshots.
enum Snapshotted {
    /// Taken (or found taken) on this date.
    On(String),
    /// The last attempt failed.
    RetryAt(tokio::time::Instant),
}

/// After a failed snapshot.
const SNAPSHOT_RETRY: Duration = Duration::from_secs(60);

impl LoadingBay {
    /// Whether today's snapshot is due: its time of day has passed and it
    /// is not known to be taken (the snapshot call itself finds one taken
    /// by another instance, or before a restart).
    fn snapshot_due(
        &self,
        daily: &crate::roads::DailySnapshot,
        seen: Option<&Snapshotted>,
    ) -> bool {
        let now = std::time::SystemTime::now();
        let today = snapshot::date(now, self.inner.skew_days);
        let minute = now
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| (d.as_secs() % 86_400 / 60) as u32);
        if minute < daily.minute_of_day {
            return false;
        }
        match seen {
            Some(Snapshotted::On(date)) => *date < today,
            Some(Snapshotted::RetryAt(at)) => *at <= tokio::time::Instant::now(),
            None => true,
        }
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
