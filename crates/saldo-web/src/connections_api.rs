//! The API of institutions and connections: the catalog, connecting and reconnecting, a
//! connection's status, items and sync history, syncing now, disconnecting.

use crate::api::{
    AuthorizationJson, AuthorizationStatusJson, ConnectionJson, DecoupledJson, ErrorJson, InstitutionJson, ItemJson,
    SyncReportJson,
};
use crate::auth::RequestActor;
use crate::query::Params;
use crate::{ApiError, Edge, JsonBody};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use saldo_app::connections::{self, BrowserTarget, Selection};
use saldo_app::ops::{App, OpsError};
use saldo_app::sync::{self, SyncOutcome};
use saldo_store::{KeptAccounts, SyncRun};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(institutions))
        .routes(routes!(list_connections, start_connect))
        .routes(routes!(connection, disconnect))
        .routes(routes!(sync_connection))
        .routes(routes!(start_reconnect))
        .routes(routes!(items, track_items))
        .routes(routes!(runs))
        .routes(routes!(authorization))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstitutionPageJson {
    pub institutions: Vec<InstitutionJson>,
    /// The `offset` of the next page, when there is one.
    pub next_offset: Option<usize>,
}

/// Query: `q` (name, id, country or BIC), `country`, `connector`, `offset`, `limit` (at most 500).
#[utoipa::path(get, path = "/api/v1/institutions", tag = "connections", params(("q" = Option<String>, Query, description = "Name, id, country or BIC"), ("country" = Option<String>, Query), ("connector" = Option<String>, Query), ("offset" = Option<u32>, Query), ("limit" = Option<u32>, Query, maximum = 500)), responses((status = 200, body = InstitutionPageJson)))]
async fn institutions(
    State(ctx): State<App>,
    RequestActor(_): RequestActor,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<InstitutionPageJson>, ApiError> {
    let params = Params::new(&params, &["q", "country", "connector", "offset", "limit"])?;
    let limit = params.number("limit", 1, 500)?.unwrap_or(100) as usize;
    let offset = params.number("offset", 0, u32::MAX)?.unwrap_or(0) as usize;
    let country = params.text("country").map(str::to_ascii_uppercase);
    let connector = params.text("connector");
    let all = connections::institutions(&ctx, params.text("q")).await?;
    let matching: Vec<_> = all
        .iter()
        .filter(|i| country.as_deref().is_none_or(|c| i.country.as_deref() == Some(c)))
        .filter(|i| connector.is_none_or(|c| i.connector == c))
        .collect();
    let page: Vec<InstitutionJson> =
        matching.iter().skip(offset).take(limit).map(|i| InstitutionJson::new(i)).collect();
    let next_offset = (offset + page.len() < matching.len()).then_some(offset + page.len());
    Ok(Json(InstitutionPageJson { institutions: page, next_offset }))
}

#[utoipa::path(get, path = "/api/v1/connections", tag = "connections", responses((status = 200, body = Vec<ConnectionJson>)))]
async fn list_connections(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
) -> Result<Json<Vec<ConnectionJson>>, ApiError> {
    let views = connections::connection_views(&ctx, &actor).await?;
    Ok(Json(views.iter().map(ConnectionJson::new).collect()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ConnectRequest {
    /// Id, provider id or name.
    #[serde(alias = "institution_id")]
    institution: String,
    /// For a provider that connects with a setup token (SimpleFIN Bridge): the token it showed.
    setup_token: Option<String>,
}

/// A connect begun, or done.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectJson {
    /// The connection's id (it exists once the authorisation completes).
    pub id: String,
    pub institution: String,
    /// `awaiting_authorization` (open `authorization_url` in the browser), `awaiting_approval`
    /// (approve in the bank's app as `decoupled.message` says; `GET /api/v1/authorizations/{state}`
    /// says when it is done) or `connected` (a setup token's connect: the items are tracked and
    /// the first sync has run).
    pub status: &'static str,
    pub authorization_url: Option<String>,
    pub decoupled: Option<DecoupledJson>,
    pub state: Option<String>,
    pub expires_at: Option<String>,
    /// What was discovered, all tracked, once connected.
    pub items: Vec<ItemJson>,
    /// The first sync, once connected.
    pub sync: Option<SyncReportJson>,
}

/// Body `{"institution": …}` (id, provider id or name): starts connecting it. The answer says
/// what the user does: open `authorization_url` in the browser, or approve in the bank's app. With
/// `setup_token`, connects at once.
#[utoipa::path(post, path = "/api/v1/connections", tag = "connections", request_body = ConnectRequest, responses((status = 201, description = "Open authorization_url in the browser, approve in the bank's app, or connected with a setup token", body = ConnectJson)))]
async fn start_connect(
    State(ctx): State<App>,
    Extension(edge): Extension<Arc<Edge>>,
    RequestActor(actor): RequestActor,
    JsonBody(request): JsonBody<ConnectRequest>,
) -> Result<(StatusCode, Json<ConnectJson>), ApiError> {
    if let Some(token) = request.setup_token {
        let connected = connect_with_setup_token(&ctx, &actor, &request.institution, token).await?;
        return Ok((StatusCode::CREATED, Json(connected)));
    }
    let target = BrowserTarget::Connect(&request.institution);
    let auth = connections::begin_authorization(&ctx, &actor, target, &edge.base_url).await?;
    let begun = AuthorizationJson::new(&auth, &edge.base_url);
    Ok((
        StatusCode::CREATED,
        Json(ConnectJson {
            id: begun.connection_id,
            institution: begun.institution,
            status: begun.status,
            authorization_url: begun.authorization_url,
            decoupled: begun.decoupled,
            state: Some(begun.state),
            expires_at: Some(begun.expires_at),
            items: Vec::new(),
            sync: None,
        }),
    ))
}

/// Where a connect or reconnect begun here has got to: poll it while the user answers at the
/// provider or in the bank's app.
#[utoipa::path(get, path = "/api/v1/authorizations/{state}", tag = "connections", params(("state" = String, Path)), responses((status = 200, body = AuthorizationStatusJson)))]
async fn authorization(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    Path(state): Path<String>,
) -> Result<Json<AuthorizationStatusJson>, ApiError> {
    let (auth, progress) = connections::authorization_status(&ctx, &actor, &state).await?;
    Ok(Json(AuthorizationStatusJson::new(&auth, &progress)))
}

/// Connects with a setup token, tracks every item and runs the first sync, as `saldo connect
/// --setup-token` does.
async fn connect_with_setup_token(
    ctx: &App,
    actor: &saldo_app::ops::Actor,
    institution: &str,
    token: String,
) -> Result<ConnectJson, ApiError> {
    use saldo_connectors::{AuthAnswer, AuthStart};
    let pending = connections::begin_connect(ctx, actor, institution).await?;
    if !matches!(pending.start, Some(AuthStart::SetupToken { .. })) {
        let name = &pending.institution.name;
        let message = format!("{name} does not connect with a setup token: leave setup_token out");
        return Err(OpsError::Invalid(message).into());
    }
    let (id, _) = connections::complete_connect(ctx, actor, &pending, &AuthAnswer::SetupToken { token }).await?;
    connections::track(ctx, actor, id, &Selection::All).await?;
    let report = sync::sync_now(ctx, actor, id, &saldo_app::worker::worker_id()).await?;
    let items = connections::items(ctx, actor, id).await?;
    Ok(ConnectJson {
        id: id.to_string(),
        institution: pending.institution.name.clone(),
        status: "connected",
        authorization_url: None,
        decoupled: None,
        state: None,
        expires_at: None,
        items: item_list(ctx, actor, &items).await?,
        sync: Some(SyncReportJson::new(&report)),
    })
}

/// Starts renewing a connection's consent (after an error, or early while it still works): open
/// `authorization_url`, or approve in the bank's app.
#[utoipa::path(post, path = "/api/v1/connections/{id}/reconnect", tag = "connections", params(("id" = String, Path)), responses((status = 201, body = AuthorizationJson)))]
async fn start_reconnect(
    State(ctx): State<App>,
    Extension(edge): Extension<Arc<Edge>>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<AuthorizationJson>), ApiError> {
    let target = BrowserTarget::Reconnect(connections::parse_connection_id(&id)?);
    let auth = connections::begin_authorization(&ctx, &actor, target, &edge.base_url).await?;
    Ok((StatusCode::CREATED, Json(AuthorizationJson::new(&auth, &edge.base_url))))
}

fn connection_id(id: &str) -> Result<saldo_core::ids::ConnectionId, OpsError> {
    connections::parse_connection_id(id)
        .map_err(|_| OpsError::Missing(saldo_app::ops::Missing::Connection(id.to_string())))
}

#[utoipa::path(get, path = "/api/v1/connections/{id}", tag = "connections", params(("id" = String, Path)), responses((status = 200, body = ConnectionJson)))]
async fn connection(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> Result<Json<ConnectionJson>, ApiError> {
    let view = connections::connection_view(&ctx, &actor, connection_id(&id)?).await?;
    Ok(Json(ConnectionJson::new(&view)))
}

/// Syncs a connection now, as the user: within its daily budget, else 429 with when it may.
#[utoipa::path(post, path = "/api/v1/connections/{id}/sync", tag = "connections", params(("id" = String, Path)), responses((status = 200, body = SyncReportJson), (status = 429, description = "The daily budget is used; Retry-After says when the next is possible", body = ErrorJson)))]
async fn sync_connection(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let report = sync::sync_now(&ctx, &actor, connection_id(&id)?, &saldo_app::worker::worker_id()).await?;
    if let SyncOutcome::Refused { until: Some(until), reason } = &report.outcome {
        let seconds = (*until - ctx.clock.now()).num_seconds().max(1);
        let mut response =
            ApiError::Status(StatusCode::TOO_MANY_REQUESTS, "budget_used", reason.clone()).into_response();
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return Ok(response);
    }
    Ok(Json(SyncReportJson::new(&report)).into_response())
}

/// Query `keep_history=true` (default: its accounts stay, closed, with their history) or
/// `false` (they are deleted with it). The consent is revoked at the provider.
#[utoipa::path(delete, path = "/api/v1/connections/{id}", tag = "connections", params(("id" = String, Path), ("keep_history" = Option<bool>, Query, description = "Keep its accounts, closed (default), or delete them")), responses((status = 204, description = "Disconnected; the consent is revoked at the provider")))]
async fn disconnect(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<StatusCode, ApiError> {
    let params = Params::new(&params, &["keep_history"])?;
    let keep = if params.flag("keep_history")?.unwrap_or(true) { KeptAccounts::Closed } else { KeptAccounts::None };
    connections::disconnect(&ctx, &actor, connection_id(&id)?, keep).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn item_list(
    ctx: &App,
    actor: &saldo_app::ops::Actor,
    items: &[saldo_core::item::Item],
) -> Result<Vec<ItemJson>, ApiError> {
    let links = saldo_app::linking::candidates(ctx, &actor.user, items).await?;
    Ok(items.iter().map(|item| ItemJson::linked(item, links.get(&item.id).map_or(&[][..], Vec::as_slice))).collect())
}

#[utoipa::path(get, path = "/api/v1/connections/{id}/items", tag = "connections", params(("id" = String, Path)), responses((status = 200, body = Vec<ItemJson>)))]
async fn items(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> Result<Json<Vec<ItemJson>>, ApiError> {
    let items = connections::items(&ctx, &actor, connection_id(&id)?).await?;
    Ok(Json(item_list(&ctx, &actor, &items).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TrackRequest {
    /// Items (ids or names) to track; their accounts appear at once.
    #[serde(default)]
    track: Vec<String>,
    /// Track every item on offer.
    #[serde(default)]
    all: bool,
}

/// Tracks items of a connection (`{"track": [ids or names]}` or `{"all": true}`); answers the
/// connection's items. An account is untracked with `PATCH /accounts/{id}` `{"tracked": false}`.
#[utoipa::path(put, path = "/api/v1/connections/{id}/items", tag = "connections", params(("id" = String, Path)), request_body = TrackRequest, responses((status = 200, body = Vec<ItemJson>)))]
async fn track_items(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<TrackRequest>,
) -> Result<Json<Vec<ItemJson>>, ApiError> {
    let selection = match (request.all, request.track.is_empty()) {
        (true, true) => Selection::All,
        (false, false) => Selection::Items(request.track),
        _ => return Err(OpsError::Invalid("give either track (a list of items) or all: true".into()).into()),
    };
    let connection = connection_id(&id)?;
    connections::track(&ctx, &actor, connection, &selection).await?;
    let items = connections::items(&ctx, &actor, connection).await?;
    Ok(Json(item_list(&ctx, &actor, &items).await?))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SyncRunJson {
    pub id: String,
    /// `scheduled` or `user`.
    pub trigger: String,
    pub started_at: String,
    pub finished_at: String,
    /// `ok`, `partial` or `failed`.
    pub outcome: String,
    /// What failed, in the failure taxonomy's words.
    pub error: Option<&'static str>,
    pub new_transactions: u64,
    pub pending_replaced: u64,
    pub balance_points: u64,
}

impl SyncRunJson {
    pub fn new(run: &SyncRun) -> SyncRunJson {
        SyncRunJson {
            id: run.id.to_string(),
            trigger: run.trigger.clone(),
            started_at: run.started_at.to_rfc3339(),
            finished_at: run.finished_at.to_rfc3339(),
            outcome: run.outcome.clone(),
            error: run.failure.as_ref().map(|f| f.kind.as_str()),
            new_transactions: run.transactions_new,
            pending_replaced: run.pending_replaced,
            balance_points: run.balance_points,
        }
    }
}

/// Query `limit` (1 to 500, default 50): the newest runs first.
#[utoipa::path(get, path = "/api/v1/connections/{id}/runs", tag = "connections", params(("id" = String, Path), ("limit" = Option<u32>, Query, maximum = 500)), responses((status = 200, body = Vec<SyncRunJson>)))]
async fn runs(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Vec<SyncRunJson>>, ApiError> {
    let params = Params::new(&params, &["limit"])?;
    let limit = params.number("limit", 1, 500)?.unwrap_or(50);
    let runs = connections::sync_runs(&ctx, &actor, connection_id(&id)?, limit).await?;
    Ok(Json(runs.iter().map(SyncRunJson::new).collect()))
}
