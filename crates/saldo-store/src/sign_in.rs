//! Sessions and API tokens: each kept by the SHA-256 of its token (hex), so a copy of the
//! database signs nobody in.

use crate::db::{Db, StoreError};
use crate::sql::{Arg, Row};
use chrono::{DateTime, Utc};
use saldo_core::ids::UserId;
use uuid::Uuid;

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub id: Uuid,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// When it ends however active it is (the absolute lifetime).
    pub expires_at: DateTime<Utc>,
    pub address: Option<String>,
    pub user_agent: Option<String>,
}

/// A token for scripts and other apps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub id: Uuid,
    pub user_id: UserId,
    pub name: String,
    /// `read` or `read_write`.
    pub scope: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

const SESSION_COLUMNS: &str = "id, user_id, created_at, last_seen_at, expires_at, address, user_agent";
const TOKEN_COLUMNS: &str = "id, user_id, name, scope, created_at, last_used_at";

fn session_from_row(row: &Row) -> Result<StoredSession, StoreError> {
    Ok(StoredSession {
        id: row.get(0)?,
        user_id: UserId(row.get(1)?),
        created_at: row.get(2)?,
        last_seen_at: row.get(3)?,
        expires_at: row.get(4)?,
        address: row.get(5)?,
        user_agent: row.get(6)?,
    })
}

fn token_from_row(row: &Row) -> Result<StoredToken, StoreError> {
    Ok(StoredToken {
        id: row.get(0)?,
        user_id: UserId(row.get(1)?),
        name: row.get(2)?,
        scope: row.get(3)?,
        created_at: row.get(4)?,
        last_used_at: row.get(5)?,
    })
}

impl Db {
    pub async fn add_session(&self, session: &StoredSession, token_hash: &str) -> Result<(), StoreError> {
        let sql = "INSERT INTO sessions (id, user_id, token_hash, created_at, last_seen_at, expires_at, address, \
                   user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        let args = [
            Arg::Uuid(session.id),
            Arg::Uuid(session.user_id.0),
            Arg::Text(token_hash.into()),
            Arg::Time(session.created_at),
            Arg::Time(session.last_seen_at),
            Arg::Time(session.expires_at),
            Arg::OptText(session.address.clone()),
            Arg::OptText(session.user_agent.clone()),
        ];
        self.execute(sql, &args).await.map(|_| ())
    }

    pub async fn session_by_token(&self, token_hash: &str) -> Result<Option<StoredSession>, StoreError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = $1");
        self.fetch_optional(&sql, &[Arg::Text(token_hash.into())]).await?.as_ref().map(session_from_row).transpose()
    }

    pub async fn touch_session(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        let sql = "UPDATE sessions SET last_seen_at = $2 WHERE id = $1";
        self.execute(sql, &[Arg::Uuid(id), Arg::Time(at)]).await.map(|_| ())
    }

    /// The user's sessions, newest first.
    pub async fn sessions_of(&self, user: UserId) -> Result<Vec<StoredSession>, StoreError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, id");
        self.fetch(&sql, &[Arg::Uuid(user.0)]).await?.iter().map(session_from_row).collect()
    }

    /// Ends one of the user's sessions; false when the user has no such session.
    pub async fn delete_session(&self, user: UserId, id: Uuid) -> Result<bool, StoreError> {
        let sql = "DELETE FROM sessions WHERE id = $1 AND user_id = $2";
        Ok(self.execute(sql, &[Arg::Uuid(id), Arg::Uuid(user.0)]).await? > 0)
    }

    /// Ends every session of the user but `keep`; returns how many ended.
    pub async fn delete_sessions(&self, user: UserId, keep: Option<Uuid>) -> Result<u64, StoreError> {
        let sql = "DELETE FROM sessions WHERE user_id = $1 AND ($2 IS NULL OR id <> $2)";
        self.execute(sql, &[Arg::Uuid(user.0), Arg::OptUuid(keep)]).await
    }

    /// Forgets sessions that ended before `now`.
    pub async fn delete_ended_sessions(
        &self,
        now: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let sql = "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2";
        self.execute(sql, &[Arg::Time(now), Arg::Time(idle_before)]).await
    }

    pub async fn add_token(&self, token: &StoredToken, token_hash: &str) -> Result<(), StoreError> {
        let sql = "INSERT INTO api_tokens (id, user_id, name, scope, token_hash, created_at, last_used_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let args = [
            Arg::Uuid(token.id),
            Arg::Uuid(token.user_id.0),
            Arg::Text(token.name.clone()),
            Arg::Text(token.scope.clone()),
            Arg::Text(token_hash.into()),
            Arg::Time(token.created_at),
            Arg::OptTime(token.last_used_at),
        ];
        self.execute(sql, &args).await.map(|_| ())
    }

    pub async fn token_by_hash(&self, token_hash: &str) -> Result<Option<StoredToken>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1");
        self.fetch_optional(&sql, &[Arg::Text(token_hash.into())]).await?.as_ref().map(token_from_row).transpose()
    }

    pub async fn touch_token(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        let sql = "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1";
        self.execute(sql, &[Arg::Uuid(id), Arg::Time(at)]).await.map(|_| ())
    }

    /// The user's tokens, newest first.
    pub async fn tokens_of(&self, user: UserId) -> Result<Vec<StoredToken>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id");
        self.fetch(&sql, &[Arg::Uuid(user.0)]).await?.iter().map(token_from_row).collect()
    }

    /// Revokes one of the user's tokens; false when the user has no such token.
    pub async fn delete_token(&self, user: UserId, id: Uuid) -> Result<bool, StoreError> {
        let sql = "DELETE FROM api_tokens WHERE id = $1 AND user_id = $2";
        Ok(self.execute(sql, &[Arg::Uuid(id), Arg::Uuid(user.0)]).await? > 0)
    }
}
