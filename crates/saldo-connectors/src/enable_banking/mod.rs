//! Enable Banking: an EU aggregator over the banks' own PSD2 interfaces, free for a person's own
//! accounts ("restricted" production applications).
//!
//! The operator registers an application (an id and an RSA key); every call carries a short-lived
//! JWT signed with that key. The user picks a bank (an "ASPSP", known by name and country), saldo
//! asks `/auth` for the longest consent the bank allows and sends the user to the URL it returns;
//! the bank sends them back to saldo's callback with a code, which `/sessions` turns into a
//! session: the consent.
//!
//! Every new session gives the same accounts new `uid`s, so items are known to saldo by their
//! `identification_hash` (stable across sessions and even users) and the `uid` of the current
//! session is looked up when reading. Banks give history beyond 90 days only in the first minutes
//! after authorisation: the first sync asks for two years (the bank gives what it has), later ones
//! for at most the last 90 days.

mod api;

use crate::http::{base_url, endpoint, host_of, next_midnight, Client, Transport};
use crate::wire::{clean, heavier, locked, masked_tail, parse_json, path_error, present, unreadable};
use crate::{
    AuthAnswer, AuthMethod, AuthRequest, AuthStart, CallContext, Connector, Consent, DiscoveredItem, InstitutionInfo,
    ItemData,
};
use api::{AccountDetails, Aspsp, Aspsps, AuthorizedSession, Balances, Session, StartedAuthorization, TransactionPage};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use reqwest::{Method, Url};
use saldo_core::failure::{Failure, FailureKind, TemporaryCause};
use saldo_core::money::Currency;
use saldo_core::secret::Secret;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;

/// Where Enable Banking's API lives.
pub const DEFAULT_BASE_URL: &str = "https://api.enablebanking.com/";
/// The JWT's issuer and audience, as the API requires them.
const JWT_ISSUER: &str = "enablebanking.com";
const JWT_AUDIENCE: &str = "api.enablebanking.com";
/// A JWT may live at most a day; saldo makes one per hour and renews it early.
const JWT_LIFETIME_MINUTES: i64 = 60;
/// Banks give longer history only right after authorisation; later, asking for more than 90 days
/// fails (`WRONG_TRANSACTIONS_PERIOD`), and counting the end day a 90-day span starts 89 days back.
const HISTORY_DAYS: i64 = 90;
/// What saldo asks for in the first minutes after authorisation (most banks give one or two
/// years), with the `longest` strategy so the bank gives what it has rather than an error.
const FIRST_HISTORY_DAYS: i64 = 730;
/// How long after authorisation banks still give the longer history.
const FIRST_HISTORY_MINUTES: i64 = 3;
/// When a bank does not say how long its consent may last.
const DEFAULT_CONSENT_DAYS: i64 = 90;
/// Unattended accesses per day that PSD2 allows without the bank's agreement.
const ACCESSES_PER_DAY: u32 = 4;
/// How long a session's account list serves the reads of one sync.
const SESSION_CACHE_MINUTES: i64 = 10;
/// More pages than any real account has; a provider that keeps sending keys is broken.
const MAX_PAGES: usize = 1000;

/// The operator's Enable Banking application.
#[derive(Debug, Clone)]
pub struct EnableBankingSettings {
    /// Usually [`DEFAULT_BASE_URL`].
    pub base_url: String,
    /// The application's id (the JWT's `kid`).
    pub application_id: String,
    /// The application's RSA private key, PEM.
    pub private_key: Secret,
    /// ISO 3166 countries whose banks are listed; empty lists every country.
    pub countries: Vec<String>,
    pub transport: Transport,
}

struct Jwt {
    token: Secret,
    expires_at: DateTime<Utc>,
}

/// One session's accounts as last read.
struct SessionAccounts {
    read_at: DateTime<Utc>,
    /// identification_hash → uid.
    uids: HashMap<String, String>,
}

pub struct EnableBanking {
    http: Client,
    base: Result<Url, Failure>,
    application_id: String,
    key: Result<jsonwebtoken::EncodingKey, Failure>,
    countries: Vec<String>,
    jwt: Mutex<Option<Jwt>>,
    sessions: Mutex<HashMap<String, SessionAccounts>>,
}

/// saldo's id for a bank: Enable Banking knows banks by name within a country.
fn institution_id(aspsp: &Aspsp) -> String {
    format!("{}:{}", aspsp.country, aspsp.name)
}

fn parse_institution_id(id: &str) -> Result<(&str, &str), Failure> {
    id.split_once(':').filter(|(country, name)| country.len() == 2 && !name.is_empty()).ok_or_else(|| {
        Failure::new(
            FailureKind::Unsupported,
            "unknown_institution",
            format!("{:?} is not an Enable Banking bank (expected COUNTRY:Bank name)", clean(id, "")),
        )
    })
}

impl EnableBanking {
    /// Reads the settings; a bad URL or key is reported by every call (as the operator's error),
    /// not by a panic at startup.
    pub fn new(settings: EnableBankingSettings) -> EnableBanking {
        let base = base_url(&settings.base_url, settings.transport.allow_insecure_loopback, "Enable Banking base URL");
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(settings.private_key.expose().as_bytes()).map_err(|e| {
            Failure::new(
                FailureKind::Config,
                "private_key_invalid",
                format!("the Enable Banking private key is not an RSA key in PEM form: {e}"),
            )
        });
        EnableBanking {
            http: Client::new(settings.transport),
            base,
            application_id: settings.application_id,
            key,
            countries: settings.countries.iter().map(|c| c.trim().to_ascii_uppercase()).collect(),
            jwt: Mutex::new(None),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// A JWT valid for a while yet, made anew when the last is near its end.
    fn jwt(&self, now: DateTime<Utc>) -> Result<Secret, Failure> {
        let mut cached = locked(&self.jwt);
        if let Some(jwt) = cached.as_ref().filter(|j| j.expires_at - now > TimeDelta::minutes(5)) {
            return Ok(jwt.token.clone());
        }
        let key = self.key.as_ref().map_err(Clone::clone)?;
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(self.application_id.clone());
        let expires_at = now + TimeDelta::minutes(JWT_LIFETIME_MINUTES);
        let claims = json!({
            "iss": JWT_ISSUER,
            "aud": JWT_AUDIENCE,
            "iat": now.timestamp(),
            "exp": expires_at.timestamp(),
        });
        let token = jsonwebtoken::encode(&header, &claims, key).map(Secret::new).map_err(|e| {
            Failure::new(FailureKind::Config, "jwt", format!("saldo could not sign its Enable Banking token: {e}"))
        })?;
        *cached = Some(Jwt { token: token.clone(), expires_at });
        Ok(token)
    }

    /// One call: JSON in and out, PSU headers when the user is present, errors classified.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<serde_json::Value>,
        ctx: CallContext,
    ) -> Result<T, Failure> {
        let base = self.base.as_ref().map_err(Clone::clone)?;
        let mut url = endpoint(base, segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let host = host_of(&url);
        let jwt = self.jwt(ctx.now)?;
        let mut request = self.http.get()?.request(method, url).bearer_auth(jwt.expose());
        // The bank counts calls without the PSU's headers as unattended (four a day).
        if let (true, Some(ip)) = (ctx.user_present, ctx.psu_ip_address) {
            request = request
                .header("Psu-Ip-Address", ip.to_string())
                .header("Psu-User-Agent", concat!("saldo/", env!("CARGO_PKG_VERSION")));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = self.http.send(request, &host).await?;
        if !answer.status.is_success() {
            let failure = api::failure(answer.status.as_u16(), &answer.body);
            // The bank's daily allowance comes back the next (UTC) day; no header says when.
            if failure.kind == FailureKind::Temporary(TemporaryCause::RateLimited) {
                return Err(failure.retry_at(next_midnight(ctx.now)));
            }
            return Err(failure);
        }
        let what = format!("Enable Banking's answer to {}", segments.first().copied().unwrap_or("/"));
        parse_json(&answer.body, &what, "")
    }

    async fn aspsps(&self, country: Option<&str>, ctx: CallContext) -> Result<Vec<Aspsp>, Failure> {
        let query: Vec<(&str, &str)> = country.map(|c| vec![("country", c)]).unwrap_or_default();
        let list: Aspsps = self.call(Method::GET, &["aspsps"], &query, None, ctx).await?;
        Ok(list.aspsps)
    }

    /// The session, checked to be usable, and its accounts remembered for the reads that follow.
    async fn session(&self, consent: &Consent, ctx: CallContext) -> Result<HashMap<String, String>, Failure> {
        let session: Session = self.call(Method::GET, &["sessions", &consent.id], &[], None, ctx).await?;
        if let Some(failure) = api::session_failure(&session.status) {
            return Err(failure);
        }
        if session.access.valid_until <= ctx.now {
            return Err(Failure::new(FailureKind::Expired, "EXPIRED", "Enable Banking: the authorisation has expired"));
        }
        let uids: HashMap<String, String> =
            session.accounts_data.into_iter().map(|a| (a.identification_hash, a.uid)).collect();
        let mut sessions = locked(&self.sessions);
        sessions.retain(|_, s| ctx.now - s.read_at < TimeDelta::minutes(SESSION_CACHE_MINUTES));
        sessions.insert(consent.id.clone(), SessionAccounts { read_at: ctx.now, uids: uids.clone() });
        Ok(uids)
    }

    /// The current session's uid for an account known by its identification hash.
    async fn uid(&self, consent: &Consent, hash: &str, ctx: CallContext) -> Result<String, Failure> {
        let cached = locked(&self.sessions).get(&consent.id).and_then(|s| {
            let fresh = ctx.now - s.read_at < TimeDelta::minutes(SESSION_CACHE_MINUTES);
            fresh.then(|| s.uids.get(hash).cloned()).flatten()
        });
        let uid = match cached {
            Some(uid) => Some(uid),
            None => self.session(consent, ctx).await?.get(hash).cloned(),
        };
        uid.ok_or_else(|| {
            Failure::new(
                FailureKind::Revoked,
                "account_not_in_session",
                "Enable Banking: this account is no longer part of the authorisation; reconnect and choose it again",
            )
        })
    }

    async fn transactions(
        &self,
        uid: &str,
        from: NaiveDate,
        to: NaiveDate,
        longest: bool,
        ctx: CallContext,
    ) -> Result<Vec<crate::FetchedTransaction>, Failure> {
        let (from, to) = (from.to_string(), to.to_string());
        let mut out = Vec::new();
        let mut key: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![("date_from", from.as_str()), ("date_to", to.as_str())];
            if longest {
                query.push(("strategy", "longest"));
            }
            if let Some(key) = key.as_deref() {
                query.push(("continuation_key", key));
            }
            let page: TransactionPage =
                self.call(Method::GET, &["accounts", uid, "transactions"], &query, None, ctx).await?;
            let today = ctx.now.date_naive();
            for (index, value) in page.transactions.into_iter().enumerate() {
                let read = serde_path_to_error::deserialize::<_, api::Transaction>(value)
                    .map_err(|e| path_error(&format!("transactions[{index}]"), e))
                    .and_then(|t| t.fetched(today).map_err(|e| format!("transactions[{index}].{e}")))
                    .map_err(|e| unreadable(format!("Enable Banking's transactions are unreadable: {e}")))?;
                out.extend(read);
            }
            match page.continuation_key.filter(|k| !k.is_empty()) {
                Some(next) if key.as_deref() == Some(next.as_str()) => {
                    return Err(unreadable("Enable Banking sent the same continuation key twice"));
                }
                Some(next) => key = Some(next),
                None => return Ok(out),
            }
        }
        Err(unreadable(format!("Enable Banking kept sending continuation keys after {MAX_PAGES} pages")))
    }
}

#[async_trait]
impl Connector for EnableBanking {
    fn name(&self) -> &'static str {
        "enable_banking"
    }

    fn counts_user_access(&self) -> bool {
        // Enable Banking passes PSD2's rule on: a call with `Psu-Ip-Address` is the user's and the
        // bank does not count it; saldo sends it on every call the user asked for.
        false
    }

    fn free_lookback_days(&self) -> u32 {
        // Enable Banking counts sessions' requests, not their windows; a month of bookings is one
        // page at every bank of its reference examples.
        30
    }

    async fn institutions(&self, ctx: CallContext) -> Result<Vec<InstitutionInfo>, Failure> {
        let mut aspsps = Vec::new();
        if self.countries.is_empty() {
            aspsps = self.aspsps(None, ctx).await?;
        }
        for country in &self.countries {
            aspsps.extend(self.aspsps(Some(country), ctx).await?);
        }
        Ok(aspsps
            .into_iter()
            .filter(|a| a.psu_types.is_empty() || a.psu_types.iter().any(|t| t == "personal"))
            .map(|a| InstitutionInfo {
                id: institution_id(&a),
                name: a.name.clone(),
                country: Some(a.country.clone()),
                bic: a.bic.clone().filter(|b| !b.is_empty()),
                auth_method: AuthMethod::Redirect,
                max_history_days: FIRST_HISTORY_DAYS as u32,
                max_consent_days: a
                    .maximum_consent_validity
                    .map_or(DEFAULT_CONSENT_DAYS, |seconds| (seconds / 86_400).clamp(1, 400))
                    .try_into()
                    .unwrap_or(u32::MAX),
                accesses_per_day: Some(ACCESSES_PER_DAY),
                description: if a.beta { "Through Enable Banking (beta at this bank).".into() } else { String::new() },
                logo_url: a.logo.filter(|l| l.starts_with("https://")),
            })
            .collect())
    }

    async fn begin_authorization(&self, request: &AuthRequest, ctx: CallContext) -> Result<AuthStart, Failure> {
        let (country, name) = parse_institution_id(&request.institution_id)?;
        let aspsp = self.aspsps(Some(country), ctx).await?.into_iter().find(|a| a.name == name).ok_or_else(|| {
            Failure::new(
                FailureKind::Unsupported,
                "unknown_institution",
                format!("Enable Banking no longer lists {:?} in {country}", clean(name, "")),
            )
        })?;
        // The longest the bank allows, less a minute so that clocks apart do not push it over.
        // Bounded, so that a nonsensical answer cannot overflow the date.
        let validity = aspsp.maximum_consent_validity.unwrap_or(DEFAULT_CONSENT_DAYS * 86_400).clamp(120, 400 * 86_400);
        let valid_until = ctx.now + TimeDelta::seconds(validity) - TimeDelta::minutes(1);
        let body = json!({
            "access": {
                "valid_until": valid_until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "balances": true,
                "transactions": true,
            },
            "aspsp": {"name": aspsp.name, "country": aspsp.country},
            "state": request.state,
            "redirect_url": request.redirect_url,
            "psu_type": "personal",
        });
        let started: StartedAuthorization = self.call(Method::POST, &["auth"], &[], Some(body), ctx).await?;
        Ok(AuthStart::Redirect { url: started.url, resume: None })
    }

    async fn complete_authorization(
        &self,
        request: &AuthRequest,
        answer: &AuthAnswer,
        ctx: CallContext,
    ) -> Result<Consent, Failure> {
        let params = answer.redirect_params("Enable Banking")?;
        let param = |name: &str| params.get(name);
        if let Some(error) = param("error") {
            let said = param("error_description").map(|d| format!(": {}", clean(d, ""))).unwrap_or_default();
            let kind = if error == "access_denied" { FailureKind::Revoked } else { FailureKind::InvalidCredentials };
            return Err(Failure::new(
                kind,
                clean(error, ""),
                format!("the bank did not grant access ({}){said}", clean(error, "")),
            ));
        }
        let code = param("code").filter(|c| !c.is_empty()).ok_or_else(|| {
            Failure::new(
                FailureKind::InvalidCredentials,
                "no_code",
                "the bank's redirect carries no authorisation code",
            )
        })?;
        let session: AuthorizedSession =
            self.call(Method::POST, &["sessions"], &[], Some(json!({ "code": code })), ctx).await?;
        Ok(Consent {
            id: session.session_id,
            institution_id: request.institution_id.clone(),
            granted_at: ctx.now,
            valid_until: session.access.valid_until,
            scope: vec!["accounts".into(), "balances".into(), "transactions".into()],
            max_history_days: FIRST_HISTORY_DAYS as u32,
            accesses_per_day: Some(ACCESSES_PER_DAY),
            secret: None,
        })
    }

    async fn discover(&self, consent: &Consent, ctx: CallContext) -> Result<Vec<DiscoveredItem>, Failure> {
        let uids = self.session(consent, ctx).await?;
        let mut hashes: Vec<&String> = uids.keys().collect();
        hashes.sort();
        let mut items = Vec::new();
        let mut gone: Option<Failure> = None;
        for hash in hashes {
            let uid = &uids[hash];
            let details: AccountDetails =
                match self.call(Method::GET, &["accounts", uid, "details"], &[], None, ctx).await {
                    Ok(details) => details,
                    // An account the bank stopped showing is left out; any other failure fails the
                    // discovery, so that saldo never takes a passing error for a closed account.
                    Err(failure) if failure.kind == FailureKind::Revoked => {
                        gone = Some(heavier(gone, failure));
                        continue;
                    }
                    Err(failure) => return Err(failure),
                };
            // An account kept in something saldo cannot hold is left out; the others still sync.
            let Ok(currency) = Currency::parse(&details.currency) else { continue };
            let iban = details.account_id.as_ref().and_then(|a| a.iban.clone()).filter(|i| !i.trim().is_empty());
            // Enable Banking's `name` is the account holder's name: a household's accounts would all
            // be called after the same person. The account is named by its product, the bank's
            // description of it, or its masked identifier.
            let other = details.account_id.as_ref().and_then(|a| a.other.as_ref());
            let (masked_number, account_number) = match other.and_then(|o| o.identification()) {
                Some(id) if other.is_some_and(|o| o.is_masked_pan()) => (Some(clean(id, "")), None),
                Some(id) => (None, Some(clean(id, ""))),
                None => (None, None),
            };
            let masked = iban.as_deref().or(other.and_then(|o| o.identification()));
            let name = [&details.product, &details.details]
                .into_iter()
                .flatten()
                .map(|n| n.trim())
                .find(|n| !n.is_empty())
                .map(str::to_string)
                .or_else(|| masked.map(masked_tail))
                .unwrap_or_else(|| "Account".into());
            items.push(DiscoveredItem {
                provider_item_id: hash.clone(),
                kind: crate::xs2a::account_kind(
                    details.cash_account_type.as_deref(),
                    details.product.as_deref(),
                    details.details.as_deref(),
                ),
                name: clean(&name, ""),
                iban,
                account_number,
                masked_number,
                owner_name: present(&details.name).map(|n| clean(n, "")),
                currency,
                current_value: None,
            });
        }
        match gone {
            Some(failure) if items.is_empty() => Err(failure),
            _ => Ok(items),
        }
    }

    async fn fetch(
        &self,
        consent: &Consent,
        provider_item_id: &str,
        since: NaiveDate,
        ctx: CallContext,
    ) -> Result<ItemData, Failure> {
        let uid = self.uid(consent, provider_item_id, ctx).await?;
        let balances: Balances = self.call(Method::GET, &["accounts", &uid, "balances"], &[], None, ctx).await?;
        let balance =
            balances.current().map_err(|e| unreadable(format!("Enable Banking's balances are unreadable: {e}")))?;
        let today = ctx.now.date_naive();
        let fresh = ctx.now - consent.granted_at < TimeDelta::minutes(FIRST_HISTORY_MINUTES);
        let days = if fresh { FIRST_HISTORY_DAYS } else { HISTORY_DAYS };
        let from = since.clamp(today - TimeDelta::days(days - 1), today);
        let longest = from < today - TimeDelta::days(HISTORY_DAYS - 1);
        let transactions = self.transactions(&uid, from, today, longest, ctx).await?;
        Ok(ItemData { balance, holdings: Vec::new(), transactions })
    }

    async fn revoke(&self, consent: &Consent, ctx: CallContext) -> Result<(), Failure> {
        locked(&self.sessions).remove(&consent.id);
        match self.call::<serde_json::Value>(Method::DELETE, &["sessions", &consent.id], &[], None, ctx).await {
            Ok(_) => Ok(()),
            // Already closed, expired or revoked at the bank: nothing left to end.
            Err(failure) if matches!(failure.kind, FailureKind::Revoked | FailureKind::Expired) => Ok(()),
            Err(failure) => Err(failure),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_account_without_product_or_description_is_named_by_its_masked_identifier() {
        assert_eq!(masked_tail("************1234"), "•••• 1234");
        assert_eq!(masked_tail("FI21 1234 5600 0007 85"), "•••• 0785");
        assert_eq!(masked_tail("12"), "•••• 12");
    }

    #[test]
    fn institution_ids_are_country_and_name() {
        assert_eq!(parse_institution_id("FI:Nordea").unwrap(), ("FI", "Nordea"));
        assert_eq!(parse_institution_id("DE:Bank: with colon").unwrap(), ("DE", "Bank: with colon"));
        for bad in ["Nordea", "FIN:Nordea", "FI:"] {
            assert_eq!(parse_institution_id(bad).unwrap_err().kind, FailureKind::Unsupported, "{bad}");
        }
    }

    #[test]
    fn a_bad_key_is_the_operators_error_at_call_time() {
        let connector = EnableBanking::new(EnableBankingSettings {
            base_url: DEFAULT_BASE_URL.into(),
            application_id: "app".into(),
            private_key: Secret::new("not a key".to_string()),
            countries: vec![],
            transport: Transport::default(),
        });
        let failure = connector.jwt(DateTime::from_timestamp(1_700_000_000, 0).unwrap()).unwrap_err();
        assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Config, "private_key_invalid"));
    }
}
