//! Discovered items: what each connection found at the provider and what the user chose for it.

use crate::accounts::insert_account_in;
use crate::db::{Db, StoreError};
use crate::sql::in_lists;
use crate::sql::insert_rows;
use crate::sql::{parse_stored, Arg, Row, Tx};
use saldo_core::account::{Account, AccountAlias, AccountKind};
use saldo_core::ids::{AccountId, ConnectionId, UserId};
use saldo_core::item::{Item, ItemDecision};
use saldo_core::money::{Currency, Money};
use std::collections::HashMap;
use uuid::Uuid;

pub(crate) const ITEM_COLUMNS: &str =
    "id, connection_id, identity_key, provider_item_id, kind, name, iban, masked_number, currency, \
     current_value_minor, decision, account_id, first_seen_at, vanished_at, synced_through, owner_name";

pub(crate) fn item_from_row(row: &Row) -> Result<Item, StoreError> {
    let currency = parse_stored("currency", &row.get::<String>(8)?, Currency::parse)?;
    Ok(Item {
        id: row.get(0)?,
        connection_id: ConnectionId(row.get(1)?),
        identity_key: row.get(2)?,
        provider_item_id: row.get(3)?,
        kind: parse_stored("account kind", &row.get::<String>(4)?, str::parse::<AccountKind>)?,
        name: row.get(5)?,
        iban: row.get(6)?,
        masked_number: row.get(7)?,
        currency,
        current_value: row.get::<Option<i64>>(9)?.map(|minor| Money::new(minor, currency)),
        decision: parse_stored("item decision", &row.get::<String>(10)?, |d| ItemDecision::parse(d).ok_or("unknown"))?,
        account_id: row.get::<Option<Uuid>>(11)?.map(AccountId),
        first_seen_at: row.get(12)?,
        vanished_at: row.get(13)?,
        synced_through: row.get(14)?,
        owner_name: row.get(15)?,
    })
}

pub(crate) fn item_args(item: &Item) -> Vec<Arg> {
    vec![
        Arg::Uuid(item.id),
        Arg::Uuid(item.connection_id.0),
        Arg::Text(item.identity_key.clone()),
        Arg::Text(item.provider_item_id.clone()),
        Arg::Text(item.kind.as_str().into()),
        Arg::Text(item.name.clone()),
        Arg::OptText(item.iban.clone()),
        Arg::OptText(item.masked_number.clone()),
        Arg::Text(item.currency.code().into()),
        Arg::OptInt(item.current_value.map(|m| m.minor)),
        Arg::Text(item.decision.as_str().into()),
        Arg::OptUuid(item.account_id.map(|a| a.0)),
        Arg::Time(item.first_seen_at),
        Arg::OptTime(item.vanished_at),
        Arg::OptDate(item.synced_through),
        Arg::OptText(item.owner_name.clone()),
    ]
}

/// Stores items, updating those already stored (an item's identity may change, when more of its
/// identifiers are read: core's `diff_items` decides).
pub(crate) async fn upsert_items(tx: &mut Tx, items: &[Item]) -> Result<(), StoreError> {
    insert_rows(
        tx,
        &format!("INSERT INTO items ({ITEM_COLUMNS})"),
        "ON CONFLICT (id) DO UPDATE SET identity_key = excluded.identity_key, \
         provider_item_id = excluded.provider_item_id, \
         kind = excluded.kind, name = excluded.name, iban = excluded.iban, masked_number = excluded.masked_number, \
         current_value_minor = excluded.current_value_minor, decision = excluded.decision, \
         account_id = excluded.account_id, vanished_at = excluded.vanished_at, synced_through = excluded.synced_through, \
         owner_name = excluded.owner_name",
        16,
        items.iter().map(item_args).collect(),
    )
    .await?;
    Ok(())
}

impl Db {
    /// The items of many connections, by connection (each list as [`Db::items`] orders it).
    pub async fn items_of(&self, connections: &[ConnectionId]) -> Result<HashMap<ConnectionId, Vec<Item>>, StoreError> {
        let mut items: HashMap<ConnectionId, Vec<Item>> = HashMap::new();
        for (list, args) in in_lists(connections.iter().map(|id| Arg::Uuid(id.0)).collect()) {
            let sql = format!(
                "SELECT {ITEM_COLUMNS} FROM items WHERE connection_id IN ({list}) \
                 ORDER BY connection_id, first_seen_at, identity_key"
            );
            for row in self.fetch(&sql, &args).await? {
                let item = item_from_row(&row)?;
                items.entry(item.connection_id).or_default().push(item);
            }
        }
        Ok(items)
    }

    pub async fn items(&self, connection: ConnectionId) -> Result<Vec<Item>, StoreError> {
        let sql =
            format!("SELECT {ITEM_COLUMNS} FROM items WHERE connection_id = $1 ORDER BY first_seen_at, identity_key");
        self.fetch(&sql, &[Arg::Uuid(connection.0)]).await?.iter().map(item_from_row).collect()
    }

    /// Applies the user's choices: tracked items get their new accounts (with the item's identity as
    /// alias), ignored ones none. One transaction.
    /// An item takes over the account of another (vanished) item of its connection: the items as
    /// given, the account open again and known by the new item's identity too. One transaction.
    pub async fn adopt_account(
        &self,
        items: &[Item],
        account: AccountId,
        alias: &AccountAlias,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        upsert_items(&mut tx, items).await?;
        tx.execute(
            "UPDATE accounts SET closed = $2, closed_at = NULL WHERE id = $1",
            &[Arg::Uuid(account.0), Arg::Bool(false)],
        )
        .await?;
        crate::accounts::insert_alias_in(&mut tx, account, alias).await?;
        tx.commit().await
    }

    pub async fn decide_items(
        &self,
        items: &[Item],
        new_accounts: &[(Account, AccountAlias)],
        linked: &[(AccountId, ConnectionId, Option<AccountAlias>)],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for (account, alias) in new_accounts {
            insert_account_in(&mut tx, account, std::slice::from_ref(alias), &[]).await?;
        }
        // An account the user had (imported, added by hand, another connection's) that an item
        // now feeds: it keeps its history and is fed by this connection from now on.
        for (account, connection, alias) in linked {
            tx.execute(
                "UPDATE accounts SET origin = 'connection', connection_id = $2, closed = $3, closed_at = NULL, \
                 tracked = $4 WHERE id = $1",
                &[Arg::Uuid(account.0), Arg::Uuid(connection.0), Arg::Bool(false), Arg::Bool(true)],
            )
            .await?;
            if let Some(alias) = alias {
                crate::accounts::insert_alias_in(&mut tx, *account, alias).await?;
            }
        }
        upsert_items(&mut tx, items).await?;
        tx.commit().await
    }

    /// The user's accounts that an item with these identifiers is: one whose IBAN it has, or whose
    /// account number or masked card number it has in the same currency. Open ones first.
    pub async fn accounts_with_identity(
        &self,
        user: UserId,
        iban: Option<&str>,
        number: Option<&str>,
        masked: Option<&str>,
        currency: Currency,
    ) -> Result<Vec<Account>, StoreError> {
        let compact = |text: Option<&str>| {
            text.map(|t| t.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase())
                .filter(|t| !t.is_empty())
        };
        let sql = format!(
            "SELECT {} FROM accounts a WHERE a.user_id = $1 AND EXISTS (SELECT 1 FROM account_aliases x \
             WHERE x.account_id = a.id AND (x.iban = $2 OR (x.currency = $5 AND (x.provider_account_id = $3 \
             OR x.masked_number = $4 OR x.masked_number = $3)))) ORDER BY a.closed, a.created_at, a.id",
            crate::accounts::COLUMNS
        );
        let args = [
            Arg::Uuid(user.0),
            Arg::OptText(compact(iban)),
            Arg::OptText(compact(number)),
            Arg::OptText(masked.map(str::to_string).filter(|m| !m.trim().is_empty())),
            Arg::Text(currency.code().into()),
        ];
        self.fetch(&sql, &args).await?.iter().map(crate::accounts::account_from_row).collect()
    }
}
