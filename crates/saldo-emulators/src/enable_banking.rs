//! An emulator of the Enable Banking API: application JWTs (RS256, `kid` = application id) checked
//! against the application's public key, the bank list, `/auth` with the bank's maximum consent,
//! the bank's redirect back with a code, sessions whose accounts get new `uid`s every time while
//! their `identification_hash` stays, account details, balances, transactions with continuation
//! keys, the 90-day window that applies a few minutes after authorisation, the banks' four
//! unattended accesses a day, and the API's error answers.
//!
//! Built from the API reference (OpenAPI 3.1, "API reference 1.0.0"): paths, parameters, bodies and
//! the `ErrorCode` and `SessionStatus` enums. The account data is saldo's own; no example data from
//! elsewhere is copied.

use crate::served::{self, query_pairs, Served};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// A throwaway RSA key pair for tests: the application key saldo signs with and the public half the
/// emulator checks with. Not a secret of anyone's.
pub const TEST_PRIVATE_KEY: &str = include_str!("../fixtures/enable-banking/test-application-key.pem");
pub const TEST_PUBLIC_KEY: &str = include_str!("../fixtures/enable-banking/test-application-key.pub.pem");
/// Another key: what a wrongly configured application signs with.
pub const OTHER_PRIVATE_KEY: &str = include_str!("../fixtures/enable-banking/other-key.pem");

/// How long after authorisation a bank still gives more than 90 days of history.
pub const LONG_HISTORY_MINUTES: i64 = 3;
/// Unattended accesses a bank allows per account and day.
pub const UNATTENDED_PER_DAY: u32 = 4;

/// One account at the bank, the same across sessions.
#[derive(Debug, Clone)]
pub struct BankAccount {
    pub identification_hash: String,
    /// `AccountResource` as `/accounts/{uid}/details` answers it (without `uid`).
    pub details: Value,
    /// `BalanceResource`s.
    pub balances: Vec<Value>,
    /// `Transaction`s, newest last.
    pub transactions: Vec<Value>,
}

/// A current account, a savings account and a credit card at "Nordea" in Finland.
pub fn example_accounts() -> Vec<BankAccount> {
    let transaction = |reference: &str, amount: &str, indicator: &str, status: &str, day: &str, text: &str| {
        json!({
            "entry_reference": reference,
            "transaction_amount": {"currency": "EUR", "amount": amount},
            "credit_debit_indicator": indicator,
            "status": status,
            "booking_date": if status == "BOOK" { Value::from(day) } else { Value::Null },
            "value_date": day,
            "remittance_information": [text],
            "creditor": {"name": if indicator == "DBIT" { text } else { "Account holder" }},
            "debtor": {"name": if indicator == "CRDT" { text } else { "Account holder" }},
        })
    };
    vec![
        BankAccount {
            identification_hash: "hash-current-FI2112345600000785".into(),
            details: json!({
                "account_id": {"iban": "FI2112345600000785"},
                // As Enable Banking's reference has it: `name` is the holder's name.
                "name": "Erika Mustermann",
                "cash_account_type": "CACC",
                "product": "Käyttötili",
                "currency": "EUR",
                "identification_hash": "hash-current-FI2112345600000785",
                "identification_hashes": ["hash-current-FI2112345600000785"],
            }),
            balances: vec![
                json!({"name": "Booked", "balance_amount": {"currency": "EUR", "amount": "1520.35"}, "balance_type": "CLBD", "reference_date": "2024-01-15"}),
                json!({"name": "Available", "balance_amount": {"currency": "EUR", "amount": "2520.35"}, "balance_type": "CLAV"}),
            ],
            transactions: vec![
                transaction("e-100", "2450.00", "CRDT", "BOOK", "2023-12-29", "Salary December"),
                transaction("e-101", "49.90", "DBIT", "BOOK", "2024-01-12", "K-Market Tapiola"),
                transaction("e-102", "12.00", "DBIT", "BOOK", "2024-01-14", "HSL ticket"),
                transaction("e-103", "8.50", "DBIT", "PDNG", "2024-01-16", "Cafe"),
                transaction("e-104", "100.00", "DBIT", "SCHD", "2024-01-15", "Scheduled transfer"),
            ],
        },
        BankAccount {
            identification_hash: "hash-savings-FI4350000220000456".into(),
            details: json!({
                "account_id": {"iban": "FI4350000220000456"},
                "name": "Erika Mustermann",
                "product": "Säästötili",
                "cash_account_type": "SVGS",
                "currency": "EUR",
                "identification_hash": "hash-savings-FI4350000220000456",
                "identification_hashes": ["hash-savings-FI4350000220000456"],
            }),
            balances: vec![
                json!({"name": "Booked", "balance_amount": {"currency": "EUR", "amount": "10000.00"}, "balance_type": "ITBD"}),
            ],
            transactions: vec![transaction("s-1", "1.25", "CRDT", "BOOK", "2024-01-01", "Interest")],
        },
        BankAccount {
            identification_hash: "hash-card-1234".into(),
            details: json!({
                "account_id": {"other": {"identification": "************1234", "scheme_name": "CPAN"}},
                "name": "Erika Mustermann",
                "details": "Visa",
                "cash_account_type": "CARD",
                "currency": "EUR",
                "identification_hash": "hash-card-1234",
                "identification_hashes": ["hash-card-1234"],
            }),
            balances: vec![
                json!({"name": "Booked", "balance_amount": {"currency": "EUR", "amount": "-230.10"}, "balance_type": "CLBD"}),
            ],
            transactions: vec![transaction("c-1", "230.10", "DBIT", "BOOK", "2024-01-10", "Airline")],
        },
    ]
}

/// What the next matching request gets instead of its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub status: u16,
    /// The `error` code; `None` for an answer with only `code` and `message`.
    pub error: Option<String>,
    pub message: String,
    /// Only requests whose path contains this; any request when empty.
    pub path_contains: String,
}

impl Fault {
    pub fn new(status: u16, error: &str) -> Fault {
        Fault {
            status,
            error: Some(error.into()),
            message: error.replace('_', " ").to_lowercase(),
            path_contains: String::new(),
        }
    }

    /// A status with a plain message and no error code.
    pub fn plain(status: u16, message: &str) -> Fault {
        Fault { status, error: None, message: message.into(), path_contains: String::new() }
    }

    /// Only for requests whose path contains `fragment` (`"/balances"`, an account's uid).
    pub fn on(mut self, fragment: &str) -> Fault {
        self.path_contains = fragment.into();
        self
    }
}

/// One request as the emulator saw it. The JWT is never recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// The `Psu-Ip-Address` header, when sent.
    pub psu_ip_address: Option<String>,
}

impl RecordedRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

struct Authorization {
    state: String,
    redirect_url: String,
    valid_until: DateTime<Utc>,
    code: String,
    used: bool,
}

struct Session {
    id: String,
    status: String,
    /// (uid, identification_hash), minted anew for each session.
    accounts: Vec<(String, String)>,
    valid_until: DateTime<Utc>,
    created: DateTime<Utc>,
}

struct Api {
    base: String,
    application_id: String,
    public_key: jsonwebtoken::DecodingKey,
    active: bool,
    now: DateTime<Utc>,
    /// Seconds; the banks' `maximum_consent_validity`.
    maximum_consent_validity: i64,
    accounts: Vec<BankAccount>,
    authorizations: HashMap<String, Authorization>,
    sessions: Vec<Session>,
    page_size: usize,
    /// (session, uid, UTC day) → unattended transaction reads.
    unattended: HashMap<(String, String, NaiveDate), u32>,
    faults: VecDeque<Fault>,
    requests: Vec<RecordedRequest>,
    violations: Vec<String>,
    counter: u64,
}

impl Api {
    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}-{:04}-{:08x}", self.counter, (self.counter.wrapping_mul(0x9e37_79b9)) as u32)
    }

    fn aspsps(&self) -> Vec<Value> {
        let aspsp = |name: &str, country: &str, bic: &str, beta: bool| {
            json!({
                "name": name, "country": country, "bic": bic, "beta": beta,
                "logo": format!("https://enablebanking.com/brands/{country}/{name}/"),
                "psu_types": ["personal", "business"],
                "auth_methods": [{"name": "redirect", "psu_type": "personal", "approach": "REDIRECT", "hidden_method": false}],
                "maximum_consent_validity": self.maximum_consent_validity,
                "required_psu_headers": [],
            })
        };
        vec![
            aspsp("Nordea", "FI", "NDEAFIHH", false),
            aspsp("OP", "FI", "OKOYFIHH", false),
            aspsp("Mock ASPSP", "SE", "", true),
        ]
    }
}

type Shared = Arc<Mutex<Api>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Api> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running Enable Banking emulator on 127.0.0.1.
pub struct EnableBankingApi {
    addr: SocketAddr,
    shared: Shared,
    server: Served,
}

impl EnableBankingApi {
    /// Starts an emulator with the application `application_id` whose key is [`TEST_PRIVATE_KEY`],
    /// the clock at `now`, and [`example_accounts`] at every bank.
    ///
    /// # Panics
    /// When no loopback port can be bound or the test key does not parse: the emulator is for tests.
    pub async fn start(application_id: &str, now: DateTime<Utc>) -> EnableBankingApi {
        let (listener, addr) = served::bind().await;
        let public_key = jsonwebtoken::DecodingKey::from_rsa_pem(TEST_PUBLIC_KEY.as_bytes()).expect("the test key");
        let shared = Arc::new(Mutex::new(Api {
            base: format!("http://{addr}"),
            application_id: application_id.into(),
            public_key,
            active: true,
            now,
            maximum_consent_validity: 180 * 86_400,
            accounts: example_accounts(),
            authorizations: HashMap::new(),
            sessions: Vec::new(),
            page_size: 100,
            unattended: HashMap::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            violations: Vec::new(),
            counter: 0,
        }));
        let router = Router::new().fallback(handle).with_state(shared.clone());
        let server = Served::serve(listener, router);
        EnableBankingApi { addr, shared, server }
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Moves the emulator's clock (the bank's "now": session expiry, the 90-day rule, days).
    pub fn set_now(&self, now: DateTime<Utc>) {
        lock(&self.shared).now = now;
    }

    pub fn set_accounts(&self, accounts: Vec<BankAccount>) {
        lock(&self.shared).accounts = accounts;
    }

    /// Transactions per page, so that continuation keys are exercised.
    pub fn set_page_size(&self, size: usize) {
        lock(&self.shared).page_size = size.max(1);
    }

    pub fn set_maximum_consent_validity(&self, seconds: i64) {
        lock(&self.shared).maximum_consent_validity = seconds;
    }

    /// An application not yet activated in the control panel: every call answers 403.
    pub fn set_active(&self, active: bool) {
        lock(&self.shared).active = active;
    }

    /// Sets the status of every session (`REVOKED`, `EXPIRED`, `CLOSED`, …).
    pub fn set_session_status(&self, status: &str) {
        for session in &mut lock(&self.shared).sessions {
            session.status = status.into();
        }
    }

    pub fn fail_next(&self, fault: Fault) {
        lock(&self.shared).faults.push_back(fault);
    }

    /// The user approves at the bank: the URL the bank redirects the browser to, with code and
    /// state. `None` when `url` is not an authorisation page of this emulator.
    pub fn approve(&self, url: &str) -> Option<String> {
        let api = lock(&self.shared);
        let id = url.rsplit('/').next()?;
        let auth = api.authorizations.get(id)?;
        Some(format!("{}?code={}&state={}", auth.redirect_url, auth.code, auth.state))
    }

    /// The user declines at the bank.
    pub fn decline(&self, url: &str) -> Option<String> {
        let api = lock(&self.shared);
        let auth = api.authorizations.get(url.rsplit('/').next()?)?;
        Some(format!("{}?error=access_denied&error_description=User+cancelled&state={}", auth.redirect_url, auth.state))
    }

    /// The ids of the sessions created so far, oldest first, with their status.
    pub fn sessions(&self) -> Vec<(String, String)> {
        lock(&self.shared).sessions.iter().map(|s| (s.id.clone(), s.status.clone())).collect()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared).requests.clone()
    }

    pub fn violations(&self) -> Vec<String> {
        lock(&self.shared).violations.clone()
    }

    pub async fn stop(&mut self) {
        self.server.stop().await;
    }
}

fn error(status: u16, code: Option<&str>, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut body = json!({"code": status.as_u16(), "message": message, "detail": null});
    if let Some(code) = code {
        body["error"] = Value::from(code);
    }
    (status, axum::Json(body)).into_response()
}

/// Checks the application JWT as the API does: RS256 over the registered key, `kid` = the
/// application id, the right issuer and audience, issued in the past and living at most a day.
fn check_jwt(api: &Api, headers: &HeaderMap) -> Result<(), String> {
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or("no Authorization header")?;
    let token = value.strip_prefix("Bearer ").ok_or("Authorization is not a Bearer token")?;
    let header = jsonwebtoken::decode_header(token).map_err(|e| format!("JWT header: {e}"))?;
    if header.alg != jsonwebtoken::Algorithm::RS256 {
        return Err(format!("JWT algorithm {:?}, not RS256", header.alg));
    }
    if header.kid.as_deref() != Some(api.application_id.as_str()) {
        return Err(format!("JWT kid {:?} is not the application id", header.kid));
    }
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["api.enablebanking.com"]);
    validation.set_issuer(&["enablebanking.com"]);
    // Expiry is checked against the emulator's clock below, not the machine's.
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    let data = jsonwebtoken::decode::<Value>(token, &api.public_key, &validation).map_err(|e| format!("JWT: {e}"))?;
    let iat = data.claims.get("iat").and_then(Value::as_i64).ok_or("JWT iat is not a number")?;
    let exp = data.claims.get("exp").and_then(Value::as_i64).ok_or("JWT exp is not a number")?;
    let now = api.now.timestamp();
    if exp - iat > 86_400 {
        return Err(format!("JWT lives {} s, more than a day", exp - iat));
    }
    if exp <= now || iat > now + 60 {
        return Err(format!("JWT is not valid now (iat {iat}, exp {exp}, now {now})"));
    }
    Ok(())
}

async fn handle(State(shared): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_string();
    let query = query_pairs(uri.query());
    let mut api = lock(&shared);
    let psu_ip_address = headers.get("psu-ip-address").and_then(|v| v.to_str().ok()).map(str::to_string);
    api.requests.push(RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        psu_ip_address: psu_ip_address.clone(),
    });
    if path.starts_with("/bank/") {
        return (StatusCode::OK, "The bank's sign-in page").into_response();
    }
    if let Err(why) = check_jwt(&api, &headers) {
        api.violations.push(format!("{method} {path}: {why}"));
        return error(401, Some("UNAUTHORIZED_ACCESS"), "Unauthorized access");
    }
    if !api.active {
        return error(403, None, "Application is not active");
    }
    if let Some(index) = api.faults.iter().position(|f| path.contains(&f.path_contains)) {
        if let Some(fault) = api.faults.remove(index) {
            return error(fault.status, fault.error.as_deref(), &fault.message);
        }
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.clone(), segments.as_slice()) {
        (Method::GET, ["aspsps"]) => {
            let country = query.iter().find(|(k, _)| k == "country").map(|(_, v)| v.clone());
            let list: Vec<Value> =
                api.aspsps().into_iter().filter(|a| country.as_deref().is_none_or(|c| a["country"] == c)).collect();
            axum::Json(json!({ "aspsps": list })).into_response()
        }
        (Method::POST, ["auth"]) => start_authorization(&mut api, &body),
        (Method::POST, ["sessions"]) => authorize_session(&mut api, &body),
        (Method::GET, ["sessions", id]) => get_session(&mut api, id),
        (Method::DELETE, ["sessions", id]) => match api.sessions.iter_mut().find(|s| s.id == *id) {
            Some(session) => {
                session.status = "CLOSED".into();
                axum::Json(json!({"message": "OK"})).into_response()
            }
            None => error(404, Some("SESSION_DOES_NOT_EXIST"), "Session does not exist"),
        },
        (Method::GET, ["accounts", uid, what @ ("details" | "balances" | "transactions")]) => {
            account_data(&mut api, &method, &path, uid, what, &query, psu_ip_address.is_some())
        }
        _ => {
            api.violations.push(format!("{method} {path}: no such operation"));
            error(404, None, "Not Found")
        }
    }
}

fn start_authorization(api: &mut Api, body: &[u8]) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        api.violations.push("POST /auth: the body is not JSON".into());
        return error(422, Some("WRONG_REQUEST_PARAMETERS"), "Body is not JSON");
    };
    let text = |pointer: &str| request.pointer(pointer).and_then(Value::as_str).map(str::to_string);
    let (Some(valid_until), Some(name), Some(country), Some(state), Some(redirect_url)) = (
        text("/access/valid_until"),
        text("/aspsp/name"),
        text("/aspsp/country"),
        text("/state"),
        text("/redirect_url"),
    ) else {
        api.violations.push(format!("POST /auth: a required field is missing: {request}"));
        return error(422, Some("WRONG_REQUEST_PARAMETERS"), "Missing required field");
    };
    let Ok(valid_until) = DateTime::parse_from_rfc3339(&valid_until).map(|d| d.with_timezone(&Utc)) else {
        api.violations.push(format!("POST /auth: access.valid_until {valid_until:?} is not RFC 3339"));
        return error(422, Some("WRONG_REQUEST_PARAMETERS"), "Invalid valid_until");
    };
    let Some(aspsp) = api.aspsps().into_iter().find(|a| a["name"] == name.as_str() && a["country"] == country.as_str())
    else {
        return error(404, Some("WRONG_ASPSP_PROVIDED"), "Wrong ASPSP name or country provided");
    };
    let maximum = aspsp["maximum_consent_validity"].as_i64().unwrap_or(0);
    if valid_until > api.now + TimeDelta::seconds(maximum) || valid_until <= api.now {
        api.violations.push(format!("POST /auth: valid_until {valid_until} is beyond the bank's {maximum} s"));
        return error(422, Some("WRONG_REQUEST_PARAMETERS"), "valid_until is out of range");
    }
    if !(redirect_url.starts_with("http://") || redirect_url.starts_with("https://")) {
        api.violations.push(format!("POST /auth: redirect_url {redirect_url:?} is not a URL"));
        return error(400, Some("REDIRECT_URI_NOT_ALLOWED"), "Redirect URI not allowed");
    }
    if request.pointer("/psu_type").and_then(Value::as_str).is_some_and(|t| t != "personal" && t != "business") {
        api.violations.push("POST /auth: psu_type is neither personal nor business".into());
    }
    let id = api.next_id("auth");
    let code = api.next_id("code");
    api.authorizations.insert(id.clone(), Authorization { state, redirect_url, valid_until, code, used: false });
    let url = format!("{}/bank/{id}", api.base);
    axum::Json(json!({"url": url, "authorization_id": id, "psu_id_hash": "psu-hash"})).into_response()
}

fn session_json(api: &Api, session: &Session) -> Value {
    json!({
        "status": session.status,
        "accounts": session.accounts.iter().map(|(uid, _)| uid).collect::<Vec<_>>(),
        "accounts_data": session.accounts.iter().map(|(uid, hash)| json!({
            "uid": uid, "identification_hash": hash, "identification_hashes": [hash],
        })).collect::<Vec<_>>(),
        "aspsp": {"name": "Nordea", "country": "FI"},
        "psu_type": "personal",
        "psu_id_hash": "psu-hash",
        "access": {"valid_until": session.valid_until.to_rfc3339(), "balances": true, "transactions": true},
        "created": session.created.to_rfc3339(),
        "authorized": session.created.to_rfc3339(),
        "closed": if session.status == "CLOSED" { Value::from(api.now.to_rfc3339()) } else { Value::Null },
    })
}

fn authorize_session(api: &mut Api, body: &[u8]) -> Response {
    let Some(code) = serde_json::from_slice::<Value>(body).ok().and_then(|v| v["code"].as_str().map(str::to_string))
    else {
        api.violations.push("POST /sessions: the body has no code".into());
        return error(422, Some("WRONG_REQUEST_PARAMETERS"), "Missing code");
    };
    let Some(auth) = api.authorizations.values_mut().find(|a| a.code == code) else {
        return error(400, Some("WRONG_AUTHORIZATION_CODE"), "Wrong authorization code");
    };
    if auth.used {
        return error(400, Some("ALREADY_AUTHORIZED"), "Session is already authorized");
    }
    auth.used = true;
    let valid_until = auth.valid_until;
    let hashes: Vec<String> = api.accounts.iter().map(|a| a.identification_hash.clone()).collect();
    // Every session gives the same accounts new uids, as real banks' resource ids change.
    let accounts = hashes.into_iter().map(|hash| (api.next_id("uid"), hash)).collect();
    let id = api.next_id("session");
    let session = Session { id: id.clone(), status: "AUTHORIZED".into(), accounts, valid_until, created: api.now };
    let mut answer = session_json(api, &session);
    api.sessions.push(session);
    let details: Vec<Value> = api
        .sessions
        .last()
        .map(|s| {
            s.accounts
                .iter()
                .filter_map(|(uid, hash)| {
                    let account = api.accounts.iter().find(|a| &a.identification_hash == hash)?;
                    let mut details = account.details.clone();
                    details["uid"] = Value::from(uid.as_str());
                    Some(details)
                })
                .collect()
        })
        .unwrap_or_default();
    answer["session_id"] = Value::from(id);
    answer["accounts"] = Value::from(details);
    axum::Json(answer).into_response()
}

fn get_session(api: &mut Api, id: &str) -> Response {
    let now = api.now;
    let Some(session) = api.sessions.iter_mut().find(|s| s.id == id) else {
        return error(404, Some("SESSION_DOES_NOT_EXIST"), "Session does not exist");
    };
    if session.status == "AUTHORIZED" && session.valid_until <= now {
        session.status = "EXPIRED".into();
    }
    let Some(session) = api.sessions.iter().find(|s| s.id == id) else {
        return error(404, Some("SESSION_DOES_NOT_EXIST"), "Session does not exist");
    };
    axum::Json(session_json(api, session)).into_response()
}

fn day_param(
    api: &mut Api,
    path: &str,
    query: &[(String, String)],
    name: &str,
) -> Result<Option<NaiveDate>, Box<Response>> {
    let Some((_, value)) = query.iter().find(|(k, _)| k == name) else { return Ok(None) };
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map(Some).map_err(|_| {
        api.violations.push(format!("GET {path}: {name} {value:?} is not a date"));
        Box::new(error(422, Some("WRONG_REQUEST_PARAMETERS"), "Invalid date"))
    })
}

#[allow(clippy::too_many_arguments)]
fn account_data(
    api: &mut Api,
    method: &Method,
    path: &str,
    uid: &str,
    what: &str,
    query: &[(String, String)],
    psu_present: bool,
) -> Response {
    let now = api.now;
    let Some(session) = api.sessions.iter().find(|s| s.accounts.iter().any(|(u, _)| u == uid)) else {
        return error(404, Some("ACCOUNT_DOES_NOT_EXIST"), "No account found matching provided id");
    };
    let status = if session.status == "AUTHORIZED" && session.valid_until <= now { "EXPIRED" } else { &session.status };
    match status {
        "AUTHORIZED" => {}
        "EXPIRED" => return error(401, Some("EXPIRED_SESSION"), "Session has expired"),
        "REVOKED" => return error(401, Some("REVOKED_SESSION"), "Session has been revoked"),
        "CLOSED" => return error(401, Some("CLOSED_SESSION"), "Session has been closed"),
        _ => return error(400, Some("WRONG_SESSION_STATUS"), "Wrong session status"),
    }
    let session_id = session.id.clone();
    let created = session.created;
    let Some(hash) = session.accounts.iter().find(|(u, _)| u == uid).map(|(_, h)| h.clone()) else {
        return error(404, Some("ACCOUNT_DOES_NOT_EXIST"), "No account found matching provided id");
    };
    let Some(account) = api.accounts.iter().find(|a| a.identification_hash == hash).cloned() else {
        return error(404, Some("ASPSP_ACCOUNT_NOT_ACCESSIBLE"), "The account is not accessible");
    };
    match what {
        "details" => {
            let mut details = account.details;
            details["uid"] = Value::from(uid);
            axum::Json(details).into_response()
        }
        "balances" => axum::Json(json!({ "balances": account.balances })).into_response(),
        _ => {
            // One access is one read from its first page; continuation pages belong to it.
            let first_page = !query.iter().any(|(k, _)| k == "continuation_key");
            if !psu_present && first_page {
                let key = (session_id.clone(), uid.to_string(), now.date_naive());
                let count = api.unattended.entry(key).or_insert(0);
                *count += 1;
                if *count > UNATTENDED_PER_DAY {
                    return error(429, Some("ASPSP_RATE_LIMIT_EXCEEDED"), "ASPSP rate limit exceeded");
                }
            }
            transactions(api, method, path, &account, (&session_id, created), query)
        }
    }
}

fn transactions(
    api: &mut Api,
    method: &Method,
    path: &str,
    account: &BankAccount,
    (session_id, created): (&str, DateTime<Utc>),
    query: &[(String, String)],
) -> Response {
    let from = match day_param(api, path, query, "date_from") {
        Ok(day) => day,
        Err(response) => return *response,
    };
    let to = match day_param(api, path, query, "date_to") {
        Ok(day) => day,
        Err(response) => return *response,
    };
    let today = api.now.date_naive();
    if let (None, Some(_)) = (from, to) {
        api.violations.push(format!("{method} {path}: date_to without date_from"));
        return error(422, Some("DATE_TO_WITHOUT_DATE_FROM"), "date_to without date_from");
    }
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            api.violations.push(format!("{method} {path}: date_from {from} is after date_to {to}"));
            return error(422, Some("WRONG_DATE_INTERVAL"), "Wrong date interval");
        }
    }
    if from.is_some_and(|f| f > today) {
        api.violations.push(format!("{method} {path}: date_from is in the future"));
        return error(422, Some("DATE_FROM_IN_FUTURE"), "date_from in future");
    }
    let strategy = query.iter().find(|(k, _)| k == "strategy").map(|(_, v)| v.as_str());
    if strategy.is_some_and(|s| s != "default" && s != "longest") {
        api.violations.push(format!("{method} {path}: strategy {strategy:?} is neither default nor longest"));
        return error(422, Some("WRONG_REQUEST_PARAMETERS"), "Invalid strategy");
    }
    let long_history = api.now - created < TimeDelta::minutes(LONG_HISTORY_MINUTES);
    if let Some(from) = from {
        let days = (to.unwrap_or(today) - from).num_days() + 1;
        if days > 90 && !long_history {
            api.violations.push(format!("{method} {path}: {days} days asked for, 90 at most after authorisation"));
            return error(400, Some("WRONG_TRANSACTIONS_PERIOD"), "Wrong transactions period");
        }
    }
    let in_window = |t: &&Value| {
        let day = t["booking_date"].as_str().or(t["value_date"].as_str()).and_then(|d| d.parse::<NaiveDate>().ok());
        day.is_none_or(|d| from.is_none_or(|f| d >= f) && to.is_none_or(|t| d <= t))
    };
    // Enable Banking's reference: `transaction_id` may differ from one session to the next; only
    // `entry_reference` identifies a booking across sessions. So this bank mints a transaction id
    // per session for every transaction that does not fix its own.
    let all: Vec<Value> = account
        .transactions
        .iter()
        .enumerate()
        .filter(|(_, t)| in_window(t))
        .map(|(n, t)| {
            let mut t = t.clone();
            if t.get("transaction_id").is_none() {
                let own = t["entry_reference"].as_str().map_or_else(|| n.to_string(), str::to_string);
                t["transaction_id"] = Value::from(format!("{session_id}-{own}"));
            }
            t
        })
        .collect();
    let offset = match query.iter().find(|(k, _)| k == "continuation_key") {
        None => 0,
        Some((_, key)) => {
            match key.strip_prefix(&format!("{}:", account.identification_hash)).and_then(|o| o.parse().ok()) {
                Some(offset) => offset,
                None => {
                    api.violations.push(format!("{method} {path}: continuation_key {key:?} was never given out"));
                    return error(400, Some("WRONG_CONTINUATION_KEY"), "Wrong continuation key");
                }
            }
        }
    };
    let page: Vec<Value> = all.iter().skip(offset).take(api.page_size).cloned().collect();
    let next = offset + page.len();
    let key = (next < all.len()).then(|| format!("{}:{next}", account.identification_hash));
    axum::Json(json!({"transactions": page, "continuation_key": key})).into_response()
}
