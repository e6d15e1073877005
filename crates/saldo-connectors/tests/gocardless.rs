//! Contract tests of the GoCardless connector against its emulator, over real HTTP on loopback:
//! the whole lifecycle, every error providers.md lists for GoCardless, the daily limits read from
//! the headers, token renewal, the suspension rule and reconnects with new account ids. Each test
//! also checks that the connector made no request the API does not allow.

#![allow(clippy::unwrap_used)]

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use saldo_connectors::gocardless::{GoCardless, GoCardlessSettings, DEFAULT_BASE_URL};
use saldo_connectors::http::Transport;
use saldo_connectors::{AuthAnswer, AuthMethod, AuthRequest, AuthStart, CallContext, Connector, Consent, Secret};
use saldo_core::account::AccountKind;
use saldo_core::failure::{Failure, FailureKind, TemporaryCause};
use saldo_core::money::{Currency, Money};
use saldo_core::transaction::TransactionStatus;
use saldo_emulators::gocardless::{
    example_transactions, AccountSpec, Fault, GoCardlessApi, Target, EXAMPLE_ACCOUNT_ID, EXAMPLE_SECOND_ACCOUNT_ID,
    N26_INSTITUTION_ID, SANDBOX_INSTITUTION_ID,
};
use serde_json::json;
use std::time::Duration;

const MAIN: &str = EXAMPLE_ACCOUNT_ID;
const SAVINGS: &str = EXAMPLE_SECOND_ACCOUNT_ID;

/// The emulator's default clock: shortly after the examples' balances.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2021, 11, 22, 12, 0, 0).unwrap()
}

fn ctx(now: DateTime<Utc>) -> CallContext {
    CallContext::unattended(now)
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn eur(text: &str) -> Money {
    Money::parse(text, Currency::parse("EUR").unwrap()).unwrap()
}

fn settings(api: &GoCardlessApi) -> GoCardlessSettings {
    GoCardlessSettings {
        base_url: api.base_url(),
        secret_id: Secret::new(api.secret_id()),
        secret_key: Secret::new(api.secret_key()),
        countries: Vec::new(),
        transport: Transport { allow_insecure_loopback: true, timeout: Duration::from_secs(5) },
    }
}

fn connector(api: &GoCardlessApi) -> GoCardless {
    GoCardless::new(settings(api))
}

fn request(state: &str) -> AuthRequest {
    AuthRequest {
        institution_id: SANDBOX_INSTITUTION_ID.into(),
        user_key: "conn-1".into(),
        redirect_url: "https://saldo.example/callback".into(),
        state: state.into(),
        resume: None,
    }
}

/// The query of the URL the bank sends the browser back to.
fn callback(redirect: &str) -> AuthAnswer {
    let url = reqwest::Url::parse(redirect).unwrap();
    AuthAnswer::Callback { params: url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect() }
}

async fn begin(connector: &GoCardless, state: &str) -> String {
    match connector.begin_authorization(&request(state), ctx(now())).await.unwrap() {
        AuthStart::Redirect { url, .. } => url,
        other => panic!("GoCardless starts with a redirect, not {other:?}"),
    }
}

async fn connect(connector: &GoCardless, api: &GoCardlessApi, state: &str) -> Consent {
    let link = begin(connector, state).await;
    let redirect = api.complete_link(&link).unwrap();
    connector.complete_authorization(&request(state), &callback(&redirect), ctx(now())).await.unwrap()
}

fn assert_safe(failure: &Failure, api: &GoCardlessApi) {
    let mut secrets = vec![api.secret_id(), api.secret_key()];
    secrets.extend(api.issued_tokens());
    for secret in secrets {
        assert!(!failure.detail.contains(&secret), "the detail shows a secret: {}", failure.detail);
        assert!(!failure.code.contains(&secret), "the code shows a secret: {}", failure.code);
    }
    assert!(failure.detail.chars().count() <= 600, "a detail stays short: {}", failure.detail);
}

fn assert_no_violations(api: &GoCardlessApi) {
    assert_eq!(api.violations(), Vec::<String>::new(), "requests the API does not allow");
}

async fn fetch_err(
    connector: &GoCardless,
    consent: &Consent,
    account: &str,
    at: DateTime<Utc>,
    api: &GoCardlessApi,
) -> Failure {
    let failure = connector.fetch(consent, account, day("2021-11-01"), ctx(at)).await.unwrap_err();
    assert_safe(&failure, api);
    failure
}

#[tokio::test]
async fn institutions_are_listed_per_country_with_their_limits_and_logos() {
    let api = GoCardlessApi::start().await;
    let mut germany = settings(&api);
    germany.countries = vec!["de".into()];
    let connector = GoCardless::new(germany);
    assert_eq!(connector.name(), "gocardless");
    let listed = connector.institutions(ctx(now())).await.unwrap();
    // The example lists N26 twice; saldo lists it once.
    assert_eq!(listed.len(), 1, "{listed:?}");
    let n26 = &listed[0];
    assert_eq!(
        (n26.id.as_str(), n26.name.as_str(), n26.bic.as_deref()),
        (N26_INSTITUTION_ID, "N26 Bank", Some("NTSBDEB1"))
    );
    assert_eq!(n26.country.as_deref(), Some("DE"));
    assert_eq!(n26.auth_method, AuthMethod::Redirect);
    assert_eq!((n26.max_history_days, n26.max_consent_days, n26.accesses_per_day), (90, 90, Some(4)));
    assert_eq!(n26.logo_url.as_deref(), Some("https://cdn-logos.gocardless.com/ais/N26_SANDBOX_NTSBDEB1.png"));
    let asked = api.requests();
    assert_eq!(
        (asked.last().unwrap().path.as_str(), asked.last().unwrap().param("country")),
        ("institutions/", Some("DE"))
    );

    let everywhere = GoCardless::new(settings(&api)).institutions(ctx(now())).await.unwrap();
    let sandbox = everywhere.iter().find(|i| i.id == SANDBOX_INSTITUTION_ID).unwrap();
    assert_eq!((sandbox.country.as_deref(), sandbox.max_consent_days), (Some("XX"), 180));
    assert_eq!(api.requests().last().unwrap().param("country"), None);

    let mut wrong = settings(&api);
    wrong.countries = vec!["Germany".into()];
    let before = api.requests().len();
    let failure = GoCardless::new(wrong).institutions(ctx(now())).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Config);
    assert_eq!(api.requests().len(), before, "a bad country is refused without a request");
    assert_eq!(DEFAULT_BASE_URL, "https://bankaccountdata.gocardless.com/api/v2/");

    // An institution GoCardless does not know, and a missing callback URL.
    let mut elsewhere = request("x");
    elsewhere.institution_id = "NOPE_BANK".into();
    let failure = connector.begin_authorization(&elsewhere, ctx(now())).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Unsupported);
    let mut nowhere = request("y");
    nowhere.redirect_url = String::new();
    let before = api.requests().len();
    assert_eq!(connector.begin_authorization(&nowhere, ctx(now())).await.unwrap_err().kind, FailureKind::Config);
    assert_eq!(api.requests().len(), before);
    assert_no_violations(&api);
}

#[tokio::test]
async fn the_whole_lifecycle_from_authorisation_to_revoke() {
    let api = GoCardlessApi::start().await;
    // Other users' requisitions fill the first pages: the reference is found by paging.
    api.set_page_size(2);
    for n in 0..5 {
        api.add_foreign_requisition(&format!("someone-else-{n}"));
    }
    let first = connector(&api);
    let link = begin(&first, "state-1").await;
    assert!(link.starts_with(&api.base_url().replace("/api/v2/", "/bank/")), "{link}");
    let agreement = &api.requests().iter().find(|r| r.path == "agreements/enduser/").cloned().unwrap();
    assert_eq!(agreement.method, "POST");
    let requisition = api.requisitions().into_iter().find(|r| r["reference"] == "state-1").unwrap();
    assert_eq!(requisition["redirect"], "https://saldo.example/callback");
    assert_eq!(requisition["user_language"], "EN");
    assert_eq!(requisition["status"], "CR");

    // The bank page sends the browser back; another process completes.
    let redirect = api.complete_link(&link).unwrap();
    assert_eq!(redirect, "https://saldo.example/callback?ref=state-1");
    let second = connector(&api);
    let consent = second.complete_authorization(&request("state-1"), &callback(&redirect), ctx(now())).await.unwrap();
    assert_eq!(consent.id, requisition["id"].as_str().unwrap());
    assert_eq!(consent.institution_id, SANDBOX_INSTITUTION_ID);
    assert_eq!(consent.granted_at, now());
    assert_eq!(consent.valid_until, now() + TimeDelta::days(180), "the sandbox grants 180 days");
    assert_eq!(consent.scope, ["accounts", "balances", "transactions"]);
    assert_eq!((consent.max_history_days, consent.accesses_per_day, consent.secret.is_none()), (90, Some(4), true));
    assert!(api.count("GET", "requisitions/") >= 3, "the requisition list was paged");

    let items = second.discover(&consent, ctx(now())).await.unwrap();
    assert_eq!(items.len(), 2);
    let main = items.iter().find(|i| i.provider_item_id == MAIN).unwrap();
    assert_eq!(main.iban.as_deref(), Some("GL2010440000010445"));
    // The example pairs cashAccountType CACC with the product "Credit Card": the typed code decides.
    assert_eq!((main.name.as_str(), main.kind), ("Main Account", AccountKind::Cash));
    assert_eq!(main.currency, Currency::parse("EUR").unwrap());
    assert_eq!(main.current_value, None);
    let savings = items.iter().find(|i| i.provider_item_id == SAVINGS).unwrap();
    assert_eq!((savings.kind, savings.iban.as_deref()), (AccountKind::Savings, Some("GL5604449876543210")));

    let data = second.fetch(&consent, MAIN, day("2021-11-01"), ctx(now())).await.unwrap();
    assert_eq!(data.balance, Some(eur("1913.12")));
    let booked: Vec<_> = data.transactions.iter().filter(|t| t.status == TransactionStatus::Booked).collect();
    let pending: Vec<_> = data.transactions.iter().filter(|t| t.status == TransactionStatus::Pending).collect();
    assert_eq!(booked.len(), 2);
    assert_eq!(booked[0].amount, eur("45.00"));
    assert_eq!(booked[0].counterparty.as_deref(), Some("MON MOTHMA"));
    assert_eq!(booked[0].description, "For the support of Restoration of the Republic foundation");
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0].provider_id.as_deref(), pending[0].amount), (None, eur("99.20")));
    let asked = api.requests().into_iter().rfind(|r| r.path.ends_with("/transactions/")).unwrap();
    assert_eq!((asked.param("date_from"), asked.param("date_to")), (Some("2021-11-01"), Some("2021-11-22")));

    // A long-ago `since` is clamped to the history the consent gives.
    let savings_data = second.fetch(&consent, SAVINGS, day("2020-01-01"), ctx(now())).await.unwrap();
    assert_eq!(savings_data.balance, Some(eur("5000.00")));
    assert_eq!(savings_data.transactions[0].provider_id.as_deref(), Some("sav-1"));
    let asked = api.requests().into_iter().rfind(|r| r.path.ends_with("/transactions/")).unwrap();
    assert_eq!(asked.param("date_from"), Some("2021-08-25"));

    second.revoke(&consent, ctx(now())).await.unwrap();
    assert_eq!(api.count("DELETE", &format!("requisitions/{}/", consent.id)), 1);
    second.revoke(&consent, ctx(now())).await.unwrap();
    let gone = second.discover(&consent, ctx(now())).await.unwrap_err();
    assert_eq!(gone.kind, FailureKind::Revoked);
    assert_eq!(api.count("POST", "token/new/"), 2, "one token pair per process (connector), however many calls");
    assert_no_violations(&api);
}

#[tokio::test]
async fn the_banks_redirect_errors_and_unfinished_requisitions_are_classified() {
    let api = GoCardlessApi::start().await;
    let connector = connector(&api);
    let t = FailureKind::Temporary;
    for (n, (error, kind)) in [
        ("UserCancelledSession", FailureKind::Revoked),
        ("SSNVerificationFailed", FailureKind::InvalidCredentials),
        ("InstitutionTechnicalError", t(TemporaryCause::ProviderDown)),
        ("GoCardlessTechnicalError", t(TemporaryCause::AggregatorIncident)),
        ("RequisitionLinkReused", FailureKind::InvalidCredentials),
        ("ConsentLinkReused", FailureKind::InvalidCredentials),
        ("UnknownError", t(TemporaryCause::Unknown)),
    ]
    .into_iter()
    .enumerate()
    {
        let state = format!("s{n}");
        let link = begin(&connector, &state).await;
        let redirect = api.fail_link(&link, error, "details from the bank").unwrap();
        let failure =
            connector.complete_authorization(&request(&state), &callback(&redirect), ctx(now())).await.unwrap_err();
        assert_eq!((failure.kind, failure.code.as_str()), (kind, error));
        assert_safe(&failure, &api);
    }
    let cancelled = redirect_failure(&connector, &api, "UserCancelledSession").await;
    assert!(cancelled.detail.contains("you cancelled"), "{}", cancelled.detail);

    // A requisition the user has not finished, or one the bank rejected.
    for (status, kind) in [
        ("GA", FailureKind::ActionRequired),
        ("UA", FailureKind::ActionRequired),
        ("RJ", FailureKind::InvalidCredentials),
        ("EX", FailureKind::Expired),
    ] {
        let state = format!("status-{status}");
        let link = begin(&connector, &state).await;
        let redirect = api.complete_link(&link).unwrap();
        let id = api.requisitions().into_iter().find(|r| r["reference"] == state.as_str()).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        api.set_requisition_status(&id, status);
        let failure =
            connector.complete_authorization(&request(&state), &callback(&redirect), ctx(now())).await.unwrap_err();
        assert_eq!(failure.kind, kind, "{status}");
    }
    let unknown = connector
        .complete_authorization(
            &request("never-made"),
            &callback("https://saldo.example/callback?ref=never-made"),
            ctx(now()),
        )
        .await
        .unwrap_err();
    assert_eq!(unknown.kind, FailureKind::InvalidCredentials);
    assert_no_violations(&api);
}

async fn redirect_failure(connector: &GoCardless, api: &GoCardlessApi, error: &str) -> Failure {
    let link = begin(connector, "again").await;
    let redirect = api.fail_link(&link, error, "").unwrap();
    connector.complete_authorization(&request("again"), &callback(&redirect), ctx(now())).await.unwrap_err()
}

#[tokio::test]
async fn an_access_that_ended_after_the_consents_end_date_expired_rather_than_was_revoked() {
    // GoCardless's own words do not tell the two apart: "Access has expired or it has been revoked".
    let api = GoCardlessApi::start().await;
    let consent = connect(&connector(&api), &api, "ended").await;
    api.fail_next(Target::AccountData, Fault::AccessEnded);
    let within = fetch_err(&connector(&api), &consent, MAIN, now(), &api).await;
    assert_eq!((within.kind, within.code.as_str()), (FailureKind::Revoked, "AccessExpiredError"));
    let mut ran_out = consent.clone();
    ran_out.valid_until = now() - TimeDelta::hours(1);
    api.fail_next(Target::AccountData, Fault::AccessEnded);
    let after = fetch_err(&connector(&api), &ran_out, MAIN, now(), &api).await;
    assert_eq!((after.kind, after.code.as_str()), (FailureKind::Expired, "AccessExpiredError"));
    // Discovery says the same.
    api.fail_next(Target::AccountData, Fault::AccessEnded);
    let discovered = connector(&api).discover(&ran_out, ctx(now())).await.unwrap_err();
    assert_eq!(discovered.kind, FailureKind::Expired, "{}", discovered.detail);
}

#[tokio::test]
async fn every_account_error_of_the_table_is_classified() {
    let api = GoCardlessApi::start().await;
    let consent = connect(&connector(&api), &api, "errors").await;
    let t = FailureKind::Temporary;
    let date_error = json!({"date_from": {"summary": "Date can't be in future", "detail": "'2024-04-21' can't be greater than 2024-04-20"}, "status_code": 400});
    let cases = [
        (Fault::ServiceError, t(TemporaryCause::ProviderDown), "ServiceError"),
        (Fault::UnknownRequestError, t(TemporaryCause::Unknown), "UnknownRequestError"),
        (Fault::AccessExpired, FailureKind::Expired, "AccessExpiredError"),
        (Fault::AccessRevoked, FailureKind::Revoked, "AccessExpiredError"),
        (Fault::AccountInactive, FailureKind::Revoked, "AccountInactiveError"),
        (Fault::Suspended, FailureKind::Expired, "account_suspended"),
        (Fault::EuaExpired, FailureKind::Expired, "eua_expired"),
        (Fault::InstitutionRateLimit, t(TemporaryCause::RateLimited), "RateLimitError"),
        (Fault::ApiRateLimit { seconds: 120 }, t(TemporaryCause::RateLimited), "rate_limit_exceeded"),
        (Fault::NotJson, t(TemporaryCause::Unknown), "unreadable_response"),
        (Fault::Status(400, date_error), FailureKind::Config, "date_window_refused"),
        (
            Fault::Status(404, json!({"summary": "Not found.", "detail": "Not found.", "status_code": 404})),
            FailureKind::Revoked,
            "account_not_found",
        ),
    ];
    for (fault, kind, code) in cases {
        // A connector of its own for each, so that no case's limits or failures count for another.
        let connector = connector(&api);
        api.fail_next(Target::AccountData, fault.clone());
        let failure = fetch_err(&connector, &consent, MAIN, now(), &api).await;
        assert_eq!((failure.kind, failure.code.as_str()), (kind, code), "{fault:?}: {}", failure.detail);
        if let Fault::ApiRateLimit { seconds } = fault {
            assert_eq!(failure.retry_at, Some(now() + TimeDelta::seconds(seconds)));
            // The API budget is used: the next call is refused without a request.
            let before = api.requests().len();
            let again = fetch_err(&connector, &consent, MAIN, now(), &api).await;
            assert_eq!((again.kind, api.requests().len()), (t(TemporaryCause::RateLimited), before));
            assert!(connector
                .fetch(&consent, MAIN, day("2021-11-01"), ctx(now() + TimeDelta::seconds(seconds)))
                .await
                .is_ok());
        }
        if fault == Fault::InstitutionRateLimit {
            assert_eq!(
                failure.retry_at,
                Some(Utc.with_ymd_and_hms(2021, 11, 23, 0, 0, 0).unwrap()),
                "reset from the header"
            );
        }
        if fault == Fault::Suspended {
            assert!(failure.detail.contains("needs a new connection"), "{}", failure.detail);
        }
    }

    // The whole connection: expired or suspended requisitions, and unknown accounts.
    let connector = connector(&api);

    api.set_requisition_status(&consent.id, "SU");
    let suspended = connector.discover(&consent, ctx(now())).await.unwrap_err();
    assert_eq!(suspended.kind, FailureKind::Expired);
    assert!(suspended.detail.contains("new connection"), "{}", suspended.detail);
    api.expire(&consent.id);
    assert_eq!(connector.discover(&consent, ctx(now())).await.unwrap_err().kind, FailureKind::Expired);
    let expired = fetch_err(&connector, &consent, SAVINGS, now(), &api).await;
    assert_eq!((expired.kind, expired.code.as_str()), (FailureKind::Expired, "AccessExpiredError"));
    let unknown = fetch_err(&connector, &consent, "6f1e0000-0000-4000-a000-000000000000", now(), &api).await;
    assert_eq!(unknown.kind, FailureKind::Revoked);
    assert_no_violations(&api);
}

#[tokio::test]
async fn the_operators_secrets_and_ip_problems_are_configuration_errors() {
    let api = GoCardlessApi::start().await;
    let mut wrong = settings(&api);
    wrong.secret_key = Secret::new("not-the-key-0123456789");
    let failure = GoCardless::new(wrong).institutions(ctx(now())).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Config);
    assert!(failure.detail.contains("secret id/key"), "{}", failure.detail);
    assert!(!failure.detail.contains("not-the-key-0123456789"));

    api.fail_next(Target::Path("token/new/".into()), Fault::IpNotAllowed);
    let failure = connector(&api).institutions(ctx(now())).await.unwrap_err();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Config, "ip_not_allowed"));
    api.fail_next(Target::Path("institutions/".into()), Fault::IpNotAllowed);
    assert_eq!(connector(&api).institutions(ctx(now())).await.unwrap_err().kind, FailureKind::Config);

    let mut insecure = settings(&api);
    insecure.transport.allow_insecure_loopback = false;
    assert_eq!(GoCardless::new(insecure).institutions(ctx(now())).await.unwrap_err().code, "insecure_url");
    assert_no_violations(&api);
}

#[tokio::test]
async fn the_fifth_call_of_a_day_is_refused_locally_from_the_headers() {
    let api = GoCardlessApi::start().await;
    let connector = connector(&api);
    let consent = connect(&connector, &api, "limits").await;
    for _ in 0..4 {
        connector.fetch(&consent, MAIN, day("2021-11-01"), ctx(now())).await.unwrap();
    }
    let before = api.requests().len();
    let failure = fetch_err(&connector, &consent, MAIN, now(), &api).await;
    assert_eq!(failure.kind, FailureKind::Temporary(TemporaryCause::RateLimited));
    assert_eq!(
        failure.retry_at,
        Some(Utc.with_ymd_and_hms(2021, 11, 23, 0, 0, 0).unwrap()),
        "reset at the emulator's midnight"
    );
    assert_eq!(api.requests().len(), before, "refused without a request");
    // The other account has budgets of its own.
    connector.fetch(&consent, SAVINGS, day("2021-11-01"), ctx(now())).await.unwrap();

    // Details are read once a day, however often saldo discovers.
    for _ in 0..3 {
        connector.discover(&consent, ctx(now())).await.unwrap();
    }
    assert_eq!(api.count("GET", &format!("accounts/{MAIN}/details/")), 1);

    // The next day the budgets are new.
    let tomorrow = now() + TimeDelta::days(1);
    api.set_now(tomorrow);
    connector.fetch(&consent, MAIN, day("2021-11-01"), ctx(tomorrow)).await.unwrap();
    connector.discover(&consent, ctx(tomorrow)).await.unwrap();
    assert_eq!(api.count("GET", &format!("accounts/{MAIN}/details/")), 2);
    assert_no_violations(&api);
}

#[tokio::test]
async fn discovery_degrades_to_the_metadata_when_details_are_rate_limited() {
    let api = GoCardlessApi::start().await;
    let connector = connector(&api);
    let consent = connect(&connector, &api, "degrade").await;
    api.fail_next(Target::Account(MAIN.into()), Fault::InstitutionRateLimit);
    let items = connector.discover(&consent, ctx(now())).await.unwrap();
    let main = items.iter().find(|i| i.provider_item_id == MAIN).unwrap();
    assert_eq!(main.iban.as_deref(), Some("GL2010440000010445"), "the IBAN of the metadata");
    assert_eq!(main.currency, Currency::parse("EUR").unwrap(), "the currency of the balances");
    // Only the holder's name is known: the account is named by its IBAN's tail, never after them.
    assert_eq!((main.name.as_str(), main.owner_name.as_deref()), ("•••• 0445", Some("John Doe")));

    // When the balances that would give the currency say the access ended, discovery says so too,
    // rather than leaving the account out (which would close it in saldo).
    let fresh = GoCardless::new(settings(&api));
    api.fail_next(Target::Account(MAIN.into()), Fault::InstitutionRateLimit);
    api.fail_next(Target::Account(MAIN.into()), Fault::AccessExpired);
    let failure = fresh.discover(&consent, ctx(now())).await.unwrap_err();
    assert_eq!(failure.kind, FailureKind::Expired, "{failure:?}");
    assert_no_violations(&api);
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire_and_when_refused() {
    let api = GoCardlessApi::start().await;
    let connector = connector(&api);
    let consent = connect(&connector, &api, "tokens").await;
    connector.fetch(&consent, MAIN, day("2021-11-01"), ctx(now())).await.unwrap();
    assert_eq!((api.count("POST", "token/new/"), api.count("POST", "token/refresh/")), (1, 0));

    // A day later the access token has run out: the refresh token renews it.
    let later = now() + TimeDelta::hours(25);
    api.set_now(later);
    connector.fetch(&consent, MAIN, day("2021-11-01"), ctx(later)).await.unwrap();
    assert_eq!((api.count("POST", "token/new/"), api.count("POST", "token/refresh/")), (1, 1));

    // GoCardless no longer accepts the access token: renewed once, the call repeated.
    api.expire_access_tokens();
    connector.fetch(&consent, SAVINGS, day("2021-11-01"), ctx(later)).await.unwrap();
    assert_eq!((api.count("POST", "token/new/"), api.count("POST", "token/refresh/")), (1, 2));

    // A month on, the refresh token is near its end: a new pair.
    let month = now() + TimeDelta::days(30);
    api.set_now(month);
    connector.fetch(&consent, SAVINGS, day("2021-12-01"), ctx(month)).await.unwrap();
    assert_eq!(api.count("POST", "token/new/"), 2);
    assert_no_violations(&api);
}

#[tokio::test]
async fn after_two_failures_the_account_status_decides_whether_to_call_again() {
    let api = GoCardlessApi::start().await;
    let connector = connector(&api);
    let consent = connect(&connector, &api, "suspension").await;
    let meta = format!("accounts/{MAIN}/");
    for _ in 0..2 {
        api.fail_next(Target::Account(MAIN.into()), Fault::UnknownRequestError);
        fetch_err(&connector, &consent, MAIN, now(), &api).await;
    }
    assert_eq!(api.count("GET", &meta), 0, "no status check before two failures");

    // GoCardless has the account in ERROR: saldo leaves it alone for six hours.
    api.set_account_status(MAIN, "ERROR");
    let data_before = api.data_requests().len();
    let paused = fetch_err(&connector, &consent, MAIN, now(), &api).await;
    assert_eq!(
        (paused.kind, paused.retry_at),
        (FailureKind::Temporary(TemporaryCause::Unknown), Some(now() + TimeDelta::hours(6)))
    );
    assert_eq!((api.count("GET", &meta), api.data_requests().len()), (1, data_before));
    let requests = api.requests().len();
    fetch_err(&connector, &consent, MAIN, now() + TimeDelta::hours(1), &api).await;
    assert_eq!(api.requests().len(), requests, "no request at all while paused");

    // Later it is suspended: only a new connection helps.
    api.set_account_status(MAIN, "SUSPENDED");
    let suspended = fetch_err(&connector, &consent, MAIN, now() + TimeDelta::hours(7), &api).await;
    assert_eq!(suspended.kind, FailureKind::Expired);
    assert!(suspended.detail.contains("suspended after repeated failures"), "{}", suspended.detail);
    api.set_account_status(MAIN, "EXPIRED");
    assert_eq!(
        fetch_err(&connector, &consent, MAIN, now() + TimeDelta::hours(7), &api).await.kind,
        FailureKind::Expired
    );

    // Back to READY: the call goes through and the count starts again.
    api.set_account_status(MAIN, "READY");
    connector.fetch(&consent, MAIN, day("2021-11-01"), ctx(now() + TimeDelta::hours(7))).await.unwrap();
    let checks = api.count("GET", &meta);
    connector.fetch(&consent, MAIN, day("2021-11-01"), ctx(now() + TimeDelta::hours(7))).await.unwrap();
    assert_eq!(api.count("GET", &meta), checks, "a success resets the count");
    assert_no_violations(&api);
}

#[tokio::test]
async fn a_reconnect_with_new_account_ids_finds_the_same_ibans() {
    let api = GoCardlessApi::start().await;
    let connector = connector(&api);
    let old = connect(&connector, &api, "before").await;
    let before = connector.discover(&old, ctx(now())).await.unwrap();
    api.expire(&old.id);
    let pairs = api.change_account_ids();
    let new = connect(&connector, &api, "after").await;
    assert_ne!(new.id, old.id);
    let after = connector.discover(&new, ctx(now())).await.unwrap();
    assert_eq!(after.len(), before.len());
    for item in &before {
        let again = after.iter().find(|a| a.iban == item.iban).unwrap();
        assert_eq!(again.iban, item.iban);
        assert_ne!(again.provider_item_id, item.provider_item_id, "the bank gave new ids");
        assert!(pairs.iter().any(|(o, n)| *o == item.provider_item_id && *n == again.provider_item_id));
        assert_eq!((again.kind, again.currency), (item.kind, item.currency));
    }
    let main = after.iter().find(|a| a.iban.as_deref() == Some("GL2010440000010445")).unwrap();
    assert_eq!(
        connector.fetch(&new, &main.provider_item_id, day("2021-11-01"), ctx(now())).await.unwrap().balance,
        Some(eur("1913.12"))
    );
    assert_no_violations(&api);
}

#[tokio::test]
async fn one_failing_account_does_not_stop_the_other() {
    let api = GoCardlessApi::start().await;
    let connector = connector(&api);
    let consent = connect(&connector, &api, "partial").await;
    api.fail_next(Target::Account(SAVINGS.into()), Fault::UnknownRequestError);
    let failed = fetch_err(&connector, &consent, SAVINGS, now(), &api).await;
    assert_eq!(failed.kind, FailureKind::Temporary(TemporaryCause::Unknown));
    let fine = connector.fetch(&consent, MAIN, day("2021-11-01"), ctx(now())).await.unwrap();
    assert_eq!(fine.transactions.len(), 3);
    assert_no_violations(&api);
}

#[tokio::test]
async fn accounts_without_iban_or_readable_currency() {
    let api = GoCardlessApi::start().await;
    let mut odd = AccountSpec::example_savings().without_iban();
    odd.id = "0b9c1d2e-0000-4000-a000-000000000001".into();
    let mut multi = AccountSpec::example_savings();
    multi.id = "0b9c1d2e-0000-4000-a000-000000000002".into();
    multi.details = json!({"resourceId": "multi", "name": "Multi-currency"});
    api.set_accounts(vec![odd.clone(), multi.clone()]);
    let connector = connector(&api);
    let consent = connect(&connector, &api, "odd").await;
    let items = connector.discover(&consent, ctx(now())).await.unwrap();
    assert_eq!(items.len(), 1, "the account without a currency is left out");
    assert_eq!(
        (items[0].provider_item_id.as_str(), items[0].iban.as_deref(), items[0].name.as_str()),
        (odd.id.as_str(), None, "Savings")
    );
    let failure = fetch_err(&connector, &consent, &multi.id, now(), &api).await;
    assert_eq!(failure.kind, FailureKind::Unsupported);

    // The examples' transactions as published carry the placeholder currency "string".
    api.set_transactions(&odd.id, example_transactions()["booked"].as_array().unwrap().clone(), Vec::new());
    let unreadable = fetch_err(&connector, &consent, &odd.id, now(), &api).await;
    assert_eq!(unreadable.kind, FailureKind::Temporary(TemporaryCause::Unknown));
    assert!(unreadable.detail.contains("booked[1].transactionAmount"), "{}", unreadable.detail);
    assert_no_violations(&api);
}

#[tokio::test]
async fn secrets_and_tokens_never_appear_in_failures() {
    let api = GoCardlessApi::start().await;
    let connector = connector(&api);
    let consent = connect(&connector, &api, "secrets").await;
    // A provider text that echoes everything it was sent.
    let echo = format!("secret {} key {} tokens {}", api.secret_id(), api.secret_key(), api.issued_tokens().join(" "));
    api.fail_next(
        Target::AccountData,
        Fault::Status(500, json!({"summary": "echo", "detail": echo, "status_code": 500})),
    );
    let failure = fetch_err(&connector, &consent, MAIN, now(), &api).await;
    assert!(failure.detail.contains("<redacted>"), "{}", failure.detail);
    api.fail_next(Target::AccountData, Fault::Status(502, json!(echo)));
    fetch_err(&connector, &consent, SAVINGS, now(), &api).await;
    let shown = format!("{connector:?} {:?}", settings(&api));
    assert!(!shown.contains(&api.secret_key()) && !shown.contains(&api.secret_id()), "{shown}");
    assert_no_violations(&api);
}

#[tokio::test]
async fn a_request_the_api_does_not_allow_is_recorded() {
    let api = GoCardlessApi::start().await;
    let connector = connector(&api);
    let consent = connect(&connector, &api, "violation").await;
    // saldo's clock a day ahead of GoCardless's: date_to is in GoCardless's future.
    api.set_now(now() - TimeDelta::days(1));
    let failure = fetch_err(&connector, &consent, MAIN, now(), &api).await;
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Config, "date_window_refused"));
    let violations = api.violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains("date_to 2021-11-22 is in the future"), "{violations:?}");

    // And a client that leaves out the token and the trailing slash.
    let client = reqwest::Client::new();
    client.get(format!("{}accounts/{MAIN}/balances/", api.base_url())).send().await.unwrap();
    client.get(format!("{}institutions", api.base_url())).send().await.unwrap();
    let violations = api.violations();
    assert!(violations.iter().any(|v| v.contains("no Bearer token")), "{violations:?}");
    assert!(violations.iter().any(|v| v.contains("end in a slash")), "{violations:?}");
}

#[tokio::test]
async fn an_account_closed_at_the_bank_drops_out_but_a_revoked_consent_fails_discovery() {
    let api = GoCardlessApi::start().await;
    let consent = connect(&connector(&api), &api, "closed").await;
    api.deactivate(SAVINGS);
    let connector = connector(&api);
    let items = connector.discover(&consent, ctx(now())).await.unwrap();
    assert_eq!(items.iter().map(|i| i.provider_item_id.as_str()).collect::<Vec<_>>(), [MAIN]);
    let closed = fetch_err(&connector, &consent, SAVINGS, now(), &api).await;
    assert_eq!((closed.kind, closed.code.as_str()), (FailureKind::Revoked, "AccountInactiveError"));

    api.revoke_at_bank(&consent.id);
    let revoked = GoCardless::new(settings(&api)).discover(&consent, ctx(now())).await.unwrap_err();
    assert_eq!((revoked.kind, revoked.code.as_str()), (FailureKind::Revoked, "AccessExpiredError"));
    assert!(revoked.detail.contains("revoked"), "{}", revoked.detail);
    assert_no_violations(&api);
}
