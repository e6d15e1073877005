//! The OFX parser against the corpus: every file under `files/ofx/` is read, and every fact that
//! `expected.json` records about them is checked where saldo's model carries it. Facts it does not
//! carry are named in comments next to what is checked instead.

#![allow(clippy::unwrap_used)]

mod common;

use chrono::{NaiveDate, NaiveDateTime};
use common::{corpus_dir, corpus_files, dec, expected};
use proptest::prelude::*;
use saldo_import::{AccountKindHint, BalanceKind, Collect, Format, Problem, Statement};
use serde_json::Value;

fn facts(path: &str) -> Value {
    expected().get(path).unwrap_or_else(|| panic!("no facts for {path}"))["facts"].clone()
}

fn ofx(path: &str) -> (Vec<Statement>, Vec<Problem>) {
    common::parse(Format::Ofx, path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn date(value: &Value) -> NaiveDate {
    let text = value.as_str().unwrap();
    NaiveDate::parse_from_str(text.get(..10).unwrap(), "%Y-%m-%d").unwrap()
}

fn date_time(value: &Value) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(value.as_str().unwrap(), "%Y-%m-%dT%H:%M:%S").unwrap()
}

fn kind_hint(account_type: &str) -> Option<AccountKindHint> {
    match account_type {
        "CHECKING" => Some(AccountKindHint::Checking),
        "SAVINGS" => Some(AccountKindHint::Savings),
        "Investment" => Some(AccountKindHint::Investment),
        _ => None,
    }
}

fn balance(statement: &Statement, kind: BalanceKind) -> Option<&saldo_import::ParsedBalance> {
    statement.balances.iter().find(|b| b.kind == kind)
}

fn no_problems(path: &str, problems: &[Problem]) {
    assert!(problems.is_empty(), "{path}: unexpected problems {problems:?}");
}

#[test]
fn every_ofx_file_parses_and_other_files_fail() {
    let files = corpus_files("ofx");
    assert!(files.len() >= 30, "the corpus lists {} OFX files", files.len());
    for path in files {
        let result = common::parse(Format::Ofx, &path);
        if path.ends_with(".beancount") {
            // The beancount ledger next to ofxdownload.ofx is the oracle, not an OFX file.
            let error = result.expect_err(&path);
            assert!(error.expected.contains("<OFX>"), "{path}: {error}");
            assert!(error.at.line.is_some(), "{path}: {error}");
        } else {
            let (statements, _) = result.unwrap_or_else(|e| panic!("{path}: {e}"));
            if !path.ends_with("error_message.ofx") {
                assert!(!statements.is_empty(), "{path}: no statement");
            }
        }
    }
}

#[test]
fn bank_medium() {
    let path = "files/ofx/ofxparse/bank_medium.ofx";
    let f = facts(path);
    let (statements, problems) = ofx(path);
    no_problems(path, &problems);
    // `headers` (OFXHEADER, DATA, VERSION…) are not carried by saldo's model; the one that matters,
    // CHARSET:1252, is applied (no charset problem above).
    assert_eq!(statements.len(), 1);
    let s = &statements[0];
    let account = &s.header.account;
    assert_eq!(account.number.as_deref(), f["account"]["number"].as_str());
    assert_eq!(account.bank_id.as_deref(), f["account"]["routing_number"].as_str());
    assert_eq!(account.branch_id.as_deref(), f["account"]["branch_id"].as_str());
    assert_eq!(account.kind, kind_hint(f["account"]["account_type"].as_str().unwrap()));
    assert_eq!(account.currency.as_deref(), Some("CAD"));
    let st = &f["statement"];
    let closing = balance(s, BalanceKind::Closing).unwrap();
    assert_eq!(closing.amount, dec(&st["balance"]));
    assert_eq!(closing.date, date(&st["balance_date"]));
    let available = balance(s, BalanceKind::ClosingAvailable).unwrap();
    assert_eq!(available.amount, dec(&st["available_balance"]));
    assert_eq!(available.date, date(&st["available_balance_date"]));
    // Neither DTSTART nor DTEND carries a time zone here, so ofxparse's values are the file's.
    assert_eq!(s.header.from, Some(date_time(&st["start_date"])));
    assert_eq!(s.header.to, Some(date_time(&st["end_date"])));
    assert_eq!(s.transactions.len() as u64, f["transaction_count"].as_u64().unwrap());
    let first = &s.transactions[0];
    assert_eq!(first.counterparty.as_deref(), f["first_transaction"]["payee"].as_str());
    assert!(first.code.as_deref().unwrap().eq_ignore_ascii_case(f["first_transaction"]["type"].as_str().unwrap()));
    assert_eq!(first.amount, dec(&f["first_transaction"]["amount"]));
    assert_eq!(first.booking_date, NaiveDate::from_ymd_opt(2009, 4, 1).unwrap());
    assert_eq!(first.provider_id.as_deref(), Some("0000123456782009040100001"));
    // MEMO "POS MERCHANDISE;MCDONALD'S #112" contains NAME: the memo alone describes it.
    assert_eq!(first.description, "POS MERCHANDISE;MCDONALD'S #112");
    assert_eq!(first.at.line, Some(15));
}

#[test]
fn anzcc_starts_with_a_tag() {
    let path = "files/ofx/ofxparse/anzcc.ofx";
    let (statements, problems) = ofx(path);
    no_problems(path, &problems);
    let account = &statements[0].header.account;
    assert_eq!(account.number.as_deref(), facts(path)["account"]["number"].as_str());
    assert_eq!(account.kind, Some(AccountKindHint::CreditCard));
    assert_eq!(statements[0].transactions[0].description, "SOME MEMO");
}

#[test]
fn multiple_accounts2() {
    let path = "files/ofx/ofxparse/multiple_accounts2.ofx";
    let f = facts(path);
    let (statements, problems) = ofx(path);
    no_problems(path, &problems);
    assert_eq!(statements.len() as u64, f["account_count"].as_u64().unwrap());
    for (statement, account) in statements.iter().zip(f["accounts"].as_array().unwrap()) {
        assert_eq!(statement.header.account.number.as_deref(), account["number"].as_str());
        assert_eq!(statement.header.account.bank_id.as_deref(), account["routing_number"].as_str());
        assert_eq!(statement.header.account.kind, kind_hint(account["account_type"].as_str().unwrap()));
    }
    assert_eq!(statements[1].balances[0].amount, dec(&Value::from("222")));
}

#[test]
fn vanguard_unclosed_tags() {
    let path = "files/ofx/ofxparse/vanguard.ofx";
    let f = facts(path);
    let (statements, problems) = ofx(path);
    no_problems(path, &problems);
    let s = &statements[0];
    assert_eq!(s.header.account.kind, Some(AccountKindHint::Investment));
    assert_eq!(s.transactions.len() as u64, f["transaction_count"].as_u64().unwrap());
    let first = &s.transactions[0];
    assert_eq!(first.provider_id.as_deref(), f["first_transaction"]["id"].as_str());
    // ofxparse converts 16:00 EST to 21:00 UTC; saldo keeps the bank's date, the same day here.
    assert_eq!(first.booking_date, date(&f["first_transaction"]["tradeDate"]));
    assert_eq!(first.value_date, Some(date(&f["first_transaction"]["settleDate"])));
    assert_eq!(first.code.as_deref(), Some("SELLMF"));
    assert_eq!(first.amount, dec(&Value::from("4212.3")));
    assert_eq!(first.units, Some(dec(&Value::from("-42.123"))));
    assert_eq!(first.security.as_deref(), Some("012345678"));
    assert_eq!(s.holdings.len() as u64, f["position_count"].as_u64().unwrap());
    assert_eq!(s.holdings[0].units, dec(&f["positions[0].units"]));
    // security_list_count (2) is not carried: the list only names holdings. Both entries have the
    // same CUSIP, so the last one names both positions.
    assert!(s
        .holdings
        .iter()
        .all(|h| h.name.as_deref() == Some("Name of share") && h.ticker.as_deref() == Some("VFIAX")));
    assert_eq!(s.holdings[0].id_type.as_deref(), Some("CUSIP"));
    assert_eq!(s.holdings[0].as_of, NaiveDate::from_ymd_opt(2011, 7, 26));
}

#[test]
fn tiaacref() {
    let path = "files/ofx/ofxparse/tiaacref.ofx";
    let f = facts(path);
    let (statements, problems) = ofx(path);
    no_problems(path, &problems);
    let s = &statements[0];
    assert_eq!(s.header.account.number.as_deref(), f["account"]["account_id"].as_str());
    assert_eq!(s.header.account.kind, kind_hint(f["account"]["type"].as_str().unwrap()));
    assert_eq!(s.transactions.len() as u64, f["transaction_count"].as_u64().unwrap());
    let last = s.transactions.last().unwrap();
    assert_eq!(last.provider_id.as_deref(), f["last_transaction"]["id"].as_str());
    assert!(last.code.as_deref().unwrap().eq_ignore_ascii_case(f["last_transaction"]["type"].as_str().unwrap()));
    let positions = f["positions"].as_array().unwrap();
    assert_eq!(s.holdings.len(), positions.len());
    for (holding, position) in s.holdings.iter().zip(positions) {
        assert_eq!(Some(holding.security_id.as_str()), position["security"].as_str());
        assert_eq!(holding.units, dec(&position["units"]));
        assert_eq!(holding.unit_price, Some(dec(&position["unit_price"])));
        assert_eq!(holding.market_value, Some(dec(&position["market_value"])));
    }
    assert_eq!(s.holdings[2].name.as_deref(), Some("CREF Bond Market R3"));
    assert_eq!(s.holdings[2].ticker.as_deref(), Some("QCBMIX"));
    // 222222126 is not in the security list: no name, still a holding.
    assert_eq!(s.holdings[0].name, None);
    let cash = balance(s, BalanceKind::Closing).unwrap();
    assert_eq!(cash.amount, dec(&Value::from("0")));
}

#[test]
fn fidelity() {
    let path = "files/ofx/ofxparse/fidelity.ofx";
    let f = facts(path);
    let (statements, problems) = ofx(path);
    no_problems(path, &problems);
    let s = &statements[0];
    assert_eq!(s.holdings.len() as u64, f["position_count"].as_u64().unwrap());
    assert_eq!(s.holdings[0].units, dec(&f["positions[0]"]["units"]));
    assert_eq!(s.holdings[0].market_value, Some(dec(&f["positions[0]"]["market_value"])));
    // security_list_count (7) is not carried; what it is for is: every position is named from it.
    assert!(s.holdings.iter().all(|h| h.name.is_some() && h.ticker.is_some()), "{:?}", s.holdings);
    assert_eq!(s.holdings[0].ticker.as_deref(), Some("SDRL"));
    // available_cash is the investment account's closing cash balance. balance_list (BALLIST),
    // margin_balance, short_balance and buy_power have no place in the model and are not read.
    let cash = balance(s, BalanceKind::Closing).unwrap();
    assert_eq!(cash.amount, dec(&f["available_cash"]));
    assert_eq!(cash.date, NaiveDate::from_ymd_opt(2012, 9, 8).unwrap());
    assert_eq!(s.balances.len(), 1);
    // 8 buys, 4 incomes, 2 sells, 3 bank transactions inside INVBANKTRAN.
    assert_eq!(s.transactions.len(), 17);
    let interest = s.transactions.iter().find(|t| t.code.as_deref() == Some("DEP")).unwrap();
    assert_eq!(interest.amount, dec(&Value::from("0.24")));
    assert_eq!(interest.description, "INTEREST EARNED");
    let sold: Vec<_> = s.transactions.iter().filter(|t| t.code.as_deref() == Some("SELLSTOCK")).collect();
    assert_eq!(sold[0].amount, dec(&Value::from("1089.30")));
}

#[test]
fn investment_401k() {
    let path = "files/ofx/ofxparse/investment_401k.ofx";
    let f = facts(path);
    let (statements, problems) = ofx(path);
    no_problems(path, &problems);
    let s = &statements[0];
    for (transaction, fact) in s.transactions.iter().zip(f["transactions_first_3"].as_array().unwrap()) {
        assert_eq!(transaction.provider_id.as_deref(), fact["id"].as_str());
        assert!(transaction.code.as_deref().unwrap().eq_ignore_ascii_case(fact["type"].as_str().unwrap()));
        assert_eq!(transaction.units, Some(dec(&fact["units"])));
        assert_eq!(transaction.amount, dec(&fact["total"]));
        assert_eq!(transaction.security.as_deref(), fact["security"].as_str());
        // unit_price is not carried by a transaction (amount and units are); tferaction is
        // reflected in the sign of the units (IN +6.800992, OUT -9.060702).
    }
    for (holding, fact) in s.holdings.iter().zip(f["positions_first_3"].as_array().unwrap()) {
        assert_eq!(Some(holding.security_id.as_str()), fact["security"].as_str());
        assert_eq!(holding.units, dec(&fact["units"]));
        assert_eq!(holding.unit_price, Some(dec(&fact["unit_price"])));
        assert_eq!(holding.market_value, Some(dec(&fact["market_value"])));
    }
    assert!(s.holdings.iter().all(|h| h.name.is_some()));
}

#[test]
fn empty_tags_v102() {
    let path = "files/ofx/ofxparse/ofx-v102-empty-tags.ofx";
    let f = facts(path);
    let (statements, problems) = ofx(path);
    let account = &statements[0].header.account;
    let fact = &f["accounts[0]"];
    // ofxparse's empty strings are "not given" in saldo's model.
    assert_eq!(fact["branch_id"], "");
    assert_eq!(account.branch_id, None);
    assert_eq!(fact["account_type"], "");
    assert_eq!(account.kind, None);
    assert!(fact["curdef"].is_null());
    assert_eq!(account.currency, None);
    assert_eq!(account.number.as_deref(), fact["account_id"].as_str());
    assert_eq!(account.bank_id.as_deref(), fact["routing_number"].as_str());
    // ofxparse's first warning: "Currency definition was empty for <stmtrs><curdef></curdef>".
    assert!(f["accounts[0].statement.warnings[0] startswith"].as_str().unwrap().contains("<curdef>"));
    assert!(problems[0].message.contains("<CURDEF> is empty"), "{problems:?}");
    assert!(problems[0].at.line.is_some());
    // The empty LEDGERBAL is a problem too, not a balance.
    assert!(statements[0].balances.is_empty());
    assert!(problems.iter().any(|p| p.message.contains("<BALAMT> is empty")), "{problems:?}");
    let t = &statements[0].transactions[0];
    assert_eq!(t.provider_id, None);
    assert_eq!(t.description, "CBA:Transfer");
    // CURDEF is empty, so the transaction's own CURRENCY is its currency.
    assert_eq!(t.currency.as_deref(), Some("AUD"));
}

#[test]
fn suncorp_cdata() {
    let path = "files/ofx/ofxparse/suncorp.ofx";
    let f = facts(path);
    let (statements, problems) = ofx(path);
    no_problems(path, &problems);
    assert_eq!(statements.len() as u64, f["account_count"].as_u64().unwrap());
    assert_eq!(statements[0].transactions.len() as u64, f["transaction_count"].as_u64().unwrap());
    let first = &statements[0].transactions[0];
    assert_eq!(first.counterparty.as_deref(), f["first_transaction"]["payee"].as_str());
    // The memo contains the payee: it is the description.
    assert_eq!(Some(first.description.as_str()), f["first_transaction"]["memo"].as_str());
    assert_eq!(first.amount, dec(&f["first_transaction"]["amount"]));
}

#[test]
fn date_missing_skips_each_transaction_with_a_problem() {
    let path = "files/ofx/ofxparse/fail_nice/date_missing.ofx";
    let f = facts(path);
    let lenient = &f["lenient (fail_fast=False)"];
    let (statements, problems) = ofx(path);
    assert_eq!(statements[0].transactions.len() as u64, lenient["transaction_count"].as_u64().unwrap());
    // ofxparse's "discarded entries" are problems here, one per transaction; its strict mode
    // raises, which saldo leaves to whoever reads the problems.
    assert_eq!(problems.len() as u64, lenient["discarded_entries"].as_u64().unwrap(), "{problems:?}");
    assert!(problems[0].message.contains("no <DTPOSTED>") && problems[0].message.contains("line 33"), "{problems:?}");
    assert!(problems[1].message.contains("<DTPOSTED> is empty") && problems[1].at.line == Some(42), "{problems:?}");
    assert!(problems[2].message.contains("<DTPOSTED> is not a date") && problems[2].message.contains("20120231"));
    assert_eq!(problems[2].at.line, Some(50));
    // The statement itself stands: its balance is read.
    assert_eq!(statements[0].balances.len(), 1);
}

#[test]
fn empty_balance_is_a_problem_not_a_balance() {
    let path = "files/ofx/ofxparse/fail_nice/empty_balance.ofx";
    let f = facts(path);
    let lenient = &f["lenient (fail_fast=False)"];
    let (statements, problems) = ofx(path);
    let s = &statements[0];
    assert_eq!(s.transactions.len() as u64, lenient["transaction_count"].as_u64().unwrap());
    assert_eq!(lenient["has_balance"], false);
    assert_eq!(lenient["has_available_balance"], false);
    assert!(s.balances.is_empty());
    // discarded_entries 0: no transaction skipped; the two balances are reported.
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].message.contains("<LEDGERBAL> at line 37") && problems[0].message.contains("<BALAMT> is empty")
    );
    assert_eq!(problems[0].at.line, Some(38));
    assert!(problems[1].message.contains("<AVAILBAL>") && problems[1].at.line == Some(42), "{problems:?}");
}

#[test]
fn error_message_reports_what_the_bank_said() {
    let path = "files/ofx/ofxparse/error_message.ofx";
    let status = &facts(path)["status"];
    let (statements, problems) = ofx(path);
    // The file is OFX and well formed: not a parse error, but no statement and a problem with the
    // bank's own words.
    assert!(statements.is_empty());
    assert_eq!(problems.len(), 1);
    let message = &problems[0].message;
    assert!(message.contains(&status["code"].to_string()), "{message}");
    assert!(message.contains(status["severity"].as_str().unwrap()), "{message}");
    assert!(message.contains(status["message"].as_str().unwrap()), "{message}");
    assert_eq!(problems[0].at.line, Some(22));
}

#[test]
fn asgrim_files_load() {
    // `header` facts (OFXHEADER, VERSION, SECURITY…) are not carried by saldo's model.
    for name in [
        "ofxdata.ofx",
        "ofxdata-xml.ofx",
        "ofx-multiple-accounts-xml.ofx",
        "ofxdata-oneline.ofx",
        "ofxdata-bb-two-stmtrs.ofx",
        "ofxdata-cmfr.ofx",
        "ofxdata-memoWithAmpersand.ofx",
        "ofxdata-emptyDateTime.ofx",
        "ofxdata-selfclose.ofx",
    ] {
        let path = format!("files/ofx/asgrim-ofxparser/{name}");
        let f = facts(&path);
        let (statements, problems) = ofx(&path);
        assert!(f["loads_without_error"].as_bool().unwrap_or(true));
        assert!(!statements.is_empty(), "{path}");
        if name == "ofxdata-selfclose.ofx" {
            // Its LEDGERBAL has an empty, unclosed <BALAMT>.
            assert_eq!(problems.len(), 1, "{path}: {problems:?}");
            assert!(problems[0].message.contains("<BALAMT> is empty"));
            assert_eq!(statements[0].transactions.len(), 5);
        } else {
            no_problems(&path, &problems);
        }
    }
}

#[test]
fn asgrim_ofxdata_xml() {
    let path = "files/ofx/asgrim-ofxparser/ofxdata-xml.ofx";
    let f = facts(path);
    let (statements, problems) = ofx(path);
    no_problems(path, &problems);
    // `signon` (status 0, INFO, language, FI) is not carried; a non-zero status would be a problem.
    let s = &statements[0];
    let account = &f["bank_account"];
    assert_eq!(s.header.account.number.as_deref(), account["account_number"].as_str());
    assert_eq!(s.header.account.bank_id.as_deref(), account["routing_number"].as_str());
    assert_eq!(s.header.account.kind, kind_hint(account["account_type"].as_str().unwrap()));
    assert_eq!(s.header.account.currency.as_deref(), account["currency"].as_str());
    assert_eq!(balance(s, BalanceKind::Closing).unwrap().amount, dec(&account["balance"]));
    // transaction_uid (TRNUID) is the request's id, not the statement's: not carried.
    assert_eq!(s.transactions.len() as u64, f["transaction_count"].as_u64().unwrap());
    for (t, fact) in s.transactions.iter().zip(f["transactions"].as_array().unwrap()) {
        assert_eq!(t.code.as_deref(), fact["type"].as_str());
        assert_eq!(t.amount, dec(&fact["amount"]));
        assert_eq!(t.provider_id.as_deref(), fact["fitid"].as_str());
        assert_eq!(t.counterparty.as_deref(), fact["name"].as_str());
        let memo = fact["memo"].as_str().unwrap();
        assert!(t.description.contains(memo), "{} / {memo}", t.description);
        // checknum: kept in the description only when there is no name (here there is: "Cheque").
    }
    assert_eq!(s.transactions[0].description, "DEPOSIT / automatic deposit");
    assert_eq!(s.transactions[0].value_date, NaiveDate::from_ymd_opt(2007, 3, 15));
}

#[test]
fn asgrim_multiple_accounts_xml() {
    let path = "files/ofx/asgrim-ofxparser/ofx-multiple-accounts-xml.ofx";
    let (statements, _) = ofx(path);
    assert_eq!(statements.len() as u64, facts(path)["bank_account_count"].as_u64().unwrap());
    assert_eq!(statements[1].transactions.len(), 2);
}

#[test]
fn asgrim_quirks_read_right() {
    let (statements, _) = ofx("files/ofx/asgrim-ofxparser/ofxdata-memoWithAmpersand.ofx");
    let t = &statements[0].transactions;
    assert_eq!(t[0].description, "Amazon.Com.Br Amazon & Cloud 3/3");
    assert_eq!(t[4].description, "IOF de \"Leupay.Eu\" & Whoelse");
    let (statements, _) = ofx("files/ofx/asgrim-ofxparser/ofxdata-bb-two-stmtrs.ofx");
    assert_eq!(statements.len(), 2);
    assert_eq!(statements[0].header.account.number.as_deref(), Some("455000-5"));
    assert_eq!(statements[1].transactions[0].description, "TED-CRÉDITO EM CONTA / check 5322222");
    let (statements, _) = ofx("files/ofx/asgrim-ofxparser/ofxdata-oneline.ofx");
    assert_eq!(statements[0].transactions.len(), 8);
    assert_eq!(statements[0].transactions[7].at.line, Some(10));
    let (statements, _) = ofx("files/ofx/asgrim-ofxparser/ofxdata-emptyDateTime.ofx");
    assert_eq!((statements[0].header.from, statements[0].transactions.len()), (None, 2));
}

#[test]
fn ofxgo_samples_parse() {
    // marshal_roundtrip_equal is about ofxgo's writer: nothing to compare in a reader.
    for path in [
        "files/ofx/ofxgo/busted_responses/bmo_v102__no_header_newline.qfx",
        "files/ofx/ofxgo/busted_responses/wellsfargo.qfx",
        "files/ofx/ofxgo/valid_responses/moneymrkt1_v203.ofx",
        "files/ofx/ofxgo/valid_responses/inv_v202.ofx",
    ] {
        assert_eq!(facts(path)["parses_without_error"], true);
        let (statements, problems) = ofx(path);
        no_problems(path, &problems);
        assert!(!statements.is_empty(), "{path}");
    }
    // The header written without any line break still declares the charset and still ends.
    let (statements, _) = ofx("files/ofx/ofxgo/busted_responses/wellsfargo.qfx");
    assert_eq!(statements[0].transactions[0].description, "AE Visa Card AE EPAY / XXXXX1234");
    let (statements, _) = ofx("files/ofx/ofxgo/valid_responses/moneymrkt1_v203.ofx");
    assert_eq!(statements[0].header.account.kind, Some(AccountKindHint::MoneyMarket));
    assert_eq!(statements[0].transactions[0].amount, dec(&Value::from("1303.7355652284177")));
}

#[test]
fn beangulp_ofxdownload() {
    let path = "files/ofx/beangulp/ofxdownload.ofx";
    let f = facts(path);
    let (statements, problems) = ofx(path);
    no_problems(path, &problems);
    let s = &statements[0];
    let account_id = f["account_id"].as_str().unwrap().split(' ').next().unwrap();
    assert_eq!(s.header.account.number.as_deref(), Some(account_id));
    assert_eq!(s.header.account.currency.as_deref(), f["currency"].as_str());
    assert_eq!(s.transactions.len() as u64, f["transaction_count"].as_u64().unwrap());
    // beangulp's narration is NAME " / " MEMO, saldo's description rule when neither contains
    // the other, so it compares as is.
    for (t, fact) in [
        (s.transactions.first().unwrap(), &f["first_transaction"]),
        (s.transactions.last().unwrap(), &f["last_transaction"]),
    ] {
        assert_eq!(t.booking_date, date(&fact["date"]));
        assert_eq!(t.amount, dec(&fact["amount"]));
        assert_eq!(Some(t.description.as_str()), fact["narration"].as_str());
    }
    let assertion = &f["balance_assertion"];
    let closing = balance(s, BalanceKind::Closing).unwrap();
    assert_eq!(closing.amount, dec(&assertion["amount"]));
    // beancount checks balances at the start of a day: its date is the day after DTASOF.
    assert_eq!(closing.date.succ_opt().unwrap(), date(&assertion["beancount_date"]));
    assert_eq!(s.header.account.kind, Some(AccountKindHint::CreditCard));
}

/// Files with no published oracle, checked against their content by hand.
#[test]
fn files_without_an_oracle() {
    let (statements, problems) = ofx("files/ofx/ofxtools/stmtrs_euro.ofx");
    no_problems("stmtrs_euro", &problems);
    let s = &statements[0];
    assert_eq!(s.transactions[0].amount, dec(&Value::from("-200.00")));
    assert_eq!(s.transactions[0].description, "check 1000");
    assert_eq!(s.balances[0].amount, dec(&Value::from("200.29")));
    let (statements, problems) = ofx("files/ofx/ofxtools/br_nubank_cc.ofx");
    no_problems("br_nubank_cc", &problems);
    assert_eq!(statements[0].transactions.len(), 6);
    assert_eq!(statements[0].balances[0].amount, dec(&Value::from("-1280.91")));
    let (statements, problems) = ofx("files/ofx/fixofx/creditcard.ofx");
    no_problems("creditcard", &problems);
    assert_eq!(statements[0].transactions.len(), 135);
    assert_eq!(statements[0].transactions[3].description, "K&L Wines");
    let (statements, problems) = ofx("files/ofx/beangulp/example.qbo");
    no_problems("example.qbo", &problems);
    assert_eq!(statements.iter().map(|s| s.transactions.len()).sum::<usize>(), 23);
}

/// Bytes of every corpus OFX file, for mutation.
fn corpus_bytes() -> Vec<Vec<u8>> {
    corpus_files("ofx")
        .iter()
        .filter(|p| !p.ends_with(".beancount"))
        .map(|p| std::fs::read(corpus_dir().join(p)).unwrap())
        .collect()
}

fn parse_bytes(bytes: &[u8]) {
    let mut sink = Collect::default();
    let _ = saldo_import::parse(Format::Ofx, bytes, &mut sink);
    // The same bytes a few at a time: tokens split across reads must change nothing.
    let mut chunked = Collect::default();
    let _ = saldo_import::parse(Format::Ofx, std::io::BufReader::with_capacity(7, bytes), &mut chunked);
    assert_eq!(sink.finish(), chunked.finish());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        parse_bytes(&bytes);
        let mut with_header = b"OFXHEADER:100\nCHARSET:1252\n<OFX>".to_vec();
        with_header.extend_from_slice(&bytes);
        parse_bytes(&with_header);
    }

    #[test]
    fn mutated_corpus_files_never_panic(
        file in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..24),
    ) {
        let files = corpus_bytes();
        parse_bytes(&common::damage(files[file.index(files.len())].clone(), &edits));
    }
}
