//! In-app notifications: stored once per user and key (an episode announced once), read newest first.

use crate::db::{Db, StoreError};
use crate::sql::insert_rows;
use crate::sql::{parse_stored, Arg, Tx};
use chrono::{DateTime, Utc};
use saldo_core::ids::{ConnectionId, InstitutionId, UserId};
use saldo_core::notification::{Level, Notification, NotificationKind};
use uuid::Uuid;

pub(crate) fn notification_args(n: &Notification) -> Vec<Arg> {
    vec![
        Arg::Uuid(n.id),
        Arg::Uuid(n.user_id.0),
        Arg::OptUuid(n.connection_id.map(|c| c.0)),
        Arg::OptUuid(n.institution_id.map(|i| i.0)),
        Arg::Text(n.kind.as_str().into()),
        Arg::Text(n.level.as_str().into()),
        Arg::Text(n.message.clone()),
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
        "INSERT INTO notifications (id, user_id, connection_id, institution_id, kind, level, message, key, \
         created_at, read_at)",
        "ON CONFLICT (user_id, key) DO NOTHING",
        10,
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
                "SELECT id, user_id, connection_id, institution_id, kind, level, message, key, created_at, read_at \
                 FROM notifications WHERE user_id = $1 AND (read_at IS NULL OR NOT $2) ORDER BY created_at DESC, id DESC",
                &[Arg::Uuid(user.0), Arg::Bool(unread_only)],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Notification {
                    id: row.get(0)?,
                    user_id: UserId(row.get(1)?),
                    connection_id: row.get::<Option<Uuid>>(2)?.map(ConnectionId),
                    institution_id: row.get::<Option<Uuid>>(3)?.map(InstitutionId),
                    kind: parse_stored("notification kind", &row.get::<String>(4)?, |k| {
                        NotificationKind::parse(k).ok_or("unknown")
                    })?,
                    level: parse_stored("notification level", &row.get::<String>(5)?, |l| {
                        Level::parse(l).ok_or("unknown")
                    })?,
                    message: row.get(6)?,
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
