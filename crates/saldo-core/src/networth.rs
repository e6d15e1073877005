//! Net worth: tracked assets minus tracked liabilities in the user's base currency, on a day or for
//! every day of a range, broken down by account kind.
//!
//! An account's value on a day is its last balance point on or before that day (carried forward),
//! converted at that day's rate. Each account's converted value is rounded once, so the breakdown
//! always adds up to the totals. An account that cannot be converted (no rate for its currency on
//! or before the day) is left out of that day's figure and named; a rate older than
//! [`STALE_AFTER_DAYS`] is used and named too.

use crate::account::{AccountClass, AccountKind};
use crate::fx::{FxError, RateTable};
use crate::ids::AccountId;
use crate::money::{Currency, Money};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// The balance history of one tracked account, as the net worth computation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSeries {
    pub account_id: AccountId,
    pub kind: AccountKind,
    pub currency: Currency,
    /// (day, signed balance in minor units), ascending by day; for several points on one day the
    /// last one wins.
    pub points: Vec<(NaiveDate, i64)>,
    /// The day the account closed (its item vanished, its connection was removed): it counts up
    /// to that day and not after, since its money is gone or counted elsewhere.
    pub closed_on: Option<NaiveDate>,
}

/// A rate used for a day although it was published more than this many days before.
pub const STALE_AFTER_DAYS: i64 = 7;

/// An account a net worth leaves out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    pub account_id: AccountId,
    pub reason: LeftOutReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeftOutReason {
    /// It has no balance at all yet (an import without one, say).
    NoBalance,
    /// No exchange rate for its currency on or before the day.
    NoRate { currency: Currency },
}

/// A rate a net worth used that was published well before the day it was used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleRate {
    pub currency: Currency,
    pub published: NaiveDate,
}

/// Net worth on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetWorth {
    pub date: NaiveDate,
    /// Sum of tracked assets.
    pub assets: Money,
    /// Sum owed on tracked liabilities, as a positive amount when owed.
    pub liabilities: Money,
    /// `assets - liabilities`.
    pub total: Money,
    /// Per kind: the assets' value, or for liability kinds the amount owed.
    pub by_kind: BTreeMap<AccountKind, Money>,
    /// Accounts with a balance that day that could not be counted.
    pub left_out: Vec<LeftOut>,
    /// Rates older than [`STALE_AFTER_DAYS`] on the day, one per currency.
    pub stale_rates: Vec<StaleRate>,
}

/// Why a net worth could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetWorthError {
    #[error("the range starts ({from}) after it ends ({to})")]
    EmptyRange { from: NaiveDate, to: NaiveDate },
    #[error(transparent)]
    Fx(#[from] FxError),
}

/// Net worth on every day from `from` to `to`, both included.
pub fn net_worth_history(
    series: &[AccountSeries],
    rates: &RateTable,
    base: Currency,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<NetWorth>, NetWorthError> {
    if from > to {
        return Err(NetWorthError::EmptyRange { from, to });
    }
    // One cursor per account: the index of its last point on or before the current day.
    let mut cursors: Vec<Option<usize>> = vec![None; series.len()];
    let mut days = Vec::new();
    for date in from.iter_days().take_while(|d| *d <= to) {
        let mut assets = 0i64;
        let mut liabilities = 0i64;
        let mut by_kind: BTreeMap<AccountKind, Money> = BTreeMap::new();
        let mut left_out = Vec::new();
        let mut stale_rates: Vec<StaleRate> = Vec::new();
        for (account, cursor) in series.iter().zip(cursors.iter_mut()) {
            let mut next = cursor.map_or(0, |i| i + 1);
            while next < account.points.len() && account.points[next].0 <= date {
                *cursor = Some(next);
                next += 1;
            }
            let Some(index) = *cursor else { continue };
            if account.closed_on.is_some_and(|closed| date > closed) {
                continue;
            }
            let balance = Money::new(account.points[index].1, account.currency);
            let value = match rates.convert(balance, base, date) {
                Ok(value) => value.minor,
                Err(FxError::MissingRate { currency, .. }) => {
                    // Without a rate for the currency asked for, nothing converts: that is an error.
                    rates.per_eur(base, date)?;
                    left_out
                        .push(LeftOut { account_id: account.account_id, reason: LeftOutReason::NoRate { currency } });
                    continue;
                }
                Err(err) => return Err(err.into()),
            };
            for currency in [account.currency, base] {
                if let Ok((_, published)) = rates.per_eur(currency, date) {
                    let stale = (date - published).num_days() > STALE_AFTER_DAYS && account.currency != base;
                    if stale && !stale_rates.iter().any(|r| r.currency == currency) {
                        stale_rates.push(StaleRate { currency, published });
                    }
                }
            }
            let contribution = match account.kind.class() {
                AccountClass::Asset => {
                    assets += value;
                    value
                }
                AccountClass::Liability => {
                    liabilities -= value;
                    -value
                }
            };
            by_kind.entry(account.kind).or_insert_with(|| Money::zero(base)).minor += contribution;
        }
        days.push(NetWorth {
            date,
            assets: Money::new(assets, base),
            liabilities: Money::new(liabilities, base),
            total: Money::new(assets - liabilities, base),
            by_kind,
            left_out,
            stale_rates,
        });
    }
    Ok(days)
}

/// Net worth on one day.
pub fn net_worth_on(
    series: &[AccountSeries],
    rates: &RateTable,
    base: Currency,
    date: NaiveDate,
) -> Result<NetWorth, NetWorthError> {
    let mut days = net_worth_history(series, rates, base, date, date)?;
    days.pop().ok_or(NetWorthError::EmptyRange { from: date, to: date })
}

#[cfg(test)]
// Amounts in cents are grouped as 300_000_00 so that they read as 300,000.00.
#[allow(clippy::inconsistent_digit_grouping)]
mod tests {
    use super::*;
    use crate::fx::FxRate;
    use rust_decimal::Decimal;
    use std::str::FromStr;
    use uuid::Uuid;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, d).unwrap()
    }

    fn series(kind: AccountKind, currency: &str, points: &[(u32, i64)]) -> AccountSeries {
        AccountSeries {
            account_id: AccountId(Uuid::from_u128(points.len() as u128)),
            kind,
            currency: Currency::parse(currency).unwrap(),
            points: points.iter().map(|(d, v)| (day(*d), *v)).collect(),
            closed_on: None,
        }
    }

    fn sek_rates() -> RateTable {
        let mut rates = RateTable::new();
        rates.insert(FxRate {
            date: day(1),
            currency: Currency::parse("SEK").unwrap(),
            per_eur: Decimal::from_str("10").unwrap(),
        });
        rates.insert(FxRate {
            date: day(3),
            currency: Currency::parse("SEK").unwrap(),
            per_eur: Decimal::from_str("12.5").unwrap(),
        });
        rates
    }

    #[test]
    fn empty_is_zero() {
        let nw = net_worth_on(&[], &RateTable::new(), Currency::EUR, day(1)).unwrap();
        assert_eq!(nw.total, Money::zero(Currency::EUR));
        assert!(nw.by_kind.is_empty());
    }

    #[test]
    fn assets_minus_liabilities_across_currencies_carried_forward() {
        let house = series(AccountKind::RealEstate, "EUR", &[(2, 300_000_00), (4, 310_000_00)]);
        // A mortgage in SEK, owed, so negative: 2,000,000 SEK.
        let mortgage = series(AccountKind::Mortgage, "SEK", &[(1, -2_000_000_00)]);
        let days = net_worth_history(&[house, mortgage], &sek_rates(), Currency::EUR, day(1), day(4)).unwrap();
        let totals: Vec<i64> = days.iter().map(|d| d.total.minor).collect();
        // Day 1: -200k (rate 10). Day 2: 300k-200k. Day 3: 300k-160k (rate 12.5). Day 4: 310k-160k.
        assert_eq!(totals, vec![-200_000_00, 100_000_00, 140_000_00, 150_000_00]);
        assert_eq!(days[3].assets.minor, 310_000_00);
        assert_eq!(days[3].liabilities.minor, 160_000_00);
        assert_eq!(days[3].by_kind[&AccountKind::Mortgage].minor, 160_000_00);
        assert_eq!(days[0].by_kind.get(&AccountKind::RealEstate), None);
    }

    #[test]
    fn an_account_without_a_rate_is_left_out_and_named_the_rest_counts() {
        let usd = series(AccountKind::Cash, "USD", &[(1, 100)]);
        let eur = AccountSeries {
            account_id: AccountId(Uuid::from_u128(99)),
            ..series(AccountKind::Cash, "EUR", &[(1, 250)])
        };
        let worth = net_worth_on(&[usd.clone(), eur], &sek_rates(), Currency::EUR, day(2)).unwrap();
        assert_eq!(worth.total.minor, 250, "what can be converted is counted");
        let usd_code = Currency::parse("USD").unwrap();
        assert_eq!(
            worth.left_out,
            vec![LeftOut { account_id: usd.account_id, reason: LeftOutReason::NoRate { currency: usd_code } }]
        );
        // Before the account has any balance it needs no rate.
        let later = series(AccountKind::Cash, "USD", &[(5, 100)]);
        assert!(net_worth_on(&[later], &sek_rates(), Currency::EUR, day(2)).unwrap().left_out.is_empty());
    }

    #[test]
    fn a_rate_older_than_a_week_is_used_and_named() {
        let sek = Currency::parse("SEK").unwrap();
        let mortgage = series(AccountKind::Mortgage, "SEK", &[(1, -1000_00)]);
        // The last SEK rate is of day 3: fresh on day 10, stale on day 11.
        let fresh = net_worth_on(std::slice::from_ref(&mortgage), &sek_rates(), Currency::EUR, day(10)).unwrap();
        assert!(fresh.stale_rates.is_empty());
        let stale = net_worth_on(&[mortgage], &sek_rates(), Currency::EUR, day(11)).unwrap();
        assert_eq!(stale.total.minor, -80_00);
        assert_eq!(stale.stale_rates, vec![StaleRate { currency: sek, published: day(3) }]);
    }

    #[test]
    fn a_closed_account_counts_up_to_the_day_it_closed() {
        let old = AccountSeries { closed_on: Some(day(3)), ..series(AccountKind::Cash, "EUR", &[(1, 500)]) };
        let new = series(AccountKind::Savings, "EUR", &[(4, 500)]);
        let days = net_worth_history(&[old, new], &sek_rates(), Currency::EUR, day(1), day(5)).unwrap();
        let totals: Vec<i64> = days.iter().map(|d| d.total.minor).collect();
        assert_eq!(totals, vec![500, 500, 500, 500, 500], "the money moved once, and is counted once");
    }

    #[test]
    fn several_points_on_one_day_the_last_wins() {
        let cash = series(AccountKind::Cash, "EUR", &[(1, 5), (1, 7)]);
        assert_eq!(net_worth_on(&[cash], &sek_rates(), Currency::EUR, day(1)).unwrap().total.minor, 7);
    }

    #[test]
    fn reversed_range_is_refused() {
        assert!(matches!(
            net_worth_history(&[], &RateTable::new(), Currency::EUR, day(2), day(1)),
            Err(NetWorthError::EmptyRange { .. })
        ));
    }
}
