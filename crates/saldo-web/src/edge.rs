//! The edge of the server: which `Host` it answers to (so neither another site's page nor DNS
//! rebinding reaches a household's data), where redirects point (its configured address, never the
//! request's), how long a client may take to send its headers or stay idle, the size of a request
//! line and headers, and every answer of the HTTP layer itself in the API's JSON error form.

use crate::error_response;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

/// How the server meets its clients; the binary fills it from the configuration.
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    /// The address people reach saldo at (`public_url`), when configured.
    pub public_url: Option<String>,
    /// How long a client may take to send a request's headers, and how long a kept-alive
    /// connection may wait for its next request; also the longest pause within a request body.
    pub client_timeout: Duration,
}

impl Default for EdgeSettings {
    fn default() -> EdgeSettings {
        EdgeSettings { public_url: None, client_timeout: Duration::from_secs(30) }
    }
}

/// What the router knows of where it is served.
#[derive(Debug, Clone)]
pub struct Edge {
    /// Where browsers are sent back to: `public_url`, else the address the server listens on.
    pub base_url: String,
    /// `Host` values answered, lower-case.
    hosts: Vec<String>,
    /// Bound to every address: any IP literal with this port is answered too (a name is not).
    any_address_port: Option<u16>,
    pub client_timeout: Duration,
}

/// The longest request target taken (414 beyond it).
const MAX_URI_BYTES: usize = 8 * 1024;
/// The most header bytes taken (431 beyond them).
const MAX_HEADER_BYTES: usize = 32 * 1024;

fn authority_of(url: &str) -> Option<(String, bool)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?.rsplit('@').next()?.to_ascii_lowercase();
    (!authority.is_empty()).then_some((authority, scheme.eq_ignore_ascii_case("https")))
}

impl Edge {
    /// The edge of a server listening on `local`.
    pub fn new(settings: &EdgeSettings, local: SocketAddr) -> Edge {
        let mut hosts = Vec::new();
        let port = local.port();
        let reachable = if local.ip().is_unspecified() { IpAddr::from([127, 0, 0, 1]) } else { local.ip() };
        let own = SocketAddr::new(reachable, port).to_string();
        hosts.push(own.clone());
        if local.ip().is_loopback() || local.ip().is_unspecified() {
            hosts.extend([format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}")]);
        }
        let mut base_url = format!("http://{own}");
        if let Some((authority, https)) = settings.public_url.as_deref().and_then(authority_of) {
            let default_port = if https { ":443" } else { ":80" };
            let has_port = if authority.starts_with('[') { authority.contains("]:") } else { authority.contains(':') };
            if !has_port {
                hosts.push(format!("{authority}{default_port}"));
            } else if let Some(bare) = authority.strip_suffix(default_port) {
                hosts.push(bare.to_string());
            }
            hosts.push(authority);
            base_url = settings.public_url.clone().unwrap_or(base_url).trim_end_matches('/').to_string();
        }
        let any_address_port = local.ip().is_unspecified().then_some(port);
        Edge { base_url, hosts, any_address_port, client_timeout: settings.client_timeout }
    }

    fn answers(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        if self.hosts.contains(&host) {
            return true;
        }
        let Some(port) = self.any_address_port else { return false };
        let Ok(address) = host.parse::<SocketAddr>() else { return false };
        address.port() == port
    }
}

/// Refuses a request for a host this server is not (421), a request target or headers too long
/// (414, 431), before anything else looks at it.
pub(crate) async fn guard(edge: axum::extract::State<Arc<Edge>>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    match host {
        Some(host) if edge.answers(&host) => {}
        _ => {
            let message = format!(
                "this server answers as {} only: a request for another host is refused",
                edge.base_url.split_once("://").map_or(edge.base_url.as_str(), |(_, rest)| rest)
            );
            return error_response(StatusCode::MISDIRECTED_REQUEST, "unknown_host", message);
        }
    }
    let uri = request.uri();
    let target_bytes = uri.path().len() + uri.query().map_or(0, |q| q.len() + 1);
    if target_bytes > MAX_URI_BYTES {
        let message = format!("the request target is longer than {MAX_URI_BYTES} bytes");
        return error_response(StatusCode::URI_TOO_LONG, "uri_too_long", message);
    }
    let header_bytes: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    if header_bytes > MAX_HEADER_BYTES {
        let message = format!("the request's headers are longer than {MAX_HEADER_BYTES} bytes");
        return error_response(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large", message);
    }
    json_errors(next.run(request).await)
}

/// The answers axum gives by itself (a method a route does not take, a body over a limit) in the
/// API's error form.
fn json_errors(response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || response.status().is_success() || response.status().is_redirection() {
        return response;
    }
    let (code, message) = match response.status() {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = response.headers().get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or_default();
            ("method_not_allowed", format!("this endpoint takes {allowed}"))
        }
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large".to_string()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "this content type is not taken".to_string()),
        _ => return response,
    };
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut answer = error_response(response.status(), code, message);
    if let Some(allow) = allow {
        answer.headers_mut().insert(header::ALLOW, allow);
    }
    answer
}

/// Serves `router` on `listener` (HTTP/1.1) until `shutdown` resolves, then lets requests under
/// way finish. A client that takes longer than the edge's timeout to send its headers, or keeps
/// a connection idle that long, is disconnected.
pub(crate) async fn serve_router(
    router: axum::Router,
    listener: TcpListener,
    timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let (open, mut all_closed) = tokio::sync::mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let mut stopping = stopping.clone();
        let open = open.clone();
        tokio::spawn(async move {
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new()).header_read_timeout(timeout);
            let builder = builder.http1_only();
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(err) = result {
                            tracing::debug!(error = %err, "connection ended");
                        }
                        break;
                    }
                    _ = stopping.wait_for(|stop| *stop) => connection.as_mut().graceful_shutdown(),
                }
            }
            drop(open);
        });
    }
    let _ = stop.send(true);
    drop(open);
    // Every connection task holds a sender: the channel closes once the last one is done.
    let _ = all_closed.recv().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_answers_to_its_own_names_only() {
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let edge = Edge::new(&EdgeSettings::default(), local);
        assert_eq!(edge.base_url, "http://127.0.0.1:8080");
        for host in ["127.0.0.1:8080", "localhost:8080", "LOCALHOST:8080", "[::1]:8080"] {
            assert!(edge.answers(host), "{host}");
        }
        for host in ["evil.example", "evil.example:8080", "127.0.0.1:9090", "localhost"] {
            assert!(!edge.answers(host), "{host}");
        }
        let settings =
            EdgeSettings { public_url: Some("https://money.example.org/".into()), ..EdgeSettings::default() };
        let edge = Edge::new(&settings, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(edge.base_url, "https://money.example.org");
        for host in ["money.example.org", "money.example.org:443", "192.168.1.20:8080", "127.0.0.1:8080"] {
            assert!(edge.answers(host), "{host}");
        }
        for host in ["rebound.example:8080", "money.example.org.evil.example", "192.168.1.20:9999"] {
            assert!(!edge.answers(host), "{host}");
        }
    }
}
