//! Portfolio › Assets and › Liabilities, grouped by kind, and adding to them: connect an account
//! or add one by hand.

use super::connect::FirstSync;
use super::{done, format, render, Layout, PageResult, Person, Section};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Extension;
use axum::Form;
use chrono::NaiveDate;
use saldo_app::accounts::{self, NewManualAccount};
use saldo_app::connections;
use saldo_app::ops::{App, OpsError};
use saldo_core::account::{AccountClass, AccountKind, Origin};
use saldo_core::money::{Currency, Money};
use serde::Deserialize;
use std::collections::HashMap;

/// `assets` or `liabilities` in a path.
fn class_of(path: &str) -> Option<AccountClass> {
    match path {
        "assets" | "asset" => Some(AccountClass::Asset),
        "liabilities" | "liability" => Some(AccountClass::Liability),
        _ => None,
    }
}

fn plural(class: AccountClass) -> &'static str {
    match class {
        AccountClass::Asset => "assets",
        AccountClass::Liability => "liabilities",
    }
}

pub struct Row {
    pub name: String,
    pub href: String,
    pub institution: String,
    pub updated: Option<String>,
    pub freshness: String,
    pub value: String,
    pub tracked: bool,
    pub closed: bool,
}

pub struct Group {
    pub key: &'static str,
    pub label: &'static str,
    pub total: String,
    pub rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "portfolio.html")]
struct PortfolioPage {
    layout: Layout,
    class: &'static str,
    noun: &'static str,
    value_heading: &'static str,
    total: String,
    groups: Vec<Group>,
    progress: Option<super::connect::ProgressNotice>,
}

/// How old a balance is, in words.
fn freshness(day: NaiveDate, today: NaiveDate) -> String {
    match (today - day).num_days() {
        days if days <= 0 => "today".into(),
        1 => "yesterday".into(),
        days if days < 7 => format!("{days} days old"),
        days => format!("{days} days old, stale"),
    }
}

/// `GET /portfolio/{assets|liabilities}`
pub async fn portfolio(
    State(ctx): State<App>,
    Extension(first_syncs): Extension<std::sync::Arc<super::FirstSyncs>>,
    person: Person,
    Path(class): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult {
    let class = class_of(&class).ok_or_else(|| OpsError::NotFound(format!("no portfolio page {class:?}")))?;
    let actor = person.actor();
    let today = ctx.clock.today();
    let balances = accounts::accounts_with_balances(&ctx, actor, today).await?;
    let institutions: HashMap<_, _> = connections::connection_views(&ctx, actor)
        .await?
        .into_iter()
        .map(|v| (v.connection.id, v.institution.name))
        .collect();
    let report = saldo_app::networth::net_worth(&ctx, actor, &Default::default()).await?;
    let mut groups = Vec::new();
    for kind in AccountKind::ALL.iter().filter(|k| k.class() == class) {
        let mut rows: Vec<&accounts::AccountBalance> = balances.iter().filter(|b| b.account.kind == *kind).collect();
        if rows.is_empty() {
            continue;
        }
        rows.sort_by_key(|b| (b.account.closed, b.account.name.to_lowercase()));
        let rows = rows
            .into_iter()
            .map(|b| {
                let value = b.balance.map_or("—".to_string(), |(_, amount)| match class {
                    AccountClass::Asset => format::money(amount),
                    AccountClass::Liability => format::owed(amount),
                });
                let institution = match b.account.origin {
                    Origin::Connection(id) => institutions.get(&id).cloned().unwrap_or_else(|| "Disconnected".into()),
                    Origin::Import => "Imported from files".into(),
                    Origin::Manual => "Added by hand".into(),
                };
                Row {
                    name: b.account.name.clone(),
                    href: format!("/accounts/{}", b.account.id),
                    institution,
                    updated: b.balance.map(|(day, _)| format::day(day)),
                    freshness: b.balance.map(|(day, _)| freshness(day, today)).unwrap_or_default(),
                    value,
                    tracked: b.account.tracked,
                    closed: b.account.closed,
                }
            })
            .collect();
        let total = report.current.by_kind.get(kind).copied().unwrap_or(Money::zero(report.currency));
        groups.push(Group { key: kind.as_str(), label: format::kind(*kind), total: format::money(total), rows });
    }
    let total = match class {
        AccountClass::Asset => report.current.assets,
        AccountClass::Liability => report.current.liabilities,
    };
    let (title, section) = match class {
        AccountClass::Asset => ("Portfolio › Assets", Section::Assets),
        AccountClass::Liability => ("Portfolio › Liabilities", Section::Liabilities),
    };
    // Just after the item choice: the first sync's progress, or what it did.
    let mut flash = query.get("done").cloned();
    let mut progress = None;
    if let (Some(id), Some(since)) = (query.get("updating"), query.get("since")) {
        match super::connect::follow_first_sync(&ctx, actor, &first_syncs, id, since).await? {
            FirstSync::Finished(words) => flash = Some(flash.map_or(words.clone(), |done| format!("{done} {words}"))),
            FirstSync::Running(notice) => progress = Some(notice),
        }
    }
    let layout = Layout::signed(&ctx, &person, title, section).await.with_flash(flash);
    let page = PortfolioPage {
        layout,
        class: class.as_str(),
        noun: match class {
            AccountClass::Asset => "asset",
            AccountClass::Liability => "liability",
        },
        value_heading: match class {
            AccountClass::Asset => "Value",
            AccountClass::Liability => "Owed",
        },
        total: format::money(total),
        groups,
        progress,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "add.html")]
struct AddPage {
    layout: Layout,
    class: &'static str,
}

/// `GET /portfolio/add?class=asset|liability`: connect an account, or add one by hand.
pub async fn add(State(ctx): State<App>, person: Person, Query(query): Query<HashMap<String, String>>) -> PageResult {
    let class = query.get("class").and_then(|c| class_of(c)).unwrap_or(AccountClass::Asset);
    let (title, section) = match class {
        AccountClass::Asset => ("Add asset", Section::Assets),
        AccountClass::Liability => ("Add liability", Section::Liabilities),
    };
    let layout = Layout::signed(&ctx, &person, title, section).await;
    Ok(render(StatusCode::OK, &AddPage { layout, class: class.as_str() }))
}

#[derive(Template)]
#[template(path = "manual.html")]
struct ManualPage {
    layout: Layout,
    class_path: &'static str,
    kinds: Vec<(&'static str, &'static str)>,
    selected_kind: String,
    name: String,
    currency: String,
    value: String,
    value_label: &'static str,
    date: String,
    error: Option<String>,
}

async fn manual_page(
    ctx: &App,
    person: &Person,
    class: AccountClass,
    form: &ManualForm,
    error: Option<String>,
) -> PageResult {
    let title = match class {
        AccountClass::Asset => "Add an asset by hand",
        AccountClass::Liability => "Add a liability by hand",
    };
    let section = if class == AccountClass::Asset { Section::Assets } else { Section::Liabilities };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = ManualPage {
        layout: Layout::signed(ctx, person, title, section).await,
        class_path: plural(class),
        kinds: format::kinds_of(class),
        selected_kind: form.kind.clone().unwrap_or_default(),
        name: form.name.clone().unwrap_or_default(),
        currency: form.currency.clone().unwrap_or_else(|| person.actor().user.base_currency.code().to_string()),
        value: form.value.clone().unwrap_or_default(),
        value_label: if class == AccountClass::Asset { "Value" } else { "Amount owed" },
        date: form.date.clone().unwrap_or_else(|| ctx.clock.today().to_string()),
        error,
    };
    Ok(render(status, &page))
}

#[derive(Deserialize, Default)]
pub struct ManualForm {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub currency: Option<String>,
    pub value: Option<String>,
    pub date: Option<String>,
    pub class: Option<String>,
}

/// `GET /accounts/new?class=…`
pub async fn manual_form(State(ctx): State<App>, person: Person, Query(form): Query<ManualForm>) -> PageResult {
    let class = form.class.as_deref().and_then(class_of).unwrap_or(AccountClass::Asset);
    manual_page(&ctx, &person, class, &form, None).await
}

fn new_account(form: &ManualForm) -> Result<NewManualAccount, OpsError> {
    let kind: AccountKind = form
        .kind
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|e: saldo_core::account::UnknownKind| OpsError::Invalid(e.to_string()))?;
    let currency =
        Currency::parse(form.currency.as_deref().unwrap_or_default()).map_err(|e| OpsError::Invalid(e.to_string()))?;
    let date = format::parse_day("date", form.date.as_deref())?;
    let value = form.value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(|v| (v.replace(',', ""), date));
    Ok(NewManualAccount { name: form.name.clone().unwrap_or_default(), kind, currency, value })
}

/// `POST /accounts`: adds a manual account; a mistake shows the form again, saying what.
pub async fn create_manual(State(ctx): State<App>, person: Person, Form(form): Form<ManualForm>) -> PageResult {
    let class =
        form.kind.as_deref().and_then(|k| k.parse::<AccountKind>().ok()).map_or(AccountClass::Asset, |k| k.class());
    let created = match new_account(&form) {
        Ok(new) => accounts::create_manual_account(&ctx, person.actor(), new).await,
        Err(err) => Err(err),
    };
    match created {
        Ok(account) => {
            Ok(done(&format!("/portfolio/{}", plural(account.class())), &format!("Added {}.", account.name)))
        }
        Err(err @ (OpsError::Invalid(_) | OpsError::InvalidField { .. })) => {
            manual_page(&ctx, &person, class, &form, Some(err.to_string())).await
        }
        Err(err) => Err(err.into()),
    }
}
