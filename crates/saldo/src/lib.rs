//! The `saldo` application: configuration, clock, use cases, the HTTP server and the command line.
//!
//! Invariant: this crate is the only one that reads the environment, the config file or the system
//! clock, or listens on a socket. The domain lives in `saldo-core`, SQL in `saldo-store`.

pub mod api;
pub mod cli;
pub mod cli_sync;
pub mod clock;
pub mod config;
pub mod connections;
pub mod connector_config;
pub mod engine;
pub mod http;
pub mod import;
pub mod ops;
pub mod secrets;
pub mod simulate;
