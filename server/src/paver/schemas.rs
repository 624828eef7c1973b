//! Schema versions of a road: registering with every rule of the product,
//! reading, and soft-deleting the latest.

use std::sync::Arc;

use super::{Paver, PaverError, deleting, now_ms, validate};
use crate::auth::{Action, Caller};
use crate::error::FieldViolation;
use crate::roads::{Road, SchemaVersion};
use crate::schema::{self, CompiledSchema, SchemaProblem, compat};

/// Largest schema text: a road keeps every version in its document, which
/// is at most [`crate::roads::registry::MAX_DOCUMENT_BYTES`], so three of
/// the largest still fit.
pub const MAX_SCHEMA_BYTES: usize = 256 * 1024;

impl Paver {
    /// Adds a schema version: `version` `None` is one above every earlier
    /// version. Returns the version as stored.
    pub async fn register_schema(
        &self,
        caller: &Caller,
        road_name: &str,
        text: &str,
        version: Option<u32>,
    ) -> Result<SchemaVersion, PaverError> {
        self.administer(caller, Action::RegisterSchema, road_name)?;
        if text.len() > MAX_SCHEMA_BYTES {
            return Err(PaverError::InvalidSchema(vec![FieldViolation::new(
                "schema",
                format!("is {} bytes; a schema is at most {MAX_SCHEMA_BYTES}", text.len()),
            )]));
        }
        let compiled = schema::compile(text).map_err(invalid_schema)?;
        let written = self
            .modify(road_name, None, |road, _| {
                if road.deleting {
                    return Err(deleting(road_name));
                }
                let next = self.check_new_version(road, &compiled, version)?;
                road.schemas.push(SchemaVersion {
                    version: next,
                    schema: text.to_string(),
                    deleted: false,
                    create_time_ms: now_ms(),
                });
                Ok(())
            })
            .await?;
        let added = written.road.schemas.last().cloned();
        let added = added.ok_or_else(|| PaverError::NoSchema(road_name.to_string()))?;
        let what = format!("registered version {}", added.version);
        self.audit(caller, Action::RegisterSchema, format!("road/{road_name}/schema"), what);
        Ok(added)
    }

    /// The rules a new version must meet against the road's history; returns
    /// its version number.
    fn check_new_version(
        &self,
        road: &Road,
        compiled: &CompiledSchema,
        version: Option<u32>,
    ) -> Result<u32, PaverError> {
        let highest = road.schemas.iter().map(|s| s.version).max().unwrap_or(0);
        let next = match version {
            None => highest + 1,
            Some(v) if v > highest => v,
            Some(v) => {
                return Err(PaverError::InvalidSchema(vec![FieldViolation::new(
                    "version",
                    format!(
                        "must exceed every earlier version, deleted ones included: {v} <= {highest}"
                    ),
                )]));
            }
        };
        // Every earlier version, deleted ones included: records written under
        // any of them may still be read. Each compiled when it was registered.
        let earlier: Vec<(&SchemaVersion, Arc<CompiledSchema>)> = road
            .schemas
            .iter()
            .filter_map(|s| self.schemas.get(&road.name, s).ok().map(|c| (s, c)))
            .collect();
        let compiled_earlier: Vec<Arc<CompiledSchema>> =
            earlier.iter().map(|(_, c)| c.clone()).collect();
        let added = schema::pii_marks_added(compiled, &compiled_earlier);
        if !added.is_empty() {
            return Err(invalid_schema(added));
        }
        if let Some(path) = road.partition_path() {
            let parsed = schema::path::PartitionPath::parse(path).map_err(|e| {
                PaverError::InvalidRoad(vec![FieldViolation::new("road.partition_path", e)])
            })?;
            if let Err(e) = parsed.resolve_in(&compiled.document) {
                return Err(invalid_schema(vec![SchemaProblem {
                    pointer: String::new(),
                    problem: format!("must contain the road's partition_path {path}: {e}"),
                }]));
            }
        }
        let previous: Vec<(u32, &serde_json::Value)> = earlier
            .iter()
            .filter(|(s, _)| !s.deleted)
            .map(|(s, c)| (s.version, &c.document))
            .collect();
        compat::check(road.compatibility, &compiled.document, &previous).map_err(|problems| {
            PaverError::Incompatible {
                road: road.name.clone(),
                mode: mode_name(road.compatibility),
                problems,
            }
        })?;
        Ok(next)
    }

    /// One version, or the latest non-deleted one when `version` is `None`.
    pub fn get_schema(
        &self,
        caller: &Caller,
        road: &str,
        version: Option<u32>,
    ) -> Result<SchemaVersion, PaverError> {
        let view = self.get_road(caller, road)?;
        let found = match version {
            None => view.road.latest_schema(),
            Some(v) => view.road.schema(v),
        };
        found.cloned().ok_or_else(|| match version {
            None => PaverError::NoSchema(road.to_string()),
            Some(version) => PaverError::SchemaNotFound { road: road.to_string(), version },
        })
    }

    /// The road's versions in order; deleted ones only when asked.
    pub fn list_schemas(
        &self,
        caller: &Caller,
        road: &str,
        include_deleted: bool,
    ) -> Result<Vec<SchemaVersion>, PaverError> {
        let view = self.get_road(caller, road)?;
        Ok(view.road.schemas.iter().filter(|s| include_deleted || !s.deleted).cloned().collect())
    }

    /// Soft-deletes the latest non-deleted version.
    pub async fn delete_schema(
        &self,
        caller: &Caller,
        road_name: &str,
        version: u32,
    ) -> Result<SchemaVersion, PaverError> {
        self.administer(caller, Action::DeleteSchema, road_name)?;
        let written = self
            .modify(road_name, None, |road, _| {
                if road.deleting {
                    return Err(deleting(road_name));
                }
                if road.schema(version).is_none() {
                    return Err(PaverError::SchemaNotFound { road: road_name.to_string(), version });
                }
                let latest = road.latest_schema().map(|s| s.version);
                if latest != Some(version) {
                    return Err(PaverError::Precondition {
                        reason: "SCHEMA_NOT_LATEST",
                        message: match latest {
                            Some(latest) => format!(
                                "only the latest version of road {road_name:?} ({latest}) can be deleted, not {version}"
                            ),
                            None => format!("road {road_name:?} has no version left to delete"),
                        },
                    });
                }
                if let Some(s) = road.schemas.iter_mut().find(|s| s.version == version) {
                    s.deleted = true;
                }
                if let Some(path) = road.partition_path()
                    && let Err(e) = validate::partition_path_resolves(road, path)
                {
                    return Err(PaverError::Precondition {
                        reason: "PARTITION_PATH_UNRESOLVED",
                        message: format!(
                            "deleting version {version} would leave partition_path unresolved: {e}"
                        ),
                    });
                }
                Ok(())
            })
            .await?;
        let deleted = written.road.schema(version).cloned();
        let deleted =
            deleted.ok_or(PaverError::SchemaNotFound { road: road_name.to_string(), version })?;
        let what = format!("deleted version {version}");
        self.audit(caller, Action::DeleteSchema, format!("road/{road_name}/schema"), what);
        Ok(deleted)
    }
}

fn invalid_schema(problems: Vec<SchemaProblem>) -> PaverError {
    PaverError::InvalidSchema(
        problems.into_iter().map(|p| FieldViolation::new("schema", p.to_string())).collect(),
    )
}

/// The contract's name of a compatibility mode.
pub fn mode_name(mode: compat::CompatibilityMode) -> &'static str {
    use compat::CompatibilityMode as M;
    match mode {
        M::None => "NONE",
        M::Backward => "BACKWARD",
        M::BackwardTransitive => "BACKWARD_TRANSITIVE",
        M::Forward => "FORWARD",
        M::ForwardTransitive => "FORWARD_TRANSITIVE",
        M::Full => "FULL",
        M::FullTransitive => "FULL_TRANSITIVE",
    }
}
