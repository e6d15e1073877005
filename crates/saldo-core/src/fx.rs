//! Exchange rates in the ECB's form: how many units of a currency one euro buys on a day.
//!
//! Invariant: a missing rate is an error, never a silent 1. On a day without a published rate
//! (weekends, TARGET holidays) the most recent earlier rate applies, as the ECB itself advises.

use crate::money::{Currency, Money, MoneyError};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};

/// One reference rate: 1 EUR = `per_eur` units of `currency` on `date`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FxRate {
    pub date: NaiveDate,
    pub currency: Currency,
    pub per_eur: Decimal,
}

/// Why an amount could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FxError {
    #[error("no exchange rate for {currency} on or before {date}")]
    MissingRate { currency: Currency, date: NaiveDate },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Rates by currency and day, looked up as "latest on or before".
#[derive(Debug, Clone, Default)]
pub struct RateTable {
    by_currency: HashMap<Currency, BTreeMap<NaiveDate, Decimal>>,
}

impl RateTable {
    pub fn new() -> RateTable {
        RateTable::default()
    }

    /// Adds a rate; a later insert for the same day replaces the earlier one. Rates that are zero or
    /// negative are ignored, since no currency trades at that.
    pub fn insert(&mut self, rate: FxRate) {
        if rate.per_eur > Decimal::ZERO {
            self.by_currency.entry(rate.currency).or_default().insert(rate.date, rate.per_eur);
        }
    }

    /// Units of `currency` per euro valid on `date`, with the day it was published.
    pub fn per_eur(&self, currency: Currency, date: NaiveDate) -> Result<(Decimal, NaiveDate), FxError> {
        if currency == Currency::EUR {
            return Ok((Decimal::ONE, date));
        }
        self.by_currency
            .get(&currency)
            .and_then(|days| days.range(..=date).next_back())
            .map(|(day, rate)| (*rate, *day))
            .ok_or(FxError::MissingRate { currency, date })
    }

    /// Converts an amount into `to` at the rates of `date`, rounded half to even to `to`'s minor unit.
    pub fn convert(&self, amount: Money, to: Currency, date: NaiveDate) -> Result<Money, FxError> {
        if amount.currency == to {
            return Ok(amount);
        }
        let (from_rate, _) = self.per_eur(amount.currency, date)?;
        let (to_rate, _) = self.per_eur(to, date)?;
        // Multiply before dividing so that the one division is the only inexact step.
        let value = amount.to_decimal() * to_rate / from_rate;
        Ok(Money::round_from_decimal(value, to)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, d).unwrap()
    }

    fn table() -> RateTable {
        let mut t = RateTable::new();
        for (d, cur, rate) in [(2, "SEK", "11.50"), (5, "SEK", "11.00"), (2, "USD", "1.25")] {
            t.insert(FxRate {
                date: day(d),
                currency: Currency::parse(cur).unwrap(),
                per_eur: Decimal::from_str(rate).unwrap(),
            });
        }
        t
    }

    #[test]
    fn uses_the_latest_rate_on_or_before_the_day() {
        let sek = Currency::parse("SEK").unwrap();
        let t = table();
        assert_eq!(t.per_eur(sek, day(4)).unwrap(), (Decimal::from_str("11.50").unwrap(), day(2)));
        assert_eq!(t.per_eur(sek, day(5)).unwrap().1, day(5));
        assert_eq!(t.per_eur(sek, day(1)), Err(FxError::MissingRate { currency: sek, date: day(1) }));
    }

    #[test]
    fn converts_through_the_euro_and_rounds_half_to_even() {
        let t = table();
        let sek = Currency::parse("SEK").unwrap();
        let usd = Currency::parse("USD").unwrap();
        // 115.00 SEK at 11.50 SEK/EUR is 10.00 EUR.
        assert_eq!(t.convert(Money::new(11500, sek), Currency::EUR, day(3)).unwrap().minor, 1000);
        // 10.00 USD = 8.00 EUR = 92.00 SEK on day 2.
        assert_eq!(t.convert(Money::new(1000, usd), sek, day(2)).unwrap().minor, 9200);
        // 1.00 SEK at 11.00 = 0.0909.. EUR, rounded to 0.09.
        assert_eq!(t.convert(Money::new(100, sek), Currency::EUR, day(6)).unwrap().minor, 9);
        assert!(matches!(
            t.convert(Money::new(100, Currency::parse("JPY").unwrap()), Currency::EUR, day(6)),
            Err(FxError::MissingRate { .. })
        ));
        // No rate is needed when nothing converts.
        assert_eq!(RateTable::new().convert(Money::new(5, sek), sek, day(1)).unwrap().minor, 5);
    }
}
