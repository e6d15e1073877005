//! An emulator of GoCardless Bank Account Data (formerly Nordigen), API v2: tokens from a secret
//! pair, institutions, end user agreements, requisitions with a fake bank page behind their `link`,
//! and the account endpoints (metadata, details, balances, transactions) with GoCardless's rate
//! limit headers, its daily per-account and per-scope success limit, and its error documents.
//!
//! Bodies come from RobinTTY/NordigenApiClient's mock responses (MIT; see
//! `fixtures/gocardless/SOURCES.md`); paths, fields and limits from the Nordigen v2 OpenAPI and
//! providers.md §1. The emulator's clock and "today" are set by the test ([`GoCardlessApi::set_now`]).

#[cfg(test)]
use crate::served::percent_decode;
use crate::served::{self, query_pairs, Served};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// RobinTTY/NordigenApiClient's mock responses, unchanged.
pub const EXAMPLES: &str = include_str!("../fixtures/gocardless/responses.json");

/// The API's path below the host.
pub const API_PATH: &str = "/api/v2/";
/// Successful calls per account, scope and day (GoCardless since March 2025).
pub const DEFAULT_DAILY_LIMIT: u32 = 4;
/// The company's API limit per minute the headers report for the account endpoints.
const API_LIMIT: u32 = 100;
/// The account whose data the examples give.
pub const EXAMPLE_ACCOUNT_ID: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa6";
/// The second account id of the example requisition.
pub const EXAMPLE_SECOND_ACCOUNT_ID: &str = "3fa85f64-5717-4562-b3fc-2c963f66afa7";
/// GoCardless's sandbox institution, which the example requisitions name.
pub const SANDBOX_INSTITUTION_ID: &str = "SANDBOXFINANCE_SFIN0000";
/// The example institution.
pub const N26_INSTITUTION_ID: &str = "N26_NTSBDEB1";

/// One part of the examples, e.g. `example(&["AccountsEndpointMockData", "GetBalances"])`.
pub fn example(path: &[&str]) -> Value {
    let mut value: Value = serde_json::from_str(EXAMPLES).unwrap_or(Value::Null);
    for key in path {
        value = value.get(*key).cloned().unwrap_or(Value::Null);
    }
    value
}

/// The example transactions as published (with the generator's `"string"` placeholders).
pub fn example_transactions() -> Value {
    example(&["AccountsEndpointMockData", "GetTransactions", "transactions"])
}

/// Shortly after the examples' balances (2021-11-22): the emulator's clock until a test sets it.
pub fn default_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2021, 11, 22, 12, 0, 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// An account at the emulated bank.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountSpec {
    pub id: String,
    pub iban: Option<String>,
    pub owner_name: Option<String>,
    /// The `account` object of `details/`.
    pub details: Value,
    /// The `balances` list.
    pub balances: Value,
    pub booked: Vec<Value>,
    pub pending: Vec<Value>,
}

impl AccountSpec {
    /// The examples' account: its metadata, details, balances and transactions, with the
    /// transactions' placeholders replaced (currency `EUR`, distinct ids; see SOURCES.md).
    pub fn example_main() -> AccountSpec {
        let meta = example(&["AccountsEndpointMockData", "GetAccount"]);
        let details = example(&["AccountsEndpointMockData", "GetAccountDetails", "account"]);
        let balances = example(&["AccountsEndpointMockData", "GetBalances", "balances"]);
        let transactions = example_transactions();
        let fix = |list: &Value, prefix: &str| -> Vec<Value> {
            list.as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(index, mut t)| {
                    if t.pointer("/transactionAmount/currency") == Some(&json!("string")) {
                        t["transactionAmount"]["currency"] = json!("EUR");
                    }
                    if t.get("transactionId") == Some(&json!("string")) {
                        t["transactionId"] = json!(format!("{prefix}-{index}"));
                    }
                    t
                })
                .collect()
        };
        AccountSpec {
            id: EXAMPLE_ACCOUNT_ID.into(),
            iban: meta.get("iban").and_then(Value::as_str).map(str::to_string),
            owner_name: meta.get("owner_name").and_then(Value::as_str).map(str::to_string),
            booked: fix(&transactions["booked"], "booked"),
            pending: fix(&transactions["pending"], "pending"),
            details,
            balances,
        }
    }

    /// A second account (the example requisition's second id): a savings account in EUR.
    pub fn example_savings() -> AccountSpec {
        AccountSpec {
            id: EXAMPLE_SECOND_ACCOUNT_ID.into(),
            iban: Some("GL5604449876543210".into()),
            owner_name: Some("John Doe".into()),
            details: json!({"resourceId": "def", "iban": "GL5604449876543210", "currency": "EUR",
                            "ownerName": "John Doe", "name": "Savings", "cashAccountType": "SVGS"}),
            balances: json!([{"balanceAmount": {"amount": "5000.00", "currency": "EUR"},
                              "balanceType": "interimBooked", "referenceDate": "2021-11-22"}]),
            booked: vec![
                json!({"transactionId": "sav-1", "transactionAmount": {"currency": "EUR", "amount": "100.00"},
                                "bookingDate": "2021-11-15", "valueDate": "2021-11-15",
                                "remittanceInformationUnstructured": "Monthly saving"}),
            ],
            pending: Vec::new(),
        }
    }

    /// The same account without an IBAN anywhere (metadata nor details).
    pub fn without_iban(mut self) -> AccountSpec {
        self.iban = None;
        if let Some(details) = self.details.as_object_mut() {
            details.remove("iban");
        }
        self
    }
}

/// What the next matching request gets instead of its normal answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 503 `ServiceError`: the bank is down.
    ServiceError,
    /// 500 `UnknownRequestError`: the bank returned an unknown error.
    UnknownRequestError,
    /// 401 `AccessExpiredError`: the consent expired.
    AccessExpired,
    /// 401 `AccessExpiredError` saying the user revoked it.
    AccessRevoked,
    /// 401 `AccessExpiredError` in GoCardless's own words, which do not say which it was.
    AccessEnded,
    /// 401 `AccountInactiveError`: the account is gone at the bank.
    AccountInactive,
    /// 409: the account is suspended.
    Suspended,
    /// 400: the end user agreement expired.
    EuaExpired,
    /// 429 with the API limit text and headers saying to wait this long.
    ApiRateLimit { seconds: i64 },
    /// 429 `RateLimitError`: the bank's daily limit.
    InstitutionRateLimit,
    /// 403: the server's IP is not on the allow-list (the example body).
    IpNotAllowed,
    /// 401 on `token/new/`: the example "No active account found with the given credentials".
    CredentialsRefused,
    /// 401 "Invalid token": the access token is no longer accepted.
    InvalidToken,
    /// 200 with an HTML page.
    NotJson,
    /// Any status with any JSON body.
    Status(u16, Value),
    /// The normal answer after a delay.
    Delay(Duration),
}

/// Which request a fault is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The next call of any account's data (details, balances, transactions).
    AccountData,
    /// The next data call of this account.
    Account(String),
    /// The next request whose path below `/api/v2/` starts with this (`token/new/`, `requisitions/`).
    Path(String),
}

/// One request as the emulator saw it. Tokens and secrets are never recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// The path below `/api/v2/` (`accounts/{id}/balances/`), or the whole path outside it.
    pub path: String,
    pub query: Vec<(String, String)>,
}

impl RecordedRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A call of an account's details, balances or transactions.
    pub fn is_account_data(&self) -> bool {
        self.path.starts_with("accounts/") && self.path.split('/').filter(|s| !s.is_empty()).count() == 3
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Granted,
    Expired,
    Revoked,
    Inactive,
}

struct Account {
    spec: AccountSpec,
    status: String,
    access: Access,
}

struct Api {
    base: String,
    secret_id: String,
    secret_key: String,
    now: DateTime<Utc>,
    access_tokens: HashMap<String, bool>,
    refresh_tokens: HashSet<String>,
    institutions: Vec<Value>,
    agreements: HashMap<String, Value>,
    requisitions: Vec<Value>,
    accounts: HashMap<String, Account>,
    /// The accounts the next linked requisition reaches, in order.
    bank_accounts: Vec<String>,
    daily_limit: u32,
    successes: HashMap<(String, String, NaiveDate), u32>,
    faults: VecDeque<(Target, Fault)>,
    page_size: usize,
    requests: Vec<RecordedRequest>,
    violations: Vec<String>,
    nonce: u64,
    random: std::collections::hash_map::RandomState,
}

impl Api {
    fn random_hex(&mut self) -> String {
        self.nonce += 1;
        let a = self.random.hash_one(self.nonce);
        let b = self.random.hash_one(self.nonce.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        format!("{a:016x}{b:016x}")
    }

    fn uuid(&mut self) -> String {
        let hex = self.random_hex();
        format!("{}-{}-4{}-a{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
    }

    fn today(&self) -> NaiveDate {
        self.now.date_naive()
    }

    fn seconds_to_midnight(&self) -> i64 {
        let midnight = (self.today() + TimeDelta::days(1)).and_time(NaiveTime::MIN).and_utc();
        (midnight - self.now).num_seconds()
    }

    fn institution(&self, id: &str) -> Option<&Value> {
        self.institutions.iter().find(|i| i.get("id").and_then(Value::as_str) == Some(id))
    }

    fn take_fault(&mut self, path: &str, data_account: Option<&str>) -> Option<Fault> {
        let index = self.faults.iter().position(|(target, _)| match target {
            Target::AccountData => data_account.is_some(),
            Target::Account(id) => data_account == Some(id.as_str()),
            Target::Path(prefix) => path.starts_with(prefix.as_str()),
        })?;
        self.faults.remove(index).map(|(_, fault)| fault)
    }
}

type Shared = Arc<Mutex<Api>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Api> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running GoCardless emulator on 127.0.0.1.
pub struct GoCardlessApi {
    addr: SocketAddr,
    shared: Shared,
    server: Served,
}

fn sandbox_institution() -> Value {
    json!({"id": SANDBOX_INSTITUTION_ID, "name": "Sandbox Finance", "bic": "SFIN0000", "transaction_total_days": "90",
           "max_access_valid_for_days": "180", "countries": ["XX"],
           "logo": "https://cdn.nordigen.com/ais/SANDBOXFINANCE_SFIN0000.png"})
}

impl GoCardlessApi {
    /// Starts an emulator on a free loopback port with the example institutions and two
    /// accounts ([`AccountSpec::example_main`], [`AccountSpec::example_savings`]).
    ///
    /// # Panics
    /// When no loopback port can be bound: the emulator is for tests.
    pub async fn start() -> GoCardlessApi {
        let (listener, addr) = served::bind().await;
        let mut institutions =
            example(&["InstitutionsEndpointMockData", "GetInstitutions"]).as_array().cloned().unwrap_or_default();
        institutions.push(sandbox_institution());
        let mut api = Api {
            base: format!("http://{addr}"),
            secret_id: String::new(),
            secret_key: String::new(),
            now: default_now(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashSet::new(),
            institutions,
            agreements: HashMap::new(),
            requisitions: Vec::new(),
            accounts: HashMap::new(),
            bank_accounts: Vec::new(),
            daily_limit: DEFAULT_DAILY_LIMIT,
            successes: HashMap::new(),
            faults: VecDeque::new(),
            page_size: 100,
            requests: Vec::new(),
            violations: Vec::new(),
            nonce: 0,
            random: std::collections::hash_map::RandomState::new(),
        };
        api.secret_id = api.uuid();
        api.secret_key = api.random_hex() + &api.random_hex();
        let shared = Arc::new(Mutex::new(api));
        let router = Router::new().fallback(handle).with_state(shared.clone());
        let server = Served::serve(listener, router);
        let emulator = GoCardlessApi { addr, shared, server };
        emulator.set_accounts(vec![AccountSpec::example_main(), AccountSpec::example_savings()]);
        emulator
    }

    /// `http://127.0.0.1:PORT/api/v2/`.
    pub fn base_url(&self) -> String {
        format!("http://{}{API_PATH}", self.addr)
    }

    pub fn secret_id(&self) -> String {
        lock(&self.shared).secret_id.clone()
    }

    pub fn secret_key(&self) -> String {
        lock(&self.shared).secret_key.clone()
    }

    /// Every access and refresh token issued: what must never appear in a failure.
    pub fn issued_tokens(&self) -> Vec<String> {
        let api = lock(&self.shared);
        api.access_tokens.keys().chain(api.refresh_tokens.iter()).cloned().collect()
    }

    /// The emulator's clock: "today" for date checks and the daily limits.
    pub fn set_now(&self, now: DateTime<Utc>) {
        lock(&self.shared).now = now;
    }

    /// The institutions `institutions/` lists (GoCardless's `Aspsp` objects).
    pub fn set_institutions(&self, institutions: Vec<Value>) {
        lock(&self.shared).institutions = institutions;
    }

    /// The bank's accounts: what the next linked requisition reaches. Earlier accounts stay
    /// readable by their ids.
    pub fn set_accounts(&self, accounts: Vec<AccountSpec>) {
        let mut api = lock(&self.shared);
        api.bank_accounts = accounts.iter().map(|a| a.id.clone()).collect();
        for spec in accounts {
            api.accounts.insert(spec.id.clone(), Account { spec, status: "READY".into(), access: Access::Granted });
        }
    }

    /// Replaces one account's booked and pending transactions (raw JSON objects).
    pub fn set_transactions(&self, account: &str, booked: Vec<Value>, pending: Vec<Value>) {
        if let Some(a) = lock(&self.shared).accounts.get_mut(account) {
            a.spec.booked = booked;
            a.spec.pending = pending;
        }
    }

    /// The bank gives every account a new id for the next requisition (banks that mint a
    /// resource id per consent do): returns `(old, new)` pairs. The old ids are unknown from now on.
    pub fn change_account_ids(&self) -> Vec<(String, String)> {
        let mut api = lock(&self.shared);
        let mut pairs = Vec::new();
        for old in api.bank_accounts.clone() {
            let new = api.uuid();
            if let Some(mut account) = api.accounts.remove(&old) {
                account.spec.id = new.clone();
                account.access = Access::Granted;
                api.accounts.insert(new.clone(), account);
            }
            pairs.push((old, new));
        }
        api.bank_accounts = pairs.iter().map(|(_, new)| new.clone()).collect();
        pairs
    }

    /// The user approves at the bank: the requisition behind `link` becomes `LN` with the bank's
    /// accounts, its agreement is accepted now, and the redirect the browser follows is returned
    /// (`{redirect}?ref={reference}`).
    pub fn complete_link(&self, link: &str) -> Option<String> {
        let mut api = lock(&self.shared);
        approve(&mut api, requisition_of_link(link)?)
    }

    /// The bank sends the user back with an error (`UserCancelledSession`, `SSNVerificationFailed`,
    /// …); a failed SSN check rejects the requisition (`RJ`).
    pub fn fail_link(&self, link: &str, error: &str, details: &str) -> Option<String> {
        let mut api = lock(&self.shared);
        let id = requisition_of_link(link)?;
        let requisition = api.requisitions.iter_mut().find(|r| r["id"] == id)?;
        if error == "SSNVerificationFailed" {
            requisition["status"] = json!("RJ");
        }
        let redirect = requisition["redirect"].as_str()?.to_string();
        let reference = requisition["reference"].as_str().unwrap_or_default().to_string();
        Some(format!(
            "{redirect}{}ref={}&error={}&details={}",
            if redirect.contains('?') { '&' } else { '?' },
            encode(&reference),
            encode(error),
            encode(details)
        ))
    }

    /// Sets a requisition's status (`GA`, `EX`, `SU`, …) directly.
    pub fn set_requisition_status(&self, requisition: &str, status: &str) {
        let mut api = lock(&self.shared);
        if let Some(r) = api.requisitions.iter_mut().find(|r| r["id"] == requisition) {
            r["status"] = json!(status);
        }
    }

    /// The access ran out: the requisition is `EX` and its accounts answer `AccessExpiredError`.
    pub fn expire(&self, requisition: &str) {
        self.set_access(requisition, "EX", Access::Expired);
    }

    /// The user revoked the access at their bank.
    pub fn revoke_at_bank(&self, requisition: &str) {
        self.set_access(requisition, "LN", Access::Revoked);
    }

    fn set_access(&self, requisition: &str, status: &str, access: Access) {
        let mut api = lock(&self.shared);
        let mut accounts = Vec::new();
        if let Some(r) = api.requisitions.iter_mut().find(|r| r["id"] == requisition) {
            r["status"] = json!(status);
            accounts = r["accounts"].as_array().cloned().unwrap_or_default();
        }
        for id in accounts.iter().filter_map(Value::as_str) {
            if let Some(a) = api.accounts.get_mut(id) {
                a.access = access;
            }
        }
    }

    /// The bank closed the account: its data calls answer `AccountInactiveError`.
    pub fn deactivate(&self, account: &str) {
        if let Some(a) = lock(&self.shared).accounts.get_mut(account) {
            a.access = Access::Inactive;
        }
    }

    /// The account's status in its metadata (`READY`, `ERROR`, `SUSPENDED`, `EXPIRED`, …); a
    /// `SUSPENDED` account answers its data calls with 409.
    pub fn set_account_status(&self, account: &str, status: &str) {
        if let Some(a) = lock(&self.shared).accounts.get_mut(account) {
            a.status = status.into();
        }
    }

    /// Successful calls per account, scope and day (default 4).
    pub fn set_daily_limit(&self, limit: u32) {
        lock(&self.shared).daily_limit = limit;
    }

    /// Entries per page of `requisitions/` when the client asks for more.
    pub fn set_page_size(&self, size: usize) {
        lock(&self.shared).page_size = size.max(1);
    }

    /// Makes every access token issued so far invalid (refresh tokens stay valid).
    pub fn expire_access_tokens(&self) {
        for valid in lock(&self.shared).access_tokens.values_mut() {
            *valid = false;
        }
    }

    /// Adds a requisition made by someone else (another user of the same company), for paging.
    pub fn add_foreign_requisition(&self, reference: &str) {
        let mut api = lock(&self.shared);
        let id = api.uuid();
        let mut requisition = example(&["RequisitionsEndpointMockData", "GetRequisition"]);
        requisition["id"] = json!(id);
        requisition["reference"] = json!(reference);
        requisition["agreement"] = Value::Null;
        api.requisitions.push(requisition);
    }

    /// The next request matching `target` gets `fault`; several queue in order.
    pub fn fail_next(&self, target: Target, fault: Fault) {
        lock(&self.shared).faults.push_back((target, fault));
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared).requests.clone()
    }

    /// The account data calls so far.
    pub fn data_requests(&self) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(RecordedRequest::is_account_data).collect()
    }

    /// How many requests went to exactly this path (below `/api/v2/`).
    pub fn count(&self, method: &str, path: &str) -> usize {
        lock(&self.shared).requests.iter().filter(|r| r.method == method && r.path == path).count()
    }

    /// Requisitions as the API would list them.
    pub fn requisitions(&self) -> Vec<Value> {
        lock(&self.shared).requisitions.clone()
    }

    /// Requests the API does not allow, described.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.shared).violations.clone()
    }

    pub async fn stop(&mut self) {
        self.server.stop().await;
    }
}

fn requisition_of_link(link: &str) -> Option<String> {
    link.split("/bank/").nth(1).map(|rest| rest.trim_end_matches('/').to_string())
}

fn approve(api: &mut Api, id: String) -> Option<String> {
    let accounts = api.bank_accounts.clone();
    let now = api.now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let index = api.requisitions.iter().position(|r| r["id"] == id)?;
    let requisition = &mut api.requisitions[index];
    requisition["status"] = json!("LN");
    requisition["accounts"] = json!(accounts);
    let redirect = requisition["redirect"].as_str()?.to_string();
    let reference = requisition["reference"].as_str().unwrap_or_default().to_string();
    if let Some(agreement) = requisition["agreement"].as_str().map(str::to_string) {
        if let Some(a) = api.agreements.get_mut(&agreement) {
            a["accepted"] = json!(now);
        }
    }
    for account in &accounts {
        if let Some(a) = api.accounts.get_mut(account) {
            a.access = Access::Granted;
        }
    }
    Some(format!("{redirect}{}ref={}", if redirect.contains('?') { '&' } else { '?' }, encode(&reference)))
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn error_body(summary: &str, detail: &str, status: u16) -> Value {
    json!({"summary": summary, "detail": detail, "status_code": status})
}

fn respond(status: u16, body: Value, headers: &[(&'static str, String)]) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(body)).into_response();
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().insert(HeaderName::from_static(name), value);
        }
    }
    response
}

fn not_found() -> Value {
    example(&["InstitutionsEndpointMockData", "GetNonExistingInstitution"])
}

/// The rate limit headers GoCardless sends, with the account's when it is an account data call.
fn limit_headers(
    api: &Api,
    account: Option<(&str, &str)>,
    api_remaining: u32,
    api_reset: i64,
) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("http_x_ratelimit_limit", API_LIMIT.to_string()),
        ("http_x_ratelimit_remaining", api_remaining.to_string()),
        ("http_x_ratelimit_reset", api_reset.to_string()),
    ];
    if let Some((account, scope)) = account {
        let used = api.successes.get(&(account.to_string(), scope.to_string(), api.today())).copied().unwrap_or(0);
        headers.push(("http_x_ratelimit_account_success_limit", api.daily_limit.to_string()));
        headers.push(("http_x_ratelimit_account_success_remaining", api.daily_limit.saturating_sub(used).to_string()));
        headers.push(("http_x_ratelimit_account_success_reset", api.seconds_to_midnight().to_string()));
    }
    headers
}

fn fault_response(api: &Api, fault: &Fault, account: Option<(&str, &str)>) -> Response {
    let headers = limit_headers(api, account, API_LIMIT - 1, 60);
    let typed = |status: u16, summary: &str, detail: &str, kind: &str| {
        let mut body = error_body(summary, detail, status);
        body["type"] = json!(kind);
        respond(status, body, &headers)
    };
    match fault {
        Fault::ServiceError => typed(503, "Service unavailable", "The bank is not available right now", "ServiceError"),
        Fault::UnknownRequestError => {
            typed(500, "Unknown request error", "The bank returned an unknown error", "UnknownRequestError")
        }
        Fault::AccessExpired => typed(
            401,
            "Couldn't update account transactions",
            "Access has expired. To restore access reconnect the account.",
            "AccessExpiredError",
        ),
        Fault::AccessEnded => typed(
            401,
            "Couldn't update account transactions",
            "Access has expired or it has been revoked. To restore access reconnect the account.",
            "AccessExpiredError",
        ),
        Fault::AccessRevoked => typed(
            401,
            "Couldn't update account transactions",
            "Access has been revoked by the user at the bank. To restore access reconnect the account.",
            "AccessExpiredError",
        ),
        Fault::AccountInactive => typed(
            401,
            "Account inactive",
            "The account is no longer active at the institution.",
            "AccountInactiveError",
        ),
        Fault::Suspended => respond(
            409,
            error_body("Account suspended", "Account suspended after repeated failed access attempts", 409),
            &headers,
        ),
        Fault::EuaExpired => respond(
            400,
            error_body("End User Agreement (EUA) expired", "End User Agreement (EUA) has expired", 400),
            &headers,
        ),
        Fault::ApiRateLimit { seconds } => {
            let headers = limit_headers(api, account, 0, *seconds);
            respond(
                429,
                error_body(
                    "Rate limit exceeded",
                    &format!(
                        "The rate limit for this resource is {API_LIMIT}/minute. Please try again in {seconds} seconds"
                    ),
                    429,
                ),
                &headers,
            )
        }
        Fault::InstitutionRateLimit => typed(
            429,
            "Couldn't update transactions",
            "Daily request limit set by the Institution has been exceeded.",
            "RateLimitError",
        ),
        Fault::IpNotAllowed => respond(403, example(&["CredentialMockData", "IpNotWhitelistedError"]), &headers),
        Fault::CredentialsRefused => {
            respond(401, example(&["CredentialMockData", "NoAccountForGivenCredentialsError"]), &headers)
        }
        Fault::InvalidToken => respond(401, error_body("Invalid token", "Token is invalid or expired", 401), &headers),
        Fault::NotJson => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/html")], "<html><body>Maintenance</body></html>")
                .into_response()
        }
        Fault::Status(status, body) => respond(*status, body.clone(), &headers),
        Fault::Delay(_) => respond(500, error_body("Delay", "a delay is not an answer", 500), &headers),
    }
}

async fn handle(State(shared): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let full = uri.path().to_string();
    let query = query_pairs(uri.query());
    let delay = {
        let mut api = lock(&shared);
        let path = full.strip_prefix(API_PATH).unwrap_or(&full).to_string();
        let data_account = path
            .strip_prefix("accounts/")
            .and_then(|rest| rest.split('/').next())
            .filter(|_| path.split('/').filter(|s| !s.is_empty()).count() == 3)
            .map(str::to_string);
        let index = api.faults.iter().position(|(target, fault)| {
            matches!(fault, Fault::Delay(_))
                && match target {
                    Target::AccountData => data_account.is_some(),
                    Target::Account(id) => data_account.as_deref() == Some(id.as_str()),
                    Target::Path(prefix) => path.starts_with(prefix.as_str()),
                }
        });
        match index.and_then(|i| api.faults.remove(i)) {
            Some((_, Fault::Delay(d))) => Some(d),
            _ => None,
        }
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let mut api = lock(&shared);
    let Some(path) = full.strip_prefix(API_PATH).map(str::to_string) else {
        if let Some(id) = full.strip_prefix("/bank/") {
            api.requests.push(RecordedRequest { method: method.to_string(), path: full.clone(), query });
            return match approve(&mut api, id.to_string()) {
                Some(redirect) => (StatusCode::FOUND, [(header::LOCATION, redirect)]).into_response(),
                None => respond(404, not_found(), &[]),
            };
        }
        api.violations.push(format!("{method} {full}: not under {API_PATH}"));
        api.requests.push(RecordedRequest { method: method.to_string(), path: full, query });
        return respond(404, not_found(), &[]);
    };
    api.requests.push(RecordedRequest { method: method.to_string(), path: path.clone(), query: query.clone() });
    if !path.ends_with('/') {
        api.violations.push(format!("{method} {path}: GoCardless's paths end in a slash"));
        return respond(404, not_found(), &[]);
    }
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let body: Option<Value> = if body.is_empty() { None } else { serde_json::from_slice(&body).ok() };
    if segments.first() == Some(&"token") {
        return token(&mut api, &method, &path, &segments, body);
    }
    // Every other endpoint needs a Bearer token.
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    match bearer.as_ref().map(|t| api.access_tokens.get(t).copied()) {
        None => {
            api.violations.push(format!("{method} {path}: no Bearer token"));
            return respond(
                401,
                error_body("Authentication failed", "Authentication credentials were not provided.", 401),
                &[],
            );
        }
        Some(None) => {
            api.violations.push(format!("{method} {path}: a Bearer token the API never issued"));
            return respond(401, error_body("Invalid token", "Token is invalid or expired", 401), &[]);
        }
        Some(Some(false)) => return respond(401, error_body("Invalid token", "Token is invalid or expired", 401), &[]),
        Some(Some(true)) => {}
    }
    let data_account = match segments.as_slice() {
        ["accounts", id, "details" | "balances" | "transactions"] => Some(id.to_string()),
        _ => None,
    };
    if let Some(fault) = api.take_fault(&path, data_account.as_deref()) {
        let scope = segments.get(2).copied().unwrap_or_default();
        return fault_response(&api, &fault, data_account.as_deref().map(|a| (a, scope)));
    }
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["institutions"]) => institutions(&mut api, &query),
        ("GET", ["institutions", id]) => match api.institution(id) {
            Some(i) => respond(200, institution_detail(i), &limit_headers(&api, None, API_LIMIT - 1, 60)),
            None => respond(404, not_found(), &[]),
        },
        ("POST", ["agreements", "enduser"]) => create_agreement(&mut api, body),
        ("GET", ["agreements", "enduser", id]) => match api.agreements.get(*id) {
            Some(a) => respond(200, a.clone(), &[]),
            None => respond(404, not_found(), &[]),
        },
        ("POST", ["requisitions"]) => create_requisition(&mut api, body),
        ("GET", ["requisitions"]) => list_requisitions(&mut api, &query),
        ("GET", ["requisitions", id]) => match api.requisitions.iter().find(|r| r["id"] == *id) {
            Some(r) => respond(200, r.clone(), &[]),
            None => respond(404, example(&["RequisitionsEndpointMockData", "GetRequisitionWithInvalidGuid"]), &[]),
        },
        ("DELETE", ["requisitions", id]) => {
            let before = api.requisitions.len();
            let id = id.to_string();
            api.requisitions.retain(|r| r["id"] != id);
            if api.requisitions.len() == before {
                respond(404, example(&["RequisitionsEndpointMockData", "GetRequisitionWithInvalidGuid"]), &[])
            } else {
                let mut deleted = example(&["RequisitionsEndpointMockData", "DeleteRequisition"]);
                deleted["detail"] = json!(format!("Requisition {id} deleted with all its End User Agreements"));
                respond(200, deleted, &[])
            }
        }
        ("GET", ["accounts", id]) => match api.accounts.get(*id) {
            Some(account) => {
                let meta = json!({"id": account.spec.id, "created": "2021-11-01T10:00:00.000Z",
                    "last_accessed": api.now.to_rfc3339(), "iban": account.spec.iban,
                    "institution_id": SANDBOX_INSTITUTION_ID, "status": account.status,
                    "owner_name": account.spec.owner_name});
                respond(200, meta, &limit_headers(&api, None, API_LIMIT - 1, 60))
            }
            None => respond(404, example(&["AccountsEndpointMockData", "GetAccountThatDoesNotExist"]), &[]),
        },
        ("GET", ["accounts", id, scope @ ("details" | "balances" | "transactions")]) => {
            account_data(&mut api, &method, &path, id, scope, &query)
        }
        _ => {
            api.violations.push(format!("{method} {path}: no such endpoint"));
            respond(404, not_found(), &[])
        }
    }
}

fn token(api: &mut Api, method: &Method, path: &str, segments: &[&str], body: Option<Value>) -> Response {
    if method != Method::POST {
        api.violations.push(format!("{method} {path}: tokens are obtained with POST"));
        return respond(405, error_body("Method not allowed", "Method not allowed", 405), &[]);
    }
    if let Some(fault) = api.take_fault(path, None) {
        return fault_response(api, &fault, None);
    }
    let field = |name: &str| body.as_ref().and_then(|b| b.get(name)).and_then(Value::as_str).map(str::to_string);
    let example_pair = example(&["TokenEndpointMockData", "GetNewToken"]);
    let headers = limit_headers(api, None, API_LIMIT - 1, 3600);
    match segments {
        ["token", "new"] => {
            let (Some(id), Some(key)) = (field("secret_id"), field("secret_key")) else {
                api.violations.push(format!("POST {path}: secret_id and secret_key are required"));
                return respond(400, json!({"secret_id": ["This field is required."], "status_code": 400}), &[]);
            };
            if id != api.secret_id || key != api.secret_key {
                return respond(401, example(&["CredentialMockData", "NoAccountForGivenCredentialsError"]), &headers);
            }
            let access = format!("access-{}", api.random_hex());
            let refresh = format!("refresh-{}", api.random_hex());
            api.access_tokens.insert(access.clone(), true);
            api.refresh_tokens.insert(refresh.clone());
            respond(
                200,
                json!({"access": access, "access_expires": example_pair["access_expires"],
                       "refresh": refresh, "refresh_expires": example_pair["refresh_expires"]}),
                &headers,
            )
        }
        ["token", "refresh"] => {
            let Some(refresh) = field("refresh") else {
                api.violations.push(format!("POST {path}: refresh is required"));
                return respond(400, json!({"refresh": ["This field is required."], "status_code": 400}), &[]);
            };
            if !api.refresh_tokens.contains(&refresh) {
                return respond(401, error_body("Invalid token", "Token is invalid or expired", 401), &headers);
            }
            let access = format!("access-{}", api.random_hex());
            api.access_tokens.insert(access.clone(), true);
            let expires = example(&["TokenEndpointMockData", "RefreshAccessToken", "access_expires"]);
            respond(200, json!({"access": access, "access_expires": expires}), &headers)
        }
        _ => {
            api.violations.push(format!("POST {path}: no such endpoint"));
            respond(404, not_found(), &[])
        }
    }
}

/// The list entry of an institution, as `institutions/` gives it (no detail-only fields).
fn institution_detail(institution: &Value) -> Value {
    let mut detail = institution.clone();
    if institution.get("id") == Some(&json!(N26_INSTITUTION_ID)) {
        let example = example(&["InstitutionsEndpointMockData", "GetInstitution"]);
        for key in ["supported_payments", "supported_features"] {
            detail[key] = example[key].clone();
        }
    }
    detail
}

fn institutions(api: &mut Api, query: &[(String, String)]) -> Response {
    let headers = limit_headers(api, None, API_LIMIT - 1, 60);
    let country = query.iter().find(|(k, _)| k == "country").map(|(_, v)| v.clone());
    let Some(country) = country else { return respond(200, json!(api.institutions), &headers) };
    let known = [
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IS", "IE", "IT", "LV", "LI",
        "LT", "LU", "MT", "NL", "NO", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "GB", "XX",
    ];
    if !known.contains(&country.to_ascii_uppercase().as_str()) {
        let mut refused = example(&["InstitutionsEndpointMockData", "GetInstitutionsForNotCoveredCountry"]);
        refused["country"]["detail"] = json!(format!("{country} is not a valid choice."));
        return respond(400, refused, &headers);
    }
    let list: Vec<Value> = api
        .institutions
        .iter()
        .filter(|i| {
            i["countries"]
                .as_array()
                .is_some_and(|c| c.iter().any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(&country))))
        })
        .cloned()
        .collect();
    respond(200, json!(list), &headers)
}

fn days_of(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn create_agreement(api: &mut Api, body: Option<Value>) -> Response {
    let path = "agreements/enduser/";
    let Some(body) = body else {
        api.violations.push(format!("POST {path}: no JSON body"));
        return respond(400, json!({"institution_id": ["This field is required."], "status_code": 400}), &[]);
    };
    let Some(institution_id) = body.get("institution_id").and_then(Value::as_str).map(str::to_string) else {
        api.violations.push(format!("POST {path}: institution_id is required"));
        return respond(400, json!({"institution_id": ["This field is required."], "status_code": 400}), &[]);
    };
    let Some(institution) = api.institution(&institution_id).cloned() else {
        api.violations.push(format!("POST {path}: unknown institution {institution_id}"));
        let mut refused = example(&["AgreementsEndpointMockData", "CreateAgreementWithInvalidInstitutionId"]);
        refused["institution_id"]["summary"] = json!(format!("Unknown Institution ID {institution_id}"));
        return respond(400, refused, &[]);
    };
    let total = days_of(&institution["transaction_total_days"]).unwrap_or(90);
    let max_access = days_of(&institution["max_access_valid_for_days"]).unwrap_or(90).min(180);
    let history = body.get("max_historical_days").map(|v| days_of(v).unwrap_or(-1)).unwrap_or(90);
    let valid = body.get("access_valid_for_days").map(|v| days_of(v).unwrap_or(-1)).unwrap_or(90);
    let mut errors = serde_json::Map::new();
    if !(1..=total).contains(&history) {
        api.violations.push(format!("POST {path}: max_historical_days {history} outside 1..={total}"));
        errors.insert(
            "max_historical_days".into(),
            json!({"summary": "Incorrect max_historical_days",
                   "detail": format!("max_historical_days must be > 0 and <= {institution_id} transaction_total_days ({total})")}),
        );
    }
    if !(1..=max_access).contains(&valid) {
        api.violations.push(format!("POST {path}: access_valid_for_days {valid} outside 1..={max_access}"));
        errors.insert(
            "access_valid_for_days".into(),
            json!({"summary": "Incorrect access_valid_for_days",
                   "detail": format!("access_valid_for_days must be > 0 and <= {max_access}")}),
        );
    }
    let scope = body.get("access_scope").cloned().unwrap_or(json!(["balances", "details", "transactions"]));
    let scope_ok = scope.as_array().is_some_and(|s| {
        !s.is_empty() && s.iter().all(|x| matches!(x.as_str(), Some("balances" | "details" | "transactions")))
    });
    if !scope_ok {
        api.violations
            .push(format!("POST {path}: access_scope {scope} is not a subset of balances, details, transactions"));
        errors.insert("access_scope".into(), json!({"summary": "Unknown scope", "detail": "Unknown access scope"}));
    }
    if !errors.is_empty() {
        errors.insert("status_code".into(), json!(400));
        return respond(400, Value::Object(errors), &[]);
    }
    let id = api.uuid();
    let agreement = json!({"id": id, "created": api.now.to_rfc3339(), "institution_id": institution_id,
        "max_historical_days": history, "access_valid_for_days": valid, "access_scope": scope, "accepted": null});
    api.agreements.insert(id, agreement.clone());
    respond(201, agreement, &limit_headers(api, None, API_LIMIT - 1, 60))
}

fn create_requisition(api: &mut Api, body: Option<Value>) -> Response {
    let path = "requisitions/";
    let body = body.unwrap_or(Value::Null);
    let text = |name: &str| {
        body.get(name).and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty()).map(str::to_string)
    };
    let mut errors = serde_json::Map::new();
    let redirect = text("redirect");
    if redirect.is_none() {
        api.violations.push(format!("POST {path}: redirect is required"));
        errors.insert("redirect".into(), json!(["This field is required."]));
    }
    let institution_id = text("institution_id");
    if institution_id.is_none() {
        api.violations.push(format!("POST {path}: institution_id is required"));
        errors.insert("institution_id".into(), json!(["This field may not be blank."]));
    }
    let reference = text("reference").unwrap_or_default();
    if reference.chars().count() > 256 {
        api.violations.push(format!("POST {path}: reference longer than 256 characters"));
        errors.insert("reference".into(), json!(["Ensure this field has no more than 256 characters."]));
    }
    if let Some(language) = text("user_language") {
        if language.len() != 2 || !language.chars().all(|c| c.is_ascii_alphabetic()) {
            api.violations.push(format!("POST {path}: user_language {language:?} is not ISO 639-1"));
            errors.insert(
                "user_language".into(),
                json!({"summary": "Provided user_language is invalid or not supported",
                       "detail": format!("'{language}' is an invalid or unsupported language")}),
            );
        }
    }
    let agreement = text("agreement");
    if let Some(agreement) = &agreement {
        let eua_institution =
            api.agreements.get(agreement).and_then(|a| a["institution_id"].as_str()).map(str::to_string);
        match eua_institution {
            None => {
                api.violations.push(format!("POST {path}: unknown agreement {agreement}"));
                errors.insert(
                    "agreement".into(),
                    json!({"summary": "Invalid EndUserAgreement ID",
                    "detail": format!("{agreement} is not a valid EndUserAgreement UUID. ")}),
                );
            }
            Some(eua) if Some(&eua) != institution_id.as_ref() => {
                api.violations.push(format!("POST {path}: the agreement is for {eua}, not {institution_id:?}"));
                let example =
                    example(&["RequisitionsEndpointMockData", "CreateRequisitionWithInvalidParameters", "agreement"]);
                errors.insert("agreement".into(), example);
            }
            Some(_) => {}
        }
    }
    if let Some(institution) = &institution_id {
        if api.institution(institution).is_none() {
            api.violations.push(format!("POST {path}: unknown institution {institution}"));
            errors.insert(
                "institution_id".into(),
                json!({"summary": format!("Unknown Institution ID {institution}"),
                "detail": "Get Institution IDs from /institutions/?country={$COUNTRY_CODE}"}),
            );
        }
    }
    if !errors.is_empty() {
        errors.insert("status_code".into(), json!(400));
        return respond(400, Value::Object(errors), &[]);
    }
    let id = api.uuid();
    let requisition = json!({
        "id": id, "created": api.now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "redirect": redirect, "status": "CR", "institution_id": institution_id, "agreement": agreement,
        "reference": reference, "accounts": [], "user_language": text("user_language").unwrap_or_else(|| "EN".into()),
        "link": format!("{}/bank/{id}", api.base), "ssn": null, "account_selection": false, "redirect_immediate": false,
    });
    api.requisitions.push(requisition.clone());
    respond(201, requisition, &limit_headers(api, None, API_LIMIT - 1, 60))
}

fn list_requisitions(api: &mut Api, query: &[(String, String)]) -> Response {
    let number = |name: &str, default: usize| -> Result<usize, String> {
        match query.iter().find(|(k, _)| k == name) {
            None => Ok(default),
            Some((_, v)) => v.parse().map_err(|_| format!("{name} {v:?} is not a number")),
        }
    };
    let (limit, offset) = match (number("limit", 100), number("offset", 0)) {
        (Ok(l), Ok(o)) => (l.clamp(1, 100).min(api.page_size), o),
        (Err(e), _) | (_, Err(e)) => {
            api.violations.push(format!("GET requisitions/: {e}"));
            return respond(400, error_body("Invalid page", &e, 400), &[]);
        }
    };
    let count = api.requisitions.len();
    let results: Vec<Value> = api.requisitions.iter().skip(offset).take(limit).cloned().collect();
    let page = |o: usize| format!("{}{API_PATH}requisitions/?limit={limit}&offset={o}", api.base);
    let next = (offset + limit < count).then(|| page(offset + limit));
    let previous = (offset > 0).then(|| page(offset.saturating_sub(limit)));
    respond(200, json!({"count": count, "next": next, "previous": previous, "results": results}), &[])
}

fn account_data(
    api: &mut Api,
    method: &Method,
    path: &str,
    id: &str,
    scope: &str,
    query: &[(String, String)],
) -> Response {
    let Some(account) = api.accounts.get(id) else {
        let mut missing = example(&["AccountsEndpointMockData", "GetBalancesForAccountThatDoesNotExist"]);
        missing["summary"] = json!(format!("Account ID {id} not found"));
        return respond(404, missing, &[]);
    };
    let headers = limit_headers(api, Some((id, scope)), API_LIMIT - 1, 60);
    let typed = |status: u16, summary: &str, detail: &str, kind: &str| {
        let mut body = error_body(summary, detail, status);
        body["type"] = json!(kind);
        respond(status, body, &headers)
    };
    match account.access {
        Access::Expired => return fault_response(api, &Fault::AccessExpired, Some((id, scope))),
        Access::Revoked => return fault_response(api, &Fault::AccessRevoked, Some((id, scope))),
        Access::Inactive => return fault_response(api, &Fault::AccountInactive, Some((id, scope))),
        Access::Granted => {}
    }
    if account.status == "SUSPENDED" {
        return fault_response(api, &Fault::Suspended, Some((id, scope)));
    }
    let key = (id.to_string(), scope.to_string(), api.today());
    if api.successes.get(&key).copied().unwrap_or(0) >= api.daily_limit {
        api.violations.push(format!(
            "{method} {path}: called after the headers said the daily {scope} limit of this account was used"
        ));
        return typed(
            429,
            "Rate limit exceeded",
            &format!(
                "The rate limit for this resource is {}/day. Please try again in {} seconds",
                api.daily_limit,
                api.seconds_to_midnight()
            ),
            "RateLimitError",
        );
    }
    let answer = match scope {
        "details" => json!({"account": account.spec.details}),
        "balances" => json!({"balances": account.spec.balances}),
        _ => {
            let today = api.today();
            let date = |name: &str| -> Result<Option<NaiveDate>, String> {
                match query.iter().find(|(k, _)| k == name) {
                    None => Ok(None),
                    Some((_, v)) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
                        .map(Some)
                        .map_err(|_| format!("{name} {v:?} is not a date")),
                }
            };
            let (from, to) = match (date("date_from"), date("date_to")) {
                (Ok(f), Ok(t)) => (f, t),
                (Err(e), _) | (_, Err(e)) => {
                    api.violations.push(format!("{method} {path}: {e}"));
                    return respond(400, error_body("Invalid date", &e, 400), &headers);
                }
            };
            let mut errors = serde_json::Map::new();
            for (name, day) in [("date_from", from), ("date_to", to)] {
                if let Some(day) = day.filter(|d| *d > today) {
                    api.violations.push(format!("{method} {path}: {name} {day} is in the future (today is {today})"));
                    errors.insert(
                        name.into(),
                        json!({"summary": "Date can't be in future",
                        "detail": format!("'{day}' can't be greater than {today}. Specify correct date range")}),
                    );
                }
            }
            if let (Some(f), Some(t)) = (from, to) {
                if f > t {
                    api.violations.push(format!("{method} {path}: date_from {f} is after date_to {t}"));
                    errors.insert(
                        "date_from".into(),
                        json!({"summary": "Incorrect date range",
                        "detail": format!("'{f}' can't be greater than '{t}'. Specify correct date range")}),
                    );
                }
            }
            if !errors.is_empty() {
                errors.insert("status_code".into(), json!(400));
                return respond(400, Value::Object(errors), &headers);
            }
            let booked: Vec<Value> = account
                .spec
                .booked
                .iter()
                .filter(|t| {
                    let day = t
                        .get("bookingDate")
                        .or(t.get("valueDate"))
                        .and_then(Value::as_str)
                        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
                    day.is_none_or(|d| from.is_none_or(|f| d >= f) && to.is_none_or(|t| d <= t))
                })
                .cloned()
                .collect();
            json!({"transactions": {"booked": booked, "pending": account.spec.pending}, "last_updated": api.now.to_rfc3339()})
        }
    };
    *api.successes.entry(key).or_default() += 1;
    let headers = limit_headers(api, Some((id, scope)), API_LIMIT - 1, 60);
    respond(200, answer, &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_parse_and_the_default_account_has_no_placeholders() {
        assert!(example(&["AccountsEndpointMockData", "GetAccount"]).is_object());
        assert_eq!(example_transactions()["booked"][1]["transactionAmount"]["currency"], "string");
        let main = AccountSpec::example_main();
        assert_eq!(main.iban.as_deref(), Some("GL2010440000010445"));
        assert!(main.booked.iter().chain(&main.pending).all(|t| t["transactionAmount"]["currency"] == "EUR"));
        assert_ne!(main.booked[0]["transactionId"], main.booked[1]["transactionId"]);
        assert!(AccountSpec::example_savings().without_iban().details.get("iban").is_none());
    }

    #[test]
    fn queries_are_decoded_and_references_encoded() {
        assert_eq!(
            query_pairs(Some("a=1&b=x%20y&c")),
            vec![("a".into(), "1".into()), ("b".into(), "x y".into()), ("c".into(), String::new())]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(encode("a b&c"), "a%20b%26c");
        assert_eq!(requisition_of_link("http://127.0.0.1:1/bank/abc").as_deref(), Some("abc"));
    }
}
