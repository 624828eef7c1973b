//! Compiled schemas, kept per road and version so that validating a record
//! never compiles a schema.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{CompiledSchema, SchemaProblem, compile_stored};
use crate::roads::{Road, SchemaVersion};

/// Compiled schema versions by (road, version, creation time). The creation
/// time tells apart the versions of a road deleted and created again, which
/// reuse version numbers.
#[derive(Default)]
pub struct SchemaCache {
    compiled: Mutex<HashMap<Key, Arc<CompiledSchema>>>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    road: String,
    version: u32,
    create_time_ms: i64,
}

/// Entries kept before the cache starts over; far above the number of live
/// schema versions of any deployment.
const CAPACITY: usize = 10_000;

impl SchemaCache {
    /// The compiled form of a schema version of road `road`.
    pub fn get(
        &self,
        road: &str,
        schema: &SchemaVersion,
    ) -> Result<Arc<CompiledSchema>, Vec<SchemaProblem>> {
        let key = Key {
            road: road.to_string(),
            version: schema.version,
            create_time_ms: schema.create_time_ms,
        };
        if let Some(found) = self.compiled.lock().expect("cache lock").get(&key) {
            return Ok(found.clone());
        }
        // Compiled outside the lock: it can take a while for a large schema.
        let compiled = Arc::new(compile_stored(&schema.schema)?);
        let mut map = self.compiled.lock().expect("cache lock");
        if map.len() >= CAPACITY {
            map.clear();
        }
        Ok(map.entry(key).or_insert(compiled).clone())
    }

    /// The schema a record of `road` was written with; the latest one when
    /// the record names no version the road has.
    pub fn writer(&self, road: &Road, version: u32) -> Option<Arc<CompiledSchema>> {
        let schema = road.schema(version).or_else(|| road.latest_schema())?;
        self.get(&road.name, schema).ok()
    }
}
