//! Transactions: money moving in or out of an account, pending or booked.
//!
//! Dedupe rule: a transaction is identified within its account by the provider's id when the
//! provider gives one, else by its content fingerprint (see [`fingerprint`]).

use crate::ids::{AccountId, TransactionId};
use crate::money::Money;
use chrono::NaiveDate;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionStatus {
    /// May still change or vanish.
    Pending,
    Booked,
}

impl TransactionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TransactionStatus::Pending => "pending",
            TransactionStatus::Booked => "booked",
        }
    }

    pub fn parse(text: &str) -> Option<TransactionStatus> {
        match text {
            "pending" => Some(TransactionStatus::Pending),
            "booked" => Some(TransactionStatus::Booked),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub id: TransactionId,
    pub account_id: AccountId,
    pub status: TransactionStatus,
    pub booking_date: NaiveDate,
    pub value_date: Option<NaiveDate>,
    pub amount: Money,
    pub description: String,
    pub counterparty: Option<String>,
    /// The provider's own id, when it has one.
    pub provider_id: Option<String>,
    /// Content fingerprint; the dedupe key when there is no provider id.
    pub fingerprint: String,
}

/// The content of a transaction that its fingerprint covers.
#[derive(Debug, Clone, Copy)]
pub struct FingerprintContent<'a> {
    pub booking_date: NaiveDate,
    pub amount: Money,
    pub description: &'a str,
    pub counterparty: Option<&'a str>,
}

/// A content fingerprint, stable across runs, platforms and versions (SHA-256, 128 bits kept).
///
/// `occurrence` tells apart identical transactions on one day (two coffees of the same price): the
/// n-th identical one in a statement gets occurrence n, so the fingerprint does not depend on the order
/// in which the provider lists different transactions. Text is compared case- and
/// whitespace-insensitively because providers reformat descriptions between fetches.
pub fn fingerprint(content: FingerprintContent<'_>, occurrence: u32) -> String {
    let mut hasher = Sha256::new();
    hasher.update(content.booking_date.to_string());
    hasher.update([0]);
    hasher.update(content.amount.minor.to_le_bytes());
    hasher.update(content.amount.currency.code());
    hasher.update([0]);
    hasher.update(normalize_text(content.description));
    hasher.update([0]);
    hasher.update(normalize_text(content.counterparty.unwrap_or("")));
    hasher.update([0]);
    hasher.update(occurrence.to_le_bytes());
    let digest = hasher.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// For each transaction of a batch, how many identical ones (same fingerprint content) came before it
/// in the batch: the `occurrence` of [`fingerprint`]. A batch must cover whole days, so that the
/// count does not depend on where a fetch window starts.
pub fn occurrences(contents: &[FingerprintContent<'_>]) -> Vec<u32> {
    let mut seen: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    contents
        .iter()
        .map(|content| {
            let key = fingerprint(*content, 0);
            let count = seen.entry(key).or_insert(0);
            let occurrence = *count;
            *count += 1;
            occurrence
        })
        .collect()
}

fn normalize_text(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn content(description: &str, minor: i64) -> FingerprintContent<'_> {
        FingerprintContent {
            booking_date: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            amount: Money::new(minor, Currency::EUR),
            description,
            counterparty: None,
        }
    }

    #[test]
    fn fingerprint_ignores_case_and_spacing_but_not_content() {
        let a = fingerprint(content("CARD  Coffee Bar", -350), 0);
        assert_eq!(a, fingerprint(content("card coffee bar ", -350), 0));
        assert_eq!(a.len(), 32);
        assert_ne!(a, fingerprint(content("card coffee bar", -351), 0));
        assert_ne!(a, fingerprint(content("card coffee bar", -350), 1));
        assert_ne!(a, fingerprint(content("card tea bar", -350), 0));
    }

    #[test]
    fn identical_transactions_are_told_apart_by_occurrence_whatever_the_order() {
        let coffee = content("Coffee", -350);
        let rent = content("Rent", -120000);
        assert_eq!(occurrences(&[coffee, rent, coffee]), vec![0, 0, 1]);
        let fingerprints = |batch: &[FingerprintContent<'_>]| {
            let mut all: Vec<String> = batch.iter().zip(occurrences(batch)).map(|(c, n)| fingerprint(*c, n)).collect();
            all.sort();
            all
        };
        assert_eq!(fingerprints(&[coffee, rent, coffee]), fingerprints(&[rent, coffee, coffee]));
    }

    #[test]
    fn fingerprint_is_stable_across_versions() {
        // A changed fingerprint would duplicate every stored transaction without a provider id.
        assert_eq!(fingerprint(content("Rent", -120000), 0), "1910df13ac858d7abdbe4dd50f801ae8");
    }
}
