//! In-app notifications: stored once per user and key (an episode announced once), read newest first.

use crate::db::{Db, StoreError};
use crate::sql::insert_rows;
use crate::sql::{parse_stored, Arg, Tx};
use chrono::{DateTime, Utc};
use saldo_core::failure::FailureKind;
use saldo_core::ids::{ConnectionId, InstitutionId, UserId};
use saldo_core::notification::{Level, Notification, NotificationKind, Params};
use serde_json::{json, Value};
use uuid::Uuid;

pub(crate) fn notification_args(n: &Notification) -> Vec<Arg> {
    vec![
        Arg::Uuid(n.id),
        Arg::Uuid(n.user_id.0),
        Arg::OptUuid(n.connection_id.map(|c| c.0)),
        Arg::OptUuid(n.institution_id.map(|i| i.0)),
        Arg::Text(n.kind.as_str().into()),
        Arg::Text(n.level.as_str().into()),
        Arg::Text(n.text()),
        Arg::OptText(params_json(&n.params)),
        Arg::Text(n.key.clone()),
        Arg::Time(n.created_at),
        Arg::OptTime(n.read_at),
    ]
}

/// Stores notifications; one whose (user, key) is already stored is an episode already announced
/// and is skipped. Returns how many were new.
pub(crate) async fn insert_notifications_in(tx: &mut Tx, notifications: &[Notification]) -> Result<u64, StoreError> {
    // Two of the same key in one statement would be refused by PostgreSQL's ON CONFLICT too.
    let mut seen = std::collections::HashSet::new();
    insert_rows(
        tx,
        "INSERT INTO notifications (id, user_id, connection_id, institution_id, kind, level, message, params, \
         key, created_at, read_at)",
        "ON CONFLICT (user_id, key) DO NOTHING",
        11,
        notifications.iter().filter(|n| seen.insert((n.user_id, n.key.as_str()))).map(notification_args).collect(),
    )
    .await
}

impl Db {
    /// Stores notifications; one whose key the user already has is skipped. Returns how many were new.
    pub async fn insert_notifications(&self, notifications: &[Notification]) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let inserted = insert_notifications_in(&mut tx, notifications).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    /// A user's notifications, newest first.
    pub async fn notifications(&self, user: UserId, unread_only: bool) -> Result<Vec<Notification>, StoreError> {
        let rows = self
            .fetch(
                "SELECT id, user_id, connection_id, institution_id, kind, level, message, key, created_at, read_at, params \
                 FROM notifications WHERE user_id = $1 AND (read_at IS NULL OR NOT $2) ORDER BY created_at DESC, id DESC",
                &[Arg::Uuid(user.0), Arg::Bool(unread_only)],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let kind = parse_stored("notification kind", &row.get::<String>(4)?, |k| {
                    NotificationKind::parse(k).ok_or("unknown")
                })?;
                // Parameters this build cannot read (from a newer one, say) still leave the text.
                let params = match row.get::<Option<String>>(10)? {
                    Some(json) => {
                        params_from_json(kind, &json).or_else(|_| row.get(6).map(|text| Params::Text { kind, text }))?
                    }
                    None => Params::Text { kind, text: row.get(6)? },
                };
                Ok(Notification {
                    id: row.get(0)?,
                    user_id: UserId(row.get(1)?),
                    connection_id: row.get::<Option<Uuid>>(2)?.map(ConnectionId),
                    institution_id: row.get::<Option<Uuid>>(3)?.map(InstitutionId),
                    kind,
                    level: parse_stored("notification level", &row.get::<String>(5)?, |l| {
                        Level::parse(l).ok_or("unknown")
                    })?,
                    params,
                    key: row.get(7)?,
                    created_at: row.get(8)?,
                    read_at: row.get(9)?,
                })
            })
            .collect()
    }

    /// Marks a user's notifications read: the given ones, or all when `ids` is empty.
    pub async fn mark_notifications_read(
        &self,
        user: UserId,
        ids: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return self
                .execute(
                    "UPDATE notifications SET read_at = $2 WHERE user_id = $1 AND read_at IS NULL",
                    &[Arg::Uuid(user.0), Arg::Time(now)],
                )
                .await;
        }
        let mut tx = self.begin().await?;
        let mut marked = 0;
        for id in ids {
            marked += tx
                .execute(
                    "UPDATE notifications SET read_at = $3 WHERE user_id = $1 AND id = $2 AND read_at IS NULL",
                    &[Arg::Uuid(user.0), Arg::Uuid(*id), Arg::Time(now)],
                )
                .await?;
        }
        tx.commit().await?;
        Ok(marked)
    }
}

/// A notification's parameters as stored: a JSON object whose fields its kind says; `None` for a
/// notification that only has its text.
fn params_json(params: &Params) -> Option<String> {
    let value = match params {
        Params::ReconnectNeeded { institution, failure, accounts } => {
            json!({ "institution": institution, "failure": failure.as_str(), "names": accounts })
        }
        Params::ConsentExpiring { institution, ends_on, within_a_day } => {
            json!({ "institution": institution, "ends_on": ends_on.to_string(), "within_a_day": within_a_day })
        }
        Params::ErrorPersisted { institution, since, failure } => {
            json!({ "institution": institution, "since": since.to_rfc3339(), "failure": failure.as_str() })
        }
        Params::OutageBegan { institution }
        | Params::OutageEnded { institution }
        | Params::SyncRecovered { institution } => {
            json!({ "institution": institution })
        }
        Params::NewItemsFound { institution, names } | Params::ItemsVanished { institution, names } => {
            json!({ "institution": institution, "names": names })
        }
        Params::Text { .. } => return None,
    };
    Some(value.to_string())
}

fn params_from_json(kind: NotificationKind, json: &str) -> Result<Params, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt { what: "notification parameters", message };
    let value: Value = serde_json::from_str(json).map_err(|err| corrupt(err.to_string()))?;
    let text = |field: &str| {
        value.get(field).and_then(Value::as_str).map(str::to_string).ok_or_else(|| corrupt(format!("no {field}")))
    };
    let failure = || {
        let name = text("failure")?;
        FailureKind::parse(&name).ok_or_else(|| corrupt(format!("unknown failure {name:?}")))
    };
    let names = || -> Vec<String> {
        let listed = value.get("names").and_then(Value::as_array);
        listed.map(|names| names.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default()
    };
    let institution = text("institution")?;
    Ok(match kind {
        NotificationKind::ReconnectNeeded => {
            Params::ReconnectNeeded { institution, failure: failure()?, accounts: names() }
        }
        NotificationKind::ConsentExpiring => Params::ConsentExpiring {
            institution,
            ends_on: text("ends_on")?.parse().map_err(|_| corrupt("ends_on is no day".into()))?,
            within_a_day: value.get("within_a_day").and_then(Value::as_bool).unwrap_or(false),
        },
        NotificationKind::ErrorPersisted => Params::ErrorPersisted {
            institution,
            since: DateTime::parse_from_rfc3339(&text("since")?)
                .map_err(|_| corrupt("since is no time".into()))?
                .with_timezone(&Utc),
            failure: failure()?,
        },
        NotificationKind::OutageBegan => Params::OutageBegan { institution },
        NotificationKind::OutageEnded => Params::OutageEnded { institution },
        NotificationKind::SyncRecovered => Params::SyncRecovered { institution },
        NotificationKind::NewItemsFound => Params::NewItemsFound { institution, names: names() },
        NotificationKind::ItemsVanished => Params::ItemsVanished { institution, names: names() },
    })
}
