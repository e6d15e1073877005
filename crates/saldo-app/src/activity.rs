//! What happened in a user's accounts: their transactions, a page at a time, and their
//! notifications.

use crate::ops::{Actor, App, OpsError};
use base64::Engine as _;
use chrono::NaiveDate;
use saldo_core::ids::TransactionId;
use saldo_core::notification::Notification;
use saldo_core::transaction::{Transaction, TransactionStatus};
use saldo_store::TransactionFilter;
use uuid::Uuid;

/// The most transactions one page holds, and how many it holds when not asked.
pub const MAX_PAGE: u32 = 500;
const DEFAULT_PAGE: u32 = 100;

/// Which transactions to show.
#[derive(Debug, Clone, Default)]
pub struct TransactionQuery {
    /// An account (id or name) of the user's; all of them when `None`.
    pub account: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub status: Option<TransactionStatus>,
    /// Text the description or counterparty holds, in any case.
    pub text: Option<String>,
    /// Where the previous page ended (its `next_cursor`).
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// A page of transactions, newest booking first, and where the next one starts.
#[derive(Debug, Clone)]
pub struct TransactionPage {
    pub transactions: Vec<Transaction>,
    pub next_cursor: Option<String>,
}

fn encode_cursor(transaction: &Transaction) -> String {
    let text = format!("{}/{}", transaction.booking_date, transaction.id);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode_cursor(cursor: &str) -> Result<(NaiveDate, TransactionId), OpsError> {
    let invalid = || OpsError::Invalid(format!("invalid cursor {cursor:?}: use the next_cursor of a page"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (day, id) = text.split_once('/').ok_or_else(invalid)?;
    let day = NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| invalid())?;
    Ok((day, TransactionId(Uuid::parse_str(id).map_err(|_| invalid())?)))
}

/// A page of the user's transactions.
pub async fn transactions(ctx: &App, actor: &Actor, query: &TransactionQuery) -> Result<TransactionPage, OpsError> {
    let account = match &query.account {
        Some(reference) => Some(crate::accounts::find_account(ctx, actor, reference).await?.id),
        None => None,
    };
    if let (Some(from), Some(to)) = (query.from, query.to) {
        if from > to {
            return Err(OpsError::Invalid(format!("from {from} is after to {to}")));
        }
    }
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(OpsError::Invalid(format!("invalid limit {limit}: expected 1 to {MAX_PAGE}")));
    }
    let filter = TransactionFilter {
        account,
        from: query.from,
        to: query.to,
        status: query.status,
        text: query.text.clone(),
        after: query.cursor.as_deref().map(decode_cursor).transpose()?,
        // One more than asked tells whether another page follows.
        limit: limit + 1,
    };
    let mut transactions = ctx.db.transaction_page(actor.user.id, &filter).await?;
    let more = transactions.len() > limit as usize;
    transactions.truncate(limit as usize);
    let next_cursor = if more { transactions.last().map(encode_cursor) } else { None };
    Ok(TransactionPage { transactions, next_cursor })
}

/// The user's notifications, newest first.
pub async fn notifications(ctx: &App, actor: &Actor, unread_only: bool) -> Result<Vec<Notification>, OpsError> {
    Ok(ctx.db.notifications(actor.user.id, unread_only).await?)
}

/// Marks one of the user's notifications read (again: no error if it was).
pub async fn mark_read(ctx: &App, actor: &Actor, id: &str) -> Result<(), OpsError> {
    let missing = || OpsError::NotFound(format!("no notification with id {id}"));
    let id = Uuid::parse_str(id).map_err(|_| missing())?;
    if !ctx.db.notifications(actor.user.id, false).await?.iter().any(|n| n.id == id) {
        return Err(missing());
    }
    ctx.db.mark_notifications_read(actor.user.id, &[id], ctx.clock.now()).await?;
    Ok(())
}

/// Marks all the user's notifications read; returns how many were unread.
pub async fn mark_all_read(ctx: &App, actor: &Actor) -> Result<u64, OpsError> {
    Ok(ctx.db.mark_notifications_read(actor.user.id, &[], ctx.clock.now()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_where_a_page_ended_and_nothing_else_is_taken() {
        let text =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("2026-11-02/01936b2e-0000-7000-8000-000000000001");
        let (day, id) = decode_cursor(&text).unwrap();
        assert_eq!(day.to_string(), "2026-11-02");
        assert_eq!(id.to_string(), "01936b2e-0000-7000-8000-000000000001");
        for bad in ["", "not base64!", "MjAyNg", "MjAyNi0xMS0wMi9ub3QtYS11dWlk"] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }
}
