//! The JSON forms saldo prints (`--json`) and serves (`/api/v1`). They are a compatibility promise,
//! so they are separate from the domain types and converted by hand. Amounts are decimal strings with
//! the currency's number of decimals; dates are `YYYY-MM-DD`.

use saldo_app::accounts::{stated_value, AccountBalance};
use saldo_app::connections::{BegunAuthorization, UserStep};
use saldo_app::fx::FxImport;
use saldo_app::networth::NetWorthReport;
use saldo_core::account::Account;
use saldo_core::balance::BalancePoint;
use saldo_core::networth::{LeftOutReason, NetWorth};
use saldo_store::{AuthorizationProgress, StoredAuthorization};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Serialize, utoipa::ToSchema)]
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
    /// Its positions as last observed (for an investment account): what its balance is made of
    /// beside cash.
    pub holdings: Vec<HoldingJson>,
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
            holdings: balance.map(|b| b.holdings.iter().map(HoldingJson::new).collect()).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NetWorthJson {
    pub currency: &'static str,
    #[serde(flatten)]
    pub current: NetWorthDayJson,
    /// Tracked accounts the figure leaves out, and why.
    pub left_out: Vec<LeftOutJson>,
    /// Rates used that were published more than a week before the day.
    pub stale_rates: Vec<StaleRateJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<NetWorthDayJson>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LeftOutJson {
    pub account_id: String,
    pub name: String,
    /// `no_balance` or `no_rate`.
    pub reason: &'static str,
    pub message: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaleRateJson {
    pub currency: &'static str,
    /// The day the rate was published.
    pub published: String,
}

impl NetWorthJson {
    pub fn new(report: &NetWorthReport) -> NetWorthJson {
        let day = report.current.date;
        NetWorthJson {
            currency: report.currency.code(),
            current: NetWorthDayJson::new(&report.current),
            left_out: report
                .left_out
                .iter()
                .map(|(account, reason)| {
                    let (reason, message) = match reason {
                        LeftOutReason::NoBalance => (
                            "no_balance",
                            "it has no balance yet: give it one as a valuation, or import a statement that states it"
                                .to_string(),
                        ),
                        LeftOutReason::NoRate { currency } => (
                            "no_rate",
                            format!("no exchange rate for {currency} on or before {day}: import exchange rates"),
                        ),
                    };
                    LeftOutJson { account_id: account.id.to_string(), name: account.name.clone(), reason, message }
                })
                .collect(),
            stale_rates: report
                .current
                .stale_rates
                .iter()
                .map(|r| StaleRateJson { currency: r.currency.code(), published: r.published.to_string() })
                .collect(),
            history: report.history.as_ref().map(|days| days.iter().map(NetWorthDayJson::new).collect()),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProblemJson {
    pub line: Option<u64>,
    pub message: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
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
                .map(|p| ProblemJson { line: p.at.line, message: p.message.clone() })
                .collect(),
        }
    }
}

/// An error as the API returns it: `{"error": {"code": "not_found", "message": "…"}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorJson {
    pub error: ErrorBodyJson,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBodyJson {
    /// What kind of error, for programs: `invalid_request`, `not_found`, `missing_rate`, `internal`.
    pub code: &'static str,
    /// What is wrong, for people.
    pub message: String,
    /// The body field or query parameter that is wrong, when it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InstitutionJson {
    pub id: String,
    /// The provider's id; what `saldo connect` takes.
    pub provider_id: String,
    pub name: String,
    pub connector: String,
    pub country: Option<String>,
    pub bic: Option<String>,
    pub max_history_days: Option<u32>,
    pub max_consent_days: Option<u32>,
    pub accesses_per_day: Option<u32>,
    pub description: String,
    pub logo_url: Option<String>,
}

impl InstitutionJson {
    pub fn new(i: &saldo_core::institution::Institution) -> InstitutionJson {
        InstitutionJson {
            id: i.id.to_string(),
            provider_id: i.provider_institution_id.clone(),
            name: i.name.clone(),
            connector: i.connector.clone(),
            country: i.country.clone(),
            bic: i.bic.clone(),
            max_history_days: i.max_history_days,
            max_consent_days: i.max_consent_days,
            accesses_per_day: i.accesses_per_day,
            description: i.description.clone(),
            logo_url: i.logo_url.clone(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionErrorJson {
    /// The failure kind's snake_case name.
    pub kind: &'static str,
    /// The provider's own code.
    pub code: String,
    pub since: String,
    pub attempts: u32,
    pub escalated: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConnectionJson {
    pub id: String,
    pub institution: String,
    pub institution_id: String,
    /// `ok`, `syncing`, `temporary_error` or `permanent_error`.
    pub status: &'static str,
    /// `green`, `orange` or `red`.
    pub color: &'static str,
    pub message: String,
    pub error: Option<ConnectionErrorJson>,
    /// The institution has an outage affecting many connections.
    pub outage: bool,
    pub last_success_at: Option<String>,
    pub next_sync_at: Option<String>,
    pub consent_expires_at: Option<String>,
}

impl ConnectionJson {
    pub fn new(view: &saldo_app::connections::ConnectionView) -> ConnectionJson {
        ConnectionJson {
            id: view.connection.id.to_string(),
            institution: view.institution.name.clone(),
            institution_id: view.institution.provider_institution_id.clone(),
            status: view.status.as_str(),
            color: view.colour.as_str(),
            message: view.message.clone(),
            error: view.episode.as_ref().map(|e| ConnectionErrorJson {
                kind: e.failure.kind.as_str(),
                code: e.failure.code.clone(),
                since: e.since.to_rfc3339(),
                attempts: e.attempts,
                escalated: e.escalated,
            }),
            outage: view.outage,
            last_success_at: view.last_success_at.map(|t| t.to_rfc3339()),
            next_sync_at: view.next_sync_at.map(|t| t.to_rfc3339()),
            consent_expires_at: view.consent_expires_at.map(|t| t.to_rfc3339()),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemJson {
    pub id: String,
    pub provider_item_id: String,
    pub kind: &'static str,
    pub class: &'static str,
    pub name: String,
    pub iban: Option<String>,
    pub masked_number: Option<String>,
    pub currency: &'static str,
    pub current_value: Option<String>,
    /// `offered`, `tracked` or `ignored`.
    pub decision: &'static str,
    pub tracked: bool,
    pub account_id: Option<String>,
    pub vanished: bool,
    /// For an offered item, the user's accounts it already is (by IBAN, account or card number):
    /// one is linked when it is tracked; of several, the user says which.
    pub links_to: Vec<LinkJson>,
}

/// An account an offered item would be linked to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LinkJson {
    pub account_id: String,
    pub name: String,
}

impl ItemJson {
    /// The item, with the accounts it would be linked to.
    pub fn linked(item: &saldo_core::item::Item, accounts: &[saldo_core::account::Account]) -> ItemJson {
        let links_to =
            accounts.iter().map(|a| LinkJson { account_id: a.id.to_string(), name: a.name.clone() }).collect();
        ItemJson { links_to, ..ItemJson::new(item) }
    }

    pub fn new(item: &saldo_core::item::Item) -> ItemJson {
        ItemJson {
            id: item.id.to_string(),
            provider_item_id: item.provider_item_id.clone(),
            kind: item.kind.as_str(),
            class: item.kind.class().as_str(),
            name: item.name.clone(),
            iban: item.iban.clone(),
            masked_number: item.masked_number.clone(),
            currency: item.currency.code(),
            current_value: item.current_value.map(|m| m.to_string()),
            decision: item.decision.as_str(),
            tracked: item.decision == saldo_core::item::ItemDecision::Tracked,
            account_id: item.account_id.map(|a| a.to_string()),
            vanished: item.vanished_at.is_some(),
            links_to: Vec::new(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TransactionJson {
    pub id: String,
    pub provider_id: Option<String>,
    pub booking_date: String,
    pub value_date: Option<String>,
    pub amount: String,
    pub currency: &'static str,
    pub description: String,
    pub counterparty: Option<String>,
    /// `pending` or `booked`.
    pub status: &'static str,
}

impl TransactionJson {
    pub fn new(t: &saldo_core::transaction::Transaction) -> TransactionJson {
        TransactionJson {
            id: t.id.to_string(),
            provider_id: t.provider_id.clone(),
            booking_date: t.booking_date.to_string(),
            value_date: t.value_date.map(|d| d.to_string()),
            amount: t.amount.to_string(),
            currency: t.amount.currency.code(),
            description: t.description.clone(),
            counterparty: t.counterparty.clone(),
            status: t.status.as_str(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NotificationJson {
    pub id: String,
    pub kind: &'static str,
    /// `primary`, `warning` or `info`.
    pub level: &'static str,
    pub message: String,
    pub connection_id: Option<String>,
    pub created_at: String,
    pub read: bool,
}

impl NotificationJson {
    pub fn new(n: &saldo_core::notification::Notification) -> NotificationJson {
        NotificationJson {
            id: n.id.to_string(),
            kind: n.kind.as_str(),
            level: n.level.as_str(),
            message: n.text(),
            connection_id: n.connection_id.map(|c| c.to_string()),
            created_at: n.created_at.to_rfc3339(),
            read: n.read_at.is_some(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SyncReportJson {
    pub connection_id: String,
    pub institution: String,
    /// `ok`, `partial`, `failed`, `refused` or `lease_lost`.
    pub outcome: &'static str,
    pub new_transactions: u64,
    /// The failure kind when `failed`.
    pub error: Option<&'static str>,
    /// Why it did not run when `refused`.
    pub reason: Option<String>,
    pub notifications: u64,
}

impl SyncReportJson {
    pub fn new(report: &saldo_app::sync::SyncReport) -> SyncReportJson {
        use saldo_app::sync::SyncOutcome;
        let (outcome, new_transactions, error, reason) = match &report.outcome {
            SyncOutcome::Ok { new_transactions, partial } => {
                (if *partial { "partial" } else { "ok" }, *new_transactions, None, None)
            }
            SyncOutcome::Failed(kind) => ("failed", 0, Some(kind.as_str()), None),
            SyncOutcome::Refused { reason, .. } => ("refused", 0, None, Some(reason.clone())),
            SyncOutcome::LeaseLost => ("lease_lost", 0, None, None),
        };
        SyncReportJson {
            connection_id: report.connection_id.to_string(),
            institution: report.institution.clone(),
            outcome,
            new_transactions,
            error,
            reason,
            notifications: report.notifications,
        }
    }
}

/// An authorisation begun, as the API and `saldo connect --json` show it: what the user does (open
/// `authorization_url`, or approve in the bank's app as `decoupled.message` says) and until when.
/// `GET /api/v1/authorizations/{state}` follows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthorizationJson {
    pub connection_id: String,
    pub institution: String,
    /// `awaiting_authorization` (open `authorization_url` in the browser) or `awaiting_approval`
    /// (approve in the bank's app; saldo completes it meanwhile).
    pub status: &'static str,
    /// The provider's page (for the sandbox, its consent page on this server).
    pub authorization_url: Option<String>,
    pub decoupled: Option<DecoupledJson>,
    pub state: String,
    pub expires_at: String,
}

/// An approval the bank asks for in its own app.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DecoupledJson {
    /// The bank's words to the user.
    pub message: String,
}

impl AuthorizationJson {
    /// `base_url` makes a page of this server (the sandbox bank's consent page) a full address.
    pub fn new(auth: &BegunAuthorization, base_url: &str) -> AuthorizationJson {
        let (status, authorization_url, decoupled) = match &auth.step {
            UserStep::OpenPage(url) if url.starts_with('/') => {
                ("awaiting_authorization", Some(format!("{}{url}", base_url.trim_end_matches('/'))), None)
            }
            UserStep::OpenPage(url) => ("awaiting_authorization", Some(url.clone()), None),
            UserStep::ApproveInBankApp(message) => {
                ("awaiting_approval", None, Some(DecoupledJson { message: message.clone() }))
            }
        };
        AuthorizationJson {
            connection_id: auth.connection_id.to_string(),
            institution: auth.institution.name.clone(),
            status,
            authorization_url,
            decoupled,
            state: auth.state.clone(),
            expires_at: auth.expires_at.to_rfc3339(),
        }
    }
}

/// Where an authorisation has got to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthorizationStatusJson {
    pub state: String,
    pub connection_id: String,
    /// `connect` or `reconnect`.
    pub purpose: &'static str,
    /// `waiting` (for the user's answer), `completing`, `done` (the connection is synced) or
    /// `failed` (`error` says why; nothing was saved).
    pub status: &'static str,
    pub error: Option<String>,
    pub expires_at: String,
}

impl AuthorizationStatusJson {
    pub fn new(auth: &StoredAuthorization, progress: &AuthorizationProgress) -> AuthorizationStatusJson {
        let (status, error) = match progress {
            AuthorizationProgress::Waiting => ("waiting", None),
            AuthorizationProgress::Completing => ("completing", None),
            AuthorizationProgress::Done => ("done", None),
            AuthorizationProgress::Failed(error) => ("failed", Some(error.clone())),
        };
        AuthorizationStatusJson {
            state: auth.state.clone(),
            connection_id: auth.connection_id.to_string(),
            purpose: auth.purpose.as_str(),
            status,
            error,
            expires_at: auth.expires_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HoldingJson {
    pub name: String,
    pub isin: Option<String>,
    pub ticker: Option<String>,
    pub quantity: String,
    pub unit_price: Option<String>,
    pub market_value: String,
    pub currency: &'static str,
    pub as_of: String,
}

impl HoldingJson {
    pub fn new(holding: &saldo_core::holding::Holding) -> HoldingJson {
        HoldingJson {
            name: holding.instrument.name.clone(),
            isin: holding.instrument.isin.clone(),
            ticker: holding.instrument.ticker.clone(),
            quantity: holding.quantity.normalize().to_string(),
            unit_price: holding.unit_price.map(|p| p.normalize().to_string()),
            market_value: holding.market_value.to_string(),
            currency: holding.market_value.currency.code(),
            as_of: holding.as_of.to_string(),
        }
    }
}
