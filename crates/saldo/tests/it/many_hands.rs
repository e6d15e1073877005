//! Many hands at once: a large import beside a second import, a forced sync, the scheduler and
//! readers of the API, on either backend. Nothing may fail, wait without end or keep a lease.

use crate::serve::{http_client, Server};
use crate::support::{both_backends, Saldo};
use std::fmt::Write as _;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs one statement and returns the first column of its first row as text.
fn query(saldo: &Saldo, sql: &str) -> String {
    if let Some(path) = saldo.db_url().strip_prefix("sqlite://") {
        let db = rusqlite::Connection::open(path).unwrap();
        db.busy_timeout(Duration::from_secs(60)).unwrap();
        let mut statement = db.prepare(sql).unwrap();
        let mut rows = statement.query([]).unwrap();
        return match rows.next().unwrap() {
            Some(row) => match row.get_ref(0).unwrap() {
                rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                _ => String::new(),
            },
            None => String::new(),
        };
    }
    let output = std::process::Command::new("psql").args([saldo.db_url(), "-Atqc", sql]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// A CSV statement of `rows` bookings, one a minute apart in amount so none is a duplicate.
fn statement(rows: usize, text: &str) -> String {
    let mut csv = String::from("Date,Description,Amount\n");
    for row in 0..rows {
        let day = 1 + row % 28;
        let _ = writeln!(csv, "2025-{:02}-{day:02},{text} {row},-{}.{:02}", 1 + row % 12, 1 + row / 100, row % 100);
    }
    csv
}

fn wait_ok(child: Child, what: &str) {
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{what} failed: {}", String::from_utf8_lossy(&output.stderr));
}

both_backends!(an_import_beside_another_a_sync_the_scheduler_and_readers, |saldo| {
    let connected = saldo.json(&["connect", "sandbox-bank", "--yes", "--json"]);
    let connection = connected["connection_id"].as_str().unwrap().to_string();
    for name in ["Big", "Small"] {
        saldo.ok(&["account", "add", "--name", name, "--kind", "cash", "--currency", "EUR"]);
    }
    let big = saldo.dir().join("big.csv");
    std::fs::write(&big, statement(60_000, "Groceries")).unwrap();
    let small = saldo.dir().join("small.csv");
    std::fs::write(&small, statement(300, "Coffee")).unwrap();
    let server = Server::start(&saldo, &[]);

    // Readers of the API, for as long as the writers run.
    let stop = Arc::new(AtomicBool::new(false));
    let (address, token) = (server.address.clone(), server.token.clone());
    let readers = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut answers, mut slowest) = (Vec::new(), Duration::ZERO);
            while !stop.load(Ordering::Relaxed) {
                for path in ["/api/v1/accounts", "/api/v1/networth"] {
                    let started = Instant::now();
                    let request = http_client().get(format!("http://{address}{path}")).bearer_auth(&token);
                    let status = request.send().unwrap().status();
                    slowest = slowest.max(started.elapsed());
                    answers.push(status.as_u16());
                }
            }
            (answers, slowest)
        })
    };

    let import = |file: &std::path::Path, account: &str| {
        saldo
            .command(&["import", file.to_str().unwrap(), "--account", account, "--currency", "EUR"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let large = import(&big, "Big");
    std::thread::sleep(Duration::from_millis(300));
    let second = import(&small, "Small");
    let forced =
        saldo.command(&["sync", "--connection", &connection]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn();
    let forced = forced.unwrap();
    wait_ok(second, "the second import");
    wait_ok(forced, "the forced sync");
    // The scheduler finds the connection due while the large import still runs.
    let past = if saldo.db_url().starts_with("sqlite") {
        "'2000-01-01T00:00:00+00:00'"
    } else {
        "now() - interval '1 second'"
    };
    query(&saldo, &format!("UPDATE connections SET next_sync_at = {past}, budget_used = 0"));
    wait_ok(large, "the large import");
    stop.store(true, Ordering::Relaxed);
    let (answers, slowest) = readers.join().unwrap();
    assert!(!answers.is_empty() && answers.iter().all(|&status| status == 200), "{answers:?}");
    // Readers never wait for the writer (generous for a debug build on two busy cores).
    assert!(slowest < Duration::from_secs(5), "a reader waited {slowest:?}");

    let count = |account: &str| {
        let sql = format!(
            "SELECT count(*) FROM transactions t JOIN accounts a ON a.id = t.account_id WHERE a.name = '{account}'"
        );
        query(&saldo, &sql)
    };
    assert_eq!((count("Big"), count("Small")), ("60000".to_string(), "300".to_string()));
    // The scheduler's run is recorded and its lease let go.
    let deadline = Instant::now() + Duration::from_secs(60);
    while query(&saldo, "SELECT count(*) FROM sync_runs WHERE trigger = 'scheduled'") == "0" {
        assert!(Instant::now() < deadline, "the scheduler never synced");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(server.terminate().success());
    assert_eq!(query(&saldo, "SELECT count(*) FROM connections WHERE lease_owner IS NOT NULL"), "0");
    let failed = query(&saldo, "SELECT count(*) FROM sync_runs WHERE outcome <> 'ok'");
    assert_eq!(failed, "0");
});
