//! Quotas: limits per account (a principal, an authority's members
//! together, or an anonymous address) and per road, and fair sharing of the
//! instance's capacity between accounts.
//!
//! Unary calls over a limit are refused whole with RESOURCE_EXHAUSTED and a
//! jittered RetryInfo. Streams are throttled, never failed: ProduceStream
//! waits before it reads on, the Offramp waits before it delivers, so a
//! client over its rate slows to it and loses nothing. SNAPSHOT
//! subscriptions over a concurrency limit queue.
//!
//! Kafka's own quotas cannot tell Roadroller's callers apart (they share its
//! Kafka identity), so the limits live here, in front of Kafka.

mod bucket;
mod error;
mod fair;
mod file;
mod limits;
mod slots;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use bucket::{Bucket, Buckets, Rate, Short, TokioClock};
pub use error::QuotaError;
pub use fair::FairGate;
pub use file::{QuotaFile, Subject};
pub use limits::{Limit, Limits};
pub use slots::{Admission, Full, Slots, Snapshot, Subscription, Waiting};

use crate::auth::{Caller, reload::Reloading};
use crate::roads::Road;
use crate::roads::registry::Registry;
use crate::telemetry::Metrics;

/// The server's quota settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaSettings {
    /// Limits of every account the file does not name.
    pub defaults: Limits,
    pub file: Option<PathBuf>,
    /// How much of a rate a full bucket holds.
    pub burst: Duration,
    /// How long a SNAPSHOT waits for a place before it is refused.
    pub snapshot_queue_timeout: Duration,
    /// Records per second the instance's Onramp takes in all, shared by
    /// weight once reached.
    pub onramp_capacity: Option<u64>,
    /// Payload bytes per second the instance's Offramp sends in all,
    /// shared by weight once reached.
    pub offramp_capacity: Option<u64>,
}

impl Default for QuotaSettings {
    fn default() -> Self {
        Self {
            defaults: Limits::default(),
            file: None,
            burst: Duration::from_secs(1),
            snapshot_queue_timeout: Duration::from_secs(600),
            onramp_capacity: None,
            offramp_capacity: None,
        }
    }
}

/// Who is charged for a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// `principal:NAME`, `authority:NAME` or `anonymous:ADDRESS`.
    pub key: String,
    pub limits: Limits,
    pub weight: u32,
}

/// The quota domain; cheap to clone.
#[derive(Clone)]
pub struct Quotas {
    inner: Arc<Inner>,
}

struct Inner {
    settings: QuotaSettings,
    file: Option<Reloading<QuotaFile>>,
    buckets: Buckets,
    slots: Arc<Slots>,
    onramp: Option<Arc<FairGate>>,
    offramp: Option<Arc<FairGate>>,
    registry: Registry,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Quotas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Quotas").field("settings", &self.inner.settings).finish_non_exhaustive()
    }
}

/// One bucket a call pays into.
struct Charge {
    bucket: Arc<Bucket>,
    units: u64,
    limit: Limit,
    subject: String,
}

impl Quotas {
    /// Reads the quotas file, if one is set; a problem names it.
    pub fn new(
        settings: QuotaSettings,
        registry: Registry,
        metrics: Arc<Metrics>,
    ) -> Result<Self, String> {
        let file = settings
            .file
            .as_deref()
            .map(|path| Reloading::new(path, QuotaFile::parse))
            .transpose()?;
        let gate =
            |capacity: Option<u64>| capacity.map(|c| FairGate::new(Rate::new(c, settings.burst)));
        let (onramp, offramp) = (gate(settings.onramp_capacity), gate(settings.offramp_capacity));
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                file,
                buckets: Buckets::default(),
                slots: Arc::new(Slots::default()),
                onramp,
                offramp,
                registry,
                metrics,
            }),
        })
    }

    pub fn settings(&self) -> &QuotaSettings {
        &self.inner.settings
    }

    /// The account `caller` is charged to.
    pub fn account(&self, caller: &Caller) -> Account {
        let defaults = self.inner.settings.defaults;
        let file = self.inner.file.as_ref().map(Reloading::get);
        if let Some(entry) = file.as_deref().and_then(|f| f.matching(caller)) {
            let key = match &entry.subject {
                Subject::Principal(name) => format!("principal:{name}"),
                Subject::Authority(name) => format!("authority:{name}"),
            };
            return Account { key, limits: entry.limits.or(defaults), weight: entry.weight };
        }
        let key = match (&caller.principal, caller.addr) {
            (Some(p), _) => format!("principal:{}", p.name),
            (None, Some(addr)) => format!("anonymous:{addr}"),
            (None, None) => "anonymous".to_string(),
        };
        Account { key, limits: defaults, weight: 1 }
    }

    /// The buckets `wants` pays into: the account's and the road's.
    fn charges(
        &self,
        account: &Account,
        road: Option<&Road>,
        wants: &[(Limit, u64)],
    ) -> Vec<Charge> {
        let burst = self.inner.settings.burst;
        let road_limits = road.map(|r| (r.name.as_str(), Limits::from(&r.quotas)));
        let mut charges = Vec::new();
        for &(limit, units) in wants {
            // Names are made only for the limits that apply: a call without
            // limits allocates nothing here.
            let mut add = |subject: &dyn Fn() -> String, per_second: Option<u64>| {
                if let Some(per_second) = per_second {
                    let subject = subject();
                    let key = format!("{subject}|{}", limit.name());
                    let bucket = self.inner.buckets.get(&key, Rate::new(per_second, burst));
                    charges.push(Charge { bucket, units, limit, subject });
                }
            };
            add(&|| account.key.clone(), account.limits.rate(limit));
            if let Some((name, limits)) = &road_limits {
                add(&|| format!("road:{name}"), limits.rate(limit));
            }
        }
        charges
    }

    /// Takes what a unary call needs from every bucket, or refuses it.
    fn check(&self, charges: &[Charge], road: &str) -> Result<(), QuotaError> {
        for c in charges {
            let refused = match c.bucket.take(c.units) {
                Ok(()) => continue,
                Err(Short::OverBurst) => QuotaError::OverBurst {
                    limit: c.limit,
                    subject: c.subject.clone(),
                    requested: c.units,
                    burst: c.bucket.rate().burst,
                },
                Err(Short::Wait(wait)) => QuotaError::Exceeded {
                    limit: c.limit,
                    subject: c.subject.clone(),
                    allowed: format!("{}/s", c.bucket.rate().per_second),
                    retry_after: jittered(wait),
                },
            };
            self.inner.metrics.quota_refused(road, c.limit.name());
            return Err(refused);
        }
        Ok(())
    }

    /// Pays what a stream needs into every bucket, waiting as long as that
    /// takes; a large amount is paid a bucketful at a time.
    async fn pay(&self, charges: Vec<Charge>, road: &str) {
        for c in charges {
            let mut owed = c.units;
            while owed > 0 {
                match c.bucket.take_some(owed) {
                    Ok(took) => owed -= took,
                    Err(wait) => {
                        self.inner.metrics.quota_throttled(road, c.limit.name(), wait);
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
    }

    /// A unary Produce of `records` records and `bytes` payload bytes to
    /// `road`: refused whole when a limit has no room for all of it; then
    /// its turn at the instance's capacity.
    pub async fn produce(
        &self,
        caller: &Caller,
        road: &Road,
        records: u64,
        bytes: u64,
    ) -> Result<(), QuotaError> {
        let account = self.account(caller);
        let wants = [(Limit::ProduceRecords, records), (Limit::ProduceBytes, bytes)];
        self.check(&self.charges(&account, Some(road), &wants), &road.name)?;
        self.share(
            self.inner.onramp.as_ref(),
            &account,
            records,
            &road.name,
            Limit::ProduceRecords,
        )
        .await;
        Ok(())
    }

    /// A ProduceStream batch of `account` (see [`Quotas::account`]): waits
    /// until the limits allow it.
    pub async fn throttle_produce(&self, account: &Account, road: &str, records: u64, bytes: u64) {
        let versioned = self.inner.registry.get(road);
        let road_doc = versioned.as_ref().map(|v| &*v.road);
        let wants = [(Limit::ProduceRecords, records), (Limit::ProduceBytes, bytes)];
        let charges = self.charges(account, road_doc, &wants);
        // Only a road's own name labels metrics; anything else could be
        // made up by the caller.
        let label = if road_doc.is_some() { road } else { crate::telemetry::metrics::OTHER };
        self.pay(charges, label).await;
        self.share(self.inner.onramp.as_ref(), account, records, label, Limit::ProduceRecords)
            .await;
    }

    async fn share(
        &self,
        gate: Option<&Arc<FairGate>>,
        account: &Account,
        units: u64,
        road: &str,
        limit: Limit,
    ) {
        if let Some(gate) = gate {
            let waited = gate.acquire(&account.key, account.weight, units).await;
            if !waited.is_zero() {
                self.inner.metrics.quota_throttled(road, limit.name(), waited);
            }
        }
    }

    /// What an Offramp subscription of `caller` on `road` pays into.
    pub fn payer(&self, caller: &Caller, road: &str) -> Payer {
        Payer { quotas: self.clone(), account: self.account(caller), road: road.to_string() }
    }

    /// Counts a subscription of `account` on `road`, unless the account or
    /// the road is at its `max_subscriptions`.
    pub fn subscribe(&self, account: &Account, road: &Road) -> Result<Subscription, QuotaError> {
        let road_max = road.quotas.max_subscriptions;
        self.inner
            .slots
            .subscribe(&road.name, &account.key, road_max, account.limits.max_subscriptions)
            .map_err(|full| self.full(full, account, road))
    }

    /// Starts a SNAPSHOT of `account` on `road`, or queues it while the
    /// road or the account is at its `max_snapshot_subscriptions`.
    pub fn snapshot(&self, account: &Account, road: &Road) -> Admission {
        let road_max = road.quotas.max_snapshot_subscriptions;
        let account_max = account.limits.max_snapshot_subscriptions;
        self.inner.slots.snapshot(&road.name, &account.key, road_max, account_max)
    }

    /// A SNAPSHOT that waited too long for its place.
    pub fn queue_timeout(&self, account: &Account, road: &Road) -> QuotaError {
        let max = road
            .quotas
            .max_snapshot_subscriptions
            .or(account.limits.max_snapshot_subscriptions)
            .unwrap_or(0);
        self.inner.metrics.quota_refused(&road.name, Limit::SnapshotSubscriptions.name());
        QuotaError::QueueTimeout {
            road: road.name.clone(),
            max,
            waited: self.inner.settings.snapshot_queue_timeout,
            retry_after: jittered(Duration::from_secs(1)),
        }
    }

    /// Counts time a subscription spent in the snapshot queue.
    pub fn queued(&self, road: &str, waited: Duration) {
        self.inner.metrics.quota_throttled(road, Limit::SnapshotSubscriptions.name(), waited);
    }

    fn full(&self, full: Full, account: &Account, road: &Road) -> QuotaError {
        self.inner.metrics.quota_refused(&road.name, full.limit.name());
        let subject = if full.road { format!("road:{}", road.name) } else { account.key.clone() };
        QuotaError::Exceeded {
            limit: full.limit,
            subject,
            allowed: format!("{} at once", full.max),
            retry_after: jittered(Duration::from_secs(1)),
        }
    }

    /// A Paver write (a road or schema created, changed or deleted) by
    /// `caller` on `road`.
    pub fn paver_write(&self, caller: &Caller, road: &str) -> Result<(), QuotaError> {
        let account = self.account(caller);
        if account.limits.paver_writes_per_second.is_none() {
            return Ok(());
        }
        let label = if self.inner.registry.get(road).is_some() {
            road
        } else {
            crate::telemetry::metrics::OTHER
        };
        self.check(&self.charges(&account, None, &[(Limit::PaverWrites, 1)]), label)
    }
}

/// Turns per second of the instance's Offramp capacity, at most, that one
/// delivery takes.
const TURNS: u64 = 16;

/// What one Offramp subscription pays for its deliveries.
pub struct Payer {
    quotas: Quotas,
    account: Account,
    road: String,
}

impl Payer {
    fn charges(&self, bytes: u64) -> Vec<Charge> {
        let versioned = self.quotas.inner.registry.get(&self.road);
        let road = versioned.as_ref().map(|v| &*v.road);
        self.quotas.charges(&self.account, road, &[(Limit::OfframpBytes, bytes)])
    }

    /// The most payload bytes one delivery should carry while a limit
    /// applies (a bucketful, so one wait is short; a small share of the
    /// instance's capacity, so that weighted turns interleave finely);
    /// `None` when no limit applies.
    pub fn budget(&self) -> Option<u64> {
        let buckets = self.charges(0).into_iter().map(|c| u64::from(c.bucket.rate().burst));
        let gate = self.quotas.inner.offramp.iter().map(|g| (g.burst() / TURNS).max(1));
        buckets.chain(gate).min()
    }

    /// Waits until `bytes` may be delivered.
    pub async fn pay(&self, bytes: u64) {
        if bytes == 0 {
            return;
        }
        self.quotas.pay(self.charges(bytes), &self.road).await;
        let gate = self.quotas.inner.offramp.as_ref();
        self.quotas.share(gate, &self.account, bytes, &self.road, Limit::OfframpBytes).await;
    }
}

/// `wait`, plus up to a quarter more (at least 10 ms), so that refused
/// clients do not all come back at once.
fn jittered(wait: Duration) -> Duration {
    let spread = (wait.as_millis() as u64 / 4).max(10);
    wait.max(Duration::from_millis(10)) + Duration::from_millis(fastrand::u64(0..=spread))
}
