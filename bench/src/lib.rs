//! The pieces of `roadroller-bench`: the stage (a broker and a server
//! process), the scenarios, and the figures they produce.

pub mod auth;
pub mod broker;
pub mod figures;
pub mod hostile;
mod http;
pub mod landing;
pub mod observed;
pub mod payload;
pub mod proc;
pub mod quotas;
pub mod readers;
pub mod scenarios;
pub mod stage;
pub mod tables;
pub mod throughput;
