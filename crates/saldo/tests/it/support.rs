//! Runs the `saldo` binary against a fresh database of either backend.

use saldo_testing::ScratchDatabase;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use saldo_testing::Backend;

/// One saldo installation: a data directory (also used as HOME) and a database.
pub struct Saldo {
    db: ScratchDatabase,
    /// `SALDO_*` variables every command of this installation gets.
    envs: Vec<(String, String)>,
}

impl Saldo {
    pub fn new(backend: Backend) -> Saldo {
        Saldo { db: ScratchDatabase::new(backend), envs: Vec::new() }
    }

    /// Sets an environment variable for every later command.
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.envs.retain(|(n, _)| n != name);
        self.envs.push((name.into(), value.into()));
    }

    pub fn db_url(&self) -> &str {
        self.db.url()
    }

    pub fn dir(&self) -> &Path {
        self.db.dir()
    }

    /// The binary with a clean environment: HOME in the test's directory, no SALDO_* variables.
    pub fn bare_command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_saldo"));
        command.env_clear().env("PATH", "/usr/bin:/bin").env("HOME", self.dir()).env("RUST_BACKTRACE", "1");
        command.envs(self.envs.iter().map(|(n, v)| (n, v)));
        command
    }

    /// The binary pointed at this installation's database.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = self.bare_command();
        command.arg("--db").arg(self.db_url()).args(args);
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

/// Runs a test body on a fresh installation of `backend`.
pub fn run_saldo(backend: Backend, body: fn(Saldo)) {
    body(Saldo::new(backend));
}

/// Declares a test once and runs it as `NAME::sqlite` and `NAME::postgres`, each on a fresh
/// installation.
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        saldo_testing::both_backends!($name, crate::support::run_saldo, $body);
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
