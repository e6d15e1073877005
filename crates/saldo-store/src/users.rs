//! Users, and what they sign in with: the password's hash (never read with the user, so it goes
//! nowhere a user goes), sessions and API tokens (`sign_in.rs`).

use crate::db::{Db, StoreError};
use crate::sql::{parse_stored, Arg, Row};
use saldo_core::ids::UserId;
use saldo_core::money::Currency;
use saldo_core::user::{Role, User};

const COLUMNS: &str = "id, name, email, display_name, role, base_currency, created_at";

fn user_from_row(row: &Row) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(row.get(0)?),
        name: row.get(1)?,
        email: row.get(2)?,
        display_name: row.get(3)?,
        role: parse_stored("role", &row.get::<String>(4)?, |r| Role::parse(r).ok_or("unknown role"))?,
        base_currency: parse_stored("currency", &row.get::<String>(5)?, Currency::parse)?,
        created_at: row.get(6)?,
    })
}

/// What changes about a user when they (or the owner) edit them; `None` leaves it as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub base_currency: Option<Currency>,
    /// A new password's argon2id hash (PHC string).
    pub password_hash: Option<String>,
}

impl Db {
    /// Returns the user named like `candidate`, creating it from `candidate` when there is none.
    /// Concurrent callers get the same user. A user who exists is only read: every request finds
    /// its user here, and a read must not wait for (or take) the one SQLite writer.
    pub async fn ensure_user(&self, candidate: &User) -> Result<User, StoreError> {
        if let Some(user) = self.user_by_name(&candidate.name).await? {
            return Ok(user);
        }
        self.insert_user(candidate, None, true).await?;
        self.user_by_name(&candidate.name)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {:?}", candidate.name)))
    }

    /// Adds a user with a password's hash. A name or e-mail another user has is a `Conflict`.
    pub async fn add_user(&self, user: &User, password_hash: Option<&str>) -> Result<(), StoreError> {
        self.insert_user(user, password_hash, false).await
    }

    async fn insert_user(&self, user: &User, password_hash: Option<&str>, may_exist: bool) -> Result<(), StoreError> {
        let mut sql = "INSERT INTO users (id, name, email, display_name, role, base_currency, created_at, \
                       password_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            .to_string();
        if may_exist {
            sql.push_str(" ON CONFLICT (name) DO NOTHING");
        }
        let args = [
            Arg::Uuid(user.id.0),
            Arg::Text(user.name.clone()),
            Arg::OptText(user.email.clone()),
            Arg::OptText(user.display_name.clone()),
            Arg::Text(user.role.as_str().into()),
            Arg::Text(user.base_currency.code().into()),
            Arg::Time(user.created_at),
            Arg::OptText(password_hash.map(str::to_string)),
        ];
        match self.execute(&sql, &args).await {
            Err(err) if err.is_unique_violation() => Err(StoreError::Conflict(format!(
                "a user with e-mail {} exists already",
                user.email.as_deref().unwrap_or(&user.name)
            ))),
            other => other.map(|_| ()),
        }
    }

    pub async fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError> {
        self.user_where("name = $1", Arg::Text(name.into())).await
    }

    pub async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.user_where("id = $1", Arg::Uuid(id.0)).await
    }

    /// The user who signs in with `email` (already normalised).
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        self.user_where("email = $1", Arg::Text(email.into())).await
    }

    /// The install's owner: the first user to be one.
    pub async fn owner(&self) -> Result<Option<User>, StoreError> {
        self.user_where("role = $1", Arg::Text(Role::Owner.as_str().into())).await
    }

    async fn user_where(&self, condition: &str, arg: Arg) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE {condition} ORDER BY created_at, id LIMIT 1");
        self.fetch_optional(&sql, &[arg]).await?.as_ref().map(user_from_row).transpose()
    }

    /// Every user, oldest first.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM users ORDER BY created_at, id");
        self.fetch(&sql, &[]).await?.iter().map(user_from_row).collect()
    }

    /// Whether any user can sign in yet: until one can, the install waits to be claimed.
    pub async fn any_password(&self) -> Result<bool, StoreError> {
        Ok(self.fetch_optional("SELECT id FROM users WHERE password_hash IS NOT NULL LIMIT 1", &[]).await?.is_some())
    }

    /// The hash of the user's password, if they have one.
    pub async fn password_hash(&self, user: UserId) -> Result<Option<String>, StoreError> {
        let row = self.fetch_optional("SELECT password_hash FROM users WHERE id = $1", &[Arg::Uuid(user.0)]).await?;
        Ok(row.map(|row| row.get::<Option<String>>(0)).transpose()?.flatten())
    }

    /// Changes what `change` names about a user. An e-mail another user has is a `Conflict`.
    pub async fn change_user(&self, user: UserId, change: &UserChange) -> Result<(), StoreError> {
        let sql = "UPDATE users SET email = COALESCE($2, email), display_name = COALESCE($3, display_name), \
                   base_currency = COALESCE($4, base_currency), password_hash = COALESCE($5, password_hash) \
                   WHERE id = $1";
        let args = [
            Arg::Uuid(user.0),
            Arg::OptText(change.email.clone()),
            Arg::OptText(change.display_name.clone()),
            Arg::OptText(change.base_currency.map(|c| c.code().to_string())),
            Arg::OptText(change.password_hash.clone()),
        ];
        match self.execute(sql, &args).await {
            Ok(0) => Err(StoreError::NotFound(format!("user {user}"))),
            Ok(_) => Ok(()),
            Err(err) if err.is_unique_violation() => Err(StoreError::Conflict(format!(
                "a user with e-mail {} exists already",
                change.email.as_deref().unwrap_or_default()
            ))),
            Err(err) => Err(err),
        }
    }

    pub async fn set_base_currency(&self, user: UserId, currency: Currency) -> Result<(), StoreError> {
        self.change_user(user, &UserChange { base_currency: Some(currency), ..UserChange::default() }).await
    }

    /// Removes a user and everything that is theirs (accounts, history, connections, sessions,
    /// tokens), in one statement that the schema's cascades carry through. Returns whether there
    /// was such a user.
    pub async fn delete_user(&self, user: UserId) -> Result<bool, StoreError> {
        Ok(self.execute("DELETE FROM users WHERE id = $1", &[Arg::Uuid(user.0)]).await? > 0)
    }
}
