//! Net worth readers while the sync engine writes, on SQLite: does a page wait for the writer?
//!
//! 50 tasks read net worth (today, and a year's daily history) for a household with twenty
//! accounts, over and over, while `simulate` runs syncs into the same database on the same
//! two-thread runtime that `saldo serve` uses. Prints the readers' latency percentiles and the
//! engine's syncs/s. Run with `cargo bench -p saldo-app --bench readers -- 2000` (connections; 0
//! runs the readers alone for ten seconds); the figures are in docs/benchmarks.md.

#![allow(clippy::unwrap_used)] // A benchmark fails loudly.

use chrono::{NaiveDate, TimeDelta};
use saldo_app::accounts::NewManualAccount;
use saldo_app::clock::Clock;
use saldo_app::networth::NetWorthQuery;
use saldo_app::ops::{Actor, App, Settings};
use saldo_app::secrets::Keyring;
use saldo_app::simulate::{simulate, simulation_start, SimulateOptions};
use saldo_app::sync::Connectors;
use saldo_connectors::sandbox::Sandbox;
use saldo_core::account::AccountKind;
use saldo_core::money::Currency;
use saldo_store::{Db, DbUrl};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const READERS: usize = 50;
const SEED: u64 = 1;

fn main() {
    // `cargo bench` passes `--bench`; a number among the arguments is the connection count.
    let connections: u32 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(300);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    runtime.block_on(async {
        let url = DbUrl::Sqlite(dir.path().join("readers.db"));
        let db = Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        let mut connectors = Connectors::default();
        connectors.add(Arc::new(Sandbox::new(SEED)));
        let settings = Settings {
            callback_base: "http://127.0.0.1:8080".into(),
            public_url: None,
            local_user: None,
            base_currency: Currency::EUR,
            sync_lease_seconds: 600,
        };
        let clock = Clock::manual(simulation_start());
        let app = App::new(db, clock, connectors, Arc::new(Keyring::from_key(&[7; 32])), settings);
        let actor = Actor::local(app.local_user().await.unwrap());
        household(&app, &actor).await;

        let stop = Arc::new(AtomicBool::new(false));
        let mut readers = Vec::new();
        for _ in 0..READERS {
            let (app, actor, stop) = (app.clone(), actor.clone(), stop.clone());
            readers.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let query = NetWorthQuery {
                    history: true,
                    from: NaiveDate::from_ymd_opt(2025, 1, 5),
                    ..NetWorthQuery::default()
                };
                while !stop.load(Ordering::Relaxed) {
                    let start = Instant::now();
                    // The simulation closes the database when it ends: a read then fails, and stops.
                    if saldo_app::networth::net_worth(&app, &actor, &query).await.is_err() {
                        break;
                    }
                    latencies.push(start.elapsed());
                    // A person clicks, reads, clicks again: readers are not a tight loop.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                latencies
            }));
        }
        let options = SimulateOptions {
            connections,
            days: 10,
            seed: SEED,
            connections_per_user: 4,
            tick: TimeDelta::minutes(15),
            concurrency: 1,
            importers: 0,
        };
        // With 0 connections the readers run alone for ten seconds: what they take without a writer.
        let syncs_per_second = if connections == 0 {
            tokio::time::sleep(Duration::from_secs(10)).await;
            0.0
        } else {
            simulate(app.clone(), &options).await.unwrap().syncs_per_second
        };
        stop.store(true, Ordering::Relaxed);
        let mut all: Vec<Duration> = Vec::new();
        for reader in readers {
            all.extend(reader.await.unwrap());
        }
        all.sort();
        let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
        println!(
            "{} connections × {} days: {:.0} syncs/s; {} readers, {} reads: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            options.connections,
            options.days,
            syncs_per_second,
            READERS,
            all.len(),
            at(0.50).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
            all.last().unwrap().as_secs_f64() * 1e3,
        );
    });
}

/// Twenty accounts with a valuation every month for a year: what a household's dashboard reads.
async fn household(app: &App, actor: &Actor) {
    for index in 0..20 {
        let kind = if index % 5 == 0 { AccountKind::Mortgage } else { AccountKind::Savings };
        let new = NewManualAccount {
            name: format!("Account {index}"),
            kind,
            currency: Currency::EUR,
            value: Some(("1000".into(), NaiveDate::from_ymd_opt(2025, 1, 5))),
        };
        let account = saldo_app::accounts::create_manual_account(app, actor, new).await.unwrap();
        for month in 2..=12 {
            let day = NaiveDate::from_ymd_opt(2025, month, 5).unwrap();
            let amount = format!("{}", 1000 + month * 10 + index);
            saldo_app::accounts::set_valuation(app, actor, &account.id.to_string(), &amount, Some(day)).await.unwrap();
        }
    }
}
