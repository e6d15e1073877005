//! How fast the engine's write path stores syncs: `Db::commit_syncs` with a batch of 256 syncs,
//! each bringing new transactions, a balance point, its run record and its connection's state, on
//! SQLite and (when `SALDO_TEST_POSTGRES_URL` reaches a server, default the local one) PostgreSQL.
//! Compare its rows/s with `../shared/bench/limits/run_limits.sh`, the raw insert rate of the same
//! machine. Also how fast a provider's institution list is stored (`refresh_catalog`).
//! Run: `cargo bench -p saldo-store --bench commit` (one group: add its name, e.g. `-- refresh_catalog`).

// A benchmark with a broken setup should stop at once, like a test.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use saldo_core::account::{Account, AccountKind, Origin};
use saldo_core::balance::{BalancePoint, BalanceSource};
use saldo_core::ids::{AccountId, ConnectionId, InstitutionId, TransactionId, UserId};
use saldo_core::institution::{Connection, ConsentRecord, Institution};
use saldo_core::money::{Currency, Money};
use saldo_core::sync::SyncState;
use saldo_core::transaction::{fingerprint, FingerprintContent, Source, Transaction, TransactionStatus};
use saldo_core::user::User;
use saldo_store::{AccountIngest, Db, DbUrl, SyncCommit, SyncRun};
use std::time::{Duration, Instant};
use uuid::Uuid;

const SYNCS: usize = 256;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 6, 0, 0).single().unwrap_or_default()
}

/// A user with `SYNCS` sandbox connections, one account each.
async fn household(db: &Db) -> (InstitutionId, Vec<(ConnectionId, AccountId)>) {
    let user = db.ensure_user(&User::named(UserId(Uuid::now_v7()), "bench", Currency::EUR, t0())).await.unwrap();
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
            accesses_per_day: None,
            description: String::new(),
            logo_url: None,
        })
        .await
        .unwrap();
    let mut pairs = Vec::new();
    for i in 0..SYNCS {
        let connection = Connection {
            id: ConnectionId(Uuid::now_v7()),
            user_id: user.id,
            institution_id: institution.id,
            connector: "sandbox".into(),
            consent: Some(ConsentRecord {
                id: format!("consent-{i}"),
                granted_at: t0(),
                valid_until: t0() + TimeDelta::days(180),
                scope: vec!["accounts".into()],
                max_history_days: 90,
                accesses_per_day: None,
                secret: None,
            }),
            created_at: t0(),
        };
        db.create_connection(&connection, &SyncState::new(t0(), None), &[]).await.unwrap();
        let account = Account {
            id: AccountId(Uuid::now_v7()),
            user_id: user.id,
            name: format!("Account {i}"),
            kind: AccountKind::Cash,
            currency: Currency::EUR,
            tracked: true,
            origin: Origin::Manual,
            closed: false,
            created_at: t0(),
        };
        db.insert_account(&account, &[], &[]).await.unwrap();
        pairs.push((connection.id, account.id));
    }
    (institution.id, pairs)
}

fn booked(account: AccountId, serial: u64, per_sync: u64, day: NaiveDate) -> Transaction {
    let amount = Money::new(-((serial % 9_000) as i64) - 100, Currency::EUR);
    let description = format!("Card purchase {serial}");
    Transaction {
        id: TransactionId(Uuid::now_v7()),
        account_id: account,
        status: TransactionStatus::Booked,
        booking_date: day,
        value_date: Some(day),
        amount,
        fingerprint: fingerprint(
            FingerprintContent { booking_date: day, amount, description: &description, counterparty: None },
            0,
        ),
        description,
        counterparty: None,
        provider_id: Some(format!("tx-{per_sync}-{serial}")),
        source: Source::Sync,
        pending_of: None,
    }
}

/// One batch: every connection brings `per_sync` new transactions and a balance point.
fn batch(
    institution: InstitutionId,
    pairs: &[(ConnectionId, AccountId)],
    per_sync: u64,
    round: u64,
) -> Vec<SyncCommit> {
    let now = t0() + TimeDelta::hours(round as i64);
    let day = now.date_naive();
    pairs
        .iter()
        .enumerate()
        .map(|(i, (connection, account))| {
            let first = (round * SYNCS as u64 + i as u64) * per_sync;
            let mut state = SyncState::new(now, None);
            state.succeed(now, &saldo_core::sync::SyncPolicy::default(), false, i as u64);
            SyncCommit {
                connection_id: *connection,
                worker: "bench".into(),
                state,
                run: SyncRun {
                    id: Uuid::now_v7(),
                    connection_id: *connection,
                    institution_id: institution,
                    trigger: "scheduled".into(),
                    worker: "bench".into(),
                    started_at: now,
                    finished_at: now,
                    outcome: "ok".into(),
                    failure: None,
                    transactions_new: 0,
                    pending_replaced: 0,
                    pending_vanished: 0,
                    reused_ids: 0,
                    balance_points: 1,
                    holdings: 0,
                },
                items: Vec::new(),
                closed: Vec::new(),
                aliases: Vec::new(),
                ingest: vec![AccountIngest {
                    account_id: Some(*account),
                    balance: Some(BalancePoint {
                        account_id: *account,
                        date: day,
                        observed_at: now,
                        amount: Money::new(first as i64, Currency::EUR),
                        source: BalanceSource::Sync,
                    }),
                    holdings: Vec::new(),
                    booked: (first..first + per_sync).map(|s| booked(*account, s, per_sync, day)).collect(),
                    pending: Vec::new(),
                    pending_removed: Vec::new(),
                    pending_vanished: 0,
                    superseded: Vec::new(),
                }],
                notifications: Vec::new(),
            }
        })
        .collect()
}

/// A fresh database on the backend: a temporary SQLite file, or a scratch PostgreSQL database.
struct Scratch {
    db: Db,
    _dir: Option<tempfile::TempDir>,
    drop_sql: Option<(String, String)>,
}

impl Scratch {
    /// Closes the database and drops a scratch PostgreSQL one.
    async fn remove(self) {
        self.db.close().await;
        if let Some((admin, sql)) = &self.drop_sql {
            if let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(admin).await {
                let _ = sqlx::query(sql).execute(&mut conn).await;
            }
        }
    }
}

async fn scratch(backend: &str) -> Option<Scratch> {
    if backend == "sqlite" {
        let dir = tempfile::tempdir().ok()?;
        let db = Db::connect(&DbUrl::Sqlite(dir.path().join("bench.db"))).await.ok()?;
        db.migrate().await.ok()?;
        return Some(Scratch { db, _dir: Some(dir), drop_sql: None });
    }
    let admin = option_env!("SALDO_TEST_POSTGRES_URL").unwrap_or("postgres://postgres@127.0.0.1:5432/postgres");
    let name = format!("saldo_bench_{}", std::process::id());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin).await.ok()?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&mut conn).await.ok()?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.ok()?;
    let url = format!("{}/{name}", admin.rsplit_once('/').map_or(admin, |(base, _)| base));
    let db = Db::connect(&DbUrl::parse(&url).ok()?).await.ok()?;
    db.migrate().await.ok()?;
    Some(Scratch { db, _dir: None, drop_sql: Some((admin.to_string(), format!("DROP DATABASE {name} WITH (FORCE)"))) })
}

fn commit_syncs(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut group = c.benchmark_group("commit_syncs");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    for backend in ["sqlite", "postgres"] {
        let Some(scratch) = runtime.block_on(scratch(backend)) else {
            eprintln!("{backend}: not reachable, skipped");
            continue;
        };
        let (institution, pairs) = runtime.block_on(household(&scratch.db));
        // A backfill (a first sync, a reconnect after days) and an ordinary sync a few hours on.
        for per_sync in [100u64, 4] {
            let rows = SYNCS as u64 * (per_sync + 3);
            group.throughput(Throughput::Elements(rows));
            let mut round = 0;
            group.bench_with_input(
                BenchmarkId::new(backend, format!("{per_sync} new per sync")),
                &per_sync,
                |b, &n| {
                    b.iter_custom(|iterations| {
                        let mut spent = Duration::ZERO;
                        for _ in 0..iterations {
                            round += 1;
                            let commits = batch(institution, &pairs, n, round);
                            runtime.block_on(async {
                                let now = t0() + TimeDelta::hours(round as i64);
                                for (connection, _) in &pairs {
                                    scratch
                                        .db
                                        .claim_connection(*connection, "bench", now, now + TimeDelta::minutes(10))
                                        .await
                                        .unwrap();
                                }
                                let started = Instant::now();
                                let results = scratch.db.commit_syncs(&commits).await.unwrap();
                                spent += started.elapsed();
                                assert!(results.iter().all(|r| matches!(r, Ok((new, 0)) if *new == n)), "{results:?}");
                            });
                        }
                        spent
                    });
                },
            );
        }
        runtime.block_on(scratch.remove());
    }
    group.finish();
}

/// A provider's whole institution list (GoCardless and Enable Banking each list about 2,500
/// banks) stored as `saldo institutions --refresh` stores it: one transaction, upserts.
fn refresh_catalog(c: &mut Criterion) {
    const INSTITUTIONS: usize = 2_500;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut group = c.benchmark_group("refresh_catalog");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(INSTITUTIONS as u64));
    let catalog: Vec<Institution> = (0..INSTITUTIONS)
        .map(|i| Institution {
            id: InstitutionId(Uuid::now_v7()),
            connector: "gocardless".into(),
            provider_institution_id: format!("BANK_{i:05}"),
            name: format!("Bank {i}"),
            country: Some(["DE", "FR", "FI", "SE", "NL"][i % 5].into()),
            bic: Some(format!("BANK{i:04}XX")),
            max_history_days: Some(730),
            max_consent_days: Some(180),
            accesses_per_day: Some(4),
            description: String::new(),
            logo_url: Some(format!("https://cdn.example/{i}.png")),
        })
        .collect();
    for backend in ["sqlite", "postgres"] {
        let Some(scratch) = runtime.block_on(scratch(backend)) else {
            eprintln!("{backend}: not reachable, skipped");
            continue;
        };
        let mut round = 0;
        group.bench_function(BenchmarkId::new(backend, format!("{INSTITUTIONS} institutions")), |b| {
            b.iter(|| {
                round += 1;
                runtime
                    .block_on(scratch.db.refresh_catalog("gocardless", &catalog, t0() + TimeDelta::hours(round)))
                    .unwrap()
            })
        });
        runtime.block_on(scratch.remove());
    }
    group.finish();
}

/// The ceiling SQLite itself sets for saldo's schema: the rows of one backfill batch (256 accounts ×
/// 100 transactions) inserted with one prepared statement in one transaction into the migrated
/// `transactions` table (its four indexes and foreign key), as `limits/sqlite_insert` does for its
/// one-index table. The engine's write path is measured against this and against the raw rate.
fn sqlite_schema_ceiling(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let Some(scratch) = runtime.block_on(scratch("sqlite")) else { return };
    let (_, pairs) = runtime.block_on(household(&scratch.db));
    let path = scratch._dir.as_ref().unwrap().path().join("bench.db");
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;").unwrap();
    let per_account = 100u64;
    let mut group = c.benchmark_group("sqlite_schema_ceiling");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(SYNCS as u64 * per_account));
    let mut round = 0u64;
    group.bench_function("prepared insert, 25600 rows per transaction", |b| {
        b.iter_custom(|iterations| {
            let mut spent = Duration::ZERO;
            for _ in 0..iterations {
                round += 1;
                let day = (t0() + TimeDelta::hours(round as i64)).date_naive();
                let rows: Vec<Transaction> = pairs
                    .iter()
                    .enumerate()
                    .flat_map(|(i, (_, account))| {
                        let first = (round * SYNCS as u64 + i as u64) * per_account;
                        (first..first + per_account).map(move |s| booked(*account, s, per_account, day))
                    })
                    .map(|t| Transaction { provider_id: t.provider_id.map(|p| format!("raw-{p}")), ..t })
                    .collect();
                let started = Instant::now();
                conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                {
                    let mut insert = conn
                        .prepare_cached(
                            "INSERT INTO transactions (id, account_id, status, booking_date, value_date, amount_minor, \
                             currency, description, counterparty, provider_id, fingerprint) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT DO NOTHING",
                        )
                        .unwrap();
                    for t in &rows {
                        insert
                            .execute(rusqlite::params![
                                t.id.0.as_bytes().as_slice(),
                                t.account_id.0.as_bytes().as_slice(),
                                t.status.as_str(),
                                t.booking_date.format("%F").to_string(),
                                t.value_date.map(|d| d.format("%F").to_string()),
                                t.amount.minor,
                                t.amount.currency.code(),
                                t.description,
                                t.counterparty,
                                t.provider_id,
                                t.fingerprint,
                            ])
                            .unwrap();
                    }
                }
                conn.execute_batch("COMMIT").unwrap();
                spent += started.elapsed();
            }
            spent
        });
    });
    group.finish();
}

criterion_group!(benches, commit_syncs, sqlite_schema_ceiling, refresh_catalog);
criterion_main!(benches);
