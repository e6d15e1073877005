//! Institutions and connections: where money is held, and a user's authorised link to one of them.
//! The sync engine adds state, consent and secrets to a connection.

use crate::ids::{ConnectionId, InstitutionId, UserId};
use crate::secret::Sealed;
use chrono::{DateTime, Utc};

/// A bank, broker, pension fund, lender or card issuer, as one connector reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Institution {
    pub id: InstitutionId,
    /// The connector that reaches it (`sandbox`, `simplefin`, …).
    pub connector: String,
    /// The provider's id for it; unique per connector.
    pub provider_institution_id: String,
    pub name: String,
    /// ISO 3166 alpha-2 country code.
    pub country: Option<String>,
    pub bic: Option<String>,
    /// Days of history the institution gives, when known.
    pub max_history_days: Option<u32>,
    /// Longest consent it grants, in days, when known.
    pub max_consent_days: Option<u32>,
    /// Unattended accesses allowed per day; `None` when unlimited or unknown.
    pub accesses_per_day: Option<u32>,
    /// A sentence about the institution (the sandbox says what it simulates).
    pub description: String,
    /// Its logo (https), when the provider's catalog has one.
    pub logo_url: Option<String>,
}

/// One user's authorised link to one institution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub id: ConnectionId,
    pub user_id: UserId,
    pub institution_id: InstitutionId,
    /// The connector it goes through (`sandbox`, `simplefin`, …).
    pub connector: String,
    /// What the user granted; `None` after a disconnect or before the first consent.
    pub consent: Option<ConsentRecord>,
    pub created_at: DateTime<Utc>,
}

/// A consent as saldo keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    /// The provider's id for it.
    pub id: String,
    pub granted_at: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub scope: Vec<String>,
    pub max_history_days: u32,
    /// Unattended accesses allowed per day; `None` when unlimited.
    pub accesses_per_day: Option<u32>,
    /// What the connector needs to use the consent (SimpleFIN's access URL, a refresh token),
    /// sealed: it is only ever kept encrypted.
    pub secret: Option<Sealed>,
}
