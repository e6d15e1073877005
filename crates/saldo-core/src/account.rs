//! Accounts: saldo's own record of a tracked item or of a manual asset or liability.
//!
//! Invariant: an account's kind fixes its class (asset or liability) and its currency never changes;
//! its id is stable, and provider identities are only aliases that a reconnect can re-link.

use crate::ids::{AccountId, ConnectionId, UserId};
use crate::money::Currency;
use chrono::{DateTime, Utc};
use std::fmt;
use std::str::FromStr;

/// Whether an account adds to or subtracts from net worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountClass {
    Asset,
    Liability,
}

impl AccountClass {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountClass::Asset => "asset",
            AccountClass::Liability => "liability",
        }
    }
}

/// What an account holds. The snake_case names are the words used in the API, CLI and database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountKind {
    Cash,
    Savings,
    Brokerage,
    Fund,
    Pension,
    Crypto,
    RealEstate,
    Vehicle,
    OtherAsset,
    CreditCard,
    Loan,
    Mortgage,
    OtherLiability,
}

/// An account kind name that is not one of [`AccountKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown account kind {given:?}: expected one of {}", AccountKind::names().join(", "))]
pub struct UnknownKind {
    pub given: String,
}

impl AccountKind {
    pub const ALL: [AccountKind; 13] = [
        AccountKind::Cash,
        AccountKind::Savings,
        AccountKind::Brokerage,
        AccountKind::Fund,
        AccountKind::Pension,
        AccountKind::Crypto,
        AccountKind::RealEstate,
        AccountKind::Vehicle,
        AccountKind::OtherAsset,
        AccountKind::CreditCard,
        AccountKind::Loan,
        AccountKind::Mortgage,
        AccountKind::OtherLiability,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Cash => "cash",
            AccountKind::Savings => "savings",
            AccountKind::Brokerage => "brokerage",
            AccountKind::Fund => "fund",
            AccountKind::Pension => "pension",
            AccountKind::Crypto => "crypto",
            AccountKind::RealEstate => "real_estate",
            AccountKind::Vehicle => "vehicle",
            AccountKind::OtherAsset => "other_asset",
            AccountKind::CreditCard => "credit_card",
            AccountKind::Loan => "loan",
            AccountKind::Mortgage => "mortgage",
            AccountKind::OtherLiability => "other_liability",
        }
    }

    pub fn names() -> Vec<&'static str> {
        AccountKind::ALL.iter().map(|k| k.as_str()).collect()
    }

    pub fn class(self) -> AccountClass {
        match self {
            AccountKind::CreditCard | AccountKind::Loan | AccountKind::Mortgage | AccountKind::OtherLiability => {
                AccountClass::Liability
            }
            _ => AccountClass::Asset,
        }
    }
}

impl fmt::Display for AccountKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AccountKind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        AccountKind::ALL.into_iter().find(|k| k.as_str() == wanted).ok_or_else(|| UnknownKind { given: s.to_string() })
    }
}

/// Where an account's data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Synced through a connection.
    Connection(ConnectionId),
    /// Filled from statement files.
    Import,
    /// Valued by hand by the user.
    Manual,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Connection(_) => "connection",
            Origin::Import => "import",
            Origin::Manual => "manual",
        }
    }

    pub fn connection_id(self) -> Option<ConnectionId> {
        match self {
            Origin::Connection(id) => Some(id),
            _ => None,
        }
    }
}

/// saldo's record of an asset or liability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub user_id: UserId,
    pub name: String,
    pub kind: AccountKind,
    pub currency: Currency,
    /// Only tracked accounts count in net worth.
    pub tracked: bool,
    pub origin: Origin,
    /// The item vanished at the provider; its history stays.
    pub closed: bool,
    pub created_at: DateTime<Utc>,
}

impl Account {
    pub fn class(&self) -> AccountClass {
        self.kind.class()
    }
}

/// A provider's identity for an account. A reconnect may issue new provider ids, so saldo keeps
/// every identity it has seen and re-links by the stable parts (IBAN, masked number + currency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountAlias {
    pub provider_account_id: Option<String>,
    pub iban: Option<String>,
    pub masked_number: Option<String>,
    pub currency: Currency,
    pub name: Option<String>,
}

/// A validated account name: trimmed, not empty, at most 200 characters.
pub fn validate_name(name: &str) -> Result<String, InvalidName> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(InvalidName::Empty);
    }
    if trimmed.chars().count() > 200 {
        return Err(InvalidName::TooLong);
    }
    Ok(trimmed.to_string())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidName {
    #[error("account name is empty")]
    Empty,
    #[error("account name is longer than 200 characters")]
    TooLong,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip_and_fix_the_class() {
        for kind in AccountKind::ALL {
            assert_eq!(kind.as_str().parse::<AccountKind>().unwrap(), kind);
        }
        assert_eq!("Real-Estate".parse::<AccountKind>().unwrap(), AccountKind::RealEstate);
        assert_eq!(AccountKind::Mortgage.class(), AccountClass::Liability);
        assert_eq!(AccountKind::CreditCard.class(), AccountClass::Liability);
        assert_eq!(AccountKind::Pension.class(), AccountClass::Asset);
        let err = "house".parse::<AccountKind>().unwrap_err();
        assert!(err.to_string().contains("real_estate"), "{err}");
    }

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(validate_name("  House ").unwrap(), "House");
        assert_eq!(validate_name("  "), Err(InvalidName::Empty));
        assert_eq!(validate_name(&"x".repeat(201)), Err(InvalidName::TooLong));
    }
}
