//! The HTTP server: health and readiness probes and the read-only JSON API under `/api/v1`.

use crate::api::{AccountJson, ErrorJson, NetWorthJson};
use crate::ops::{self, Ctx, NetWorthQuery, OpsError};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use saldo_core::money::Currency;
use std::collections::HashMap;
use std::future::Future;
use tokio::net::TcpListener;

pub fn router(ctx: Ctx) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/networth", get(networth))
        .route("/api/v1/accounts", get(accounts))
        .fallback(not_found)
        .with_state(ctx)
}

/// Serves on an already-bound listener until `shutdown` resolves, then finishes requests under way.
pub async fn serve(
    ctx: Ctx,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(ctx)).with_graceful_shutdown(shutdown).await
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok\n"
}

/// The process can serve: its database answers.
async fn readyz(State(ctx): State<Ctx>) -> Response {
    match ctx.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

async fn not_found() -> Response {
    ApiError(OpsError::NotFound("no such endpoint".into())).into_response()
}

/// Query: `date`, `currency`, `history=true`, `from`, `to`, as for `saldo networth`.
async fn networth(
    State(ctx): State<Ctx>,
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
    let user = ctx.current_user().await?;
    let report = ops::net_worth(&ctx, &user, &query).await?;
    Ok(Json(NetWorthJson::new(&report)))
}

async fn accounts(State(ctx): State<Ctx>) -> Result<Json<Vec<AccountJson>>, ApiError> {
    let user = ctx.current_user().await?;
    let accounts = ops::accounts_with_balances(&ctx, &user, ctx.clock.today()).await?;
    Ok(Json(accounts.iter().map(|a| AccountJson::new(&a.account, Some(a))).collect()))
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
        let status = match &self.0 {
            OpsError::Invalid(_) => StatusCode::BAD_REQUEST,
            OpsError::NotFound(_) => StatusCode::NOT_FOUND,
            OpsError::MissingRate(_) => StatusCode::UNPROCESSABLE_ENTITY,
            OpsError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self.0, "request failed");
            "internal error; the server log has the details".to_string()
        } else {
            self.0.to_string()
        };
        (status, Json(ErrorJson { error: message })).into_response()
    }
}
