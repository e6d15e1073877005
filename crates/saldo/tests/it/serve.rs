//! `saldo serve`: probes and the JSON API over real HTTP on loopback, JSON logs, and a graceful
//! stop on SIGTERM.

use crate::support::both_backends;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A real HTTP client, as a browser or script would use: redirects are answers to look at, not to
/// follow.
pub(crate) fn http_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A browser's session for a user added with the tests' password, signed in through the API
/// (the `Cookie` header's value).
pub(crate) fn session_cookie(server: &Server, email: &str) -> String {
    let url = format!("http://{}/api/v1/auth/login", server.address);
    let body = serde_json::json!({"email": email, "password": "a long enough password"});
    let response = http_client().post(url).json(&body).send().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

/// The path of an absolute address of this server's (the sandbox bank's consent page).
pub(crate) fn own_path(url: &str) -> &str {
    url.split_once("://").and_then(|(_, rest)| rest.find('/').map(|at| &rest[at..])).unwrap_or(url)
}

/// The status and body of a request's answer.
fn answer(request: reqwest::blocking::RequestBuilder) -> (u16, String) {
    let response = request.send().unwrap();
    (response.status().as_u16(), response.text().unwrap())
}

/// A running `saldo serve` and the address it listens on.
pub(crate) struct Server {
    child: Child,
    pub(crate) address: String,
    /// A read-write API token of the install's owner, which every request of the helpers sends.
    pub(crate) token: String,
    /// The setup code the server logged at start, when nobody could sign in yet.
    pub(crate) setup_code: Option<String>,
    /// Everything the server logged.
    pub(crate) log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    pub(crate) fn start(saldo: &crate::support::Saldo, extra: &[&str]) -> Server {
        let made = saldo.json(&["token", "create", "tests", "--json"]);
        let token = made["token"].as_str().unwrap().to_string();
        let mut args = vec!["--log-format", "json"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["serve", "--listen", "127.0.0.1:0"]);
        let mut child = saldo.command(&args).stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut line = String::new();
        let mut setup_code = None;
        let address = loop {
            line.clear();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "saldo serve exited before listening");
            log.lock().unwrap().push_str(&line);
            let entry: Value =
                serde_json::from_str(&line).unwrap_or_else(|err| panic!("not a JSON log line ({err}): {line}"));
            if let Some(code) = entry["fields"]["setup_code"].as_str() {
                setup_code = Some(code.to_string());
            }
            if let Some(address) = entry["fields"]["address"].as_str() {
                break address.to_string();
            }
        };
        // Keep reading the log so the server never blocks on a full pipe.
        let kept = log.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while stderr.read_line(&mut line).is_ok_and(|n| n > 0) {
                kept.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Server { child, address, token, setup_code, log }
    }

    /// A request that sends the owner's token.
    pub(crate) fn authed(&self, request: reqwest::blocking::RequestBuilder) -> reqwest::blocking::RequestBuilder {
        request.bearer_auth(&self.token)
    }

    pub(crate) fn get(&self, path: &str) -> (u16, String) {
        self.get_with(path, "")
    }

    /// A GET with extra header lines (each `Name: value`, ending in `\r\n`).
    pub(crate) fn get_with(&self, path: &str, headers: &str) -> (u16, String) {
        let mut request = self.authed(http_client().get(format!("http://{}{path}", self.address)));
        for line in headers.split("\r\n").filter(|line| !line.is_empty()) {
            let (name, value) = line.split_once(':').unwrap();
            request = request.header(name.trim(), value.trim());
        }
        answer(request)
    }

    /// A statement file sent as the body of a POST.
    pub(crate) fn upload(&self, path: &str, body: &str) -> (u16, String) {
        let request = self
            .authed(http_client().post(format!("http://{}{path}", self.address)))
            .header("content-type", "application/octet-stream")
            .body(body.to_string());
        answer(request)
    }

    fn post(&self, path: &str, body: &str) -> (u16, String) {
        let request = self
            .authed(http_client().post(format!("http://{}{path}", self.address)))
            .header("content-type", "application/json")
            .body(body.to_string());
        answer(request)
    }

    /// The server's peak resident memory so far, in KiB.
    pub(crate) fn peak_memory_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        let status = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        assert!(status.unwrap().success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "saldo serve did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

both_backends!(serves_probes_and_the_api_and_stops_on_sigterm, |saldo| {
    saldo.ok(&[
        "account",
        "add",
        "--name",
        "Cash",
        "--kind",
        "cash",
        "--currency",
        "EUR",
        "--value",
        "42.10",
        "--date",
        "2026-01-01",
    ]);
    let server = Server::start(&saldo, &[]);

    assert_eq!(server.get("/healthz"), (200, "ok\n".to_string()));
    assert_eq!(server.get("/readyz"), (200, "ready\n".to_string()));

    let (status, body) = server.get("/api/v1/networth?date=2026-01-02&history=true&from=2026-01-01");
    assert_eq!(status, 200, "{body}");
    let networth: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(networth["total"], "42.10");
    assert_eq!(networth["history"].as_array().unwrap().len(), 2);

    let (status, body) = server.get("/api/v1/accounts");
    assert_eq!(status, 200);
    let accounts: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(accounts[0]["name"], "Cash");

    let (status, body) = server.get("/api/v1/networth?date=2026-02-30");
    assert_eq!(status, 400);
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["message"], "invalid date \"2026-02-30\" for date: expected YYYY-MM-DD");
    assert_eq!(error["error"]["code"], "invalid_request");
    assert_eq!(error["error"]["field"], "date");
    // The use case's typed error, in the API's words: no command-line flags or commands in it.
    let (status, body) = server.get("/api/v1/networth?from=2026-01-01");
    assert_eq!(status, 400, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], "invalid_range");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(!message.contains("--") && !message.contains("saldo "), "{message}");
    let (status, _) = server.get("/api/v1/networth?colour=red");
    assert_eq!(status, 400);
    let (status, body) = server.get("/nowhere");
    assert_eq!(status, 404);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], "not_found");

    assert!(server.terminate().success(), "a SIGTERM stop is a clean exit");
});

/// The `action` of the consent page's form whose hidden field is `field`, as a path on the server.
fn form_action(page: &str, field: &str, server: &Server) -> String {
    let form = page.split("<form").find(|form| form.contains(&format!("name=\"{field}\""))).unwrap();
    let action = form.split("action=\"").nth(1).unwrap().split('"').next().unwrap();
    action.strip_prefix(&format!("http://{}", server.address)).unwrap_or_else(|| panic!("{action}")).to_string()
}

both_backends!(connecting_in_a_browser_goes_through_the_banks_consent_page_and_back, |saldo| {
    let server = Server::start(&saldo, &[]);
    let (status, body) = server.post("/api/v1/connections", r#"{"institution": "sandbox-bank"}"#);
    assert_eq!(status, 201, "{body}");
    let auth: Value = serde_json::from_str(&body).unwrap();
    let state = auth["state"].as_str().unwrap().to_string();

    // The bank's page says who asks for what, read-only, and answers to saldo's callback.
    let (status, consent) = server.get(own_path(auth["authorization_url"].as_str().unwrap()));
    assert_eq!(status, 200, "{consent}");
    assert!(consent.contains("Sandbox Bank") && consent.contains("read-only"), "{consent}");
    let callback = form_action(&consent, "code", &server);
    assert_eq!(callback, "/callback/sandbox");

    let approved = format!("{callback}?state={state}&code=approved");
    let (status, done) = server.get(&approved);
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("Connected Sandbox Bank") && done.contains("First update done"), "{done}");

    // The items appear at once, tracked, with their balances.
    let (_, body) = server.get("/api/v1/accounts");
    let accounts: Value = serde_json::from_str(&body).unwrap();
    let connected: Vec<&Value> =
        accounts.as_array().unwrap().iter().filter(|a| a["connection_id"] == auth["id"]).collect();
    assert!(connected.len() >= 2, "{body}");
    assert!(connected.iter().all(|a| a["tracked"] == true && a["balance"].is_string()), "{body}");
    let (_, body) = server.get("/api/v1/connections");
    let listed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((listed.as_array().unwrap().len(), listed[0]["color"].as_str()), (1, Some("green")), "{body}");

    // A replayed redirect connects nothing twice.
    let (status, again) = server.get(&approved);
    assert_eq!(status, 400);
    assert!(again.contains("already used"), "{again}");

    // Declining at the bank connects nothing, and says so.
    let (_, body) = server.post("/api/v1/connections", r#"{"institution": "Sandbox Broker"}"#);
    let declined: Value = serde_json::from_str(&body).unwrap();
    let (status, page) =
        server.get(&format!("{callback}?state={}&error=access_denied", declined["state"].as_str().unwrap()));
    assert_eq!(status, 400);
    assert!(page.contains("you declined the consent at Sandbox Broker"), "{page}");

    // Renewing early goes through the same page and keeps the accounts.
    let id = auth["id"].as_str().unwrap();
    let (status, body) = server.post(&format!("/api/v1/connections/{id}/reconnect"), "");
    assert_eq!(status, 201, "{body}");
    let renewal: Value = serde_json::from_str(&body).unwrap();
    let (status, done) = server.get(&format!("{callback}?state={}&code=approved", renewal["state"].as_str().unwrap()));
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("Reconnected Sandbox Bank"), "{done}");
    let (_, body) = server.get("/api/v1/accounts");
    let after: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(after.as_array().unwrap().len(), accounts.as_array().unwrap().len(), "{body}");

    // Wrong requests get errors that say what was wrong.
    let (status, body) = server.post("/api/v1/connections", "{}");
    assert_eq!(status, 400);
    assert!(body.contains("institution"), "{body}");
    let (status, _) = server.get("/sandbox/consent?state=unknown");
    assert_eq!(status, 404);
    assert!(server.terminate().success());
});

#[test]
fn an_invalid_listen_address_names_the_setting() {
    let saldo = crate::support::Saldo::new(crate::support::Backend::Sqlite);
    let output = saldo.command(&[]).env("SALDO_LISTEN", "localhost").arg("serve").output().unwrap();
    let err = crate::support::check_clean_failure(&output, &["serve"]);
    assert!(err.contains("invalid listen (from environment SALDO_LISTEN)"), "{err}");
}

both_backends!(statement_files_upload_through_the_api, |saldo| {
    let server = Server::start(&saldo, &[]);
    let file = crate::import::ofx(&crate::import::JANUARY, "2407.50");

    let (status, body) = server.upload("/api/v1/imports?filename=jan.ofx&dry_run=true", &file);
    assert_eq!(status, 200, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["files"][0]["dry_run"], true);
    assert_eq!(report["files"][0]["statements"][0]["transactions"], 3);
    assert_eq!(server.get("/api/v1/accounts").1, "[]", "a dry run writes nothing");

    let (status, body) = server.upload("/api/v1/imports?filename=jan.ofx", &file);
    assert_eq!(status, 200, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    let statement = &report["files"][0]["statements"][0];
    assert_eq!(report["files"][0]["format"], "ofx");
    assert_eq!((statement["new"].as_u64(), statement["sum"].as_str()), (Some(3), Some("2407.50")), "{body}");
    let (_, accounts) = server.get("/api/v1/accounts");
    let accounts: Value = serde_json::from_str(&accounts).unwrap();
    assert_eq!(accounts[0]["balance"], "2407.50");

    // The same upload again: the same summary a second `saldo import` gives.
    let (_, body) = server.upload("/api/v1/imports?filename=jan.ofx", &file);
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["files"][0]["statements"][0]["duplicate"], 3, "{body}");

    // Text with a comma is taken for CSV, and the error says what CSV needed there.
    let (status, body) = server.upload("/api/v1/imports", "just some words, no statement");
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("csv at line 1: expected a column of dates"), "{body}");
    let (status, body) = server.upload("/api/v1/imports?filename=notes.txt", "no separator at all");
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("not a statement file"), "{body}");
    let (status, body) = server.upload("/api/v1/imports?format=pdf", &file);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("unknown format \\\"pdf\\\""), "{body}");
    let (status, body) = server.upload("/api/v1/imports", "");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("empty"), "{body}");
    let (status, body) = server.upload("/api/v1/imports?account=Nope", &file);
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("Nope"), "{body}");
    // Two columns of amounts: refused naming them, read once the amount column is chosen.
    let fees = "2024-01-02,-3.50,-0.10,Coffee\n2024-01-03,-12.00,-0.20,Books\n";
    let (status, body) = server.upload("/api/v1/imports?currency=EUR&dry_run=true", fees);
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("columns 2, 3"), "{body}");
    let (status, body) = server.upload("/api/v1/imports?currency=EUR&dry_run=true&amount_column=2", fees);
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.upload("/api/v1/imports?amount_column=0", fees);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("amount_column"), "{body}");
    assert!(server.terminate().success());
});

#[test]
fn reads_answer_while_another_process_holds_the_sqlite_write_lock() {
    let saldo = crate::support::Saldo::new(crate::support::Backend::Sqlite);
    saldo.ok(&["account", "add", "--name", "Flat", "--kind", "real_estate", "--currency", "EUR", "--value", "1000"]);
    let server = Server::start(&saldo, &[]);
    assert_eq!(server.get("/api/v1/accounts").0, 200);
    // Another process (an import, say) takes the write lock and keeps it.
    let path = saldo.db_url().strip_prefix("sqlite://").unwrap().to_string();
    let writer = rusqlite::Connection::open(&path).unwrap();
    writer.execute_batch("BEGIN IMMEDIATE").unwrap();
    // Readers are not held up behind it: a read does not write.
    for path in ["/api/v1/accounts", "/api/v1/networth"] {
        let (status, body) = server.get(path);
        assert_eq!(status, 200, "{path}: {body}");
    }
    writer.execute_batch("ROLLBACK").unwrap();
    assert!(server.terminate().success());
}

#[test]
fn readiness_means_this_build_s_schema_and_readable_tables() {
    let saldo = crate::support::Saldo::new(crate::support::Backend::Sqlite);
    saldo.ok(&["account", "add", "--name", "Flat", "--kind", "real_estate", "--currency", "EUR", "--value", "1000"]);
    let path = saldo.db_url().strip_prefix("sqlite://").unwrap().to_string();
    let server = Server::start(&saldo, &[]);
    assert_eq!(server.get("/readyz"), (200, "ready\n".to_string()));
    // A newer saldo migrated the database under this server's feet.
    let db = rusqlite::Connection::open(&path).unwrap();
    let newer = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                 VALUES (9999, 'from_the_future', TRUE, x'00', 0)";
    db.execute_batch(newer).unwrap();
    let (status, body) = server.get("/readyz");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("9999"), "{body}");
    db.execute_batch("DELETE FROM _sqlx_migrations WHERE version = 9999").unwrap();
    assert!(server.terminate().success());

    // A damaged page: the accounts table's first page overwritten on disk.
    let (root, page_size): (i64, i64) = {
        db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        let root =
            db.query_row("SELECT rootpage FROM sqlite_master WHERE name = 'accounts'", [], |r| r.get(0)).unwrap();
        (root, db.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap())
    };
    drop(db);
    let mut bytes = std::fs::read(&path).unwrap();
    let start = ((root - 1) * page_size) as usize;
    bytes[start..start + page_size as usize].fill(0xA5);
    std::fs::write(&path, bytes).unwrap();
    let server = Server::start(&saldo, &[]);
    let (status, body) = server.get("/readyz");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("accounts") && body.contains("malformed"), "{body}");
    assert!(server.terminate().success());
}

/// An SQLite install with one account, its server, and another process's connection that holds
/// the write lock until it rolls back.
fn serving_while_another_process_writes() -> (crate::support::Saldo, Server, rusqlite::Connection) {
    let saldo = crate::support::Saldo::new(crate::support::Backend::Sqlite);
    saldo.ok(&["account", "add", "--name", "Flat", "--kind", "real_estate", "--currency", "EUR", "--value", "1000"]);
    let server = Server::start(&saldo, &[]);
    let path = saldo.db_url().strip_prefix("sqlite://").unwrap().to_string();
    let writer = rusqlite::Connection::open(&path).unwrap();
    writer.execute_batch("BEGIN IMMEDIATE").unwrap();
    (saldo, server, writer)
}

#[test]
fn a_write_that_waits_too_long_is_a_503_to_try_again_and_a_command_waits_its_turn() {
    let (saldo, server, writer) = serving_while_another_process_writes();
    // The server gives up on the lock after its wait: the client's request was fine.
    let csv = "Date,Description,Amount\n2026-11-02,Coffee,-3.50\n";
    let response = server.authed(http_client().post(format!("http://{}/api/v1/imports?currency=EUR", server.address)));
    let response = response.header("content-type", "text/csv");
    let response = response.body(csv).send().unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
    assert!(response.text().unwrap().contains("\"busy\""));

    // A command waits its turn, says so, and goes on once the other writer is done.
    let mut command = saldo
        .command(&["account", "add", "--name", "Car", "--kind", "vehicle", "--currency", "EUR"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut said = String::new();
    BufReader::new(command.stderr.take().unwrap()).read_line(&mut said).unwrap();
    assert!(said.contains("waiting for another saldo process"), "{said}");
    writer.execute_batch("ROLLBACK").unwrap();
    assert!(command.wait().unwrap().success());
    assert_eq!(saldo.json(&["accounts", "--json"]).as_array().unwrap().len(), 2);
    assert!(server.terminate().success());
}

#[test]
fn a_file_is_read_before_the_write_lock_so_a_refused_one_never_waits_for_it() {
    let (saldo, server, writer) = serving_while_another_process_writes();

    // A statement cut off half-way, while another process writes: refused at once, by the
    // server and by a command, without waiting for (or taking) the lock.
    let cut = "<?xml version=\"1.0\"?><Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\">\
               <BkToCstmrStmt><GrpHdr><MsgId>1</MsgId><CreDtTm>2026-11-30T10:00:00</CreDtTm></GrpHdr><Stmt>";
    let response = server.authed(http_client().post(format!("http://{}/api/v1/imports?currency=EUR", server.address)));
    let response = response.header("content-type", "text/csv");
    let response = response.body(cut).send().unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let file = saldo.dir().join("cut.xml");
    std::fs::write(&file, cut).unwrap();
    let mut command = saldo
        .command(&["import", file.to_str().unwrap()])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(8);
    let status = loop {
        if let Some(status) = command.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            command.kill().unwrap();
            panic!("the import of a refused file waited for the other writer");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut said = String::new();
    std::io::Read::read_to_string(&mut command.stderr.take().unwrap(), &mut said).unwrap();
    assert!(!status.success());
    assert!(!said.contains("waiting for another saldo process") && said.contains("ends"), "{said}");
    writer.execute_batch("ROLLBACK").unwrap();
    assert!(server.terminate().success());
}

both_backends!(pages_ask_for_a_session_refuse_other_sites_and_load_nothing_inline, |saldo| {
    crate::api::add_user(&saldo, &["user", "add", "ana@example.org", "--owner", "--password-stdin"]);
    let server = Server::start(&saldo, &[]);
    let url = |path: &str| format!("http://{}{path}", server.address);

    // A page without a session sends the browser to sign in and back; an API token is no session.
    let response = http_client().get(url("/portfolio/assets")).bearer_auth(&server.token).send().unwrap();
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(response.headers()["location"], "/signin?next=%2Fportfolio%2Fassets");

    // Every page forbids inline script and anything from another origin.
    let cookie = session_cookie(&server, "ana@example.org");
    let response = http_client().get(url("/")).header("cookie", &cookie).send().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let policy = response.headers()["content-security-policy"].to_str().unwrap().to_string();
    for rule in ["default-src 'none'", "script-src 'self';", "style-src 'self';", "frame-ancestors 'none'"] {
        assert!(policy.contains(rule), "{rule} in {policy}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    let page = response.text().unwrap();
    assert!(page.contains("Dashboard"), "{page}");
    assert!(!page.contains("<script>") && !page.contains(" style=\""), "no inline script or style");

    // Its scripts and styles are this server's, named by their content and cached for a year.
    let assets: Vec<&str> = page.split("\"/assets/").skip(1).map(|rest| rest.split('"').next().unwrap()).collect();
    assert_eq!(assets.len(), 6, "{assets:?}");
    for name in &assets {
        let response = http_client().get(url(&format!("/assets/{name}"))).send().unwrap();
        assert_eq!(response.status().as_u16(), 200, "{name}");
        assert_eq!(response.headers()["cache-control"], "public, max-age=31536000, immutable", "{name}");
    }
    let stale = assets[0].replacen('.', ".0", 1);
    assert_eq!(http_client().get(url(&format!("/assets/{stale}"))).send().unwrap().status().as_u16(), 404);

    // A form posted from another site with the session is refused, and changes nothing.
    let cross = http_client()
        .post(url("/settings/profile"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .form(&[("display_name", "Mallory")])
        .send()
        .unwrap();
    assert_eq!(cross.status().as_u16(), 403);
    assert!(saldo.json(&["user", "list", "--json"])[0]["display_name"].is_null(), "nothing changed");
    let same = http_client()
        .post(url("/settings/profile"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .form(&[("display_name", "Ana")])
        .send()
        .unwrap();
    assert_eq!(same.status().as_u16(), 303);
    let users = saldo.json(&["user", "list", "--json"]);
    assert_eq!(users[0]["display_name"], "Ana", "{users}");
    assert!(server.terminate().success());
});
