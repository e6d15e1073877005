//! In-app notifications: what the engine tells a user, at which level, and the key that makes each
//! one unique, so that an episode is announced once however often the engine retries or restarts.

use crate::ids::{ConnectionId, InstitutionId, UserId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NotificationKind {
    /// A connection needs the user: reconnect.
    ReconnectNeeded,
    /// The consent ends in 7 days or in 1 day.
    ConsentExpiring,
    /// A temporary failure has lasted 24 hours.
    ErrorPersisted,
    OutageBegan,
    OutageEnded,
    /// Syncing works again after an announced failure.
    SyncRecovered,
    /// The provider shows items the user has not chosen to track or ignore yet.
    NewItemsFound,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 7] = [
        NotificationKind::ReconnectNeeded,
        NotificationKind::ConsentExpiring,
        NotificationKind::ErrorPersisted,
        NotificationKind::OutageBegan,
        NotificationKind::OutageEnded,
        NotificationKind::SyncRecovered,
        NotificationKind::NewItemsFound,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::ReconnectNeeded => "reconnect_needed",
            NotificationKind::ConsentExpiring => "consent_expiring",
            NotificationKind::ErrorPersisted => "error_persisted",
            NotificationKind::OutageBegan => "outage_began",
            NotificationKind::OutageEnded => "outage_ended",
            NotificationKind::SyncRecovered => "sync_recovered",
            NotificationKind::NewItemsFound => "new_items_found",
        }
    }

    pub fn parse(name: &str) -> Option<NotificationKind> {
        NotificationKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    pub fn level(self) -> Level {
        match self {
            NotificationKind::ReconnectNeeded => Level::Primary,
            NotificationKind::ConsentExpiring | NotificationKind::ErrorPersisted | NotificationKind::OutageBegan => {
                Level::Warning
            }
            NotificationKind::OutageEnded | NotificationKind::SyncRecovered | NotificationKind::NewItemsFound => {
                Level::Info
            }
        }
    }
}

/// How prominently a notification is shown; `Primary` ones are also e-mailed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Primary,
    Warning,
    Info,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Primary => "primary",
            Level::Warning => "warning",
            Level::Info => "info",
        }
    }

    pub fn parse(name: &str) -> Option<Level> {
        [Level::Primary, Level::Warning, Level::Info].into_iter().find(|l| l.as_str() == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: Uuid,
    pub user_id: UserId,
    pub connection_id: Option<ConnectionId>,
    pub institution_id: Option<InstitutionId>,
    pub kind: NotificationKind,
    pub level: Level,
    pub message: String,
    /// Unique per user: the episode (or threshold) this announces.
    pub key: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// Keys for [`Notification::key`]: one per episode, consent threshold or outage.
pub mod key {
    use super::*;

    pub fn reconnect_needed(connection: ConnectionId, since: DateTime<Utc>) -> String {
        format!("reconnect:{connection}:{}", since.timestamp_micros())
    }

    pub fn error_persisted(connection: ConnectionId, since: DateTime<Utc>) -> String {
        format!("persisted:{connection}:{}", since.timestamp_micros())
    }

    pub fn recovered(connection: ConnectionId, since: DateTime<Utc>) -> String {
        format!("recovered:{connection}:{}", since.timestamp_micros())
    }

    pub fn consent_expiring(connection: ConnectionId, consent_id: &str, days: u32) -> String {
        format!("consent:{connection}:{consent_id}:{days}")
    }

    pub fn outage_began(institution: InstitutionId, since: DateTime<Utc>) -> String {
        format!("outage:{institution}:{}:began", since.timestamp_micros())
    }

    pub fn outage_ended(institution: InstitutionId, since: DateTime<Utc>) -> String {
        format!("outage:{institution}:{}:ended", since.timestamp_micros())
    }

    pub fn new_items(connection: ConnectionId, provider_item_ids: &[String]) -> String {
        let mut ids = provider_item_ids.to_vec();
        ids.sort();
        format!("items:{connection}:{}", ids.join(","))
    }
}

/// The consent warning due now, if any: 1 when a day or less is left, else 7 when a week or less.
pub fn consent_warning_due(now: DateTime<Utc>, expires_at: DateTime<Utc>) -> Option<u32> {
    let left = expires_at - now;
    if left <= chrono::TimeDelta::zero() {
        None
    } else if left <= chrono::TimeDelta::days(1) {
        Some(1)
    } else if left <= chrono::TimeDelta::days(7) {
        Some(7)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn kinds_round_trip_and_only_reconnects_are_primary() {
        for kind in NotificationKind::ALL {
            assert_eq!(NotificationKind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.level() == Level::Primary, kind == NotificationKind::ReconnectNeeded);
        }
    }

    #[test]
    fn consent_warnings_at_seven_days_and_one_day() {
        let expires = Utc.with_ymd_and_hms(2026, 6, 30, 12, 0, 0).unwrap();
        let before = |hours: i64| consent_warning_due(expires - chrono::TimeDelta::hours(hours), expires);
        assert_eq!(before(8 * 24), None);
        assert_eq!(before(7 * 24), Some(7));
        assert_eq!(before(25), Some(7));
        assert_eq!(before(24), Some(1));
        assert_eq!(before(1), Some(1));
        assert_eq!(before(0), None, "an expired consent is a failure, not a warning");
    }

    #[test]
    fn keys_identify_episodes() {
        let connection = ConnectionId(Uuid::from_u128(7));
        let since = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        assert_eq!(key::reconnect_needed(connection, since), key::reconnect_needed(connection, since));
        assert_ne!(
            key::reconnect_needed(connection, since),
            key::reconnect_needed(connection, since + chrono::TimeDelta::seconds(1))
        );
        assert_eq!(
            key::new_items(connection, &["b".into(), "a".into()]),
            key::new_items(connection, &["a".into(), "b".into()])
        );
    }
}
