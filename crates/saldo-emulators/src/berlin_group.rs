//! An emulator of a bank's Berlin Group NextGenPSD2 (XS2A) interface, account information only:
//! consents (`POST /v1/consents`, status, information, authorisations, `DELETE`), an SCA page for
//! the redirect approach and an app approval for the decoupled one, the account list, balances and
//! transaction reports (booked, pending, both; paged by `_links.next`), the `frequencyPerDay`
//! count of accesses without the user, and the standard's error answers for every AIS code.
//!
//! Its answers are built on the examples of the Berlin Group's OpenAPI file (v1.3.11, CC-BY-4.0;
//! see `fixtures/berlin-group/SOURCES.md`), with ids, dates and amounts filled in per request.
//!
//! The emulator is served under `/psd2` (as the examples' links are), plain http on 127.0.0.1; the
//! mutual TLS a real bank requires is not emulated.

#[cfg(test)]
use crate::served::percent_decode;
use crate::served::{self, query_pairs, Served};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::NaiveDate;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Consent creation answered for the redirect approach, authorisation started implicitly.
pub const EXAMPLE_CONSENT_CREATED_REDIRECT: &str =
    include_str!("../fixtures/berlin-group/consent-created-redirect.json");
/// Consent creation answered with an authorisation for the TPP to start.
pub const EXAMPLE_CONSENT_CREATED_EXPLICIT: &str =
    include_str!("../fixtures/berlin-group/consent-created-explicit-start.json");
/// A started (decoupled) authorisation.
pub const EXAMPLE_START_AUTHORISATION: &str =
    include_str!("../fixtures/berlin-group/start-authorisation-decoupled.json");
pub const EXAMPLE_CONSENT_INFORMATION: &str = include_str!("../fixtures/berlin-group/consent-information.json");
pub const EXAMPLE_CONSENT_STATUS: &str = include_str!("../fixtures/berlin-group/consent-status.json");
/// Two accounts: a EUR current account and a USD account.
pub const EXAMPLE_ACCOUNT_LIST: &str = include_str!("../fixtures/berlin-group/account-list.json");
pub const EXAMPLE_BALANCES_REGULAR: &str = include_str!("../fixtures/berlin-group/balances-regular.json");
pub const EXAMPLE_BALANCES_MULTICURRENCY: &str = include_str!("../fixtures/berlin-group/balances-multicurrency.json");
/// Two booked and one pending transaction of a EUR account (booked 2017-10-25).
pub const EXAMPLE_TRANSACTIONS_REGULAR: &str = include_str!("../fixtures/berlin-group/transactions-regular.json");
pub const EXAMPLE_TRANSACTIONS_MULTICURRENCY: &str =
    include_str!("../fixtures/berlin-group/transactions-multicurrency.json");
pub const EXAMPLE_ERROR_429: &str = include_str!("../fixtures/berlin-group/error-429-access-exceeded.json");

/// The path prefix the emulator serves under.
pub const PREFIX: &str = "/psd2";

/// Every AIS message code of the standard with the status it comes with (providers.md §3).
pub const AIS_ERROR_CODES: &[(u16, &str)] = &[
    (400, "FORMAT_ERROR"),
    (400, "PARAMETER_NOT_CONSISTENT"),
    (400, "PARAMETER_NOT_SUPPORTED"),
    (400, "SERVICE_INVALID"),
    (400, "RESOURCE_UNKNOWN"),
    (400, "RESOURCE_EXPIRED"),
    (400, "RESOURCE_BLOCKED"),
    (400, "TIMESTAMP_INVALID"),
    (400, "PERIOD_INVALID"),
    (400, "SCA_METHOD_UNKNOWN"),
    (400, "SCA_INVALID"),
    (400, "CONSENT_UNKNOWN"),
    (400, "SESSIONS_NOT_SUPPORTED"),
    (401, "CERTIFICATE_INVALID"),
    (401, "CERTIFICATE_EXPIRED"),
    (401, "CERTIFICATE_BLOCKED"),
    (401, "CERTIFICATE_REVOKED"),
    (401, "CERTIFICATE_MISSING"),
    (401, "ROLE_INVALID"),
    (401, "SIGNATURE_INVALID"),
    (401, "SIGNATURE_MISSING"),
    (401, "CORPORATE_ID_INVALID"),
    (401, "PSU_CREDENTIALS_INVALID"),
    (401, "CONSENT_INVALID"),
    (401, "CONSENT_EXPIRED"),
    (401, "TOKEN_UNKNOWN"),
    (401, "TOKEN_INVALID"),
    (401, "TOKEN_EXPIRED"),
    (403, "CONSENT_UNKNOWN"),
    (403, "SERVICE_BLOCKED"),
    (403, "RESOURCE_UNKNOWN"),
    (403, "RESOURCE_EXPIRED"),
    (404, "RESOURCE_UNKNOWN"),
    (405, "SERVICE_INVALID"),
    (406, "REQUESTED_FORMATS_INVALID"),
    (409, "STATUS_INVALID"),
    (429, "ACCESS_EXCEEDED"),
];

/// The text the standard's error examples carry.
const EXAMPLE_ERROR_TEXT: &str = "additional text information of the ASPSP up to 500 characters";

/// One of the example documents above, parsed.
pub fn example(document: &str) -> Value {
    serde_json::from_str(document).unwrap_or(Value::Null)
}

/// The SCA approach the emulated bank uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approach {
    Redirect,
    Decoupled,
}

/// An error answer's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFormat {
    /// `{"tppMessages": [...]}`, application/json.
    TppMessages,
    /// RFC 7807, application/problem+json.
    Problem,
}

/// What a request gets instead of its normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// This status with this message code.
    Code { status: u16, code: String, format: ErrorFormat },
    /// This status with an empty body (a gateway error).
    Status(u16),
    /// This status and body.
    Body { status: u16, body: String },
    /// The normal answer after this delay.
    Delay(Duration),
}

impl Fault {
    /// A NextGenPSD2 error (`tppMessages`).
    pub fn code(status: u16, code: &str) -> Fault {
        Fault::Code { status, code: code.into(), format: ErrorFormat::TppMessages }
    }

    /// An RFC 7807 error.
    pub fn problem(status: u16, code: &str) -> Fault {
        Fault::Code { status, code: code.into(), format: ErrorFormat::Problem }
    }
}

/// An account the bank holds, with its data.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// The account details as `GET /v1/accounts` lists them (its `resourceId` set by the bank).
    pub details: Value,
    /// `balances` entries.
    pub balances: Vec<Value>,
    pub booked: Vec<Value>,
    pub pending: Vec<Value>,
    /// A card account: listed at `v1/card-accounts` only, with card transaction reports.
    pub card: bool,
}

impl Account {
    /// A current account with no data yet.
    pub fn new(iban: &str, currency: &str, name: &str) -> Account {
        Account {
            details: json!({"iban": iban, "currency": currency, "name": name, "product": "Girokonto", "cashAccountType": "CACC"}),
            balances: Vec::new(),
            booked: Vec::new(),
            pending: Vec::new(),
            card: false,
        }
    }

    /// A credit card account with no data yet, known by its masked number (the framework's card
    /// account example: debits quoted positive).
    pub fn card(masked_pan: &str, currency: &str, name: &str) -> Account {
        Account {
            details: json!({"maskedPan": masked_pan, "currency": currency, "name": name, "product": "Basic Credit",
                            "ownerName": "Heike Mustermann", "debitAccounting": true, "status": "enabled",
                            "creditLimit": {"currency": currency, "amount": "15000"}}),
            balances: Vec::new(),
            booked: Vec::new(),
            pending: Vec::new(),
            card: true,
        }
    }

    pub fn resource_id(&self) -> Option<&str> {
        self.details.get("resourceId").and_then(Value::as_str)
    }

    pub fn iban(&self) -> Option<&str> {
        self.details.get("iban").and_then(Value::as_str)
    }

    /// `enabled`, `deleted` or `blocked`.
    pub fn with_status(mut self, status: &str) -> Account {
        self.details["status"] = json!(status);
        self
    }

    pub fn with_balances(mut self, balances: Vec<Value>) -> Account {
        self.balances = balances;
        self
    }

    pub fn with_transactions(mut self, booked: Vec<Value>, pending: Vec<Value>) -> Account {
        self.booked = booked;
        self.pending = pending;
        self
    }
}

/// The example accounts: the spec's account list, the EUR account with the regular account's
/// balances and transactions, the USD one with the multi-currency examples' USD entries.
pub fn example_accounts() -> Vec<Account> {
    let list = example(EXAMPLE_ACCOUNT_LIST);
    let of_currency = |values: Option<&Vec<Value>>, currency: &str, field: &str| -> Vec<Value> {
        values.map(|v| v.iter().filter(|b| b[field]["currency"] == currency).cloned().collect()).unwrap_or_default()
    };
    let regular_balances = example(EXAMPLE_BALANCES_REGULAR)["balances"].as_array().cloned().unwrap_or_default();
    let regular = example(EXAMPLE_TRANSACTIONS_REGULAR)["transactions"].clone();
    let multi_balances = example(EXAMPLE_BALANCES_MULTICURRENCY);
    let multi = example(EXAMPLE_TRANSACTIONS_MULTICURRENCY)["transactions"].clone();
    let mut accounts = Vec::new();
    for details in list["accounts"].as_array().cloned().unwrap_or_default() {
        let mut details = details;
        if let Some(object) = details.as_object_mut() {
            object.remove("_links");
        }
        let account = if details["currency"] == "EUR" {
            Account {
                details,
                balances: regular_balances.clone(),
                booked: Vec::new(),
                pending: Vec::new(),
                card: false,
            }
            .with_transactions(
                regular["booked"].as_array().cloned().unwrap_or_default(),
                regular["pending"].as_array().cloned().unwrap_or_default(),
            )
        } else {
            let currency = details["currency"].as_str().unwrap_or_default().to_string();
            Account {
                details,
                balances: of_currency(multi_balances["balances"].as_array(), &currency, "balanceAmount"),
                booked: of_currency(multi["booked"].as_array(), &currency, "transactionAmount"),
                pending: of_currency(multi["pending"].as_array(), &currency, "transactionAmount"),
                card: false,
            }
        };
        accounts.push(account);
    }
    accounts
}

/// One request as the emulator saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    /// Without the `/psd2` prefix.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    /// Counted against the consent's `frequencyPerDay`.
    pub counted: bool,
}

impl RecordedRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    pub fn is_account_call(&self) -> bool {
        self.path.starts_with("/v1/accounts") || self.path.starts_with("/v1/card-accounts")
    }
}

struct ConsentRecord {
    id: String,
    status: String,
    valid_until: NaiveDate,
    frequency: u32,
    recurring: bool,
    ok_redirect: Option<String>,
    nok_redirect: Option<String>,
    /// Authorisation ids and their scaStatus.
    authorisations: Vec<(String, String)>,
    /// Accesses without the user: (day, per resource and booking status).
    usage: (Option<NaiveDate>, HashMap<String, u32>),
}

struct Bank {
    approach: Approach,
    origin: String,
    today: Option<NaiveDate>,
    honour_explicit_start: bool,
    page_size: usize,
    absolute_links: bool,
    supports_both: bool,
    supports_pending: bool,
    supports_cards: bool,
    accounts: Vec<Account>,
    consents: Vec<ConsentRecord>,
    faults: VecDeque<(Option<String>, Fault)>,
    requests: Vec<RecordedRequest>,
    violations: Vec<String>,
    request_ids: HashSet<String>,
    nonce: u64,
    random: std::collections::hash_map::RandomState,
}

impl Bank {
    fn random_id(&mut self, prefix: &str) -> String {
        self.nonce += 1;
        let a = self.random.hash_one(self.nonce);
        format!("{prefix}-{:08x}-{a:016x}", self.nonce)
    }

    /// The bank's day; its own clock unless a test set it.
    fn today(&self) -> NaiveDate {
        #[allow(clippy::disallowed_methods)]
        self.today.unwrap_or_else(|| chrono::Utc::now().date_naive())
    }

    fn consent(&mut self, id: &str) -> Option<&mut ConsentRecord> {
        let today = self.today();
        let consent = self.consents.iter_mut().find(|c| c.id == id)?;
        if consent.status == "valid" && consent.valid_until < today {
            consent.status = "expired".into();
        }
        Some(consent)
    }

    fn link(&self, path: &str) -> String {
        if self.absolute_links {
            format!("{}{PREFIX}{path}", self.origin)
        } else {
            format!("{PREFIX}{path}")
        }
    }
}

type Shared = Arc<Mutex<Bank>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Bank> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running emulated XS2A bank on 127.0.0.1.
pub struct Aspsp {
    addr: SocketAddr,
    shared: Shared,
    server: Served,
}

impl Aspsp {
    /// Starts a bank on a free loopback port, holding the example accounts.
    ///
    /// # Panics
    /// When no loopback port can be bound: the emulator is for tests.
    pub async fn start(approach: Approach) -> Aspsp {
        let (listener, addr) = served::bind().await;
        let shared = Arc::new(Mutex::new(Bank {
            approach,
            origin: format!("http://{addr}"),
            today: None,
            honour_explicit_start: true,
            page_size: 0,
            absolute_links: false,
            supports_both: true,
            supports_pending: true,
            supports_cards: true,
            accounts: Vec::new(),
            consents: Vec::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            violations: Vec::new(),
            request_ids: HashSet::new(),
            nonce: 0,
            random: std::collections::hash_map::RandomState::new(),
        }));
        let router = Router::new().fallback(handle).with_state(shared.clone());
        let server = Served::serve(listener, router);
        let aspsp = Aspsp { addr, shared, server };
        lock(&aspsp.shared).accounts = example_accounts();
        aspsp
    }

    /// The XS2A root: `http://127.0.0.1:PORT/psd2`.
    pub fn base_url(&self) -> String {
        format!("http://{}{PREFIX}", self.addr)
    }

    /// The bank's date (for consent validity and the daily count); the system's by default.
    pub fn set_today(&self, day: NaiveDate) {
        lock(&self.shared).today = Some(day);
    }

    /// Whether the bank honours `TPP-Explicit-Authorisation-Preferred` (default yes); when not, it
    /// starts redirect authorisations itself.
    pub fn set_explicit_start(&self, honoured: bool) {
        lock(&self.shared).honour_explicit_start = honoured;
    }

    /// Transactions per page of a report; 0 (the default) for one page.
    pub fn set_page_size(&self, size: usize) {
        lock(&self.shared).page_size = size;
    }

    /// Links as absolute URLs instead of paths.
    pub fn set_absolute_links(&self, absolute: bool) {
        lock(&self.shared).absolute_links = absolute;
    }

    /// Whether `bookingStatus=both` and `pending` are supported (both optional in the standard).
    pub fn set_booking_statuses(&self, both: bool, pending: bool) {
        let mut bank = lock(&self.shared);
        bank.supports_both = both;
        bank.supports_pending = pending;
    }

    /// Whether the bank offers the (optional) card account service; without it,
    /// `v1/card-accounts` answers 405 `SERVICE_INVALID`.
    pub fn set_card_accounts_supported(&self, supported: bool) {
        lock(&self.shared).supports_cards = supported;
    }

    /// Replaces the accounts; those without a `resourceId` get a new one.
    pub fn set_accounts(&self, accounts: Vec<Account>) {
        let mut bank = lock(&self.shared);
        let mut accounts = accounts;
        for account in &mut accounts {
            if account.resource_id().is_none() {
                account.details["resourceId"] = json!(bank.random_id("acc"));
            }
        }
        bank.accounts = accounts;
    }

    /// The accounts as the bank holds them now.
    pub fn accounts(&self) -> Vec<Account> {
        lock(&self.shared).accounts.clone()
    }

    /// Every account gets a new resource id (as banks do on a new consent); the old ids are unknown.
    pub fn reassign_resource_ids(&self) -> Vec<String> {
        let mut bank = lock(&self.shared);
        let mut ids = Vec::new();
        for index in 0..bank.accounts.len() {
            let id = bank.random_id("acc");
            bank.accounts[index].details["resourceId"] = json!(id);
            ids.push(id);
        }
        ids
    }

    /// Sets an account's `status` (`enabled`, `deleted`, `blocked`).
    pub fn set_account_status(&self, resource_id: &str, status: &str) {
        let mut bank = lock(&self.shared);
        if let Some(account) = bank.accounts.iter_mut().find(|a| a.resource_id() == Some(resource_id)) {
            account.details["status"] = json!(status);
        }
    }

    /// Replaces an account's transactions.
    pub fn set_transactions(&self, resource_id: &str, booked: Vec<Value>, pending: Vec<Value>) {
        let mut bank = lock(&self.shared);
        if let Some(account) = bank.accounts.iter_mut().find(|a| a.resource_id() == Some(resource_id)) {
            account.booked = booked;
            account.pending = pending;
        }
    }

    pub fn consent_ids(&self) -> Vec<String> {
        lock(&self.shared).consents.iter().map(|c| c.id.clone()).collect()
    }

    pub fn consent_status(&self, consent_id: &str) -> Option<String> {
        lock(&self.shared).consent(consent_id).map(|c| c.status.clone())
    }

    /// Sets a consent's status directly (`partiallyAuthorised`, …).
    pub fn set_consent_status(&self, consent_id: &str, status: &str) {
        if let Some(consent) = lock(&self.shared).consent(consent_id) {
            consent.status = status.into();
        }
    }

    /// The consent ran out.
    pub fn expire(&self, consent_id: &str) {
        self.set_consent_status(consent_id, "expired");
    }

    /// The user withdrew the consent at the bank.
    pub fn revoke_by_psu(&self, consent_id: &str) {
        self.set_consent_status(consent_id, "revokedByPsu");
    }

    fn decide(&self, consent_id: &str, approve: bool) -> Option<String> {
        let mut bank = lock(&self.shared);
        let today = bank.today();
        let consent = bank.consents.iter_mut().find(|c| c.id == consent_id)?;
        consent.status = if approve { "valid" } else { "rejected" }.into();
        for (_, sca) in &mut consent.authorisations {
            *sca = if approve { "finalised" } else { "failed" }.into();
        }
        let target = if approve { consent.ok_redirect.clone() } else { consent.nok_redirect.clone() };
        let target = target.or_else(|| consent.ok_redirect.clone());
        let recurring = consent.recurring;
        // "When … a former consent for recurring access … exists, the former consent automatically
        // expires as soon as the new consent request is authorised."
        if approve && recurring {
            for other in bank.consents.iter_mut().filter(|c| c.id != consent_id && c.recurring && c.status == "valid") {
                if other.valid_until >= today {
                    other.status = "expired".into();
                }
            }
        }
        target
    }

    /// The user approves on the SCA page: the redirect the browser then follows.
    ///
    /// # Panics
    /// When the consent is unknown or has no redirect URI.
    pub fn approve(&self, consent_id: &str) -> String {
        self.decide(consent_id, true).expect("a redirect consent with a TPP-Redirect-URI")
    }

    /// The user refuses on the SCA page: the redirect the browser then follows (the Nok URI when
    /// one was given).
    ///
    /// # Panics
    /// When the consent is unknown or has no redirect URI.
    pub fn reject(&self, consent_id: &str) -> String {
        self.decide(consent_id, false).expect("a redirect consent with a TPP-Redirect-URI")
    }

    /// The user approves in the bank's app.
    pub fn approve_decoupled(&self, consent_id: &str) {
        let _ = self.decide(consent_id, true);
    }

    /// The user refuses in the bank's app.
    pub fn reject_decoupled(&self, consent_id: &str) {
        let _ = self.decide(consent_id, false);
    }

    /// The next API request gets `fault`; several queue in order.
    pub fn fail_next(&self, fault: Fault) {
        lock(&self.shared).faults.push_back((None, fault));
    }

    /// The next API request whose path contains `fragment` gets `fault`.
    pub fn fail_next_for(&self, fragment: &str, fault: Fault) {
        lock(&self.shared).faults.push_back((Some(fragment.into()), fault));
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared).requests.clone()
    }

    /// Requests the standard does not allow, described.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.shared).violations.clone()
    }

    /// Stops serving and closes the port.
    pub async fn stop(&mut self) {
        self.server.stop().await;
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// 8-4-4-4-12 hexadecimal digits, as `format: uuid` means.
fn is_uuid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() == 5
        && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn json_answer(status: StatusCode, body: Value, request_id: Option<&str>) -> Response {
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    if let Some(id) = request_id.and_then(|id| id.parse().ok()) {
        response.headers_mut().insert("x-request-id", id);
    }
    response
}

/// An error answer in the standard's form.
fn error(status: u16, code: &str, format: ErrorFormat) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match format {
        ErrorFormat::TppMessages => {
            let body = if code == "ACCESS_EXCEEDED" {
                example(EXAMPLE_ERROR_429)
            } else {
                json!({"tppMessages": [{"category": "ERROR", "code": code, "text": EXAMPLE_ERROR_TEXT}]})
            };
            json_answer(status, body, None)
        }
        ErrorFormat::Problem => {
            let body = json!({
                "type": format!("https://berlin-group.org/problems/{}", code.to_ascii_lowercase().replace('_', "-")),
                "title": status.canonical_reason().unwrap_or("Error"),
                "detail": EXAMPLE_ERROR_TEXT,
                "code": code,
            });
            (status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response()
        }
    }
}

fn tpp_error(status: u16, code: &str) -> Response {
    error(status, code, ErrorFormat::TppMessages)
}

async fn handle(State(shared): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let full = uri.path().to_string();
    let query = query_pairs(uri.query());
    let header_pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let body_value = if body.is_empty() { None } else { serde_json::from_slice::<Value>(&body).ok() };
    let path = full.strip_prefix(PREFIX).unwrap_or(&full).to_string();
    let mut recorded = RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        query,
        headers: header_pairs,
        body: body_value,
        counted: false,
    };

    // The SCA page is for the browser, not the API.
    if let Some(consent_id) = path.strip_prefix("/sca/") {
        let mut bank = lock(&shared);
        let page = format!(
            "<!doctype html><title>Example Bank</title><p>Allow access to your accounts for consent {}?</p>",
            consent_id.replace('<', "&lt;")
        );
        bank.requests.push(recorded);
        return (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response();
    }

    let (response, delay) = {
        let mut bank = lock(&shared);
        let (response, delay) = route(&mut bank, &method, &path, &mut recorded, full.starts_with(PREFIX));
        bank.requests.push(recorded);
        (response, delay)
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    response
}

/// The checks every API request gets; `Err` is the answer to a request that breaks them.
/// `Err` is the message code of a 400 answer.
fn common_checks(bank: &mut Bank, request: &RecordedRequest) -> Result<(), &'static str> {
    let what = format!("{} {}", request.method, request.path);
    let mut broken = false;
    match request.header("X-Request-ID") {
        None => {
            bank.violations.push(format!("{what}: no X-Request-ID"));
            broken = true;
        }
        Some(id) if !is_uuid(id) => {
            bank.violations.push(format!("{what}: X-Request-ID {id:?} is not a UUID"));
            broken = true;
        }
        Some(id) => {
            if !bank.request_ids.insert(id.to_ascii_lowercase()) {
                bank.violations.push(format!("{what}: X-Request-ID {id} was used before"));
            }
        }
    }
    if let Some(ip) = request.header("PSU-IP-Address") {
        if ip.trim().parse::<IpAddr>().is_err() {
            bank.violations.push(format!("{what}: PSU-IP-Address {ip:?} is not an IP address"));
            broken = true;
        }
    }
    if broken {
        Err("FORMAT_ERROR")
    } else {
        Ok(())
    }
}

fn take_fault(bank: &mut Bank, path: &str) -> Option<Fault> {
    let index = bank.faults.iter().position(|(fragment, _)| fragment.as_deref().is_none_or(|f| path.contains(f)))?;
    bank.faults.remove(index).map(|(_, fault)| fault)
}

fn route(
    bank: &mut Bank,
    method: &Method,
    path: &str,
    request: &mut RecordedRequest,
    prefixed: bool,
) -> (Response, Option<Duration>) {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let known = prefixed
        && matches!(
            (method.as_str(), segments.as_slice()),
            ("POST", ["v1", "consents"])
                | ("GET" | "DELETE", ["v1", "consents", _])
                | ("GET", ["v1", "consents", _, "status"])
                | ("POST", ["v1", "consents", _, "authorisations"])
                | ("GET", ["v1", "consents", _, "authorisations", _])
                | ("GET", ["v1", "accounts" | "card-accounts"])
                | ("GET", ["v1", "accounts" | "card-accounts", _, "balances" | "transactions"])
        );
    if !known {
        bank.violations.push(format!("{method} {}: no such path", request.path));
        return (tpp_error(404, "RESOURCE_UNKNOWN"), None);
    }
    if let Err(code) = common_checks(bank, request) {
        return (tpp_error(400, code), None);
    }
    let request_id = request.header("X-Request-ID").map(str::to_string);
    let mut delay = None;
    match take_fault(bank, path) {
        Some(Fault::Code { status, code, format }) => return (error(status, &code, format), None),
        Some(Fault::Status(status)) => {
            return (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR).into_response(), None)
        }
        Some(Fault::Body { status, body }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            return ((status, [(header::CONTENT_TYPE, "application/json")], body).into_response(), None);
        }
        Some(Fault::Delay(wait)) => delay = Some(wait),
        None => {}
    }
    let response = match (method.as_str(), segments.as_slice()) {
        ("POST", ["v1", "consents"]) => create_consent(bank, request),
        ("GET", ["v1", "consents", id]) => consent_information(bank, id),
        ("DELETE", ["v1", "consents", id]) => match bank.consent(id) {
            Some(consent) => {
                consent.status = "terminatedByTpp".into();
                StatusCode::NO_CONTENT.into_response()
            }
            None => tpp_error(403, "CONSENT_UNKNOWN"),
        },
        ("GET", ["v1", "consents", id, "status"]) => match bank.consent(id) {
            Some(consent) => {
                let mut body = example(EXAMPLE_CONSENT_STATUS);
                body["consentStatus"] = json!(consent.status);
                json_answer(StatusCode::OK, body, request_id.as_deref())
            }
            None => tpp_error(403, "CONSENT_UNKNOWN"),
        },
        ("POST", ["v1", "consents", id, "authorisations"]) => start_authorisation(bank, id, request),
        ("GET", ["v1", "consents", id, "authorisations", aid]) => {
            let found = bank
                .consent(id)
                .and_then(|c| c.authorisations.iter().find(|(a, _)| a == aid).map(|(_, status)| status.clone()));
            match found {
                Some(status) => json_answer(StatusCode::OK, json!({"scaStatus": status}), request_id.as_deref()),
                None => tpp_error(403, "RESOURCE_UNKNOWN"),
            }
        }
        _ => account_call(bank, &segments, request),
    };
    (response, delay)
}

fn date(value: Option<&Value>) -> Option<NaiveDate> {
    value.and_then(Value::as_str).and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
}

fn create_consent(bank: &mut Bank, request: &RecordedRequest) -> Response {
    let what = "POST /v1/consents";
    let mut problems = Vec::new();
    if request.header("PSU-IP-Address").is_none() {
        problems.push("no PSU-IP-Address (mandatory on consent creation)".to_string());
    }
    let body = request.body.clone().unwrap_or(Value::Null);
    if !body["access"].is_object() {
        problems.push("access missing or not an object".into());
    }
    match &body["recurringIndicator"] {
        Value::Bool(_) => {}
        Value::Null => problems.push("recurringIndicator missing".into()),
        other => problems.push(format!("recurringIndicator is not a boolean: {other}")),
    }
    if !body["combinedServiceIndicator"].is_boolean() {
        problems.push("combinedServiceIndicator missing or not a boolean".into());
    }
    let valid_until = date(body.get("validUntil"));
    match valid_until {
        None => problems.push(format!("validUntil missing or not a date: {}", body["validUntil"])),
        Some(day) if day < bank.today() => problems.push(format!("validUntil {day} is in the past")),
        Some(_) => {}
    }
    let frequency = body["frequencyPerDay"].as_u64();
    match frequency {
        Some(1..=4) => {}
        _ => problems.push(format!("frequencyPerDay must be 1 to 4, is {}", body["frequencyPerDay"])),
    }
    let redirect_preferred = request.header("TPP-Redirect-Preferred") != Some("false");
    let explicit = request.header("TPP-Explicit-Authorisation-Preferred") == Some("true") && bank.honour_explicit_start;
    let ok_redirect = request.header("TPP-Redirect-URI").map(str::to_string);
    if bank.approach == Approach::Redirect && redirect_preferred && ok_redirect.is_none() {
        problems.push("no TPP-Redirect-URI for a redirect consent".into());
    }
    if !problems.is_empty() {
        for problem in problems {
            bank.violations.push(format!("{what}: {problem}"));
        }
        return tpp_error(400, "FORMAT_ERROR");
    }
    let id = bank.random_id("consent");
    let mut consent = ConsentRecord {
        id: id.clone(),
        status: "received".into(),
        valid_until: valid_until.unwrap_or_default(),
        frequency: frequency.unwrap_or(1) as u32,
        recurring: body["recurringIndicator"].as_bool().unwrap_or(false),
        ok_redirect: ok_redirect.clone(),
        nok_redirect: request.header("TPP-Nok-Redirect-URI").map(str::to_string),
        authorisations: Vec::new(),
        usage: (None, HashMap::new()),
    };
    let consent_path = format!("/v1/consents/{}", percent_encode(&id));
    let answer = if explicit || (bank.approach == Approach::Decoupled && bank.honour_explicit_start) {
        let mut answer = example(EXAMPLE_CONSENT_CREATED_EXPLICIT);
        answer["_links"]["startAuthorisation"]["href"] = json!(bank.link(&format!("{consent_path}/authorisations")));
        answer
    } else {
        // The bank starts the authorisation itself.
        let aid = bank.random_id("auth");
        let mut answer = example(EXAMPLE_CONSENT_CREATED_REDIRECT);
        answer["_links"]["status"]["href"] = json!(bank.link(&format!("{consent_path}/status")));
        answer["_links"]["scaStatus"]["href"] =
            json!(bank.link(&format!("{consent_path}/authorisations/{}", percent_encode(&aid))));
        if bank.approach == Approach::Redirect {
            answer["_links"]["scaRedirect"]["href"] =
                json!(format!("{}{PREFIX}/sca/{}", bank.origin, percent_encode(&id)));
            consent.authorisations.push((aid, "received".into()));
        } else {
            if let Some(links) = answer["_links"].as_object_mut() {
                links.remove("scaRedirect");
            }
            answer["psuMessage"] = example(EXAMPLE_START_AUTHORISATION)["psuMessage"].clone();
            consent.authorisations.push((aid, "started".into()));
        }
        answer
    };
    let mut answer = answer;
    answer["consentId"] = json!(id);
    bank.consents.push(consent);
    let mut response = json_answer(StatusCode::CREATED, answer, request.header("X-Request-ID"));
    let approach = if bank.approach == Approach::Redirect { "REDIRECT" } else { "DECOUPLED" };
    response.headers_mut().insert("aspsp-sca-approach", header::HeaderValue::from_static(approach));
    if let Ok(location) = bank.link(&consent_path).parse() {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn start_authorisation(bank: &mut Bank, consent_id: &str, request: &RecordedRequest) -> Response {
    let approach = bank.approach;
    let aid = bank.random_id("auth");
    let origin = bank.origin.clone();
    let sca_link =
        bank.link(&format!("/v1/consents/{}/authorisations/{}", percent_encode(consent_id), percent_encode(&aid)));
    let ok = request.header("TPP-Redirect-URI").map(str::to_string);
    if approach == Approach::Redirect && ok.is_none() {
        bank.violations.push(format!(
            "POST /v1/consents/{consent_id}/authorisations: no TPP-Redirect-URI for a redirect authorisation"
        ));
        return tpp_error(400, "FORMAT_ERROR");
    }
    let Some(consent) = bank.consent(consent_id) else { return tpp_error(403, "CONSENT_UNKNOWN") };
    if consent.status != "received" {
        return tpp_error(409, "STATUS_INVALID");
    }
    let mut answer = example(EXAMPLE_START_AUTHORISATION);
    answer["authorisationId"] = json!(aid);
    answer["_links"]["scaStatus"]["href"] = json!(sca_link);
    if approach == Approach::Redirect {
        consent.ok_redirect = ok;
        if let Some(nok) = request.header("TPP-Nok-Redirect-URI") {
            consent.nok_redirect = Some(nok.into());
        }
        if let Some(object) = answer.as_object_mut() {
            object.remove("psuMessage");
        }
        answer["_links"]["scaRedirect"] =
            json!({"href": format!("{origin}{PREFIX}/sca/{}", percent_encode(consent_id))});
        consent.authorisations.push((aid, "received".into()));
    } else {
        consent.authorisations.push((aid, "started".into()));
    }
    json_answer(StatusCode::CREATED, answer, request.header("X-Request-ID"))
}

fn consent_information(bank: &mut Bank, consent_id: &str) -> Response {
    let Some(consent) = bank.consent(consent_id) else { return tpp_error(403, "CONSENT_UNKNOWN") };
    let mut answer = example(EXAMPLE_CONSENT_INFORMATION);
    answer["access"] = json!({"allPsd2": "allAccounts"});
    answer["recurringIndicator"] = json!(consent.recurring);
    answer["validUntil"] = json!(consent.valid_until.to_string());
    answer["frequencyPerDay"] = json!(consent.frequency);
    answer["consentStatus"] = json!(consent.status);
    answer["_links"]["account"]["href"] = json!(format!("{PREFIX}/v1/accounts"));
    json_answer(StatusCode::OK, answer, None)
}

/// `/v1/accounts…`: the consent, the daily count, then the resource.
fn account_call(bank: &mut Bank, segments: &[&str], request: &mut RecordedRequest) -> Response {
    let what = format!("{} {}", request.method, request.path);
    let Some(consent_id) = request.header("Consent-ID").map(str::to_string) else {
        bank.violations.push(format!("{what}: no Consent-ID"));
        return tpp_error(400, "FORMAT_ERROR");
    };
    // Query checks first: a malformed report request is refused whatever the consent.
    let cards = segments.get(1) == Some(&"card-accounts");
    if cards && !bank.supports_cards {
        return tpp_error(405, "SERVICE_INVALID");
    }
    let report = if let ["v1", _, _, "transactions"] = segments {
        match report_query(bank, &what, request) {
            Ok(report) => Some(report),
            Err(code) => return tpp_error(400, code),
        }
    } else {
        None
    };
    let today = bank.today();
    let user_present = request.header("PSU-IP-Address").is_some();
    let Some(consent) = bank.consent(&consent_id) else { return tpp_error(403, "CONSENT_UNKNOWN") };
    match consent.status.as_str() {
        "valid" => {}
        "expired" => return tpp_error(401, "CONSENT_EXPIRED"),
        _ => return tpp_error(401, "CONSENT_INVALID"),
    }
    // Accesses without the user count per resource (and booking status) and day; a next page
    // continues the access it belongs to.
    let first_page = request.param("pageIndex").is_none_or(|p| p == "0");
    if !user_present && first_page {
        if consent.usage.0 != Some(today) {
            consent.usage = (Some(today), HashMap::new());
        }
        let key = format!("{}?{}", request.path, request.param("bookingStatus").unwrap_or_default());
        let used = consent.usage.1.entry(key).or_insert(0);
        if *used >= consent.frequency {
            return tpp_error(429, "ACCESS_EXCEEDED");
        }
        *used += 1;
        request.counted = true;
    }
    let request_id = request.header("X-Request-ID").map(str::to_string);
    let service = if cards { "card-accounts" } else { "accounts" };
    if let ["v1", _] = segments {
        let accounts: Vec<Value> = bank
            .accounts
            .iter()
            .filter(|a| a.card == cards)
            .map(|a| {
                let mut details = a.details.clone();
                let id = percent_encode(a.resource_id().unwrap_or_default());
                details["_links"] = json!({
                    "balances": {"href": bank.link(&format!("/v1/{service}/{id}/balances"))},
                    "transactions": {"href": bank.link(&format!("/v1/{service}/{id}/transactions"))},
                });
                details
            })
            .collect();
        let key = if cards { "cardAccounts" } else { "accounts" };
        return json_answer(StatusCode::OK, json!({ key: accounts }), request_id.as_deref());
    }
    let resource = segments.get(2).copied().unwrap_or_default();
    let Some(account) = bank.accounts.iter().find(|a| a.resource_id() == Some(resource) && a.card == cards) else {
        return tpp_error(404, "RESOURCE_UNKNOWN");
    };
    match account.details.get("status").and_then(Value::as_str) {
        Some("blocked") => return tpp_error(400, "RESOURCE_BLOCKED"),
        Some("deleted") => return tpp_error(404, "RESOURCE_UNKNOWN"),
        _ => {}
    }
    let reference = account_reference(&account.details);
    match report {
        None => {
            let mut answer = example(EXAMPLE_BALANCES_REGULAR);
            answer["account"] = reference;
            answer["balances"] = json!(account.balances);
            json_answer(StatusCode::OK, answer, request_id.as_deref())
        }
        Some(report) => transactions(bank, account.clone(), reference, &report, request, request_id.as_deref()),
    }
}

fn account_reference(details: &Value) -> Value {
    match details.get("iban") {
        Some(iban) => json!({"iban": iban}),
        None => json!({"maskedPan": details.get("maskedPan").cloned().unwrap_or(Value::Null)}),
    }
}

struct Report {
    booking_status: String,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    page: usize,
}

/// `Err` is the message code of a 400 answer.
fn report_query(bank: &mut Bank, what: &str, request: &RecordedRequest) -> Result<Report, &'static str> {
    let mut problems = Vec::new();
    let booking_status = request.param("bookingStatus").unwrap_or_default().to_string();
    if !["information", "booked", "pending", "both", "all"].contains(&booking_status.as_str()) {
        problems.push(format!("bookingStatus {booking_status:?} is not one of the standard's"));
    }
    let parse = |name: &str, problems: &mut Vec<String>| -> Option<NaiveDate> {
        let text = request.param(name)?;
        let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
        if day.is_none() {
            problems.push(format!("{name} {text:?} is not a date"));
        }
        day
    };
    let from = parse("dateFrom", &mut problems);
    let to = parse("dateTo", &mut problems);
    let delta = request.param("deltaList").is_some() || request.param("entryReferenceFrom").is_some();
    if request.param("dateFrom").is_none() && !delta && booking_status != "information" {
        problems.push("dateFrom missing".into());
    }
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            problems.push(format!("dateFrom {from} is after dateTo {to}"));
        }
    }
    let page = match request.param("pageIndex").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(page)) => page,
        Some(Err(_)) => {
            problems.push("pageIndex is not an integer".into());
            0
        }
    };
    if !problems.is_empty() {
        for problem in problems {
            bank.violations.push(format!("{what}: {problem}"));
        }
        return Err("FORMAT_ERROR");
    }
    // Optional statuses a bank may not support: its legitimate answer.
    let supported = match booking_status.as_str() {
        "booked" => true,
        "pending" => bank.supports_pending,
        "both" => bank.supports_both && bank.supports_pending,
        _ => false,
    };
    if !supported {
        return Err("PARAMETER_NOT_SUPPORTED");
    }
    Ok(Report { booking_status, from, to, page })
}

fn transactions(
    bank: &Bank,
    account: Account,
    reference: Value,
    report: &Report,
    request: &RecordedRequest,
    request_id: Option<&str>,
) -> Response {
    let in_window = |t: &&Value| {
        let day = date(t.get("bookingDate"));
        day.is_some_and(|d| report.from.is_none_or(|f| d >= f) && report.to.is_none_or(|t| d <= t))
    };
    let booked: Vec<Value> = if report.booking_status == "pending" {
        Vec::new()
    } else {
        account.booked.iter().filter(in_window).cloned().collect()
    };
    let pending: Vec<Value> = if report.booking_status == "booked" { Vec::new() } else { account.pending.clone() };
    let all: Vec<(bool, Value)> =
        booked.into_iter().map(|t| (true, t)).chain(pending.into_iter().map(|t| (false, t))).collect();
    let size = if bank.page_size == 0 { all.len().max(1) } else { bank.page_size };
    let start = report.page.saturating_mul(size).min(all.len());
    let end = (start + size).min(all.len());
    let page = &all[start..end];
    let mut lists = json!({
        "booked": page.iter().filter(|(b, _)| *b).map(|(_, t)| t.clone()).collect::<Vec<_>>(),
        "pending": page.iter().filter(|(b, _)| !*b).map(|(_, t)| t.clone()).collect::<Vec<_>>(),
        "_links": {"account": {"href": bank.link(&format!("/v1/accounts/{}", percent_encode(account.resource_id().unwrap_or_default())))}},
    });
    if end < all.len() {
        let query: Vec<String> = request
            .query
            .iter()
            .filter(|(k, _)| k != "pageIndex")
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .chain(std::iter::once(format!("pageIndex={}", report.page + 1)))
            .collect();
        lists["_links"]["next"] = json!({"href": bank.link(&format!("{}?{}", request.path, query.join("&")))});
    }
    let mut answer = example(EXAMPLE_TRANSACTIONS_REGULAR);
    if account.card {
        answer = json!({"cardAccount": reference, "cardTransactions": lists,
                        "debitAccounting": account.details.get("debitAccounting").cloned().unwrap_or(Value::Null)});
    } else {
        answer["account"] = reference;
        answer["transactions"] = lists;
    }
    json_answer(StatusCode::OK, answer, request_id)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_examples_parse_and_make_two_accounts_with_data() {
        for document in [
            EXAMPLE_CONSENT_CREATED_REDIRECT,
            EXAMPLE_CONSENT_CREATED_EXPLICIT,
            EXAMPLE_START_AUTHORISATION,
            EXAMPLE_CONSENT_INFORMATION,
            EXAMPLE_CONSENT_STATUS,
            EXAMPLE_ACCOUNT_LIST,
            EXAMPLE_BALANCES_REGULAR,
            EXAMPLE_BALANCES_MULTICURRENCY,
            EXAMPLE_TRANSACTIONS_REGULAR,
            EXAMPLE_TRANSACTIONS_MULTICURRENCY,
            EXAMPLE_ERROR_429,
        ] {
            assert!(example(document).is_object(), "{document}");
        }
        let accounts = example_accounts();
        assert_eq!(accounts.len(), 2);
        assert_eq!((accounts[0].booked.len(), accounts[0].pending.len(), accounts[0].balances.len()), (2, 1, 2));
        assert_eq!((accounts[1].booked.len(), accounts[1].pending.len(), accounts[1].balances.len()), (1, 0, 2));
    }

    #[test]
    fn request_ids_must_be_uuids() {
        assert!(is_uuid("99391c7e-ad88-49ec-a2ad-99ddcb1f7721"));
        for bad in ["", "99391c7ead8849eca2ad99ddcb1f7721", "99391c7e-ad88-49ec-a2ad-99ddcb1f772g", "x-y-z-w-v"] {
            assert!(!is_uuid(bad), "{bad}");
        }
    }

    #[test]
    fn queries_round_trip() {
        assert_eq!(query_pairs(Some("a=b%20c&d")), vec![("a".into(), "b c".into()), ("d".into(), String::new())]);
        assert_eq!(percent_decode(&percent_encode("a b/ü~")), "a b/ü~");
    }
}
