//! The Roadroller service: the gRPC services over their domains, the Kafka
//! port, the embedded broker, and what holds them together.

pub mod audit;
pub mod auth;
pub mod broker;
pub mod cli;
pub mod config;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod grpc;
pub mod health;
pub mod kafka;
pub mod loading_bay;
pub mod offramp;
pub mod onramp;
pub mod paver;
pub mod quotas;
pub mod roads;
pub mod schema;
pub mod serve;
pub mod streams;
pub mod tables;
pub mod telemetry;
pub mod traffic_control;
