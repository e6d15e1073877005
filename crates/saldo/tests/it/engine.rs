//! The sync engine in process, on a manual clock, against the sandbox bank, on SQLite and
//! PostgreSQL: days of scheduling in milliseconds, checked against the sandbox's ground truth.

use crate::support::{Backend, Saldo};
use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use saldo::config::{Config, Flags};
use saldo_app::clock::Clock;
use saldo_app::connections::{self, Selection};
use saldo_app::ops::{Actor, App};
use saldo_app::sync::{self, Jitter, SyncOutcome};
use saldo_connectors::sandbox::Sandbox;
use saldo_connectors::AuthAnswer;
use saldo_core::failure::{Colour, FailureKind, TemporaryCause};
use saldo_core::ids::ConnectionId;
use saldo_core::item::ItemDecision;
use saldo_core::notification::NotificationKind;
use saldo_core::sync::Status;
use saldo_core::transaction::TransactionStatus;
use std::collections::HashMap;
use std::future::Future;

const SEED: u64 = 11;

pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
}

/// An engine on a manual clock over a fresh database.
pub struct Engine {
    pub ctx: App,
    pub clock: Clock,
    /// The installation's user, at this machine.
    pub actor: Actor,
    pub sandbox: Sandbox,
}

pub fn run_engine_test<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Engine) -> Fut,
    Fut: Future<Output = ()>,
{
    run_engine_with(backend, &[], body)
}

/// [`run_engine_test`] with more configuration from the environment (a provider's emulator).
pub fn run_engine_with<F, Fut>(backend: Backend, settings: &[(&str, String)], body: F)
where
    F: FnOnce(Engine) -> Fut,
    Fut: Future<Output = ()>,
{
    let saldo = Saldo::new(backend);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let flags = Flags {
            database_url: Some(saldo.db_url().to_string()),
            data_dir: Some(saldo.dir().to_path_buf()),
            ..Flags::default()
        };
        let env = |name: &str| match name {
            "SALDO_SANDBOX_SEED" => Some(SEED.to_string()),
            _ => settings.iter().find(|(key, _)| *key == name).map(|(_, value)| value.clone()),
        };
        let config = Config::load(&flags, env).unwrap();
        let clock = Clock::manual(start());
        let mut ctx = saldo::wiring::open_app(config, clock.clone()).await.unwrap();
        ctx.jitter = Jitter::seeded(SEED);
        // Seeded ids make connection ids, hence the sandbox's consents and behaviour, the same on
        // every run.
        ctx.id_seed = Some(std::sync::Arc::new(std::sync::Mutex::new(rand::SeedableRng::seed_from_u64(SEED))));
        let actor = Actor::local(ctx.local_user().await.unwrap());
        let engine = Engine { ctx: ctx.clone(), clock, actor, sandbox: Sandbox::new(SEED) };
        body(engine).await;
        ctx.db.close().await;
    });
}

macro_rules! engine_test {
    ($name:ident, $body:expr) => {
        saldo_testing::both_backends!($name, crate::engine::run_engine_test, $body);
    };
}

fn approve(state: &str) -> AuthAnswer {
    AuthAnswer::Callback { params: vec![("state".into(), state.into()), ("code".into(), "approved".into())] }
}

impl Engine {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Connects an institution, tracks everything and runs the first sync, as `saldo connect` does.
    /// When the bank has a temporary problem the user tries again an hour later.
    pub async fn connect(&self, institution: &str) -> ConnectionId {
        let (pending, id) = loop {
            let pending = connections::begin_connect(&self.ctx, &self.actor, institution).await.unwrap();
            match connections::complete_connect(&self.ctx, &self.actor, &pending, &approve(&pending.request.state))
                .await
            {
                Ok((id, _)) => break (pending, id),
                Err(err) if err.to_string().contains("Try again in a few minutes") => {
                    self.clock.advance(TimeDelta::hours(1))
                }
                Err(err) => panic!("connect failed: {err}"),
            }
        };
        let _ = pending;
        connections::track(&self.ctx, &self.actor, id, &Selection::All).await.unwrap();
        sync::sync_now(&self.ctx, &self.actor, id, "test").await.unwrap();
        id
    }

    pub async fn reconnect(&self, id: ConnectionId) -> connections::ReconnectSummary {
        let pending = connections::begin_reconnect(&self.ctx, &self.actor, id).await.unwrap();
        let summary =
            connections::complete_reconnect(&self.ctx, &self.actor, &pending, &approve(&pending.request.state))
                .await
                .unwrap();
        sync::sync_now(&self.ctx, &self.actor, id, "test").await.unwrap();
        summary
    }

    /// Runs the scheduler every `step` until `until`; returns every report.
    pub async fn run_until(&self, until: DateTime<Utc>, step: TimeDelta) -> Vec<sync::SyncReport> {
        let mut reports = Vec::new();
        while self.now() < until {
            self.clock.advance(step);
            reports.extend(sync::run_due(&self.ctx, "scheduler", self.now(), 1000).await.unwrap());
        }
        reports
    }

    pub async fn view(&self, id: ConnectionId) -> connections::ConnectionView {
        connections::connection_views(&self.ctx, &self.actor)
            .await
            .unwrap()
            .into_iter()
            .find(|v| v.connection.id == id)
            .unwrap()
    }

    pub async fn notifications(&self, kind: NotificationKind) -> usize {
        self.ctx.db.notifications(self.actor.user.id, false).await.unwrap().iter().filter(|n| n.kind == kind).count()
    }

    /// Compares every tracked account of a connection with what the sandbox booked since `from`:
    /// (lost, duplicated).
    pub async fn compare_with_truth(&self, id: ConnectionId, institution: &str, from: NaiveDate) -> (usize, usize) {
        let today = self.now().date_naive();
        let items = self.ctx.db.items(id).await.unwrap();
        let (mut lost, mut duplicated) = (0, 0);
        for (slot, iban, masked) in self.sandbox.account_identities(institution, &id.to_string()) {
            let Some(item) = items
                .iter()
                .find(|i| i.decision == ItemDecision::Tracked && i.iban == iban && i.masked_number == masked)
            else {
                continue;
            };
            let Some(account) = item.account_id else { continue };
            let truth = self.sandbox.booked_between(institution, &id.to_string(), slot, from, today);
            let stored: Vec<_> = self
                .ctx
                .db
                .transactions(account)
                .await
                .unwrap()
                .into_iter()
                .filter(|t| t.status == TransactionStatus::Booked)
                .collect();
            let (l, d, _) = saldo_app::simulate::compare_with_truth(&truth, &stored);
            lost += l as usize;
            duplicated += d as usize;
        }
        (lost, duplicated)
    }
}

fn history_start(connected: DateTime<Utc>) -> NaiveDate {
    connected.date_naive() - TimeDelta::days(90)
}

fn ok(outcome: &SyncOutcome) -> bool {
    matches!(outcome, SyncOutcome::Ok { .. })
}

engine_test!(a_healthy_bank_syncs_within_its_budget_and_matches_the_bank, |e: Engine| async move {
    let connected = e.now();
    let id = e.connect("sandbox-bank").await;
    assert_eq!(e.view(id).await.colour, Colour::Green);
    let reports = e.run_until(connected + TimeDelta::days(10), TimeDelta::hours(1)).await;
    assert!(reports.iter().all(|r| ok(&r.outcome)), "{reports:?}");
    // 4 accesses a day, one kept for the user: three scheduled syncs a day at most.
    let runs = e.ctx.db.sync_runs(id, 1000).await.unwrap();
    let mut per_day: HashMap<NaiveDate, usize> = HashMap::new();
    for run in &runs {
        *per_day.entry(run.started_at.date_naive()).or_default() += 1;
    }
    assert!(per_day.values().all(|n| *n <= 4), "{per_day:?}");
    assert!(runs.len() >= 25, "about three syncs a day for ten days, got {}", runs.len());
    assert_eq!(e.compare_with_truth(id, "sandbox-bank", history_start(connected)).await, (0, 0));
    let view = e.view(id).await;
    assert_eq!((view.status, view.colour), (Status::Ok, Colour::Green));
    assert_eq!(e.ctx.db.notifications(e.actor.user.id, false).await.unwrap().len(), 0, "nothing to tell");
});

engine_test!(pending_transactions_are_replaced_by_their_booked_versions, |e: Engine| async move {
    let id = e.connect("sandbox-bank").await;
    e.run_until(e.now() + TimeDelta::days(6), TimeDelta::hours(2)).await;
    let accounts = e.ctx.db.accounts(e.actor.user.id).await.unwrap();
    let cash = accounts.iter().find(|a| a.name == "Everyday account").unwrap();
    let stored = e.ctx.db.transactions(cash.id).await.unwrap();
    let pending: Vec<_> = stored.iter().filter(|t| t.status == TransactionStatus::Pending).collect();
    // Only purchases of the last two days can still be pending.
    let today = e.now().date_naive();
    assert!(pending.iter().all(|t| t.booking_date >= today - TimeDelta::days(2)), "{pending:?}");
    assert_eq!(e.compare_with_truth(id, "sandbox-bank", history_start(start())).await, (0, 0));
});

engine_test!(a_flaky_network_is_retried_quietly_and_nothing_is_lost, |e: Engine| async move {
    let connected = e.now();
    let id = e.connect("sandbox-flaky").await;
    let reports = e.run_until(connected + TimeDelta::days(6), TimeDelta::minutes(20)).await;
    let failures: Vec<_> = reports.iter().filter(|r| matches!(r.outcome, SyncOutcome::Failed(_))).collect();
    assert!(!failures.is_empty(), "the flaky bank fails sometimes ({} syncs)", reports.len());
    assert!(failures.iter().all(|r| matches!(r.outcome, SyncOutcome::Failed(FailureKind::Temporary(_)))));
    assert!(reports.iter().filter(|r| ok(&r.outcome)).count() > failures.len());
    assert_eq!(e.ctx.db.notifications(e.actor.user.id, false).await.unwrap().len(), 0, "short glitches are not news");
    // No transaction ids at this bank: fingerprints keep identical purchases apart and overlapping
    // windows from duplicating them.
    assert_eq!(e.compare_with_truth(id, "sandbox-flaky", history_start(connected)).await, (0, 0));
});

engine_test!(an_expired_consent_is_red_announced_once_and_a_reconnect_backfills, |e: Engine| async move {
    let connected = e.now();
    let id = e.connect("sandbox-short-consent").await;
    assert_eq!(
        e.notifications(NotificationKind::ConsentExpiring).await,
        0,
        "7 days is all it grants: no alarm at once"
    );
    e.run_until(connected + TimeDelta::days(6) + TimeDelta::hours(12), TimeDelta::hours(1)).await;
    assert_eq!(e.notifications(NotificationKind::ConsentExpiring).await, 1, "warned a day before");
    e.run_until(connected + TimeDelta::days(9), TimeDelta::hours(1)).await;
    let view = e.view(id).await;
    assert_eq!((view.status, view.colour), (Status::PermanentError, Colour::Red));
    assert_eq!(view.episode.as_ref().unwrap().failure.kind, FailureKind::Expired);
    assert!(view.message.contains("Reconnect"), "{}", view.message);
    assert_eq!(view.next_sync_at, None, "no automatic retries");
    assert_eq!(e.notifications(NotificationKind::ReconnectNeeded).await, 1);
    // It says which accounts wait and which command reconnects.
    let notes = e.ctx.db.notifications(e.actor.user.id, false).await.unwrap();
    let reconnect = notes.iter().find(|n| n.kind == NotificationKind::ReconnectNeeded).unwrap().text();
    assert!(reconnect.contains("Not updated until then: Current account"), "{reconnect}");
    assert!(reconnect.contains(&format!("saldo reconnect {id}")), "{reconnect}");
    let runs_before = e.ctx.db.sync_runs(id, 1000).await.unwrap().len();
    e.run_until(connected + TimeDelta::days(11), TimeDelta::hours(1)).await;
    assert_eq!(e.ctx.db.sync_runs(id, 1000).await.unwrap().len(), runs_before, "red connections are left alone");
    assert_eq!(e.notifications(NotificationKind::ReconnectNeeded).await, 1, "never repeated");

    let accounts_before = e.ctx.db.accounts(e.actor.user.id).await.unwrap();
    let summary = e.reconnect(id).await;
    assert_eq!(summary.relinked, 1);
    assert_eq!(e.ctx.db.accounts(e.actor.user.id).await.unwrap(), accounts_before, "the same saldo accounts carry on");
    assert_eq!(e.view(id).await.colour, Colour::Green);
    // Everything booked while the connection was red was fetched by the reconnect's sync.
    assert_eq!(e.compare_with_truth(id, "sandbox-short-consent", history_start(connected)).await, (0, 0));
});

engine_test!(a_bank_asking_for_authentication_and_a_blocking_bank_need_the_user, |e: Engine| async move {
    let blocked = e.connect("sandbox-blocking").await;
    assert_eq!(e.view(blocked).await.colour, Colour::Green, "the user got in while present");
    e.run_until(e.now() + TimeDelta::hours(12), TimeDelta::hours(1)).await;
    let view = e.view(blocked).await;
    assert_eq!((view.colour, view.episode.as_ref().unwrap().failure.kind), (Colour::Red, FailureKind::Unsupported));
    assert!(view.message.contains("blocks automated access"), "{}", view.message);

    let sca = e.connect("sandbox-sca").await;
    e.run_until(e.now() + TimeDelta::days(12), TimeDelta::hours(2)).await;
    let view = e.view(sca).await;
    assert_eq!(view.episode.as_ref().unwrap().failure.kind, FailureKind::ActionRequired);
    assert_eq!(e.notifications(NotificationKind::ReconnectNeeded).await, 2, "one per connection");
    let primary = e.ctx.db.notifications(e.actor.user.id, false).await.unwrap();
    assert!(primary
        .iter()
        .filter(|n| n.kind == NotificationKind::ReconnectNeeded)
        .all(|n| n.level == saldo_core::notification::Level::Primary));
    e.reconnect(sca).await;
    assert_eq!(e.view(sca).await.colour, Colour::Green);
});

engine_test!(an_interface_change_is_escalated_after_a_day_and_its_end_announced, |e: Engine| async move {
    let id = e.connect("sandbox-changing-api").await;
    let end = e.now() + TimeDelta::days(25);
    let mut escalated_views = 0;
    while e.now() < end {
        e.run_until(e.now() + TimeDelta::hours(6), TimeDelta::hours(1)).await;
        // Failing for more than a day, the status says since when; it no longer promises a report.
        let view = e.view(id).await;
        if view.episode.as_ref().is_some_and(|episode| episode.escalated) {
            escalated_views += 1;
            assert!(view.message.starts_with("Since "), "{}", view.message);
            assert!(!view.message.contains("if this lasts a day"), "{}", view.message);
        }
    }
    assert!(escalated_views > 0, "an escalated status was seen");
    // Each unreadable period lasts four days: escalated once, its end announced once (the last
    // period may still be under way).
    let persisted = e.notifications(NotificationKind::ErrorPersisted).await;
    let recovered = e.notifications(NotificationKind::SyncRecovered).await;
    assert!(persisted >= 1 && recovered >= 1, "{persisted} escalated, {recovered} recovered");
    assert!(persisted == recovered || persisted == recovered + 1, "{persisted} escalated, {recovered} recovered");
    // The escalation says what is wrong in words, and the status stops promising a report.
    let notes = e.ctx.db.notifications(e.actor.user.id, false).await.unwrap();
    let escalated = notes.iter().find(|n| n.kind == NotificationKind::ErrorPersisted).unwrap().text();
    assert!(escalated.contains("sends answers saldo does not understand"), "{escalated}");
    assert!(!escalated.contains("unknown"), "{escalated}");
    let runs = e.ctx.db.sync_runs(id, 1000).await.unwrap();
    assert!(runs
        .iter()
        .any(|r| r.failure.as_ref().is_some_and(|f| f.kind == FailureKind::Temporary(TemporaryCause::Unknown))));
});

engine_test!(a_partial_failure_is_orange_and_the_working_account_stays_current, |e: Engine| async move {
    let id = e.connect("sandbox-partial").await;
    let view = e.view(id).await;
    assert_eq!((view.status, view.colour), (Status::Ok, Colour::Orange));
    assert!(view.message.contains("some accounts"), "{}", view.message);
    let accounts = e.ctx.db.accounts(e.actor.user.id).await.unwrap();
    let current = accounts.iter().find(|a| a.name == "Current account").unwrap();
    assert!(!e.ctx.db.transactions(current.id).await.unwrap().is_empty());
});

engine_test!(vanished_accounts_are_closed_with_their_history_and_reopened, |e: Engine| async move {
    let id = e.connect("sandbox-changing-accounts").await;
    let mut closed_seen = false;
    let mut reopened = false;
    let mut vanishings = 0;
    let mut was_vanished = false;
    for _ in 0..30 {
        e.run_until(e.now() + TimeDelta::days(1), TimeDelta::hours(8)).await;
        let items = e.ctx.db.items(id).await.unwrap();
        let pot = items.iter().find(|i| i.name == "Holiday pot");
        let Some(pot) = pot else { continue };
        if pot.decision != ItemDecision::Tracked {
            connections::track(&e.ctx, &e.actor, id, &Selection::All).await.unwrap();
            continue;
        }
        let account = e.ctx.db.account(pot.account_id.unwrap()).await.unwrap().unwrap();
        if pot.vanished_at.is_some() {
            assert!(account.closed);
            if !was_vanished {
                vanishings += 1;
            }
            was_vanished = true;
            closed_seen = true;
        } else {
            was_vanished = false;
            if closed_seen {
                assert!(!account.closed);
                reopened = true;
            }
        }
    }
    assert!(closed_seen && reopened, "the pot vanished and came back");
    assert!(e.notifications(NotificationKind::NewItemsFound).await <= 1, "an item is news once");
    // Each time the pot vanished, the user was told once, not at every sync it stayed away.
    let told = e.notifications(NotificationKind::ItemsVanished).await;
    assert!(told >= 1 && told <= vanishings, "told {told} times of {vanishings} vanishings");
    let notes = e.ctx.db.notifications(e.actor.user.id, false).await.unwrap();
    let note = notes.iter().find(|n| n.kind == NotificationKind::ItemsVanished).unwrap();
    assert!(note.text().contains("Holiday pot") && note.text().contains("reconnect"), "{}", note.text());
});

engine_test!(reconnecting_relinks_accounts_under_new_provider_ids, |e: Engine| async move {
    let id = e.connect("sandbox-bank").await;
    e.run_until(e.now() + TimeDelta::days(2), TimeDelta::hours(4)).await;
    let before_items = e.ctx.db.items(id).await.unwrap();
    let before_accounts = e.ctx.db.accounts(e.actor.user.id).await.unwrap();
    let summary = e.reconnect(id).await;
    assert_eq!((summary.relinked, summary.new_items.len(), summary.vanished.len()), (3, 0, 0));
    let after_items = e.ctx.db.items(id).await.unwrap();
    for (before, after) in before_items.iter().zip(&after_items) {
        assert_eq!(before.account_id, after.account_id);
        assert_ne!(before.provider_item_id, after.provider_item_id, "the sandbox mints new ids per consent");
    }
    assert_eq!(e.ctx.db.accounts(e.actor.user.id).await.unwrap(), before_accounts);
    let aliases = e.ctx.db.aliases(before_accounts[0].id).await.unwrap();
    assert_eq!(aliases.len(), 2, "both provider ids are kept as aliases");
    e.run_until(e.now() + TimeDelta::days(2), TimeDelta::hours(4)).await;
    assert_eq!(e.compare_with_truth(id, "sandbox-bank", history_start(start())).await, (0, 0));
});

engine_test!(an_outage_is_detected_across_connections_and_announced_once, |e: Engine| async move {
    let ids = [
        e.connect("sandbox-maintenance").await,
        e.connect("sandbox-maintenance").await,
        e.connect("sandbox-maintenance").await,
        e.connect("sandbox-maintenance").await,
    ];
    // The nightly maintenance (01:00 to 03:00 UTC) hits every connection: saldo sees an outage,
    // backs off for all of them together and says so, but a two-hour blip is nobody's news.
    let night = (e.now() + TimeDelta::days(1)).date_naive().and_hms_opt(2, 30, 0).unwrap().and_utc();
    e.run_until(night, TimeDelta::minutes(15)).await;
    let views: Vec<_> = futures_views(&e, &ids).await;
    assert!(
        views.iter().any(|v| v.outage && v.message.contains("outage")),
        "{:?}",
        views.iter().map(|v| &v.message).collect::<Vec<_>>()
    );
    e.run_until(night + TimeDelta::hours(6), TimeDelta::minutes(15)).await;
    assert_eq!(e.notifications(NotificationKind::OutageBegan).await, 0, "short outages are handled quietly");
    // Every tenth day the bank is down for twelve hours: that is announced once, as is its end.
    e.run_until(e.now() + TimeDelta::days(11), TimeDelta::minutes(15)).await;
    let began = e.notifications(NotificationKind::OutageBegan).await;
    let ended = e.notifications(NotificationKind::OutageEnded).await;
    assert!(began >= 1, "the long maintenance was announced");
    assert_eq!(began, ended, "and its end");
    assert_eq!(e.notifications(NotificationKind::ErrorPersisted).await, 0, "no per-connection alarms on top");
    for id in ids {
        assert_eq!(e.compare_with_truth(id, "sandbox-maintenance", history_start(start())).await, (0, 0));
    }
});

async fn futures_views(e: &Engine, ids: &[ConnectionId]) -> Vec<connections::ConnectionView> {
    let mut views = Vec::new();
    for id in ids {
        views.push(e.view(*id).await);
    }
    views
}

engine_test!(a_forced_sync_counts_against_the_daily_budget, |e: Engine| async move {
    // Authorising (its discovery) and the first sync are accesses 1 and 2 of 4.
    let id = e.connect("sandbox-quota").await;
    for _ in 0..2 {
        let report = sync::sync_now(&e.ctx, &e.actor, id, "user").await.unwrap();
        assert!(ok(&report.outcome), "{report:?}");
    }
    let refused = sync::sync_now(&e.ctx, &e.actor, id, "user").await.unwrap();
    assert!(
        matches!(refused.outcome, SyncOutcome::Refused { ref reason, .. } if reason.contains("today's accesses")),
        "{refused:?}"
    );
    assert_eq!(e.view(id).await.colour, Colour::Green, "saldo never provoked the bank's 429");
});

engine_test!(a_hanging_institution_never_delays_the_others, |e: Engine| async move {
    let fast: Vec<ConnectionId> =
        vec![e.connect("sandbox-bank").await, e.connect("sandbox-bank").await, e.connect("sandbox-bank").await];
    let slow: Vec<ConnectionId> =
        vec![e.connect("sandbox-broker").await, e.connect("sandbox-broker").await, e.connect("sandbox-broker").await];
    let runs = |id: ConnectionId| {
        let db = e.ctx.db.clone();
        async move { db.sync_runs(id, 100).await.unwrap().len() }
    };
    let mut before = HashMap::new();
    for id in fast.iter().chain(&slow) {
        before.insert(*id, runs(*id).await);
    }
    // The broker now hangs: its calls wait at a gate with no permits.
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let mut ctx = e.ctx.clone();
    ctx.connectors = saldo_app::sync::Connectors::default();
    ctx.connectors.add(std::sync::Arc::new(Sandbox::new(SEED).with_gate("sandbox-broker", gate.clone())));
    // The broker's connections are due first; it may take two of the three slots, never the third.
    ctx.engine.concurrency = 3;
    ctx.engine.per_institution = 2;
    // Half a day later every connection is due (the bank allows four accesses a day).
    e.clock.advance(TimeDelta::hours(12));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(async move {
        saldo_app::worker::work(&ctx, "worker-1", async {
            let _ = stopped.await;
        })
        .await
    });
    let synced_again = |ids: Vec<ConnectionId>| {
        let before = before.clone();
        let runs = &runs;
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            loop {
                let mut done = true;
                for id in &ids {
                    done &= runs(*id).await > before[id];
                }
                if done {
                    return;
                }
                assert!(std::time::Instant::now() < deadline, "connections {ids:?} were not synced");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    };
    // Every connection of the healthy bank syncs while the broker's syncs hang...
    synced_again(fast.clone()).await;
    for id in &slow {
        assert_eq!(runs(*id).await, before[id], "a hanging sync recorded nothing");
    }
    // ...and the broker's finish once it answers again.
    gate.add_permits(tokio::sync::Semaphore::MAX_PERMITS / 2);
    synced_again(slow.clone()).await;
    let _ = stop.send(());
    worker.await.unwrap();
});

engine_test!(an_item_two_accounts_carry_waits_for_the_user_to_say_which, |e: Engine| async move {
    use saldo_core::account::{Account, AccountAlias, AccountKind, Origin};
    let pending = connections::begin_connect(&e.ctx, &e.actor, "sandbox-bank").await.unwrap();
    let answer = approve(&pending.request.state);
    let (id, items) = connections::complete_connect(&e.ctx, &e.actor, &pending, &answer).await.unwrap();
    let cash = items.iter().find(|i| i.kind == AccountKind::Cash).unwrap().clone();
    // Two accounts of the user carry its IBAN: an import, and one an older saldo kept apart.
    let mut carrying = Vec::new();
    for name in ["Imported statement", "Current account (old)"] {
        let account = Account {
            id: saldo_core::ids::AccountId(e.ctx.new_id()),
            user_id: e.actor.user.id,
            name: name.into(),
            kind: AccountKind::Cash,
            currency: cash.currency,
            tracked: true,
            origin: Origin::Import,
            closed: false,
            created_at: e.now(),
        };
        let alias = AccountAlias {
            provider_account_id: None,
            iban: cash.iban.clone(),
            masked_number: None,
            currency: cash.currency,
            name: None,
        };
        e.ctx.db.insert_account(&account, &[alias], &[]).await.unwrap();
        carrying.push(account);
    }
    // Named, it is refused with both accounts named; with everything, it stays on offer.
    let named = Selection::Items(vec![cash.id.to_string()]);
    let err = connections::track(&e.ctx, &e.actor, id, &named).await.unwrap_err().to_string();
    assert!(err.contains("Imported statement") && err.contains("Current account (old)"), "{err}");
    let tracked = connections::track(&e.ctx, &e.actor, id, &Selection::All).await.unwrap();
    assert!(!tracked.is_empty() && tracked.iter().all(|i| i.id != cash.id), "left on offer: {tracked:?}");
    // The user says which: that account is fed, and no third one is made.
    let chosen = connections::track_as(&e.ctx, &e.actor, id, &cash.id.to_string(), carrying[1].id).await.unwrap();
    assert_eq!(chosen.account_id, Some(carrying[1].id));
    let accounts = e.ctx.db.accounts(e.actor.user.id).await.unwrap();
    assert_eq!(accounts.len(), 2 + tracked.len());
});
