//! Settings › Providers & Integrations: every connection with its colour, what it says and what
//! to do, its dates and sync history; Sync now, Reconnect (or Renew), Disconnect.

use super::connect::sync_words;
use super::{connection_id, done, format, render, Layout, PageResult, Person, Section};
use crate::Edge;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::{Extension, Form};
use saldo_app::connections::{self, BrowserTarget, ConnectionView, UserStep};
use saldo_app::ops::{App, OpsError};
use saldo_app::sync;
use saldo_core::failure::Colour;
use saldo_core::sync::Status;
use saldo_store::KeptAccounts;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

/// Days before a consent ends from which saldo offers to renew it.
const RENEW_WITHIN_DAYS: i64 = 14;

pub struct RunRow {
    pub started: (String, String),
    pub trigger: &'static str,
    pub outcome: String,
    pub new_transactions: u64,
    pub balances: u64,
}

pub struct ConnectionCard {
    pub id: String,
    pub institution: String,
    pub initials: String,
    pub colour: &'static str,
    pub status_label: &'static str,
    pub message: String,
    pub since: Option<(String, String)>,
    pub last_success: Option<(String, String)>,
    pub next_sync: Option<(String, String)>,
    pub consent: Option<String>,
    pub renew: bool,
    pub sync_note: Option<String>,
    pub runs: Vec<RunRow>,
}

#[derive(Template)]
#[template(path = "providers.html")]
struct ProvidersPage {
    layout: Layout,
    connections: Vec<ConnectionCard>,
}

fn card(ctx: &App, view: &ConnectionView, runs: Vec<saldo_store::SyncRun>, note: Option<String>) -> ConnectionCard {
    let now = ctx.clock.now();
    let days_left = view.consent_expires_at.map(|end| (end - now).num_days());
    let consent = view.consent_expires_at.map(|end| {
        let left = (end - now).num_days();
        let words = match left {
            d if d < 0 => "ended".to_string(),
            0 => "ends today".to_string(),
            1 => "1 day left".to_string(),
            d => format!("{d} days left"),
        };
        format!("{} ({words})", format::day(end.date_naive()))
    });
    let status_label = match (view.colour, view.status) {
        (_, Status::Syncing) => "Updating now",
        _ if view.outage => "Outage at the bank: saldo retries",
        (Colour::Green, _) => "Up to date",
        (Colour::Orange, _) => "Temporary problem: saldo retries",
        (Colour::Red, _) => "Needs you",
    };
    ConnectionCard {
        id: view.connection.id.to_string(),
        institution: view.institution.name.clone(),
        initials: format::initials(&view.institution.name),
        colour: view.colour.as_str(),
        status_label,
        message: view.message.clone(),
        since: view.episode.as_ref().map(|e| format::moment(e.since)),
        last_success: view.last_success_at.map(format::moment),
        next_sync: view.next_sync_at.map(format::moment),
        consent,
        // An ended consent is reconnected, not renewed.
        renew: view.colour != Colour::Red && days_left.is_some_and(|d| (0..=RENEW_WITHIN_DAYS).contains(&d)),
        sync_note: note,
        runs: runs
            .into_iter()
            .map(|run| RunRow {
                started: format::moment(run.started_at),
                trigger: if run.trigger == "user" { "you" } else { "schedule" },
                outcome: match &run.failure {
                    Some(failure) => format!("{}: {}", run.outcome, failure.kind.user_message(&view.institution.name)),
                    None => run.outcome.clone(),
                },
                new_transactions: run.transactions_new,
                balances: run.balance_points,
            })
            .collect(),
    }
}

/// `GET /settings/providers`: red ones first, then orange, then the rest.
pub async fn providers(
    State(ctx): State<App>,
    person: Person,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult {
    let actor = person.actor();
    let mut views = connections::connection_views(&ctx, actor).await?;
    views.sort_by_key(|v| (v.colour != Colour::Red, v.colour != Colour::Orange, v.institution.name.to_lowercase()));
    let mut cards = Vec::new();
    for view in &views {
        let runs = connections::sync_runs(&ctx, actor, view.connection.id, 10).await?;
        let note =
            query.get("synced").filter(|id| **id == view.connection.id.to_string()).and(query.get("done")).cloned();
        cards.push(card(&ctx, view, runs, note));
    }
    let flash = if query.contains_key("synced") { None } else { query.get("done").cloned() };
    let layout = Layout::signed(&ctx, &person, "Providers & Integrations", Section::Providers).await.with_flash(flash);
    Ok(render(StatusCode::OK, &ProvidersPage { layout, connections: cards }))
}

/// `POST /connections/{id}/sync`: a sync now, within the provider's budget; the card says how it went.
pub async fn sync(State(ctx): State<App>, person: Person, Path(id): Path<String>) -> PageResult {
    let connection = connection_id(&id)?;
    let back = format!("/settings/providers?synced={connection}#connection-{connection}");
    let report = match sync::sync_now(&ctx, person.actor(), connection, &saldo_app::worker::worker_id()).await {
        Ok(report) => report,
        // Already syncing, or nothing tracked: the card says why nothing started.
        Err(OpsError::Invalid(why)) => return Ok(done(&back, &why)),
        Err(err) => return Err(err.into()),
    };
    let words = match &report.outcome {
        sync::SyncOutcome::Refused { reason, until: Some(until) } => {
            format!("Not now: {reason}. The next update is possible {}.", format::moment(*until).1)
        }
        other => sync_words(other, &report.institution),
    };
    Ok(done(&back, &words))
}

/// `POST /connections/{id}/reconnect`: authorise again at the provider; a fresh sync follows.
pub async fn reconnect(
    State(ctx): State<App>,
    Extension(edge): Extension<Arc<Edge>>,
    person: Person,
    Path(id): Path<String>,
) -> PageResult {
    let target = BrowserTarget::Reconnect(connection_id(&id)?);
    let begun = connections::begin_authorization(&ctx, person.actor(), target, &edge.base_url).await?;
    Ok(match &begun.step {
        UserStep::OpenPage(url) => Redirect::to(url).into_response(),
        UserStep::ApproveInBankApp(_) => Redirect::to(&format!("/connect/wait/{}", begun.state)).into_response(),
    })
}

#[derive(Deserialize)]
pub struct DisconnectForm {
    pub keep_history: Option<String>,
}

/// `POST /connections/{id}/disconnect`: revokes saldo's access and keeps or deletes the history.
pub async fn disconnect(
    State(ctx): State<App>,
    person: Person,
    Path(id): Path<String>,
    Form(form): Form<DisconnectForm>,
) -> PageResult {
    let keep = form.keep_history.as_deref() != Some("false");
    let kept = if keep { KeptAccounts::Closed } else { KeptAccounts::None };
    let revoke_failure = connections::disconnect(&ctx, person.actor(), connection_id(&id)?, kept).await?;
    let mut words = if keep {
        "Disconnected. Its accounts stay, closed, with their history.".to_string()
    } else {
        "Disconnected, and its accounts and their history deleted.".to_string()
    };
    if revoke_failure.is_some() {
        words.push_str(" The provider could not be told to end saldo's access: revoke it in its own app as well.");
    }
    Ok(done("/settings/providers", &words))
}
