//! An account's page: its balance over time, holdings, transactions, and its settings (name, kind,
//! tracked; a value by hand for a manual account).

use super::activity::{transaction_list, TransactionList};
use super::chart::{Chart, Range, Series};
use super::{done, format, render, Layout, PageResult, Person, Section};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Form;
use chrono::NaiveDate;
use saldo_app::accounts::{self, AccountEdit};
use saldo_app::ops::App;
use saldo_core::account::{AccountClass, Origin};
use saldo_core::money::Money;
use serde::Deserialize;
use std::collections::HashMap;

pub struct HoldingRow {
    pub name: String,
    pub quantity: String,
    pub price: String,
    pub value: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    id: String,
    name: String,
    kind: &'static str,
    kind_key: &'static str,
    kinds: Vec<(&'static str, &'static str)>,
    origin: &'static str,
    tracked: bool,
    closed: bool,
    manual: bool,
    currency: &'static str,
    value_label: &'static str,
    balance: String,
    balance_day: Option<String>,
    chart: Chart,
    holdings: Vec<HoldingRow>,
    list: TransactionList,
    today: String,
}

/// `GET /accounts/{id}`: 404 for an account that is not the person's.
pub async fn account_page(
    State(ctx): State<App>,
    person: Person,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult {
    let actor = person.actor();
    let range = Range::parse(query.get("range").map(String::as_str));
    let today = ctx.clock.today();
    let (account, all_points) = accounts::balance_history(&ctx, actor, &id, None, Some(today)).await?;
    let start = range.start(today);
    let points: Vec<_> = all_points.iter().filter(|p| start.is_none_or(|start| p.date >= start)).collect();
    let (_, holdings) = accounts::holdings(&ctx, actor, &id).await?;
    let liability = account.class() == AccountClass::Liability;
    let shown = |m: Money| if liability { Money::new(-m.minor, m.currency) } else { m };
    let days: Vec<NaiveDate> = points.iter().map(|p| p.date).collect();
    let series = [Series {
        label: if liability { "Owed" } else { "Balance" },
        colour: if liability { "--liability" } else { "--accent" },
        values: points.iter().map(|p| shown(p.amount)).collect(),
    }];
    let base = format!("/accounts/{}", account.id);
    let chart = Chart::new("balance", &base, range, &days, account.currency, &series);
    let latest = all_points.last().map(|p| (p.date, p.amount));
    let list = transaction_list(&ctx, actor, Some(account.id.to_string()), &base, &query).await?;
    let holdings = holdings
        .iter()
        .map(|h| HoldingRow {
            name: h.instrument.name.clone(),
            quantity: h.quantity.normalize().to_string(),
            price: h
                .unit_price
                .map_or("—".into(), |p| format!("{} {}", p.normalize(), h.market_value.currency.code())),
            value: format::money(h.market_value),
        })
        .collect();
    let section = if liability { Section::Liabilities } else { Section::Assets };
    let layout =
        Layout::signed(&ctx, &person, account.name.clone(), section).await.with_flash(query.get("done").cloned());
    let page = AccountPage {
        layout,
        id: account.id.to_string(),
        name: account.name.clone(),
        kind: format::kind_one(account.kind),
        kind_key: account.kind.as_str(),
        kinds: format::kinds_of(account.class()),
        origin: match account.origin {
            Origin::Connection(_) => "updated from its bank",
            Origin::Import => "from imported statements",
            Origin::Manual => "valued by hand",
        },
        tracked: account.tracked,
        closed: account.closed,
        manual: !matches!(account.origin, Origin::Connection(_)),
        currency: account.currency.code(),
        value_label: if liability { "Owed" } else { "Balance" },
        balance: latest.map_or("no balance yet".into(), |(_, m)| format::money(shown(m))),
        balance_day: latest.map(|(day, _)| format::day(day)),
        chart,
        holdings,
        list,
        today: today.to_string(),
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
pub struct EditForm {
    pub name: String,
    pub kind: String,
    pub tracked: Option<String>,
}

/// `POST /accounts/{id}/edit`: name, kind within its class, tracked.
pub async fn edit(
    State(ctx): State<App>,
    person: Person,
    Path(id): Path<String>,
    Form(form): Form<EditForm>,
) -> PageResult {
    let kind = format::parse_kind(&form.kind)?;
    let edit = AccountEdit { name: Some(form.name), kind: Some(kind), tracked: Some(form.tracked.is_some()) };
    let account = accounts::edit_account(&ctx, person.actor(), &id, edit).await?;
    Ok(done(&format!("/accounts/{}", account.id), "Saved."))
}

#[derive(Deserialize)]
pub struct ValueForm {
    pub value: String,
    pub date: Option<String>,
}

/// `POST /accounts/{id}/valuation`: what a manual account is worth on a day.
pub async fn value(
    State(ctx): State<App>,
    person: Person,
    Path(id): Path<String>,
    Form(form): Form<ValueForm>,
) -> PageResult {
    let date = format::parse_day("date", form.date.as_deref())?;
    let (account, day, _) =
        accounts::set_valuation(&ctx, person.actor(), &id, &form.value.replace(',', ""), date).await?;
    Ok(done(&format!("/accounts/{}", account.id), &format!("Value on {} saved.", format::day(day))))
}
