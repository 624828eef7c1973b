//! End-to-end tests: a real broker, a real server, real gRPC over sockets.
//! One test binary with a module per capability keeps link time down.

mod serving;
