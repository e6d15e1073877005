//! Reading a NextGenPSD2 bank: its accounts (`v1/accounts`) and its card accounts
//! (`v1/card-accounts`, which the framework lists apart, with their own balances and transaction
//! reports), each account's balances and its transactions.
//!
//! A card account's item is known to saldo as `card:{resourceId}`, so that a fetch goes to the
//! card endpoints. A card account may quote debits positive (`debitAccounting: true`); saldo turns
//! its amounts and balances round, so that what the holder owes is negative as everywhere else.

use super::api::{self, AccountDetails, AccountList, Balances, CardAccountList, Transactions};
use super::{BerlinGroup, Session, MAX_PAGES};
use crate::wire::{clean, locked, parse_json, path_error, present, unreadable};
use crate::xs2a::{account_kind, account_name, current_balance};
use crate::{CallContext, Consent, DiscoveredItem, FetchedTransaction, ItemData};
use chrono::{NaiveDate, TimeDelta};
use saldo_core::failure::{Failure, FailureKind, TemporaryCause};
use saldo_core::money::{Currency, Money};
use saldo_core::transaction::TransactionStatus;
use std::collections::HashSet;

const CARD_PREFIX: &str = "card:";

/// An account or a card account, by its resource id at the bank.
pub(super) enum Resource<'a> {
    Account(&'a str),
    Card(&'a str),
}

impl<'a> Resource<'a> {
    /// The resource an item's provider id names.
    pub(super) fn of(provider_item_id: &'a str) -> Resource<'a> {
        match provider_item_id.strip_prefix(CARD_PREFIX) {
            Some(id) => Resource::Card(id),
            None => Resource::Account(provider_item_id),
        }
    }

    fn path(&self) -> [&'a str; 3] {
        match self {
            Resource::Account(id) => ["v1", "accounts", id],
            Resource::Card(id) => ["v1", "card-accounts", id],
        }
    }
}

/// A bank's answer that says it has no card-account service: such a bank has no card accounts
/// to read (the framework makes the endpoint optional).
fn no_card_service(failure: &Failure) -> bool {
    matches!(
        failure.code.as_str(),
        "SERVICE_INVALID"
            | "RESOURCE_UNKNOWN"
            | "PRODUCT_INVALID"
            | "PRODUCT_UNKNOWN"
            | "http_404"
            | "http_405"
            | "501"
    )
}

impl BerlinGroup {
    /// Every account and card account the consent reaches that can be synced.
    pub(super) async fn items(
        &self,
        s: &Session<'_>,
        consent: &Consent,
        ctx: CallContext,
    ) -> Result<Vec<DiscoveredItem>, Failure> {
        let answer = s.account_get(s.url(&["v1", "accounts"]), &consent.id, ctx).await?;
        let list: AccountList = parse_json(&answer.body, "the account list", &consent.id)?;
        let mut items = Vec::new();
        for account in read_list(list.accounts, "accounts")? {
            items.extend(item_of(account, false));
        }
        let cards = match s.account_get(s.url(&["v1", "card-accounts"]), &consent.id, ctx).await {
            Ok(answer) => {
                parse_json::<CardAccountList>(&answer.body, "the card account list", &consent.id)?.card_accounts
            }
            Err(failure) if no_card_service(&failure) => Vec::new(),
            Err(failure) => return Err(failure),
        };
        for card in read_list(cards, "cardAccounts")? {
            items.extend(item_of(card, true));
        }
        Ok(items)
    }

    pub(super) async fn read_account(
        &self,
        s: &Session<'_>,
        consent: &Consent,
        resource: &Resource<'_>,
        since: NaiveDate,
        ctx: CallContext,
    ) -> Result<ItemData, Failure> {
        let today = ctx.now.date_naive();
        let [v1, kind, id] = resource.path();
        let answer = s.account_get(s.url(&[v1, kind, id, "balances"]), &consent.id, ctx).await?;
        let balances: Balances = parse_json(&answer.body, "the balances", &consent.id)?;
        let balance = current_balance(&balances.balances)
            .map_err(|e| unreadable(format!("the balances are unreadable: {}", clean(&e, &consent.id))))?;
        let oldest = today - TimeDelta::days(i64::from(s.bank.max_history_days) - 1);
        let from = since.max(oldest).min(today);
        let (transactions, debits_positive) = self.transactions(s, consent, resource, from, ctx).await?;
        let balance = if debits_positive { balance.map(negated) } else { balance };
        Ok(ItemData { balance, holdings: Vec::new(), transactions })
    }

    /// Booked and pending transactions: with `bookingStatus=both`, or (for banks that do not
    /// support it) `booked` and then, where supported, `pending`. Also whether the report quotes
    /// debits positive (the amounts are turned round already).
    async fn transactions(
        &self,
        s: &Session<'_>,
        consent: &Consent,
        resource: &Resource<'_>,
        from: NaiveDate,
        ctx: CallContext,
    ) -> Result<(Vec<FetchedTransaction>, bool), Failure> {
        let bank = &s.bank.id;
        let not_supported = |f: &Failure| f.code == "PARAMETER_NOT_SUPPORTED";
        if !locked(&self.without_both).contains(bank) {
            match self.report(s, consent, resource, from, "both", ctx).await {
                Err(f) if not_supported(&f) => {
                    locked(&self.without_both).insert(bank.clone());
                }
                other => return other,
            }
        }
        let (booked, mut debits_positive) = self.report(s, consent, resource, from, "booked", ctx).await?;
        let mut out: Vec<FetchedTransaction> =
            booked.into_iter().filter(|t| t.status == TransactionStatus::Booked).collect();
        if !locked(&self.without_pending).contains(bank) {
            match self.report(s, consent, resource, from, "pending", ctx).await {
                Ok((pending, positive)) => {
                    debits_positive |= positive;
                    out.extend(pending.into_iter().filter(|t| t.status == TransactionStatus::Pending));
                }
                Err(f) if not_supported(&f) => {
                    locked(&self.without_pending).insert(bank.clone());
                }
                Err(f) => return Err(f),
            }
        }
        Ok((out, debits_positive))
    }

    /// One transaction report, all its pages.
    async fn report(
        &self,
        s: &Session<'_>,
        consent: &Consent,
        resource: &Resource<'_>,
        from: NaiveDate,
        booking_status: &str,
        ctx: CallContext,
    ) -> Result<(Vec<FetchedTransaction>, bool), Failure> {
        let today = ctx.now.date_naive();
        let [v1, kind, id] = resource.path();
        let mut url = s.url(&[v1, kind, id, "transactions"]);
        url.query_pairs_mut()
            .append_pair("dateFrom", &from.to_string())
            .append_pair("dateTo", &today.to_string())
            .append_pair("bookingStatus", booking_status);
        let mut out = Vec::new();
        let mut debits_positive = false;
        let mut seen = HashSet::new();
        for _ in 0..MAX_PAGES {
            seen.insert(url.to_string());
            let answer = s.account_get(url, &consent.id, ctx).await?;
            let report: Transactions = parse_json(&answer.body, "the transaction report", &consent.id)?;
            debits_positive |= report.debit_accounting == Some(true);
            let (field, lists) = match (report.transactions, report.card_transactions) {
                (Some(lists), _) => ("transactions", lists),
                (None, Some(lists)) => ("cardTransactions", lists),
                (None, None) => {
                    return Err(Failure::new(
                        FailureKind::Temporary(TemporaryCause::Unknown),
                        if report.links.href("download").is_some() {
                            "transactions_download"
                        } else {
                            "transactions_missing"
                        },
                        format!(
                            "{} gave no transaction list (only a download link, which saldo does not read); a shorter window may help",
                            s.bank.name
                        ),
                    ))
                }
            };
            let next = lists.next_page().map(str::to_string);
            out.extend(lists.read(today).map_err(|e| {
                unreadable(format!("the transaction report is unreadable: {field}.{}", clean(&e, &consent.id)))
            })?);
            let Some(next) = next else {
                if debits_positive {
                    for t in &mut out {
                        t.amount = negated(t.amount);
                    }
                }
                return Ok((out, debits_positive));
            };
            url = api::resolve(&s.base, &next, "next page", &s.bank.name)?;
            if seen.contains(url.as_str()) {
                return Err(unreadable(format!("{} links a page of transactions to itself", s.bank.name)));
            }
        }
        Err(unreadable(format!("{} gave more than {MAX_PAGES} pages of transactions", s.bank.name)))
    }
}

fn negated(money: Money) -> Money {
    Money::new(-money.minor, money.currency)
}

/// An account list's entries, or the first that cannot be read, named by its index.
fn read_list(values: Vec<serde_json::Value>, field: &str) -> Result<Vec<AccountDetails>, Failure> {
    values
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            serde_path_to_error::deserialize(value).map_err(|e| {
                unreadable(format!("the account list is unreadable: {}", path_error(&format!("{field}[{index}]"), e)))
            })
        })
        .collect()
}

/// The item an account (or card account) of the list is, when saldo can sync it.
fn item_of(account: AccountDetails, card: bool) -> Option<DiscoveredItem> {
    // Deleted and blocked accounts cannot be read; their items stay in saldo with their history.
    if matches!(account.status.as_deref(), Some("deleted" | "blocked")) {
        return None;
    }
    // "XXX" is a multi-currency account's aggregation level; its sub-accounts are listed too.
    if account.currency.trim().eq_ignore_ascii_case("XXX") {
        return None;
    }
    // An account kept in something saldo cannot hold is left out; the others still sync.
    let currency = Currency::parse(&account.currency).ok()?;
    let current_value = account.balances.as_deref().and_then(|balances| current_balance(balances).ok().flatten());
    let current_value = if account.debit_accounting == Some(true) { current_value.map(negated) } else { current_value };
    let iban = account.iban.as_deref().map(|i| i.split_whitespace().collect::<String>()).filter(|i| !i.is_empty());
    let account_number = present(&account.bban).map(|n| clean(n, ""));
    let masked_number = present(&account.masked_pan).map(|p| clean(p, ""));
    let name = account_name(
        &[present(&account.display_name), present(&account.name), present(&account.product)],
        present(&account.owner_name),
        &[iban.as_deref(), account_number.as_deref(), masked_number.as_deref()],
    )
    .unwrap_or_else(|| account.resource_id.clone());
    // A card account has no cash account type; it is a card.
    let cash_account_type = account.cash_account_type.as_deref().or(card.then_some("CARD"));
    Some(DiscoveredItem {
        provider_item_id: if card {
            format!("{CARD_PREFIX}{}", account.resource_id)
        } else {
            account.resource_id.clone()
        },
        kind: account_kind(cash_account_type, account.product.as_deref(), account.name.as_deref()),
        name: clean(&name, ""),
        iban,
        account_number,
        masked_number,
        owner_name: present(&account.owner_name).map(|o| clean(o, "")),
        currency,
        current_value,
    })
}
