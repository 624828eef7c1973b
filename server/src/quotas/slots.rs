//! Concurrent subscriptions: counted per account and per road, and SNAPSHOT
//! subscriptions over a limit queued fairly instead of refused.
//!
//! The queue of a road serves first the waiter whose account has the fewest
//! snapshots running on that road, then the earliest: a fleet that opened
//! forty waits its turn behind a service that opened one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{oneshot, watch};

use super::limits::Limit;

/// Which limit is full, and whose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Full {
    pub limit: Limit,
    /// `road` when the road's limit is full, else the account's.
    pub road: bool,
    pub max: u32,
}

#[derive(Debug, Default)]
pub struct Slots {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    subscriptions: Counts,
    snapshots: Counts,
    /// Running snapshots per (road, account), for the queue's order.
    pairs: HashMap<(String, String), u32>,
    waiters: Vec<Waiter>,
    seq: u64,
}

#[derive(Debug, Default)]
struct Counts {
    accounts: HashMap<String, u32>,
    roads: HashMap<String, u32>,
}

impl Counts {
    fn get(&self, road: &str, account: &str) -> (u32, u32) {
        (
            self.roads.get(road).copied().unwrap_or(0),
            self.accounts.get(account).copied().unwrap_or(0),
        )
    }

    fn add(&mut self, road: &str, account: &str) {
        *self.roads.entry(road.to_string()).or_default() += 1;
        *self.accounts.entry(account.to_string()).or_default() += 1;
    }

    fn remove(&mut self, road: &str, account: &str) {
        for (map, key) in [(&mut self.roads, road), (&mut self.accounts, account)] {
            if let Some(n) = map.get_mut(key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    map.remove(key);
                }
            }
        }
    }
}

#[derive(Debug)]
struct Waiter {
    seq: u64,
    road: String,
    account: String,
    road_max: Option<u32>,
    account_max: Option<u32>,
    grant: oneshot::Sender<()>,
    place: watch::Sender<usize>,
}

/// One open subscription; dropping it frees its place.
#[derive(Debug)]
pub struct Subscription {
    slots: Arc<Slots>,
    road: String,
    account: String,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut state = self.slots.lock();
        state.subscriptions.remove(&self.road, &self.account);
    }
}

/// One running snapshot; dropping it lets the next waiter in.
#[derive(Debug)]
pub struct Snapshot {
    slots: Arc<Slots>,
    road: String,
    account: String,
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let mut state = self.slots.lock();
        state.finish(&self.road, &self.account);
        state.dispatch();
    }
}

/// A place in a road's snapshot queue.
#[derive(Debug)]
pub struct Waiting {
    slots: Arc<Slots>,
    seq: u64,
    road: String,
    account: String,
    /// Resolves when the turn has come (cancel-safe: the place is kept
    /// until the `Waiting` is dropped); then [`Waiting::admit`].
    pub granted: oneshot::Receiver<()>,
    /// 1 for the next in line.
    pub place: watch::Receiver<usize>,
}

impl Waiting {
    /// Waits for the turn.
    pub async fn turn(mut self) -> Snapshot {
        let _ = (&mut self.granted).await;
        self.admit()
    }

    /// The running snapshot, once `granted` resolved.
    pub fn admit(mut self) -> Snapshot {
        self.seq = 0;
        Snapshot {
            slots: self.slots.clone(),
            road: std::mem::take(&mut self.road),
            account: std::mem::take(&mut self.account),
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if self.seq == 0 {
            return;
        }
        let mut state = self.slots.lock();
        state.waiters.retain(|w| w.seq != self.seq);
        // Granted meanwhile but never taken: give the place back.
        if self.granted.try_recv().is_ok() {
            state.finish(&self.road, &self.account);
        }
        state.dispatch();
    }
}

/// A snapshot that may start now, or its place in the queue.
#[derive(Debug)]
pub enum Admission {
    Now(Snapshot),
    Queued(Waiting),
}

impl Slots {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a subscription unless the road or the account is at its
    /// `max_subscriptions`.
    pub fn subscribe(
        self: &Arc<Self>,
        road: &str,
        account: &str,
        road_max: Option<u32>,
        account_max: Option<u32>,
    ) -> Result<Subscription, Full> {
        let mut state = self.lock();
        let (on_road, of_account) = state.subscriptions.get(road, account);
        full(Limit::Subscriptions, (on_road, road_max), (of_account, account_max))?;
        state.subscriptions.add(road, account);
        Ok(Subscription { slots: self.clone(), road: road.into(), account: account.into() })
    }

    /// Starts a snapshot, or queues it while the road or the account is at
    /// its `max_snapshot_subscriptions`.
    pub fn snapshot(
        self: &Arc<Self>,
        road: &str,
        account: &str,
        road_max: Option<u32>,
        account_max: Option<u32>,
    ) -> Admission {
        let mut state = self.lock();
        let nobody_waits = !state.waiters.iter().any(|w| w.road == road);
        let (on_road, of_account) = state.snapshots.get(road, account);
        let room =
            full(Limit::SnapshotSubscriptions, (on_road, road_max), (of_account, account_max))
                .is_ok();
        if nobody_waits && room {
            state.start(road, account);
            return Admission::Now(Snapshot {
                slots: self.clone(),
                road: road.into(),
                account: account.into(),
            });
        }
        let (grant, granted) = oneshot::channel();
        let (place_tx, place) = watch::channel(0);
        state.seq += 1;
        let seq = state.seq;
        state.waiters.push(Waiter {
            seq,
            road: road.into(),
            account: account.into(),
            road_max,
            account_max,
            grant,
            place: place_tx,
        });
        state.dispatch();
        Admission::Queued(Waiting {
            slots: self.clone(),
            seq,
            road: road.into(),
            account: account.into(),
            granted,
            place,
        })
    }

    #[cfg(test)]
    fn running(&self, road: &str) -> u32 {
        self.lock().snapshots.get(road, "").0
    }
}

impl State {
    /// Waiters in the order they are served: round robin over accounts,
    /// counting what each already runs on the road, then by arrival.
    fn order(&self) -> Vec<usize> {
        let mut ahead: HashMap<(&str, &str), u32> = HashMap::new();
        let mut keyed: Vec<(u32, u64, usize)> = self
            .waiters
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let pair = (w.road.as_str(), w.account.as_str());
                let queued = ahead.entry(pair).or_default();
                let running =
                    self.pairs.get(&(w.road.clone(), w.account.clone())).copied().unwrap_or(0);
                let round = running + *queued;
                *queued += 1;
                (round, w.seq, i)
            })
            .collect();
        keyed.sort_unstable();
        keyed.into_iter().map(|(_, _, i)| i).collect()
    }

    fn start(&mut self, road: &str, account: &str) {
        self.snapshots.add(road, account);
        *self.pairs.entry((road.to_string(), account.to_string())).or_default() += 1;
    }

    /// Undoes [`State::start`].
    fn finish(&mut self, road: &str, account: &str) {
        self.snapshots.remove(road, account);
        let pair = (road.to_string(), account.to_string());
        if let Some(n) = self.pairs.get_mut(&pair) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.pairs.remove(&pair);
            }
        }
    }

    /// Lets in every waiter that now fits, in the queue's order, and tells
    /// the others their places.
    fn dispatch(&mut self) {
        let order = self.order();
        let mut granted = Vec::new();
        for i in order.iter().copied() {
            let w = &self.waiters[i];
            let (on_road, of_account) = self.snapshots.get(&w.road, &w.account);
            let fits = full(
                Limit::SnapshotSubscriptions,
                (on_road, w.road_max),
                (of_account, w.account_max),
            )
            .is_ok();
            if fits && !w.grant.is_closed() {
                let (road, account) = (w.road.clone(), w.account.clone());
                self.start(&road, &account);
                granted.push(i);
            }
        }
        granted.sort_unstable();
        for i in granted.into_iter().rev() {
            let w = self.waiters.remove(i);
            let _ = w.grant.send(());
        }
        // Places per road, in the order the queue serves them.
        let order = self.order();
        let mut places: HashMap<&str, usize> = HashMap::new();
        for i in order {
            let w = &self.waiters[i];
            let place = places.entry(w.road.as_str()).or_default();
            *place += 1;
            w.place.send_if_modified(|p| std::mem::replace(p, *place) != *place);
        }
    }
}

fn full(
    limit: Limit,
    (on_road, road_max): (u32, Option<u32>),
    (of_account, account_max): (u32, Option<u32>),
) -> Result<(), Full> {
    if let Some(max) = road_max
        && on_road >= max
    {
        return Err(Full { limit, road: true, max });
    }
    if let Some(max) = account_max
        && of_account >= max
    {
        return Err(Full { limit, road: false, max });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_are_counted_per_road_and_account() {
        let slots = Arc::new(Slots::default());
        let a = slots.subscribe("r", "alice", Some(2), Some(5)).expect("room");
        let _b = slots.subscribe("r", "bob", Some(2), Some(5)).expect("room");
        let full = slots.subscribe("r", "carol", Some(2), None).expect_err("road full");
        assert_eq!(full, Full { limit: Limit::Subscriptions, road: true, max: 2 });
        drop(a);
        let _c = slots.subscribe("r", "carol", Some(2), None).expect("a place came free");
        let _d = slots.subscribe("s", "dave", None, Some(1)).expect("room");
        let full = slots.subscribe("t", "dave", None, Some(1)).expect_err("account full");
        assert!(!full.road);
    }

    #[tokio::test]
    async fn snapshots_over_the_limit_wait_in_order_and_learn_their_places() {
        let slots = Arc::new(Slots::default());
        let running: Vec<Snapshot> = (0..2)
            .map(|i| match slots.snapshot("r", &format!("a{i}"), Some(2), None) {
                Admission::Now(s) => s,
                Admission::Queued(_) => panic!("room for two"),
            })
            .collect();
        let mut queued: Vec<Waiting> = (0..3)
            .map(|i| match slots.snapshot("r", &format!("b{i}"), Some(2), None) {
                Admission::Queued(w) => w,
                Admission::Now(_) => panic!("the road is full"),
            })
            .collect();
        let places: Vec<usize> = queued.iter().map(|w| *w.place.borrow()).collect();
        assert_eq!(places, [1, 2, 3]);
        drop(running);
        assert_eq!(slots.running("r"), 2, "two waiters took the free places");
        let first = queued.remove(0).turn().await;
        let second = queued.remove(0).turn().await;
        assert_eq!(*queued[0].place.borrow(), 1, "the last moved up");
        drop((first, second));
        let third = queued.remove(0).turn().await;
        assert_eq!(slots.running("r"), 1);
        drop(third);
        assert_eq!(slots.running("r"), 0);
    }

    #[tokio::test]
    async fn the_queue_serves_the_account_with_fewest_running_first() {
        let slots = Arc::new(Slots::default());
        let mut fleet: Vec<Snapshot> = (0..2)
            .map(|_| match slots.snapshot("r", "fleet", Some(2), None) {
                Admission::Now(s) => s,
                Admission::Queued(_) => panic!("room for two"),
            })
            .collect();
        let Admission::Queued(fleet_more) = slots.snapshot("r", "fleet", Some(2), None) else {
            panic!("full")
        };
        let Admission::Queued(fleet_most) = slots.snapshot("r", "fleet", Some(2), None) else {
            panic!("full")
        };
        let Admission::Queued(other) = slots.snapshot("r", "other", Some(2), None) else {
            panic!("full")
        };
        assert_eq!(*other.place.borrow(), 1, "fewer running beats arriving first");
        assert_eq!(*fleet_more.place.borrow(), 2);
        assert_eq!(*fleet_most.place.borrow(), 3);
        fleet.pop();
        let _turn = other.turn().await;
        assert_eq!(*fleet_more.place.borrow(), 1);
    }

    #[test]
    fn a_waiter_that_leaves_gives_up_its_place() {
        let slots = Arc::new(Slots::default());
        let Admission::Now(running) = slots.snapshot("r", "a", Some(1), None) else {
            panic!("room")
        };
        let Admission::Queued(gone) = slots.snapshot("r", "b", Some(1), None) else {
            panic!("full")
        };
        let Admission::Queued(next) = slots.snapshot("r", "c", Some(1), None) else {
            panic!("full")
        };
        drop(gone);
        assert_eq!(*next.place.borrow(), 1);
        drop(running);
        assert_eq!(slots.running("r"), 1, "c was let in");
        drop(next);
        assert_eq!(slots.running("r"), 0, "a grant never taken is given back");
    }
}
