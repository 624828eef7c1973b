//! Token buckets: governor's GCRA limiters on tokio's clock, kept by key.
//!
//! governor's keyed limiter holds one quota for every key, while each
//! principal, authority and road here has its own; so the keyed store is a
//! map of direct limiters, each replaced when its quota changes. The clock
//! is tokio's, so that a paused test clock drives refills exactly.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// tokio's monotonic clock, as nanoseconds since the first bucket.
#[derive(Clone, Debug)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl TokioClock {
    pub fn new() -> Self {
        Self { origin: tokio::time::Instant::now() }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.origin.elapsed())
    }
}

/// A rate and the burst it allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u64,
    /// The most a full bucket holds.
    pub burst: u32,
}

impl Rate {
    /// `per_second`, with a burst of `burst` worth of it (at least one).
    pub fn new(per_second: u64, burst: Duration) -> Self {
        let burst = (per_second as f64 * burst.as_secs_f64()).round().clamp(1.0, u32::MAX as f64);
        Self { per_second: per_second.max(1), burst: burst as u32 }
    }

    fn quota(self) -> Quota {
        // One token every `period`; rates above 1e9/s round to 1ns.
        let period = Duration::from_nanos((1_000_000_000 / self.per_second).max(1));
        let burst = NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN);
        Quota::with_period(period).unwrap_or(Quota::per_second(NonZeroU32::MAX)).allow_burst(burst)
    }
}

/// Why tokens could not be taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Short {
    /// Not yet: the tokens are there after this long.
    Wait(Duration),
    /// More than the bucket can ever hold at once.
    OverBurst,
}

/// One limiter.
pub struct Bucket {
    rate: Rate,
    clock: TokioClock,
    limiter: RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Nanos>>,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket").field("rate", &self.rate).finish_non_exhaustive()
    }
}

impl Bucket {
    pub fn new(rate: Rate, clock: TokioClock) -> Self {
        let limiter = RateLimiter::direct_with_clock(rate.quota(), clock.clone());
        Self { rate, clock, limiter }
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Takes `n` tokens, all or none.
    pub fn take(&self, n: u64) -> Result<(), Short> {
        let Some(n) = u32::try_from(n).ok().and_then(NonZeroU32::new) else {
            return if n == 0 { Ok(()) } else { Err(Short::OverBurst) };
        };
        match self.limiter.check_n(n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(Short::Wait(not_until.wait_time_from(self.clock.now()))),
            Err(_) => Err(Short::OverBurst),
        }
    }

    /// Takes up to `n` tokens, at most a full bucket's worth: how many it
    /// took, or how long until some are there.
    pub fn take_some(&self, n: u64) -> Result<u64, Duration> {
        let chunk = n.min(u64::from(self.rate.burst));
        match self.take(chunk) {
            Ok(()) => Ok(chunk),
            Err(Short::Wait(d)) => Err(d),
            // A chunk never exceeds the burst.
            Err(Short::OverBurst) => Err(Duration::from_millis(1)),
        }
    }
}

/// Buckets by key, each with its own rate.
#[derive(Debug, Default)]
pub struct Buckets {
    clock: TokioClock,
    map: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    bucket: Arc<Bucket>,
    used: tokio::time::Instant,
}

/// A full bucket is the same as a new one; entries idle this long are.
const IDLE: Duration = Duration::from_secs(60);

/// Past this many entries, idle ones are dropped.
const SWEEP_AT: usize = 4096;

impl Buckets {
    /// The bucket of `key` at `rate`: a new one when there is none, or when
    /// the rate changed since (a reloaded file, an updated road).
    pub fn get(&self, key: &str, rate: Rate) -> Arc<Bucket> {
        let now = tokio::time::Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = map.get_mut(key)
            && entry.bucket.rate == rate
        {
            entry.used = now;
            return entry.bucket.clone();
        }
        if map.len() >= SWEEP_AT {
            map.retain(|_, e| now.duration_since(e.used) < IDLE);
        }
        let bucket = Arc::new(Bucket::new(rate, self.clock.clone()));
        map.insert(key.to_string(), Entry { bucket: bucket.clone(), used: now });
        bucket
    }

    #[cfg(test)]
    fn entries(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test(start_paused = true)]
    async fn a_full_bucket_allows_one_seconds_worth_then_refills_exactly() {
        let buckets = Buckets::default();
        let b = buckets.get("p", Rate::new(100, SECOND));
        assert_eq!(b.take(100), Ok(()), "a burst of one second's worth");
        assert_eq!(b.take(1), Err(Short::Wait(Duration::from_millis(10))));
        tokio::time::advance(Duration::from_millis(10)).await;
        assert_eq!(b.take(1), Ok(()), "one token every 10 ms");
        assert!(b.take(1).is_err());
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(b.take(50), Ok(()), "half a second refills half the bucket");
        assert!(b.take(1).is_err());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(b.take(100), Ok(()), "never more than the burst");
        assert!(b.take(1).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_take_is_all_or_nothing_and_says_how_long_to_wait() {
        let buckets = Buckets::default();
        let b = buckets.get("p", Rate::new(10, SECOND));
        assert_eq!(b.take(6), Ok(()));
        assert_eq!(b.take(5), Err(Short::Wait(Duration::from_millis(100))));
        assert_eq!(b.take(4), Ok(()), "the refused take took nothing");
        assert_eq!(b.take(11), Err(Short::OverBurst));
        assert_eq!(b.take(0), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn the_burst_follows_the_setting() {
        let buckets = Buckets::default();
        let b = buckets.get("p", Rate::new(10, Duration::from_secs(3)));
        assert_eq!(b.rate().burst, 30);
        assert_eq!(b.take(30), Ok(()));
        assert!(b.take(1).is_err());
        let b = buckets.get("q", Rate::new(10, Duration::from_millis(10)));
        assert_eq!(b.rate().burst, 1, "a burst is at least one token");
    }

    #[tokio::test(start_paused = true)]
    async fn keys_are_isolated() {
        let buckets = Buckets::default();
        let rate = Rate::new(5, SECOND);
        assert_eq!(buckets.get("alice", rate).take(5), Ok(()));
        assert!(buckets.get("alice", rate).take(1).is_err(), "the same bucket again");
        assert_eq!(buckets.get("bob", rate).take(5), Ok(()), "bob's bucket is his own");
    }

    #[tokio::test(start_paused = true)]
    async fn a_changed_rate_starts_a_new_bucket() {
        let buckets = Buckets::default();
        assert_eq!(buckets.get("r", Rate::new(5, SECOND)).take(5), Ok(()));
        let raised = buckets.get("r", Rate::new(50, SECOND));
        assert_eq!(raised.take(50), Ok(()));
        assert_eq!(buckets.entries(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn take_some_pays_large_amounts_in_bucketfuls() {
        let buckets = Buckets::default();
        let b = buckets.get("p", Rate::new(1000, SECOND));
        assert_eq!(b.take_some(2500), Ok(1000));
        assert_eq!(b.take_some(1500), Err(SECOND));
        tokio::time::advance(SECOND).await;
        assert_eq!(b.take_some(1500), Ok(1000));
    }
}
