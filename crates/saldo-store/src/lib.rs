//! saldo's persistence: one storage layer over two backends, SQLite (embedded default) and
//! PostgreSQL (hosted, many processes).
//!
//! Invariants: this is the only crate that knows SQL. Both backends pass the same contract suite
//! (`tests/contract.rs`) and have migrations with the same names. Writes that belong together run in
//! one database transaction. Rows are converted into `saldo-core` types here and nowhere else.

mod accounts;
mod authorizations;
mod balances;
mod db;
pub mod files;
mod fx;
mod health;
mod imports;
mod institutions;
mod items;
mod notifications;
mod sign_in;
mod sql;
mod sync;
mod transactions;
mod users;

pub use authorizations::{AuthorizationProgress, Purpose, StoredAuthorization};
pub use balances::ValuationWrite;
pub use db::{Backend, Db, DbUrl, StoreError};
pub use fx::RateCoverage;
pub use imports::{ImportTx, StoredEntry};
pub use sign_in::{StoredSession, StoredToken};
pub use sync::{AccountIngest, CommitResult, ConnectionRecord, KeptAccounts, Lease, SyncCommit, SyncRun};
pub use transactions::TransactionFilter;
pub use users::UserChange;
