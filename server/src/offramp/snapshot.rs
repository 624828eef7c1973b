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

use rdkafka::Message;
use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;

use super::context::Assignment;
use super::session::{Outgoing, Session};
use super::{Command, Delivered, Event, OfframpError};
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
        if let Some(complete) = progress.complete_at_start() {
            session.held.push(complete);
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
    let mut keys: BTreeMap<i32, HashMap<Box<[u8]>, i64>> = BTreeMap::new();
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
    while !open.is_empty() {
        tokio::select! {
            biased;
            () = session.stop.cancelled() => return Err(OfframpError::ShuttingDown),
            command = commands.recv() => match command {
                None => return Ok(None),
                Some(command) => during_snapshot(session, command).await?,
            },
            message = consumer.recv() => {
                let m = message.map_err(|e| session.kafka_error("read", e))?;
                let (partition, offset) = (m.partition(), m.offset());
                let end = ends.get(&partition).copied().unwrap_or(0);
                if offset < end
                    && let Some(key) = m.key()
                {
                    let partition_keys = keys.entry(partition).or_default();
                    match m.payload() {
                        Some(_) => {
                            partition_keys.insert(key.into(), offset);
                        }
                        None => {
                            partition_keys.remove(key);
                        }
                    }
                }
                if offset + 1 >= end {
                    open.remove(&partition);
                }
            }
        }
    }
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

/// Commands while indexing: credit accumulates; commits and seeks wait for
/// the snapshot.
async fn during_snapshot(session: &mut Session, command: Command) -> Result<(), OfframpError> {
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
    }
    Ok(())
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
    /// Changes read from finished partitions before the snapshot completed.
    early: Vec<Delivered>,
    complete: bool,
}

impl Progress {
    pub fn new(ends: BTreeMap<i32, i64>, latest: BTreeMap<i32, Vec<i64>>) -> Self {
        let wanted: HashMap<i32, VecDeque<i64>> =
            latest.into_iter().filter(|(_, o)| !o.is_empty()).map(|(p, o)| (p, o.into())).collect();
        let finished = ends.keys().filter(|p| !wanted.contains_key(p)).copied().collect();
        Self { ends, wanted, finished, early: Vec::new(), complete: false }
    }

    /// The first offset to read in `partition`, if any is wanted.
    pub fn first_wanted(&self, partition: i32) -> Option<i64> {
        self.wanted.get(&partition).and_then(|q| q.front().copied())
    }

    /// The completion, when there is nothing to send at all.
    pub fn complete_at_start(&self) -> Option<Outgoing> {
        (self.finished.len() == self.ends.len())
            .then(|| Outgoing::SnapshotComplete(self.ends.clone()))
    }

    pub fn is_complete(&self) -> bool {
        self.complete || self.finished.len() == self.ends.len()
    }

    /// The partitions to keep paused: those done before the snapshot is.
    pub fn held_back(&self, assignment: &BTreeSet<i32>) -> BTreeSet<i32> {
        if self.is_complete() {
            BTreeSet::new()
        } else {
            self.finished.intersection(assignment).copied().collect()
        }
    }

    /// What a record read in the second pass leads to sending.
    pub fn judge(&mut self, record: Delivered) -> Vec<Outgoing> {
        if self.finished.len() == self.ends.len() {
            self.complete = true;
        }
        let partition = record.partition;
        let end = self.ends.get(&partition).copied().unwrap_or(0);
        if self.complete {
            // Records before the end are snapshot records not wanted.
            return if record.offset >= end { vec![Outgoing::Message(record)] } else { Vec::new() };
        }
        let mut out = Vec::new();
        if record.offset >= end {
            self.finished.insert(partition);
            self.early.push(record);
        } else if let Some(queue) = self.wanted.get_mut(&partition) {
            // Offsets passed without being seen were compacted meanwhile.
            while queue.front().is_some_and(|&o| o < record.offset) {
                queue.pop_front();
            }
            if queue.front() == Some(&record.offset) {
                queue.pop_front();
                out.push(Outgoing::Message(record));
            }
            if queue.is_empty() {
                self.finished.insert(partition);
            }
        }
        if self.finished.len() == self.ends.len() {
            self.complete = true;
            out.push(Outgoing::SnapshotComplete(self.ends.clone()));
            out.extend(self.early.drain(..).map(Outgoing::Message));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(partition: i32, offset: i64) -> Delivered {
        Delivered {
            partition,
            offset,
            timestamp_ms: None,
            schema_version: 1,
            key: Some(format!("k{offset}")),
            payload: Some("{}".into()),
            traceparent: None,
            tracestate: None,
        }
    }

    fn sent(out: &[Outgoing]) -> Vec<String> {
        out.iter()
            .map(|o| match o {
                Outgoing::Message(d) => format!("{}:{}", d.partition, d.offset),
                Outgoing::SnapshotComplete(_) => "complete".into(),
            })
            .collect()
    }

    #[test]
    fn only_wanted_offsets_are_sent_then_completion_then_changes() {
        let ends = BTreeMap::from([(0, 5), (1, 3)]);
        let latest = BTreeMap::from([(0, vec![1, 4]), (1, vec![2])]);
        let mut p = Progress::new(ends, latest);
        assert_eq!(p.first_wanted(0), Some(1));
        assert!(p.complete_at_start().is_none());
        let mut all = Vec::new();
        for r in [record(0, 1), record(0, 2), record(1, 2), record(0, 3)] {
            all.extend(p.judge(r));
        }
        assert_eq!(sent(&all), ["0:1", "1:2"]);
        assert_eq!(
            p.held_back(&BTreeSet::from([0, 1])),
            BTreeSet::from([1]),
            "partition 1 is done"
        );
        // A change arriving early on a finished partition waits.
        let early = p.judge(record(1, 3));
        assert!(early.is_empty());
        let last = p.judge(record(0, 4));
        assert_eq!(sent(&last), ["0:4", "complete", "1:3"]);
        assert!(p.is_complete());
        assert_eq!(sent(&p.judge(record(0, 5))), ["0:5"]);
    }

    #[test]
    fn a_wanted_record_compacted_meanwhile_is_skipped() {
        let mut p = Progress::new(BTreeMap::from([(0, 10)]), BTreeMap::from([(0, vec![3, 6])]));
        assert!(p.judge(record(0, 5)).is_empty(), "3 is gone, 5 is not wanted");
        assert_eq!(sent(&p.judge(record(0, 6))), ["0:6", "complete"]);
    }

    #[test]
    fn an_empty_road_completes_at_once() {
        let p = Progress::new(BTreeMap::from([(0, 0), (1, 4)]), BTreeMap::new());
        assert!(p.complete_at_start().is_some());
        assert!(p.is_complete());
    }
}
