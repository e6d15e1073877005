//! The API of people: signing up, in and out, one's own profile, sessions and API tokens, and
//! the owner's list of users.

use crate::auth::{session_cookie_header, ClientAddress, RequestActor, Signed};
use crate::{ApiError, JsonBody};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use saldo_app::auth::{self, Client, NewSession, Scope};
use saldo_app::ops::{App, OpsError};
use saldo_app::users::{self, NewUser, ProfileChange};
use saldo_core::money::Currency;
use saldo_core::user::User;
use saldo_store::{StoredSession, StoredToken};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(sign_up))
        .routes(routes!(sign_in))
        .routes(routes!(sign_out))
        .routes(routes!(me, change_me))
        .routes(routes!(list_sessions, end_all_sessions))
        .routes(routes!(end_session))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(list_users, add_user))
        .routes(routes!(delete_user))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SignUpRequest {
    email: String,
    #[schema(min_length = 10, max_length = 1024)]
    password: String,
    display_name: Option<String>,
    base_currency: Option<String>,
    /// The code `saldo serve` logs while nobody can sign in: the claim of a new install.
    setup_code: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SignInRequest {
    email: String,
    password: String,
}

fn currency(text: Option<&str>, field: &str) -> Result<Option<Currency>, OpsError> {
    text.map(|code| crate::query::currency(code, field)).transpose()
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

#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "auth", security(()), request_body = SignUpRequest, responses((status = 201, description = "Signed up and in; the session is in the Set-Cookie header", body = UserJson)))]
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

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()), request_body = SignInRequest, responses((status = 200, description = "Signed in; the session is in the Set-Cookie header", body = UserJson)))]
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

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204, description = "The session the request came with has ended")))]
async fn sign_out(State(app): State<App>, Signed(signed): Signed) -> Result<Response, ApiError> {
    auth::sign_out(&app, &signed).await?;
    let cookie = session_cookie_header(&app, "", 0);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

#[utoipa::path(get, path = "/api/v1/me", tag = "users", responses((status = 200, body = UserJson)))]
async fn me(RequestActor(actor): RequestActor) -> Json<UserJson> {
    Json(UserJson::new(&actor.user))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current: String,
    #[schema(min_length = 10, max_length = 1024)]
    new: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ProfileRequest {
    display_name: Option<String>,
    base_currency: Option<String>,
    password: Option<PasswordChange>,
}

#[utoipa::path(patch, path = "/api/v1/me", tag = "users", request_body = ProfileRequest, responses((status = 200, body = UserJson)))]
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

#[utoipa::path(get, path = "/api/v1/sessions", tag = "users", responses((status = 200, body = Vec<SessionJson>)))]
async fn list_sessions(State(app): State<App>, Signed(signed): Signed) -> Result<Json<Vec<SessionJson>>, ApiError> {
    let sessions = auth::sessions(&app, &signed.actor).await?;
    Ok(Json(sessions.iter().map(|s| session_json(s, signed.session())).collect()))
}

/// Signs out everywhere, this browser included.
#[utoipa::path(delete, path = "/api/v1/sessions", tag = "users", responses((status = 204, description = "Signed out everywhere")))]
async fn end_all_sessions(State(app): State<App>, RequestActor(actor): RequestActor) -> Result<StatusCode, ApiError> {
    auth::end_all_sessions(&app, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "users", params(("id" = String, Path, description = "A session id")), responses((status = 204, description = "Ended")))]
async fn end_session(
    State(app): State<App>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth::end_session(&app, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    name: String,
    /// `read` or `read_write`.
    scope: String,
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "users", responses((status = 200, body = Vec<TokenJson>)))]
async fn list_tokens(
    State(app): State<App>,
    RequestActor(actor): RequestActor,
) -> Result<Json<Vec<TokenJson>>, ApiError> {
    let tokens = auth::tokens(&app, &actor).await?;
    Ok(Json(tokens.iter().map(|t| TokenJson::new(t, None)).collect()))
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "users", request_body = TokenRequest, responses((status = 201, description = "The token, shown this once", body = TokenJson)))]
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

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "users", params(("id" = String, Path, description = "A token id")), responses((status = 204, description = "Revoked")))]
async fn revoke_token(
    State(app): State<App>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth::revoke_token(&app, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AddUserRequest {
    email: String,
    #[schema(min_length = 10, max_length = 1024)]
    password: String,
    display_name: Option<String>,
    base_currency: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, description = "The install's users (the owner only)", body = Vec<UserJson>)))]
async fn list_users(
    State(app): State<App>,
    RequestActor(actor): RequestActor,
) -> Result<Json<Vec<UserJson>>, ApiError> {
    Ok(Json(users::users(&app, &actor).await?.iter().map(UserJson::new).collect()))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = AddUserRequest, responses((status = 201, body = UserJson)))]
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

#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path, description = "A user id")), responses((status = 204, description = "Removed with everything that was theirs")))]
async fn delete_user(
    State(app): State<App>,
    RequestActor(actor): RequestActor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    users::delete_user(&app, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
