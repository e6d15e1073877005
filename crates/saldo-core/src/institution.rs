//! Institutions and connections: where money is held, and a user's authorised link to one of them.
//! The sync engine adds state, consent and secrets to a connection.

use crate::ids::{ConnectionId, InstitutionId, UserId};
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
}

/// One user's authorised link to one institution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub id: ConnectionId,
    pub user_id: UserId,
    pub institution_id: InstitutionId,
    pub created_at: DateTime<Utc>,
}
