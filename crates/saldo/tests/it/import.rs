//! `saldo import`, end to end: statement files into accounts, idempotent, all or nothing, and
//! recognising what a sync already brought.

use crate::support::{both_backends, Saldo};
use serde_json::Value;
use std::path::PathBuf;

/// An OFX 1 bank statement of account 12345678 with the given (FITID, date, amount, name) lines.
pub(crate) fn ofx(lines: &[(&str, &str, &str, &str)], ledger: &str) -> String {
    let mut out = String::from(
        "OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\nSECURITY:NONE\r\nENCODING:USASCII\r\nCHARSET:1252\r\n\
         COMPRESSION:NONE\r\nOLDFILEUID:NONE\r\nNEWFILEUID:NONE\r\n\r\n<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0\
         <SEVERITY>INFO</STATUS><DTSERVER>20240131<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1><BANKMSGSRSV1><STMTTRNRS>\
         <TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS><STMTRS><CURDEF>EUR<BANKACCTFROM><BANKID>999<ACCTID>12345678\
         <ACCTTYPE>CHECKING</BANKACCTFROM><BANKTRANLIST><DTSTART>20240101<DTEND>20240131\r\n",
    );
    for (id, date, amount, name) in lines {
        out.push_str(&format!(
            "<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>{date}<TRNAMT>{amount}<FITID>{id}<NAME>{name}</STMTTRN>\r\n"
        ));
    }
    out.push_str(&format!(
        "</BANKTRANLIST><LEDGERBAL><BALAMT>{ledger}<DTASOF>20240131</LEDGERBAL></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\r\n"
    ));
    out
}

pub(crate) fn write(saldo: &Saldo, name: &str, content: &[u8]) -> PathBuf {
    let path = saldo.dir().join(name);
    std::fs::write(&path, content).unwrap();
    path
}

pub(crate) fn import(saldo: &Saldo, args: &[&str]) -> Value {
    let mut all = vec!["import", "--json"];
    all.extend_from_slice(args);
    saldo.json(&all)
}

pub(crate) const JANUARY: [(&str, &str, &str, &str); 3] = [
    ("A1", "20240103", "-12.50", "Coffee"),
    ("A2", "20240105", "-80.00", "Groceries"),
    ("A3", "20240110", "2500.00", "Salary"),
];

both_backends!(ofx_import_creates_the_account_and_is_idempotent, |saldo| {
    let file = write(&saldo, "jan.ofx", ofx(&JANUARY, "2407.50").as_bytes());
    let path = file.to_str().unwrap();

    let first = import(&saldo, &[path]);
    let report = &first["files"][0];
    assert_eq!(report["format"], "ofx");
    assert_eq!(report["error"], Value::Null);
    let statement = &report["statements"][0];
    assert_eq!(statement["account"]["number"], "12345678");
    assert_eq!(statement["account"]["currency"], "EUR");
    assert_eq!(statement["account"]["created"], true);
    assert_eq!(statement["transactions"], 3);
    assert_eq!(statement["sum"], "2407.50", "with the currency's decimals");
    assert_eq!(statement["new"], 3);
    assert_eq!(statement["duplicate"], 0);
    assert_eq!(statement["closing_balance"]["amount"], "2407.50");
    assert_eq!(statement["closing_balance"]["date"], "2024-01-31");
    assert_eq!(statement["balance_points"], 1);
    let account = statement["account"]["id"].as_str().unwrap().to_string();

    let accounts = saldo.json(&["accounts", "--json"]);
    assert_eq!(accounts.as_array().unwrap().len(), 1);
    assert_eq!(accounts[0]["kind"], "cash");
    assert_eq!(accounts[0]["balance"], "2407.50");

    // The same file again: the same account, nothing new.
    let again = import(&saldo, &[path]);
    let statement = &again["files"][0]["statements"][0];
    assert_eq!(statement["account"]["id"], account.as_str());
    assert_eq!(statement["account"]["created"], false);
    assert_eq!((statement["new"].as_u64(), statement["duplicate"].as_u64()), (Some(0), Some(3)));
    assert_eq!(statement["balance_points"], 0);
    let stored = saldo.json(&["transactions", "--account", &account, "--json"]);
    assert_eq!(stored.as_array().unwrap().len(), 3);

    // An overlapping file: two known, one new.
    let february = [JANUARY[1], JANUARY[2], ("A4", "20240201", "-30.00", "Books")];
    let overlap = write(&saldo, "overlap.ofx", ofx(&february, "2377.50").as_bytes());
    let report = import(&saldo, &[overlap.to_str().unwrap()]);
    let statement = &report["files"][0]["statements"][0];
    assert_eq!((statement["new"].as_u64(), statement["duplicate"].as_u64()), (Some(1), Some(2)));
    let stored = saldo.json(&["transactions", "--account", &account, "--json"]);
    assert_eq!(stored.as_array().unwrap().len(), 4);

    // A second coffee of the same price on the same day, with its own id, is a new transaction:
    // only what a sync stored is matched by date and amount.
    let second_coffee = [("A5", "20240103", "-12.50", "Coffee")];
    let file = write(&saldo, "coffee.ofx", ofx(&second_coffee, "2365.00").as_bytes());
    let report = import(&saldo, &[file.to_str().unwrap()]);
    let statement = &report["files"][0]["statements"][0];
    assert_eq!((statement["new"].as_u64(), statement["duplicate"].as_u64()), (Some(1), Some(0)), "{report}");
    let stored = saldo.json(&["transactions", "--account", &account, "--json"]);
    assert_eq!(stored.as_array().unwrap().len(), 5);
});

both_backends!(dry_run_reads_and_writes_nothing, |saldo| {
    let file = write(&saldo, "jan.ofx", ofx(&JANUARY, "2407.50").as_bytes());
    let out = saldo.ok(&["import", "--dry-run", file.to_str().unwrap()]);
    assert!(out.contains("3 transactions, sum 2407.50\n"), "{out}");
    assert!(!out.contains("2407.5\n"), "every figure with its decimals: {out}");
    let report = import(&saldo, &["--dry-run", file.to_str().unwrap()]);
    assert_eq!(report["files"][0]["dry_run"], true);
    assert_eq!(report["files"][0]["statements"][0]["account"]["id"], Value::Null);
    assert_eq!(saldo.json(&["accounts", "--json"]).as_array().unwrap().len(), 0);
});

both_backends!(a_failing_file_writes_nothing_and_says_where, |saldo| {
    let good = write(&saldo, "good.ofx", ofx(&JANUARY, "2407.50").as_bytes());
    // A CAMT message cut off in its second statement: the first statement must not land either.
    let camt = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
        <Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\"><BkToCstmrStmt>\n\
        <GrpHdr><MsgId>1</MsgId><CreDtTm>2024-02-01T00:00:00</CreDtTm></GrpHdr>\n\
        <Stmt><Id>S1</Id><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>\n\
        <Ntry><Amt Ccy=\"EUR\">10.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>\n\
        <BookgDt><Dt>2024-01-02</Dt></BookgDt><AcctSvcrRef>R1</AcctSvcrRef></Ntry></Stmt>\n\
        <Stmt><Id>S2</Id><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>\n\
        <Ntry><Amt Ccy=\"EUR\">5.00</Amt><CdtDbtInd>DBIT";
    let broken = write(&saldo, "broken.xml", camt.as_bytes());
    let output = saldo.run(&["import", "--json", good.to_str().unwrap(), broken.to_str().unwrap()]);
    assert!(!output.status.success(), "a file that fails makes the command fail");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["files"][0]["error"], Value::Null);
    let error = report["files"][1]["error"].as_str().unwrap();
    assert!(error.contains("camt"), "{error}");
    assert_eq!(report["files"][1]["statements"][0]["account"]["id"], Value::Null);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("nothing of them was written"), "{stderr}");
    // Only the good file's account exists.
    let accounts = saldo.json(&["accounts", "--json"]);
    assert_eq!(accounts.as_array().unwrap().len(), 1);

    let unknown = write(&saldo, "notes.bin", b"\x00\x01 binary");
    let err = saldo.fail(&["import", unknown.to_str().unwrap()]);
    assert!(err.contains("not a statement file"), "{err}");
    // The use case says a format may be named; the command line says how.
    let output = saldo.run(&["import", unknown.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("name its format with --format"));
    let output = saldo.run(&["import", "--json", unknown.to_str().unwrap()]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["files"][0]["format_unknown"], true);
});

both_backends!(synced_transactions_are_recognised, |saldo| {
    saldo.json(&["connect", "sandbox-bank", "--yes", "--json"]);
    let accounts = saldo.json(&["accounts", "--json"]);
    let cash = accounts.as_array().unwrap().iter().find(|a| a["kind"] == "cash").unwrap();
    let account = cash["id"].as_str().unwrap().to_string();
    let currency = cash["currency"].as_str().unwrap().to_string();
    let synced = saldo.json(&["transactions", "--account", &account, "--json"]);
    let booked: Vec<&Value> = synced
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "booked" && !t["provider_id"].is_null())
        .take(2)
        .collect();
    assert_eq!(booked.len(), 2, "the sandbox bank has booked transactions");
    // The bank's own export of the same two transactions: other ids, other wording.
    let lines: Vec<(String, String, String, String)> = booked
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let date = t["booking_date"].as_str().unwrap().replace('-', "");
            (format!("EXPORT{i}"), date, t["amount"].as_str().unwrap().to_string(), "CARD PAYMENT".to_string())
        })
        .collect();
    let refs: Vec<(&str, &str, &str, &str)> =
        lines.iter().map(|(a, b, c, d)| (a.as_str(), b.as_str(), c.as_str(), d.as_str())).collect();
    let file =
        write(&saldo, "export.ofx", ofx(&refs, "0").replace("<CURDEF>EUR", &format!("<CURDEF>{currency}")).as_bytes());
    let report = import(&saldo, &["--account", &account, file.to_str().unwrap()]);
    let statement = &report["files"][0]["statements"][0];
    assert_eq!(report["files"][0]["error"], Value::Null, "{report}");
    assert_eq!((statement["new"].as_u64(), statement["duplicate"].as_u64()), (Some(0), Some(2)), "{report}");
    let after = saldo.json(&["transactions", "--account", &account, "--json"]);
    assert_eq!(after.as_array().unwrap().len(), synced.as_array().unwrap().len());
});

both_backends!(csv_layout_is_remembered_per_account, |saldo| {
    saldo.ok(&["account", "add", "--name", "Current", "--kind", "cash", "--currency", "GBP"]);
    // Day first: 13/01 settles it.
    let first =
        write(&saldo, "jan.csv", b"Date,Description,Amount\n13/01/2024,Coffee,-3.20\n14/01/2024,Salary,1500.00\n");
    let report = import(&saldo, &["--account", "Current", first.to_str().unwrap()]);
    assert_eq!(report["files"][0]["statements"][0]["new"], 2, "{report}");
    // A later export whose dates alone could be either way: the saved layout reads it day first.
    let second = write(&saldo, "feb.csv", b"Date,Description,Amount\n02/03/2024,Books,-12.00\n");
    let report = import(&saldo, &["--account", "Current", second.to_str().unwrap()]);
    assert_eq!(report["files"][0]["statements"][0]["new"], 1, "{report}");
    let stored = saldo.json(&["transactions", "--account", "Current", "--json"]);
    let books = stored.as_array().unwrap().iter().find(|t| t["description"] == "Books").unwrap();
    assert_eq!(books["booking_date"], "2024-03-02");
});

/// The total of an account's stored transactions, in minor units, for checking sums by hand.
pub(crate) fn stored_total(saldo: &Saldo, account: &str) -> (usize, i64) {
    let stored = saldo.json(&["transactions", "--account", account, "--json"]);
    let rows = stored.as_array().unwrap();
    let total = rows
        .iter()
        .map(|t| {
            let amount = t["amount"].as_str().unwrap();
            let (units, cents) = amount.split_once('.').unwrap_or((amount, "0"));
            let sign = if units.starts_with('-') { -1 } else { 1 };
            units.parse::<i64>().unwrap() * 100 + sign * format!("{cents:0<2}")[..2].parse::<i64>().unwrap()
        })
        .sum();
    (rows.len(), total)
}

both_backends!(two_spellings_of_one_coffee_in_a_file_are_two_transactions, |saldo| {
    // A CSV without ids: the rows differ only in case and spacing, and they are two coffees.
    let file =
        write(&saldo, "coffee.csv", b"Date,Description,Amount\n2026-11-02,Coffee,-3.50\n2026-11-02,COFFEE ,-3.50\n");
    let report = import(&saldo, &["--currency", "EUR", file.to_str().unwrap()]);
    let statement = &report["files"][0]["statements"][0];
    assert_eq!(report["files"][0]["error"], Value::Null, "{report}");
    assert_eq!((statement["new"].as_u64(), statement["duplicate"].as_u64()), (Some(2), Some(0)), "{report}");
    let account = statement["account"]["id"].as_str().unwrap().to_string();
    assert_eq!(stored_total(&saldo, &account), (2, -700));

    // The same two rows in another file (one spelled a third way): both known, nothing new.
    let again =
        write(&saldo, "again.csv", b"Date,Description,Amount\n2026-11-02,coffee,-3.50\n2026-11-02,Coffee,-3.50\n");
    let report = import(&saldo, &[again.to_str().unwrap()]);
    let statement = &report["files"][0]["statements"][0];
    assert_eq!(statement["account"]["id"], account.as_str(), "{report}");
    assert_eq!((statement["new"].as_u64(), statement["duplicate"].as_u64()), (Some(0), Some(2)), "{report}");
    assert_eq!(stored_total(&saldo, &account), (2, -700));
});

both_backends!(importing_a_file_naming_no_account_again_never_makes_a_second_account, |saldo| {
    let csv = b"Date,Description,Amount\n2026-11-02,Coffee,-3.50\n2026-11-03,Salary,1500.00\n2026-11-04,Rent,-900.00\n";
    let file = write(&saldo, "export.csv", csv);
    let path = file.to_str().unwrap();
    // The file says no currency: saldo does not file it under the base currency, it asks.
    let output = saldo.run(&["import", "--json", path]);
    assert!(!output.status.success());
    let refused: Value = serde_json::from_slice(&output.stdout).unwrap();
    let error = refused["files"][0]["error"].as_str().unwrap();
    assert!(error.contains("does not say its currency") && error.contains("--currency"), "{error}");
    assert_eq!(saldo.json(&["accounts", "--json"]).as_array().unwrap().len(), 0, "nothing written");
    let checked = saldo.ok(&["import", "--dry-run", path]);
    assert!(checked.contains("importing it needs --currency"), "the dry run says so too: {checked}");
    let first = import(&saldo, &["--currency", "EUR", path]);
    let statement = &first["files"][0]["statements"][0];
    assert_eq!(statement["account"]["created"], true, "{first}");
    assert_eq!(statement["new"], 3);
    let account = statement["account"]["id"].as_str().unwrap().to_string();
    let worth = saldo.json(&["networth", "--json"]);

    // The same file again: recognised by its transactions, into the same account, nothing new.
    let again = import(&saldo, &[path]);
    let statement = &again["files"][0]["statements"][0];
    assert_eq!(statement["account"]["id"], account.as_str(), "{again}");
    assert_eq!(statement["account"]["created"], false);
    assert_eq!((statement["new"].as_u64(), statement["duplicate"].as_u64()), (Some(0), Some(3)));
    assert_eq!(saldo.json(&["accounts", "--json"]).as_array().unwrap().len(), 1);
    assert_eq!(stored_total(&saldo, &account), (3, 59650));
    assert_eq!(saldo.json(&["networth", "--json"]), worth, "net worth counts the file once");

    // An overlapping later export: the known rows place it; the new one is added there.
    let later =
        write(&saldo, "later.csv", b"Date,Description,Amount\n2026-11-04,Rent,-900.00\n2026-11-05,Books,-12.00\n");
    let report = import(&saldo, &[later.to_str().unwrap()]);
    let statement = &report["files"][0]["statements"][0];
    assert_eq!(statement["account"]["id"], account.as_str(), "{report}");
    assert_eq!((statement["new"].as_u64(), statement["duplicate"].as_u64()), (Some(1), Some(1)));

    // A file naming no account that shares nothing with it: saldo cannot tell, so it asks,
    // naming the account it may be, and writes nothing.
    let other = write(&saldo, "card.csv", b"Date,Description,Amount\n2026-10-01,Fuel,-60.00\n");
    let output = saldo.run(&["import", "--json", other.to_str().unwrap()]);
    assert!(!output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let error = report["files"][0]["error"].as_str().unwrap();
    assert!(error.contains("names no account") && error.contains("say which account"), "{error}");
    assert_eq!(report["files"][0]["account_candidates"][0]["id"], account.as_str(), "{report}");
    let text = saldo.run(&["import", other.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains(&format!("--account {account}")), "{stdout}");
    assert_eq!(saldo.json(&["accounts", "--json"]).as_array().unwrap().len(), 1);
    // Named, it lands where the user says.
    let report = import(&saldo, &["--account", &account, other.to_str().unwrap()]);
    assert_eq!(report["files"][0]["statements"][0]["new"], 1, "{report}");
    assert_eq!(stored_total(&saldo, &account), (5, 59650 - 1200 - 6000));
});

/// An OFX file cut off in its third transaction, as a broken download leaves it.
fn cut_ofx() -> String {
    let lines = [JANUARY[0], JANUARY[1], JANUARY[2]];
    let whole = ofx(&lines, "2407.50");
    let cut = whole.find("<TRNAMT>2500").unwrap() + "<TRNAMT>25".len();
    whole[..cut].to_string()
}

both_backends!(a_cut_off_file_is_refused_whole_unless_what_it_holds_is_asked_for, |saldo| {
    let file = write(&saldo, "cut.ofx", cut_ofx().as_bytes());
    let path = file.to_str().unwrap();
    let output = saldo.run(&["import", "--json", path]);
    assert!(!output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let error = report["files"][0]["error"].as_str().unwrap();
    assert!(error.contains("ends before it closes") && error.contains("</OFX>"), "{error}");
    let truncated = report["files"][0]["truncated"].as_str().unwrap();
    assert!(truncated.contains("line 14"), "names where it ends: {truncated}");
    assert_eq!(saldo.json(&["accounts", "--json"]).as_array().unwrap().len(), 0, "nothing written");
    let text = saldo.run(&["import", path]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("--accept-truncated"));

    // Asked for, what is whole before the cut lands, and the report says the file was cut.
    let report = import(&saldo, &["--accept-truncated", path]);
    let file_report = &report["files"][0];
    assert_eq!(file_report["error"], Value::Null, "{report}");
    assert!(file_report["truncated"].as_str().unwrap().contains("</OFX>"));
    assert!(file_report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["message"].as_str().unwrap().contains("only what came before was imported")));
    let statement = &file_report["statements"][0];
    assert_eq!(statement["new"], 2, "the transaction the cut went through is left out: {report}");
    let account = statement["account"]["id"].as_str().unwrap();
    assert_eq!(stored_total(&saldo, account), (2, -9250));
});

both_backends!(cut_off_camt_and_mt940_files_are_refused_whole_too, |saldo| {
    let camt = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
        <Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\"><BkToCstmrStmt>\n\
        <GrpHdr><MsgId>1</MsgId><CreDtTm>2024-02-01T00:00:00</CreDtTm></GrpHdr>\n\
        <Stmt><Id>S1</Id><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>\n\
        <Ntry><Amt Ccy=\"EUR\">10.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>\n\
        <BookgDt><Dt>2024-01-02</Dt></BookgDt><AcctSvcrRef>R1</AcctSvcrRef></Ntry>\n\
        <Ntry><Amt Ccy=\"EUR\">5.0";
    let camt = write(&saldo, "cut.xml", camt.as_bytes());
    let mt940 = ":20:STMT1\n:25:DE89370400440532013000\n:28C:1/1\n:60F:C240101EUR100,00\n\
        :61:2401020102D10,00NTRFNONREF\n:86:Coffee\n:61:2401030103C2";
    let mt940 = write(&saldo, "cut.sta", mt940.as_bytes());
    for (file, ends) in [(&camt, "camt at line 7"), (&mt940, "mt940 at line 7")] {
        let output = saldo.run(&["import", "--json", file.to_str().unwrap()]);
        assert!(!output.status.success());
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert!(report["files"][0]["truncated"].as_str().unwrap().contains(ends), "{report}");
        assert_eq!(saldo.json(&["accounts", "--json"]).as_array().unwrap().len(), 0);
    }
    let report = import(&saldo, &["--accept-truncated", camt.to_str().unwrap()]);
    assert_eq!(report["files"][0]["statements"][0]["new"], 1, "{report}");
    // A whole MT940 statement is not cut short.
    let whole = ":20:STMT1\n:25:DE89370400440532013000\n:28C:1/1\n:60F:C240101EUR100,00\n\
        :61:2401020102D10,00NTRFNONREF\n:86:Coffee\n:62F:C240102EUR90,00\n";
    let whole = write(&saldo, "whole.sta", whole.as_bytes());
    let report = import(&saldo, &[whole.to_str().unwrap()]);
    assert_eq!(report["files"][0]["truncated"], Value::Null, "{report}");
    assert_eq!(report["files"][0]["statements"][0]["new"], 1, "{report}");
});

both_backends!(accounts_named_only_by_an_account_column_are_told_apart_and_found_again, |saldo| {
    // An app's export: one file, two accounts, named but with no IBAN or number.
    let csv = b"Date,Account,Description,Amount\n2026-11-02,Checking,Coffee,-3.50\n\
                2026-11-03,Savings,Interest,1.20\n2026-11-04,Checking,Rent,-900.00\n";
    let file = write(&saldo, "export.csv", csv);
    let first = import(&saldo, &["--currency", "SEK", file.to_str().unwrap()]);
    assert_eq!(first["files"][0]["error"], Value::Null, "{first}");
    let currencies: Vec<Value> =
        saldo.json(&["accounts", "--json"]).as_array().unwrap().iter().map(|a| a["currency"].clone()).collect();
    assert_eq!(currencies, ["SEK", "SEK"], "the currency asked for, not the base currency");
    let names: Vec<String> = saldo
        .json(&["accounts", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"Checking".to_string()) && names.contains(&"Savings".to_string()), "{names:?}");
    // Again: each statement finds its account by name; nothing new, no third account.
    let again = import(&saldo, &[file.to_str().unwrap()]);
    assert_eq!(again["files"][0]["error"], Value::Null, "{again}");
    let statements = again["files"][0]["statements"].as_array().unwrap();
    assert!(statements.iter().all(|s| s["new"] == 0 && s["account"]["created"] == false), "{again}");
    assert_eq!(saldo.json(&["accounts", "--json"]).as_array().unwrap().len(), 2);
    assert_eq!(stored_total(&saldo, "Checking"), (2, -90350));
    assert_eq!(stored_total(&saldo, "Savings"), (1, 120));
});

both_backends!(a_statement_in_no_stated_currency_takes_its_entries_currency, |saldo| {
    // The CSV states no currency in a preamble, but each row has one: the account is kept in it.
    let csv = b"Date,Description,Amount,Currency\n2026-11-02,Coffee,-3.50,USD\n2026-11-03,Books,-12.00,USD\n";
    let file = write(&saldo, "usd.csv", csv);
    let report = import(&saldo, &[file.to_str().unwrap()]);
    assert_eq!(report["files"][0]["error"], Value::Null, "{report}");
    assert_eq!(report["files"][0]["statements"][0]["new"], 2, "{report}");
    let accounts = saldo.json(&["accounts", "--json"]);
    assert_eq!(accounts[0]["currency"], "USD", "{accounts}");
});

both_backends!(a_fitid_the_bank_reuses_keeps_both_transactions_and_says_so, |saldo| {
    // The bank gives FITID A1 to two bookings, on other days and of other amounts.
    let reused = [("A1", "20240103", "-12.50", "Coffee"), ("A1", "20240117", "-44.00", "Bookshop")];
    let file = write(&saldo, "statement.ofx", ofx(&reused, "100.00").as_bytes());
    let text = saldo.ok(&["import", file.to_str().unwrap()]);
    assert!(text.contains("new 2, duplicate 0"), "{text}");
    assert!(text.contains("1 under an id already given to another transaction"), "{text}");
    assert!(text.contains("both are kept, told apart by their content"), "a problem says so: {text}");
    // Importing it again adds nothing, and the JSON report counts it the same way.
    let again = import(&saldo, &[file.to_str().unwrap()]);
    let statement = &again["files"][0]["statements"][0];
    assert_eq!((statement["new"].as_u64(), statement["duplicate"].as_u64()), (Some(0), Some(2)), "{again}");
    assert_eq!(statement["reused_ids"].as_u64(), Some(0), "{again}");
    let account = statement["account"]["id"].as_str().unwrap().to_string();
    assert_eq!(stored_total(&saldo, &account), (2, -5650));
});

both_backends!(an_mt940_statement_in_pages_keeps_every_line_and_only_the_final_balance, |saldo| {
    // Two pages of one statement (:62M: then :60M:), a coffee of the same price on each.
    let pages = ":20:STMT1\r\n:25:DE89370400440532013000\r\n:28C:00001/001\r\n:60F:C240101EUR1000,00\r\n\
                 :61:2401020102D3,50NTRFNONREF\r\n:86:Coffee\r\n:62M:C240102EUR996,50\r\n-\r\n\
                 :20:STMT1\r\n:25:DE89370400440532013000\r\n:28C:00001/002\r\n:60M:C240102EUR996,50\r\n\
                 :61:2401020102D3,50NTRFNONREF\r\n:86:Coffee\r\n:62F:C240102EUR993,00\r\n-\r\n";
    let file = write(&saldo, "pages.sta", pages.as_bytes());
    let report = import(&saldo, &[file.to_str().unwrap()]);
    let statements = report["files"][0]["statements"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "{report}");
    assert_eq!((statements[0]["new"].as_u64(), statements[0]["duplicate"].as_u64()), (Some(2), Some(0)), "{report}");
    let account = statements[0]["account"]["id"].as_str().unwrap().to_string();
    assert_eq!(stored_total(&saldo, &account), (2, -700));
    let accounts = saldo.json(&["accounts", "--json"]);
    assert_eq!(accounts[0]["balance"].as_str(), Some("993.00"), "the final balance, not the page's: {accounts}");
});

both_backends!(amounts_finer_than_cents_are_rounded_half_to_even_and_named, |saldo| {
    // A money-market fund's amounts in an OFX file: four decimals, and half a cent.
    let lines = [("R1", "20240103", "115.8331", "Dividend"), ("R2", "20240104", "0.005", "Interest")];
    let file = write(&saldo, "fund.ofx", ofx(&lines, "115.83").as_bytes());
    let dry = import(&saldo, &["--dry-run", file.to_str().unwrap()]);
    let real = import(&saldo, &[file.to_str().unwrap()]);
    for report in [&dry, &real] {
        let problems: Vec<&str> =
            report["files"][0]["problems"].as_array().unwrap().iter().map(|p| p["message"].as_str().unwrap()).collect();
        assert!(problems.iter().any(|p| p.contains("115.8331") && p.contains("stored as 115.83")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("0.005") && p.contains("stored as 0.00")), "{problems:?}");
        assert_eq!(report["files"][0]["statements"][0]["sum"], "115.83", "the sum is what is stored: {report}");
    }
    let account = real["files"][0]["statements"][0]["account"]["id"].as_str().unwrap().to_string();
    assert_eq!(stored_total(&saldo, &account), (2, 11583));
});

both_backends!(a_file_with_unreadable_entries_is_refused_unless_they_are_left_out, |saldo| {
    // The second row's amount is unreadable: it would be silently missing from the account.
    let csv = b"Date,Description,Amount\n2024-01-02,Coffee,-3.50\n2024-01-03,Books,twelve\n2024-01-04,Salary,1500.00\n\
                2024-01-05,Rent,-900.00\n2024-01-06,Bus,-2.40\n";
    let file = write(&saldo, "broken.csv", csv);
    let path = file.to_str().unwrap();
    for dry in [true, false] {
        let mut args = vec!["import", "--json", "--currency", "EUR"];
        if dry {
            args.push("--dry-run");
        }
        args.push(path);
        let output = saldo.run(&args);
        assert!(!output.status.success(), "dry run {dry}");
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        let error = report["files"][0]["error"].as_str().unwrap();
        assert!(error.contains("1 of its entries cannot be read") && error.contains("--skip-unreadable"), "{error}");
        let problems = report["files"][0]["problems"].to_string();
        assert!(problems.contains("twelve"), "the problem names the entry: {problems}");
    }
    assert_eq!(saldo.json(&["accounts", "--json"]).as_array().unwrap().len(), 0, "nothing written");
    // Asked for, the readable rows land and the report counts what was left out.
    let report = import(&saldo, &["--currency", "EUR", "--skip-unreadable", path]);
    assert_eq!(report["files"][0]["error"], Value::Null, "{report}");
    assert_eq!(report["files"][0]["skipped_entries"], 1, "{report}");
    let statement = &report["files"][0]["statements"][0];
    assert_eq!(statement["new"], 4, "{report}");
    let account = statement["account"]["id"].as_str().unwrap().to_string();
    assert_eq!(stored_total(&saldo, &account), (4, 149650 - 90000 - 240));
});

both_backends!(a_statement_in_a_historic_currency_is_refused_never_relabelled, |saldo| {
    let dem = ":20:STMT\r\n:25:37040044/5942859575\r\n:28C:1/1\r\n:60F:C981231DEM1000,00\r\n\
               :61:9901040104D12,35NTRFNONREF\r\n:86:Kaffee\r\n:62F:C990104DEM987,65\r\n-\r\n";
    let file = write(&saldo, "dem.sta", dem.as_bytes());
    for args in
        [&["import", "--json", "--dry-run"][..], &["import", "--json"], &["import", "--json", "--currency", "EUR"]]
    {
        let mut args = args.to_vec();
        args.push(file.to_str().unwrap());
        let output = saldo.run(&args);
        assert!(!output.status.success(), "{args:?}");
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        let error = report["files"][0]["error"].as_str().unwrap();
        assert!(error.contains("\"DEM\"") && error.contains("never relabelled"), "{args:?}: {error}");
    }
    assert_eq!(saldo.json(&["accounts", "--json"]).as_array().unwrap().len(), 0, "nothing written");
});

both_backends!(a_balance_export_gives_balance_points_and_no_transactions, |saldo| {
    let csv = b"Date;Balance\n02.01.2024;996,50\n03.01.2024;3496,50\n04.01.2024;2596,50\n";
    let file = write(&saldo, "balances.csv", csv);
    let report = import(&saldo, &["--currency", "EUR", file.to_str().unwrap()]);
    let statement = &report["files"][0]["statements"][0];
    assert_eq!(report["files"][0]["error"], Value::Null, "{report}");
    assert_eq!(
        (statement["transactions"].as_u64(), statement["balance_points"].as_u64()),
        (Some(0), Some(3)),
        "{report}"
    );
    let accounts = saldo.json(&["accounts", "--json"]);
    assert_eq!(accounts[0]["balance"].as_str(), Some("2596.50"), "the latest balance: {accounts}");
});

both_backends!(a_csv_whose_money_columns_leave_the_amount_open_is_refused_until_one_is_chosen, |saldo| {
    // No header: an amount and its fee, neither the other's running balance.
    let csv = b"2024-01-02,-3.50,-0.10,Coffee\n2024-01-03,-12.00,-0.20,Books\n2024-01-04,-8.00,-0.30,Lunch\n";
    let file = write(&saldo, "card.csv", csv);
    let path = file.to_str().unwrap();
    for args in
        [&["import", "--json", "--currency", "EUR", "--dry-run"][..], &["import", "--json", "--currency", "EUR"]]
    {
        let mut args = args.to_vec();
        args.push(path);
        let output = saldo.run(&args);
        assert!(!output.status.success(), "{args:?}");
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        let error = report["files"][0]["error"].as_str().unwrap();
        assert!(error.contains("columns 2, 3") && error.contains("amount column"), "{args:?}: {error}");
    }
    assert_eq!(saldo.json(&["accounts", "--json"]).as_array().unwrap().len(), 0, "nothing written");

    let report = import(&saldo, &["--currency", "EUR", "--amount-column", "2", path]);
    let statement = &report["files"][0]["statements"][0];
    assert_eq!(statement["new"], 3, "{report}");
    let account = statement["account"]["id"].as_str().unwrap().to_string();
    assert_eq!(stored_total(&saldo, &account), (3, -2350), "the amounts, not the fees");
    // The layout is kept for the account: the next export of it needs no choice.
    let next = write(&saldo, "card-next.csv", b"2024-01-05,-4.00,-0.10,Tea\n2024-01-06,-6.00,-0.20,Cake\n");
    let report = import(&saldo, &["--account", &account, next.to_str().unwrap()]);
    assert_eq!(report["files"][0]["statements"][0]["new"], 2, "{report}");
    assert_eq!(stored_total(&saldo, &account), (5, -3350));
});
