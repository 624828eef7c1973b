//! Snapshot pages shared by the SNAPSHOT subscribers of one view.
//!
//! A fleet that starts together reads the same keys in the same order, so
//! each page of the view is read and rendered once for all of them: the first
//! subscriber to need a page reads it, the others wait for it and take it
//! from here. What a page holds depends on the snapshot's boundary (entries
//! at or after it are left out, and every resume token names it) and on
//! whether PII reaches the subscriber, so both name the page's *lane*; a
//! subscriber with another boundary is in another lane.
//!
//! A lane keeps at most [`KEPT`] pages, and a page goes once every member
//! that started with the lane has taken it. Left alone, members drift apart
//! until the slowest ones need pages already gone and read the view again
//! on their own, which costs them more and makes them slower still. So the
//! leader waits: it reads a page past the window only once the slowest
//! member has moved on. The fleet's time is its slowest member's anyway, and
//! the leader's wait leaves the cores to it. A member that does not move
//! within [`STALL`] (its subscriber reads slowly, or not at all) is left
//! behind: it no longer holds the others back and reads what it misses
//! itself. So do members that join after the lane's first page went, and
//! resumed ones.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, OnceCell};

use super::Delivered;
use crate::tables::Offsets;

/// Pages a lane keeps at most. A page holds up to 500 records, so a few
/// MiB in all.
const KEPT: usize = 64;
/// How long a leader waits for the slowest member before leaving it behind.
const STALL: Duration = Duration::from_millis(500);

/// Which snapshot a page belongs to.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Lane {
    pub road: String,
    pub road_created_ms: i64,
    /// The view's generation: a view built again starts new pages.
    pub generation: u64,
    pub boundary: Offsets,
    pub pii_granted: bool,
}

/// One page as every subscriber of its snapshot receives it.
#[derive(Debug, Default)]
pub struct Page {
    /// Rendered records (or why one cannot be delivered), in key order.
    pub messages: Vec<Result<Delivered, String>>,
    /// The last key read, which the next page starts after.
    pub last: Option<Vec<u8>>,
    /// Whether the view holds no keys after this page.
    pub done: bool,
}

type Slot = Arc<OnceCell<Arc<Page>>>;
/// Where a page starts: after this key, or at the beginning.
type After = Option<Vec<u8>>;

#[derive(Clone, Default)]
pub struct SharedPages {
    lanes: Arc<Mutex<HashMap<Lane, Kept>>>,
}

/// One lane's pages and members.
struct Kept {
    /// Pages in the order they were made, each with its number.
    pages: VecDeque<(u64, After, Slot)>,
    next: u64,
    /// Members by id: the number of the page each needs next, or `None`
    /// once left behind.
    members: HashMap<u64, Option<u64>>,
    next_member: u64,
    /// Told whenever a member moves on or leaves.
    moved: Arc<Notify>,
}

impl Kept {
    fn new() -> Self {
        Self {
            pages: VecDeque::new(),
            next: 0,
            members: HashMap::new(),
            next_member: 0,
            moved: Arc::new(Notify::new()),
        }
    }

    /// The first page a member still holding the others back needs.
    fn needed(&self) -> Option<u64> {
        self.members.values().flatten().min().copied()
    }

    /// Drops the oldest page if no member holding the others back needs it.
    fn drop_unneeded(&mut self) -> bool {
        match (self.pages.front(), self.needed()) {
            (Some((oldest, ..)), Some(needed)) if *oldest >= needed => false,
            (Some(_), _) => self.pages.pop_front().is_some(),
            (None, _) => false,
        }
    }

    /// Leaves behind every member that still needs the oldest page.
    fn leave_behind_the_slowest(&mut self) {
        if let Some((oldest, ..)) = self.pages.front() {
            let oldest = *oldest;
            for need in self.members.values_mut() {
                if need.is_some_and(|n| n <= oldest) {
                    *need = None;
                }
            }
        }
    }
}

impl SharedPages {
    /// Joins `lane`: a member that starts at the beginning (`resumed` is
    /// false) keeps pace with the lane while its first page is still kept.
    pub fn join(&self, lane: Lane, resumed: bool) -> Member {
        let mut lanes = self.lock();
        let kept = lanes.entry(lane.clone()).or_insert_with(Kept::new);
        let id = kept.next_member;
        kept.next_member += 1;
        let from_start = kept.pages.front().map_or(kept.next == 0, |(first, ..)| *first == 0);
        kept.members.insert(id, (from_start && !resumed).then_some(0));
        let moved = kept.moved.clone();
        drop(lanes);
        Member { pages: self.clone(), lane, id, moved }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Lane, Kept>> {
        self.lanes.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[cfg(test)]
    fn kept(&self, lane: &Lane) -> usize {
        self.lock().get(lane).map_or(0, |k| k.pages.len())
    }
}

/// A subscriber's place in its lane; leaving the lane on drop.
pub struct Member {
    pages: SharedPages,
    lane: Lane,
    id: u64,
    /// The lane's [`Kept::moved`].
    moved: Arc<Notify>,
}

impl Member {
    /// The page after `after`: kept, being read by another member (then
    /// this one waits for it), or read now by `read`.
    pub async fn get<F, Fut, E>(&self, after: After, read: F) -> Result<Arc<Page>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Page, E>>,
    {
        let (number, slot) = self.slot(after).await;
        let page = slot.get_or_try_init(|| async { read().await.map(Arc::new) }).await?.clone();
        self.took(number);
        Ok(page)
    }

    /// The slot of the page after `after`, made when there is none: at
    /// once while the lane has room, else once the slowest member has moved
    /// on or been left behind.
    async fn slot(&self, after: After) -> (Option<u64>, Slot) {
        let mut waited: Option<tokio::time::Instant> = None;
        loop {
            // Listening before the check, so a move in between is not lost.
            let moved = self.moved.notified();
            tokio::pin!(moved);
            moved.as_mut().enable();
            {
                let mut lanes = self.pages.lock();
                let Some(kept) = lanes.get_mut(&self.lane) else {
                    return (None, Slot::default());
                };
                if let Some((number, _, slot)) = kept.pages.iter().find(|(_, a, _)| *a == after) {
                    return (Some(*number), slot.clone());
                }
                if kept.members.get(&self.id).is_some_and(Option::is_none) {
                    // Left behind: a page read for one member is not kept.
                    return (None, Slot::default());
                }
                if kept.pages.len() >= KEPT && !kept.drop_unneeded() {
                    match waited {
                        Some(since) if since.elapsed() >= STALL => {
                            kept.leave_behind_the_slowest();
                            kept.moved.notify_waiters();
                            kept.drop_unneeded();
                        }
                        _ => {
                            waited.get_or_insert_with(tokio::time::Instant::now);
                        }
                    }
                }
                if kept.pages.len() < KEPT {
                    let (number, slot) = (kept.next, Slot::default());
                    kept.next += 1;
                    kept.pages.push_back((number, after.clone(), slot.clone()));
                    return (Some(number), slot);
                }
            }
            let until = waited.unwrap_or_else(tokio::time::Instant::now) + STALL;
            let _ = tokio::time::timeout_at(until, moved).await;
        }
    }

    /// Records that this member has the page `number` and needs the next.
    fn took(&self, number: Option<u64>) {
        let mut lanes = self.pages.lock();
        let Some(kept) = lanes.get_mut(&self.lane) else { return };
        if let (Some(number), Some(need @ Some(_))) = (number, kept.members.get_mut(&self.id)) {
            *need = Some(number + 1);
        } else if let Some(need) = kept.members.get_mut(&self.id) {
            // Read its own page: no longer in step with the lane.
            *need = None;
        }
        kept.moved.notify_waiters();
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let mut lanes = self.pages.lock();
        if let Some(kept) = lanes.get_mut(&self.lane) {
            kept.members.remove(&self.id);
            kept.moved.notify_waiters();
            if kept.members.is_empty() {
                lanes.remove(&self.lane);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn lane() -> Lane {
        Lane {
            road: "r".into(),
            road_created_ms: 1,
            generation: 1,
            boundary: Offsets::from([(0, 10)]),
            pii_granted: false,
        }
    }

    fn after(i: usize) -> After {
        (i > 0).then(|| format!("k{i:05}").into_bytes())
    }

    /// Page `i` of a lane whose pages end with the key of page `i + 1`.
    async fn page(member: &Member, i: usize, reads: &AtomicUsize) -> Arc<Page> {
        member
            .get(after(i), || async {
                reads.fetch_add(1, Ordering::SeqCst);
                Ok::<_, String>(Page { last: after(i + 1), ..Page::default() })
            })
            .await
            .expect("page")
    }

    #[tokio::test]
    async fn concurrent_readers_of_one_page_read_it_once() {
        let pages = SharedPages::default();
        let reads = Arc::new(AtomicUsize::new(0));
        let mut waiting = Vec::new();
        for _ in 0..20 {
            let (member, reads) = (pages.join(lane(), false), reads.clone());
            waiting.push(tokio::spawn(async move {
                member
                    .get(None, || async move {
                        reads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, String>(Page { last: Some(b"k".to_vec()), ..Page::default() })
                    })
                    .await
            }));
        }
        for w in waiting {
            let page = w.await.expect("task").expect("page");
            assert_eq!(page.last.as_deref(), Some(&b"k"[..]));
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_read_is_tried_again() {
        let pages = SharedPages::default();
        let member = pages.join(lane(), false);
        let failed = member.get(None, || async { Err("disk".to_string()) }).await;
        assert_eq!(failed.expect_err("fails"), "disk");
        assert!(member.get(None, || async { Ok::<_, String>(Page::default()) }).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_leader_waits_for_the_slowest_so_every_page_is_read_once() {
        let pages = SharedPages::default();
        let reads = Arc::new(AtomicUsize::new(0));
        let (fast, slow) = (pages.join(lane(), false), pages.join(lane(), false));
        let total = 3 * KEPT;
        let leader = tokio::spawn({
            let reads = reads.clone();
            async move {
                for i in 0..total {
                    page(&fast, i, &reads).await;
                }
            }
        });
        // The leader fills the window, then waits.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(reads.load(Ordering::SeqCst), KEPT);
        assert!(!leader.is_finished());
        for i in 0..total {
            page(&slow, i, &reads).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        leader.await.expect("leader");
        assert_eq!(reads.load(Ordering::SeqCst), total, "each page read once");
        assert!(pages.kept(&lane()) <= KEPT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_member_that_does_not_move_is_left_behind_and_reads_alone() {
        let pages = SharedPages::default();
        let reads = Arc::new(AtomicUsize::new(0));
        let (fast, stuck) = (pages.join(lane(), false), pages.join(lane(), false));
        page(&stuck, 0, &reads).await;
        let started = tokio::time::Instant::now();
        for i in 0..2 * KEPT {
            page(&fast, i, &reads).await;
        }
        // One wait of STALL, then no more.
        let waited = started.elapsed();
        assert!(waited >= STALL && waited < 2 * STALL, "waited {waited:?}");
        assert!(pages.kept(&lane()) <= KEPT);
        // The one left behind still gets its pages, now read for it alone.
        let before = reads.load(Ordering::SeqCst);
        let p = page(&stuck, 1, &reads).await;
        assert_eq!(p.last, after(2));
        assert_eq!(reads.load(Ordering::SeqCst), before + 1);
    }

    #[tokio::test]
    async fn a_lane_goes_with_its_last_member_and_others_are_apart() {
        let pages = SharedPages::default();
        let reads = AtomicUsize::new(0);
        let member = pages.join(lane(), false);
        page(&member, 0, &reads).await;
        let mut other = lane();
        other.boundary.insert(0, 11);
        let elsewhere = pages.join(other.clone(), false);
        page(&elsewhere, 0, &reads).await;
        assert_eq!(reads.load(Ordering::SeqCst), 2, "another boundary is another page");
        drop(member);
        assert_eq!(pages.kept(&lane()), 0);
        assert_eq!(pages.kept(&other), 1);
    }
}
