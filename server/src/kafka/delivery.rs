//! Acknowledgements by the batch. librdkafka reports each record's delivery
//! on its own thread; a per-record future would cost an allocation, a timer
//! and a task wake-up per record. Here each record carries its slot in its
//! batch, the report fills the slot, and the batch's waiter is woken once,
//! when the last record is in.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use tokio::sync::Notify;

/// Where a record landed, or why it did not.
pub type Delivery = Result<(i32, i64), String>;

/// The acknowledgements of one batch of records.
pub struct Batch {
    results: Mutex<Vec<Option<Delivery>>>,
    remaining: AtomicUsize,
    done: Notify,
}

impl Batch {
    /// A batch of `len` records, none acknowledged yet.
    pub fn new(len: usize) -> Arc<Self> {
        Arc::new(Self {
            results: Mutex::new(vec![None; len]),
            remaining: AtomicUsize::new(len),
            done: Notify::new(),
        })
    }

    /// The opaque for record `index`, to give to the producer with it.
    pub fn slot(self: &Arc<Self>, index: usize) -> Box<Slot> {
        Box::new(Slot { batch: self.clone(), index })
    }

    /// Records that never reached the producer still count as answered.
    pub fn settle(&self, index: usize, delivery: Delivery) {
        // The first answer for a record stands.
        let fresh = {
            let mut results = self.results.lock().expect("delivery lock");
            match results.get_mut(index) {
                Some(slot @ None) => {
                    *slot = Some(delivery);
                    true
                }
                _ => false,
            }
        };
        if fresh && self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.notify_one();
        }
    }

    /// Waits until every record is answered or `timeout` passes; records
    /// still unanswered then are reported as such.
    pub async fn wait(&self, timeout: Duration) -> Vec<Delivery> {
        let answered = async {
            while self.remaining.load(Ordering::Acquire) > 0 {
                self.done.notified().await;
            }
        };
        let _ = tokio::time::timeout(timeout, answered).await;
        let results = self.results.lock().expect("delivery lock");
        results
            .iter()
            .map(|r| {
                r.clone().unwrap_or_else(|| Err(format!("no acknowledgement within {timeout:?}")))
            })
            .collect()
    }
}

/// A record's place in its batch, carried through librdkafka.
pub struct Slot {
    batch: Arc<Batch>,
    index: usize,
}

impl Slot {
    /// Answers the record without Kafka (it was never queued).
    pub fn settle(&self, delivery: Delivery) {
        self.batch.settle(self.index, delivery);
    }
}

/// Where librdkafka's periodic statistics of the producer go, once someone
/// listens.
pub type StatisticsSink =
    Arc<std::sync::RwLock<Option<Box<dyn Fn(&rdkafka::Statistics) + Send + Sync>>>>;

/// The producer context that files delivery reports into batches, and
/// hands on the producer's statistics.
#[derive(Clone, Default)]
pub struct BatchingContext {
    pub statistics: StatisticsSink,
}

impl ClientContext for BatchingContext {
    fn stats(&self, statistics: rdkafka::Statistics) {
        if let Some(sink) = self.statistics.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            sink(&statistics);
        }
    }
}

impl ProducerContext for BatchingContext {
    type DeliveryOpaque = Box<Slot>;

    fn delivery(&self, result: &DeliveryResult<'_>, slot: Box<Slot>) {
        let delivery = match result {
            Ok(m) => Ok((m.partition(), m.offset())),
            Err((e, _)) => Err(e.to_string()),
        };
        slot.settle(delivery);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_is_answered_when_its_last_record_is() {
        let batch = Batch::new(3);
        batch.settle(1, Ok((0, 7)));
        batch.settle(0, Ok((1, 3)));
        let waiter = {
            let batch = batch.clone();
            tokio::spawn(async move { batch.wait(Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        batch.settle(2, Err("down".into()));
        let results = waiter.await.expect("joined");
        assert_eq!(results, [Ok((1, 3)), Ok((0, 7)), Err("down".to_string())]);
    }

    #[tokio::test]
    async fn unanswered_records_time_out() {
        let batch = Batch::new(2);
        batch.settle(0, Ok((0, 1)));
        batch.settle(0, Ok((9, 9)));
        let results = batch.wait(Duration::from_millis(50)).await;
        assert_eq!(results[0], Ok((0, 1)), "a second answer for a slot is ignored");
        assert!(results[1].as_ref().is_err_and(|e| e.starts_with("no acknowledgement")));
    }
}
