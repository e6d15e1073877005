//! Enable Banking end to end, against its emulator on loopback: the bank list in `saldo
//! institutions`, `saldo connect` printing the bank's address, the bank's redirect finishing the
//! connection at `saldo serve`'s callback, accounts and transactions, and a reconnect whose new
//! session gives every account a new id while saldo keeps the same accounts.

use crate::serve::Server;
use crate::support::{amounts_and_statuses, both_backends};
use chrono::{TimeDelta, Utc};
use saldo_emulators::enable_banking::{BankAccount, EnableBankingApi, TEST_PRIVATE_KEY};
use serde_json::{json, Value};

const APP: &str = "e2e-application";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// A current account with two booked and one pending transaction in the last days, and a card.
fn accounts() -> Vec<BankAccount> {
    #[allow(clippy::disallowed_methods)] // The CLI and the server run on the real clock.
    let today = Utc::now().date_naive();
    let day = |back: i64| (today - TimeDelta::days(back)).to_string();
    let booked = |reference: &str, amount: &str, indicator: &str, back: i64, text: &str| {
        json!({"entry_reference": reference, "transaction_amount": {"currency": "EUR", "amount": amount},
               "credit_debit_indicator": indicator, "status": "BOOK", "booking_date": day(back),
               "value_date": day(back), "remittance_information": [text]})
    };
    vec![
        BankAccount {
            identification_hash: "hash-current".into(),
            // Enable Banking's `name` is the holder's; the account is named by its product.
            details: json!({"account_id": {"iban": "FI2112345600000785"}, "name": "Erika Mustermann", "product": "Käyttötili",
                            "cash_account_type": "CACC", "currency": "EUR", "identification_hash": "hash-current",
                            "identification_hashes": ["hash-current"]}),
            balances: vec![json!({"name": "Booked", "balance_amount": {"currency": "EUR", "amount": "1520.35"},
                                  "balance_type": "CLBD"})],
            transactions: vec![
                booked("e-1", "2450.00", "CRDT", 5, "Salary"),
                booked("e-2", "49.90", "DBIT", 2, "K-Market"),
                // Only in the first minutes after authorisation does the bank give this much.
                booked("e-0", "1200.00", "CRDT", 400, "Tax refund"),
                json!({"entry_reference": "p-1", "transaction_amount": {"currency": "EUR", "amount": "8.50"},
                       "credit_debit_indicator": "DBIT", "status": "PDNG", "value_date": day(0),
                       "remittance_information": ["Cafe"]}),
            ],
        },
        BankAccount {
            identification_hash: "hash-card".into(),
            details: json!({"name": "Erika Mustermann", "product": "Visa", "cash_account_type": "CARD", "currency": "EUR",
                            "identification_hash": "hash-card", "identification_hashes": ["hash-card"]}),
            balances: vec![json!({"name": "Booked", "balance_amount": {"currency": "EUR", "amount": "-230.10"},
                                  "balance_type": "CLBD"})],
            transactions: vec![booked("c-1", "230.10", "DBIT", 1, "Airline")],
        },
    ]
}

/// The path and query of a URL on the server, for [`Server::get`].
fn path_of(url: &str, server: &Server) -> String {
    url.strip_prefix(&format!("http://{}", server.address))
        .unwrap_or_else(|| panic!("{url} is not on the server"))
        .into()
}

both_backends!(enable_banking_connects_through_the_browser_and_reconnects_without_duplicates, |mut saldo| {
    let runtime = runtime();
    #[allow(clippy::disallowed_methods)] // The emulator stands for a remote server on the real clock.
    let api = runtime.block_on(EnableBankingApi::start(APP, Utc::now()));
    api.set_accounts(accounts());
    let key_file = saldo.dir().join("enablebanking.pem");
    std::fs::write(&key_file, TEST_PRIVATE_KEY).unwrap();
    saldo.set_env("SALDO_ALLOW_INSECURE_LOOPBACK", "true");
    saldo.set_env("SALDO_SANDBOX", "false");
    saldo.set_env("SALDO_SIMPLEFIN", "false");
    saldo.set_env("SALDO_ENABLE_BANKING_APPLICATION_ID", APP);
    saldo.set_env("SALDO_ENABLE_BANKING_KEY_FILE", key_file.to_str().unwrap());
    saldo.set_env("SALDO_ENABLE_BANKING_URL", &api.base_url());
    saldo.set_env("SALDO_ENABLE_BANKING_COUNTRIES", "FI");
    let server = Server::start(&saldo, &[]);
    saldo.set_env("SALDO_PUBLIC_URL", &format!("http://{}", server.address));

    let listed = saldo.json(&["institutions", "nordea", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(
        (listed[0]["provider_id"].as_str(), listed[0]["connector"].as_str()),
        (Some("FI:Nordea"), Some("enable_banking"))
    );
    assert_eq!((listed[0]["max_consent_days"].as_u64(), listed[0]["bic"].as_str()), (Some(180), Some("NDEAFIHH")));
    assert!(listed[0]["logo_url"].as_str().unwrap().starts_with("https://"), "{listed}");
    let by_country = saldo.json(&["institutions", "fi", "--json"]);
    assert_eq!(by_country.as_array().unwrap().len(), 2, "Nordea and OP: {by_country}");
    // The list is kept in the database for a day: later commands do not ask the provider again.
    let bank_lists = || api.requests().iter().filter(|r| r.path == "/aspsps").count();
    assert_eq!(bank_lists(), 1, "one refresh served both commands");
    saldo.ok(&["institutions", "--refresh"]);
    assert_eq!(bank_lists(), 2, "--refresh asks again");

    let started = saldo.json(&["connect", "FI:Nordea", "--no-wait", "--json"]);
    let callback = format!("http://{}/callback/enable_banking", server.address);
    assert_eq!(started["callback_url"].as_str(), Some(callback.as_str()), "{started}");
    let bank_page = started["authorization_url"].as_str().unwrap();
    // The user approves at the bank, whose page sends the browser to saldo's callback.
    let redirect = api.approve(bank_page).unwrap();
    // Through a reverse proxy on this machine, which names the browser's address.
    // The proxy appends the address it saw; what the client claimed before it is not believed.
    let proxied = "X-Forwarded-For: 10.9.9.9, 192.0.2.44\r\n";
    let (status, page) = server.get_with(&path_of(&redirect, &server), proxied);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Connected Nordea") && page.contains("Käyttötili"), "{page}");
    // The first sync was the user's: the bank got their address, as PSD2 asks.
    let first_read = api.requests().into_iter().find(|r| r.path.ends_with("/transactions")).unwrap();
    assert_eq!(first_read.psu_ip_address.as_deref(), Some("192.0.2.44"));
    // A replayed redirect finds nothing: the authorisation was taken once.
    let (status, page) = server.get(&path_of(&redirect, &server));
    assert_eq!(status, 400, "{page}");

    let accounts = saldo.json(&["accounts", "--json"]);
    let accounts = accounts.as_array().unwrap();
    assert_eq!(accounts.len(), 2, "{accounts:?}");
    let current = accounts.iter().find(|a| a["name"] == "Käyttötili").unwrap();
    assert_eq!((current["kind"].as_str(), current["balance"].as_str()), (Some("cash"), Some("1520.35")));
    let card = accounts.iter().find(|a| a["name"] == "Visa").unwrap();
    assert_eq!((card["class"].as_str(), card["balance"].as_str()), (Some("liability"), Some("-230.10")));
    let seen = amounts_and_statuses(&saldo, current["id"].as_str().unwrap());
    let expected = [("-49.90", "booked"), ("-8.50", "pending"), ("1200.00", "booked"), ("2450.00", "booked")];
    assert_eq!(seen, expected.map(|(a, s)| (a.to_string(), s.to_string())));

    // A reconnect: a new session, new account uids at the bank, the same two saldo accounts.
    let connections = saldo.json(&["connections", "--json"]);
    let connection = connections[0]["id"].as_str().unwrap().to_string();
    let printed = saldo.ok(&["reconnect", &connection, "--no-wait"]);
    let bank_page = printed.lines().map(str::trim).find(|l| l.starts_with("http")).unwrap().to_string();
    let (status, page) = server.get(&path_of(&api.approve(&bank_page).unwrap(), &server));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Reconnected Nordea"), "{page}");
    let accounts: Value = saldo.json(&["accounts", "--json"]);
    assert_eq!(accounts.as_array().unwrap().len(), 2, "no duplicates after the reconnect: {accounts}");
    let transactions = saldo.json(&["transactions", "--account", current["id"].as_str().unwrap(), "--json"]);
    assert_eq!(transactions.as_array().unwrap().len(), 4, "history kept, nothing twice: {transactions}");
    assert_eq!(api.sessions().len(), 2);

    saldo.ok(&["disconnect", &connection]);
    assert!(api.sessions().iter().all(|(_, status)| status == "CLOSED"), "{:?}", api.sessions());

    // Without --no-wait, `saldo connect` waits for the callback's outcome and reports it.
    let waiting = |answer: &dyn Fn(&str) -> String| {
        let mut child = saldo
            .command(&["connect", "FI:OP"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
        let page =
            lines.find_map(|l| l.unwrap().trim().strip_prefix("http").map(|rest| format!("http{rest}"))).unwrap();
        let (status, body) = server.get(&path_of(&answer(&page), &server));
        let said: Vec<String> = lines.map(Result::unwrap).collect();
        let output = child.wait_with_output().unwrap();
        (status, body, said.join("\n"), output.status.success(), String::from_utf8_lossy(&output.stderr).to_string())
    };
    let (status, _, _, ok, stderr) = waiting(&|page| api.decline(page).unwrap());
    assert_eq!(status, 400);
    assert!(!ok && stderr.contains("declined"), "{stderr}");
    let (status, _, said, ok, stderr) = waiting(&|page| api.approve(page).unwrap());
    assert_eq!(status, 200);
    assert!(ok && said.contains("connected OP as"), "{said} {stderr}");
    server.terminate();
    assert!(api.violations().is_empty(), "{:?}", api.violations());
});
