//! saldo's web front end: the web app's pages (`pages`), the JSON API under `/api/v1`, health and
//! readiness probes, the browser side of connecting (`/callback/{connector}`, where providers send
//! the user back) and the sandbox bank's consent page. Handlers only translate: a request into a use case of `saldo-app`, its
//! answer or typed error into JSON (`{"error": {"code", "message"}}`) or a page.

mod accounts_api;
pub mod api;
pub mod auth;
mod connections_api;
pub mod edge;
mod openapi;
pub mod pages;
pub mod people;
mod query;
mod uploads;

use crate::api::{ErrorBodyJson, ErrorJson, NetWorthJson};
use crate::auth::RequestActor;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
pub use edge::{Edge, EdgeSettings};
use saldo_app::connections;
use saldo_app::networth::NetWorthQuery;
use saldo_app::ops::{self, App, OpsError};
use saldo_core::money::Currency;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// The JSON API's routes and the OpenAPI document that describes them, made together.
fn api() -> (Router<App>, utoipa::openapi::OpenApi) {
    use utoipa::{Modify as _, OpenApi as _};
    let (router, mut document) = utoipa_axum::router::OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(utoipa_axum::routes!(networth))
        .routes(utoipa_axum::routes!(uploads::import_file))
        .merge(people::routes())
        .merge(accounts_api::routes())
        .merge(connections_api::routes())
        .split_for_parts();
    openapi::ErrorsAndSecurity.modify(&mut document);
    (router, document)
}

/// The API's OpenAPI document (served at `/api/openapi.json`).
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    api().1
}

/// The router of a server at `edge` (its address, its timeouts).
pub fn router(ctx: App, edge: Edge) -> Router {
    let edge = Arc::new(edge);
    let body_timeout = tower::ServiceBuilder::new()
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(edge.client_timeout))
        .map_request(|request: axum::extract::Request<tower_http::timeout::TimeoutBody<axum::body::Body>>| {
            request.map(axum::body::Body::new)
        });
    let (api, document) = api();
    let document = Arc::new(document);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/openapi.json", get(move || std::future::ready(Json(document.clone()))))
        .route("/callback/{connector}", get(callback))
        .route("/sandbox/consent", get(sandbox_consent))
        .merge(api)
        .merge(pages::routes())
        .fallback(not_found)
        .layer(Extension(edge.clone()))
        .layer(Extension(Arc::new(uploads::UploadSlots::default())))
        .layer(Extension(Arc::new(pages::FirstSyncs::default())))
        .layer(body_timeout)
        .layer(axum::middleware::from_fn_with_state(edge, edge::guard))
        .with_state(ctx)
}

/// Serves on an already-bound listener until `shutdown` resolves, then finishes requests under way.
pub async fn serve(
    ctx: App,
    listener: TcpListener,
    settings: EdgeSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let edge = Edge::new(&settings, listener.local_addr()?);
    let timeout = edge.client_timeout;
    edge::serve_router(router(ctx, edge), listener, timeout, shutdown).await
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
    ApiError::from(OpsError::NotFound("no such endpoint".into())).into_response()
}

/// A JSON request body whose faults are answered in the API's error form: 415 without a JSON
/// content type, 400 naming what is wrong (unknown fields are refused) otherwise.
pub struct JsonBody<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<JsonBody<T>, ApiError> {
        use axum::extract::rejection::JsonRejection;
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::Status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON, with Content-Type: application/json".into(),
            )),
            Err(JsonRejection::JsonDataError(err)) => {
                let message = err.body_text();
                Err(match faulty_field(&message) {
                    Some(field) => OpsError::InvalidField { field, message }.into(),
                    None => OpsError::Invalid(message).into(),
                })
            }
            Err(err) if err.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::Status(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large".into(),
            )),
            Err(err) => Err(OpsError::Invalid(format!("the body is not valid JSON: {}", err.body_text())).into()),
        }
    }
}

/// Query: `date`, `currency`, `history=true`, `from`, `to`, as for `saldo networth`.
#[utoipa::path(get, path = "/api/v1/networth", tag = "networth", params(("date" = Option<String>, Query, format = Date), ("currency" = Option<String>, Query), ("history" = Option<bool>, Query), ("from" = Option<String>, Query, format = Date), ("to" = Option<String>, Query, format = Date)), responses((status = 200, body = NetWorthJson)))]
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

/// A small page in the product's voice: a title, what happened, a way back.
fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let page = pages::MessagePage {
        layout: pages::Layout::public(title),
        paragraphs: vec![text.to_string()],
        links: vec![pages::Link { href: "/".into(), label: "Back to saldo".into() }],
    };
    pages::render(status, &page)
}

/// Where a provider sends the user back after they answered: finishes the connect or reconnect and
/// shows what was found (or, for a connect begun in the web app, the items to choose from).
async fn callback(
    State(ctx): State<App>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Path(connector): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let peer = peer.map(|Extension(ConnectInfo(peer))| peer);
    let address = auth::client_address(peer, &headers);
    let outcome = connections::complete_browser_authorization(&ctx, address, &connector, params).await;
    if let Err(err @ OpsError::Store(_)) = &outcome {
        tracing::error!(error = %err, connector, "callback failed");
    }
    pages::callback_page(outcome)
}

/// The sandbox bank's consent page for a waiting authorisation (`?state=…`).
async fn sandbox_consent(State(ctx): State<App>, Query(params): Query<HashMap<String, String>>) -> Response {
    if ctx.connectors.get("sandbox").is_none() {
        return page(StatusCode::NOT_FOUND, "No sandbox bank", "The sandbox is turned off on this server.");
    }
    let Some(state) = params.get("state") else {
        return page(StatusCode::BAD_REQUEST, "Incomplete request", "The link carries no state.");
    };
    match connections::waiting_authorization(&ctx, state).await {
        Ok((auth, institution)) if institution.connector == "sandbox" => {
            let html = saldo_connectors::sandbox::consent_page(&institution, &auth.state, &auth.redirect_url);
            // The bank's own page, with its own styles; no script at all.
            let policy = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";
            ([(header::CONTENT_SECURITY_POLICY, policy)], Html(html)).into_response()
        }
        Ok(_) => page(StatusCode::NOT_FOUND, "Unknown request", "This request is not for the sandbox bank."),
        Err(err) => page(StatusCode::NOT_FOUND, "Unknown request", &err.to_string()),
    }
}

/// A use case's error as an HTTP response: the request's fault is a 4xx with its message; anything
/// else is logged with its cause and answered with a plain 500. Every error is the JSON error body.
pub enum ApiError {
    Ops(OpsError),
    /// An answer of the HTTP layer itself (a body of the wrong type, too large, …).
    Status(StatusCode, &'static str, String),
}

impl From<OpsError> for ApiError {
    fn from(err: OpsError) -> ApiError {
        ApiError::Ops(err)
    }
}

/// An error answer: status, `code` and message in the API's error body.
pub(crate) fn error_response(status: StatusCode, code: &'static str, message: String) -> Response {
    (status, Json(ErrorJson { error: ErrorBodyJson { code, message, field: None } })).into_response()
}

/// The field a JSON body's fault is about, from serde's words: "unknown field `x`", "missing
/// field `x`", or the path axum puts before the error ("x: invalid type…").
fn faulty_field(text: &str) -> Option<String> {
    let text = text.strip_prefix("Failed to deserialize the JSON body into the target type: ").unwrap_or(text);
    for marker in ["unknown field `", "missing field `"] {
        if let Some(rest) = text.split_once(marker).map(|(_, rest)| rest) {
            return rest.split_once('`').map(|(name, _)| name.to_string());
        }
    }
    let (path, _) = text.split_once(": ")?;
    let is_path = !path.is_empty() && path != "." && path.chars().all(|c| c.is_alphanumeric() || "_.[]".contains(c));
    is_path.then(|| path.to_string())
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = match self {
            ApiError::Status(status, code, message) => return error_response(status, code, message),
            ApiError::Ops(err) => err,
        };
        if let OpsError::Store(store) = &err {
            if store.is_busy() {
                return busy();
            }
        }
        let (status, code) = match &err {
            OpsError::Invalid(_) | OpsError::InvalidField { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
            OpsError::NotFound(_) | OpsError::Missing(_) => (StatusCode::NOT_FOUND, "not_found"),
            OpsError::Range(_) => (StatusCode::BAD_REQUEST, "invalid_range"),
            OpsError::NotByRedirect { .. } => (StatusCode::BAD_REQUEST, "not_by_redirect"),
            OpsError::MissingRate(_) => (StatusCode::UNPROCESSABLE_ENTITY, "missing_rate"),
            OpsError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            OpsError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            OpsError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            OpsError::TooManyAttempts { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            OpsError::Store(_) | OpsError::Secret(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %err, "request failed");
            "internal error; the server log has the details".to_string()
        } else if let OpsError::NotByRedirect { institution } = &err {
            // The one kind left that no page can start: a provider's setup token.
            format!("{institution} connects with a setup token: send it as setup_token")
        } else {
            err.to_string()
        };
        let field = match &err {
            OpsError::InvalidField { field, .. } => Some(field.clone()),
            _ => None,
        };
        let mut response = (status, Json(ErrorJson { error: ErrorBodyJson { code, message, field } })).into_response();
        match &err {
            OpsError::Unauthenticated(_) => {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            }
            OpsError::TooManyAttempts { retry_after } => {
                if let Ok(value) = header::HeaderValue::from_str(&retry_after.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            _ => {}
        }
        response
    }
}

/// The answer when another process held the database's write lock too long: a server state, not
/// the client's fault, so 503 and when to try again.
pub(crate) fn busy() -> Response {
    let message = "the database is busy with another write (an import, say); try again in a few seconds".to_string();
    let body = Json(ErrorJson { error: ErrorBodyJson { code: "busy", message, field: None } });
    (StatusCode::SERVICE_UNAVAILABLE, [(axum::http::header::RETRY_AFTER, "5")], body).into_response()
}
