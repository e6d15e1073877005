//! The JSON forms saldo prints (`--json`) and serves (`/api/v1`). They are a compatibility promise,
//! so they are separate from the domain types and converted by hand. Amounts are decimal strings with
//! the currency's number of decimals; dates are `YYYY-MM-DD`.

use crate::ops::{stated_value, AccountBalance, FxImport, NetWorthReport};
use saldo_core::account::Account;
use saldo_core::balance::BalancePoint;
use saldo_core::networth::NetWorth;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Serialize)]
pub struct AccountJson {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    /// `asset` or `liability`.
    pub class: &'static str,
    pub currency: &'static str,
    /// Latest balance, signed from the holder's view: an owed liability is negative.
    pub balance: Option<String>,
    pub balance_date: Option<String>,
    pub tracked: bool,
    /// `manual`, `import` or `connection`.
    pub origin: &'static str,
    pub connection_id: Option<String>,
    pub closed: bool,
    pub created_at: String,
}

impl AccountJson {
    pub fn new(account: &Account, balance: Option<&AccountBalance>) -> AccountJson {
        let latest = balance.and_then(|b| b.balance);
        AccountJson {
            id: account.id.to_string(),
            name: account.name.clone(),
            kind: account.kind.as_str(),
            class: account.class().as_str(),
            currency: account.currency.code(),
            balance: latest.map(|(_, money)| money.to_string()),
            balance_date: latest.map(|(day, _)| day.to_string()),
            tracked: account.tracked,
            origin: account.origin.as_str(),
            connection_id: account.origin.connection_id().map(|id| id.to_string()),
            closed: account.closed,
            created_at: account.created_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ValuationJson {
    pub date: String,
    /// The value as the user states it: what an asset is worth, or what a liability owes.
    pub value: String,
    /// The stored, signed balance.
    pub balance: String,
    /// `manual`, `sync` or `import`.
    pub source: &'static str,
}

impl ValuationJson {
    pub fn new(account: &Account, point: &BalancePoint) -> ValuationJson {
        ValuationJson {
            date: point.date.to_string(),
            value: stated_value(account.class(), point.amount).to_string(),
            balance: point.amount.to_string(),
            source: point.source.as_str(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct NetWorthDayJson {
    pub date: String,
    pub total: String,
    pub assets: String,
    /// What is owed, as a positive amount.
    pub liabilities: String,
    /// Per account kind: value of assets, or what is owed on liabilities.
    pub by_kind: BTreeMap<&'static str, String>,
}

impl NetWorthDayJson {
    pub fn new(day: &NetWorth) -> NetWorthDayJson {
        NetWorthDayJson {
            date: day.date.to_string(),
            total: day.total.to_string(),
            assets: day.assets.to_string(),
            liabilities: day.liabilities.to_string(),
            by_kind: day.by_kind.iter().map(|(kind, money)| (kind.as_str(), money.to_string())).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct NetWorthJson {
    pub currency: &'static str,
    #[serde(flatten)]
    pub current: NetWorthDayJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<NetWorthDayJson>>,
}

impl NetWorthJson {
    pub fn new(report: &NetWorthReport) -> NetWorthJson {
        NetWorthJson {
            currency: report.currency.code(),
            current: NetWorthDayJson::new(&report.current),
            history: report.history.as_ref().map(|days| days.iter().map(NetWorthDayJson::new).collect()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ProblemJson {
    pub line: Option<u64>,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct FxImportJson {
    pub rates: usize,
    pub currencies: Vec<&'static str>,
    pub first: Option<String>,
    pub last: Option<String>,
    pub problems: Vec<ProblemJson>,
}

impl FxImportJson {
    pub fn new(import: &FxImport) -> FxImportJson {
        FxImportJson {
            rates: import.rates,
            currencies: import.currencies.iter().map(|c| c.code()).collect(),
            first: import.first.map(|d| d.to_string()),
            last: import.last.map(|d| d.to_string()),
            problems: import
                .problems
                .iter()
                .map(|p| ProblemJson { line: p.line, message: p.message.clone() })
                .collect(),
        }
    }
}

/// An error as the API returns it.
#[derive(Debug, Serialize)]
pub struct ErrorJson {
    pub error: String,
}
