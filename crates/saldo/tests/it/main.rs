//! saldo's integration tests: the real binary on real SQLite and PostgreSQL databases.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

mod support;

mod api;
mod architecture;
mod bank_behaviour;
mod berlin_group;
mod cli;
mod corpus;
mod edge;
mod enable_banking;
mod engine;
mod gocardless;
mod import;
mod many_hands;
mod one_account;
mod serve;
mod sign_in;
mod simplefin;
mod workers;
