//! Use cases: what a user can do, shared by the CLI and the HTTP API. Each one validates its input,
//! reads the time from the context's clock and writes through the store in one transaction.

use crate::clock::Clock;
use crate::secrets::Keyring;
use crate::sync::{Connectors, EngineSettings, Jitter};
use chrono::NaiveDate;
use saldo_core::account::{validate_name, Account, AccountClass, AccountKind, Origin};
use saldo_core::balance::{BalancePoint, BalanceSource};
use saldo_core::fx::FxError;
use saldo_core::ids::{AccountId, UserId};
use saldo_core::money::{Currency, Money};
use saldo_core::networth::{net_worth_history, net_worth_on, NetWorth, NetWorthError};
use saldo_core::user::User;
use saldo_import::ecb::parse_ecb_rates;
use saldo_import::Problem;
use saldo_store::{Db, StoreError, ValuationWrite};
use std::sync::Arc;
use uuid::Uuid;

/// What every use case runs with.
#[derive(Debug, Clone)]
pub struct App {
    pub db: Db,
    pub clock: Clock,
    pub settings: Arc<Settings>,
    pub connectors: Connectors,
    pub engine: EngineSettings,
    pub jitter: Jitter,
    /// When set, ids come from this seed (simulations); otherwise from the thread's generator.
    pub id_seed: Option<Arc<std::sync::Mutex<rand::rngs::StdRng>>>,
    /// The keys that seal and open stored secrets.
    pub keyring: Arc<Keyring>,
    /// The address of the actor a use case works for (see [`App::acting_for`]); only use cases
    /// set it.
    pub(crate) psu_ip_address: Option<std::net::IpAddr>,
}

/// Who acts: the user a use case works for, and where they are. Every use case a person triggers
/// takes one; none finds "the current user" by itself.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: User,
    /// The client's address (a web request's), which PSD2 banks get as the PSU's address on the
    /// calls the user triggers. `None` for a user at this machine (the command line).
    pub address: Option<std::net::IpAddr>,
}

impl Actor {
    /// A user at this machine.
    pub fn local(user: User) -> Actor {
        Actor { user, address: None }
    }
}

/// What the application is told by whoever runs it (the binary reads it from its configuration).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where providers send a user back after authorisation: `/callback/{connector}` under it.
    pub callback_base: String,
    /// The address users reach saldo at, when one is configured (behind a proxy, say); otherwise
    /// a web request's own `Host` is where the provider sends the browser back.
    pub public_url: Option<String>,
    /// The user of this installation until sign-in exists (the command line's and the web's).
    pub local_user: String,
    /// The base currency given to a user when saldo creates it.
    pub base_currency: Currency,
    /// How long a worker's claim on a connection lasts before another worker may take over.
    pub sync_lease_seconds: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The request itself is wrong; the message says how.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
    /// Something the request names is not there (for this user).
    #[error("{0}")]
    Missing(Missing),
    /// A net worth query whose days do not hold together.
    #[error("{0}")]
    Range(RangeError),
    /// Only a front end that can ask the user itself (a terminal) can connect this institution.
    #[error("{institution} does not authorise through a browser redirect")]
    NotByRedirect { institution: String },
    #[error("{0}")]
    MissingRate(FxError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a request named that is not there. Front ends add where to find the real ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Missing {
    #[error("no account named {0:?}")]
    Account(String),
    #[error("no institution {0:?}")]
    Institution(String),
    #[error("no connection with id {0}")]
    Connection(String),
    #[error("no item {name:?} in connection {connection}")]
    Item { name: String, connection: String },
}

/// Why the days of a net worth query do not hold together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("a first or last day is only for the daily history")]
    WithoutHistory,
    #[error("the history would start on {from}, after its last day {to}")]
    FromAfterTo { from: NaiveDate, to: NaiveDate },
}

impl From<NetWorthError> for OpsError {
    fn from(err: NetWorthError) -> OpsError {
        match err {
            NetWorthError::Fx(missing @ FxError::MissingRate { .. }) => OpsError::MissingRate(missing),
            other => OpsError::Invalid(other.to_string()),
        }
    }
}

/// The longest net worth history one request may ask for, in days (a century).
const MAX_HISTORY_DAYS: i64 = 36_600;

impl App {
    /// An application on an open, migrated database, with the connectors it offers.
    pub fn new(db: Db, clock: Clock, connectors: Connectors, keyring: Arc<Keyring>, settings: Settings) -> App {
        let mut engine = EngineSettings::default();
        engine.policy.lease = chrono::TimeDelta::seconds(settings.sync_lease_seconds.min(86_400) as i64);
        let jitter = Jitter::seeded(rand::random());
        App {
            db,
            clock,
            settings: Arc::new(settings),
            connectors,
            engine,
            jitter,
            id_seed: None,
            keyring,
            psu_ip_address: None,
        }
    }

    /// This application acting for `actor`: the calls to providers it triggers carry the actor's
    /// address as the PSU's.
    pub(crate) fn acting_for(&self, actor: &Actor) -> App {
        App { psu_ip_address: actor.address, ..self.clone() }
    }

    /// A fresh id, time-ordered by the context's clock (UUIDv7). The random part comes from a
    /// thread-local generator: asking the OS for each id cost a system call per row.
    pub fn new_id(&self) -> Uuid {
        let millis = u64::try_from(self.clock.now().timestamp_millis()).unwrap_or(0);
        let random: [u8; 10] = match &self.id_seed {
            Some(rng) => rand::Rng::random(&mut *rng.lock().unwrap_or_else(|p| p.into_inner())),
            None => rand::random(),
        };
        uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
    }

    /// The installation's own user (`Settings::local_user`), created on first use with the
    /// configured base currency: whom the command line acts for, and the web until sign-in exists.
    pub async fn local_user(&self) -> Result<User, OpsError> {
        let candidate = User {
            id: UserId(self.new_id()),
            name: self.settings.local_user.clone(),
            base_currency: self.settings.base_currency,
            created_at: self.clock.now(),
        };
        Ok(self.db.ensure_user(&candidate).await?)
    }
}

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
    Ok(account)
}

pub async fn delete_account(ctx: &App, actor: &Actor, reference: &str) -> Result<Account, OpsError> {
    let account = find_account(ctx, actor, reference).await?;
    ctx.db.delete_account(account.id).await?;
    Ok(account)
}

async fn find_manual_account(ctx: &App, actor: &Actor, reference: &str) -> Result<Account, OpsError> {
    let account = find_account(ctx, actor, reference).await?;
    if account.origin != Origin::Manual {
        return Err(OpsError::Invalid(format!(
            "account {:?} gets its balance from {}; valuations are for manual accounts",
            account.name,
            match account.origin {
                Origin::Connection(_) => "its connection",
                _ => "statement imports",
            }
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

/// An account with its latest balance on or before a day.
#[derive(Debug, Clone)]
pub struct AccountBalance {
    pub account: Account,
    pub balance: Option<(NaiveDate, Money)>,
}

pub async fn accounts_with_balances(
    ctx: &App,
    actor: &Actor,
    date: NaiveDate,
) -> Result<Vec<AccountBalance>, OpsError> {
    let user = &actor.user;
    let series = ctx.db.balance_series(user.id, date, true).await?;
    let accounts = ctx.db.accounts(user.id).await?;
    Ok(accounts
        .into_iter()
        .map(|account| {
            let balance = series
                .iter()
                .find(|s| s.account_id == account.id)
                .and_then(|s| s.points.last())
                .map(|(day, minor)| (*day, Money::new(*minor, account.currency)));
            AccountBalance { account, balance }
        })
        .collect())
}

/// What `networth` reports.
#[derive(Debug, Clone)]
pub struct NetWorthReport {
    pub currency: Currency,
    pub current: NetWorth,
    pub history: Option<Vec<NetWorth>>,
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
    let series = ctx.db.balance_series(user.id, until, false).await?;
    let mut currencies: Vec<Currency> = series.iter().map(|s| s.currency).collect();
    currencies.push(currency);
    currencies.sort();
    currencies.dedup();
    let rates = ctx.db.rate_table(&currencies, until).await?;
    let current = net_worth_on(&series, &rates, currency, date)?;
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
    Ok(NetWorthReport { currency, current, history })
}

/// What an FX import did.
#[derive(Debug, Clone)]
pub struct FxImport {
    pub rates: usize,
    pub currencies: Vec<Currency>,
    pub first: Option<NaiveDate>,
    pub last: Option<NaiveDate>,
    pub problems: Vec<Problem>,
}

/// Loads an ECB reference-rate file; rates already stored for a day are replaced, so importing the
/// same or an overlapping file again is harmless. Writes all rates or none.
pub async fn import_fx(ctx: &App, bytes: &[u8]) -> Result<FxImport, OpsError> {
    let parsed = parse_ecb_rates(bytes).map_err(|err| OpsError::Invalid(err.to_string()))?;
    ctx.db.upsert_rates(&parsed.rates).await?;
    let mut currencies: Vec<Currency> = parsed.rates.iter().map(|r| r.currency).collect();
    currencies.sort();
    currencies.dedup();
    Ok(FxImport {
        rates: parsed.rates.len(),
        currencies,
        first: parsed.rates.iter().map(|r| r.date).min(),
        last: parsed.rates.iter().map(|r| r.date).max(),
        problems: parsed.problems,
    })
}

/// Changes the user's base currency.
pub async fn set_base_currency(ctx: &App, actor: &Actor, currency: Currency) -> Result<(), OpsError> {
    let user = &actor.user;
    Ok(ctx.db.set_base_currency(user.id, currency).await?)
}

/// The last day saldo handles; dates are stored as ISO text, which sorts right only for 4-digit years.
pub const LAST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(day) => day,
    None => panic!("9999-12-31 is a date"),
};

/// Parses a `YYYY-MM-DD` date with a 4-digit year, naming the field when it is not one.
pub fn parse_date(text: &str, field: &str) -> Result<NaiveDate, OpsError> {
    let text = text.trim();
    let is_iso = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| is_iso)
        .ok_or_else(|| OpsError::Invalid(format!("invalid date {text:?} for {field}: expected YYYY-MM-DD")))
}
