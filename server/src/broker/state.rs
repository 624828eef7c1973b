//! What the broker holds: topics and their logs, committed offsets,
//! producer ids, consumer groups, and the journal that makes the metadata
//! durable.
//!
//! The data directory (`<data_dir>/broker/`, format version in `format`):
//!
//! - `journal`: the metadata log ([`super::journal`]).
//! - `topics/<topic>-<partition>/`: one log per partition ([`super::log`]).
//! - `clean-shutdown`: present only while the broker is stopped after a
//!   clean shutdown; without it, start-up checks each active segment whole.
//! - `lock`: held while a process uses the directory.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use super::config::TopicConfig;
use super::groups::Coordinator;
use super::journal::{Committed, Entry, Journal};
use super::log::cleaner::{self, Progress};
use super::log::{Fsync, Log};

/// Kafka's error codes for admin operations.
pub mod code {
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const INVALID_TOPIC: i16 = 17;
    pub const TOPIC_ALREADY_EXISTS: i16 = 36;
    pub const INVALID_PARTITIONS: i16 = 37;
    pub const INVALID_REPLICATION_FACTOR: i16 = 38;
    pub const INVALID_CONFIG: i16 = 40;
    pub const KAFKA_STORAGE_ERROR: i16 = 56;
}

/// An admin refusal: a Kafka error code and a message.
pub type Refusal = (i16, String);

/// The journal is rewritten once it is this large.
const JOURNAL_REWRITE_BYTES: u64 = 16 << 20;
const MAX_PARTITIONS: i32 = 10_000;

pub struct Partition {
    pub log: Log,
    cleaner: Mutex<Progress>,
}

pub struct Topic {
    pub name: String,
    config: RwLock<Arc<TopicConfig>>,
    partitions: RwLock<Vec<Arc<Partition>>>,
}

impl Topic {
    pub fn config(&self) -> Arc<TopicConfig> {
        self.config.read().expect("config lock").clone()
    }

    pub fn partitions(&self) -> Vec<Arc<Partition>> {
        self.partitions.read().expect("partitions lock").clone()
    }

    pub fn partition(&self, index: i32) -> Option<Arc<Partition>> {
        let partitions = self.partitions.read().expect("partitions lock");
        usize::try_from(index).ok().and_then(|i| partitions.get(i).cloned())
    }
}

type Offsets = HashMap<String, BTreeMap<(String, i32), (i64, Option<String>)>>;

pub struct State {
    root: PathBuf,
    fsync: Fsync,
    topics: RwLock<HashMap<String, Arc<Topic>>>,
    /// Serialises changes to topics, so the journal and the directories
    /// agree.
    admin: Mutex<()>,
    journal: Journal,
    offsets: Mutex<Offsets>,
    next_producer_id: Mutex<i64>,
    pub groups: Coordinator,
}

impl State {
    /// Loads the broker in `root`. `clean` says whether it was shut down
    /// cleanly; if not, every active segment is checked whole.
    pub fn open(root: &Path, fsync: Fsync, clean: bool) -> io::Result<Self> {
        let topics_dir = root.join("topics");
        std::fs::create_dir_all(&topics_dir)?;
        let (journal, entries) = Journal::open(&root.join("journal"), fsync)?;
        let mut declared: BTreeMap<String, (i32, BTreeMap<String, String>)> = BTreeMap::new();
        let mut offsets: Offsets = HashMap::new();
        let mut next_producer_id = 1;
        for entry in entries {
            match entry {
                Entry::Topic { name, partitions, configs } => {
                    declared.insert(name, (partitions, configs));
                }
                Entry::TopicDeleted { name } => {
                    declared.remove(&name);
                    for group in offsets.values_mut() {
                        group.retain(|(t, _), _| *t != name);
                    }
                }
                Entry::Offsets { group, offsets: committed } => {
                    let g = offsets.entry(group).or_default();
                    for c in committed {
                        g.insert((c.topic, c.partition), (c.offset, c.metadata));
                    }
                }
                Entry::GroupDeleted { group } => {
                    offsets.remove(&group);
                }
                Entry::ProducerIds { next } => next_producer_id = next_producer_id.max(next),
            }
        }
        // Directories the journal does not name are deleted topics whose
        // removal was interrupted, or topics whose creation was.
        let mut wanted = std::collections::HashSet::new();
        for (name, (count, _)) in &declared {
            for p in 0..*count {
                wanted.insert(format!("{name}-{p}"));
            }
        }
        for entry in std::fs::read_dir(&topics_dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if wanted.contains(&name) || name.ends_with(".orphaned") {
                continue;
            }
            if journal.was_cut() && !name.ends_with("-delete") {
                // The lost entries may have declared it: keep it for a human.
                let aside =
                    topics_dir.join(format!("{name}.{}.orphaned", uuid::Uuid::new_v4().simple()));
                tracing::warn!(from = %entry.path().display(), to = %aside.display(), "set aside a partition the damaged journal does not name");
                std::fs::rename(entry.path(), aside)?;
            } else {
                std::fs::remove_dir_all(entry.path())?;
            }
        }
        let mut topics = HashMap::new();
        for (name, (count, configs)) in declared {
            let config = TopicConfig::new(configs).map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("topic {name}: {e}"))
            })?;
            let mut partitions = Vec::with_capacity(count as usize);
            for p in 0..count {
                let dir = topics_dir.join(format!("{name}-{p}"));
                partitions.push(Arc::new(Partition {
                    log: Log::open(&dir, !clean, fsync)?,
                    cleaner: Mutex::default(),
                }));
            }
            let topic = Topic {
                name: name.clone(),
                config: RwLock::new(Arc::new(config)),
                partitions: RwLock::new(partitions),
            };
            topics.insert(name, Arc::new(topic));
        }
        let state = Self {
            root: root.to_path_buf(),
            fsync,
            topics: RwLock::new(topics),
            admin: Mutex::new(()),
            journal,
            offsets: Mutex::new(offsets),
            next_producer_id: Mutex::new(next_producer_id),
            groups: Coordinator::default(),
        };
        state.rewrite_journal()?;
        Ok(state)
    }

    pub fn fsync(&self) -> Fsync {
        self.fsync
    }

    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().expect("topics lock").get(name).cloned()
    }

    /// Every topic, by name.
    pub fn topics(&self) -> Vec<Arc<Topic>> {
        let mut all: Vec<_> = self.topics.read().expect("topics lock").values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), Refusal> {
        let _admin = self.admin.lock().expect("admin lock");
        check_topic_name(name)?;
        if self.topic(name).is_some() {
            return Err((code::TOPIC_ALREADY_EXISTS, format!("Topic '{name}' already exists.")));
        }
        let partitions = if partitions == -1 { 1 } else { partitions };
        if !(1..=MAX_PARTITIONS).contains(&partitions) {
            return Err((
                code::INVALID_PARTITIONS,
                format!("Number of partitions must be 1 to {MAX_PARTITIONS}."),
            ));
        }
        if !matches!(replication_factor, -1 | 1) {
            return Err((
                code::INVALID_REPLICATION_FACTOR,
                format!(
                    "Replication factor: {replication_factor} larger than available brokers: 1."
                ),
            ));
        }
        let config = TopicConfig::new(configs.clone()).map_err(|e| (code::INVALID_CONFIG, e))?;
        if validate_only {
            return Ok(());
        }
        let logs = (0..partitions)
            .map(|p| self.open_partition(name, p))
            .collect::<io::Result<Vec<_>>>()
            .map_err(storage)?;
        self.journal
            .append(&[Entry::Topic { name: name.into(), partitions, configs }])
            .map_err(storage)?;
        let topic = Topic {
            name: name.into(),
            config: RwLock::new(Arc::new(config)),
            partitions: RwLock::new(logs),
        };
        self.topics.write().expect("topics lock").insert(name.into(), Arc::new(topic));
        Ok(())
    }

    fn open_partition(&self, topic: &str, p: i32) -> io::Result<Arc<Partition>> {
        let dir = self.root.join("topics").join(format!("{topic}-{p}"));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        Ok(Arc::new(Partition {
            log: Log::open(&dir, false, self.fsync)?,
            cleaner: Mutex::default(),
        }))
    }

    /// Deletes a topic: it is gone from the journal first, then its
    /// directories are removed (a crash in between leaves directories that
    /// start-up removes).
    pub fn delete_topic(&self, name: &str) -> Result<(), Refusal> {
        let _admin = self.admin.lock().expect("admin lock");
        let Some(topic) = self.topic(name) else { return Err(unknown_topic(name)) };
        self.journal.append(&[Entry::TopicDeleted { name: name.into() }]).map_err(storage)?;
        self.topics.write().expect("topics lock").remove(name);
        for group in self.offsets.lock().expect("offsets lock").values_mut() {
            group.retain(|(t, _), _| t != name);
        }
        for p in topic.partitions() {
            p.log.close();
            let dir = p.log.dir().to_path_buf();
            let doomed = PathBuf::from(format!(
                "{}.{}-delete",
                dir.display(),
                uuid::Uuid::new_v4().simple()
            ));
            if std::fs::rename(&dir, &doomed).is_ok() {
                std::thread::spawn(move || {
                    let _ = std::fs::remove_dir_all(doomed);
                });
            }
        }
        Ok(())
    }

    /// Grows a topic to `count` partitions.
    pub fn add_partitions(
        &self,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> Result<(), Refusal> {
        let _admin = self.admin.lock().expect("admin lock");
        let Some(topic) = self.topic(name) else { return Err(unknown_topic(name)) };
        let current = topic.partitions().len() as i32;
        if count <= current || count > MAX_PARTITIONS {
            return Err((
                code::INVALID_PARTITIONS,
                format!(
                    "Topic currently has {current} partitions, {count} would not increase the number of partitions."
                ),
            ));
        }
        if validate_only {
            return Ok(());
        }
        let added = (current..count)
            .map(|p| self.open_partition(name, p))
            .collect::<io::Result<Vec<_>>>()
            .map_err(storage)?;
        let configs = topic.config().overrides.clone();
        self.journal
            .append(&[Entry::Topic { name: name.into(), partitions: count, configs }])
            .map_err(storage)?;
        topic.partitions.write().expect("partitions lock").extend(added);
        Ok(())
    }

    /// Replaces a topic's overrides with `configs`.
    pub fn set_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), Refusal> {
        let _admin = self.admin.lock().expect("admin lock");
        let Some(topic) = self.topic(name) else { return Err(unknown_topic(name)) };
        let config = TopicConfig::new(configs.clone()).map_err(|e| (code::INVALID_CONFIG, e))?;
        if validate_only {
            return Ok(());
        }
        let partitions = topic.partitions().len() as i32;
        self.journal
            .append(&[Entry::Topic { name: name.into(), partitions, configs }])
            .map_err(storage)?;
        *topic.config.write().expect("config lock") = Arc::new(config);
        Ok(())
    }

    /// Records commits; they are in the journal when this returns.
    pub fn commit(&self, group: &str, committed: Vec<Committed>) -> io::Result<()> {
        let mut offsets = self.offsets.lock().expect("offsets lock");
        self.journal
            .append(&[Entry::Offsets { group: group.into(), offsets: committed.clone() }])?;
        let g = offsets.entry(group.into()).or_default();
        for c in committed {
            g.insert((c.topic, c.partition), (c.offset, c.metadata));
        }
        drop(offsets);
        if self.journal.len() > JOURNAL_REWRITE_BYTES {
            self.rewrite_journal()?;
        }
        Ok(())
    }

    /// A group's committed offsets, all of them or those of `topic`.
    pub fn committed(&self, group: &str) -> BTreeMap<(String, i32), (i64, Option<String>)> {
        self.offsets.lock().expect("offsets lock").get(group).cloned().unwrap_or_default()
    }

    /// Groups that have committed offsets.
    pub fn groups_with_offsets(&self) -> Vec<String> {
        self.offsets
            .lock()
            .expect("offsets lock")
            .iter()
            .filter(|(_, o)| !o.is_empty())
            .map(|(g, _)| g.clone())
            .collect()
    }

    pub fn delete_group(&self, group: &str) -> io::Result<bool> {
        let mut offsets = self.offsets.lock().expect("offsets lock");
        if offsets.remove(group).is_none() {
            return Ok(false);
        }
        self.journal.append(&[Entry::GroupDeleted { group: group.into() }])?;
        Ok(true)
    }

    /// A producer id never handed out before, in this directory.
    pub fn new_producer_id(&self) -> io::Result<i64> {
        let mut next = self.next_producer_id.lock().expect("producer id lock");
        let id = *next;
        self.journal.append(&[Entry::ProducerIds { next: id + 1 }])?;
        *next += 1;
        Ok(id)
    }

    /// Retention and compaction for every partition, then the fsync of
    /// whatever the interval policy left unsynced.
    pub fn maintain(&self, now_ms: i64, sync: bool) {
        for topic in self.topics() {
            let config = topic.config();
            for p in topic.partitions() {
                if let Err(e) = cleaner::retain(&p.log, &config, now_ms) {
                    tracing::warn!(error = %e, log = %p.log.dir().display(), "retention failed");
                }
                let mut progress = p.cleaner.lock().expect("cleaner lock");
                if let Err(e) = cleaner::compact(&p.log, &config, now_ms, &mut progress) {
                    tracing::warn!(error = %e, log = %p.log.dir().display(), "compaction failed");
                }
            }
        }
        if sync {
            self.sync();
        }
    }

    /// Forces every log and the journal to the disk.
    pub fn sync(&self) {
        for topic in self.topics() {
            for p in topic.partitions() {
                if let Err(e) = p.log.sync() {
                    tracing::warn!(error = %e, log = %p.log.dir().display(), "fsync failed");
                }
            }
        }
        if let Err(e) = self.journal.sync() {
            tracing::warn!(error = %e, "fsync of the broker journal failed");
        }
    }

    /// Rewrites the journal as the current state.
    fn rewrite_journal(&self) -> io::Result<()> {
        let _admin = self.admin.lock().expect("admin lock");
        let offsets = self.offsets.lock().expect("offsets lock");
        // Held to the end, so no producer id is handed out and lost between
        // the snapshot and the swap.
        let next_producer_id = self.next_producer_id.lock().expect("producer id lock");
        let mut entries = Vec::new();
        for topic in self.topics() {
            entries.push(Entry::Topic {
                name: topic.name.clone(),
                partitions: topic.partitions().len() as i32,
                configs: topic.config().overrides.clone(),
            });
        }
        for (group, committed) in offsets.iter() {
            let offsets = committed
                .iter()
                .map(|((topic, partition), (offset, metadata))| Committed {
                    topic: topic.clone(),
                    partition: *partition,
                    offset: *offset,
                    metadata: metadata.clone(),
                })
                .collect();
            entries.push(Entry::Offsets { group: group.clone(), offsets });
        }
        entries.push(Entry::ProducerIds { next: *next_producer_id });
        self.journal.rewrite(&entries)
    }
}

fn check_topic_name(name: &str) -> Result<(), Refusal> {
    let valid = !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err((
            code::INVALID_TOPIC,
            format!(
                "Topic name \"{name}\" is illegal, it must be 1 to 249 of ASCII alphanumerics, '.', '_' and '-'"
            ),
        ))
    }
}

fn unknown_topic(name: &str) -> Refusal {
    (code::UNKNOWN_TOPIC_OR_PARTITION, format!("Topic '{name}' does not exist."))
}

fn storage(e: io::Error) -> Refusal {
    (code::KAFKA_STORAGE_ERROR, e.to_string())
}
