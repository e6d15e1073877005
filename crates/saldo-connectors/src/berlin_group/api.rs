//! The XS2A answers saldo reads (consents, authorisations, the account list), and the hyperlinks
//! (`_links`) banks steer the flow with.
//!
//! Balances and transactions are the Berlin Group account-data model in [`crate::xs2a`].

use crate::http::host_of;
use crate::wire::clean;
use crate::xs2a::{Balance, TransactionLists};
use chrono::NaiveDate;
use reqwest::Url;
use saldo_core::failure::{Failure, FailureKind};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;

/// `_links`: names to `{"href": …}` objects (a few banks send the bare string).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Links(HashMap<String, Value>);

impl Links {
    pub fn href(&self, name: &str) -> Option<&str> {
        match self.0.get(name)? {
            Value::String(href) => Some(href),
            Value::Object(object) => object.get("href").and_then(Value::as_str),
            _ => None,
        }
    }

    /// The link that starts an authorisation explicitly, in any of its forms.
    pub fn start_authorisation(&self) -> Option<&str> {
        ["startAuthorisation", "startAuthorisationWithPsuIdentification", "startAuthorisationWithPsuAuthentication"]
            .into_iter()
            .find_map(|name| self.href(name))
    }
}

/// The answer to `POST v1/consents` (201).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConsentCreated {
    pub consent_id: String,
    #[serde(default)]
    pub consent_status: Option<String>,
    #[serde(default)]
    pub psu_message: Option<String>,
    #[serde(default, rename = "_links")]
    pub links: Links,
}

/// The answer to starting an authorisation (201), and to reading one.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Authorisation {
    #[serde(default)]
    pub authorisation_id: Option<String>,
    #[serde(default)]
    pub sca_status: Option<String>,
    #[serde(default)]
    pub psu_message: Option<String>,
    #[serde(default, rename = "_links")]
    pub links: Links,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConsentStatus {
    pub consent_status: String,
}

/// `GET v1/consents/{id}`: what the bank granted (it may shorten the validity or the frequency).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConsentInformation {
    #[serde(default)]
    pub valid_until: Option<NaiveDate>,
    #[serde(default)]
    pub frequency_per_day: Option<u32>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AccountList {
    pub accounts: Vec<Value>,
}

/// `GET v1/card-accounts`.
#[derive(Debug, Deserialize)]
pub(crate) struct CardAccountList {
    #[serde(rename = "cardAccounts")]
    pub card_accounts: Vec<Value>,
}

/// One entry of `GET v1/accounts`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccountDetails {
    pub resource_id: String,
    #[serde(default)]
    pub iban: Option<String>,
    #[serde(default)]
    pub bban: Option<String>,
    #[serde(default)]
    pub masked_pan: Option<String>,
    pub currency: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    /// The holder's name (NextGenPSD2 1.3.8 and later), never the account's.
    #[serde(default)]
    pub owner_name: Option<String>,
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub cash_account_type: Option<String>,
    /// `enabled`, `deleted` or `blocked`; absent means enabled.
    #[serde(default)]
    pub status: Option<String>,
    /// Given when the list was asked for with balances, or when the bank adds them anyway.
    #[serde(default)]
    pub balances: Option<Vec<Balance>>,
    /// A card account's: debits are quoted positive.
    #[serde(default)]
    pub debit_accounting: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Balances {
    pub balances: Vec<Balance>,
}

/// `GET v1/accounts/{id}/transactions`: the lists and the next page, or a download link for
/// reports too large to page (which saldo does not follow).
#[derive(Debug, Deserialize)]
pub(crate) struct Transactions {
    #[serde(default)]
    pub transactions: Option<TransactionLists>,
    /// A card account's report.
    #[serde(default, rename = "cardTransactions")]
    pub card_transactions: Option<TransactionLists>,
    /// A card account's: debits are quoted positive.
    #[serde(default, rename = "debitAccounting")]
    pub debit_accounting: Option<bool>,
    #[serde(default, rename = "_links")]
    pub links: Links,
}

/// A hyperlink from the bank, resolved against its XS2A root. Links lead the flow (the next page,
/// the authorisation to start), and saldo's certificate goes with every request on them, so they
/// must stay at the bank: same scheme, host and port as the configured root.
pub(crate) fn resolve(base: &Url, href: &str, what: &str, bank: &str) -> Result<Url, Failure> {
    let url = base.join(href.trim()).map_err(|e| {
        Failure::new(
            FailureKind::Temporary(saldo_core::failure::TemporaryCause::Unknown),
            "link_invalid",
            format!("{bank} gave a {what} link that is not a URL: {e}"),
        )
    })?;
    let same = url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default();
    if !same {
        return Err(Failure::new(
            FailureKind::Config,
            "foreign_link",
            format!(
                "{bank} gave a {what} link to {} ({}), not to its XS2A host {}; saldo follows links only on the \
                 configured host (check the bank's base_url)",
                host_of(&url),
                url.scheme(),
                host_of(base)
            ),
        ));
    }
    Ok(url)
}

/// The last path segment of a link (`…/authorisations/{id}`), decoded.
pub(crate) fn last_segment(href: &str) -> Option<String> {
    let path = href.split(['?', '#']).next().unwrap_or_default();
    let segment = path.trim_end_matches('/').rsplit('/').next()?.trim();
    if segment.is_empty() {
        return None;
    }
    Some(clean(&percent_decode(segment), ""))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn links_resolve_on_the_banks_host_only() {
        let base = Url::parse("https://xs2a.bank.example/psd2/").unwrap();
        let ok = |href: &str| resolve(&base, href, "next page", "Bank").unwrap().to_string();
        assert_eq!(
            ok("/psd2/v1/accounts/a/transactions?pageIndex=1"),
            "https://xs2a.bank.example/psd2/v1/accounts/a/transactions?pageIndex=1"
        );
        assert_eq!(ok("v1/consents/c"), "https://xs2a.bank.example/psd2/v1/consents/c");
        assert_eq!(ok("https://xs2a.bank.example:443/psd2/v1/x"), "https://xs2a.bank.example/psd2/v1/x");
        for foreign in [
            "https://evil.example/psd2/v1/x",
            "http://xs2a.bank.example/psd2/v1/x",
            "https://xs2a.bank.example:8443/x",
            "//evil.example/x",
        ] {
            let failure = resolve(&base, foreign, "next page", "Bank").unwrap_err();
            assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Config, "foreign_link"), "{foreign}");
        }
    }

    #[test]
    fn ids_come_from_the_last_segment() {
        assert_eq!(last_segment("/psd2/v1/consents/1234-wertiq-983/authorisations/123auth567").unwrap(), "123auth567");
        assert_eq!(last_segment("/v1/x/a%20b/?q=1").unwrap(), "a b");
        assert_eq!(last_segment("/"), None);
    }

    #[test]
    fn links_may_be_objects_or_strings() {
        let links: Links = serde_json::from_value(serde_json::json!({
            "scaRedirect": {"href": "https://bank.example/sca"}, "startAuthorisationWithPsuIdentification": "/v1/c/a",
            "broken": 3
        }))
        .unwrap();
        assert_eq!(links.href("scaRedirect"), Some("https://bank.example/sca"));
        assert_eq!(links.start_authorisation(), Some("/v1/c/a"));
        assert_eq!(links.href("broken"), None);
    }
}
