//! An ASPSP's error answers, read and classified into saldo's taxonomy.
//!
//! XS2A errors come in two shapes, and a bank may use either: the NextGenPSD2 one
//! (`{"tppMessages": [{"category", "code", "path"?, "text"?}], "_links"}`, `application/json`) and
//! RFC 7807 (`{"type", "title"?, "detail"?, "code", "additionalErrors": [{"title", "detail", "code"}]}`,
//! `application/problem+json`). Both carry the same message codes; the code decides, and the HTTP
//! status only where there is no code or the bank is down. The table is providers.md §3 (the AIS
//! codes by status) and its §7 row (what each means for the user).

use crate::http::next_midnight;
use crate::wire::{clean, heavier};
use chrono::{DateTime, Utc};
use saldo_core::failure::{Failure, FailureKind, TemporaryCause};
use serde::Deserialize;

/// Codes that say the consent can no longer be used, without saying why: the consent's status
/// tells whether it ran out or the user withdrew it.
pub(crate) const CONSENT_UNUSABLE: [&str; 2] = ["CONSENT_EXPIRED", "CONSENT_INVALID"];

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    #[serde(default)]
    tpp_messages: Option<Vec<TppMessage>>,
    // RFC 7807.
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    additional_errors: Option<Vec<Additional>>,
}

#[derive(Debug, Deserialize)]
struct TppMessage {
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Additional {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

/// One message of an error answer: its code and its text (either may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub code: String,
    pub text: String,
}

/// The error messages of an answer, in either shape; warnings only when there is no error. An
/// answer that is neither (an HTML page from a gateway) gives none.
pub(crate) fn messages(body: &[u8]) -> Vec<Message> {
    let Ok(body) = serde_json::from_slice::<Body>(body) else { return Vec::new() };
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for message in body.tpp_messages.unwrap_or_default() {
        let entry = Message {
            code: message.code.unwrap_or_default().trim().to_string(),
            text: message.text.unwrap_or_default(),
        };
        if message.category.as_deref().is_some_and(|c| c.eq_ignore_ascii_case("WARNING")) {
            warnings.push(entry);
        } else {
            errors.push(entry);
        }
    }
    if let Some(code) = body.code {
        let text = [body.title, body.detail].into_iter().flatten().collect::<Vec<_>>().join(": ");
        errors.push(Message { code: code.trim().to_string(), text });
    }
    for extra in body.additional_errors.unwrap_or_default() {
        let text = [extra.title, extra.detail].into_iter().flatten().collect::<Vec<_>>().join(": ");
        errors.push(Message { code: extra.code.unwrap_or_default().trim().to_string(), text });
    }
    if errors.is_empty() {
        warnings
    } else {
        errors
    }
}

/// What a message code means, or `None` for a code the standard does not define.
pub(crate) fn kind_of_code(code: &str) -> Option<FailureKind> {
    use FailureKind::*;
    let kind = match code {
        // The consented accesses without the user for today are used (429).
        "ACCESS_EXCEEDED" => Temporary(TemporaryCause::RateLimited),
        // An OAuth access token ran out: the next call gets a fresh one.
        "TOKEN_EXPIRED" => Temporary(TemporaryCause::Unknown),
        // Checked against the consent's status before being reported (see CONSENT_UNUSABLE).
        "CONSENT_EXPIRED" | "CONSENT_INVALID" | "RESOURCE_EXPIRED" => Expired,
        // The bank no longer knows the consent or the account: withdrawn (by the user or the bank).
        "CONSENT_UNKNOWN" | "RESOURCE_UNKNOWN" | "RESOURCE_BLOCKED" => Revoked,
        "PSU_CREDENTIALS_INVALID" | "SCA_INVALID" => InvalidCredentials,
        // A block of the user or account by the bank, in every channel.
        "SERVICE_BLOCKED" => Unsupported,
        // A conflict with the resource's state (a consent being changed meanwhile): retried.
        "STATUS_INVALID" => Temporary(TemporaryCause::Unknown),
        // saldo's certificate, signature, role or request is wrong: the operator's to fix.
        "ROLE_INVALID"
        | "CORPORATE_ID_INVALID"
        | "PERIOD_INVALID"
        | "FORMAT_ERROR"
        | "SERVICE_INVALID"
        | "TIMESTAMP_INVALID"
        | "REQUESTED_FORMATS_INVALID"
        | "SCA_METHOD_UNKNOWN"
        | "SESSIONS_NOT_SUPPORTED"
        | "TOKEN_UNKNOWN"
        | "TOKEN_INVALID" => Config,
        _ if code.starts_with("CERTIFICATE_") || code.starts_with("SIGNATURE_") || code.starts_with("PARAMETER_") => {
            Config
        }
        _ => return None,
    };
    Some(kind)
}

/// What one message means; `status` for messages without a code.
fn classify_message(status: u16, message: &Message, now: DateTime<Utc>, bank: &str, secret: &str) -> Failure {
    let text = clean(&message.text, secret);
    let said = if text.is_empty() { String::new() } else { format!(": {text}") };
    let code = clean(&message.code, secret);
    if (500..=599).contains(&status) {
        let code = if code.is_empty() { status.to_string() } else { code };
        return Failure::new(
            FailureKind::Temporary(TemporaryCause::ProviderDown),
            code,
            format!("{bank} answered {status}{said}"),
        );
    }
    if code.is_empty() {
        return match status {
            429 => Failure::new(
                FailureKind::Temporary(TemporaryCause::RateLimited),
                "429",
                format!("{bank} allows no more accesses today{said}"),
            )
            .retry_at(next_midnight(now)),
            408 => {
                Failure::new(FailureKind::Temporary(TemporaryCause::Timeout), "408", format!("{bank} timed out{said}"))
            }
            _ => Failure::new(
                FailureKind::Temporary(TemporaryCause::Unknown),
                format!("http_{status}"),
                format!("{bank} answered {status} without an error code{said}"),
            ),
        };
    }
    match kind_of_code(&message.code) {
        Some(kind @ FailureKind::Temporary(TemporaryCause::RateLimited)) => Failure::new(
            kind,
            code,
            format!(
                "the {bank} accesses the consent allows without you today are used; they renew at midnight UTC{said}"
            ),
        )
        .retry_at(next_midnight(now)),
        Some(kind) => Failure::new(kind, code, format!("{bank} answered {status}{said}")),
        None => Failure::new(
            FailureKind::Temporary(TemporaryCause::Unknown),
            code,
            format!("{bank} answered {status} with a code the standard does not define{said}"),
        ),
    }
}

/// An answer other than 2xx, classified: the heaviest of its messages (what needs the user first).
pub(crate) fn classify(status: u16, body: &[u8], now: DateTime<Utc>, bank: &str, secret: &str) -> Failure {
    let mut messages = messages(body);
    if messages.is_empty() {
        messages.push(Message { code: String::new(), text: String::new() });
    }
    let mut worst: Option<Failure> = None;
    for message in &messages {
        worst = Some(heavier(worst, classify_message(status, message, now, bank, secret)));
    }
    worst.unwrap_or_else(|| classify_message(status, &messages[0], now, bank, secret))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2017-10-27T10:00:00Z").unwrap().to_utc()
    }

    fn tpp(code: &str) -> Vec<u8> {
        serde_json::json!({"tppMessages": [{"category": "ERROR", "code": code, "text": "said"}]})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn every_ais_code_has_its_kind() {
        use FailureKind::*;
        let table: &[(u16, &str, FailureKind)] = &[
            (400, "FORMAT_ERROR", Config),
            (400, "PARAMETER_NOT_CONSISTENT", Config),
            (400, "PARAMETER_NOT_SUPPORTED", Config),
            (400, "SERVICE_INVALID", Config),
            (400, "RESOURCE_UNKNOWN", Revoked),
            (400, "RESOURCE_EXPIRED", Expired),
            (400, "RESOURCE_BLOCKED", Revoked),
            (400, "TIMESTAMP_INVALID", Config),
            (400, "PERIOD_INVALID", Config),
            (400, "SCA_METHOD_UNKNOWN", Config),
            (400, "SCA_INVALID", InvalidCredentials),
            (400, "CONSENT_UNKNOWN", Revoked),
            (400, "SESSIONS_NOT_SUPPORTED", Config),
            (401, "CERTIFICATE_INVALID", Config),
            (401, "CERTIFICATE_EXPIRED", Config),
            (401, "CERTIFICATE_BLOCKED", Config),
            (401, "CERTIFICATE_REVOKED", Config),
            (401, "CERTIFICATE_MISSING", Config),
            (401, "ROLE_INVALID", Config),
            (401, "SIGNATURE_INVALID", Config),
            (401, "SIGNATURE_MISSING", Config),
            (401, "CORPORATE_ID_INVALID", Config),
            (401, "PSU_CREDENTIALS_INVALID", InvalidCredentials),
            (401, "CONSENT_INVALID", Expired),
            (401, "CONSENT_EXPIRED", Expired),
            (401, "TOKEN_UNKNOWN", Config),
            (401, "TOKEN_INVALID", Config),
            (401, "TOKEN_EXPIRED", Temporary(TemporaryCause::Unknown)),
            (403, "CONSENT_UNKNOWN", Revoked),
            (403, "SERVICE_BLOCKED", Unsupported),
            (403, "RESOURCE_UNKNOWN", Revoked),
            (403, "RESOURCE_EXPIRED", Expired),
            (404, "RESOURCE_UNKNOWN", Revoked),
            (405, "SERVICE_INVALID", Config),
            (406, "REQUESTED_FORMATS_INVALID", Config),
            (409, "STATUS_INVALID", Temporary(TemporaryCause::Unknown)),
            (429, "ACCESS_EXCEEDED", Temporary(TemporaryCause::RateLimited)),
            (500, "INTERNAL_SERVER_ERROR", Temporary(TemporaryCause::ProviderDown)),
            (503, "SERVICE_UNAVAILABLE", Temporary(TemporaryCause::ProviderDown)),
            (400, "SOMETHING_NEW", Temporary(TemporaryCause::Unknown)),
        ];
        for (status, code, kind) in table {
            let failure = classify(*status, &tpp(code), now(), "Bank", "");
            assert_eq!((failure.kind, failure.code.as_str()), (*kind, *code), "{status} {code}");
        }
    }

    #[test]
    fn access_exceeded_retries_at_midnight_utc() {
        let failure = classify(429, &tpp("ACCESS_EXCEEDED"), now(), "Bank", "");
        assert_eq!(failure.retry_at.unwrap().to_rfc3339(), "2017-10-28T00:00:00+00:00");
        let bare = classify(429, b"", now(), "Bank", "");
        assert_eq!((bare.code.as_str(), bare.retry_at), ("429", Some(next_midnight(now()))));
    }

    #[test]
    fn rfc7807_bodies_and_additional_errors_are_read() {
        let body = serde_json::json!({"type": "https://berlin-group.org/problems/consent-expired", "title": "Consent expired",
            "detail": "valid until yesterday", "code": "CONSENT_EXPIRED",
            "additionalErrors": [{"title": "x", "code": "FORMAT_ERROR"}]});
        let read = messages(body.to_string().as_bytes());
        assert_eq!(
            read[0],
            Message { code: "CONSENT_EXPIRED".into(), text: "Consent expired: valid until yesterday".into() }
        );
        // The consent outweighs the format: it needs the user.
        let failure = classify(401, body.to_string().as_bytes(), now(), "Bank", "");
        assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Expired, "CONSENT_EXPIRED"));
        assert!(failure.detail.contains("valid until yesterday"), "{}", failure.detail);
    }

    #[test]
    fn warnings_count_only_without_errors_and_pages_without_codes_go_by_status() {
        let body = br#"{"tppMessages":[{"category":"WARNING","code":"SERVICE_BLOCKED"},{"category":"ERROR","code":"FORMAT_ERROR"}]}"#;
        assert_eq!(classify(400, body, now(), "Bank", "").kind, FailureKind::Config);
        let page = classify(502, b"<html>Bad gateway</html>", now(), "Bank", "");
        assert_eq!((page.kind, page.code.as_str()), (FailureKind::Temporary(TemporaryCause::ProviderDown), "502"));
        assert_eq!(classify(401, b"", now(), "Bank", "").code, "http_401");
    }

    #[test]
    fn the_secret_never_shows() {
        let body =
            br#"{"tppMessages":[{"category":"ERROR","code":"CONSENT_UNKNOWN","text":"consent abc-123 unknown"}]}"#;
        let failure = classify(403, body, now(), "Bank", "abc-123");
        assert!(!failure.detail.contains("abc-123"), "{}", failure.detail);
    }
}
