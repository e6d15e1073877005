//! A value that must never be shown: a provider's access URL, token, refresh token or key.
//!
//! `Debug` prints a placeholder and there is no `Display`, so a secret cannot reach a log line, an
//! error message or `config check` by accident; code that needs the value asks for it by name.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that sends it to the provider or encrypts it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A secret as stored: encrypted and authenticated (saldo's `secrets` module seals and opens it),
/// written as text. Opaque here: the domain never sees inside.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(pub String);

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed({} chars)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("https://user:pass@bridge.example/simplefin");
        let shown = format!("{secret:?} {:?}", Some(&secret));
        assert!(!shown.contains("pass"), "{shown}");
        assert_eq!(secret.expose(), "https://user:pass@bridge.example/simplefin");
    }
}
