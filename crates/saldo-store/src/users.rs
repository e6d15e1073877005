//! Users.

use crate::db::{Db, StoreError};
use crate::sql::{parse_stored, Arg, Row};
use saldo_core::ids::UserId;
use saldo_core::money::Currency;
use saldo_core::user::User;

const COLUMNS: &str = "id, name, base_currency, created_at";

fn user_from_row(row: &Row) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(row.get(0)?),
        name: row.get(1)?,
        base_currency: parse_stored("currency", &row.get::<String>(2)?, Currency::parse)?,
        created_at: row.get(3)?,
    })
}

impl Db {
    /// Returns the user named like `candidate`, creating it from `candidate` when there is none.
    /// Concurrent callers get the same user. A user who exists is only read: every request finds
    /// its user here, and a read must not wait for (or take) the one SQLite writer.
    pub async fn ensure_user(&self, candidate: &User) -> Result<User, StoreError> {
        if let Some(user) = self.user_by_name(&candidate.name).await? {
            return Ok(user);
        }
        self.execute(
            "INSERT INTO users (id, name, base_currency, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO NOTHING",
            &[
                Arg::Uuid(candidate.id.0),
                Arg::Text(candidate.name.clone()),
                Arg::Text(candidate.base_currency.code().into()),
                Arg::Time(candidate.created_at),
            ],
        )
        .await?;
        self.user_by_name(&candidate.name)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {:?}", candidate.name)))
    }

    pub async fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE name = $1");
        self.fetch_optional(&sql, &[Arg::Text(name.into())]).await?.as_ref().map(user_from_row).transpose()
    }

    pub async fn set_base_currency(&self, user: UserId, currency: Currency) -> Result<(), StoreError> {
        let changed = self
            .execute(
                "UPDATE users SET base_currency = $2 WHERE id = $1",
                &[Arg::Uuid(user.0), Arg::Text(currency.code().into())],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("user {user}")));
        }
        Ok(())
    }
}
