//! Paver: administering roads and their schemas. The domain service here
//! knows nothing of gRPC; `grpc` adapts it to PaverService.

mod changes;
mod error;
pub mod grpc;
mod schemas;
mod validate;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use changes::{Change, QuotaFields};
pub use error::PaverError;

use crate::auth::{Action, Caller, Guard};
use crate::error::FieldViolation;
use crate::quotas::Quotas;
use crate::roads::registry::{Registry, RegistryError, Versioned};
use crate::roads::{
    Authorisation, CompatibilityMode, HiveDestination, LandingStatus, Road, RoadKind, RoadQuotas,
    RoadStatus, RoadType, StatusBoard, TableStatus,
};
use crate::schema::SchemaCache;

/// Server defaults for what a new road leaves unset.
#[derive(Clone, Debug)]
pub struct RoadDefaults {
    pub stream_partitions: u32,
    pub compacted_partitions: u32,
    pub retention_ms: u64,
    pub min_compaction_lag_ms: u64,
    pub tombstone_retention_ms: u64,
    /// The shortest landing interval a Hive destination may have
    /// (`loading_bay.min_landing_interval`).
    pub min_landing_interval_ms: u64,
}

/// A road to create, as requested: `None` takes the default.
#[derive(Clone, Debug, Default)]
pub struct NewRoad {
    pub name: String,
    pub road_type: Option<RoadType>,
    pub description: String,
    pub team_name: String,
    pub contact_email: String,
    pub metadata: BTreeMap<String, String>,
    pub enabled: bool,
    pub partition_path: Option<String>,
    pub partitions: Option<u32>,
    pub retention_ms: Option<u64>,
    pub min_compaction_lag_ms: Option<u64>,
    pub tombstone_retention_ms: Option<u64>,
    pub compatibility: Option<CompatibilityMode>,
    pub authorisation: Authorisation,
    pub hive: Option<HiveDestination>,
    pub quotas: RoadQuotas,
    pub materialized: bool,
}

/// A road as clients see it: the document, its etag, and its topic's status.
#[derive(Clone, Debug)]
pub struct RoadView {
    pub road: Arc<Road>,
    pub etag: i64,
    pub status: RoadStatus,
    /// This instance's view, for a materialized road.
    pub table: Option<TableStatus>,
    /// What Loading Bay last did for the road on this instance.
    pub landing: Option<LandingStatus>,
}

/// Roads per page when the request names no page size, and at most.
const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 1000;

/// Attempts of a read-modify-write that loses races to concurrent writers.
const WRITE_ATTEMPTS: usize = 5;

/// The Paver domain service.
#[derive(Clone)]
pub struct Paver {
    registry: Registry,
    board: Arc<StatusBoard>,
    schemas: Arc<SchemaCache>,
    defaults: RoadDefaults,
    topic_prefix: String,
    guard: Guard,
    quotas: Quotas,
}

impl Paver {
    pub fn new(
        registry: Registry,
        board: Arc<StatusBoard>,
        schemas: Arc<SchemaCache>,
        defaults: RoadDefaults,
        topic_prefix: String,
        guard: Guard,
        quotas: Quotas,
    ) -> Self {
        Self { registry, board, schemas, defaults, topic_prefix, guard, quotas }
    }

    /// Refuses `caller` unless it administers road `name` (or the server)
    /// and has a write left in its quota.
    fn administer(&self, caller: &Caller, action: Action, name: &str) -> Result<(), PaverError> {
        let current = self.registry.get(name);
        self.guard.administer(caller, action, name, current.as_ref().map(|v| &*v.road))?;
        self.quotas.paver_write(caller, name)?;
        Ok(())
    }

    /// Records an administrative change in the audit trail.
    fn audit(&self, caller: &Caller, action: Action, resource: String, what: String) {
        self.guard.changed(caller, action, resource, what);
    }

    pub async fn create_road(&self, caller: &Caller, new: NewRoad) -> Result<RoadView, PaverError> {
        self.guard.create(caller, &new.name)?;
        self.quotas.paver_write(caller, &new.name)?;
        let Some(road_type) = new.road_type else {
            return Err(PaverError::InvalidRoad(vec![FieldViolation::new(
                "road.type",
                "is required: STREAM or COMPACTED",
            )]));
        };
        let road = self.road_from(new, road_type)?;
        let mut problems = validate::road(&road, self.defaults.min_landing_interval_ms);
        if road.enabled {
            problems.push(FieldViolation::new(
                "road.enabled",
                "a road can be enabled only once its topic exists: create it disabled, then \
                 enable it when status.topic_created is true",
            ));
        }
        if !problems.is_empty() {
            return Err(PaverError::InvalidRoad(problems));
        }
        if self.registry.get(&road.name).is_some() {
            return Err(PaverError::RoadExists(road.name));
        }
        let name = road.name.clone();
        match self.registry.write(None, road).await {
            Ok(written) => {
                self.audit(caller, Action::CreateRoad, format!("road/{name}"), "created".into());
                Ok(self.view(written))
            }
            Err(RegistryError::Conflict { .. }) => Err(PaverError::RoadExists(name)),
            Err(e) => Err(e.into()),
        }
    }

    fn road_from(&self, new: NewRoad, road_type: RoadType) -> Result<Road, PaverError> {
        let d = &self.defaults;
        let kind = match road_type {
            RoadType::Stream => {
                let mut wrong = Vec::new();
                if new.materialized {
                    wrong.push(materialized_on_stream());
                }
                if new.min_compaction_lag_ms.is_some() || new.tombstone_retention_ms.is_some() {
                    wrong.push(FieldViolation::new(
                        "road.compaction",
                        "applies to COMPACTED roads; a STREAM road has a retention",
                    ));
                }
                if !wrong.is_empty() {
                    return Err(PaverError::InvalidRoad(wrong));
                }
                RoadKind::Stream {
                    retention_ms: new.retention_ms.unwrap_or(d.retention_ms),
                    partition_path: new.partition_path,
                }
            }
            RoadType::Compacted => {
                let mut wrong = Vec::new();
                if new.partition_path.is_some() {
                    wrong.push(FieldViolation::new(
                        "road.partition_path",
                        "is not allowed on a COMPACTED road, whose records are keyed by the client",
                    ));
                }
                if new.retention_ms.is_some() {
                    wrong.push(FieldViolation::new(
                        "road.retention",
                        "applies to STREAM roads; a COMPACTED road has compaction settings",
                    ));
                }
                if !wrong.is_empty() {
                    return Err(PaverError::InvalidRoad(wrong));
                }
                RoadKind::Compacted {
                    min_compaction_lag_ms: new
                        .min_compaction_lag_ms
                        .unwrap_or(d.min_compaction_lag_ms),
                    tombstone_retention_ms: new
                        .tombstone_retention_ms
                        .unwrap_or(d.tombstone_retention_ms),
                }
            }
        };
        let partitions = new.partitions.unwrap_or(match road_type {
            RoadType::Stream => d.stream_partitions,
            RoadType::Compacted => d.compacted_partitions,
        });
        let now = now_ms();
        Ok(Road {
            name: new.name,
            kind,
            description: new.description,
            team_name: new.team_name,
            contact_email: new.contact_email,
            metadata: new.metadata,
            enabled: new.enabled,
            partitions,
            compatibility: new.compatibility.unwrap_or(CompatibilityMode::BackwardTransitive),
            authorisation: new.authorisation,
            hive: new.hive.unwrap_or_default(),
            quotas: new.quotas,
            materialized: new.materialized,
            schemas: Vec::new(),
            deleting: false,
            create_time_ms: now,
            update_time_ms: now,
        })
    }

    pub fn get_road(&self, caller: &Caller, name: &str) -> Result<RoadView, PaverError> {
        let road = self.registry.get(name);
        self.guard.read(caller, name, road.as_ref().map(|v| &*v.road))?;
        self.road(name)
    }

    fn road(&self, name: &str) -> Result<RoadView, PaverError> {
        self.registry
            .get(name)
            .map(|v| self.view(v))
            .ok_or_else(|| PaverError::RoadNotFound(name.to_string()))
    }

    /// A page of roads in name order, and the token of the next page (empty
    /// on the last one).
    pub fn list_roads(
        &self,
        caller: &Caller,
        page_size: usize,
        page_token: &str,
        road_type: Option<RoadType>,
    ) -> Result<(Vec<RoadView>, String), PaverError> {
        self.guard.read(caller, "*", None)?;
        let size = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        };
        let after = decode_page_token(page_token)?;
        let mut page = self.registry.list(after.as_deref(), size + 1, |road| {
            road_type.is_none_or(|t| road.road_type() == t)
        });
        let next = if page.len() > size {
            page.truncate(size);
            page.last().map(|v| encode_page_token(&v.road.name)).unwrap_or_default()
        } else {
            String::new()
        };
        Ok((page.into_iter().map(|v| self.view(v)).collect(), next))
    }

    pub async fn update_road(
        &self,
        caller: &Caller,
        name: &str,
        etag: Option<i64>,
        changes: Vec<Change>,
    ) -> Result<RoadView, PaverError> {
        self.administer(caller, Action::ChangeRoad, name)?;
        let fields: Vec<&str> = changes.iter().map(Change::field).collect();
        let written = self
            .modify(name, etag, |road, status| {
                if road.deleting {
                    return Err(deleting(name));
                }
                for change in changes.clone() {
                    changes::apply(road, change, status)?;
                }
                let problems = validate::road(road, self.defaults.min_landing_interval_ms);
                if problems.is_empty() { Ok(()) } else { Err(PaverError::InvalidRoad(problems)) }
            })
            .await?;
        let what = format!("changed {}", fields.join(", "));
        self.audit(caller, Action::ChangeRoad, format!("road/{name}"), what);
        Ok(self.view(written))
    }

    /// Marks a disabled road for deletion; Traffic Control deletes its topic,
    /// then the road.
    pub async fn delete_road(
        &self,
        caller: &Caller,
        name: &str,
        etag: Option<i64>,
    ) -> Result<RoadView, PaverError> {
        self.administer(caller, Action::DeleteRoad, name)?;
        let written = self
            .modify(name, etag, |road, _| {
                if road.enabled {
                    return Err(PaverError::Precondition {
                        reason: "ROAD_ENABLED",
                        message: format!("road {name:?} is enabled; disable it before deleting it"),
                    });
                }
                road.deleting = true;
                Ok(())
            })
            .await?;
        self.audit(caller, Action::DeleteRoad, format!("road/{name}"), "deleting".into());
        Ok(self.view(written))
    }

    /// Reads the road, lets `change` edit a copy, and writes it back if the
    /// road is still as read. Without a client etag, a lost race is retried
    /// on the newer road; with one, it is the client's to resolve (ABORTED).
    async fn modify(
        &self,
        name: &str,
        etag: Option<i64>,
        change: impl Fn(&mut Road, &RoadStatus) -> Result<(), PaverError>,
    ) -> Result<Versioned, PaverError> {
        for _ in 0..WRITE_ATTEMPTS {
            let current = self
                .registry
                .get(name)
                .ok_or_else(|| PaverError::RoadNotFound(name.to_string()))?;
            if etag.is_some_and(|e| e != current.etag) {
                return Err(PaverError::StaleEtag(name.to_string()));
            }
            let mut road = (*current.road).clone();
            change(&mut road, &self.board.get(name))?;
            if road == *current.road {
                return Ok(current);
            }
            road.update_time_ms = now_ms();
            match self.registry.write(Some(current.etag), road).await {
                Ok(written) => return Ok(written),
                Err(RegistryError::Conflict { .. }) if etag.is_none() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(PaverError::StaleEtag(name.to_string()))
    }

    fn view(&self, versioned: Versioned) -> RoadView {
        let mut status = self.board.get(&versioned.road.name);
        if status.topic_name.is_empty() {
            status.topic_name = self.topic_name(&versioned.road.name);
        }
        let table = self.board.table(&versioned.road.name);
        let landing = self.board.landing(&versioned.road.name);
        RoadView { road: versioned.road, etag: versioned.etag, status, table, landing }
    }

    /// The Kafka topic of a road.
    pub fn topic_name(&self, road: &str) -> String {
        format!("{}{road}", self.topic_prefix)
    }
}

fn deleting(name: &str) -> PaverError {
    PaverError::Precondition {
        reason: "ROAD_DELETING",
        message: format!("road {name:?} is being deleted"),
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn encode_page_token(after: &str) -> String {
    after.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_page_token(token: &str) -> Result<Option<String>, PaverError> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || {
        PaverError::InvalidRoad(vec![FieldViolation::new(
            "page_token",
            "is not a token this server issued",
        )])
    };
    if !token.len().is_multiple_of(2) {
        return Err(invalid());
    }
    let bytes: Result<Vec<u8>, _> =
        (0..token.len()).step_by(2).map(|i| u8::from_str_radix(&token[i..i + 2], 16)).collect();
    String::from_utf8(bytes.map_err(|_| invalid())?).map(Some).map_err(|_| invalid())
}

/// `materialized` names a view of keys, which a STREAM road has not.
pub(crate) fn materialized_on_stream() -> FieldViolation {
    FieldViolation::new(
        "road.materialized",
        "applies to COMPACTED roads; a STREAM road's records have no keys to look up",
    )
}
