//! The `saldo` binary's library: configuration, the command line, and the wiring that turns a
//! configuration into a running [`saldo_app::ops::App`] served by `saldo-web`.
//!
//! Invariant: this crate is the only one that reads the environment or the config file, or listens
//! on a socket. The use cases live in `saldo-app`, the domain in `saldo-core`, SQL in `saldo-store`.

pub mod cli;
pub mod cli_accounts;
pub mod cli_import;
pub mod cli_sync;
pub mod cli_users;
pub mod config;
pub mod connector_config;
pub mod progress;
pub mod wiring;
