//! The Roadroller service: the gRPC services over their domains, the Kafka
//! port, the embedded broker, and what holds them together.

pub mod cli;
pub mod config;
pub mod embedded;
pub mod health;
pub mod kafka;
pub mod serve;
pub mod telemetry;
