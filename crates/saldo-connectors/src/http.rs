//! HTTP to providers, the same way for every connector: one client per connector (rustls, no
//! redirects followed, a timeout on everything), https only (plain http only to this machine's
//! loopback, and only when the operator allows it), and transport errors classified into the
//! taxonomy without URLs or credentials in them.

use crate::wire::clean;
use reqwest::Url;
use saldo_core::failure::{Failure, FailureKind, TemporaryCause};
use std::net::IpAddr;
use std::time::Duration;

/// How a connector reaches its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transport {
    /// Allows plain http to a loopback address (127.0.0.0/8, ::1, localhost), for emulators on the
    /// same machine and tests. Everything else must be https.
    pub allow_insecure_loopback: bool,
    /// Limit for connecting and for each whole request.
    pub timeout: Duration,
}

impl Default for Transport {
    fn default() -> Transport {
        Transport { allow_insecure_loopback: false, timeout: Duration::from_secs(30) }
    }
}

/// A connector's HTTP client. Building it can fail (no TLS roots); every call then fails as a
/// configuration error instead of saldo panicking at startup.
pub(crate) struct Client {
    pub transport: Transport,
    inner: Result<reqwest::Client, String>,
}

impl Client {
    pub fn new(transport: Transport) -> Client {
        Client::build(transport, None)
    }

    /// A client that presents a TLS client certificate (mTLS, e.g. an eIDAS QWAC for PSD2 banks).
    /// A key the TLS library refuses makes every call fail as a configuration error, like a
    /// client that could not be built at all.
    pub fn with_identity(transport: Transport, identity: reqwest::Identity) -> Client {
        Client::build(transport, Some(identity))
    }

    fn build(transport: Transport, identity: Option<reqwest::Identity>) -> Client {
        let mut builder = reqwest::Client::builder();
        if let Some(identity) = identity {
            builder = builder.identity(identity);
        }
        let inner = builder
            .timeout(transport.timeout)
            .connect_timeout(transport.timeout)
            // A redirect would carry the request (and, to the same host, the credentials) somewhere
            // the provider's URL did not name.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("saldo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| error_chain(&e));
        Client { transport, inner }
    }

    pub fn get(&self) -> Result<&reqwest::Client, Failure> {
        self.inner.as_ref().map_err(|e| {
            Failure::new(FailureKind::Config, "http_client", format!("saldo could not set up HTTPS: {}", clean(e, "")))
        })
    }

    /// Checks that credentials may travel to `url` (see [`check_transport`]).
    pub fn check(&self, url: &Url, what: &str) -> Result<(), Failure> {
        check_transport(url, self.transport.allow_insecure_loopback, what)
    }

    /// A transport error as a temporary failure naming the host, never the URL.
    pub fn failure(&self, error: reqwest::Error, host: &str) -> Failure {
        let error = error.without_url();
        let chain = clean(&error_chain(&error), "");
        if error.is_timeout() {
            Failure::new(
                FailureKind::Temporary(TemporaryCause::Timeout),
                "timeout",
                format!("{host} did not answer within {} s", self.transport.timeout.as_secs_f64()),
            )
        } else if error.is_connect() {
            Failure::new(
                FailureKind::Temporary(TemporaryCause::Network),
                "connect",
                format!("could not connect to {host}: {chain}"),
            )
        } else {
            Failure::new(FailureKind::Temporary(TemporaryCause::Network), "network", format!("{host}: {chain}"))
        }
    }

    /// Sends a request and reads the whole answer: status, headers and body.
    pub async fn send(&self, request: reqwest::RequestBuilder, host: &str) -> Result<Answer, Failure> {
        let response = request.send().await.map_err(|e| self.failure(e, host))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| self.failure(e, host))?;
        Ok(Answer { status, headers, body: body.to_vec() })
    }
}

/// A provider's whole answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

/// Host and port, for failure details: a URL's path or query may carry ids or credentials.
pub(crate) fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        _ => "(no host)".into(),
    }
}

/// Credentials travel in every request to a provider: only TLS protects them, except on the
/// machine's own loopback interface (local emulators and tests) when the operator allows it.
pub(crate) fn check_transport(url: &Url, allow_insecure_loopback: bool, what: &str) -> Result<(), Failure> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_loopback && is_loopback(url) => Ok(()),
        _ => Err(Failure::new(
            FailureKind::Config,
            "insecure_url",
            format!(
                "the {what} on {} uses {}: saldo sends credentials only over https{}",
                host_of(url),
                url.scheme(),
                if is_loopback(url) { " (plain http to loopback needs allow_insecure_loopback)" } else { "" }
            ),
        )),
    }
}

/// A base URL from configuration, checked once: parsed, http(s), with a host, allowed transport.
pub(crate) fn base_url(text: &str, allow_insecure_loopback: bool, what: &str) -> Result<Url, Failure> {
    let mut url = Url::parse(text.trim()).map_err(|e| {
        Failure::new(
            FailureKind::Config,
            "base_url_invalid",
            format!("the {what} {:?} is not a URL: {e}", clean(text, "")),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Failure::new(
            FailureKind::Config,
            "base_url_invalid",
            format!("the {what} {:?} is not an http(s) URL", clean(text, "")),
        ));
    }
    check_transport(&url, allow_insecure_loopback, what)?;
    // Paths are joined onto it, so it must end in a slash.
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// `base` joined with a relative path (`accounts/{id}/balances/`), each segment taken literally.
pub(crate) fn endpoint(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        path.extend(segments);
    }
    url
}

/// An error and its sources, each said once.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(next) = source {
        let text = next.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = next.source();
    }
    parts.join(": ")
}

/// Seconds a provider says to wait, as the moment to retry; negative or absurd values (providers
/// have sent both) are clamped to between a minute and a day.
pub(crate) fn retry_after(now: chrono::DateTime<chrono::Utc>, seconds: i64) -> chrono::DateTime<chrono::Utc> {
    now + chrono::TimeDelta::seconds(seconds.clamp(60, 86_400))
}

/// Midnight UTC after `now`: when a provider's daily allowance comes back, where it says no time.
pub(crate) fn next_midnight(now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    (now.date_naive() + chrono::TimeDelta::days(1)).and_time(chrono::NaiveTime::MIN).and_utc()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn plain_http_only_to_loopback_and_only_when_allowed() {
        for host in ["127.0.0.1:8080", "127.3.2.1", "[::1]:99", "localhost:1"] {
            let url = Url::parse(&format!("http://{host}/x")).unwrap();
            assert_eq!(check_transport(&url, false, "base URL").unwrap_err().code, "insecure_url", "{host}");
            assert!(check_transport(&url, true, "base URL").is_ok(), "{host}");
        }
        let remote = Url::parse("http://bank.example/x").unwrap();
        assert_eq!(check_transport(&remote, true, "base URL").unwrap_err().kind, FailureKind::Config);
    }

    #[test]
    fn base_urls_end_in_a_slash_and_endpoints_join_literally() {
        let base = base_url("https://api.example/v2", false, "base URL").unwrap();
        assert_eq!(base.as_str(), "https://api.example/v2/");
        assert_eq!(endpoint(&base, &["accounts", "a/b", ""]).as_str(), "https://api.example/v2/accounts/a%2Fb/");
        for bad in ["nonsense", "ftp://x.example/", "http://x.example/"] {
            assert_eq!(base_url(bad, true, "base URL").unwrap_err().kind, FailureKind::Config, "{bad}");
        }
    }

    #[test]
    fn waits_are_clamped() {
        let now = chrono::DateTime::from_timestamp(0, 0).unwrap();
        assert_eq!(retry_after(now, -5), now + chrono::TimeDelta::seconds(60));
        assert_eq!(retry_after(now, 7_200), now + chrono::TimeDelta::seconds(7_200));
        assert_eq!(retry_after(now, i64::MAX), now + chrono::TimeDelta::days(1));
    }
}
