//! Snapshot pages shared by the SNAPSHOT subscribers of one view.
//!
//! A fleet that starts together reads the same keys in the same order, so
//! each page of the view is read and rendered once for all of them: the first
//! subscriber to need a page reads it, the others wait for it and take it
//! from here. What a page holds depends on the snapshot's boundary (entries
//! at or after it are left out, and every resume token names it) and on
//! whether PII reaches the subscriber, so both are part of its key; a
//! subscriber with another boundary reads pages of its own.
//!
//! Only the most recent pages stay: subscribers that keep pace share them,
//! and one that falls further behind reads its pages again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::Delivered;
use crate::tables::Offsets;

/// Pages kept at most. A page holds up to 500 records, so a few MiB.
const KEPT: usize = 32;

/// Which page of which snapshot.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct PageKey {
    pub road: String,
    pub road_created_ms: i64,
    /// The view's generation: a view built again starts new pages.
    pub generation: u64,
    pub boundary: Offsets,
    pub pii_granted: bool,
    /// The key the page starts after; `None` for the first.
    pub after: Option<Vec<u8>>,
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

#[derive(Clone, Default)]
pub struct SharedPages {
    inner: Arc<Mutex<Kept>>,
}

#[derive(Default)]
struct Kept {
    slots: HashMap<PageKey, Slot>,
    order: VecDeque<PageKey>,
}

impl SharedPages {
    /// The page of `key`: kept, being read by another subscriber (then this
    /// one waits for it), or read now by `read`.
    pub async fn get<F, Fut, E>(&self, key: PageKey, read: F) -> Result<Arc<Page>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Page, E>>,
    {
        let slot = self.slot(key);
        slot.get_or_try_init(|| async { read().await.map(Arc::new) }).await.cloned()
    }

    fn slot(&self, key: PageKey) -> Slot {
        let mut kept = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = kept.slots.get(&key) {
            return slot.clone();
        }
        let slot = Slot::default();
        kept.slots.insert(key.clone(), slot.clone());
        kept.order.push_back(key);
        while kept.order.len() > KEPT {
            if let Some(old) = kept.order.pop_front() {
                kept.slots.remove(&old);
            }
        }
        slot
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().map_or(0, |k| k.slots.len())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn key(after: Option<&str>) -> PageKey {
        PageKey {
            road: "r".into(),
            road_created_ms: 1,
            generation: 1,
            boundary: Offsets::from([(0, 10)]),
            pii_granted: false,
            after: after.map(|a| a.as_bytes().to_vec()),
        }
    }

    #[tokio::test]
    async fn concurrent_readers_of_one_page_read_it_once() {
        let pages = SharedPages::default();
        let reads = Arc::new(AtomicUsize::new(0));
        let mut waiting = Vec::new();
        for _ in 0..20 {
            let (pages, reads) = (pages.clone(), reads.clone());
            waiting.push(tokio::spawn(async move {
                pages
                    .get(key(None), || async move {
                        reads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
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
    async fn a_failed_read_is_tried_again_and_old_pages_go() {
        let pages = SharedPages::default();
        let failed: Result<Arc<Page>, String> =
            pages.get(key(None), || async { Err("disk".to_string()) }).await;
        assert_eq!(failed.expect_err("fails"), "disk");
        let page = pages.get(key(None), || async { Ok::<_, String>(Page::default()) }).await;
        assert!(page.is_ok());
        for i in 0..(KEPT + 5) {
            let after = format!("k{i}");
            let _ =
                pages.get(key(Some(&after)), || async { Ok::<_, String>(Page::default()) }).await;
        }
        assert_eq!(pages.len(), KEPT);
        // Another boundary is another page.
        let mut other = key(None);
        other.boundary.insert(0, 11);
        let reads = AtomicUsize::new(0);
        let _ = pages
            .get(other, || async {
                reads.fetch_add(1, Ordering::SeqCst);
                Ok::<_, String>(Page::default())
            })
            .await;
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }
}
