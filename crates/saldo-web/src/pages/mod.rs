//! The web app: server-rendered pages (askama templates in `crates/saldo-web/templates/`) for a
//! signed-in person, on the same use cases as the API. Every page works with plain links and form
//! posts; `assets/app.js` and htmx only improve them. Forms post back here and answer with a
//! redirect (303) to the page that shows the result.

mod account;
mod activity;
pub(crate) mod assets;
mod chart;
mod connect;
mod format;
mod home;
mod portfolio;
mod profile;
mod providers;

use crate::auth::{client_address, is_write, same_origin, session_cookie};
use askama::Template;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use saldo_app::auth::{self, Authenticated};
use saldo_app::ops::{Actor, App, OpsError};
use std::net::SocketAddr;

pub(crate) use connect::{callback_page, FirstSyncs};

/// The pages' routes.
pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(home::home))
        .route("/signin", get(home::sign_in_page).post(home::sign_in))
        .route("/claim", post(home::claim))
        .route("/signout", post(home::sign_out))
        .route("/assets/{name}", get(assets::serve))
        .route("/portfolio/{class}", get(portfolio::portfolio))
        .route("/portfolio/add", get(portfolio::add))
        .route("/accounts/new", get(portfolio::manual_form))
        .route("/accounts", post(portfolio::create_manual))
        .route("/accounts/{id}", get(account::account_page))
        .route("/accounts/{id}/edit", post(account::edit))
        .route("/accounts/{id}/valuation", post(account::value))
        .route("/connect", get(connect::institutions).post(connect::start))
        .route("/connect/token", post(connect::with_token))
        .route("/connect/wait/{state}", get(connect::wait))
        .route("/connections/{id}/choose", get(connect::choose_page).post(connect::choose))
        .route("/connections/{id}/progress", get(connect::progress))
        .route("/settings/providers", get(providers::providers))
        .route("/connections/{id}/sync", post(providers::sync))
        .route("/connections/{id}/reconnect", post(providers::reconnect))
        .route("/connections/{id}/disconnect", post(providers::disconnect))
        .route("/transactions", get(activity::transactions))
        .route("/import", post(activity::import))
        .route("/notifications", get(activity::notifications))
        .route("/notifications/read-all", post(activity::read_all))
        .route("/notifications/{id}/read", post(activity::read_one))
        .route("/settings/profile", get(profile::profile).post(profile::change))
        .route("/settings/password", post(profile::change_password))
        .route("/settings/sessions/end-others", post(profile::end_others))
        .route("/settings/sessions/{id}/end", post(profile::end_session))
        .route("/settings/tokens", post(profile::create_token))
        .route("/settings/tokens/{id}/revoke", post(profile::revoke_token))
}

/// The Content-Security-Policy of every page: nothing from another origin, no inline script or
/// style (a `<script type="application/json">` data block is not script).
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; frame-ancestors 'none'";

/// A signed-in person on a page: a browser's session cookie (an API token is not for pages).
/// Without one, a page sends the browser to sign in and back; a change from another site is refused.
pub struct Person {
    pub signed: Authenticated,
}

impl Person {
    pub fn actor(&self) -> &Actor {
        &self.signed.actor
    }
}

impl FromRequestParts<App> for Person {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Person, Response> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
        let address = client_address(peer, &parts.headers);
        let to_sign_in = || {
            let next = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let next = if is_write(&parts.method) { "/" } else { next };
            let target = format!("/signin?next={}", urlencoding(next));
            if parts.headers.contains_key("hx-request") {
                ([("hx-redirect", target)], StatusCode::UNAUTHORIZED).into_response()
            } else {
                Redirect::to(&target).into_response()
            }
        };
        let Some(token) = session_cookie(&parts.headers) else { return Err(to_sign_in()) };
        let signed = match auth::authenticate_session(app, token, address).await {
            Ok(Some(signed)) => signed,
            Ok(None) => return Err(to_sign_in()),
            Err(err) => return Err(PageError::from(err).into_response()),
        };
        if is_write(&parts.method) && !same_origin(parts) {
            return Err(PageError::Forbidden("A change sent from another site was refused.".into()).into_response());
        }
        Ok(Person { signed })
    }
}

/// A path for a `next=` parameter: only this server's own paths.
fn urlencoding(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Where to go after signing in: a path of this server, never another site.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => path.to_string(),
        _ => "/".to_string(),
    }
}

/// A link in the main navigation.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
    pub count: usize,
}

/// A link with its words.
pub struct Link {
    pub href: String,
    pub label: String,
}

/// A notice across the top of a page: a connection that needs the user, a primary notification.
pub struct Banner {
    /// `red`, `orange`, `green` or `info`.
    pub colour: &'static str,
    pub title: String,
    pub text: String,
    pub action: Option<Link>,
}

/// What one form post did, shown once on the page it leads to.
pub struct Flash {
    pub colour: &'static str,
    pub text: String,
}

/// The frame of every page: title, navigation, banners.
pub struct Layout {
    pub title: String,
    pub user: Option<String>,
    pub nav: Vec<NavLink>,
    pub banners: Vec<Banner>,
    pub flash: Option<Flash>,
    pub assets: &'static assets::AssetPaths,
    /// The server's time, which relative times ("2 h ago") are counted from.
    pub now: String,
}

/// Which part of the app a page belongs to, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Dashboard,
    Assets,
    Liabilities,
    Transactions,
    Notifications,
    Providers,
    Profile,
    Other,
}

impl Layout {
    /// A page for someone not signed in.
    pub fn public(title: impl Into<String>) -> Layout {
        Layout {
            title: title.into(),
            user: None,
            nav: Vec::new(),
            banners: Vec::new(),
            flash: None,
            assets: assets::paths(),
            now: String::new(),
        }
    }

    /// A signed-in person's page: the navigation with their unread notifications counted.
    pub async fn signed(ctx: &App, person: &Person, title: impl Into<String>, section: Section) -> Layout {
        let unread = saldo_app::activity::notifications(ctx, person.actor(), true).await.map_or(0, |n| n.len());
        let user = &person.actor().user;
        let links: [(&'static str, &'static str, Section); 7] = [
            ("/", "Dashboard", Section::Dashboard),
            ("/portfolio/assets", "Assets", Section::Assets),
            ("/portfolio/liabilities", "Liabilities", Section::Liabilities),
            ("/transactions", "Transactions", Section::Transactions),
            ("/notifications", "Notifications", Section::Notifications),
            ("/settings/providers", "Providers & Integrations", Section::Providers),
            ("/settings/profile", "Profile", Section::Profile),
        ];
        let nav = links
            .into_iter()
            .map(|(href, label, s)| NavLink {
                href,
                label,
                current: s == section,
                count: if s == Section::Notifications { unread } else { 0 },
            })
            .collect();
        Layout {
            title: title.into(),
            user: Some(user.display_name.clone().unwrap_or_else(|| user.email.clone().unwrap_or_default())),
            nav,
            banners: Vec::new(),
            flash: None,
            assets: assets::paths(),
            now: ctx.clock.now().to_rfc3339(),
        }
    }

    /// Shows what a redirect's `done` parameter says happened.
    pub fn with_flash(mut self, text: Option<String>) -> Layout {
        self.flash = text.map(|text| Flash { colour: "green", text });
        self
    }
}

/// A rendered page with its security headers.
pub fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => with_policy((status, Html(html)).into_response()),
        Err(err) => {
            tracing::error!(error = %err, "a page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered; the server log has the details\n")
                .into_response()
        }
    }
}

/// Adds the pages' security headers to a response.
pub(crate) fn with_policy(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A page that says something and offers where to go next.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub layout: Layout,
    pub paragraphs: Vec<String>,
    pub links: Vec<Link>,
}

/// A page's failure, shown as a page in the product's voice.
pub enum PageError {
    Ops(OpsError),
    Forbidden(String),
}

impl From<OpsError> for PageError {
    fn from(err: OpsError) -> PageError {
        PageError::Ops(err)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, text) = match self {
            PageError::Forbidden(text) => (StatusCode::FORBIDDEN, "Not allowed", text),
            PageError::Ops(err) => match &err {
                OpsError::Missing(_) | OpsError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found", err.to_string()),
                OpsError::Store(store) if store.is_busy() => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Busy",
                    "saldo is busy writing; try again in a moment.".to_string(),
                ),
                OpsError::Store(_) | OpsError::Secret(_) => {
                    tracing::error!(error = %err, "a page failed");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Something went wrong",
                        "The server log has the details.".to_string(),
                    )
                }
                OpsError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "Sign in", err.to_string()),
                OpsError::Forbidden(_) => (StatusCode::FORBIDDEN, "Not allowed", err.to_string()),
                OpsError::TooManyAttempts { .. } => {
                    (StatusCode::TOO_MANY_REQUESTS, "Too many attempts", err.to_string())
                }
                _ => (StatusCode::BAD_REQUEST, "That did not work", err.to_string()),
            },
        };
        let page = MessagePage {
            layout: Layout::public(title),
            paragraphs: vec![text],
            links: vec![Link { href: "/".into(), label: "Back to saldo".into() }],
        };
        render(status, &page)
    }
}

/// Redirects after a form post to `path`, with what happened for the next page to show.
pub(crate) fn done(path: &str, what: &str) -> Response {
    Redirect::to(&done_path(path, what)).into_response()
}

/// `path` with what happened for its page to show once.
pub(crate) fn done_path(path: &str, what: &str) -> String {
    let (path, fragment) = path.split_once('#').map_or((path, None), |(p, f)| (p, Some(f)));
    let separator = if path.contains('?') { '&' } else { '?' };
    let fragment = fragment.map_or(String::new(), |f| format!("#{f}"));
    format!("{path}{separator}done={}{fragment}", urlencoding(what))
}

pub(crate) type PageResult = Result<Response, PageError>;

/// A connection's id from a path; one that is not an id is as absent as another user's.
pub(crate) fn connection_id(id: &str) -> Result<saldo_core::ids::ConnectionId, OpsError> {
    saldo_app::connections::parse_connection_id(id)
        .map_err(|_| OpsError::Missing(saldo_app::ops::Missing::Connection(id.to_string())))
}
