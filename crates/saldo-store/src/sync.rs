//! The sync engine's persistence: connection state and leases, sync commits and sync runs. Items,
//! notifications and institution health have modules of their own; the bulk insert is `sql.rs`'s.
//!
//! A sync's whole outcome (new state, items, transactions, balances, holdings, the sync-run record
//! and notifications) is written by [`Db::commit_sync`] in one database transaction, and only while
//! the worker still holds the connection's lease: a worker whose lease lapsed writes nothing.

use crate::db::{Backend, Db, StoreError};
use crate::institutions::{connection_from_row, consent_args, CONNECTION_COLUMNS, CONNECTION_COLUMN_COUNT};
use crate::items::upsert_items;
use crate::notifications::insert_notifications_in;
use crate::sql::{in_lists, insert_rows, insert_rows_returning};
use crate::sql::{parse_stored, Arg, Row, Tx};
use crate::transactions::insert_transactions_in;
use chrono::{DateTime, NaiveDate, Utc};
use saldo_core::account::AccountAlias;
use saldo_core::balance::BalancePoint;
use saldo_core::failure::{Failure, FailureKind};
use saldo_core::holding::Holding;
use saldo_core::ids::{AccountId, ConnectionId, InstitutionId, TransactionId, UserId};
use saldo_core::institution::{Connection, ConsentRecord};
use saldo_core::item::Item;
use saldo_core::notification::Notification;
use saldo_core::sync::{Budget, Episode, SyncState};
use saldo_core::transaction::Transaction;
use std::collections::HashMap;
use uuid::Uuid;

const STATE_COLUMNS: &str = "lease_owner, lease_until, episode_kind, episode_code, episode_detail, episode_retry_at, \
     episode_since, episode_attempts, episode_announced, episode_escalated, partial, last_attempt_at, last_success_at, \
     next_sync_at, budget_day, budget_used";

/// A worker's claim on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    pub until: DateTime<Utc>,
}

/// A connection with its sync state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRecord {
    pub connection: Connection,
    pub state: SyncState,
    pub lease: Option<Lease>,
}

fn state_from_row(
    row: &Row,
    at: usize,
    consent: Option<&ConsentRecord>,
    now: DateTime<Utc>,
) -> Result<(SyncState, Option<Lease>), StoreError> {
    let lease = match (row.get::<Option<String>>(at)?, row.get::<Option<DateTime<Utc>>>(at + 1)?) {
        (Some(owner), Some(until)) => Some(Lease { owner, until }),
        _ => None,
    };
    let episode = match row.get::<Option<String>>(at + 2)? {
        Some(kind) => Some(Episode {
            failure: Failure {
                kind: parse_stored("failure kind", &kind, |k| FailureKind::parse(k).ok_or("unknown kind"))?,
                code: row.get::<Option<String>>(at + 3)?.unwrap_or_default(),
                detail: row.get::<Option<String>>(at + 4)?.unwrap_or_default(),
                retry_at: row.get(at + 5)?,
            },
            since: row.get::<Option<DateTime<Utc>>>(at + 6)?.unwrap_or(now),
            attempts: row.get::<i64>(at + 7)? as u32,
            announced: row.get(at + 8)?,
            escalated: row.get(at + 9)?,
        }),
        None => None,
    };
    let state = SyncState {
        running: lease.as_ref().is_some_and(|l| l.until > now),
        episode,
        partial: row.get(at + 10)?,
        last_attempt_at: row.get(at + 11)?,
        last_success_at: row.get(at + 12)?,
        next_sync_at: row.get(at + 13)?,
        budget: Budget {
            per_day: consent.and_then(|c| c.accesses_per_day),
            day: row.get::<Option<NaiveDate>>(at + 14)?.unwrap_or(now.date_naive()),
            used: row.get::<i64>(at + 15)? as u32,
            // The provider's rule, which the engine sets from the connector.
            counts_user_access: true,
        },
    };
    Ok((state, lease))
}

/// Arguments `$first..` for every state column but the lease.
fn state_args(state: &SyncState) -> Vec<Arg> {
    let episode = state.episode.as_ref();
    vec![
        Arg::OptText(episode.map(|e| e.failure.kind.as_str().to_string())),
        Arg::OptText(episode.map(|e| e.failure.code.clone())),
        Arg::OptText(episode.map(|e| e.failure.detail.clone())),
        Arg::OptTime(episode.and_then(|e| e.failure.retry_at)),
        Arg::OptTime(episode.map(|e| e.since)),
        Arg::Int(episode.map_or(0, |e| i64::from(e.attempts))),
        Arg::Bool(episode.is_some_and(|e| e.announced)),
        Arg::Bool(episode.is_some_and(|e| e.escalated)),
        Arg::Bool(state.partial),
        Arg::OptTime(state.last_attempt_at),
        Arg::OptTime(state.last_success_at),
        Arg::OptTime(state.next_sync_at),
        Arg::Date(state.budget.day),
        Arg::Int(i64::from(state.budget.used)),
    ]
}

/// The columns [`state_args`] fills, in order.
const STATE_FIELDS: [&str; 14] = [
    "episode_kind",
    "episode_code",
    "episode_detail",
    "episode_retry_at",
    "episode_since",
    "episode_attempts",
    "episode_announced",
    "episode_escalated",
    "partial",
    "last_attempt_at",
    "last_success_at",
    "next_sync_at",
    "budget_day",
    "budget_used",
];

/// `SET` clause for [`state_args`], numbered from `$first`.
fn state_assignments(first: usize) -> String {
    state_assignments_with(|i| format!("${}", first + i))
}

/// `SET` clause for [`state_args`], the i-th value written by `value(i)`.
fn state_assignments_with(value: impl Fn(usize) -> String) -> String {
    STATE_FIELDS.iter().enumerate().map(|(i, column)| format!("{column} = {}", value(i))).collect::<Vec<_>>().join(", ")
}

/// The outcome of one sync run, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRun {
    pub id: Uuid,
    pub connection_id: ConnectionId,
    pub institution_id: InstitutionId,
    /// `scheduled` or `user`.
    pub trigger: String,
    pub worker: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// `ok`, `partial` or `failed`.
    pub outcome: String,
    pub failure: Option<Failure>,
    pub transactions_new: u64,
    pub pending_replaced: u64,
    /// Stored pending transactions that a window covering their date no longer returned.
    pub pending_vanished: u64,
    /// New bookings under an id their account already held for another booking.
    pub reused_ids: u64,
    pub balance_points: u64,
    pub holdings: u64,
}

/// What one sync fetched for one tracked account.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountIngest {
    pub account_id: Option<AccountId>,
    pub balance: Option<BalancePoint>,
    pub holdings: Vec<Holding>,
    /// Booked transactions: stored once, never removed.
    pub booked: Vec<Transaction>,
    /// The window's current pending transactions: they replace `pending_removed`.
    pub pending: Vec<Transaction>,
    /// The stored pending transactions the fetch window covered.
    pub pending_removed: Vec<TransactionId>,
    /// Of those, how many the fetch did not return again as pending.
    pub pending_vanished: u64,
    /// Stored rows (an import's booking of a pending one) that a booking in `booked` replaces.
    pub superseded: Vec<TransactionId>,
}

/// Everything one sync writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncCommit {
    pub connection_id: ConnectionId,
    pub worker: String,
    pub state: SyncState,
    pub run: SyncRun,
    /// Items as discovered now (new ones, changed provider ids, vanished ones).
    pub items: Vec<Item>,
    /// Accounts to close (`true`) or reopen (`false`) because their item vanished or came back.
    pub closed: Vec<(AccountId, bool)>,
    /// Provider identities seen for the first time for an account.
    pub aliases: Vec<(AccountId, AccountAlias)>,
    pub ingest: Vec<AccountIngest>,
    pub notifications: Vec<Notification>,
}

fn run_args(run: &SyncRun) -> Vec<Arg> {
    vec![
        Arg::Uuid(run.id),
        Arg::Uuid(run.connection_id.0),
        Arg::Uuid(run.institution_id.0),
        Arg::Text(run.trigger.clone()),
        Arg::Text(run.worker.clone()),
        Arg::Time(run.started_at),
        Arg::Time(run.finished_at),
        Arg::Text(run.outcome.clone()),
        Arg::OptText(run.failure.as_ref().map(|f| f.kind.as_str().to_string())),
        Arg::OptText(run.failure.as_ref().map(|f| f.code.clone())),
        Arg::OptText(run.failure.as_ref().map(|f| f.detail.clone())),
        Arg::Int(run.transactions_new as i64),
        Arg::Int(run.pending_replaced as i64),
        Arg::Int(run.pending_vanished as i64),
        Arg::Int(run.reused_ids as i64),
        Arg::Int(run.balance_points as i64),
        Arg::Int(run.holdings as i64),
    ]
}

/// What [`Db::commit_syncs`] did with one sync: its new and replaced-pending transaction counts, or
/// [`StoreError::LeaseLost`] when nothing of it was written.
pub type CommitResult = Result<(u64, u64), StoreError>;

/// Writes syncs in one open transaction: each one only if its worker still holds the lease.
async fn commit_syncs_in(tx: &mut Tx, commits: &[&SyncCommit]) -> Result<Vec<CommitResult>, StoreError> {
    // One statement per chunk gives every lease back with its new state, and says which leases were
    // still held.
    let rows: Vec<Vec<Arg>> = commits
        .iter()
        .map(|commit| {
            let mut args = vec![Arg::Uuid(commit.connection_id.0), Arg::Text(commit.worker.clone())];
            args.extend(state_args(&commit.state));
            args
        })
        .collect();
    let head = format!(
        "UPDATE connections SET lease_owner = NULL, lease_until = NULL, {} FROM (",
        state_assignments_with(|i| format!("column{}", i + 3))
    );
    let tail =
        ") AS v WHERE connections.id = v.column1 AND connections.lease_owner = v.column2 RETURNING connections.id";
    let mut still_held = std::collections::HashSet::new();
    for row in insert_rows_returning(tx, &head, tail, 2 + STATE_FIELDS.len(), rows).await? {
        still_held.insert(ConnectionId(row.get(0)?));
    }
    let held: Vec<bool> = commits.iter().map(|c| still_held.contains(&c.connection_id)).collect();
    let live: Vec<&SyncCommit> = commits.iter().zip(&held).filter(|(_, held)| **held).map(|(c, _)| *c).collect();
    upsert_items(tx, &live.iter().flat_map(|c| c.items.iter().cloned()).collect::<Vec<_>>()).await?;
    for commit in &live {
        for (account, closed) in &commit.closed {
            tx.execute(CLOSE_ACCOUNT, &[Arg::Uuid(account.0), Arg::Bool(*closed), Arg::Time(commit.run.finished_at)])
                .await?;
        }
    }
    for (account, alias) in live.iter().flat_map(|c| &c.aliases) {
        crate::accounts::insert_alias_in(tx, *account, alias).await?;
    }
    let ingest: Vec<&AccountIngest> = live.iter().flat_map(|c| &c.ingest).filter(|i| i.account_id.is_some()).collect();
    // Pending transactions are ephemeral: the window's current set replaces the stored one it
    // covered. Booked ones go in first so that a pending one already booked under the same identity
    // is dropped.
    let removed: Vec<Arg> = ingest.iter().flat_map(|i| &i.pending_removed).map(|t| Arg::Uuid(t.0)).collect();
    let mut replaced_in: HashMap<AccountId, u64> = HashMap::new();
    for (list, args) in in_lists(removed) {
        let sql = format!("DELETE FROM transactions WHERE status = 'pending' AND id IN ({list}) RETURNING account_id");
        for row in tx.fetch(&sql, &args).await? {
            *replaced_in.entry(AccountId(row.get(0)?)).or_default() += 1;
        }
    }
    let superseded: Vec<Arg> = ingest.iter().flat_map(|i| &i.superseded).map(|t| Arg::Uuid(t.0)).collect();
    for (list, args) in in_lists(superseded) {
        tx.execute(&format!("DELETE FROM transactions WHERE id IN ({list})"), &args).await?;
    }
    let inserted = insert_transactions_in(tx, ingest.iter().flat_map(|i| &i.booked)).await?;
    let count = |accounts: Vec<AccountId>| {
        let mut counts: HashMap<AccountId, u64> = HashMap::new();
        for account in accounts {
            *counts.entry(account).or_default() += 1;
        }
        counts
    };
    let (new_in, reused_in) = (count(inserted.new), count(inserted.reused_ids));
    insert_transactions_in(tx, ingest.iter().flat_map(|i| &i.pending)).await?;
    let points: Vec<BalancePoint> = ingest.iter().filter_map(|i| i.balance.clone()).collect();
    crate::balances::insert_points_in(tx, &points).await?;
    let holdings: Vec<Holding> = ingest.iter().flat_map(|i| i.holdings.iter().cloned()).collect();
    crate::balances::upsert_holdings_in(tx, &holdings).await?;
    let mut results = Vec::with_capacity(commits.len());
    let mut runs = Vec::with_capacity(live.len());
    for (commit, held) in commits.iter().zip(held) {
        if !held {
            results.push(Err(StoreError::LeaseLost(commit.connection_id.to_string())));
            continue;
        }
        let of = |counts: &HashMap<AccountId, u64>| -> u64 {
            commit.ingest.iter().filter_map(|i| i.account_id).map(|a| counts.get(&a).copied().unwrap_or(0)).sum()
        };
        let (new, replaced) = (of(&new_in), of(&replaced_in));
        let mut run = commit.run.clone();
        run.transactions_new = new;
        run.pending_replaced = replaced;
        run.reused_ids = of(&reused_in);
        run.pending_vanished = commit.ingest.iter().map(|i| i.pending_vanished).sum();
        runs.push(run_args(&run));
        results.push(Ok((new, replaced)));
    }
    insert_rows(
        tx,
        "INSERT INTO sync_runs (id, connection_id, institution_id, trigger, worker, started_at, finished_at, outcome, \
         failure_kind, failure_code, failure_detail, transactions_new, pending_replaced, pending_vanished, reused_ids, \
         balance_points, holdings)",
        "",
        17,
        runs,
    )
    .await?;
    let notifications: Vec<Notification> = live.iter().flat_map(|c| c.notifications.iter().cloned()).collect();
    insert_notifications_in(tx, &notifications).await?;
    Ok(results)
}

/// Closes (`$2` true, at `$3` unless it was closed already) or reopens an account.
const CLOSE_ACCOUNT: &str = "UPDATE accounts SET closed = $2, \
     closed_at = CASE WHEN $2 THEN COALESCE(closed_at, $3) ELSE NULL END WHERE id = $1";

/// What becomes of a removed connection's accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeptAccounts {
    /// Deleted with their history.
    None,
    /// Closed: counted in net worth up to today, their history kept.
    Closed,
    /// Kept as manual accounts at their last balance, to be valued by hand.
    Manual,
}

/// A connection with nothing tracked has nothing to fetch: syncing it would only spend the day's
/// accesses a bank allows before the user has chosen what to track.
const TRACKS_ITEMS: &str = "AND EXISTS (SELECT 1 FROM items i WHERE i.connection_id = connections.id \
     AND i.decision = 'tracked' AND i.vanished_at IS NULL)";

impl Db {
    /// Stores a new connection with its consent, first sync state and discovered items.
    pub async fn create_connection(
        &self,
        connection: &Connection,
        state: &SyncState,
        items: &[Item],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        crate::institutions::insert_connection_in(&mut tx, connection).await?;
        let mut state_update = vec![Arg::Uuid(connection.id.0)];
        state_update.extend(state_args(state));
        tx.execute(&format!("UPDATE connections SET {} WHERE id = $1", state_assignments(2)), &state_update).await?;
        upsert_items(&mut tx, items).await?;
        tx.commit().await
    }

    /// A connection with its state as of `now` (a lease that ran out means "not running").
    pub async fn connection_record(
        &self,
        id: ConnectionId,
        now: DateTime<Utc>,
    ) -> Result<Option<ConnectionRecord>, StoreError> {
        let sql = format!("SELECT {CONNECTION_COLUMNS}, {STATE_COLUMNS} FROM connections WHERE id = $1");
        let row = self.fetch_optional(&sql, &[Arg::Uuid(id.0)]).await?;
        row.as_ref().map(|row| record_from_row(row, now)).transpose()
    }

    /// The records of many connections (a scheduler pass), in no particular order; unknown ids are
    /// left out.
    pub async fn connection_records_of(
        &self,
        ids: &[ConnectionId],
        now: DateTime<Utc>,
    ) -> Result<Vec<ConnectionRecord>, StoreError> {
        let mut records = Vec::with_capacity(ids.len());
        for (list, args) in in_lists(ids.iter().map(|id| Arg::Uuid(id.0)).collect()) {
            let sql = format!("SELECT {CONNECTION_COLUMNS}, {STATE_COLUMNS} FROM connections WHERE id IN ({list})");
            for row in self.fetch(&sql, &args).await? {
                records.push(record_from_row(&row, now)?);
            }
        }
        Ok(records)
    }

    pub async fn connection_records(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<ConnectionRecord>, StoreError> {
        let sql = format!(
            "SELECT {CONNECTION_COLUMNS}, {STATE_COLUMNS} FROM connections WHERE user_id = $1 ORDER BY created_at, id"
        );
        self.fetch(&sql, &[Arg::Uuid(user.0)]).await?.iter().map(|row| record_from_row(row, now)).collect()
    }

    /// Claims up to `limit` connections that are due, for `worker`, until `lease_until`. Connections
    /// under a live lease are skipped; on PostgreSQL rows another worker is claiming are skipped too
    /// (`FOR UPDATE SKIP LOCKED`), so concurrent workers never claim the same connection.
    pub async fn claim_due(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(ConnectionId, InstitutionId)>, StoreError> {
        self.claim_due_except(worker, now, lease_until, limit, &[]).await
    }

    /// [`Db::claim_due`], skipping connections of the given institutions (those a worker already
    /// runs as many syncs against as it allows), so that they never crowd out the others.
    pub async fn claim_due_except(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
        busy: &[InstitutionId],
    ) -> Result<Vec<(ConnectionId, InstitutionId)>, StoreError> {
        let lock = match self.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        // What is due: `now` is parameter `now_at`, the busy institutions follow from `busy_from`.
        let due = |now_at: usize, busy_from: usize| {
            let except = if busy.is_empty() {
                String::new()
            } else {
                let list: Vec<String> = (0..busy.len()).map(|i| format!("${}", i + busy_from)).collect();
                format!("AND institution_id NOT IN ({})", list.join(", "))
            };
            format!(
                "next_sync_at <= ${now_at} AND consent_id IS NOT NULL \
                 AND (lease_until IS NULL OR lease_until <= ${now_at}) {except} {TRACKS_ITEMS}"
            )
        };
        // Most passes find nothing due: a read says so without asking for the write lock, which
        // another process (an import) may hold for a long while.
        let mut probe = vec![Arg::Time(now)];
        probe.extend(busy.iter().map(|i| Arg::Uuid(i.0)));
        if self.fetch(&format!("SELECT 1 FROM connections WHERE {} LIMIT 1", due(1, 2)), &probe).await?.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "UPDATE connections SET lease_owner = $1, lease_until = $2 WHERE id IN (\
             SELECT id FROM connections WHERE {} ORDER BY next_sync_at, id LIMIT $4 {lock}) \
             RETURNING id, institution_id, next_sync_at",
            due(3, 5)
        );
        // A write that returns rows: it runs in a transaction so that it takes the write path.
        let mut tx = self.begin().await?;
        let rows = tx
            .fetch(&sql, &{
                let mut args =
                    vec![Arg::Text(worker.into()), Arg::Time(lease_until), Arg::Time(now), Arg::Int(i64::from(limit))];
                args.extend(busy.iter().map(|i| Arg::Uuid(i.0)));
                args
            })
            .await?;
        tx.commit().await?;
        // RETURNING keeps no order: most overdue first, so callers see a stable order.
        let mut claimed = rows
            .iter()
            .map(|row| {
                Ok((row.get::<Option<DateTime<Utc>>>(2)?, ConnectionId(row.get(0)?), InstitutionId(row.get(1)?)))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        claimed.sort();
        Ok(claimed.into_iter().map(|(_, id, institution)| (id, institution)).collect())
    }

    /// Claims one connection now, whether due or not (a user-triggered sync); false when another
    /// worker holds it.
    pub async fn claim_connection(
        &self,
        id: ConnectionId,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let claimed = self
            .execute(
                "UPDATE connections SET lease_owner = $2, lease_until = $3 WHERE id = $1 AND consent_id IS NOT NULL \
                 AND (lease_until IS NULL OR lease_until <= $4)",
                &[Arg::Uuid(id.0), Arg::Text(worker.into()), Arg::Time(lease_until), Arg::Time(now)],
            )
            .await?;
        Ok(claimed > 0)
    }

    /// Gives a claim back without recording a sync (the state machine refused to start).
    pub async fn release_lease(&self, id: ConnectionId, worker: &str, state: &SyncState) -> Result<(), StoreError> {
        let mut args = vec![Arg::Uuid(id.0), Arg::Text(worker.into())];
        args.extend(state_args(state));
        self.execute(
            &format!(
                "UPDATE connections SET lease_owner = NULL, lease_until = NULL, {} WHERE id = $1 AND lease_owner = $2",
                state_assignments(3)
            ),
            &args,
        )
        .await?;
        Ok(())
    }

    /// Saves a connection's state outside a sync (a reconnect, a refusal).
    pub async fn save_sync_state(&self, id: ConnectionId, state: &SyncState) -> Result<(), StoreError> {
        let mut args = vec![Arg::Uuid(id.0)];
        args.extend(state_args(state));
        self.execute(&format!("UPDATE connections SET {} WHERE id = $1", state_assignments(2)), &args).await?;
        Ok(())
    }

    /// Writes a sync's whole outcome in one transaction, if the worker still holds the lease.
    /// Returns the number of new transactions and of replaced pending ones.
    pub async fn commit_sync(&self, commit: &SyncCommit) -> Result<(u64, u64), StoreError> {
        self.commit_syncs(std::slice::from_ref(commit)).await?.pop().unwrap_or(Ok((0, 0)))
    }

    /// Writes many syncs in one transaction (their rows in a few multi-row statements), each only if
    /// its worker still holds the lease. Should the batch fail, each sync is tried on its own, so
    /// that one sync's bad data costs only that sync.
    pub async fn commit_syncs(&self, commits: &[SyncCommit]) -> Result<Vec<CommitResult>, StoreError> {
        let all: Vec<&SyncCommit> = commits.iter().collect();
        let batch = async {
            let mut tx = self.begin().await?;
            let results = commit_syncs_in(&mut tx, &all).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(results)
        };
        match batch.await {
            Ok(results) => Ok(results),
            Err(err) if commits.len() == 1 => Err(err),
            Err(_) => {
                let mut results = Vec::with_capacity(commits.len());
                for commit in commits {
                    let mut tx = self.begin().await?;
                    // On an error `tx` is dropped, which rolls this one sync back.
                    results.push(match commit_syncs_in(&mut tx, &[commit]).await {
                        Ok(mut one) => {
                            tx.commit().await?;
                            one.pop().unwrap_or(Ok((0, 0)))
                        }
                        Err(err) => Err(err),
                    });
                }
                Ok(results)
            }
        }
    }

    /// Replaces a connection's consent after a reconnect, with its new state and rediscovered items.
    pub async fn replace_consent(
        &self,
        id: ConnectionId,
        consent: &ConsentRecord,
        state: &SyncState,
        items: &[Item],
        aliases: &[(AccountId, AccountAlias)],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let mut args = vec![Arg::Uuid(id.0)];
        args.extend(consent_args(Some(consent)));
        tx.execute(
            "UPDATE connections SET consent_id = $2, consent_granted_at = $3, consent_valid_until = $4, consent_scope = $5, \
             consent_max_history_days = $6, consent_accesses_per_day = $7, consent_secret = $8, lease_owner = NULL, lease_until = NULL WHERE id = $1",
            &args,
        )
        .await?;
        let mut state_update = vec![Arg::Uuid(id.0)];
        state_update.extend(state_args(state));
        tx.execute(&format!("UPDATE connections SET {} WHERE id = $1", state_assignments(2)), &state_update).await?;
        upsert_items(&mut tx, items).await?;
        for item in items {
            if let Some(account) = item.account_id {
                let closed = item.vanished_at.is_some();
                tx.execute(CLOSE_ACCOUNT, &[Arg::Uuid(account.0), Arg::Bool(closed), Arg::OptTime(item.vanished_at)])
                    .await?;
            }
        }
        for (account, alias) in aliases {
            crate::accounts::insert_alias_in(&mut tx, *account, alias).await?;
        }
        tx.commit().await
    }

    /// Removes a connection: its consent and state go; its accounts keep their history unless
    /// `delete_history`, in which case they are deleted too. One transaction.
    pub async fn delete_connection(
        &self,
        id: ConnectionId,
        keep: KeptAccounts,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        match keep {
            KeptAccounts::None => {
                tx.execute("DELETE FROM accounts WHERE connection_id = $1", &[Arg::Uuid(id.0)]).await?;
            }
            // Records of the past: closed today, no longer fed by a connection.
            KeptAccounts::Closed => {
                tx.execute(
                    "UPDATE accounts SET origin = 'import', connection_id = NULL, closed = $2, \
                     closed_at = COALESCE(closed_at, $3) WHERE connection_id = $1",
                    &[Arg::Uuid(id.0), Arg::Bool(true), Arg::Time(now)],
                )
                .await?;
            }
            // Still owned: valued by hand from their last balance on.
            KeptAccounts::Manual => {
                tx.execute(
                    "UPDATE accounts SET origin = 'manual', connection_id = NULL, closed = $2, closed_at = NULL \
                     WHERE connection_id = $1",
                    &[Arg::Uuid(id.0), Arg::Bool(false)],
                )
                .await?;
            }
        }
        tx.execute("DELETE FROM connections WHERE id = $1", &[Arg::Uuid(id.0)]).await?;
        tx.commit().await
    }

    /// A connection's latest sync runs, newest first.
    /// Rows the recorded syncs wrote: per sync its run record and its connection's state, plus its
    /// new transactions, balance points and holdings.
    pub async fn rows_written_by_syncs(&self) -> Result<u64, StoreError> {
        let rows = self
            .fetch(
                "SELECT CAST(COUNT(*) * 2 + COALESCE(SUM(transactions_new + balance_points + holdings), 0) AS BIGINT) \
                 FROM sync_runs",
                &[],
            )
            .await?;
        Ok(rows.first().map(|row| row.get::<i64>(0)).transpose()?.unwrap_or(0) as u64)
    }

    pub async fn sync_runs(&self, connection: ConnectionId, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
        let rows = self
            .fetch(
                "SELECT id, connection_id, institution_id, trigger, worker, started_at, finished_at, outcome, failure_kind, \
                 failure_code, failure_detail, transactions_new, pending_replaced, balance_points, holdings, \
                 pending_vanished, reused_ids FROM sync_runs \
                 WHERE connection_id = $1 ORDER BY finished_at DESC, id DESC LIMIT $2",
                &[Arg::Uuid(connection.0), Arg::Int(i64::from(limit))],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let failure = match row.get::<Option<String>>(8)? {
                    Some(kind) => Some(Failure {
                        kind: parse_stored("failure kind", &kind, |k| FailureKind::parse(k).ok_or("unknown"))?,
                        code: row.get::<Option<String>>(9)?.unwrap_or_default(),
                        detail: row.get::<Option<String>>(10)?.unwrap_or_default(),
                        retry_at: None,
                    }),
                    None => None,
                };
                Ok(SyncRun {
                    id: row.get(0)?,
                    connection_id: ConnectionId(row.get(1)?),
                    institution_id: InstitutionId(row.get(2)?),
                    trigger: row.get(3)?,
                    worker: row.get(4)?,
                    started_at: row.get(5)?,
                    finished_at: row.get(6)?,
                    outcome: row.get(7)?,
                    failure,
                    transactions_new: row.get::<i64>(11)? as u64,
                    pending_replaced: row.get::<i64>(12)? as u64,
                    balance_points: row.get::<i64>(13)? as u64,
                    holdings: row.get::<i64>(14)? as u64,
                    pending_vanished: row.get::<i64>(15)? as u64,
                    reused_ids: row.get::<i64>(16)? as u64,
                })
            })
            .collect()
    }
}

fn record_from_row(row: &Row, now: DateTime<Utc>) -> Result<ConnectionRecord, StoreError> {
    let connection = connection_from_row(row, 0)?;
    let (state, lease) = state_from_row(row, CONNECTION_COLUMN_COUNT, connection.consent.as_ref(), now)?;
    Ok(ConnectionRecord { connection, state, lease })
}
