//! GoCardless Bank Account Data end to end, against its emulator on loopback: `saldo connect`
//! prints the bank's link, the bank returns the browser to `saldo serve` with the requisition's
//! `ref` (GoCardless's name for saldo's state), and the accounts sync; the secret key never reaches
//! the database.

use crate::serve::Server;
use crate::support::{amounts_and_statuses, both_backends, contains, database_dump};
use chrono::{TimeDelta, Utc};
use saldo_emulators::gocardless::{AccountSpec, GoCardlessApi, EXAMPLE_ACCOUNT_ID, SANDBOX_INSTITUTION_ID};
use serde_json::json;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

both_backends!(gocardless_connects_through_the_bank_link_and_syncs, |mut saldo| {
    let runtime = runtime();
    let api = runtime.block_on(GoCardlessApi::start());
    #[allow(clippy::disallowed_methods)] // The CLI and the server run on the real clock.
    let now = Utc::now();
    api.set_now(now);
    api.set_accounts(vec![AccountSpec::example_main(), AccountSpec::example_savings()]);
    let day = |back: i64| (now.date_naive() - TimeDelta::days(back)).to_string();
    api.set_transactions(
        EXAMPLE_ACCOUNT_ID,
        vec![json!({"transactionId": "b-1", "transactionAmount": {"currency": "EUR", "amount": "-45.00"},
                    "bookingDate": day(3), "valueDate": day(3), "remittanceInformationUnstructured": "Groceries"})],
        vec![json!({"transactionAmount": {"currency": "EUR", "amount": "-9.20"}, "valueDate": day(0),
                    "remittanceInformationUnstructured": "Cinema"})],
    );
    saldo.set_env("SALDO_ALLOW_INSECURE_LOOPBACK", "true");
    saldo.set_env("SALDO_SANDBOX", "false");
    saldo.set_env("SALDO_SIMPLEFIN", "false");
    saldo.set_env("SALDO_GOCARDLESS_SECRET_ID", &api.secret_id());
    saldo.set_env("SALDO_GOCARDLESS_SECRET_KEY", &api.secret_key());
    saldo.set_env("SALDO_GOCARDLESS_URL", &api.base_url());
    let server = Server::start(&saldo, &[]);
    saldo.set_env("SALDO_PUBLIC_URL", &format!("http://{}", server.address));

    let checked = saldo.ok(&["config", "check"]);
    assert!(!checked.contains(&api.secret_key()), "config check shows the secret key");
    assert!(checked.contains("gocardless.secret_key"), "{checked}");

    let started = saldo.json(&["connect", SANDBOX_INSTITUTION_ID, "--no-wait", "--json"]);
    let link = started["authorization_url"].as_str().unwrap();
    let redirect = api.complete_link(link).unwrap();
    assert!(redirect.contains("ref="), "{redirect}");
    let path = redirect.strip_prefix(&format!("http://{}", server.address)).unwrap();
    let (status, page) = server.get(path);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Connected"), "{page}");

    let accounts = saldo.json(&["accounts", "--json"]);
    let accounts = accounts.as_array().unwrap();
    assert_eq!(accounts.len(), 2, "{accounts:?}");
    let savings = accounts.iter().find(|a| a["name"] == "Savings").unwrap();
    assert_eq!((savings["kind"].as_str(), savings["balance"].as_str()), (Some("savings"), Some("5000.00")));
    let main = accounts.iter().find(|a| a["name"] != "Savings").unwrap();
    let seen = amounts_and_statuses(&saldo, main["id"].as_str().unwrap());
    assert_eq!(seen, [("-45.00".to_string(), "booked".to_string()), ("-9.20".to_string(), "pending".to_string())]);

    // The secret key and the tokens it bought never reach the database.
    let dump = database_dump(&saldo);
    assert!(!contains(&dump, &api.secret_key()));
    let tokens = api.issued_tokens();
    assert!(!tokens.is_empty());
    assert!(tokens.iter().all(|token| !contains(&dump, token)), "a token is in the database");

    server.terminate();
    assert!(api.violations().is_empty(), "{:?}", api.violations());
});
