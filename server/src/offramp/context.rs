//! The librdkafka consumer context of a subscription: it reports partition
//! assignment changes to the subscription's task, and its statistics to its
//! pacer.

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use tokio::sync::mpsc;

use crate::kafka::StatsSlot;

/// A change of the partitions a subscriber holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Assignment {
    Assigned(Vec<i32>),
    Revoked(Vec<i32>),
}

pub struct SubscriptionContext {
    changes: mpsc::UnboundedSender<Assignment>,
    stats: StatsSlot,
}

impl SubscriptionContext {
    /// A context handing its statistics to `stats`, for the pacer.
    pub fn new(stats: StatsSlot) -> (Self, mpsc::UnboundedReceiver<Assignment>) {
        let (changes, rx) = mpsc::unbounded_channel();
        (Self { changes, stats }, rx)
    }
}

impl ClientContext for SubscriptionContext {
    fn stats_raw(&self, statistics: &[u8]) {
        self.stats.offer(statistics);
    }
}

impl ConsumerContext for SubscriptionContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let partitions = |list: &rdkafka::TopicPartitionList| {
            let mut p: Vec<i32> = list.elements().iter().map(|e| e.partition()).collect();
            p.sort_unstable();
            p
        };
        let change = match rebalance {
            Rebalance::Assign(list) => Assignment::Assigned(partitions(list)),
            Rebalance::Revoke(list) => Assignment::Revoked(partitions(list)),
            Rebalance::Error(e) => {
                tracing::warn!(error = %e, "consumer group rebalance failed");
                return;
            }
        };
        // The subscription may be gone already; nothing to tell then.
        let _ = self.changes.send(change);
    }
}
