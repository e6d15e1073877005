//! The rules that keep a statement import from doubling what is already stored, per account:
//!
//! 1. A row with the file's own id (FITID, AcctSvcrRef, bank reference) is stored under that id,
//!    marked as a file's ([`file_id`]): importing the file again, or an overlapping one, finds it.
//! 2. One without an id is stored under its fingerprint (counted by
//!    [`Fingerprinter`](crate::transaction::Fingerprinter)): the same file adds nothing again.
//! 3. A booked row that a sync already brought (a stored transaction with a provider's id, not a
//!    file's) is recognised by booking date and amount, one stored transaction per row: two
//!    identical coffees in the file match two synced ones, not one.
//! 4. A booked row replaces a stored pending transaction of the same date and amount.
//!
//! Rules 1 and 2 are the store's identity indexes; [`ImportDedupe`] decides 3 and 4.

use crate::transaction::{Transaction, TransactionStatus};
use chrono::NaiveDate;
use std::collections::{HashMap, HashSet};

/// Stored ids of imported transactions start with this; a provider's (a sync's) never do.
pub const FILE_ID_PREFIX: &str = "file:";

/// A file's own transaction id as stored, or `None` for a blank one.
pub fn file_id(id: &str) -> Option<String> {
    (!id.trim().is_empty()).then(|| format!("{FILE_ID_PREFIX}{id}"))
}

/// Whether `row` gives an id its account already holds (for a stored transaction booked on
/// `held_date` for `held_minor`) to another booking: a bank or a file that reuses ids. Under the
/// same id, the same date and amount are the same booking; anything else is a second one, stored
/// under its content fingerprint (for syncs and imports alike: the store's insert asks this).
pub fn reuses_id(held_date: NaiveDate, held_minor: i64, row: &Transaction) -> bool {
    row.booking_date != held_date || row.amount.minor != held_minor
}

/// A stored transaction as import deduplication sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub booking_date: NaiveDate,
    pub amount_minor: i64,
    pub provider_id: Option<String>,
    pub fingerprint: String,
    pub pending: bool,
}

impl StoredEntry {
    /// A sync brought it: booked under a provider's id.
    fn is_synced(&self) -> bool {
        !self.pending && self.provider_id.as_deref().is_some_and(|id| !id.starts_with(FILE_ID_PREFIX))
    }
}

/// What to do with a batch of a statement's rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    /// Rows to insert; the store skips those whose identity (rule 1 or 2) it already holds.
    pub insert: Vec<Transaction>,
    /// Rows that are transactions a sync already stored (rule 3).
    pub recognised: u64,
    /// Stored pending transactions that booked rows replace (rule 4).
    pub replaced: Vec<StoredEntry>,
}

/// Rules 3 and 4 over one statement, batch by batch: synced transactions already matched by
/// earlier rows of the statement are not matched again.
#[derive(Debug, Clone, Default)]
pub struct ImportDedupe {
    claimed: HashMap<(NaiveDate, i64), u32>,
}

impl ImportDedupe {
    pub fn new() -> ImportDedupe {
        ImportDedupe::default()
    }

    /// Decides a batch of rows against `stored`: the account's transactions on the batch's days.
    pub fn decide(&mut self, rows: Vec<Transaction>, stored: &[StoredEntry]) -> Decision {
        let stored_ids: HashSet<&str> = stored.iter().filter_map(|e| e.provider_id.as_deref()).collect();
        let mut synced: HashMap<(NaiveDate, i64), u32> = HashMap::new();
        let mut pending: HashMap<(NaiveDate, i64), Vec<&StoredEntry>> = HashMap::new();
        for entry in stored {
            let key = (entry.booking_date, entry.amount_minor);
            if entry.pending {
                pending.entry(key).or_default().push(entry);
            } else if entry.is_synced() {
                *synced.entry(key).or_default() += 1;
            }
        }
        let mut decision = Decision { insert: Vec::with_capacity(rows.len()), ..Decision::default() };
        for row in rows {
            let key = (row.booking_date, row.amount.minor);
            let own_id_stored = row.provider_id.as_deref().is_some_and(|id| stored_ids.contains(id));
            if !own_id_stored && row.status == TransactionStatus::Booked {
                let claimed = self.claimed.entry(key).or_insert(0);
                if synced.get(&key).copied().unwrap_or(0) > *claimed {
                    *claimed += 1;
                    decision.recognised += 1;
                    continue;
                }
                if let Some(entry) = pending.get_mut(&key).and_then(Vec::pop) {
                    decision.replaced.push(entry.clone());
                }
            }
            decision.insert.push(row);
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, TransactionId};
    use crate::money::{Currency, Money};
    use crate::transaction::{fingerprint, FingerprintContent};
    use uuid::Uuid;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn row(id: Option<&str>, d: u32, minor: i64, status: TransactionStatus) -> Transaction {
        let amount = Money::new(minor, Currency::EUR);
        let content = FingerprintContent { booking_date: day(d), amount, description: "x", counterparty: None };
        Transaction {
            id: TransactionId(Uuid::nil()),
            account_id: AccountId(Uuid::nil()),
            status,
            booking_date: day(d),
            value_date: None,
            amount,
            description: "x".into(),
            counterparty: None,
            provider_id: id.and_then(file_id),
            fingerprint: fingerprint(content, 0),
        }
    }

    fn stored(id: Option<&str>, d: u32, minor: i64, pending: bool) -> StoredEntry {
        StoredEntry {
            booking_date: day(d),
            amount_minor: minor,
            provider_id: id.map(str::to_string),
            fingerprint: String::new(),
            pending,
        }
    }

    use TransactionStatus::Booked;

    #[test]
    fn an_id_given_again_with_another_date_or_amount_is_reused() {
        let held = row(Some("A1"), 2, -350, Booked);
        assert!(!reuses_id(day(2), -350, &held));
        assert!(reuses_id(day(3), -350, &held));
        assert!(reuses_id(day(2), -351, &held));
    }

    #[test]
    fn file_ids_are_marked_and_blank_ones_are_none() {
        assert_eq!(file_id("FIT-1").as_deref(), Some("file:FIT-1"));
        assert_eq!(file_id("  "), None);
    }

    #[test]
    fn synced_transactions_are_recognised_one_per_row_across_batches() {
        // Two coffees a sync brought; the file has three of that day and price, in two batches.
        let synced = [stored(Some("bank-1"), 2, -350, false), stored(Some("bank-2"), 2, -350, false)];
        let mut dedupe = ImportDedupe::new();
        let first = dedupe.decide(vec![row(None, 2, -350, Booked), row(None, 2, -350, Booked)], &synced);
        assert_eq!((first.recognised, first.insert.len()), (2, 0));
        let second = dedupe.decide(vec![row(None, 2, -350, Booked)], &synced);
        assert_eq!((second.recognised, second.insert.len()), (0, 1), "a third coffee is new");
    }

    #[test]
    fn what_a_file_stored_is_not_taken_for_a_sync() {
        // An earlier import stored it under its file id: the store's identity finds it (rule 1),
        // and a second coffee with another file id is a new transaction.
        let earlier = [stored(Some("file:A1"), 2, -350, false)];
        let decision = ImportDedupe::new()
            .decide(vec![row(Some("A1"), 2, -350, Booked), row(Some("A5"), 2, -350, Booked)], &earlier);
        assert_eq!(decision.recognised, 0);
        assert_eq!(decision.insert.len(), 2);
        assert_eq!(decision.insert[1].provider_id.as_deref(), Some("file:A5"));
    }

    #[test]
    fn a_booked_row_replaces_one_pending_of_its_date_and_amount() {
        let held = [stored(None, 3, -9000, true), stored(None, 3, -9000, true), stored(None, 3, -100, true)];
        let decision = ImportDedupe::new().decide(vec![row(None, 3, -9000, Booked)], &held);
        assert_eq!(decision.replaced.len(), 1);
        assert_eq!(decision.replaced[0].amount_minor, -9000);
        assert_eq!(decision.insert.len(), 1);
        // A pending row replaces nothing.
        let pending = ImportDedupe::new().decide(vec![row(None, 3, -9000, TransactionStatus::Pending)], &held);
        assert!(pending.replaced.is_empty());
    }
}
