//! Transactions.

use crate::db::{Db, StoreError};
use crate::sql::{in_lists, insert_rows_returning, parse_stored, Arg, Row, Tx};
use chrono::NaiveDate;
use saldo_core::dedupe::reuses_id;
use saldo_core::ids::{AccountId, TransactionId, UserId};
use saldo_core::money::{Currency, Money};
use saldo_core::transaction::{Source, Transaction, TransactionStatus};
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

const TRANSACTION_COLUMNS: &str = "id, account_id, status, booking_date, value_date, amount_minor, currency, \
     description, counterparty, provider_id, fingerprint, source, pending_of";

fn transaction_args(t: &Transaction) -> Vec<Arg> {
    vec![
        Arg::Uuid(t.id.0),
        Arg::Uuid(t.account_id.0),
        Arg::Text(t.status.as_str().into()),
        Arg::Date(t.booking_date),
        Arg::OptDate(t.value_date),
        Arg::Int(t.amount.minor),
        Arg::Text(t.amount.currency.code().into()),
        Arg::Text(t.description.clone()),
        Arg::OptText(t.counterparty.clone()),
        Arg::OptText(t.provider_id.clone()),
        Arg::Text(t.fingerprint.clone()),
        Arg::OptText(t.source.as_str().map(str::to_string)),
        Arg::OptText(t.pending_of.clone()),
    ]
}

/// What an insert of transactions stored, by account (one entry per row).
#[derive(Debug, Default)]
pub(crate) struct Inserted {
    pub new: Vec<AccountId>,
    /// Of `new`, the bookings whose id the account already held for another booking.
    pub reused_ids: Vec<AccountId>,
}

/// Inserts transactions. One already stored under the same identity (its provider id, or its
/// fingerprint when it has none) is skipped, except a booking whose id the account holds for a
/// booking of another date or amount: a bank or file that reuses ids must not lose a booking, so
/// it is stored under its fingerprint instead, and counted.
pub(crate) async fn insert_transactions_in<'a>(
    tx: &mut Tx,
    transactions: impl IntoIterator<Item = &'a Transaction>,
) -> Result<Inserted, StoreError> {
    let rows: Vec<&Transaction> = transactions.into_iter().collect();
    let stored = insert_skipping_known(tx, &rows).await?;
    let mut inserted = Inserted::default();
    let refused: Vec<&Transaction> = rows
        .into_iter()
        .filter(|t| match stored.get(&t.id.0) {
            Some(account) => {
                inserted.new.push(*account);
                false
            }
            None => t.status == TransactionStatus::Booked && t.provider_id.is_some(),
        })
        .collect();
    if refused.is_empty() {
        return Ok(inserted);
    }
    let held = held_under_ids(tx, &refused).await?;
    let second_bookings: Vec<Transaction> = refused
        .into_iter()
        .filter(|t| {
            let id = t.provider_id.clone().unwrap_or_default();
            held.get(&(t.account_id, id)).is_some_and(|(day, minor)| reuses_id(*day, *minor, t))
        })
        .map(|t| Transaction { provider_id: None, ..t.clone() })
        .collect();
    let second: Vec<&Transaction> = second_bookings.iter().collect();
    for account in insert_skipping_known(tx, &second).await?.into_values() {
        inserted.new.push(account);
        inserted.reused_ids.push(account);
    }
    Ok(inserted)
}

/// Inserts rows, skipping those whose identity is stored; returns the account of each stored row
/// by its id.
async fn insert_skipping_known(tx: &mut Tx, rows: &[&Transaction]) -> Result<HashMap<Uuid, AccountId>, StoreError> {
    let returned = insert_rows_returning(
        tx,
        &format!("INSERT INTO transactions ({TRANSACTION_COLUMNS})"),
        "ON CONFLICT DO NOTHING RETURNING id, account_id",
        13,
        rows.iter().map(|t| transaction_args(t)).collect(),
    )
    .await?;
    returned.iter().map(|row| Ok((row.get::<Uuid>(0)?, AccountId(row.get(1)?)))).collect()
}

/// The booking date and amount of the stored transactions holding these rows' ids.
async fn held_under_ids(
    tx: &mut Tx,
    rows: &[&Transaction],
) -> Result<HashMap<(AccountId, String), (NaiveDate, i64)>, StoreError> {
    let mut by_account: BTreeMap<AccountId, HashSet<String>> = BTreeMap::new();
    for t in rows {
        by_account.entry(t.account_id).or_default().extend(t.provider_id.clone());
    }
    let mut held = HashMap::new();
    for (account, ids) in by_account {
        for (list, mut args) in in_lists(ids.into_iter().map(Arg::Text).collect()) {
            let account_at = args.len() + 1;
            args.push(Arg::Uuid(account.0));
            let sql = format!(
                "SELECT provider_id, booking_date, amount_minor FROM transactions \
                 WHERE account_id = ${account_at} AND provider_id IN ({list})"
            );
            for row in tx.fetch(&sql, &args).await? {
                held.insert((account, row.get::<String>(0)?), (row.get(1)?, row.get(2)?));
            }
        }
    }
    Ok(held)
}

fn transaction_from_row(row: &Row) -> Result<Transaction, StoreError> {
    let currency = parse_stored("currency", &row.get::<String>(6)?, Currency::parse)?;
    Ok(Transaction {
        id: TransactionId(row.get(0)?),
        account_id: AccountId(row.get(1)?),
        status: parse_stored("transaction status", &row.get::<String>(2)?, |s| {
            TransactionStatus::parse(s).ok_or("unknown status")
        })?,
        booking_date: row.get(3)?,
        value_date: row.get(4)?,
        amount: Money::new(row.get(5)?, currency),
        description: row.get(7)?,
        counterparty: row.get(8)?,
        provider_id: row.get(9)?,
        fingerprint: row.get(10)?,
        source: Source::parse(row.get::<Option<String>>(11)?.as_deref()),
        pending_of: row.get(12)?,
    })
}

impl Db {
    /// Stores transactions in one database transaction. One already stored for its account, by
    /// provider id or else by fingerprint, is skipped; returns how many were new.
    pub async fn insert_transactions(&self, transactions: &[Transaction]) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let inserted = insert_transactions_in(&mut tx, transactions.iter()).await?;
        tx.commit().await?;
        Ok(inserted.new.len() as u64)
    }

    /// An account's transactions by booking date.
    pub async fn transactions(&self, account: AccountId) -> Result<Vec<Transaction>, StoreError> {
        let rows = self
            .fetch(
                &format!(
                    "SELECT {TRANSACTION_COLUMNS} FROM transactions WHERE account_id = $1 ORDER BY booking_date, id"
                ),
                &[Arg::Uuid(account.0)],
            )
            .await?;
        rows.iter().map(transaction_from_row).collect()
    }

    /// What a sync's fetch window repeats: for each account, its stored transactions (booked and
    /// pending) dated from the given day.
    pub async fn transactions_from(
        &self,
        accounts: &[(AccountId, NaiveDate)],
    ) -> Result<HashMap<AccountId, Vec<Transaction>>, StoreError> {
        let mut by_account: HashMap<AccountId, Vec<Transaction>> = HashMap::new();
        // Accounts of one batch mostly share their first day: one statement per day (and per
        // chunk of the list), each a plain index range per account. (A join on the list as VALUES
        // made PostgreSQL scan the whole table.)
        let mut by_day: BTreeMap<NaiveDate, Vec<Arg>> = BTreeMap::new();
        for (account, day) in accounts {
            by_day.entry(*day).or_default().push(Arg::Uuid(account.0));
        }
        for (day, accounts) in by_day {
            for (list, mut args) in in_lists(accounts) {
                let day_at = args.len() + 1;
                args.push(Arg::Date(day));
                let sql = format!(
                    "SELECT {TRANSACTION_COLUMNS} FROM transactions WHERE account_id IN ({list}) \
                     AND booking_date >= ${day_at}"
                );
                for row in self.fetch(&sql, &args).await? {
                    let t = transaction_from_row(&row)?;
                    by_account.entry(t.account_id).or_default().push(t);
                }
            }
        }
        Ok(by_account)
    }

    /// The booking date of each account's oldest pending transaction, for those that hold one.
    pub async fn oldest_pending(&self, accounts: &[AccountId]) -> Result<HashMap<AccountId, NaiveDate>, StoreError> {
        let mut oldest = HashMap::new();
        for (list, args) in in_lists(accounts.iter().map(|a| Arg::Uuid(a.0)).collect()) {
            let sql = format!(
                "SELECT account_id, MIN(booking_date) FROM transactions \
                 WHERE status = 'pending' AND account_id IN ({list}) GROUP BY account_id"
            );
            for row in self.fetch(&sql, &args).await? {
                oldest.insert(AccountId(row.get(0)?), row.get(1)?);
            }
        }
        Ok(oldest)
    }
}

/// Which of a user's transactions a page shows, newest first.
#[derive(Debug, Clone, Default)]
pub struct TransactionFilter {
    pub account: Option<AccountId>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub status: Option<TransactionStatus>,
    /// Text the description or counterparty contains, in any case.
    pub text: Option<String>,
    /// Where the previous page ended: its last (booking date, id).
    pub after: Option<(NaiveDate, TransactionId)>,
    pub limit: u32,
}

impl Db {
    /// One page of a user's transactions (of one account, or all of theirs), newest booking first.
    pub async fn transaction_page(
        &self,
        user: UserId,
        filter: &TransactionFilter,
    ) -> Result<Vec<Transaction>, StoreError> {
        let mut sql = format!(
            "SELECT {TRANSACTION_COLUMNS} FROM transactions \
             WHERE account_id IN (SELECT id FROM accounts WHERE user_id = $1)"
        );
        let mut args = vec![Arg::Uuid(user.0)];
        let condition = |sql: &mut String, args: &mut Vec<Arg>, arg: Arg, text: &str| {
            args.push(arg);
            sql.push_str(&text.replace("$n", &format!("${}", args.len())));
        };
        if let Some(account) = filter.account {
            condition(&mut sql, &mut args, Arg::Uuid(account.0), " AND account_id = $n");
        }
        if let Some(from) = filter.from {
            condition(&mut sql, &mut args, Arg::Date(from), " AND booking_date >= $n");
        }
        if let Some(to) = filter.to {
            condition(&mut sql, &mut args, Arg::Date(to), " AND booking_date <= $n");
        }
        if let Some(status) = filter.status {
            condition(&mut sql, &mut args, Arg::Text(status.as_str().into()), " AND status = $n");
        }
        if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
            let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            let pattern = Arg::Text(format!("%{escaped}%"));
            condition(
                &mut sql,
                &mut args,
                pattern,
                " AND (LOWER(description) LIKE $n ESCAPE '\\' OR LOWER(COALESCE(counterparty, '')) LIKE $n ESCAPE '\\')",
            );
        }
        if let Some((day, id)) = filter.after {
            condition(&mut sql, &mut args, Arg::Date(day), " AND (booking_date < $n");
            let day_at = args.len();
            condition(&mut sql, &mut args, Arg::Uuid(id.0), &format!(" OR (booking_date = ${day_at} AND id < $n))"));
        }
        condition(
            &mut sql,
            &mut args,
            Arg::Int(i64::from(filter.limit)),
            " ORDER BY booking_date DESC, id DESC LIMIT $n",
        );
        self.fetch(&sql, &args).await?.iter().map(transaction_from_row).collect()
    }
}
