//! Exchange rates.

use crate::db::{Db, StoreError};
use crate::sql::{parse_stored, Arg};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use saldo_core::fx::{FxRate, RateTable};
use saldo_core::money::Currency;
use std::str::FromStr;

/// What the stored rates cover for one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateCoverage {
    pub currency: Currency,
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub days: i64,
}

impl Db {
    /// Stores rates in one database transaction; a rate for a day already stored replaces it, so
    /// importing the same file twice changes nothing. Returns how many rows were written.
    pub async fn upsert_rates(&self, rates: &[FxRate]) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let mut written = 0;
        for rate in rates {
            written += tx
                .execute(
                    "INSERT INTO fx_rates (currency, date, per_eur) VALUES ($1, $2, $3) \
                     ON CONFLICT (currency, date) DO UPDATE SET per_eur = excluded.per_eur",
                    &[
                        Arg::Text(rate.currency.code().into()),
                        Arg::Date(rate.date),
                        Arg::Text(rate.per_eur.to_string()),
                    ],
                )
                .await?;
        }
        tx.commit().await?;
        Ok(written)
    }

    /// The rates of `currencies` published on or before `until`.
    pub async fn rate_table(&self, currencies: &[Currency], until: NaiveDate) -> Result<RateTable, StoreError> {
        let mut table = RateTable::new();
        for currency in currencies {
            let rows = self
                .fetch(
                    "SELECT date, per_eur FROM fx_rates WHERE currency = $1 AND date <= $2",
                    &[Arg::Text(currency.code().into()), Arg::Date(until)],
                )
                .await?;
            for row in &rows {
                table.insert(FxRate {
                    date: row.get(0)?,
                    currency: *currency,
                    per_eur: parse_stored("exchange rate", &row.get::<String>(1)?, Decimal::from_str)?,
                });
            }
        }
        Ok(table)
    }

    /// Per currency, the first and last day with a stored rate and how many days have one.
    pub async fn rate_coverage(&self) -> Result<Vec<RateCoverage>, StoreError> {
        let rows = self
            .fetch(
                "SELECT currency, MIN(date), MAX(date), COUNT(*) FROM fx_rates GROUP BY currency ORDER BY currency",
                &[],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let first: String = text_date(row, 1)?;
                let last: String = text_date(row, 2)?;
                Ok(RateCoverage {
                    currency: parse_stored("currency", &row.get::<String>(0)?, Currency::parse)?,
                    first: parse_stored("date", &first, NaiveDate::from_str)?,
                    last: parse_stored("date", &last, NaiveDate::from_str)?,
                    days: row.get(3)?,
                })
            })
            .collect()
    }
}

/// Aggregates over a date column lose their type on SQLite (they come back as text), so read either.
fn text_date(row: &crate::sql::Row, index: usize) -> Result<String, StoreError> {
    match row.get::<NaiveDate>(index) {
        Ok(date) => Ok(date.to_string()),
        Err(_) => row.get::<String>(index),
    }
}
