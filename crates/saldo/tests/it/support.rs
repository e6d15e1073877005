//! Runs the `saldo` binary against a fresh database of either backend.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A PostgreSQL database made for one test and dropped after it.
struct PgDatabase {
    admin_url: String,
    name: String,
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

impl PgDatabase {
    fn create() -> PgDatabase {
        #[allow(clippy::disallowed_methods)] // The test harness reads its own settings.
        let admin_url = std::env::var("SALDO_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.into());
        let name = format!("saldo_it_{}", uuid_like());
        block_on(async {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
                .await
                .unwrap_or_else(|err| panic!("PostgreSQL is needed ({err}); scripts/test starts it"));
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
        });
        PgDatabase { admin_url, name }
    }

    fn url(&self) -> String {
        let (base, _) = self.admin_url.rsplit_once('/').unwrap();
        format!("{base}/{}", self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        block_on(async {
            if let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(&self.admin_url).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
                    .execute(&mut conn)
                    .await;
            }
        });
    }
}

fn uuid_like() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// One saldo installation: a data directory (also used as HOME) and a database.
pub struct Saldo {
    dir: TempDir,
    db_url: String,
    /// `SALDO_*` variables every command of this installation gets.
    envs: Vec<(String, String)>,
    _pg: Option<PgDatabase>,
}

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Saldo {
    pub fn new(backend: Backend) -> Saldo {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => {
                let db_url = format!("sqlite://{}", dir.path().join("data/saldo.db").display());
                Saldo { dir, db_url, envs: Vec::new(), _pg: None }
            }
            Backend::Postgres => {
                let pg = PgDatabase::create();
                Saldo { dir, db_url: pg.url(), envs: Vec::new(), _pg: Some(pg) }
            }
        }
    }

    /// Sets an environment variable for every later command.
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.envs.retain(|(n, _)| n != name);
        self.envs.push((name.into(), value.into()));
    }

    pub fn db_url(&self) -> &str {
        &self.db_url
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The binary with a clean environment: HOME in the test's directory, no SALDO_* variables.
    pub fn bare_command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_saldo"));
        command.env_clear().env("PATH", "/usr/bin:/bin").env("HOME", self.dir.path()).env("RUST_BACKTRACE", "1");
        command.envs(self.envs.iter().map(|(n, v)| (n, v)));
        command
    }

    /// The binary pointed at this installation's database.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = self.bare_command();
        command.arg("--db").arg(&self.db_url).args(args);
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "saldo {args:?} failed: {stderr}");
        String::from_utf8(output.stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let stdout = self.ok(args);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|err| panic!("saldo {args:?} printed invalid JSON ({err}): {stdout}"))
    }

    /// Runs a command that must fail cleanly: non-zero exit, one line on stderr, no panic.
    pub fn fail(&self, args: &[&str]) -> String {
        check_clean_failure(&self.run(args), args)
    }

    pub fn data_file(&self, name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
    }
}

/// Asserts that a failed run printed exactly one `error: …` line and no panic or backtrace.
pub fn check_clean_failure(output: &Output, args: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(!output.status.success(), "saldo {args:?} should have failed");
    assert_ne!(output.status.code(), Some(101), "saldo {args:?} panicked: {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "saldo {args:?} should print one error line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0].to_string()
}

/// Declares a test once and runs it as `NAME::sqlite` and `NAME::postgres`.
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn sqlite() {
                let test: fn(crate::support::Saldo) = $body;
                test(crate::support::Saldo::new(crate::support::Backend::Sqlite));
            }
            #[test]
            fn postgres() {
                let test: fn(crate::support::Saldo) = $body;
                test(crate::support::Saldo::new(crate::support::Backend::Postgres));
            }
        }
    };
}
pub(crate) use both_backends;

/// An account's transactions as (amount, status) pairs, sorted: what end-to-end tests compare.
pub fn amounts_and_statuses(saldo: &Saldo, account_id: &str) -> Vec<(String, String)> {
    let transactions = saldo.json(&["transactions", "--account", account_id, "--json"]);
    let mut seen: Vec<(String, String)> = transactions
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["amount"].as_str().unwrap().to_string(), t["status"].as_str().unwrap().to_string()))
        .collect();
    seen.sort();
    seen
}

/// Every byte the database keeps: the SQLite files, or a `pg_dump` of the PostgreSQL database.
pub fn database_dump(saldo: &Saldo) -> Vec<u8> {
    if let Some(path) = saldo.db_url().strip_prefix("sqlite://") {
        let mut all = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            all.extend(std::fs::read(format!("{path}{suffix}")).unwrap_or_default());
        }
        assert!(!all.is_empty());
        return all;
    }
    let output = std::process::Command::new("pg_dump").arg("--data-only").arg(saldo.db_url()).output().unwrap();
    assert!(output.status.success(), "pg_dump: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}
