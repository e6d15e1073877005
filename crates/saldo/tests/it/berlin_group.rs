//! A Berlin Group bank end to end, configured in the config file and reached over its emulator:
//! `saldo connect` (one process) creates the consent and prints the bank's SCA page; the bank,
//! which started the authorisation itself, sends the browser to `saldo serve` (another process)
//! without the consent id, which saldo kept with the pending authorisation.

use crate::serve::{http_client, session_cookie, Server};
use crate::support::both_backends;
use chrono::Utc;
use saldo_emulators::berlin_group::{Approach, Aspsp};
use serde_json::json;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

both_backends!(a_berlin_group_bank_connects_across_processes, |mut saldo| {
    let runtime = runtime();
    let aspsp = runtime.block_on(Aspsp::start(Approach::Redirect));
    #[allow(clippy::disallowed_methods)] // The bank's "today" is the CLI's real one.
    aspsp.set_today(Utc::now().date_naive());
    aspsp.set_explicit_start(false);
    let config = saldo.dir().join("saldo.toml");
    std::fs::write(
        &config,
        format!(
            "sandbox = false\nsimplefin = false\nallow_insecure_loopback = true\n\n[[berlin_group]]\n\
             id = \"demo-bank\"\nname = \"Demo Bank\"\ncountry = \"DE\"\nbic = \"DEMODEFF\"\nbase_url = \"{}\"\n",
            aspsp.base_url()
        ),
    )
    .unwrap();
    saldo.set_env("SALDO_CONFIG", config.to_str().unwrap());
    let server = Server::start(&saldo, &[]);
    saldo.set_env("SALDO_PUBLIC_URL", &format!("http://{}", server.address));

    let listed = saldo.json(&["institutions", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!((listed[0]["connector"].as_str(), listed[0]["bic"].as_str()), (Some("berlin_group"), Some("DEMODEFF")));

    let started = saldo.json(&["connect", "demo-bank", "--no-wait", "--json"]);
    let page = started["authorization_url"].as_str().unwrap();
    let consent = page.rsplit('/').next().unwrap();
    let redirect = aspsp.approve(consent);
    assert!(!redirect.contains(consent), "the bank's redirect does not name the consent: {redirect}");
    let path = redirect.strip_prefix(&format!("http://{}", server.address)).unwrap();
    let (status, body) = server.get(path);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Connected Demo Bank"), "{body}");

    let accounts = saldo.json(&["accounts", "--json"]);
    assert!(!accounts.as_array().unwrap().is_empty(), "{accounts}");
    server.terminate();
    assert!(aspsp.violations().is_empty(), "{:?}", aspsp.violations());
});

/// Writes a config with one Berlin Group bank that authorises in its own app.
fn app_bank_config(saldo: &mut crate::support::Saldo, aspsp: &Aspsp) {
    let config = saldo.dir().join("saldo.toml");
    std::fs::write(
        &config,
        format!(
            "sandbox = false\nsimplefin = false\nallow_insecure_loopback = true\n\n[[berlin_group]]\n\
             id = \"app-bank\"\nname = \"App Bank\"\ncountry = \"SE\"\nbase_url = \"{}\"\nsca_approach = \"decoupled\"\n",
            aspsp.base_url()
        ),
    )
    .unwrap();
    saldo.set_env("SALDO_CONFIG", config.to_str().unwrap());
}

/// Follows an authorisation through the API until it is no longer under way.
fn settled(server: &Server, state: &str) -> serde_json::Value {
    let url = format!("http://{}/api/v1/authorizations/{state}", server.address);
    for _ in 0..300 {
        let progress: serde_json::Value = server.authed(http_client().get(&url)).send().unwrap().json().unwrap();
        if !matches!(progress["status"].as_str(), Some("waiting" | "completing")) {
            return progress;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the authorisation {state} never settled");
}

both_backends!(a_bank_app_approval_connects_through_the_api, |mut saldo| {
    let runtime = runtime();
    let aspsp = runtime.block_on(Aspsp::start(Approach::Decoupled));
    #[allow(clippy::disallowed_methods)] // The bank's "today" is the server's real one.
    aspsp.set_today(Utc::now().date_naive());
    app_bank_config(&mut saldo, &aspsp);
    let server = Server::start(&saldo, &[]);
    let connect = || -> serde_json::Value {
        let url = format!("http://{}/api/v1/connections", server.address);
        let response = server.authed(http_client().post(url)).json(&json!({"institution": "app-bank"})).send().unwrap();
        assert_eq!(response.status().as_u16(), 201);
        response.json().unwrap()
    };

    // The answer carries the bank's message and no page to open; saldo waits for the approval.
    let begun = connect();
    assert_eq!(begun["status"], "awaiting_approval", "{begun}");
    assert!(begun["authorization_url"].is_null());
    assert!(!begun["decoupled"]["message"].as_str().unwrap().is_empty(), "{begun}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let url = format!("http://{}/api/v1/authorizations/{}", server.address, begun["state"].as_str().unwrap());
    let progress: serde_json::Value = server.authed(http_client().get(&url)).send().unwrap().json().unwrap();
    assert_eq!(progress["status"], "completing", "still waiting for the app: {progress}");
    let consent = aspsp.consent_ids().last().unwrap().clone();
    aspsp.approve_decoupled(&consent);
    let done = settled(&server, begun["state"].as_str().unwrap());
    assert_eq!((done["status"].as_str(), &done["connection_id"]), (Some("done"), &begun["id"]), "{done}");
    let path = format!("/api/v1/connections/{}", begun["id"].as_str().unwrap());
    let (status, view) = server.get(&path);
    assert_eq!(status, 200, "{view}");
    let accounts = saldo.json(&["accounts", "--json"]);
    assert!(!accounts.as_array().unwrap().is_empty(), "tracked and synced at once: {accounts}");

    // Refused in the app: the authorisation fails with what happened, and nothing is saved.
    let refused = connect();
    let consent = aspsp.consent_ids().last().unwrap().clone();
    aspsp.reject_decoupled(&consent);
    let failed = settled(&server, refused["state"].as_str().unwrap());
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(failed["error"].as_str().unwrap().contains("App Bank"), "{failed}");
    assert_eq!(server.get(&format!("/api/v1/connections/{}", refused["id"].as_str().unwrap())).0, 404);
    assert_eq!(saldo.json(&["connections", "--json"]).as_array().unwrap().len(), 1);
    server.terminate();
    assert!(aspsp.violations().is_empty(), "{:?}", aspsp.violations());
});

both_backends!(a_bank_app_approval_connects_from_the_pages, |mut saldo| {
    let runtime = runtime();
    let aspsp = runtime.block_on(Aspsp::start(Approach::Decoupled));
    #[allow(clippy::disallowed_methods)] // The bank's "today" is the server's real one.
    aspsp.set_today(Utc::now().date_naive());
    app_bank_config(&mut saldo, &aspsp);
    crate::api::add_user(&saldo, &["user", "add", "ana@example.org", "--owner", "--password-stdin"]);
    let server = Server::start(&saldo, &[]);
    let cookie = session_cookie(&server, "ana@example.org");
    let page = |path: &str| {
        let response =
            http_client().get(format!("http://{}{path}", server.address)).header("cookie", &cookie).send().unwrap();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_string());
        (response.status().as_u16(), location, response.text().unwrap())
    };
    let post = |path: &str, form: &[(&str, &str)]| {
        let url = format!("http://{}{path}", server.address);
        let response = http_client().post(url).header("cookie", &cookie).form(form).send().unwrap();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_string());
        (response.status().as_u16(), location, response.text().unwrap())
    };

    // The page shows the bank's own words and waits.
    let (status, _, waiting) = post("/connect", &[("institution", "app-bank")]);
    assert_eq!(status, 200, "{waiting}");
    assert!(waiting.contains("Please use your BankApp"), "{waiting}");
    let state = waiting.split("/connect/wait/").nth(1).unwrap().split('"').next().unwrap().to_string();
    let (status, _, still) = page(&format!("/connect/wait/{state}"));
    assert_eq!(status, 200);
    assert!(still.contains("Waiting for your approval"), "{still}");

    // Approved in the app: the page moves on to the choice of accounts, none tracked yet.
    aspsp.approve_decoupled(aspsp.consent_ids().last().unwrap());
    let mut choose = None;
    for _ in 0..300 {
        if let (303, Some(location), _) = page(&format!("/connect/wait/{state}")) {
            choose = Some(location);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let choose = choose.expect("the wait page moves on once approved");
    assert!(choose.ends_with("/choose"), "{choose}");
    assert!(saldo.json(&["accounts", "--json"]).as_array().unwrap().is_empty(), "nothing tracked before Save");
    let (status, _, items) = page(&choose);
    assert_eq!(status, 200, "{items}");
    let ids: Vec<&str> =
        items.split("name=\"track\" value=\"").skip(1).map(|rest| rest.split('"').next().unwrap()).collect();
    assert!(ids.len() >= 2, "{items}");

    // Save with one left out: the others are tracked at once, and their first sync runs on.
    let form: Vec<(&str, &str)> = ids[1..].iter().map(|id| ("track", *id)).collect();
    let (status, location, _) = post(&choose, &form);
    let assets = location.unwrap();
    assert_eq!(status, 303);
    assert!(assets.starts_with("/portfolio/assets?updating="), "{assets}");
    let accounts = saldo.json(&["accounts", "--json"]);
    let tracked: Vec<_> = accounts.as_array().unwrap().iter().filter(|a| a["tracked"] == true).collect();
    assert_eq!(tracked.len(), ids.len() - 1, "{accounts}");
    // The page follows the sync until it is done, then shows what it did.
    let since = assets.split("since=").nth(1).unwrap().split('&').next().unwrap();
    let connection = choose.split('/').nth(2).unwrap();
    let mut finished = None;
    for _ in 0..300 {
        match page(&format!("/connections/{connection}/progress?since={since}")) {
            (303, Some(location), _) => {
                finished = Some(location);
                break;
            }
            (200, _, notice) => assert!(notice.contains("Updating from App Bank"), "{notice}"),
            other => panic!("{other:?}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let finished = finished.expect("the first sync finishes");
    let (status, _, shown) = page(&finished);
    assert_eq!(status, 200);
    assert!(shown.contains("Updated from App Bank"), "{shown}");
    let accounts = saldo.json(&["accounts", "--json"]);
    let tracked: Vec<_> = accounts.as_array().unwrap().iter().filter(|a| a["tracked"] == true).collect();
    assert!(tracked.iter().all(|a| a["balance"].is_string()), "synced: {accounts}");

    // Another user's browser finds none of it.
    crate::api::add_user(&saldo, &["user", "add", "ben@example.org", "--password-stdin"]);
    let ben = session_cookie(&server, "ben@example.org");
    let url = format!("http://{}{choose}", server.address);
    let status = http_client().get(url).header("cookie", &ben).send().unwrap().status().as_u16();
    assert_eq!(status, 404);
    server.terminate();
    assert!(aspsp.violations().is_empty(), "{:?}", aspsp.violations());
});
