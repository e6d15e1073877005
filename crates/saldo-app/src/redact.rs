//! Credentials out of what providers say. A provider's error page, or a proxy's in front of it,
//! may repeat the request it got — its `Authorization` header, the access URL with its password —
//! and its text becomes a failure's detail: stored with the sync run, logged, shown to the user.
//! Every failure a connector returns passes through [`credentials`] first.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;

const REDACTED: &str = "<redacted>";

/// Words after which the next word is a credential.
const SCHEMES: [&str; 4] = ["basic", "bearer", "token", "digest"];

/// Query and form keys whose value is a credential.
const SECRET_KEYS: [&str; 11] = [
    "password",
    "pass",
    "pwd",
    "secret",
    "token",
    "access_token",
    "refresh_token",
    "setup_token",
    "api_key",
    "apikey",
    "client_secret",
];

/// `text` with every credential it may carry replaced: values after `Basic`/`Bearer`, the user
/// information of URLs, the values of secret query keys, base64 that decodes to `user:password`
/// (or to a URL), and long opaque tokens. UUIDs and plain words are kept, so a detail still
/// names what failed.
pub fn credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_scheme = false;
    for piece in text.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end();
        let gap = &piece[word.len()..];
        let core = word.trim_matches(|c: char| {
            matches!(c, '"' | '\'' | ',' | ';' | '(' | ')' | '[' | ']' | '{' | '}' | '<' | '>')
        });
        let redacted = if (after_scheme && !core.is_empty()) || is_secret(core) {
            Some(word.replace(core, REDACTED))
        } else {
            redact_inside(word)
        };
        after_scheme = SCHEMES.iter().any(|s| core.eq_ignore_ascii_case(s))
            || core.to_ascii_lowercase().ends_with("authorization:");
        out.push_str(redacted.as_deref().unwrap_or(word));
        out.push_str(gap);
    }
    out
}

/// A word that is a credential whole: base64 of `user:password` or of a URL (a SimpleFIN setup
/// token), or a long opaque token.
fn is_secret(core: &str) -> bool {
    if core.len() < 12
        || !core.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_' | '.'))
    {
        return false;
    }
    let decoded = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(core).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok());
    if decoded.is_some_and(|text| text.contains(':') && !text.chars().any(char::is_control)) {
        return true;
    }
    let opaque = core.len() >= 32
        && core.chars().any(|c| c.is_ascii_digit())
        && core.chars().any(|c| c.is_ascii_alphabetic())
        && !is_uuid(core);
    opaque
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A word with a credential inside: a URL's user information, or a secret query value.
fn redact_inside(word: &str) -> Option<String> {
    let mut changed = false;
    let mut text = word.to_string();
    if let Some(scheme_end) = text.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = text[rest_start..].find(['/', '?', '#']).map_or(text.len(), |i| rest_start + i);
        if let Some(at) = text[rest_start..authority_end].rfind('@') {
            text.replace_range(rest_start..rest_start + at, REDACTED);
            changed = true;
        }
    }
    let mut rebuilt = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(eq) = rest.find('=') {
        let key_start = rest[..eq].rfind(['?', '&', ';', ' ', '"', '\'']).map_or(0, |i| i + 1);
        let key = &rest[key_start..eq];
        let value_end = rest[eq + 1..].find(['&', ';', ' ', '"', '\'', '#']).map_or(rest.len(), |i| eq + 1 + i);
        rebuilt.push_str(&rest[..=eq]);
        if SECRET_KEYS.iter().any(|k| key.eq_ignore_ascii_case(k)) && value_end > eq + 1 {
            rebuilt.push_str(REDACTED);
            changed = true;
        } else {
            rebuilt.push_str(&rest[eq + 1..value_end]);
        }
        rest = &rest[value_end..];
    }
    rebuilt.push_str(rest);
    changed.then_some(rebuilt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_credential_goes_and_the_rest_stays() {
        let basic = STANDARD.encode("demo:s3cret-pass");
        let setup_token = STANDARD.encode("https://bridge.example/simplefin/claim/ab12cd34");
        let echoed = format!(
            "Bad gateway. Request headers: Authorization: Basic {basic}\nx-request-id: \
             0b9c1e3a-5f1d-4c2b-9a7e-2d4f6b8c0e1a; url https://demo:s3cret-pass@bridge.example/simplefin/accounts?\
             start-date=17&access_token=eyJhbGciOi.J9x1y2z3w4 token {setup_token} Authorization: Bearer \
             eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc123def456ghi789"
        );
        let clean = credentials(&echoed);
        for secret in ["s3cret-pass", basic.as_str(), setup_token.as_str(), "eyJhbGciOi", "ab12cd34"] {
            assert!(!clean.contains(secret), "{secret} in {clean}");
        }
        for kept in [
            "Bad gateway.",
            "0b9c1e3a-5f1d-4c2b-9a7e-2d4f6b8c0e1a",
            "bridge.example/simplefin/accounts",
            "start-date=17",
        ] {
            assert!(clean.contains(kept), "{kept} lost from {clean}");
        }
        assert_eq!(credentials("Bank is in maintenance until 14:00"), "Bank is in maintenance until 14:00");
    }
}
