//! Items: what a connection discovered at the provider, offered to the user to track.
//!
//! Identity rule: an item is the same item across reconnects when its IBAN matches, else its masked
//! number and currency, else (as a last resort) its provider id. Providers mint new ids on
//! reconnect, so the provider id is stored but never trusted on its own when a stabler one exists.

use crate::account::{AccountAlias, AccountKind};
use crate::ids::{AccountId, ConnectionId};
use crate::money::{Currency, Money};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

/// What the user chose for an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemDecision {
    /// Discovered, not decided yet.
    Offered,
    /// Tracked as a saldo account.
    Tracked,
    /// Deliberately not tracked.
    Ignored,
}

impl ItemDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemDecision::Offered => "offered",
            ItemDecision::Tracked => "tracked",
            ItemDecision::Ignored => "ignored",
        }
    }

    pub fn parse(text: &str) -> Option<ItemDecision> {
        match text {
            "offered" => Some(ItemDecision::Offered),
            "tracked" => Some(ItemDecision::Tracked),
            "ignored" => Some(ItemDecision::Ignored),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: Uuid,
    pub connection_id: ConnectionId,
    /// See [`identity_key`].
    pub identity_key: String,
    /// The provider's current id for it.
    pub provider_item_id: String,
    pub kind: AccountKind,
    pub name: String,
    pub iban: Option<String>,
    pub masked_number: Option<String>,
    /// The holder's name, where the provider gives it: never the item's name.
    pub owner_name: Option<String>,
    pub currency: Currency,
    pub current_value: Option<Money>,
    pub decision: ItemDecision,
    /// The saldo account that tracks it.
    pub account_id: Option<AccountId>,
    pub first_seen_at: DateTime<Utc>,
    /// When the provider stopped showing it; its account is closed and keeps its history.
    pub vanished_at: Option<DateTime<Utc>>,
    /// The last day a fetch of it succeeded; the next fetch starts a few days before, so a gap (an
    /// error, a vanished spell, a reconnect) is always filled.
    pub synced_through: Option<NaiveDate>,
}

fn given(text: Option<&str>) -> Option<&str> {
    text.filter(|t| !t.trim().is_empty())
}

/// The stable identity of an item within its connection: its IBAN, else its national account
/// number (BBAN, sort code and account number) and currency, else its masked number (a card's PAN)
/// and currency, else the provider's id for it, which some banks change with every consent.
pub fn identity_key(
    iban: Option<&str>,
    account_number: Option<&str>,
    masked_number: Option<&str>,
    currency: Currency,
    provider_item_id: &str,
) -> String {
    let compact = |text: &str| text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
    match (given(iban), given(account_number), given(masked_number)) {
        (Some(iban), _, _) => format!("iban:{}", compact(iban)),
        (None, Some(number), _) => format!("number:{}:{currency}", compact(number)),
        (None, None, Some(masked)) => format!("masked:{}:{currency}", compact(masked)),
        (None, None, None) => format!("id:{provider_item_id}"),
    }
}

/// An account, card, loan or position the provider shows, as a connector reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredItem {
    /// The provider's id for it; may change when the user reconnects.
    pub provider_item_id: String,
    pub kind: AccountKind,
    pub name: String,
    pub iban: Option<String>,
    /// An unmasked national account number (a BBAN, a sort code and account number), kept for
    /// the item's identity only.
    pub account_number: Option<String>,
    pub masked_number: Option<String>,
    /// The holder's name, where the provider gives it apart from the account's own names.
    pub owner_name: Option<String>,
    pub currency: Currency,
    /// Signed from the holder's view: an owed liability is negative.
    pub current_value: Option<Money>,
}

impl DiscoveredItem {
    /// See [`identity_key`].
    pub fn identity(&self) -> String {
        identity_key(
            self.iban.as_deref(),
            self.account_number.as_deref(),
            self.masked_number.as_deref(),
            self.currency,
            &self.provider_item_id,
        )
    }
}

/// How the provider's current items differ from the stored ones.
pub struct ItemDiff {
    /// Items to store: updated, new (offered) and vanished ones.
    pub items: Vec<Item>,
    /// Accounts to close (`true`: the item vanished) or reopen (`false`: it is back).
    pub closed: Vec<(AccountId, bool)>,
    /// New provider identities of tracked items' accounts.
    pub aliases: Vec<(AccountId, AccountAlias)>,
    /// Identity keys and names of the items seen for the first time.
    pub new_keys: Vec<String>,
    pub new_names: Vec<String>,
    /// Identity keys and names of the tracked items that vanished now.
    pub vanished_keys: Vec<String>,
    pub vanished_names: Vec<String>,
}

/// Compares what the provider shows now with the stored items of a connection (on every sync and
/// on reconnect): an item found again keeps its identity and decision and takes the provider's
/// current id, name and value (a new provider id is kept as an alias of its account, and an item
/// that had vanished reopens its account); an unknown one is new and offered; a stored one the
/// provider no longer shows has vanished and its account is closed. `new_id` gives new items
/// their ids.
pub fn diff_items(
    connection: ConnectionId,
    stored: &[Item],
    discovered: &[DiscoveredItem],
    now: DateTime<Utc>,
    mut new_id: impl FnMut() -> Uuid,
) -> ItemDiff {
    let mut diff = ItemDiff {
        items: Vec::new(),
        closed: Vec::new(),
        aliases: Vec::new(),
        new_keys: Vec::new(),
        new_names: Vec::new(),
        vanished_keys: Vec::new(),
        vanished_names: Vec::new(),
    };
    let mut seen = std::collections::HashSet::new();
    let identities: std::collections::HashSet<String> = discovered.iter().map(DiscoveredItem::identity).collect();
    for found in discovered {
        let identity = found.identity();
        // An item stored under an identity nobody shows any more, by the provider id it has now:
        // the same account, now that more of its identifiers are read (a masked PAN, a BBAN).
        let rekeyed = || {
            stored.iter().find(|s| {
                s.provider_item_id == found.provider_item_id
                    && s.identity_key.starts_with("id:")
                    && !identities.contains(&s.identity_key)
            })
        };
        match stored.iter().find(|s| s.identity_key == identity).or_else(rekeyed) {
            Some(existing) => {
                seen.insert(existing.identity_key.clone());
                let mut item = existing.clone();
                item.identity_key = identity.clone();
                item.provider_item_id = found.provider_item_id.clone();
                item.name = found.name.clone();
                item.owner_name = found.owner_name.clone();
                item.current_value = found.current_value;
                if let Some(account) = item.account_id {
                    if existing.provider_item_id != found.provider_item_id {
                        diff.aliases.push((account, alias_of(found)));
                    }
                    if existing.vanished_at.is_some() {
                        diff.closed.push((account, false));
                    }
                }
                item.vanished_at = None;
                if item != *existing {
                    diff.items.push(item);
                }
            }
            None => {
                seen.insert(identity.clone());
                diff.new_keys.push(identity.clone());
                diff.new_names.push(found.name.clone());
                diff.items.push(new_item(new_id(), connection, identity, found, now));
            }
        }
    }
    for existing in stored.iter().filter(|s| s.vanished_at.is_none() && !seen.contains(&s.identity_key)) {
        let mut item = existing.clone();
        item.vanished_at = Some(now);
        if let Some(account) = item.account_id {
            diff.closed.push((account, true));
            diff.vanished_keys.push(item.identity_key.clone());
            diff.vanished_names.push(item.name.clone());
        }
        diff.items.push(item);
    }
    diff
}

/// A newly discovered item, offered to the user.
pub fn new_item(
    id: Uuid,
    connection: ConnectionId,
    identity: String,
    found: &DiscoveredItem,
    now: DateTime<Utc>,
) -> Item {
    Item {
        id,
        connection_id: connection,
        identity_key: identity,
        provider_item_id: found.provider_item_id.clone(),
        kind: found.kind,
        name: found.name.clone(),
        iban: found.iban.clone(),
        masked_number: found.masked_number.clone(),
        owner_name: found.owner_name.clone(),
        currency: found.currency,
        current_value: found.current_value,
        decision: ItemDecision::Offered,
        account_id: None,
        first_seen_at: now,
        vanished_at: None,
        synced_through: None,
    }
}

/// Offered items that look like a tracked item of the same connection that vanished: both known
/// only by the provider's id (which some banks change with every consent), of the same kind and
/// currency, the same name (its product, as connectors name items) and the same holder where both
/// name one. saldo does not join them by itself (a name is no identity: a household may hold two
/// "Visa Classic" cards) but offers the user to track the new one as the old one's account, which
/// keeps its history. Pairs of (new, old).
pub fn look_alikes(items: &[Item]) -> Vec<(&Item, &Item)> {
    let by_id_only = |item: &&Item| item.identity_key.starts_with("id:");
    let same_text = |a: &str, b: &str| a.trim().to_lowercase() == b.trim().to_lowercase();
    let offered =
        items.iter().filter(by_id_only).filter(|i| i.vanished_at.is_none() && i.decision == ItemDecision::Offered);
    let gone: Vec<&Item> =
        items.iter().filter(by_id_only).filter(|i| i.vanished_at.is_some() && i.account_id.is_some()).collect();
    offered
        .flat_map(|new| {
            gone.iter()
                .filter(move |old| {
                    old.kind == new.kind
                        && old.currency == new.currency
                        && !new.name.trim().is_empty()
                        && same_text(&old.name, &new.name)
                        && match (&old.owner_name, &new.owner_name) {
                            (Some(a), Some(b)) => same_text(a, b),
                            _ => true,
                        }
                })
                .map(move |old| (new, *old))
        })
        .collect()
}

/// The provider identity an item's account is known by.
pub fn alias_of(found: &DiscoveredItem) -> AccountAlias {
    AccountAlias {
        provider_account_id: Some(found.provider_item_id.clone()),
        iban: found.iban.clone(),
        masked_number: found.masked_number.clone(),
        currency: found.currency,
        name: Some(found.name.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_prefers_iban_then_account_number_then_masked_number_then_provider_id() {
        let eur = Currency::EUR;
        assert_eq!(
            identity_key(Some("se45 5000 0000 0583 9825 7466"), Some("5839825"), Some("**** 7466"), eur, "a"),
            "iban:SE4550000000058398257466"
        );
        assert_eq!(
            identity_key(None, Some("40-47-84 7058 9331"), Some("**** 4242"), eur, "a"),
            "number:40-47-8470589331:EUR"
        );
        assert_eq!(identity_key(None, None, Some("**** 4242"), eur, "a"), "masked:****4242:EUR");
        assert_eq!(identity_key(Some(" "), Some(""), None, eur, "acc-9"), "id:acc-9");
        // A new provider id on reconnect does not change the identity.
        assert_eq!(
            identity_key(Some("SE45"), None, None, eur, "old"),
            identity_key(Some("SE45"), None, None, eur, "new")
        );
    }

    #[test]
    fn an_offered_item_like_a_vanished_tracked_one_is_a_look_alike_only_by_name_kind_and_holder() {
        let (connection, account) = (ConnectionId(Uuid::from_u128(7)), AccountId(Uuid::from_u128(9)));
        let mut ids = (1..).map(Uuid::from_u128);
        let card = |id: &str, name: &str, owner: Option<&str>| DiscoveredItem {
            kind: AccountKind::CreditCard,
            owner_name: owner.map(str::to_string),
            ..found(id, None, name)
        };
        let mut items =
            diff_items(connection, &[], &[card("c-1", "Visa Classic", Some("Erika"))], at(0), || ids.next().unwrap())
                .items;
        items[0].decision = ItemDecision::Tracked;
        items[0].account_id = Some(account);
        // A reconnect: the bank's ids all change; the card comes back as new, with a stranger.
        let again = [card("c-2", "VISA classic ", Some("Erika")), card("c-3", "Visa Classic", Some("Hans"))];
        let diff = diff_items(connection, &items, &again, at(1), || ids.next().unwrap());
        assert_eq!(diff.closed, vec![(account, true)]);
        let alikes = look_alikes(&diff.items);
        let pairs: Vec<(&str, &str)> =
            alikes.iter().map(|(new, old)| (new.provider_item_id.as_str(), old.provider_item_id.as_str())).collect();
        assert_eq!(pairs, vec![("c-2", "c-1")]);
    }

    #[test]
    fn a_card_known_by_its_id_is_rekeyed_by_its_masked_number_and_then_survives_new_ids() {
        let (connection, account) = (ConnectionId(Uuid::from_u128(7)), AccountId(Uuid::from_u128(9)));
        let mut ids = (1..).map(Uuid::from_u128);
        // Stored before the masked number was read: known by the provider's id.
        let mut items =
            diff_items(connection, &[], &[found("card-a", None, "Visa")], at(0), || ids.next().unwrap()).items;
        items[0].decision = ItemDecision::Tracked;
        items[0].account_id = Some(account);
        let masked =
            |id: &str| DiscoveredItem { masked_number: Some("492942******1234".into()), ..found(id, None, "Visa") };
        let read = diff_items(connection, &items, &[masked("card-a")], at(1), || unreachable!("not new"));
        assert!(read.closed.is_empty() && read.new_keys.is_empty());
        assert_eq!(
            (read.items[0].id, read.items[0].identity_key.as_str()),
            (items[0].id, "masked:492942******1234:EUR")
        );
        // A reconnect: the bank's id for the card changes, its masked number does not.
        let again = diff_items(connection, &read.items, &[masked("card-b")], at(2), || unreachable!("not new"));
        assert!(again.closed.is_empty() && again.new_keys.is_empty());
        assert_eq!((again.items[0].id, again.items[0].account_id), (items[0].id, Some(account)));
        assert_eq!(again.aliases.len(), 1);
    }

    fn found(id: &str, iban: Option<&str>, name: &str) -> DiscoveredItem {
        DiscoveredItem {
            provider_item_id: id.into(),
            kind: AccountKind::Cash,
            name: name.into(),
            iban: iban.map(str::to_string),
            account_number: None,
            masked_number: None,
            owner_name: None,
            currency: Currency::EUR,
            current_value: None,
        }
    }

    fn at(hour: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600 + i64::from(hour) * 3600, 0).unwrap()
    }

    /// The stored items after a first discovery, with the first one tracked into an account.
    fn stored(connection: ConnectionId, account: AccountId) -> Vec<Item> {
        let mut ids = (1..).map(Uuid::from_u128);
        let first = [found("a1", Some("SE45 1"), "Everyday"), found("c1", None, "Card")];
        let mut items = diff_items(connection, &[], &first, at(0), || ids.next().unwrap()).items;
        items[0].decision = ItemDecision::Tracked;
        items[0].account_id = Some(account);
        items
    }

    #[test]
    fn new_items_are_offered_and_named() {
        let connection = ConnectionId(Uuid::from_u128(7));
        let mut ids = (1..).map(Uuid::from_u128);
        let diff =
            diff_items(connection, &[], &[found("a1", Some("SE45 1"), "Everyday")], at(0), || ids.next().unwrap());
        assert_eq!(diff.items.len(), 1);
        assert_eq!(diff.items[0].decision, ItemDecision::Offered);
        assert_eq!(diff.items[0].id, Uuid::from_u128(1));
        assert_eq!(diff.new_keys, vec!["iban:SE451".to_string()]);
        assert_eq!(diff.new_names, vec!["Everyday".to_string()]);
        assert!(diff.closed.is_empty() && diff.aliases.is_empty());
    }

    #[test]
    fn an_unchanged_discovery_changes_nothing() {
        let (connection, account) = (ConnectionId(Uuid::from_u128(7)), AccountId(Uuid::from_u128(9)));
        let items = stored(connection, account);
        let again = [found("a1", Some("SE45 1"), "Everyday"), found("c1", None, "Card")];
        let diff = diff_items(connection, &items, &again, at(1), || unreachable!("no new item"));
        assert!(diff.items.is_empty() && diff.closed.is_empty() && diff.aliases.is_empty() && diff.new_keys.is_empty());
    }

    #[test]
    fn a_new_provider_id_relinks_the_same_account_and_keeps_the_decision() {
        let (connection, account) = (ConnectionId(Uuid::from_u128(7)), AccountId(Uuid::from_u128(9)));
        let items = stored(connection, account);
        // A reconnect: new ids for both, the same IBAN for the account, a new name.
        let again = [found("a2", Some("se45 1"), "Everyday account"), found("c1", None, "Card")];
        let diff = diff_items(connection, &items, &again, at(1), || unreachable!("no new item"));
        assert_eq!(diff.items.len(), 1);
        let item = &diff.items[0];
        assert_eq!((item.id, item.decision, item.account_id), (items[0].id, ItemDecision::Tracked, Some(account)));
        assert_eq!((item.provider_item_id.as_str(), item.name.as_str()), ("a2", "Everyday account"));
        assert_eq!(diff.aliases.len(), 1);
        assert_eq!(diff.aliases[0].0, account);
        assert_eq!(diff.aliases[0].1.provider_account_id.as_deref(), Some("a2"));
    }

    #[test]
    fn a_vanished_item_closes_its_account_and_reopens_it_when_back() {
        let (connection, account) = (ConnectionId(Uuid::from_u128(7)), AccountId(Uuid::from_u128(9)));
        let items = stored(connection, account);
        // Both vanish: the tracked one's account is closed; the offered card has none to close.
        let gone = diff_items(connection, &items, &[], at(1), || unreachable!());
        assert_eq!(gone.closed, vec![(account, true)]);
        assert_eq!(gone.items.len(), 2);
        assert!(gone.items.iter().all(|i| i.vanished_at == Some(at(1))));
        let both = [found("a1", Some("SE45 1"), "Everyday"), found("c1", None, "Card")];
        let back = diff_items(connection, &gone.items, &both, at(2), || unreachable!());
        assert_eq!(back.closed, vec![(account, false)]);
        assert!(back.items.iter().all(|i| i.vanished_at.is_none()));
        assert!(back.new_keys.is_empty(), "an item that comes back is not new");
        // Once vanished, it is not closed again on every sync.
        let still_gone = diff_items(connection, &gone.items, &[], at(3), || unreachable!());
        assert!(still_gone.closed.is_empty() && still_gone.items.is_empty());
    }
}
