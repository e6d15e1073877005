//! The failure taxonomy: every way a sync can fail, classified once (by the connector) into one
//! kind, with what it means for retries, colour and the user.
//!
//! Temporary kinds are retried by saldo and clear by themselves (orange). Kinds that need the user
//! stop automatic retries and ask for a reconnect (red). A configuration error is the operator's to
//! fix, never the user's: it is retried on the normal schedule and logged for the operator.

use chrono::{DateTime, Utc};
use std::fmt;

/// Why a temporary failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TemporaryCause {
    /// The provider or bank answered with an error or is down.
    ProviderDown,
    /// Announced maintenance at the provider or bank.
    Maintenance,
    /// The connection broke (reset, refused, DNS).
    Network,
    /// The provider did not answer in time.
    Timeout,
    /// The provider's request quota is used up for now.
    RateLimited,
    /// The aggregator between saldo and the bank has an incident.
    AggregatorIncident,
    /// An error the provider did not explain, or a response saldo could not read (a changed
    /// interface): retried, and escalated if it persists.
    Unknown,
}

/// One kind of the taxonomy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureKind {
    Temporary(TemporaryCause),
    /// The bank wants something from the user: strong authentication, new terms, a reconfirmation.
    ActionRequired,
    /// The consent ran out.
    Expired,
    /// The credentials or authorisation were refused.
    InvalidCredentials,
    /// The user, the bank or saldo revoked the consent.
    Revoked,
    /// The institution blocks automated access, or no longer supports this way in.
    Unsupported,
    /// saldo's own setup (keys, certificates, app registration) is wrong: for the operator.
    Config,
}

/// What the user sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    /// Up to date.
    Green,
    /// A temporary problem saldo is retrying.
    Orange,
    /// Needs the user.
    Red,
}

impl Colour {
    pub fn as_str(self) -> &'static str {
        match self {
            Colour::Green => "green",
            Colour::Orange => "orange",
            Colour::Red => "red",
        }
    }
}

impl FailureKind {
    pub const ALL: [FailureKind; 13] = [
        FailureKind::Temporary(TemporaryCause::ProviderDown),
        FailureKind::Temporary(TemporaryCause::Maintenance),
        FailureKind::Temporary(TemporaryCause::Network),
        FailureKind::Temporary(TemporaryCause::Timeout),
        FailureKind::Temporary(TemporaryCause::RateLimited),
        FailureKind::Temporary(TemporaryCause::AggregatorIncident),
        FailureKind::Temporary(TemporaryCause::Unknown),
        FailureKind::ActionRequired,
        FailureKind::Expired,
        FailureKind::InvalidCredentials,
        FailureKind::Revoked,
        FailureKind::Unsupported,
        FailureKind::Config,
    ];

    /// The snake_case name used in the API, the CLI and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Temporary(cause) => match cause {
                TemporaryCause::ProviderDown => "provider_down",
                TemporaryCause::Maintenance => "maintenance",
                TemporaryCause::Network => "network",
                TemporaryCause::Timeout => "timeout",
                TemporaryCause::RateLimited => "rate_limited",
                TemporaryCause::AggregatorIncident => "aggregator_incident",
                TemporaryCause::Unknown => "unknown",
            },
            FailureKind::ActionRequired => "action_required",
            FailureKind::Expired => "expired",
            FailureKind::InvalidCredentials => "invalid_credentials",
            FailureKind::Revoked => "revoked",
            FailureKind::Unsupported => "unsupported",
            FailureKind::Config => "config",
        }
    }

    pub fn parse(name: &str) -> Option<FailureKind> {
        FailureKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    pub fn is_temporary(self) -> bool {
        matches!(self, FailureKind::Temporary(_))
    }

    /// Whether only the user can clear it (by reconnecting): automatic retries stop.
    pub fn needs_user(self) -> bool {
        matches!(
            self,
            FailureKind::ActionRequired
                | FailureKind::Expired
                | FailureKind::InvalidCredentials
                | FailureKind::Revoked
                | FailureKind::Unsupported
        )
    }

    pub fn colour(self) -> Colour {
        if self.needs_user() {
            Colour::Red
        } else {
            Colour::Orange
        }
    }

    /// What happened and what the user should do, in plain language.
    pub fn user_message(self, institution: &str) -> String {
        match self {
            FailureKind::Temporary(TemporaryCause::ProviderDown) => format!(
                "{institution} is not answering right now. saldo retries by itself; nothing to do."
            ),
            FailureKind::Temporary(TemporaryCause::Maintenance) => format!(
                "{institution} is in maintenance. saldo retries when it is back; nothing to do."
            ),
            FailureKind::Temporary(TemporaryCause::Network) => format!(
                "The connection to {institution} broke off. saldo retries by itself; nothing to do."
            ),
            FailureKind::Temporary(TemporaryCause::Timeout) => format!(
                "{institution} took too long to answer. saldo retries by itself; nothing to do."
            ),
            FailureKind::Temporary(TemporaryCause::RateLimited) => format!(
                "{institution} allows only a few updates a day and today's are used. saldo updates again when the limit resets; nothing to do."
            ),
            FailureKind::Temporary(TemporaryCause::AggregatorIncident) => format!(
                "The service that connects saldo to {institution} has an incident. saldo retries by itself; nothing to do."
            ),
            FailureKind::Temporary(TemporaryCause::Unknown) => format!(
                "{institution} sent an answer saldo did not understand. saldo retries by itself; if this lasts a day it is reported."
            ),
            FailureKind::ActionRequired => format!(
                "{institution} needs you to confirm something (a security step or new terms). Reconnect to continue updates."
            ),
            FailureKind::Expired => format!(
                "Your permission for saldo to read {institution} has expired. Reconnect to renew it; your history is kept."
            ),
            FailureKind::InvalidCredentials => format!(
                "{institution} refused the login. Reconnect and sign in again; your history is kept."
            ),
            FailureKind::Revoked => format!(
                "Access to {institution} was withdrawn. Reconnect to give saldo permission again, or disconnect it."
            ),
            FailureKind::Unsupported => format!(
                "{institution} blocks automated access, so saldo cannot update it. Import statements instead, or disconnect it."
            ),
            FailureKind::Config => format!(
                "saldo's connection to {institution} is misconfigured on this server. The administrator has been told; nothing to do."
            ),
        }
    }
}

impl FailureKind {
    /// What is wrong, as one clause without what to do ("Bank X takes too long to answer"), for
    /// texts that say how long it has lasted.
    pub fn cause(self, institution: &str) -> String {
        match self {
            FailureKind::Temporary(TemporaryCause::ProviderDown) => format!("{institution} is not answering"),
            FailureKind::Temporary(TemporaryCause::Maintenance) => format!("{institution} is in maintenance"),
            FailureKind::Temporary(TemporaryCause::Network) => {
                format!("the connection to {institution} keeps breaking off")
            }
            FailureKind::Temporary(TemporaryCause::Timeout) => format!("{institution} takes too long to answer"),
            FailureKind::Temporary(TemporaryCause::RateLimited) => {
                format!("{institution}'s daily allowance of updates is used up")
            }
            FailureKind::Temporary(TemporaryCause::AggregatorIncident) => {
                format!("the service that connects saldo to {institution} has an incident")
            }
            FailureKind::Temporary(TemporaryCause::Unknown) => {
                format!("{institution} sends answers saldo does not understand")
            }
            FailureKind::ActionRequired => format!("{institution} needs you to confirm something"),
            FailureKind::Expired => format!("your permission for saldo to read {institution} has expired"),
            FailureKind::InvalidCredentials => format!("{institution} refuses the login"),
            FailureKind::Revoked => format!("access to {institution} was withdrawn"),
            FailureKind::Unsupported => format!("{institution} blocks automated access"),
            FailureKind::Config => format!("saldo's connection to {institution} is misconfigured on this server"),
        }
    }

    /// What went wrong while the user was connecting (or reconnecting) `institution`, and what to
    /// do: nothing was saved, so nothing is retried by itself and there is no history to keep.
    pub fn connect_message(self, institution: &str) -> String {
        let what = match self {
            FailureKind::Temporary(TemporaryCause::RateLimited) => {
                return format!(
                    "{institution} allows only a few requests a day and today's are used; nothing was saved. \
                     Try again tomorrow."
                )
            }
            FailureKind::Temporary(TemporaryCause::Maintenance) => format!("{institution} is in maintenance"),
            FailureKind::Temporary(TemporaryCause::Timeout) => format!("{institution} took too long to answer"),
            FailureKind::Temporary(TemporaryCause::Network) => format!("the connection to {institution} broke off"),
            FailureKind::Temporary(TemporaryCause::AggregatorIncident) => {
                format!("the service that connects saldo to {institution} has an incident")
            }
            FailureKind::Temporary(TemporaryCause::ProviderDown) => format!("{institution} is not answering"),
            FailureKind::Temporary(TemporaryCause::Unknown) => {
                format!("{institution} sent an answer saldo did not understand")
            }
            FailureKind::InvalidCredentials => {
                return format!(
                    "{institution} did not accept the login or setup token; nothing was saved. Sign in again, \
                     or get a new setup token from {institution} (a token works once)."
                )
            }
            FailureKind::Expired | FailureKind::Revoked => {
                return format!(
                    "the permission at {institution} ended before the connection was made; nothing was saved. \
                     Start again."
                )
            }
            FailureKind::ActionRequired => {
                return format!(
                    "{institution} needs you to confirm something first (a security step or new terms); nothing \
                     was saved. Do that in {institution}'s app or website, then try again."
                )
            }
            FailureKind::Unsupported => {
                return format!(
                    "{institution} blocks automated access, so saldo cannot connect it; nothing was saved. \
                     Import its statement files instead."
                )
            }
            FailureKind::Config => {
                return format!(
                    "saldo's connection to {institution} is misconfigured on this server; nothing was saved. \
                     Ask the administrator."
                )
            }
        };
        format!("{what}; nothing was saved. Try again in a few minutes.")
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A classified failure as a connector reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    /// The provider's own code (`ASPSP_TIMEOUT`, HTTP status, …), for support and logs.
    pub code: String,
    /// The provider's explanation, sanitized; never shown without [`FailureKind::user_message`].
    pub detail: String,
    /// When the provider says to try again (a rate limit's reset).
    pub retry_at: Option<DateTime<Utc>>,
}

impl Failure {
    pub fn new(kind: FailureKind, code: impl Into<String>, detail: impl Into<String>) -> Failure {
        Failure { kind, code: code.into(), detail: detail.into(), retry_at: None }
    }

    pub fn retry_at(mut self, at: DateTime<Utc>) -> Failure {
        self.retry_at = Some(at);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_name_a_colour_and_a_message() {
        let mut names = std::collections::HashSet::new();
        for kind in FailureKind::ALL {
            assert!(names.insert(kind.as_str()), "duplicate name {kind}");
            assert_eq!(FailureKind::parse(kind.as_str()), Some(kind));
            let message = kind.user_message("Bank X");
            assert!(message.contains("Bank X"), "{message}");
            match kind {
                FailureKind::Temporary(_) => {
                    assert_eq!(kind.colour(), Colour::Orange);
                    assert!(!kind.needs_user());
                }
                FailureKind::Config => {
                    assert_eq!(kind.colour(), Colour::Orange, "the operator's problem, not the user's");
                    assert!(message.contains("administrator"));
                }
                _ => {
                    assert_eq!(kind.colour(), Colour::Red);
                    assert!(kind.needs_user());
                    assert!(message.contains("Reconnect") || message.contains("disconnect"), "{message}");
                }
            }
        }
        assert_eq!(FailureKind::parse("nope"), None);
    }

    #[test]
    fn a_failed_connect_says_nothing_was_saved_and_what_to_do() {
        for kind in FailureKind::ALL {
            let message = kind.connect_message("Bank X");
            assert!(message.contains("nothing was saved"), "{message}");
            assert!(!message.contains("retries") && !message.contains("history is kept"), "{message}");
        }
        let token = FailureKind::InvalidCredentials.connect_message("SimpleFIN");
        assert!(token.contains("new setup token"), "{token}");
        assert!(FailureKind::Temporary(TemporaryCause::Timeout).connect_message("B").contains("Try again"));
    }
}
