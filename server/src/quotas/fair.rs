//! Fair sharing of an instance's capacity: a rate that accounts wait for in
//! a weighted fair queue.
//!
//! While the capacity has tokens and nobody waits, an acquisition passes at
//! once. Otherwise it queues with a virtual finish tag (start-time fair
//! queuing: the tag grows by `units / weight` per acquisition of the same
//! account), and one dispatcher hands out tokens in tag order as they
//! refill. Accounts that keep the queue busy therefore get capacity in
//! proportion to their weights, whatever their number of streams or the
//! size of their batches.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use super::bucket::{Bucket, Rate, TokioClock};

/// Finish tags kept for accounts that fell behind the virtual time are
/// pruned past this many.
const PRUNE_AT: usize = 1024;

pub struct FairGate {
    bucket: Bucket,
    state: Mutex<State>,
    /// Wakes the dispatcher when the queue changed: a new waiter may come
    /// first, or the head left.
    changed: tokio::sync::Notify,
}

impl std::fmt::Debug for FairGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FairGate").field("rate", &self.bucket.rate()).finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    queue: BinaryHeap<Waiter>,
    /// The start tag of the latest grant.
    virtual_time: f64,
    /// Each account's latest finish tag.
    finish: HashMap<String, f64>,
    seq: u64,
    dispatching: bool,
    /// Tokens already taken for the waiter with this sequence number.
    paid: (u64, u64),
}

struct Waiter {
    start: f64,
    finish: f64,
    seq: u64,
    units: u64,
    grant: oneshot::Sender<()>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Waiter {}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiter {
    /// The smallest finish tag (then the earliest arrival) is the greatest,
    /// for the max-heap.
    fn cmp(&self, other: &Self) -> Ordering {
        other.finish.total_cmp(&self.finish).then(other.seq.cmp(&self.seq))
    }
}

impl State {
    /// Tags an acquisition of `units` by `account`.
    fn tag(&mut self, account: &str, weight: u32, units: u64) -> (f64, f64) {
        let start = self.finish.get(account).copied().unwrap_or(0.0).max(self.virtual_time);
        let finish = start + units.max(1) as f64 / f64::from(weight.max(1));
        if self.finish.len() >= PRUNE_AT {
            let now = self.virtual_time;
            self.finish.retain(|_, f| *f > now);
        }
        match self.finish.get_mut(account) {
            Some(f) => *f = finish,
            None => {
                self.finish.insert(account.to_string(), finish);
            }
        }
        (start, finish)
    }
}

impl FairGate {
    pub fn new(rate: Rate) -> Arc<Self> {
        Arc::new(Self {
            bucket: Bucket::new(rate, TokioClock::new()),
            state: Mutex::default(),
            changed: tokio::sync::Notify::new(),
        })
    }

    /// The most one grant takes at once.
    pub fn burst(&self) -> u64 {
        u64::from(self.bucket.rate().burst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until `units` of capacity are `account`'s; returns how long it
    /// waited. Dropping the future gives up the place.
    pub async fn acquire(self: &Arc<Self>, account: &str, weight: u32, units: u64) -> Duration {
        let granted = {
            let mut state = self.lock();
            if state.queue.is_empty()
                && units <= u64::from(self.bucket.rate().burst)
                && self.bucket.take(units).is_ok()
            {
                let (start, _) = state.tag(account, weight, units);
                state.virtual_time = state.virtual_time.max(start);
                return Duration::ZERO;
            }
            let (start, finish) = state.tag(account, weight, units);
            let (grant, granted) = oneshot::channel();
            state.seq += 1;
            let seq = state.seq;
            state.queue.push(Waiter { start, finish, seq, units, grant });
            if state.dispatching {
                self.changed.notify_one();
            } else {
                state.dispatching = true;
                tokio::spawn(self.clone().dispatch());
            }
            granted
        };
        let began = tokio::time::Instant::now();
        let mut leaving = Leaving { gate: self, granted: false };
        let _ = granted.await;
        leaving.granted = true;
        began.elapsed()
    }

    /// Grants waiters in tag order as the capacity refills; ends when the
    /// queue is empty.
    async fn dispatch(self: Arc<Self>) {
        loop {
            let wait = {
                let mut state = self.lock();
                loop {
                    let Some(head) = state.queue.peek() else {
                        state.dispatching = false;
                        return;
                    };
                    if head.grant.is_closed() {
                        // Its caller left; what it had taken is spent.
                        state.queue.pop();
                        continue;
                    }
                    let (seq, units) = (head.seq, head.units);
                    let paid = if state.paid.0 == seq { state.paid.1 } else { 0 };
                    let owed = units - paid.min(units);
                    match self.bucket.take_some(owed) {
                        Ok(took) if took >= owed => {
                            let Some(head) = state.queue.pop() else { continue };
                            state.virtual_time = state.virtual_time.max(head.start);
                            let _ = head.grant.send(());
                        }
                        Ok(took) => state.paid = (seq, paid + took),
                        Err(wait) => break wait,
                    }
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.changed.notified() => {}
            }
        }
    }
}

/// Tells the dispatcher when a waiter gives up its place.
struct Leaving<'a> {
    gate: &'a FairGate,
    granted: bool,
}

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        if !self.granted {
            self.gate.changed.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

    use super::*;

    /// Each account keeps `streams` acquisitions of `units` going for `for_`.
    async fn saturate(
        gate: &Arc<FairGate>,
        accounts: &[(&'static str, u32, usize, u64)],
        for_: Duration,
    ) -> Vec<u64> {
        let end = tokio::time::Instant::now() + for_;
        let mut counters = Vec::new();
        let mut tasks = Vec::new();
        for &(account, weight, streams, units) in accounts {
            let counter = Arc::new(AtomicU64::new(0));
            counters.push(counter.clone());
            for _ in 0..streams {
                let (gate, counter) = (gate.clone(), counter.clone());
                tasks.push(tokio::spawn(async move {
                    while tokio::time::Instant::now() < end {
                        gate.acquire(account, weight, units).await;
                        counter.fetch_add(units, AtomicOrdering::Relaxed);
                    }
                }));
            }
        }
        for t in tasks {
            t.await.expect("no panic");
        }
        counters.iter().map(|c| c.load(AtomicOrdering::Relaxed)).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn saturating_accounts_share_by_weight() {
        let gate = FairGate::new(Rate::new(1000, Duration::from_millis(100)));
        // Weight 3 with one stream against weight 1 with four: weights, not
        // stream counts, decide.
        let got =
            saturate(&gate, &[("light", 1, 4, 10), ("heavy", 3, 1, 10)], Duration::from_secs(20))
                .await;
        let share = got[1] as f64 / (got[0] + got[1]) as f64;
        assert!((share - 0.75).abs() < 0.02, "heavy's share {share} of {got:?}");
        let total = (got[0] + got[1]) as f64;
        assert!((total / 20_000.0 - 1.0).abs() < 0.02, "the capacity is used: {got:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn batch_sizes_do_not_buy_a_larger_share() {
        let gate = FairGate::new(Rate::new(1000, Duration::from_millis(100)));
        let got =
            saturate(&gate, &[("small", 1, 1, 5), ("large", 1, 1, 200)], Duration::from_secs(20))
                .await;
        let share = got[1] as f64 / (got[0] + got[1]) as f64;
        assert!((share - 0.5).abs() < 0.05, "large batches' share {share} of {got:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn without_contention_acquisitions_pass_at_once() {
        let gate = FairGate::new(Rate::new(100, Duration::from_secs(1)));
        assert_eq!(gate.acquire("a", 1, 60).await, Duration::ZERO);
        assert_eq!(gate.acquire("b", 1, 40).await, Duration::ZERO);
        let waited = gate.acquire("a", 1, 10).await;
        assert_eq!(waited, Duration::from_millis(100), "ten tokens at 100/s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_that_leaves_does_not_hold_up_the_queue() {
        let gate = FairGate::new(Rate::new(10, Duration::from_secs(1)));
        gate.acquire("a", 1, 10).await;
        let left = tokio::time::timeout(Duration::from_millis(50), gate.acquire("a", 1, 10)).await;
        assert!(left.is_err());
        let waited = gate.acquire("b", 1, 1).await;
        assert!(waited <= Duration::from_millis(100), "b waited {waited:?}");
    }
}
