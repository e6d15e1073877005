//! Reading the Bridge's Account Set: accounts, transactions and holdings into saldo's types, and
//! its in-band errors (v1 `errors` strings, v2 `errlist` entries) into per-account or whole
//! failures.
//!
//! A malformed transaction or an unreadable amount fails its account only, since the Bridge's
//! answers are per bank connection and one broken bank must not stop the others; an answer whose
//! shape is wrong (no `accounts`, an account without an id) fails the whole request.

#[cfg(test)]
use crate::wire::MAX_MESSAGE_CHARS;
use crate::wire::{clean, decimal, heavier, kind_of, optional_decimal, path_error, record, unreadable};
use crate::{FetchedHolding, FetchedTransaction};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use saldo_core::account::AccountKind;
use saldo_core::failure::{Failure, FailureKind, TemporaryCause};
use saldo_core::holding::Instrument;
use saldo_core::money::{Currency, Money};
use saldo_core::transaction::TransactionStatus;
use serde::de::{Deserializer, Error as _};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;

/// Epoch seconds as an integer, or (tolerated) an integer in a string.
fn epoch<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Number(number) => {
            number.as_i64().ok_or_else(|| D::Error::custom(format!("expected epoch seconds, found {number}")))
        }
        Value::String(text) => text
            .trim()
            .parse()
            .map_err(|_| D::Error::custom(format!("expected epoch seconds, found {:?}", clean(&text, "")))),
        other => Err(D::Error::custom(format!("expected epoch seconds, found {}", kind_of(&other)))),
    }
}

fn optional_epoch<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "epoch")] i64);
    Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|Wrapped(e)| e))
}

#[derive(Deserialize)]
struct RawSet {
    #[serde(default)]
    errors: Option<Vec<Value>>,
    accounts: Vec<Value>,
    #[serde(default)]
    errlist: Option<Vec<RawError>>,
}

#[derive(Deserialize)]
struct RawError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    msg: String,
    #[serde(default)]
    conn_id: Option<String>,
    #[serde(default)]
    account_id: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawOrg {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    domain: Option<String>,
}

#[derive(Deserialize)]
struct RawAccount {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    org: Option<RawOrg>,
    #[serde(default)]
    conn_id: Option<String>,
    currency: String,
    #[serde(deserialize_with = "decimal")]
    balance: Decimal,
    #[serde(default)]
    transactions: Option<Vec<Value>>,
    #[serde(default)]
    holdings: Option<Vec<Value>>,
}

#[derive(Deserialize)]
struct RawTransaction {
    id: String,
    #[serde(deserialize_with = "epoch")]
    posted: i64,
    #[serde(deserialize_with = "decimal")]
    amount: Decimal,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    payee: Option<String>,
    #[serde(default)]
    memo: Option<String>,
    #[serde(default, deserialize_with = "optional_epoch")]
    transacted_at: Option<i64>,
    #[serde(default)]
    pending: Option<bool>,
}

#[derive(Deserialize)]
struct RawHolding {
    #[serde(default)]
    symbol: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, deserialize_with = "optional_decimal")]
    shares: Option<Decimal>,
    #[serde(default, deserialize_with = "optional_decimal")]
    market_value: Option<Decimal>,
    #[serde(default)]
    currency: Option<String>,
}

/// One account as saldo uses it.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub id: String,
    pub name: String,
    pub kind: AccountKind,
    pub currency: Currency,
    /// `None` when the Bridge's balance could not be read (the account has a failure then).
    pub balance: Option<Money>,
    pub transactions: Vec<FetchedTransaction>,
    pub holdings: Vec<FetchedHolding>,
}

/// One answer, read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Answer {
    /// Accounts in an ISO currency, in the Bridge's order.
    pub accounts: Vec<Account>,
    /// Per account id, why it cannot be used now (including accounts left out of `accounts`).
    pub failures: HashMap<String, Failure>,
}

/// SimpleFIN has no account type: the kind is guessed from holdings and the account's name.
pub(crate) fn infer_kind(name: &str, has_holdings: bool) -> AccountKind {
    if has_holdings {
        return AccountKind::Brokerage;
    }
    // "Navy Federal Credit Union Share Savings" is not a credit card.
    let lower = name.to_lowercase().replace("credit union", " ");
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let has = |options: &[&str]| words.iter().any(|w| options.contains(w));
    if has(&["card", "cards", "visa", "mastercard", "amex", "credit", "creditcard"]) {
        AccountKind::CreditCard
    } else if has(&["mortgage"]) {
        AccountKind::Mortgage
    } else if has(&["loan", "loans"]) {
        AccountKind::Loan
    } else if has(&["savings", "saving"]) {
        AccountKind::Savings
    } else {
        AccountKind::Cash
    }
}

fn day(epoch: i64) -> Option<NaiveDate> {
    DateTime::<Utc>::from_timestamp(epoch, 0).map(|t| t.date_naive())
}

fn text(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

fn transaction(raw: RawTransaction, currency: Currency, today: NaiveDate) -> Result<FetchedTransaction, String> {
    let amount = Money::from_decimal(raw.amount, currency).map_err(|e| format!("amount: {e}"))?;
    let transacted = raw.transacted_at.filter(|t| *t != 0).map(|t| day(t).ok_or("transacted_at is out of range"));
    let transacted = transacted.transpose()?;
    let pending = raw.pending.unwrap_or(false) || raw.posted == 0;
    let (status, booking_date) = if pending {
        let posted = if raw.posted == 0 { None } else { day(raw.posted) };
        (TransactionStatus::Pending, transacted.or(posted).unwrap_or(today))
    } else {
        (TransactionStatus::Booked, day(raw.posted).ok_or("posted is out of range")?)
    };
    let description = text(raw.description);
    let memo = text(raw.memo);
    let description = match (description, memo) {
        (Some(d), Some(m)) if !d.eq_ignore_ascii_case(&m) => format!("{d} ({m})"),
        (Some(d), _) => d,
        (None, Some(m)) => m,
        (None, None) => String::new(),
    };
    Ok(FetchedTransaction {
        provider_id: Some(raw.id).filter(|id| !id.is_empty()),
        status,
        booking_date,
        value_date: None,
        amount,
        description,
        counterparty: text(raw.payee),
    })
}

/// A holding, or `None` when it cannot be valued in a known currency (it is left out: the
/// account's balance, which includes it, stays right; only the breakdown loses a line).
fn holding(raw: RawHolding, account_currency: Currency) -> Option<FetchedHolding> {
    let currency = match text(raw.currency) {
        None => account_currency,
        Some(code) => Currency::parse(&code).ok()?,
    };
    let quantity = raw.shares?;
    // A market value is shares times a price, not a booked amount: rounding it to the minor unit
    // (half to even) loses nothing that was ever real money.
    let market_value = Money::round_from_decimal(raw.market_value?, currency).ok()?;
    let unit_price = raw.market_value.and_then(|value| value.checked_div(quantity)).filter(|_| !quantity.is_zero());
    let ticker = text(raw.symbol);
    let name = text(raw.description).or_else(|| ticker.clone()).unwrap_or_else(|| "unnamed holding".into());
    Some(FetchedHolding { instrument: Instrument { isin: None, ticker, name }, quantity, unit_price, market_value })
}

/// What a v1 message or a v2 entry says about whom.
enum Scope {
    All,
    Org(String),
    Connection(String),
    Account(String),
    /// Nobody in particular: informational while data came back.
    Note,
}

/// Reads one `/accounts` answer; `Err` when the whole answer is unusable.
pub(crate) fn read(body: &[u8], today: NaiveDate, secret: &str) -> Result<Answer, Failure> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        let excerpt = clean(&String::from_utf8_lossy(&body[..body.len().min(400)]), secret);
        let excerpt: String = excerpt.chars().take(80).collect();
        unreadable(format!("the Bridge's answer is not JSON ({e}); it begins {excerpt:?}"))
    })?;
    let set: RawSet = serde_path_to_error::deserialize(value)
        .map_err(|e| unreadable(format!("the Bridge's answer is not an Account Set: {}", path_error("answer", e))))?;

    let mut answer = Answer::default();
    // Per account: (org name, connection id), for in-band errors that name either.
    let mut owners: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    for (index, raw) in set.accounts.into_iter().enumerate() {
        let raw: RawAccount = serde_path_to_error::deserialize(raw).map_err(|e| {
            unreadable(format!("the Bridge's answer is unreadable: {}", path_error(&format!("accounts[{index}]"), e)))
        })?;
        let org = raw.org.unwrap_or_default();
        owners.push((raw.id.clone(), text(org.name).or(text(org.domain)), text(raw.conn_id.clone())));
        let label = clean(if raw.name.is_empty() { &raw.id } else { &raw.name }, secret);
        let Ok(currency) = Currency::parse(&raw.currency) else {
            let shown = clean(&raw.currency, secret);
            answer.failures.insert(
                raw.id.clone(),
                Failure::new(
                    FailureKind::Unsupported,
                    "unsupported_currency",
                    format!("account {label:?} is kept in {shown:?}, not an ISO currency saldo can hold"),
                ),
            );
            continue;
        };
        let balance = match Money::from_decimal(raw.balance, currency) {
            Ok(balance) => Some(balance),
            Err(e) => {
                record(&mut answer.failures, &raw.id, unreadable(format!("account {label:?}: balance: {e}")));
                None
            }
        };
        let mut transactions = Vec::new();
        for (t, value) in raw.transactions.unwrap_or_default().into_iter().enumerate() {
            let parsed = serde_path_to_error::deserialize::<_, RawTransaction>(value)
                .map_err(|e| path_error(&format!("transactions[{t}]"), e))
                .and_then(|raw| transaction(raw, currency, today).map_err(|e| format!("transactions[{t}].{e}")));
            match parsed {
                Ok(transaction) => transactions.push(transaction),
                Err(e) => record(&mut answer.failures, &raw.id, unreadable(format!("account {label:?}: {e}"))),
            }
        }
        let raw_holdings = raw.holdings.unwrap_or_default();
        let has_holdings = !raw_holdings.is_empty();
        let mut holdings = Vec::new();
        for (h, value) in raw_holdings.into_iter().enumerate() {
            match serde_path_to_error::deserialize::<_, RawHolding>(value) {
                Ok(raw) => holdings.extend(holding(raw, currency)),
                Err(e) => record(
                    &mut answer.failures,
                    &raw.id,
                    unreadable(format!("account {label:?}: {}", path_error(&format!("holdings[{h}]"), e))),
                ),
            }
        }
        answer.accounts.push(Account {
            kind: infer_kind(&raw.name, has_holdings),
            id: raw.id,
            name: raw.name.trim().to_string(),
            currency,
            balance,
            transactions,
            holdings,
        });
    }

    // A Bridge that sends `errlist` says the same things in `errors` for older clients: read one.
    let mut whole: Option<Failure> = None;
    let mut notes: Vec<Failure> = Vec::new();
    let mut apply = |scope: Scope, failure: Failure, answer: &mut Answer| {
        let targets: Vec<&str> = match &scope {
            Scope::All => owners.iter().map(|(id, _, _)| id.as_str()).collect(),
            Scope::Org(name) => owners
                .iter()
                .filter(|(_, org, _)| org.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(name)))
                .map(|(id, _, _)| id.as_str())
                .collect(),
            Scope::Connection(conn) => owners
                .iter()
                .filter(|(_, _, c)| c.as_deref() == Some(conn.as_str()))
                .map(|(id, _, _)| id.as_str())
                .collect(),
            Scope::Account(account) => vec![account.as_str()],
            Scope::Note => Vec::new(),
        };
        if matches!(scope, Scope::All) {
            whole = Some(heavier(whole.take(), failure));
        } else if targets.is_empty() {
            notes.push(failure);
        } else {
            for target in targets {
                record(&mut answer.failures, target, failure.clone());
            }
        }
    };
    match set.errlist {
        Some(errlist) if !errlist.is_empty() => {
            for entry in errlist {
                let (scope, failure) = classify_entry(&entry, secret);
                apply(scope, failure, &mut answer);
            }
        }
        _ => {
            for message in set.errors.unwrap_or_default() {
                let message = match message {
                    Value::String(text) => text,
                    other => other.to_string(),
                };
                let (scope, failure) = classify_message(&clean(&message, secret));
                apply(scope, failure, &mut answer);
            }
        }
    }
    if let Some(failure) = whole {
        return Err(failure);
    }
    // Errors about nobody in particular are notes while data came back; with no data they are
    // all there is to say.
    if owners.is_empty() {
        if let Some(failure) = notes.into_iter().reduce(|a, b| heavier(Some(a), b)) {
            return Err(failure);
        }
    }
    Ok(answer)
}

fn says(message: &str) -> String {
    if message.is_empty() {
        "the Bridge gave no message".into()
    } else {
        format!("the Bridge says \"{message}\"")
    }
}

/// A v1 error string.
fn classify_message(message: &str) -> (Scope, Failure) {
    let lower = message.to_lowercase();
    if lower.contains("reauthenticate") {
        return (
            Scope::All,
            Failure::new(
                FailureKind::ActionRequired,
                "reauthenticate",
                format!("{}; sign in at the SimpleFIN Bridge to fix it", says(message)),
            ),
        );
    }
    let trimmed = message.trim_end_matches('.');
    if let Some(org) = trimmed.strip_prefix("Connection to ").and_then(|rest| rest.strip_suffix(" may need attention"))
    {
        return (
            Scope::Org(org.trim().to_string()),
            Failure::new(
                FailureKind::ActionRequired,
                "connection_needs_attention",
                format!("{}; sign in at the SimpleFIN Bridge and fix this bank's connection there", says(message)),
            ),
        );
    }
    // Anything else is informational while accounts came back (see `read`).
    (Scope::Note, Failure::new(FailureKind::Temporary(TemporaryCause::Unknown), "bridge_error", says(message)))
}

/// A v2 `errlist` entry. Unknown subcodes are read as their prefix, as the protocol asks.
fn classify_entry(entry: &RawError, secret: &str) -> (Scope, Failure) {
    let message = clean(&entry.msg, secret);
    let code = clean(&entry.code, secret);
    let (prefix, subcode) = code.split_once('.').unwrap_or((code.as_str(), ""));
    let account = text(entry.account_id.clone());
    let conn = text(entry.conn_id.clone());
    let narrow = |fallback: Scope| match (&account, &conn) {
        (Some(account), _) => Scope::Account(account.clone()),
        (None, Some(conn)) => Scope::Connection(conn.clone()),
        (None, None) => fallback,
    };
    let failure = |kind, code: &str, advice: &str| {
        let detail = if advice.is_empty() { says(&message) } else { format!("{}; {advice}", says(&message)) };
        Failure::new(kind, code, detail)
    };
    match (prefix, subcode) {
        ("gen", "auth") => {
            (Scope::All, failure(FailureKind::InvalidCredentials, &code, "connect again with a new setup token"))
        }
        ("gen", "api") => (Scope::All, failure(FailureKind::Config, &code, "saldo asked the Bridge wrongly")),
        ("gen", _) => (Scope::All, failure(FailureKind::Temporary(TemporaryCause::Unknown), &code, "")),
        ("con", _) => (
            narrow(Scope::All),
            failure(
                FailureKind::ActionRequired,
                &code,
                "sign in at the SimpleFIN Bridge and fix this bank's connection there",
            ),
        ),
        ("act", "missingdata") => (
            narrow(Scope::All),
            failure(
                FailureKind::Temporary(TemporaryCause::Unknown),
                "missing_data",
                "the Bridge's list of transactions is incomplete; saldo asks again later",
            ),
        ),
        ("act", _) => (narrow(Scope::All), failure(FailureKind::Temporary(TemporaryCause::ProviderDown), &code, "")),
        // A prefix the protocol does not define yet: about whom it names, else a note.
        _ => (narrow(Scope::Note), failure(FailureKind::Temporary(TemporaryCause::Unknown), &code, "")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, 16).unwrap()
    }

    #[test]
    fn kinds_are_guessed_from_names_and_holdings() {
        assert_eq!(infer_kind("Costco Anywhere Visa® Card", false), AccountKind::CreditCard);
        assert_eq!(infer_kind("AMEX Gold", false), AccountKind::CreditCard);
        assert_eq!(infer_kind("Castle Mortgage", false), AccountKind::Mortgage);
        assert_eq!(infer_kind("Auto Loan", false), AccountKind::Loan);
        assert_eq!(infer_kind("PRIME SAVINGS", false), AccountKind::Savings);
        assert_eq!(infer_kind("Navy Federal Credit Union Share Savings", false), AccountKind::Savings);
        assert_eq!(infer_kind("Cardinal Checking", false), AccountKind::Cash);
        assert_eq!(infer_kind("Dr Evil", true), AccountKind::Brokerage);
        assert_eq!(infer_kind("", false), AccountKind::Cash);
    }

    #[test]
    fn messages_are_cleaned_and_capped() {
        assert_eq!(clean("  a\n\tb\u{7}c  ", ""), "a b c");
        assert_eq!(clean("token s3cret here", "s3cret"), "token <redacted> here");
        let long = "é".repeat(500);
        assert_eq!(clean(&long, "").chars().count(), MAX_MESSAGE_CHARS);
    }

    #[test]
    fn amounts_may_be_numbers_and_dates_strings() {
        let body = br#"{"errors":[],"accounts":[{"id":"a","name":"x","currency":"USD","balance":12.5,
            "transactions":[{"id":"t","posted":"1705363200","amount":-3,"description":"d"}]}]}"#;
        let answer = read(body, today(), "").unwrap();
        assert_eq!(answer.accounts[0].balance.unwrap().minor, 1250);
        assert_eq!(answer.accounts[0].transactions[0].amount.minor, -300);
        assert_eq!(answer.accounts[0].transactions[0].booking_date, today());
    }

    #[test]
    fn a_broken_transaction_fails_its_account_only() {
        let body = br#"{"accounts":[
            {"id":"a","name":"x","currency":"USD","balance":"1","transactions":[{"id":"t","posted":1,"amount":"abc"}]},
            {"id":"b","name":"y","currency":"USD","balance":"1.005"},
            {"id":"c","name":"z","currency":"USD","balance":"2"}]}"#;
        let answer = read(body, today(), "").unwrap();
        assert_eq!(answer.accounts.len(), 3);
        let a = &answer.failures["a"];
        assert_eq!(a.code, "unreadable_response");
        assert!(a.detail.contains("transactions[0].amount"), "{}", a.detail);
        assert!(answer.failures["b"].detail.contains("balance"), "{}", answer.failures["b"].detail);
        assert!(!answer.failures.contains_key("c"));
    }

    #[test]
    fn a_wrong_shape_names_what_was_wrong() {
        let failure = read(br#"{"errors":[]}"#, today(), "").unwrap_err();
        assert!(failure.detail.contains("missing field `accounts`"), "{}", failure.detail);
        let failure = read(br#"{"accounts":[{"name":"no id"}]}"#, today(), "").unwrap_err();
        assert!(failure.detail.contains("accounts[0]") && failure.detail.contains("`id`"), "{}", failure.detail);
        let failure = read(b"<html>secret-password</html>", today(), "secret-password").unwrap_err();
        assert!(
            failure.detail.contains("not JSON") && !failure.detail.contains("secret-password"),
            "{}",
            failure.detail
        );
    }

    #[test]
    fn messages_about_nobody_are_notes_while_data_came_back() {
        let body = br#"{"errors":["Something odd happened."],"accounts":[{"id":"a","currency":"USD","balance":"1"}]}"#;
        let answer = read(body, today(), "").unwrap();
        assert!(answer.failures.is_empty());
        let failure = read(br#"{"errors":["Something odd happened."],"accounts":[]}"#, today(), "").unwrap_err();
        assert_eq!(failure.kind, FailureKind::Temporary(TemporaryCause::Unknown));
        assert!(failure.detail.contains("Something odd happened."));
    }
}
