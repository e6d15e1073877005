//! Contract tests of the Berlin Group (XS2A) connector against the emulated bank, over real HTTP on
//! loopback: both SCA approaches end to end, paging, the booking-status fallback, the daily count
//! of accesses without the user, expiry, revocation, reconnects with new account ids, partial
//! failure, the client certificate, and every AIS error code of providers.md §3 and §7. Each test
//! also checks that the connector sent nothing the standard does not allow.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use saldo_connectors::berlin_group::{BerlinGroup, BerlinGroupBank, BerlinGroupSettings, ScaApproach};
use saldo_connectors::http::Transport;
use saldo_connectors::{AuthAnswer, AuthMethod, AuthRequest, AuthStart, CallContext, Connector, Consent};
use saldo_core::account::AccountKind;
use saldo_core::failure::{Failure, FailureKind, TemporaryCause};
use saldo_core::money::{Currency, Money};
use saldo_core::transaction::TransactionStatus;
use saldo_emulators::berlin_group::{Account, Approach, Aspsp, Fault, RecordedRequest, AIS_ERROR_CODES};
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

const BANK: &str = "demo-bank-de";
const EUR_IBAN: &str = "DE2310010010123456789";
const USD_IBAN: &str = "DE2310010010123456788";
const EUR_ID: &str = "3dc3d5b3-7023-4848-9853-f5400a64e80f";
const USD_ID: &str = "3dc3d5b3-7023-4848-9853-f5400a64e81e";

/// Two days after the examples' bookings (2017-10-25).
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2017, 10, 27, 10, 0, 0).unwrap()
}

fn today() -> NaiveDate {
    now().date_naive()
}

fn psu_ip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 168, 8, 78))
}

fn user(now: DateTime<Utc>) -> CallContext {
    CallContext { now, user_present: true, psu_ip_address: Some(psu_ip()) }
}

fn unattended(now: DateTime<Utc>) -> CallContext {
    CallContext::unattended(now)
}

fn bank_config(aspsp: &Aspsp, approach: ScaApproach) -> BerlinGroupBank {
    let mut bank = BerlinGroupBank::new(BANK, "Demo Bank", &aspsp.base_url(), approach);
    bank.country = Some("DE".into());
    bank.bic = Some("DEMODEFFXXX".into());
    bank
}

fn transport() -> Transport {
    Transport { allow_insecure_loopback: true, timeout: Duration::from_secs(5) }
}

fn connector_for(banks: Vec<BerlinGroupBank>) -> BerlinGroup {
    BerlinGroup::new(BerlinGroupSettings { banks, transport: transport() }).with_polling(3, Duration::from_millis(10))
}

async fn start(approach: Approach) -> (Aspsp, BerlinGroup) {
    let aspsp = Aspsp::start(approach).await;
    aspsp.set_today(today());
    let sca = if approach == Approach::Redirect { ScaApproach::Redirect } else { ScaApproach::Decoupled };
    let connector = connector_for(vec![bank_config(&aspsp, sca)]);
    (aspsp, connector)
}

fn request() -> AuthRequest {
    AuthRequest {
        institution_id: BANK.into(),
        user_key: "conn-1".into(),
        redirect_url: "https://saldo.example/callback/berlin_group".into(),
        state: "state-0123".into(),
        resume: None,
    }
}

fn query_of(url: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(url).unwrap().query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// The consent id in the emulator's SCA page URL (`…/psd2/sca/{id}`).
fn consent_of_page(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_string()
}

async fn begin_redirect(connector: &BerlinGroup) -> String {
    match connector.begin_authorization(&request(), user(now())).await.unwrap() {
        AuthStart::Redirect { url, .. } => url,
        other => panic!("a redirect bank starts with a redirect: {other:?}"),
    }
}

/// Authorises at the bank in the browser and completes with the redirect's parameters.
async fn connect(connector: &BerlinGroup, aspsp: &Aspsp) -> Consent {
    let page = begin_redirect(connector).await;
    let back = aspsp.approve(&consent_of_page(&page));
    let answer = AuthAnswer::Callback { params: query_of(&back) };
    connector.complete_authorization(&request(), &answer, user(now())).await.unwrap()
}

fn assert_no_violations(aspsp: &Aspsp) {
    assert_eq!(aspsp.violations(), Vec::<String>::new(), "requests the standard does not allow");
}

/// Failures never show the consent id (it is what grants access, with saldo's certificate).
fn assert_safe(failure: &Failure, consent: &Consent) {
    assert!(!failure.detail.contains(&consent.id), "{}", failure.detail);
    assert!(!failure.code.contains(&consent.id));
    assert!(failure.detail.chars().count() <= 600, "{}", failure.detail);
}

fn money(text: &str, currency: &str) -> Money {
    Money::parse(text, Currency::parse(currency).unwrap()).unwrap()
}

fn account_requests(aspsp: &Aspsp) -> Vec<RecordedRequest> {
    aspsp.requests().into_iter().filter(|r| r.is_account_call()).collect()
}

async fn fetch_err(connector: &BerlinGroup, consent: &Consent, id: &str, ctx: CallContext) -> Failure {
    let failure = connector.fetch(consent, id, today() - TimeDelta::days(30), ctx).await.unwrap_err();
    assert_safe(&failure, consent);
    failure
}

#[tokio::test]
async fn every_configured_bank_is_an_institution() {
    let aspsp = Aspsp::start(Approach::Redirect).await;
    let mut decoupled = bank_config(&aspsp, ScaApproach::Decoupled);
    decoupled.id = "app-bank-se".into();
    decoupled.name = "App Bank".into();
    decoupled.frequency_per_day = 2;
    decoupled.max_history_days = 730;
    decoupled.max_consent_days = 90;
    let connector = connector_for(vec![bank_config(&aspsp, ScaApproach::Redirect), decoupled]);
    assert_eq!(connector.name(), "berlin_group");
    let list = connector.institutions(unattended(now())).await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!((list[0].id.as_str(), list[0].name.as_str()), (BANK, "Demo Bank"));
    assert_eq!((list[0].country.as_deref(), list[0].bic.as_deref()), (Some("DE"), Some("DEMODEFFXXX")));
    assert_eq!(list[0].auth_method, AuthMethod::Redirect);
    assert_eq!((list[0].max_history_days, list[0].max_consent_days, list[0].accesses_per_day), (90, 180, Some(4)));
    assert_eq!(list[1].auth_method, AuthMethod::Decoupled);
    assert_eq!((list[1].max_history_days, list[1].max_consent_days, list[1].accesses_per_day), (730, 90, Some(2)));

    let mut elsewhere = request();
    elsewhere.institution_id = "nope".into();
    let failure = connector.begin_authorization(&elsewhere, user(now())).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Unsupported);
    assert!(aspsp.requests().is_empty());
}

#[tokio::test]
async fn redirect_lifecycle_from_consent_to_revocation() {
    let (aspsp, connector) = start(Approach::Redirect).await;
    let page = begin_redirect(&connector).await;
    assert!(page.starts_with(&format!("{}/sca/", aspsp.base_url())), "{page}");

    // The consent request: every header and body field the standard asks for.
    let requests = aspsp.requests();
    let create = &requests[0];
    assert_eq!((create.method.as_str(), create.path.as_str()), ("POST", "/v1/consents"));
    assert_eq!(create.header("PSU-IP-Address"), Some("192.168.8.78"));
    assert_eq!(create.header("TPP-Redirect-Preferred"), Some("true"));
    let ok = create.header("TPP-Redirect-URI").unwrap();
    assert_eq!(query_of(ok), [("state".to_string(), "state-0123".to_string())]);
    assert!(create.header("TPP-Nok-Redirect-URI").unwrap().ends_with("state=state-0123&error=rejected"));
    let body = create.body.clone().unwrap();
    assert_eq!(body["access"], json!({"allPsd2": "allAccounts"}));
    assert_eq!(body["recurringIndicator"], json!(true));
    assert_eq!(body["validUntil"], json!("2018-04-25"));
    assert_eq!(body["frequencyPerDay"], json!(4));
    assert_eq!(body["combinedServiceIndicator"], json!(false));
    // The authorisation is started explicitly, with a redirect URI that names the consent.
    let consent_id = consent_of_page(&page);
    let started = &requests[1];
    assert_eq!(started.path, format!("/v1/consents/{consent_id}/authorisations"));
    let redirect = query_of(started.header("TPP-Redirect-URI").unwrap());
    assert!(redirect.contains(&("consent".into(), consent_id.clone())), "{redirect:?}");
    assert!(redirect.contains(&("state".into(), "state-0123".into())));

    // The browser comes back; a new connector stands for another saldo process.
    let back = aspsp.approve(&consent_id);
    let elsewhere = connector_for(vec![bank_config(&aspsp, ScaApproach::Redirect)]);
    let answer = AuthAnswer::Callback { params: query_of(&back) };
    let consent = elsewhere.complete_authorization(&request(), &answer, user(now())).await.unwrap();
    assert_eq!(consent.id, consent_id);
    assert_eq!(consent.institution_id, BANK);
    assert_eq!(consent.granted_at, now());
    assert_eq!(consent.valid_until, Utc.with_ymd_and_hms(2018, 4, 26, 0, 0, 0).unwrap());
    assert_eq!(consent.scope, ["accounts", "balances", "transactions"]);
    assert_eq!((consent.max_history_days, consent.accesses_per_day, consent.secret.is_none()), (90, Some(4), true));

    let items = connector.discover(&consent, unattended(now())).await.unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!((items[0].provider_item_id.as_str(), items[0].iban.as_deref()), (EUR_ID, Some(EUR_IBAN)));
    assert_eq!(
        (items[0].name.as_str(), items[0].kind, items[0].currency),
        ("Main Account", AccountKind::Cash, Currency::EUR)
    );
    assert_eq!((items[1].provider_item_id.as_str(), items[1].iban.as_deref()), (USD_ID, Some(USD_IBAN)));
    assert_eq!((items[1].name.as_str(), items[1].currency.code()), ("US Dollar Account", "USD"));

    let eur = connector.fetch(&consent, EUR_ID, today() - TimeDelta::days(30), unattended(now())).await.unwrap();
    assert_eq!(eur.balance, Some(money("500.00", "EUR")), "closingBooked wins over expected");
    assert_eq!(eur.transactions.len(), 3);
    let booked: Vec<_> = eur.transactions.iter().filter(|t| t.status == TransactionStatus::Booked).collect();
    assert_eq!(booked.len(), 2);
    assert_eq!((booked[0].provider_id.as_deref(), booked[0].amount), (Some("1234567"), money("256.67", "EUR")));
    assert_eq!(booked[1].counterparty.as_deref(), Some("Paul Simpson"));
    let pending = eur.transactions.iter().find(|t| t.status == TransactionStatus::Pending).unwrap();
    assert_eq!((pending.amount, pending.description.as_str()), (money("-100.03", "EUR"), "Example 3"));
    let usd = connector.fetch(&consent, USD_ID, today() - TimeDelta::days(30), unattended(now())).await.unwrap();
    assert_eq!(usd.balance, Some(money("350.00", "USD")));
    assert_eq!(usd.transactions.len(), 1);
    assert_eq!(usd.transactions[0].amount, money("100", "USD"));

    // Account calls carry the consent and no PSU address (nobody is there).
    for call in account_requests(&aspsp) {
        assert_eq!(call.header("Consent-ID"), Some(consent_id.as_str()));
        assert_eq!(call.header("PSU-IP-Address"), None);
    }
    let report = account_requests(&aspsp).into_iter().find(|r| r.path.ends_with("/transactions")).unwrap();
    assert_eq!(report.param("dateFrom"), Some("2017-09-27"));
    assert_eq!(report.param("dateTo"), Some("2017-10-27"));
    assert_eq!(report.param("bookingStatus"), Some("both"));

    connector.revoke(&consent, user(now())).await.unwrap();
    assert_eq!(aspsp.consent_status(&consent_id).as_deref(), Some("terminatedByTpp"));
    connector.revoke(&consent, user(now())).await.unwrap();
    let failure = fetch_err(&connector, &consent, EUR_ID, unattended(now())).await;
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Revoked, "CONSENT_INVALID"));
    assert!(failure.detail.contains("terminatedByTpp"), "{}", failure.detail);
    assert_no_violations(&aspsp);
}

#[tokio::test]
async fn history_is_asked_for_within_the_banks_limit() {
    let (aspsp, connector) = start(Approach::Redirect).await;
    let consent = connect(&connector, &aspsp).await;
    connector.fetch(&consent, EUR_ID, today() - TimeDelta::days(400), unattended(now())).await.unwrap();
    connector.fetch(&consent, EUR_ID, today() + TimeDelta::days(3), user(now())).await.unwrap();
    let reports: Vec<_> = account_requests(&aspsp).into_iter().filter(|r| r.path.ends_with("/transactions")).collect();
    assert_eq!(reports[0].param("dateFrom"), Some("2017-07-30"), "today - 90 days + 1");
    assert_eq!(reports[1].param("dateFrom"), Some("2017-10-27"), "never after today");
    assert_no_violations(&aspsp);
}

#[tokio::test]
async fn a_bank_that_starts_the_authorisation_itself_is_completed_with_what_saldo_kept() {
    let (aspsp, connector) = start(Approach::Redirect).await;
    aspsp.set_explicit_start(false);
    let AuthStart::Redirect { url: page, resume } =
        connector.begin_authorization(&request(), user(now())).await.unwrap()
    else {
        panic!("a redirect bank starts with a redirect")
    };
    assert_eq!(aspsp.requests().len(), 1, "no authorisation to start");
    assert_eq!(resume.as_deref(), Some(consent_of_page(&page).as_str()), "the consent id is handed to saldo to keep");
    let back = aspsp.approve(&consent_of_page(&page));
    let params = query_of(&back);
    assert!(params.iter().all(|(k, _)| k != "consent"), "the redirect URI was sent before the consent existed");

    // Another process completes it with what saldo kept; without it, the failure says so.
    let other_process = connector_for(vec![bank_config(&aspsp, ScaApproach::Redirect)]);
    let answer = AuthAnswer::Callback { params };
    let failure = other_process.complete_authorization(&request(), &answer, user(now())).await.unwrap_err();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Config, "consent_id_unknown"));
    let kept = AuthRequest { resume, ..request() };
    let consent = other_process.complete_authorization(&kept, &answer, user(now())).await.unwrap();
    assert_eq!(consent.id, consent_of_page(&page));
    assert_no_violations(&aspsp);
}

#[tokio::test]
async fn a_refused_or_unfinished_redirect_needs_the_user() {
    let (aspsp, connector) = start(Approach::Redirect).await;
    let page = begin_redirect(&connector).await;
    let back = aspsp.reject(&consent_of_page(&page));
    assert!(query_of(&back).contains(&("error".into(), "rejected".into())), "the Nok URI: {back}");
    let answer = AuthAnswer::Callback { params: query_of(&back) };
    let failure = connector.complete_authorization(&request(), &answer, user(now())).await.unwrap_err();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::InvalidCredentials, "rejected"));

    // Back at saldo without finishing at the bank: the consent stays `received`.
    let page = begin_redirect(&connector).await;
    let consent_id = consent_of_page(&page);
    let params = vec![("state".to_string(), "state-0123".to_string()), ("consent".to_string(), consent_id.clone())];
    let answer = AuthAnswer::Callback { params: params.clone() };
    let failure = connector.complete_authorization(&request(), &answer, user(now())).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::ActionRequired);
    let polls = aspsp.requests().iter().filter(|r| r.path.ends_with(&format!("{consent_id}/status"))).count();
    assert_eq!(polls, 3, "polled as often as configured");
    aspsp.set_consent_status(&consent_id, "partiallyAuthorised");
    let failure = connector.complete_authorization(&request(), &answer, user(now())).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::ActionRequired);

    // A redirect for another authorisation is refused.
    let mut wrong = params;
    wrong[0].1 = "state-other".into();
    let failure =
        connector.complete_authorization(&request(), &AuthAnswer::Callback { params: wrong }, user(now())).await;
    assert_eq!(failure.unwrap_err().code, "state_mismatch");
    assert_no_violations(&aspsp);
}

#[tokio::test]
async fn decoupled_lifecycle_with_polling() {
    let (aspsp, connector) = start(Approach::Decoupled).await;
    let AuthStart::Decoupled { reference, instructions } =
        connector.begin_authorization(&request(), user(now())).await.unwrap()
    else {
        panic!("a decoupled bank starts in the app");
    };
    assert_eq!(instructions, "Please use your BankApp for transaction Authorisation.");
    let create = &aspsp.requests()[0];
    assert_eq!(create.header("TPP-Redirect-Preferred"), Some("false"));
    assert_eq!(create.header("TPP-Decoupled-Preferred"), Some("true"));
    let consent_id = aspsp.consent_ids()[0].clone();
    assert!(reference.starts_with(&consent_id), "{reference}");

    let answer = AuthAnswer::Decoupled { reference: reference.clone() };
    let failure = connector.complete_authorization(&request(), &answer, user(now())).await.unwrap_err();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::ActionRequired, "sca_pending"));
    assert!(failure.detail.contains("banking app"), "{}", failure.detail);
    assert!(aspsp.requests().iter().any(|r| r.path.contains("/authorisations/")), "the scaStatus is read");

    aspsp.approve_decoupled(&consent_id);
    // Completed in another process: the reference is all it needs.
    let elsewhere = connector_for(vec![bank_config(&aspsp, ScaApproach::Decoupled)]);
    let consent = elsewhere.complete_authorization(&request(), &answer, user(now())).await.unwrap();
    assert_eq!(consent.id, consent_id);
    let items = elsewhere.discover(&consent, user(now())).await.unwrap();
    assert_eq!(items.len(), 2);
    let data = elsewhere.fetch(&consent, &items[0].provider_item_id, today(), user(now())).await.unwrap();
    assert_eq!(data.balance, Some(money("500.00", "EUR")));

    // Refused in the app.
    let AuthStart::Decoupled { reference, .. } = connector.begin_authorization(&request(), user(now())).await.unwrap()
    else {
        panic!("decoupled");
    };
    aspsp.reject_decoupled(aspsp.consent_ids().last().unwrap());
    let failure = connector.complete_authorization(&request(), &AuthAnswer::Decoupled { reference }, user(now())).await;
    assert_eq!(failure.unwrap_err().kind, FailureKind::InvalidCredentials);
    assert_no_violations(&aspsp);
}

#[tokio::test]
async fn a_decoupled_authorisation_the_bank_starts_itself_is_polled_by_its_sca_status() {
    let (aspsp, connector) = start(Approach::Decoupled).await;
    aspsp.set_explicit_start(false);
    let AuthStart::Decoupled { reference, instructions } =
        connector.begin_authorization(&request(), user(now())).await.unwrap()
    else {
        panic!("decoupled");
    };
    assert_eq!(aspsp.requests().len(), 1);
    assert!(instructions.contains("BankApp"), "{instructions}");
    assert!(reference.contains('~'), "consent and authorisation: {reference}");
    aspsp.reject_decoupled(&aspsp.consent_ids()[0]);
    // The consent is `rejected` now, and the authorisation `failed`.
    let failure = connector.complete_authorization(&request(), &AuthAnswer::Decoupled { reference }, user(now())).await;
    assert_eq!(failure.unwrap_err().kind, FailureKind::InvalidCredentials);
    assert_no_violations(&aspsp);
}

#[tokio::test]
async fn transaction_reports_are_read_page_by_page() {
    for absolute in [false, true] {
        let (aspsp, connector) = start(Approach::Redirect).await;
        let consent = connect(&connector, &aspsp).await;
        aspsp.set_page_size(1);
        aspsp.set_absolute_links(absolute);
        let data = connector.fetch(&consent, EUR_ID, today() - TimeDelta::days(10), unattended(now())).await.unwrap();
        assert_eq!(data.transactions.len(), 3);
        assert_eq!(data.transactions.iter().filter(|t| t.status == TransactionStatus::Pending).count(), 1);
        let pages: Vec<_> =
            account_requests(&aspsp).into_iter().filter(|r| r.path.ends_with("/transactions")).collect();
        assert_eq!(pages.len(), 3);
        assert_eq!(pages.iter().map(|p| p.param("pageIndex")).collect::<Vec<_>>(), [None, Some("1"), Some("2")]);
        assert!(pages.iter().all(|p| p.param("dateFrom") == Some("2017-10-17")));
        // A next page continues the access: only the first counts.
        assert_eq!(pages.iter().filter(|p| p.counted).count(), 1);
        assert_no_violations(&aspsp);
    }
}

#[tokio::test]
async fn a_next_page_on_another_host_is_refused() {
    let (aspsp, connector) = start(Approach::Redirect).await;
    let consent = connect(&connector, &aspsp).await;
    let body = json!({"transactions": {"booked": [], "_links": {"next": {"href": "https://evil.example/psd2/v1/accounts/x/transactions?pageIndex=1"}}}});
    aspsp.fail_next_for("/transactions", Fault::Body { status: 200, body: body.to_string() });
    let failure = fetch_err(&connector, &consent, EUR_ID, unattended(now())).await;
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Config, "foreign_link"));
    assert!(failure.detail.contains("evil.example") && !failure.detail.contains("pageIndex"), "{}", failure.detail);
    assert_no_violations(&aspsp);
}

#[tokio::test]
async fn banks_without_both_get_booked_then_pending() {
    let (aspsp, connector) = start(Approach::Redirect).await;
    let consent = connect(&connector, &aspsp).await;
    aspsp.set_booking_statuses(false, true);
    let data = connector.fetch(&consent, EUR_ID, today() - TimeDelta::days(5), user(now())).await.unwrap();
    assert_eq!(data.transactions.len(), 3);
    let asked = |aspsp: &Aspsp| -> Vec<String> {
        account_requests(aspsp).into_iter().filter_map(|r| r.param("bookingStatus").map(str::to_string)).collect()
    };
    assert_eq!(asked(&aspsp), ["both", "booked", "pending"]);
    // Remembered: the next fetch does not ask for `both` again.
    connector.fetch(&consent, USD_ID, today() - TimeDelta::days(5), user(now())).await.unwrap();
    assert_eq!(asked(&aspsp), ["both", "booked", "pending", "booked", "pending"]);

    // A bank with `booked` only: pending is optional in the standard.
    let (aspsp, connector) = start(Approach::Redirect).await;
    let consent = connect(&connector, &aspsp).await;
    aspsp.set_booking_statuses(false, false);
    let data = connector.fetch(&consent, EUR_ID, today() - TimeDelta::days(5), user(now())).await.unwrap();
    assert_eq!(data.transactions.len(), 2);
    assert!(data.transactions.iter().all(|t| t.status == TransactionStatus::Booked));
    assert_no_violations(&aspsp);
}

/// What each AIS code means for the user (providers.md §3 and §7).
fn expected_kind(code: &str) -> FailureKind {
    use FailureKind::*;
    match code {
        "ACCESS_EXCEEDED" => Temporary(TemporaryCause::RateLimited),
        "TOKEN_EXPIRED" | "STATUS_INVALID" => Temporary(TemporaryCause::Unknown),
        "CONSENT_EXPIRED" | "CONSENT_INVALID" | "RESOURCE_EXPIRED" => Expired,
        "CONSENT_UNKNOWN" | "RESOURCE_UNKNOWN" | "RESOURCE_BLOCKED" => Revoked,
        "PSU_CREDENTIALS_INVALID" | "SCA_INVALID" => InvalidCredentials,
        "SERVICE_BLOCKED" => Unsupported,
        _ => Config,
    }
}

#[tokio::test]
async fn every_ais_error_code_is_classified() {
    let (aspsp, connector) = start(Approach::Redirect).await;
    let consent = connect(&connector, &aspsp).await;
    for (index, (status, code)) in AIS_ERROR_CODES.iter().enumerate() {
        // Both error shapes a bank may use.
        let fault = if index % 2 == 0 { Fault::code(*status, code) } else { Fault::problem(*status, code) };
        aspsp.fail_next(fault);
        let failure = fetch_err(&connector, &consent, EUR_ID, unattended(now())).await;
        assert_eq!((failure.kind, failure.code.as_str()), (expected_kind(code), *code), "{status} {code}");
        if *code == "ACCESS_EXCEEDED" {
            assert_eq!(failure.retry_at, Some(Utc.with_ymd_and_hms(2017, 10, 28, 0, 0, 0).unwrap()));
        }
    }
    for status in [500, 503] {
        aspsp.fail_next(Fault::Status(status));
        let failure = fetch_err(&connector, &consent, EUR_ID, unattended(now())).await;
        assert_eq!(failure.kind, FailureKind::Temporary(TemporaryCause::ProviderDown), "{status}");
    }
    aspsp.fail_next(Fault::code(400, "SOMETHING_NEW"));
    let failure = fetch_err(&connector, &consent, EUR_ID, unattended(now())).await;
    assert_eq!(
        (failure.kind, failure.code.as_str()),
        (FailureKind::Temporary(TemporaryCause::Unknown), "SOMETHING_NEW")
    );
    // Discovery and consent creation are classified the same way.
    aspsp.fail_next(Fault::code(403, "SERVICE_BLOCKED"));
    assert_eq!(connector.discover(&consent, unattended(now())).await.unwrap_err().kind, FailureKind::Unsupported);
    aspsp.fail_next(Fault::code(401, "CERTIFICATE_EXPIRED"));
    let failure = connector.begin_authorization(&request(), user(now())).await.unwrap_err();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Config, "CERTIFICATE_EXPIRED"));
    // The data reads again once the faults are spent.
    connector.fetch(&consent, EUR_ID, today(), unattended(now())).await.unwrap();
    assert_no_violations(&aspsp);
}

#[tokio::test]
async fn the_daily_frequency_counts_only_unattended_calls() {
    let (aspsp, connector) = start(Approach::Redirect).await;
    let consent = connect(&connector, &aspsp).await;
    let since = today() - TimeDelta::days(5);
    for _ in 0..4 {
        connector.fetch(&consent, EUR_ID, since, unattended(now())).await.unwrap();
    }
    let failure = fetch_err(&connector, &consent, EUR_ID, unattended(now())).await;
    assert_eq!(
        (failure.kind, failure.code.as_str()),
        (FailureKind::Temporary(TemporaryCause::RateLimited), "ACCESS_EXCEEDED")
    );
    assert_eq!(failure.retry_at, Some(Utc.with_ymd_and_hms(2017, 10, 28, 0, 0, 0).unwrap()));

    // The user asking is not counted: PSU-IP-Address goes with it.
    for _ in 0..3 {
        connector.fetch(&consent, EUR_ID, since, user(now())).await.unwrap();
    }
    let calls = account_requests(&aspsp);
    let present: Vec<_> = calls.iter().filter(|r| r.header("PSU-IP-Address").is_some()).collect();
    assert_eq!(present.len(), 6);
    assert!(present.iter().all(|r| !r.counted && r.header("PSU-IP-Address") == Some("192.168.8.78")));
    assert_eq!(calls.iter().filter(|r| r.counted).count(), 8, "4 syncs × (balances + transactions)");
    // Still used up without the user; the other account has its own count.
    assert_eq!(fetch_err(&connector, &consent, EUR_ID, unattended(now())).await.code, "ACCESS_EXCEEDED");
    connector.fetch(&consent, USD_ID, since, unattended(now())).await.unwrap();

    // A new day, a new count.
    let tomorrow = now() + TimeDelta::days(1);
    aspsp.set_today(tomorrow.date_naive());
    connector.fetch(&consent, EUR_ID, since, unattended(tomorrow)).await.unwrap();
    assert_no_violations(&aspsp);
}

#[tokio::test]
async fn expiry_and_revocation_are_told_apart_by_the_consent_status() {
    let (aspsp, connector) = start(Approach::Redirect).await;
    let consent = connect(&connector, &aspsp).await;
    aspsp.expire(&consent.id);
    let failure = fetch_err(&connector, &consent, EUR_ID, unattended(now())).await;
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Expired, "CONSENT_EXPIRED"));
    let failure = connector.discover(&consent, unattended(now())).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Expired);

    let consent = connect(&connector, &aspsp).await;
    aspsp.revoke_by_psu(&consent.id);
    let failure = fetch_err(&connector, &consent, EUR_ID, unattended(now())).await;
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Revoked, "CONSENT_INVALID"));
    assert!(failure.detail.contains("revokedByPsu"), "{}", failure.detail);

    // An adorsys-style CONSENT_INVALID for a consent that ran out is an expiry.
    let consent = connect(&connector, &aspsp).await;
    aspsp.expire(&consent.id);
    aspsp.fail_next(Fault::code(401, "CONSENT_INVALID"));
    let failure = fetch_err(&connector, &consent, EUR_ID, unattended(now())).await;
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Expired, "CONSENT_INVALID"));

    // Past its validUntil, the bank lets the consent expire by itself.
    let consent = connect(&connector, &aspsp).await;
    let later = now() + TimeDelta::days(181);
    aspsp.set_today(later.date_naive());
    let failure = fetch_err(&connector, &consent, EUR_ID, unattended(later)).await;
    assert_eq!(failure.kind, FailureKind::Expired);
    assert_no_violations(&aspsp);
}

#[tokio::test]
async fn a_reconnect_with_new_account_ids_keeps_the_ibans() {
    let (aspsp, connector) = start(Approach::Redirect).await;
    let first = connect(&connector, &aspsp).await;
    let before = connector.discover(&first, unattended(now())).await.unwrap();
    let new_ids = aspsp.reassign_resource_ids();
    let failure = fetch_err(&connector, &first, EUR_ID, unattended(now())).await;
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Revoked, "RESOURCE_UNKNOWN"));

    let second = connect(&connector, &aspsp).await;
    assert_ne!(second.id, first.id);
    let after = connector.discover(&second, user(now())).await.unwrap();
    assert_eq!(after.iter().map(|i| i.provider_item_id.clone()).collect::<Vec<_>>(), new_ids);
    for (old, new) in before.iter().zip(&after) {
        assert_ne!(old.provider_item_id, new.provider_item_id);
        assert_eq!(old.iban, new.iban, "saldo re-links by IBAN");
    }
    let data = connector.fetch(&second, &new_ids[0], today() - TimeDelta::days(5), unattended(now())).await.unwrap();
    assert_eq!(data.transactions.len(), 3);
    // The new recurring consent ended the former one.
    assert_eq!(aspsp.consent_status(&first.id).as_deref(), Some("expired"));
    assert_eq!(fetch_err(&connector, &first, &new_ids[0], unattended(now())).await.kind, FailureKind::Expired);
    assert_no_violations(&aspsp);
}

#[tokio::test]
async fn one_failing_account_does_not_stop_the_others() {
    let (aspsp, connector) = start(Approach::Redirect).await;
    let consent = connect(&connector, &aspsp).await;
    aspsp.fail_next_for(&format!("/accounts/{USD_ID}/"), Fault::Status(500));
    let usd = fetch_err(&connector, &consent, USD_ID, unattended(now())).await;
    assert_eq!(usd.kind, FailureKind::Temporary(TemporaryCause::ProviderDown));
    let eur = connector.fetch(&consent, EUR_ID, today() - TimeDelta::days(5), unattended(now())).await.unwrap();
    assert_eq!(eur.transactions.len(), 3);

    // A blocked account leaves discovery and fails its own fetch; a deleted one is gone.
    aspsp.set_account_status(USD_ID, "blocked");
    let items = connector.discover(&consent, unattended(now())).await.unwrap();
    assert_eq!(items.iter().map(|i| i.provider_item_id.as_str()).collect::<Vec<_>>(), [EUR_ID]);
    let blocked = fetch_err(&connector, &consent, USD_ID, unattended(now())).await;
    assert_eq!((blocked.kind, blocked.code.as_str()), (FailureKind::Revoked, "RESOURCE_BLOCKED"));
    aspsp.set_account_status(USD_ID, "deleted");
    assert_eq!(connector.discover(&consent, unattended(now())).await.unwrap().len(), 1);
    assert_eq!(fetch_err(&connector, &consent, USD_ID, unattended(now())).await.kind, FailureKind::Revoked);
    connector.fetch(&consent, EUR_ID, today(), unattended(now())).await.unwrap();
    assert_no_violations(&aspsp);
}

#[tokio::test]
async fn accounts_without_data_or_with_a_card_read_too() {
    let (aspsp, connector) = start(Approach::Redirect).await;
    let mut card = Account::new("DE87200500001234567890", "EUR", "Kreditkarte").with_balances(vec![
        json!({"balanceType": "interimBooked", "balanceAmount": {"currency": "EUR", "amount": "-14355.78"}}),
    ]);
    card.details["cashAccountType"] = json!("CARD");
    card.details["maskedPan"] = json!("525412******3241");
    aspsp.set_accounts(vec![card, Account::new("DE02100100109307118603", "EUR", "Empty")]);
    let consent = connect(&connector, &aspsp).await;
    let items = connector.discover(&consent, unattended(now())).await.unwrap();
    assert_eq!((items[0].kind, items[0].masked_number.as_deref()), (AccountKind::CreditCard, Some("525412******3241")));
    let card = connector.fetch(&consent, &items[0].provider_item_id, today(), unattended(now())).await.unwrap();
    assert_eq!(card.balance, Some(money("-14355.78", "EUR")));
    let empty = connector.fetch(&consent, &items[1].provider_item_id, today(), unattended(now())).await.unwrap();
    assert_eq!((empty.balance, empty.transactions.len()), (None, 0));
    assert_no_violations(&aspsp);
}

#[tokio::test]
async fn card_accounts_are_read_from_their_own_endpoints_owed_amounts_negative() {
    let (aspsp, connector) = start(Approach::Redirect).await;
    // The framework's card account example: debits quoted positive.
    let card = Account::card("525412******3241", "EUR", "Main")
        .with_balances(vec![
            json!({"balanceType": "interimBooked", "balanceAmount": {"currency": "EUR", "amount": "644.22"}}),
        ])
        .with_transactions(
            vec![json!({"cardTransactionId": "201710020036959", "transactionDate": "2017-10-25",
                        "bookingDate": "2017-10-26", "transactionAmount": {"currency": "EUR", "amount": "8.00"},
                        "maskedPAN": "525412******3241", "transactionDetails": "WIFIMARKET.SE"})],
            vec![json!({"cardTransactionId": "201710020091863", "transactionDate": "2017-10-27",
                        "transactionAmount": {"currency": "EUR", "amount": "12.50"},
                        "transactionDetails": "CAFE"})],
        );
    aspsp.set_accounts(vec![Account::new(EUR_IBAN, "EUR", "Girokonto"), card]);
    let consent = connect(&connector, &aspsp).await;
    let items = connector.discover(&consent, unattended(now())).await.unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    let card = &items[1];
    assert_eq!(
        (card.kind, card.masked_number.as_deref(), card.iban.as_deref()),
        (AccountKind::CreditCard, Some("525412******3241"), None)
    );
    assert_eq!((card.name.as_str(), card.owner_name.as_deref()), ("Main", Some("Heike Mustermann")));
    let data = connector
        .fetch(&consent, &card.provider_item_id, today() - TimeDelta::days(60), unattended(now()))
        .await
        .unwrap();
    assert_eq!(data.balance, Some(money("-644.22", "EUR")), "what is owed is negative");
    let read: Vec<_> = data
        .transactions
        .iter()
        .map(|t| (t.provider_id.as_deref(), t.status, t.booking_date, t.amount.minor, t.description.as_str()))
        .collect();
    assert_eq!(
        read,
        vec![
            (
                Some("201710020036959"),
                TransactionStatus::Booked,
                NaiveDate::from_ymd_opt(2017, 10, 26).unwrap(),
                -800,
                "WIFIMARKET.SE"
            ),
            (
                Some("201710020091863"),
                TransactionStatus::Pending,
                NaiveDate::from_ymd_opt(2017, 10, 27).unwrap(),
                -1250,
                "CAFE"
            ),
        ]
    );
    assert!(aspsp
        .requests()
        .iter()
        .any(|r| r.path.starts_with("/v1/card-accounts/") && r.path.ends_with("/transactions")));
    assert_no_violations(&aspsp);
}

#[tokio::test]
async fn a_bank_without_the_card_account_service_has_no_cards() {
    let (aspsp, connector) = start(Approach::Redirect).await;
    aspsp.set_card_accounts_supported(false);
    let consent = connect(&connector, &aspsp).await;
    let items = connector.discover(&consent, unattended(now())).await.unwrap();
    assert_eq!(items.iter().map(|i| i.provider_item_id.as_str()).collect::<Vec<_>>(), vec![EUR_ID, USD_ID]);
    assert_no_violations(&aspsp);
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("saldo-bg-test-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

#[tokio::test]
async fn an_unreadable_client_certificate_is_the_operators_problem_naming_the_file() {
    let aspsp = Aspsp::start(Approach::Redirect).await;
    aspsp.set_today(today());
    let mut bank = bank_config(&aspsp, ScaApproach::Redirect);
    let missing = std::env::temp_dir().join("saldo-bg-test-no-such-dir/qwac.pem");
    bank.client_certificate = Some(missing.clone());
    bank.client_key = Some(temp_file("key.pem", "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n"));
    let mut other = bank_config(&aspsp, ScaApproach::Redirect);
    other.id = "other-bank".into();
    // Building the connector does not fail; each call to that bank does.
    let connector = connector_for(vec![bank.clone(), other]);
    assert_eq!(connector.institutions(unattended(now())).await.unwrap().len(), 2);
    let failure = connector.begin_authorization(&request(), user(now())).await.unwrap_err();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Config, "client_certificate_unreadable"));
    assert!(failure.detail.contains(&missing.display().to_string()), "{}", failure.detail);
    let mut elsewhere = request();
    elsewhere.institution_id = "other-bank".into();
    assert!(connector.begin_authorization(&elsewhere, user(now())).await.is_ok(), "the other bank still works");

    // Readable files that are not a certificate and key: named, their contents never shown.
    bank.client_certificate = Some(temp_file("cert.pem", "not a certificate, secret words"));
    let connector = connector_for(vec![bank.clone()]);
    let failure = connector.begin_authorization(&request(), user(now())).await.unwrap_err();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Config, "client_certificate_invalid"));
    assert!(!failure.detail.contains("secret words") && !failure.detail.contains("c2VjcmV0"), "{}", failure.detail);
    for path in [bank.client_certificate.unwrap(), bank.client_key.unwrap()] {
        let _ = std::fs::remove_file(path);
    }
    assert_no_violations(&aspsp);
}

#[tokio::test]
async fn consent_creation_needs_the_users_address() {
    let (aspsp, connector) = start(Approach::Redirect).await;
    let failure = connector.begin_authorization(&request(), unattended(now())).await.unwrap_err();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Config, "psu_ip_address_missing"));
    assert!(aspsp.requests().is_empty());
}

#[tokio::test]
async fn the_emulator_catches_a_request_the_standard_does_not_allow() {
    let aspsp = Aspsp::start(Approach::Redirect).await;
    aspsp.set_today(today());
    // An operator asking for more accesses a day than PSD2 allows without an agreement.
    let mut bank = bank_config(&aspsp, ScaApproach::Redirect);
    bank.frequency_per_day = 5;
    let connector = connector_for(vec![bank]);
    let failure = connector.begin_authorization(&request(), user(now())).await.unwrap_err();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Config, "FORMAT_ERROR"));
    let violations = aspsp.violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains("frequencyPerDay must be 1 to 4"), "{violations:?}");

    // And requests without the standard's headers.
    let client = reqwest::Client::new();
    client.get(format!("{}/v1/accounts", aspsp.base_url())).send().await.unwrap();
    let violations = aspsp.violations();
    assert!(violations[1].contains("no X-Request-ID"), "{violations:?}");
}
