//! `saldo simulate`: the real engine and storage against the sandbox bank on a virtual clock, with
//! simulated users, checked row by row against the sandbox's ground truth.
//!
//! Users connect at the start (retrying every half hour of virtual time while their bank is down)
//! and track everything. When a connection turns red they reconnect
//! after a random delay of hours to a few days (a user whose bank blocks automated access gives up
//! after one try and disconnects, keeping the history). At the end every tracked account is
//! compared with what the sandbox booked up to that connection's last successful sync: missing rows
//! are `lost`, extra ones `duplicated`; what the bank booked later is `awaiting_sync`, not lost.
//!
//! Some users (`importers`) first import their accounts' statements (CAMT files in the bank's export
//! words, under the file's own references) and only then track them at the bank: their accounts
//! must come out once each (`doubled_accounts`), and each booking once, matched by day and amount.

use crate::connections::{self, Selection};
use crate::ops::{Actor, App, OpsError};
use crate::sync::{self, Jitter, SyncOutcome};
use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use rand::{Rng, SeedableRng};
use saldo_connectors::sandbox::Sandbox;
use saldo_connectors::{AuthAnswer, FetchedTransaction};
use saldo_core::ids::ConnectionId;
use saldo_core::ids::UserId;
use saldo_core::item::ItemDecision;
use saldo_core::notification::NotificationKind;
use saldo_core::transaction::{Transaction, TransactionStatus};
use saldo_core::user::User;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone)]
pub struct SimulateOptions {
    pub connections: u32,
    pub days: u32,
    pub seed: u64,
    /// Connections per simulated user.
    pub connections_per_user: u32,
    /// How often the scheduler runs, in virtual time.
    pub tick: TimeDelta,
    /// Syncs run at once. With 1 (the default) a seed repeats exactly; more use a database that
    /// takes concurrent writers (PostgreSQL) better, but syncs of one institution then finish in
    /// varying order and outage assessments can differ between runs.
    pub concurrency: usize,
    /// Percent of users who import their accounts' statements before tracking them.
    pub importers: u32,
}

/// The default mix of sandbox behaviours, in percent.
const MIX: [(&str, u32); 12] = [
    ("sandbox-bank", 30),
    ("sandbox-maintenance", 10),
    ("sandbox-flaky", 10),
    ("sandbox-quota", 8),
    ("sandbox-short-consent", 5),
    ("sandbox-sca", 5),
    ("sandbox-changing-api", 5),
    ("sandbox-blocking", 2),
    ("sandbox-partial", 7),
    ("sandbox-changing-accounts", 6),
    ("sandbox-broker", 6),
    ("sandbox-lender", 6),
];

#[derive(Debug, Default, Serialize)]
pub struct SyncCounts {
    pub attempted: u64,
    pub succeeded: u64,
    pub partial: u64,
    pub refused: u64,
    /// One count per failure kind, by its snake_case name.
    pub errors: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Default, Serialize)]
pub struct TransactionCounts {
    /// Booked on tracked accounts up to each connection's last successful sync.
    pub generated: u64,
    pub stored: u64,
    pub lost: u64,
    pub duplicated: u64,
    /// Booked after a connection's last successful sync (it is red, or its next sync is due).
    pub awaiting_sync: u64,
    /// Imported from statement files before their accounts were tracked at the bank.
    pub imported: u64,
    /// Lost and duplicated rows by sandbox institution, to find the behaviour at fault.
    pub faults_by_institution: BTreeMap<&'static str, (u64, u64)>,
}

#[derive(Debug, Default, Serialize)]
pub struct SimulationReport {
    pub connections: u32,
    pub users: u32,
    pub days: u32,
    pub seed: u64,
    pub backend: &'static str,
    /// Connections made, by sandbox institution.
    pub connected: BTreeMap<&'static str, u64>,
    /// Users who could not connect before the run ended (their bank stayed down) or gave up.
    pub never_connected: u64,
    pub syncs: SyncCounts,
    /// Connections that went from failing back to working.
    pub recoveries: u64,
    pub reconnects: u64,
    pub disconnects: u64,
    /// Connections of users who imported statements before tracking.
    pub imported_first: u64,
    /// Accounts the user holds more than once for one IBAN (should be 0).
    pub doubled_accounts: u64,
    pub transactions: TransactionCounts,
    /// One count per kind, plus `repeated`: announcements of an episode already announced.
    pub notifications: BTreeMap<&'static str, u64>,
    /// Rows the syncs wrote: run records, connection states, new transactions, balance points and
    /// holdings.
    pub rows_written: u64,
    /// The whole run, with setup and the final comparison.
    pub wall_seconds: f64,
    /// The simulated days only (connecting, syncing, reconnecting), which the rates are over.
    pub sync_seconds: f64,
    pub syncs_per_second: f64,
    pub rows_per_second: f64,
    /// New transactions stored per second.
    pub transactions_per_second: f64,
}

fn approve(state: &str) -> AuthAnswer {
    AuthAnswer::Callback { params: vec![("state".into(), state.into()), ("code".into(), "approved".into())] }
}

struct SimConnection {
    id: ConnectionId,
    connected_at: DateTime<Utc>,
    user: User,
    institution: &'static str,
    failing: bool,
    red_episodes: u64,
    temporary_episodes: u64,
    reconnect_at: Option<DateTime<Utc>>,
    reconnects: u32,
    disconnected: bool,
    /// The user imported the accounts' statements before tracking them.
    imported: bool,
}

fn pick_institution(rng: &mut rand::rngs::StdRng) -> &'static str {
    let roll = rng.random_range(0..MIX.iter().map(|(_, w)| w).sum::<u32>());
    let mut acc = 0;
    for (institution, weight) in MIX {
        acc += weight;
        if roll < acc {
            return institution;
        }
    }
    MIX[0].0
}

/// When every simulation starts, on its manual clock.
pub fn simulation_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 6, 0, 0).single().unwrap_or_default()
}

/// Runs a simulation with `ctx`, which must offer the sandbox bank seeded with `options.seed`, run
/// on a manual clock at [`simulation_start`] and have an empty database.
pub async fn simulate(ctx: App, options: &SimulateOptions) -> Result<SimulationReport, OpsError> {
    let wall = std::time::Instant::now();
    let clock = ctx.clock.clone();
    let start = clock.now();
    let mut ctx = ctx;
    ctx.jitter = Jitter::seeded(options.seed);
    ctx.engine.concurrency = options.concurrency.max(1);
    ctx.id_seed = Some(std::sync::Arc::new(std::sync::Mutex::new(rand::rngs::StdRng::seed_from_u64(options.seed))));
    let sandbox = Sandbox::new(options.seed);
    let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed);
    let mut report = SimulationReport {
        connections: options.connections,
        days: options.days,
        seed: options.seed,
        backend: ctx.db.backend().as_str(),
        ..SimulationReport::default()
    };

    // Users connect at the start; one whose bank is down then tries again later.
    let per_user = options.connections_per_user.max(1);
    let mut sims: Vec<SimConnection> = Vec::new();
    let mut waiting: Vec<(User, &'static str, DateTime<Utc>, u32)> = Vec::new();
    let mut user: Option<User> = None;
    let mut importers: std::collections::HashSet<UserId> = std::collections::HashSet::new();
    for index in 0..options.connections {
        if index % per_user == 0 {
            let name = format!("sim-user-{}", index / per_user);
            let candidate = User::named(UserId(ctx.new_id()), &name, saldo_core::money::Currency::EUR, clock.now());
            user = Some(ctx.db.ensure_user(&candidate).await?);
            report.users += 1;
            if rng.random_range(0..100) < options.importers {
                importers.insert(candidate.id);
            }
        }
        let Some(user) = user.clone() else { continue };
        let institution = pick_institution(&mut rng);
        let first = Household { sandbox: &sandbox, imports: importers.contains(&user.id) };
        if let Some(sim) = try_connect(&ctx, &user, institution, first, &mut report, &mut rng).await? {
            sims.push(sim);
        } else {
            // The bank is down right now: this user tries again half an hour later, while the others
            // carry on (the clock does not wait for them).
            waiting.push((user, institution, clock.now() + TimeDelta::minutes(30), 1));
        }
    }
    let mut index_of: HashMap<ConnectionId, usize> = sims.iter().enumerate().map(|(i, s)| (s.id, i)).collect();

    let end = start + TimeDelta::days(i64::from(options.days));
    while clock.now() < end {
        clock.advance(options.tick);
        let now = clock.now();
        loop {
            let reports = sync::run_due(&ctx, "simulator", now, 5000).await?;
            for sync in &reports {
                if let Some(&i) = index_of.get(&sync.connection_id) {
                    observe(&mut report, &mut sims[i], &sync.outcome, now, &mut rng);
                }
            }
            if reports.len() < 5000 {
                break;
            }
        }
        // Users whose bank was down when they first connected try again.
        let due: Vec<_> = waiting.iter().filter(|(_, _, at, _)| *at <= now).cloned().collect();
        waiting.retain(|(_, _, at, _)| *at > now);
        for (user, institution, _, attempts) in due {
            let first = Household { sandbox: &sandbox, imports: importers.contains(&user.id) };
            match try_connect(&ctx, &user, institution, first, &mut report, &mut rng).await? {
                Some(sim) => {
                    index_of.insert(sim.id, sims.len());
                    sims.push(sim);
                }
                // A few tries in the first hours, then twice a day for nine days, as a person would:
                // an interface change keeps a bank unreachable for days.
                None if attempts < 24 => {
                    let wait = if attempts < 6 { TimeDelta::minutes(30) } else { TimeDelta::hours(12) };
                    waiting.push((user, institution, now + wait, attempts + 1));
                }
                None => report.never_connected += 1,
            }
        }
        // Users answer their reconnect notifications.
        for sim in sims.iter_mut().filter(|s| !s.disconnected && s.reconnect_at.is_some_and(|at| at <= now)) {
            sim.reconnect_at = None;
            if sim.institution == "sandbox-blocking" && sim.reconnects >= 1 {
                connections::disconnect(
                    &ctx,
                    &Actor::local(sim.user.clone()),
                    sim.id,
                    saldo_store::KeptAccounts::Closed,
                )
                .await?;
                sim.disconnected = true;
                report.disconnects += 1;
                continue;
            }
            let actor = Actor::local(sim.user.clone());
            let pending = connections::begin_reconnect(&ctx, &actor, sim.id).await?;
            match connections::complete_reconnect(&ctx, &actor, &pending, &approve(&pending.request.state)).await {
                Ok(_) => {
                    sim.reconnects += 1;
                    report.reconnects += 1;
                    let sync = sync::sync_now(&ctx, &actor, sim.id, "simulator").await?;
                    sim.failing = false;
                    observe(&mut report, sim, &sync.outcome, now, &mut rng);
                }
                // The bank is down: the user tries again in a few hours.
                Err(_) => sim.reconnect_at = Some(now + TimeDelta::hours(3)),
            }
        }
    }

    report.never_connected += waiting.len() as u64;
    for sim in &sims {
        *report.connected.entry(sim.institution).or_default() += 1;
    }
    report.sync_seconds = wall.elapsed().as_secs_f64();
    check_against_truth(&ctx, &sandbox, &sims, &mut report).await?;
    count_notifications(&ctx, &sims, &mut report).await?;
    report.rows_written = ctx.db.rows_written_by_syncs().await?;
    report.wall_seconds = wall.elapsed().as_secs_f64();
    let per_second = |count: u64| count as f64 / report.sync_seconds.max(1e-9);
    report.syncs_per_second = per_second(report.syncs.attempted);
    report.rows_per_second = per_second(report.rows_written);
    report.transactions_per_second = per_second(report.transactions.stored);
    ctx.db.close().await;
    Ok(report)
}

/// What a user does before tracking a new connection's accounts.
#[derive(Clone, Copy)]
struct Household<'a> {
    sandbox: &'a Sandbox,
    /// Import the accounts' statements first.
    imports: bool,
}

/// Connects an institution for a user, tracks everything and runs the first sync; `None` when the
/// bank refused right now (maintenance, network).
async fn try_connect(
    ctx: &App,
    user: &User,
    institution: &'static str,
    household: Household<'_>,
    report: &mut SimulationReport,
    rng: &mut rand::rngs::StdRng,
) -> Result<Option<SimConnection>, OpsError> {
    let actor = Actor::local(user.clone());
    let pending = connections::begin_connect(ctx, &actor, institution).await?;
    let Ok((id, _)) = connections::complete_connect(ctx, &actor, &pending, &approve(&pending.request.state)).await
    else {
        return Ok(None);
    };
    if household.imports {
        report.imported_first += 1;
        report.transactions.imported += import_statements(ctx, &actor, household.sandbox, institution, id).await?;
    }
    connections::track(ctx, &actor, id, &Selection::All).await?;
    let first = sync::sync_now(ctx, &actor, id, "simulator").await?;
    let now = ctx.clock.now();
    let mut sim = SimConnection {
        id,
        connected_at: now,
        user: user.clone(),
        institution,
        failing: false,
        red_episodes: 0,
        temporary_episodes: 0,
        reconnect_at: None,
        reconnects: 0,
        disconnected: false,
        imported: household.imports,
    };
    observe(report, &mut sim, &first.outcome, now, rng);
    Ok(Some(sim))
}

/// Imports, for each account of a new connection that has an IBAN, the bank's statement of its
/// last 90 days up to yesterday, as a CAMT.053 in the export's own words and references; returns
/// the transactions imported.
async fn import_statements(
    ctx: &App,
    actor: &Actor,
    sandbox: &Sandbox,
    institution: &str,
    connection: ConnectionId,
) -> Result<u64, OpsError> {
    let user_key = connection.to_string();
    let yesterday = ctx.clock.today() - TimeDelta::days(1);
    let mut imported = 0;
    for (slot, iban, _) in sandbox.account_identities(institution, &user_key) {
        let Some(iban) = iban else { continue };
        let booked = sandbox.booked_between(institution, &user_key, slot, yesterday - TimeDelta::days(89), yesterday);
        let Some(first) = booked.first() else { continue };
        let file = camt_statement(&iban, first.amount.currency.code(), &booked);
        let request = crate::import::ImportRequest::default();
        let report = crate::import::import_bytes(ctx, actor, "statement.xml", file.into_bytes(), &request).await;
        if let Some(error) = &report.error {
            return Err(OpsError::Invalid(format!("the simulated statement of {iban} was refused: {error}")));
        }
        imported += report.statements.iter().map(|s| s.new).sum::<u64>();
    }
    Ok(imported)
}

/// A CAMT.053 of `booked`: the bank's bookings, but in an export's words and references.
fn camt_statement(iban: &str, currency: &str, booked: &[FetchedTransaction]) -> String {
    let mut entries = String::new();
    for (n, t) in booked.iter().enumerate() {
        let amount = t.amount.to_string();
        let (sign, amount) = match amount.strip_prefix('-') {
            Some(debit) => ("DBIT", debit.to_string()),
            None => ("CRDT", amount),
        };
        entries.push_str(&format!(
            "<Ntry><Amt Ccy=\"{currency}\">{amount}</Amt><CdtDbtInd>{sign}</CdtDbtInd><Sts>BOOK</Sts>\
             <BookgDt><Dt>{}</Dt></BookgDt><AcctSvcrRef>STMT-{n}</AcctSvcrRef><NtryDtls><TxDtls><RmtInf>\
             <Ustrd>EXPORT {n}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n",
            t.booking_date
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\">\
         <BkToCstmrStmt><GrpHdr><MsgId>SIM</MsgId><CreDtTm>2026-01-01T00:00:00</CreDtTm></GrpHdr><Stmt><Id>S</Id>\
         <Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>{currency}</Ccy></Acct>\n{entries}</Stmt></BkToCstmrStmt></Document>\n"
    )
}

/// Counts a sync outcome and plays the user's part.
fn observe(
    report: &mut SimulationReport,
    sim: &mut SimConnection,
    outcome: &SyncOutcome,
    now: DateTime<Utc>,
    rng: &mut rand::rngs::StdRng,
) {
    match outcome {
        SyncOutcome::Ok { partial, .. } => {
            report.syncs.attempted += 1;
            report.syncs.succeeded += 1;
            if *partial {
                report.syncs.partial += 1;
            }
            if sim.failing {
                report.recoveries += 1;
            }
            sim.failing = false;
        }
        SyncOutcome::Failed(kind) => {
            report.syncs.attempted += 1;
            *report.syncs.errors.entry(kind.as_str()).or_default() += 1;
            if !sim.failing {
                if kind.needs_user() {
                    sim.red_episodes += 1;
                } else {
                    sim.temporary_episodes += 1;
                }
            }
            sim.failing = true;
            if kind.needs_user() && sim.reconnect_at.is_none() {
                // A user reacts to the e-mail after a couple of hours to a few days.
                sim.reconnect_at = Some(now + TimeDelta::minutes(rng.random_range(120..=72 * 60)));
            }
        }
        SyncOutcome::Refused { .. } => report.syncs.refused += 1,
        SyncOutcome::LeaseLost => {}
    }
}

async fn check_against_truth(
    ctx: &App,
    sandbox: &Sandbox,
    sims: &[SimConnection],
    report: &mut SimulationReport,
) -> Result<(), OpsError> {
    let now = ctx.clock.now();
    for sim in sims.iter().filter(|s| !s.disconnected) {
        let Some(record) = ctx.db.connection_record(sim.id, now).await? else { continue };
        let Some(last_success) = record.state.last_success_at else { continue };
        let items = ctx.db.items(sim.id).await?;
        let user_key = sim.id.to_string();
        // The bank gives 90 days of history at connect time; nothing before that can be synced.
        let from: NaiveDate = sim.connected_at.date_naive() - TimeDelta::days(90);
        for (slot, iban, masked) in sandbox.account_identities(sim.institution, &user_key) {
            let Some(item) = items
                .iter()
                .find(|i| i.decision == ItemDecision::Tracked && i.iban == iban && i.masked_number == masked)
            else {
                continue;
            };
            let Some(account) = item.account_id else { continue };
            // What the bank booked up to this account's last successful fetch must be stored.
            let Some(synced_until) = item.synced_through.filter(|_| last_success <= now) else { continue };
            let truth = sandbox.booked_between(sim.institution, &user_key, slot, from, synced_until);
            let later = sandbox.booked_between(
                sim.institution,
                &user_key,
                slot,
                synced_until + TimeDelta::days(1),
                now.date_naive(),
            );
            report.transactions.awaiting_sync += later.len() as u64;
            let stored: Vec<_> = ctx
                .db
                .transactions(account)
                .await?
                .into_iter()
                .filter(|t| t.status == TransactionStatus::Booked)
                .collect();
            let within: Vec<Transaction> = stored.iter().filter(|t| t.booking_date <= synced_until).cloned().collect();
            // An imported statement words its rows its own way: those count by day and amount.
            let (lost, duplicated, differing) = if sim.imported {
                compare_by_day_and_amount(&truth, &within)
            } else {
                compare_with_truth(&truth, &within)
            };
            if sim.imported {
                if let Some(iban) = &iban {
                    let currency = ctx.db.account(account).await?.map(|a| a.currency);
                    if let Some(currency) = currency {
                        let holders =
                            ctx.db.accounts_with_identity(sim.user.id, Some(iban), None, None, currency).await?;
                        report.doubled_accounts += holders.len().saturating_sub(1) as u64;
                    }
                }
            }
            report.transactions.generated += truth.len() as u64;
            report.transactions.stored += stored.len() as u64;
            report.transactions.lost += lost;
            report.transactions.duplicated += duplicated;
            if lost + duplicated > 0 {
                let entry = report.transactions.faults_by_institution.entry(sim.institution).or_default();
                entry.0 += lost;
                entry.1 += duplicated;
                let missing: Vec<&String> = differing.iter().take(4).collect();
                tracing::debug!(institution = sim.institution, slot, lost, duplicated, synced_until = %synced_until, ?missing, "rows differ");
            }
        }
    }
    Ok(())
}

/// Compares what the bank booked with what is stored for one account: (lost, duplicated, the
/// rows that differ). Rows match by day, amount and description, as a multiset, so two identical
/// purchases must both be there; ids are left out, since a bank may reuse one for two bookings.
pub fn compare_with_truth(truth: &[FetchedTransaction], stored: &[Transaction]) -> (u64, u64, Vec<String>) {
    let key = |date: NaiveDate, minor: i64, description: &str| format!("{date}|{minor}|{description}");
    let mut counts: HashMap<String, i64> = HashMap::new();
    for t in truth {
        *counts.entry(key(t.booking_date, t.amount.minor, &t.description)).or_default() += 1;
    }
    for t in stored {
        *counts.entry(key(t.booking_date, t.amount.minor, &t.description)).or_default() -= 1;
    }
    let lost = counts.values().filter(|c| **c > 0).map(|c| *c as u64).sum();
    let duplicated = counts.values().filter(|c| **c < 0).map(|c| (-*c) as u64).sum();
    let mut differing: Vec<String> = counts.into_iter().filter(|(_, c)| *c != 0).map(|(k, _)| k).collect();
    differing.sort();
    (lost, duplicated, differing)
}

/// [`compare_with_truth`] by booking day and amount alone, for accounts whose rows came partly
/// from statement files.
fn compare_by_day_and_amount(truth: &[FetchedTransaction], stored: &[Transaction]) -> (u64, u64, Vec<String>) {
    let mut counts: HashMap<(NaiveDate, i64), i64> = HashMap::new();
    for t in truth {
        *counts.entry((t.booking_date, t.amount.minor)).or_default() += 1;
    }
    for t in stored {
        *counts.entry((t.booking_date, t.amount.minor)).or_default() -= 1;
    }
    let lost = counts.values().filter(|c| **c > 0).map(|c| *c as u64).sum();
    let duplicated = counts.values().filter(|c| **c < 0).map(|c| (-*c) as u64).sum();
    let mut differing: Vec<String> =
        counts.into_iter().filter(|(_, c)| *c != 0).map(|((day, minor), c)| format!("{day}|{minor}|{c}")).collect();
    differing.sort();
    (lost, duplicated, differing)
}

/// Counts notifications by kind, and `repeated`: more announcements for a connection than it had
/// episodes of that kind (red episodes for reconnects, failing stretches for escalations and
/// recoveries), as the simulator observed them.
async fn count_notifications(ctx: &App, sims: &[SimConnection], report: &mut SimulationReport) -> Result<(), OpsError> {
    for kind in NotificationKind::ALL {
        report.notifications.insert(kind.as_str(), 0);
    }
    let mut repeated = 0;
    let mut users: Vec<UserId> = sims.iter().map(|s| s.user.id).collect();
    users.dedup();
    let by_connection: HashMap<ConnectionId, &SimConnection> = sims.iter().map(|s| (s.id, s)).collect();
    for user in users {
        let notifications = ctx.db.notifications(user, false).await?;
        let mut per_connection: HashMap<(ConnectionId, NotificationKind), u64> = HashMap::new();
        for n in &notifications {
            *report.notifications.entry(n.kind.as_str()).or_default() += 1;
            if let Some(connection) = n.connection_id {
                *per_connection.entry((connection, n.kind)).or_default() += 1;
            }
        }
        for ((connection, kind), count) in per_connection {
            let Some(sim) = by_connection.get(&connection) else { continue };
            let episodes = match kind {
                NotificationKind::ReconnectNeeded => sim.red_episodes,
                NotificationKind::ErrorPersisted | NotificationKind::SyncRecovered => {
                    sim.temporary_episodes + sim.red_episodes
                }
                _ => count,
            };
            repeated += count.saturating_sub(episodes);
        }
    }
    report.notifications.insert("repeated", repeated);
    Ok(())
}
