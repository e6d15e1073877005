//! The sandbox's ground truth: every account's transactions, balances and holdings as a pure
//! function of the seed, the account's key and the day, so that any run can be checked against
//! what the bank "really" booked.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use saldo_core::account::AccountKind;
use saldo_core::holding::Instrument;
use saldo_core::money::{Currency, Money};
use saldo_core::transaction::TransactionStatus;

use crate::{FetchedHolding, FetchedTransaction};

/// Mixes numbers into one well-spread number (SplitMix64 steps): the sandbox's only randomness.
pub fn mix(parts: &[u64]) -> u64 {
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
    for part in parts {
        h = splitmix(h ^ part.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    }
    h
}

fn splitmix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A text as a number for [`mix`] (FNV-1a).
pub fn text_key(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Days since 1970-01-01.
pub fn day_number(date: NaiveDate) -> i64 {
    date.signed_duration_since(NaiveDate::default()).num_days()
}

pub fn date_of(day: i64) -> NaiveDate {
    NaiveDate::default() + chrono::TimeDelta::days(day)
}

const MERCHANTS: [(&str, &str); 12] = [
    ("Card purchase ICA Supermarket", "ICA Supermarket"),
    ("Card purchase Carrefour", "Carrefour"),
    ("Card purchase SNCF", "SNCF"),
    ("Card purchase Coffee Bar", "Coffee Bar"),
    ("Card purchase Pharmacy", "Pharmacy"),
    ("Card purchase Spotify", "Spotify"),
    ("Card purchase Bakery", "Bakery"),
    ("Card purchase Shell", "Shell"),
    ("Card purchase Amazon EU", "Amazon EU"),
    ("Card purchase Restaurant Le Jardin", "Restaurant Le Jardin"),
    ("Card purchase Bookshop", "Bookshop"),
    ("Card purchase Cinema", "Cinema"),
];

const INSTRUMENTS: [(&str, &str, &str, i64); 3] = [
    ("IE00B4L5Y983", "IWDA", "iShares Core MSCI World", 9_500),
    ("SE0000108656", "ERIC B", "Ericsson B", 6_200),
    ("US0378331005", "AAPL", "Apple Inc.", 21_000),
];

/// One sandbox account's generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ledger {
    /// Stable across reconnects: from the seed, institution, user and slot.
    pub key: u64,
    pub kind: AccountKind,
    pub currency: Currency,
    /// Whether the institution gives transaction ids.
    pub with_ids: bool,
}

/// The longest a purchase stays pending, in days.
pub const LONGEST_PENDING: i64 = 40;

/// A transaction the bank books, with its pending phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookedTransaction {
    /// The day the purchase happened (and its pending phase began).
    pub day: i64,
    /// The day it books: the pending phase ends, and the booking appears.
    pub books_on: i64,
    pub booked: FetchedTransaction,
    /// What the bank shows before booking, with its own id, possibly another amount.
    pub pending: FetchedTransaction,
}

impl Ledger {
    /// The day the account was opened: its history starts there.
    pub fn open_day(&self) -> i64 {
        day_number(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default()) + (self.key % 200) as i64
    }

    fn money(&self, minor: i64) -> Money {
        Money::new(minor, self.currency)
    }

    /// Balance at the opening day, signed.
    pub fn opening_balance(&self) -> i64 {
        match self.kind {
            AccountKind::Mortgage => -(150_000_000 + (self.key % 100_000_000) as i64),
            AccountKind::Loan => -(1_000_000 + (self.key % 2_000_000) as i64),
            AccountKind::CreditCard => 0,
            AccountKind::Savings => 500_000 + (self.key % 3_000_000) as i64,
            _ => 100_000 + (self.key % 500_000) as i64,
        }
    }

    /// Monthly instalment of a loan or mortgage.
    fn instalment(&self) -> i64 {
        match self.kind {
            AccountKind::Mortgage => 120_000 + (self.key % 50_000) as i64,
            _ => 25_000 + (self.key % 10_000) as i64,
        }
    }

    /// What happened on `day`, as numbers and static texts (no allocation): (amount, description,
    /// counterparty).
    fn entries_of_day(&self, day: i64) -> Vec<(i64, &'static str, Option<&'static str>)> {
        if day < self.open_day() {
            return Vec::new();
        }
        let date = date_of(day);
        let mut out: Vec<(i64, &'static str, Option<&'static str>)> = Vec::new();
        match self.kind {
            AccountKind::Mortgage | AccountKind::Loan => {
                if date.day() == 1 {
                    out.push((self.instalment(), "Monthly instalment", Some("Own account")));
                }
            }
            AccountKind::Savings => {
                if mix(&[self.key, day as u64, 1]).is_multiple_of(6) {
                    out.push((5_000 + (mix(&[self.key, day as u64, 2]) % 50_000) as i64, "Transfer to savings", None));
                }
                if date.day() == 28 && date.month().is_multiple_of(3) {
                    out.push((1_200, "Interest", Some("Bank")));
                }
            }
            AccountKind::Brokerage => {
                if date.day() == 15 {
                    out.push((2_500 + (self.key % 2_000) as i64, "Dividend", Some("IWDA")));
                }
            }
            _ => {
                let count = mix(&[self.key, day as u64, 1]) % 3;
                for i in 0..count {
                    let h = mix(&[self.key, day as u64, i, 2]);
                    let (description, merchant) = MERCHANTS[(h % MERCHANTS.len() as u64) as usize];
                    out.push((-(((h >> 8) % 8_000 + 150) as i64), description, Some(merchant)));
                }
                // Two identical purchases on one day, which only an occurrence count tells apart.
                if count == 2 && !self.with_ids && mix(&[self.key, day as u64, 7]).is_multiple_of(4) {
                    out[1] = out[0];
                }
                if self.kind == AccountKind::Cash && date.day() == 25 {
                    out.push((320_000, "Salary", Some("Employer AB")));
                }
                if self.kind == AccountKind::CreditCard && date.day() == 28 {
                    out.push((100_000, "Card repayment", Some("Own account")));
                }
            }
        }
        out
    }

    /// Days between an entry and its booking, whether it books under the day it began, and the
    /// amount it showed while pending.
    fn booking_of(&self, day: i64, index: usize, amount: i64) -> (i64, bool, i64) {
        let h = mix(&[self.key, day as u64, index as u64, 3]);
        // One card payment in forty is held for days (a hotel, a car rental, fuel) and then books
        // under the day it began, as banks do: 5, 9 or 40 days later.
        let held = amount < 0 && (h >> 40) % 40 == 7;
        let lag = match (held, amount > 0) {
            (true, _) => [5, 9, LONGEST_PENDING][((h >> 48) % 3) as usize],
            (false, true) => 0,
            (false, false) => (h % 3) as i64,
        };
        // One pending purchase in five books with a different amount (a tip, a currency fee).
        let pending_amount =
            if amount < 0 && h.is_multiple_of(5) { amount + 100 + (h >> 20) as i64 % 400 } else { amount };
        (lag, held, pending_amount)
    }

    /// Transactions that began on `day` (booked then or up to two days later).
    pub fn transactions_of_day(&self, day: i64) -> Vec<BookedTransaction> {
        let date = date_of(day);
        self.entries_of_day(day)
            .into_iter()
            .enumerate()
            .map(|(index, (amount, description, counterparty))| {
                let (lag, held, pending_amount) = self.booking_of(day, index, amount);
                let id =
                    |prefix: &str, day: i64| self.with_ids.then(|| format!("{prefix}-{:x}-{day}-{index}", self.key));
                // One booking in fifty gets the id of a booking a month before: some banks reuse ids.
                let reused = mix(&[self.key, day as u64, index as u64, 4]).is_multiple_of(50);
                let booked = FetchedTransaction {
                    provider_id: id("bk", if reused { day - 30 } else { day }),
                    status: TransactionStatus::Booked,
                    booking_date: date_of(if held { day } else { day + lag }),
                    value_date: Some(date),
                    amount: self.money(amount),
                    description: description.to_string(),
                    counterparty: counterparty.map(str::to_string),
                };
                let pending = FetchedTransaction {
                    provider_id: id("pd", day),
                    status: TransactionStatus::Pending,
                    booking_date: date,
                    value_date: None,
                    amount: self.money(pending_amount),
                    description: description.to_string(),
                    counterparty: counterparty.map(str::to_string),
                };
                BookedTransaction { day, books_on: day + lag, booked, pending }
            })
            .collect()
    }

    /// What a fetch on `to` from `from` shows: the transactions booked by `to` with a booking
    /// date in `from..=to`, and the ones pending on `to` that began from `from - 2` on (a bank
    /// shows pending ones by date too).
    pub fn visible(&self, from: i64, to: i64) -> Vec<FetchedTransaction> {
        let mut out = Vec::new();
        // A booking dated on or after `from` began at most two days before (one held longer books
        // under the day it began).
        for day in (from - 2).max(self.open_day())..=to {
            for t in self.transactions_of_day(day) {
                let dated = day_number(t.booked.booking_date);
                if t.books_on <= to {
                    if dated >= from {
                        out.push(t.booked);
                    }
                } else {
                    out.push(t.pending);
                }
            }
        }
        out
    }

    /// The sum of amounts booked after `from_exclusive` up to `to`, inclusive.
    pub fn booked_sum(&self, from_exclusive: i64, to: i64) -> i64 {
        let mut sum = 0;
        for day in (from_exclusive + 1 - LONGEST_PENDING).max(self.open_day())..=to {
            for (index, (amount, _, _)) in self.entries_of_day(day).into_iter().enumerate() {
                let (lag, _, _) = self.booking_of(day, index, amount);
                let booked_on = day + lag;
                if booked_on > from_exclusive && booked_on <= to {
                    sum += amount;
                }
            }
        }
        sum
    }

    /// Positions held on `day`, with moving prices.
    pub fn holdings(&self, day: i64) -> Vec<FetchedHolding> {
        if self.kind != AccountKind::Brokerage {
            return Vec::new();
        }
        INSTRUMENTS
            .iter()
            .enumerate()
            .map(|(index, (isin, ticker, name, base_cents))| {
                let months_held = (day - self.open_day()).max(0) / 30;
                let quantity = Decimal::from(5 + (mix(&[self.key, index as u64]) % 40) as i64 + months_held);
                let wobble = (mix(&[self.key, index as u64, day as u64]) % 600) as i64 - 300;
                let trend = (day % 365) * 3;
                let price = Decimal::new(base_cents + trend + wobble, 2);
                let minor = Money::round_from_decimal(quantity * price, self.currency).map_or(0, |m| m.minor);
                FetchedHolding {
                    instrument: Instrument {
                        isin: Some((*isin).into()),
                        ticker: Some((*ticker).into()),
                        name: (*name).into(),
                    },
                    quantity,
                    unit_price: Some(price),
                    market_value: self.money(minor),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(kind: AccountKind, with_ids: bool) -> Ledger {
        Ledger { key: 42, kind, currency: Currency::EUR, with_ids }
    }

    #[test]
    fn the_same_inputs_give_the_same_history() {
        let a = ledger(AccountKind::Cash, true);
        let day = a.open_day() + 40;
        assert_eq!(a.visible(day - 10, day), a.visible(day - 10, day));
        assert!(!a.visible(day - 30, day).is_empty());
    }

    #[test]
    fn pending_transactions_book_later_with_another_id() {
        let a = ledger(AccountKind::Cash, true);
        let start = a.open_day() + 10;
        let lagging = (start..start + 60)
            .flat_map(|d| a.transactions_of_day(d))
            .find(|t| t.booked.booking_date > t.pending.booking_date)
            .expect("some purchase books a day or two late");
        let day = day_number(lagging.pending.booking_date);
        assert!(a.visible(day - 3, day).contains(&lagging.pending));
        let booked_on = day_number(lagging.booked.booking_date);
        let later = a.visible(day - 3, booked_on);
        assert!(later.contains(&lagging.booked));
        assert!(!later.contains(&lagging.pending));
        assert_ne!(lagging.booked.provider_id, lagging.pending.provider_id);
    }

    #[test]
    fn a_held_payment_books_weeks_later_under_the_day_it_began() {
        let a = ledger(AccountKind::Cash, true);
        let start = a.open_day() + 10;
        let mut lags = std::collections::BTreeSet::new();
        for held in (start..start + 2000).flat_map(|d| a.transactions_of_day(d)).filter(|t| t.books_on - t.day >= 5) {
            lags.insert(held.books_on - held.day);
            let (day, books_on) = (held.day, held.books_on);
            assert_eq!(day_number(held.booked.booking_date), day);
            // The day before it books, a window that covers its day shows it pending …
            assert!(a.visible(day, books_on - 1).contains(&held.pending));
            // … one that starts after its day shows nothing of it, pending or booked …
            let recent = a.visible(day + 1, books_on);
            assert!(!recent.contains(&held.pending) && !recent.contains(&held.booked));
            // … and only one that reaches back to its day finds the booking.
            assert!(a.visible(day, books_on).contains(&held.booked));
        }
        assert_eq!(lags.into_iter().collect::<Vec<_>>(), vec![5, 9, LONGEST_PENDING]);
    }

    #[test]
    fn some_bookings_reuse_the_id_of_one_a_month_before() {
        let a = ledger(AccountKind::Cash, true);
        let start = a.open_day() + 40;
        let all: Vec<FetchedTransaction> =
            (start - 40..start + 400).flat_map(|d| a.transactions_of_day(d)).map(|t| t.booked).collect();
        let reused = all
            .iter()
            .filter(|t| all.iter().any(|o| o.provider_id == t.provider_id && o.booking_date < t.booking_date))
            .count();
        assert!(reused > 0, "no id given twice");
    }

    #[test]
    fn loans_amortise_and_brokerages_hold_moving_positions() {
        let mortgage = ledger(AccountKind::Mortgage, true);
        let day = mortgage.open_day() + 200;
        let paid = mortgage.booked_sum(mortgage.open_day() - 1, day);
        assert!(paid > 0 && mortgage.opening_balance() + paid < 0);
        let broker = ledger(AccountKind::Brokerage, true);
        let today = broker.holdings(broker.open_day() + 100);
        let tomorrow = broker.holdings(broker.open_day() + 101);
        assert_eq!(today.len(), 3);
        assert_ne!(today[0].unit_price, tomorrow[0].unit_price);
    }

    #[test]
    fn booked_sums_add_up_over_split_ranges() {
        let a = ledger(AccountKind::Cash, false);
        let open = a.open_day();
        let whole = a.booked_sum(open - 1, open + 90);
        assert_eq!(whole, a.booked_sum(open - 1, open + 40) + a.booked_sum(open + 40, open + 90));
    }
}
