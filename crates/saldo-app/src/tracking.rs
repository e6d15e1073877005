//! Tracking: which items of a connection count, and in which account of the user. An item the
//! user tracks feeds a new account, the account an older item of the connection had (its
//! history kept), or an account the user already has for it (`crate::linking`).

use crate::connections::own_connection;
use crate::ops::{Actor, App, Missing, OpsError};
use saldo_core::account::{Account, AccountAlias, Origin};
use saldo_core::ids::{AccountId, ConnectionId};
use saldo_core::institution::Connection;
use saldo_core::item::{alias_of, Item, ItemDecision};

/// Which items to track: all offered ones, or those named by item id, provider id or name.
#[derive(Debug, Clone)]
pub enum Selection {
    All,
    Items(Vec<String>),
}

/// Tracks an offered item as the account of a vanished item of the same connection (one that
/// [`look_alikes`] pairs with it, or any the user knows to be the same): the account reopens with
/// its history, and the old item gives it up. For items a bank knows only by an id it changes.
pub async fn track_as(
    ctx: &App,
    actor: &Actor,
    connection: ConnectionId,
    item: &str,
    account: AccountId,
) -> Result<Item, OpsError> {
    let ctx = &ctx.acting_for(actor);
    let (connection, _) = own_connection(ctx, &actor.user, connection).await?;
    let items = ctx.db.items(connection.id).await?;
    let mut new = find_item(&items, item, &connection)?.clone();
    if new.vanished_at.is_some() || new.decision == ItemDecision::Tracked {
        return Err(OpsError::Invalid(format!(
            "{} is {}: only an item on offer can take over an account",
            new.name,
            if new.vanished_at.is_some() { "gone from the provider" } else { "tracked already" }
        )));
    }
    let Some(mut old) = items.iter().find(|i| i.account_id == Some(account) && i.vanished_at.is_some()).cloned() else {
        return link_to(ctx, actor, &connection, &items, new, account).await;
    };
    if old.kind != new.kind || old.currency != new.currency {
        return Err(OpsError::Invalid(format!(
            "{} ({}, {}) cannot continue {} ({}, {})",
            new.name,
            new.kind.as_str(),
            new.currency,
            old.name,
            old.kind.as_str(),
            old.currency
        )));
    }
    new.decision = ItemDecision::Tracked;
    new.account_id = Some(account);
    new.synced_through = old.synced_through;
    old.account_id = None;
    old.decision = ItemDecision::Ignored;
    let alias = AccountAlias {
        provider_account_id: Some(new.provider_item_id.clone()),
        iban: new.iban.clone(),
        masked_number: new.masked_number.clone(),
        currency: new.currency,
        name: Some(new.name.clone()),
    };
    ctx.db.adopt_account(&[old, new.clone()], account, &alias).await?;
    Ok(new)
}

/// Tracks an offered item as an account of the user's that no item of the connection feeds (one
/// imported, added by hand, or another connection's): the account keeps its history.
async fn link_to(
    ctx: &App,
    actor: &Actor,
    connection: &Connection,
    items: &[Item],
    mut item: Item,
    account: AccountId,
) -> Result<Item, OpsError> {
    let existing = ctx
        .db
        .account(account)
        .await?
        .filter(|a| a.user_id == actor.user.id)
        .ok_or_else(|| OpsError::Missing(Missing::Account(account.to_string())))?;
    if items
        .iter()
        .any(|i| i.vanished_at.is_none() && i.decision == ItemDecision::Tracked && i.account_id == Some(account))
    {
        return Err(OpsError::Invalid(format!("{} is fed by another item of this connection", existing.name)));
    }
    if existing.currency != item.currency {
        return Err(OpsError::Invalid(format!(
            "{} is kept in {}, {} in {}: they cannot be one account",
            item.name, item.currency, existing.name, existing.currency
        )));
    }
    item.decision = ItemDecision::Tracked;
    item.account_id = Some(account);
    let alias = alias_of(&discovered_of(&item));
    ctx.db.decide_items(std::slice::from_ref(&item), &[], &[(account, connection.id, Some(alias))]).await?;
    Ok(item)
}

/// The item of a connection a user names: by saldo's id, the provider's id or its name.
fn find_item<'a>(items: &'a [Item], name: &str, connection: &Connection) -> Result<&'a Item, OpsError> {
    let wanted = name.trim().to_lowercase();
    items
        .iter()
        .find(|i| {
            i.id.to_string() == wanted || i.provider_item_id.to_lowercase() == wanted || i.name.to_lowercase() == wanted
        })
        .ok_or_else(|| {
            OpsError::Missing(Missing::Item { name: name.to_string(), connection: connection.id.to_string() })
        })
}

/// Tracks items: each gets a saldo account that counts in net worth. Returns the tracked items.
pub async fn track(
    ctx: &App,
    actor: &Actor,
    connection: ConnectionId,
    selection: &Selection,
) -> Result<Vec<Item>, OpsError> {
    let user = &actor.user;
    let ctx = &ctx.acting_for(actor);
    let (connection, _) = own_connection(ctx, user, connection).await?;
    let items = ctx.db.items(connection.id).await?;
    let chosen: Vec<Item> = match selection {
        Selection::All => {
            items.iter().filter(|i| i.vanished_at.is_none() && i.decision != ItemDecision::Tracked).cloned().collect()
        }
        Selection::Items(names) => {
            let mut chosen = Vec::new();
            for name in names {
                let found = find_item(&items, name, &connection)?;
                if found.decision != ItemDecision::Tracked {
                    chosen.push(found.clone());
                }
            }
            chosen
        }
    };
    let mut candidates = crate::linking::candidates(ctx, user, &items).await?;
    // Named items that may be one of several accounts are the user's to place; `--all` leaves
    // them on offer (the item list names the choice).
    let chosen: Vec<Item> = match selection {
        Selection::Items(_) => {
            if let Some((item, accounts)) =
                chosen.iter().find_map(|i| candidates.get(&i.id).filter(|a| a.len() > 1).map(|a| (i, a)))
            {
                return Err(OpsError::Invalid(crate::linking::ambiguity(item, accounts)));
            }
            chosen
        }
        Selection::All => chosen.into_iter().filter(|i| candidates.get(&i.id).is_none_or(|a| a.len() == 1)).collect(),
    };
    let now = ctx.clock.now();
    let mut updated = Vec::new();
    let mut accounts = Vec::new();
    let mut linked = Vec::new();
    for mut item in chosen {
        // An item tracked before (its account untracked since) resumes into its own account.
        if let Some(own) = item.account_id {
            item.decision = ItemDecision::Tracked;
            linked.push((own, connection.id, None));
            updated.push(item);
            continue;
        }
        // Two items of one connection never feed one account.
        let taken: Vec<AccountId> = linked.iter().map(|(id, _, _)| *id).collect();
        if let Some(existing) = candidates.remove(&item.id).and_then(|mut a| a.pop()).filter(|a| !taken.contains(&a.id))
        {
            let alias = alias_of(&discovered_of(&item));
            item.decision = ItemDecision::Tracked;
            item.account_id = Some(existing.id);
            linked.push((existing.id, connection.id, Some(alias)));
            updated.push(item);
            continue;
        }
        let account = Account {
            id: AccountId(ctx.new_id()),
            user_id: user.id,
            name: item.name.clone(),
            kind: item.kind,
            currency: item.currency,
            tracked: true,
            origin: Origin::Connection(connection.id),
            closed: false,
            created_at: now,
        };
        item.decision = ItemDecision::Tracked;
        item.account_id = Some(account.id);
        accounts.push((account, alias_of(&discovered_of(&item))));
        updated.push(item);
    }
    ctx.db.decide_items(&updated, &accounts, &linked).await?;
    Ok(updated)
}

/// A stored item as the connector reported it, for the aliases its account keeps.
fn discovered_of(item: &Item) -> saldo_connectors::DiscoveredItem {
    saldo_connectors::DiscoveredItem {
        provider_item_id: item.provider_item_id.clone(),
        kind: item.kind,
        name: item.name.clone(),
        iban: item.iban.clone(),
        account_number: None,
        masked_number: item.masked_number.clone(),
        owner_name: item.owner_name.clone(),
        currency: item.currency,
        current_value: item.current_value,
    }
}
