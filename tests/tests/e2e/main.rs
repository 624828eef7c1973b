//! End-to-end tests: a real broker, a real server, real gRPC over sockets.
//! One test binary with a module per capability keeps link time down.

mod embedded_broker;
mod gateway;
mod gateway_compacted;
mod gateway_errors;
mod gateway_events;
mod gateway_standalone;
mod hostile;
mod loading_bay;
mod loading_bay_snapshots;
mod offramp;
mod offramp_snapshot;
mod onramp;
mod onramp_stream;
mod paver;
mod paver_errors;
mod quotas;
mod security;
mod security_edges;
mod security_matrix;
mod serving;
mod streams;
mod tables;
mod telemetry;
mod traces;
mod traffic_control;
