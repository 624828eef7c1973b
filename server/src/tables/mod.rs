//! Tables: materialized COMPACTED roads served as key/value tables.
//!
//! Every instance keeps, for each road marked `materialized`, a view of the
//! road's current state on its local disk (`<data_dir>/tables/<road>.redb`),
//! read from the topic by a thread of its own. The view is a cache of Kafka:
//! it records the offsets it reflects and resumes from them after a restart,
//! and is built again from the topic when its file is lost or belongs to an
//! earlier road of the same name. Reads wait for the view to pass the offsets
//! a caller wrote at (`min_offsets`), up to a deadline.

mod error;
pub mod grpc;
mod resume;
mod store;
mod view;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use error::TableError;
pub use resume::ResumeToken;
pub use store::{Offsets, StoredEntry};

use crate::auth::{Caller, Guard};
use crate::error::FieldViolation;
use crate::kafka::Kafka;
use crate::roads::registry::Registry;
use crate::roads::{Grant, Road, RoadKind, StatusBoard, TableStatus, rules};
use crate::schema::SchemaCache;
use store::Store;
use view::{Position, Source, View};

/// How views are kept and read.
#[derive(Clone, Debug)]
pub struct TableSettings {
    /// The longest a read waits for its view to reach `min_offsets`.
    pub max_wait: Duration,
    /// Each view's page cache.
    pub cache_bytes: usize,
}

impl Default for TableSettings {
    fn default() -> Self {
        Self { max_wait: Duration::from_secs(30), cache_bytes: 16 << 20 }
    }
}

/// Keys one BatchGetEntries may ask for.
pub const MAX_KEYS: usize = 1_000;
const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 1_000;

/// A live value as a caller receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub payload: String,
    pub schema_version: u32,
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: i64,
}

/// How a read is bounded.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// Partition → the offset the view must have reached.
    pub min_offsets: Offsets,
    /// Fail at once rather than wait for `min_offsets`.
    pub fail_if_behind: bool,
    /// When the caller stops waiting (its gRPC deadline), if it said.
    pub deadline: Option<Instant>,
    pub grants: Vec<Grant>,
}

/// The views of this instance.
#[derive(Clone)]
pub struct Tables {
    inner: Arc<Inner>,
}

struct Inner {
    kafka: Kafka,
    registry: Registry,
    board: Arc<StatusBoard>,
    schemas: Arc<SchemaCache>,
    guard: Guard,
    settings: TableSettings,
    topic_prefix: String,
    dir: PathBuf,
    views: Mutex<HashMap<String, Arc<View>>>,
}

impl Tables {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kafka: Kafka,
        registry: Registry,
        board: Arc<StatusBoard>,
        schemas: Arc<SchemaCache>,
        guard: Guard,
        settings: TableSettings,
        topic_prefix: String,
        data_dir: &std::path::Path,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                kafka,
                registry,
                board,
                schemas,
                guard,
                settings,
                topic_prefix,
                dir: data_dir.join("tables"),
                views: Mutex::default(),
            }),
        }
    }

    /// Keeps a view of every materialized road whose topic exists, and
    /// reports each in the road's status, until `stop`; then stops the views
    /// (their files stay for the next start).
    pub fn spawn(&self, stop: CancellationToken) -> JoinHandle<()> {
        let tables = self.clone();
        tokio::spawn(async move {
            let mut changes = tables.inner.registry.changes();
            loop {
                tables.reconcile().await;
                tables.report();
                tokio::select! {
                    _ = changes.changed() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = stop.cancelled() => break,
                }
            }
            let views: Vec<Arc<View>> =
                tables.inner.views.lock().expect("views lock").drain().map(|(_, v)| v).collect();
            let _ = tokio::task::spawn_blocking(move || views.iter().for_each(|v| v.stop())).await;
        })
    }

    /// Starts the views that should run and stops (and deletes) those of
    /// roads no longer materialized.
    async fn reconcile(&self) {
        let inner = &self.inner;
        let mut wanted = HashMap::new();
        for versioned in inner.registry.all() {
            let road = &versioned.road;
            if let Some(source) = self.source(road)
                && inner.board.get(&road.name).topic_created
            {
                wanted.insert(road.name.clone(), source);
            }
        }
        let (gone, missing): (Vec<Arc<View>>, Vec<Source>) = {
            let mut views = inner.views.lock().expect("views lock");
            let stale: Vec<String> = views
                .iter()
                .filter(|(name, v)| {
                    wanted.get(*name).is_none_or(|s| s.road_created_ms != v.source.road_created_ms)
                })
                .map(|(name, _)| name.clone())
                .collect();
            let gone = stale.iter().filter_map(|name| views.remove(name)).collect();
            let missing = wanted.into_values().filter(|s| !views.contains_key(&s.road)).collect();
            (gone, missing)
        };
        for view in gone {
            let path = self.path(&view.source.road);
            let road = view.source.road.clone();
            let board = inner.board.clone();
            let _ = tokio::task::spawn_blocking(move || {
                view.stop();
                drop(view);
                if let Err(e) = std::fs::remove_file(&path)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(%road, error = %e, "could not delete the view's file");
                }
                board.remove_table(&road);
            })
            .await;
        }
        for source in missing {
            let road = source.road.clone();
            let path = self.path(&road);
            let mut consumer = inner.kafka.consumer_config(None);
            consumer.set("queued.max.messages.kbytes", view::QUEUED_KBYTES);
            let pacer = inner.kafka.pacer(&source.topic, &mut consumer);
            let cache = inner.settings.cache_bytes;
            let started = tokio::task::spawn_blocking(move || {
                let store = Store::open(&path, cache).map_err(|e| e.to_string())?;
                View::start(source, store, consumer, pacer).map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
            match started {
                Ok(view) => {
                    tracing::info!(%road, "materializing");
                    inner.views.lock().expect("views lock").insert(road, Arc::new(view));
                }
                Err(problem) => {
                    tracing::warn!(%road, %problem, "cannot open the view");
                    inner.board.set_table(
                        &road,
                        TableStatus { last_problem: problem, ..TableStatus::default() },
                    );
                }
            }
        }
    }

    /// What a road's view follows, if the road is materialized.
    fn source(&self, road: &Road) -> Option<Source> {
        let RoadKind::Compacted { tombstone_retention_ms, .. } = road.kind else { return None };
        (road.materialized && !road.deleting).then(|| Source {
            road: road.name.clone(),
            topic: format!("{}{}", self.inner.topic_prefix, road.name),
            partitions: road.partitions as i32,
            road_created_ms: road.create_time_ms,
            tombstone_retention_ms,
        })
    }

    fn path(&self, road: &str) -> PathBuf {
        self.inner.dir.join(format!("{road}.redb"))
    }

    /// Each view's position and counts, into its road's status.
    fn report(&self) {
        let views: Vec<Arc<View>> =
            self.inner.views.lock().expect("views lock").values().cloned().collect();
        for view in views {
            let position = view.position.borrow().clone();
            let counts = view.store.counts().unwrap_or_default();
            self.inner.board.set_table(
                &view.source.road,
                TableStatus {
                    ready: position.ready,
                    live_keys: counts.live_keys,
                    tombstones_pending: counts.tombstones_pending,
                    offsets: (*position.offsets).clone(),
                    last_problem: position.problem,
                    records_applied: view.applied.load(std::sync::atomic::Ordering::Relaxed),
                },
            );
        }
    }

    /// A materialized road's view to serve a SNAPSHOT from, once it is
    /// ready.
    pub fn snapshot_source(&self, road: &Road) -> Option<SnapshotSource> {
        self.source(road)?;
        let view = self.inner.views.lock().expect("views lock").get(&road.name).cloned()?;
        let ready = view.position.borrow().ready;
        (ready && view.source.road_created_ms == road.create_time_ms)
            .then_some(SnapshotSource { view })
    }

    /// The live values of `keys`, in order (`None`: no live value), and the
    /// offsets they reflect.
    pub async fn get(
        &self,
        caller: &Caller,
        road: &str,
        keys: Vec<String>,
        options: ReadOptions,
    ) -> Result<(Vec<Option<Entry>>, Offsets), TableError> {
        let mut violations = Vec::new();
        match keys.len() {
            0 => violations.push(FieldViolation::new("keys", "name at least one key")),
            n if n > MAX_KEYS => violations.push(FieldViolation::new(
                "keys",
                format!("at most {MAX_KEYS} keys in one call, not {n}"),
            )),
            _ => {}
        }
        if let Some(i) = keys.iter().position(String::is_empty) {
            violations.push(FieldViolation::new(format!("keys[{i}]"), "must not be empty"));
        }
        let (road, view) = self.open(caller, road, &options, violations)?;
        let view = self.wait(&road, &view, &options).await?;
        let store = view.store.clone();
        let (keys, found, offsets) = tokio::task::spawn_blocking(move || {
            let wanted: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
            store.get(&wanted).map(|(found, offsets)| (keys, found, offsets))
        })
        .await
        .map_err(|e| TableError::Store(e.to_string()))?
        .map_err(|e| TableError::Store(e.to_string()))?;
        let pii = options.grants.contains(&Grant::Pii);
        let entries = keys
            .into_iter()
            .zip(found)
            .map(|(key, entry)| entry.map(|e| self.render(&road, key, e, pii)).transpose())
            .collect::<Result<_, _>>()?;
        Ok((entries, offsets))
    }

    /// A page of live entries in key order, the token of the next page
    /// (empty on the last one) and the offsets the page reflects.
    pub async fn list(
        &self,
        caller: &Caller,
        road: &str,
        page_size: i32,
        page_token: &str,
        key_prefix: String,
        grants: Vec<Grant>,
    ) -> Result<(Vec<Entry>, String, Offsets), TableError> {
        let mut violations = Vec::new();
        let size = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n < 0 || n as usize > MAX_PAGE_SIZE => {
                violations.push(FieldViolation::new(
                    "page_size",
                    format!("must be 0 (for {DEFAULT_PAGE_SIZE}) to {MAX_PAGE_SIZE}, not {n}"),
                ));
                DEFAULT_PAGE_SIZE
            }
            n => n as usize,
        };
        let after = match page_token::decode(page_token, &key_prefix) {
            Ok(after) => after,
            Err(why) => {
                violations.push(FieldViolation::new("page_token", why));
                None
            }
        };
        let options = ReadOptions { grants, ..ReadOptions::default() };
        let (road, view) = self.open(caller, road, &options, violations)?;
        let view = self.wait(&road, &view, &options).await?;
        let store = view.store.clone();
        let prefix = key_prefix.clone();
        let (page, more, offsets) = tokio::task::spawn_blocking(move || {
            store.list(prefix.as_bytes(), after.as_deref().map(str::as_bytes), size)
        })
        .await
        .map_err(|e| TableError::Store(e.to_string()))?
        .map_err(|e| TableError::Store(e.to_string()))?;
        let next = match (more, page.last()) {
            (true, Some((key, _))) => {
                page_token::encode(&key_prefix, &String::from_utf8_lossy(key))
            }
            _ => String::new(),
        };
        let pii = options.grants.contains(&Grant::Pii);
        let entries = page
            .into_iter()
            .map(|(key, e)| self.render(&road, String::from_utf8_lossy(&key).into_owned(), e, pii))
            .collect::<Result<_, _>>()?;
        Ok((entries, next, offsets))
    }

    /// The road and its view, once the caller may read it and the request
    /// is valid.
    fn open(
        &self,
        caller: &Caller,
        name: &str,
        options: &ReadOptions,
        mut violations: Vec<FieldViolation>,
    ) -> Result<(Arc<Road>, Arc<View>), TableError> {
        if let Err(e) = rules::name(name) {
            violations.insert(0, FieldViolation::new("road", e));
        }
        let versioned = self.inner.registry.get(name);
        // Before the road's existence, so that names cannot be probed.
        self.inner.guard.subscribe(
            caller,
            name,
            versioned.as_ref().map(|v| &*v.road),
            &options.grants,
        )?;
        let road = versioned.ok_or_else(|| TableError::RoadNotFound(name.to_string()))?.road;
        for (&partition, &offset) in &options.min_offsets {
            if partition < 0 || partition as u32 >= road.partitions {
                violations.push(FieldViolation::new(
                    format!("min_offsets.offsets[{partition}]"),
                    format!("road {name:?} has partitions 0 to {}", road.partitions - 1),
                ));
            } else if offset < 0 {
                violations.push(FieldViolation::new(
                    format!("min_offsets.offsets[{partition}]"),
                    format!("must not be negative, not {offset}"),
                ));
            }
        }
        if !violations.is_empty() {
            return Err(TableError::Invalid(violations));
        }
        if self.source(&road).is_none() {
            return Err(TableError::NotMaterialized(name.to_string()));
        }
        let view = self.inner.views.lock().expect("views lock").get(name).cloned();
        let view = view.ok_or_else(|| TableError::Building {
            road: name.to_string(),
            why: "its view has not started yet".into(),
        })?;
        Ok((road, view))
    }

    /// The view once it is ready and past `min_offsets`, or why not.
    async fn wait(
        &self,
        road: &Road,
        view: &Arc<View>,
        options: &ReadOptions,
    ) -> Result<Arc<View>, TableError> {
        let limit = Instant::now() + self.inner.settings.max_wait;
        let deadline = options.deadline.map_or(limit, |d| d.min(limit));
        let mut position = view.position.clone();
        loop {
            let now = position.borrow_and_update().clone();
            let behind = behind(&now, &options.min_offsets);
            match (now.ready, behind) {
                (true, None) => return Ok(view.clone()),
                // Without offsets to wait for, a view still building cannot
                // answer; another instance may.
                (false, _) if options.min_offsets.is_empty() || options.fail_if_behind => {
                    return Err(building(road, &now));
                }
                (true, Some((partition, at))) if options.fail_if_behind => {
                    return Err(self.behind_error(road, partition, at, options));
                }
                _ => {}
            }
            match tokio::time::timeout_at(deadline, position.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(building(road, &now)),
                Err(_) => {
                    return Err(match behind {
                        Some((partition, at)) if now.ready => {
                            self.behind_error(road, partition, at, options)
                        }
                        _ => building(road, &now),
                    });
                }
            }
        }
    }

    fn behind_error(
        &self,
        road: &Road,
        partition: i32,
        at: i64,
        options: &ReadOptions,
    ) -> TableError {
        TableError::Behind {
            road: road.name.clone(),
            partition,
            wanted: options.min_offsets.get(&partition).copied().unwrap_or_default(),
            at,
        }
    }

    fn render(
        &self,
        road: &Road,
        key: String,
        e: StoredEntry,
        pii: bool,
    ) -> Result<Entry, TableError> {
        let mut payload = String::from_utf8_lossy(&e.payload).into_owned();
        if !pii
            && let Some(writer) = self.inner.schemas.writer(road, e.schema_version)
            && !writer.pii.is_empty()
        {
            let mut document: serde_json::Value =
                serde_json::from_str(&payload).map_err(|why| TableError::Unreadable {
                    road: road.name.clone(),
                    partition: e.partition,
                    offset: e.offset,
                    why: why.to_string(),
                })?;
            writer.pii.blank(&mut document);
            payload = document.to_string();
        }
        Ok(Entry {
            key,
            payload,
            schema_version: e.schema_version,
            partition: e.partition,
            offset: e.offset,
            timestamp_ms: e.timestamp_ms,
        })
    }
}

/// A view that a SNAPSHOT subscription reads its state from.
#[derive(Clone)]
pub struct SnapshotSource {
    view: Arc<View>,
}

impl SnapshotSource {
    /// The offsets the view reflects now.
    pub fn offsets(&self) -> Offsets {
        (*self.view.position.borrow().offsets).clone()
    }

    pub fn road(&self) -> &str {
        &self.view.source.road
    }

    /// Grows each time the view starts again from empty.
    pub fn generation(&self) -> u64 {
        self.view.position.borrow().generation
    }

    pub fn road_created_ms(&self) -> i64 {
        self.view.source.road_created_ms
    }

    /// Up to `limit` entries after `after` in key order (blocking: call it
    /// off the async threads).
    pub fn page(
        &self,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, StoredEntry)>, String> {
        let (page, _, _) = self.view.store.list(b"", after, limit).map_err(|e| e.to_string())?;
        Ok(page)
    }
}

/// The first partition where the view is short of `min`, and where it is.
fn behind(position: &Position, min: &Offsets) -> Option<(i32, i64)> {
    min.iter().find_map(|(&partition, &wanted)| {
        let at = position.offsets.get(&partition).copied().unwrap_or(0);
        (at < wanted).then_some((partition, at))
    })
}

fn building(road: &Road, position: &Position) -> TableError {
    let why = if position.problem.is_empty() {
        "its view is still catching up with the topic".to_string()
    } else {
        format!("its view is not following the topic: {}", position.problem)
    };
    TableError::Building { road: road.name.clone(), why }
}

/// Page tokens: the prefix they were made for and the last key, in hex, so
/// that a token is opaque and cannot be replayed under another prefix.
mod page_token {
    fn hex(s: &str) -> String {
        s.bytes().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(s: &str) -> Option<String> {
        if !s.len().is_multiple_of(2) {
            return None;
        }
        let bytes: Option<Vec<u8>> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
            .collect();
        String::from_utf8(bytes?).ok()
    }

    pub fn encode(prefix: &str, last: &str) -> String {
        format!("{}.{}", hex(prefix), hex(last))
    }

    pub fn decode(token: &str, prefix: &str) -> Result<Option<String>, String> {
        if token.is_empty() {
            return Ok(None);
        }
        let invalid = || "is not a token this server gave".to_string();
        let (p, last) = token.split_once('.').ok_or_else(invalid)?;
        if unhex(p).ok_or_else(invalid)? != prefix {
            return Err("was given for another key_prefix".into());
        }
        unhex(last).map(Some).ok_or_else(invalid)
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn a_token_names_its_prefix_and_last_key() {
            let token = super::encode("cu", "customer-7");
            assert_eq!(super::decode(&token, "cu"), Ok(Some("customer-7".into())));
            assert!(super::decode(&token, "x").is_err());
            assert!(super::decode("zz.1", "").is_err());
            assert_eq!(super::decode("", "cu"), Ok(None));
        }
    }
}
