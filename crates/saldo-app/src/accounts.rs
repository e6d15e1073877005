//! Accounts a user keeps by hand (a flat, a car, a private loan) and their valuations, finding
//! and editing any account, and every account's balance on a day.

use crate::ops::{Actor, App, Missing, OpsError};
use chrono::NaiveDate;
use saldo_core::account::{validate_name, Account, AccountClass, AccountKind, Origin};
use saldo_core::balance::{BalancePoint, BalanceSource};
use saldo_core::ids::AccountId;
use saldo_core::item::ItemDecision;
use saldo_core::money::{Currency, Money};
use saldo_store::ValuationWrite;
use uuid::Uuid;

/// A manual asset or liability to create.
#[derive(Debug, Clone)]
pub struct NewManualAccount {
    pub name: String,
    pub kind: AccountKind,
    pub currency: Currency,
    /// An optional first valuation: its amount as the user typed it and its day (default today).
    pub value: Option<(String, Option<NaiveDate>)>,
}

/// Converts between a value as the user states it and the signed balance that is stored. For a
/// liability the user states what is owed, so 250000 on a mortgage is a balance of -250000. The
/// conversion is its own inverse.
pub fn stated_value(class: AccountClass, amount: Money) -> Money {
    match class {
        AccountClass::Asset => amount,
        AccountClass::Liability => Money::new(-amount.minor, amount.currency),
    }
}

fn parse_amount(text: &str, currency: Currency) -> Result<Money, OpsError> {
    Money::parse(text, currency).map_err(|err| OpsError::Invalid(err.to_string()))
}

pub async fn create_manual_account(ctx: &App, actor: &Actor, new: NewManualAccount) -> Result<Account, OpsError> {
    let user = &actor.user;
    let name = validate_name(&new.name).map_err(|err| OpsError::Invalid(err.to_string()))?;
    let now = ctx.clock.now();
    let account = Account {
        id: AccountId(ctx.new_id()),
        user_id: user.id,
        name,
        kind: new.kind,
        currency: new.currency,
        tracked: true,
        origin: Origin::Manual,
        closed: false,
        created_at: now,
    };
    let mut points = Vec::new();
    if let Some((text, date)) = &new.value {
        let stated = parse_amount(text, new.currency)?;
        points.push(manual_point(account.id, date.unwrap_or(now.date_naive()), stated_value(new.kind.class(), stated)));
    }
    ctx.db.insert_account(&account, &[], &points).await?;
    Ok(account)
}

fn manual_point(account_id: AccountId, date: NaiveDate, amount: Money) -> BalancePoint {
    BalancePoint {
        account_id,
        date,
        observed_at: date.and_time(chrono::NaiveTime::MIN).and_utc(),
        amount,
        source: BalanceSource::Manual,
    }
}

/// Finds one of the user's accounts by id or by its exact name (case-insensitive).
pub async fn find_account(ctx: &App, actor: &Actor, reference: &str) -> Result<Account, OpsError> {
    let user = &actor.user;
    if let Ok(id) = reference.trim().parse::<Uuid>() {
        return match ctx.db.account(AccountId(id)).await? {
            Some(account) if account.user_id == user.id => Ok(account),
            _ => Err(OpsError::NotFound(format!("no account with id {id}"))),
        };
    }
    let wanted = reference.trim().to_lowercase();
    let mut matches: Vec<Account> =
        ctx.db.accounts(user.id).await?.into_iter().filter(|a| a.name.to_lowercase() == wanted).collect();
    match matches.len() {
        0 => Err(OpsError::Missing(Missing::Account(reference.to_string()))),
        1 => Ok(matches.remove(0)),
        n => Err(OpsError::Invalid(format!("{n} accounts are named {reference:?}; use the account's id"))),
    }
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AccountEdit {
    pub name: Option<String>,
    pub kind: Option<AccountKind>,
    pub tracked: Option<bool>,
}

pub async fn edit_account(ctx: &App, actor: &Actor, reference: &str, edit: AccountEdit) -> Result<Account, OpsError> {
    let mut account = find_account(ctx, actor, reference).await?;
    if let Some(name) = edit.name {
        account.name = validate_name(&name).map_err(|err| OpsError::Invalid(err.to_string()))?;
    }
    if let Some(kind) = edit.kind {
        if kind.class() != account.class() {
            return Err(OpsError::Invalid(format!(
                "cannot change {} account {:?} into {kind}, which is a {}: create a new account instead",
                account.class().as_str(),
                account.name,
                kind.class().as_str()
            )));
        }
        account.kind = kind;
    }
    if let Some(tracked) = edit.tracked {
        account.tracked = tracked;
    }
    ctx.db.update_account(&account).await?;
    // The bank item that feeds the account follows: an untracked account is no longer fetched
    // (nor counted), and tracking it again resumes its item where it stopped.
    if let (Some(tracked), Origin::Connection(connection)) = (edit.tracked, account.origin) {
        let decision = if tracked { ItemDecision::Tracked } else { ItemDecision::Ignored };
        let items: Vec<_> = ctx
            .db
            .items(connection)
            .await?
            .into_iter()
            .filter(|i| i.account_id == Some(account.id) && i.decision != decision)
            .map(|i| saldo_core::item::Item { decision, ..i })
            .collect();
        if !items.is_empty() {
            ctx.db.decide_items(&items, &[], &[]).await?;
        }
    }
    Ok(account)
}

pub async fn delete_account(ctx: &App, actor: &Actor, reference: &str) -> Result<Account, OpsError> {
    let account = find_account(ctx, actor, reference).await?;
    ctx.db.delete_account(account.id).await?;
    Ok(account)
}

/// An account the user values by hand: a manual one, or an imported one (whose files may state
/// no balance). A connection's account gets its balance from the provider.
async fn find_manual_account(ctx: &App, actor: &Actor, reference: &str) -> Result<Account, OpsError> {
    let account = find_account(ctx, actor, reference).await?;
    if let Origin::Connection(_) = account.origin {
        return Err(OpsError::Invalid(format!(
            "account {:?} gets its balance from its connection; valuations are for manual and imported accounts",
            account.name
        )));
    }
    Ok(account)
}

/// Records what a manual account is worth on a day (default today); a second valuation on the same
/// day replaces the first.
pub async fn set_valuation(
    ctx: &App,
    actor: &Actor,
    reference: &str,
    amount: &str,
    date: Option<NaiveDate>,
) -> Result<(Account, NaiveDate, ValuationWrite), OpsError> {
    let account = find_manual_account(ctx, actor, reference).await?;
    let stated = parse_amount(amount, account.currency)?;
    let date = date.unwrap_or(ctx.clock.today());
    let written = ctx.db.set_valuation(account.id, date, stated_value(account.class(), stated)).await?;
    Ok((account, date, written))
}

pub async fn delete_valuation(ctx: &App, actor: &Actor, reference: &str, date: NaiveDate) -> Result<Account, OpsError> {
    let account = find_manual_account(ctx, actor, reference).await?;
    if !ctx.db.delete_valuation(account.id, date).await? {
        return Err(OpsError::NotFound(format!("account {:?} has no valuation on {date}", account.name)));
    }
    Ok(account)
}

pub async fn valuations(ctx: &App, actor: &Actor, reference: &str) -> Result<(Account, Vec<BalancePoint>), OpsError> {
    let account = find_account(ctx, actor, reference).await?;
    let points = ctx.db.balance_points(account.id).await?;
    Ok((account, points))
}

/// An account with its latest balance on or before a day, and its positions then.
#[derive(Debug, Clone)]
pub struct AccountBalance {
    pub account: Account,
    pub balance: Option<(NaiveDate, Money)>,
    pub holdings: Vec<saldo_core::holding::Holding>,
}

pub async fn accounts_with_balances(
    ctx: &App,
    actor: &Actor,
    date: NaiveDate,
) -> Result<Vec<AccountBalance>, OpsError> {
    let user = &actor.user;
    let series = ctx.db.latest_balances(user.id, date, true).await?;
    let accounts = ctx.db.accounts(user.id).await?;
    let mut holdings: std::collections::HashMap<AccountId, Vec<saldo_core::holding::Holding>> =
        std::collections::HashMap::new();
    for holding in ctx.db.latest_holdings(user.id, date).await? {
        holdings.entry(holding.account_id).or_default().push(holding);
    }
    Ok(accounts
        .into_iter()
        .map(|account| {
            let balance = series
                .iter()
                .find(|s| s.account_id == account.id)
                .and_then(|s| s.points.last())
                .map(|(day, minor)| (*day, Money::new(*minor, account.currency)));
            let holdings = holdings.remove(&account.id).unwrap_or_default();
            AccountBalance { account, balance, holdings }
        })
        .collect())
}

/// An account's positions as last observed (its holdings on the latest day it has any).
pub async fn holdings(
    ctx: &App,
    actor: &Actor,
    reference: &str,
) -> Result<(Account, Vec<saldo_core::holding::Holding>), OpsError> {
    let account = find_account(ctx, actor, reference).await?;
    let mut all = ctx.db.holdings(account.id).await?;
    let latest = all.iter().map(|h| h.as_of).max();
    all.retain(|h| Some(h.as_of) == latest);
    Ok((account, all))
}

/// An account's balance points (from syncs, files and valuations) between two days, oldest first.
pub async fn balance_history(
    ctx: &App,
    actor: &Actor,
    reference: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<(Account, Vec<BalancePoint>), OpsError> {
    let account = find_account(ctx, actor, reference).await?;
    let points = ctx.db.balance_points(account.id).await?;
    let within = |day: NaiveDate| from.is_none_or(|from| day >= from) && to.is_none_or(|to| day <= to);
    Ok((account, points.into_iter().filter(|p| within(p.date)).collect()))
}
