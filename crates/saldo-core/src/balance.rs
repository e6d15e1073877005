//! Balance points: an account's balance observed at a time. The balance history is their series;
//! the balance on a day is the last point observed on or before that day.
//!
//! Sign convention: balances are signed from the account holder's view, so a liability that is owed
//! has a negative balance. Net worth is therefore the plain sum of tracked balances.

use crate::ids::AccountId;
use crate::money::Money;
use chrono::{DateTime, NaiveDate, Utc};

/// Who reported a balance point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BalanceSource {
    /// A valuation the user entered for a manual account.
    Manual,
    /// Observed by a sync.
    Sync,
    /// Read from a statement file.
    Import,
}

impl BalanceSource {
    pub fn as_str(self) -> &'static str {
        match self {
            BalanceSource::Manual => "manual",
            BalanceSource::Sync => "sync",
            BalanceSource::Import => "import",
        }
    }

    pub fn parse(text: &str) -> Option<BalanceSource> {
        match text {
            "manual" => Some(BalanceSource::Manual),
            "sync" => Some(BalanceSource::Sync),
            "import" => Some(BalanceSource::Import),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalancePoint {
    pub account_id: AccountId,
    /// The day the balance is valid for.
    pub date: NaiveDate,
    /// When it was observed; orders several points of one day.
    pub observed_at: DateTime<Utc>,
    pub amount: Money,
    pub source: BalanceSource,
}
