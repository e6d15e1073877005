//! GoCardless Bank Account Data (formerly Nordigen): EU/EEA/UK banks' PSD2 account data through
//! one aggregator, with the operator's own secret id and key.
//!
//! Authorising is GoCardless's three steps: an end user agreement (how much history, for how
//! long, which scopes), a requisition (the user's link to one bank, with saldo's callback and a
//! reference), and the bank's consent page behind the requisition's `link`. The bank sends the
//! user back to `redirect?ref=<reference>` (plus `error=…` when it failed), and saldo finds the
//! requisition again by that reference, so completing works in another process than beginning.
//! The consent's id is the requisition id; it needs no secret of its own (the operator's secret
//! pair reaches every requisition of the company).
//!
//! Reading is per account and scope (`details`, `balances`, `transactions`), each limited to 4
//! successful calls a day. The connector reads the limits GoCardless reports in its headers and
//! refuses a call locally once a budget is used, reads details at most once a day per account,
//! and follows GoCardless's advice on failures: after two in a row it checks the account's
//! status first and leaves an account in `ERROR` alone for six hours, so that retries never get
//! the account suspended.

mod accounts;
mod api;
mod errors;
mod limits;

use crate::http::{base_url, endpoint, host_of, Answer, Client, Transport};
use crate::wire::{locked, parse_json, present, unreadable};
use crate::{
    AuthAnswer, AuthMethod, AuthRequest, AuthStart, CallContext, Connector, Consent, DiscoveredItem, InstitutionInfo,
    ItemData,
};
use api::{AccountMeta, Agreement, Details, Institution, Page, Requisition};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use errors::{classify, redirect_error, requisition_usable, Endpoint, ErrorBody, RateHeaders};
use limits::{Limits, Scope, ERROR_PAUSE_HOURS, FAILURES_BEFORE_CHECK};
use reqwest::{Method, Url};
use saldo_core::failure::{Failure, FailureKind, TemporaryCause};
use saldo_core::secret::Secret;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Mutex;

/// GoCardless's API since the Nordigen hosts were switched off (February 2024).
pub const DEFAULT_BASE_URL: &str = "https://bankaccountdata.gocardless.com/api/v2/";
/// Successful calls per account, scope and day GoCardless allows (since March 2025).
pub const ACCESSES_PER_DAY: u32 = 4;
/// History and access length when an institution does not say.
const DEFAULT_DAYS: u32 = 90;
/// The longest access the EEA rules allow since 2023.
const MAX_CONSENT_DAYS: u32 = 180;
/// Tokens are renewed this long before they run out, so none expires in flight.
const ACCESS_MARGIN: TimeDelta = TimeDelta::minutes(5);
const REFRESH_MARGIN: TimeDelta = TimeDelta::hours(1);
/// Pages of `requisitions/` read at most while looking for a reference.
const MAX_PAGES: usize = 200;

/// How the connector reaches GoCardless, from saldo's configuration.
#[derive(Debug, Clone)]
pub struct GoCardlessSettings {
    /// Normally [`DEFAULT_BASE_URL`].
    pub base_url: String,
    pub secret_id: Secret,
    pub secret_key: Secret,
    /// ISO 3166 alpha-2 codes of the countries whose institutions are listed; empty = all.
    pub countries: Vec<String>,
    pub transport: Transport,
}

/// The access token and the refresh token that renews it, with when each runs out.
struct Tokens {
    access: Secret,
    access_until: DateTime<Utc>,
    refresh: Secret,
    refresh_until: DateTime<Utc>,
}

/// The GoCardless connector.
pub struct GoCardless {
    http: Client,
    base: Result<Url, Failure>,
    host: String,
    secret_id: Secret,
    secret_key: Secret,
    countries: Vec<String>,
    /// Held across the token request, so concurrent calls wait for one new token.
    tokens: tokio::sync::Mutex<Option<Tokens>>,
    /// The tokens in use, to scrub from any text a failure shows.
    token_texts: Mutex<Vec<String>>,
    limits: Mutex<Limits>,
}

impl std::fmt::Debug for GoCardless {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoCardless").field("host", &self.host).field("countries", &self.countries).finish()
    }
}

fn days(n: u32) -> TimeDelta {
    TimeDelta::days(i64::from(n))
}

/// `now` plus a lifetime GoCardless gave in seconds, within reason (a token for at most a year),
/// so that no answer can overflow the clock.
fn after_seconds(now: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    now.checked_add_signed(TimeDelta::seconds(seconds.clamp(0, 366 * 86_400))).unwrap_or(now)
}

/// The first day of a transactions window: `since`, but not before the history the consent
/// gives nor after today (GoCardless refuses dates in the future).
fn window_start(since: NaiveDate, today: NaiveDate, max_history_days: u32) -> NaiveDate {
    let earliest = today.checked_sub_signed(days(max_history_days.max(1) - 1)).unwrap_or(NaiveDate::MIN);
    since.max(earliest).min(today)
}

fn history_days(institution: &Institution) -> u32 {
    let days = institution.transaction_total_days.filter(|d| *d > 0).unwrap_or(DEFAULT_DAYS);
    if institution.separate_continuous_history_consent {
        days.min(DEFAULT_DAYS)
    } else {
        days
    }
}

fn consent_days(institution: &Institution) -> u32 {
    institution.max_access_valid_for_days.filter(|d| *d > 0).unwrap_or(DEFAULT_DAYS).min(MAX_CONSENT_DAYS)
}

fn info(institution: &Institution, country: Option<&str>) -> InstitutionInfo {
    // The country asked for when the institution serves it, else the first it names.
    let country = country
        .filter(|c| institution.countries.iter().any(|x| x.eq_ignore_ascii_case(c)))
        .map(str::to_string)
        .or_else(|| institution.countries.first().cloned());
    InstitutionInfo {
        id: institution.id.clone(),
        name: institution.name.clone(),
        country,
        bic: present(&institution.bic).map(str::to_string),
        auth_method: AuthMethod::Redirect,
        max_history_days: history_days(institution),
        max_consent_days: consent_days(institution),
        accesses_per_day: Some(ACCESSES_PER_DAY),
        description: String::new(),
        logo_url: present(&institution.logo).map(str::to_string),
    }
}

/// An IBAN as saldo compares them: no spaces, upper case.
fn normalized_iban(text: &Option<String>) -> Option<String> {
    present(text).map(|t| t.split_whitespace().collect::<String>().to_ascii_uppercase())
}

/// A 401 that is about saldo's access token (not an account's consent): renew and retry once.
fn token_refused(answer: &Answer) -> bool {
    answer.status.as_u16() == 401
        && ErrorBody::read(&answer.body)
            .is_some_and(|e| e.kind.is_none() && e.text().to_ascii_lowercase().contains("token"))
}

fn group_of(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Token => "token",
        Endpoint::Institution => "institutions",
        Endpoint::Agreement | Endpoint::Requisition => "requisitions",
        Endpoint::Account => "accounts",
    }
}

impl GoCardless {
    pub fn new(settings: GoCardlessSettings) -> GoCardless {
        let base = base_url(&settings.base_url, settings.transport.allow_insecure_loopback, "GoCardless base URL");
        let host = base.as_ref().map(host_of).unwrap_or_else(|_| "GoCardless".into());
        GoCardless {
            http: Client::new(settings.transport),
            base,
            host,
            secret_id: settings.secret_id,
            secret_key: settings.secret_key,
            countries: settings.countries,
            tokens: tokio::sync::Mutex::new(None),
            token_texts: Mutex::new(Vec::new()),
            limits: Mutex::new(Limits::default()),
        }
    }

    fn url(&self, segments: &[&str]) -> Result<Url, Failure> {
        Ok(endpoint(self.base.as_ref().map_err(Clone::clone)?, segments))
    }

    /// A failure for a non-2xx answer, with every credential scrubbed from its text.
    fn failure(&self, answer: &Answer, endpoint: Endpoint, now: DateTime<Utc>) -> Failure {
        let tokens = locked(&self.token_texts).clone();
        let mut secrets = vec![self.secret_id.expose(), self.secret_key.expose()];
        secrets.extend(tokens.iter().map(String::as_str));
        classify(answer.status.as_u16(), &answer.body, &RateHeaders::read(answer), endpoint, now, &secrets)
    }

    fn read<T: DeserializeOwned>(&self, answer: &Answer, what: &str) -> Result<T, Failure> {
        parse_json(&answer.body, what, self.secret_key.expose())
    }

    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        bearer: Option<&Secret>,
    ) -> Result<Answer, Failure> {
        let client = self.http.get()?;
        self.http.check(&url, "GoCardless URL")?;
        let mut request = client.request(method, url).header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = bearer {
            request = request.bearer_auth(token.expose());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        self.http.send(request, &self.host).await
    }

    /// One `token/` call: the answer, or `None` when GoCardless refused what was sent (401).
    async fn token_call<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Value,
        now: DateTime<Utc>,
    ) -> Result<Option<T>, Failure> {
        locked(&self.limits).check_api("token", now)?;
        let answer = self.send(Method::POST, self.url(&["token", path, ""])?, Some(&body), None).await?;
        locked(&self.limits).record_api("token", RateHeaders::read(&answer).api, now);
        if answer.status.is_success() {
            // Never quoted in a failure: a half-readable answer may still hold a token.
            return serde_json::from_slice(&answer.body)
                .map(Some)
                .map_err(|_| unreadable("GoCardless's token answer is unreadable"));
        }
        if answer.status.as_u16() == 401 && path == "refresh" {
            return Ok(None);
        }
        Err(self.failure(&answer, Endpoint::Token, now))
    }

    /// A valid access token: the one held, else renewed with the refresh token, else a new pair.
    async fn bearer(&self, now: DateTime<Utc>) -> Result<Secret, Failure> {
        let mut tokens = self.tokens.lock().await;
        if let Some(held) = tokens.as_ref() {
            if held.access_until > now + ACCESS_MARGIN {
                return Ok(held.access.clone());
            }
        }
        if let Some(held) = tokens.as_mut() {
            if held.refresh_until > now + REFRESH_MARGIN {
                let body = serde_json::to_value(api::RefreshToken { refresh: held.refresh.expose() })
                    .map_err(|e| unreadable(e.to_string()))?;
                if let Some(renewed) = self.token_call::<api::Refreshed>("refresh", body, now).await? {
                    held.access = Secret::new(renewed.access);
                    held.access_until = after_seconds(now, renewed.access_expires);
                    *locked(&self.token_texts) = vec![held.access.expose().into(), held.refresh.expose().into()];
                    return Ok(held.access.clone());
                }
            }
        }
        let body = serde_json::to_value(api::NewToken {
            secret_id: self.secret_id.expose(),
            secret_key: self.secret_key.expose(),
        })
        .map_err(|e| unreadable(e.to_string()))?;
        let pair = self.token_call::<api::TokenPair>("new", body, now).await?.ok_or_else(|| {
            Failure::new(FailureKind::Config, "secrets_refused", "GoCardless refused the secret id/key")
        })?;
        let fresh = Tokens {
            access: Secret::new(pair.access),
            access_until: after_seconds(now, pair.access_expires),
            refresh: Secret::new(pair.refresh),
            refresh_until: after_seconds(now, pair.refresh_expires),
        };
        *locked(&self.token_texts) = vec![fresh.access.expose().into(), fresh.refresh.expose().into()];
        let access = fresh.access.clone();
        *tokens = Some(fresh);
        Ok(access)
    }

    /// The held access token was refused: the next call renews it.
    async fn forget_access(&self, refused: &Secret) {
        if let Some(held) = self.tokens.lock().await.as_mut() {
            if held.access == *refused {
                held.access_until = DateTime::<Utc>::MIN_UTC;
            }
        }
    }

    /// An authenticated call, within the company's API budget, renewing a refused token once.
    async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
        endpoint: Endpoint,
        now: DateTime<Utc>,
    ) -> Result<Answer, Failure> {
        let group = group_of(endpoint);
        locked(&self.limits).check_api(group, now)?;
        let mut renewed = false;
        loop {
            let token = self.bearer(now).await?;
            let answer = self.send(method.clone(), url.clone(), body.as_ref(), Some(&token)).await?;
            locked(&self.limits).record_api(group, RateHeaders::read(&answer).api, now);
            if !renewed && token_refused(&answer) {
                self.forget_access(&token).await;
                renewed = true;
                continue;
            }
            return Ok(answer);
        }
    }

    /// An authenticated call whose 2xx answer is read as `T`.
    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
        endpoint: Endpoint,
        what: &str,
        now: DateTime<Utc>,
    ) -> Result<T, Failure> {
        let answer = self.call(method, url, body, endpoint, now).await?;
        if !answer.status.is_success() {
            return Err(self.failure(&answer, endpoint, now));
        }
        self.read(&answer, what)
    }

    async fn account_meta(&self, account: &str, now: DateTime<Utc>) -> Result<AccountMeta, Failure> {
        let url = self.url(&["accounts", account, ""])?;
        self.json(Method::GET, url, None, Endpoint::Account, "GoCardless's account metadata", now).await
    }

    /// Before calling an account that failed twice in a row: what its status says.
    async fn guard(&self, account: &str, now: DateTime<Utc>) -> Result<(), Failure> {
        let (paused, failures) = {
            let limits = locked(&self.limits);
            (limits.paused_until(account, now), limits.failures(account))
        };
        let paused_failure = |until: DateTime<Utc>| {
            Failure::new(
                FailureKind::Temporary(TemporaryCause::Unknown),
                "ERROR",
                format!(
                    "GoCardless reports this account in error after repeated failures; saldo leaves it alone until {} \
                     so that it is not suspended",
                    until.format("%Y-%m-%d %H:%M UTC")
                ),
            )
            .retry_at(until)
        };
        if let Some(until) = paused {
            return Err(paused_failure(until));
        }
        if failures < FAILURES_BEFORE_CHECK {
            return Ok(());
        }
        let meta = self.account_meta(account, now).await?;
        match meta.status.as_deref().map(str::trim) {
            Some("ERROR") => {
                let until = now + TimeDelta::hours(ERROR_PAUSE_HOURS);
                locked(&self.limits).pause(account, until);
                Err(paused_failure(until))
            }
            Some("SUSPENDED") => Err(Failure::new(
                FailureKind::Expired,
                "SUSPENDED",
                "GoCardless: the account was suspended after repeated failures; reconnect to read it again",
            )),
            Some("EXPIRED") => Err(Failure::new(
                FailureKind::Expired,
                "EXPIRED",
                "the access to this account has expired; reconnect to continue",
            )),
            _ => Ok(()),
        }
    }

    /// A call of an account's data in one scope: the suspension rule and the daily budget first
    /// (refused locally, without a request, when used), then the call, whose limits are recorded.
    async fn account_call(&self, account: &str, scope: Scope, url: Url, now: DateTime<Utc>) -> Result<Answer, Failure> {
        self.guard(account, now).await?;
        locked(&self.limits).check_account(account, scope, now)?;
        let answer = self.call(Method::GET, url, None, Endpoint::Account, now).await?;
        let headers = RateHeaders::read(&answer);
        {
            let mut limits = locked(&self.limits);
            limits.record_account(account, scope, headers.account, now);
            if answer.status.is_success() {
                limits.succeeded(account);
                return Ok(answer);
            }
            // Rate limits and a bank that is down do not count toward suspension (GoCardless's
            // table); everything else does.
            if !matches!(answer.status.as_u16(), 429 | 503) {
                limits.failed(account);
            }
        }
        Err(self.failure(&answer, Endpoint::Account, now))
    }

    /// The account's details: today's if read already, else read (once a day); `None` when they
    /// cannot be had right now (rate-limited or a passing error), so that discovery degrades to
    /// the metadata instead of failing.
    async fn details(&self, account: &str, now: DateTime<Utc>) -> Result<Option<Details>, Failure> {
        let today = now.date_naive();
        if let Some(details) = locked(&self.limits).details_of_today(account, today) {
            return Ok(Some(details));
        }
        let url = self.url(&["accounts", account, "details", ""])?;
        match self.account_call(account, Scope::Details, url, now).await {
            Ok(answer) => {
                let read: api::DetailsAnswer = self.read(&answer, "GoCardless's account details")?;
                locked(&self.limits).keep_details(account, today, read.account.clone());
                Ok(Some(read.account))
            }
            Err(failure) if failure.kind.is_temporary() => Ok(None),
            Err(failure) => Err(failure),
        }
    }

    async fn balances(&self, account: &str, now: DateTime<Utc>) -> Result<Vec<crate::xs2a::Balance>, Failure> {
        let url = self.url(&["accounts", account, "balances", ""])?;
        let answer = self.account_call(account, Scope::Balances, url, now).await?;
        let read: api::BalancesAnswer = self.read(&answer, "GoCardless's balances")?;
        Ok(read.balances)
    }

    /// The next page's URL, only when it stays on GoCardless's API (the bearer token goes there).
    fn next_page(&self, next: &str) -> Result<Url, Failure> {
        let base = self.base.as_ref().map_err(Clone::clone)?;
        let url = Url::parse(next)
            .ok()
            .filter(|u| u.origin() == base.origin() && u.path().starts_with(base.path()))
            .ok_or_else(|| unreadable("GoCardless's requisition list points its next page outside its API"))?;
        Ok(url)
    }

    /// The newest requisition with this reference (at this institution), through every page.
    async fn find_requisition(
        &self,
        reference: &str,
        institution: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Requisition>, Failure> {
        let mut url = self.url(&["requisitions", ""])?;
        url.query_pairs_mut().append_pair("limit", "100").append_pair("offset", "0");
        let mut seen = HashSet::new();
        let mut best: Option<Requisition> = None;
        for _ in 0..MAX_PAGES {
            seen.insert(url.to_string());
            let page: Page<Requisition> = self
                .json(Method::GET, url.clone(), None, Endpoint::Requisition, "GoCardless's requisition list", now)
                .await?;
            for requisition in page.results {
                let matches = requisition.reference.as_deref() == Some(reference)
                    && requisition.institution_id.as_deref().is_none_or(|i| institution.is_empty() || i == institution);
                if matches && best.as_ref().is_none_or(|b| b.created <= requisition.created) {
                    best = Some(requisition);
                }
            }
            match page.next.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
                Some(next) => {
                    url = self.next_page(next)?;
                    if seen.contains(url.as_str()) {
                        break;
                    }
                }
                None => break,
            }
        }
        Ok(best)
    }

    fn consent(
        requisition: &Requisition,
        agreement: Option<&Agreement>,
        institution: &str,
        now: DateTime<Utc>,
    ) -> Consent {
        let granted_at = agreement
            .and_then(|a| a.accepted.as_deref())
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now);
        let valid_days = agreement.and_then(|a| a.access_valid_for_days).filter(|d| *d > 0).unwrap_or(DEFAULT_DAYS);
        let history = agreement.and_then(|a| a.max_historical_days).filter(|d| *d > 0).unwrap_or(DEFAULT_DAYS);
        let scopes = agreement
            .and_then(|a| a.access_scope.clone())
            .unwrap_or_else(|| vec!["balances".into(), "details".into(), "transactions".into()]);
        let mut scope: Vec<String> = scopes
            .iter()
            .filter_map(|s| match s.as_str() {
                "details" => Some("accounts"),
                "balances" => Some("balances"),
                "transactions" => Some("transactions"),
                _ => None,
            })
            .map(str::to_string)
            .collect();
        scope.sort_by_key(|s| ["accounts", "balances", "transactions"].iter().position(|x| x == s));
        Consent {
            id: requisition.id.clone(),
            institution_id: requisition.institution_id.clone().unwrap_or_else(|| institution.to_string()),
            granted_at,
            valid_until: granted_at.checked_add_signed(days(valid_days)).unwrap_or(DateTime::<Utc>::MAX_UTC),
            scope,
            max_history_days: history,
            accesses_per_day: Some(ACCESSES_PER_DAY),
            secret: None,
        }
    }
}

#[async_trait]
impl Connector for GoCardless {
    fn name(&self) -> &'static str {
        "gocardless"
    }

    fn counts_user_access(&self) -> bool {
        // GoCardless counts every call against an account's daily limit, the user's too (its rate
        // limit headers go down on each).
        true
    }

    fn free_lookback_days(&self) -> u32 {
        // GoCardless counts each transactions call against the account's daily limit, whatever its
        // `date_from`.
        30
    }

    async fn institutions(&self, ctx: CallContext) -> Result<Vec<InstitutionInfo>, Failure> {
        let mut countries: Vec<Option<String>> = Vec::new();
        for country in &self.countries {
            let code = country.trim().to_ascii_uppercase();
            if code.len() != 2 || !code.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(Failure::new(
                    FailureKind::Config,
                    "country_invalid",
                    format!(
                        "{:?} in the GoCardless countries is not an ISO 3166 two-letter code",
                        crate::wire::clean(country, "")
                    ),
                ));
            }
            countries.push(Some(code));
        }
        if countries.is_empty() {
            countries.push(None);
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for country in countries {
            let mut url = self.url(&["institutions", ""])?;
            if let Some(code) = &country {
                url.query_pairs_mut().append_pair("country", code);
            }
            let list: Vec<Institution> = self
                .json(Method::GET, url, None, Endpoint::Institution, "GoCardless's institution list", ctx.now)
                .await?;
            for institution in &list {
                if seen.insert(institution.id.clone()) {
                    out.push(info(institution, country.as_deref()));
                }
            }
        }
        Ok(out)
    }

    async fn begin_authorization(&self, request: &AuthRequest, ctx: CallContext) -> Result<AuthStart, Failure> {
        if request.redirect_url.trim().is_empty() {
            return Err(Failure::new(
                FailureKind::Config,
                "redirect_missing",
                "saldo has no callback URL to give GoCardless; set the server's public URL",
            ));
        }
        let url = self.url(&["institutions", &request.institution_id, ""])?;
        let institution: Institution =
            self.json(Method::GET, url, None, Endpoint::Institution, "GoCardless's institution", ctx.now).await?;
        let agreement = serde_json::to_value(api::NewAgreement {
            institution_id: &institution.id,
            max_historical_days: history_days(&institution),
            access_valid_for_days: consent_days(&institution),
            access_scope: ["balances", "details", "transactions"],
        })
        .map_err(|e| unreadable(e.to_string()))?;
        let url = self.url(&["agreements", "enduser", ""])?;
        let agreement: Agreement = self
            .json(
                Method::POST,
                url,
                Some(agreement),
                Endpoint::Agreement,
                "GoCardless's new end user agreement",
                ctx.now,
            )
            .await?;
        let requisition = serde_json::to_value(api::NewRequisition {
            redirect: &request.redirect_url,
            institution_id: &institution.id,
            agreement: &agreement.id,
            reference: &request.state,
            user_language: "EN",
        })
        .map_err(|e| unreadable(e.to_string()))?;
        let url = self.url(&["requisitions", ""])?;
        let requisition: Requisition = self
            .json(Method::POST, url, Some(requisition), Endpoint::Requisition, "GoCardless's new requisition", ctx.now)
            .await?;
        let link = present(&requisition.link)
            .ok_or_else(|| unreadable("GoCardless's new requisition has no link to the bank"))?;
        Ok(AuthStart::Redirect { url: link.to_string(), resume: None })
    }

    async fn complete_authorization(
        &self,
        request: &AuthRequest,
        answer: &AuthAnswer,
        ctx: CallContext,
    ) -> Result<Consent, Failure> {
        let params = answer.redirect_params("GoCardless")?;
        let param = |name: &str| params.get(name);
        if let Some(error) = param("error").filter(|e| !e.trim().is_empty()) {
            return Err(redirect_error(error.trim(), param("details").unwrap_or_default()));
        }
        let reference = param("ref").unwrap_or(&request.state);
        if reference.is_empty() || (!request.state.is_empty() && reference != request.state) {
            return Err(Failure::new(
                FailureKind::InvalidCredentials,
                "reference_mismatch",
                "the bank's answer does not belong to this authorisation; start again",
            ));
        }
        let requisition =
            self.find_requisition(reference, &request.institution_id, ctx.now).await?.ok_or_else(|| {
                Failure::new(
                    FailureKind::InvalidCredentials,
                    "requisition_not_found",
                    "GoCardless has no authorisation with this reference (it was deleted or never made); start again",
                )
            })?;
        requisition_usable(requisition.status.as_deref())?;
        let agreement = match present(&requisition.agreement) {
            Some(id) => {
                let url = self.url(&["agreements", "enduser", id, ""])?;
                Some(
                    self.json::<Agreement>(
                        Method::GET,
                        url,
                        None,
                        Endpoint::Agreement,
                        "GoCardless's agreement",
                        ctx.now,
                    )
                    .await?,
                )
            }
            None => None,
        };
        Ok(GoCardless::consent(&requisition, agreement.as_ref(), &request.institution_id, ctx.now))
    }

    async fn discover(&self, consent: &Consent, ctx: CallContext) -> Result<Vec<DiscoveredItem>, Failure> {
        self.discover_items(consent, ctx).await.map_err(|failure| dated(failure, consent, ctx.now))
    }

    async fn fetch(
        &self,
        consent: &Consent,
        provider_item_id: &str,
        since: NaiveDate,
        ctx: CallContext,
    ) -> Result<ItemData, Failure> {
        self.fetch_item(consent, provider_item_id, since, ctx).await.map_err(|failure| dated(failure, consent, ctx.now))
    }

    async fn revoke(&self, consent: &Consent, ctx: CallContext) -> Result<(), Failure> {
        let url = self.url(&["requisitions", &consent.id, ""])?;
        let answer = self.call(Method::DELETE, url, None, Endpoint::Requisition, ctx.now).await?;
        match answer.status.as_u16() {
            200..=299 | 404 => Ok(()),
            _ => Err(self.failure(&answer, Endpoint::Requisition, ctx.now)),
        }
    }
}

/// GoCardless answers `AccessExpiredError` "Access has expired or it has been revoked" either way:
/// once the consent's end date has passed, it expired (the user renews it) rather than being
/// withdrawn.
fn dated(failure: Failure, consent: &Consent, now: DateTime<Utc>) -> Failure {
    if failure.kind == FailureKind::Revoked && failure.code == "AccessExpiredError" && now >= consent.valid_until {
        Failure { kind: FailureKind::Expired, ..failure }
    } else {
        failure
    }
}

#[cfg(test)]
mod tests;
