//! Transactions across accounts (and the list each account page shows), importing a statement
//! file, and notifications.

use super::{done, format, render, Layout, Link, PageError, PageResult, Person, Section};
use crate::uploads::{import_form, UploadSlots};
use crate::ApiError;
use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::Extension;
use chrono::NaiveDate;
use saldo_app::activity::{self, TransactionQuery};
use saldo_app::import::FileReport;
use saldo_app::ops::{Actor, App, OpsError};
use saldo_core::failure::Colour;
use saldo_core::notification::Level;
use saldo_core::transaction::TransactionStatus;
use std::collections::HashMap;
use std::sync::Arc;

/// Transactions shown per page.
const PAGE: u32 = 50;

pub struct TransactionRow {
    pub day: String,
    pub description: String,
    pub account: String,
    pub account_href: String,
    pub amount: String,
    pub pending: bool,
}

/// A filtered page of transactions, with its form and the link to the next page.
pub struct TransactionList {
    pub action: String,
    pub q: String,
    pub status: String,
    pub from: String,
    pub to: String,
    pub caption: String,
    pub show_account: bool,
    pub rows: Vec<TransactionRow>,
    pub next: Option<String>,
}

fn day_param(query: &HashMap<String, String>, name: &str) -> Result<Option<NaiveDate>, OpsError> {
    format::parse_day(name, query.get(name).map(String::as_str))
}

/// The page of transactions a query asks for: one account's, or all of the person's.
pub async fn transaction_list(
    ctx: &App,
    actor: &Actor,
    account: Option<String>,
    action: &str,
    query: &HashMap<String, String>,
) -> Result<TransactionList, PageError> {
    let text = |name: &str| query.get(name).map(|v| v.trim().to_string()).unwrap_or_default();
    let status = match text("status").as_str() {
        "" => None,
        other => Some(TransactionStatus::parse(other).ok_or_else(|| OpsError::InvalidField {
            field: "status".into(),
            message: format!("{other:?} is not a status: booked or pending"),
        })?),
    };
    let show_account = account.is_none();
    let request = TransactionQuery {
        account,
        from: day_param(query, "from")?,
        to: day_param(query, "to")?,
        status,
        text: Some(text("q")).filter(|q| !q.is_empty()),
        cursor: Some(text("cursor")).filter(|c| !c.is_empty()),
        limit: Some(PAGE),
    };
    let page = activity::transactions(ctx, actor, &request).await?;
    let names: HashMap<_, _> = if show_account {
        ctx.db.accounts(actor.user.id).await.map_err(OpsError::from)?.into_iter().map(|a| (a.id, a.name)).collect()
    } else {
        HashMap::new()
    };
    let rows = page
        .transactions
        .iter()
        .map(|t| TransactionRow {
            day: format::day(t.booking_date),
            description: t
                .counterparty
                .as_deref()
                .filter(|c| !t.description.contains(*c))
                .map_or_else(|| t.description.clone(), |c| format!("{} · {c}", t.description)),
            account: names.get(&t.account_id).cloned().unwrap_or_default(),
            account_href: format!("/accounts/{}", t.account_id),
            amount: format::money(t.amount),
            pending: t.status == TransactionStatus::Pending,
        })
        .collect::<Vec<_>>();
    let keep: Vec<(String, String)> = ["q", "status", "from", "to"]
        .iter()
        .filter_map(|k| query.get(*k).filter(|v| !v.is_empty()).map(|v| (k.to_string(), v.clone())))
        .collect();
    let next = page.next_cursor.as_ref().map(|cursor| {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &keep {
            pairs.append_pair(k, v);
        }
        pairs.append_pair("cursor", cursor);
        format!("{action}?{}", pairs.finish())
    });
    let caption = match rows.len() {
        0 => "No transactions match.".to_string(),
        n => format!("{n} transaction{} shown, newest first", if n == 1 { "" } else { "s" }),
    };
    Ok(TransactionList {
        action: action.to_string(),
        q: text("q"),
        status: text("status"),
        from: text("from"),
        to: text("to"),
        caption,
        show_account,
        rows,
        next,
    })
}

/// An import's outcome in the page's words.
pub struct ImportSummary {
    pub title: String,
    pub new: u64,
    pub duplicates: u64,
    pub replaced: u64,
    pub accounts: Vec<String>,
    pub problems: Vec<String>,
}

impl ImportSummary {
    fn new(report: &FileReport) -> ImportSummary {
        let sum = |f: fn(&saldo_app::import::StatementReport) -> u64| report.statements.iter().map(f).sum();
        let title = match (&report.error, report.dry_run) {
            (Some(error), _) => format!("Nothing of {} was imported: {error}", report.path),
            (None, true) => format!("What importing {} would do (nothing was saved):", report.path),
            (None, false) => format!("Imported {}:", report.path),
        };
        let accounts = report
            .statements
            .iter()
            .map(|s| {
                let name = s.account.name.clone().or(s.account.iban.clone()).unwrap_or_else(|| "an account".into());
                let closing = s.closing_balance.as_ref().map_or(String::new(), |b| {
                    format!(
                        ", closing balance {} {} on {}",
                        b.amount,
                        b.currency.as_deref().unwrap_or_default(),
                        b.date
                    )
                });
                let created = if s.account.created { " (a new account)" } else { "" };
                format!("{name}{created}: {} transactions{closing}", s.transactions)
            })
            .collect();
        let mut problems: Vec<String> = report
            .problems
            .iter()
            .map(|p| match p.line {
                Some(line) => format!("line {line}: {}", p.message),
                None => p.message.clone(),
            })
            .collect();
        if !report.account_candidates.is_empty() {
            let names: Vec<&str> = report.account_candidates.iter().map(|c| c.name.as_str()).collect();
            problems.push(format!("choose the account it goes into: {}", names.join(", ")));
        }
        ImportSummary {
            title,
            new: sum(|s| s.new),
            duplicates: sum(|s| s.duplicate),
            replaced: sum(|s| s.pending_replaced),
            accounts,
            problems,
        }
    }
}

#[derive(Template)]
#[template(path = "transactions.html")]
struct TransactionsPage {
    layout: Layout,
    accounts: Vec<(String, String)>,
    list: TransactionList,
    report: Option<ImportSummary>,
    import_error: Option<String>,
}

async fn transactions_page(
    ctx: &App,
    person: &Person,
    query: &HashMap<String, String>,
    report: Option<ImportSummary>,
    import_error: Option<String>,
    status: StatusCode,
) -> PageResult {
    let actor = person.actor();
    let list = transaction_list(ctx, actor, None, "/transactions", query).await?;
    let mut accounts: Vec<(String, String)> = ctx
        .db
        .accounts(actor.user.id)
        .await
        .map_err(OpsError::from)?
        .into_iter()
        .map(|a| (a.id.to_string(), format!("{} ({})", a.name, a.currency.code())))
        .collect();
    accounts.sort_by_key(|a| a.1.to_lowercase());
    let layout = Layout::signed(ctx, person, "Transactions", Section::Transactions).await;
    Ok(render(status, &TransactionsPage { layout, accounts, list, report, import_error }))
}

/// `GET /transactions`
pub async fn transactions(
    State(ctx): State<App>,
    person: Person,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult {
    transactions_page(&ctx, &person, &query, None, None, StatusCode::OK).await
}

/// `POST /import`: a statement file from the Transactions page; the page shows its report.
pub async fn import(
    State(ctx): State<App>,
    Extension(slots): Extension<Arc<UploadSlots>>,
    person: Person,
    form: Multipart,
) -> PageResult {
    let none = HashMap::new();
    match import_form(&ctx, person.actor(), &slots, form).await {
        Ok(report) => {
            let status = if report.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
            transactions_page(&ctx, &person, &none, Some(ImportSummary::new(&report)), None, status).await
        }
        Err(ApiError::Ops(err @ OpsError::Store(_))) => Err(err.into()),
        Err(ApiError::Ops(err)) => {
            transactions_page(&ctx, &person, &none, None, Some(err.to_string()), StatusCode::BAD_REQUEST).await
        }
        Err(ApiError::Status(status, _, message)) => {
            transactions_page(&ctx, &person, &none, None, Some(message), status).await
        }
    }
}

pub struct NotificationRow {
    pub id: String,
    pub text: String,
    pub unread: bool,
    pub colour: &'static str,
    pub at: (String, String),
    pub action: Option<Link>,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    layout: Layout,
    unread: usize,
    rows: Vec<NotificationRow>,
}

/// `GET /notifications`
pub async fn notifications(
    State(ctx): State<App>,
    person: Person,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult {
    let actor = person.actor();
    let all = activity::notifications(&ctx, actor, false).await?;
    let rows: Vec<NotificationRow> = all
        .iter()
        .map(|n| NotificationRow {
            id: n.id.to_string(),
            text: n.text(),
            unread: n.read_at.is_none(),
            colour: match n.level {
                Level::Primary => Colour::Red.as_str(),
                Level::Warning => Colour::Orange.as_str(),
                Level::Info => "grey",
            },
            at: format::moment(n.created_at),
            action: n.connection_id.map(|c| Link {
                href: format!("/settings/providers#connection-{c}"),
                label: "See the connection".into(),
            }),
        })
        .collect();
    let unread = rows.iter().filter(|r| r.unread).count();
    let layout = Layout::signed(&ctx, &person, "Notifications", Section::Notifications)
        .await
        .with_flash(query.get("done").cloned());
    Ok(render(StatusCode::OK, &NotificationsPage { layout, unread, rows }))
}

/// `POST /notifications/read-all`
pub async fn read_all(State(ctx): State<App>, person: Person) -> PageResult {
    let marked = activity::mark_all_read(&ctx, person.actor()).await?;
    Ok(done("/notifications", &format!("Marked {marked} as read.")))
}

/// `POST /notifications/{id}/read`
pub async fn read_one(State(ctx): State<App>, person: Person, Path(id): Path<String>) -> PageResult {
    activity::mark_read(&ctx, person.actor(), &id).await?;
    Ok(done("/notifications", "Marked as read."))
}
