#![allow(clippy::unwrap_used)]
use super::*;
use crate::http::Transport;
use std::path::PathBuf;

#[test]
fn decoupled_references_carry_both_ids() {
    for (consent, aid) in [("1234-wertiq-983", Some("123auth456")), ("a~b%7E", Some("~")), ("plain", None)] {
        let reference = encode_reference(consent, aid);
        assert_eq!(decode_reference(&reference), (consent.to_string(), aid.map(str::to_string)), "{reference}");
    }
}

#[test]
fn redirect_uris_keep_their_query_and_gain_saldos() {
    let url = with_query("https://saldo.example/callback/berlin_group?x=1", &[("state", "s t")]).unwrap();
    assert_eq!(url, "https://saldo.example/callback/berlin_group?x=1&state=s+t");
    assert_eq!(with_query("not a url", &[]).unwrap_err().kind, FailureKind::Config);
}

#[test]
fn consent_statuses_map_to_the_taxonomy() {
    let kind = |s: &str| status_failure(s, "Bank").kind;
    assert_eq!(kind("received"), FailureKind::ActionRequired);
    assert_eq!(kind("partiallyAuthorised"), FailureKind::ActionRequired);
    assert_eq!(kind("rejected"), FailureKind::InvalidCredentials);
    assert_eq!(kind("expired"), FailureKind::Expired);
    assert_eq!(kind("revokedByPsu"), FailureKind::Revoked);
    assert_eq!(kind("terminatedByTpp"), FailureKind::Revoked);
    assert_eq!(kind("somethingElse"), FailureKind::Temporary(TemporaryCause::Unknown));
}

#[test]
fn an_unreadable_certificate_is_a_config_failure_naming_the_file() {
    let mut bank = BerlinGroupBank::new("b", "Bank", "https://xs2a.bank.example", ScaApproach::Redirect);
    bank.client_certificate = Some(PathBuf::from("/nonexistent/qwac.pem"));
    bank.client_key = Some(PathBuf::from("/nonexistent/qwac.key"));
    let failure = client_for(&bank, Transport::default()).err().unwrap();
    assert_eq!((failure.kind, failure.code.as_str()), (FailureKind::Config, "client_certificate_unreadable"));
    assert!(failure.detail.contains("/nonexistent/qwac.pem"), "{}", failure.detail);
    bank.client_key = None;
    assert_eq!(client_for(&bank, Transport::default()).err().unwrap().code, "client_certificate_incomplete");
}
