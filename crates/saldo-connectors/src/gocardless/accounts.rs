//! Reading a requisition's accounts: each account as an item (its identifiers, name and kind from
//! the details GoCardless relays), and one account's balance and transactions within the daily
//! limits.

use super::api::{self, Requisition};
use super::errors::{requisition_usable, Endpoint};
use super::limits::Scope;
use super::{normalized_iban, window_start, GoCardless};
use crate::wire::{clean, locked, present, unreadable};
use crate::xs2a::{account_kind, account_name, current_balance};
use crate::{CallContext, Consent, DiscoveredItem, ItemData};
use chrono::{DateTime, NaiveDate, Utc};
use reqwest::Method;
use saldo_core::failure::{Failure, FailureKind};
use saldo_core::money::Currency;

impl GoCardless {
    /// One account as an item, or `None` when its currency cannot be read (it is then failed
    /// as unsupported in `fetch`).
    async fn discover_account(&self, account: &str, now: DateTime<Utc>) -> Result<Option<DiscoveredItem>, Failure> {
        let meta = self.account_meta(account, now).await?;
        let fresh = self.details(account, now).await?;
        let details = fresh.clone().or_else(|| locked(&self.limits).last_details(account));
        let currency = match details.as_ref() {
            Some(details) => present(&details.currency).and_then(|c| Currency::parse(c).ok()),
            // No details ever: the currency of the balances (one call of the balances scope).
            None => match self.balances(account, now).await {
                Ok(balances) => balances.iter().find_map(|b| Currency::parse(&b.balance_amount.currency).ok()),
                // Whatever stops the balances (an expired access, a suspension) stops the account.
                Err(failure) => return Err(failure),
            },
        };
        let Some(currency) = currency else {
            locked(&self.limits).set_no_currency(account, true);
            return Ok(None);
        };
        locked(&self.limits).set_no_currency(account, false);
        let details = details.unwrap_or_default();
        let iban = normalized_iban(&details.iban).or_else(|| normalized_iban(&meta.iban));
        let owner = present(&details.owner_name).or(present(&meta.owner_name));
        let account_number = present(&details.bban).or(present(&details.scan)).map(|n| clean(n, ""));
        let masked_number = present(&details.masked_pan).map(|p| clean(p, ""));
        let name = account_name(
            &[present(&details.display_name), present(&details.name), present(&meta.name), present(&details.product)],
            owner,
            &[iban.as_deref(), account_number.as_deref(), masked_number.as_deref()],
        )
        .unwrap_or_else(|| "GoCardless account".into());
        Ok(Some(DiscoveredItem {
            provider_item_id: account.to_string(),
            kind: account_kind(
                details.cash_account_type.as_deref(),
                details.product.as_deref(),
                present(&details.name).or(present(&meta.name)),
            ),
            name: clean(&name, ""),
            iban,
            account_number,
            masked_number,
            owner_name: owner.map(|o| clean(o, "")),
            currency,
            current_value: None,
        }))
    }

    pub(super) async fn discover_items(
        &self,
        consent: &Consent,
        ctx: CallContext,
    ) -> Result<Vec<DiscoveredItem>, Failure> {
        let url = self.url(&["requisitions", &consent.id, ""])?;
        let requisition: Requisition =
            self.json(Method::GET, url, None, Endpoint::Requisition, "GoCardless's requisition", ctx.now).await?;
        requisition_usable(requisition.status.as_deref())?;
        let mut items = Vec::new();
        for account in &requisition.accounts {
            match self.discover_account(account, ctx.now).await {
                Ok(Some(item)) => items.push(item),
                Ok(None) => {}
                // This one account is gone at the bank (the consent itself still works).
                Err(failure) if matches!(failure.code.as_str(), "AccountInactiveError" | "account_not_found") => {}
                Err(failure) => return Err(failure),
            }
        }
        Ok(items)
    }

    pub(super) async fn fetch_item(
        &self,
        consent: &Consent,
        provider_item_id: &str,
        since: NaiveDate,
        ctx: CallContext,
    ) -> Result<ItemData, Failure> {
        let account = provider_item_id;
        let today = ctx.now.date_naive();
        {
            let limits = locked(&self.limits);
            if limits.has_no_currency(account) {
                return Err(Failure::new(
                    FailureKind::Unsupported,
                    "no_currency",
                    "the bank gives no currency saldo can read for this account (a multi-currency account?)",
                ));
            }
            // Both scopes are needed: spend neither when one is used up.
            limits.check_account(account, Scope::Balances, ctx.now)?;
            limits.check_account(account, Scope::Transactions, ctx.now)?;
        }
        let balances = self.balances(account, ctx.now).await?;
        let balance = current_balance(&balances).map_err(|e| unreadable(format!("GoCardless's balances: {e}")))?;
        let mut url = self.url(&["accounts", account, "transactions", ""])?;
        url.query_pairs_mut()
            .append_pair("date_from", &window_start(since, today, consent.max_history_days).to_string())
            .append_pair("date_to", &today.to_string());
        let answer = self.account_call(account, Scope::Transactions, url, ctx.now).await?;
        let read: api::TransactionsAnswer = self.read(&answer, "GoCardless's transactions")?;
        let transactions =
            read.transactions.read(today).map_err(|e| unreadable(format!("GoCardless's transactions: {e}")))?;
        Ok(ItemData { balance, holdings: Vec::new(), transactions })
    }
}
