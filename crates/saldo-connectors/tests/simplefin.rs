//! Contract tests of the SimpleFIN connector against the Bridge emulator, over real HTTP on
//! loopback: the whole lifecycle and every error providers.md lists for SimpleFIN. Each test also
//! checks that the connector made no request the protocol does not allow.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use rust_decimal::Decimal;
use saldo_connectors::simplefin::{SimpleFin, SimpleFinSettings};
use saldo_connectors::{AuthAnswer, AuthMethod, AuthRequest, AuthStart, CallContext, Connector, Consent, ItemData};
use saldo_core::account::AccountKind;
use saldo_core::failure::{Failure, FailureKind, TemporaryCause};
use saldo_core::money::{Currency, Money};
use saldo_core::transaction::TransactionStatus;
use saldo_emulators::simplefin::{
    example, ErrorEntry, Fault, SimpleFinBridge, EXAMPLE_200_WITH_ERRORS, MAX_WINDOW_SECONDS,
};
use serde_json::{json, Value};
use std::str::FromStr;
use std::time::Duration;

/// Shortly after the example data's balance dates (2024-01-16 around 14:00 UTC).
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 16, 15, 0, 0).unwrap()
}

fn today() -> NaiveDate {
    now().date_naive()
}

fn ctx(now: DateTime<Utc>) -> CallContext {
    CallContext::unattended(now)
}

/// Noon UTC of a day, as epoch seconds.
fn noon(day: NaiveDate) -> i64 {
    day.and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp()
}

fn midnight(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp()
}

fn usd() -> Currency {
    Currency::parse("USD").unwrap()
}

fn money(text: &str, currency: &str) -> Money {
    Money::parse(text, Currency::parse(currency).unwrap()).unwrap()
}

fn settings() -> SimpleFinSettings {
    SimpleFinSettings { allow_insecure_loopback: true, timeout: Duration::from_secs(5) }
}

fn request() -> AuthRequest {
    AuthRequest {
        institution_id: "simplefin-bridge".into(),
        user_key: "conn-1".into(),
        redirect_url: String::new(),
        state: String::new(),
        resume: None,
    }
}

async fn claim(connector: &SimpleFin, token: String) -> Result<Consent, Failure> {
    connector.complete_authorization(&request(), &AuthAnswer::SetupToken { token }, ctx(now())).await
}

async fn connect(connector: &SimpleFin, bridge: &SimpleFinBridge) -> Consent {
    claim(connector, bridge.setup_token()).await.unwrap()
}

/// The password of a consent's access URL, to check that no failure ever shows it.
fn password(consent: &Consent) -> String {
    let url = consent.secret.as_ref().unwrap().expose();
    let userinfo = url.split("://").nth(1).unwrap().split('@').next().unwrap();
    userinfo.split(':').nth(1).unwrap().to_string()
}

fn assert_safe(failure: &Failure, consent: &Consent) {
    let password = password(consent);
    assert!(!failure.detail.contains(&password), "the detail shows the password: {}", failure.detail);
    assert!(!failure.code.contains(&password));
    assert!(failure.detail.chars().count() <= 600, "a detail stays short: {}", failure.detail);
}

fn assert_no_violations(bridge: &SimpleFinBridge) {
    assert_eq!(bridge.violations(), Vec::<String>::new(), "requests the protocol does not allow");
}

fn account(id: &str, name: &str, org: &str, currency: &str, balance: &str, transactions: Vec<Value>) -> Value {
    json!({
        "org": { "domain": format!("{}.example", org.to_lowercase().replace(' ', "")), "name": org,
                 "sfin-url": "https://beta-bridge.simplefin.org/simplefin" },
        "id": id,
        "name": name,
        "currency": currency,
        "balance": balance,
        "available-balance": balance,
        "balance-date": noon(today()),
        "transactions": transactions,
        "holdings": [],
    })
}

fn transaction(id: &str, posted: i64, amount: &str, description: &str) -> Value {
    json!({ "id": id, "posted": posted, "amount": amount, "description": description })
}

/// The example with its two "may need attention" errors, which most tests do not want.
fn example_without_errors() -> Value {
    let mut set = example(EXAMPLE_200_WITH_ERRORS);
    set["errors"] = json!([]);
    set
}

async fn fetch_ok(connector: &SimpleFin, consent: &Consent, id: &str, since: NaiveDate) -> ItemData {
    connector.fetch(consent, id, since, ctx(now())).await.unwrap()
}

async fn fetch_err(connector: &SimpleFin, consent: &Consent, id: &str) -> Failure {
    let failure = connector.fetch(consent, id, today() - TimeDelta::days(3), ctx(now())).await.unwrap_err();
    assert_safe(&failure, consent);
    failure
}

#[tokio::test]
async fn the_bridge_is_one_institution_authorised_by_setup_token() {
    let connector = SimpleFin::new(settings());
    assert_eq!(connector.name(), "simplefin");
    let institutions = connector.institutions(ctx(now())).await.unwrap();
    assert_eq!(institutions.len(), 1);
    let bridge = &institutions[0];
    assert_eq!(bridge.id, "simplefin-bridge");
    assert_eq!(bridge.name, "SimpleFIN Bridge");
    assert_eq!(bridge.country.as_deref(), Some("US"));
    assert_eq!(bridge.auth_method, AuthMethod::SetupToken);
    assert_eq!((bridge.max_history_days, bridge.max_consent_days, bridge.accesses_per_day), (90, 3650, Some(24)));
    assert!(!bridge.description.is_empty());

    let AuthStart::SetupToken { instructions } = connector.begin_authorization(&request(), ctx(now())).await.unwrap()
    else {
        panic!("SimpleFIN starts with a setup token");
    };
    assert!(instructions.contains("setup token"), "{instructions}");

    let mut elsewhere = request();
    elsewhere.institution_id = "sandbox-bank".into();
    let failure = connector.begin_authorization(&elsewhere, ctx(now())).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Unsupported);
}

#[tokio::test]
async fn claiming_a_setup_token_gives_a_consent_holding_the_access_url() {
    let bridge = SimpleFinBridge::start().await;
    let connector = SimpleFin::new(settings());
    let consent = connect(&connector, &bridge).await;

    assert!(consent.id.starts_with("sfin:") && consent.id.len() > 5, "{}", consent.id);
    assert_eq!(consent.institution_id, "simplefin-bridge");
    assert_eq!(consent.granted_at, now());
    assert_eq!(consent.valid_until, now() + TimeDelta::days(3650));
    assert_eq!(consent.scope, ["accounts", "balances", "transactions", "holdings"]);
    assert_eq!((consent.max_history_days, consent.accesses_per_day), (90, Some(24)));
    let secret = consent.secret.as_ref().unwrap().expose();
    assert!(secret.starts_with("http://") && secret.contains('@') && secret.ends_with("/simplefin"), "{secret}");
    let password = password(&consent);
    assert!(!consent.id.contains(&password));
    assert!(!format!("{consent:?}").contains(&password), "Debug never shows the access URL");

    let requests = bridge.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert!(requests[0].path.starts_with("/claim/"));

    // A new token is a new access URL with a user of its own, hence a consent of its own.
    let again = connect(&connector, &bridge).await;
    assert_ne!(again.id, consent.id, "a new token is a new access URL with its own user");
    assert_no_violations(&bridge);
}

#[tokio::test]
async fn a_second_claim_is_refused_and_warns_of_someone_else_holding_access() {
    let bridge = SimpleFinBridge::start().await;
    let connector = SimpleFin::new(settings());
    let token = bridge.setup_token();
    claim(&connector, token.clone()).await.unwrap();
    let failure = claim(&connector, token.clone()).await.unwrap_err();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Revoked, "setup_token_claimed"));
    assert!(failure.detail.contains("already used"), "{}", failure.detail);
    assert!(failure.detail.contains("revoke"), "{}", failure.detail);
    assert!(!failure.detail.contains(&token));
    assert_eq!(bridge.refused_claims(), 1);
    assert_no_violations(&bridge);
}

#[tokio::test]
async fn tokens_that_are_not_base64_or_not_urls_are_refused_without_a_request() {
    use base64::Engine;
    let bridge = SimpleFinBridge::start().await;
    let connector = SimpleFin::new(settings());
    let not_a_url = base64::engine::general_purpose::STANDARD.encode("my bank password");
    for token in ["%%% not base64 %%%".to_string(), not_a_url, "   ".to_string(), bridge.base_url() + "/claim/x"] {
        let failure = claim(&connector, token.clone()).await.unwrap_err();
        assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::InvalidCredentials, "setup_token_invalid"));
        assert!(!failure.detail.is_empty());
        assert!(token.trim().is_empty() || !failure.detail.contains(token.trim()), "{}", failure.detail);
    }
    assert!(bridge.requests().is_empty());
    assert_no_violations(&bridge);
}

#[tokio::test]
async fn https_is_required_unless_loopback_http_is_allowed() {
    use base64::Engine;
    let bridge = SimpleFinBridge::start().await;
    let strict = SimpleFin::new(SimpleFinSettings { allow_insecure_loopback: false, ..settings() });
    let failure = claim(&strict, bridge.setup_token()).await.unwrap_err();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Config, "insecure_url"));
    assert!(failure.detail.contains("allow_insecure_loopback"), "{}", failure.detail);

    // Allowing loopback allows nothing else.
    let remote = base64::engine::general_purpose::STANDARD.encode("http://bridge.example.invalid/claim/abc");
    let failure = claim(&SimpleFin::new(settings()), remote).await.unwrap_err();
    assert_eq!(failure.code, "insecure_url");

    // A consent whose access URL is plain http to another host is refused before any request.
    let connector = SimpleFin::new(settings());
    let mut consent = connect(&connector, &bridge).await;
    consent.secret = Some(saldo_connectors::Secret::new("http://user:pass@bridge.example.invalid/simplefin"));
    let failure = connector.discover(&consent, ctx(now())).await.unwrap_err();
    assert_eq!(failure.code, "insecure_url");
    assert!(!failure.detail.contains("pass"), "{}", failure.detail);
    assert_eq!(bridge.requests().len(), 1, "only the claim");
    assert_no_violations(&bridge);
}

#[tokio::test]
async fn discover_infers_kinds_and_reads_balances() {
    let bridge = SimpleFinBridge::start().await;
    let mut set = example_without_errors();
    set["accounts"].as_array_mut().unwrap().push(account(
        "ACT-miles",
        "Frequent flyer miles",
        "Airline",
        "https://www.example.com/flight-miles",
        "120000",
        vec![],
    ));
    bridge.set_account_set(&set);
    let connector = SimpleFin::new(settings());
    let consent = connect(&connector, &bridge).await;
    let items = connector.discover(&consent, ctx(now())).await.unwrap();

    let found: Vec<(&str, AccountKind)> = items.iter().map(|i| (i.name.as_str(), i.kind)).collect();
    assert_eq!(
        found,
        [
            ("The Bank", AccountKind::Cash),
            ("My Checking", AccountKind::Cash),
            ("PRIME SAVINGS", AccountKind::Savings),
            ("Costco Anywhere Visa® Card", AccountKind::CreditCard),
            ("Dr Evil", AccountKind::Brokerage),
            ("NerdCorp Series B", AccountKind::Brokerage),
            ("Unicorn Pot", AccountKind::Cash),
            ("Castle Mortgage", AccountKind::Mortgage),
        ],
        "the custom-currency account is left out"
    );
    let card = items.iter().find(|i| i.kind == AccountKind::CreditCard).unwrap();
    assert_eq!(card.provider_item_id, "ACT-3a4b5c6d-7e8f-9g0h-1i2j");
    assert_eq!(card.current_value, Some(money("-532.69", "USD")));
    assert_eq!(card.currency, usd());
    let savings = items.iter().find(|i| i.name == "PRIME SAVINGS").unwrap();
    assert_eq!(savings.current_value, Some(money("9876.54", "EUR")));
    assert!(items.iter().all(|i| i.iban.is_none() && i.masked_number.is_none()));

    let failure = fetch_err(&connector, &consent, "ACT-miles").await;
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Unsupported, "unsupported_currency"));
    assert!(failure.detail.contains("flight-miles"), "{}", failure.detail);

    let requests = bridge.accounts_requests();
    assert_eq!(requests.len(), 1);
    let (start, end) = requests[0].window().unwrap();
    assert_eq!((start, end), (midnight(today() - TimeDelta::days(7)), midnight(today() + TimeDelta::days(1))));
    assert_eq!(requests[0].param("pending"), Some("1"));
    assert!(requests[0].auth_valid);
    assert_no_violations(&bridge);
}

#[tokio::test]
async fn fetch_reads_transactions_pending_ones_and_holdings() {
    let bridge = SimpleFinBridge::start().await;
    let mut set = example_without_errors();
    let checking = account(
        "ACT-checking",
        "Everyday Checking",
        "First Bank",
        "USD",
        "1523.40",
        vec![
            json!({ "id": "t-old", "posted": noon(today() - TimeDelta::days(20)), "amount": "-5.00",
                    "description": "Too old for the window" }),
            json!({ "id": "t-1", "posted": noon(today() - TimeDelta::days(2)), "amount": "-42.10",
                    "description": "GROCERY STORE 123", "payee": "Grocery Store", "memo": "card 1234",
                    "transacted_at": noon(today() - TimeDelta::days(3)) }),
            json!({ "id": "t-2", "posted": noon(today() - TimeDelta::days(1)), "amount": 2500,
                    "description": "Salary", "memo": "Salary" }),
            json!({ "id": "p-1", "posted": noon(today()), "amount": "-12.00", "description": "Coffee",
                    "pending": true, "transacted_at": noon(today() - TimeDelta::days(1)) }),
            json!({ "id": "p-2", "posted": 0, "amount": "-7.50", "description": "Parking" }),
        ],
    );
    set["accounts"].as_array_mut().unwrap().push(checking);
    bridge.set_account_set(&set);
    let connector = SimpleFin::new(settings());
    let consent = connect(&connector, &bridge).await;
    let items = connector.discover(&consent, ctx(now())).await.unwrap();
    assert_eq!(items.len(), 9);

    let data = fetch_ok(&connector, &consent, "ACT-checking", today() - TimeDelta::days(5)).await;
    assert_eq!(data.balance, Some(money("1523.40", "USD")));
    assert!(data.holdings.is_empty());
    let by_id = |id: &str| data.transactions.iter().find(|t| t.provider_id.as_deref() == Some(id)).unwrap();
    assert_eq!(data.transactions.len(), 4, "{:#?}", data.transactions);
    let groceries = by_id("t-1");
    assert_eq!(groceries.status, TransactionStatus::Booked);
    assert_eq!(groceries.booking_date, today() - TimeDelta::days(2));
    assert_eq!(groceries.amount, money("-42.10", "USD"));
    assert_eq!(groceries.description, "GROCERY STORE 123 (card 1234)");
    assert_eq!(groceries.counterparty.as_deref(), Some("Grocery Store"));
    let salary = by_id("t-2");
    assert_eq!((salary.amount, salary.description.as_str()), (money("2500", "USD"), "Salary"));
    let coffee = by_id("p-1");
    assert_eq!(coffee.status, TransactionStatus::Pending);
    assert_eq!(coffee.booking_date, today() - TimeDelta::days(1), "a pending one is dated when it happened");
    let parking = by_id("p-2");
    assert_eq!((parking.status, parking.booking_date), (TransactionStatus::Pending, today()));

    // The example's brokerage accounts: holdings in the account's currency ("" in the data).
    let evil = fetch_ok(&connector, &consent, "ACT-4k5l6m7n-8o9p-1q2r-3s4t", today() - TimeDelta::days(5)).await;
    assert_eq!(evil.balance, Some(money("1000000.00", "USD")));
    assert_eq!(evil.holdings.len(), 1);
    let fund = &evil.holdings[0];
    assert_eq!(fund.instrument.ticker.as_deref(), Some("FGKFX"));
    assert_eq!(fund.instrument.name, "Fantastic FID GROWTH CO K6");
    assert_eq!(fund.quantity, Decimal::from(200));
    assert_eq!(fund.market_value, money("15000.00", "USD"));
    assert_eq!(fund.unit_price, Some(Decimal::from(75)));
    let nerd = fetch_ok(&connector, &consent, "ACT-5k6l7m8n-9o0p-1q2r-3s4t", today() - TimeDelta::days(5)).await;
    let holding = &nerd.holdings[0];
    assert_eq!(holding.market_value, money("9876.54", "EUR"));
    assert_eq!(holding.quantity, Decimal::from(150));
    assert_eq!(holding.unit_price.unwrap().round_dp(4), Decimal::from_str("65.8436").unwrap());

    assert_eq!(bridge.accounts_requests().len(), 1, "one sync, one request");
    assert_no_violations(&bridge);
}

#[tokio::test]
async fn a_long_backfill_is_read_in_windows_of_at_most_90_days() {
    let bridge = SimpleFinBridge::start().await;
    let transactions: Vec<Value> = (0..20)
        .map(|i| transaction(&format!("t-{i}"), noon(today() - TimeDelta::days(195 - i * 10)), "-1.00", "Fee"))
        .collect();
    bridge.set_accounts(vec![
        account("ACT-a", "Checking", "First Bank", "USD", "100.00", transactions),
        account("ACT-b", "Savings", "First Bank", "USD", "200.00", vec![]),
    ]);
    let connector = SimpleFin::new(settings());
    let consent = connect(&connector, &bridge).await;
    connector.discover(&consent, ctx(now())).await.unwrap();
    let since = today() - TimeDelta::days(200);
    let data = fetch_ok(&connector, &consent, "ACT-a", since).await;
    let mut ids: Vec<String> = data.transactions.iter().map(|t| t.provider_id.clone().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((data.transactions.len(), ids.len()), (20, 20), "every transaction once");

    let requests = bridge.accounts_requests();
    assert_eq!(requests.len(), 4, "discover's week, then 193 days in 90 + 90 + 13");
    let mut windows: Vec<(i64, i64)> = requests.iter().map(|r| r.window().unwrap()).collect();
    assert!(windows.iter().all(|(start, end)| end > start && end - start <= MAX_WINDOW_SECONDS), "{windows:?}");
    windows.sort();
    assert_eq!(windows[0].0, midnight(since));
    assert_eq!(windows.last().unwrap().1, midnight(today() + TimeDelta::days(1)));
    for pair in windows.windows(2) {
        assert_eq!(pair[0].1, pair[1].0, "consecutive, no gap and no overlap: {windows:?}");
    }

    // The rest of the sync is served by what was read.
    let savings = fetch_ok(&connector, &consent, "ACT-b", since).await;
    assert_eq!(savings.balance, Some(money("200.00", "USD")));
    assert_eq!(bridge.accounts_requests().len(), 4);
    assert_no_violations(&bridge);
}

#[tokio::test]
async fn one_sync_costs_one_request_and_the_next_sync_asks_again() {
    let bridge = SimpleFinBridge::start().await;
    bridge.set_account_set(&example_without_errors());
    let connector = SimpleFin::new(settings());
    let consent = connect(&connector, &bridge).await;
    let items = connector.discover(&consent, ctx(now())).await.unwrap();
    for item in &items {
        let since = today() - TimeDelta::days(6);
        connector.fetch(&consent, &item.provider_item_id, since, ctx(now() + TimeDelta::minutes(2))).await.unwrap();
    }
    assert_eq!(bridge.accounts_requests().len(), 1);

    // Ten minutes on, a fetch no longer trusts the kept answer.
    let later = now() + TimeDelta::minutes(11);
    connector.fetch(&consent, &items[0].provider_item_id, today(), ctx(later)).await.unwrap();
    assert_eq!(bridge.accounts_requests().len(), 2);
    connector.discover(&consent, ctx(later)).await.unwrap();
    assert_eq!(bridge.accounts_requests().len(), 3, "each sync's discover reads afresh");
    assert_no_violations(&bridge);
}

#[tokio::test]
async fn payment_required_asks_the_user_to_pay_the_bridge() {
    let bridge = SimpleFinBridge::start().await;
    let connector = SimpleFin::new(settings());
    let consent = connect(&connector, &bridge).await;
    bridge.fail_next(Fault::PaymentRequired);
    let failure = connector.discover(&consent, ctx(now())).await.unwrap_err();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::ActionRequired, "payment_required"));
    assert!(failure.detail.contains("Payment required."), "the Bridge's own words: {}", failure.detail);
    assert_safe(&failure, &consent);
    assert!(connector.discover(&consent, ctx(now())).await.is_ok(), "once paid, it works again");
    assert_no_violations(&bridge);
}

#[tokio::test]
async fn revoked_access_is_reported_as_revoked() {
    let bridge = SimpleFinBridge::start().await;
    let connector = SimpleFin::new(settings());
    let consent = connect(&connector, &bridge).await;
    bridge.fail_next(Fault::Forbidden);
    let failure = connector.discover(&consent, ctx(now())).await.unwrap_err();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Revoked, "access_revoked"));
    assert!(!failure.detail.contains("<html"), "the HTML page is not passed on: {}", failure.detail);

    bridge.revoke_access();
    let failure = connector.discover(&consent, ctx(now())).await.unwrap_err();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Revoked, "access_revoked"));
    assert_safe(&failure, &consent);
    assert!(bridge.accounts_requests().iter().all(|r| r.window().is_some()));
    assert_no_violations(&bridge);
}

#[tokio::test]
async fn server_errors_and_the_bridges_rate_limit_are_temporary() {
    let bridge = SimpleFinBridge::start().await;
    let connector = SimpleFin::new(settings());
    let consent = connect(&connector, &bridge).await;
    bridge.fail_next(Fault::Status(500));
    bridge.fail_next(Fault::Status(503));
    bridge.fail_next(Fault::Status(429));
    let failure = connector.discover(&consent, ctx(now())).await.unwrap_err();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Temporary(TemporaryCause::ProviderDown), "500"));
    let failure = connector.discover(&consent, ctx(now())).await.unwrap_err();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Temporary(TemporaryCause::ProviderDown), "503"));
    let failure = connector.discover(&consent, ctx(now())).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Temporary(TemporaryCause::RateLimited));
    assert_safe(&failure, &consent);
    assert!(connector.discover(&consent, ctx(now())).await.is_ok());
    assert_no_violations(&bridge);
}

#[tokio::test]
async fn an_unreachable_bridge_is_a_network_failure() {
    let mut bridge = SimpleFinBridge::start().await;
    let connector = SimpleFin::new(settings());
    let consent = connect(&connector, &bridge).await;
    connector.discover(&consent, ctx(now())).await.unwrap();
    assert_no_violations(&bridge);
    bridge.stop().await;
    let failure = connector.discover(&consent, ctx(now())).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Temporary(TemporaryCause::Network), "{failure:?}");
    assert_safe(&failure, &consent);

    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut closed = consent.clone();
    closed.secret = Some(saldo_connectors::Secret::new(format!("http://someone:hunter2@127.0.0.1:{port}/simplefin")));
    let failure = connector.discover(&closed, ctx(now())).await.unwrap_err();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Temporary(TemporaryCause::Network), "connect"));
    assert!(failure.detail.contains(&format!("127.0.0.1:{port}")), "{}", failure.detail);
    assert!(!failure.detail.contains("hunter2") && !failure.detail.contains("someone"), "{}", failure.detail);
}

#[tokio::test]
async fn a_slow_bridge_times_out() {
    let bridge = SimpleFinBridge::start().await;
    let connector = SimpleFin::new(SimpleFinSettings { timeout: Duration::from_millis(300), ..settings() });
    let consent = connect(&connector, &bridge).await;
    bridge.fail_next(Fault::Delay(Duration::from_secs(3)));
    let failure = connector.discover(&consent, ctx(now())).await.unwrap_err();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Temporary(TemporaryCause::Timeout), "timeout"));
    assert_safe(&failure, &consent);
    assert_no_violations(&bridge);
}

#[tokio::test]
async fn an_unreadable_answer_names_what_was_wrong() {
    let bridge = SimpleFinBridge::start().await;
    let connector = SimpleFin::new(settings());
    let consent = connect(&connector, &bridge).await;
    let html = format!("<!doctype html><p>{}</p>", "Maintenance ".repeat(100));
    let broken_account = json!({ "errors": [], "accounts": [
        { "id": "a", "name": "x", "currency": "USD", "balance": { "amount": "1" } } ] });
    for (body, expected) in [
        (html, "not JSON"),
        (r#"{"errors": []}"#.to_string(), "missing field `accounts`"),
        (broken_account.to_string(), "accounts[0].balance"),
    ] {
        bridge.fail_next(Fault::Body(body));
        let failure = connector.discover(&consent, ctx(now())).await.unwrap_err();
        assert_eq!(
            (failure.kind, failure.code.as_str()),
            (FailureKind::Temporary(TemporaryCause::Unknown), "unreadable_response")
        );
        assert!(failure.detail.contains(expected), "{expected}: {}", failure.detail);
        assert!(failure.detail.chars().count() <= 300, "no long echo of the body: {}", failure.detail);
        assert_safe(&failure, &consent);
    }
    assert_no_violations(&bridge);
}

#[tokio::test]
async fn may_need_attention_fails_only_that_organisations_accounts() {
    let bridge = SimpleFinBridge::start().await;
    bridge.set_account_set(&example(EXAMPLE_200_WITH_ERRORS));
    let connector = SimpleFin::new(settings());
    let consent = connect(&connector, &bridge).await;
    let items = connector.discover(&consent, ctx(now())).await.unwrap();
    assert_eq!(items.len(), 8, "accounts needing attention still exist");

    // "The Bank" and "PRIME SAVINGS" are at The Bank of Go; "My Checking", "Dr Evil" and
    // "NerdCorp Series B" at Investments.
    for id in [
        "ACT-1a2b3c4d-5e6f-7g8h-9i0j",
        "ACT-2a3b4c5d-6e7f-8g9h-0i1j",
        "ACT-1k2l3m4n-5o6p-7q8r-9s0t",
        "ACT-4k5l6m7n-8o9p-1q2r-3s4t",
    ] {
        let failure = fetch_err(&connector, &consent, id).await;
        assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::ActionRequired, "connection_needs_attention"));
        assert!(failure.detail.contains("may need attention"), "{}", failure.detail);
    }
    let bank = fetch_err(&connector, &consent, "ACT-1a2b3c4d-5e6f-7g8h-9i0j").await;
    assert!(bank.detail.contains("Connection to The Bank of Go may need attention"), "{}", bank.detail);
    for id in ["ACT-3a4b5c6d-7e8f-9g0h-1i2j", "ACT-6a7b8c9d-0e1f-2g3h-4i5j", "ACT-7a8b9c0d-1e2f-3g4h-5i6j"] {
        fetch_ok(&connector, &consent, id, today() - TimeDelta::days(3)).await;
    }
    assert_eq!(bridge.accounts_requests().len(), 1);
    assert_no_violations(&bridge);
}

#[tokio::test]
async fn you_must_reauthenticate_fails_every_account() {
    let bridge = SimpleFinBridge::start().await;
    bridge.set_errors(vec!["You must reauthenticate.".into()]);
    let connector = SimpleFin::new(settings());
    let consent = connect(&connector, &bridge).await;
    let failure = connector.discover(&consent, ctx(now())).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::ActionRequired);
    assert!(failure.detail.contains("You must reauthenticate."), "{}", failure.detail);
    assert_no_violations(&bridge);
}

#[tokio::test]
async fn discover_fails_when_every_account_fails() {
    let bridge = SimpleFinBridge::start().await;
    bridge.set_accounts(vec![
        account("a1", "Checking", "Only Bank", "USD", "1.00", vec![]),
        account("a2", "Savings", "Only Bank", "USD", "2.00", vec![]),
    ]);
    bridge.set_errors(vec!["Connection to Only Bank may need attention".into()]);
    let connector = SimpleFin::new(settings());
    let consent = connect(&connector, &bridge).await;
    let failure = connector.discover(&consent, ctx(now())).await.unwrap_err();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::ActionRequired, "connection_needs_attention"));

    // With no accounts at all, the errors are all there is.
    bridge.set_accounts(vec![]);
    bridge.set_errors(vec!["Something went wrong at the Bridge.".into()]);
    let failure = connector.discover(&consent, ctx(now())).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Temporary(TemporaryCause::Unknown));
    assert!(failure.detail.contains("Something went wrong at the Bridge."), "{}", failure.detail);
    assert_no_violations(&bridge);
}

fn with_connection(mut account: Value, conn_id: &str) -> Value {
    account["conn_id"] = json!(conn_id);
    account
}

#[tokio::test]
async fn errlist_entries_fail_their_connection_or_account() {
    let bridge = SimpleFinBridge::start().await;
    bridge.set_accounts(vec![
        with_connection(account("a1", "Checking", "Bank A", "USD", "1.00", vec![]), "CON-A"),
        with_connection(account("a2", "Savings", "Bank A", "USD", "2.00", vec![]), "CON-A"),
        with_connection(account("b1", "Checking", "Bank B", "USD", "3.00", vec![]), "CON-B"),
        with_connection(account("b2", "Savings", "Bank B", "USD", "4.00", vec![]), "CON-B"),
        with_connection(account("c1", "Checking", "Bank C", "USD", "5.00", vec![]), "CON-C"),
        with_connection(account("d1", "Checking", "Bank D", "USD", "6.00", vec![]), "CON-D"),
        with_connection(account("e1", "Checking", "Bank E", "USD", "7.00", vec![]), "CON-E"),
        with_connection(account("f1", "Checking", "Bank F", "USD", "8.00", vec![]), "CON-F"),
    ]);
    bridge.set_errlist(vec![
        ErrorEntry::new("con.auth", "Bank A needs you to sign in again.").connection("CON-A"),
        ErrorEntry::new("act.failed", "Could not update this account; try later.").account("b1"),
        ErrorEntry::new("act.missingdata", "Some transactions are missing.").account("c1").connection("CON-C"),
        ErrorEntry::new("con.mfa", "Bank D wants a one-time code.").connection("CON-D"),
        ErrorEntry::new("act.flux", "Something new went wrong.").account("e1"),
    ]);
    let connector = SimpleFin::new(settings());
    let consent = connect(&connector, &bridge).await;
    let items = connector.discover(&consent, ctx(now())).await.unwrap();
    assert_eq!(items.len(), 8);

    for id in ["a1", "a2"] {
        let failure = fetch_err(&connector, &consent, id).await;
        assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::ActionRequired, "con.auth"));
        assert!(failure.detail.contains("Bank A needs you to sign in again."), "{}", failure.detail);
    }
    let failure = fetch_err(&connector, &consent, "b1").await;
    assert_eq!(
        (failure.kind, failure.code.as_str()),
        (FailureKind::Temporary(TemporaryCause::ProviderDown), "act.failed")
    );
    let failure = fetch_err(&connector, &consent, "c1").await;
    assert_eq!(
        (failure.kind, failure.code.as_str()),
        (FailureKind::Temporary(TemporaryCause::Unknown), "missing_data")
    );
    assert!(failure.detail.contains("Some transactions are missing."), "{}", failure.detail);
    // Unknown subcodes are read as their prefix.
    let failure = fetch_err(&connector, &consent, "d1").await;
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::ActionRequired, "con.mfa"));
    let failure = fetch_err(&connector, &consent, "e1").await;
    assert_eq!(failure.kind, FailureKind::Temporary(TemporaryCause::ProviderDown));
    for id in ["b2", "f1"] {
        fetch_ok(&connector, &consent, id, today() - TimeDelta::days(3)).await;
    }
    assert_eq!(bridge.accounts_requests().len(), 1);
    assert_no_violations(&bridge);
}

#[tokio::test]
async fn general_errlist_codes_fail_the_whole_request() {
    let bridge = SimpleFinBridge::start().await;
    let connector = SimpleFin::new(settings());
    let consent = connect(&connector, &bridge).await;
    for (code, kind) in [
        ("gen.auth", FailureKind::InvalidCredentials),
        ("gen.api", FailureKind::Config),
        ("gen.overload", FailureKind::Temporary(TemporaryCause::Unknown)),
    ] {
        bridge.set_errlist(vec![ErrorEntry::new(code, "A message from the Bridge.")]);
        let failure = connector.discover(&consent, ctx(now())).await.unwrap_err();
        assert_eq!((failure.kind, failure.code.as_str()), (kind, code));
        assert!(failure.detail.contains("A message from the Bridge."), "{}", failure.detail);
        assert_safe(&failure, &consent);
    }
    bridge.set_errlist(vec![]);
    assert!(connector.discover(&consent, ctx(now())).await.is_ok());
    assert_no_violations(&bridge);
}

#[tokio::test]
async fn the_daily_budget_is_24_requests_per_access_url() {
    let bridge = SimpleFinBridge::start().await;
    let connector = SimpleFin::new(settings());
    let consent = connect(&connector, &bridge).await;
    for _ in 0..24 {
        connector.discover(&consent, ctx(now())).await.unwrap();
    }
    let failure = connector.discover(&consent, ctx(now())).await.unwrap_err();
    assert_eq!(
        (failure.kind, failure.code.as_str()),
        (FailureKind::Temporary(TemporaryCause::RateLimited), "daily_budget_used")
    );
    let midnight = Utc.with_ymd_and_hms(2024, 1, 17, 0, 0, 0).unwrap();
    assert_eq!(failure.retry_at, Some(midnight));
    assert!(failure.detail.contains("2024-01-17 00:00 UTC"), "{}", failure.detail);
    assert_eq!(bridge.accounts_requests().len(), 24, "the 25th was never sent");

    // Another access URL has its own budget, and the next day refills this one.
    let other = connect(&connector, &bridge).await;
    assert!(connector.discover(&other, ctx(now())).await.is_ok());
    assert!(connector.discover(&consent, ctx(midnight + TimeDelta::minutes(1))).await.is_ok());
    assert_no_violations(&bridge);
}

#[tokio::test]
async fn a_reconnect_with_new_account_ids_shows_the_new_ids() {
    let bridge = SimpleFinBridge::start().await;
    bridge.set_accounts(vec![
        account("OLD-1", "Checking", "First Bank", "USD", "10.00", vec![]),
        account("OLD-2", "Savings", "First Bank", "USD", "20.00", vec![]),
    ]);
    let connector = SimpleFin::new(settings());
    let first = connect(&connector, &bridge).await;
    let ids = |items: Vec<saldo_connectors::DiscoveredItem>| {
        items.into_iter().map(|i| i.provider_item_id).collect::<Vec<_>>()
    };
    assert_eq!(ids(connector.discover(&first, ctx(now())).await.unwrap()), ["OLD-1", "OLD-2"]);

    // The user removed the bank at the Bridge and added it again, then made a new setup token.
    bridge.set_accounts(vec![
        account("NEW-1", "Checking", "First Bank", "USD", "10.00", vec![]),
        account("NEW-2", "Savings", "First Bank", "USD", "20.00", vec![]),
    ]);
    let later = now() + TimeDelta::hours(1);
    let second = connector
        .complete_authorization(&request(), &AuthAnswer::SetupToken { token: bridge.setup_token() }, ctx(later))
        .await
        .unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!(ids(connector.discover(&second, ctx(later)).await.unwrap()), ["NEW-1", "NEW-2"]);

    let failure = connector.fetch(&second, "OLD-1", today(), ctx(later)).await.unwrap_err();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Revoked, "account_missing"));
    assert_no_violations(&bridge);
}

#[tokio::test]
async fn revoking_sends_nothing() {
    let bridge = SimpleFinBridge::start().await;
    let connector = SimpleFin::new(settings());
    let consent = connect(&connector, &bridge).await;
    let before = bridge.requests().len();
    connector.revoke(&consent, ctx(now())).await.unwrap();
    assert_eq!(bridge.requests().len(), before);
    assert_no_violations(&bridge);
}

/// The emulator is only useful if it catches what the protocol does not allow.
#[tokio::test]
async fn the_emulator_catches_requests_the_protocol_does_not_allow() {
    let bridge = SimpleFinBridge::start().await;
    let connector = SimpleFin::new(settings());
    let consent = connect(&connector, &bridge).await;
    let secret = consent.secret.as_ref().unwrap().expose().to_string();
    let (user, password) = {
        let userinfo = secret.split("://").nth(1).unwrap().split('@').next().unwrap();
        let (u, p) = userinfo.split_once(':').unwrap();
        (u.to_string(), p.to_string())
    };
    let accounts = format!("{}/simplefin/accounts", bridge.base_url());
    let http = reqwest::Client::new();
    let end = midnight(today());
    let start = end - 120 * 86_400;

    let capped: Value = http
        .get(&accounts)
        .basic_auth(&user, Some(&password))
        .query(&[("start-date", start.to_string()), ("end-date", end.to_string())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(capped["errlist"][0]["code"], "gen.api", "the Bridge caps and says so: {capped}");
    let violations = bridge.violations();
    assert_eq!(violations.len(), 1);
    assert!(violations[0].contains("longer than 90 days"), "{violations:?}");

    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(status(http.get(&accounts).send().await.unwrap()), 403, "no Basic auth");
    assert_eq!(status(http.get(&accounts).basic_auth("x", Some("y")).send().await.unwrap()), 403);
    let bad_date = http.get(&accounts).basic_auth(&user, Some(&password)).query(&[("start-date", "yesterday")]);
    assert_eq!(status(bad_date.send().await.unwrap()), 400);
    let backwards =
        http.get(&accounts).basic_auth(&user, Some(&password)).query(&[("start-date", end), ("end-date", start)]);
    assert_eq!(status(backwards.send().await.unwrap()), 400);
    assert_eq!(status(http.get(format!("{}/simplefin/nope", bridge.base_url())).send().await.unwrap()), 404);
    assert_eq!(status(http.get(format!("{}/claim/abc", bridge.base_url())).send().await.unwrap()), 405);
    assert_eq!(bridge.violations().len(), 7, "{:#?}", bridge.violations());

    assert!(bridge.accounts_requests().iter().any(|r| r.window() == Some((start, end))));
    connector.discover(&consent, ctx(now())).await.unwrap();
    assert_eq!(bridge.violations().len(), 7, "the connector adds none");
}
