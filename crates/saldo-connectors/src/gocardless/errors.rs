//! GoCardless's failures, classified into saldo's taxonomy (providers.md §1 and the §7 row).
//!
//! The same status means different things on different endpoints: a 401 on `token/new/` is the
//! operator's secret being refused, a 401 on an account is the user's consent running out. So the
//! classification takes the endpoint along with the status and the body.

use crate::http::{next_midnight, Answer};
use crate::wire::{clean, unreadable};
use chrono::{DateTime, Utc};
use saldo_core::failure::{Failure, FailureKind, TemporaryCause};
use serde_json::Value;

/// Which kind of endpoint answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Token,
    Institution,
    Agreement,
    Requisition,
    Account,
}

/// One rate-limit window as the headers describe it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Window {
    pub limit: Option<u32>,
    pub remaining: Option<u32>,
    /// Seconds until the window resets (GoCardless has sent negative values: clamp before use).
    pub reset: Option<i64>,
}

/// The two layers of limits GoCardless reports: the company's per-endpoint API limit and, on
/// account endpoints, the account's daily successful calls for the scope called.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RateHeaders {
    pub api: Window,
    pub account: Window,
}

impl RateHeaders {
    /// The headers as GoCardless spells them (`HTTP_X_RATELIMIT_…`, underscores and all).
    pub fn read(answer: &Answer) -> RateHeaders {
        let number = |name: &str| -> Option<i64> { answer.header(name).and_then(|v| v.trim().parse::<i64>().ok()) };
        let count = |name: &str| number(name).map(|n| u32::try_from(n.max(0)).unwrap_or(u32::MAX));
        RateHeaders {
            api: Window {
                limit: count("http_x_ratelimit_limit"),
                remaining: count("http_x_ratelimit_remaining"),
                reset: number("http_x_ratelimit_reset"),
            },
            account: Window {
                limit: count("http_x_ratelimit_account_success_limit"),
                remaining: count("http_x_ratelimit_account_success_remaining"),
                reset: number("http_x_ratelimit_account_success_reset"),
            },
        }
    }
}

/// GoCardless's error document: `{summary, detail, type?, status_code}`, or field errors keyed by
/// field (`{"date_from": {"summary", "detail"}, "status_code": 400}`), sometimes with lists.
#[derive(Debug, Default)]
pub(crate) struct ErrorBody {
    pub summary: String,
    pub detail: String,
    pub kind: Option<String>,
    /// Field errors, as `(field, text)`.
    pub fields: Vec<(String, String)>,
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text_of).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(" "),
        Value::Object(map) => {
            let part = |k: &str| map.get(k).map(text_of).unwrap_or_default();
            [part("summary"), part("detail")].into_iter().filter(|t| !t.is_empty()).collect::<Vec<_>>().join(": ")
        }
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl ErrorBody {
    pub fn read(body: &[u8]) -> Option<ErrorBody> {
        let Value::Object(map) = serde_json::from_slice::<Value>(body).ok()? else { return None };
        let mut out = ErrorBody::default();
        for (key, value) in &map {
            match key.as_str() {
                "summary" => out.summary = text_of(value),
                "detail" => out.detail = text_of(value),
                "type" => out.kind = value.as_str().map(str::to_string),
                "status_code" => {}
                field => out.fields.push((field.to_string(), text_of(value))),
            }
        }
        Some(out)
    }

    /// Everything it says, in one line.
    pub fn text(&self) -> String {
        let mut parts: Vec<String> =
            [&self.summary, &self.detail].into_iter().filter(|t| !t.is_empty()).cloned().collect();
        parts.dedup();
        parts.extend(self.fields.iter().map(|(field, text)| format!("{field}: {text}")));
        parts.join(": ")
    }
}

/// `in 42 seconds` in a rate limit's text.
pub(crate) fn seconds_in_text(text: &str) -> Option<i64> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words.windows(3).find_map(|w| {
        (w[0].eq_ignore_ascii_case("in") && w[2].to_ascii_lowercase().starts_with("second"))
            .then(|| w[1].parse::<i64>().ok())
            .flatten()
    })
}

/// Scrubs provider text for a failure detail: cleaned, and none of the given secrets in it.
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut text = clean(text, "");
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(secret, "<redacted>");
    }
    text
}

/// A non-2xx answer as a failure.
pub(crate) fn classify(
    status: u16,
    body: &[u8],
    headers: &RateHeaders,
    endpoint: Endpoint,
    now: DateTime<Utc>,
    secrets: &[&str],
) -> Failure {
    let Some(error) = ErrorBody::read(body) else {
        return match status {
            502..=504 => Failure::new(
                FailureKind::Temporary(TemporaryCause::ProviderDown),
                format!("http_{status}"),
                format!("GoCardless answered {status} without an explanation"),
            ),
            _ => unreadable(format!(
                "GoCardless answered {status} with a body that is not its JSON error document; it begins {:?}",
                scrub(&String::from_utf8_lossy(&body[..body.len().min(200)]), secrets)
            )),
        };
    };
    let said = scrub(&error.text(), secrets);
    let lower = said.to_lowercase();
    let code = |fallback: &str| error.kind.clone().unwrap_or_else(|| fallback.to_string());
    let temporary = |cause| FailureKind::Temporary(cause);
    match status {
        401 if endpoint == Endpoint::Token => Failure::new(
            FailureKind::Config,
            code("secrets_refused"),
            format!(
                "GoCardless refused the secret id/key ({said}); check the GoCardless secret id and key in saldo's \
                 configuration"
            ),
        ),
        401 if error.kind.as_deref() == Some("AccountInactiveError") => Failure::new(
            FailureKind::Revoked,
            "AccountInactiveError",
            format!("the bank no longer gives access to this account (closed or deactivated there): {said}"),
        ),
        // A token GoCardless still refuses after saldo renewed it is the operator's problem, not an
        // expired consent the user would be asked to renew.
        401 if error.kind.is_none() && lower.contains("token") => Failure::new(
            FailureKind::Config,
            code("token_refused"),
            format!("GoCardless refused saldo's access token even after renewing it: {said}"),
        ),
        401 if error.kind.as_deref() == Some("AccessExpiredError") || endpoint == Endpoint::Account => {
            if lower.contains("revoke") {
                Failure::new(
                    FailureKind::Revoked,
                    code("AccessExpiredError"),
                    format!("the access was revoked at the bank; connect again to continue: {said}"),
                )
            } else {
                Failure::new(
                    FailureKind::Expired,
                    code("AccessExpiredError"),
                    format!("the access to this account has expired; connect again to continue: {said}"),
                )
            }
        }
        401 => Failure::new(
            FailureKind::Config,
            code("invalid_token"),
            format!("GoCardless refused saldo's access token: {said}"),
        ),
        403 if lower.contains("ip") && (lower.contains("whitelist") || lower.contains("access denied")) => {
            Failure::new(
                FailureKind::Config,
                code("ip_not_allowed"),
                format!(
                    "GoCardless refuses requests from this server's IP address: add it to the allow-list in the \
                     GoCardless portal ({said})"
                ),
            )
        }
        403 => Failure::new(
            FailureKind::Config,
            code("forbidden"),
            format!("GoCardless refused the request for saldo's company account: {said}"),
        ),
        404 => match endpoint {
            Endpoint::Institution => Failure::new(
                FailureKind::Unsupported,
                code("unknown_institution"),
                format!("GoCardless does not know this institution (any more): {said}"),
            ),
            Endpoint::Requisition | Endpoint::Agreement => Failure::new(
                FailureKind::Revoked,
                code("requisition_not_found"),
                format!("GoCardless no longer has this connection (it was deleted); connect again: {said}"),
            ),
            Endpoint::Account => Failure::new(
                FailureKind::Revoked,
                code("account_not_found"),
                format!("GoCardless no longer knows this account; connect again to find it: {said}"),
            ),
            Endpoint::Token => Failure::new(FailureKind::Config, "token_endpoint_missing", said),
        },
        409 => Failure::new(
            FailureKind::Expired,
            code("account_suspended"),
            format!(
                "GoCardless suspended access to this account after repeated failures; it needs a new connection: \
                 {said}"
            ),
        ),
        400 if (lower.contains("eua") || lower.contains("agreement")) && lower.contains("expired") => Failure::new(
            FailureKind::Expired,
            code("eua_expired"),
            format!("the end user agreement with the bank has expired; connect again to continue: {said}"),
        ),
        400 if error.fields.iter().any(|(f, _)| f == "date_from" || f == "date_to") => Failure::new(
            FailureKind::Config,
            code("date_window_refused"),
            format!("GoCardless refused saldo's date window (a bug in saldo, not the user's): {said}"),
        ),
        400 => Failure::new(
            FailureKind::Config,
            code("bad_request"),
            format!("GoCardless refused saldo's request: {said}"),
        ),
        429 => {
            let institution = error.kind.as_deref() == Some("RateLimitError");
            let seconds = headers
                .account
                .reset
                .filter(|_| headers.account.remaining == Some(0))
                .or(headers.api.reset.filter(|_| headers.api.remaining == Some(0)))
                .or_else(|| seconds_in_text(&said))
                .unwrap_or_else(|| if institution { (next_midnight(now) - now).num_seconds() } else { 3600 });
            let at = crate::http::retry_after(now, seconds);
            let what = if institution {
                "the bank's daily request limit for this account is used up"
            } else {
                "GoCardless's request limit is used up for now"
            };
            Failure::new(
                temporary(TemporaryCause::RateLimited),
                code("rate_limit_exceeded"),
                format!("{what}; saldo tries again after {}: {said}", at.format("%Y-%m-%d %H:%M UTC")),
            )
            .retry_at(at)
        }
        500 => Failure::new(
            temporary(TemporaryCause::Unknown),
            code("UnknownRequestError"),
            format!("the bank returned an error GoCardless could not explain: {said}"),
        ),
        502..=504 => Failure::new(
            temporary(TemporaryCause::ProviderDown),
            code("ServiceError"),
            format!("the bank or GoCardless is not answering: {said}"),
        ),
        _ => Failure::new(
            temporary(TemporaryCause::Unknown),
            code(&format!("http_{status}")),
            format!("GoCardless answered {status}, which its documentation does not describe: {said}"),
        ),
    }
}

/// The error a bank's redirect back to saldo carries (`?ref=…&error=<Type>&details=…`).
pub(crate) fn redirect_error(error: &str, details: &str) -> Failure {
    let details = clean(details, "");
    let said = if details.is_empty() { String::new() } else { format!(" ({details})") };
    let (kind, text) = match error {
        "UserCancelledSession" => {
            (FailureKind::Revoked, "you cancelled the authorisation at the bank; start again to connect")
        }
        "SSNVerificationFailed" => {
            (FailureKind::InvalidCredentials, "the bank could not verify that the accounts are yours; start again")
        }
        "InstitutionTechnicalError" => (
            FailureKind::Temporary(TemporaryCause::ProviderDown),
            "the bank had a technical problem during authorisation; try again later",
        ),
        "GoCardlessTechnicalError" => (
            FailureKind::Temporary(TemporaryCause::AggregatorIncident),
            "GoCardless had a technical problem during authorisation; try again later",
        ),
        "RequisitionLinkReused" | "ConsentLinkReused" => {
            (FailureKind::InvalidCredentials, "this authorisation link was already used; start again")
        }
        _ => (
            FailureKind::Temporary(TemporaryCause::Unknown),
            "the authorisation failed for a reason GoCardless did not explain",
        ),
    };
    Failure::new(kind, clean(error, ""), format!("{text}{said}"))
}

/// What a requisition's status means for using it; `Ok` when it is linked. Both the two-letter
/// codes the API sends and the long names of the 2022 OpenAPI enum are understood.
pub(crate) fn requisition_usable(status: Option<&str>) -> Result<(), Failure> {
    let status = status.unwrap_or("").trim();
    let failure = |kind, text: &str| Err(Failure::new(kind, status.to_string(), text.to_string()));
    match status {
        "LN" | "LINKED" => Ok(()),
        "CR"
        | "CREATED"
        | "GC"
        | "GIVING_CONSENT"
        | "UA"
        | "UNDERGOING_AUTHENTICATION"
        | "SA"
        | "SELECTING_ACCOUNTS"
        | "GA"
        | "GRANTING_ACCESS"
        | "ID" => failure(
            FailureKind::ActionRequired,
            "the authorisation at the bank is not finished; complete it at the bank or start again",
        ),
        "RJ" | "REJECTED" => failure(
            FailureKind::InvalidCredentials,
            "the bank rejected the authorisation (wrong credentials or the accounts are not yours); start again",
        ),
        "EX" | "EXPIRED" => {
            failure(FailureKind::Expired, "the access granted to saldo has expired; connect again to continue")
        }
        "SU" | "SUSPENDED" => failure(
            FailureKind::Expired,
            "GoCardless suspended this connection after repeated failures; it needs a new connection",
        ),
        "ER" => {
            failure(FailureKind::InvalidCredentials, "the authorisation ended in an error at the bank; start again")
        }
        other => Err(Failure::new(
            FailureKind::Temporary(TemporaryCause::Unknown),
            "unknown_status",
            format!("GoCardless gave the connection a status saldo does not know: {:?}", clean(other, "")),
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::{TimeDelta, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2021, 11, 22, 12, 0, 0).unwrap()
    }

    fn kind(status: u16, body: serde_json::Value, endpoint: Endpoint) -> Failure {
        classify(status, body.to_string().as_bytes(), &RateHeaders::default(), endpoint, now(), &["s3cr3t"])
    }

    #[test]
    fn a_token_refused_after_renewal_is_the_operators_problem() {
        let body = serde_json::json!({"summary": "Invalid token", "detail": "Token is invalid or expired", "status_code": 401});
        let failure = kind(401, body, Endpoint::Account);
        assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Config, "token_refused"));
        let expired = kind(401, serde_json::json!({"summary": "Access expired", "detail": "x"}), Endpoint::Account);
        assert_eq!(expired.kind, FailureKind::Expired, "no token mentioned: the access expired");
    }

    #[test]
    fn the_account_error_table_maps_code_by_code() {
        use Endpoint::*;
        let t = |c| FailureKind::Temporary(c);
        let cases = [
            (
                503,
                serde_json::json!({"summary": "Service unavailable", "detail": "x", "type": "ServiceError"}),
                Account,
                t(TemporaryCause::ProviderDown),
            ),
            (
                500,
                serde_json::json!({"summary": "Unknown", "detail": "x", "type": "UnknownRequestError"}),
                Account,
                t(TemporaryCause::Unknown),
            ),
            (
                401,
                serde_json::json!({"summary": "Access expired", "detail": "x", "type": "AccessExpiredError"}),
                Account,
                FailureKind::Expired,
            ),
            (
                401,
                serde_json::json!({"summary": "Access has been revoked by the user", "detail": "x", "type": "AccessExpiredError"}),
                Account,
                FailureKind::Revoked,
            ),
            (
                401,
                serde_json::json!({"summary": "Account inactive", "detail": "x", "type": "AccountInactiveError"}),
                Account,
                FailureKind::Revoked,
            ),
            (409, serde_json::json!({"summary": "Account suspended", "detail": "x"}), Account, FailureKind::Expired),
            (
                400,
                serde_json::json!({"summary": "End User Agreement (EUA) x has expired", "detail": "x"}),
                Account,
                FailureKind::Expired,
            ),
            (
                400,
                serde_json::json!({"date_from": {"summary": "Date can't be in future", "detail": "x"}, "status_code": 400}),
                Account,
                FailureKind::Config,
            ),
            (404, serde_json::json!({"summary": "Not found.", "detail": "Not found."}), Account, FailureKind::Revoked),
            (
                404,
                serde_json::json!({"summary": "Not found.", "detail": "Not found."}),
                Institution,
                FailureKind::Unsupported,
            ),
            (
                401,
                serde_json::json!({"summary": "Authentication failed", "detail": "No active account found with the given credentials"}),
                Token,
                FailureKind::Config,
            ),
            (
                403,
                serde_json::json!({"summary": "IP address access denied", "detail": "Your IP 127.0.0.1 isn't whitelisted to perform this action"}),
                Requisition,
                FailureKind::Config,
            ),
            (
                429,
                serde_json::json!({"summary": "Rate limit exceeded", "detail": "Please try again in 120 seconds"}),
                Account,
                t(TemporaryCause::RateLimited),
            ),
            (418, serde_json::json!({"summary": "?", "detail": "?"}), Account, t(TemporaryCause::Unknown)),
        ];
        for (status, body, endpoint, expected) in cases {
            let failure = kind(status, body.clone(), endpoint);
            assert_eq!(failure.kind, expected, "{status} {body}");
            assert!(!failure.detail.contains("s3cr3t"));
        }
        assert_eq!(
            kind(401, serde_json::json!({"summary": "a", "detail": "b", "type": "AccountInactiveError"}), Account).code,
            "AccountInactiveError"
        );
    }

    #[test]
    fn rate_limits_say_when_to_retry() {
        let api = kind(
            429,
            serde_json::json!({"summary": "Rate limit exceeded", "detail": "The rate limit for this resource is 4/day. Please try again in 7200 seconds", "status_code": 429}),
            Endpoint::Account,
        );
        assert_eq!(api.retry_at, Some(now() + TimeDelta::seconds(7200)));
        let bank = kind(
            429,
            serde_json::json!({"summary": "Couldn't update transactions", "detail": "Daily request limit set by the Institution has been exceeded.", "type": "RateLimitError"}),
            Endpoint::Account,
        );
        assert_eq!((bank.code.as_str(), bank.retry_at), ("RateLimitError", Some(next_midnight(now()))));
        let headers = RateHeaders {
            account: Window { limit: Some(4), remaining: Some(0), reset: Some(-30) },
            ..RateHeaders::default()
        };
        let clamped =
            classify(429, b"{\"summary\": \"x\", \"detail\": \"y\"}", &headers, Endpoint::Account, now(), &[]);
        assert_eq!(clamped.retry_at, Some(now() + TimeDelta::seconds(60)), "negative resets are clamped");
        assert_eq!(seconds_in_text("Please try again in 42 seconds"), Some(42));
        assert_eq!(seconds_in_text("no number here"), None);
    }

    #[test]
    fn unreadable_bodies_are_temporary_and_name_what_was_wrong() {
        let failure =
            classify(500, b"<html>oops s3cr3t</html>", &RateHeaders::default(), Endpoint::Account, now(), &["s3cr3t"]);
        assert_eq!(
            (failure.kind, failure.code.as_str()),
            (FailureKind::Temporary(TemporaryCause::Unknown), "unreadable_response")
        );
        assert!(failure.detail.contains("not its JSON") && !failure.detail.contains("s3cr3t"), "{}", failure.detail);
    }

    #[test]
    fn redirect_errors_and_requisition_statuses() {
        let kinds: Vec<FailureKind> = [
            "UserCancelledSession",
            "SSNVerificationFailed",
            "InstitutionTechnicalError",
            "GoCardlessTechnicalError",
            "RequisitionLinkReused",
            "ConsentLinkReused",
            "UnknownError",
        ]
        .iter()
        .map(|e| redirect_error(e, "x").kind)
        .collect();
        let t = |c| FailureKind::Temporary(c);
        assert_eq!(
            kinds,
            [
                FailureKind::Revoked,
                FailureKind::InvalidCredentials,
                t(TemporaryCause::ProviderDown),
                t(TemporaryCause::AggregatorIncident),
                FailureKind::InvalidCredentials,
                FailureKind::InvalidCredentials,
                t(TemporaryCause::Unknown)
            ]
        );
        assert!(requisition_usable(Some("LN")).is_ok() && requisition_usable(Some("LINKED")).is_ok());
        for (status, expected) in [
            ("RJ", FailureKind::InvalidCredentials),
            ("EX", FailureKind::Expired),
            ("SU", FailureKind::Expired),
            ("CR", FailureKind::ActionRequired),
            ("GA", FailureKind::ActionRequired),
            ("??", t(TemporaryCause::Unknown)),
        ] {
            assert_eq!(requisition_usable(Some(status)).unwrap_err().kind, expected, "{status}");
        }
    }
}
