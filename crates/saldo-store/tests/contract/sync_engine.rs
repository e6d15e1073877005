//! The sync engine's persistence: connections, leases, commits, items, notifications, health.

use super::*;
use saldo_core::failure::{Failure, FailureKind, TemporaryCause};
use saldo_core::institution::ConsentRecord;
use saldo_core::item::{Item, ItemDecision};
use saldo_core::notification::{About, Notification, NotificationKind, Params};
use saldo_core::outage::InstitutionHealth;
use saldo_core::sync::SyncState;
use saldo_store::{AccountIngest, SyncCommit, SyncRun};

pub(super) struct Fixture {
    pub user: User,
    pub institution: Institution,
    pub connection: Connection,
    pub item: Item,
}

pub(super) async fn connected(db: &Db) -> Fixture {
    let user = db.ensure_user(&new_user("ada")).await.unwrap();
    let institution = db
        .upsert_institution(&Institution {
            id: InstitutionId(Uuid::now_v7()),
            connector: "sandbox".into(),
            provider_institution_id: "sandbox-bank".into(),
            name: "Sandbox Bank".into(),
            country: None,
            bic: None,
            max_history_days: Some(90),
            max_consent_days: Some(180),
            accesses_per_day: Some(4),
            description: String::new(),
            logo_url: None,
        })
        .await
        .unwrap();
    let connection = Connection {
        id: ConnectionId(Uuid::now_v7()),
        user_id: user.id,
        institution_id: institution.id,
        connector: "sandbox".into(),
        consent: Some(ConsentRecord {
            id: "consent-1".into(),
            granted_at: at(1, 0),
            valid_until: at(1, 0) + chrono::TimeDelta::days(90),
            scope: vec!["accounts".into(), "transactions".into()],
            max_history_days: 90,
            accesses_per_day: Some(4),
            secret: None,
        }),
        created_at: at(1, 0),
    };
    let item = Item {
        id: Uuid::now_v7(),
        connection_id: connection.id,
        identity_key: "iban:SE01".into(),
        provider_item_id: "acc-1".into(),
        kind: AccountKind::Cash,
        name: "Everyday".into(),
        iban: Some("SE01".into()),
        masked_number: None,
        owner_name: None,
        currency: Currency::EUR,
        current_value: Some(Money::new(1000, Currency::EUR)),
        decision: ItemDecision::Offered,
        account_id: None,
        first_seen_at: at(1, 0),
        vanished_at: None,
        synced_through: None,
    };
    db.create_connection(&connection, &SyncState::new(at(1, 0), Some(4)), std::slice::from_ref(&item)).await.unwrap();
    Fixture { user, institution, connection, item }
}

/// Tracks the fixture's item into a new account of its connection, as `saldo track` does.
async fn track(db: &Db, fixture: &Fixture) {
    let account = Account {
        origin: Origin::Connection(fixture.connection.id),
        ..manual_account(fixture.user.id, "Everyday", AccountKind::Cash, "EUR")
    };
    let item = Item { decision: ItemDecision::Tracked, account_id: Some(account.id), ..fixture.item.clone() };
    let alias = AccountAlias {
        provider_account_id: Some(item.provider_item_id.clone()),
        iban: item.iban.clone(),
        masked_number: None,
        currency: Currency::EUR,
        name: None,
    };
    db.decide_items(&[item], &[(account, alias)], &[]).await.unwrap();
}

pub(super) fn commit(fixture: &Fixture, worker: &str, state: SyncState, ingest: Vec<AccountIngest>) -> SyncCommit {
    SyncCommit {
        connection_id: fixture.connection.id,
        worker: worker.into(),
        state,
        run: SyncRun {
            id: Uuid::now_v7(),
            connection_id: fixture.connection.id,
            institution_id: fixture.institution.id,
            trigger: "scheduled".into(),
            worker: worker.into(),
            started_at: at(2, 0),
            finished_at: at(2, 0),
            outcome: "ok".into(),
            failure: None,
            transactions_new: 0,
            pending_replaced: 0,
            pending_vanished: 0,
            reused_ids: 0,
            balance_points: 0,
            holdings: 0,
        },
        items: Vec::new(),
        closed: Vec::new(),
        aliases: Vec::new(),
        ingest,
        notifications: Vec::new(),
    }
}

contract!(a_connection_keeps_its_consent_state_and_items, |db: Db| async move {
    let fixture = connected(&db).await;
    let record = db.connection_record(fixture.connection.id, at(1, 0)).await.unwrap().unwrap();
    assert_eq!(record.connection, fixture.connection);
    assert_eq!(record.state, SyncState::new(at(1, 0), Some(4)));
    assert_eq!(record.lease, None);
    assert_eq!(db.items(fixture.connection.id).await.unwrap(), vec![fixture.item.clone()]);

    let mut state = record.state.clone();
    state.running = false;
    let failure = Failure::new(FailureKind::Temporary(TemporaryCause::Timeout), "timeout", "slow").retry_at(at(2, 3));
    state.fail(at(2, 0), &failure, &saldo_core::sync::SyncPolicy::default(), 0, None);
    db.save_sync_state(fixture.connection.id, &state).await.unwrap();
    let stored = db.connection_record(fixture.connection.id, at(2, 0)).await.unwrap().unwrap();
    assert_eq!(stored.state, state);
    assert_eq!(db.connection_records(fixture.user.id, at(2, 0)).await.unwrap().len(), 1);
});

contract!(sealed_secrets_are_stored_replaced_and_resealed_all_or_nothing, |db: Db| async move {
    use saldo_core::secret::Sealed;
    let fixture = connected(&db).await;
    assert!(db.sealed_secrets().await.unwrap().is_empty());
    let mut consent = fixture.connection.consent.clone().unwrap();
    consent.secret = Some(Sealed("v1.first".into()));
    let state = SyncState::new(at(1, 0), Some(4));
    db.replace_consent(fixture.connection.id, &consent, &state, &[], &[]).await.unwrap();
    let stored = db.connection_record(fixture.connection.id, at(1, 0)).await.unwrap().unwrap();
    assert_eq!(stored.connection.consent.unwrap().secret, Some(Sealed("v1.first".into())));
    let id = fixture.connection.id;
    assert_eq!(db.sealed_secrets().await.unwrap(), vec![(id, Sealed("v1.first".into()))]);

    // A secret that changed since it was read fails the whole re-seal; nothing is written.
    let stale = vec![(id, Sealed("v1.other".into()), Sealed("v1.second".into()))];
    assert!(matches!(db.reseal_secrets(&stale).await, Err(StoreError::Conflict(_))));
    assert_eq!(db.sealed_secrets().await.unwrap(), vec![(id, Sealed("v1.first".into()))]);
    let fresh = vec![(id, Sealed("v1.first".into()), Sealed("v1.second".into()))];
    db.reseal_secrets(&fresh).await.unwrap();
    assert_eq!(db.sealed_secrets().await.unwrap(), vec![(id, Sealed("v1.second".into()))]);
});

contract!(one_worker_at_a_time_holds_a_connection, |db: Db| async move {
    let fixture = connected(&db).await;
    let lease = at(1, 0) + chrono::TimeDelta::minutes(10);
    assert!(db.claim_due("w1", at(1, 0), lease, 10).await.unwrap().is_empty(), "nothing tracked, nothing to fetch");
    track(&db, &fixture).await;
    let claim = vec![(fixture.connection.id, fixture.institution.id)];
    assert_eq!(db.claim_due("w1", at(1, 0), lease, 10).await.unwrap(), claim);
    assert!(db.claim_due("w2", at(1, 0), lease, 10).await.unwrap().is_empty(), "already claimed");
    assert!(!db.claim_connection(fixture.connection.id, "w2", at(1, 0), lease).await.unwrap());
    let record = db.connection_record(fixture.connection.id, at(1, 0)).await.unwrap().unwrap();
    assert!(record.state.running);

    // w2 cannot commit under w1's lease: nothing it brought is written.
    let ingest = AccountIngest { account_id: None, ..AccountIngest::default() };
    let stolen = db.commit_sync(&commit(&fixture, "w2", record.state.clone(), vec![ingest])).await;
    assert!(matches!(stolen, Err(StoreError::LeaseLost(_))));
    assert!(db.sync_runs(fixture.connection.id, 10).await.unwrap().is_empty());

    // w1 dies; once its lease lapses another worker takes over.
    let later = lease + chrono::TimeDelta::seconds(1);
    assert_eq!(db.claim_due("w2", later, later + chrono::TimeDelta::minutes(10), 10).await.unwrap(), claim);
    let late = db.commit_sync(&commit(&fixture, "w1", record.state.clone(), Vec::new())).await;
    assert!(matches!(late, Err(StoreError::LeaseLost(_))), "the dead worker's late commit is refused");
    let mut state = record.state.clone();
    state.succeed(later, &saldo_core::sync::SyncPolicy::default(), false, 0);
    db.commit_sync(&commit(&fixture, "w2", state, Vec::new())).await.unwrap();
    assert_eq!(db.sync_runs(fixture.connection.id, 10).await.unwrap().len(), 1);
    let record = db.connection_record(fixture.connection.id, later).await.unwrap().unwrap();
    assert_eq!(record.lease, None);
    assert!(!record.state.running);
    assert!(db.claim_due("w3", later, later, 10).await.unwrap().is_empty(), "not due again yet");
});

contract!(claiming_due_connections_can_leave_out_busy_institutions, |db: Db| async move {
    let fixture = connected(&db).await;
    track(&db, &fixture).await;
    let lease = at(1, 0) + chrono::TimeDelta::minutes(10);
    // A worker that runs as many syncs against this institution as it allows claims none of it.
    let busy = [fixture.institution.id];
    assert!(db.claim_due_except("w1", at(1, 0), lease, 10, &busy).await.unwrap().is_empty());
    let record = db.connection_record(fixture.connection.id, at(1, 0)).await.unwrap().unwrap();
    assert!(!record.state.running, "a connection left out is not claimed");
    // Another institution being busy leaves this one claimable, once.
    let other = [InstitutionId(Uuid::now_v7())];
    let claim = vec![(fixture.connection.id, fixture.institution.id)];
    assert_eq!(db.claim_due_except("w1", at(1, 0), lease, 10, &other).await.unwrap(), claim);
    assert!(db.claim_due_except("w2", at(1, 0), lease, 10, &[]).await.unwrap().is_empty(), "already claimed");
});

contract!(commits_replace_pending_and_never_duplicate, |db: Db| async move {
    let fixture = connected(&db).await;
    let account = manual_account(fixture.user.id, "Everyday", AccountKind::Cash, "EUR");
    db.insert_account(&account, &[], &[]).await.unwrap();
    let pending = {
        let mut t = transaction(account.id, Some("pd-1"), "Coffee", -300);
        t.status = TransactionStatus::Pending;
        t
    };
    let booked = transaction(account.id, Some("bk-1"), "Coffee", -350);
    let lease = at(2, 0) + chrono::TimeDelta::minutes(10);
    let state = SyncState::new(at(1, 0), Some(4));

    db.claim_connection(fixture.connection.id, "w", at(2, 0), lease).await.unwrap();
    let first =
        AccountIngest { account_id: Some(account.id), pending: vec![pending.clone()], ..AccountIngest::default() };
    db.commit_sync(&commit(&fixture, "w", state.clone(), vec![first])).await.unwrap();
    assert_eq!(db.transactions(account.id).await.unwrap(), vec![pending.clone()]);

    // It books with another id and amount: the pending one the window covered is replaced, not
    // duplicated.
    for _ in 0..2 {
        db.claim_connection(fixture.connection.id, "w", at(2, 0), lease).await.unwrap();
        let next = AccountIngest {
            account_id: Some(account.id),
            booked: vec![transaction(account.id, Some("bk-1"), "Coffee", -350)],
            pending_removed: vec![pending.id],
            pending_vanished: 1,
            balance: Some(BalancePoint {
                account_id: account.id,
                date: date(2),
                observed_at: at(2, 0),
                amount: Money::new(-350, Currency::EUR),
                source: BalanceSource::Sync,
            }),
            ..AccountIngest::default()
        };
        db.commit_sync(&commit(&fixture, "w", state.clone(), vec![next])).await.unwrap();
    }
    let stored = db.transactions(account.id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].provider_id.as_deref(), stored[0].amount.minor), (booked.provider_id.as_deref(), -350));
    assert_eq!(db.balance_points(account.id).await.unwrap().len(), 1);
});

contract!(a_batch_commit_writes_each_sync_whose_lease_is_held_and_only_those, |db: Db| async move {
    let (a, b, c) = (connected(&db).await, connected(&db).await, connected(&db).await);
    let account = manual_account(a.user.id, "Everyday", AccountKind::Cash, "EUR");
    db.insert_account(&account, &[], &[]).await.unwrap();
    let lease = at(2, 0) + chrono::TimeDelta::minutes(10);
    for fixture in [&a, &b, &c] {
        assert!(db.claim_connection(fixture.connection.id, "w", at(2, 0), lease).await.unwrap());
    }
    let state = SyncState::new(at(1, 0), Some(4));
    let ingest = |account_id: AccountId, provider_id: &str| AccountIngest {
        account_id: Some(account_id),
        booked: vec![transaction(account_id, Some(provider_id), "Rent", -90_000)],
        ..AccountIngest::default()
    };
    let good = commit(&a, "w", state.clone(), vec![ingest(account.id, "a-1")]);
    // b's lease went to another worker; c brings a transaction for an account that does not exist.
    let stolen = commit(&b, "other", state.clone(), vec![ingest(account.id, "b-1")]);
    let broken = commit(&c, "w", state.clone(), vec![ingest(AccountId(Uuid::now_v7()), "c-1")]);

    let results = db.commit_syncs(&[good, stolen, broken]).await.unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().unwrap(), &(1, 0));
    assert!(matches!(results[1], Err(StoreError::LeaseLost(_))), "{:?}", results[1]);
    assert!(results[2].is_err() && !matches!(results[2], Err(StoreError::LeaseLost(_))), "{:?}", results[2]);

    let stored = db.transactions(account.id).await.unwrap();
    assert_eq!(stored.iter().map(|t| t.provider_id.as_deref()).collect::<Vec<_>>(), vec![Some("a-1")]);
    let runs = db.sync_runs(a.connection.id, 10).await.unwrap();
    assert_eq!((runs.len(), runs[0].transactions_new), (1, 1));
    assert!(db.sync_runs(b.connection.id, 10).await.unwrap().is_empty());
    assert!(db.sync_runs(c.connection.id, 10).await.unwrap().is_empty(), "the broken sync wrote nothing");
    let record = |id| db.connection_record(id, at(2, 0));
    assert_eq!(record(a.connection.id).await.unwrap().unwrap().lease, None, "committed: lease given back");
    assert!(record(c.connection.id).await.unwrap().unwrap().lease.is_some(), "rolled back: still claimed");
});

contract!(a_browser_authorization_is_taken_once_and_lapses, |db: Db| async move {
    let fixture = connected(&db).await;
    let auth = |state: &str| saldo_store::StoredAuthorization {
        state: state.into(),
        purpose: saldo_store::Purpose::Reconnect,
        user_id: fixture.user.id,
        connection_id: fixture.connection.id,
        institution_id: fixture.institution.id,
        user_key: fixture.connection.id.to_string(),
        redirect_url: "http://127.0.0.1:8080/callback/sandbox".into(),
        // What a connector asked to get back at completion survives the round trip.
        resume: (state == "s1").then(|| "consent-1".to_string()),
        created_at: at(2, 0),
        expires_at: at(2, 0) + chrono::TimeDelta::minutes(30),
    };
    db.save_authorization(&auth("s1")).await.unwrap();
    db.save_authorization(&auth("s2")).await.unwrap();
    assert_eq!(db.authorization("s1", at(2, 0)).await.unwrap(), Some(auth("s1")), "looking does not take it");
    assert_eq!(db.take_authorization("s1", at(2, 0)).await.unwrap(), Some(auth("s1")));
    assert_eq!(db.take_authorization("s1", at(2, 0)).await.unwrap(), None, "a replay finds nothing");
    assert_eq!(db.authorization("s1", at(2, 0)).await.unwrap(), None, "taken: no longer waiting");
    use saldo_store::AuthorizationProgress::*;
    assert_eq!(db.authorization_progress("s1", at(2, 0)).await.unwrap(), Some(Completing));
    assert_eq!(db.authorization_progress("s2", at(2, 0)).await.unwrap(), Some(Waiting));
    db.finish_authorization("s1", Some("the bank refused"), at(2, 0)).await.unwrap();
    assert_eq!(db.authorization_progress("s1", at(2, 0)).await.unwrap(), Some(Failed("the bank refused".into())));
    db.finish_authorization("s1", None, at(2, 0)).await.unwrap();
    assert_eq!(db.authorization_progress("s1", at(2, 0)).await.unwrap(), Some(Done));
    let late = at(2, 0) + chrono::TimeDelta::minutes(31);
    assert_eq!(db.authorization("s2", late).await.unwrap(), None);
    assert_eq!(db.take_authorization("s2", late).await.unwrap(), None, "expired");
    assert_eq!(db.authorization_progress("s2", late).await.unwrap(), None, "expired without an answer");
    assert_eq!(db.take_authorization("unknown", at(2, 0)).await.unwrap(), None);
});

contract!(notifications_are_unique_per_key_and_can_be_read, |db: Db| async move {
    let fixture = connected(&db).await;
    let about = About {
        user: fixture.user.id,
        connection: Some(fixture.connection.id),
        institution: Some(fixture.institution.id),
        at: at(3, 0),
    };
    let reconnect =
        Params::ReconnectNeeded { institution: "Bank".into(), failure: FailureKind::Expired, accounts: vec![] };
    let notification = |key: &str| Notification::new(Uuid::now_v7(), about, reconnect.clone(), key.into());
    assert_eq!(db.insert_notifications(&[notification("a"), notification("a"), notification("b")]).await.unwrap(), 2);
    assert_eq!(db.insert_notifications(&[notification("a")]).await.unwrap(), 0);
    let stored = db.notifications(fixture.user.id, true).await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(db.mark_notifications_read(fixture.user.id, &[stored[0].id], at(4, 0)).await.unwrap(), 1);
    assert_eq!(db.notifications(fixture.user.id, true).await.unwrap().len(), 1);
    assert_eq!(db.mark_notifications_read(fixture.user.id, &[], at(4, 0)).await.unwrap(), 1);
    assert!(db.notifications(fixture.user.id, true).await.unwrap().is_empty());
    assert_eq!(db.notifications(fixture.user.id, false).await.unwrap().len(), 2);
});

contract!(notifications_keep_what_they_say_as_parameters, |db: Db| async move {
    let fixture = connected(&db).await;
    let about = About { user: fixture.user.id, connection: None, institution: None, at: at(3, 0) };
    let every_kind = vec![
        Params::ReconnectNeeded {
            institution: "Bank".into(),
            failure: FailureKind::ActionRequired,
            accounts: vec!["Current".into(), "Visa".into()],
        },
        Params::ConsentExpiring { institution: "Bank".into(), ends_on: date(9), within_a_day: true },
        Params::ErrorPersisted {
            institution: "Bank".into(),
            since: at(2, 5),
            failure: FailureKind::Temporary(TemporaryCause::Maintenance),
        },
        Params::OutageBegan { institution: "Bank \"Ö\"".into() },
        Params::OutageEnded { institution: "Bank".into() },
        Params::SyncRecovered { institution: "Bank".into() },
        Params::NewItemsFound { institution: "Bank".into(), names: vec!["Savings".into(), "Card, gold".into()] },
        Params::ItemsVanished { institution: "Bank".into(), names: vec!["Holiday pot".into()] },
        // As rows from before parameters were kept read: only the text.
        Params::Text { kind: NotificationKind::SyncRecovered, text: "Updates from Bank work again.".into() },
    ];
    let notes: Vec<Notification> = every_kind
        .iter()
        .enumerate()
        .map(|(i, params)| Notification::new(Uuid::now_v7(), about, params.clone(), format!("k{i}")))
        .collect();
    assert_eq!(db.insert_notifications(&notes).await.unwrap(), notes.len() as u64);
    let mut stored = db.notifications(fixture.user.id, false).await.unwrap();
    stored.sort_by(|a, b| a.key.cmp(&b.key));
    let params: Vec<Params> = stored.iter().map(|n| n.params.clone()).collect();
    assert_eq!(params, every_kind);
    assert!(stored.iter().zip(&notes).all(|(s, n)| s.text() == n.text() && s.kind == n.kind));
});

contract!(disconnecting_closes_keeps_as_manual_or_deletes, |db: Db| async move {
    use saldo_store::KeptAccounts;
    for keep in [KeptAccounts::Closed, KeptAccounts::Manual, KeptAccounts::None] {
        let db = db.clone();
        let fixture = connected(&db).await;
        let mut account = manual_account(fixture.user.id, "Synced", AccountKind::Cash, "EUR");
        account.origin = Origin::Connection(fixture.connection.id);
        let point = BalancePoint {
            account_id: account.id,
            date: date(1),
            observed_at: at(1, 0),
            amount: Money::new(5, Currency::EUR),
            source: BalanceSource::Sync,
        };
        db.insert_account(&account, &[], &[point]).await.unwrap();
        db.delete_connection(fixture.connection.id, keep, at(3, 12)).await.unwrap();
        assert!(db.connection_record(fixture.connection.id, at(1, 0)).await.unwrap().is_none());
        let kept = db.account(account.id).await.unwrap();
        let series = db.balance_series(fixture.user.id, date(9), false).await.unwrap();
        match keep {
            KeptAccounts::None => assert!(kept.is_none()),
            KeptAccounts::Closed => {
                assert!(kept.unwrap().closed);
                assert_eq!(db.balance_points(account.id).await.unwrap().len(), 1);
                assert_eq!(series[0].closed_on, Some(date(3)), "closed on the day of the disconnect");
            }
            KeptAccounts::Manual => {
                let kept = kept.unwrap();
                assert_eq!((kept.closed, kept.origin), (false, Origin::Manual));
                assert_eq!(series[0].closed_on, None);
            }
        }
        db.delete_account(account.id).await.unwrap();
    }
});

contract!(institution_health_and_recent_outcomes, |db: Db| async move {
    let fixture = connected(&db).await;
    assert_eq!(db.institution_health(fixture.institution.id).await.unwrap(), InstitutionHealth::default());
    let health =
        InstitutionHealth { degraded_since: Some(at(2, 0)), next_probe_at: Some(at(2, 1)), probes: 2, announced: true };
    db.save_institution_health(fixture.institution.id, &health).await.unwrap();
    assert_eq!(db.institution_health(fixture.institution.id).await.unwrap(), health);

    let lease = at(2, 0) + chrono::TimeDelta::minutes(10);
    for outcome in ["ok", "failed", "failed"] {
        db.claim_connection(fixture.connection.id, "w", at(2, 0), lease).await.unwrap();
        let mut c = commit(&fixture, "w", SyncState::new(at(2, 0), None), Vec::new());
        c.run.outcome = outcome.into();
        if outcome == "failed" {
            c.run.failure = Some(Failure::new(FailureKind::Temporary(TemporaryCause::ProviderDown), "503", ""));
        }
        db.commit_sync(&c).await.unwrap();
    }
    let stats = db.window_stats(fixture.institution.id, at(1, 0)).await.unwrap();
    assert_eq!((stats.succeeded, stats.failed, stats.failing_connections), (1, 2, 1));
    assert_eq!(db.window_stats(fixture.institution.id, at(3, 0)).await.unwrap().failed, 0);
});
