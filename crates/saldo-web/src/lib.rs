//! saldo's web front end: health and readiness probes, the JSON API under `/api/v1`, the browser
//! side of connecting (`/callback/{connector}`, where providers send the user back) and the sandbox
//! bank's consent page. Handlers only translate: a request into a use case of `saldo-app`, its
//! answer or typed error into JSON (`{"error": {"code", "message"}}`) or a page.

pub mod api;

use crate::api::{AccountJson, ConnectionJson, ErrorBodyJson, ErrorJson, ItemJson, NetWorthJson};
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use saldo_app::connections::{self, BrowserTarget};
use saldo_app::networth::NetWorthQuery;
use saldo_app::ops::{self, Actor, App, OpsError};
use saldo_app::sync::SyncOutcome;
use saldo_core::money::Currency;
use saldo_store::Purpose;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use tokio::net::TcpListener;

pub fn router(ctx: App) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/networth", get(networth))
        .route("/api/v1/accounts", get(accounts))
        .route("/api/v1/connections", get(list_connections).post(start_connect))
        .route("/api/v1/connections/{id}/reconnect", post(start_reconnect))
        .route("/api/v1/imports", post(import_file).layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES)))
        .route("/callback/{connector}", get(callback))
        .route("/sandbox/consent", get(sandbox_consent))
        .fallback(not_found)
        .with_state(ctx)
}

/// The largest statement file the API takes: decades of a busy account fit many times over.
const MAX_UPLOAD_BYTES: usize = 256 * 1024 * 1024;

/// Uploads one statement file (the request body) and imports it as `saldo import` does. Query:
/// `filename` (helps detection), `format` (auto, ofx, camt, mt940, csv), `account` (id or name),
/// `kind` and `currency` (for a new account that the file doesn't describe), `amount_column` (the
/// CSV column, from 1, holding the amounts), `dry_run=true`, `accept_truncated=true` (import what a
/// cut-off file holds, instead of refusing it), `skip_unreadable=true`. Answers the file's
/// report as `{"files": [report]}`: 200 when it was imported (or checked), 422 when nothing of it
/// was (the report's `error` says why).
async fn import_file(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    Query(params): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let mut request = saldo_app::import::ImportRequest::default();
    let mut name = "upload".to_string();
    for (key, value) in &params {
        match key.as_str() {
            "filename" => name = value.clone(),
            "format" if value.eq_ignore_ascii_case("auto") => request.format = None,
            "format" => {
                request.format = Some(saldo_import::Format::parse(value).ok_or_else(|| {
                    OpsError::Invalid(format!("unknown format {value:?}: expected auto, ofx, camt, mt940 or csv"))
                })?)
            }
            "account" => request.account = Some(value.clone()),
            "kind" => {
                request.kind = Some(
                    value
                        .parse()
                        .map_err(|err: saldo_core::account::UnknownKind| OpsError::Invalid(err.to_string()))?,
                )
            }
            "currency" => {
                request.currency = Some(saldo_core::money::Currency::parse(value).map_err(|_| {
                    OpsError::Invalid(format!("invalid currency {value:?}: expected an ISO 4217 code such as EUR"))
                })?)
            }
            "amount_column" => {
                request.amount_column = Some(value.parse().ok().filter(|&n: &usize| n > 0).ok_or_else(|| {
                    OpsError::Invalid(format!("invalid amount_column {value:?}: expected a column number from 1"))
                })?)
            }
            "dry_run" => {
                request.dry_run = value
                    .parse()
                    .map_err(|_| OpsError::Invalid(format!("invalid dry_run {value:?}: expected true or false")))?
            }
            "skip_unreadable" => {
                request.skip_unreadable = value.parse().map_err(|_| {
                    OpsError::Invalid(format!("invalid skip_unreadable {value:?}: expected true or false"))
                })?
            }
            "accept_truncated" => {
                request.accept_truncated = value.parse().map_err(|_| {
                    OpsError::Invalid(format!("invalid accept_truncated {value:?}: expected true or false"))
                })?
            }
            other => return Err(OpsError::Invalid(format!("unknown query parameter {other:?}")).into()),
        }
    }
    if body.is_empty() {
        return Err(OpsError::Invalid("the request body is empty: send the statement file as the body".into()).into());
    }
    let report = saldo_app::import::import_bytes(&ctx, &actor, &name, body, &request).await;
    if report.busy {
        return Ok(busy());
    }
    let status = if report.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, Json(serde_json::json!({ "files": [report] }))).into_response())
}

/// Serves on an already-bound listener until `shutdown` resolves, then finishes requests under way.
pub async fn serve(
    ctx: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(ctx).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok\n"
}

/// The process can serve: its database is this build's schema, and each table answers a read.
async fn readyz(State(ctx): State<App>) -> Response {
    match ctx.db.ready().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {err}\n")).into_response()
        }
    }
}

async fn not_found() -> Response {
    ApiError(OpsError::NotFound("no such endpoint".into())).into_response()
}

/// Query: `date`, `currency`, `history=true`, `from`, `to`, as for `saldo networth`.
async fn networth(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<NetWorthJson>, ApiError> {
    let mut query = NetWorthQuery::default();
    for (key, value) in &params {
        match key.as_str() {
            "date" => query.date = Some(ops::parse_date(value, "date")?),
            "from" => query.from = Some(ops::parse_date(value, "from")?),
            "to" => query.to = Some(ops::parse_date(value, "to")?),
            "currency" => {
                query.currency = Some(Currency::parse(value).map_err(|err| OpsError::Invalid(err.to_string()))?)
            }
            "history" => {
                query.history = value
                    .parse()
                    .map_err(|_| OpsError::Invalid(format!("invalid history {value:?}: expected true or false")))?
            }
            other => return Err(OpsError::Invalid(format!("unknown query parameter {other:?}")).into()),
        }
    }
    let report = saldo_app::networth::net_worth(&ctx, &actor, &query).await?;
    Ok(Json(NetWorthJson::new(&report)))
}

async fn accounts(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
) -> Result<Json<Vec<AccountJson>>, ApiError> {
    let accounts = saldo_app::accounts::accounts_with_balances(&ctx, &actor, ctx.clock.today()).await?;
    Ok(Json(accounts.iter().map(|a| AccountJson::new(&a.account, Some(a))).collect()))
}

async fn list_connections(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
) -> Result<Json<Vec<ConnectionJson>>, ApiError> {
    let views = connections::connection_views(&ctx, &actor).await?;
    Ok(Json(views.iter().map(ConnectionJson::new).collect()))
}

#[derive(serde::Deserialize)]
struct ConnectRequest {
    institution: String,
}

/// The actor of a request: the installation's user (until sign-in exists), at the client's
/// address.
struct RequestActor(Actor);

impl FromRequestParts<App> for RequestActor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<RequestActor, ApiError> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
        let user = app.local_user().await?;
        Ok(RequestActor(Actor { user, address: client_address(peer, &parts.headers) }))
    }
}

/// The address the request came from: the peer's, or, when the request came through a reverse
/// proxy on this machine, the address that proxy saw.
fn client_address(peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
    let peer = peer?.ip().to_canonical();
    // The proxy appends the address it saw to whatever the client sent: only the last entry is
    // the proxy's word; the ones before it are the client's, and anyone can write those.
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse::<IpAddr>().ok());
    match forwarded {
        Some(client) if peer.is_loopback() => Some(client.to_canonical()),
        _ => Some(peer),
    }
}

/// Where providers send the browser back: the configured public URL, else the address this
/// request reached.
fn base_url(ctx: &App, headers: &HeaderMap) -> String {
    if let Some(public) = &ctx.settings.public_url {
        return public.clone();
    }
    match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) => format!("http://{host}"),
        None => ctx.settings.callback_base.clone(),
    }
}

/// Body `{"institution": …}` (id, provider id or name): starts connecting it; the answer's
/// `authorization_url` is the page to open in the browser.
async fn start_connect(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    body: Result<Json<ConnectRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let Json(request) = body.map_err(|err| OpsError::Invalid(format!("expected {{\"institution\": …}}: {err}")))?;
    let target = BrowserTarget::Connect(&request.institution);
    let auth = connections::begin_browser_authorization(&ctx, &actor, target, &base_url(&ctx, &headers)).await?;
    Ok((StatusCode::CREATED, Json(api::authorization_json(&auth))))
}

/// Starts renewing a connection's consent (after an error, or early while it still works).
async fn start_reconnect(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let target = BrowserTarget::Reconnect(connections::parse_connection_id(&id)?);
    let auth = connections::begin_browser_authorization(&ctx, &actor, target, &base_url(&ctx, &headers)).await?;
    Ok((StatusCode::CREATED, Json(api::authorization_json(&auth))))
}

/// A small HTML page in the product's voice.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · saldo</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}\
         td{{padding:.2rem .8rem .2rem 0}}</style></head><body><h1>{title}</h1>{body}</body></html>\n",
        title = escape(title)
    );
    (status, Html(html)).into_response()
}

/// Where a provider sends the user back after they answered: finishes the connect or reconnect and
/// shows what was found.
async fn callback(
    State(ctx): State<App>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Path(connector): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let peer = peer.map(|Extension(ConnectInfo(peer))| peer);
    let outcome = match ctx.local_user().await {
        Ok(user) => {
            let actor = Actor { user, address: client_address(peer, &headers) };
            connections::complete_browser_authorization(&ctx, &actor, &connector, params).await
        }
        Err(err) => Err(err),
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(err @ OpsError::Store(_)) => {
            tracing::error!(error = %err, connector, "callback failed");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "<p>The server log has the details.</p>",
            );
        }
        Err(err) => {
            let body = format!("<p>{}</p><p>Nothing was changed.</p>", escape(&err.to_string()));
            return page(StatusCode::BAD_REQUEST, "Not connected", &body);
        }
    };
    let rows: String = outcome
        .items
        .iter()
        .map(|item| {
            let json = ItemJson::new(item);
            let value = json.current_value.as_deref().map_or(String::new(), |v| format!("{v} {}", json.currency));
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&json.name),
                escape(json.kind),
                escape(&value),
                escape(json.decision)
            )
        })
        .collect();
    let sync = match &outcome.sync {
        SyncOutcome::Ok { new_transactions, .. } => format!("First update done: {new_transactions} transaction(s)."),
        SyncOutcome::Failed(kind) => kind.user_message(&outcome.institution.name),
        SyncOutcome::Refused(reason) => format!("The first update waits: {reason}."),
        SyncOutcome::LeaseLost => "The first update is running elsewhere.".into(),
    };
    let title = match outcome.purpose {
        Purpose::Connect => format!("Connected {}", outcome.institution.name),
        Purpose::Reconnect => format!("Reconnected {}", outcome.institution.name),
    };
    let body = format!(
        "<p>{}</p><table><tr><th>Item</th><th>Kind</th><th>Value</th><th>Tracked</th></tr>{rows}</table>\
         <p>Connection <code>{}</code>. Change what is tracked with <code>saldo track</code>.</p>",
        escape(&sync),
        outcome.connection_id
    );
    page(StatusCode::OK, &title, &body)
}

/// The sandbox bank's consent page for a waiting authorisation (`?state=…`).
async fn sandbox_consent(State(ctx): State<App>, Query(params): Query<HashMap<String, String>>) -> Response {
    if ctx.connectors.get("sandbox").is_none() {
        return page(StatusCode::NOT_FOUND, "No sandbox bank", "<p>The sandbox is turned off on this server.</p>");
    }
    let Some(state) = params.get("state") else {
        return page(StatusCode::BAD_REQUEST, "Incomplete request", "<p>The link carries no <code>state</code>.</p>");
    };
    match connections::waiting_authorization(&ctx, state).await {
        Ok((auth, institution)) if institution.connector == "sandbox" => {
            Html(saldo_connectors::sandbox::consent_page(&institution, &auth.state, &auth.redirect_url)).into_response()
        }
        Ok(_) => page(StatusCode::NOT_FOUND, "Unknown request", "<p>This request is not for the sandbox bank.</p>"),
        Err(err) => page(StatusCode::NOT_FOUND, "Unknown request", &format!("<p>{}</p>", escape(&err.to_string()))),
    }
}

/// A use case's error as an HTTP response: the request's fault is a 4xx with its message; anything
/// else is logged with its cause and answered with a plain 500.
pub struct ApiError(OpsError);

impl From<OpsError> for ApiError {
    fn from(err: OpsError) -> ApiError {
        ApiError(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let OpsError::Store(err) = &self.0 {
            if err.is_busy() {
                return busy();
            }
        }
        let status = match &self.0 {
            OpsError::Invalid(_) => StatusCode::BAD_REQUEST,
            OpsError::NotFound(_) | OpsError::Missing(_) => StatusCode::NOT_FOUND,
            OpsError::Range(_) | OpsError::NotByRedirect { .. } => StatusCode::BAD_REQUEST,
            OpsError::MissingRate(_) => StatusCode::UNPROCESSABLE_ENTITY,
            OpsError::Store(_) | OpsError::Secret(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let code = match &self.0 {
            OpsError::Invalid(_) => "invalid_request",
            OpsError::NotFound(_) | OpsError::Missing(_) => "not_found",
            OpsError::Range(_) => "invalid_range",
            OpsError::NotByRedirect { .. } => "not_by_redirect",
            OpsError::MissingRate(_) => "missing_rate",
            OpsError::Store(_) | OpsError::Secret(_) => "internal",
        };
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self.0, "request failed");
            "internal error; the server log has the details".to_string()
        } else {
            self.0.to_string()
        };
        (status, Json(ErrorJson { error: ErrorBodyJson { code, message } })).into_response()
    }
}

/// The answer when another process held the database's write lock too long: a server state, not
/// the client's fault, so 503 and when to try again.
fn busy() -> Response {
    let message = "the database is busy with another write (an import, say); try again in a few seconds".to_string();
    let body = Json(ErrorJson { error: ErrorBodyJson { code: "busy", message } });
    (StatusCode::SERVICE_UNAVAILABLE, [(axum::http::header::RETRY_AFTER, "5")], body).into_response()
}

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_quoted_attribute(text)
}
