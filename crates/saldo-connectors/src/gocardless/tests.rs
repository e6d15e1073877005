#![allow(clippy::unwrap_used)]
use super::*;

fn d(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

#[test]
fn windows_never_reach_past_the_history_nor_into_the_future() {
    let today = d("2021-11-22");
    assert_eq!(window_start(d("2021-11-01"), today, 90), d("2021-11-01"));
    assert_eq!(window_start(d("2020-01-01"), today, 90), today - TimeDelta::days(89));
    assert_eq!(window_start(d("2021-12-01"), today, 90), today, "never a future date");
    assert_eq!(window_start(d("2020-01-01"), today, 0), today, "a zero history is one day");
}

#[test]
fn institutions_read_their_limits_with_defaults_and_caps() {
    let institution: Institution = serde_json::from_value(serde_json::json!({
        "id": "N26_NTSBDEB1", "name": "N26 Bank", "bic": "NTSBDEB1", "transaction_total_days": "730",
        "max_access_valid_for_days": "365", "countries": ["GB", "DE"], "logo": "https://cdn.example/n26.png"
    }))
    .unwrap();
    let listed = info(&institution, Some("DE"));
    assert_eq!((listed.max_history_days, listed.max_consent_days), (730, 180));
    assert_eq!(listed.country.as_deref(), Some("DE"));
    assert_eq!(info(&institution, None).country.as_deref(), Some("GB"));
    assert_eq!(listed.logo_url.as_deref(), Some("https://cdn.example/n26.png"));
    let bare: Institution = serde_json::from_value(serde_json::json!({"id": "X", "name": "X"})).unwrap();
    assert_eq!((history_days(&bare), consent_days(&bare)), (90, 90));
    let frozen: Institution = serde_json::from_value(serde_json::json!({
        "id": "SWEDBANK", "name": "Swedbank", "transaction_total_days": "730", "separate_continuous_history_consent": true
    }))
    .unwrap();
    assert_eq!(history_days(&frozen), 90, "continuous access asks for 90 days at banks that freeze longer ones");
}

#[test]
fn consents_run_from_acceptance_for_the_agreed_days() {
    let requisition: Requisition =
        serde_json::from_value(serde_json::json!({"id": "r1", "institution_id": "N26", "accounts": []})).unwrap();
    let agreement: Agreement = serde_json::from_value(serde_json::json!({
        "id": "a1", "max_historical_days": 60, "access_valid_for_days": 30,
        "access_scope": ["transactions", "balances", "details"], "accepted": "2021-11-20T10:00:00Z"
    }))
    .unwrap();
    let now = d("2021-11-22").and_hms_opt(12, 0, 0).unwrap().and_utc();
    let consent = GoCardless::consent(&requisition, Some(&agreement), "N26", now);
    assert_eq!(consent.granted_at, d("2021-11-20").and_hms_opt(10, 0, 0).unwrap().and_utc());
    assert_eq!(consent.valid_until, consent.granted_at + TimeDelta::days(30));
    assert_eq!(consent.scope, ["accounts", "balances", "transactions"]);
    assert_eq!((consent.max_history_days, consent.accesses_per_day, consent.secret), (60, Some(4), None));
    assert_eq!(GoCardless::consent(&requisition, None, "N26", now).valid_until, now + TimeDelta::days(90));
}

#[test]
fn debug_shows_no_secret() {
    let connector = GoCardless::new(GoCardlessSettings {
        base_url: DEFAULT_BASE_URL.into(),
        secret_id: Secret::new("id-123"),
        secret_key: Secret::new("key-456"),
        countries: vec![],
        transport: Transport::default(),
    });
    let shown = format!("{connector:?}");
    assert!(!shown.contains("id-123") && !shown.contains("key-456"), "{shown}");
}
