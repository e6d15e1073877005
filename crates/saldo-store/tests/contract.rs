//! The storage contract: every story here runs on SQLite and on PostgreSQL, with nothing skipped.
//! PostgreSQL comes from `SALDO_TEST_POSTGRES_URL` (default: the local cluster's `postgres`
//! database); each test creates its own database there and drops it afterwards.

#![allow(clippy::unwrap_used)] // Test helpers fail loudly by design.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use saldo_core::account::{Account, AccountAlias, AccountKind, Origin};
use saldo_core::balance::{BalancePoint, BalanceSource};
use saldo_core::fx::FxRate;
use saldo_core::holding::{Holding, Instrument};
use saldo_core::ids::{AccountId, ConnectionId, InstitutionId, TransactionId, UserId};
use saldo_core::institution::{Connection, Institution};
use saldo_core::money::{Currency, Money};
use saldo_core::transaction::{fingerprint, FingerprintContent, Source, Transaction, TransactionStatus};
use saldo_core::user::User;
use saldo_store::{Db, DbUrl, StoreError, ValuationWrite};
use saldo_testing::{Backend, ScratchDatabase};
use std::future::Future;
use std::str::FromStr;
use uuid::Uuid;

/// Runs `story` on a fresh, migrated database of `backend`; the database goes afterwards, even
/// when the story fails.
fn run_story<F, Fut>(backend: Backend, story: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let scratch = ScratchDatabase::new(backend);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let db = Db::connect(&DbUrl::parse(scratch.url()).unwrap()).await.unwrap();
        db.migrate().await.unwrap();
        let outcome = tokio::spawn(story(db.clone())).await;
        db.close().await;
        if let Err(err) = outcome {
            std::panic::resume_unwind(err.into_panic());
        }
    });
}

/// Declares a story once and runs it as `NAME::sqlite` and `NAME::postgres`.
macro_rules! contract {
    ($name:ident, $story:expr) => {
        saldo_testing::both_backends!($name, run_story, $story);
    };
}

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, day, hour, 0, 0).unwrap()
}

fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, day).unwrap()
}

fn currency(code: &str) -> Currency {
    Currency::parse(code).unwrap()
}

fn new_user(name: &str) -> User {
    User::named(UserId(Uuid::now_v7()), name, Currency::EUR, at(1, 0))
}

fn manual_account(user: UserId, name: &str, kind: AccountKind, code: &str) -> Account {
    Account {
        id: AccountId(Uuid::now_v7()),
        user_id: user,
        name: name.into(),
        kind,
        currency: currency(code),
        tracked: true,
        origin: Origin::Manual,
        closed: false,
        created_at: at(1, 1),
    }
}

async fn user_with_account(db: &Db, kind: AccountKind, code: &str) -> (User, Account) {
    let user = db.ensure_user(&new_user("ada")).await.unwrap();
    let account = manual_account(user.id, "Main", kind, code);
    db.insert_account(&account, &[], &[]).await.unwrap();
    (user, account)
}

fn transaction(account: AccountId, provider_id: Option<&str>, description: &str, minor: i64) -> Transaction {
    let amount = Money::new(minor, Currency::EUR);
    Transaction {
        id: TransactionId(Uuid::now_v7()),
        account_id: account,
        status: TransactionStatus::Booked,
        booking_date: date(3),
        value_date: Some(date(4)),
        amount,
        description: description.into(),
        counterparty: Some("Shop".into()),
        provider_id: provider_id.map(Into::into),
        source: Source::Sync,
        pending_of: None,
        fingerprint: fingerprint(
            FingerprintContent { booking_date: date(3), amount, description, counterparty: Some("Shop") },
            0,
        ),
    }
}

#[test]
fn both_backends_have_the_same_migrations() {
    let sqlite = Db::migration_names(saldo_store::Backend::Sqlite);
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, Db::migration_names(saldo_store::Backend::Postgres));
}

contract!(migrating_twice_changes_nothing, |db: Db| async move {
    db.migrate().await.unwrap();
    db.ping().await.unwrap();
});

contract!(users_are_created_once_by_name, |db: Db| async move {
    let first = db.ensure_user(&new_user("ada")).await.unwrap();
    let again = db.ensure_user(&new_user("ada")).await.unwrap();
    assert_eq!(first, again);
    db.set_base_currency(first.id, currency("SEK")).await.unwrap();
    assert_eq!(db.user_by_name("ada").await.unwrap().unwrap().base_currency, currency("SEK"));
    assert!(db.user_by_name("bob").await.unwrap().is_none());
    let missing = db.set_base_currency(UserId(Uuid::now_v7()), Currency::EUR).await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))));
});

contract!(accounts_round_trip_with_aliases_and_origin, |db: Db| async move {
    let user = db.ensure_user(&new_user("ada")).await.unwrap();
    let institution = db
        .upsert_institution(&Institution {
            id: InstitutionId(Uuid::now_v7()),
            connector: "sandbox".into(),
            provider_institution_id: "healthy".into(),
            name: "Healthy Bank".into(),
            country: Some("SE".into()),
            bic: None,
            max_history_days: Some(90),
            max_consent_days: Some(180),
            accesses_per_day: Some(4),
            description: "healthy".into(),
            logo_url: Some("https://logos.example/healthy.png".into()),
        })
        .await
        .unwrap();
    assert_eq!(institution.logo_url.as_deref(), Some("https://logos.example/healthy.png"));
    let renamed = db
        .upsert_institution(&Institution {
            id: InstitutionId(Uuid::now_v7()),
            name: "Healthy Bank AB".into(),
            ..institution.clone()
        })
        .await
        .unwrap();
    assert_eq!(renamed.id, institution.id, "an institution keeps its first id");
    assert_eq!(renamed.name, "Healthy Bank AB");
    let batch: Vec<Institution> = ["Nordea", "OP"]
        .iter()
        .map(|name| Institution {
            id: InstitutionId(Uuid::now_v7()),
            connector: "enable_banking".into(),
            provider_institution_id: format!("FI:{name}"),
            name: (*name).into(),
            country: Some("FI".into()),
            bic: Some(format!("{}FIHH", name.to_uppercase())),
            logo_url: None,
            ..institution.clone()
        })
        .collect();
    assert_eq!(db.catalog_refreshed_at("enable_banking").await.unwrap(), None);
    // A provider listing a bank twice, and a list longer than one statement takes.
    let mut long: Vec<Institution> = (0..1_200)
        .map(|n| Institution {
            id: InstitutionId(Uuid::now_v7()),
            connector: "gocardless".into(),
            provider_institution_id: format!("BANK_{n}"),
            name: format!("Bank {n}"),
            country: Some("DE".into()),
            bic: None,
            ..batch[0].clone()
        })
        .collect();
    long.push(Institution { id: InstitutionId(Uuid::now_v7()), name: "Bank 7 renamed".into(), ..long[7].clone() });
    db.refresh_catalog("gocardless", &long, at(1, 3)).await.unwrap();
    let stored = db.institutions(Some("bank_")).await.unwrap();
    assert_eq!(stored.len(), 1_200);
    assert!(stored.iter().any(|i| i.name == "Bank 7 renamed"), "the last listing wins");
    db.refresh_catalog("enable_banking", &batch, at(1, 3)).await.unwrap();
    db.refresh_catalog("enable_banking", &batch, at(2, 3)).await.unwrap();
    assert_eq!(db.catalog_refreshed_at("enable_banking").await.unwrap(), Some(at(2, 3)));
    let names = |list: Vec<Institution>| list.into_iter().map(|i| i.name).collect::<Vec<_>>();
    assert_eq!(names(db.institutions(Some("fi")).await.unwrap()), ["Nordea", "OP"], "by country");
    assert_eq!(names(db.institutions(Some("NORDEAF")).await.unwrap()), ["Nordea"], "by BIC");
    assert_eq!(names(db.institutions(Some("healthy")).await.unwrap()), ["Healthy Bank AB"]);
    let connection = Connection {
        id: ConnectionId(Uuid::now_v7()),
        user_id: user.id,
        institution_id: institution.id,
        connector: "sandbox".into(),
        consent: None,
        created_at: at(1, 2),
    };
    db.insert_connection(&connection).await.unwrap();
    assert_eq!(db.connections(user.id).await.unwrap(), vec![connection.clone()]);

    let mut card = manual_account(user.id, "Visa", AccountKind::CreditCard, "SEK");
    card.origin = Origin::Connection(connection.id);
    let alias = AccountAlias {
        provider_account_id: Some("acc-1".into()),
        iban: None,
        masked_number: Some("**** 4242".into()),
        currency: currency("SEK"),
        name: Some("Visa Gold".into()),
    };
    db.insert_account(&card, std::slice::from_ref(&alias), &[]).await.unwrap();
    let house = manual_account(user.id, "House", AccountKind::RealEstate, "EUR");
    db.insert_account(&house, &[], &[]).await.unwrap();

    assert_eq!(db.account(card.id).await.unwrap().unwrap(), card);
    assert_eq!(db.aliases(card.id).await.unwrap(), vec![alias]);
    assert_eq!(db.accounts(user.id).await.unwrap().len(), 2);

    let mut edited = house.clone();
    edited.name = "Flat".into();
    edited.kind = AccountKind::OtherAsset;
    edited.tracked = false;
    db.update_account(&edited).await.unwrap();
    assert_eq!(db.account(house.id).await.unwrap().unwrap(), edited);

    assert!(db.delete_account(card.id).await.unwrap());
    assert!(!db.delete_account(card.id).await.unwrap());
    assert!(db.aliases(card.id).await.unwrap().is_empty(), "aliases go with their account");
    let gone = db.update_account(&card).await;
    assert!(matches!(gone, Err(StoreError::NotFound(_))));
});

contract!(a_failed_account_insert_writes_nothing, |db: Db| async move {
    let user = db.ensure_user(&new_user("ada")).await.unwrap();
    let mut account = manual_account(user.id, "Card", AccountKind::CreditCard, "EUR");
    // A connection that does not exist: the alias rows would be written, then the account fails.
    account.origin = Origin::Connection(ConnectionId(Uuid::now_v7()));
    let alias = AccountAlias {
        provider_account_id: Some("x".into()),
        iban: None,
        masked_number: None,
        currency: Currency::EUR,
        name: None,
    };
    let point = BalancePoint {
        account_id: account.id,
        date: date(1),
        observed_at: at(1, 0),
        amount: Money::new(-500, Currency::EUR),
        source: BalanceSource::Manual,
    };
    assert!(db.insert_account(&account, &[alias], std::slice::from_ref(&point)).await.is_err());
    assert!(db.accounts(user.id).await.unwrap().is_empty());
    assert!(db.balance_points(account.id).await.unwrap().is_empty());
    // The same account without the bad connection is stored with its first point.
    account.origin = Origin::Manual;
    db.insert_account(&account, &[], &[point]).await.unwrap();
    assert_eq!(db.balance_points(account.id).await.unwrap().len(), 1);
    assert!(db.aliases(account.id).await.unwrap().is_empty());
});

contract!(valuations_are_set_replaced_and_deleted_by_day, |db: Db| async move {
    let (user, house) = user_with_account(&db, AccountKind::RealEstate, "EUR").await;
    let eur = |minor| Money::new(minor, Currency::EUR);
    assert_eq!(db.set_valuation(house.id, date(5), eur(300)).await.unwrap(), ValuationWrite::Created);
    assert_eq!(db.set_valuation(house.id, date(2), eur(100)).await.unwrap(), ValuationWrite::Created);
    assert_eq!(db.set_valuation(house.id, date(5), eur(350)).await.unwrap(), ValuationWrite::Replaced);
    let points = db.balance_points(house.id).await.unwrap();
    let values: Vec<(NaiveDate, i64)> = points.iter().map(|p| (p.date, p.amount.minor)).collect();
    assert_eq!(values, vec![(date(2), 100), (date(5), 350)]);
    assert!(points.iter().all(|p| p.source == BalanceSource::Manual));

    let series = db.balance_series(user.id, date(4), false).await.unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].points, vec![(date(2), 100)], "points after `until` are left out");

    assert!(db.delete_valuation(house.id, date(2)).await.unwrap());
    assert!(!db.delete_valuation(house.id, date(2)).await.unwrap());
    assert_eq!(db.balance_points(house.id).await.unwrap().len(), 1);
});

contract!(balance_series_orders_points_and_skips_untracked, |db: Db| async move {
    let (user, cash) = user_with_account(&db, AccountKind::Cash, "EUR").await;
    let point = |day, hour, minor| BalancePoint {
        account_id: cash.id,
        date: date(day),
        observed_at: at(day, hour),
        amount: Money::new(minor, Currency::EUR),
        source: BalanceSource::Sync,
    };
    let points = [point(3, 18, 30), point(3, 6, 10), point(1, 6, 5)];
    assert_eq!(db.insert_balance_points(&points).await.unwrap(), 3);
    assert_eq!(db.insert_balance_points(&points).await.unwrap(), 0, "the same observation is stored once");
    let series = db.balance_series(user.id, date(9), false).await.unwrap();
    assert_eq!(series[0].points, vec![(date(1), 5), (date(3), 10), (date(3), 30)]);
    assert_eq!(series[0].kind, AccountKind::Cash);
    db.insert_balance_points(&[point(5, 6, 50), point(7, 6, 70)]).await.unwrap();
    // One day's figure reads each account's last point on or before it (the day's last observation).
    let latest = db.latest_balances(user.id, date(6), false).await.unwrap();
    assert_eq!(latest[0].points, vec![(date(5), 50)]);
    assert_eq!(db.latest_balances(user.id, date(3), false).await.unwrap()[0].points, vec![(date(3), 30)]);
    let before_any = date(1).pred_opt().unwrap();
    assert!(db.latest_balances(user.id, before_any, false).await.unwrap().is_empty());
    // A history from a day reads the point before it, then the span.
    let since = db.balance_series_since(user.id, date(4), date(9), false).await.unwrap();
    assert_eq!(since[0].points, vec![(date(3), 30), (date(5), 50), (date(7), 70)]);
    let since = db.balance_series_since(user.id, date(3), date(5), false).await.unwrap();
    assert_eq!(since[0].points, vec![(date(1), 5), (date(3), 10), (date(3), 30), (date(5), 50)]);
    assert_eq!(db.first_balance_day(user.id).await.unwrap(), Some(date(1)));

    let mut untracked = cash.clone();
    untracked.tracked = false;
    db.update_account(&untracked).await.unwrap();
    assert!(db.balance_series(user.id, date(9), false).await.unwrap().is_empty());
    assert_eq!(db.first_balance_day(user.id).await.unwrap(), None, "only tracked accounts count");
    assert_eq!(db.balance_series(user.id, date(9), true).await.unwrap().len(), 1);
});

contract!(transactions_are_stored_once_by_provider_id_or_fingerprint, |db: Db| async move {
    let (user, cash) = user_with_account(&db, AccountKind::Cash, "EUR").await;
    let other = manual_account(user.id, "Other", AccountKind::Cash, "EUR");
    db.insert_account(&other, &[], &[]).await.unwrap();
    let batch = vec![
        transaction(cash.id, Some("p-1"), "Coffee", -350),
        transaction(cash.id, None, "Rent", -120000),
        transaction(other.id, Some("p-1"), "Coffee", -350),
    ];
    assert_eq!(db.insert_transactions(&batch).await.unwrap(), 3);
    // The same transactions fetched again get new saldo ids but the same identities.
    let again = vec![
        transaction(cash.id, Some("p-1"), "Coffee (edited by the bank)", -350),
        transaction(cash.id, None, "rent ", -120000),
        transaction(cash.id, None, "Groceries", -4200),
    ];
    assert_eq!(db.insert_transactions(&again).await.unwrap(), 1);
    let stored = db.transactions(cash.id).await.unwrap();
    assert_eq!(stored.len(), 3);
    let coffee = stored.iter().find(|t| t.provider_id.as_deref() == Some("p-1")).unwrap();
    assert_eq!(coffee, &batch[0]);
});

contract!(a_booking_under_a_reused_id_is_kept_by_its_content_and_counted, |db: Db| async move {
    let (_, cash) = user_with_account(&db, AccountKind::Cash, "EUR").await;
    let coffee = transaction(cash.id, Some("T1"), "Coffee", -350);
    assert_eq!(db.insert_transactions(std::slice::from_ref(&coffee)).await.unwrap(), 1);
    // The bank gives T1 to a second booking (another amount), and the first again.
    let mut books = transaction(cash.id, Some("T1"), "Books", -1200);
    books.fingerprint = "books-fingerprint".into();
    let again = transaction(cash.id, Some("T1"), "Coffee", -350);
    let mut import = db.begin_import().await.unwrap();
    assert_eq!(import.insert_transactions(&[again.clone(), books.clone()]).await.unwrap(), (1, 1));
    import.commit().await.unwrap();
    let stored = db.transactions(cash.id).await.unwrap();
    assert_eq!(stored.len(), 2, "{stored:?}");
    let kept = stored.iter().find(|t| t.amount.minor == -1200).unwrap();
    assert_eq!((kept.provider_id.as_deref(), kept.fingerprint.as_str()), (None, "books-fingerprint"));
    // Given once more, neither is stored twice.
    let mut import = db.begin_import().await.unwrap();
    assert_eq!(import.insert_transactions(&[again, books]).await.unwrap(), (0, 0));
    import.commit().await.unwrap();
    assert_eq!(db.transactions(cash.id).await.unwrap().len(), 2);
});

contract!(a_failed_transaction_batch_writes_nothing, |db: Db| async move {
    let (_, cash) = user_with_account(&db, AccountKind::Cash, "EUR").await;
    let batch = vec![
        transaction(cash.id, Some("ok-1"), "Fine", -100),
        transaction(AccountId(Uuid::now_v7()), Some("orphan"), "No such account", -100),
    ];
    assert!(db.insert_transactions(&batch).await.is_err());
    assert!(db.transactions(cash.id).await.unwrap().is_empty());
});

contract!(holdings_keep_one_value_per_day_and_their_history, |db: Db| async move {
    let (_, brokerage) = user_with_account(&db, AccountKind::Brokerage, "EUR").await;
    let holding = |day, quantity: &str, minor| Holding {
        account_id: brokerage.id,
        instrument: Instrument {
            isin: Some("IE00B4L5Y983".into()),
            ticker: Some("IWDA".into()),
            name: "MSCI World".into(),
        },
        quantity: Decimal::from_str(quantity).unwrap(),
        unit_price: Some(Decimal::from_str("80.125").unwrap()),
        market_value: Money::new(minor, Currency::EUR),
        as_of: date(day),
    };
    db.upsert_holdings(&[holding(1, "10.5", 84131)]).await.unwrap();
    db.upsert_holdings(&[holding(1, "11", 88138), holding(2, "11", 89000)]).await.unwrap();
    let stored = db.holdings(brokerage.id).await.unwrap();
    assert_eq!(stored, vec![holding(1, "11", 88138), holding(2, "11", 89000)]);
});

contract!(exchange_rates_replace_by_day_and_look_up_backwards, |db: Db| async move {
    let rate = |day, code, text: &str| FxRate {
        date: date(day),
        currency: currency(code),
        per_eur: Decimal::from_str(text).unwrap(),
    };
    let rates = vec![rate(2, "SEK", "11.2500"), rate(5, "SEK", "11.30"), rate(2, "USD", "1.0512")];
    assert_eq!(db.upsert_rates(&rates).await.unwrap(), 3);
    db.upsert_rates(&[rate(5, "SEK", "11.40")]).await.unwrap();
    let table = db.rate_table(&[currency("SEK"), currency("USD")], date(9)).await.unwrap();
    assert_eq!(table.per_eur(currency("SEK"), date(4)).unwrap().0.to_string(), "11.2500");
    assert_eq!(table.per_eur(currency("SEK"), date(7)).unwrap().0.to_string(), "11.40");
    assert!(table.per_eur(currency("USD"), date(1)).is_err());
    let until_third = db.rate_table(&[currency("SEK")], date(3)).await.unwrap();
    assert_eq!(until_third.per_eur(currency("SEK"), date(9)).unwrap().1, date(2));
    let coverage = db.rate_coverage().await.unwrap();
    assert_eq!(coverage.len(), 2);
    assert_eq!(
        (coverage[0].currency, coverage[0].first, coverage[0].last, coverage[0].days),
        (currency("SEK"), date(2), date(5), 2)
    );
});

#[path = "contract/sync_engine.rs"]
mod sync_engine;

contract!(an_import_lands_whole_or_not_at_all, |db: Db| async move {
    let user = db.ensure_user(&new_user("ada")).await.unwrap();
    let mut account = manual_account(user.id, "Imported", AccountKind::Cash, "EUR");
    account.origin = Origin::Import;
    let mut unnamed = manual_account(user.id, "Imported account", AccountKind::Cash, "EUR");
    unnamed.origin = Origin::Import;
    let alias = AccountAlias {
        provider_account_id: Some("12345678".into()),
        iban: None,
        masked_number: None,
        currency: Currency::EUR,
        name: None,
    };
    let coffee = transaction(account.id, Some("file:A1"), "Coffee", -350);
    let pending = {
        let mut t = transaction(account.id, None, "Hotel", -9000);
        t.status = TransactionStatus::Pending;
        t
    };

    // An import that is dropped (a later file failed) leaves nothing: no account, no rows.
    let mut import = db.begin_import().await.unwrap();
    import.create_account(&account, Some(&alias)).await.unwrap();
    assert_eq!(import.insert_transactions(std::slice::from_ref(&coffee)).await.unwrap(), (1, 0));
    let found = import.account_by_identity(user.id, None, Some("12345678"), Some(Currency::EUR)).await.unwrap();
    assert_eq!(found, Some(account.id), "the open import sees its own writes");
    drop(import);
    assert!(db.accounts(user.id).await.unwrap().is_empty());

    // Committed, everything lands; a second import finds the account and its entries.
    let mut import = db.begin_import().await.unwrap();
    import.create_account(&account, Some(&alias)).await.unwrap();
    import.create_account(&unnamed, None).await.unwrap();
    import.insert_transactions(&[coffee.clone(), pending.clone()]).await.unwrap();
    import.save_csv_profile(account.id, "{\"delimiter\":\";\"}", at(1, 0)).await.unwrap();
    import.commit().await.unwrap();
    assert_eq!(db.csv_profile(account.id).await.unwrap().as_deref(), Some("{\"delimiter\":\";\"}"));

    let mut import = db.begin_import().await.unwrap();
    assert_eq!(import.account_by_identity(user.id, None, Some("12345678"), None).await.unwrap(), Some(account.id));
    assert_eq!(import.account_by_identity(user.id, None, Some("12345678"), Some(currency("USD"))).await.unwrap(), None);
    let entries = import.entries_between(account.id, date(3), date(3)).await.unwrap();
    assert_eq!(entries.len(), 2);
    let stored_coffee = entries.iter().find(|e| !e.pending).unwrap();
    assert_eq!((stored_coffee.amount_minor, stored_coffee.provider_id.as_deref()), (-350, Some("file:A1")));
    assert_eq!(stored_coffee.fingerprint, coffee.fingerprint);
    // The same row again is no new transaction; the booked hotel replaces its pending one.
    assert_eq!(import.insert_transactions(std::slice::from_ref(&coffee)).await.unwrap(), (0, 0));
    let held: Vec<_> = entries.into_iter().filter(|e| e.pending).collect();
    assert_eq!(import.delete_pending(account.id, &held).await.unwrap(), 1);
    // Imported accounts without an alias are where files naming no account may have gone.
    let unnamed_ids = |accounts: Vec<Account>| accounts.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(unnamed_ids(import.unnamed_import_accounts(user.id, None).await.unwrap()), vec![unnamed.id]);
    assert!(import.unnamed_import_accounts(user.id, Some(currency("USD"))).await.unwrap().is_empty());
    import.commit().await.unwrap();
    let stored = db.transactions(account.id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].status, TransactionStatus::Booked);
});
