//! What every use case shares: the [`App`] it runs in, the [`Actor`] it works for, the [`Settings`]
//! the binary gives, and the typed [`OpsError`] front ends render. The use cases themselves live in
//! the modules named after what they are about (`accounts`, `networth`, `fx`, `connections`,
//! `import`, `sync`, `secrets`); each validates its input, reads the time from the app's clock and
//! writes through the store in one transaction.

use crate::clock::Clock;
use crate::secrets::Keyring;
use crate::sync::{Connectors, EngineSettings, Jitter};
use chrono::NaiveDate;
use saldo_core::fx::FxError;
use saldo_core::ids::UserId;
use saldo_core::money::Currency;
use saldo_core::networth::NetWorthError;
use saldo_core::user::User;
use saldo_store::{Db, StoreError};
use std::sync::Arc;
use uuid::Uuid;

/// What every use case runs with.
#[derive(Debug, Clone)]
pub struct App {
    pub db: Db,
    pub clock: Clock,
    pub settings: Arc<Settings>,
    pub connectors: Connectors,
    pub engine: EngineSettings,
    pub jitter: Jitter,
    /// When set, ids come from this seed (simulations); otherwise from the thread's generator.
    pub id_seed: Option<Arc<std::sync::Mutex<rand::rngs::StdRng>>>,
    /// The keys that seal and open stored secrets.
    pub keyring: Arc<Keyring>,
    /// The address of the actor a use case works for (see [`App::acting_for`]); only use cases
    /// set it.
    pub(crate) psu_ip_address: Option<std::net::IpAddr>,
    /// Sessions' lifetimes and whether sign-up is open.
    pub auth: Arc<crate::auth::AuthSettings>,
    /// Failed sign-ins, per client address and per account.
    pub(crate) sign_in_limits: Arc<crate::auth::SignInLimits>,
    /// The code that claims an install nobody can sign in to yet.
    pub(crate) setup_code: Arc<crate::auth::SetupCode>,
}

/// Who acts: the user a use case works for, and where they are. Every use case a person triggers
/// takes one; none finds "the current user" by itself.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: User,
    /// The client's address (a web request's), which PSD2 banks get as the PSU's address on the
    /// calls the user triggers. `None` for a user at this machine (the command line).
    pub address: Option<std::net::IpAddr>,
}

impl Actor {
    /// A user at this machine.
    pub fn local(user: User) -> Actor {
        Actor { user, address: None }
    }
}

/// What the application is told by whoever runs it (the binary reads it from its configuration).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where providers send a user back after authorisation: `/callback/{connector}` under it.
    pub callback_base: String,
    /// The address users reach saldo at, when one is configured (behind a proxy, say); otherwise
    /// a web request's own `Host` is where the provider sends the browser back.
    pub public_url: Option<String>,
    /// Whom the command line acts for: a user's e-mail (or, for an install from before sign-in,
    /// its user's name); `None` for the install's owner.
    pub local_user: Option<String>,
    /// The base currency given to a user when saldo creates it.
    pub base_currency: Currency,
    /// How long a worker's claim on a connection lasts before another worker may take over.
    pub sync_lease_seconds: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The request itself is wrong; the message says how.
    #[error("{0}")]
    Invalid(String),
    /// One value of the request is wrong: which (a field or parameter name), and how.
    #[error("{message}")]
    InvalidField { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
    /// Something the request names is not there (for this user).
    #[error("{0}")]
    Missing(Missing),
    /// A net worth query whose days do not hold together.
    #[error("{0}")]
    Range(RangeError),
    /// Only a front end that can ask the user itself (a terminal) can connect this institution.
    #[error("{institution} does not authorise through a browser redirect")]
    NotByRedirect { institution: String },
    #[error("{0}")]
    MissingRate(FxError),
    /// The request shows no valid credentials (none, wrong, expired).
    #[error("{0}")]
    Unauthenticated(String),
    /// The actor may not do this (a read-only token writing, a member managing users).
    #[error("{0}")]
    Forbidden(String),
    /// What the request would create exists already (an e-mail taken).
    #[error("{0}")]
    Conflict(String),
    /// Too many failed sign-ins: the next may come after `retry_after` seconds.
    #[error("too many failed attempts: try again in {retry_after} s")]
    TooManyAttempts { retry_after: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a request named that is not there. Front ends add where to find the real ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Missing {
    #[error("no account named {0:?}")]
    Account(String),
    #[error("no institution {0:?}")]
    Institution(String),
    #[error("no connection with id {0}")]
    Connection(String),
    #[error("no item {name:?} in connection {connection}")]
    Item { name: String, connection: String },
    #[error("no authorisation {0:?} under way (it may have expired)")]
    Authorization(String),
}

/// Why the days of a net worth query do not hold together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("a first or last day is only for the daily history")]
    WithoutHistory,
    #[error("the history would start on {from}, after its last day {to}")]
    FromAfterTo { from: NaiveDate, to: NaiveDate },
}

impl From<NetWorthError> for OpsError {
    fn from(err: NetWorthError) -> OpsError {
        match err {
            NetWorthError::Fx(missing @ FxError::MissingRate { .. }) => OpsError::MissingRate(missing),
            other => OpsError::Invalid(other.to_string()),
        }
    }
}

impl App {
    /// An application on an open, migrated database, with the connectors it offers.
    pub fn new(db: Db, clock: Clock, connectors: Connectors, keyring: Arc<Keyring>, settings: Settings) -> App {
        let mut engine = EngineSettings::default();
        engine.policy.lease = chrono::TimeDelta::seconds(settings.sync_lease_seconds.min(86_400) as i64);
        let jitter = Jitter::seeded(rand::random());
        App {
            db,
            clock,
            settings: Arc::new(settings),
            connectors,
            engine,
            jitter,
            id_seed: None,
            keyring,
            psu_ip_address: None,
            auth: Arc::new(crate::auth::AuthSettings::default()),
            sign_in_limits: Arc::default(),
            setup_code: Arc::default(),
        }
    }

    /// This application acting for `actor`: the calls to providers it triggers carry the actor's
    /// address as the PSU's.
    pub(crate) fn acting_for(&self, actor: &Actor) -> App {
        App { psu_ip_address: actor.address, ..self.clone() }
    }

    /// A fresh id, time-ordered by the context's clock (UUIDv7). The random part comes from a
    /// thread-local generator: asking the OS for each id cost a system call per row.
    pub fn new_id(&self) -> Uuid {
        let millis = u64::try_from(self.clock.now().timestamp_millis()).unwrap_or(0);
        let random: [u8; 10] = match &self.id_seed {
            Some(rng) => rand::Rng::random(&mut *rng.lock().unwrap_or_else(|p| p.into_inner())),
            None => rand::random(),
        };
        uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
    }

    /// Whom the command line acts for (`Settings::local_user`): the user with that e-mail (or
    /// name), else the install's owner. An install nobody has used yet gets its owner here, with
    /// the configured base currency and no e-mail until someone claims it.
    pub async fn local_user(&self) -> Result<User, OpsError> {
        if let Some(wanted) = &self.settings.local_user {
            let by_email = match saldo_core::user::normalize_email(wanted) {
                Ok(email) => self.db.user_by_email(&email).await?,
                Err(_) => None,
            };
            return match by_email {
                Some(user) => Ok(user),
                None => self.db.user_by_name(wanted).await?.ok_or_else(|| {
                    OpsError::NotFound(format!("no user {wanted:?}: `saldo user list` shows who there is"))
                }),
            };
        }
        if let Some(owner) = self.db.owner().await? {
            return Ok(owner);
        }
        let mut candidate =
            User::named(UserId(self.new_id()), "default", self.settings.base_currency, self.clock.now());
        candidate.role = saldo_core::user::Role::Owner;
        Ok(self.db.ensure_user(&candidate).await?)
    }
}

/// The last day saldo handles; dates are stored as ISO text, which sorts right only for 4-digit years.
pub const LAST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(day) => day,
    None => panic!("9999-12-31 is a date"),
};

/// Parses a `YYYY-MM-DD` date with a 4-digit year, naming the field when it is not one.
pub fn parse_date(text: &str, field: &str) -> Result<NaiveDate, OpsError> {
    let text = text.trim();
    let is_iso = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().filter(|_| is_iso).ok_or_else(|| OpsError::InvalidField {
        field: field.to_string(),
        message: format!("invalid date {text:?} for {field}: expected YYYY-MM-DD"),
    })
}
