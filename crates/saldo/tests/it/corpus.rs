//! Every statement file of the corpus (`crates/saldo-import/tests/corpus/files`), through the real
//! binary on both backends: the dry run and the import report the same statements, counts, sums
//! and problems (the import adds only what needs the account), and what the import says it stored
//! is what is stored.

use crate::support::{Backend, Saldo};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn corpus_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../saldo-import/tests/corpus/files");
    let mut files = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                ["ofx", "qfx", "qbo", "xml", "sta", "csv", "mt940"].contains(&e.to_lowercase().as_str())
            }) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Problems only the import can have: they need the account the file goes into.
fn needs_the_account(message: &str) -> bool {
    ["does not say what kind of account", "carry an id", "in an account kept in"].iter().any(|m| message.contains(m))
}

fn messages(report: &Value) -> Vec<String> {
    report["problems"].as_array().unwrap().iter().map(|p| p["message"].as_str().unwrap().to_string()).collect()
}

fn stored_transactions(saldo: &Saldo) -> u64 {
    let accounts = saldo.json(&["accounts", "--json"]);
    accounts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let id = a["id"].as_str().unwrap();
            saldo.json(&["transactions", "--account", id, "--json"]).as_array().unwrap().len() as u64
        })
        .sum()
}

fn check(backend: Backend) {
    let files = corpus_files();
    assert!(files.len() >= 60, "the corpus is there: {} files", files.len());
    for file in files {
        let saldo = Saldo::new(backend);
        let path = file.to_str().unwrap();
        let args = |dry: bool| {
            let mut args = vec!["import", "--json", "--currency", "EUR", "--skip-unreadable"];
            if dry {
                args.push("--dry-run");
            }
            args.push(path);
            args
        };
        let report = |dry: bool| -> Value {
            let output = saldo.run(&args(dry));
            let all: Value = serde_json::from_slice(&output.stdout)
                .unwrap_or_else(|e| panic!("{path}: {e}: {}", String::from_utf8_lossy(&output.stderr)));
            all["files"][0].clone()
        };
        let (dry, real) = (report(true), report(false));
        assert_eq!(dry["error"], real["error"], "{path}: the dry run foretells the import's refusal");
        let statements = |r: &Value| -> Vec<(Value, Value)> {
            r["statements"].as_array().unwrap().iter().map(|s| (s["transactions"].clone(), s["sum"].clone())).collect()
        };
        assert_eq!(statements(&dry), statements(&real), "{path}: the same statements, counts and sums");
        let (dry_problems, real_problems) = (messages(&dry), messages(&real));
        let dry_set: BTreeSet<&String> = dry_problems.iter().collect();
        let real_set: BTreeSet<&String> = real_problems.iter().collect();
        assert!(dry_set.is_subset(&real_set), "{path}: the import reports what the dry run did");
        for extra in real_set.difference(&dry_set) {
            assert!(needs_the_account(extra), "{path}: only the import says {extra:?}");
        }
        if real["error"].is_null() {
            let sum = |key: &str| -> u64 {
                real["statements"].as_array().unwrap().iter().map(|s| s[key].as_u64().unwrap_or(0)).sum()
            };
            let left_out = real["skipped_entries"].as_u64().unwrap() - dry["skipped_entries"].as_u64().unwrap();
            assert_eq!(
                sum("new") + sum("duplicate") + left_out,
                sum("transactions"),
                "{path}: every entry accounted for"
            );
            assert_eq!(stored_transactions(&saldo), sum("new"), "{path}: what the report says is stored is stored");
        } else {
            assert_eq!(stored_transactions(&saldo), 0, "{path}: a refused file writes nothing");
        }
    }
}

#[test]
fn every_corpus_file_reports_the_same_in_a_dry_run_and_stores_what_it_reports_sqlite() {
    check(Backend::Sqlite);
}

#[test]
fn every_corpus_file_reports_the_same_in_a_dry_run_and_stores_what_it_reports_postgres() {
    check(Backend::Postgres);
}
