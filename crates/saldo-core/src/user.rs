//! Users: the people whose net worth saldo computes, each with a base currency, and how they
//! sign in: an e-mail, a role and a password (kept only as its hash, outside this type).

use crate::ids::UserId;
use crate::money::Currency;
use chrono::{DateTime, Utc};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    /// The unique handle saldo keeps the user under: the e-mail of a user added with one, else
    /// the name an install from before sign-in gave its one user (`default`).
    pub name: String,
    /// Where the user signs in with, lower-case; `None` for an install's implicit user until the
    /// install is claimed.
    pub email: Option<String>,
    /// What the user is called on the pages.
    pub display_name: Option<String>,
    pub role: Role,
    /// Net worth is reported in this currency.
    pub base_currency: Currency,
    pub created_at: DateTime<Utc>,
}

impl User {
    /// A new member known by `name`, with no e-mail yet.
    pub fn named(id: UserId, name: &str, base_currency: Currency, created_at: DateTime<Utc>) -> User {
        User {
            id,
            name: name.to_string(),
            email: None,
            display_name: None,
            role: Role::Member,
            base_currency,
            created_at,
        }
    }

    /// How the user is shown: the display name, else the e-mail, else the handle.
    pub fn shown_name(&self) -> &str {
        self.display_name.as_deref().or(self.email.as_deref()).unwrap_or(&self.name)
    }
}

/// What a user may do beyond their own data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Adds and removes the install's other users. The first user is the owner.
    Owner,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Member => "member",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "owner" => Some(Role::Owner),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

/// Why an e-mail address or a password is not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("{0:?} is not an e-mail address: expected name@domain")]
    Email(String),
    #[error("the password is too short: use at least {MIN_PASSWORD_CHARS} characters")]
    PasswordTooShort,
    #[error("the password is too long: use at most {MAX_PASSWORD_BYTES} bytes")]
    PasswordTooLong,
}

/// The shortest password taken (NIST SP 800-63B asks for at least 8).
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest: hashing is the server's work, so its input is bounded.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// An e-mail address as saldo keeps it: trimmed and lower-case, so one person is one user
/// however they type it. Only its shape is checked; saldo sends nothing to it to prove it.
pub fn normalize_email(text: &str) -> Result<String, CredentialError> {
    let email = text.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@')
                && !domain.starts_with('.') && !domain.ends_with('.'));
    if valid {
        Ok(email)
    } else {
        Err(CredentialError::Email(text.to_string()))
    }
}

/// Checks a new password's length; anything else about it is the user's choice.
pub fn check_password(password: &str) -> Result<(), CredentialError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(CredentialError::PasswordTooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(CredentialError::PasswordTooShort);
    }
    Ok(())
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_e_mail_is_one_user_however_it_is_typed() {
        assert_eq!(normalize_email("  Ana.Lopez@Example.ORG ").unwrap(), "ana.lopez@example.org");
        for bad in ["", "ana", "@example.org", "ana@", "ana@@example.org", "ana lopez@example.org", "ana@.org"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_password_is_long_enough_and_bounded() {
        assert_eq!(check_password("short"), Err(CredentialError::PasswordTooShort));
        assert!(check_password("correct horse").is_ok());
        assert!(check_password("ääääääääää").is_ok(), "characters are counted, not bytes");
        assert_eq!(check_password(&"x".repeat(1025)), Err(CredentialError::PasswordTooLong));
    }
}
