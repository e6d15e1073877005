//! Setup tokens, claim URLs and access URLs: decoding and the transport rules they must meet.
//!
//! An access URL carries the user's credentials in its userinfo. They are split off here, once, so
//! that every URL the rest of the connector holds (and could put into an error) is credential-free.

use crate::http::check_transport;
pub(crate) use crate::http::host_of;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use reqwest::Url;
use saldo_core::failure::{Failure, FailureKind};
use sha2::{Digest, Sha256};

/// Standard base64, with or without padding: tokens get copied through chat apps and password
/// managers that drop trailing `=`.
const TOKEN_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A usable access URL, its credentials apart.
pub(crate) struct Access {
    /// `…/accounts` under the access URL, without userinfo.
    pub accounts_url: Url,
    /// Host and port, for error details.
    pub host: String,
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access").field("accounts_url", &self.accounts_url.as_str()).field("user", &self.user).finish()
    }
}

fn invalid_token(why: &str) -> Failure {
    Failure::new(
        FailureKind::InvalidCredentials,
        "setup_token_invalid",
        format!("{why}; copy the setup token the SimpleFIN Bridge shows after creating it and paste it whole"),
    )
}

fn invalid_access(why: &str) -> Failure {
    Failure::new(
        FailureKind::InvalidCredentials,
        "access_url_invalid",
        format!("{why}; connect again with a new setup token"),
    )
}

/// The claim URL a setup token holds. Never echoes the token: it is a credential until claimed.
pub(crate) fn claim_url(token: &str, allow_insecure_loopback: bool) -> Result<Url, Failure> {
    let compact: String = token.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err(invalid_token("the setup token is empty"));
    }
    if compact.contains("://") {
        return Err(invalid_token("the text pasted is a URL, not a setup token (a setup token is base64 text)"));
    }
    let bytes = TOKEN_BASE64.decode(compact.as_bytes()).map_err(|_| invalid_token("the setup token is not base64"))?;
    let text = String::from_utf8(bytes).map_err(|_| invalid_token("the setup token does not decode to text"))?;
    let url = Url::parse(text.trim()).map_err(|_| invalid_token("the setup token does not decode to a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid_token("the setup token does not decode to an http(s) URL"));
    }
    check_transport(&url, allow_insecure_loopback, "claim URL")?;
    Ok(url)
}

/// Userinfo is percent-encoded inside a URL; Basic auth wants it as it is.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Splits an access URL (`scheme://user:pass@host/path`) into a credential-free endpoint and the
/// credentials.
pub(crate) fn parse_access(text: &str, allow_insecure_loopback: bool) -> Result<Access, Failure> {
    let mut url = Url::parse(text.trim()).map_err(|_| invalid_access("the access URL is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid_access("the access URL is not an http(s) URL"));
    }
    check_transport(&url, allow_insecure_loopback, "access URL")?;
    let user = percent_decode(url.username()).unwrap_or_default();
    let password = url.password().and_then(percent_decode).unwrap_or_default();
    if user.is_empty() || password.is_empty() {
        return Err(invalid_access("the access URL carries no user name and password"));
    }
    // Clearing userinfo cannot fail for http(s) URLs with a host, checked above.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    let host = host_of(&url);
    let mut accounts_url = url;
    accounts_url
        .path_segments_mut()
        .map_err(|_| invalid_access("the access URL has no path"))?
        .pop_if_empty()
        .push("accounts");
    Ok(Access { accounts_url, host, user, password })
}

/// A stable id for the access the URL grants: the same Bridge user always gets the same id, and
/// the password (which the id would otherwise help to guess at) is not part of it.
pub(crate) fn consent_id(access: &Access) -> String {
    let digest = Sha256::digest(format!("{}\n{}", access.host, access.user).as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("sfin:{hex}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    #[test]
    fn tokens_decode_with_or_without_padding_and_whitespace() {
        let token = STANDARD.encode("https://bridge.example/simplefin/claim/abc");
        let padded = format!("  {token}\n");
        assert_eq!(claim_url(&padded, false).unwrap().as_str(), "https://bridge.example/simplefin/claim/abc");
        let unpadded = token.trim_end_matches('=');
        assert!(claim_url(unpadded, false).is_ok());
    }

    #[test]
    fn bad_tokens_are_refused_without_echoing_them() {
        for token in
            ["", "not base64!", "aHR0cHM6Ly9l\u{0}", &STANDARD.encode("just words"), &STANDARD.encode([0xff, 0xfe])]
        {
            let failure = claim_url(token, false).unwrap_err();
            assert_eq!(failure.code, "setup_token_invalid", "{token:?}");
            assert!(token.is_empty() || !failure.detail.contains(token), "{}", failure.detail);
        }
        let ftp = STANDARD.encode("ftp://bridge.example/claim");
        assert_eq!(claim_url(&ftp, false).unwrap_err().code, "setup_token_invalid");
    }

    #[test]
    fn access_urls_lose_their_credentials() {
        let access = parse_access("https://us%40er:p%3Ass@bridge.example:8443/simplefin/\n", false).unwrap();
        assert_eq!(access.accounts_url.as_str(), "https://bridge.example:8443/simplefin/accounts");
        assert_eq!((access.user.as_str(), access.password.as_str()), ("us@er", "p:ss"));
        assert_eq!(access.host, "bridge.example:8443");
        let id = consent_id(&access);
        assert!(id.starts_with("sfin:") && id.len() == 21, "{id}");
        let other_password = parse_access("https://us%40er:other@bridge.example:8443/simplefin", false).unwrap();
        assert_eq!(consent_id(&other_password), id);
        for bad in ["https://bridge.example/simplefin", "https://user@bridge.example/x", "nonsense"] {
            assert_eq!(parse_access(bad, false).unwrap_err().code, "access_url_invalid", "{bad}");
        }
    }
}
