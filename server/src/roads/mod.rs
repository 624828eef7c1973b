//! The road domain: the road document, the rules its fields follow, and the
//! registry that keeps roads in Kafka.

mod model;
pub mod registry;
pub mod rules;
mod status;

pub use model::*;
pub use status::{ConfigDrift, LandingStatus, RoadStatus, StatusBoard, TableStatus};

/// A minimal valid STREAM road, for tests and the fuzz targets.
pub(crate) fn test_road(name: &str) -> Road {
    Road {
        name: name.to_string(),
        kind: RoadKind::Stream { retention_ms: 86_400_000, partition_path: None },
        description: String::new(),
        team_name: String::new(),
        contact_email: String::new(),
        metadata: Default::default(),
        enabled: false,
        partitions: 6,
        compatibility: CompatibilityMode::BackwardTransitive,
        authorisation: Default::default(),
        hive: Default::default(),
        quotas: Default::default(),
        materialized: false,
        schemas: Vec::new(),
        deleting: false,
        create_time_ms: 0,
        update_time_ms: 0,
    }
}
