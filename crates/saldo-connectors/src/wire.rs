//! What every connector does with a provider's answers: provider text made safe to show, decimals
//! that arrive as strings, errors that name the field that was wrong, and which of two failures
//! weighs more.

use rust_decimal::Decimal;
use saldo_core::failure::{Failure, FailureKind, TemporaryCause};
use serde::de::{Deserializer, Error as _};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// The longest provider text put into a failure's detail.
pub(crate) const MAX_MESSAGE_CHARS: usize = 200;

/// Provider text made safe to show: control characters and runs of whitespace become one space,
/// at most [`MAX_MESSAGE_CHARS`] characters, and the given secret never appears.
pub(crate) fn clean(text: &str, secret: &str) -> String {
    let mut text = text.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()).fold(
        String::new(),
        |mut out, word| {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
            out
        },
    );
    if !secret.is_empty() {
        text = text.replace(secret, "<redacted>");
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        text = text.chars().take(MAX_MESSAGE_CHARS - 1).collect::<String>() + "…";
    }
    text
}

pub(crate) fn unreadable(detail: impl Into<String>) -> Failure {
    Failure::new(FailureKind::Temporary(TemporaryCause::Unknown), "unreadable_response", detail)
}

/// How much a failure outweighs another when an account has several: what needs the user first,
/// then the operator's, then what clears by itself.
fn severity(failure: &Failure) -> u8 {
    if failure.kind.needs_user() {
        3
    } else if failure.kind == FailureKind::Config {
        2
    } else {
        1
    }
}

/// Keeps the heavier of two failures; the earlier one on a tie.
pub(crate) fn heavier(current: Option<Failure>, new: Failure) -> Failure {
    match current {
        Some(current) if severity(&current) >= severity(&new) => current,
        _ => new,
    }
}

pub(crate) fn record(failures: &mut HashMap<String, Failure>, account: &str, failure: Failure) {
    let current = failures.remove(account);
    failures.insert(account.to_string(), heavier(current, failure));
}

/// A decimal given as a string (as the protocol says) or, tolerated, as a JSON number.
pub(crate) fn decimal<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    let text = match Value::deserialize(deserializer)? {
        Value::String(text) => text,
        Value::Number(number) => number.to_string(),
        other => return Err(D::Error::custom(format!("expected a decimal string, found {}", kind_of(&other)))),
    };
    let trimmed = text.trim();
    Decimal::from_str_exact(trimmed)
        .or_else(|_| Decimal::from_scientific(trimmed))
        .map_err(|_| D::Error::custom(format!("expected a decimal number, found {:?}", clean(trimmed, ""))))
}

pub(crate) fn optional_decimal<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Decimal>, D::Error> {
    #[derive(Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "decimal")] Decimal);
    Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|Wrapped(d)| d))
}

pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn path_error<E: std::fmt::Display>(prefix: &str, error: serde_path_to_error::Error<E>) -> String {
    let path = error.path().to_string();
    let inner = error.into_inner().to_string();
    // serde_json appends a position that means nothing once the body was parsed into a Value.
    let inner = inner.split(" at line ").next().unwrap_or_default().to_string();
    if path == "." || path.is_empty() {
        format!("{prefix}: {inner}")
    } else {
        format!("{prefix}.{path}: {inner}")
    }
}

/// Reads a JSON body into `T`, naming the field that was wrong; `what` names the document in the
/// failure ("GoCardless's account list").
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8], what: &str, secret: &str) -> Result<T, Failure> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        if e.inner().is_syntax() || e.inner().is_eof() {
            let excerpt = clean(&String::from_utf8_lossy(&body[..body.len().min(400)]), secret);
            unreadable(format!("{what} is not JSON ({}); it begins {excerpt:?}", e.inner()))
        } else {
            unreadable(format!("{what} is unreadable: {}", path_error("answer", e)))
        }
    })
}

/// Present, non-blank text, trimmed.
pub(crate) fn present(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// Lines of remittance text as one line; `None` when all are blank.
pub(crate) fn joined(lines: &[String]) -> Option<String> {
    let text = lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

/// A connector's in-memory caches and budgets. Each update of them is one insert, remove or
/// assignment, so they stay consistent even after a holder panicked: the poison is ignored.
pub(crate) fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// An identifier shortened to its last four characters, as a name: "•••• 1234".
pub(crate) fn masked_tail(identifier: &str) -> String {
    let chars: Vec<char> = identifier.chars().filter(|c| c.is_alphanumeric()).collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("•••• {tail}")
}
