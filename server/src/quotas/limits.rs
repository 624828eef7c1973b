//! What can be limited, and the limits of one account or road.

use serde::Deserialize;

/// One limit, named as the road document, the quotas file and the
/// settings name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    ProduceRecords,
    ProduceBytes,
    OfframpBytes,
    Subscriptions,
    SnapshotSubscriptions,
    PaverWrites,
}

impl Limit {
    pub fn name(self) -> &'static str {
        match self {
            Limit::ProduceRecords => "produce_records_per_second",
            Limit::ProduceBytes => "produce_bytes_per_second",
            Limit::OfframpBytes => "offramp_bytes_per_second",
            Limit::Subscriptions => "max_subscriptions",
            Limit::SnapshotSubscriptions => "max_snapshot_subscriptions",
            Limit::PaverWrites => "paver_writes_per_second",
        }
    }

    /// A rate, as opposed to a count of concurrent subscriptions.
    pub fn is_rate(self) -> bool {
        !matches!(self, Limit::Subscriptions | Limit::SnapshotSubscriptions)
    }
}

/// Limits of one account (a principal, an authority's members together, or
/// an anonymous address) or one road; `None` is no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Limits {
    pub produce_records_per_second: Option<u64>,
    pub produce_bytes_per_second: Option<u64>,
    pub offramp_bytes_per_second: Option<u64>,
    pub max_subscriptions: Option<u32>,
    pub max_snapshot_subscriptions: Option<u32>,
    /// Accounts only: roads and schemas created, changed or deleted.
    pub paver_writes_per_second: Option<u64>,
}

impl Limits {
    /// These limits, with `defaults` where these set none.
    pub fn or(self, defaults: Limits) -> Limits {
        Limits {
            produce_records_per_second: self
                .produce_records_per_second
                .or(defaults.produce_records_per_second),
            produce_bytes_per_second: self
                .produce_bytes_per_second
                .or(defaults.produce_bytes_per_second),
            offramp_bytes_per_second: self
                .offramp_bytes_per_second
                .or(defaults.offramp_bytes_per_second),
            max_subscriptions: self.max_subscriptions.or(defaults.max_subscriptions),
            max_snapshot_subscriptions: self
                .max_snapshot_subscriptions
                .or(defaults.max_snapshot_subscriptions),
            paver_writes_per_second: self
                .paver_writes_per_second
                .or(defaults.paver_writes_per_second),
        }
    }

    /// The value of a rate limit.
    pub fn rate(&self, limit: Limit) -> Option<u64> {
        match limit {
            Limit::ProduceRecords => self.produce_records_per_second,
            Limit::ProduceBytes => self.produce_bytes_per_second,
            Limit::OfframpBytes => self.offramp_bytes_per_second,
            Limit::PaverWrites => self.paver_writes_per_second,
            Limit::Subscriptions | Limit::SnapshotSubscriptions => None,
        }
    }

    /// The value of a concurrency limit.
    pub fn count(&self, limit: Limit) -> Option<u32> {
        match limit {
            Limit::Subscriptions => self.max_subscriptions,
            Limit::SnapshotSubscriptions => self.max_snapshot_subscriptions,
            _ => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }
}

impl From<&crate::roads::RoadQuotas> for Limits {
    fn from(q: &crate::roads::RoadQuotas) -> Self {
        Limits {
            produce_records_per_second: q.produce_records_per_second,
            produce_bytes_per_second: q.produce_bytes_per_second,
            offramp_bytes_per_second: q.offramp_bytes_per_second,
            max_subscriptions: q.max_subscriptions,
            max_snapshot_subscriptions: q.max_snapshot_subscriptions,
            paver_writes_per_second: None,
        }
    }
}
