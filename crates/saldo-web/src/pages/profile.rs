//! Settings › Profile: name, base currency, password, where one is signed in, API tokens.

use super::{done, format, render, Layout, PageResult, Person, Section};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Form;
use saldo_app::auth::{self, Scope};
use saldo_app::ops::{App, OpsError};
use saldo_app::users::{self, ProfileChange};
use saldo_core::money::Currency;
use serde::Deserialize;
use std::collections::HashMap;

pub struct SessionRow {
    pub id: String,
    pub created: (String, String),
    pub seen: (String, String),
    pub client: String,
    pub current: bool,
}

pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub scope: &'static str,
    pub used: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    layout: Layout,
    email: String,
    display_name: String,
    base_currency: String,
    sessions: Vec<SessionRow>,
    tokens: Vec<TokenRow>,
    new_token: Option<String>,
}

async fn profile_page(ctx: &App, person: &Person, flash: Option<String>, new_token: Option<String>) -> PageResult {
    let actor = person.actor();
    let current = person.signed.session();
    let sessions = auth::sessions(ctx, actor)
        .await?
        .iter()
        .map(|s| SessionRow {
            id: s.id.to_string(),
            created: format::moment(s.created_at),
            seen: format::moment(s.last_seen_at),
            client: [s.address.clone(), s.user_agent.as_ref().map(|a| a.chars().take(60).collect())]
                .into_iter()
                .flatten()
                .collect::<Vec<String>>()
                .join(" · "),
            current: Some(s.id) == current,
        })
        .collect();
    let tokens = auth::tokens(ctx, actor)
        .await?
        .iter()
        .map(|t| TokenRow {
            id: t.id.to_string(),
            name: t.name.clone(),
            scope: if t.scope == "read" { "read" } else { "read and write" },
            used: t.last_used_at.map(format::moment),
        })
        .collect();
    let user = &actor.user;
    let page = ProfilePage {
        layout: Layout::signed(ctx, person, "Profile", Section::Profile).await.with_flash(flash),
        email: user.email.clone().unwrap_or_default(),
        display_name: user.display_name.clone().unwrap_or_default(),
        base_currency: user.base_currency.code().to_string(),
        sessions,
        tokens,
        new_token,
    };
    Ok(render(StatusCode::OK, &page))
}

/// `GET /settings/profile`
pub async fn profile(
    State(ctx): State<App>,
    person: Person,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult {
    profile_page(&ctx, &person, query.get("done").cloned(), None).await
}

#[derive(Deserialize)]
pub struct ProfileForm {
    pub display_name: Option<String>,
    pub base_currency: Option<String>,
}

/// `POST /settings/profile`: name and base currency.
pub async fn change(State(ctx): State<App>, person: Person, Form(form): Form<ProfileForm>) -> PageResult {
    let base_currency = match form.base_currency.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => Some(
            Currency::parse(code)
                .map_err(|e| OpsError::InvalidField { field: "base_currency".into(), message: e.to_string() })?,
        ),
        None => None,
    };
    let change = ProfileChange { display_name: form.display_name, base_currency, password: None };
    users::change_profile(&ctx, &person.signed, &change).await?;
    Ok(done("/settings/profile", "Saved."))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    pub current_password: String,
    pub new_password: String,
}

/// `POST /settings/password`: a new password ends every other session.
pub async fn change_password(State(ctx): State<App>, person: Person, Form(form): Form<PasswordForm>) -> PageResult {
    let change = ProfileChange { password: Some((form.current_password, form.new_password)), ..Default::default() };
    users::change_profile(&ctx, &person.signed, &change).await?;
    Ok(done("/settings/profile", "Password changed; you were signed out everywhere else."))
}

/// `POST /settings/sessions/end-others`
pub async fn end_others(State(ctx): State<App>, person: Person) -> PageResult {
    let ended = auth::end_other_sessions(&ctx, &person.signed).await?;
    Ok(done("/settings/profile", &format!("Signed out of {ended} other session(s).")))
}

/// `POST /settings/sessions/{id}/end`
pub async fn end_session(State(ctx): State<App>, person: Person, Path(id): Path<String>) -> PageResult {
    auth::end_session(&ctx, person.actor(), &id).await?;
    Ok(done("/settings/profile", "Signed out there."))
}

#[derive(Deserialize)]
pub struct TokenForm {
    pub name: String,
    pub scope: String,
}

/// `POST /settings/tokens`: the new token is shown on this answer only.
pub async fn create_token(State(ctx): State<App>, person: Person, Form(form): Form<TokenForm>) -> PageResult {
    let scope = Scope::parse(&form.scope)
        .ok_or_else(|| OpsError::InvalidField { field: "scope".into(), message: "read or read_write".into() })?;
    let made = auth::create_token(&ctx, person.actor(), &form.name, scope).await?;
    profile_page(&ctx, &person, None, Some(made.token)).await
}

/// `POST /settings/tokens/{id}/revoke`
pub async fn revoke_token(State(ctx): State<App>, person: Person, Path(id): Path<String>) -> PageResult {
    auth::revoke_token(&ctx, person.actor(), &id).await?;
    Ok(done("/settings/profile", "Token revoked."))
}
