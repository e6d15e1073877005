//! SimpleFIN: the protocol of the SimpleFIN Bridge (US and Canadian banks through one paid account
//! the user holds at the Bridge).
//!
//! The user creates a setup token at the Bridge; saldo claims it once (a `POST` to the URL the
//! token encodes) and gets an access URL with credentials in it, which saldo keeps as the
//! consent's secret. Reading is one `GET {access}/accounts` for every account at once, with HTTP
//! Basic auth and a window of at most 90 days.
//!
//! The Bridge expects about 24 requests a day per access URL, so one sync must cost one request:
//! `discover` reads the last week for every account and keeps the answer for ten minutes, and each
//! `fetch` of that sync is served from it (asking only for an older span it does not cover).
//! Failures come in band as often as by status: HTTP 200 with data for some accounts and errors
//! for others is normal, and each account then gets its own failure (see [`response`]).

mod access;
mod response;

use crate::http::{next_midnight, Client, Transport};
use crate::wire::{clean, heavier, locked, record};
use crate::{
    AuthAnswer, AuthMethod, AuthRequest, AuthStart, CallContext, Connector, Consent, DiscoveredItem, InstitutionInfo,
    ItemData,
};
use access::Access;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use response::Answer;
use saldo_core::failure::{Failure, FailureKind, TemporaryCause};
use saldo_core::secret::Secret;
use saldo_core::transaction::TransactionStatus;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The one institution this connector lists: the Bridge, behind which the user links their banks.
pub const INSTITUTION_ID: &str = "simplefin-bridge";
/// The longest window one request may ask for; the Bridge silently caps longer ones.
pub const MAX_WINDOW_DAYS: i64 = 90;
/// Requests per access URL and day the Bridge expects.
pub const DAILY_REQUESTS: u32 = 24;
/// The Bridge's access has no end date of its own (it lasts until the user revokes it).
const CONSENT_DAYS: i64 = 3650;
/// What `discover` reads: enough for a sync that follows a day's gap, within the one request.
const DISCOVER_DAYS: i64 = 7;
/// How long an answer serves the `fetch`es that follow the `discover` of a sync.
const CACHE_MINUTES: i64 = 10;

/// How the connector reaches the Bridge.
pub type SimpleFinSettings = Transport;

/// One consent's last answers and the window they cover.
struct Snapshot {
    fetched_at: DateTime<Utc>,
    start: NaiveDate,
    end: NaiveDate,
    answer: Answer,
}

impl Snapshot {
    fn fresh_for(&self, now: DateTime<Utc>) -> bool {
        let age = now - self.fetched_at;
        age >= TimeDelta::zero() && age < TimeDelta::minutes(CACHE_MINUTES) && self.end > now.date_naive()
    }

    /// Adds the answer for an older window: its transactions (the Bridge's ids are unique within
    /// an account, so pending ones sent again are recognised) and its failures, which matter as
    /// much as today's (missing data in the older span must stop saldo from moving past it).
    fn merge_older(&mut self, older: Snapshot) {
        for account in older.answer.accounts {
            let Some(known) = self.answer.accounts.iter_mut().find(|a| a.id == account.id) else { continue };
            for transaction in account.transactions {
                let seen = transaction.provider_id.is_some()
                    && known.transactions.iter().any(|t| t.provider_id == transaction.provider_id);
                if !seen {
                    known.transactions.push(transaction);
                }
            }
        }
        for (id, failure) in older.answer.failures {
            record(&mut self.answer.failures, &id, failure);
        }
        self.start = self.start.min(older.start);
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Snapshot>>>;

/// The SimpleFIN connector.
pub struct SimpleFin {
    http: Client,
    /// Per consent id: the last answer. Held across the request, so concurrent fetches of one
    /// consent wait for one request instead of each making their own.
    cache: Mutex<HashMap<String, Slot>>,
    /// Per consent id: the UTC day and the requests made on it.
    budget: Mutex<HashMap<String, (NaiveDate, u32)>>,
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

/// Consecutive windows of at most [`MAX_WINDOW_DAYS`] covering `[start, end)`, newest first, so a
/// budget that runs out mid-way has spent itself on the recent past.
fn windows(start: NaiveDate, end: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut upper = end;
    while upper > start {
        let lower = upper.checked_sub_signed(TimeDelta::days(MAX_WINDOW_DAYS)).unwrap_or(start).max(start);
        out.push((lower, upper));
        upper = lower;
    }
    out
}

impl SimpleFin {
    pub fn new(settings: SimpleFinSettings) -> SimpleFin {
        SimpleFin { http: Client::new(settings), cache: Mutex::new(HashMap::new()), budget: Mutex::new(HashMap::new()) }
    }

    fn info() -> InstitutionInfo {
        InstitutionInfo {
            id: INSTITUTION_ID.into(),
            name: "SimpleFIN Bridge".into(),
            country: Some("US".into()),
            bic: None,
            auth_method: AuthMethod::SetupToken,
            max_history_days: MAX_WINDOW_DAYS as u32,
            max_consent_days: CONSENT_DAYS as u32,
            accesses_per_day: Some(DAILY_REQUESTS),
            description: "US and Canadian banks through your own SimpleFIN Bridge account, linked with a setup token."
                .into(),
            logo_url: None,
        }
    }

    fn check_institution(id: &str) -> Result<(), Failure> {
        if id == INSTITUTION_ID {
            Ok(())
        } else {
            Err(Failure::new(
                FailureKind::Unsupported,
                "unknown_institution",
                format!("SimpleFIN has one institution, {INSTITUTION_ID:?}, not {:?}", clean(id, "")),
            ))
        }
    }

    fn access(&self, consent: &Consent) -> Result<Access, Failure> {
        let secret = consent.secret.as_ref().ok_or_else(|| {
            Failure::new(
                FailureKind::InvalidCredentials,
                "access_url_missing",
                "saldo holds no access URL for this SimpleFIN connection; connect again with a new setup token",
            )
        })?;
        access::parse_access(secret.expose(), self.http.transport.allow_insecure_loopback)
    }

    fn slot(&self, consent_id: &str) -> Slot {
        locked(&self.cache).entry(consent_id.to_string()).or_default().clone()
    }

    /// Forgets answers no sync can still use, so the cache holds only the syncs in progress. A
    /// slot someone holds stays: handing one out happens under the same lock, so none is lost.
    fn prune(&self, now: DateTime<Utc>) {
        locked(&self.cache).retain(|_, slot| {
            Arc::strong_count(slot) > 1
                || slot.try_lock().map(|snapshot| snapshot.as_ref().is_some_and(|s| s.fresh_for(now))).unwrap_or(true)
        });
    }

    /// Counts one request against the consent's day, or refuses it when the day's are used.
    fn spend(&self, consent_id: &str, now: DateTime<Utc>) -> Result<(), Failure> {
        let today = now.date_naive();
        let mut budget = locked(&self.budget);
        budget.retain(|_, (day, _)| *day >= today - TimeDelta::days(1));
        let entry = budget.entry(consent_id.to_string()).or_insert((today, 0));
        if entry.0 != today {
            *entry = (today, 0);
        }
        if entry.1 >= DAILY_REQUESTS {
            let refill = next_midnight(now);
            return Err(Failure::new(
                FailureKind::Temporary(TemporaryCause::RateLimited),
                "daily_budget_used",
                format!(
                    "the {DAILY_REQUESTS} requests the SimpleFIN Bridge allows a day are used; the budget refills at {}",
                    refill.format("%Y-%m-%d %H:%M UTC")
                ),
            )
            .retry_at(refill));
        }
        entry.1 += 1;
        Ok(())
    }

    /// Claims a setup token: the one `POST` that turns it into an access URL (returned as the
    /// Bridge sent it, and read).
    async fn claim(&self, token: &str) -> Result<(String, Access), Failure> {
        let claim_url = access::claim_url(token, self.http.transport.allow_insecure_loopback)?;
        let host = access::host_of(&claim_url);
        let response = self
            .http
            .get()?
            .post(claim_url)
            .header(reqwest::header::CONTENT_LENGTH, "0")
            .send()
            .await
            .map_err(|e| self.http.failure(e, &host))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.http.failure(e, &host))?;
        match status.as_u16() {
            200..=299 => {
                let text = String::from_utf8_lossy(&body).trim().to_string();
                let access = access::parse_access(&text, self.http.transport.allow_insecure_loopback).map_err(
                    |mut failure| {
                        // The token is spent: the Bridge will not answer it again.
                        if failure.code == "access_url_invalid" {
                            failure.detail = format!("the Bridge's answer to the claim: {}", failure.detail);
                        }
                        failure
                    },
                )?;
                Ok((text, access))
            }
            403 => Err(Failure::new(
                FailureKind::Revoked,
                "setup_token_claimed",
                "this setup token was already used. If you did not use it yourself, someone else may hold access \
                 to your accounts: revoke that access at the SimpleFIN Bridge, then create a new setup token",
            )),
            404 => Err(Failure::new(
                FailureKind::InvalidCredentials,
                "setup_token_invalid",
                format!("{host} does not know this setup token; create a new one at the SimpleFIN Bridge"),
            )),
            _ => Err(status_failure(status, &body, "")),
        }
    }

    /// One `GET /accounts` for `[start, end)` (at most [`MAX_WINDOW_DAYS`]).
    async fn request(
        &self,
        access: &Access,
        consent_id: &str,
        start: NaiveDate,
        end: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Snapshot, Failure> {
        let client = self.http.get()?;
        self.spend(consent_id, now)?;
        let mut url = access.accounts_url.clone();
        url.query_pairs_mut()
            .append_pair("start-date", &midnight(start).timestamp().to_string())
            .append_pair("end-date", &midnight(end).timestamp().to_string())
            .append_pair("pending", "1");
        let response = client
            .get(url)
            .basic_auth(&access.user, Some(&access.password))
            .send()
            .await
            .map_err(|e| self.http.failure(e, &access.host))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.http.failure(e, &access.host))?;
        if !status.is_success() {
            return Err(status_failure(status, &body, &access.password));
        }
        let answer = response::read(&body, now.date_naive(), &access.password)?;
        Ok(Snapshot { fetched_at: now, start, end, answer })
    }

    /// Reads `[start, end)` in as many windows as it takes, newest first.
    async fn download(
        &self,
        access: &Access,
        consent_id: &str,
        start: NaiveDate,
        end: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Snapshot, Failure> {
        let mut snapshot: Option<Snapshot> = None;
        for (lower, upper) in windows(start, end) {
            let part = self.request(access, consent_id, lower, upper, now).await?;
            match &mut snapshot {
                None => snapshot = Some(part),
                Some(newer) => newer.merge_older(part),
            }
        }
        snapshot.ok_or_else(|| {
            Failure::new(FailureKind::Config, "empty_window", format!("saldo asked for no days ({start} to {end})"))
        })
    }
}

/// A Bridge answer other than 2xx.
fn status_failure(status: reqwest::StatusCode, body: &[u8], secret: &str) -> Failure {
    let code = status.as_u16();
    // The Bridge's JSON errors are user-facing text worth passing on; its HTML pages are not.
    let said = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("errors").and_then(|e| e.as_array()).cloned())
        .map(|errors| errors.iter().filter_map(|e| e.as_str()).map(|e| clean(e, secret)).collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .map(|s| format!(" (the Bridge says: {s})"))
        .unwrap_or_default();
    match code {
        402 => Failure::new(
            FailureKind::ActionRequired,
            "payment_required",
            format!("the SimpleFIN Bridge subscription must be paid before it gives data again{said}"),
        ),
        401 | 403 => Failure::new(
            FailureKind::Revoked,
            "access_revoked",
            format!(
                "the SimpleFIN Bridge refused saldo's access ({code}): it was revoked at the Bridge or is no \
                 longer valid; connect again with a new setup token{said}"
            ),
        ),
        429 => Failure::new(
            FailureKind::Temporary(TemporaryCause::RateLimited),
            "429",
            format!("the SimpleFIN Bridge says too many requests; its quota refills through the day{said}"),
        ),
        500..=599 => Failure::new(
            FailureKind::Temporary(TemporaryCause::ProviderDown),
            code.to_string(),
            format!("the SimpleFIN Bridge answered {status}{said}"),
        ),
        400 => Failure::new(
            FailureKind::Config,
            "400",
            format!("the SimpleFIN Bridge refused saldo's request as malformed{said}"),
        ),
        _ => Failure::new(
            FailureKind::Temporary(TemporaryCause::Unknown),
            format!("http_{code}"),
            format!("the SimpleFIN Bridge answered {status}, which the protocol does not describe{said}"),
        ),
    }
}

#[async_trait]
impl Connector for SimpleFin {
    fn name(&self) -> &'static str {
        "simplefin"
    }

    fn counts_user_access(&self) -> bool {
        // The Bridge limits requests per access token and day, whoever asks.
        true
    }

    fn free_lookback_days(&self) -> u32 {
        // The Bridge answers any window up to 90 days in one request.
        30
    }

    async fn institutions(&self, _ctx: CallContext) -> Result<Vec<InstitutionInfo>, Failure> {
        Ok(vec![SimpleFin::info()])
    }

    async fn begin_authorization(&self, request: &AuthRequest, _ctx: CallContext) -> Result<AuthStart, Failure> {
        SimpleFin::check_institution(&request.institution_id)?;
        Ok(AuthStart::SetupToken {
            instructions: "Sign in at the SimpleFIN Bridge (bridge.simplefin.org), link your banks there, then create \
                           a setup token for saldo and paste it here. A setup token works once; keep it private \
                           until then."
                .into(),
        })
    }

    async fn complete_authorization(
        &self,
        request: &AuthRequest,
        answer: &AuthAnswer,
        ctx: CallContext,
    ) -> Result<Consent, Failure> {
        SimpleFin::check_institution(&request.institution_id)?;
        let AuthAnswer::SetupToken { token } = answer else {
            return Err(Failure::new(
                FailureKind::Config,
                "unsupported_answer",
                "SimpleFIN is authorised with a setup token only",
            ));
        };
        let (access_url, access) = self.claim(token).await?;
        let info = SimpleFin::info();
        Ok(Consent {
            id: access::consent_id(&access),
            institution_id: INSTITUTION_ID.into(),
            granted_at: ctx.now,
            valid_until: ctx.now + TimeDelta::days(CONSENT_DAYS),
            scope: vec!["accounts".into(), "balances".into(), "transactions".into(), "holdings".into()],
            max_history_days: info.max_history_days,
            accesses_per_day: info.accesses_per_day,
            secret: Some(Secret::new(access_url)),
        })
    }

    async fn discover(&self, consent: &Consent, ctx: CallContext) -> Result<Vec<DiscoveredItem>, Failure> {
        let access = self.access(consent)?;
        self.prune(ctx.now);
        let slot = self.slot(&consent.id);
        let mut cached = slot.lock().await;
        *cached = None;
        let today = ctx.now.date_naive();
        let snapshot = self
            .download(&access, &consent.id, today - TimeDelta::days(DISCOVER_DAYS), today + TimeDelta::days(1), ctx.now)
            .await?;
        let answer = &snapshot.answer;
        let items: Vec<DiscoveredItem> = answer
            .accounts
            .iter()
            .map(|account| DiscoveredItem {
                provider_item_id: account.id.clone(),
                kind: account.kind,
                name: account.name.clone(),
                iban: None,
                account_number: None,
                masked_number: None,
                owner_name: None,
                currency: account.currency,
                current_value: account.balance,
            })
            .collect();
        let all_failed = !answer.accounts.is_empty()
            && answer.accounts.iter().all(|account| answer.failures.contains_key(&account.id));
        let failure = all_failed
            .then(|| {
                answer
                    .accounts
                    .iter()
                    .filter_map(|account| answer.failures.get(&account.id).cloned())
                    .reduce(|a, b| heavier(Some(a), b))
            })
            .flatten();
        *cached = Some(snapshot);
        match failure {
            Some(failure) => Err(failure),
            None => Ok(items),
        }
    }

    async fn fetch(
        &self,
        consent: &Consent,
        provider_item_id: &str,
        since: NaiveDate,
        ctx: CallContext,
    ) -> Result<ItemData, Failure> {
        let access = self.access(consent)?;
        let slot = self.slot(&consent.id);
        let mut cached = slot.lock().await;
        let today = ctx.now.date_naive();
        let since = since.min(today);
        match cached.as_mut() {
            Some(snapshot) if snapshot.fresh_for(ctx.now) => {
                // An account that already failed in this sync fails without spending requests.
                if since < snapshot.start && !snapshot.answer.failures.contains_key(provider_item_id) {
                    let older = self.download(&access, &consent.id, since, snapshot.start, ctx.now).await?;
                    snapshot.merge_older(older);
                }
            }
            _ => {
                *cached = None;
                let snapshot = self.download(&access, &consent.id, since, today + TimeDelta::days(1), ctx.now).await?;
                *cached = Some(snapshot);
            }
        }
        let Some(snapshot) = cached.as_ref() else {
            return Err(Failure::new(FailureKind::Temporary(TemporaryCause::Unknown), "no_answer", "no answer kept"));
        };
        if let Some(failure) = snapshot.answer.failures.get(provider_item_id) {
            return Err(failure.clone());
        }
        let account = snapshot.answer.accounts.iter().find(|a| a.id == provider_item_id).ok_or_else(|| {
            Failure::new(
                FailureKind::Revoked,
                "account_missing",
                "the SimpleFIN Bridge no longer lists this account; if the bank was removed and added again at \
                 the Bridge, its accounts got new ids",
            )
        })?;
        Ok(ItemData {
            balance: account.balance,
            holdings: account.holdings.clone(),
            transactions: account
                .transactions
                .iter()
                .filter(|t| t.status == TransactionStatus::Pending || t.booking_date >= since)
                .cloned()
                .collect(),
        })
    }

    /// The protocol has no revoke call: the user removes saldo at the Bridge. Forgetting the
    /// access URL is saldo's part, done by the caller.
    async fn revoke(&self, consent: &Consent, _ctx: CallContext) -> Result<(), Failure> {
        locked(&self.cache).remove(&consent.id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn windows_are_consecutive_and_never_longer_than_90_days() {
        let end = d(2024, 1, 17);
        let start = end - TimeDelta::days(201);
        let parts = windows(start, end);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], (end - TimeDelta::days(90), end));
        assert_eq!(parts[2].0, start);
        for pair in parts.windows(2) {
            assert_eq!(pair[0].0, pair[1].1);
        }
        assert!(parts.iter().all(|(a, b)| (*b - *a).num_days() <= 90 && a < b));
        assert!(windows(end, end).is_empty());
        assert_eq!(windows(end - TimeDelta::days(90), end).len(), 1);
        let first = NaiveDate::MIN + TimeDelta::days(3);
        assert_eq!(windows(NaiveDate::MIN, first), [(NaiveDate::MIN, first)]);
    }

    #[test]
    fn statuses_map_to_the_taxonomy() {
        let kind = |code: u16| status_failure(reqwest::StatusCode::from_u16(code).unwrap(), b"", "").kind;
        assert_eq!(kind(402), FailureKind::ActionRequired);
        assert_eq!(kind(403), FailureKind::Revoked);
        assert_eq!(kind(429), FailureKind::Temporary(TemporaryCause::RateLimited));
        assert_eq!(kind(503), FailureKind::Temporary(TemporaryCause::ProviderDown));
        assert_eq!(kind(400), FailureKind::Config);
        assert_eq!(kind(418), FailureKind::Temporary(TemporaryCause::Unknown));
        let paid = status_failure(reqwest::StatusCode::PAYMENT_REQUIRED, br#"{"errors":["Payment required."]}"#, "");
        assert!(paid.detail.contains("Payment required."), "{}", paid.detail);
    }
}
