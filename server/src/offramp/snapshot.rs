//! SNAPSHOT mode: the current state of a COMPACTED road, then its changes.
//!
//! 1. Record the end offset of every partition.
//! 2. Index: read every partition up to its end, keeping for each live key
//!    the offset of its latest record (a delete removes the key). Memory
//!    grows with the number of live keys, not with the data.
//! 3. Deliver: read again from each partition's first such offset and send
//!    exactly the records the index kept, under the usual credit.
//! 4. When every partition has reached its end: `snapshot_complete` with the
//!    end offsets, then every later record, deletes included.
//!
//! Neither read depends on the broker having compacted. A key whose latest
//! record is compacted away between the two reads (because it was updated
//! after the snapshot began) is left out of the snapshot; its newer value
//! follows among the changes.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use futures::FutureExt;
use rdkafka::Message;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaResult;
use rdkafka::message::BorrowedMessage;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;

use super::context::Assignment;
use super::session::{Outgoing, Session};
use super::{Command, Event, OfframpError};
use crate::kafka::Kafka;

/// Runs a SNAPSHOT subscription to its end.
pub async fn run(
    mut session: Session,
    kafka: &Kafka,
    mut commands: mpsc::Receiver<Command>,
    assignments: mpsc::UnboundedReceiver<Assignment>,
) -> Result<(), OfframpError> {
    session.group = false;
    let result = async {
        let (ends, empty) = end_offsets(kafka, &session.topic).await?;
        let Some(latest) = index(&mut session, &ends, &empty, &mut commands).await? else {
            return Ok(());
        };
        let progress = Progress::new(ends.clone(), latest);
        let mut start = TopicPartitionList::new();
        for (&partition, &end) in &ends {
            let from = progress.first_wanted(partition).unwrap_or(end);
            start
                .add_partition_offset(&session.topic, partition, Offset::Offset(from))
                .map_err(|e| session.kafka_error("assign", e))?;
        }
        session.consumer.assign(&start).map_err(|e| session.kafka_error("assign", e))?;
        session.assignment = ends.keys().copied().collect();
        session.send(Event::Rebalance(ends.keys().copied().collect())).await?;
        let mut progress = progress;
        if let Some(ends) = progress.take_completion() {
            session.held.push(Outgoing::SnapshotComplete(ends));
        }
        session.snapshot = Some(progress);
        session.deliver(commands, assignments).await
    }
    .await;
    super::close(session.consumer.clone());
    session.fail(result).await
}

/// The high watermark of every partition; a partition with nothing left to
/// read (low = high) counts as ending at 0, so nothing is read from it.
async fn end_offsets(
    kafka: &Kafka,
    topic: &str,
) -> Result<(BTreeMap<i32, i64>, BTreeSet<i32>), OfframpError> {
    let (topics, _) =
        kafka.topics().await.map_err(|e| OfframpError::Kafka(format!("topic {topic}: {e}")))?;
    let partitions = topics.get(topic).map_or(0, |t| t.partitions);
    let mut ends = BTreeMap::new();
    let mut empty = BTreeSet::new();
    for partition in 0..partitions {
        let (low, high) = kafka.watermarks(topic, partition).await.map_err(|e| {
            OfframpError::Kafka(format!("topic {topic} partition {partition}: {e}"))
        })?;
        ends.insert(partition, high);
        if high <= low {
            empty.insert(partition);
        }
    }
    Ok((ends, empty))
}

/// Reads every partition to its end; returns, per partition, the offsets of
/// the latest record of each live key, in order. `None` when the subscriber
/// left meanwhile.
async fn index(
    session: &mut Session,
    ends: &BTreeMap<i32, i64>,
    empty: &BTreeSet<i32>,
    commands: &mut mpsc::Receiver<Command>,
) -> Result<Option<BTreeMap<i32, Vec<i64>>>, OfframpError> {
    let mut reading = TopicPartitionList::new();
    let mut open: BTreeSet<i32> = BTreeSet::new();
    for (&partition, &end) in ends {
        if end > 0 && !empty.contains(&partition) {
            reading
                .add_partition_offset(&session.topic, partition, Offset::Beginning)
                .map_err(|e| session.kafka_error("assign", e))?;
            open.insert(partition);
        }
    }
    session.consumer.assign(&reading).map_err(|e| session.kafka_error("assign", e))?;
    let consumer = session.consumer.clone();
    let mut index = Index { keys: BTreeMap::new(), open, ends };
    let events = session.events.clone();
    while !index.open.is_empty() {
        tokio::select! {
            biased;
            () = session.stop.cancelled() => return Err(session.stop_reason()),
            () = events.closed() => return Err(OfframpError::SubscriberGone),
            command = commands.recv() => match command {
                None => return Ok(None),
                Some(command) => during_snapshot(session, command).await?,
            },
            message = consumer.recv() => {
                index.add(message).map_err(|e| session.kafka_error("read", e))?;
                // Everything already fetched, without waking again.
                for _ in 0..DRAIN {
                    match consumer.recv().now_or_never() {
                        Some(message) => index.add(message).map_err(|e| session.kafka_error("read", e))?,
                        None => break,
                    }
                }
            }
        }
    }
    let keys = index.keys;
    Ok(Some(
        keys.into_iter()
            .map(|(partition, map)| {
                let mut offsets: Vec<i64> = map.into_values().collect();
                offsets.sort_unstable();
                (partition, offsets)
            })
            .collect(),
    ))
}

/// Records read while indexing beyond the first per wake-up, at most.
const DRAIN: usize = 1024;

/// The first read: the latest offset of each live key, per partition.
struct Index<'a> {
    keys: BTreeMap<i32, HashMap<Box<[u8]>, i64>>,
    /// Partitions not read to their end yet.
    open: BTreeSet<i32>,
    ends: &'a BTreeMap<i32, i64>,
}

impl Index<'_> {
    fn add(&mut self, message: KafkaResult<BorrowedMessage<'_>>) -> KafkaResult<()> {
        let m = message?;
        let (partition, offset) = (m.partition(), m.offset());
        let end = self.ends.get(&partition).copied().unwrap_or(0);
        if offset < end
            && let Some(key) = m.key()
        {
            let keys = self.keys.entry(partition).or_default();
            match m.payload() {
                Some(_) => {
                    // Replacing a value keeps the key's allocation.
                    match keys.get_mut(key) {
                        Some(latest) => *latest = offset,
                        None => {
                            keys.insert(key.into(), offset);
                        }
                    }
                }
                None => {
                    keys.remove(key);
                }
            }
        }
        if offset + 1 >= end {
            self.open.remove(&partition);
        }
        Ok(())
    }
}

/// Commands while indexing: credit accumulates; commits and seeks wait for
/// the snapshot.
pub(super) async fn during_snapshot(
    session: &mut Session,
    command: Command,
) -> Result<(), OfframpError> {
    match command {
        Command::Request(count) => {
            if let Err(reason) = session.credit.add(count) {
                session.send(Event::Error(reason)).await?;
            }
        }
        Command::Cancel => session.credit.cancel(),
        Command::Commit { correlation_id, .. } => {
            session
                .send(Event::CommitResponse {
                    correlation_id,
                    success: false,
                    error:
                        "a SNAPSHOT subscription reads outside any consumer group and cannot commit"
                            .into(),
                })
                .await?;
        }
        Command::Seek(_) => {
            session
                .send(Event::Error("seek is available once the snapshot is complete".into()))
                .await?;
        }
        Command::Refuse(reason) => session.send(Event::Error(reason)).await?,
        Command::Abort(reason) => return Err(OfframpError::Protocol(reason)),
    }
    Ok(())
}

/// What becomes of a record of the second read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Part of the snapshot, or a change after it completed.
    Send,
    /// A record the snapshot does not want.
    Skip,
    /// A change read before the snapshot completed: sent after it.
    Early,
}

/// Which records of the second read are sent, and when the snapshot ends.
#[derive(Debug)]
pub struct Progress {
    ends: BTreeMap<i32, i64>,
    /// Per partition, the offsets still to send, in order.
    wanted: HashMap<i32, VecDeque<i64>>,
    /// Partitions with nothing more to send before the snapshot completes;
    /// they stay paused until it does.
    finished: BTreeSet<i32>,
    complete: bool,
}

impl Progress {
    pub fn new(ends: BTreeMap<i32, i64>, latest: BTreeMap<i32, Vec<i64>>) -> Self {
        let wanted: HashMap<i32, VecDeque<i64>> =
            latest.into_iter().filter(|(_, o)| !o.is_empty()).map(|(p, o)| (p, o.into())).collect();
        let finished = ends.keys().filter(|p| !wanted.contains_key(p)).copied().collect();
        Self { ends, wanted, finished, complete: false }
    }

    /// The first offset to read in `partition`, if any is wanted.
    pub fn first_wanted(&self, partition: i32) -> Option<i64> {
        self.wanted.get(&partition).and_then(|q| q.front().copied())
    }

    pub fn is_complete(&self) -> bool {
        self.complete || self.finished.len() == self.ends.len()
    }

    /// The end offsets, once, when every partition has sent its part.
    pub fn take_completion(&mut self) -> Option<BTreeMap<i32, i64>> {
        if self.complete || self.finished.len() < self.ends.len() {
            return None;
        }
        self.complete = true;
        Some(self.ends.clone())
    }

    /// The partitions to keep paused: those done before the snapshot is.
    pub fn held_back(&self, assignment: &BTreeSet<i32>) -> BTreeSet<i32> {
        if self.is_complete() {
            BTreeSet::new()
        } else {
            self.finished.intersection(assignment).copied().collect()
        }
    }

    /// What to do with the record at `offset` of `partition`.
    pub fn judge(&mut self, partition: i32, offset: i64) -> Verdict {
        let end = self.ends.get(&partition).copied().unwrap_or(0);
        if self.complete {
            // Records before the end are snapshot records not wanted.
            return if offset >= end { Verdict::Send } else { Verdict::Skip };
        }
        if offset >= end {
            self.finished.insert(partition);
            return Verdict::Early;
        }
        let Some(queue) = self.wanted.get_mut(&partition) else { return Verdict::Skip };
        // Offsets passed without being seen were compacted meanwhile.
        while queue.front().is_some_and(|&o| o < offset) {
            queue.pop_front();
        }
        let verdict = if queue.front() == Some(&offset) {
            queue.pop_front();
            Verdict::Send
        } else {
            Verdict::Skip
        };
        if queue.is_empty() {
            self.finished.insert(partition);
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p: &mut Progress, records: &[(i32, i64)]) -> Vec<String> {
        let mut out = Vec::new();
        let mut early = Vec::new();
        for &(partition, offset) in records {
            match p.judge(partition, offset) {
                Verdict::Send => out.push(format!("{partition}:{offset}")),
                Verdict::Early => early.push(format!("{partition}:{offset}")),
                Verdict::Skip => {}
            }
            if p.take_completion().is_some() {
                out.push("complete".into());
                out.append(&mut early);
            }
        }
        out
    }

    #[test]
    fn only_wanted_offsets_are_sent_then_completion_then_changes() {
        let ends = BTreeMap::from([(0, 5), (1, 3)]);
        let latest = BTreeMap::from([(0, vec![1, 4]), (1, vec![2])]);
        let mut p = Progress::new(ends, latest);
        assert_eq!(p.first_wanted(0), Some(1));
        assert_eq!(p.take_completion(), None);
        assert_eq!(run(&mut p, &[(0, 1), (0, 2), (1, 2), (0, 3)]), ["0:1", "1:2"]);
        assert_eq!(
            p.held_back(&BTreeSet::from([0, 1])),
            BTreeSet::from([1]),
            "partition 1 is done"
        );
        // A change arriving early on a finished partition waits.
        assert_eq!(p.judge(1, 3), Verdict::Early);
        assert_eq!(run(&mut p, &[(0, 4)]), ["0:4", "complete"]);
        assert!(p.is_complete());
        assert_eq!(
            run(&mut p, &[(0, 5), (0, 2)]),
            ["0:5"],
            "later changes pass, old records do not"
        );
    }

    #[test]
    fn early_changes_follow_the_completion() {
        let mut p = Progress::new(
            BTreeMap::from([(0, 2), (1, 2)]),
            BTreeMap::from([(0, vec![1]), (1, vec![1])]),
        );
        assert_eq!(run(&mut p, &[(0, 1), (0, 2), (1, 1)]), ["0:1", "1:1", "complete", "0:2"]);
    }

    #[test]
    fn a_wanted_record_compacted_meanwhile_is_skipped() {
        let mut p = Progress::new(BTreeMap::from([(0, 10)]), BTreeMap::from([(0, vec![3, 6])]));
        assert_eq!(run(&mut p, &[(0, 5)]), Vec::<String>::new(), "3 is gone, 5 is not wanted");
        assert_eq!(run(&mut p, &[(0, 6)]), ["0:6", "complete"]);
    }

    #[test]
    fn an_empty_road_completes_at_once() {
        let mut p = Progress::new(BTreeMap::from([(0, 0), (1, 4)]), BTreeMap::new());
        assert!(p.is_complete());
        assert!(p.take_completion().is_some());
        assert!(p.take_completion().is_none(), "only once");
    }
}
