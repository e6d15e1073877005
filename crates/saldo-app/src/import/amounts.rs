//! What an entry's amount becomes when stored, and what a statement's currency needs: the same
//! in a dry run as in the import.

use super::{FileReport, ImportRequest, ProblemReport, StatementReport};
use rust_decimal::Decimal;
use saldo_core::money::{Currency, Money};
use saldo_import::ParsedTransaction;

/// An entry's amount as it will be stored: rounded half to even to its currency's minor unit when
/// it is finer (a money-market fund's `115.8331`), which is a problem naming it, in the dry run as
/// in the import, so the report's sum is what is stored.
pub(super) fn stored_amount(
    t: &ParsedTransaction,
    statement_currency: Option<&str>,
    problems: &mut Vec<ProblemReport>,
) -> Decimal {
    let Some(currency) = t.currency.as_deref().or(statement_currency).and_then(|c| Currency::parse(c).ok()) else {
        return t.amount;
    };
    match Money::from_decimal(t.amount, currency) {
        Ok(_) => t.amount,
        Err(_) => match Money::round_from_decimal(t.amount, currency) {
            Ok(rounded) => {
                let stored = rounded.to_decimal();
                problems.push(problem(
                    t.at,
                    format!("the amount {} has more decimals than {currency} keeps: stored as {stored} (rounded half to even)", t.amount.normalize()),
                ));
                stored
            }
            Err(_) => t.amount,
        },
    }
}

/// A dry run cannot tell whether a statement would go into an existing account; it says what the
/// import would need if it does not.
pub(super) fn warn_of_no_currency(statement: &StatementReport, report: &mut FileReport, request: &ImportRequest) {
    let unknown = statement.account.currency.is_none() && statement.shown_currency.is_none();
    if unknown && request.currency.is_none() && request.account.is_none() {
        report.problems.push(ProblemReport {
            line: None,
            offset: None,
            message: "the statement does not say its currency: unless it goes into an account you have, \
                      importing it needs --currency CODE"
                .into(),
        });
    }
}

/// An amount of a statement in its account's currency: exact, else rounded to the currency's minor
/// unit; an amount in another currency is skipped.
pub(super) fn statement_money(
    amount: Decimal,
    currency: Option<&str>,
    account_currency: saldo_core::money::Currency,
    at: saldo_import::Position,
) -> Result<Money, ProblemReport> {
    if let Some(code) = currency {
        if !code.eq_ignore_ascii_case(account_currency.code()) {
            return Err(problem(at, format!("an amount in {code} in an account kept in {account_currency}; skipped")));
        }
    }
    Money::from_decimal(amount, account_currency).or_else(|_| {
        Money::round_from_decimal(amount, account_currency).map_err(|err| problem(at, format!("{err}; skipped")))
    })
}

pub(super) fn problem(at: saldo_import::Position, message: String) -> ProblemReport {
    ProblemReport { line: at.line, offset: at.offset, message }
}

/// An amount as reports write it: with its currency's decimals (`2745.90`, JPY `1500`), every
/// digit kept when it has more; as written when the currency is not known.
pub(super) fn shown(amount: Decimal, currency: Option<&str>) -> String {
    let Some(places) = currency.and_then(|code| Currency::parse(code).ok()).map(Currency::exponent) else {
        return amount.normalize().to_string();
    };
    let mut shown = amount.normalize();
    if shown.scale() < places {
        shown.rescale(places);
    }
    shown.to_string()
}
