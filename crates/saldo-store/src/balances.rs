//! Balance points (and the manual valuations among them) and holdings.

use crate::db::{Db, StoreError};
use crate::sql::{parse_stored, Arg, Row, Tx};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use saldo_core::account::AccountKind;
use saldo_core::balance::{BalancePoint, BalanceSource};
use saldo_core::holding::{Holding, Instrument};
use saldo_core::ids::{AccountId, UserId};
use saldo_core::money::{Currency, Money};
use saldo_core::networth::AccountSeries;
use std::str::FromStr;

/// Whether a manual valuation was new or replaced the one of its day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValuationWrite {
    Created,
    Replaced,
}

fn point_from_row(row: &Row) -> Result<BalancePoint, StoreError> {
    let currency = parse_stored("currency", &row.get::<String>(4)?, Currency::parse)?;
    Ok(BalancePoint {
        account_id: AccountId(row.get(0)?),
        date: row.get(1)?,
        observed_at: row.get(2)?,
        amount: Money::new(row.get(3)?, currency),
        source: parse_stored("balance source", &row.get::<String>(5)?, |s| {
            BalanceSource::parse(s).ok_or("unknown source")
        })?,
    })
}

impl Db {
    /// Records a manual valuation: the account's value on `date`. A second valuation on the same day
    /// replaces the first, so editing a valuation is writing it again.
    pub async fn set_valuation(
        &self,
        account: AccountId,
        date: NaiveDate,
        amount: Money,
    ) -> Result<ValuationWrite, StoreError> {
        let mut tx = self.begin().await?;
        let removed = tx
            .execute(
                "DELETE FROM balance_points WHERE account_id = $1 AND as_of = $2 AND source = 'manual'",
                &[Arg::Uuid(account.0), Arg::Date(date)],
            )
            .await?;
        // Manual valuations are observed at the start of their day, so any balance a sync or an import
        // observed later that day wins.
        let observed_at = date.and_time(NaiveTime::MIN).and_utc();
        tx.execute(
            "INSERT INTO balance_points (account_id, as_of, observed_at, amount_minor, currency, source) \
             VALUES ($1, $2, $3, $4, $5, 'manual')",
            &[
                Arg::Uuid(account.0),
                Arg::Date(date),
                Arg::Time(observed_at),
                Arg::Int(amount.minor),
                Arg::Text(amount.currency.code().into()),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(if removed > 0 { ValuationWrite::Replaced } else { ValuationWrite::Created })
    }

    /// Deletes the manual valuation of a day; returns whether there was one.
    pub async fn delete_valuation(&self, account: AccountId, date: NaiveDate) -> Result<bool, StoreError> {
        let removed = self
            .execute(
                "DELETE FROM balance_points WHERE account_id = $1 AND as_of = $2 AND source = 'manual'",
                &[Arg::Uuid(account.0), Arg::Date(date)],
            )
            .await?;
        Ok(removed > 0)
    }

    /// Appends observed balance points; a point already stored (same account, day and observation
    /// time) is skipped. Returns how many were new.
    pub async fn insert_balance_points(&self, points: &[BalancePoint]) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let mut inserted = 0;
        for point in points {
            inserted += insert_point(&mut tx, point).await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// An account's balance history, oldest first.
    pub async fn balance_points(&self, account: AccountId) -> Result<Vec<BalancePoint>, StoreError> {
        let rows = self
            .fetch(
                "SELECT account_id, as_of, observed_at, amount_minor, currency, source FROM balance_points \
                 WHERE account_id = $1 ORDER BY as_of, observed_at",
                &[Arg::Uuid(account.0)],
            )
            .await?;
        rows.iter().map(point_from_row).collect()
    }

    /// Every account's balance points up to `until` (tracked accounts only, unless
    /// `include_untracked`), in account order (creation, id) and time order. Accounts without a
    /// point are left out.
    pub async fn balance_series(
        &self,
        user: UserId,
        until: NaiveDate,
        include_untracked: bool,
    ) -> Result<Vec<AccountSeries>, StoreError> {
        self.series(user, Span::All, until, include_untracked).await
    }

    /// Each account's last balance point on or before `until`: all a figure for one day needs,
    /// read with one index lookup per account however long the history.
    pub async fn latest_balances(
        &self,
        user: UserId,
        until: NaiveDate,
        include_untracked: bool,
    ) -> Result<Vec<AccountSeries>, StoreError> {
        self.series(user, Span::Latest, until, include_untracked).await
    }

    /// Each account's points from `since` to `until`, after the last point before `since` (which
    /// still holds on `since`): a history from a day without reading what came before it.
    pub async fn balance_series_since(
        &self,
        user: UserId,
        since: NaiveDate,
        until: NaiveDate,
        include_untracked: bool,
    ) -> Result<Vec<AccountSeries>, StoreError> {
        self.series(user, Span::Since(since), until, include_untracked).await
    }

    /// The first day any of the user's tracked accounts has a balance, each account's found
    /// through its index rather than by reading its history.
    pub async fn first_balance_day(&self, user: UserId) -> Result<Option<NaiveDate>, StoreError> {
        let row = self
            .fetch_optional(
                "SELECT MIN(first_day) FROM (SELECT (SELECT b.as_of FROM balance_points b WHERE b.account_id = a.id \
                 ORDER BY b.as_of LIMIT 1) AS first_day FROM accounts a WHERE a.user_id = $1 AND a.tracked) t",
                &[Arg::Uuid(user.0)],
            )
            .await?;
        match row {
            Some(row) => row.get::<Option<NaiveDate>>(0),
            None => Ok(None),
        }
    }

    async fn series(
        &self,
        user: UserId,
        span: Span,
        until: NaiveDate,
        include_untracked: bool,
    ) -> Result<Vec<AccountSeries>, StoreError> {
        // The accounts once, then only (account, day, amount) per point: a ten-year history is
        // hundreds of thousands of rows, and each column more costs on every one of them.
        let owner = [Arg::Uuid(user.0), Arg::Bool(include_untracked)];
        let accounts = self
            .fetch(
                "SELECT a.id, a.kind, a.currency, a.closed_at FROM accounts a \
                 WHERE a.user_id = $1 AND (a.tracked OR $2) ORDER BY a.created_at, a.id",
                &owner,
            )
            .await?;
        // An account's last point on or before a day, found through its unique index.
        let last_before = |day: &str| {
            format!(
                "SELECT b.account_id, b.as_of, b.amount_minor FROM accounts a JOIN balance_points b ON b.id = \
                 (SELECT b2.id FROM balance_points b2 WHERE b2.account_id = a.id AND b2.as_of <= {day} \
                 ORDER BY b2.as_of DESC, b2.observed_at DESC LIMIT 1) WHERE a.user_id = $1 AND (a.tracked OR $2)"
            )
        };
        let between = "SELECT b.account_id, b.as_of, b.amount_minor FROM accounts a \
             JOIN balance_points b ON b.account_id = a.id WHERE a.user_id = $1 AND (a.tracked OR $2) \
             AND b.as_of >= $3 AND b.as_of <= $4 ORDER BY b.account_id, b.as_of, b.observed_at";
        let with = |more: Vec<Arg>| owner.iter().cloned().chain(more).collect::<Vec<Arg>>();
        // Each read's rows come in time order within an account.
        let parts = match span {
            Span::All => {
                // The first day both databases store (PostgreSQL's dates end at 4713 BC).
                let first = NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or(NaiveDate::MIN);
                vec![self.fetch(between, &with(vec![Arg::Date(first), Arg::Date(until)])).await?]
            }
            Span::Latest => vec![self.fetch(&last_before("$3"), &with(vec![Arg::Date(until)])).await?],
            Span::Since(since) => vec![
                // The point before the span, which still holds on its first day; then the span.
                self.fetch(&last_before("$3"), &with(vec![Arg::Date(since.pred_opt().unwrap_or(since))])).await?,
                self.fetch(between, &with(vec![Arg::Date(since), Arg::Date(until)])).await?,
            ],
        };
        let mut points: std::collections::HashMap<AccountId, Vec<(NaiveDate, i64)>> = std::collections::HashMap::new();
        for row in parts.iter().flatten() {
            points.entry(AccountId(row.get(0)?)).or_default().push((row.get::<NaiveDate>(1)?, row.get::<i64>(2)?));
        }
        let mut series = Vec::new();
        for row in &accounts {
            let account_id = AccountId(row.get(0)?);
            let Some(points) = points.remove(&account_id) else { continue };
            series.push(AccountSeries {
                account_id,
                kind: parse_stored("account kind", &row.get::<String>(1)?, str::parse::<AccountKind>)?,
                currency: parse_stored("currency", &row.get::<String>(2)?, Currency::parse)?,
                points,
                closed_on: row.get::<Option<DateTime<Utc>>>(3)?.map(|at| at.date_naive()),
            });
        }
        Ok(series)
    }

    /// Stores holdings; an observation of the same instrument on the same day replaces the earlier one,
    /// and other days stay as the holding's history.
    pub async fn upsert_holdings(&self, holdings: &[Holding]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for holding in holdings {
            upsert_holding_in(&mut tx, holding).await?;
        }
        tx.commit().await
    }

    /// Every stored observation of an account's holdings, by day then instrument.
    pub async fn holdings(&self, account: AccountId) -> Result<Vec<Holding>, StoreError> {
        let rows = self
            .fetch(
                &format!("SELECT {HOLDING_COLUMNS} FROM holdings WHERE account_id = $1 ORDER BY as_of, instrument_key"),
                &[Arg::Uuid(account.0)],
            )
            .await?;
        rows.iter().map(holding_from_row).collect()
    }

    /// Each of the user's accounts' holdings as last observed on or before `date` (those of its
    /// latest day with any), by account then instrument.
    pub async fn latest_holdings(&self, user: UserId, date: NaiveDate) -> Result<Vec<Holding>, StoreError> {
        let sql = format!(
            "SELECT {HOLDING_COLUMNS} FROM holdings h WHERE h.account_id IN \
             (SELECT id FROM accounts WHERE user_id = $1) AND h.as_of = (SELECT MAX(l.as_of) FROM holdings l \
             WHERE l.account_id = h.account_id AND l.as_of <= $2) ORDER BY h.account_id, h.instrument_key"
        );
        let rows = self.fetch(&sql, &[Arg::Uuid(user.0), Arg::Date(date)]).await?;
        rows.iter().map(holding_from_row).collect()
    }
}

const HOLDING_COLUMNS: &str =
    "account_id, isin, ticker, name, quantity, unit_price, market_value_minor, currency, as_of";

fn holding_from_row(row: &Row) -> Result<Holding, StoreError> {
    let currency = parse_stored("currency", &row.get::<String>(7)?, Currency::parse)?;
    let unit_price: Option<String> = row.get(5)?;
    Ok(Holding {
        account_id: AccountId(row.get(0)?),
        instrument: Instrument { isin: row.get(1)?, ticker: row.get(2)?, name: row.get(3)? },
        quantity: parse_stored("quantity", &row.get::<String>(4)?, Decimal::from_str)?,
        unit_price: unit_price.map(|p| parse_stored("unit price", &p, Decimal::from_str)).transpose()?,
        market_value: Money::new(row.get(6)?, currency),
        as_of: row.get(8)?,
    })
}

pub(crate) fn point_args(point: &BalancePoint) -> Vec<Arg> {
    vec![
        Arg::Uuid(point.account_id.0),
        Arg::Date(point.date),
        Arg::Time(point.observed_at),
        Arg::Int(point.amount.minor),
        Arg::Text(point.amount.currency.code().into()),
        Arg::Text(point.source.as_str().into()),
    ]
}

/// Appends one balance point unless the same observation is already stored; returns 1 when new.
pub(crate) async fn insert_point(tx: &mut Tx, point: &BalancePoint) -> Result<u64, StoreError> {
    insert_points_in(tx, std::slice::from_ref(point)).await
}

/// Appends balance points, skipping observations already stored; returns how many were new.
pub(crate) async fn insert_points_in(tx: &mut Tx, points: &[BalancePoint]) -> Result<u64, StoreError> {
    crate::sql::insert_rows(
        tx,
        "INSERT INTO balance_points (account_id, as_of, observed_at, amount_minor, currency, source)",
        "ON CONFLICT DO NOTHING",
        6,
        points.iter().map(point_args).collect(),
    )
    .await
}

/// Stores one holding observation inside an open transaction.
pub(crate) async fn upsert_holding_in(tx: &mut Tx, holding: &Holding) -> Result<(), StoreError> {
    upsert_holdings_in(tx, std::slice::from_ref(holding)).await
}

/// Stores holding observations; a later one for the same account, instrument and day replaces an
/// earlier one.
pub(crate) async fn upsert_holdings_in(tx: &mut Tx, holdings: &[Holding]) -> Result<(), StoreError> {
    // One statement may not update a row twice (PostgreSQL refuses), so keep the last of each key.
    let mut by_key = std::collections::BTreeMap::new();
    for holding in holdings {
        by_key.insert((holding.account_id, holding.instrument.key(), holding.as_of), holding);
    }
    crate::sql::insert_rows(
        tx,
        "INSERT INTO holdings (account_id, instrument_key, isin, ticker, name, quantity, unit_price, \
         market_value_minor, currency, as_of)",
        "ON CONFLICT (account_id, instrument_key, as_of) DO UPDATE SET isin = excluded.isin, \
         ticker = excluded.ticker, name = excluded.name, quantity = excluded.quantity, \
         unit_price = excluded.unit_price, market_value_minor = excluded.market_value_minor, \
         currency = excluded.currency",
        10,
        by_key.into_values().map(holding_args).collect(),
    )
    .await?;
    Ok(())
}

fn holding_args(holding: &Holding) -> Vec<Arg> {
    vec![
        Arg::Uuid(holding.account_id.0),
        Arg::Text(holding.instrument.key()),
        Arg::OptText(holding.instrument.isin.clone()),
        Arg::OptText(holding.instrument.ticker.clone()),
        Arg::Text(holding.instrument.name.clone()),
        Arg::Text(holding.quantity.to_string()),
        Arg::OptText(holding.unit_price.map(|p| p.to_string())),
        Arg::Int(holding.market_value.minor),
        Arg::Text(holding.market_value.currency.code().into()),
        Arg::Date(holding.as_of),
    ]
}

/// Which of an account's points a series holds.
#[derive(Debug, Clone, Copy)]
enum Span {
    All,
    Latest,
    Since(NaiveDate),
}
