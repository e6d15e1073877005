//! What the records above a CSV's header say of the account (`IBAN;AT12…`, `Währung;EUR`,
//! `Saldo;150,00;EUR`, `Zeitraum;01.01.2024 - 31.01.2024`), and the currency its amounts are
//! written with.

use super::{as_iban, detect, is_currency_code, value, CsvProfile};
use crate::statement::{Position, StatementAccount};
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// The currency an amount is written with, where that says one: `€` and `£`, an ISO code
/// (`-3,50 EUR`, `USD 12.00`), or `kr` at an account whose IBAN's country has its own krona or
/// krone. `$`, and `kr` elsewhere, are left to the file or the user: several currencies write them.
pub(super) fn amount_currency(raw: &[u8], iban: Option<&str>) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    if text.contains('€') {
        return Some("EUR".into());
    }
    if text.contains('£') {
        return Some("GBP".into());
    }
    let mut words = text.split(|c: char| !c.is_ascii_alphabetic()).filter(|w| !w.is_empty());
    if let Some(code) = words.clone().find(|w| is_currency_code(w)) {
        return Some(code.to_string());
    }
    let krona = match iban.map(|iban| iban.get(..2).unwrap_or_default()) {
        Some("SE") => "SEK",
        Some("NO") => "NOK",
        Some("DK" | "FO" | "GL") => "DKK",
        Some("IS") => "ISK",
        _ => return None,
    };
    words.any(|w| w.eq_ignore_ascii_case("kr")).then(|| krona.to_string())
}

/// Account details in preamble records: `IBAN;AT12…`, `Kontonummer:;123…`, `Währung;EUR`, or an
/// IBAN anywhere.
pub(super) fn read_preamble(fields: &[String], account: &mut StatementAccount) {
    const NUMBER: [&str; 14] = [
        "konto",
        "kontonummer",
        "konto nr",
        "kontonr",
        "auftragskonto",
        "account",
        "account number",
        "account no",
        "compte",
        "numéro de compte",
        "rekening",
        "rekeningnummer",
        "cuenta",
        "conto",
    ];
    const CURRENCY: [&str; 7] = ["währung", "waehrung", "currency", "devise", "valuta", "moneda", "divisa"];
    let mut cells: Vec<(String, &str)> = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        if let Some((label, value)) = field.split_once(':') {
            if !value.trim().is_empty() {
                cells.push((detect::normalize(label), value.trim()));
            }
        }
        if let Some(next) = fields.get(i + 1) {
            cells.push((detect::normalize(field), next.trim()));
        }
    }
    for (label, value) in &cells {
        if value.is_empty() {
            continue;
        }
        if label.contains("iban") || NUMBER.contains(&label.as_str()) {
            if let Some(iban) = as_iban(value) {
                account.iban.get_or_insert(iban);
            } else if NUMBER.contains(&label.as_str()) && value.chars().any(|c| c.is_ascii_digit()) {
                account.number.get_or_insert_with(|| (*value).to_owned());
            }
        } else if CURRENCY.contains(&label.as_str()) && is_currency_code(value) {
            account.currency.get_or_insert_with(|| (*value).to_owned());
        }
    }
    if account.iban.is_none() {
        account.iban = fields.iter().find_map(|f| as_iban(f));
    }
}

/// A balance a preamble states (`Saldo;150,00;EUR`, `Kontostand vom 31.01.2024;150,00 EUR`), and
/// the day it is for when the preamble says (its label, or the end of `Zeitraum;… - 31.01.2024`).
#[derive(Debug, Clone, Default)]
pub(super) struct StatedBalance {
    pub(super) amount: Option<(Decimal, Position)>,
    pub(super) day: Option<NaiveDate>,
}

const BALANCE_LABELS: [&str; 12] = [
    "saldo",
    "kontostand",
    "balance",
    "closing balance",
    "current balance",
    "ending balance",
    "available balance",
    "solde",
    "neuer saldo",
    "endsaldo",
    "aktueller kontostand",
    "saldo aktuell",
];

const PERIOD_LABELS: [&str; 6] = ["zeitraum", "period", "statement period", "periode", "période", "periodo"];

/// Reads a preamble record's balance or period into `stated`, and the balance's currency into
/// `account` when it has none.
pub(super) fn read_preamble_balance(
    fields: &[String],
    profile: &CsvProfile,
    at: Position,
    stated: &mut StatedBalance,
    account: &mut StatementAccount,
) {
    let Some(label) = fields.first().map(|f| detect::normalize(f.trim_end_matches(':'))) else { return };
    let days_in = |text: &str| -> Vec<NaiveDate> {
        let tokens =
            text.split(|c: char| c.is_whitespace() || c == ';').map(|t| t.trim_matches(|c| c == ':' || c == ','));
        tokens.filter_map(|t| profile.date_format.parse(t.as_bytes())).collect()
    };
    if BALANCE_LABELS.iter().any(|l| label == *l || label.starts_with(&format!("{l} "))) {
        let Some(value) = fields.get(1) else { return };
        let mut words = value.split_whitespace();
        let number = words.next().unwrap_or_default();
        let Some(amount) = value::parse_amount(number.as_bytes(), profile.decimal_comma) else { return };
        stated.amount.get_or_insert((amount, at));
        let currency = words.next().map(str::to_string).or_else(|| fields.get(2).map(|f| f.trim().to_string()));
        if let Some(code) = currency.filter(|c| is_currency_code(c)) {
            account.currency.get_or_insert(code);
        }
        // "Kontostand vom 31.01.2024": the label's own day.
        if let Some(day) = days_in(fields[0].as_str()).pop() {
            stated.day = Some(day);
        }
    } else if PERIOD_LABELS.contains(&label.as_str()) {
        if let Some(day) = fields.get(1).and_then(|v| days_in(v).pop()) {
            stated.day.get_or_insert(day);
        }
    }
}
