//! Shared by the corpus tests: the corpus copied under `tests/corpus` (files with their licenses,
//! and `expected.json`, the facts the upstream test suites assert about them; see EXPECTED.md).

#![allow(dead_code, clippy::unwrap_used)]

use rust_decimal::Decimal;
use saldo_import::{Collect, Format, ParseError, Problem, Statement};
use std::path::PathBuf;
use std::str::FromStr;

pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// `expected.json`'s `files` object.
pub fn expected() -> serde_json::Map<String, serde_json::Value> {
    let text = std::fs::read_to_string(corpus_dir().join("expected.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["files"].as_object().unwrap().clone()
}

/// Every corpus file under `files/<dir>/` (relative paths as `expected.json` keys them).
pub fn corpus_files(dir: &str) -> Vec<String> {
    let manifest = std::fs::read_to_string(corpus_dir().join("MANIFEST.tsv")).unwrap();
    let prefix = format!("files/{dir}/");
    manifest
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .filter(|p| p.starts_with(&prefix))
        .map(String::from)
        .collect()
}

/// Parses a corpus file (relative path) with `saldo_import::parse`.
pub fn parse(format: Format, path: &str) -> Result<(Vec<Statement>, Vec<Problem>), ParseError> {
    let bytes = std::fs::read(corpus_dir().join(path)).unwrap();
    let mut sink = Collect::default();
    saldo_import::parse(format, bytes.as_slice(), &mut sink)?;
    Ok(sink.finish())
}

/// A decimal from an expected fact (a string like "-6.60", or a JSON number).
pub fn dec(value: &serde_json::Value) -> Decimal {
    match value {
        serde_json::Value::String(s) => Decimal::from_str(s).unwrap(),
        serde_json::Value::Number(n) => Decimal::from_str(&n.to_string()).unwrap(),
        other => panic!("not a decimal: {other}"),
    }
}

/// One random edit of a file's bytes, as proptest draws it: where, which byte, and what to do
/// (see [`damage`]).
pub type Edit = (proptest::sample::Index, u8, u8);

/// A corpus file with `edits` applied, to check that damaged real files never make a parser panic:
/// kind 0 overwrites a byte, 1 inserts one, 2 removes one, 3 cuts the file there.
pub fn damage(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for (at, byte, kind) in edits {
        if bytes.is_empty() {
            if *kind == 1 {
                bytes.push(*byte);
            }
            continue;
        }
        let i = at.index(bytes.len());
        match kind {
            0 => bytes[i] = *byte,
            1 => bytes.insert(i, *byte),
            2 => {
                bytes.remove(i);
            }
            _ => bytes.truncate(i),
        }
    }
    bytes
}
