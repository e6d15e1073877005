//! Connectors: saldo's code for each provider protocol, behind one [`Connector`] trait.
//!
//! Invariants: every failure a connector returns is already classified into the taxonomy
//! (`saldo_core::failure::Failure`); connectors never touch the database; and the interface is
//! read-only by construction: there is no operation that moves money.

pub mod berlin_group;
pub mod enable_banking;
pub mod gocardless;
pub mod http;
pub mod sandbox;
pub mod simplefin;
pub(crate) mod wire;
pub(crate) mod xs2a;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use saldo_core::failure::Failure;
pub use saldo_core::secret::Secret;

/// What a call knows about its circumstances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallContext {
    /// The engine's clock: a virtual one in simulations.
    pub now: DateTime<Utc>,
    /// The user triggered this call (PSD2: PSU present; does not count as unattended access).
    pub user_present: bool,
    /// The user's IP address on a user-triggered call, for the PSU headers of PSD2 APIs; `None`
    /// on unattended calls.
    pub psu_ip_address: Option<std::net::IpAddr>,
}

impl CallContext {
    /// An unattended call (a scheduled sync).
    pub fn unattended(now: DateTime<Utc>) -> CallContext {
        CallContext { now, user_present: false, psu_ip_address: None }
    }
}

/// How a user authorises access at an institution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A consent page at the bank; it returns to saldo's callback.
    Redirect,
    /// Approve in an app on another device (BankID); saldo polls.
    Decoupled,
    /// A token the user pastes (SimpleFIN).
    SetupToken,
}

/// An institution as a connector lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstitutionInfo {
    /// The provider's id; unique per connector.
    pub id: String,
    pub name: String,
    pub country: Option<String>,
    pub bic: Option<String>,
    pub auth_method: AuthMethod,
    /// Days of transaction history the institution gives.
    pub max_history_days: u32,
    /// Longest consent it grants.
    pub max_consent_days: u32,
    /// Unattended accesses allowed per day; `None` when unlimited.
    pub accesses_per_day: Option<u32>,
    /// What the sandbox institution is for; empty for real ones.
    pub description: String,
    /// The institution's logo (https), when the provider has one.
    pub logo_url: Option<String>,
}

/// A request to start authorising saldo at an institution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    pub institution_id: String,
    /// A stable key for the user's link to this institution (saldo's connection id), so that
    /// reconnecting yields the same accounts.
    pub user_key: String,
    /// Where the provider sends the user back.
    pub redirect_url: String,
    /// Opaque value the callback must carry back.
    pub state: String,
    /// What the connector asked, when it began, to be handed back at completion (see
    /// [`AuthStart::Redirect`]); saldo keeps it with the pending authorisation, so another process
    /// can complete it.
    pub resume: Option<String>,
}

/// What the user must do to authorise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthStart {
    /// Open this URL; the provider redirects to the request's `redirect_url` with `state` and a code.
    /// `resume` is what the connector needs at completion that the redirect will not carry (a
    /// consent id the bank minted after the redirect URL was fixed).
    Redirect { url: String, resume: Option<String> },
    /// Approve in the app; then complete with [`AuthAnswer::Decoupled`].
    Decoupled { reference: String, instructions: String },
    /// Paste a setup token.
    SetupToken { instructions: String },
}

/// The user's answer that completes an authorisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthAnswer {
    /// The query parameters of the redirect back to saldo.
    Callback {
        params: Vec<(String, String)>,
    },
    Decoupled {
        reference: String,
    },
    SetupToken {
        token: String,
    },
}

impl AuthAnswer {
    /// A redirect's query parameters, for a provider (`what`: "GoCardless") that completes by
    /// redirect only; any other answer is saldo's mistake, the operator's to see.
    pub fn redirect_params(&self, what: &str) -> Result<RedirectParams<'_>, Failure> {
        match self {
            AuthAnswer::Callback { params } => Ok(RedirectParams(params)),
            _ => Err(Failure::new(
                saldo_core::failure::FailureKind::Config,
                "unsupported_answer",
                format!("{what} is authorised through the bank's redirect only"),
            )),
        }
    }
}

/// The query parameters of a redirect back to saldo.
#[derive(Debug, Clone, Copy)]
pub struct RedirectParams<'a>(&'a [(String, String)]);

impl<'a> RedirectParams<'a> {
    /// The first value of a parameter.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// What the user granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub id: String,
    pub institution_id: String,
    pub granted_at: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    /// Read-only scopes: `accounts`, `balances`, `transactions`, `holdings`.
    pub scope: Vec<String>,
    pub max_history_days: u32,
    pub accesses_per_day: Option<u32>,
    /// What the connector needs to use the consent later (an access URL, a token); saldo stores
    /// it encrypted and hands it back with the consent.
    pub secret: Option<Secret>,
}

/// An account, card, loan or position the provider shows.
pub use saldo_core::item::DiscoveredItem;

/// What a fetch brings: shared with saldo's core, which decides what of it a sync stores.
pub use saldo_core::ingest::{FetchedHolding, FetchedTransaction, ItemData};

/// A provider protocol. Read-only: listing, authorising, reading and revoking; nothing else.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The connector's name (`sandbox`, `simplefin`, …).
    fn name(&self) -> &'static str;

    /// Whether the provider counts the accesses the user asks for (a forced sync, the discovery
    /// while authorising) against the daily limit. PSD2 limits only unattended access; providers
    /// that follow it learn which calls are the user's from the PSU headers saldo sends then.
    /// Counted unless a connector knows better: a sync refused for a limit the provider does not
    /// apply costs the user less than a 429 from one that does.
    fn counts_user_access(&self) -> bool {
        true
    }

    /// Days every fetch reaches back at least, because the provider charges a fetch the same
    /// whatever its window: bookings that appear late under an older date (a card payment abroad,
    /// a hotel's final charge) are caught without a pending row to point at them. The engine
    /// reaches further back when an account holds older pending transactions, and never beyond
    /// the consent's history.
    fn free_lookback_days(&self) -> u32 {
        0
    }

    async fn institutions(&self, ctx: CallContext) -> Result<Vec<InstitutionInfo>, Failure>;

    async fn begin_authorization(&self, request: &AuthRequest, ctx: CallContext) -> Result<AuthStart, Failure>;

    async fn complete_authorization(
        &self,
        request: &AuthRequest,
        answer: &AuthAnswer,
        ctx: CallContext,
    ) -> Result<Consent, Failure>;

    /// The items the consent currently reaches.
    async fn discover(&self, consent: &Consent, ctx: CallContext) -> Result<Vec<DiscoveredItem>, Failure>;

    /// One item's balance, holdings and transactions booked on or after `since`.
    async fn fetch(
        &self,
        consent: &Consent,
        provider_item_id: &str,
        since: NaiveDate,
        ctx: CallContext,
    ) -> Result<ItemData, Failure>;

    /// Ends the consent at the provider.
    async fn revoke(&self, consent: &Consent, ctx: CallContext) -> Result<(), Failure>;
}
