//! In-app notifications: what the engine tells a user, at which level, and the key that makes each
//! one unique, so that an episode is announced once however often the engine retries or restarts.

use crate::failure::FailureKind;
use crate::ids::{ConnectionId, InstitutionId, UserId};
use chrono::{DateTime, NaiveDate, Utc};
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
    /// The provider no longer shows tracked items: their accounts closed.
    ItemsVanished,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 8] = [
        NotificationKind::ReconnectNeeded,
        NotificationKind::ConsentExpiring,
        NotificationKind::ErrorPersisted,
        NotificationKind::OutageBegan,
        NotificationKind::OutageEnded,
        NotificationKind::SyncRecovered,
        NotificationKind::NewItemsFound,
        NotificationKind::ItemsVanished,
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
            NotificationKind::ItemsVanished => "items_vanished",
        }
    }

    pub fn parse(name: &str) -> Option<NotificationKind> {
        NotificationKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    pub fn level(self) -> Level {
        match self {
            NotificationKind::ReconnectNeeded => Level::Primary,
            NotificationKind::ConsentExpiring
            | NotificationKind::ErrorPersisted
            | NotificationKind::OutageBegan
            | NotificationKind::ItemsVanished => Level::Warning,
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

/// What a notification says, as data. It is stored so, and each front end renders it in its own
/// form when it shows it (the command line and the API as [`Params::text`]; a web page or an
/// e-mail may link the institution or format the day).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Params {
    ReconnectNeeded {
        institution: String,
        failure: FailureKind,
        /// The tracked accounts that wait for the reconnect.
        accounts: Vec<String>,
    },
    ConsentExpiring {
        institution: String,
        ends_on: NaiveDate,
        within_a_day: bool,
    },
    ErrorPersisted {
        institution: String,
        since: DateTime<Utc>,
        failure: FailureKind,
    },
    OutageBegan {
        institution: String,
    },
    OutageEnded {
        institution: String,
    },
    SyncRecovered {
        institution: String,
    },
    NewItemsFound {
        institution: String,
        names: Vec<String>,
    },
    ItemsVanished {
        institution: String,
        names: Vec<String>,
    },
    /// A notification stored before saldo kept parameters: only its text is known.
    Text {
        kind: NotificationKind,
        text: String,
    },
}

impl Params {
    pub fn kind(&self) -> NotificationKind {
        match self {
            Params::ReconnectNeeded { .. } => NotificationKind::ReconnectNeeded,
            Params::ConsentExpiring { .. } => NotificationKind::ConsentExpiring,
            Params::ErrorPersisted { .. } => NotificationKind::ErrorPersisted,
            Params::OutageBegan { .. } => NotificationKind::OutageBegan,
            Params::OutageEnded { .. } => NotificationKind::OutageEnded,
            Params::SyncRecovered { .. } => NotificationKind::SyncRecovered,
            Params::NewItemsFound { .. } => NotificationKind::NewItemsFound,
            Params::ItemsVanished { .. } => NotificationKind::ItemsVanished,
            Params::Text { kind, .. } => *kind,
        }
    }

    /// The notification as one plain sentence or two: what happened and what to do.
    pub fn text(&self) -> String {
        match self {
            Params::ReconnectNeeded { institution, failure, accounts } if !accounts.is_empty() => {
                format!("{} Not updated until then: {}.", failure.user_message(institution), accounts.join(", "))
            }
            Params::ReconnectNeeded { institution, failure, .. } => failure.user_message(institution),
            Params::ConsentExpiring { institution, ends_on, within_a_day } => format!(
                "Your permission for saldo to read {institution} ends on {ends_on} ({} left). Renew it now to keep \
                 updates going; your history is kept.",
                if *within_a_day { "a day or less" } else { "a week or less" }
            ),
            Params::ErrorPersisted { institution, since, failure } => format!(
                "Updates from {institution} have failed since {}: {}. saldo keeps retrying; if it goes on, check \
                 {institution}'s own app or reconnect.",
                since.format("%Y-%m-%d %H:%M UTC"),
                failure.cause(institution)
            ),
            Params::OutageBegan { institution } => format!(
                "{institution} has an outage: many connections fail the same way. saldo retries for everyone; \
                 nothing to do."
            ),
            Params::OutageEnded { institution } => format!("The outage at {institution} is over; updates are back."),
            Params::SyncRecovered { institution } => format!("Updates from {institution} work again."),
            Params::NewItemsFound { institution, names } => {
                format!("{institution} shows {} new item(s) you can track: {}.", names.len(), names.join(", "))
            }
            Params::ItemsVanished { institution, names } => format!(
                "{institution} no longer shows {}. Their accounts are closed: they count in net worth up to today \
                 and keep their history. If they still exist at {institution}, reconnect it; if you closed them, \
                 nothing to do.",
                names.join(", ")
            ),
            Params::Text { text, .. } => text.clone(),
        }
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
    /// What it says; rendered when shown.
    pub params: Params,
    /// Unique per user: the episode (or threshold) this announces.
    pub key: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// Where a notification belongs and when it was made.
#[derive(Debug, Clone, Copy)]
pub struct About {
    pub user: UserId,
    pub connection: Option<ConnectionId>,
    pub institution: Option<InstitutionId>,
    pub at: DateTime<Utc>,
}

impl Notification {
    /// A new, unread notification; its kind and level follow from what it says.
    pub fn new(id: Uuid, about: About, params: Params, key: String) -> Notification {
        let kind = params.kind();
        Notification {
            id,
            user_id: about.user,
            connection_id: about.connection,
            institution_id: about.institution,
            kind,
            level: kind.level(),
            params,
            key,
            created_at: about.at,
            read_at: None,
        }
    }

    /// The notification as plain text, for the command line and the API: one that needs the user
    /// names the command that does what it asks.
    pub fn text(&self) -> String {
        match (&self.params, self.connection_id) {
            (Params::ReconnectNeeded { .. }, Some(connection)) => {
                format!("{} Reconnect: saldo reconnect {connection}", self.params.text())
            }
            _ => self.params.text(),
        }
    }
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

    /// One per vanishing of a set of items (by identity) on a day: told once, again only if they
    /// come back and vanish another day.
    pub fn items_vanished(connection: ConnectionId, identities: &[String], day: NaiveDate) -> String {
        let mut ids = identities.to_vec();
        ids.sort();
        format!("vanished:{connection}:{day}:{}", ids.join(","))
    }
}

/// The consent warning due now, if any: 1 when a day or less is left, else 7 when a week or less
/// is left of a consent that was given for longer than a week (one given for a week at most would
/// warn the moment it is given).
pub fn consent_warning_due(now: DateTime<Utc>, granted_at: DateTime<Utc>, expires_at: DateTime<Utc>) -> Option<u32> {
    let left = expires_at - now;
    let week = chrono::TimeDelta::days(7);
    if left <= chrono::TimeDelta::zero() {
        None
    } else if left <= chrono::TimeDelta::days(1) {
        Some(1)
    } else if left <= week && expires_at - granted_at > week {
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
        let granted = expires - chrono::TimeDelta::days(90);
        let before = |hours: i64| consent_warning_due(expires - chrono::TimeDelta::hours(hours), granted, expires);
        assert_eq!(before(8 * 24), None);
        assert_eq!(before(7 * 24), Some(7));
        assert_eq!(before(25), Some(7));
        assert_eq!(before(24), Some(1));
        assert_eq!(before(1), Some(1));
        assert_eq!(before(0), None, "an expired consent is a failure, not a warning");
        // A bank whose consents last a week: no "a week or less left" the moment it is given.
        let week = expires - chrono::TimeDelta::days(7);
        assert_eq!(consent_warning_due(week, week, expires), None);
        assert_eq!(consent_warning_due(expires - chrono::TimeDelta::hours(3), week, expires), Some(1));
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

    #[test]
    fn a_notification_is_rendered_from_its_kind_and_parameters() {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 6, 0, 0).unwrap();
        let about = About { user: UserId(Uuid::nil()), connection: None, institution: None, at };
        let expiring = Params::ConsentExpiring {
            institution: "Nordea".into(),
            ends_on: NaiveDate::from_ymd_opt(2026, 3, 7).unwrap(),
            within_a_day: false,
        };
        let note = Notification::new(Uuid::nil(), about, expiring, "k".into());
        assert_eq!((note.kind, note.level), (NotificationKind::ConsentExpiring, Level::Warning));
        assert_eq!(
            note.text(),
            "Your permission for saldo to read Nordea ends on 2026-03-07 (a week or less left). Renew it now to keep \
             updates going; your history is kept."
        );
        let reconnect =
            Params::ReconnectNeeded { institution: "Nordea".into(), failure: FailureKind::Expired, accounts: vec![] };
        assert_eq!(reconnect.kind().level(), Level::Primary);
        assert_eq!(reconnect.text(), FailureKind::Expired.user_message("Nordea"));
        // Which accounts wait for it, and which command does it.
        let accounts = vec!["Current account".to_string(), "Visa".to_string()];
        let reconnect =
            Params::ReconnectNeeded { institution: "Nordea".into(), failure: FailureKind::Expired, accounts };
        let connection = ConnectionId(Uuid::from_u128(5));
        let about = About { connection: Some(connection), ..about };
        let note = Notification::new(Uuid::nil(), about, reconnect, "k".into());
        assert!(note.text().contains("Not updated until then: Current account, Visa."), "{}", note.text());
        assert!(note.text().ends_with(&format!("Reconnect: saldo reconnect {connection}")), "{}", note.text());
        let items =
            Params::NewItemsFound { institution: "Nordea".into(), names: vec!["Savings".into(), "Card".into()] };
        assert_eq!(items.text(), "Nordea shows 2 new item(s) you can track: Savings, Card.");
        let persisted = Params::ErrorPersisted {
            institution: "Nordea".into(),
            since: at,
            failure: FailureKind::Temporary(crate::failure::TemporaryCause::Timeout),
        };
        assert!(persisted
            .text()
            .starts_with("Updates from Nordea have failed since 2026-03-01 06:00 UTC: Nordea takes"));
        // Whatever the cause, the text says it in words, never a code.
        for failure in FailureKind::ALL {
            let text = Params::ErrorPersisted { institution: "Nordea".into(), since: at, failure }.text();
            assert!(!text.contains("unknown") && !text.contains('(') && !text.contains('_'), "{text}");
        }
    }
}
