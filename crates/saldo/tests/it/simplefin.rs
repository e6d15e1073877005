//! SimpleFIN from the command line, against the Bridge's emulator on loopback: connect with a
//! setup token, sync, see accounts and transactions; the access URL is never stored in clear;
//! `saldo secrets rotate` re-encrypts it and syncs go on.

use crate::support::{amounts_and_statuses, both_backends, contains, database_dump, Saldo};
use saldo_emulators::simplefin::{Fault, SimpleFinBridge};
use serde_json::{json, Value};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// Two accounts with transactions posted in the last days (the CLI runs on the real clock).
fn accounts() -> Vec<Value> {
    #[allow(clippy::disallowed_methods)] // The emulator's data is dated relative to the real clock.
    let now = chrono::Utc::now().timestamp();
    let day = 86_400;
    vec![
        json!({
            "org": {"domain": "bank.example", "name": "Example Bank", "sfin-url": "https://bridge.example/simplefin"},
            "id": "ACT-checking", "name": "Everyday Checking", "currency": "USD",
            "balance": "1520.25", "available-balance": "1500.00", "balance-date": now,
            "transactions": [
                {"id": "T1", "posted": now - 3 * day, "amount": "-42.10", "description": "Grocer", "payee": "Grocer Inc"},
                {"id": "T2", "posted": now - 2 * day, "amount": "2500.00", "description": "Salary"},
                {"id": "P1", "posted": 0, "pending": true, "transacted_at": now - 3600, "amount": "-7.50", "description": "Coffee"}
            ]
        }),
        json!({
            "org": {"domain": "card.example", "name": "Card Co", "sfin-url": "https://bridge.example/simplefin"},
            "id": "ACT-card", "name": "Rewards Visa Card", "currency": "USD",
            "balance": "-310.00", "balance-date": now,
            "transactions": [{"id": "C1", "posted": now - day, "amount": "-310.00", "description": "Airline"}]
        }),
    ]
}

both_backends!(simplefin_connects_syncs_and_keeps_its_access_url_sealed, |mut saldo| {
    let runtime = runtime();
    let bridge = runtime.block_on(SimpleFinBridge::start());
    bridge.set_accounts(accounts());
    saldo.set_env("SALDO_ALLOW_INSECURE_LOOPBACK", "true");

    let listed = saldo.json(&["institutions", "simplefin", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");

    // Without the loopback allowance, a plain-http Bridge is refused before any request.
    let mut strict = Saldo::new(crate::support::Backend::Sqlite);
    strict.set_env("SALDO_SANDBOX", "false");
    let err = strict.fail(&["connect", "simplefin", "--setup-token", &bridge.setup_token()]);
    assert!(err.contains("https"), "{err}");

    let token = bridge.setup_token();
    let connected = saldo.json(&["connect", "simplefin", "--setup-token", &token, "--json"]);
    let connection = connected["connection_id"].as_str().unwrap().to_string();
    assert_eq!(connected["items"].as_array().unwrap().len(), 2, "{connected}");
    // A token used once is refused: the message says nothing was saved and what to do, not that
    // saldo retries or keeps a history there is none of.
    let err = saldo.fail(&["connect", "simplefin", "--setup-token", &token]);
    assert!(err.contains("nothing was saved") && err.contains("already used"), "{err}");
    assert!(!err.contains("retries") && !err.contains("history is kept"), "{err}");
    let not_known = saldo.fail(&["connect", "simplefin", "--setup-token", "aHR0cDovLzEyNy4wLjAuMToxL2NsYWltL3g="]);
    assert!(not_known.contains("nothing was saved") && not_known.contains("Try again"), "{not_known}");
    assert_eq!(saldo.json(&["connections", "--json"]).as_array().unwrap().len(), 1);

    let accounts = saldo.json(&["accounts", "--json"]);
    let accounts = accounts.as_array().unwrap();
    let checking = accounts.iter().find(|a| a["name"] == "Everyday Checking").unwrap();
    assert_eq!((checking["kind"].as_str(), checking["balance"].as_str()), (Some("cash"), Some("1520.25")));
    let card = accounts.iter().find(|a| a["name"] == "Rewards Visa Card").unwrap();
    assert_eq!((card["kind"].as_str(), card["class"].as_str()), (Some("credit_card"), Some("liability")));
    let seen = amounts_and_statuses(&saldo, checking["id"].as_str().unwrap());
    let expected = [("-42.10", "booked"), ("-7.50", "pending"), ("2500.00", "booked")];
    assert_eq!(seen, expected.map(|(a, s)| (a.to_string(), s.to_string())));

    // The access URL is stored sealed: no dump of the database shows it or its password.
    let issued = bridge.issued_access_urls();
    assert_eq!(issued.len(), 1, "the refused setup claimed nothing: {issued:?}");
    let dump = database_dump(&saldo);
    for url in &issued {
        let password = url.split_once("://").unwrap().1.split_once('@').unwrap().0.split_once(':').unwrap().1;
        assert!(!contains(&dump, password), "the dump holds an access URL's password");
        assert!(!contains(&dump, url));
    }

    // A forced sync adds nothing twice; the key is rotated and the next sync still opens the secret.
    let report = saldo.json(&["sync", "--connection", &connection, "--json"]);
    assert_eq!((report[0]["outcome"].as_str(), report[0]["new_transactions"].as_u64()), (Some("ok"), Some(0)));
    let key_file = saldo.dir().join(".local/share/saldo/secret.key");
    let before = std::fs::read_to_string(&key_file).unwrap();
    // Another process keeps the database open (a running server), so closing the rotation's
    // connection does not checkpoint the WAL for it.
    let other_process = saldo.db_url().strip_prefix("sqlite://").map(|path| rusqlite::Connection::open(path).unwrap());
    let rotated = saldo.ok(&["secrets", "rotate"]);
    assert!(rotated.contains("re-encrypted 1 secret(s)"), "{rotated}");
    assert_ne!(std::fs::read_to_string(&key_file).unwrap(), before);
    // The new seals are in the database file itself before the old key goes: what a power cut
    // keeps (the file without the WAL's unsynced tail) opens with the new key.
    if let Some(path) = saldo.db_url().strip_prefix("sqlite://") {
        let alone = saldo.dir().join("after-power-cut.db");
        std::fs::copy(path, &alone).unwrap();
        let copy = rusqlite::Connection::open(&alone).unwrap();
        let kept: String = copy.query_row("SELECT consent_secret FROM connections", [], |row| row.get(0)).unwrap();
        let live = other_process.as_ref().unwrap();
        let current: String = live.query_row("SELECT consent_secret FROM connections", [], |row| row.get(0)).unwrap();
        assert_eq!(kept, current, "the re-sealed secret is in the file, not only in the WAL");
    }
    drop(other_process);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let report = saldo.json(&["sync", "--connection", &connection, "--json"]);
    assert_eq!(report[0]["outcome"].as_str(), Some("ok"), "{report}");

    // A reconnect reads a new setup token from standard input and re-links the tracked accounts.
    let mut reconnect = saldo.command(&["reconnect", &connection, "--setup-token", "-"]);
    reconnect.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
    let mut child = reconnect.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), format!("{}\n", bridge.setup_token()).as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success() && said.contains("2 tracked account(s) re-linked"), "{said}");
    assert_eq!(bridge.issued_access_urls().len(), 2);

    // A proxy's error page that repeats the request's headers: the failure is kept and shown,
    // its credentials in no form (plain, base64 user:password, URL user information).
    bridge.fail_next(Fault::EchoHeaders(502));
    let report = saldo.json(&["sync", "--connection", &connection, "--json"]);
    assert_eq!(report[0]["outcome"].as_str(), Some("failed"), "{report}");
    let dump = database_dump(&saldo);
    let shown = saldo.ok(&["connections", "--json"]);
    assert!(shown.contains("Proxy error 502") || contains(&dump, "Proxy error 502"), "the failure is kept: {shown}");
    for url in bridge.issued_access_urls() {
        let userinfo = url.split_once("://").unwrap().1.split_once('@').unwrap().0;
        let (_, password) = userinfo.split_once(':').unwrap();
        let basic = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(userinfo)
        };
        for secret in [password, basic.as_str()] {
            assert!(!contains(&dump, secret) && !shown.contains(secret), "{secret} was kept");
        }
    }

    // Without its key file (a restore that left it out), saldo refuses to start, naming the key
    // and where it looked, and creates none: a new key would open nothing.
    let kept = std::fs::read_to_string(&key_file).unwrap();
    std::fs::remove_file(&key_file).unwrap();
    for command in [&["connections"][..], &["sync", "--connection", &connection]] {
        let err = saldo.fail(command);
        assert!(err.contains("sealed under key") && err.contains(key_file.to_str().unwrap()), "{command:?}: {err}");
    }
    assert!(!key_file.exists(), "no new key was made");
    std::fs::write(&key_file, kept).unwrap();
    assert!(saldo.json(&["connections", "--json"]).as_array().is_some());

    // With another key, the secret cannot be opened: the sync says so, for the operator.
    std::fs::write(&key_file, format!("{}\n", "11".repeat(32))).unwrap();
    let report = saldo.json(&["sync", "--connection", &connection, "--json"]);
    assert_eq!(report[0]["outcome"].as_str(), Some("failed"), "{report}");
    let connections = saldo.json(&["connections", "--json"]);
    let error = connections[0]["error"].to_string();
    assert!(error.contains("secret_unreadable") || error.contains("config"), "{connections}");
    assert!(!error.contains(&issued[0]));

    assert!(bridge.violations().is_empty(), "{:?}", bridge.violations());
});

both_backends!(simplefin_connects_through_the_api_with_a_setup_token, |mut saldo| {
    let runtime = runtime();
    let bridge = runtime.block_on(SimpleFinBridge::start());
    bridge.set_accounts(accounts());
    saldo.set_env("SALDO_ALLOW_INSECURE_LOOPBACK", "true");
    let server = crate::serve::Server::start(&saldo, &[]);
    let connect = |body: Value| {
        let request = server
            .authed(crate::serve::http_client().post(format!("http://{}/api/v1/connections", server.address)))
            .json(&body);
        let response = request.send().unwrap();
        (response.status().as_u16(), response.json::<Value>().unwrap())
    };
    // Without its token, SimpleFIN cannot be connected by a redirect: the answer says so.
    let (status, answer) = connect(json!({"institution": "simplefin"}));
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("not_by_redirect")), "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("setup_token"), "{answer}");
    let token = bridge.setup_token();
    let (status, answer) = connect(json!({"institution": "simplefin", "setup_token": token}));
    assert_eq!((status, answer["status"].as_str()), (201, Some("connected")), "{answer}");
    assert_eq!(answer["items"].as_array().unwrap().len(), 2);
    assert!(answer["items"].as_array().unwrap().iter().all(|i| i["decision"] == "tracked"));
    assert_eq!(answer["sync"]["outcome"], "ok", "{answer}");
    let accounts = saldo.json(&["accounts", "--json"]);
    assert_eq!(accounts.as_array().unwrap().len(), 2, "they appear at once");
    // A token is used once; a setup token for a redirect bank is refused, naming it.
    let (status, again) = connect(json!({"institution": "simplefin", "setup_token": token}));
    assert_eq!(status, 400, "{again}");
    assert!(again["error"]["message"].as_str().unwrap().contains("nothing was saved"), "{again}");
    let (status, wrong) = connect(json!({"institution": "sandbox-bank", "setup_token": "x"}));
    assert_eq!(status, 400);
    assert!(wrong["error"]["message"].as_str().unwrap().contains("does not connect with a setup token"), "{wrong}");
    assert!(server.terminate().success());
});

both_backends!(simplefin_connects_from_the_pages_with_a_pasted_setup_token, |mut saldo| {
    let runtime = runtime();
    let bridge = runtime.block_on(SimpleFinBridge::start());
    bridge.set_accounts(accounts());
    saldo.set_env("SALDO_ALLOW_INSECURE_LOOPBACK", "true");
    crate::api::add_user(&saldo, &["user", "add", "ana@example.org", "--owner", "--password-stdin"]);
    let server = crate::serve::Server::start(&saldo, &[]);
    let cookie = crate::serve::session_cookie(&server, "ana@example.org");
    let post = |path: &str, form: &[(&str, &str)]| {
        let url = format!("http://{}{path}", server.address);
        let response = crate::serve::http_client().post(url).header("cookie", &cookie).form(form).send().unwrap();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_string());
        (response.status().as_u16(), location, response.text().unwrap())
    };
    // Choosing SimpleFIN asks for the token, in a field, with the provider's instructions.
    let (status, _, form) = post("/connect", &[("institution", "simplefin")]);
    assert_eq!(status, 200, "{form}");
    assert!(form.contains("name=\"setup_token\"") && form.contains("SimpleFIN"), "{form}");
    // A wrong token is refused on the same form, saying nothing was saved.
    let (status, _, refused) =
        post("/connect/token", &[("institution", "simplefin"), ("setup_token", "bm90IGEgdG9rZW4=")]);
    assert_eq!(status, 400, "{refused}");
    assert!(refused.contains("nothing was saved"), "{refused}");
    // The right one leads to the choice of accounts.
    let token = bridge.setup_token();
    let (status, location, _) = post("/connect/token", &[("institution", "simplefin"), ("setup_token", &token)]);
    assert_eq!(status, 303);
    let choose = location.unwrap();
    assert!(choose.ends_with("/choose"), "{choose}");
    let page = crate::serve::http_client()
        .get(format!("http://{}{choose}", server.address))
        .header("cookie", &cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let ids: Vec<&str> =
        page.split("name=\"track\" value=\"").skip(1).map(|rest| rest.split('"').next().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{page}");
    let form: Vec<(&str, &str)> = ids.iter().map(|id| ("track", *id)).collect();
    let (status, _, _) = post(&choose, &form);
    assert_eq!(status, 303);
    let accounts = saldo.json(&["accounts", "--json"]);
    assert_eq!(accounts.as_array().unwrap().len(), 2, "{accounts}");
    assert!(server.terminate().success());
});
