//! Contract tests of the Enable Banking connector against the API emulator, over real HTTP on
//! loopback: the whole lifecycle and every error code providers.md lists for Enable Banking. Each
//! test also checks that the connector made no request the API does not allow.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use saldo_connectors::enable_banking::{EnableBanking, EnableBankingSettings};
use saldo_connectors::http::Transport;
use saldo_connectors::{AuthAnswer, AuthRequest, AuthStart, CallContext, Connector, Consent, DiscoveredItem, Secret};
use saldo_core::account::AccountKind;
use saldo_core::failure::{Failure, FailureKind, TemporaryCause};
use saldo_core::transaction::TransactionStatus;
use saldo_emulators::enable_banking::{
    example_accounts, EnableBankingApi, Fault, OTHER_PRIVATE_KEY, TEST_PRIVATE_KEY, UNATTENDED_PER_DAY,
};
use std::time::Duration;

const APP: &str = "f6d7a1a0-0000-4000-8000-000000000001";
const CALLBACK: &str = "http://127.0.0.1:9/callback/enable_banking";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 16, 15, 0, 0).unwrap()
}

fn ctx(now: DateTime<Utc>) -> CallContext {
    CallContext::unattended(now)
}

fn present(now: DateTime<Utc>) -> CallContext {
    CallContext { now, user_present: true, psu_ip_address: Some("192.0.2.7".parse().unwrap()) }
}

fn connector_with_key(api: &EnableBankingApi, key: &str) -> EnableBanking {
    EnableBanking::new(EnableBankingSettings {
        base_url: api.base_url(),
        application_id: APP.into(),
        private_key: Secret::new(key.to_string()),
        countries: vec!["FI".into()],
        transport: Transport { allow_insecure_loopback: true, timeout: Duration::from_secs(5) },
    })
}

fn connector(api: &EnableBankingApi) -> EnableBanking {
    connector_with_key(api, TEST_PRIVATE_KEY)
}

fn request(state: &str) -> AuthRequest {
    AuthRequest {
        institution_id: "FI:Nordea".into(),
        user_key: "conn-1".into(),
        redirect_url: CALLBACK.into(),
        state: state.into(),
        resume: None,
    }
}

/// The query pairs of the URL the bank redirects the browser to.
fn callback_params(url: &str) -> Vec<(String, String)> {
    let url = reqwest::Url::parse(url).unwrap();
    assert!(url.as_str().starts_with(CALLBACK), "{url}");
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

async fn connect_at(connector: &EnableBanking, api: &EnableBankingApi, at: DateTime<Utc>) -> Consent {
    let AuthStart::Redirect { url, .. } = connector.begin_authorization(&request("st-1"), present(at)).await.unwrap()
    else {
        panic!("Enable Banking authorises by redirect")
    };
    let params = callback_params(&api.approve(&url).unwrap());
    assert!(params.contains(&("state".into(), "st-1".into())));
    connector.complete_authorization(&request("st-1"), &AuthAnswer::Callback { params }, present(at)).await.unwrap()
}

fn assert_safe(failure: &Failure) {
    for needle in ["PRIVATE KEY", "eyJ", "Bearer"] {
        assert!(!failure.detail.contains(needle), "{failure:?}");
    }
}

fn find<'a>(items: &'a [DiscoveredItem], iban: &str) -> &'a DiscoveredItem {
    items.iter().find(|i| i.iban.as_deref() == Some(iban)).unwrap()
}

#[tokio::test]
async fn banks_are_listed_with_their_longest_consent_and_logo() {
    let api = EnableBankingApi::start(APP, now()).await;
    let list = connector(&api).institutions(ctx(now())).await.unwrap();
    let ids: Vec<&str> = list.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["FI:Nordea", "FI:OP"], "only the configured country");
    let nordea = &list[0];
    assert_eq!((nordea.max_consent_days, nordea.max_history_days, nordea.accesses_per_day), (180, 730, Some(4)));
    assert_eq!(nordea.bic.as_deref(), Some("NDEAFIHH"));
    assert!(nordea.logo_url.as_deref().unwrap().starts_with("https://"));
    assert_eq!(api.requests()[0].param("country"), Some("FI"));
    assert_eq!(api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_user_connects_and_reads_balances_and_transactions() {
    let api = EnableBankingApi::start(APP, now()).await;
    let connector = connector(&api);
    let consent = connect_at(&connector, &api, now()).await;
    // The longest consent the bank allows (180 days), less the minute kept for clock skew.
    let asked = consent.valid_until - now();
    assert!(asked <= TimeDelta::days(180) && asked > TimeDelta::days(180) - TimeDelta::minutes(2), "{asked}");
    assert_eq!(consent.accesses_per_day, Some(4));

    let items = connector.discover(&consent, ctx(now())).await.unwrap();
    assert_eq!(items.len(), 3);
    let current = find(&items, "FI2112345600000785");
    assert_eq!((current.kind, current.name.as_str()), (AccountKind::Cash, "Käyttötili"));
    // Named from the product or the bank's description, never after the holder in `name`.
    let names: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
    assert!(names.contains(&"Säästötili") && names.contains(&"Visa"), "{names:?}");
    assert!(!names.contains(&"Erika Mustermann"), "{names:?}");
    assert_eq!(current.provider_item_id, "hash-current-FI2112345600000785");
    assert_eq!(find(&items, "FI4350000220000456").kind, AccountKind::Savings);
    let card = items.iter().find(|i| i.iban.is_none()).unwrap();
    assert_eq!((card.kind, card.provider_item_id.as_str()), (AccountKind::CreditCard, "hash-card-1234"));

    let since = now().date_naive() - TimeDelta::days(30);
    let data = connector.fetch(&consent, &current.provider_item_id, since, ctx(now())).await.unwrap();
    assert_eq!(data.balance.unwrap().minor, 152_035, "the booked balance, not the available one");
    let texts: Vec<(&str, i64, TransactionStatus)> =
        data.transactions.iter().map(|t| (t.description.as_str(), t.amount.minor, t.status)).collect();
    assert_eq!(
        texts,
        [
            ("Salary December", 245_000, TransactionStatus::Booked),
            ("K-Market Tapiola", -4_990, TransactionStatus::Booked),
            ("HSL ticket", -1_200, TransactionStatus::Booked),
            ("Cafe", -850, TransactionStatus::Pending),
        ],
        "scheduled transactions are left out; debits are negative"
    );
    assert_eq!(data.transactions[1].counterparty.as_deref(), Some("K-Market Tapiola"));
    assert_eq!(data.transactions[0].provider_id.as_deref(), Some("e-100"));
    let card_data = connector.fetch(&consent, "hash-card-1234", since, ctx(now())).await.unwrap();
    assert_eq!(card_data.balance.unwrap().minor, -23_010);

    let read = api.requests().into_iter().find(|r| r.path.ends_with("/transactions")).unwrap();
    assert_eq!(read.param("date_from"), Some("2023-12-17"));
    assert_eq!(read.param("date_to"), Some("2024-01-16"));
    assert_eq!(read.param("strategy"), None, "30 days need no probing");
    assert_eq!(read.psu_ip_address, None, "unattended calls carry no PSU headers");
    assert_eq!(api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn continuation_keys_are_followed_to_the_last_page() {
    let api = EnableBankingApi::start(APP, now()).await;
    api.set_page_size(1);
    let connector = connector(&api);
    let consent = connect_at(&connector, &api, now()).await;
    let data = connector
        .fetch(&consent, "hash-current-FI2112345600000785", now().date_naive() - TimeDelta::days(60), ctx(now()))
        .await
        .unwrap();
    assert_eq!(data.transactions.len(), 4);
    let pages = api.requests().iter().filter(|r| r.path.ends_with("/transactions")).count();
    assert_eq!(pages, 5, "five transactions, one per page (the scheduled one is read and left out)");
    assert_eq!(api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn the_first_read_after_authorisation_asks_for_the_longest_history() {
    let api = EnableBankingApi::start(APP, now()).await;
    let connector = connector(&api);
    let consent = connect_at(&connector, &api, now()).await;
    assert_eq!(consent.max_history_days, 730);
    let since = now().date_naive() - TimeDelta::days(i64::from(consent.max_history_days));
    let later = now() + TimeDelta::minutes(1);
    api.set_now(later);
    connector.fetch(&consent, "hash-savings-FI4350000220000456", since, ctx(later)).await.unwrap();
    let read = api.requests().into_iter().rfind(|r| r.path.ends_with("/transactions")).unwrap();
    assert_eq!((read.param("date_from"), read.param("strategy")), (Some("2022-01-17"), Some("longest")));
    assert_eq!(api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn reads_after_the_first_minutes_ask_for_90_days_at_most() {
    let api = EnableBankingApi::start(APP, now()).await;
    let connector = connector(&api);
    let consent = connect_at(&connector, &api, now()).await;
    let later = now() + TimeDelta::hours(6);
    api.set_now(later);
    connector
        .fetch(&consent, "hash-savings-FI4350000220000456", NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(), ctx(later))
        .await
        .unwrap();
    let read = api.requests().into_iter().rfind(|r| r.path.ends_with("/transactions")).unwrap();
    assert_eq!(read.param("date_from"), Some("2023-10-19"), "89 days before, so 90 with today");
    assert_eq!(api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_reconnect_gives_new_uids_but_the_same_items() {
    let api = EnableBankingApi::start(APP, now()).await;
    let connector = connector(&api);
    let first = connect_at(&connector, &api, now()).await;
    let before = connector.discover(&first, ctx(now())).await.unwrap();
    connector.revoke(&first, ctx(now())).await.unwrap();
    assert_eq!(api.sessions()[0].1, "CLOSED");
    let error = connector.discover(&first, ctx(now())).await.unwrap_err();
    assert_eq!((error.kind, error.code.as_str()), (FailureKind::Revoked, "CLOSED"));

    api.set_now(now() + TimeDelta::minutes(10));
    let second = connect_at(&connector, &api, now() + TimeDelta::minutes(10)).await;
    assert_ne!(first.id, second.id);
    let after = connector.discover(&second, ctx(now())).await.unwrap();
    let ids = |items: &[DiscoveredItem]| items.iter().map(|i| i.provider_item_id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&before), ids(&after), "items are known by identification_hash, which stays");
    let data =
        connector.fetch(&second, "hash-current-FI2112345600000785", now().date_naive(), ctx(now())).await.unwrap();
    assert!(data.balance.is_some());
    let uids: std::collections::BTreeSet<String> = api
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/details"))
        .map(|r| r.path.split('/').nth(2).unwrap().to_string())
        .collect();
    assert_eq!(uids.len(), 6, "each session has its own uids for the same three accounts");
    connector.revoke(&first, ctx(now())).await.unwrap();
    assert_eq!(api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_declined_or_replayed_authorisation_is_explained() {
    let api = EnableBankingApi::start(APP, now()).await;
    let connector = connector(&api);
    let AuthStart::Redirect { url, .. } =
        connector.begin_authorization(&request("st-2"), present(now())).await.unwrap()
    else {
        panic!()
    };
    let declined = callback_params(&api.decline(&url).unwrap());
    let error = connector
        .complete_authorization(&request("st-2"), &AuthAnswer::Callback { params: declined }, present(now()))
        .await
        .unwrap_err();
    assert_eq!((error.kind, error.code.as_str()), (FailureKind::Revoked, "access_denied"));
    assert!(error.detail.contains("User cancelled"), "{}", error.detail);

    let approved = callback_params(&api.approve(&url).unwrap());
    let answer = AuthAnswer::Callback { params: approved };
    connector.complete_authorization(&request("st-2"), &answer, present(now())).await.unwrap();
    let replay = connector.complete_authorization(&request("st-2"), &answer, present(now())).await.unwrap_err();
    assert_eq!((replay.kind, replay.code.as_str()), (FailureKind::InvalidCredentials, "ALREADY_AUTHORIZED"));
    let wrong = AuthAnswer::Callback { params: vec![("code".into(), "nope".into()), ("state".into(), "st-2".into())] };
    let error = connector.complete_authorization(&request("st-2"), &wrong, present(now())).await.unwrap_err();
    assert_eq!((error.kind, error.code.as_str()), (FailureKind::InvalidCredentials, "WRONG_AUTHORIZATION_CODE"));
    let unknown = AuthRequest { institution_id: "FI:No Such Bank".into(), ..request("st-3") };
    assert_eq!(
        connector.begin_authorization(&unknown, present(now())).await.unwrap_err().kind,
        FailureKind::Unsupported
    );
    assert_eq!(api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn every_error_code_is_classified() {
    use FailureKind::*;
    use TemporaryCause::*;
    let api = EnableBankingApi::start(APP, now()).await;
    let connector = connector(&api);
    let consent = connect_at(&connector, &api, now()).await;
    let cases: [(u16, Option<&str>, FailureKind); 18] = [
        (500, Some("ASPSP_ERROR"), Temporary(ProviderDown)),
        (408, Some("ASPSP_TIMEOUT"), Temporary(Timeout)),
        (429, Some("ASPSP_RATE_LIMIT_EXCEEDED"), Temporary(RateLimited)),
        (400, Some("ASPSP_PSU_ACTION_REQUIRED"), ActionRequired),
        (401, Some("EXPIRED_SESSION"), Expired),
        (400, Some("WRONG_CREDENTIALS_PROVIDED"), InvalidCredentials),
        (401, Some("REVOKED_SESSION"), Revoked),
        (401, Some("CLOSED_SESSION"), Revoked),
        (404, Some("ASPSP_ACCOUNT_NOT_ACCESSIBLE"), Revoked),
        (404, Some("INVALID_ACCOUNT_ID"), Revoked),
        (401, Some("UNAUTHORIZED_ACCESS"), Config),
        (403, Some("ACCESS_DENIED"), Config),
        (403, Some("UNAUTHORIZED_IP"), Config),
        (400, Some("NO_ACCOUNTS_ADDED"), Config),
        (400, Some("WRONG_TRANSACTIONS_PERIOD"), Config),
        (422, Some("DATE_FROM_IN_FUTURE"), Config),
        (408, None, Temporary(Timeout)),
        (500, None, Temporary(ProviderDown)),
    ];
    for (status, code, kind) in cases {
        let fault = match code {
            Some(code) => Fault::new(status, code),
            None => Fault::plain(status, "Internal error"),
        };
        api.fail_next(fault.on("/transactions"));
        let error = connector
            .fetch(&consent, "hash-current-FI2112345600000785", now().date_naive(), ctx(now()))
            .await
            .unwrap_err();
        assert_eq!(error.kind, kind, "{code:?} {status}: {error:?}");
        assert_eq!(error.code, code.map_or(format!("http_{status}"), str::to_string));
        assert_safe(&error);
    }
    assert_eq!(api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn an_inactive_application_is_the_operators_problem() {
    let api = EnableBankingApi::start(APP, now()).await;
    api.set_active(false);
    let error = connector(&api).institutions(ctx(now())).await.unwrap_err();
    assert_eq!(error.kind, FailureKind::Config);
    assert!(error.detail.contains("Application is not active"), "{}", error.detail);
    assert_eq!(api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn expired_and_revoked_sessions_ask_for_a_reconnect() {
    let api = EnableBankingApi::start(APP, now()).await;
    let connector = connector(&api);
    let consent = connect_at(&connector, &api, now()).await;
    api.set_session_status("REVOKED");
    let error = connector.discover(&consent, ctx(now())).await.unwrap_err();
    assert_eq!((error.kind, error.code.as_str()), (FailureKind::Revoked, "REVOKED"));
    api.set_session_status("AUTHORIZED");
    let after_expiry = consent.valid_until + TimeDelta::minutes(1);
    api.set_now(after_expiry);
    let error = connector.discover(&consent, ctx(after_expiry)).await.unwrap_err();
    assert_eq!((error.kind, error.code.as_str()), (FailureKind::Expired, "EXPIRED"));
    assert_eq!(api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn the_banks_four_unattended_reads_a_day_and_user_present_reads_beyond_them() {
    let api = EnableBankingApi::start(APP, now()).await;
    let connector = connector(&api);
    let consent = connect_at(&connector, &api, now()).await;
    let account = "hash-savings-FI4350000220000456";
    let today = now().date_naive();
    for _ in 0..UNATTENDED_PER_DAY {
        connector.fetch(&consent, account, today, ctx(now())).await.unwrap();
    }
    let error = connector.fetch(&consent, account, today, ctx(now())).await.unwrap_err();
    assert_eq!(error.kind, FailureKind::Temporary(TemporaryCause::RateLimited));
    assert_eq!(error.retry_at, Some(Utc.with_ymd_and_hms(2024, 1, 17, 0, 0, 0).unwrap()));
    // The user asking for an update is not an unattended access: the bank still answers.
    connector.fetch(&consent, account, today, present(now())).await.unwrap();
    let last = api.requests().into_iter().rfind(|r| r.path.ends_with("/transactions")).unwrap();
    assert_eq!(last.psu_ip_address.as_deref(), Some("192.0.2.7"));
    assert_eq!(api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn one_account_failing_leaves_the_others_readable() {
    let api = EnableBankingApi::start(APP, now()).await;
    let connector = connector(&api);
    let consent = connect_at(&connector, &api, now()).await;
    let items = connector.discover(&consent, ctx(now())).await.unwrap();
    api.fail_next(Fault::new(404, "ASPSP_ACCOUNT_NOT_ACCESSIBLE").on("/balances"));
    let today = now().date_naive();
    let first = connector.fetch(&consent, &items[0].provider_item_id, today, ctx(now())).await.unwrap_err();
    assert_eq!(first.kind, FailureKind::Revoked);
    for item in &items[1..] {
        connector.fetch(&consent, &item.provider_item_id, today, ctx(now())).await.unwrap();
    }
    // An account the bank stops showing is left out of discovery; the others stay.
    let mut fewer = example_accounts();
    fewer.remove(1);
    api.set_accounts(fewer);
    let items = connector.discover(&consent, ctx(now())).await.unwrap();
    assert_eq!(items.len(), 2);
    // So is one kept in something that is not an ISO currency.
    let mut odd = example_accounts();
    odd[2].details["currency"] = serde_json::json!("POINTS");
    api.set_accounts(odd);
    let items = connector.discover(&consent, ctx(now())).await.unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(items.iter().all(|i| i.provider_item_id != "hash-card-1234"));
    assert_eq!(api.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_malformed_answer_names_the_field() {
    let api = EnableBankingApi::start(APP, now()).await;
    let connector = connector(&api);
    let consent = connect_at(&connector, &api, now()).await;
    let mut broken = example_accounts();
    broken[0].transactions[1]["transaction_amount"]["amount"] = serde_json::json!("twelve");
    api.set_accounts(broken);
    let since = now().date_naive() - TimeDelta::days(30);
    let error = connector.fetch(&consent, "hash-current-FI2112345600000785", since, ctx(now())).await.unwrap_err();
    assert_eq!(error.kind, FailureKind::Temporary(TemporaryCause::Unknown));
    assert!(error.detail.contains("transactions[1].transaction_amount.amount"), "{}", error.detail);
    assert_eq!(api.violations(), Vec::<String>::new());
}

/// The emulator catches what the API does not allow: here, a JWT signed with a key that is not the
/// application's. The connector reports it as the operator's problem.
#[tokio::test]
async fn a_request_the_api_does_not_allow_is_caught() {
    let api = EnableBankingApi::start(APP, now()).await;
    let error = connector_with_key(&api, OTHER_PRIVATE_KEY).institutions(ctx(now())).await.unwrap_err();
    assert_eq!((error.kind, error.code.as_str()), (FailureKind::Config, "UNAUTHORIZED_ACCESS"));
    assert_safe(&error);
    let violations = api.violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains("JWT"), "{violations:?}");
}
