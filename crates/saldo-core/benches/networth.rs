//! How long the daily net worth history takes to compute, the part of `saldo networth --history`
//! that grows with accounts × days. Run: `cargo bench -p saldo-core --bench networth`.

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rust_decimal::Decimal;
use saldo_core::account::AccountKind;
use saldo_core::fx::{FxRate, RateTable};
use saldo_core::ids::AccountId;
use saldo_core::money::Currency;
use saldo_core::networth::{net_worth_history, AccountSeries};
use std::hint::black_box;
use uuid::Uuid;

const KINDS: [AccountKind; 5] =
    [AccountKind::Cash, AccountKind::Savings, AccountKind::Brokerage, AccountKind::Mortgage, AccountKind::CreditCard];

/// `accounts` accounts in EUR, SEK and USD with a balance point every 7 days for `days` days, and a
/// rate for every weekday.
fn household(accounts: usize, days: u32) -> (Vec<AccountSeries>, RateTable, NaiveDate, NaiveDate) {
    let from = NaiveDate::from_ymd_opt(2016, 1, 1).unwrap_or_default();
    let to = from + chrono::Days::new(u64::from(days) - 1);
    let currencies: Vec<Currency> = ["EUR", "SEK", "USD"].iter().filter_map(|c| Currency::parse(c).ok()).collect();
    let series = (0..accounts)
        .map(|i| AccountSeries {
            account_id: AccountId(Uuid::from_u128(i as u128)),
            kind: KINDS[i % KINDS.len()],
            currency: currencies[i % currencies.len()],
            closed_on: None,
            points: (0..days)
                .step_by(7)
                .map(|d| (from + chrono::Days::new(u64::from(d)), 100_000 + i64::from(d) * 37 - i as i64))
                .collect(),
        })
        .collect();
    let mut rates = RateTable::new();
    for d in 0..days {
        let date = from + chrono::Days::new(u64::from(d));
        for (currency, base) in [(currencies[1], 1100), (currencies[2], 105)] {
            rates.insert(FxRate { date, currency, per_eur: Decimal::new(base + i64::from(d % 17), 2) });
        }
    }
    (series, rates, from, to)
}

fn bench_history(c: &mut Criterion) {
    let mut group = c.benchmark_group("net_worth_history");
    for (accounts, days) in [(10, 3653), (100, 3653)] {
        let (series, rates, from, to) = household(accounts, days);
        group.throughput(Throughput::Elements(accounts as u64 * u64::from(days)));
        group.bench_with_input(BenchmarkId::new("accounts_x_10y", accounts), &series, |b, series| {
            b.iter(|| net_worth_history(black_box(series), &rates, Currency::EUR, from, to))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_history);
criterion_main!(benches);
