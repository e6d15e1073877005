//! What a sync ingests: one item's fetched data, reconciled with what is stored for its account.
//!
//! A fetch covers a window of days (from `since` to today); the engine hands over the account's
//! stored transactions from that day on, so every decision here is made against everything the
//! window could repeat:
//!
//! - A fetched booked transaction is **known** when a stored one has its provider id and the same
//!   booking date and amount. The rest are matched **by content** (booking date, amount, text and
//!   counterparty as the fingerprint normalises them, counted as a multiset) with the stored ones
//!   no id claimed: a bank that issues new ids per session (Enable Banking's `transaction_id`), or
//!   a sync of what an import already stored, stores nothing twice. Only what neither finds is new.
//! - A fetched booking under a known id with another date or amount is a **collision**: a bank that
//!   reuses ids. It is new all the same; the store keeps it under its content fingerprint, since
//!   its id is taken, and counts it (see `saldo_store`'s insert). The fingerprints of new rows never
//!   repeat a stored one of the window, so the store's content identity cannot drop them either.
//! - The stored **pending** transactions the window covers are replaced by the fetched pending
//!   set; those not fetched again as pending have **vanished** (booked under another identity, or
//!   dropped by the bank), and are counted. Pending rows older than the window are kept: only a
//!   window that covers a pending transaction's date can say it is gone, which is why the engine
//!   reaches back to the oldest one held. A pending row whose id is booked already is dropped; one
//!   without an id is kept even when a booking looks the same (it may be a second, held purchase).
//!
//! The balance is one point observed now; holdings are as of today.

use crate::balance::{BalancePoint, BalanceSource};
use crate::holding::{Holding, Instrument};
use crate::ids::{AccountId, TransactionId};
use crate::money::Money;
use crate::transaction::{
    content_key, fingerprint, FingerprintContent, Fingerprinter, Source, Transaction, TransactionStatus,
};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// A transaction as a connector fetched it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedTransaction {
    pub provider_id: Option<String>,
    pub status: TransactionStatus,
    pub booking_date: NaiveDate,
    pub value_date: Option<NaiveDate>,
    pub amount: Money,
    pub description: String,
    pub counterparty: Option<String>,
}

/// A position as a connector fetched it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedHolding {
    pub instrument: Instrument,
    pub quantity: Decimal,
    pub unit_price: Option<Decimal>,
    pub market_value: Money,
}

/// One item's data from one fetch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ItemData {
    /// Current balance, signed from the holder's view.
    pub balance: Option<Money>,
    pub holdings: Vec<FetchedHolding>,
    /// Booked transactions since the requested day, and all current pending ones.
    pub transactions: Vec<FetchedTransaction>,
}

/// The days one fetch covered, and what is stored for them.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    /// The first day the fetch asked for.
    pub since: NaiveDate,
    /// The account's stored transactions (booked and pending) dated from `since`, and from any
    /// earlier day the fetch returned a booking for.
    pub stored: &'a [Transaction],
}

/// The day from which a fetch's stored counterpart must be read: the window's first day, or an
/// earlier booking date the provider returned anyway.
pub fn stored_from(since: NaiveDate, data: &ItemData) -> NaiveDate {
    data.transactions.iter().map(|t| t.booking_date).min().map_or(since, |first| first.min(since))
}

/// What one fetch of one account stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingest {
    pub balance: Option<BalancePoint>,
    pub holdings: Vec<Holding>,
    /// New booked transactions: stored once each, never removed.
    pub booked: Vec<Transaction>,
    /// The window's current pending set: it replaces `pending_removed`.
    pub pending: Vec<Transaction>,
    /// The stored pending transactions the window covers.
    pub pending_removed: Vec<TransactionId>,
    /// Of `pending_removed`, those not fetched again as pending.
    pub pending_vanished: u64,
    /// Fetched bookings found by content under another id than the stored one's (or none).
    pub matched_by_content: u64,
    /// Stored rows an import booked in place of a pending transaction that the bank has now
    /// booked itself (in `booked`): they go, so that the booking is stored once.
    pub superseded: Vec<TransactionId>,
}

/// Decides what `data`, fetched at `now` for `window`, stores for `account`; `new_id` gives
/// transactions ids.
pub fn ingest(
    account: AccountId,
    data: &ItemData,
    window: Window<'_>,
    now: DateTime<Utc>,
    mut new_id: impl FnMut() -> Uuid,
) -> Ingest {
    let today = now.date_naive();
    let (booked, pending): (Vec<&FetchedTransaction>, Vec<&FetchedTransaction>) =
        data.transactions.iter().partition(|t| t.status == TransactionStatus::Booked);
    let stored_booked: Vec<&Transaction> =
        window.stored.iter().filter(|t| t.status == TransactionStatus::Booked).collect();
    let stored_pending: Vec<&Transaction> = window
        .stored
        .iter()
        .filter(|t| t.status == TransactionStatus::Pending && t.booking_date >= window.since)
        .collect();

    // The fingerprints the window holds, which no new row may repeat.
    let mut taken: HashSet<String> = window.stored.iter().map(|t| t.fingerprint.clone()).collect();
    let Reconciled { new: new_booked, matched_by_content, superseded } =
        reconcile_booked(&booked, &stored_booked, &mut taken);
    let booked_ids: HashSet<&str> = stored_booked
        .iter()
        .filter_map(|t| t.provider_id.as_deref())
        .chain(booked.iter().filter_map(|t| t.provider_id.as_deref()))
        .collect();
    // A pending row under an id that is booked is that booking. Without ids, one that looks like a
    // booking is kept all the same: it may be a second purchase still held (two identical coffees,
    // one booked, one pending), and only a pending row held makes the next windows reach back to
    // its day, where it will book.
    let pending_now: Vec<&FetchedTransaction> =
        pending.into_iter().filter(|t| t.provider_id.as_deref().is_none_or(|id| !booked_ids.contains(id))).collect();
    let pending_vanished = vanished(&stored_pending, &pending_now);
    // The pending rows removed give their fingerprints back.
    for removed in &stored_pending {
        taken.remove(&removed.fingerprint);
    }
    let pending_fingerprints = fingerprints(&pending_now, &mut taken);

    let to_transaction = |t: &FetchedTransaction, fingerprint: String, id: Uuid| Transaction {
        id: TransactionId(id),
        account_id: account,
        status: t.status,
        booking_date: t.booking_date,
        value_date: t.value_date,
        amount: t.amount,
        description: t.description.clone(),
        counterparty: t.counterparty.clone(),
        provider_id: t.provider_id.clone(),
        fingerprint,
        source: Source::Sync,
        pending_of: None,
    };
    Ingest {
        balance: data.balance.map(|amount| BalancePoint {
            account_id: account,
            date: today,
            observed_at: now,
            amount,
            source: BalanceSource::Sync,
        }),
        holdings: data
            .holdings
            .iter()
            .map(|h| Holding {
                account_id: account,
                instrument: h.instrument.clone(),
                quantity: h.quantity,
                unit_price: h.unit_price,
                market_value: h.market_value,
                as_of: today,
            })
            .collect(),
        booked: new_booked.into_iter().map(|(t, fingerprint)| to_transaction(t, fingerprint, new_id())).collect(),
        pending: pending_now
            .iter()
            .zip(pending_fingerprints)
            .map(|(t, fingerprint)| to_transaction(t, fingerprint, new_id()))
            .collect(),
        pending_removed: stored_pending.iter().map(|t| t.id).collect(),
        pending_vanished,
        matched_by_content,
        superseded,
    }
}

fn content_of(t: &FetchedTransaction) -> FingerprintContent<'_> {
    FingerprintContent {
        booking_date: t.booking_date,
        amount: t.amount,
        description: &t.description,
        counterparty: t.counterparty.as_deref(),
    }
}

fn stored_content(t: &Transaction) -> FingerprintContent<'_> {
    FingerprintContent {
        booking_date: t.booking_date,
        amount: t.amount,
        description: &t.description,
        counterparty: t.counterparty.as_deref(),
    }
}

/// What the window's stored bookings make of the fetched ones.
struct Reconciled<'f> {
    /// The fetched bookings to store, with their fingerprints.
    new: Vec<(&'f FetchedTransaction, String)>,
    /// How many were found by content rather than by id.
    matched_by_content: u64,
    /// Stored rows that new bookings take the place of.
    superseded: Vec<TransactionId>,
}

/// How many days after a pending transaction's date a bank may book it.
const BOOKING_DELAY_DAYS: i64 = 7;

fn reconcile_booked<'f>(
    fetched: &[&'f FetchedTransaction],
    stored: &[&Transaction],
    taken: &mut HashSet<String>,
) -> Reconciled<'f> {
    let by_id: HashMap<&str, usize> =
        stored.iter().enumerate().filter_map(|(i, t)| t.provider_id.as_deref().map(|id| (id, i))).collect();
    let mut claimed = vec![false; stored.len()];
    // First every id match, so that a row matched by content below cannot take a stored row a
    // later row's id would have claimed.
    let mut unmatched: Vec<&FetchedTransaction> = Vec::new();
    for &t in fetched {
        let same = t
            .provider_id
            .as_deref()
            .and_then(|id| by_id.get(id))
            .filter(|&&i| !claimed[i] && stored[i].booking_date == t.booking_date && stored[i].amount == t.amount);
        match same {
            Some(&i) => claimed[i] = true,
            None => unmatched.push(t),
        }
    }
    let mut by_content: HashMap<[u8; 16], Vec<usize>> = HashMap::new();
    for (i, t) in stored.iter().enumerate().rev() {
        if !claimed[i] {
            by_content.entry(content_key(stored_content(t))).or_default().push(i);
        }
    }
    let unmatched_count = unmatched.len();
    let mut still: Vec<&FetchedTransaction> = Vec::new();
    for t in unmatched {
        match by_content.get_mut(&content_key(content_of(t))).and_then(Vec::pop) {
            Some(i) => claimed[i] = true,
            None => still.push(t),
        }
    }
    // What a statement file stored says nothing in the bank's words or ids: the rows left are
    // matched to it by booking date and amount, one stored row each (two coffees match two).
    let mut from_files: HashMap<(NaiveDate, Money), u32> = HashMap::new();
    for (i, t) in stored.iter().enumerate() {
        if !claimed[i] && is_from_a_file(t) {
            *from_files.entry((t.booking_date, t.amount)).or_default() += 1;
        }
    }
    let mut new: Vec<&FetchedTransaction> = Vec::new();
    for t in still {
        match from_files.get_mut(&(t.booking_date, t.amount)) {
            Some(left) if *left > 0 => {
                *left -= 1;
                // Which file row it matched is not tracked; a row that replaced a pending one
                // is the first to be taken, so it is not also superseded below.
                if let Some(i) = (0..stored.len()).find(|&i| {
                    !claimed[i]
                        && is_from_a_file(stored[i])
                        && stored[i].booking_date == t.booking_date
                        && stored[i].amount == t.amount
                }) {
                    claimed[i] = true;
                }
            }
            _ => new.push(t),
        }
    }
    let matched = (unmatched_count - new.len()) as u64;
    let superseded = supersede_booked_pendings(&new, stored, &mut claimed);
    for &i in &superseded {
        taken.remove(&stored[i].fingerprint);
    }
    let prints = fingerprints(&new, taken);
    Reconciled {
        new: new.into_iter().zip(prints).collect(),
        matched_by_content: matched,
        superseded: superseded.into_iter().map(|i| stored[i].id).collect(),
    }
}

/// The stored rows (by index) that an import booked in place of a pending transaction and that a
/// new booking is the bank's own booking of: under the pending's id, or else within
/// [`BOOKING_DELAY_DAYS`] after its date for an amount of the same sign at most a quarter off (a
/// card payment booked with a tip or at another rate). The nearest in date, then amount, wins.
fn supersede_booked_pendings(new: &[&FetchedTransaction], stored: &[&Transaction], claimed: &mut [bool]) -> Vec<usize> {
    let mut superseded = Vec::new();
    for t in new {
        let fits = |s: &Transaction| {
            let pending_id = s.pending_of.as_deref().filter(|id| !id.is_empty());
            if pending_id.is_some() && pending_id == t.provider_id.as_deref() {
                return true;
            }
            let delay = (t.booking_date - s.booking_date).num_days();
            let (was, now) = (s.amount.minor, t.amount.minor);
            (0..=BOOKING_DELAY_DAYS).contains(&delay)
                && s.amount.currency == t.amount.currency
                && was.signum() == now.signum()
                && (now - was).abs() * 4 <= was.abs()
        };
        let best = (0..stored.len())
            .filter(|&i| !claimed[i] && stored[i].pending_of.is_some() && fits(stored[i]))
            .min_by_key(|&i| {
                let s = stored[i];
                ((t.booking_date - s.booking_date).num_days().abs(), (t.amount.minor - s.amount.minor).abs())
            });
        if let Some(i) = best {
            claimed[i] = true;
            superseded.push(i);
        }
    }
    superseded
}

/// A stored booking a statement file brought: by its source, or, for rows stored before sources
/// were kept, by a file's id.
fn is_from_a_file(t: &Transaction) -> bool {
    t.source.is_file()
        || (t.source == Source::Unknown
            && t.provider_id.as_deref().is_some_and(|id| id.starts_with(crate::dedupe::FILE_ID_PREFIX)))
}

/// Fingerprints for new rows: counted over the rows as [`Fingerprinter`] does, then moved past any
/// occurrence the window holds already.
fn fingerprints(rows: &[&FetchedTransaction], taken: &mut HashSet<String>) -> Vec<String> {
    let mut counter = Fingerprinter::new();
    rows.iter()
        .map(|t| {
            let (mut print, mut occurrence) = counter.next(content_of(t));
            while taken.contains(&print) {
                occurrence += 1;
                print = fingerprint(content_of(t), occurrence);
            }
            taken.insert(print.clone());
            print
        })
        .collect()
}

/// How many of the stored pending rows the fetch no longer shows as pending, by id or else by
/// content.
fn vanished(stored: &[&Transaction], fetched: &[&FetchedTransaction]) -> u64 {
    let ids: HashSet<&str> = fetched.iter().filter_map(|t| t.provider_id.as_deref()).collect();
    let mut contents = content_counts(fetched);
    let found_again = |t: &Transaction, contents: &mut HashMap<[u8; 16], u32>| {
        t.provider_id.as_deref().is_some_and(|id| ids.contains(id))
            || take_key(contents, content_key(stored_content(t)))
    };
    stored.iter().filter(|t| !found_again(t, &mut contents)).count() as u64
}

/// Fetched rows counted by content.
fn content_counts(rows: &[&FetchedTransaction]) -> HashMap<[u8; 16], u32> {
    let mut counts = HashMap::new();
    for t in rows {
        *counts.entry(content_key(content_of(t))).or_default() += 1;
    }
    counts
}

fn take_key(counts: &mut HashMap<[u8; 16], u32>, key: [u8; 16]) -> bool {
    match counts.get_mut(&key) {
        Some(left) if *left > 0 => {
            *left -= 1;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn fetched(status: TransactionStatus, id: Option<&str>, day: u32, minor: i64, text: &str) -> FetchedTransaction {
        FetchedTransaction {
            provider_id: id.map(str::to_string),
            status,
            booking_date: NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
            value_date: None,
            amount: Money::new(minor, Currency::EUR),
            description: text.into(),
            counterparty: None,
        }
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn run_over(transactions: Vec<FetchedTransaction>, since: u32, stored: &[Transaction]) -> Ingest {
        let now = DateTime::from_timestamp(1_796_000_000, 0).unwrap();
        let data = ItemData { balance: Some(Money::new(1000, Currency::EUR)), holdings: Vec::new(), transactions };
        let mut n = 1000 * stored.len() as u128;
        ingest(AccountId(Uuid::from_u128(1)), &data, Window { since: day(since), stored }, now, || {
            n += 1;
            Uuid::from_u128(n)
        })
    }

    fn run(transactions: Vec<FetchedTransaction>) -> Ingest {
        run_over(transactions, 1, &[])
    }

    /// What is stored after `ingest` (booked and pending), for the next fetch to see.
    fn stored_after(before: &[Transaction], ingest: &Ingest) -> Vec<Transaction> {
        let mut all: Vec<Transaction> =
            before.iter().filter(|t| !ingest.pending_removed.contains(&t.id)).cloned().collect();
        all.extend(ingest.booked.iter().cloned());
        all.extend(ingest.pending.iter().cloned());
        all
    }

    use TransactionStatus::{Booked, Pending};

    #[test]
    fn booked_and_pending_are_split_and_the_balance_is_one_point() {
        let ingest =
            run(vec![fetched(Booked, Some("b1"), 2, -350, "Coffee"), fetched(Pending, None, 3, -900, "Hotel")]);
        assert_eq!(ingest.booked.len(), 1);
        assert_eq!(ingest.pending.len(), 1);
        assert_eq!(ingest.pending[0].status, Pending);
        let balance = ingest.balance.unwrap();
        assert_eq!((balance.amount.minor, balance.source), (1000, BalanceSource::Sync));
    }

    #[test]
    fn same_day_same_amount_pairs_in_any_spelling_are_two_transactions() {
        let ingest = run(vec![fetched(Booked, None, 2, -350, "Coffee"), fetched(Booked, None, 2, -350, "COFFEE ")]);
        assert_eq!(ingest.booked.len(), 2);
        assert_ne!(ingest.booked[0].fingerprint, ingest.booked[1].fingerprint);
        // The next fetch spells them the other way round: both are known.
        let again = run_over(
            vec![fetched(Booked, None, 2, -350, "coffee"), fetched(Booked, None, 2, -350, "Coffee")],
            1,
            &ingest.booked,
        );
        assert!(again.booked.is_empty());
    }

    #[test]
    fn a_pending_row_that_books_under_another_id_leaves_the_pending_set() {
        // Yesterday the hotel was pending under the card network's id; today it is booked under
        // the bank's own id and no longer pending. The window's new pending set (empty) replaces
        // the old, so the hotel is stored once, as booked, and the pending one counts as vanished.
        let yesterday = run(vec![fetched(Pending, Some("auth-77"), 3, -9000, "Hotel")]);
        assert_eq!(yesterday.pending.len(), 1);
        let held = stored_after(&[], &yesterday);
        let today = run_over(vec![fetched(Booked, Some("bk-1201"), 3, -9000, "HOTEL")], 1, &held);
        assert!(today.pending.is_empty());
        assert_eq!(today.pending_removed, vec![held[0].id]);
        assert_eq!(today.pending_vanished, 1);
        assert_eq!(today.booked.len(), 1);
        assert_eq!(today.booked[0].provider_id.as_deref(), Some("bk-1201"));
    }

    #[test]
    fn a_pending_row_fetched_again_has_not_vanished_and_one_older_than_the_window_stays() {
        let first = run(vec![fetched(Pending, Some("p1"), 3, -9000, "Hotel"), fetched(Pending, None, 9, -500, "Fuel")]);
        let held = stored_after(&[], &first);
        // A window from the 5th does not cover the hotel: it is neither removed nor vanished.
        let next = run_over(vec![fetched(Pending, None, 9, -500, "FUEL")], 5, &held);
        assert_eq!(next.pending_removed.len(), 1, "only the fuel is covered");
        assert_eq!(next.pending_vanished, 0);
        assert_eq!(next.pending.len(), 1);
    }

    #[test]
    fn a_reused_id_with_other_content_is_new_and_the_same_id_and_content_is_known() {
        let first = run(vec![fetched(Booked, Some("T1"), 2, -350, "Coffee")]);
        let held = stored_after(&[], &first);
        // The bank gives T1 again to another booking: another day and amount.
        let second = run_over(
            vec![fetched(Booked, Some("T1"), 2, -350, "Coffee"), fetched(Booked, Some("T1"), 4, -1200, "Books")],
            1,
            &held,
        );
        assert_eq!(second.booked.len(), 1);
        assert_eq!(second.booked[0].amount.minor, -1200);
        // Stored as the store would (its id taken, under its fingerprint), it is known next time.
        let mut collided = second.booked[0].clone();
        collided.provider_id = None;
        let held = [held, vec![collided]].concat();
        let third = run_over(
            vec![fetched(Booked, Some("T1"), 2, -350, "Coffee"), fetched(Booked, Some("T1"), 4, -1200, "Books")],
            1,
            &held,
        );
        assert!(third.booked.is_empty());
    }

    #[test]
    fn new_session_ids_match_stored_bookings_by_content_and_count_identical_ones() {
        let first = run(vec![
            fetched(Booked, Some("s1-a"), 2, -350, "Coffee"),
            fetched(Booked, Some("s1-b"), 2, -350, "Coffee"),
            fetched(Booked, Some("s1-c"), 3, -990, "Lunch"),
        ]);
        let held = stored_after(&[], &first);
        // After a reconnect every id is new; a third coffee of that day is new too.
        let next = run_over(
            vec![
                fetched(Booked, Some("s2-a"), 2, -350, "coffee"),
                fetched(Booked, Some("s2-b"), 2, -350, "Coffee"),
                fetched(Booked, Some("s2-x"), 2, -350, "Coffee"),
                fetched(Booked, Some("s2-c"), 3, -990, "Lunch"),
            ],
            1,
            &held,
        );
        assert_eq!(next.matched_by_content, 3);
        assert_eq!(next.booked.len(), 1);
        assert_eq!(next.booked[0].provider_id.as_deref(), Some("s2-x"));
        assert!(!held.iter().any(|t| t.fingerprint == next.booked[0].fingerprint));
    }

    #[test]
    fn an_id_match_is_claimed_before_any_content_match() {
        // Two identical coffees, one stored under A; the fetch lists an id-less twin first.
        let first = run(vec![fetched(Booked, Some("A"), 2, -350, "Coffee")]);
        let held = stored_after(&[], &first);
        let next = run_over(
            vec![fetched(Booked, None, 2, -350, "Coffee"), fetched(Booked, Some("A"), 2, -350, "Coffee")],
            1,
            &held,
        );
        assert_eq!(next.booked.len(), 1);
        assert_eq!(next.booked[0].provider_id, None);
    }

    #[test]
    fn a_pending_row_booked_under_its_own_id_is_dropped_and_a_look_alike_without_id_is_kept() {
        let ingest = run(vec![
            fetched(Booked, Some("X"), 2, -350, "Coffee"),
            fetched(Pending, Some("X"), 2, -350, "Coffee"),
            // Two bus tickets of one day, one booked, the other still held.
            fetched(Booked, None, 3, -100, "Bus"),
            fetched(Pending, None, 3, -100, "Bus"),
        ]);
        assert_eq!(ingest.booked.len(), 2);
        assert_eq!(ingest.pending.len(), 1);
        assert_eq!(ingest.pending[0].provider_id, None);
        assert_ne!(ingest.pending[0].fingerprint, ingest.booked[1].fingerprint, "the store keeps both");
    }

    #[test]
    fn stored_rows_are_read_from_the_earliest_day_the_fetch_returned() {
        let data = ItemData { transactions: vec![fetched(Booked, None, 2, -1, "x")], ..ItemData::default() };
        assert_eq!(stored_from(day(5), &data), day(2));
        assert_eq!(stored_from(day(1), &data), day(1));
    }

    #[test]
    fn a_statement_file_s_rows_are_the_bank_s_bookings_of_their_date_and_amount() {
        // A CAMT import stored these, in the file's words and under its ids.
        let imported: Vec<Transaction> = run(vec![
            fetched(Booked, Some("file:A1"), 2, -350, "KARTENZAHLUNG CAFE"),
            fetched(Booked, None, 2, -350, "KARTENZAHLUNG CAFE"),
            fetched(Booked, None, 4, 250_000, "LOHN/GEHALT"),
        ])
        .booked
        .into_iter()
        .map(|t| Transaction { source: Source::Camt, ..t })
        .collect();
        let ingest = run_over(
            vec![
                fetched(Booked, Some("bank-1"), 2, -350, "Cafe Anna"),
                fetched(Booked, Some("bank-2"), 2, -350, "Cafe Anna"),
                fetched(Booked, Some("bank-3"), 2, -350, "Cafe Anna"),
                fetched(Booked, Some("bank-4"), 4, 250_000, "Salary"),
                fetched(Booked, Some("bank-5"), 4, 350, "Cafe Anna refund"),
            ],
            1,
            &imported,
        );
        // Two coffees of two, the salary: known. A third coffee and a refund: new.
        let new: Vec<i64> = ingest.booked.iter().map(|t| t.amount.minor).collect();
        assert_eq!(new, [-350, 350]);
        assert_eq!(ingest.matched_by_content, 3);
        assert!(ingest.booked.iter().all(|t| t.source == Source::Sync));
        // What a sync stored is never matched this loosely: another id and text is another booking.
        let synced: Vec<Transaction> = run(vec![fetched(Booked, Some("bank-1"), 2, -350, "Cafe Anna")]).booked;
        let again = run_over(vec![fetched(Booked, Some("bank-9"), 2, -350, "Bakery")], 1, &synced);
        assert_eq!(again.booked.len(), 1);
    }

    #[test]
    fn the_bank_s_booking_of_a_pending_one_an_import_booked_takes_its_place() {
        // A sync held a card payment pending at -34.88; a CSV import booked it (same day and amount).
        let booked_by_import = |day: u32, minor: i64| {
            let row = run(vec![fetched(Booked, None, day, minor, "KARTE 1234 TANKSTELLE")]).booked.remove(0);
            Transaction { source: Source::Csv, pending_of: Some("card-77".into()), ..row }
        };
        let stored = vec![booked_by_import(2, -3488)];
        // The bank books it a day later, under a new id, for -39.71: it replaces the import's row.
        let ingest = run_over(vec![fetched(Booked, Some("bk-1"), 3, -3971, "Tankstelle")], 1, &stored);
        assert_eq!(ingest.booked.len(), 1);
        assert_eq!(ingest.superseded, vec![stored[0].id]);
        // Under the pending's own id, it is that booking whatever its date.
        let ingest = run_over(vec![fetched(Booked, Some("card-77"), 12, -3488, "Tankstelle")], 1, &stored);
        assert_eq!(ingest.superseded, vec![stored[0].id]);

        // Not the same: a refund of the amount, a payment far off in amount or weeks later.
        for other in [
            fetched(Booked, Some("bk-2"), 3, 3488, "Refund"),
            fetched(Booked, Some("bk-3"), 3, -9000, "Hotel"),
            fetched(Booked, Some("bk-4"), 20, -3488, "Tankstelle"),
            fetched(Booked, Some("bk-5"), 1, -3488, "Tankstelle, the day before"),
        ] {
            let ingest = run_over(vec![other.clone()], 1, &stored);
            assert!(ingest.superseded.is_empty(), "{other:?}");
            assert_eq!(ingest.booked.len(), 1, "{other:?}");
        }
        // Two same-day coffees: the import's booking matches the first exactly, the second is new
        // and takes nobody's place.
        let coffee = vec![booked_by_import(2, -350)];
        let ingest = run_over(
            vec![fetched(Booked, Some("c-1"), 2, -350, "Cafe"), fetched(Booked, Some("c-2"), 2, -350, "Cafe")],
            1,
            &coffee,
        );
        assert_eq!((ingest.booked.len(), ingest.superseded.len()), (1, 0));
    }
}
