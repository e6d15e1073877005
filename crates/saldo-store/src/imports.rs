//! Statement imports: everything one file brings is written in one database transaction, so a file
//! that fails part-way leaves nothing behind.

use crate::db::{Db, StoreError};
use crate::sql::{Arg, Tx};
use chrono::{DateTime, NaiveDate, Utc};
use saldo_core::account::{Account, AccountAlias};
use saldo_core::balance::BalancePoint;
use saldo_core::holding::Holding;
use saldo_core::ids::{AccountId, UserId};
use saldo_core::money::Currency;
use saldo_core::transaction::{Source, Transaction};

pub use saldo_core::dedupe::StoredEntry;

/// An open import: writes are seen by its own reads and land together on [`ImportTx::commit`].
pub struct ImportTx {
    tx: Tx,
}

impl Db {
    pub async fn begin_import(&self) -> Result<ImportTx, StoreError> {
        Ok(ImportTx { tx: self.begin().await? })
    }

    /// The CSV layout saved for an account, as JSON.
    pub async fn csv_profile(&self, account: AccountId) -> Result<Option<String>, StoreError> {
        let row = self
            .fetch_optional("SELECT profile FROM csv_profiles WHERE account_id = $1", &[Arg::Uuid(account.0)])
            .await?;
        row.map(|row| row.get(0)).transpose()
    }
}

impl ImportTx {
    /// The user's account a statement identifies: by IBAN, else by account number, in the
    /// statement's currency when it states one.
    pub async fn account_by_identity(
        &mut self,
        user: UserId,
        iban: Option<&str>,
        number: Option<&str>,
        currency: Option<Currency>,
    ) -> Result<Option<AccountId>, StoreError> {
        let currency_code = currency.map(|c| c.code().to_string());
        for (column, value) in [("iban", iban), ("provider_account_id", number), ("masked_number", number)] {
            let Some(value) = value else { continue };
            let sql = format!(
                "SELECT a.id FROM account_aliases x JOIN accounts a ON a.id = x.account_id \
                 WHERE a.user_id = $1 AND x.{column} = $2 AND ($3 IS NULL OR x.currency = $3) \
                 ORDER BY a.closed, a.created_at LIMIT 1"
            );
            let args = [Arg::Uuid(user.0), Arg::Text(value.to_string()), Arg::OptText(currency_code.clone())];
            if let Some(row) = self.tx.fetch(&sql, &args).await?.first() {
                return Ok(Some(AccountId(row.get(0)?)));
            }
        }
        Ok(None)
    }

    /// The user's open accounts that imports created for statements naming no account (they have
    /// no alias), in `currency` when given, oldest first: where a file that names no account may
    /// have gone before. Accounts this import created are among them.
    pub async fn unnamed_import_accounts(
        &mut self,
        user: UserId,
        currency: Option<Currency>,
    ) -> Result<Vec<Account>, StoreError> {
        let sql = format!(
            "SELECT {} FROM accounts a WHERE a.user_id = $1 AND a.origin = 'import' AND a.closed = $2 \
             AND ($3 IS NULL OR a.currency = $3) \
             AND NOT EXISTS (SELECT 1 FROM account_aliases x WHERE x.account_id = a.id) \
             ORDER BY a.created_at, a.id",
            crate::accounts::COLUMNS
        );
        let args = [Arg::Uuid(user.0), Arg::Bool(false), Arg::OptText(currency.map(|c| c.code().to_string()))];
        self.tx.fetch(&sql, &args).await?.iter().map(crate::accounts::account_from_row).collect()
    }

    pub async fn create_account(&mut self, account: &Account, alias: Option<&AccountAlias>) -> Result<(), StoreError> {
        let aliases: Vec<AccountAlias> = alias.into_iter().cloned().collect();
        crate::accounts::insert_account_in(&mut self.tx, account, &aliases, &[]).await
    }

    /// The account's stored transactions booked between `from` and `to`, for deduplication.
    pub async fn entries_between(
        &mut self,
        account: AccountId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let rows = self
            .tx
            .fetch(
                "SELECT booking_date, amount_minor, provider_id, status, fingerprint, source FROM transactions \
                 WHERE account_id = $1 AND booking_date >= $2 AND booking_date <= $3",
                &[Arg::Uuid(account.0), Arg::Date(from), Arg::Date(to)],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredEntry {
                    booking_date: row.get(0)?,
                    amount_minor: row.get(1)?,
                    provider_id: row.get(2)?,
                    pending: row.get::<String>(3)? == "pending",
                    fingerprint: row.get(4)?,
                    source: Source::parse(row.get::<Option<String>>(5)?.as_deref()),
                })
            })
            .collect()
    }

    /// Inserts transactions; one already stored under the same identity is skipped, but a booking
    /// under an id the account holds for another booking is stored under its fingerprint. Returns
    /// how many were new, and how many of those reused an id.
    pub async fn insert_transactions(&mut self, transactions: &[Transaction]) -> Result<(u64, u64), StoreError> {
        let inserted = crate::transactions::insert_transactions_in(&mut self.tx, transactions.iter()).await?;
        Ok((inserted.new.len() as u64, inserted.reused_ids.len() as u64))
    }

    /// Deletes the account's pending transactions with these (booking date, amount, provider id)
    /// identities, one row each: they were booked since. Returns how many went.
    pub async fn delete_pending(&mut self, account: AccountId, entries: &[StoredEntry]) -> Result<u64, StoreError> {
        let mut deleted = 0;
        for entry in entries {
            deleted += self
                .tx
                .execute(
                    "DELETE FROM transactions WHERE id IN (SELECT id FROM transactions WHERE account_id = $1 \
                     AND status = 'pending' AND booking_date = $2 AND amount_minor = $3 \
                     AND (provider_id = $4 OR ($4 IS NULL AND provider_id IS NULL)) LIMIT 1)",
                    &[
                        Arg::Uuid(account.0),
                        Arg::Date(entry.booking_date),
                        Arg::Int(entry.amount_minor),
                        Arg::OptText(entry.provider_id.clone()),
                    ],
                )
                .await?;
        }
        Ok(deleted)
    }

    /// Appends balance points; returns how many were new.
    pub async fn insert_points(&mut self, points: &[BalancePoint]) -> Result<u64, StoreError> {
        crate::balances::insert_points_in(&mut self.tx, points).await
    }

    /// Stores a balance point, replacing the amount of one observed at the same moment; returns
    /// whether it was new.
    pub async fn replace_point(&mut self, point: &BalancePoint) -> Result<bool, StoreError> {
        let held = self
            .tx
            .fetch(
                "SELECT 1 FROM balance_points WHERE account_id = $1 AND as_of = $2 AND observed_at = $3",
                &[Arg::Uuid(point.account_id.0), Arg::Date(point.date), Arg::Time(point.observed_at)],
            )
            .await?;
        self.tx
            .execute(
                "INSERT INTO balance_points (account_id, as_of, observed_at, amount_minor, currency, source) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id, as_of, observed_at) \
                 DO UPDATE SET amount_minor = excluded.amount_minor, source = excluded.source",
                &crate::balances::point_args(point),
            )
            .await?;
        Ok(held.is_empty())
    }

    pub async fn upsert_holdings(&mut self, holdings: &[Holding]) -> Result<(), StoreError> {
        crate::balances::upsert_holdings_in(&mut self.tx, holdings).await
    }

    /// Remembers the CSV layout used for an account's files.
    pub async fn save_csv_profile(
        &mut self,
        account: AccountId,
        profile_json: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO csv_profiles (account_id, profile, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (account_id) DO UPDATE SET profile = excluded.profile, updated_at = excluded.updated_at",
                &[Arg::Uuid(account.0), Arg::Text(profile_json.to_string()), Arg::Time(now)],
            )
            .await?;
        Ok(())
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await
    }
}
