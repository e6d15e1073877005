//! Berlin Group NextGenPSD2 (XS2A), account information only: one connector for every bank that
//! speaks the standard, each configured with its XS2A root, its SCA approach and the TLS client
//! certificate (an eIDAS QWAC) a licensed TPP presents to it.
//!
//! The flow: `POST v1/consents` for all PSD2 accounts (recurring, up to the configured days and
//! accesses a day), then the user authorises at the bank — in the browser (redirect approach) or
//! in the bank's app (decoupled approach, which saldo polls). Reading is `GET v1/accounts` and
//! `GET v1/card-accounts`, then per account `…/balances` and `…/transactions` (both booked and
//! pending, paged by `_links.next`): `accounts.rs`.
//! `DELETE v1/consents/{id}` ends the consent.
//!
//! PSD2 counts accesses without the user (RTS Art. 36(5), `frequencyPerDay`): a request carries
//! `PSU-IP-Address` only when the user triggered it, so that the bank does not count it.
//!
//! The consent id is all saldo needs later (the bank ties it to saldo's certificate), so the
//! consent has no secret. It must reach whichever saldo process receives the bank's redirect:
//! saldo asks the bank to start the authorisation explicitly, and passes a redirect URI that carries
//! the consent id once it is known; a bank that starts it implicitly got the URI before the id
//! existed, and then the id goes back to saldo as the authorisation's `resume`, kept with it in
//! the database until the redirect arrives.

mod accounts;
mod api;
mod errors;
mod settings;

use settings::client_for;
pub use settings::{BerlinGroupBank, BerlinGroupSettings, ScaApproach};

use crate::http::{base_url, check_transport, endpoint, host_of, retry_after, Answer, Client};
use crate::wire::{clean, parse_json, unreadable};
use crate::{
    AuthAnswer, AuthMethod, AuthRequest, AuthStart, CallContext, Connector, Consent, DiscoveredItem, InstitutionInfo,
    ItemData,
};
use accounts::Resource;
use api::{Authorisation, ConsentCreated, ConsentInformation};
use async_trait::async_trait;
use chrono::{NaiveDate, NaiveTime, TimeDelta};
use reqwest::{Method, Url};
use saldo_core::failure::{Failure, FailureKind, TemporaryCause};
use serde_json::json;
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

/// One configured bank and its own HTTP client (certificates differ per bank), or why the client
/// could not be made (reported on every call to that bank, never at startup).
struct Bank {
    config: BerlinGroupBank,
    client: Result<Client, Failure>,
}

/// The Berlin Group connector.
pub struct BerlinGroup {
    banks: Vec<Bank>,
    poll_attempts: u32,
    poll_interval: Duration,
    /// Banks that refused `bookingStatus=both`, and those that refused `pending` too.
    without_both: Mutex<HashSet<String>>,
    without_pending: Mutex<HashSet<String>>,
}

/// The decoupled reference: the consent id and the authorisation id, each with `%` and `~` escaped.
fn encode_reference(consent_id: &str, authorisation_id: Option<&str>) -> String {
    let escape = |s: &str| s.replace('%', "%25").replace('~', "%7E");
    match authorisation_id {
        Some(aid) => format!("{}~{}", escape(consent_id), escape(aid)),
        None => escape(consent_id),
    }
}

fn decode_reference(reference: &str) -> (String, Option<String>) {
    let unescape = |s: &str| s.replace("%7E", "~").replace("%25", "%");
    match reference.split_once('~') {
        Some((consent, aid)) => (unescape(consent), Some(unescape(aid))),
        None => (unescape(reference), None),
    }
}

/// `url` with query pairs added (XS2A hands the redirect URI back unchanged, so saldo's own
/// values must be in it).
fn with_query(url: &str, pairs: &[(&str, &str)]) -> Result<String, Failure> {
    let mut url = Url::parse(url).map_err(|e| {
        Failure::new(FailureKind::Config, "redirect_url_invalid", format!("saldo's redirect URL is not a URL: {e}"))
    })?;
    {
        let mut query = url.query_pairs_mut();
        for (key, value) in pairs {
            query.append_pair(key, value);
        }
    }
    Ok(url.to_string())
}

/// A consent status other than `valid`, as a failure.
fn status_failure(status: &str, bank: &str) -> Failure {
    let (kind, text) = match status {
        "received" | "partiallyAuthorised" => {
            (FailureKind::ActionRequired, "is not yet authorised: approve it at the bank, then try again")
        }
        "rejected" => (FailureKind::InvalidCredentials, "was rejected at the bank"),
        "expired" => (FailureKind::Expired, "has expired"),
        "revokedByPsu" => (FailureKind::Revoked, "was withdrawn at the bank"),
        "terminatedByTpp" => (FailureKind::Revoked, "was ended by saldo"),
        _ => (FailureKind::Temporary(TemporaryCause::Unknown), "has a status the standard does not define"),
    };
    Failure::new(kind, clean(status, ""), format!("the consent at {bank} {text} ({})", clean(status, "")))
}

/// A bank resolved for one call: its client and XS2A root.
struct Session<'a> {
    bank: &'a BerlinGroupBank,
    http: &'a Client,
    base: Url,
}

impl Session<'_> {
    fn url(&self, segments: &[&str]) -> Url {
        endpoint(&self.base, segments)
    }

    /// A request with the headers every XS2A call has: a fresh X-Request-ID, the PSU's address
    /// when the user is there, and the consent on account calls.
    fn request(
        &self,
        method: Method,
        url: Url,
        psu_ip: Option<IpAddr>,
        consent_id: Option<&str>,
    ) -> Result<reqwest::RequestBuilder, Failure> {
        self.http.check(&url, "XS2A URL")?;
        let mut request = self
            .http
            .get()?
            .request(method, url)
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(ip) = psu_ip {
            request = request.header("PSU-IP-Address", ip.to_string());
        }
        if let Some(consent_id) = consent_id {
            request = request.header("Consent-ID", consent_id);
        }
        Ok(request)
    }

    /// Sends a request; an answer other than 2xx is classified.
    async fn send(&self, request: reqwest::RequestBuilder, ctx: CallContext, secret: &str) -> Result<Answer, Failure> {
        let answer = self.http.send(request, &host_of(&self.base)).await?;
        if answer.status.is_success() {
            return Ok(answer);
        }
        let failure = errors::classify(answer.status.as_u16(), &answer.body, ctx.now, &self.bank.name, secret);
        // XS2A defines no Retry-After, but an HTTP 503 may carry one (a gateway in maintenance).
        let wait = answer.header("Retry-After").and_then(|s| s.trim().parse::<i64>().ok());
        match wait {
            Some(seconds) if answer.status.as_u16() == 503 => Err(failure.retry_at(retry_after(ctx.now, seconds))),
            _ => Err(failure),
        }
    }

    async fn consent_status(&self, consent_id: &str, ctx: CallContext) -> Result<String, Failure> {
        let url = self.url(&["v1", "consents", consent_id, "status"]);
        let answer = self.send(self.request(Method::GET, url, psu_ip(ctx), None)?, ctx, consent_id).await?;
        let status: api::ConsentStatus = parse_json(&answer.body, "the consent status", consent_id)?;
        Ok(status.consent_status)
    }

    async fn sca_status(&self, consent_id: &str, authorisation_id: &str, ctx: CallContext) -> Result<String, Failure> {
        let url = self.url(&["v1", "consents", consent_id, "authorisations", authorisation_id]);
        let answer = self.send(self.request(Method::GET, url, psu_ip(ctx), None)?, ctx, consent_id).await?;
        let read: Authorisation = parse_json(&answer.body, "the authorisation status", consent_id)?;
        Ok(read.sca_status.unwrap_or_default())
    }

    /// A failure saying the consent cannot be used, made precise by the consent's status: ran out
    /// (expired) or withdrawn (revoked).
    async fn settle(&self, failure: Failure, consent_id: &str, ctx: CallContext) -> Failure {
        if !errors::CONSENT_UNUSABLE.contains(&failure.code.as_str()) {
            return failure;
        }
        let (kind, status) = match self.consent_status(consent_id, ctx).await {
            Ok(status) if status == "revokedByPsu" || status == "terminatedByTpp" => (FailureKind::Revoked, status),
            Ok(status) => (FailureKind::Expired, status),
            Err(lookup) if lookup.kind == FailureKind::Revoked => (FailureKind::Revoked, lookup.code),
            Err(_) => (FailureKind::Expired, "unknown".into()),
        };
        Failure::new(kind, failure.code, format!("{} (consent status: {})", failure.detail, clean(&status, "")))
    }

    /// `GET` of a JSON document on an account resource.
    async fn account_get(&self, url: Url, consent_id: &str, ctx: CallContext) -> Result<Answer, Failure> {
        self.send(self.request(Method::GET, url, psu_ip(ctx), Some(consent_id))?, ctx, consent_id).await
    }
}

/// The PSU's address on calls the user triggered; unattended calls go without (and count).
fn psu_ip(ctx: CallContext) -> Option<IpAddr> {
    ctx.psu_ip_address.filter(|_| ctx.user_present)
}

/// At most this many pages of one transaction report: a bank whose `next` never ends must not
/// keep saldo reading forever.
const MAX_PAGES: usize = 500;

impl BerlinGroup {
    pub fn new(settings: BerlinGroupSettings) -> BerlinGroup {
        let banks = settings
            .banks
            .into_iter()
            .map(|config| {
                let client = client_for(&config, settings.transport);
                Bank { config, client }
            })
            .collect();
        BerlinGroup {
            banks,
            poll_attempts: 5,
            poll_interval: Duration::from_secs(2),
            without_both: Mutex::new(HashSet::new()),
            without_pending: Mutex::new(HashSet::new()),
        }
    }

    /// How often and how far apart completing an authorisation asks the bank whether the user
    /// has approved (default 5 times, 2 s apart).
    pub fn with_polling(mut self, attempts: u32, interval: Duration) -> BerlinGroup {
        self.poll_attempts = attempts.max(1);
        self.poll_interval = interval;
        self
    }

    fn info(bank: &BerlinGroupBank) -> InstitutionInfo {
        InstitutionInfo {
            id: bank.id.clone(),
            name: bank.name.clone(),
            country: bank.country.clone(),
            bic: bank.bic.clone(),
            auth_method: match bank.sca_approach {
                ScaApproach::Redirect => AuthMethod::Redirect,
                ScaApproach::Decoupled => AuthMethod::Decoupled,
            },
            max_history_days: bank.max_history_days,
            max_consent_days: bank.max_consent_days,
            accesses_per_day: Some(bank.frequency_per_day),
            description: String::new(),
            logo_url: None,
        }
    }

    fn session(&self, institution_id: &str) -> Result<Session<'_>, Failure> {
        let bank = self.banks.iter().find(|b| b.config.id == institution_id).ok_or_else(|| {
            Failure::new(
                FailureKind::Unsupported,
                "unknown_institution",
                format!("no Berlin Group bank {:?} is configured", clean(institution_id, "")),
            )
        })?;
        let http = bank.client.as_ref().map_err(Clone::clone)?;
        let config = &bank.config;
        if config.frequency_per_day == 0 || config.max_consent_days == 0 || config.max_history_days == 0 {
            return Err(Failure::new(
                FailureKind::Config,
                "bank_config_invalid",
                format!("{}: frequency_per_day, max_consent_days and max_history_days must be at least 1", config.name),
            ));
        }
        let base = base_url(
            &config.base_url,
            http.transport.allow_insecure_loopback,
            &format!("XS2A base URL of {}", config.name),
        )?;
        Ok(Session { bank: config, http, base })
    }

    /// Starts the authorisation the bank asks to be started explicitly.
    async fn start_authorisation(
        &self,
        s: &Session<'_>,
        href: &str,
        redirect: Option<(&str, &str)>,
        ip: IpAddr,
        ctx: CallContext,
        consent_id: &str,
    ) -> Result<Authorisation, Failure> {
        let url = api::resolve(&s.base, href, "start of authorisation", &s.bank.name)?;
        let mut request = s.request(Method::POST, url, Some(ip), None)?.json(&json!({}));
        request = match redirect {
            Some((ok, nok)) => request
                .header("TPP-Redirect-Preferred", "true")
                .header("TPP-Redirect-URI", ok)
                .header("TPP-Nok-Redirect-URI", nok),
            None => request.header("TPP-Redirect-Preferred", "false").header("TPP-Decoupled-Preferred", "true"),
        };
        let answer = s.send(request, ctx, consent_id).await?;
        parse_json(&answer.body, "the started authorisation", consent_id)
    }

    /// The bank's page for the user, checked: a URL, and https (or loopback when allowed).
    fn sca_page(s: &Session<'_>, href: &str) -> Result<String, Failure> {
        let url = s
            .base
            .join(href.trim())
            .map_err(|e| unreadable(format!("{} gave an SCA redirect that is not a URL: {e}", s.bank.name)))?;
        check_transport(&url, s.http.transport.allow_insecure_loopback, "SCA redirect page")?;
        Ok(url.to_string())
    }

    /// Waits for the consent to become valid; the failure says what it became instead.
    async fn await_valid(
        &self,
        s: &Session<'_>,
        consent_id: &str,
        authorisation_id: Option<&str>,
        refused_in_browser: bool,
        ctx: CallContext,
    ) -> Result<(), Failure> {
        let bank = &s.bank.name;
        for attempt in 0..self.poll_attempts {
            if attempt > 0 {
                tokio::time::sleep(self.poll_interval).await;
            }
            let status = s.consent_status(consent_id, ctx).await?;
            match status.as_str() {
                "valid" => return Ok(()),
                "received" | "partiallyAuthorised" => {}
                other => return Err(status_failure(other, bank)),
            }
            if refused_in_browser {
                return Err(Failure::new(
                    FailureKind::InvalidCredentials,
                    "rejected",
                    format!("{bank} sent you back without authorising saldo's access"),
                ));
            }
            if let Some(aid) = authorisation_id {
                let sca = s.sca_status(consent_id, aid, ctx).await?;
                if sca == "failed" {
                    return Err(Failure::new(
                        FailureKind::InvalidCredentials,
                        "failed",
                        format!("the authorisation at {bank} failed (scaStatus failed)"),
                    ));
                }
            }
        }
        let what = match s.bank.sca_approach {
            ScaApproach::Decoupled => format!("approve saldo's access in your {bank} banking app, then try again"),
            ScaApproach::Redirect => format!("finish authorising saldo at {bank}, then try again"),
        };
        Err(Failure::new(FailureKind::ActionRequired, "sca_pending", what))
    }
}

#[async_trait]
impl Connector for BerlinGroup {
    fn name(&self) -> &'static str {
        "berlin_group"
    }

    fn counts_user_access(&self) -> bool {
        // A NextGenPSD2 bank counts only what comes without `PSU-IP-Address` against the consent's
        // `frequencyPerDay` (RTS Art. 36(5)); saldo sends it on every call the user asked for.
        false
    }

    fn free_lookback_days(&self) -> u32 {
        // A NextGenPSD2 bank counts an access per request, not per day of its window, and a month of
        // bookings is one page at the banks we know.
        30
    }

    async fn institutions(&self, _ctx: CallContext) -> Result<Vec<InstitutionInfo>, Failure> {
        Ok(self.banks.iter().map(|b| BerlinGroup::info(&b.config)).collect())
    }

    async fn begin_authorization(&self, request: &AuthRequest, ctx: CallContext) -> Result<AuthStart, Failure> {
        let s = self.session(&request.institution_id)?;
        let bank = s.bank;
        // Consent creation always has the user present, and the header is mandatory on it.
        let ip = ctx.psu_ip_address.ok_or_else(|| {
            Failure::new(
                FailureKind::Config,
                "psu_ip_address_missing",
                "creating a consent needs the user's IP address (PSU-IP-Address), and saldo passed none",
            )
        })?;
        let today = ctx.now.date_naive();
        let valid_until = today + TimeDelta::days(i64::from(bank.max_consent_days));
        let body = json!({
            "access": {"allPsd2": "allAccounts"},
            "recurringIndicator": true,
            "validUntil": valid_until.to_string(),
            "frequencyPerDay": bank.frequency_per_day,
            "combinedServiceIndicator": false,
        });
        let redirect = with_query(&request.redirect_url, &[("state", &request.state)])?;
        let nok = with_query(&redirect, &[("error", "rejected")])?;
        let mut create = s
            .request(Method::POST, s.url(&["v1", "consents"]), Some(ip), None)?
            .header("TPP-Explicit-Authorisation-Preferred", "true")
            .json(&body);
        create = match bank.sca_approach {
            ScaApproach::Redirect => create
                .header("TPP-Redirect-Preferred", "true")
                .header("TPP-Redirect-URI", &redirect)
                .header("TPP-Nok-Redirect-URI", &nok),
            ScaApproach::Decoupled => {
                create.header("TPP-Redirect-Preferred", "false").header("TPP-Decoupled-Preferred", "true")
            }
        };
        let answer = s.send(create, ctx, "").await?;
        let created: ConsentCreated = parse_json(&answer.body, "the created consent", "")?;
        let consent_id = created.consent_id.trim().to_string();
        if consent_id.is_empty() {
            return Err(unreadable(format!("{} created a consent without an id", bank.name)));
        }
        if let Some(status) = created.consent_status.as_deref().filter(|s| !matches!(*s, "received" | "valid")) {
            return Err(status_failure(status, &bank.name));
        }
        match bank.sca_approach {
            ScaApproach::Redirect => {
                if let Some(href) = created.links.start_authorisation() {
                    let ok = with_query(&redirect, &[("consent", &consent_id)])?;
                    let nok = with_query(&ok, &[("error", "rejected")])?;
                    let started = self.start_authorisation(&s, href, Some((&ok, &nok)), ip, ctx, &consent_id).await?;
                    let page = started.links.href("scaRedirect").ok_or_else(|| {
                        unreadable(format!("{} started the authorisation without an SCA redirect", bank.name))
                    })?;
                    return Ok(AuthStart::Redirect { url: BerlinGroup::sca_page(&s, page)?, resume: None });
                }
                if let Some(page) = created.links.href("scaRedirect") {
                    // The redirect URI went out before the consent had an id: saldo keeps it.
                    let url = BerlinGroup::sca_page(&s, page)?;
                    return Ok(AuthStart::Redirect { url, resume: Some(consent_id) });
                }
                if created.links.href("scaOAuth").is_some() {
                    return Err(Failure::new(
                        FailureKind::Unsupported,
                        "oauth_sca_not_supported",
                        format!("{} authorises with the OAuth SCA approach, which saldo does not implement", bank.name),
                    ));
                }
                Err(unreadable(format!("{} gave neither an SCA redirect nor an authorisation to start", bank.name)))
            }
            ScaApproach::Decoupled => {
                let (authorisation_id, message) = if let Some(href) = created.links.start_authorisation() {
                    let started = self.start_authorisation(&s, href, None, ip, ctx, &consent_id).await?;
                    let aid = started
                        .authorisation_id
                        .clone()
                        .or_else(|| started.links.href("scaStatus").and_then(api::last_segment));
                    (aid, started.psu_message)
                } else {
                    (created.links.href("scaStatus").and_then(api::last_segment), created.psu_message)
                };
                let instructions = message
                    .map(|m| clean(&m, ""))
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| format!("Approve saldo's access in your {} banking app.", bank.name));
                Ok(AuthStart::Decoupled {
                    reference: encode_reference(&consent_id, authorisation_id.as_deref()),
                    instructions,
                })
            }
        }
    }

    async fn complete_authorization(
        &self,
        request: &AuthRequest,
        answer: &AuthAnswer,
        ctx: CallContext,
    ) -> Result<Consent, Failure> {
        let s = self.session(&request.institution_id)?;
        let bank = s.bank;
        let (consent_id, authorisation_id, refused) = match answer {
            AuthAnswer::Callback { params } => {
                let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string());
                if param("state").is_some_and(|state| state != request.state) {
                    return Err(Failure::new(
                        FailureKind::Config,
                        "state_mismatch",
                        "the bank's redirect belongs to another authorisation",
                    ));
                }
                let consent_id = param("consent")
                    .filter(|c| !c.is_empty())
                    .or_else(|| request.resume.clone().filter(|c| !c.is_empty()))
                    .ok_or_else(|| {
                        Failure::new(
                            FailureKind::Config,
                            "consent_id_unknown",
                            format!(
                                "{}'s redirect names no consent and saldo kept none for this authorisation",
                                bank.name
                            ),
                        )
                    })?;
                (consent_id, None, param("error").is_some())
            }
            AuthAnswer::Decoupled { reference } => {
                let (consent_id, aid) = decode_reference(reference.trim());
                (consent_id, aid, false)
            }
            AuthAnswer::SetupToken { .. } => {
                return Err(Failure::new(
                    FailureKind::Config,
                    "unsupported_answer",
                    "Berlin Group banks authorise by redirect or in the bank's app, not with a setup token",
                ))
            }
        };
        self.await_valid(&s, &consent_id, authorisation_id.as_deref(), refused, ctx).await?;
        let url = s.url(&["v1", "consents", &consent_id]);
        let answer = s.send(s.request(Method::GET, url, psu_ip(ctx), None)?, ctx, &consent_id).await?;
        let info: ConsentInformation = parse_json(&answer.body, "the consent", &consent_id)?;
        let today = ctx.now.date_naive();
        // validUntil is the last day the consent may be used.
        let last_day = info.valid_until.unwrap_or(today + TimeDelta::days(i64::from(bank.max_consent_days)));
        Ok(Consent {
            id: consent_id,
            institution_id: bank.id.clone(),
            granted_at: ctx.now,
            valid_until: (last_day + TimeDelta::days(1)).and_time(NaiveTime::MIN).and_utc(),
            scope: vec!["accounts".into(), "balances".into(), "transactions".into()],
            max_history_days: bank.max_history_days,
            accesses_per_day: Some(info.frequency_per_day.unwrap_or(bank.frequency_per_day)),
            secret: None,
        })
    }

    async fn discover(&self, consent: &Consent, ctx: CallContext) -> Result<Vec<DiscoveredItem>, Failure> {
        let s = self.session(&consent.institution_id)?;
        match self.items(&s, consent, ctx).await {
            Ok(items) => Ok(items),
            Err(failure) => Err(s.settle(failure, &consent.id, ctx).await),
        }
    }

    async fn fetch(
        &self,
        consent: &Consent,
        provider_item_id: &str,
        since: NaiveDate,
        ctx: CallContext,
    ) -> Result<ItemData, Failure> {
        let s = self.session(&consent.institution_id)?;
        match self.read_account(&s, consent, &Resource::of(provider_item_id), since, ctx).await {
            Ok(data) => Ok(data),
            Err(failure) => Err(s.settle(failure, &consent.id, ctx).await),
        }
    }

    async fn revoke(&self, consent: &Consent, ctx: CallContext) -> Result<(), Failure> {
        let s = self.session(&consent.institution_id)?;
        let url = s.url(&["v1", "consents", &consent.id]);
        let request = s.request(Method::DELETE, url, psu_ip(ctx), None)?;
        let answer = s.http.send(request, &host_of(&s.base)).await?;
        if answer.status.is_success() || answer.status.as_u16() == 404 {
            return Ok(());
        }
        let failure = errors::classify(answer.status.as_u16(), &answer.body, ctx.now, &s.bank.name, &consent.id);
        match failure.code.as_str() {
            // Already gone at the bank: what revoking wanted.
            "CONSENT_UNKNOWN" | "RESOURCE_UNKNOWN" => Ok(()),
            _ => Err(failure),
        }
    }
}

#[cfg(test)]
mod tests;
