//! The API of accounts and what they hold: manual accounts, editing and deleting, balances,
//! valuations, holdings and transactions (per account and across them), notifications and
//! exchange rates.

use crate::api::{AccountJson, FxImportJson, HoldingJson, NotificationJson, TransactionJson, ValuationJson};
use crate::auth::RequestActor;
use crate::query::{self, Params};
use crate::{ApiError, JsonBody};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use saldo_app::accounts::{self, AccountEdit, NewManualAccount};
use saldo_app::activity::{self, TransactionQuery};
use saldo_app::ops::{self, Actor, App, OpsError};
use saldo_core::transaction::TransactionStatus;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts, add_account))
        .routes(routes!(account, edit_account, delete_account))
        .routes(routes!(balances))
        .routes(routes!(set_valuation, delete_valuation))
        .routes(routes!(holdings))
        .routes(routes!(account_transactions))
        .routes(routes!(all_transactions))
        .routes(routes!(notifications))
        .routes(routes!(read_all))
        .routes(routes!(read_notification))
        .routes(routes!(rates, load_rates))
}

async fn account_json(ctx: &App, actor: &Actor, id: saldo_core::ids::AccountId) -> Result<AccountJson, ApiError> {
    let all = accounts::accounts_with_balances(ctx, actor, ctx.clock.today()).await?;
    let found = all
        .iter()
        .find(|a| a.account.id == id)
        .ok_or_else(|| OpsError::Missing(ops::Missing::Account(id.to_string())))?;
    Ok(AccountJson::new(&found.account, Some(found)))
}

#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", responses((status = 200, body = Vec<AccountJson>)))]
async fn list_accounts(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
) -> Result<Json<Vec<AccountJson>>, ApiError> {
    let accounts = accounts::accounts_with_balances(&ctx, &actor, ctx.clock.today()).await?;
    Ok(Json(accounts.iter().map(|a| AccountJson::new(&a.account, Some(a))).collect()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewAccountRequest {
    name: String,
    kind: String,
    currency: String,
    /// A first valuation, as the user states it (what an asset is worth, what a debt owes).
    value: Option<String>,
    /// Its day (default today).
    date: Option<String>,
}

/// Adds a manual account (a flat, a car, a loan), valued by hand.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = NewAccountRequest, responses((status = 201, body = AccountJson)))]
async fn add_account(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    JsonBody(body): JsonBody<NewAccountRequest>,
) -> Result<(StatusCode, Json<AccountJson>), ApiError> {
    let currency = query::currency(&body.currency, "currency")?;
    let date = body.date.as_deref().map(|d| ops::parse_date(d, "date")).transpose()?;
    let new = NewManualAccount {
        name: body.name,
        kind: query::kind(&body.kind, "kind")?,
        currency,
        value: body.value.map(|value| (value, date)),
    };
    let account = accounts::create_manual_account(&ctx, &actor, new).await?;
    Ok((StatusCode::CREATED, Json(account_json(&ctx, &actor, account.id).await?)))
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = String, Path)), responses((status = 200, body = AccountJson)))]
async fn account(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> Result<Json<AccountJson>, ApiError> {
    let account = accounts::find_account(&ctx, &actor, &id).await?;
    Ok(Json(account_json(&ctx, &actor, account.id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AccountChange {
    name: Option<String>,
    /// Another kind of the same class (an asset stays an asset).
    kind: Option<String>,
    /// Whether it counts in net worth (an untracked connected account's item is ignored too).
    tracked: Option<bool>,
}

#[utoipa::path(patch, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = String, Path)), request_body = AccountChange, responses((status = 200, body = AccountJson)))]
async fn edit_account(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AccountChange>,
) -> Result<Json<AccountJson>, ApiError> {
    let edit = AccountEdit {
        name: body.name,
        kind: body.kind.as_deref().map(|k| query::kind(k, "kind")).transpose()?,
        tracked: body.tracked,
    };
    let account = accounts::edit_account(&ctx, &actor, &id, edit).await?;
    Ok(Json(account_json(&ctx, &actor, account.id).await?))
}

/// Deletes an account with its history; a connected account's item is offered again.
#[utoipa::path(delete, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = String, Path)), responses((status = 204, description = "Deleted with its history")))]
async fn delete_account(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    accounts::delete_account(&ctx, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Query `from`, `to` (`YYYY-MM-DD`): the account's balance points, oldest first.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/balances", tag = "accounts", params(("id" = String, Path), ("from" = Option<String>, Query, format = Date), ("to" = Option<String>, Query, format = Date)), responses((status = 200, body = Vec<ValuationJson>)))]
async fn balances(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Vec<ValuationJson>>, ApiError> {
    let params = Params::new(&params, &["from", "to"])?;
    let (account, points) =
        accounts::balance_history(&ctx, &actor, &id, params.date("from")?, params.date("to")?).await?;
    Ok(Json(points.iter().map(|p| ValuationJson::new(&account, p)).collect()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ValuationRequest {
    /// What the account is worth (or owes) that day, as a decimal string.
    value: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ValuationWriteJson {
    #[serde(flatten)]
    valuation: ValuationJson,
    /// Whether it replaced a valuation of that day.
    replaced: bool,
}

/// Values a manual account on a day (replacing that day's valuation).
#[utoipa::path(put, path = "/api/v1/accounts/{id}/valuations/{date}", tag = "accounts", params(("id" = String, Path), ("date" = String, Path, format = Date)), request_body = ValuationRequest, responses((status = 200, body = ValuationWriteJson)))]
async fn set_valuation(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    Path((id, date)): Path<(String, String)>,
    JsonBody(body): JsonBody<ValuationRequest>,
) -> Result<Json<ValuationWriteJson>, ApiError> {
    let date = ops::parse_date(&date, "date")?;
    let (account, day, write) = accounts::set_valuation(&ctx, &actor, &id, &body.value, Some(date)).await?;
    let (_, points) = accounts::balance_history(&ctx, &actor, &account.id.to_string(), Some(day), Some(day)).await?;
    let point = points.last().ok_or_else(|| OpsError::NotFound(format!("no valuation on {day}")))?;
    Ok(Json(ValuationWriteJson {
        valuation: ValuationJson::new(&account, point),
        replaced: matches!(write, saldo_store::ValuationWrite::Replaced),
    }))
}

#[utoipa::path(delete, path = "/api/v1/accounts/{id}/valuations/{date}", tag = "accounts", params(("id" = String, Path), ("date" = String, Path, format = Date)), responses((status = 204, description = "Deleted")))]
async fn delete_valuation(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    Path((id, date)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    accounts::delete_valuation(&ctx, &actor, &id, ops::parse_date(&date, "date")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}/holdings", tag = "accounts", params(("id" = String, Path)), responses((status = 200, body = Vec<HoldingJson>)))]
async fn holdings(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> Result<Json<Vec<HoldingJson>>, ApiError> {
    let (_, holdings) = accounts::holdings(&ctx, &actor, &id).await?;
    Ok(Json(holdings.iter().map(HoldingJson::new).collect()))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TransactionPageJson {
    pub transactions: Vec<TransactionJson>,
    /// The `cursor` of the next page, when there is one.
    pub next_cursor: Option<String>,
}

const TRANSACTION_PARAMS: [&str; 6] = ["from", "to", "q", "status", "cursor", "limit"];

async fn transaction_page(
    ctx: &App,
    actor: &Actor,
    account: Option<String>,
    params: &HashMap<String, String>,
) -> Result<Json<TransactionPageJson>, ApiError> {
    let params = Params::new(params, &TRANSACTION_PARAMS)?;
    let status = params
        .text("status")
        .map(|s| {
            TransactionStatus::parse(s)
                .ok_or_else(|| OpsError::Invalid(format!("invalid status {s:?}: expected pending or booked")))
        })
        .transpose()?;
    let query = TransactionQuery {
        account,
        from: params.date("from")?,
        to: params.date("to")?,
        status,
        text: params.text("q").map(str::to_string),
        cursor: params.text("cursor").map(str::to_string),
        limit: params.number("limit", 1, activity::MAX_PAGE)?,
    };
    let page = activity::transactions(ctx, actor, &query).await?;
    Ok(Json(TransactionPageJson {
        transactions: page.transactions.iter().map(TransactionJson::new).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Query `from`, `to`, `q` (text in the description or counterparty), `status` (pending or
/// booked), `cursor` (a page's `next_cursor`), `limit` (1 to 500, default 100); newest first.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/transactions", tag = "transactions", params(("id" = String, Path), ("from" = Option<String>, Query, format = Date), ("to" = Option<String>, Query, format = Date), ("q" = Option<String>, Query), ("status" = Option<String>, Query, description = "pending or booked"), ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query, maximum = 500)), responses((status = 200, body = TransactionPageJson)))]
async fn account_transactions(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<TransactionPageJson>, ApiError> {
    transaction_page(&ctx, &actor, Some(id), &params).await
}

/// The same as an account's, across all of the user's accounts.
#[utoipa::path(get, path = "/api/v1/transactions", tag = "transactions", params(("from" = Option<String>, Query, format = Date), ("to" = Option<String>, Query, format = Date), ("q" = Option<String>, Query), ("status" = Option<String>, Query, description = "pending or booked"), ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query, maximum = 500)), responses((status = 200, body = TransactionPageJson)))]
async fn all_transactions(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<TransactionPageJson>, ApiError> {
    transaction_page(&ctx, &actor, None, &params).await
}

/// Query `unread=true` for the unread ones only; newest first.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", params(("unread" = Option<bool>, Query)), responses((status = 200, body = Vec<NotificationJson>)))]
async fn notifications(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Vec<NotificationJson>>, ApiError> {
    let params = Params::new(&params, &["unread"])?;
    let list = activity::notifications(&ctx, &actor, params.flag("unread")?.unwrap_or(false)).await?;
    Ok(Json(list.iter().map(NotificationJson::new).collect()))
}

#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "notifications", params(("id" = String, Path)), responses((status = 204, description = "Marked read")))]
async fn read_notification(
    State(ctx): State<App>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    activity::mark_read(&ctx, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How many notifications were marked read.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MarkedJson {
    pub marked: u64,
}

#[utoipa::path(post, path = "/api/v1/notifications/read-all", tag = "notifications", responses((status = 200, body = MarkedJson)))]
async fn read_all(State(ctx): State<App>, RequestActor(actor): RequestActor) -> Result<Json<MarkedJson>, ApiError> {
    Ok(Json(MarkedJson { marked: activity::mark_all_read(&ctx, &actor).await? }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RateCoverageJson {
    pub currency: &'static str,
    pub first: String,
    pub last: String,
    pub days: i64,
}

/// Which currencies have rates, and for which days.
#[utoipa::path(get, path = "/api/v1/fx/rates", tag = "fx", responses((status = 200, body = Vec<RateCoverageJson>)))]
async fn rates(State(ctx): State<App>, RequestActor(_): RequestActor) -> Result<Json<Vec<RateCoverageJson>>, ApiError> {
    let coverage = ctx.db.rate_coverage().await.map_err(OpsError::from)?;
    Ok(Json(
        coverage
            .iter()
            .map(|c| RateCoverageJson {
                currency: c.currency.code(),
                first: c.first.to_string(),
                last: c.last.to_string(),
                days: c.days,
            })
            .collect(),
    ))
}

/// Loads an ECB reference-rate file (CSV or XML, as the ECB publishes them) sent as the body.
#[utoipa::path(post, path = "/api/v1/fx/rates", tag = "fx", request_body(content = String, description = "An ECB reference-rate file, CSV or XML", content_type = "text/csv"), responses((status = 200, body = FxImportJson)))]
async fn load_rates(
    State(ctx): State<App>,
    RequestActor(_): RequestActor,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<FxImportJson>, ApiError> {
    let content_type = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let taken = ["text/csv", "application/xml", "text/xml", "application/octet-stream"];
    if !taken.iter().any(|t| content_type.starts_with(t)) {
        return Err(ApiError::Status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("send the ECB file as the body with Content-Type {}", taken.join(", ")),
        ));
    }
    let import = saldo_app::fx::import_fx(&ctx, &body).await?;
    Ok(Json(FxImportJson::new(&import)))
}
