//! Items: what a connection discovered at the provider, offered to the user to track.
//!
//! Identity rule: an item is the same item across reconnects when its IBAN matches, else its masked
//! number and currency, else (as a last resort) its provider id. Providers mint new ids on
//! reconnect, so the provider id is stored but never trusted on its own when a stabler one exists.

use crate::account::AccountKind;
use crate::ids::{AccountId, ConnectionId};
use crate::money::{Currency, Money};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

/// What the user chose for an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemDecision {
    /// Discovered, not decided yet.
    Offered,
    /// Tracked as a saldo account.
    Tracked,
    /// Deliberately not tracked.
    Ignored,
}

impl ItemDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemDecision::Offered => "offered",
            ItemDecision::Tracked => "tracked",
            ItemDecision::Ignored => "ignored",
        }
    }

    pub fn parse(text: &str) -> Option<ItemDecision> {
        match text {
            "offered" => Some(ItemDecision::Offered),
            "tracked" => Some(ItemDecision::Tracked),
            "ignored" => Some(ItemDecision::Ignored),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: Uuid,
    pub connection_id: ConnectionId,
    /// See [`identity_key`].
    pub identity_key: String,
    /// The provider's current id for it.
    pub provider_item_id: String,
    pub kind: AccountKind,
    pub name: String,
    pub iban: Option<String>,
    pub masked_number: Option<String>,
    pub currency: Currency,
    pub current_value: Option<Money>,
    pub decision: ItemDecision,
    /// The saldo account that tracks it.
    pub account_id: Option<AccountId>,
    pub first_seen_at: DateTime<Utc>,
    /// When the provider stopped showing it; its account is closed and keeps its history.
    pub vanished_at: Option<DateTime<Utc>>,
    /// The last day a fetch of it succeeded; the next fetch starts a few days before, so a gap (an
    /// error, a vanished spell, a reconnect) is always filled.
    pub synced_through: Option<NaiveDate>,
}

/// The stable identity of an item within its connection.
pub fn identity_key(
    iban: Option<&str>,
    masked_number: Option<&str>,
    currency: Currency,
    provider_item_id: &str,
) -> String {
    let compact = |text: &str| text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
    match (iban, masked_number) {
        (Some(iban), _) if !iban.trim().is_empty() => format!("iban:{}", compact(iban)),
        (_, Some(masked)) if !masked.trim().is_empty() => format!("masked:{}:{currency}", compact(masked)),
        _ => format!("id:{provider_item_id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_prefers_iban_then_masked_number_then_provider_id() {
        let eur = Currency::EUR;
        assert_eq!(
            identity_key(Some("se45 5000 0000 0583 9825 7466"), Some("**** 7466"), eur, "a"),
            "iban:SE4550000000058398257466"
        );
        assert_eq!(identity_key(None, Some("**** 4242"), eur, "a"), "masked:****4242:EUR");
        assert_eq!(identity_key(Some(" "), None, eur, "acc-9"), "id:acc-9");
        // A new provider id on reconnect does not change the identity.
        assert_eq!(identity_key(Some("SE45"), None, eur, "old"), identity_key(Some("SE45"), None, eur, "new"));
    }
}
