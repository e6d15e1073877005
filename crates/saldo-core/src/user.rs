//! Users: the people whose net worth saldo computes, each with a base currency.

use crate::ids::UserId;
use crate::money::Currency;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    /// Unique login name; the embedded setup has one user, `default`.
    pub name: String,
    /// Net worth is reported in this currency.
    pub base_currency: Currency,
    pub created_at: DateTime<Utc>,
}
