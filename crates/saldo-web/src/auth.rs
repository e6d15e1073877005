//! Who a request is: a bearer token (`Authorization: Bearer saldo_…`) or a browser's session
//! cookie, checked per request with a hash and an indexed read. A cookie request that changes
//! something must come from saldo's own pages (`Sec-Fetch-Site`, else `Origin`), on top of the
//! cookie's `SameSite=Lax`; a token request carries no ambient credential and needs no such check.

use crate::ApiError;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use saldo_app::auth::{self, Authenticated, SESSION_COOKIE};
use saldo_app::ops::{Actor, App, OpsError};
use std::net::{IpAddr, SocketAddr};

/// A request's signed-in user and credential. Rejects with 401 when there is none, 403 when a
/// read-only token asks to write or a cross-site page sends the cookie along.
pub struct Signed(pub Authenticated);

/// The actor of a request (see [`Signed`]), for handlers that need only the actor.
pub struct RequestActor(pub Actor);

pub(crate) fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The bearer token of a request, if it sends one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The session token of a request's cookie, if it sends one.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// Whether a cookie-carrying write comes from saldo's own origin. Browsers send `Sec-Fetch-Site`
/// (all current ones) or at least `Origin` on cross-origin writes; a request with neither is not
/// a browser's cross-site request (curl, a script with a copied cookie).
pub(crate) fn same_origin(parts: &Parts) -> bool {
    if let Some(site) = parts.headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none");
    }
    let Some(origin) = parts.headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let authority = origin.split_once("://").map_or("", |(_, rest)| rest);
    !host.is_empty() && authority.eq_ignore_ascii_case(host)
}

impl FromRequestParts<App> for Signed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Signed, ApiError> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
        let address = client_address(peer, &parts.headers);
        let signed = if let Some(token) = bearer(&parts.headers) {
            auth::authenticate_token(app, token, address).await?
        } else if let Some(token) = session_cookie(&parts.headers) {
            let signed = auth::authenticate_session(app, token, address).await?;
            if signed.is_some() && is_write(&parts.method) && !same_origin(parts) {
                return Err(OpsError::Forbidden("a change sent from another site is refused".into()).into());
            }
            signed
        } else {
            return Err(OpsError::Unauthenticated(
                "sign in first: send a session cookie or an `Authorization: Bearer` API token".into(),
            )
            .into());
        };
        let signed = signed.ok_or_else(|| {
            ApiError::from(OpsError::Unauthenticated("the session or token is unknown, expired or revoked".into()))
        })?;
        if is_write(&parts.method) && !signed.may_write() {
            return Err(OpsError::Forbidden("this token may only read".into()).into());
        }
        Ok(Signed(signed))
    }
}

impl FromRequestParts<App> for RequestActor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<RequestActor, ApiError> {
        Signed::from_request_parts(parts, app).await.map(|Signed(signed)| RequestActor(signed.actor))
    }
}

/// The client's address, for handlers that need no sign-in (sign-in itself).
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<App> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &App) -> Result<ClientAddress, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
        Ok(ClientAddress(client_address(peer, &parts.headers)))
    }
}

/// The address the request came from: the peer's, or, when the request came through a reverse
/// proxy on this machine, the address that proxy saw.
pub(crate) fn client_address(peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
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

/// The `Set-Cookie` value that hands a browser its session: script cannot read it, other sites'
/// requests do not carry it (except top-level navigations), and over https only when saldo is
/// reached by https.
pub(crate) fn session_cookie_header(app: &App, token: &str, max_age_seconds: i64) -> HeaderValue {
    let secure = app.settings.public_url.as_deref().is_some_and(|url| url.starts_with("https://"));
    let value = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age_seconds}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("saldo_session=; Max-Age=0; Path=/"))
}
