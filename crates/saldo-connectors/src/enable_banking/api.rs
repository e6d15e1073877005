//! Enable Banking's wire types and its errors mapped onto saldo's taxonomy (providers.md §4, §7).

use crate::wire::{clean, joined, present};
use crate::xs2a;
pub(crate) use crate::xs2a::Amount;
use crate::FetchedTransaction;
use chrono::NaiveDate;
use saldo_core::failure::{Failure, FailureKind, TemporaryCause};
use saldo_core::money::{Currency, Money};
use saldo_core::transaction::TransactionStatus;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Aspsps {
    pub aspsps: Vec<Aspsp>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Aspsp {
    pub name: String,
    pub country: String,
    #[serde(default)]
    pub logo: Option<String>,
    #[serde(default)]
    pub bic: Option<String>,
    /// Seconds.
    #[serde(default)]
    pub maximum_consent_validity: Option<i64>,
    #[serde(default)]
    pub psu_types: Vec<String>,
    #[serde(default)]
    pub beta: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StartedAuthorization {
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Access {
    pub valid_until: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AuthorizedSession {
    pub session_id: String,
    pub access: Access,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SessionAccount {
    pub uid: String,
    pub identification_hash: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Session {
    pub status: String,
    #[serde(default)]
    pub accounts_data: Vec<SessionAccount>,
    pub access: Access,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct AccountIdentification {
    #[serde(default)]
    pub iban: Option<String>,
    /// Another identification (a card's masked PAN, a BBAN) with its scheme.
    #[serde(default)]
    pub other: Option<OtherIdentification>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct OtherIdentification {
    #[serde(default)]
    pub identification: Option<String>,
    /// `CPAN` for a card's (masked) number, `BBAN` and others for account numbers.
    #[serde(default)]
    pub scheme_name: Option<String>,
}

impl OtherIdentification {
    pub fn identification(&self) -> Option<&str> {
        self.identification.as_deref().filter(|i| !i.trim().is_empty())
    }

    /// A card's number, as banks give it masked.
    pub fn is_masked_pan(&self) -> bool {
        self.scheme_name.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("CPAN"))
            || self.identification().is_some_and(|i| i.contains('*'))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AccountDetails {
    #[serde(default)]
    pub account_id: Option<AccountIdentification>,
    /// The account holder's name (Enable Banking's reference), never the account's.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub cash_account_type: Option<String>,
    pub currency: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Balance {
    pub balance_amount: Amount,
    pub balance_type: String,
    #[serde(default)]
    pub reference_date: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Balances {
    pub balances: Vec<Balance>,
}

/// ISO 20022 balance codes, as Enable Banking sends them, under their Berlin Group names, so that
/// one preference order decides which balance is the account's.
fn berlin_group_name(code: &str) -> &str {
    match code {
        "ITBD" => "interimBooked",
        "CLBD" => "closingBooked",
        "XPCD" => "expected",
        "OPBD" => "openingBooked",
        "ITAV" => "interimAvailable",
        "CLAV" => "closingAvailable",
        "FWAV" => "forwardAvailable",
        "INFO" => "information",
        other => other,
    }
}

impl Balances {
    pub fn current(&self) -> Result<Option<Money>, String> {
        let balances: Vec<xs2a::Balance> = self
            .balances
            .iter()
            .map(|b| xs2a::Balance {
                balance_amount: b.balance_amount.clone(),
                balance_type: berlin_group_name(&b.balance_type).to_string(),
                reference_date: b.reference_date.clone(),
            })
            .collect();
        xs2a::current_balance(&balances)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Party {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Transaction {
    #[serde(default)]
    pub transaction_id: Option<String>,
    #[serde(default)]
    pub entry_reference: Option<String>,
    pub transaction_amount: Amount,
    pub credit_debit_indicator: String,
    pub status: String,
    #[serde(default)]
    pub booking_date: Option<NaiveDate>,
    #[serde(default)]
    pub value_date: Option<NaiveDate>,
    #[serde(default)]
    pub transaction_date: Option<NaiveDate>,
    #[serde(default)]
    pub creditor: Option<Party>,
    #[serde(default)]
    pub debtor: Option<Party>,
    #[serde(default)]
    pub remittance_information: Option<Vec<String>>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TransactionPage {
    /// Raw, so that one unreadable transaction is named by its index.
    pub transactions: Vec<serde_json::Value>,
    #[serde(default)]
    pub continuation_key: Option<String>,
}

impl Transaction {
    /// Into saldo's form; `None` for transactions that did not and will not move money
    /// (scheduled, cancelled, rejected, unknown status).
    pub fn fetched(&self, today: NaiveDate) -> Result<Option<FetchedTransaction>, String> {
        let status = match self.status.as_str() {
            "BOOK" => TransactionStatus::Booked,
            "PDNG" | "HOLD" => TransactionStatus::Pending,
            "SCHD" | "CNCL" | "RJCT" | "OTHR" => return Ok(None),
            other => return Err(format!("status: unknown value {:?}", clean(other, ""))),
        };
        let currency = Currency::parse(&self.transaction_amount.currency).map_err(|_| {
            format!(
                "transaction_amount.currency: {:?} is not an ISO 4217 code",
                clean(&self.transaction_amount.currency, "")
            )
        })?;
        // Amounts are unsigned; the indicator says which way the money went.
        let magnitude = self.transaction_amount.amount.abs();
        let signed = match self.credit_debit_indicator.as_str() {
            "CRDT" => magnitude,
            "DBIT" => -magnitude,
            other => return Err(format!("credit_debit_indicator: unknown value {:?}", clean(other, ""))),
        };
        let amount = Money::from_decimal(signed, currency).map_err(|e| format!("transaction_amount: {e}"))?;
        let booking_date = match (self.booking_date, status) {
            (Some(day), _) => day,
            (None, TransactionStatus::Pending) => self.transaction_date.or(self.value_date).unwrap_or(today),
            (None, TransactionStatus::Booked) => {
                self.value_date.or(self.transaction_date).ok_or("booking_date: missing on a booked transaction")?
            }
        };
        let text = |t: &Option<String>| present(t).map(str::to_string);
        let name = |party: &Option<Party>| party.as_ref().and_then(|p| text(&p.name));
        let counterparty =
            if amount.minor < 0 { name(&self.creditor) } else { name(&self.debtor) }.map(|c| clean(&c, ""));
        let description = self
            .remittance_information
            .as_deref()
            .and_then(joined)
            .or_else(|| text(&self.note))
            .or_else(|| counterparty.clone())
            .unwrap_or_default();
        Ok(Some(FetchedTransaction {
            // The reference: `entry_reference` is the bank's unique, immutable id of a booking for
            // accounts of the same identification hash, across sessions; `transaction_id` may
            // change from one session to the next. A booking with neither is known by content.
            provider_id: text(&self.entry_reference).or_else(|| text(&self.transaction_id)),
            status,
            booking_date,
            value_date: self.value_date,
            amount,
            description: clean(&description, ""),
            counterparty,
        }))
    }
}

/// An error answer: `{code, message, detail?, error?}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub detail: Option<serde_json::Value>,
}

/// A non-2xx answer as a classified failure. The error code decides; the HTTP status only when
/// there is none.
pub(crate) fn failure(status: u16, body: &[u8]) -> Failure {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let message = parsed.message.as_deref().map(|m| clean(m, "")).unwrap_or_default();
    let detail = match &parsed.detail {
        Some(serde_json::Value::String(text)) => format!(" ({})", clean(text, "")),
        _ => String::new(),
    };
    let says = if message.is_empty() { String::new() } else { format!(": {message}{detail}") };
    let code = parsed.error.clone().unwrap_or_else(|| format!("http_{status}"));
    let (kind, what) = classify(parsed.error.as_deref(), status, &message);
    Failure::new(kind, clean(&code, ""), format!("Enable Banking {what}{says}"))
}

fn classify(error: Option<&str>, status: u16, message: &str) -> (FailureKind, &'static str) {
    use FailureKind::*;
    use TemporaryCause::*;
    match error {
        Some("ASPSP_ERROR") => (Temporary(ProviderDown), "says the bank answered with an error"),
        Some("ASPSP_TIMEOUT") => (Temporary(Timeout), "says the bank did not answer in time"),
        Some("ASPSP_RATE_LIMIT_EXCEEDED") => {
            (Temporary(RateLimited), "says the bank's daily limit of unattended accesses is used")
        }
        Some("ASPSP_PSU_ACTION_REQUIRED") => (ActionRequired, "says the bank needs you to act"),
        Some("EXPIRED_SESSION") => (Expired, "says the authorisation has expired"),
        Some("WRONG_CREDENTIALS_PROVIDED") => (InvalidCredentials, "says the bank refused the credentials"),
        Some("REVOKED_SESSION") => (Revoked, "says you revoked the authorisation at the bank"),
        Some("CLOSED_SESSION") => (Revoked, "says the authorisation was closed"),
        Some("ASPSP_ACCOUNT_NOT_ACCESSIBLE") => (Revoked, "says the bank no longer gives access to this account"),
        Some("INVALID_ACCOUNT_ID" | "ACCOUNT_DOES_NOT_EXIST") => (Revoked, "no longer knows this account"),
        Some("SESSION_DOES_NOT_EXIST") => (Revoked, "no longer knows this authorisation"),
        Some("EXPIRED_AUTHORIZATION_CODE" | "WRONG_AUTHORIZATION_CODE" | "ALREADY_AUTHORIZED") => {
            (InvalidCredentials, "did not accept the bank's answer; start connecting again")
        }
        Some("WRONG_SESSION_STATUS") => (ActionRequired, "says the authorisation is not finished"),
        Some(
            "UNAUTHORIZED_ACCESS"
            | "ACCESS_DENIED"
            | "UNAUTHORIZED_IP"
            | "NO_ACCOUNTS_ADDED"
            | "AUTHORIZATION_NOT_PROVIDED"
            | "INVALID_HOST"
            | "REDIRECT_URI_NOT_ALLOWED"
            | "WRONG_ASPSP_PROVIDED"
            | "PSU_HEADER_NOT_PROVIDED"
            | "PSU_HEADER_INVALID"
            | "WRONG_REQUEST_PARAMETERS"
            | "WRONG_TRANSACTIONS_PERIOD"
            | "DATE_FROM_IN_FUTURE"
            | "DATE_TO_WITHOUT_DATE_FROM"
            | "WRONG_DATE_INTERVAL"
            | "WRONG_CONTINUATION_KEY",
        ) => (Config, "refused saldo's request"),
        Some(_) => (Temporary(Unknown), "answered with an error saldo does not know"),
        None => match status {
            403 if message.to_lowercase().contains("not active") => (Config, "says the application is not active"),
            401 | 403 => (Config, "refused saldo's application credentials"),
            408 => (Temporary(Timeout), "timed out"),
            429 => (Temporary(RateLimited), "says too many requests"),
            500..=599 => (Temporary(ProviderDown), "is not answering properly"),
            _ => (Temporary(Unknown), "answered with an error saldo does not know"),
        },
    }
}

/// A session's status as a failure, `None` while it is usable.
pub(crate) fn session_failure(status: &str) -> Option<Failure> {
    let (kind, detail) = match status {
        "AUTHORIZED" => return None,
        "EXPIRED" => (FailureKind::Expired, "the authorisation at the bank has expired"),
        "REVOKED" => (FailureKind::Revoked, "you revoked saldo's access at the bank"),
        "CLOSED" => (FailureKind::Revoked, "the authorisation was closed"),
        "CANCELLED" => (FailureKind::Revoked, "the authorisation was cancelled at the bank"),
        "INVALID" => (FailureKind::InvalidCredentials, "the authorisation at the bank failed"),
        "PENDING_AUTHORIZATION" | "RETURNED_FROM_BANK" => {
            (FailureKind::ActionRequired, "the authorisation at the bank is not finished")
        }
        _ => (FailureKind::Temporary(TemporaryCause::Unknown), "the authorisation is in a state saldo does not know"),
    };
    Some(Failure::new(kind, clean(status, ""), format!("Enable Banking: {detail}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_error_code_in_providers_md_has_its_kind() {
        use FailureKind::*;
        use TemporaryCause::*;
        let cases = [
            ("ASPSP_ERROR", Temporary(ProviderDown)),
            ("ASPSP_TIMEOUT", Temporary(Timeout)),
            ("ASPSP_RATE_LIMIT_EXCEEDED", Temporary(RateLimited)),
            ("ASPSP_PSU_ACTION_REQUIRED", ActionRequired),
            ("EXPIRED_SESSION", Expired),
            ("WRONG_CREDENTIALS_PROVIDED", InvalidCredentials),
            ("REVOKED_SESSION", Revoked),
            ("CLOSED_SESSION", Revoked),
            ("ASPSP_ACCOUNT_NOT_ACCESSIBLE", Revoked),
            ("INVALID_ACCOUNT_ID", Revoked),
            ("UNAUTHORIZED_ACCESS", Config),
            ("ACCESS_DENIED", Config),
            ("UNAUTHORIZED_IP", Config),
            ("NO_ACCOUNTS_ADDED", Config),
            ("WRONG_TRANSACTIONS_PERIOD", Config),
            ("DATE_FROM_IN_FUTURE", Config),
            ("SESSION_DOES_NOT_EXIST", Revoked),
            ("ACCOUNT_DOES_NOT_EXIST", Revoked),
            ("DATE_TO_WITHOUT_DATE_FROM", Config),
            ("WRONG_DATE_INTERVAL", Config),
            ("WRONG_CONTINUATION_KEY", Config),
            ("WRONG_SESSION_STATUS", ActionRequired),
            ("ALREADY_AUTHORIZED", InvalidCredentials),
            ("EXPIRED_AUTHORIZATION_CODE", InvalidCredentials),
            ("WRONG_AUTHORIZATION_CODE", InvalidCredentials),
            ("PSU_HEADER_NOT_PROVIDED", Config),
            ("PSU_HEADER_INVALID", Config),
            ("REDIRECT_URI_NOT_ALLOWED", Config),
            ("SOMETHING_NEW", Temporary(Unknown)),
        ];
        for (code, kind) in cases {
            let body = format!(r#"{{"code": 400, "message": "m", "error": "{code}"}}"#);
            let failure = failure(400, body.as_bytes());
            assert_eq!((failure.code.as_str(), failure.kind), (code, kind));
        }
        let inactive = failure(403, br#"{"code":403,"message":"Application is not active"}"#);
        assert_eq!((inactive.kind, inactive.code.as_str()), (Config, "http_403"));
        assert!(inactive.detail.contains("Application is not active"), "{}", inactive.detail);
        assert_eq!(failure(408, b"").kind, Temporary(Timeout));
        assert_eq!(failure(500, b"<html>").kind, Temporary(ProviderDown));
    }

    #[test]
    fn every_session_status_is_classified() {
        assert!(session_failure("AUTHORIZED").is_none());
        let kind = |s| session_failure(s).unwrap().kind;
        assert_eq!(kind("EXPIRED"), FailureKind::Expired);
        assert_eq!(kind("REVOKED"), FailureKind::Revoked);
        assert_eq!(kind("CLOSED"), FailureKind::Revoked);
        assert_eq!(kind("CANCELLED"), FailureKind::Revoked);
        assert_eq!(kind("INVALID"), FailureKind::InvalidCredentials);
        assert_eq!(kind("PENDING_AUTHORIZATION"), FailureKind::ActionRequired);
        assert_eq!(kind("RETURNED_FROM_BANK"), FailureKind::ActionRequired);
    }

    #[test]
    fn debits_are_negative_and_scheduled_ones_are_left_out() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let read = |json: serde_json::Value| serde_json::from_value::<Transaction>(json).unwrap().fetched(today);
        let debit = read(serde_json::json!({
            "transaction_amount": {"currency": "EUR", "amount": "12.30"}, "credit_debit_indicator": "DBIT",
            "status": "BOOK", "booking_date": "2026-11-19", "creditor": {"name": "Shop"},
            "remittance_information": ["Card purchase", " 123 "], "entry_reference": "e1",
            "transaction_id": "session-7-t1"
        }))
        .unwrap()
        .unwrap();
        assert_eq!((debit.amount.minor, debit.description.as_str()), (-1230, "Card purchase 123"));
        assert_eq!((debit.counterparty.as_deref(), debit.provider_id.as_deref()), (Some("Shop"), Some("e1")));
        let pending = read(serde_json::json!({
            "transaction_amount": {"currency": "EUR", "amount": "5"}, "credit_debit_indicator": "CRDT", "status": "PDNG"
        }))
        .unwrap()
        .unwrap();
        assert_eq!(
            (pending.status, pending.booking_date, pending.amount.minor),
            (TransactionStatus::Pending, today, 500)
        );
        let scheduled = read(serde_json::json!({
            "transaction_amount": {"currency": "EUR", "amount": "5"}, "credit_debit_indicator": "DBIT", "status": "SCHD"
        }));
        assert_eq!(scheduled, Ok(None));
        let odd = read(serde_json::json!({
            "transaction_amount": {"currency": "EUR", "amount": "5"}, "credit_debit_indicator": "SIDEWAYS", "status": "BOOK",
            "booking_date": "2026-11-19"
        }));
        assert!(odd.unwrap_err().starts_with("credit_debit_indicator"));
    }

    #[test]
    fn the_booked_balance_is_the_accounts() {
        let balances: Balances = serde_json::from_value(serde_json::json!({"balances": [
            {"name": "a", "balance_amount": {"currency": "EUR", "amount": "10.00"}, "balance_type": "CLAV"},
            {"name": "b", "balance_amount": {"currency": "EUR", "amount": "-3.00"}, "balance_type": "CLBD"},
        ]}))
        .unwrap();
        assert_eq!(balances.current().unwrap().unwrap().minor, -300);
    }
}
