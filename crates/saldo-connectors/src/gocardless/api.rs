//! GoCardless Bank Account Data's JSON documents, as far as saldo reads them.
//!
//! Every field GoCardless may leave out is optional here: a missing field becomes a default or a
//! classified failure in the connector, never a parse error of the whole answer. Numbers GoCardless
//! sends as strings (`transaction_total_days: "90"`) are read either way.

use crate::xs2a::{Balance, TransactionLists};
use serde::de::Deserializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST token/new/`.
#[derive(Serialize)]
pub(crate) struct NewToken<'a> {
    pub secret_id: &'a str,
    pub secret_key: &'a str,
}

/// `POST token/refresh/`.
#[derive(Serialize)]
pub(crate) struct RefreshToken<'a> {
    pub refresh: &'a str,
}

/// The answer to `token/new/`: both tokens and their lifetimes in seconds.
#[derive(Deserialize)]
pub(crate) struct TokenPair {
    pub access: String,
    #[serde(default = "day_seconds")]
    pub access_expires: i64,
    pub refresh: String,
    #[serde(default = "month_seconds")]
    pub refresh_expires: i64,
}

/// The answer to `token/refresh/`: a new access token.
#[derive(Deserialize)]
pub(crate) struct Refreshed {
    pub access: String,
    #[serde(default = "day_seconds")]
    pub access_expires: i64,
}

fn day_seconds() -> i64 {
    86_400
}

fn month_seconds() -> i64 {
    2_592_000
}

/// An institution (ASPSP) from `institutions/` or `institutions/{id}/`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Institution {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub bic: Option<String>,
    /// Days of history the bank gives; GoCardless sends it as a string.
    #[serde(default, deserialize_with = "lenient_days")]
    pub transaction_total_days: Option<u32>,
    /// Longest access the bank grants (absent on older answers, which meant 90 days).
    #[serde(default, deserialize_with = "lenient_days")]
    pub max_access_valid_for_days: Option<u32>,
    #[serde(default)]
    pub countries: Vec<String>,
    #[serde(default)]
    pub logo: Option<String>,
    /// The bank gives more than 90 days of history only once, then freezes an access that asked
    /// for it: continuous access must ask for 90 days at most.
    #[serde(default)]
    pub separate_continuous_history_consent: bool,
}

/// `POST agreements/enduser/`.
#[derive(Serialize)]
pub(crate) struct NewAgreement<'a> {
    pub institution_id: &'a str,
    pub max_historical_days: u32,
    pub access_valid_for_days: u32,
    pub access_scope: [&'a str; 3],
}

/// An end user agreement (EUA): how much history and for how long.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Agreement {
    pub id: String,
    #[serde(default, deserialize_with = "lenient_days")]
    pub max_historical_days: Option<u32>,
    #[serde(default, deserialize_with = "lenient_days")]
    pub access_valid_for_days: Option<u32>,
    #[serde(default)]
    pub access_scope: Option<Vec<String>>,
    /// When the user accepted it at the bank (RFC 3339), `null` before.
    #[serde(default)]
    pub accepted: Option<String>,
}

/// `POST requisitions/`.
#[derive(Serialize)]
pub(crate) struct NewRequisition<'a> {
    pub redirect: &'a str,
    pub institution_id: &'a str,
    pub agreement: &'a str,
    pub reference: &'a str,
    pub user_language: &'a str,
}

/// A requisition: one user's link to one institution, and the accounts it reaches.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Requisition {
    pub id: String,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub institution_id: Option<String>,
    #[serde(default)]
    pub agreement: Option<String>,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub link: Option<String>,
}

/// A page of a paginated list (`requisitions/`).
#[derive(Deserialize)]
pub(crate) struct Page<T> {
    #[serde(default)]
    pub next: Option<String>,
    pub results: Vec<T>,
}

/// `accounts/{id}/`: the account's metadata, free of the per-scope daily limits.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AccountMeta {
    #[serde(default)]
    pub iban: Option<String>,
    /// `DISCOVERED`, `PROCESSING`, `READY`, `ERROR`, `EXPIRED`, `SUSPENDED`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub owner_name: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// `accounts/{id}/details/`.
#[derive(Deserialize)]
pub(crate) struct DetailsAnswer {
    pub account: Details,
}

/// The bank's account details, Berlin Group style.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Details {
    #[serde(default)]
    pub iban: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub owner_name: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub cash_account_type: Option<String>,
    /// A national account number, for banks that give no IBAN.
    #[serde(default)]
    pub bban: Option<String>,
    /// A UK sort code and account number.
    #[serde(default)]
    pub scan: Option<String>,
    /// A card's number, masked: its identity when it has no IBAN.
    #[serde(default)]
    pub masked_pan: Option<String>,
}

/// `accounts/{id}/balances/`.
#[derive(Deserialize)]
pub(crate) struct BalancesAnswer {
    #[serde(default)]
    pub balances: Vec<Balance>,
}

/// `accounts/{id}/transactions/`.
#[derive(Deserialize)]
pub(crate) struct TransactionsAnswer {
    pub transactions: TransactionLists,
}

/// A count of days given as a number, a numeric string or `null`.
fn lenient_days<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    use serde::de::Error as _;
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected a number of days, found {n}"))),
        Value::String(text) if text.trim().is_empty() => Ok(None),
        Value::String(text) => text.trim().parse::<u32>().map(Some).map_err(|_| {
            D::Error::custom(format!("expected a number of days, found {:?}", crate::wire::clean(&text, "")))
        }),
        other => Err(D::Error::custom(format!("expected a number of days, found {}", crate::wire::kind_of(&other)))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn days_come_as_strings_numbers_or_nothing() {
        let a: Institution = serde_json::from_value(serde_json::json!({
            "id": "N26_NTSBDEB1", "name": "N26 Bank", "transaction_total_days": "730", "max_access_valid_for_days": 180
        }))
        .unwrap();
        assert_eq!((a.transaction_total_days, a.max_access_valid_for_days), (Some(730), Some(180)));
        let b: Institution =
            serde_json::from_value(serde_json::json!({"id": "X", "name": "X", "transaction_total_days": null}))
                .unwrap();
        assert_eq!((b.transaction_total_days, b.max_access_valid_for_days), (None, None));
        assert!(serde_json::from_value::<Institution>(
            serde_json::json!({"id": "X", "name": "X", "transaction_total_days": "many"})
        )
        .is_err());
    }
}
