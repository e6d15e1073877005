//! The rules that keep a statement import from doubling what is already stored, per account:
//!
//! 1. A row with the file's own id (FITID, AcctSvcrRef, bank reference) is stored under that id,
//!    marked as a file's ([`file_id`]): importing the file again, or an overlapping one, finds it.
//! 2. One without an id is stored under its fingerprint (counted by
//!    [`Fingerprinter`](crate::transaction::Fingerprinter)): the same file adds nothing again.
//! 3. A booked row that another source already brought (a sync, or a file of another format: the
//!    bank's MT940 and its CAMT describe one booking under different ids and in different words)
//!    is recognised by booking date and amount, one stored transaction per row: two identical
//!    coffees in the file match two stored ones, not one, and a third is new.
//! 4. A booked row replaces a stored pending transaction of the same date and amount. When a sync
//!    brought that pending one, the row keeps its provider id (`Transaction::pending_of`): the
//!    bank's own booking of it, days later and perhaps for another amount, then takes the row's
//!    place (core's `ingest`) instead of doubling it.
//!
//! Rules 1 and 2 are the store's identity indexes; [`ImportDedupe`] decides 3 and 4.

use crate::transaction::{Source, Transaction, TransactionStatus};
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
    pub source: Source,
}

impl StoredEntry {
    /// A pending transaction a sync brought.
    fn is_synced_pending(&self) -> bool {
        self.pending
            && match self.source {
                Source::Sync => true,
                Source::Unknown => self.provider_id.as_deref().is_some_and(|id| !id.starts_with(FILE_ID_PREFIX)),
                _ => false,
            }
    }

    /// A booking another source than a file of `format` brought. Of rows stored before sources
    /// were kept, those under a provider's id are a sync's; the others may be this format's own.
    fn is_from_another_source(&self, format: Source) -> bool {
        !self.pending
            && match self.source {
                Source::Unknown => self.provider_id.as_deref().is_some_and(|id| !id.starts_with(FILE_ID_PREFIX)),
                source => source != format,
            }
    }
}

/// What to do with a batch of a statement's rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    /// Rows to insert; the store skips those whose identity (rule 1 or 2) it already holds.
    pub insert: Vec<Transaction>,
    /// Rows that are transactions another source already stored (rule 3).
    pub recognised: u64,
    /// Stored pending transactions that booked rows replace (rule 4).
    pub replaced: Vec<StoredEntry>,
}

/// Rules 3 and 4 over one statement, batch by batch: stored transactions already matched by
/// earlier rows of the statement are not matched again.
#[derive(Debug, Clone)]
pub struct ImportDedupe {
    /// The format of the file being imported.
    format: Source,
    claimed: HashMap<(NaiveDate, i64), u32>,
}

impl ImportDedupe {
    pub fn new(format: Source) -> ImportDedupe {
        ImportDedupe { format, claimed: HashMap::new() }
    }

    /// Decides a batch of rows against `stored`: the account's transactions on the batch's days.
    pub fn decide(&mut self, rows: Vec<Transaction>, stored: &[StoredEntry]) -> Decision {
        let stored_ids: HashSet<&str> = stored.iter().filter_map(|e| e.provider_id.as_deref()).collect();
        let stored_prints: HashSet<&str> =
            stored.iter().filter(|e| e.provider_id.is_none()).map(|e| e.fingerprint.as_str()).collect();
        let mut others: HashMap<(NaiveDate, i64), u32> = HashMap::new();
        let mut pending: HashMap<(NaiveDate, i64), Vec<&StoredEntry>> = HashMap::new();
        for entry in stored {
            let key = (entry.booking_date, entry.amount_minor);
            if entry.pending {
                pending.entry(key).or_default().push(entry);
            } else if entry.is_from_another_source(self.format) {
                *others.entry(key).or_default() += 1;
            }
        }
        let mut decision = Decision { insert: Vec::with_capacity(rows.len()), ..Decision::default() };
        for mut row in rows {
            let key = (row.booking_date, row.amount.minor);
            // A row this file (or an earlier one of its kind) stored already is the store's to skip.
            let own_stored = match row.provider_id.as_deref() {
                Some(id) => stored_ids.contains(id),
                None => stored_prints.contains(row.fingerprint.as_str()),
            };
            if !own_stored && row.status == TransactionStatus::Booked {
                let claimed = self.claimed.entry(key).or_insert(0);
                if others.get(&key).copied().unwrap_or(0) > *claimed {
                    *claimed += 1;
                    decision.recognised += 1;
                    continue;
                }
                if let Some(entry) = pending.get_mut(&key).and_then(Vec::pop) {
                    if entry.is_synced_pending() {
                        row.pending_of = Some(entry.provider_id.clone().unwrap_or_default());
                    }
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
            source: Source::Ofx,
            pending_of: None,
        }
    }

    fn stored(id: Option<&str>, d: u32, minor: i64, pending: bool) -> StoredEntry {
        let synced = id.is_some_and(|id| !id.starts_with(FILE_ID_PREFIX));
        StoredEntry {
            booking_date: day(d),
            amount_minor: minor,
            provider_id: id.map(str::to_string),
            fingerprint: String::new(),
            pending,
            source: if synced { Source::Sync } else { Source::Ofx },
        }
    }

    fn from(source: Source, entry: StoredEntry) -> StoredEntry {
        StoredEntry { source, ..entry }
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
        let mut dedupe = ImportDedupe::new(Source::Ofx);
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
        let decision = ImportDedupe::new(Source::Ofx)
            .decide(vec![row(Some("A1"), 2, -350, Booked), row(Some("A5"), 2, -350, Booked)], &earlier);
        assert_eq!(decision.recognised, 0);
        assert_eq!(decision.insert.len(), 2);
        assert_eq!(decision.insert[1].provider_id.as_deref(), Some("file:A5"));
    }

    #[test]
    fn another_format_s_rows_are_recognised_by_date_and_amount_however_they_are_worded() {
        // An MT940 of the account stored these; its CAMT says the same in other words and ids.
        let mt940 = [
            from(Source::Mt940, stored(None, 2, -350, false)),
            from(Source::Mt940, stored(None, 2, -350, false)),
            from(Source::Mt940, stored(Some("file:ref-9"), 4, 250_000, false)),
        ];
        let camt = |rows: Vec<Transaction>| ImportDedupe::new(Source::Camt).decide(rows, &mt940);
        // Two same-day coffees match the two stored; a third is a new one; the salary is known.
        let decision = camt(vec![
            row(Some("C1"), 2, -350, Booked),
            row(Some("C2"), 2, -350, Booked),
            row(Some("C3"), 2, -350, Booked),
        ]);
        assert_eq!((decision.recognised, decision.insert.len()), (2, 1));
        assert_eq!(camt(vec![row(Some("C4"), 4, 250_000, Booked)]).recognised, 1);
        // A refund of the same amount, or the same amount a day later, is another transaction.
        assert_eq!(camt(vec![row(Some("C5"), 2, 350, Booked), row(Some("C6"), 3, -350, Booked)]).recognised, 0);
        // A file of the same format is matched by its own ids and fingerprints, never by content.
        let again = ImportDedupe::new(Source::Mt940).decide(vec![row(Some("other"), 2, -350, Booked)], &mt940);
        assert_eq!((again.recognised, again.insert.len()), (0, 1));
    }

    #[test]
    fn a_row_whose_own_identity_is_stored_claims_nothing_of_another_source() {
        // The file was imported before (its row is stored under its fingerprint), and a sync holds
        // one booking of that day and amount: re-importing recognises the row as its own, so the
        // synced one stays free for a second, new row of the file.
        let first = row(None, 2, -350, Booked);
        let held = [
            StoredEntry { fingerprint: first.fingerprint.clone(), ..stored(None, 2, -350, false) },
            stored(Some("bank-1"), 2, -350, false),
        ];
        let decision = ImportDedupe::new(Source::Ofx).decide(vec![first], &held);
        assert_eq!((decision.recognised, decision.insert.len()), (0, 1), "the store skips it as its own");
    }

    #[test]
    fn a_booked_row_replaces_one_pending_of_its_date_and_amount() {
        let held = [stored(None, 3, -9000, true), stored(None, 3, -9000, true), stored(None, 3, -100, true)];
        let decision = ImportDedupe::new(Source::Ofx).decide(vec![row(None, 3, -9000, Booked)], &held);
        assert_eq!(decision.replaced.len(), 1);
        assert_eq!(decision.replaced[0].amount_minor, -9000);
        assert_eq!(decision.insert.len(), 1);
        assert_eq!(decision.insert[0].pending_of, None, "a file's pending row: nothing to keep");
        // A pending row a sync brought: the booking keeps its id, for the bank's booking to find.
        let synced = [from(Source::Sync, stored(Some("card-77"), 3, -9000, true))];
        let decision = ImportDedupe::new(Source::Csv).decide(vec![row(None, 3, -9000, Booked)], &synced);
        assert_eq!(decision.insert[0].pending_of.as_deref(), Some("card-77"));
        // A pending row replaces nothing.
        let pending =
            ImportDedupe::new(Source::Ofx).decide(vec![row(None, 3, -9000, TransactionStatus::Pending)], &held);
        assert!(pending.replaced.is_empty());
    }
}
