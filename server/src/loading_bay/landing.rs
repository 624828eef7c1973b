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
//! - `<road>/_loading_bay/landing-<after>.p<partition>.claim` and
//!   `….done`: the instances that find the plan share its partitions. Each
//!   claims one partition at a time (a conditional create, renewed while it
//!   works; a claim not renewed for the lease is taken over), lands it, and
//!   records its files in the partition's `done`; once every partition is
//!   done, any of them commits. Two instances landing one partition (a
//!   lease taken over from one that was only slow) write the same files, so
//!   sharing never duplicates a record.
//!
//! A crash before the manifest leaves files no reader sees; the redo writes
//! the same files again, deletes any other file in the directory, then
//! commits. A crash after the manifest leaves only the intent, which the
//! next landing finds committed and deletes. No record is landed twice or
//! lost.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use futures::{StreamExt, TryStreamExt};
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
    /// Which instance landed each partition.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub landed_by: BTreeMap<i32, String>,
    /// The file size the plan's files roll at, whichever instance lands
    /// them, so that every one writes the same files.
    #[serde(default)]
    pub target_file_bytes: u64,
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
    format!("{road}/_loading_bay/{}.json", intent_name(after))
}

/// The plan's name without `.json`; its claims and done markers start with
/// it and a dot.
fn intent_name(after: &str) -> String {
    let after = if after.is_empty() { "start" } else { after };
    format!("landing-{after}")
}

fn claim_key(road: &str, after: &str, partition: i32) -> String {
    format!("{road}/_loading_bay/{}.p{partition:04}.claim", intent_name(after))
}

fn done_key(road: &str, after: &str, partition: i32) -> String {
    format!("{road}/_loading_bay/{}.p{partition:04}.done", intent_name(after))
}

/// An instance's hold on one partition of a planned landing.
#[derive(Serialize, Deserialize)]
struct Claim {
    owner: String,
    /// When it was made or last renewed.
    at_ms: i64,
}

/// One partition of a planned landing, landed.
#[derive(Clone, Serialize, Deserialize)]
struct Done {
    owner: String,
    files: Vec<FileEntry>,
    lenient: bool,
}

/// Partitions one instance lands at once: one per core.
fn parallelism() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

/// How often an instance waiting for partitions that others hold looks
/// again.
const CLAIM_POLL: Duration = Duration::from_millis(250);

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
    /// One partition is landed (its done marker written), others not.
    AfterPartition,
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
    /// This instance, in the claims it makes.
    pub owner: String,
    /// How long a claim holds without renewal.
    pub claim_lease: Duration,
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
        let current = format!("{}.", intent_name(&after));
        for name in self.warehouse.files(&format!("{}/_loading_bay", road.name)).await? {
            if name.starts_with("landing-") && !name.starts_with(&current) {
                self.warehouse.delete(&format!("{}/_loading_bay/{name}", road.name)).await?;
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
            landed_by: BTreeMap::new(),
            target_file_bytes: self.target_file_bytes as u64,
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
        self.tidy(road, &after).await?;
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

    /// Deletes the plan of the committed landing after `after`, with its
    /// claims and done markers (the plan last: its presence says the rest
    /// may be there).
    async fn tidy(&self, road: &Road, after: &str) -> Result<(), LandingError> {
        let prefix = format!("{}.", intent_name(after));
        for name in self.warehouse.files(&format!("{}/_loading_bay", road.name)).await? {
            if name.starts_with(&prefix) && !name.ends_with(".json") {
                self.warehouse.delete(&format!("{}/_loading_bay/{name}", road.name)).await?;
            }
        }
        self.warehouse.delete(&intent_key(&road.name, after)).await?;
        Ok(())
    }

    /// Lands the planned landing's partitions, sharing them with any other
    /// instance doing the same, and commits it; a landing that is committed
    /// already (by another instance) is returned as it is.
    async fn write(&self, road: &Road, mut plan: Manifest) -> Result<Manifest, LandingError> {
        if let Some(done) = self.manifest(road, &plan.instant).await? {
            return Ok(done);
        }
        let layout = layout_of(road, road.road_type(), plan.schema_version)?;
        let dir = partition_dir(&road.name, &plan.instant);
        self.reached(Fault::BeforeFiles)?;
        let written = AtomicUsize::new(0);
        let done = loop {
            // Committed meanwhile by another instance that landed the rest.
            if let Some(committed) = self.manifest(road, &plan.instant).await? {
                return Ok(committed);
            }
            let done = self.done(road, &plan).await?;
            let pending: Vec<i32> =
                plan.ranges.keys().filter(|p| !done.contains_key(p)).copied().collect();
            if pending.is_empty() {
                break done;
            }
            // Partitions are independent: a few at once use the cores.
            let landed: Vec<bool> = futures::stream::iter(pending)
                .map(|partition| {
                    let (plan, layout, written) = (&plan, &layout, &written);
                    async move {
                        if !self.claim(road, &plan.after, partition).await? {
                            return Ok(false);
                        }
                        let done =
                            self.land_partition(road, plan, partition, layout, written).await?;
                        let text = serde_json::to_vec(&done).expect("a done marker serializes");
                        let key = done_key(&road.name, &plan.after, partition);
                        self.warehouse.put(&key, text).await?;
                        self.reached(Fault::AfterPartition)?;
                        Ok::<_, LandingError>(true)
                    }
                })
                .buffer_unordered(parallelism())
                .try_collect()
                .await?;
            if !landed.contains(&true) {
                // Others hold the rest: wait for them, or for their leases.
                tokio::time::sleep(CLAIM_POLL).await;
            }
        };
        let files: Vec<FileEntry> = done.values().flat_map(|d| d.files.iter().cloned()).collect();
        // Files of an earlier attempt that this one did not write again.
        for name in self.warehouse.files(&dir).await? {
            if name != "_manifest.json" && !files.iter().any(|f| f.name == name) {
                self.warehouse.delete(&format!("{dir}/{name}")).await?;
            }
        }
        self.reached(Fault::BeforeCommit)?;
        plan.records = files.iter().map(|f| f.records).sum();
        plan.lenient = done.values().any(|d| d.lenient);
        plan.landed_by = done.iter().map(|(p, d)| (*p, d.owner.clone())).collect();
        plan.files = files;
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

    /// The planned partitions landed so far, by any instance.
    async fn done(
        &self,
        road: &Road,
        plan: &Manifest,
    ) -> Result<BTreeMap<i32, Done>, LandingError> {
        let prefix = format!("{}.p", intent_name(&plan.after));
        let mut done = BTreeMap::new();
        for name in self.warehouse.files(&format!("{}/_loading_bay", road.name)).await? {
            let Some(partition) = name
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix(".done"))
                .and_then(|p| p.parse::<i32>().ok())
            else {
                continue;
            };
            let key = done_key(&road.name, &plan.after, partition);
            let Some(bytes) = self.warehouse.get(&key).await? else { continue };
            let marker: Done =
                serde_json::from_slice(&bytes).map_err(|e| LandingError::Manifest {
                    road: road.name.clone(),
                    instant: key.clone(),
                    why: e.to_string(),
                })?;
            done.insert(partition, marker);
        }
        Ok(done)
    }

    /// Claims a partition of the landing after `after`: free, ours, or held
    /// by an instance that has not renewed it within the lease.
    async fn claim(&self, road: &Road, after: &str, partition: i32) -> Result<bool, LandingError> {
        let key = claim_key(&road.name, after, partition);
        let mine = serde_json::to_vec(&Claim { owner: self.owner.clone(), at_ms: now_ms() })
            .expect("a claim serializes");
        if self.warehouse.create(&key, mine.clone()).await? {
            return Ok(true);
        }
        let Some(bytes) = self.warehouse.get(&key).await? else { return Ok(false) };
        let lease = i64::try_from(self.claim_lease.as_millis()).unwrap_or(i64::MAX);
        match serde_json::from_slice::<Claim>(&bytes) {
            Ok(held) if held.owner == self.owner => Ok(true),
            Ok(held) if now_ms().saturating_sub(held.at_ms) < lease => Ok(false),
            // Stale or unreadable: taken over.
            _ => {
                self.warehouse.put(&key, mine).await?;
                Ok(true)
            }
        }
    }

    /// Lands one claimed partition's range, renewing the claim meanwhile.
    async fn land_partition(
        &self,
        road: &Road,
        plan: &Manifest,
        partition: i32,
        layout: &Layout,
        written: &AtomicUsize,
    ) -> Result<Done, LandingError> {
        let dir = partition_dir(&road.name, &plan.instant);
        let (tx, mut rx) = mpsc::channel::<(FileEntry, Vec<u8>)>(1);
        let reader = {
            let (road, plan, lander, layout) =
                (road.clone(), plan.clone(), self.clone(), layout.clone());
            tokio::task::spawn_blocking(move || lander.read(&road, &plan, partition, &layout, &tx))
        };
        let mut renew = tokio::time::interval(self.claim_lease / 3);
        renew.tick().await;
        let mut files = Vec::new();
        loop {
            tokio::select! {
                file = rx.recv() => {
                    let Some((entry, bytes)) = file else { break };
                    if written.load(Ordering::Acquire) > 0 {
                        self.reached(Fault::BetweenFiles)?;
                    }
                    self.warehouse.put(&format!("{dir}/{}", entry.name), bytes).await?;
                    written.fetch_add(1, Ordering::AcqRel);
                    files.push(entry);
                }
                _ = renew.tick() => {
                    let claim = Claim { owner: self.owner.clone(), at_ms: now_ms() };
                    let text = serde_json::to_vec(&claim).expect("a claim serializes");
                    self.warehouse.put(&claim_key(&road.name, &plan.after, partition), text).await?;
                }
            }
        }
        let lenient = reader
            .await
            .map_err(|e| LandingError::Encode { road: road.name.clone(), why: e.to_string() })??;
        Ok(Done { owner: self.owner.clone(), files, lenient })
    }

    /// Reads one planned partition's range and sends its files (blocking).
    fn read(
        &self,
        road: &Road,
        plan: &Manifest,
        partition: i32,
        layout: &Layout,
        files: &mpsc::Sender<(FileEntry, Vec<u8>)>,
    ) -> Result<bool, LandingError> {
        let topic = format!("{}{}", self.topic_prefix, road.name);
        let encode = |why: String| LandingError::Encode { road: road.name.clone(), why };
        let target = match usize::try_from(plan.target_file_bytes) {
            Ok(0) | Err(_) => self.target_file_bytes,
            Ok(planned) => planned,
        };
        let mut roller = Roller::new(&road.name, layout, target);
        let send = |file: Option<(FileEntry, Vec<u8>)>| -> Result<(), LandingError> {
            match file {
                Some(file) => files.blocking_send(file).map_err(|_| {
                    LandingError::Storage("the upload of a landing file stopped".into())
                }),
                None => Ok(()),
            }
        };
        let Some(&(from, to)) = plan.ranges.get(&partition) else { return Ok(false) };
        let kafka = |why: String| LandingError::Kafka { road: road.name.clone(), partition, why };
        let consumer: BaseConsumer = self.consumer.create().map_err(|e| kafka(e.to_string()))?;
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

/// The table layout of `road`'s schema `version` (or its latest, if that
/// version is gone), as a road of `road_type`.
pub(crate) fn layout_of(
    road: &Road,
    road_type: crate::roads::RoadType,
    version: u32,
) -> Result<Layout, LandingError> {
    let schema = road
        .schema(version)
        .or_else(|| road.latest_schema())
        .ok_or_else(|| LandingError::NoSchema(road.name.clone()))?;
    let document: serde_json::Value =
        serde_json::from_str(&schema.schema).unwrap_or(serde_json::Value::Bool(true));
    Ok(Layout::new(road_type, &document))
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
