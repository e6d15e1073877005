//! Several `saldo worker` processes on one PostgreSQL database: never two syncs of one connection
//! at once, and a worker killed mid-sync (SIGKILL) loses nothing and duplicates nothing.

use crate::support::{Backend, Saldo};
use serde_json::Value;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn connect_many(saldo: &Saldo, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let out: Value = saldo.json(&["connect", "sandbox-bank", "--yes", "--json"]);
            out["connection_id"].as_str().unwrap().to_string()
        })
        .collect()
}

fn psql(saldo: &Saldo, sql: &str) -> String {
    let output = std::process::Command::new("psql").args([saldo.db_url(), "-Atqc", sql]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// Makes every connection due now, as if hours had passed.
fn make_all_due(saldo: &Saldo) {
    psql(saldo, "UPDATE connections SET next_sync_at = now() - interval '1 second', budget_used = 0");
}

fn worker(saldo: &Saldo, latency_ms: u32, lease_seconds: u32) -> Child {
    saldo
        .command(&["worker"])
        .env("SALDO_SANDBOX_LATENCY_MS", latency_ms.to_string())
        .env("SALDO_SYNC_LEASE_SECONDS", lease_seconds.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stop(mut child: Child) {
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

fn scheduled_runs(saldo: &Saldo) -> usize {
    psql(saldo, "SELECT count(*) FROM sync_runs WHERE trigger = 'scheduled'").parse().unwrap()
}

#[test]
fn two_workers_never_sync_one_connection_at_once() {
    let saldo = Saldo::new(Backend::Postgres);
    let connections = connect_many(&saldo, 40);
    make_all_due(&saldo);
    let a = worker(&saldo, 300, 600);
    let b = worker(&saldo, 300, 600);
    wait_until("every connection synced", Duration::from_secs(60), || scheduled_runs(&saldo) >= connections.len());
    std::thread::sleep(Duration::from_millis(500));
    stop(a);
    stop(b);
    // Each connection was due once, so each was synced once, by one worker or the other.
    let per_connection = psql(
        &saldo,
        "SELECT count(*) FROM (SELECT connection_id FROM sync_runs WHERE trigger = 'scheduled' GROUP BY connection_id HAVING count(*) > 1) AS twice",
    );
    assert_eq!(per_connection, "0", "a connection was synced twice");
    assert_eq!(scheduled_runs(&saldo), connections.len());
    let workers: usize =
        psql(&saldo, "SELECT count(DISTINCT worker) FROM sync_runs WHERE trigger = 'scheduled'").parse().unwrap();
    assert_eq!(workers, 2, "both workers took part");
}

#[test]
fn a_worker_killed_mid_sync_loses_and_duplicates_nothing() {
    let saldo = Saldo::new(Backend::Postgres);
    let connections = connect_many(&saldo, 6);
    let before = psql(&saldo, "SELECT count(*) FROM transactions WHERE status = 'booked'");
    // Hours pass at the bank: the next syncs will find new bookings.
    make_all_due(&saldo);
    // A slow worker claims connections, then dies without a word.
    let mut doomed = worker(&saldo, 3_000, 4);
    wait_until("the worker holds leases", Duration::from_secs(30), || {
        psql(&saldo, "SELECT count(*) FROM connections WHERE lease_owner IS NOT NULL") != "0"
    });
    doomed.kill().unwrap();
    doomed.wait().unwrap();
    assert_eq!(scheduled_runs(&saldo), 0, "it died before committing anything");
    // Another worker takes over once the leases lapse.
    let rescuer = worker(&saldo, 0, 4);
    wait_until("every connection synced", Duration::from_secs(60), || scheduled_runs(&saldo) >= connections.len());
    stop(rescuer);
    assert_eq!(scheduled_runs(&saldo), connections.len(), "each connection synced exactly once");
    let duplicates = psql(
        &saldo,
        "SELECT count(*) FROM (SELECT account_id, coalesce(provider_id, fingerprint) FROM transactions \
         GROUP BY account_id, coalesce(provider_id, fingerprint) HAVING count(*) > 1) AS d",
    );
    assert_eq!(duplicates, "0");
    let after: usize = psql(&saldo, "SELECT count(*) FROM transactions WHERE status = 'booked'").parse().unwrap();
    assert!(after >= before.parse::<usize>().unwrap());
    // A forced sync of each finds nothing it does not already have: nothing was lost.
    for connection in &connections {
        let report: Value = saldo.json(&["sync", "--connection", connection, "--json"]);
        assert_eq!(report[0]["outcome"], "ok", "{report}");
        assert_eq!(report[0]["new_transactions"], 0, "{report}");
    }
}
