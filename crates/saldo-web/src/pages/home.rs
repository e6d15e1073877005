//! `/`: the dashboard for a signed-in person; otherwise sign-in, or claiming a new install.

use super::chart::{Chart, Range, Series};
use super::{format, render, safe_next, Banner, Layout, Link, PageError, PageResult, Person, Section};
use crate::auth::{session_cookie_header, ClientAddress};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::NaiveDate;
use saldo_app::auth::{self, Client, NewSession};
use saldo_app::connections;
use saldo_app::networth::{self, NetWorthQuery};
use saldo_app::ops::{App, OpsError};
use saldo_app::users::{self, NewUser};
use saldo_core::failure::Colour;
use saldo_core::money::Money;
use saldo_core::notification::Level;
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    layout: Layout,
    claim: bool,
    email: String,
    next: String,
    error: Option<String>,
}

async fn sign_in_form(ctx: &App, status: StatusCode, email: &str, next: &str, error: Option<String>) -> PageResult {
    let claim = !ctx.db.any_password().await.map_err(OpsError::from)?;
    let title = if claim { "Claim this saldo" } else { "Sign in" };
    let page = SignInPage { layout: Layout::public(title), claim, email: email.into(), next: next.into(), error };
    Ok(render(status, &page))
}

/// `GET /`: the dashboard, or the sign-in form.
pub async fn home(
    State(ctx): State<App>,
    person: Result<Person, Response>,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult {
    match person {
        Ok(person) => dashboard(&ctx, &person, Range::parse(query.get("range").map(String::as_str))).await,
        Err(_) => sign_in_form(&ctx, StatusCode::OK, "", "/", None).await,
    }
}

/// `GET /signin?next=…`
pub async fn sign_in_page(State(ctx): State<App>, Query(query): Query<HashMap<String, String>>) -> PageResult {
    sign_in_form(&ctx, StatusCode::OK, "", &safe_next(query.get("next").map(String::as_str)), None).await
}

#[derive(Deserialize)]
pub struct SignInForm {
    pub email: String,
    pub password: String,
    pub next: Option<String>,
}

fn client(address: ClientAddress, headers: &HeaderMap) -> Client {
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string);
    Client { address: address.0, user_agent }
}

/// Hands the browser its session and sends it on.
fn signed_in(ctx: &App, session: &NewSession, next: &str) -> Response {
    let max_age = (session.session.expires_at - session.session.created_at).num_seconds();
    let cookie = session_cookie_header(ctx, &session.token, max_age);
    ([(header::SET_COOKIE, cookie)], Redirect::to(next)).into_response()
}

/// The status a refused sign-in or claim is shown with.
fn refusal(err: &OpsError) -> Option<StatusCode> {
    match err {
        OpsError::Unauthenticated(_) => Some(StatusCode::UNAUTHORIZED),
        OpsError::Forbidden(_) => Some(StatusCode::FORBIDDEN),
        OpsError::TooManyAttempts { .. } => Some(StatusCode::TOO_MANY_REQUESTS),
        OpsError::Invalid(_) | OpsError::InvalidField { .. } | OpsError::Conflict(_) => Some(StatusCode::BAD_REQUEST),
        _ => None,
    }
}

/// `POST /signin`
pub async fn sign_in(
    State(ctx): State<App>,
    address: ClientAddress,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> PageResult {
    let next = safe_next(form.next.as_deref());
    match auth::sign_in(&ctx, &form.email, &form.password, &client(address, &headers)).await {
        Ok(session) => Ok(signed_in(&ctx, &session, &next)),
        Err(err) => match refusal(&err) {
            Some(status) => sign_in_form(&ctx, status, &form.email, &next, Some(err.to_string())).await,
            None => Err(err.into()),
        },
    }
}

#[derive(Deserialize)]
pub struct ClaimForm {
    pub setup_code: String,
    pub email: String,
    pub display_name: Option<String>,
    pub password: String,
}

/// `POST /claim`: the first person makes themselves the owner with the setup code.
pub async fn claim(
    State(ctx): State<App>,
    address: ClientAddress,
    headers: HeaderMap,
    Form(form): Form<ClaimForm>,
) -> PageResult {
    let new = NewUser {
        email: form.email.clone(),
        password: form.password,
        display_name: form.display_name.filter(|n| !n.trim().is_empty()),
        base_currency: None,
    };
    match users::sign_up(&ctx, &new, Some(form.setup_code.trim()), &client(address, &headers)).await {
        Ok((_, session)) => Ok(signed_in(&ctx, &session, "/")),
        Err(err) => match refusal(&err) {
            Some(status) => sign_in_form(&ctx, status, &form.email, "/", Some(err.to_string())).await,
            None => Err(err.into()),
        },
    }
}

/// `POST /signout`: ends this browser's session.
pub async fn sign_out(State(ctx): State<App>, person: Person) -> PageResult {
    auth::sign_out(&ctx, &person.signed).await?;
    let cookie = session_cookie_header(&ctx, "", 0);
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response())
}

pub struct Change {
    pub label: &'static str,
    pub text: String,
    /// `up`, `down` or `same`, for its colour.
    pub direction: &'static str,
}

pub struct KindRow {
    pub label: &'static str,
    pub class: &'static str,
    pub value: String,
    pub href: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    layout: Layout,
    total: String,
    date: String,
    currency: String,
    assets: String,
    liabilities: String,
    changes: Vec<Change>,
    left_out: Vec<String>,
    chart: Chart,
    kinds: Vec<KindRow>,
}

async fn dashboard(ctx: &App, person: &Person, range: Range) -> PageResult {
    let actor = person.actor();
    let today = ctx.clock.today();
    // The chart reads the history of its period only; each change compares with one day's figure,
    // which reads each account's last balance then.
    let first_day = ctx.db.first_balance_day(actor.user.id).await.map_err(OpsError::from)?;
    let from = match (range.start(today), first_day) {
        (Some(start), Some(first)) => Some(start.max(first).min(today)),
        (start, first) => start.or(first).map(|day| day.min(today)),
    };
    let query = NetWorthQuery { history: true, from, ..Default::default() };
    let report = networth::net_worth(ctx, actor, &query).await?;
    let now = &report.current;
    let history = report.history.clone().unwrap_or_default();
    let mut changes = Vec::new();
    for r in Range::ALL {
        let Some(day) = r.start(now.date).or(first_day).filter(|day| first_day.is_some_and(|first| *day >= first))
        else {
            continue;
        };
        let then = match history.iter().find(|n| n.date == day) {
            Some(n) => n.total,
            None => {
                let on = NetWorthQuery { date: Some(day), currency: Some(report.currency), ..Default::default() };
                networth::net_worth(ctx, actor, &on).await?.current.total
            }
        };
        let delta = Money::new(now.total.minor - then.minor, now.total.currency);
        let direction = match delta.minor {
            d if d > 0 => "up",
            d if d < 0 => "down",
            _ => "same",
        };
        changes.push(Change { label: r.label(), text: format::change(delta), direction });
    }
    let shown: Vec<_> = history.iter().collect();
    let days: Vec<NaiveDate> = shown.iter().map(|n| n.date).collect();
    let series = [
        Series { label: "Net worth", colour: "--accent", values: shown.iter().map(|n| n.total).collect() },
        Series { label: "Assets", colour: "--asset", values: shown.iter().map(|n| n.assets).collect() },
        Series { label: "Owed", colour: "--liability", values: shown.iter().map(|n| n.liabilities).collect() },
    ];
    let chart = Chart::new("networth", "/", range, &days, report.currency, &series);
    let kinds = now
        .by_kind
        .iter()
        .map(|(kind, value)| {
            let class = kind.class();
            KindRow {
                label: format::kind(*kind),
                class: if class.as_str() == "asset" { "Asset" } else { "Liability" },
                value: format::money(*value),
                href: format!(
                    "/portfolio/{}s#kind-{}",
                    class.as_str().replace("liability", "liabilitie"),
                    kind.as_str()
                ),
            }
        })
        .collect();
    let left_out =
        crate::api::NetWorthJson::new(&report).left_out.iter().map(|l| format!("{}: {}", l.name, l.message)).collect();
    let mut layout = Layout::signed(ctx, person, "Dashboard", Section::Dashboard).await;
    layout.banners = banners(ctx, person).await?;
    let page = DashboardPage {
        layout,
        total: format::money(now.total),
        date: format::day(now.date),
        currency: report.currency.code().to_string(),
        assets: format::money(now.assets),
        liabilities: format::money(now.liabilities),
        changes,
        left_out,
        chart,
        kinds,
    };
    Ok(render(StatusCode::OK, &page))
}

/// A banner for every connection that needs the person (red), then for every unread
/// primary notification that is not about one of those.
async fn banners(ctx: &App, person: &Person) -> Result<Vec<Banner>, PageError> {
    let actor = person.actor();
    let views = connections::connection_views(ctx, actor).await?;
    let mut banners = Vec::new();
    let mut covered = Vec::new();
    for view in views.iter().filter(|v| v.colour == Colour::Red) {
        covered.push(view.connection.id);
        banners.push(Banner {
            colour: "red",
            title: format!("{} needs you.", view.institution.name),
            text: view.message.clone(),
            action: Some(Link {
                href: format!("/settings/providers#connection-{}", view.connection.id),
                label: "Reconnect".into(),
            }),
        });
    }
    for n in saldo_app::activity::notifications(ctx, actor, true).await? {
        if n.level != Level::Primary || n.connection_id.is_some_and(|c| covered.contains(&c)) {
            continue;
        }
        banners.push(Banner {
            colour: "orange",
            title: "Please look:".into(),
            text: n.text(),
            action: Some(Link { href: "/notifications".into(), label: "Notifications".into() }),
        });
    }
    Ok(banners)
}
