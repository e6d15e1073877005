//! What a sync ingests: one item's fetched data turned into what is stored for its account.
//!
//! Booked transactions are stored once (by provider id, else by fingerprint, counted by
//! [`Fingerprinter`] over the whole fetch); the pending ones are the account's whole current
//! pending set, which replaces the stored one, so a pending row that books (under its own id or
//! another) or vanishes is never kept twice. The balance is one point observed now; holdings are
//! as of today.

use crate::balance::{BalancePoint, BalanceSource};
use crate::holding::{Holding, Instrument};
use crate::ids::{AccountId, TransactionId};
use crate::money::Money;
use crate::transaction::{FingerprintContent, Fingerprinter, Transaction, TransactionStatus};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
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

/// What one fetch of one account stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingest {
    pub balance: Option<BalancePoint>,
    pub holdings: Vec<Holding>,
    /// Stored once each, never removed.
    pub booked: Vec<Transaction>,
    /// The account's current pending set: it replaces the stored one.
    pub pending: Vec<Transaction>,
}

/// Decides what `data`, fetched at `now`, stores for `account`; `new_id` gives transactions ids.
pub fn ingest(account: AccountId, data: &ItemData, now: DateTime<Utc>, mut new_id: impl FnMut() -> Uuid) -> Ingest {
    let today = now.date_naive();
    let (booked, pending): (Vec<&FetchedTransaction>, Vec<&FetchedTransaction>) =
        data.transactions.iter().partition(|t| t.status == TransactionStatus::Booked);
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
        booked: identify(account, &booked, &mut new_id),
        pending: identify(account, &pending, &mut new_id),
    }
}

/// Gives fetched transactions ids and content fingerprints (with occurrence counts).
fn identify(
    account: AccountId,
    fetched: &[&FetchedTransaction],
    new_id: &mut impl FnMut() -> Uuid,
) -> Vec<Transaction> {
    let mut fingerprints = Fingerprinter::new();
    fetched
        .iter()
        .map(|t| {
            let content = FingerprintContent {
                booking_date: t.booking_date,
                amount: t.amount,
                description: &t.description,
                counterparty: t.counterparty.as_deref(),
            };
            Transaction {
                id: TransactionId(new_id()),
                account_id: account,
                status: t.status,
                booking_date: t.booking_date,
                value_date: t.value_date,
                amount: t.amount,
                description: t.description.clone(),
                counterparty: t.counterparty.clone(),
                provider_id: t.provider_id.clone(),
                fingerprint: fingerprints.next(content).0,
            }
        })
        .collect()
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

    fn run(transactions: Vec<FetchedTransaction>) -> Ingest {
        let now = DateTime::from_timestamp(1_796_000_000, 0).unwrap();
        let data = ItemData { balance: Some(Money::new(1000, Currency::EUR)), holdings: Vec::new(), transactions };
        let mut n = 0;
        ingest(AccountId(Uuid::from_u128(1)), &data, now, || {
            n += 1;
            Uuid::from_u128(n)
        })
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
        // The next fetch spells them the other way round: the same two identities.
        let again = run(vec![fetched(Booked, None, 2, -350, "coffee"), fetched(Booked, None, 2, -350, "Coffee")]);
        let mut first: Vec<&str> = ingest.booked.iter().map(|t| t.fingerprint.as_str()).collect();
        let mut second: Vec<&str> = again.booked.iter().map(|t| t.fingerprint.as_str()).collect();
        first.sort();
        second.sort();
        assert_eq!(first, second);
    }

    #[test]
    fn a_pending_row_that_books_under_another_id_leaves_the_pending_set() {
        // Yesterday the hotel was pending under the card network's id; today it is booked under
        // the bank's own id and no longer pending. The new pending set (empty) replaces the old,
        // so the hotel is stored once, as booked.
        let yesterday = run(vec![fetched(Pending, Some("auth-77"), 3, -9000, "Hotel")]);
        assert_eq!(yesterday.pending.len(), 1);
        let today = run(vec![fetched(Booked, Some("bk-1201"), 3, -9000, "HOTEL")]);
        assert!(today.pending.is_empty());
        assert_eq!(today.booked.len(), 1);
        assert_eq!(today.booked[0].provider_id.as_deref(), Some("bk-1201"));
    }
}
