//! The sync engine: claims due connections, runs each sync through its connector, classifies the
//! outcome with the core state machine and commits everything in one transaction.
//!
//! Flow of one sync: claim (lease) → `SyncState::start` → consent still valid? → discover items →
//! fetch each tracked item → build the ingest (fingerprints, pending set, balances, holdings) →
//! `succeed`/`fail` → notifications → `Db::commit_sync` (refused if the lease was lost) → outage
//! assessment for the institution. Every connection is independent: a slow or failing one holds
//! only its own task, bounded per institution and overall.

use crate::ops::{Actor, App, OpsError};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use saldo_connectors::{CallContext, Connector, Consent, DiscoveredItem, ItemData};
use saldo_core::failure::{Failure, FailureKind, TemporaryCause};
use saldo_core::ids::{AccountId, ConnectionId, InstitutionId};
use saldo_core::ingest::{stored_from, Window};
use saldo_core::institution::{ConsentRecord, Institution};
use saldo_core::item::{diff_items, Item, ItemDecision};
use saldo_core::notification::{consent_warning_due, key, About, Notification, Params};
use saldo_core::outage::InstitutionHealth;
use saldo_core::outage::{counts_toward_outage, OutageEvent};
use saldo_core::sync::SyncState;
use saldo_core::sync::{Refusal, SyncEvent, Trigger};
use saldo_core::transaction::Transaction;
use saldo_store::{AccountIngest, ConnectionRecord, StoreError, SyncCommit, SyncRun};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Semaphore;

pub use crate::engine::{Connectors, EngineSettings, Jitter};

/// What happened to one connection in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    Ok {
        new_transactions: u64,
        partial: bool,
    },
    Failed(FailureKind),
    /// The state machine did not let it start (already running, needs the user, budget used):
    /// why, and, when it is the budget, from when it may.
    Refused {
        reason: String,
        until: Option<DateTime<Utc>>,
    },
    /// Another worker took over; nothing was written.
    LeaseLost,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub connection_id: ConnectionId,
    pub institution: String,
    pub outcome: SyncOutcome,
    pub notifications: u64,
}

pub(crate) fn call_context(ctx: &App, now: DateTime<Utc>, trigger: Trigger) -> CallContext {
    let user_present = trigger == Trigger::User;
    // A web request brings the user's address; a command-line user is at this machine.
    let address = ctx.psu_ip_address.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    CallContext { now, user_present, psu_ip_address: user_present.then_some(address) }
}

/// Runs a connector call with the engine's timeout; a timeout is a temporary failure.
pub(crate) async fn with_timeout<T>(
    settings: &EngineSettings,
    call: impl std::future::Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(settings.call_timeout, call).await {
        // What a provider said is stored, logged and shown: never a credential it echoed.
        Ok(result) => result.map_err(|f| Failure { detail: crate::redact::credentials(&f.detail), ..f }),
        Err(_) => Err(Failure::new(
            FailureKind::Temporary(TemporaryCause::Timeout),
            "timeout",
            format!("no answer within {} s", settings.call_timeout.as_secs()),
        )),
    }
}

/// The consent as its connector uses it, its secret opened.
pub(crate) fn consent_of(
    ctx: &App,
    connection: ConnectionId,
    record: &ConsentRecord,
    institution: &Institution,
) -> Result<Consent, Failure> {
    let secret = match &record.secret {
        Some(sealed) => Some(
            ctx.keyring
                .open(sealed, connection.0.as_bytes())
                .map_err(|err| Failure::new(FailureKind::Config, "secret_unreadable", err.to_string()))?,
        ),
        None => None,
    };
    Ok(Consent {
        id: record.id.clone(),
        institution_id: institution.provider_institution_id.clone(),
        granted_at: record.granted_at,
        valid_until: record.valid_until,
        scope: record.scope.clone(),
        max_history_days: record.max_history_days,
        accesses_per_day: record.accesses_per_day,
        secret,
    })
}

/// How many claimed connections one database transaction commits together.
const BATCH: usize = 512;

/// Claims the connections due at `now` and syncs them, concurrently within the settings' bounds.
/// A pass reads what it needs in a few queries and commits its syncs in batches, each batch in one
/// database transaction, so that the database is not what limits how many syncs a second a worker
/// runs. Reports come back in the order the connections were claimed (most overdue first), whatever
/// order the syncs finished in, so that a seeded simulation repeats exactly.
pub async fn run_due(ctx: &App, worker: &str, now: DateTime<Utc>, limit: u32) -> Result<Vec<SyncReport>, OpsError> {
    let lease_until = now + ctx.engine.policy.lease;
    let claimed = ctx.db.claim_due(worker, now, lease_until, limit).await?;
    let mut reports = Vec::with_capacity(claimed.len());
    for batch in claimed.chunks(BATCH) {
        let ids: Vec<ConnectionId> = batch.iter().map(|(id, _)| *id).collect();
        for result in sync_batch(ctx, &ids, Trigger::Scheduled, worker, now).await? {
            match result {
                Ok(report) => reports.push(report),
                Err(err) => tracing::error!(error = %err, "sync failed to record"),
            }
        }
    }
    Ok(reports)
}

/// A sync the user asked for: at once, whether due or not (it counts as user-present).
pub async fn sync_now(
    ctx: &App,
    actor: &Actor,
    connection: ConnectionId,
    worker: &str,
) -> Result<SyncReport, OpsError> {
    let user = actor.user.id;
    let ctx = &ctx.acting_for(actor);
    let now = ctx.clock.now();
    let record = ctx
        .db
        .connection_record(connection, now)
        .await?
        .filter(|r| r.connection.user_id == user)
        .ok_or_else(|| OpsError::NotFound(format!("no connection with id {connection}")))?;
    if record.connection.consent.is_none() {
        return Err(OpsError::Invalid("this connection has no consent: reconnect it first".into()));
    }
    let items = ctx.db.items(connection).await?;
    if !items.iter().any(|i| i.decision == ItemDecision::Tracked && i.vanished_at.is_none()) {
        return Err(OpsError::Invalid(
            "nothing of this connection is tracked, so there is nothing to fetch: track an item first".into(),
        ));
    }
    if !ctx.db.claim_connection(connection, worker, now, now + ctx.engine.policy.lease).await? {
        return Err(OpsError::Invalid("this connection is syncing right now; try again in a minute".into()));
    }
    sync_claimed(ctx, connection, Trigger::User, worker, now).await
}

/// Runs one sync of a connection this worker has claimed, and records it.
pub async fn sync_claimed(
    ctx: &App,
    id: ConnectionId,
    trigger: Trigger,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<SyncReport, OpsError> {
    sync_batch(ctx, &[id], trigger, worker, now)
        .await?
        .pop()
        .unwrap_or_else(|| Err(OpsError::NotFound(format!("connection {id}"))))
}

/// A sync worked out but not written yet.
enum Prepared {
    /// The state machine did not let it start: the lease goes back with the state as it is.
    Refused {
        state: Box<SyncState>,
        report: SyncReport,
    },
    Ready(Box<ReadySync>),
}

struct ReadySync {
    commit: SyncCommit,
    report: SyncReport,
    institution: Institution,
    /// Health can only change when a sync fails in a way that counts toward an outage, or when any
    /// sync ends while the institution is degraded; otherwise the window query is skipped.
    may_change_health: bool,
}

/// Syncs claimed connections: reads their records, items, institutions and institution health in
/// a few queries, runs the provider calls (concurrently within the settings' bounds), then commits
/// them all in one transaction and re-assesses each institution involved once. One result per
/// connection that still exists, in the order given.
async fn sync_batch(
    ctx: &App,
    ids: &[ConnectionId],
    trigger: Trigger,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Result<SyncReport, OpsError>>, OpsError> {
    let mut records: HashMap<ConnectionId, ConnectionRecord> =
        ctx.db.connection_records_of(ids, now).await?.into_iter().map(|r| (r.connection.id, r)).collect();
    let mut items = ctx.db.items_of(ids).await?;
    let tracked: Vec<AccountId> =
        items.values().flatten().filter(|i| i.decision == ItemDecision::Tracked).filter_map(|i| i.account_id).collect();
    let oldest_pending = ctx.db.oldest_pending(&tracked).await?;
    // Each tracked account's fetch window, and what it will repeat, read for the whole batch in one go.
    let mut windows = Vec::new();
    for record in records.values() {
        let (Some(consent), Some(connector)) =
            (&record.connection.consent, ctx.connectors.get(&record.connection.connector))
        else {
            continue;
        };
        let lookback = connector.free_lookback_days();
        for item in
            items.get(&record.connection.id).into_iter().flatten().filter(|i| i.decision == ItemDecision::Tracked)
        {
            if let Some(account) = item.account_id {
                let pending = oldest_pending.get(&account).copied();
                windows
                    .push((account, fetch_since(item, now, &ctx.engine, lookback, pending, consent.max_history_days)));
            }
        }
    }
    let mut stored_windows = ctx.db.transactions_from(&windows).await?;
    let mut since_of: HashMap<AccountId, NaiveDate> = windows.into_iter().collect();
    let mut wanted: Vec<InstitutionId> = records.values().map(|r| r.connection.institution_id).collect();
    wanted.sort();
    wanted.dedup();
    let institutions: HashMap<InstitutionId, (Institution, InstitutionHealth)> =
        ctx.db.institutions_with_health(&wanted).await?.into_iter().map(|(i, h)| (i.id, (i, h))).collect();
    if let Some(missing) = wanted.iter().find(|id| !institutions.contains_key(id)) {
        return Err(OpsError::NotFound(format!("institution {missing}")));
    }
    let work: Vec<(ConnectionRecord, Held)> = ids
        .iter()
        .filter_map(|id| records.remove(id))
        .map(|record| {
            let stored = items.remove(&record.connection.id).unwrap_or_default();
            let accounts: Vec<AccountId> = stored.iter().filter_map(|i| i.account_id).collect();
            let held = Held {
                since: accounts.iter().filter_map(|a| since_of.remove(a).map(|day| (*a, day))).collect(),
                windows: accounts.iter().filter_map(|a| stored_windows.remove(a).map(|rows| (*a, rows))).collect(),
                items: stored,
            };
            (record, held)
        })
        .collect();
    let prepared: Vec<Result<Prepared, OpsError>> = if ctx.engine.concurrency <= 1 || work.len() <= 1 {
        let mut prepared = Vec::with_capacity(work.len());
        for (record, held) in work {
            let (institution, health) = &institutions[&record.connection.institution_id];
            prepared.push(prepare(ctx, record, institution, health, held, trigger, worker, now).await);
        }
        prepared
    } else {
        let overall = Arc::new(Semaphore::new(ctx.engine.concurrency));
        let mut per_institution: HashMap<InstitutionId, Arc<Semaphore>> = HashMap::new();
        let mut tasks = tokio::task::JoinSet::new();
        for (order, (record, held)) in work.into_iter().enumerate() {
            let (institution, health) = institutions[&record.connection.institution_id].clone();
            let institution_gate = per_institution
                .entry(institution.id)
                .or_insert_with(|| Arc::new(Semaphore::new(ctx.engine.per_institution.max(1))))
                .clone();
            let overall = overall.clone();
            let ctx = ctx.clone();
            let worker = worker.to_string();
            tasks.spawn(async move {
                let _institution = institution_gate.acquire_owned().await;
                let _slot = overall.acquire_owned().await;
                (order, prepare(&ctx, record, &institution, &health, held, trigger, &worker, now).await)
            });
        }
        let mut finished = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(done) => finished.push(done),
                Err(err) => tracing::error!(error = %err, "sync task panicked"),
            }
        }
        finished.sort_by_key(|(order, _)| *order);
        finished.into_iter().map(|(_, prepared)| prepared).collect()
    };
    finish(ctx, worker, prepared, now).await
}

/// Writes prepared syncs: refusals give their lease back, the rest commit in one transaction; then
/// each institution whose health may have changed is assessed once.
async fn finish(
    ctx: &App,
    worker: &str,
    prepared: Vec<Result<Prepared, OpsError>>,
    now: DateTime<Utc>,
) -> Result<Vec<Result<SyncReport, OpsError>>, OpsError> {
    let mut results = Vec::with_capacity(prepared.len());
    let mut ready = Vec::new();
    for prepared in prepared {
        match prepared {
            // The lease stays with this worker until it lapses, and the sync is retried then.
            Err(err) => results.push(Some(Err(err))),
            Ok(Prepared::Refused { state, report }) => {
                ctx.db.release_lease(report.connection_id, worker, &state).await?;
                results.push(Some(Ok(report)));
            }
            Ok(Prepared::Ready(sync)) => {
                results.push(None);
                ready.push(*sync);
            }
        }
    }
    let (commits, ready): (Vec<SyncCommit>, Vec<_>) =
        ready.into_iter().map(|sync| (sync.commit, (sync.report, sync.institution, sync.may_change_health))).unzip();
    let committed = ctx.db.commit_syncs(&commits).await?;
    let mut to_assess: Vec<Institution> = Vec::new();
    let mut written = Vec::with_capacity(ready.len());
    for ((mut report, institution, may_change_health), result) in ready.into_iter().zip(committed) {
        written.push(match result {
            Ok((new_transactions, _)) => {
                if let SyncOutcome::Ok { partial, .. } = report.outcome {
                    report.outcome = SyncOutcome::Ok { new_transactions, partial };
                }
                if may_change_health && !to_assess.iter().any(|i| i.id == institution.id) {
                    to_assess.push(institution);
                }
                tracing::info!(connection = %report.connection_id, institution = %report.institution,
                    outcome = ?report.outcome, "sync finished");
                Ok(report)
            }
            Err(StoreError::LeaseLost(_)) => {
                tracing::warn!(connection = %report.connection_id, worker, "lease lost; the sync was discarded");
                Ok(SyncReport { outcome: SyncOutcome::LeaseLost, notifications: 0, ..report })
            }
            Err(err) => Err(err.into()),
        });
    }
    for institution in &to_assess {
        let announced = assess_institution(ctx, institution, now).await?;
        // Counted on the last sync of the batch that touched the institution.
        if let Some(Ok(report)) = written.iter_mut().rev().find(
            |r| matches!(r, Ok(report) if report.institution == institution.name && report.outcome != SyncOutcome::LeaseLost),
        ) {
            report.notifications += announced;
        }
    }
    let mut written = written.into_iter();
    Ok(results
        .into_iter()
        .map(|slot| {
            slot.unwrap_or_else(|| {
                written.next().unwrap_or_else(|| Err(OpsError::Invalid("a sync went missing".into())))
            })
        })
        .collect())
}

/// What is stored for a connection that its sync needs before fetching.
struct Held {
    items: Vec<Item>,
    /// The first day each tracked account's fetch asks for ([`fetch_since`]).
    since: HashMap<AccountId, NaiveDate>,
    /// The stored transactions of each tracked account from that day on (accounts with none are
    /// absent).
    windows: HashMap<AccountId, Vec<Transaction>>,
}

/// Works out one sync of a claimed connection: the provider calls, the state machine and
/// everything to write. Writes nothing; reads what the fetch windows repeat.
#[allow(clippy::too_many_arguments)]
async fn prepare(
    ctx: &App,
    record: ConnectionRecord,
    institution: &Institution,
    health: &InstitutionHealth,
    held: Held,
    trigger: Trigger,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<Prepared, OpsError> {
    let stored_items = held.items;
    let settings = &ctx.engine;
    let connection = record.connection;
    let id = connection.id;
    let report = |outcome, notifications| SyncReport {
        connection_id: id,
        institution: institution.name.clone(),
        outcome,
        notifications,
    };
    let mut state = record.state;
    state.running = false;
    let connector = ctx.connectors.get(&connection.connector);
    if let Some(connector) = &connector {
        state.budget.counts_user_access = connector.counts_user_access();
    }
    let Some(consent_record) = connection.consent.clone() else {
        return Ok(Prepared::Refused {
            state: Box::new(state),
            report: report(SyncOutcome::Refused { reason: "no consent".into(), until: None }, 0),
        });
    };
    if let Err(refusal) = state.start(now, trigger, &settings.policy) {
        let (reason, until) = match refusal {
            Refusal::AlreadyRunning => ("already running".to_string(), None),
            Refusal::NeedsUser(kind) => (format!("needs the user ({kind})"), None),
            Refusal::BudgetUsed { until } => (format!("today's accesses are used; next from {until}"), Some(until)),
        };
        let outcome = SyncOutcome::Refused { reason, until };
        return Ok(Prepared::Refused { state: Box::new(state), report: report(outcome, 0) });
    }
    let call = call_context(ctx, now, trigger);
    let degraded = health.is_degraded();
    let fetched = match connector {
        None => Err(Failure::new(
            FailureKind::Config,
            "connector_disabled",
            format!("the {} connector is not configured on this server", connection.connector),
        )),
        Some(_) if now >= consent_record.valid_until => {
            Err(Failure::new(FailureKind::Expired, "consent_expired", "the consent's validity ended"))
        }
        Some(connector) => match consent_of(ctx, id, &consent_record, institution) {
            Ok(consent) => fetch_all(ctx, connector.as_ref(), &consent, &stored_items, &held.since, call).await,
            Err(failure) => Err(failure),
        },
    };

    let about = About { user: connection.user_id, connection: Some(id), institution: Some(institution.id), at: now };
    let mut notifications = Vec::new();
    let mut commit_items = Vec::new();
    let mut closed = Vec::new();
    let mut aliases = Vec::new();
    let mut ingest = Vec::new();
    let (outcome, run_failure, events) = match fetched {
        Ok(fetch) => {
            let diff = diff_items(id, &stored_items, &fetch.discovered, now, || ctx.new_id());
            if !diff.new_keys.is_empty() {
                let params =
                    Params::NewItemsFound { institution: institution.name.clone(), names: diff.new_names.clone() };
                notifications.push(Notification::new(ctx.new_id(), about, params, key::new_items(id, &diff.new_keys)));
            }
            if !diff.vanished_keys.is_empty() {
                let params =
                    Params::ItemsVanished { institution: institution.name.clone(), names: diff.vanished_names.clone() };
                let key = key::items_vanished(id, &diff.vanished_keys, now.date_naive());
                notifications.push(Notification::new(ctx.new_id(), about, params, key));
            }
            commit_items = diff.items;
            closed = diff.closed;
            aliases = diff.aliases;
            // A provider that answered with bookings before the window's first day: their days
            // are read too.
            let earlier: Vec<(AccountId, NaiveDate)> = fetch
                .data
                .iter()
                .filter_map(|f| match (f.item.account_id, &f.data) {
                    (Some(account), Ok(data)) => {
                        Some((account, stored_from(f.since, data))).filter(|(_, day)| *day < f.since)
                    }
                    _ => None,
                })
                .collect();
            let mut stored = held.windows;
            if !earlier.is_empty() {
                stored.extend(ctx.db.transactions_from(&earlier).await?);
            }
            for FetchedItem { item, since, data } in &fetch.data {
                if let (Some(account), Ok(data)) = (item.account_id, data) {
                    let stored = stored.remove(&account).unwrap_or_default();
                    ingest.push(build_ingest(ctx, account, data, Window { since: *since, stored: &stored }, now));
                    // Remember how far this item is synced, so its next fetch starts there.
                    let position = commit_items.iter().position(|i| i.identity_key == item.identity_key);
                    let mut synced = position.map_or_else(|| item.clone(), |p| commit_items.remove(p));
                    synced.synced_through = Some(now.date_naive());
                    commit_items.push(synced);
                }
            }
            let failures: Vec<&Failure> = fetch.data.iter().filter_map(|f| f.data.as_ref().err()).collect();
            let all_failed = !fetch.data.is_empty() && failures.len() == fetch.data.len();
            if all_failed {
                let failure = most_severe(&failures).clone();
                let events = fail(ctx, id, &mut state, institution, health, &failure, now);
                (SyncOutcome::Failed(failure.kind), Some(failure), events)
            } else {
                let partial = !failures.is_empty();
                let events = state.succeed(now, &settings.policy, partial, ctx.jitter.draw(id, now));
                (SyncOutcome::Ok { new_transactions: 0, partial }, failures.first().map(|f| (*f).clone()), events)
            }
        }
        Err(failure) => {
            let events = fail(ctx, id, &mut state, institution, health, &failure, now);
            (SyncOutcome::Failed(failure.kind), Some(failure), events)
        }
    };
    let tracked_names: Vec<String> = stored_items
        .iter()
        .filter(|i| i.decision == ItemDecision::Tracked && i.vanished_at.is_none())
        .map(|i| i.name.clone())
        .collect();
    for event in events {
        notifications.push(event_notification(ctx, about, id, &institution.name, &tracked_names, &event));
    }
    if let Some(days) = consent_warning_due(now, consent_record.granted_at, consent_record.valid_until) {
        let params = Params::ConsentExpiring {
            institution: institution.name.clone(),
            ends_on: consent_record.valid_until.date_naive(),
            within_a_day: days == 1,
        };
        let key = key::consent_expiring(id, &consent_record.id, days);
        notifications.push(Notification::new(ctx.new_id(), about, params, key));
    }
    let run_outcome = match &outcome {
        SyncOutcome::Ok { partial: true, .. } => "partial",
        SyncOutcome::Ok { .. } => "ok",
        _ => "failed",
    };
    let balance_points = ingest.iter().filter(|i| i.balance.is_some()).count() as u64;
    let holdings = ingest.iter().map(|i| i.holdings.len() as u64).sum();
    let notified = notifications.len() as u64;
    let commit = SyncCommit {
        connection_id: id,
        worker: worker.to_string(),
        state,
        run: SyncRun {
            id: ctx.new_id(),
            connection_id: id,
            institution_id: institution.id,
            trigger: match trigger {
                Trigger::Scheduled => "scheduled".into(),
                Trigger::User => "user".into(),
            },
            worker: worker.to_string(),
            started_at: now,
            finished_at: ctx.clock.now().max(now),
            outcome: run_outcome.into(),
            failure: run_failure,
            transactions_new: 0,
            pending_replaced: 0,
            pending_vanished: 0,
            reused_ids: 0,
            balance_points,
            holdings,
        },
        items: commit_items,
        closed,
        aliases,
        ingest,
        notifications,
    };
    let may_change_health = match &outcome {
        SyncOutcome::Failed(kind) => counts_toward_outage(*kind),
        _ => degraded,
    };
    Ok(Prepared::Ready(Box::new(ReadySync {
        report: report(outcome, notified),
        commit,
        institution: institution.clone(),
        may_change_health,
    })))
}

/// The failure that says most about the connection: one that needs the user first.
fn most_severe<'a>(failures: &[&'a Failure]) -> &'a Failure {
    failures.iter().copied().find(|f| f.kind.needs_user()).unwrap_or(failures[0])
}

/// Applies a failure to the state, backing off with the institution during an outage.
fn fail(
    ctx: &App,
    connection: ConnectionId,
    state: &mut saldo_core::sync::SyncState,
    institution: &Institution,
    health: &InstitutionHealth,
    failure: &Failure,
    now: DateTime<Utc>,
) -> Vec<SyncEvent> {
    let outage_until = (health.is_degraded() && counts_toward_outage(failure.kind))
        .then(|| health.next_probe_at.unwrap_or(now).max(now));
    if failure.kind == FailureKind::Config {
        tracing::error!(institution = %institution.name, code = %failure.code, detail = %failure.detail,
            "configuration error: the operator must fix this");
    }
    state.fail(now, failure, &ctx.engine.policy, ctx.jitter.draw(connection, now), outage_until)
}

/// Re-assesses the institution's health from its recent syncs and announces an outage's start or
/// end to every user with a connection there, once.
async fn assess_institution(ctx: &App, institution: &Institution, now: DateTime<Utc>) -> Result<u64, OpsError> {
    let before = ctx.db.institution_health(institution.id).await?;
    let stats = ctx.db.window_stats(institution.id, now - ctx.engine.outage.window).await?;
    let mut after = before.clone();
    let event = after.assess(stats, now, &ctx.engine.outage);
    if after == before {
        return Ok(0);
    }
    if !ctx.db.transition_institution_health(institution.id, before.degraded_since, &after).await? {
        return Ok(0);
    }
    let Some(event) = event else { return Ok(0) };
    let name = institution.name.clone();
    let (params, outage_key) = match event {
        OutageEvent::Began { at } => (Params::OutageBegan { institution: name }, key::outage_began(institution.id, at)),
        OutageEvent::Ended { since, .. } => {
            (Params::OutageEnded { institution: name }, key::outage_ended(institution.id, since))
        }
    };
    tracing::warn!(institution = %institution.name, ?event, "institution health changed");
    let users = ctx.db.users_of_institution(institution.id).await?;
    let notes: Vec<Notification> = users
        .into_iter()
        .map(|user| {
            let about = About { user, connection: None, institution: Some(institution.id), at: now };
            Notification::new(ctx.new_id(), about, params.clone(), outage_key.clone())
        })
        .collect();
    Ok(ctx.db.insert_notifications(&notes).await?)
}

fn event_notification(
    ctx: &App,
    about: About,
    connection: ConnectionId,
    institution: &str,
    accounts: &[String],
    event: &SyncEvent,
) -> Notification {
    let institution = institution.to_string();
    let (params, event_key) = match event {
        SyncEvent::ReconnectNeeded { kind } => {
            let params = Params::ReconnectNeeded { institution, failure: *kind, accounts: accounts.to_vec() };
            (params, key::reconnect_needed(connection, about.at))
        }
        SyncEvent::Escalated { kind, since } => (
            Params::ErrorPersisted { institution, since: *since, failure: *kind },
            key::error_persisted(connection, *since),
        ),
        SyncEvent::Recovered { since, .. } => {
            (Params::SyncRecovered { institution }, key::recovered(connection, *since))
        }
    };
    Notification::new(ctx.new_id(), about, params, event_key)
}

/// What one sync got from the provider.
struct Fetched {
    discovered: Vec<DiscoveredItem>,
    /// Each tracked item with its data or failure.
    data: Vec<FetchedItem>,
}

struct FetchedItem {
    item: Item,
    /// The first day the fetch asked for.
    since: NaiveDate,
    data: Result<ItemData, Failure>,
}

/// The first day a fetch of `item` asks for: a few days before its last successful fetch, so
/// whatever it missed (an error, a spell of having vanished, a reconnect) is fetched again; as far
/// back as the provider gives for free (`lookback_days`); and back to the oldest pending
/// transaction held, since only a window that covers it can tell whether it booked (under its
/// first day, perhaps weeks ago) or vanished. Never beyond the history the consent allows.
fn fetch_since(
    item: &Item,
    now: DateTime<Utc>,
    settings: &EngineSettings,
    lookback_days: u32,
    oldest_pending: Option<NaiveDate>,
    max_history_days: u32,
) -> NaiveDate {
    let today = now.date_naive();
    let earliest = today - TimeDelta::days(i64::from(max_history_days));
    let lookback = today - TimeDelta::days(i64::from(lookback_days));
    item.synced_through
        .map(|day| (day - TimeDelta::days(settings.overlap_days)).min(lookback))
        .into_iter()
        .chain(oldest_pending)
        .min()
        .unwrap_or(earliest)
        .max(earliest)
}

async fn fetch_all(
    ctx: &App,
    connector: &dyn Connector,
    consent: &Consent,
    stored_items: &[Item],
    since_of: &HashMap<AccountId, NaiveDate>,
    call: CallContext,
) -> Result<Fetched, Failure> {
    let settings = &ctx.engine;
    let discovered = with_timeout(settings, connector.discover(consent, call)).await?;
    let lookback = connector.free_lookback_days();
    let mut data = Vec::new();
    for item in stored_items.iter().filter(|i| i.decision == ItemDecision::Tracked && i.account_id.is_some()) {
        let key = item.identity_key.clone();
        // Found under its identity, or under the provider id it was known by before more of its
        // identifiers were read (the item diff re-keys it).
        let Some(current) = discovered
            .iter()
            .find(|d| d.identity() == key)
            .or_else(|| discovered.iter().find(|d| key == format!("id:{}", d.provider_item_id)))
        else {
            continue; // Vanished: its account is closed by the item diff.
        };
        // Worked out with the batch; an item it did not see fetches as if nothing were pending.
        let since = item
            .account_id
            .and_then(|account| since_of.get(&account).copied())
            .unwrap_or_else(|| fetch_since(item, call.now, settings, lookback, None, consent.max_history_days));
        let result = with_timeout(settings, connector.fetch(consent, &current.provider_item_id, since, call)).await;
        data.push(FetchedItem { item: item.clone(), since, data: result });
    }
    Ok(Fetched { discovered, data })
}

/// One item's fetched data as storage keeps it: core decides against what the window holds, the
/// store's form carries it.
fn build_ingest(
    ctx: &App,
    account: AccountId,
    data: &ItemData,
    window: Window<'_>,
    now: DateTime<Utc>,
) -> AccountIngest {
    let ingest = saldo_core::ingest::ingest(account, data, window, now, || ctx.new_id());
    AccountIngest {
        account_id: Some(account),
        balance: ingest.balance,
        holdings: ingest.holdings,
        booked: ingest.booked,
        pending: ingest.pending,
        pending_removed: ingest.pending_removed,
        pending_vanished: ingest.pending_vanished,
        superseded: ingest.superseded,
    }
}
