//! The CSV parser against the corpus: every statement file under `files/csv/` parses, and every
//! fact `expected.json` records about those files is checked, exactly where the oracle reads the
//! file and against the comparable value where the oracle derives or configures it.

#![allow(clippy::unwrap_used)]

mod common;

use chrono::NaiveDate;
use proptest::prelude::*;
use rust_decimal::Decimal;
use saldo_import::csv::{CsvCharset, CsvProfile};
use saldo_import::{BalanceKind, Collect, EntryStatus, ParsedTransaction, Problem, Statement};
use serde_json::Value;
use std::str::FromStr;

/// Files under `files/csv/` that are not statements: beangulp's expected-output ledgers.
fn is_statement(path: &str) -> bool {
    !path.ends_with(".beancount")
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(common::corpus_dir().join(path)).unwrap()
}

fn parse_file(path: &str) -> (CsvProfile, Vec<Statement>, Vec<Problem>) {
    let mut sink = Collect::default();
    let profile =
        saldo_import::csv::parse(read(path).as_slice(), None, &mut sink).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (statements, problems) = sink.finish();
    (profile, statements, problems)
}

fn date(value: &Value) -> NaiveDate {
    NaiveDate::from_str(&value.as_str().unwrap()[..10]).unwrap()
}

fn all(statements: &[Statement]) -> Vec<&ParsedTransaction> {
    statements.iter().flat_map(|s| &s.transactions).collect()
}

fn sum<'a>(transactions: impl IntoIterator<Item = &'a &'a ParsedTransaction>) -> Decimal {
    transactions.into_iter().map(|t| t.amount).sum()
}

/// What the ofxstatement plugins read a file as: ISO-8859-1 and cp1252 are one charset to us, and
/// a file of ASCII bytes reads the same whatever it is declared.
fn check_encoding(path: &str, profile: &CsvProfile, fact: &Value) {
    let declared = fact.as_str().unwrap();
    assert!(["iso-8859-1", "cp1252"].contains(&declared));
    if read(path).is_ascii() {
        return;
    }
    assert_eq!(profile.charset, CsvCharset::Windows1252, "{path}");
}

/// The own account as the file states it (IBAN or number), and the statement currency.
fn account_id(statements: &[Statement]) -> Option<String> {
    let account = &statements[0].header.account;
    account.iban.clone().or_else(|| account.number.clone())
}

/// The facts the ofxstatement-austrian plugins publish. `transactions` are those the plugin
/// returns (livebank drops rows of amount 0); start and end balances are the plugin's own sum.
fn check_austrian(path: &str, facts: &serde_json::Map<String, Value>, statements: &[Statement], profile: &CsvProfile) {
    let kept: Vec<&ParsedTransaction> =
        all(statements).into_iter().filter(|t| !(path.ends_with("livebank.csv") && t.amount.is_zero())).collect();
    for (key, value) in facts {
        match key.as_str() {
            "read_encoding" => check_encoding(path, profile, value),
            "line_count" => assert_eq!(kept.len() as u64, value.as_u64().unwrap(), "{path}"),
            "account_id" => assert_eq!(account_id(statements).as_deref(), value.as_str(), "{path}"),
            "currency" => {
                assert_eq!(statements[0].header.account.currency.as_deref(), value.as_str(), "{path}");
                assert!(kept.iter().all(|t| t.currency.as_deref() == value.as_str()), "{path}");
            }
            "start_date" => assert_eq!(kept.iter().map(|t| t.booking_date).min(), Some(date(value)), "{path}"),
            "end_date" => assert_eq!(kept.iter().map(|t| t.booking_date).max(), Some(date(value)), "{path}"),
            // Derived by the plugin: the file has no balances, so we state none.
            "start_balance" => {
                assert!(common::dec(value).is_zero());
                assert!(statements.iter().all(|s| s.balances.is_empty()), "{path}");
            }
            k if k.starts_with("end_balance") => assert_eq!(sum(&kept), common::dec(value), "{path}"),
            "amounts" => {
                let expected: Vec<Decimal> = value.as_array().unwrap().iter().map(common::dec).collect();
                assert_eq!(kept.iter().map(|t| t.amount).collect::<Vec<_>>(), expected, "{path}");
            }
            "lines[3].memo" => assert_eq!(kept[3].description, value.as_str().unwrap(), "{path}"),
            "lines" => {
                let lines = value.as_array().unwrap();
                assert_eq!(lines.len(), kept.len(), "{path}");
                for (line, t) in lines.iter().zip(&kept) {
                    check_line(path, line, t);
                }
            }
            k if k.starts_with("lines[") => {
                let i: usize = k["lines[".len()..k.len() - 1].parse().unwrap();
                check_line(path, value, kept[i]);
            }
            other => panic!("{path}: fact {other} not checked"),
        }
    }
}

/// One plugin line: `[date, amount, memo, CREDIT|DEBIT]` or `{amount, memo, date, id, check_no}`.
fn check_line(path: &str, line: &Value, t: &ParsedTransaction) {
    let (date_v, amount, memo, extra) = match line {
        Value::Array(a) => (a.first(), a.get(1), a.get(2), a.get(3)),
        Value::Object(o) => (o.get("date"), o.get("amount"), o.get("memo"), None),
        _ => panic!("{path}: odd line {line}"),
    };
    if let Some(d) = date_v {
        assert_eq!(t.booking_date, date(d), "{path}");
    }
    assert_eq!(t.amount, common::dec(amount.unwrap()), "{path}");
    if let Some(memo) = memo.and_then(Value::as_str) {
        // easybank's plugin splits the text field at '|' (memo|…|id, a middle part put in
        // parentheses) and the giro text at its long space run (memo, then a reference); we keep
        // the field whole, so the memo is its first part.
        let first = memo.split(" (").next().unwrap();
        let ours = t.description.split('|').next().unwrap();
        assert!(ours == memo || ours.starts_with(first), "{path}: {ours:?} vs {memo:?}");
    }
    if let Some(kind) = extra.and_then(Value::as_str) {
        assert_eq!(kind == "CREDIT", t.amount > Decimal::ZERO, "{path}");
    }
    if let Some(id) = line.get("id").and_then(Value::as_str) {
        assert_eq!(t.description.rsplit('|').next(), Some(id), "{path}: the id ends the text field");
    }
    if let Some(check_no) = line.get("check_no").and_then(Value::as_str) {
        let number = format!("/{:0>9}", check_no);
        assert!(t.description.contains(&number), "{path}: {number} in {:?}", t.description);
    }
}

fn trntype(code: Option<&str>) -> &'static str {
    match code {
        Some("TRANSFER") => "XFER",
        Some("CARD_PAYMENT") => "POS",
        Some("TOPUP") => "CREDIT",
        _ => "OTHER",
    }
}

fn check_revolut(path: &str, facts: &serde_json::Map<String, Value>, statements: &[Statement]) {
    // The plugin drops pending rows; we keep them, marked pending.
    let booked: Vec<&ParsedTransaction> =
        all(statements).into_iter().filter(|t| t.status == EntryStatus::Booked).collect();
    for (key, value) in facts {
        match key.as_str() {
            // The plugin's configured account name: not in the file, so our header leaves it empty.
            "account_id" => {
                assert_eq!(value, "Revolut");
                assert_eq!(account_id(statements), None, "{path}");
            }
            "line_count" => assert_eq!(booked.len() as u64, value.as_u64().unwrap(), "{path}"),
            k if k.starts_with("lines[") => {
                let i: usize = k["lines[".len()..k.len() - 1].parse().unwrap();
                let t = booked[i];
                assert_eq!(t.amount, common::dec(&value["amount"]), "{path}");
                assert_eq!(t.currency.as_deref(), value["currency"].as_str(), "{path}");
                // Completed Date books; Started Date is what the plugin calls the user date.
                assert_eq!(t.booking_date, date(&value["date"]), "{path}");
                if let Some(user) = value.get("date_user") {
                    assert_eq!(t.value_date, Some(date(user)), "{path}");
                }
                assert_eq!(t.counterparty.as_deref(), value["payee"].as_str(), "{path}");
                assert_eq!(trntype(t.code.as_deref()), value["trntype"], "{path}");
            }
            other => panic!("{path}: fact {other} not checked"),
        }
    }
}

/// beangulp's ledgers: the cash postings are our transactions. A `balance` directive asserts the
/// balance at the start of its day, so it is our closing balance of the day before. The currency
/// and the investment legs (units, cost, fees) come from the importer's configuration and its
/// parsing of the description, not from columns of the file.
fn check_beangulp(path: &str, facts: &serde_json::Map<String, Value>, statements: &[Statement]) {
    let transactions = all(statements);
    let mut chronological = transactions.clone();
    chronological.sort_by_key(|t| t.booking_date);
    for (key, value) in facts {
        match key.as_str() {
            "transaction_count" => assert_eq!(transactions.len() as u64, value.as_u64().unwrap(), "{path}"),
            "first_transaction_chronological" | "last_transaction_chronological" => {
                let t =
                    if key.starts_with("first") { chronological[0] } else { chronological[chronological.len() - 1] };
                assert_eq!(t.booking_date, date(&value["date"]), "{path}");
                assert_eq!(t.amount, common::dec(&value["amount"]), "{path}");
                assert!(value.get("currency").is_none_or(|c| c == "USD"));
            }
            "first_transaction" => {
                let t = transactions[0];
                assert_eq!(t.booking_date, date(&value["date"]), "{path}");
                assert_eq!(t.provider_id.as_deref(), value["ref"].as_str(), "{path}");
                assert_eq!(t.amount, common::dec(&value["cash"]), "{path}");
                // Fees, units and cost: the importer's reading of FEES and DESCRIPTION.
                assert!(t.description.contains("+CSKO 50 @98.35"), "{path}");
                assert_eq!(value["fees"], "7.95");
            }
            "balance_assertion" => {
                let closing = statements[0].balances.iter().find(|b| b.kind == BalanceKind::Closing).unwrap();
                assert_eq!(closing.amount, common::dec(&value["amount"]), "{path}");
                assert_eq!(closing.date.succ_opt(), Some(date(&value["beancount_date"])), "{path}");
                assert_eq!(value["currency"], "USD");
            }
            other => panic!("{path}: fact {other} not checked"),
        }
    }
}

#[test]
fn every_csv_statement_parses_and_every_fact_holds() {
    let expected = common::expected();
    let files = common::corpus_files("csv");
    assert!(files.len() >= 16, "{files:?}");
    let mut checked = 0;
    for path in files.iter().filter(|p| is_statement(p)) {
        let (profile, statements, problems) = parse_file(path);
        assert!(!statements.is_empty() && !all(&statements).is_empty(), "{path}");
        // Through the crate's entry point too, which detects the same way.
        let (statements_again, _) = common::parse(saldo_import::Format::Csv, path).unwrap();
        assert_eq!(statements_again, statements, "{path}");
        let Some(entry) = expected.get(path.as_str()) else {
            // hledger's examples have no oracle: they must parse, with no problem.
            assert!(problems.iter().all(|p| p.message.contains("no day above 12")), "{path}: {problems:?}");
            continue;
        };
        let facts = entry["facts"].as_object().unwrap();
        if path.contains("ofxstatement-austrian") {
            assert!(problems.is_empty(), "{path}: {problems:?}");
            check_austrian(path, facts, &statements, &profile);
        } else if path.contains("ofxstatement-revolut") {
            check_revolut(path, facts, &statements);
        } else if path.contains("beangulp") {
            check_beangulp(path, facts, &statements);
        } else {
            panic!("{path}: no checks for its oracle");
        }
        checked += 1;
    }
    let with_facts = expected.keys().filter(|k| k.starts_with("files/csv/")).count();
    assert_eq!(checked, with_facts);
}

/// hledger's examples, checked by hand against the file content.
#[test]
fn hledger_examples_read_as_written() {
    let (utf8_profile, utf8, _) = parse_file("files/csv/hledger/sample.fr.utf8.csv");
    let (cp1252_profile, cp1252, _) = parse_file("files/csv/hledger/sample.fr.cp1252.csv");
    assert_eq!((utf8_profile.charset, cp1252_profile.charset), (CsvCharset::Utf8, CsvCharset::Windows1252));
    let texts =
        |s: &[Statement]| all(s).iter().map(|t| (t.booking_date, t.amount, t.description.clone())).collect::<Vec<_>>();
    assert_eq!(texts(&utf8), texts(&cp1252));
    assert_eq!(all(&utf8)[2].description, "CAFÉ — €20 REÇU");

    let (_, ynab, _) = parse_file("files/csv/hledger/ynab4-rtl.csv");
    let amounts: Vec<Decimal> = all(&ynab).iter().map(|t| t.amount).collect();
    assert_eq!(amounts, [Decimal::from_str("-4.750").unwrap(), Decimal::from_str("-93.210").unwrap()]);
    assert_eq!(ynab[1].header.account.name.as_deref(), Some("creditcard1"));

    let (_, monefy, _) = parse_file("files/csv/hledger/monefy.csv");
    assert_eq!(sum(&all(&monefy)), Decimal::from_str("5892.8").unwrap());

    let (_, paypal, _) = parse_file("files/csv/hledger/paypal-custom.csv");
    let paypal = all(&paypal);
    assert_eq!(paypal.len(), 7);
    assert_eq!(paypal.iter().filter(|t| t.status == EntryStatus::Pending).count(), 3);
    assert_eq!(paypal[0].provider_id.as_deref(), Some("06P57143A2806728E"));

    let (_, csb43, _) = parse_file("files/csv/hledger/csb43.csv");
    assert_eq!(csb43[0].header.account.number.as_deref(), Some("1234567890"));
    assert_eq!(sum(&all(&csb43)), Decimal::from_str("1000.00").unwrap());
}

/// Files from the benchmark generator (`gen_statements.py --format csv --transactions 200
/// --seed 7`, which printed `expected: 200 transactions, sum 9611.77` for both styles).
#[test]
fn generated_files_give_the_generators_count_and_sum() {
    for style in ["eu", "us"] {
        let path = format!("{}/tests/data/generated-{style}-200.csv", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(path).unwrap();
        let mut sink = Collect::default();
        let profile = saldo_import::csv::parse(bytes.as_slice(), None, &mut sink).unwrap();
        let (statements, problems) = sink.finish();
        assert!(problems.is_empty(), "{style}: {problems:?}");
        let transactions = all(&statements);
        assert_eq!(transactions.len(), 200, "{style}");
        assert_eq!(sum(&transactions), Decimal::from_str("9611.77").unwrap(), "{style}");
        assert_eq!(profile.decimal_comma, style == "eu");
        assert_eq!(statements[0].balances.len(), 1, "{style}: the running balance gives a closing one");
    }
}

fn statement_files() -> Vec<Vec<u8>> {
    common::corpus_files("csv").iter().filter(|p| is_statement(p)).map(|p| read(p)).collect()
}

fn parse_quietly(bytes: &[u8], profile: Option<&CsvProfile>) {
    let mut sink = Collect::default();
    let _ = saldo_import::csv::parse(bytes, profile, &mut sink);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        parse_quietly(&bytes, None);
    }

    #[test]
    fn mutated_corpus_files_never_panic(
        file in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..24),
        with_profile in any::<bool>(),
    ) {
        let files = statement_files();
        let mut bytes = files[file.index(files.len())].clone();
        let original = bytes.clone();
        for (at, byte, kind) in edits {
            if bytes.is_empty() {
                bytes.push(byte);
                continue;
            }
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, [b';', b',', b'"', b'\n', b'-', byte][usize::from(byte) % 6]),
                _ => { bytes.remove(i); }
            }
        }
        if with_profile {
            // A profile saved from the intact file, applied to the damaged one.
            let mut sink = Collect::default();
            if let Ok(profile) = saldo_import::csv::parse(original.as_slice(), None, &mut sink) {
                parse_quietly(&bytes, Some(&profile));
            }
        } else {
            parse_quietly(&bytes, None);
        }
    }
}
