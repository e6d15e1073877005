//! Authorisations under way in a browser, kept until the provider sends the user back.

use crate::db::{Db, StoreError};
use crate::sql::{parse_stored, Arg};
use chrono::{DateTime, Utc};
use saldo_core::ids::{ConnectionId, InstitutionId, UserId};

/// Whether an authorisation creates a connection or renews one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Connect, tracking every item found, and sync at once (the API and the command line).
    Connect,
    /// Connect, and let the person choose the items to track before anything is synced (the
    /// web app's connect flow).
    ConnectChoosing,
    Reconnect,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Connect => "connect",
            Purpose::ConnectChoosing => "connect_choosing",
            Purpose::Reconnect => "reconnect",
        }
    }
}

/// One authorisation waiting for its callback, found by its `state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAuthorization {
    pub state: String,
    pub purpose: Purpose,
    pub user_id: UserId,
    pub connection_id: ConnectionId,
    pub institution_id: InstitutionId,
    pub user_key: String,
    pub redirect_url: String,
    /// What the connector asked to be handed back at completion.
    pub resume: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Db {
    /// Keeps an authorisation until its callback; forgets those that expired.
    pub async fn save_authorization(&self, auth: &StoredAuthorization) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.execute("DELETE FROM pending_authorizations WHERE expires_at <= $1", &[Arg::Time(auth.created_at)]).await?;
        tx.execute(
            "INSERT INTO pending_authorizations (state, purpose, user_id, connection_id, institution_id, user_key, \
             redirect_url, created_at, expires_at, resume) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                Arg::Text(auth.state.clone()),
                Arg::Text(auth.purpose.as_str().into()),
                Arg::Uuid(auth.user_id.0),
                Arg::Uuid(auth.connection_id.0),
                Arg::Uuid(auth.institution_id.0),
                Arg::Text(auth.user_key.clone()),
                Arg::Text(auth.redirect_url.clone()),
                Arg::Time(auth.created_at),
                Arg::Time(auth.expires_at),
                Arg::OptText(auth.resume.clone()),
            ],
        )
        .await?;
        tx.commit().await
    }

    /// Takes the authorisation a callback's `state` names, once: a second callback with the same
    /// state finds nothing, so a replayed redirect cannot connect twice. `None` when unknown, used
    /// or expired at `now`.
    pub async fn take_authorization(
        &self,
        state: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredAuthorization>, StoreError> {
        let mut tx = self.begin().await?;
        let rows = tx
            .fetch(
                &format!(
                    "UPDATE pending_authorizations SET taken_at = $2 \
                     WHERE state = $1 AND taken_at IS NULL AND expires_at > $2 RETURNING {COLUMNS}"
                ),
                &[Arg::Text(state.into()), Arg::Time(now)],
            )
            .await?;
        tx.commit().await?;
        rows.first().map(from_row).transpose()
    }

    /// Records how completing a taken authorisation went: `error` is what the user is told.
    pub async fn finish_authorization(
        &self,
        state: &str,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE pending_authorizations SET finished_at = $2, error = $3 WHERE state = $1",
            &[Arg::Text(state.into()), Arg::Time(now), Arg::OptText(error.map(str::to_string))],
        )
        .await?;
        Ok(())
    }

    /// Where the authorisation a `state` names has got to; `None` once it is unknown or expired at
    /// `now` without having been taken.
    pub async fn authorization_progress(
        &self,
        state: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AuthorizationProgress>, StoreError> {
        Ok(self.authorization_status(state, now).await?.map(|(_, progress)| progress))
    }

    /// The authorisation a `state` names, with where it has got to (see
    /// [`Db::authorization_progress`]).
    pub async fn authorization_status(
        &self,
        state: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(StoredAuthorization, AuthorizationProgress)>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS}, taken_at, finished_at, error FROM pending_authorizations WHERE state = $1");
        let Some(row) = self.fetch_optional(&sql, &[Arg::Text(state.into())]).await? else { return Ok(None) };
        let auth = from_row(&row)?;
        let taken: Option<DateTime<Utc>> = row.get(10)?;
        let finished: Option<DateTime<Utc>> = row.get(11)?;
        let error: Option<String> = row.get(12)?;
        let progress = match (taken, finished, error) {
            (None, _, _) if auth.expires_at <= now => return Ok(None),
            (None, _, _) => AuthorizationProgress::Waiting,
            (Some(_), None, _) => AuthorizationProgress::Completing,
            (Some(_), Some(_), None) => AuthorizationProgress::Done,
            (Some(_), Some(_), Some(error)) => AuthorizationProgress::Failed(error),
        };
        Ok(Some((auth, progress)))
    }

    /// The authorisation a `state` names, if it is still waiting at `now`; it stays waiting.
    pub async fn authorization(
        &self,
        state: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredAuthorization>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM pending_authorizations WHERE state = $1 AND expires_at > $2 AND taken_at IS NULL"
        );
        let row = self.fetch_optional(&sql, &[Arg::Text(state.into()), Arg::Time(now)]).await?;
        row.as_ref().map(from_row).transpose()
    }
}

/// How far a browser authorisation has got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizationProgress {
    /// The provider has not sent the user back yet.
    Waiting,
    /// The callback arrived and is completing it.
    Completing,
    Done,
    /// Completing failed; what the user is told.
    Failed(String),
}

const COLUMNS: &str =
    "state, purpose, user_id, connection_id, institution_id, user_key, redirect_url, created_at, expires_at, resume";

fn from_row(row: &crate::sql::Row) -> Result<StoredAuthorization, StoreError> {
    Ok(StoredAuthorization {
        state: row.get(0)?,
        purpose: parse_stored("authorization purpose", &row.get::<String>(1)?, |p| match p {
            "connect" => Ok(Purpose::Connect),
            "connect_choosing" => Ok(Purpose::ConnectChoosing),
            "reconnect" => Ok(Purpose::Reconnect),
            _ => Err("expected connect, connect_choosing or reconnect"),
        })?,
        user_id: UserId(row.get(2)?),
        connection_id: ConnectionId(row.get(3)?),
        institution_id: InstitutionId(row.get(4)?),
        user_key: row.get(5)?,
        redirect_url: row.get(6)?,
        created_at: row.get(7)?,
        expires_at: row.get(8)?,
        resume: row.get(9)?,
    })
}
