//! Transactions.

use crate::db::{Db, StoreError};
use crate::sql::{parse_stored, Arg, Row};
use saldo_core::ids::{AccountId, TransactionId};
use saldo_core::money::{Currency, Money};
use saldo_core::transaction::{Transaction, TransactionStatus};

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
    })
}

impl Db {
    /// Stores transactions in one database transaction. One already stored for its account, by
    /// provider id or else by fingerprint, is skipped; returns how many were new.
    pub async fn insert_transactions(&self, transactions: &[Transaction]) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let inserted = crate::sync::insert_transactions_in(&mut tx, transactions.iter()).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    /// An account's transactions by booking date.
    pub async fn transactions(&self, account: AccountId) -> Result<Vec<Transaction>, StoreError> {
        let rows = self
            .fetch(
                "SELECT id, account_id, status, booking_date, value_date, amount_minor, currency, description, \
                 counterparty, provider_id, fingerprint FROM transactions WHERE account_id = $1 \
                 ORDER BY booking_date, id",
                &[Arg::Uuid(account.0)],
            )
            .await?;
        rows.iter().map(transaction_from_row).collect()
    }
}
