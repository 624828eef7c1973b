//! The instance's cap on open subscriptions.
//!
//! Each subscription owns a Kafka consumer, which holds about eight file
//! descriptors (broker sockets, wake-up pipes) and a few threads. Past the
//! process's descriptor limit new consumers fail in ways a subscriber sees
//! as a hang, so subscriptions beyond the cap are refused up front with
//! RESOURCE_EXHAUSTED, which tells a client to go to another instance.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Descriptors one subscription needs, measured with librdkafka on one
/// broker, rounded up.
const DESCRIPTORS_PER_SUBSCRIPTION: u64 = 8;

/// Descriptors kept for everything else: listeners, client connections,
/// the producer, the embedded broker's files, views.
const RESERVED_DESCRIPTORS: u64 = 256;

/// Open subscriptions, up to `max`.
#[derive(Clone, Debug)]
pub struct Slots {
    open: Arc<AtomicUsize>,
    max: usize,
}

/// One open subscription; frees its slot when dropped.
#[derive(Debug)]
pub struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Slots {
    pub fn new(max: usize) -> Self {
        Self { open: Arc::new(AtomicUsize::new(0)), max }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// A slot, or `None` when all are taken.
    pub fn take(&self) -> Option<Slot> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.max).then_some(n + 1))
            .ok()
            .map(|_| Slot(self.open.clone()))
    }
}

/// The cap that fits the process's descriptors, after raising the soft
/// limit to the hard one as servers commonly do (the soft default, 1,024 on
/// most systems, is for interactive programs).
pub fn fitting_descriptors() -> usize {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return for_descriptors(1024);
    };
    let limit = if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        hard
    } else {
        soft
    };
    for_descriptors(limit)
}

fn for_descriptors(limit: u64) -> usize {
    let reserve = RESERVED_DESCRIPTORS.max(limit / 4);
    let cap = limit.saturating_sub(reserve) / DESCRIPTORS_PER_SUBSCRIPTION;
    usize::try_from(cap.max(1)).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_taken_up_to_the_cap_and_freed_on_drop() {
        let slots = Slots::new(2);
        let a = slots.take().expect("first");
        let _b = slots.take().expect("second");
        assert!(slots.take().is_none(), "the cap holds");
        drop(a);
        assert!(slots.take().is_some(), "a freed slot is taken again");
    }

    #[test]
    fn the_cap_leaves_room_for_the_rest_of_the_server() {
        assert_eq!(for_descriptors(300), 5);
        assert_eq!(for_descriptors(1024), 96);
        assert_eq!(for_descriptors(1 << 20), 98_304);
        assert_eq!(for_descriptors(10), 1, "never zero");
    }
}
