//! Which of the user's accounts an offered item already is. A household imports a bank's
//! statements first and connects the bank later, or reaches one account through two providers:
//! tracking the item must feed that account (its history kept, the synced transactions matched
//! against the imported ones by date and amount), never open a second one beside it.

use crate::ops::{App, OpsError};
use saldo_core::account::Account;
use saldo_core::ids::AccountId;
use saldo_core::item::{Item, ItemDecision};
use saldo_core::user::User;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// For each offered item of `items` (one connection's), the user's accounts it matches by IBAN,
/// account number or masked card number (in its currency) that no other live item of the
/// connection feeds. One account: tracking links to it. Several: the user says which.
pub async fn candidates(ctx: &App, user: &User, items: &[Item]) -> Result<HashMap<Uuid, Vec<Account>>, OpsError> {
    let fed: HashSet<AccountId> = items
        .iter()
        .filter(|i| i.vanished_at.is_none() && i.decision == ItemDecision::Tracked)
        .filter_map(|i| i.account_id)
        .collect();
    let mut found = HashMap::new();
    for item in items.iter().filter(|i| i.vanished_at.is_none() && i.decision != ItemDecision::Tracked) {
        let accounts: Vec<Account> = ctx
            .db
            .accounts_with_identity(
                user.id,
                item.iban.as_deref(),
                account_number(item),
                item.masked_number.as_deref(),
                item.currency,
            )
            .await?
            .into_iter()
            .filter(|a| a.currency == item.currency && !fed.contains(&a.id))
            .collect();
        if !accounts.is_empty() {
            found.insert(item.id, accounts);
        }
    }
    Ok(found)
}

/// The national account number an item is known by, where that is its identity.
fn account_number(item: &Item) -> Option<&str> {
    item.identity_key.strip_prefix("number:").and_then(|rest| rest.rsplit_once(':')).map(|(number, _)| number)
}

/// Several accounts an item may be: named so the user can choose one.
pub fn ambiguity(item: &Item, accounts: &[Account]) -> String {
    let named: Vec<String> = accounts.iter().map(|a| format!("{:?} ({})", a.name, a.id)).collect();
    format!(
        "{} ({}) matches more than one of your accounts ({}): track it as the one it is",
        item.name,
        item.id,
        named.join(", ")
    )
}
