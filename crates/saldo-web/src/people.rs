//! The API of people: signing up, in and out, one's own profile, sessions and API tokens, and
//! the owner's list of users.

use crate::auth::{session_cookie_header, ClientAddress, RequestActor, Signed};
use crate::{ApiError, JsonBody};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use saldo_app::auth::{self, Client, NewSession, Scope};
use saldo_app::ops::{App, OpsError};
use saldo_app::users::{self, NewUser, ProfileChange};
use saldo_core::money::Currency;
use saldo_core::user::User;
use saldo_store::{StoredSession, StoredToken};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/v1/auth/signup", post(sign_up))
        .route("/api/v1/auth/login", post(sign_in))
        .route("/api/v1/auth/logout", post(sign_out))
        .route("/api/v1/me", get(me).patch(change_me))
        .route("/api/v1/sessions", get(list_sessions).delete(end_all_sessions))
        .route("/api/v1/sessions/{id}", delete(end_session))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
        .route("/api/v1/users", get(list_users).post(add_user))
        .route("/api/v1/users/{id}", delete(delete_user))
}

#[derive(Debug, Serialize)]
pub struct UserJson {
    pub id: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// `owner` or `member`.
    pub role: &'static str,
    pub base_currency: &'static str,
    pub created_at: String,
}

impl UserJson {
    pub fn new(user: &User) -> UserJson {
        UserJson {
            id: user.id.to_string(),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            role: user.role.as_str(),
            base_currency: user.base_currency.code(),
            created_at: user.created_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct SessionJson {
    pub id: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub address: Option<String>,
    pub user_agent: Option<String>,
    /// Whether this is the session the request came with.
    pub current: bool,
}

#[derive(Debug, Serialize)]
pub struct TokenJson {
    pub id: String,
    pub name: String,
    /// `read` or `read_write`.
    pub scope: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// The token itself: only in the answer that creates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl TokenJson {
    pub fn new(stored: &StoredToken, token: Option<String>) -> TokenJson {
        TokenJson {
            id: stored.id.to_string(),
            name: stored.name.clone(),
            scope: stored.scope.clone(),
            created_at: stored.created_at.to_rfc3339(),
            last_used_at: stored.last_used_at.map(|t| t.to_rfc3339()),
            token,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignUpRequest {
    email: String,
    password: String,
    display_name: Option<String>,
    base_currency: Option<String>,
    /// The code `saldo serve` logs while nobody can sign in: the claim of a new install.
    setup_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignInRequest {
    email: String,
    password: String,
}

fn currency(text: Option<&str>, field: &str) -> Result<Option<Currency>, OpsError> {
    text.map(|code| {
        Currency::parse(code)
            .map_err(|_| OpsError::Invalid(format!("invalid {field} {code:?}: expected an ISO 4217 code such as EUR")))
    })
    .transpose()
}

fn client(address: Option<std::net::IpAddr>, headers: &HeaderMap) -> Client {
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string);
    Client { address, user_agent }
}

/// The answer that signs a browser in: the user, and the session in a cookie.
fn signed_in(app: &App, status: StatusCode, user: &User, session: &NewSession) -> Response {
    let max_age = (session.session.expires_at - session.session.created_at).num_seconds();
    let cookie = session_cookie_header(app, &session.token, max_age);
    (status, [(header::SET_COOKIE, cookie)], Json(UserJson::new(user))).into_response()
}

async fn sign_up(
    State(app): State<App>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SignUpRequest>,
) -> Result<Response, ApiError> {
    let new = NewUser {
        email: body.email,
        password: body.password,
        display_name: body.display_name,
        base_currency: currency(body.base_currency.as_deref(), "base_currency")?,
    };
    let (user, session) = users::sign_up(&app, &new, body.setup_code.as_deref(), &client(address, &headers)).await?;
    Ok(signed_in(&app, StatusCode::CREATED, &user, &session))
}

async fn sign_in(
    State(app): State<App>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SignInRequest>,
) -> Result<Response, ApiError> {
    let session = auth::sign_in(&app, &body.email, &body.password, &client(address, &headers)).await?;
    let user = app
        .db
        .user_by_id(session.session.user_id)
        .await
        .map_err(OpsError::from)?
        .ok_or_else(|| OpsError::Unauthenticated("wrong e-mail or password".into()))?;
    Ok(signed_in(&app, StatusCode::OK, &user, &session))
}

async fn sign_out(State(app): State<App>, Signed(signed): Signed) -> Result<Response, ApiError> {
    auth::sign_out(&app, &signed).await?;
    let cookie = session_cookie_header(&app, "", 0);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

async fn me(RequestActor(actor): RequestActor) -> Json<UserJson> {
    Json(UserJson::new(&actor.user))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current: String,
    new: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileRequest {
    display_name: Option<String>,
    base_currency: Option<String>,
    password: Option<PasswordChange>,
}

async fn change_me(
    State(app): State<App>,
    Signed(signed): Signed,
    JsonBody(body): JsonBody<ProfileRequest>,
) -> Result<Json<UserJson>, ApiError> {
    let change = ProfileChange {
        display_name: body.display_name,
        base_currency: currency(body.base_currency.as_deref(), "base_currency")?,
        password: body.password.map(|p| (p.current, p.new)),
    };
    let user = users::change_profile(&app, &signed, &change).await?;
    Ok(Json(UserJson::new(&user)))
}

fn session_json(session: &StoredSession, current: Option<uuid::Uuid>) -> SessionJson {
    SessionJson {
        id: session.id.to_string(),
        created_at: session.created_at.to_rfc3339(),
        last_seen_at: session.last_seen_at.to_rfc3339(),
        expires_at: session.expires_at.to_rfc3339(),
        address: session.address.clone(),
        user_agent: session.user_agent.clone(),
        current: Some(session.id) == current,
    }
}

async fn list_sessions(State(app): State<App>, Signed(signed): Signed) -> Result<Json<Vec<SessionJson>>, ApiError> {
    let sessions = auth::sessions(&app, &signed.actor).await?;
    Ok(Json(sessions.iter().map(|s| session_json(s, signed.session())).collect()))
}

/// Signs out everywhere, this browser included.
async fn end_all_sessions(State(app): State<App>, RequestActor(actor): RequestActor) -> Result<StatusCode, ApiError> {
    auth::end_all_sessions(&app, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn end_session(
    State(app): State<App>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth::end_session(&app, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    name: String,
    /// `read` or `read_write`.
    scope: String,
}

async fn list_tokens(
    State(app): State<App>,
    RequestActor(actor): RequestActor,
) -> Result<Json<Vec<TokenJson>>, ApiError> {
    let tokens = auth::tokens(&app, &actor).await?;
    Ok(Json(tokens.iter().map(|t| TokenJson::new(t, None)).collect()))
}

async fn create_token(
    State(app): State<App>,
    RequestActor(actor): RequestActor,
    JsonBody(body): JsonBody<TokenRequest>,
) -> Result<(StatusCode, Json<TokenJson>), ApiError> {
    let scope = Scope::parse(&body.scope)
        .ok_or_else(|| OpsError::Invalid(format!("invalid scope {:?}: expected read or read_write", body.scope)))?;
    let made = auth::create_token(&app, &actor, &body.name, scope).await?;
    Ok((StatusCode::CREATED, Json(TokenJson::new(&made.stored, Some(made.token)))))
}

async fn revoke_token(
    State(app): State<App>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth::revoke_token(&app, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddUserRequest {
    email: String,
    password: String,
    display_name: Option<String>,
    base_currency: Option<String>,
}

async fn list_users(
    State(app): State<App>,
    RequestActor(actor): RequestActor,
) -> Result<Json<Vec<UserJson>>, ApiError> {
    Ok(Json(users::users(&app, &actor).await?.iter().map(UserJson::new).collect()))
}

async fn add_user(
    State(app): State<App>,
    RequestActor(actor): RequestActor,
    JsonBody(body): JsonBody<AddUserRequest>,
) -> Result<(StatusCode, Json<UserJson>), ApiError> {
    let new = NewUser {
        email: body.email,
        password: body.password,
        display_name: body.display_name,
        base_currency: currency(body.base_currency.as_deref(), "base_currency")?,
    };
    let user = users::add_user(&app, &actor, &new).await?;
    Ok((StatusCode::CREATED, Json(UserJson::new(&user))))
}

async fn delete_user(
    State(app): State<App>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    users::delete_user(&app, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
