//! Accounts and their provider aliases.

use crate::balances::insert_point;
use crate::db::{Db, StoreError};
use crate::sql::{parse_stored, Arg, Row, Tx};
use saldo_core::account::{Account, AccountAlias, AccountKind, Origin};
use saldo_core::balance::BalancePoint;
use saldo_core::ids::{AccountId, ConnectionId, UserId};
use saldo_core::money::Currency;

pub(crate) const COLUMNS: &str =
    "id, user_id, name, kind, currency, tracked, origin, connection_id, closed, created_at";

pub(crate) fn account_from_row(row: &Row) -> Result<Account, StoreError> {
    let connection: Option<uuid::Uuid> = row.get(7)?;
    let origin = match (row.get::<String>(6)?.as_str(), connection) {
        ("connection", Some(id)) => Origin::Connection(ConnectionId(id)),
        // A connection-origin account whose connection was deleted keeps its history as an import.
        ("connection", None) | ("import", _) => Origin::Import,
        ("manual", _) => Origin::Manual,
        (other, _) => return Err(StoreError::Corrupt { what: "account origin", message: format!("{other:?}") }),
    };
    Ok(Account {
        id: AccountId(row.get(0)?),
        user_id: UserId(row.get(1)?),
        name: row.get(2)?,
        kind: parse_stored("account kind", &row.get::<String>(3)?, str::parse::<AccountKind>)?,
        currency: parse_stored("currency", &row.get::<String>(4)?, Currency::parse)?,
        tracked: row.get(5)?,
        origin,
        closed: row.get(8)?,
        created_at: row.get(9)?,
    })
}

impl Db {
    /// Stores a new account with the provider identities it is known by and its first balance points,
    /// in one transaction.
    pub async fn insert_account(
        &self,
        account: &Account,
        aliases: &[AccountAlias],
        points: &[BalancePoint],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        insert_account_in(&mut tx, account, aliases, points).await?;
        tx.commit().await
    }

    pub async fn account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM accounts WHERE id = $1");
        self.fetch_optional(&sql, &[Arg::Uuid(id.0)]).await?.as_ref().map(account_from_row).transpose()
    }

    /// A user's accounts, oldest first.
    pub async fn accounts(&self, user: UserId) -> Result<Vec<Account>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM accounts WHERE user_id = $1 ORDER BY created_at, id");
        self.fetch(&sql, &[Arg::Uuid(user.0)]).await?.iter().map(account_from_row).collect()
    }

    /// Saves an account's name, kind, tracked and closed flags. Its id, owner, currency and origin
    /// never change.
    pub async fn update_account(&self, account: &Account) -> Result<(), StoreError> {
        let changed = self
            .execute(
                "UPDATE accounts SET name = $2, kind = $3, tracked = $4, closed = $5 WHERE id = $1",
                &[
                    Arg::Uuid(account.id.0),
                    Arg::Text(account.name.clone()),
                    Arg::Text(account.kind.as_str().into()),
                    Arg::Bool(account.tracked),
                    Arg::Bool(account.closed),
                ],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("account {}", account.id)));
        }
        Ok(())
    }

    /// Deletes an account with its whole history; returns whether it existed. An item that fed
    /// it is offered again, so tracking it later fetches its history anew.
    pub async fn delete_account(&self, id: AccountId) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        tx.execute(
            "UPDATE items SET decision = 'offered', account_id = NULL, synced_through = NULL WHERE account_id = $1",
            &[Arg::Uuid(id.0)],
        )
        .await?;
        let deleted = tx.execute("DELETE FROM accounts WHERE id = $1", &[Arg::Uuid(id.0)]).await? > 0;
        tx.commit().await?;
        Ok(deleted)
    }

    pub async fn aliases(&self, account: AccountId) -> Result<Vec<AccountAlias>, StoreError> {
        let rows = self
            .fetch(
                "SELECT provider_account_id, iban, masked_number, currency, name FROM account_aliases \
                 WHERE account_id = $1 ORDER BY id",
                &[Arg::Uuid(account.0)],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(AccountAlias {
                    provider_account_id: row.get(0)?,
                    iban: row.get(1)?,
                    masked_number: row.get(2)?,
                    currency: parse_stored("currency", &row.get::<String>(3)?, Currency::parse)?,
                    name: row.get(4)?,
                })
            })
            .collect()
    }
}

/// Stores an account, its aliases and first balance points inside an open transaction.
pub(crate) async fn insert_account_in(
    tx: &mut Tx,
    account: &Account,
    aliases: &[AccountAlias],
    points: &[BalancePoint],
) -> Result<(), StoreError> {
    tx.execute(
        &format!("INSERT INTO accounts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
        &[
            Arg::Uuid(account.id.0),
            Arg::Uuid(account.user_id.0),
            Arg::Text(account.name.clone()),
            Arg::Text(account.kind.as_str().into()),
            Arg::Text(account.currency.code().into()),
            Arg::Bool(account.tracked),
            Arg::Text(account.origin.as_str().into()),
            Arg::OptUuid(account.origin.connection_id().map(|id| id.0)),
            Arg::Bool(account.closed),
            Arg::Time(account.created_at),
        ],
    )
    .await?;
    for alias in aliases {
        insert_alias_in(tx, account.id, alias).await?;
    }
    for point in points {
        insert_point(tx, point).await?;
    }
    Ok(())
}

/// Records a provider identity of an account inside an open transaction.
pub(crate) async fn insert_alias_in(tx: &mut Tx, account: AccountId, alias: &AccountAlias) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO account_aliases (account_id, provider_account_id, iban, masked_number, currency, name) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            Arg::Uuid(account.0),
            Arg::OptText(alias.provider_account_id.clone()),
            Arg::OptText(alias.iban.clone()),
            Arg::OptText(alias.masked_number.clone()),
            Arg::Text(alias.currency.code().into()),
            Arg::OptText(alias.name.clone()),
        ],
    )
    .await?;
    Ok(())
}
