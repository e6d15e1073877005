//! Net worth: today's figure and its daily history, in the user's base currency or another one.

use crate::ops::{Actor, App, OpsError, RangeError};
use chrono::NaiveDate;
use saldo_core::account::Account;
use saldo_core::money::Currency;
use saldo_core::networth::{net_worth_history, net_worth_on, LeftOutReason, NetWorth};
use std::collections::HashSet;

/// The longest net worth history one request may ask for, in days (a century).
const MAX_HISTORY_DAYS: i64 = 36_600;

/// What `networth` reports.
#[derive(Debug, Clone)]
pub struct NetWorthReport {
    pub currency: Currency,
    pub current: NetWorth,
    pub history: Option<Vec<NetWorth>>,
    /// The tracked accounts the current figure leaves out, and why: those without a balance at
    /// all, and those whose currency has no rate on the day.
    pub left_out: Vec<(Account, LeftOutReason)>,
}

#[derive(Debug, Clone, Default)]
pub struct NetWorthQuery {
    /// The day of the current figure; default today.
    pub date: Option<NaiveDate>,
    /// Report in this currency instead of the user's base currency.
    pub currency: Option<Currency>,
    pub history: bool,
    /// First day of the history; default the day of the first balance.
    pub from: Option<NaiveDate>,
    /// Last day of the history; default the current figure's day.
    pub to: Option<NaiveDate>,
}

pub async fn net_worth(ctx: &App, actor: &Actor, query: &NetWorthQuery) -> Result<NetWorthReport, OpsError> {
    let user = &actor.user;
    let date = query.date.unwrap_or(ctx.clock.today());
    let currency = query.currency.unwrap_or(user.base_currency);
    if !query.history && (query.from.is_some() || query.to.is_some()) {
        return Err(OpsError::Range(RangeError::WithoutHistory));
    }
    let to = query.to.unwrap_or(date);
    if let Some(from) = query.from.filter(|from| *from > to) {
        return Err(OpsError::Range(RangeError::FromAfterTo { from, to }));
    }
    let until = to.max(date);
    // Only what the figures need: a day's figure needs each account's last point; a history from
    // a day needs the points from then on (and the one before); only "all of it" reads it all.
    let series = match (query.history, query.from) {
        (false, _) => ctx.db.latest_balances(user.id, until, false).await?,
        (true, Some(from)) => ctx.db.balance_series_since(user.id, from.min(date), until, false).await?,
        (true, None) => ctx.db.balance_series(user.id, until, false).await?,
    };
    let mut currencies: Vec<Currency> = series.iter().map(|s| s.currency).collect();
    currencies.push(currency);
    currencies.sort();
    currencies.dedup();
    let rates = ctx.db.rate_table(&currencies, until).await?;
    let current = net_worth_on(&series, &rates, currency, date)?;
    let left_out = left_out(ctx, user, &series, &current).await?;
    let history = if query.history {
        let first_point = series.iter().filter_map(|s| s.points.first()).map(|(day, _)| *day).min();
        let from = query.from.or(first_point).unwrap_or(to).min(to);
        if (to - from).num_days() > MAX_HISTORY_DAYS {
            return Err(OpsError::Invalid(format!("history from {from} to {to} is longer than 100 years")));
        }
        Some(net_worth_history(&series, &rates, currency, from, to)?)
    } else {
        None
    };
    Ok(NetWorthReport { currency, current, history, left_out })
}

/// The accounts a figure could not count: named, so that a number is never silently short.
async fn left_out(
    ctx: &App,
    user: &saldo_core::user::User,
    series: &[saldo_core::networth::AccountSeries],
    current: &NetWorth,
) -> Result<Vec<(Account, LeftOutReason)>, OpsError> {
    let accounts = ctx.db.accounts(user.id).await?;
    let with_points: HashSet<_> = series.iter().map(|s| s.account_id).collect();
    let mut left_out: Vec<(Account, LeftOutReason)> = current
        .left_out
        .iter()
        .filter_map(|l| accounts.iter().find(|a| a.id == l.account_id).map(|a| (a.clone(), l.reason.clone())))
        .collect();
    for account in accounts.iter().filter(|a| a.tracked && !a.closed && !with_points.contains(&a.id)) {
        // Not yet counted on this day, or never: only the second is left out.
        if ctx.db.balance_points(account.id).await?.is_empty() {
            left_out.push((account.clone(), LeftOutReason::NoBalance));
        }
    }
    Ok(left_out)
}

/// Changes the user's base currency.
pub async fn set_base_currency(ctx: &App, actor: &Actor, currency: Currency) -> Result<(), OpsError> {
    let user = &actor.user;
    Ok(ctx.db.set_base_currency(user.id, currency).await?)
}
