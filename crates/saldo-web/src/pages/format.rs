//! How the pages write amounts, days, times and kinds.

use chrono::{DateTime, NaiveDate, Utc};
use saldo_core::account::{AccountClass, AccountKind};
use saldo_core::money::Money;

/// An amount with its currency's sign and decimals, thousands grouped: `€1,234.50`,
/// `−€34.88`, `SEK 12,000.00`.
pub fn money(amount: Money) -> String {
    let text = amount.to_decimal().abs().to_string();
    let (whole, fraction) = text.split_once('.').map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if let Some(fraction) = fraction {
        grouped.push('.');
        grouped.push_str(fraction);
    }
    let sign = if amount.minor < 0 { "−" } else { "" };
    match amount.currency.code() {
        "EUR" => format!("{sign}€{grouped}"),
        "USD" => format!("{sign}${grouped}"),
        "GBP" => format!("{sign}£{grouped}"),
        code => format!("{sign}{code} {grouped}"),
    }
}

/// An amount the user owes, as owed: a liability's balance is negative in saldo.
pub fn owed(balance: Money) -> String {
    money(Money::new(-balance.minor, balance.currency))
}

/// A change, with its sign always written: `+€12.00`, `−€3.00`.
pub fn change(amount: Money) -> String {
    if amount.minor > 0 {
        format!("+{}", money(amount))
    } else {
        money(amount)
    }
}

/// A day as people read it: `7 Dec 2026`.
pub fn day(date: NaiveDate) -> String {
    date.format("%-d %b %Y").to_string()
}

/// A moment as (machine form for `<time datetime>`, what is shown without script: UTC).
pub fn moment(at: DateTime<Utc>) -> (String, String) {
    (at.to_rfc3339(), at.format("%-d %b %Y %H:%M UTC").to_string())
}

/// A kind as a person names it.
pub fn kind(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Cash => "Cash",
        AccountKind::Savings => "Savings",
        AccountKind::Brokerage => "Brokerage",
        AccountKind::Fund => "Funds",
        AccountKind::Pension => "Pension",
        AccountKind::Crypto => "Crypto",
        AccountKind::RealEstate => "Real estate",
        AccountKind::Vehicle => "Vehicles",
        AccountKind::OtherAsset => "Other assets",
        AccountKind::CreditCard => "Credit cards",
        AccountKind::Loan => "Loans",
        AccountKind::Mortgage => "Mortgages",
        AccountKind::OtherLiability => "Other liabilities",
    }
}

/// One account's kind, as a person names it.
pub fn kind_one(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Cash => "Cash",
        AccountKind::Savings => "Savings",
        AccountKind::Brokerage => "Brokerage",
        AccountKind::Fund => "Fund",
        AccountKind::Pension => "Pension",
        AccountKind::Crypto => "Crypto",
        AccountKind::RealEstate => "Real estate",
        AccountKind::Vehicle => "Vehicle",
        AccountKind::OtherAsset => "Other asset",
        AccountKind::CreditCard => "Credit card",
        AccountKind::Loan => "Loan",
        AccountKind::Mortgage => "Mortgage",
        AccountKind::OtherLiability => "Other liability",
    }
}

/// The kinds of a class, as (form value, label).
pub fn kinds_of(class: AccountClass) -> Vec<(&'static str, &'static str)> {
    AccountKind::ALL.iter().filter(|k| k.class() == class).map(|k| (k.as_str(), kind_one(*k))).collect()
}

/// Up to two letters that stand for an institution where its logo would be.
pub fn initials(name: &str) -> String {
    let words: Vec<&str> =
        name.split_whitespace().filter(|w| w.chars().next().is_some_and(char::is_alphanumeric)).collect();
    let letters: String = match words.as_slice() {
        [] => "?".into(),
        [one] => one.chars().take(2).collect(),
        [first, second, ..] => first.chars().take(1).chain(second.chars().take(1)).collect(),
    };
    letters.to_uppercase()
}

/// A day a form or query gives (`YYYY-MM-DD`), if it gives one.
pub fn parse_day(field: &str, text: Option<&str>) -> Result<Option<NaiveDate>, saldo_app::ops::OpsError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        Some(text) => {
            NaiveDate::parse_from_str(text, "%Y-%m-%d").map(Some).map_err(|_| saldo_app::ops::OpsError::InvalidField {
                field: field.into(),
                message: format!("{text:?} is not a day (YYYY-MM-DD)"),
            })
        }
        None => Ok(None),
    }
}

/// An account kind a form gives.
pub fn parse_kind(text: &str) -> Result<AccountKind, saldo_app::ops::OpsError> {
    text.parse().map_err(|e: saldo_core::account::UnknownKind| saldo_app::ops::OpsError::InvalidField {
        field: "kind".into(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use saldo_core::money::Currency;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::parse("EUR").unwrap())
    }

    #[test]
    fn amounts_are_grouped_signed_and_keep_their_decimals() {
        assert_eq!(money(eur(123_450)), "€1,234.50");
        assert_eq!(money(eur(-3488)), "−€34.88");
        assert_eq!(money(eur(100_000_000)), "€1,000,000.00");
        assert_eq!(money(Money::new(1_200_000, Currency::parse("SEK").unwrap())), "SEK 12,000.00");
        assert_eq!(money(Money::new(5000, Currency::parse("JPY").unwrap())), "JPY 5,000");
        assert_eq!(owed(eur(-250_000)), "€2,500.00");
        assert_eq!(change(eur(1200)), "+€12.00");
        assert_eq!(initials("Sandbox Bank"), "SB");
        assert_eq!(initials("ING"), "IN");
    }
}
