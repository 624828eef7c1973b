//! One landing of a road, committed once and exactly once.
//!
//! A road's table lives under `<road>/` in the warehouse:
//!
//! - `<road>/acquisition_instant=<instant>/` holds one landing's Parquet
//!   files and, written last, its `_manifest.json`. The manifest is the
//!   commit: it lists the files and holds the offsets the table has reached
//!   (partition → next offset to land), so the offsets live with the data
//!   and readers (and the Hive DDL) see only partitions that have one.
//! - `<road>/_loading_bay/landing-<after>.json` is the intent of the landing
//!   that follows the committed landing `<after>`: its instant and the
//!   offset range of each partition, fixed before any file is written. It is
//!   created only if absent, so two instances cannot plan two landings of
//!   the same records, and a landing interrupted at any step is redone from
//!   it with the same instant, ranges and file names.
//!
//! A crash before the manifest leaves files no reader sees; the redo writes
//! the same files again, deletes any other file in the directory, then
//! commits. A crash after the manifest leaves only the intent, which the
//! next landing finds committed and deletes. No record is landed twice or
//! lost.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::encode::{Layout, Row};
use super::error::LandingError;
use super::files::{FileEntry, Roller};
use super::warehouse::Warehouse;
use crate::roads::Road;
use crate::schema::SchemaCache;

/// Partition → offset.
pub type Offsets = BTreeMap<i32, i64>;

/// Records encoded per batch: fixed, so that files roll at the same records
/// when a landing is redone.
const CHUNK: usize = 8_192;

const KAFKA_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(200);

/// A landing: planned (the intent, without files) or committed (the
/// manifest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub road: String,
    /// The road's creation time: the table of a road deleted and created
    /// again does not continue from the old topic's offsets.
    pub road_created_ms: i64,
    /// The `acquisition_instant` partition value, `yyyyMMdd'T'HHmmss'Z'`.
    pub instant: String,
    /// The committed landing this one follows; empty for the first.
    pub after: String,
    /// Per partition landed, the offsets `[from, to)` it covers.
    pub ranges: BTreeMap<i32, (i64, i64)>,
    /// Where the table stands once this landing is committed.
    pub offsets: Offsets,
    #[serde(default)]
    pub files: Vec<FileEntry>,
    #[serde(default)]
    pub records: u64,
    /// The schema version whose columns the files have.
    pub schema_version: u32,
    #[serde(default)]
    pub committed_ms: i64,
    /// Values that did not fit their column and were landed as null.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lenient: bool,
}

/// What one call to [`Lander::land`] did.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Landings committed, oldest first: an interrupted one finished, then
    /// the new one.
    pub committed: Vec<Manifest>,
    /// Where the table stands now.
    pub offsets: Offsets,
}

pub fn partition_dir(road: &str, instant: &str) -> String {
    format!("{road}/acquisition_instant={instant}")
}

fn manifest_key(road: &str, instant: &str) -> String {
    format!("{}/_manifest.json", partition_dir(road, instant))
}

fn intent_key(road: &str, after: &str) -> String {
    let after = if after.is_empty() { "start" } else { after };
    format!("{road}/_loading_bay/landing-{after}.json")
}

/// `yyyyMMdd'T'HHmmss'Z'`, Data Highway's partition format.
pub fn instant(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string().replace(['-', ':'], "")
}

/// A step at which a landing can be made to stop, as a crash there would
/// stop it: the crash tests set one (never a setting a user can give).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The plan is written, no file yet.
    BeforeFiles,
    /// One file is written.
    BetweenFiles,
    /// Every file is written, the manifest not.
    BeforeCommit,
    /// The manifest is written, the plan not yet tidied away.
    AfterCommit,
}

#[derive(Clone)]
pub struct Lander {
    pub warehouse: Warehouse,
    pub consumer: ClientConfig,
    pub schemas: Arc<SchemaCache>,
    pub topic_prefix: String,
    pub target_file_bytes: usize,
    pub fault: Option<Fault>,
    /// About the most memory a snapshot's roll-up holds.
    pub snapshot_memory: u64,
    /// Where roll-ups spill their buckets.
    pub spill_dir: std::path::PathBuf,
}

impl Lander {
    fn reached(&self, step: Fault) -> Result<(), LandingError> {
        if self.fault == Some(step) {
            Err(LandingError::Stopped(format!("{step:?}")))
        } else {
            Ok(())
        }
    }

    /// The last committed landing of this incarnation of the road.
    pub async fn last_committed(&self, road: &Road) -> Result<Option<Manifest>, LandingError> {
        let mut instants = self.instants(road).await?;
        instants.sort_unstable();
        for instant in instants.iter().rev() {
            if let Some(m) = self.manifest(road, instant).await? {
                return Ok((m.road_created_ms == road.create_time_ms).then_some(m));
            }
        }
        Ok(None)
    }

    /// Every committed landing of this incarnation of the road, oldest
    /// first.
    pub async fn committed(&self, road: &Road) -> Result<Vec<Manifest>, LandingError> {
        let mut instants = self.instants(road).await?;
        instants.sort_unstable();
        let mut committed = Vec::new();
        for instant in &instants {
            if let Some(m) = self.manifest(road, instant).await?
                && m.road_created_ms == road.create_time_ms
            {
                committed.push(m);
            }
        }
        Ok(committed)
    }

    async fn instants(&self, road: &Road) -> Result<Vec<String>, LandingError> {
        Ok(self
            .warehouse
            .dirs(&road.name)
            .await?
            .into_iter()
            .filter_map(|d| d.strip_prefix("acquisition_instant=").map(str::to_string))
            .collect())
    }

    async fn manifest(&self, road: &Road, instant: &str) -> Result<Option<Manifest>, LandingError> {
        let Some(bytes) = self.warehouse.get(&manifest_key(&road.name, instant)).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| LandingError::Manifest {
            road: road.name.clone(),
            instant: instant.to_string(),
            why: e.to_string(),
        })
    }

    /// Finishes an interrupted landing, then lands what the topic holds
    /// beyond the table, if anything.
    pub async fn land(&self, road: &Road) -> Result<Outcome, LandingError> {
        let schema =
            road.latest_schema().ok_or_else(|| LandingError::NoSchema(road.name.clone()))?;
        let mut outcome = Outcome::default();
        let mut last = self.last_committed(road).await?;
        let after = last.as_ref().map(|m| m.instant.clone()).unwrap_or_default();
        // An intent left by a crash (or by another instance now landing).
        if let Some(intent) = self.intent(road, &after).await? {
            let committed = self.write(road, intent).await?;
            last = Some(committed.clone());
            outcome.committed.push(committed);
        }
        // Plans of committed landings (a crash after the commit leaves one)
        // are only tidied away.
        let after = last.as_ref().map(|m| m.instant.clone()).unwrap_or_default();
        let current = intent_key(&road.name, &after);
        for name in self.warehouse.files(&format!("{}/_loading_bay", road.name)).await? {
            let key = format!("{}/_loading_bay/{name}", road.name);
            if name.starts_with("landing-") && key != current {
                self.warehouse.delete(&key).await?;
            }
        }

        let topic = format!("{}{}", self.topic_prefix, road.name);
        let ends = watermarks(&self.consumer, &topic, road.partitions as i32).await?;
        let mut ranges = BTreeMap::new();
        let mut offsets = last.as_ref().map(|m| m.offsets.clone()).unwrap_or_default();
        for (&partition, &(low, high)) in &ends {
            let from = offsets.get(&partition).copied().unwrap_or(low).max(low);
            if from < high {
                ranges.insert(partition, (from, high));
                offsets.insert(partition, high);
            }
        }
        outcome.offsets = offsets.clone();
        if ranges.is_empty() {
            return Ok(outcome);
        }
        let mut at = instant(SystemTime::now());
        if at <= after {
            // Landings a second apart or less: the next second.
            let previous = humantime::parse_rfc3339(&rfc3339(&after)).unwrap_or(SystemTime::now());
            at = instant(previous + Duration::from_secs(1));
        }
        let plan = Manifest {
            road: road.name.clone(),
            road_created_ms: road.create_time_ms,
            instant: at,
            after: after.clone(),
            ranges,
            offsets,
            files: Vec::new(),
            records: 0,
            schema_version: schema.version,
            committed_ms: 0,
            lenient: false,
        };
        let text = serde_json::to_vec_pretty(&plan).expect("a manifest serializes");
        let plan = if self.warehouse.create(&intent_key(&road.name, &after), text).await? {
            // The plan of a landing another instance committed meanwhile is
            // deleted only after that commit, so a create that succeeds
            // sees the commit here: then this plan repeats it, and goes.
            if let Some(theirs) = self.last_committed(road).await?
                && theirs.instant != after
            {
                self.warehouse.delete(&intent_key(&road.name, &after)).await?;
                outcome.offsets = theirs.offsets;
                return Ok(outcome);
            }
            plan
        } else {
            // Another instance planned it first: land its plan instead.
            match self.intent(road, &after).await? {
                Some(theirs) => theirs,
                None => return Ok(outcome),
            }
        };
        let committed = self.write(road, plan).await?;
        self.reached(Fault::AfterCommit)?;
        self.warehouse.delete(&intent_key(&road.name, &after)).await?;
        outcome.offsets = committed.offsets.clone();
        outcome.committed.push(committed);
        Ok(outcome)
    }

    async fn intent(&self, road: &Road, after: &str) -> Result<Option<Manifest>, LandingError> {
        let Some(bytes) = self.warehouse.get(&intent_key(&road.name, after)).await? else {
            return Ok(None);
        };
        let intent: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| LandingError::Manifest {
                road: road.name.clone(),
                instant: format!("intent after {after:?}"),
                why: e.to_string(),
            })?;
        Ok((intent.road_created_ms == road.create_time_ms).then_some(intent))
    }

    /// Writes the planned landing's files and commits it; a landing that is
    /// committed already (by another instance) is returned as it is.
    async fn write(&self, road: &Road, mut plan: Manifest) -> Result<Manifest, LandingError> {
        if let Some(done) = self.manifest(road, &plan.instant).await? {
            return Ok(done);
        }
        let schema = road
            .schema(plan.schema_version)
            .or_else(|| road.latest_schema())
            .ok_or_else(|| LandingError::NoSchema(road.name.clone()))?;
        let document: serde_json::Value =
            serde_json::from_str(&schema.schema).unwrap_or(serde_json::Value::Bool(true));
        let layout = Layout::new(road.road_type(), &document);
        let dir = partition_dir(&road.name, &plan.instant);

        let (tx, mut rx) = mpsc::channel::<(FileEntry, Vec<u8>)>(1);
        let reader = {
            let (road, plan, lander) = (road.clone(), plan.clone(), self.clone());
            tokio::task::spawn_blocking(move || lander.read(&road, &plan, &layout, &tx))
        };
        let mut files = Vec::new();
        self.reached(Fault::BeforeFiles)?;
        while let Some((entry, bytes)) = rx.recv().await {
            if !files.is_empty() {
                self.reached(Fault::BetweenFiles)?;
            }
            self.warehouse.put(&format!("{dir}/{}", entry.name), bytes).await?;
            files.push(entry);
        }
        let lenient = reader
            .await
            .map_err(|e| LandingError::Encode { road: road.name.clone(), why: e.to_string() })??;
        // Files of an earlier attempt that this one did not write again.
        for name in self.warehouse.files(&dir).await? {
            if name != "_manifest.json" && !files.iter().any(|f| f.name == name) {
                self.warehouse.delete(&format!("{dir}/{name}")).await?;
            }
        }
        self.reached(Fault::BeforeCommit)?;
        plan.records = files.iter().map(|f| f.records).sum();
        plan.files = files;
        plan.lenient = lenient;
        plan.committed_ms = now_ms();
        let text = serde_json::to_vec_pretty(&plan).expect("a manifest serializes");
        if !self.warehouse.create(&manifest_key(&road.name, &plan.instant), text).await? {
            // Committed meanwhile by another instance, from the same plan.
            return self.manifest(road, &plan.instant).await?.ok_or_else(|| {
                LandingError::Storage("a manifest was reported present, then absent".into())
            });
        }
        Ok(plan)
    }

    /// Reads each planned range and sends its files (blocking).
    fn read(
        &self,
        road: &Road,
        plan: &Manifest,
        layout: &Layout,
        files: &mpsc::Sender<(FileEntry, Vec<u8>)>,
    ) -> Result<bool, LandingError> {
        let topic = format!("{}{}", self.topic_prefix, road.name);
        let encode = |why: String| LandingError::Encode { road: road.name.clone(), why };
        let mut roller = Roller::new(&road.name, layout, self.target_file_bytes);
        let send = |file: Option<(FileEntry, Vec<u8>)>| -> Result<(), LandingError> {
            match file {
                Some(file) => files.blocking_send(file).map_err(|_| {
                    LandingError::Storage("the upload of a landing file stopped".into())
                }),
                None => Ok(()),
            }
        };
        for (&partition, &(from, to)) in &plan.ranges {
            let kafka =
                |why: String| LandingError::Kafka { road: road.name.clone(), partition, why };
            let consumer: BaseConsumer =
                self.consumer.create().map_err(|e| kafka(e.to_string()))?;
            let mut assignment = TopicPartitionList::new();
            assignment
                .add_partition_offset(&topic, partition, Offset::Offset(from))
                .map_err(|e| kafka(e.to_string()))?;
            consumer.assign(&assignment).map_err(|e| kafka(e.to_string()))?;
            let mut rows = Vec::with_capacity(CHUNK);
            let mut idle = Duration::ZERO;
            loop {
                let Some(message) = consumer.poll(POLL) else {
                    // Compaction may have removed the range's last records:
                    // the consumer's position tells that it is past them.
                    if position(&consumer) >= to {
                        break;
                    }
                    idle += POLL;
                    if idle > KAFKA_TIMEOUT {
                        return Err(kafka(format!(
                            "no record between offsets {from} and {to} arrived within {KAFKA_TIMEOUT:?}"
                        )));
                    }
                    continue;
                };
                idle = Duration::ZERO;
                let m = message.map_err(|e| kafka(e.to_string()))?;
                if m.offset() >= to {
                    break;
                }
                let version = crate::kafka::schema_version(&m);
                let payload = m.payload().map(|p| self.blank(road, version, p));
                rows.push(Row {
                    key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    payload,
                    partition,
                    offset: m.offset(),
                    timestamp_ms: m.timestamp().to_millis().unwrap_or(0),
                    schema_version: version,
                });
                let last = m.offset() + 1 >= to;
                if rows.len() == CHUNK || last {
                    send(roller.push(&rows).map_err(|e| encode(e.to_string()))?)?;
                    rows.clear();
                }
                if last {
                    break;
                }
            }
            if !rows.is_empty() {
                send(roller.push(&rows).map_err(|e| encode(e.to_string()))?)?;
            }
            send(roller.finish().map_err(|e| encode(e.to_string()))?)?;
        }
        Ok(roller.lenient_batches > 0)
    }

    /// The payload with its PII blanked, as the Offramp delivers it to a
    /// reader without the PII grant.
    fn blank(&self, road: &Road, version: u32, payload: &[u8]) -> Vec<u8> {
        let Some(writer) = self.schemas.writer(road, version) else { return payload.to_vec() };
        if writer.pii.is_empty() {
            return payload.to_vec();
        }
        match serde_json::from_slice::<serde_json::Value>(payload) {
            Ok(mut document) => {
                writer.pii.blank(&mut document);
                document.to_string().into_bytes()
            }
            // Validated on the way in; a record that is not JSON has no
            // PII to show either.
            Err(_) => b"null".to_vec(),
        }
    }
}

/// Each partition's low and high watermarks.
async fn watermarks(
    config: &ClientConfig,
    topic: &str,
    partitions: i32,
) -> Result<BTreeMap<i32, (i64, i64)>, LandingError> {
    let (config, topic) = (config.clone(), topic.to_string());
    tokio::task::spawn_blocking(move || {
        let kafka =
            |partition, why: String| LandingError::Kafka { road: topic.clone(), partition, why };
        let consumer: BaseConsumer = config.create().map_err(|e| kafka(-1, e.to_string()))?;
        (0..partitions)
            .map(|p| {
                consumer
                    .fetch_watermarks(&topic, p, KAFKA_TIMEOUT)
                    .map(|w| (p, w))
                    .map_err(|e| kafka(p, e.to_string()))
            })
            .collect()
    })
    .await
    .map_err(|e| LandingError::Storage(e.to_string()))?
}

/// The next offset the consumer of one partition will read.
fn position(consumer: &BaseConsumer) -> i64 {
    consumer
        .position()
        .ok()
        .and_then(|p| p.elements().first().and_then(|e| e.offset().to_raw()))
        .unwrap_or(-1)
}

/// `20261202T203000Z` as RFC 3339.
fn rfc3339(instant: &str) -> String {
    let b = instant.as_bytes();
    if b.len() != 16 {
        return String::new();
    }
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &instant[0..4],
        &instant[4..6],
        &instant[6..8],
        &instant[9..11],
        &instant[11..13],
        &instant[13..15]
    )
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_data_highways_format_and_read_back() {
        let at = humantime::parse_rfc3339("2026-12-02T20:30:05Z").expect("time");
        assert_eq!(instant(at), "20261202T203005Z");
        assert_eq!(rfc3339("20261202T203005Z"), "2026-12-02T20:30:05Z");
    }
}
