//! saldo's application: the use cases every front end (the command line, the web, later e-mail)
//! calls, and the workers `saldo serve` and `saldo worker` run.
//!
//! Invariant: no web or command-line framework (axum, hyper, tower, clap, indicatif, template
//! engines) — a test checks the dependency closure. Front ends translate requests into these calls
//! and render what comes back; the domain's rules live in `saldo-core`, SQL in `saldo-store`.
//! Time comes from the [`clock::Clock`] an [`ops::App`] carries; nothing here reads the
//! environment.

pub mod accounts;
pub mod activity;
pub mod auth;
pub mod clock;
pub mod connections;
pub mod engine;
pub mod fx;
pub mod import;
pub mod linking;
pub mod networth;
pub mod ops;
pub mod redact;
pub mod secrets;
pub mod simulate;
pub mod sync;
pub mod tracking;
pub mod users;
pub mod worker;
