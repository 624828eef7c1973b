//! The `roadroller.v1` contract: messages, tonic clients and servers generated
//! from `proto/roadroller/v1`, and the encoded descriptor set for reflection.
//!
//! The `.proto` files are the documentation of record for every message and
//! call; this crate adds only small conversions that every side needs.

pub mod v1 {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    tonic::include_proto!("roadroller.v1");
    pub use crate::wire::{Entries, RoadMessages};
}

mod wire;

/// The encoded `FileDescriptorSet` of every roadroller.v1 file and the
/// well-known types it imports, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/roadroller_descriptor.bin"));

/// Fully-qualified gRPC service names, as reflection and health report them.
pub mod service_names {
    pub const PAVER: &str = "roadroller.v1.PaverService";
    pub const ONRAMP: &str = "roadroller.v1.OnrampService";
    pub const OFFRAMP: &str = "roadroller.v1.OfframpService";
    pub const STREAM: &str = "roadroller.v1.StreamService";
    pub const TABLE: &str = "roadroller.v1.TableService";
    pub const LOADING_BAY: &str = "roadroller.v1.LoadingBayService";
}

/// Milliseconds since the Unix epoch as a protobuf timestamp.
pub fn timestamp_from_millis(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// A protobuf timestamp as milliseconds since the Unix epoch.
pub fn millis_of(t: &prost_types::Timestamp) -> i64 {
    t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
}

/// The Kafka header that carries the schema version a payload was validated
/// against, in decimal.
pub const SCHEMA_VERSION_HEADER: &str = "roadroller-schema-version";

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn descriptor_set_holds_every_service() {
        let fds = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET)
            .expect("descriptor set decodes");
        let services: Vec<String> = fds
            .file
            .iter()
            .filter(|f| f.package() == "roadroller.v1")
            .flat_map(|f| f.service.iter().map(|s| format!("roadroller.v1.{}", s.name())))
            .collect();
        for name in [
            service_names::PAVER,
            service_names::ONRAMP,
            service_names::OFFRAMP,
            service_names::STREAM,
            service_names::TABLE,
            service_names::LOADING_BAY,
        ] {
            assert!(services.iter().any(|s| s == name), "{name} missing from {services:?}");
        }
    }
}
