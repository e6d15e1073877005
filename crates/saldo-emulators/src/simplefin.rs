//! An emulator of the SimpleFIN Bridge: setup tokens, the one-time claim, `GET /accounts` with
//! HTTP Basic auth, the 90-day window cap, in-band errors (v1 `errors`, v2 `errlist`) and the
//! Bridge's HTTP failures (402 with its JSON body, 403 with its HTML page).
//!
//! The example responses under `fixtures/simplefin/` are jeeftor/simplefin4py's test fixtures
//! (MIT; see `fixtures/simplefin/SOURCES.md` and the license text beside it).

#[cfg(test)]
use crate::served::percent_decode;
use crate::served::{self, query_pairs, Served};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The Bridge's example answer: eight accounts across several organisations, two "may need
/// attention" errors, a transaction with payee and memo, and two brokerage accounts with holdings.
pub const EXAMPLE_200_WITH_ERRORS: &str = include_str!("../fixtures/simplefin/200-with-errors.json");
/// The protocol page's Account Set: one savings account with one transaction.
pub const EXAMPLE_ACCOUNT_SET: &str = include_str!("../fixtures/simplefin/account_set.json");
/// The body of the Bridge's 402 (the user's subscription is unpaid).
pub const EXAMPLE_402: &str = include_str!("../fixtures/simplefin/402.json");
/// The Bridge's HTML page for a 403 (bad or revoked access URL): not JSON.
pub const EXAMPLE_403_PAGE: &str = include_str!("../fixtures/simplefin/403.txt");

/// The longest window the Bridge serves; longer ones are capped to their last 90 days.
pub const MAX_WINDOW_SECONDS: i64 = 90 * 86_400;

/// The path of the access URL, as on the real Bridge.
const ACCESS_PATH: &str = "/simplefin";

/// One of the example documents above, parsed.
pub fn example(document: &str) -> Value {
    serde_json::from_str(document).unwrap_or(Value::Null)
}

/// What the next `/accounts` request with valid credentials gets instead of the account set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 402 with the Bridge's JSON body: the user's subscription must be paid.
    PaymentRequired,
    /// 403 with the Bridge's HTML page, as for revoked access.
    Forbidden,
    /// This status with a short text body (500, 503, 429, …).
    Status(u16),
    /// 200 with this body, whatever it is.
    Body(String),
    /// The normal answer, after this delay (a slow Bridge, for timeouts).
    Delay(Duration),
    /// This status with an error, in the Bridge's JSON form, that repeats every request header,
    /// credentials included, as a debugging proxy in front of it may.
    EchoHeaders(u16),
}

/// A v2 structured error, as in `errlist`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorEntry {
    /// `prefix.subcode`: `gen.auth`, `con.auth`, `act.failed`, `act.missingdata`, …
    pub code: String,
    /// A user-facing message.
    pub msg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

impl ErrorEntry {
    pub fn new(code: &str, msg: &str) -> ErrorEntry {
        ErrorEntry { code: code.into(), msg: msg.into(), conn_id: None, account_id: None }
    }

    pub fn connection(mut self, conn_id: &str) -> ErrorEntry {
        self.conn_id = Some(conn_id.into());
        self
    }

    pub fn account(mut self, account_id: &str) -> ErrorEntry {
        self.account_id = Some(account_id.into());
        self
    }
}

/// One request as the emulator saw it. Credentials are never recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// Basic auth named an access URL the Bridge issued and has not revoked.
    pub auth_valid: bool,
}

impl RecordedRequest {
    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// `(start-date, end-date)` when both are integers.
    pub fn window(&self) -> Option<(i64, i64)> {
        Some((self.param("start-date")?.parse().ok()?, self.param("end-date")?.parse().ok()?))
    }

    pub fn is_accounts(&self) -> bool {
        self.path == format!("{ACCESS_PATH}/accounts")
    }
}

struct Access {
    user: String,
    password: String,
    revoked: bool,
}

struct Bridge {
    base: String,
    /// Setup token ids and whether each was claimed.
    tokens: HashMap<String, bool>,
    access: Vec<Access>,
    accounts: Vec<Value>,
    errors: Vec<String>,
    errlist: Vec<ErrorEntry>,
    faults: VecDeque<Fault>,
    requests: Vec<RecordedRequest>,
    violations: Vec<String>,
    refused_claims: usize,
    nonce: u64,
    random: std::collections::hash_map::RandomState,
}

impl Bridge {
    /// Hex that cannot be guessed from earlier values: the process's random hash keys over a counter.
    fn random_hex(&mut self) -> String {
        self.nonce += 1;
        let a = self.random.hash_one(self.nonce);
        let b = self.random.hash_one(self.nonce.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        format!("{a:016x}{b:016x}")
    }
}

type Shared = Arc<Mutex<Bridge>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Bridge> {
    // A panicking test thread must not hide the record from the others.
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running emulator of the SimpleFIN Bridge on 127.0.0.1.
pub struct SimpleFinBridge {
    addr: SocketAddr,
    shared: Shared,
    server: Served,
}

impl SimpleFinBridge {
    /// Starts an emulator on a free loopback port, serving the protocol page's Account Set.
    ///
    /// # Panics
    /// When no loopback port can be bound: the emulator is for tests.
    pub async fn start() -> SimpleFinBridge {
        let (listener, addr) = served::bind().await;
        let shared = Arc::new(Mutex::new(Bridge {
            base: format!("http://{addr}"),
            tokens: HashMap::new(),
            access: Vec::new(),
            accounts: Vec::new(),
            errors: Vec::new(),
            errlist: Vec::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            violations: Vec::new(),
            refused_claims: 0,
            nonce: 0,
            random: std::collections::hash_map::RandomState::new(),
        }));
        let router = Router::new().fallback(handle).with_state(shared.clone());
        let server = Served::serve(listener, router);
        let bridge = SimpleFinBridge { addr, shared, server };
        bridge.set_account_set(&example(EXAMPLE_ACCOUNT_SET));
        bridge
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Mints a new one-time setup token: the base64 of `{base}/claim/<random id>`.
    pub fn setup_token(&self) -> String {
        let mut bridge = lock(&self.shared);
        let id = bridge.random_hex();
        bridge.tokens.insert(id.clone(), false);
        STANDARD.encode(format!("{}/claim/{id}", bridge.base))
    }

    /// Serves this Account Set (`{"errors": [...], "accounts": [...], "errlist"?: [...]}`): its
    /// accounts, and its errors and errlist as the standing in-band errors.
    pub fn set_account_set(&self, set: &Value) {
        let mut bridge = lock(&self.shared);
        bridge.accounts = set.get("accounts").and_then(Value::as_array).cloned().unwrap_or_default();
        bridge.errors = set
            .get("errors")
            .and_then(Value::as_array)
            .map(|e| e.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        bridge.errlist = set
            .get("errlist")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|e| ErrorEntry {
                        code: e.get("code").and_then(Value::as_str).unwrap_or_default().into(),
                        msg: e.get("msg").and_then(Value::as_str).unwrap_or_default().into(),
                        conn_id: e.get("conn_id").and_then(Value::as_str).map(str::to_string),
                        account_id: e.get("account_id").and_then(Value::as_str).map(str::to_string),
                    })
                    .collect()
            })
            .unwrap_or_default();
    }

    /// Serves these accounts (each a SimpleFIN Account object), keeping the standing errors.
    pub fn set_accounts(&self, accounts: Vec<Value>) {
        lock(&self.shared).accounts = accounts;
    }

    /// The standing v1 `errors` strings every `/accounts` answer carries.
    pub fn set_errors(&self, errors: Vec<String>) {
        lock(&self.shared).errors = errors;
    }

    /// The standing v2 `errlist` every `/accounts` answer carries. Their messages are also sent in
    /// `errors`, as a Bridge that speaks v2 does for clients that read only v1.
    pub fn set_errlist(&self, errlist: Vec<ErrorEntry>) {
        lock(&self.shared).errlist = errlist;
    }

    /// The next `/accounts` request with valid credentials gets `fault`; several queue in order.
    pub fn fail_next(&self, fault: Fault) {
        lock(&self.shared).faults.push_back(fault);
    }

    /// The user removed saldo at the Bridge: every access URL issued so far answers 403.
    pub fn revoke_access(&self) {
        for access in &mut lock(&self.shared).access {
            access.revoked = true;
        }
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared).requests.clone()
    }

    /// The `/accounts` requests so far, in order.
    pub fn accounts_requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared).requests.iter().filter(|r| r.is_accounts()).cloned().collect()
    }

    /// Every access URL a claim has handed out, with its credentials: what tests look for in
    /// places it must never appear (database dumps, logs).
    pub fn issued_access_urls(&self) -> Vec<String> {
        let bridge = lock(&self.shared);
        let (scheme, host) = bridge.base.split_once("://").unwrap_or(("http", &bridge.base));
        bridge.access.iter().map(|a| format!("{scheme}://{}:{}@{host}{ACCESS_PATH}", a.user, a.password)).collect()
    }

    /// Requests the protocol does not allow, described.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.shared).violations.clone()
    }

    /// Claims refused because the token was already claimed or never issued (legitimate
    /// requests: the answer is what the protocol says, 403).
    pub fn refused_claims(&self) -> usize {
        lock(&self.shared).refused_claims
    }

    /// Stops serving and closes the port (open keep-alive connections are closed too), so later
    /// requests fail to connect.
    pub async fn stop(&mut self) {
        self.server.stop().await;
    }
}

/// `user:password` from a Basic authorization header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn text(status: StatusCode, body: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body.to_string()).into_response()
}

fn forbidden_page() -> Response {
    (StatusCode::FORBIDDEN, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], EXAMPLE_403_PAGE).into_response()
}

async fn handle(State(shared): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_string();
    let query = query_pairs(uri.query());
    if let Some(id) = path.strip_prefix("/claim/") {
        return claim(&shared, &method, &path, id, query, &body);
    }
    if path == format!("{ACCESS_PATH}/info") {
        let mut bridge = lock(&shared);
        bridge.requests.push(RecordedRequest { method: method.to_string(), path, query, auth_valid: false });
        return axum::Json(json!({ "versions": ["1.0"] })).into_response();
    }
    if path == format!("{ACCESS_PATH}/accounts") {
        return accounts(&shared, &method, path, query, &headers).await;
    }
    let mut bridge = lock(&shared);
    bridge.violations.push(format!("{method} {path}: no such path"));
    bridge.requests.push(RecordedRequest { method: method.to_string(), path, query, auth_valid: false });
    text(StatusCode::NOT_FOUND, "Not found")
}

fn claim(
    shared: &Shared,
    method: &Method,
    path: &str,
    id: &str,
    query: Vec<(String, String)>,
    body: &[u8],
) -> Response {
    let mut bridge = lock(shared);
    bridge.requests.push(RecordedRequest { method: method.to_string(), path: path.into(), query, auth_valid: false });
    if method != Method::POST {
        bridge.violations.push(format!("{method} {path}: a claim must be a POST"));
        return text(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    }
    if !body.is_empty() {
        bridge.violations.push(format!("POST {path}: a claim has an empty body ({} bytes sent)", body.len()));
    }
    match bridge.tokens.get_mut(id) {
        Some(claimed @ false) => {
            *claimed = true;
            let user = bridge.random_hex();
            let password = bridge.random_hex();
            let access_url =
                format!("{}{ACCESS_PATH}", bridge.base.replacen("://", &format!("://{user}:{password}@"), 1));
            bridge.access.push(Access { user, password, revoked: false });
            text(StatusCode::OK, &access_url)
        }
        // A second claim is legitimate (the protocol's answer to it is the warning sign); so is a
        // token that was never issued.
        _ => {
            bridge.refused_claims += 1;
            forbidden_page()
        }
    }
}

/// The window a request asks for, as the Bridge applies it.
struct Window {
    start: Option<i64>,
    end: Option<i64>,
    capped: bool,
}

/// The window of a request, as the Bridge applies it; violations are recorded. `Err` is the text
/// of a 400 answer.
fn window(bridge: &mut Bridge, method: &Method, path: &str, query: &[(String, String)]) -> Result<Window, String> {
    let mut parse = |name: &str| -> Result<Option<i64>, String> {
        let Some((_, value)) = query.iter().find(|(k, _)| k == name) else { return Ok(None) };
        value.parse::<i64>().map(Some).map_err(|_| {
            bridge.violations.push(format!("{method} {path}: {name} is not an integer: {value:?}"));
            format!("Invalid {name}")
        })
    };
    let start = parse("start-date")?;
    let end = parse("end-date")?;
    let mut capped = false;
    // Without an end-date the Bridge ends the window at its own now; the emulator stands for a
    // remote server, so its clock is the system's.
    #[allow(clippy::disallowed_methods)]
    let effective_end = end.unwrap_or_else(|| chrono::Utc::now().timestamp());
    let mut start = start;
    if let Some(s) = start {
        if effective_end <= s {
            bridge.violations.push(format!("{method} {path}: end-date {effective_end} is not after start-date {s}"));
            return Err("end-date must be after start-date".into());
        }
        if effective_end - s > MAX_WINDOW_SECONDS {
            bridge.violations.push(format!(
                "{method} {path}: window of {} s ({} days) is longer than 90 days",
                effective_end - s,
                (effective_end - s + 86_399) / 86_400
            ));
            start = Some(effective_end - MAX_WINDOW_SECONDS);
            capped = true;
        }
    }
    Ok(Window { start, end, capped })
}

fn is_pending(transaction: &Value) -> bool {
    transaction.get("pending").and_then(Value::as_bool).unwrap_or(false)
        || transaction.get("posted").and_then(Value::as_i64) == Some(0)
}

async fn accounts(
    shared: &Shared,
    method: &Method,
    path: String,
    query: Vec<(String, String)>,
    headers: &HeaderMap,
) -> Response {
    let (fault, body) = {
        let mut bridge = lock(shared);
        let credentials = basic_credentials(headers);
        let known = credentials
            .as_ref()
            .and_then(|(user, password)| bridge.access.iter().find(|a| &a.user == user && &a.password == password));
        let auth_valid = known.is_some_and(|a| !a.revoked);
        let revoked = known.is_some_and(|a| a.revoked);
        bridge.requests.push(RecordedRequest {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            auth_valid,
        });
        if method != Method::GET {
            bridge.violations.push(format!("{method} {path}: /accounts is read with GET"));
            return text(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
        }
        if !auth_valid {
            if !revoked {
                let why = if credentials.is_some() { "credentials the Bridge never issued" } else { "no Basic auth" };
                bridge.violations.push(format!("{method} {path}: {why}"));
            }
            return forbidden_page();
        }
        let window = match window(&mut bridge, method, &path, &query) {
            Ok(window) => window,
            Err(why) => return text(StatusCode::BAD_REQUEST, &why),
        };
        let fault = bridge.faults.pop_front();
        (fault, account_set(&bridge, &query, &window))
    };
    match fault {
        None => axum::Json(body).into_response(),
        Some(Fault::PaymentRequired) => {
            (StatusCode::PAYMENT_REQUIRED, [(header::CONTENT_TYPE, "application/json")], EXAMPLE_402).into_response()
        }
        Some(Fault::Forbidden) => forbidden_page(),
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            text(status, status.canonical_reason().unwrap_or("Error"))
        }
        Some(Fault::Body(body)) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            axum::Json(body).into_response()
        }
        Some(Fault::EchoHeaders(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut page = format!("Proxy error {code} for {method} {path}. Request headers:");
            for (name, value) in headers {
                page.push_str(&format!(" {name}: {}", value.to_str().unwrap_or("?")));
            }
            (status, axum::Json(serde_json::json!({ "errors": [page] }))).into_response()
        }
    }
}

/// The Account Set for one request: the window, `pending`, `account` and `balances-only` applied.
fn account_set(bridge: &Bridge, query: &[(String, String)], window: &Window) -> Value {
    let flag = |name: &str| query.iter().any(|(k, v)| k == name && v == "1");
    let pending = flag("pending");
    let balances_only = flag("balances-only");
    let wanted: Vec<&str> = query.iter().filter(|(k, _)| k == "account").map(|(_, v)| v.as_str()).collect();
    let accounts: Vec<Value> = bridge
        .accounts
        .iter()
        .filter(|a| wanted.is_empty() || a.get("id").and_then(Value::as_str).is_some_and(|id| wanted.contains(&id)))
        .map(|account| {
            let mut account = account.clone();
            if let Some(object) = account.as_object_mut() {
                if balances_only {
                    object.remove("transactions");
                } else if let Some(Value::Array(transactions)) = object.get_mut("transactions") {
                    transactions.retain(|t| {
                        if is_pending(t) {
                            return pending;
                        }
                        let posted = t.get("posted").and_then(Value::as_i64).unwrap_or(0);
                        window.start.is_none_or(|s| posted >= s) && window.end.is_none_or(|e| posted < e)
                    });
                }
            }
            account
        })
        .collect();
    let mut errors = bridge.errors.clone();
    let mut errlist = bridge.errlist.clone();
    errors.extend(errlist.iter().map(|e| e.msg.clone()));
    if window.capped {
        let msg = "Requested date range exceeds limit of 90 days and was capped.";
        errors.push(msg.into());
        errlist.push(ErrorEntry::new("gen.api", msg));
    }
    let mut set = json!({ "errors": errors, "accounts": accounts });
    if !errlist.is_empty() {
        set["errlist"] = json!(errlist);
        let mut connections: Vec<Value> = Vec::new();
        for account in &bridge.accounts {
            let Some(conn_id) = account.get("conn_id").and_then(Value::as_str) else { continue };
            if connections.iter().any(|c| c["conn_id"] == conn_id) {
                continue;
            }
            let org = account.get("org").cloned().unwrap_or(Value::Null);
            connections.push(json!({
                "conn_id": conn_id,
                "name": org.get("name").cloned().unwrap_or(Value::Null),
                "org_id": org.get("id").cloned().unwrap_or(Value::Null),
                "sfin_url": org.get("sfin-url").cloned().unwrap_or(Value::Null),
            }));
        }
        set["connections"] = json!(connections);
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_parse() {
        for document in [EXAMPLE_200_WITH_ERRORS, EXAMPLE_ACCOUNT_SET, EXAMPLE_402] {
            assert!(example(document).is_object());
        }
        assert!(EXAMPLE_403_PAGE.contains("Forbidden"));
    }

    #[test]
    fn queries_are_decoded() {
        assert_eq!(
            query_pairs(Some("start-date=1&pending=1&account=a%20b&x")),
            vec![
                ("start-date".into(), "1".into()),
                ("pending".into(), "1".into()),
                ("account".into(), "a b".into()),
                ("x".into(), String::new())
            ]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
