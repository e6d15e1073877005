//! The whole REST API over real HTTP on both backends, as a script with a token would use it:
//! every operation once, and every operation that takes an id refused (404, nothing changed) to
//! another user of the same install.

use crate::serve::{http_client, Server};
use crate::support::{both_backends, Saldo};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::Write as _;
use std::process::Stdio;

struct Client<'a> {
    server: &'a Server,
    token: String,
    /// Every operation called, as (method, path template).
    called: &'a RefCell<BTreeSet<(String, String)>>,
}

/// A path's template as the OpenAPI document writes it: ids and days are parameters.
fn template(path: &str) -> String {
    let path = path.split('?').next().unwrap();
    let mut after_authorizations = false;
    let segments: Vec<String> = path
        .split('/')
        .map(|segment| {
            let is_state = std::mem::replace(&mut after_authorizations, segment == "authorizations");
            if is_state {
                "{state}".to_string()
            } else if uuid::Uuid::parse_str(segment).is_ok() {
                "{id}".to_string()
            } else if chrono::NaiveDate::parse_from_str(segment, "%Y-%m-%d").is_ok() {
                "{date}".to_string()
            } else {
                segment.to_string()
            }
        })
        .collect();
    format!("/api/v1{}", segments.join("/"))
}

/// The document's operations, as (method, path template).
fn documented(document: &Value) -> BTreeSet<(String, String)> {
    let mut all = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            all.insert((method.to_uppercase(), path.clone()));
        }
    }
    all
}

impl Client<'_> {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.called.borrow_mut().insert((method.to_string(), template(path)));
        let url = format!("http://{}/api/v1{path}", self.server.address);
        let mut request = http_client().request(method.parse().unwrap(), url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        let text = response.text().unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
    }

    fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.call(method, path, body);
        assert!((200..300).contains(&status), "{method} {path}: {status} {answer}");
        answer
    }
}

pub(crate) fn add_user(saldo: &Saldo, args: &[&str]) {
    let mut child =
        saldo.command(args).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"a long enough password\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

both_backends!(every_operation_works_for_its_user_and_no_other, |saldo| {
    add_user(&saldo, &["user", "add", "ana@example.org", "--owner", "--password-stdin"]);
    add_user(&saldo, &["user", "add", "ben@example.org", "--password-stdin"]);
    let connected = saldo.json(&["connect", "sandbox-bank", "--yes", "--json"]);
    let connection = connected["connection_id"].as_str().unwrap().to_string();
    let server = Server::start(&saldo, &[]);
    let called = RefCell::new(BTreeSet::new());
    let ana = Client { server: &server, token: server.token.clone(), called: &called };
    let ben_token = saldo.json(&["--user", "ben@example.org", "token", "create", "ben", "--json"]);
    let ben = Client { server: &server, token: ben_token["token"].as_str().unwrap().to_string(), called: &called };

    // The document the server serves, without credentials, is the committed one.
    let served = http_client().get(format!("http://{}/api/openapi.json", server.address)).send().unwrap();
    let document: Value = serde_json::from_str(&served.text().unwrap()).unwrap();
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json")).unwrap();
    assert_eq!(document, serde_json::from_str::<Value>(&committed).unwrap());

    // One's own profile, sessions, tokens, the owner's users; sign-up is closed, sign-in checks.
    assert_eq!(ana.ok("GET", "/me", None)["email"], "ana@example.org");
    assert_eq!(ana.ok("PATCH", "/me", Some(json!({"display_name": "Ana"})))["display_name"], "Ana");
    assert_eq!(ana.ok("GET", "/sessions", None), json!([]), "a token is no session");
    assert_eq!(ana.call("DELETE", "/sessions", None).0, 204);
    let made = ana.ok("POST", "/tokens", Some(json!({"name": "spare", "scope": "read"})));
    assert!(made["token"].as_str().unwrap().starts_with("saldo_"));
    assert_eq!(ana.call("DELETE", &format!("/tokens/{}", made["id"].as_str().unwrap()), None).0, 204);
    let carla =
        ana.ok("POST", "/users", Some(json!({"email": "carla@example.org", "password": "yet another passphrase"})));
    assert_eq!(ana.ok("GET", "/users", None).as_array().unwrap().len(), 3);
    assert_eq!(ana.call("DELETE", &format!("/users/{}", carla["id"].as_str().unwrap()), None).0, 204);
    let signup = json!({"email": "dan@example.org", "password": "a long enough password"});
    assert_eq!(ana.call("POST", "/auth/signup", Some(signup)).0, 403);
    let wrong = json!({"email": "ana@example.org", "password": "not her password"});
    assert_eq!(ana.call("POST", "/auth/login", Some(wrong)).0, 401);
    assert_eq!(ana.call("POST", "/auth/logout", None).0, 204);
    assert_eq!(ana.ok("GET", "/networth", None)["currency"], "EUR");

    // The catalog, paged and filtered.
    let page = ana.ok("GET", "/institutions?q=sandbox&limit=2", None);
    assert_eq!(page["institutions"].as_array().unwrap().len(), 2);
    assert_eq!(page["next_offset"], 2);
    let next = ana.ok("GET", "/institutions?q=sandbox&limit=2&offset=2", None);
    assert_ne!(next["institutions"][0]["id"], page["institutions"][0]["id"]);
    assert_eq!(ana.ok("GET", "/institutions?connector=nobody", None)["institutions"], json!([]));

    // Connections: status, items, tracking, a forced sync within the budget, the history.
    let view = ana.ok("GET", &format!("/connections/{connection}"), None);
    assert_eq!((view["id"].as_str(), view["color"].as_str()), (Some(connection.as_str()), Some("green")));
    let items = ana.ok("GET", &format!("/connections/{connection}/items"), None);
    assert_eq!(items.as_array().unwrap().len(), 3);
    let tracked = ana.ok("PUT", &format!("/connections/{connection}/items"), Some(json!({"all": true})));
    assert!(tracked.as_array().unwrap().iter().all(|i| i["decision"] == "tracked"), "{tracked}");
    let (status, report) = ana.call("POST", &format!("/connections/{connection}/sync"), None);
    assert!(status == 200 || status == 429, "{status} {report}");
    let runs = ana.ok("GET", &format!("/connections/{connection}/runs?limit=10"), None);
    assert!(!runs.as_array().unwrap().is_empty());
    assert!(runs[0]["outcome"].is_string() && runs[0]["started_at"].is_string());

    // A manual account: create, read, edit, value, its balances, delete a valuation.
    let flat = ana.ok(
        "POST",
        "/accounts",
        Some(
            json!({"name": "Flat", "kind": "real_estate", "currency": "EUR", "value": "250000", "date": "2026-01-01"}),
        ),
    );
    let flat_id = flat["id"].as_str().unwrap().to_string();
    assert_eq!(flat["balance"], "250000.00");
    assert_eq!(ana.ok("GET", &format!("/accounts/{flat_id}"), None)["name"], "Flat");
    assert_eq!(ana.ok("PATCH", &format!("/accounts/{flat_id}"), Some(json!({"name": "Home"})))["name"], "Home");
    let valued =
        ana.ok("PUT", &format!("/accounts/{flat_id}/valuations/2026-06-01"), Some(json!({"value": "262500.50"})));
    assert_eq!((valued["value"].as_str(), valued["replaced"].as_bool()), (Some("262500.50"), Some(false)));
    let balances = ana.ok("GET", &format!("/accounts/{flat_id}/balances?from=2026-02-01"), None);
    assert_eq!(balances.as_array().unwrap().len(), 1, "{balances}");
    assert_eq!(ana.call("DELETE", &format!("/accounts/{flat_id}/valuations/2026-06-01"), None).0, 204);
    let (status, error) =
        ana.call("POST", "/accounts", Some(json!({"name": "X", "kind": "castle", "currency": "EUR"})));
    assert_eq!(status, 400);
    assert!(error["error"]["message"].as_str().unwrap().contains("castle"), "{error}");
    assert_eq!(error["error"]["field"], "kind", "the answer names the field");
    let (status, error) = ana.call("POST", "/accounts", Some(json!({"name": "X", "currency": "EUR"})));
    assert_eq!((status, error["error"]["field"].as_str()), (400, Some("kind")), "{error}");
    let (status, error) = ana.call("GET", "/transactions?limit=0", None);
    assert_eq!((status, error["error"]["field"].as_str()), (400, Some("limit")), "{error}");

    // Transactions: pages that neither skip nor repeat, filters.
    let accounts = ana.ok("GET", "/accounts", None);
    let cash =
        accounts.as_array().unwrap().iter().find(|a| a["kind"] == "cash").unwrap()["id"].as_str().unwrap().to_string();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/accounts/{cash}/transactions?limit=7&cursor={cursor}"),
            None => format!("/accounts/{cash}/transactions?limit=7"),
        };
        let page = ana.ok("GET", &path, None);
        seen.extend(page["transactions"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let every = saldo.json(&["--user", "ana@example.org", "transactions", "--account", &cash, "--json"]);
    let mut all: Vec<String> =
        every.as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect();
    let mut paged = seen.clone();
    paged.sort();
    paged.dedup();
    all.sort();
    assert_eq!((paged.len(), seen.len()), (all.len(), all.len()), "no skips, no repeats");
    assert_eq!(paged, all);
    let pending = ana.ok("GET", "/transactions?status=pending&limit=500", None);
    assert!(pending["transactions"].as_array().unwrap().iter().all(|t| t["status"] == "pending"));
    let first = &every[0];
    let word = first["description"].as_str().unwrap().split_whitespace().next().unwrap().to_uppercase();
    let found = ana.ok("GET", &format!("/transactions?q={word}&limit=500"), None);
    assert!(!found["transactions"].as_array().unwrap().is_empty(), "{word}");
    let (status, _) = ana.call("GET", "/transactions?cursor=bogus", None);
    assert_eq!(status, 400);
    assert_eq!(ana.ok("GET", &format!("/accounts/{cash}/holdings"), None), json!([]));

    // Notifications, exchange rates.
    assert!(ana.ok("GET", "/notifications?unread=true", None).is_array());
    assert!(ana.ok("POST", "/notifications/read-all", None)["marked"].is_u64());
    let ecb = std::fs::read(saldo.data_file("ecb/eurofxref-hist.csv")).unwrap();
    ana.called.borrow_mut().insert(("POST".into(), "/api/v1/fx/rates".into()));
    let loaded = http_client()
        .post(format!("http://{}/api/v1/fx/rates", server.address))
        .bearer_auth(&ana.token)
        .header("content-type", "text/csv")
        .body(ecb)
        .send()
        .unwrap();
    assert_eq!(loaded.status().as_u16(), 200);
    assert!(!ana.ok("GET", "/fx/rates", None).as_array().unwrap().is_empty());

    // A statement file, as a script uploads it.
    ana.called.borrow_mut().insert(("POST".into(), "/api/v1/imports".into()));
    let csv = "Date,Description,Amount\n2026-11-02,Coffee,-3.50\n";
    let (status, _) = server.upload(&format!("/api/v1/imports?account={cash}&dry_run=true"), csv);
    assert_eq!(status, 200);
    let begun = ana.ok("POST", "/connections", Some(json!({"institution": "sandbox-lender"})));
    let page = format!("http://{}/sandbox/consent?", server.address);
    assert!(begun["authorization_url"].as_str().unwrap().starts_with(&page), "{begun}");
    assert_eq!((begun["status"].as_str(), &begun["decoupled"]), (Some("awaiting_authorization"), &Value::Null));
    let state = begun["state"].as_str().unwrap().to_string();
    let progress = ana.ok("GET", &format!("/authorizations/{state}"), None);
    assert_eq!((progress["status"].as_str(), &progress["connection_id"]), (Some("waiting"), &begun["id"]));
    assert_eq!(ana.call("GET", "/authorizations/00000000000000000000000000000000", None).0, 404);
    let reconnect = ana.ok("POST", &format!("/connections/{connection}/reconnect"), None);
    assert!(reconnect["authorization_url"].is_string());
    assert_eq!(ana.call("POST", "/notifications/0193a0a0-0000-7000-8000-000000000001/read", None).0, 404);

    // Another user: every id of Ana's is not there for Ben, and nothing of hers changes.
    let before = (ana.ok("GET", "/accounts", None), ana.ok("GET", "/connections", None));
    let session_id = "0193a0a0-0000-7000-8000-000000000000";
    let token_id = ana.ok("GET", "/tokens", None)[0]["id"].as_str().unwrap().to_string();
    let operations: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/connections/{connection}"), None),
        ("DELETE", format!("/connections/{connection}?keep_history=false"), None),
        ("POST", format!("/connections/{connection}/sync"), None),
        ("POST", format!("/connections/{connection}/reconnect"), None),
        ("GET", format!("/connections/{connection}/items"), None),
        ("PUT", format!("/connections/{connection}/items"), Some(json!({"all": true}))),
        ("GET", format!("/connections/{connection}/runs"), None),
        ("GET", format!("/accounts/{flat_id}"), None),
        ("PATCH", format!("/accounts/{flat_id}"), Some(json!({"name": "Mine now"}))),
        ("DELETE", format!("/accounts/{flat_id}"), None),
        ("GET", format!("/accounts/{flat_id}/balances"), None),
        ("PUT", format!("/accounts/{flat_id}/valuations/2026-07-01"), Some(json!({"value": "1"}))),
        ("DELETE", format!("/accounts/{flat_id}/valuations/2026-01-01"), None),
        ("GET", format!("/accounts/{flat_id}/holdings"), None),
        ("GET", format!("/accounts/{cash}/transactions"), None),
        ("DELETE", format!("/sessions/{session_id}"), None),
        ("DELETE", format!("/tokens/{token_id}"), None),
        ("GET", format!("/authorizations/{state}"), None),
    ];
    for (method, path, body) in &operations {
        let (status, answer) = ben.call(method, path, body.clone());
        assert_eq!(status, 404, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "not_found", "{method} {path}");
    }
    // The list is the document's: an operation that takes an id cannot be left out of it. (A
    // user's id is the owner's to manage: a member gets 403 there, which names no one.)
    let tried: BTreeSet<(String, String)> = operations.iter().map(|(m, p, _)| (m.to_string(), template(p))).collect();
    let mut with_ids = documented(&document);
    with_ids.retain(|(_, path)| path.contains('{') && path != "/api/v1/users/{id}");
    with_ids.remove(&("POST".to_string(), "/api/v1/notifications/{id}/read".to_string()));
    assert_eq!(tried, with_ids);
    let notification = "0193a0a0-0000-7000-8000-000000000002";
    assert_eq!(ben.call("POST", &format!("/notifications/{notification}/read"), None).0, 404);
    assert_eq!(ben.call("DELETE", &format!("/users/{}", ben_token["id"].as_str().unwrap()), None).0, 403);
    assert_eq!((ana.ok("GET", "/accounts", None), ana.ok("GET", "/connections", None)), before);
    assert_eq!(ben.ok("GET", "/transactions", None)["transactions"], json!([]));

    // Disconnecting keeps the history unless asked not to.
    assert_eq!(ana.call("DELETE", &format!("/connections/{connection}?keep_history=false"), None).0, 204);
    assert_eq!(ana.ok("GET", "/connections", None), json!([]));
    assert_eq!(ana.call("DELETE", &format!("/accounts/{flat_id}"), None).0, 204);
    assert_eq!(ana.ok("GET", "/accounts", None), json!([]));
    // Every operation of the document was exercised here.
    let missing: Vec<_> = documented(&document).difference(&called.borrow()).cloned().collect();
    assert!(missing.is_empty(), "operations no test calls: {missing:?}");
    assert!(server.terminate().success());
});
