//! saldo's domain: money, accounts, balances, holdings, transactions, exchange rates and net worth.
//!
//! Invariant: this crate does no I/O. It reads no clock, no environment, no files and no network, and
//! makes no random values: time and fresh ids come in as arguments. Amounts are never floating point.

pub mod account;
pub mod balance;
pub mod dedupe;
pub mod failure;
pub mod fx;
pub mod holding;
pub mod iban;
pub mod ids;
pub mod ingest;
pub mod institution;
pub mod item;
pub mod money;
pub mod networth;
pub mod notification;
pub mod outage;
pub mod secret;
pub mod sync;
pub mod transaction;
pub mod user;
