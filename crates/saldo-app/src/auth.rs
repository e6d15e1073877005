//! Signing in: passwords (argon2id, hashed and checked off the async runtime's threads), sessions
//! and API tokens (random 256-bit tokens of which only the SHA-256 is stored), the install's
//! one-time setup code, and the limits on guessing. Checking a session or token per request is a
//! hash and an indexed read; argon2 runs only at sign-in and password changes.

use crate::ops::{Actor, App, OpsError};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use saldo_core::user::normalize_email;
use saldo_store::{StoredSession, StoredToken};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use uuid::Uuid;

/// The cookie a browser's session travels in.
pub const SESSION_COOKIE: &str = "saldo_session";
/// How API tokens begin, so that they are recognisable (in a leaked file, in redaction).
pub const TOKEN_PREFIX: &str = "saldo_";

/// How long sessions last and who may sign up; from the configuration.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// A session not used for this long ends.
    pub session_idle: TimeDelta,
    /// A session ends this long after sign-in, however much it is used.
    pub session_lifetime: TimeDelta,
    /// Whether anyone who reaches the server may create a user (after the install is claimed).
    pub allow_signup: bool,
}

impl Default for AuthSettings {
    fn default() -> AuthSettings {
        AuthSettings { session_idle: TimeDelta::days(7), session_lifetime: TimeDelta::days(30), allow_signup: false }
    }
}

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    ReadWrite,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::ReadWrite => "read_write",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "read" => Some(Scope::Read),
            "read_write" => Some(Scope::ReadWrite),
            _ => None,
        }
    }
}

/// How a request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A browser's session (its id, not its token).
    Session(Uuid),
    /// An API token.
    Token { id: Uuid, scope: Scope },
}

/// A request's actor and how it signed in.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub actor: Actor,
    pub credential: Credential,
}

impl Authenticated {
    /// Whether the credential allows changing anything.
    pub fn may_write(&self) -> bool {
        !matches!(self.credential, Credential::Token { scope: Scope::Read, .. })
    }

    /// The session the request came with, if it came with one.
    pub fn session(&self) -> Option<Uuid> {
        match self.credential {
            Credential::Session(id) => Some(id),
            Credential::Token { .. } => None,
        }
    }
}

/// A session just begun: its token goes to the browser once and is never stored.
#[derive(Debug)]
pub struct NewSession {
    pub token: String,
    pub session: StoredSession,
}

/// The stored form of a token: its SHA-256, in hex.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// 256 random bits from the operating system, base64url.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    argon2::password_hash::rand_core::RngCore::fill_bytes(&mut OsRng, &mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// argon2id with OWASP's recommended minimum: 19 MiB of memory, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password as a PHC string (its salt and parameters in it).
pub async fn hash_password(password: &str) -> Result<String, OpsError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2().hash_password(password.as_bytes(), &salt).map(|hash| hash.to_string())
    })
    .await
    .map_err(|err| OpsError::Invalid(format!("hashing stopped: {err}")))?
    .map_err(|err| OpsError::Invalid(format!("the password cannot be hashed: {err}")))
}

/// Whether `password` is the one `hash` was made of. Without a hash (an unknown e-mail, a user
/// without a password), a hash of nothing is checked instead, so that the answer takes as long
/// and says nothing of whether the user exists.
async fn verify_password(password: &str, hash: Option<String>) -> bool {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let password = password.to_string();
    let outcome = tokio::task::spawn_blocking(move || {
        let decoy = DECOY.get_or_init(|| {
            let salt = SaltString::generate(&mut OsRng);
            argon2().hash_password(b"", &salt).map(|h| h.to_string()).unwrap_or_default()
        });
        let (stored, real) = match &hash {
            Some(hash) => (hash.as_str(), true),
            None => (decoy.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(stored) else { return false };
        argon2().verify_password(password.as_bytes(), &parsed).is_ok() && real
    })
    .await;
    outcome.unwrap_or(false)
}

/// Failed sign-ins counted per client address and per account, in windows of the app's clock.
#[derive(Debug, Default)]
pub struct SignInLimits {
    windows: Mutex<HashMap<String, (DateTime<Utc>, u32)>>,
}

/// How long a window of failures lasts.
const LIMIT_WINDOW: TimeDelta = TimeDelta::minutes(15);
/// Failures a client address may have in a window (a household behind one router included).
const FAILURES_PER_ADDRESS: u32 = 20;
/// Failures an account may have in a window, from anywhere.
const FAILURES_PER_ACCOUNT: u32 = 5;

impl SignInLimits {
    /// Err with the seconds to wait when `key` has used up its failures.
    fn check(&self, key: &str, limit: u32, now: DateTime<Utc>) -> Result<(), u64> {
        let windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match windows.get(key) {
            Some(&(started, failures)) if failures >= limit && now < started + LIMIT_WINDOW => {
                Err((started + LIMIT_WINDOW - now).num_seconds().max(1) as u64)
            }
            _ => Ok(()),
        }
    }

    fn fail(&self, key: &str, now: DateTime<Utc>) {
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Old windows go, so guessing with many names cannot grow the map for ever.
        if windows.len() > 100_000 {
            windows.retain(|_, (started, _)| now < *started + LIMIT_WINDOW);
        }
        let entry = windows.entry(key.to_string()).or_insert((now, 0));
        if now >= entry.0 + LIMIT_WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }

    fn clear(&self, key: &str) {
        self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(key);
    }

    /// Checks both limits of one attempt.
    pub(crate) fn admit(
        &self,
        address: Option<IpAddr>,
        account: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), OpsError> {
        let address_key = address.map(|a| format!("address {a}"));
        let account_key = account.map(|a| format!("account {a}"));
        let checks = [(address_key, FAILURES_PER_ADDRESS), (account_key, FAILURES_PER_ACCOUNT)];
        for (key, limit) in checks.iter().filter_map(|(key, limit)| key.as_ref().map(|k| (k, *limit))) {
            self.check(key, limit, now).map_err(|retry_after| OpsError::TooManyAttempts { retry_after })?;
        }
        Ok(())
    }

    pub(crate) fn record(&self, address: Option<IpAddr>, account: Option<&str>, succeeded: bool, now: DateTime<Utc>) {
        if let Some(account) = account {
            let key = format!("account {account}");
            if succeeded {
                self.clear(&key)
            } else {
                self.fail(&key, now)
            }
        }
        if let (Some(address), false) = (address, succeeded) {
            self.fail(&format!("address {address}"), now);
        }
    }
}

/// Where a sign-in comes from.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub address: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// Signs a user in with their e-mail and password, beginning a session.
pub async fn sign_in(ctx: &App, email: &str, password: &str, client: &Client) -> Result<NewSession, OpsError> {
    let now = ctx.clock.now();
    let email = normalize_email(email).ok();
    ctx.sign_in_limits.admit(client.address, email.as_deref(), now)?;
    let user = match &email {
        Some(email) => ctx.db.user_by_email(email).await?,
        None => None,
    };
    let hash = match &user {
        Some(user) => ctx.db.password_hash(user.id).await?,
        None => None,
    };
    let matches = verify_password(password, hash).await;
    let now = ctx.clock.now();
    ctx.sign_in_limits.record(client.address, email.as_deref(), matches, now);
    let user = user.filter(|_| matches).ok_or_else(|| OpsError::Unauthenticated("wrong e-mail or password".into()))?;
    begin_session(ctx, user.id, client).await
}

/// Checks a signed-in user's current password (before a change of it), counted as a sign-in.
pub(crate) async fn sign_in_check(
    ctx: &App,
    user: saldo_core::ids::UserId,
    email: &str,
    password: &str,
    address: Option<IpAddr>,
) -> Result<(), OpsError> {
    let now = ctx.clock.now();
    ctx.sign_in_limits.admit(address, Some(email), now)?;
    let matches = verify_password(password, ctx.db.password_hash(user).await?).await;
    ctx.sign_in_limits.record(address, Some(email), matches, ctx.clock.now());
    if matches {
        Ok(())
    } else {
        Err(OpsError::Forbidden("the current password is wrong".into()))
    }
}

/// A new session for a user who just proved who they are.
pub(crate) async fn begin_session(
    ctx: &App,
    user: saldo_core::ids::UserId,
    client: &Client,
) -> Result<NewSession, OpsError> {
    let now = ctx.clock.now();
    let token = random_token();
    let session = StoredSession {
        id: ctx.new_id(),
        user_id: user,
        created_at: now,
        last_seen_at: now,
        expires_at: now + ctx.auth.session_lifetime,
        address: client.address.map(|a| a.to_string()),
        user_agent: client.user_agent.as_ref().map(|agent| agent.chars().take(200).collect()),
    };
    ctx.db.add_session(&session, &hash_token(&token)).await?;
    Ok(NewSession { token, session })
}

/// How stale a session's or token's last use may get before it is written again: a request
/// reads, and writes at most this often.
const TOUCH_AFTER: TimeDelta = TimeDelta::minutes(1);

/// The user a session token belongs to, while the session lasts.
pub async fn authenticate_session(
    ctx: &App,
    token: &str,
    address: Option<IpAddr>,
) -> Result<Option<Authenticated>, OpsError> {
    let Some(session) = ctx.db.session_by_token(&hash_token(token)).await? else { return Ok(None) };
    let now = ctx.clock.now();
    if now >= session.expires_at || now >= session.last_seen_at + ctx.auth.session_idle {
        return Ok(None);
    }
    let Some(user) = ctx.db.user_by_id(session.user_id).await? else { return Ok(None) };
    if now >= session.last_seen_at + TOUCH_AFTER {
        // In the background and best effort: a request never waits for the writer to note it.
        let db = ctx.db.clone();
        tokio::spawn(async move {
            if let Err(err) = db.touch_session(session.id, now).await {
                tracing::debug!(error = %err, "a session's last use was not recorded");
            }
        });
    }
    Ok(Some(Authenticated { actor: Actor { user, address }, credential: Credential::Session(session.id) }))
}

/// The user an API token belongs to, and its scope.
pub async fn authenticate_token(
    ctx: &App,
    token: &str,
    address: Option<IpAddr>,
) -> Result<Option<Authenticated>, OpsError> {
    if !token.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let Some(stored) = ctx.db.token_by_hash(&hash_token(token)).await? else { return Ok(None) };
    let Some(scope) = Scope::parse(&stored.scope) else { return Ok(None) };
    let Some(user) = ctx.db.user_by_id(stored.user_id).await? else { return Ok(None) };
    let now = ctx.clock.now();
    if stored.last_used_at.is_none_or(|used| now >= used + TOUCH_AFTER) {
        let db = ctx.db.clone();
        tokio::spawn(async move {
            if let Err(err) = db.touch_token(stored.id, now).await {
                tracing::debug!(error = %err, "a token's last use was not recorded");
            }
        });
    }
    Ok(Some(Authenticated { actor: Actor { user, address }, credential: Credential::Token { id: stored.id, scope } }))
}

/// Ends the session a request came with (a token has none to end).
pub async fn sign_out(ctx: &App, auth: &Authenticated) -> Result<(), OpsError> {
    if let Some(session) = auth.session() {
        ctx.db.delete_session(auth.actor.user.id, session).await?;
    }
    Ok(())
}

/// The user's sessions, newest first.
pub async fn sessions(ctx: &App, actor: &Actor) -> Result<Vec<StoredSession>, OpsError> {
    let now = ctx.clock.now();
    let idle = ctx.auth.session_idle;
    let sessions = ctx.db.sessions_of(actor.user.id).await?;
    Ok(sessions.into_iter().filter(|s| now < s.expires_at && now < s.last_seen_at + idle).collect())
}

/// Ends one of the user's sessions.
pub async fn end_session(ctx: &App, actor: &Actor, id: &str) -> Result<(), OpsError> {
    let id = parse_id(id, "session")?;
    if !ctx.db.delete_session(actor.user.id, id).await? {
        return Err(OpsError::NotFound(format!("no session with id {id}")));
    }
    Ok(())
}

/// Ends every session of the user (signs out everywhere); returns how many ended.
pub async fn end_all_sessions(ctx: &App, actor: &Actor) -> Result<u64, OpsError> {
    Ok(ctx.db.delete_sessions(actor.user.id, None).await?)
}

/// Ends every session of the user but the one `auth` came with (signs out everywhere else).
pub async fn end_other_sessions(ctx: &App, auth: &Authenticated) -> Result<u64, OpsError> {
    Ok(ctx.db.delete_sessions(auth.actor.user.id, auth.session()).await?)
}

/// A token just made: `token` is shown once and never stored.
#[derive(Debug)]
pub struct NewToken {
    pub token: String,
    pub stored: StoredToken,
}

/// Makes an API token for the user.
pub async fn create_token(ctx: &App, actor: &Actor, name: &str, scope: Scope) -> Result<NewToken, OpsError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(OpsError::Invalid("a token's name must be 1 to 100 characters".into()));
    }
    let token = format!("{TOKEN_PREFIX}{}", random_token());
    let stored = StoredToken {
        id: ctx.new_id(),
        user_id: actor.user.id,
        name: name.to_string(),
        scope: scope.as_str().to_string(),
        created_at: ctx.clock.now(),
        last_used_at: None,
    };
    ctx.db.add_token(&stored, &hash_token(&token)).await?;
    Ok(NewToken { token, stored })
}

pub async fn tokens(ctx: &App, actor: &Actor) -> Result<Vec<StoredToken>, OpsError> {
    Ok(ctx.db.tokens_of(actor.user.id).await?)
}

/// Revokes one of the user's tokens.
pub async fn revoke_token(ctx: &App, actor: &Actor, id: &str) -> Result<(), OpsError> {
    let id = parse_id(id, "token")?;
    if !ctx.db.delete_token(actor.user.id, id).await? {
        return Err(OpsError::NotFound(format!("no token with id {id}")));
    }
    Ok(())
}

pub(crate) fn parse_id(text: &str, what: &str) -> Result<Uuid, OpsError> {
    Uuid::parse_str(text).map_err(|_| OpsError::NotFound(format!("no {what} with id {text}")))
}

/// The one-time code that lets the first person claim an install nobody can sign in to yet.
#[derive(Debug, Default)]
pub struct SetupCode {
    digest: Mutex<Option<String>>,
}

impl SetupCode {
    pub(crate) fn matches(&self, code: &str) -> bool {
        let digest = self.digest.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let given = hash_token(code.trim());
        digest.as_deref().is_some_and(|expected| expected == given)
    }

    pub(crate) fn clear(&self) {
        *self.digest.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

/// When no user can sign in yet, makes the setup code the first sign-up must give, and returns
/// it (for the server to log); otherwise `None`. Each call makes a new code.
pub async fn issue_setup_code(ctx: &App) -> Result<Option<String>, OpsError> {
    if ctx.db.any_password().await? {
        ctx.setup_code.clear();
        return Ok(None);
    }
    let mut bytes = [0u8; 10];
    argon2::password_hash::rand_core::RngCore::fill_bytes(&mut OsRng, &mut bytes);
    // 80 bits in Crockford's base32, grouped for reading off a log.
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut bits: u128 = 0;
    for byte in bytes {
        bits = (bits << 8) | u128::from(byte);
    }
    let chars: String = (0..16).map(|i| ALPHABET[((bits >> (75 - 5 * i)) & 31) as usize] as char).collect();
    let code = format!("{}-{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12], &chars[12..16]);
    *ctx.setup_code.digest.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(hash_token(&code));
    Ok(Some(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_limited_per_account_and_per_address_within_a_window() {
        let limits = SignInLimits::default();
        let now = DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z").unwrap().to_utc();
        let address: Option<IpAddr> = Some("192.0.2.7".parse().unwrap());
        for _ in 0..FAILURES_PER_ACCOUNT {
            limits.admit(address, Some("ana@example.org"), now).unwrap();
            limits.record(address, Some("ana@example.org"), false, now);
        }
        let refused = limits.admit(None, Some("ana@example.org"), now + TimeDelta::minutes(5));
        assert!(matches!(refused, Err(OpsError::TooManyAttempts { retry_after: 600 })), "{refused:?}");
        // Another account from elsewhere is not held up; the window ends.
        limits.admit(None, Some("ben@example.org"), now).unwrap();
        limits.admit(None, Some("ana@example.org"), now + LIMIT_WINDOW).unwrap();
        // An address that tries many accounts is stopped too.
        for n in FAILURES_PER_ACCOUNT..FAILURES_PER_ADDRESS {
            limits.record(address, Some(&format!("user{n}@example.org")), false, now);
        }
        assert!(limits.admit(address, Some("carla@example.org"), now).is_err());
    }

    #[test]
    fn tokens_are_stored_as_their_sha256_only() {
        let token = random_token();
        assert_eq!(token.len(), 43, "256 bits in base64url");
        assert_ne!(random_token(), token);
        assert_eq!(hash_token("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[tokio::test]
    async fn a_password_verifies_against_its_argon2id_hash_only() {
        let hash = hash_password("correct horse battery").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify_password("correct horse battery", Some(hash.clone())).await);
        assert!(!verify_password("correct horse battery!", Some(hash)).await);
        assert!(!verify_password("", None).await, "no hash never matches, not even the decoy's password");
    }
}
