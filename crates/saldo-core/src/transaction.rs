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

/// Where a stored transaction came from. Ids and texts of one source say nothing of another's:
/// a bank's API, its MT940 and its CAMT export describe one booking in different words and under
/// different ids, so rows of two sources are matched by booking date and amount alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Sync,
    Ofx,
    Camt,
    Mt940,
    Csv,
    /// Stored before saldo kept sources, by an import (or a sync that gave no id).
    Unknown,
}

impl Source {
    /// The stored name; `None` for [`Source::Unknown`].
    pub fn as_str(self) -> Option<&'static str> {
        Some(match self {
            Source::Sync => "sync",
            Source::Ofx => "ofx",
            Source::Camt => "camt",
            Source::Mt940 => "mt940",
            Source::Csv => "csv",
            Source::Unknown => return None,
        })
    }

    pub fn parse(text: Option<&str>) -> Source {
        match text {
            Some("sync") => Source::Sync,
            Some("ofx") => Source::Ofx,
            Some("camt") => Source::Camt,
            Some("mt940") => Source::Mt940,
            Some("csv") => Source::Csv,
            _ => Source::Unknown,
        }
    }

    /// Whether a statement file brought it (as far as is known).
    pub fn is_file(self) -> bool {
        matches!(self, Source::Ofx | Source::Camt | Source::Mt940 | Source::Csv)
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
    pub source: Source,
    /// For a booked row an import stored in place of a synced pending transaction: that
    /// pending's provider id (empty when it had none). The bank's own booking of it, under a new
    /// id, some days later or for a changed amount, takes this row's place instead of doubling it.
    pub pending_of: Option<String>,
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
    finish(content_hasher(content), occurrence)
}

/// The hash of everything the fingerprint covers but the occurrence.
fn content_hasher(content: FingerprintContent<'_>) -> Sha256 {
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
    hasher
}

fn finish(mut hasher: Sha256, occurrence: u32) -> String {
    hasher.update(occurrence.to_le_bytes());
    let digest = hasher.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Fingerprints the transactions of one batch (a statement, a fetch window) in order, counting
/// identical ones: the n-th transaction whose *normalised* content equals an earlier one's gets
/// occurrence n. Counting on anything else than exactly what the fingerprint covers either drops a
/// row (two spellings of one coffee counted apart would share a fingerprint) or doubles one. Import
/// and sync both count here. A batch must cover whole days, so that the count does not depend on
/// where a fetch window starts.
#[derive(Debug, Default, Clone)]
pub struct Fingerprinter {
    /// Occurrences seen per normalised content, keyed by 128 bits of its hash: a large file's
    /// memory stays small, and a collision is as unlikely as one of the fingerprints themselves.
    seen: std::collections::HashMap<[u8; 16], u32>,
}

impl Fingerprinter {
    pub fn new() -> Fingerprinter {
        Fingerprinter::default()
    }

    /// The fingerprint of the next transaction of the batch, and its occurrence.
    pub fn next(&mut self, content: FingerprintContent<'_>) -> (String, u32) {
        let hasher = content_hasher(content);
        let count = self.seen.entry(key_of(&hasher)).or_insert(0);
        let occurrence = *count;
        *count += 1;
        (finish(hasher, occurrence), occurrence)
    }
}

/// What the fingerprint covers but the occurrence, as 128 bits: two spellings of one transaction
/// (case, spacing) have the same key. Matching by content counts these.
pub fn content_key(content: FingerprintContent<'_>) -> [u8; 16] {
    key_of(&content_hasher(content))
}

fn key_of(hasher: &Sha256) -> [u8; 16] {
    let mut key = [0u8; 16];
    key.copy_from_slice(&hasher.clone().finalize()[..16]);
    key
}

/// For each transaction of a batch, how many identical ones (same normalised fingerprint content)
/// came before it in the batch: the `occurrence` of [`fingerprint`], as [`Fingerprinter`] counts.
pub fn occurrences(contents: &[FingerprintContent<'_>]) -> Vec<u32> {
    let mut fingerprinter = Fingerprinter::new();
    contents.iter().map(|content| fingerprinter.next(*content).1).collect()
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
    fn spellings_of_one_transaction_are_counted_as_one_content() {
        // Two rows of one file that differ only in case and spacing are two transactions: the
        // second gets the next occurrence, never the first one's fingerprint.
        let mut fingerprinter = Fingerprinter::new();
        let (first, n1) = fingerprinter.next(content("Coffee", -350));
        let (second, n2) = fingerprinter.next(content("COFFEE ", -350));
        let (third, n3) = fingerprinter.next(content(" coffee", -350));
        assert_eq!((n1, n2, n3), (0, 1, 2));
        assert_ne!(first, second);
        assert_ne!(second, third);
        assert_eq!(first, fingerprint(content("coffee", -350), 0));
        assert_eq!(second, fingerprint(content("Coffee", -350), 1));
        // Another amount or day is other content: its count starts at 0.
        assert_eq!(fingerprinter.next(content("Coffee", -351)).1, 0);
        assert_eq!(occurrences(&[content("Tea", -1), content("TEA", -1), content("tea  ", -1)]), vec![0, 1, 2]);
    }

    #[test]
    fn the_same_batch_gives_the_same_fingerprints_in_any_spelling() {
        // A provider that re-spells a description between fetches must not make new transactions.
        let spelled = |a: &'static str, b: &'static str| {
            let mut fingerprinter = Fingerprinter::new();
            let mut all = vec![fingerprinter.next(content(a, -350)).0, fingerprinter.next(content(b, -350)).0];
            all.sort();
            all
        };
        assert_eq!(spelled("Coffee", "COFFEE "), spelled("coffee", "coffee"));
    }

    #[test]
    fn fingerprint_is_stable_across_versions() {
        // A changed fingerprint would duplicate every stored transaction without a provider id.
        assert_eq!(fingerprint(content("Rent", -120000), 0), "1910df13ac858d7abdbe4dd50f801ae8");
    }
}
