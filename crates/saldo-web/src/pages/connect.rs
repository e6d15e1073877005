//! The connect flow: pick an institution from a searchable list, authorise at the provider (its
//! page, a setup token, or an approval in the bank's app), come back, choose the items to track,
//! Save; they appear at once with their first sync.

use super::{connection_id, done, format, render, Layout, Link, MessagePage, PageError, PageResult, Person, Section};
use crate::Edge;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use chrono::{DateTime, Utc};
use saldo_app::accounts::{self, AccountEdit};
use saldo_app::connections::{self, BrowserOutcome, BrowserTarget, Selection, UserStep};
use saldo_app::ops::{App, OpsError};
use saldo_app::sync::{self, SyncOutcome};
use saldo_connectors::{AuthAnswer, AuthStart};
use saldo_core::ids::ConnectionId;
use saldo_core::item::ItemDecision;
use saldo_store::{AuthorizationProgress, Purpose};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Institutions shown per page of the list.
const PAGE: usize = 60;

pub struct InstitutionRow {
    pub id: String,
    pub name: String,
    pub initials: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "connect.html")]
struct ConnectPage {
    layout: Layout,
    q: String,
    country: String,
    countries: Vec<String>,
    institutions: Vec<InstitutionRow>,
    total: usize,
    more: Option<String>,
    error: Option<String>,
}

async fn connect_page(
    ctx: &App,
    person: &Person,
    query: &HashMap<String, String>,
    error: Option<String>,
) -> PageResult {
    let q = query.get("q").map(|v| v.trim().to_string()).unwrap_or_default();
    let country = query.get("country").map(|v| v.trim().to_ascii_uppercase()).unwrap_or_default();
    let shown: usize = query.get("shown").and_then(|v| v.parse().ok()).unwrap_or(PAGE).clamp(PAGE, 5000);
    let everything = connections::institutions(ctx, None).await?;
    let countries: BTreeSet<String> = everything.iter().filter_map(|i| i.country.clone()).collect();
    let matching = connections::institutions(ctx, Some(&q).filter(|q| !q.is_empty()).map(String::as_str)).await?;
    let matching: Vec<_> =
        matching.iter().filter(|i| country.is_empty() || i.country.as_deref() == Some(country.as_str())).collect();
    let institutions = matching
        .iter()
        .take(shown)
        .map(|i| InstitutionRow {
            id: i.id.to_string(),
            name: i.name.clone(),
            initials: format::initials(&i.name),
            detail: [i.country.clone(), Some(i.description.clone()).filter(|d| !d.is_empty())]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · "),
        })
        .collect();
    let more = (matching.len() > shown).then(|| {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        pairs.append_pair("q", &q).append_pair("country", &country).append_pair("shown", &(shown + PAGE).to_string());
        format!("/connect?{}", pairs.finish())
    });
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = ConnectPage {
        layout: Layout::signed(ctx, person, "Connect account", Section::Assets).await,
        q,
        country,
        countries: countries.into_iter().collect(),
        total: matching.len(),
        institutions,
        more,
        error,
    };
    Ok(render(status, &page))
}

/// `GET /connect?q=&country=`: the institutions to choose from.
pub async fn institutions(
    State(ctx): State<App>,
    person: Person,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult {
    connect_page(&ctx, &person, &query, None).await
}

#[derive(Deserialize)]
pub struct StartForm {
    pub institution: String,
}

#[derive(Template)]
#[template(path = "token.html")]
struct TokenPage {
    layout: Layout,
    institution: String,
    institution_id: String,
    instructions: String,
    error: Option<String>,
}

/// The form for a provider's setup token, with its instructions and what went wrong, if anything.
async fn token_page(
    ctx: &App,
    person: &Person,
    pending: &connections::PendingAuthorization,
    institution_id: &str,
    error: Option<String>,
) -> Response {
    let name = &pending.institution.name;
    let instructions = match &pending.start {
        Some(AuthStart::SetupToken { instructions }) => instructions.clone(),
        _ => format!("{name} needs a setup token."),
    };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = TokenPage {
        layout: Layout::signed(ctx, person, format!("Connect {name}"), Section::Assets).await,
        institution: name.clone(),
        institution_id: institution_id.to_string(),
        instructions,
        error,
    };
    render(status, &page)
}

/// `POST /connect`: begins the authorisation and sends the browser where the person answers.
pub async fn start(
    State(ctx): State<App>,
    Extension(edge): Extension<Arc<Edge>>,
    person: Person,
    Form(form): Form<StartForm>,
) -> PageResult {
    let actor = person.actor();
    let target = BrowserTarget::ConnectChoosing(&form.institution);
    let begun = match connections::begin_authorization(&ctx, actor, target, &edge.base_url).await {
        Ok(begun) => begun,
        Err(OpsError::NotByRedirect { .. }) => {
            // A provider that connects with a setup token: ask for it.
            let pending = connections::begin_connect(&ctx, actor, &form.institution).await?;
            return Ok(token_page(&ctx, &person, &pending, &form.institution, None).await);
        }
        Err(err @ OpsError::Invalid(_)) => {
            let query = HashMap::new();
            return connect_page(&ctx, &person, &query, Some(err.to_string())).await;
        }
        Err(err) => return Err(err.into()),
    };
    match &begun.step {
        UserStep::OpenPage(url) => Ok(Redirect::to(url).into_response()),
        UserStep::ApproveInBankApp(message) => {
            let page = WaitPage {
                layout: Layout::signed(&ctx, &person, "Approve in your bank's app", Section::Assets).await,
                state: begun.state.clone(),
                institution: begun.institution.name.clone(),
                message: message.clone(),
                failed: None,
            };
            Ok(render(StatusCode::OK, &page))
        }
    }
}

#[derive(Deserialize)]
pub struct TokenForm {
    pub institution: String,
    pub setup_token: String,
}

/// `POST /connect/token`: connects a provider with the setup token the person pasted.
pub async fn with_token(State(ctx): State<App>, person: Person, Form(form): Form<TokenForm>) -> PageResult {
    let actor = person.actor();
    let pending = connections::begin_connect(&ctx, actor, &form.institution).await?;
    let answer = AuthAnswer::SetupToken { token: form.setup_token.trim().to_string() };
    match connections::complete_connect(&ctx, actor, &pending, &answer).await {
        Ok((connection, _)) => Ok(Redirect::to(&format!("/connections/{connection}/choose")).into_response()),
        Err(err @ OpsError::Invalid(_)) => {
            Ok(token_page(&ctx, &person, &pending, &form.institution, Some(err.to_string())).await)
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Template)]
#[template(path = "wait.html")]
struct WaitPage {
    layout: Layout,
    state: String,
    institution: String,
    message: String,
    failed: Option<String>,
}

/// `GET /connect/wait/{state}`: waits for an approval in the bank's app; moves on when it is done.
pub async fn wait(State(ctx): State<App>, person: Person, headers: HeaderMap, Path(state): Path<String>) -> PageResult {
    let (auth, progress) = connections::authorization_status(&ctx, person.actor(), &state).await?;
    let failed = match progress {
        AuthorizationProgress::Done => {
            let target = format!("/connections/{}/choose", auth.connection_id);
            // htmx's request would follow a redirect unseen; it is told where to go instead.
            if headers.contains_key("hx-request") {
                return Ok(([("hx-redirect", target)], StatusCode::OK).into_response());
            }
            return Ok(Redirect::to(&target).into_response());
        }
        AuthorizationProgress::Failed(error) => Some(error),
        AuthorizationProgress::Waiting | AuthorizationProgress::Completing => None,
    };
    let institution = ctx.db.institution(auth.institution_id).await.map_err(OpsError::from)?;
    let name = institution.map(|i| i.name).unwrap_or_default();
    let page = WaitPage {
        layout: Layout::signed(&ctx, &person, "Approve in your bank's app", Section::Assets).await,
        state,
        message: format!("approve saldo's read-only access in the {name} app on your phone."),
        institution: name,
        failed,
    };
    Ok(render(StatusCode::OK, &page))
}

pub struct ChoiceRow {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub number: String,
    pub value: String,
    pub checked: bool,
    pub is_new: bool,
}

#[derive(Template)]
#[template(path = "choose.html")]
struct ChoosePage {
    layout: Layout,
    connection_id: String,
    institution: String,
    items: Vec<ChoiceRow>,
}

/// `GET /connections/{id}/choose`: what the provider shows, to choose what saldo tracks. New
/// items come ticked; ones the person chose not to track do not.
pub async fn choose_page(State(ctx): State<App>, person: Person, Path(id): Path<String>) -> PageResult {
    let actor = person.actor();
    let view = connections::connection_view(&ctx, actor, connection_id(&id)?).await?;
    let items = connections::items(&ctx, actor, view.connection.id).await?;
    let rows = items
        .iter()
        .filter(|i| i.vanished_at.is_none())
        .map(|item| {
            let json = crate::api::ItemJson::new(item);
            let number = json.iban.clone().or(json.masked_number.clone()).map(|n| mask(&n)).unwrap_or_default();
            let liability = item.kind.class() == saldo_core::account::AccountClass::Liability;
            let value = json.current_value.as_deref().map_or("—".into(), |v| {
                match saldo_core::money::Money::parse(v, item.currency) {
                    Ok(amount) if liability => format!("owed {}", format::owed(amount)),
                    Ok(amount) => format::money(amount),
                    Err(_) => v.to_string(),
                }
            });
            ChoiceRow {
                id: item.id.to_string(),
                name: item.name.clone(),
                kind: format::kind_one(item.kind),
                number,
                value,
                checked: item.decision != ItemDecision::Ignored,
                is_new: item.decision == ItemDecision::Offered,
            }
        })
        .collect();
    let title = format!("Choose what to track at {}", view.institution.name);
    let page = ChoosePage {
        layout: Layout::signed(&ctx, &person, title, Section::Providers).await,
        connection_id: view.connection.id.to_string(),
        institution: view.institution.name.clone(),
        items: rows,
    };
    Ok(render(StatusCode::OK, &page))
}

/// An account number with all but its last four characters hidden.
fn mask(number: &str) -> String {
    let compact: Vec<char> = number.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.len() <= 4 {
        return compact.into_iter().collect();
    }
    let tail: String = compact[compact.len() - 4..].iter().collect();
    format!("•••• {tail}")
}

/// `POST /connections/{id}/choose` with `track=<item id>` per ticked item: tracks those, stops
/// tracking the rest, and starts their first sync, whose progress the next page follows.
pub async fn choose(
    State(ctx): State<App>,
    Extension(first_syncs): Extension<Arc<FirstSyncs>>,
    person: Person,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    let actor = person.actor();
    let connection = connection_id(&id)?;
    // Before anything is tracked: the scheduler may take the first sync as soon as it is.
    let since = ctx.clock.now();
    let ticked: BTreeSet<String> = form.into_iter().filter(|(k, _)| k == "track").map(|(_, v)| v).collect();
    let items = connections::items(&ctx, actor, connection).await?;
    let to_track: Vec<String> = items
        .iter()
        .filter(|i| ticked.contains(&i.id.to_string()) && i.decision != ItemDecision::Tracked)
        .map(|i| i.id.to_string())
        .collect();
    for item in items.iter().filter(|i| !ticked.contains(&i.id.to_string()) && i.decision == ItemDecision::Tracked) {
        if let Some(account) = item.account_id {
            let edit = AccountEdit { tracked: Some(false), ..Default::default() };
            accounts::edit_account(&ctx, actor, &account.to_string(), edit).await?;
        }
    }
    if !to_track.is_empty() {
        connections::track(&ctx, actor, connection, &Selection::Items(to_track)).await?;
    }
    let tracked = ticked.len();
    if tracked == 0 {
        return Ok(done("/portfolio/assets", "Nothing is tracked at this connection."));
    }
    // The first sync runs on after this answer: the accounts show at once, their values as it
    // brings them, and the page follows its progress.
    let (ctx, actor) = (ctx.clone(), actor.clone());
    let report = Arc::clone(&first_syncs);
    tokio::spawn(async move {
        match sync::sync_now(&ctx, &actor, connection, &saldo_app::worker::worker_id()).await {
            Ok(done) => report.finished(connection, sync_words(&done.outcome, &done.institution)),
            // The scheduler took it first: its run is recorded, and the page finds it there.
            Err(err) => tracing::debug!(%connection, error = %err, "the first sync from the item choice did not start"),
        }
    });
    let mut pairs = url::form_urlencoded::Serializer::new(String::new());
    pairs
        .append_pair("updating", &connection.to_string())
        .append_pair("since", &since.to_rfc3339())
        .append_pair("done", &format!("Tracking {tracked} account{}.", if tracked == 1 { "" } else { "s" }));
    Ok(Redirect::to(&format!("/portfolio/assets?{}", pairs.finish())).into_response())
}

/// The first syncs this process started from the item choice, by connection: what each did, for
/// the page that follows it (a refused sync records no run to find).
#[derive(Default)]
pub struct FirstSyncs {
    finished: std::sync::Mutex<HashMap<ConnectionId, String>>,
}

impl FirstSyncs {
    fn finished(&self, connection: ConnectionId, words: String) {
        let mut finished = self.finished.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Only the latest few matter: a page asks within moments.
        if finished.len() > 1000 {
            finished.clear();
        }
        finished.insert(connection, words);
    }

    fn take(&self, connection: ConnectionId) -> Option<String> {
        self.finished.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&connection)
    }
}

/// Where a first sync has got to, for the page after the item choice.
pub(crate) enum FirstSync {
    Running(ProgressNotice),
    /// What it did.
    Finished(String),
}

/// Follows the first sync of connection `id` begun at `since` (RFC 3339, as the page's address
/// carries them): running until this process saw it end or a run since then is recorded.
pub(crate) async fn follow_first_sync(
    ctx: &App,
    actor: &saldo_app::ops::Actor,
    first_syncs: &FirstSyncs,
    id: &str,
    since: &str,
) -> Result<FirstSync, OpsError> {
    let connection = connection_id(id)?;
    let since = DateTime::parse_from_rfc3339(since)
        .map_err(|_| OpsError::InvalidField { field: "since".into(), message: "a time (RFC 3339)".into() })?
        .with_timezone(&Utc);
    let institution = connections::connection_view(ctx, actor, connection).await?.institution.name;
    if let Some(words) = first_syncs.take(connection) {
        return Ok(FirstSync::Finished(words));
    }
    let runs = connections::sync_runs(ctx, actor, connection, 5).await?;
    if let Some(run) = runs.iter().find(|run| run.started_at >= since) {
        return Ok(FirstSync::Finished(match &run.failure {
            None => new_transactions_words(&institution, run.transactions_new),
            Some(failure) => failure.kind.user_message(&institution),
        }));
    }
    let since: String = url::form_urlencoded::byte_serialize(since.to_rfc3339().as_bytes()).collect();
    let href = format!("/connections/{connection}/progress?since={since}");
    Ok(FirstSync::Running(ProgressNotice { href, institution }))
}

/// The notice that follows a first sync.
#[derive(Template)]
#[template(path = "progress.html")]
pub(crate) struct ProgressNotice {
    pub href: String,
    pub institution: String,
}

/// `GET /connections/{id}/progress?since=…`: the notice while the first sync runs; once it is
/// done, the assets page again with what it did (htmx is told to go there).
pub async fn progress(
    State(ctx): State<App>,
    Extension(first_syncs): Extension<Arc<FirstSyncs>>,
    person: Person,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult {
    let since = query.get("since").map_or("", String::as_str);
    match follow_first_sync(&ctx, person.actor(), &first_syncs, &id, since).await? {
        FirstSync::Finished(words) => {
            let target = super::done_path("/portfolio/assets", &words);
            if headers.contains_key("hx-request") {
                return Ok(([("hx-redirect", target)], StatusCode::OK).into_response());
            }
            Ok(Redirect::to(&target).into_response())
        }
        FirstSync::Running(notice) => Ok(render(StatusCode::OK, &notice)),
    }
}

/// A sync that went well, in a sentence.
fn new_transactions_words(institution: &str, count: u64) -> String {
    format!("Updated from {institution}: {count} new transaction{}.", if count == 1 { "" } else { "s" })
}

/// A first or forced sync's outcome in a sentence.
pub(crate) fn sync_words(outcome: &SyncOutcome, institution: &str) -> String {
    match outcome {
        SyncOutcome::Ok { new_transactions, .. } => new_transactions_words(institution, *new_transactions),
        SyncOutcome::Failed(kind) => kind.user_message(institution),
        SyncOutcome::Refused { reason, .. } => format!("The update waits: {reason}."),
        SyncOutcome::LeaseLost => "An update is already running; it finishes by itself.".into(),
    }
}

pub struct CallbackItem {
    pub name: String,
    pub kind: &'static str,
    pub value: String,
    pub decision: &'static str,
}

#[derive(Template)]
#[template(path = "callback.html")]
struct CallbackPage {
    layout: Layout,
    sync: String,
    connection_id: String,
    items: Vec<CallbackItem>,
}

/// What the browser sees when the provider sent it back: the items to choose from (a connect
/// begun in the web app), or what the connect or reconnect did.
pub(crate) fn callback_page(outcome: Result<BrowserOutcome, OpsError>) -> Response {
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(err @ OpsError::Store(_)) => return PageError::Ops(err).into_response(),
        Err(err) => {
            let page = MessagePage {
                layout: Layout::public("Not connected"),
                paragraphs: vec![err.to_string(), "Nothing was changed.".into()],
                links: vec![
                    Link { href: "/connect".into(), label: "Try again".into() },
                    Link { href: "/".into(), label: "Back to saldo".into() },
                ],
            };
            return super::render(StatusCode::BAD_REQUEST, &page);
        }
    };
    if outcome.purpose == Purpose::ConnectChoosing {
        return Redirect::to(&format!("/connections/{}/choose", outcome.connection_id)).into_response();
    }
    let name = &outcome.institution.name;
    let title = match outcome.purpose {
        Purpose::Reconnect => format!("Reconnected {name}"),
        _ => format!("Connected {name}"),
    };
    let sync = match &outcome.sync {
        Some(SyncOutcome::Ok { new_transactions, .. }) => {
            format!("First update done: {new_transactions} transaction(s).")
        }
        Some(other) => sync_words(other, name),
        None => "Choose the accounts to track.".into(),
    };
    let items = outcome
        .items
        .iter()
        .map(|item| {
            let json = crate::api::ItemJson::new(item);
            CallbackItem {
                name: json.name.clone(),
                kind: format::kind_one(item.kind),
                value: json.current_value.as_deref().map_or(String::new(), |v| format!("{v} {}", json.currency)),
                decision: json.decision,
            }
        })
        .collect();
    let page =
        CallbackPage { layout: Layout::public(title), sync, connection_id: outcome.connection_id.to_string(), items };
    render(StatusCode::OK, &page)
}
