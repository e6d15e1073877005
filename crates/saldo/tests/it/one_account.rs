//! Every real account once, every transaction once: one account's statements of two formats, its
//! imports and its bank connection, brought together as one account with no transaction twice.

use crate::import::{import, stored_total, write};
use crate::support::{both_backends, Saldo};
use serde_json::Value;

/// One German account's January as its bank's MT940 gives it: `BLZ/number`, no IBAN.
const MT940: &str = ":20:STARTUMS\r\n:25:37040044/5942859575\r\n:28C:0\r\n:60F:C240101EUR1000,00\r\n\
    :61:2401020102DR3,50NMSCNONREF\r\n:86:005?00KARTENZAHLUNG?20CAFE ANNA KOELN\r\n\
    :61:2401020102DR3,50NMSCNONREF\r\n:86:005?00KARTENZAHLUNG?20CAFE ANNA KOELN\r\n\
    :61:2401040104CR2500,00NMSCNONREF\r\n:86:051?00GEHALT?20ACME GMBH JANUAR\r\n\
    :62F:C240104EUR3493,00\r\n-\r\n";

/// The same account's CAMT.053 for a longer period: the same three bookings in other words and
/// under the bank's references, and one more.
fn camt(iban: &str) -> String {
    let entry = |amount: &str, sign: &str, day: &str, reference: &str, text: &str| {
        format!(
            "<Ntry><Amt Ccy=\"EUR\">{amount}</Amt><CdtDbtInd>{sign}</CdtDbtInd><Sts>BOOK</Sts>\
             <BookgDt><Dt>{day}</Dt></BookgDt><AcctSvcrRef>{reference}</AcctSvcrRef>\
             <NtryDtls><TxDtls><RmtInf><Ustrd>{text}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n"
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\"><BkToCstmrStmt>\n\
         <GrpHdr><MsgId>1</MsgId><CreDtTm>2024-02-01T00:00:00</CreDtTm></GrpHdr>\n\
         <Stmt><Id>S1</Id><Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>\n{}{}{}{}</Stmt></BkToCstmrStmt></Document>\n",
        entry("3.50", "DBIT", "2024-01-02", "2024010200001", "Cafe Anna, Koeln, Karte 1234"),
        entry("3.50", "DBIT", "2024-01-02", "2024010200002", "Cafe Anna, Koeln, Karte 1234"),
        entry("2500.00", "CRDT", "2024-01-04", "2024010400001", "ACME GmbH Gehalt Januar"),
        entry("20.00", "DBIT", "2024-01-05", "2024010500001", "Buchhandlung"),
    )
}

/// An amount with two decimals, in cents.
fn cents(amount: &str) -> i64 {
    amount.replace('.', "").parse().unwrap()
}

fn accounts(saldo: &Saldo) -> Vec<Value> {
    saldo.json(&["accounts", "--json"]).as_array().unwrap().clone()
}

both_backends!(an_account_s_mt940_and_its_camt_are_one_account_with_each_booking_once, |saldo| {
    let mt940 = write(&saldo, "januar.sta", MT940.as_bytes());
    let first = import(&saldo, &[mt940.to_str().unwrap()]);
    assert_eq!(first["files"][0]["statements"][0]["new"], 3, "{first}");
    // The CAMT names the account by the IBAN that BLZ and number make: the same account.
    let camt = write(&saldo, "januar.xml", camt("DE65370400445942859575").as_bytes());
    let second = import(&saldo, &[camt.to_str().unwrap()]);
    let statement = &second["files"][0]["statements"][0];
    assert_eq!(statement["account"]["created"], false, "{second}");
    assert_eq!((statement["new"].as_u64(), statement["duplicate"].as_u64()), (Some(1), Some(3)), "{second}");
    assert_eq!(accounts(&saldo).len(), 1);
    let account = statement["account"]["id"].as_str().unwrap().to_string();
    assert_eq!(stored_total(&saldo, &account), (4, 247_300), "two coffees, the salary, the book");

    // Both files again, either order: nothing new.
    for file in [&mt940, &camt] {
        let again = import(&saldo, &[file.to_str().unwrap()]);
        assert_eq!(again["files"][0]["statements"][0]["new"], 0, "{again}");
    }
    assert_eq!(stored_total(&saldo, &account), (4, 247_300));
});

both_backends!(a_file_forced_into_an_account_another_source_filled_adds_only_what_is_new, |saldo| {
    // A CAMT of an account under an IBAN saldo cannot tie to the MT940's number: the user says
    // which account with --account, and the bookings already there are recognised by content.
    let mt940 = write(&saldo, "januar.sta", MT940.as_bytes());
    let first = import(&saldo, &[mt940.to_str().unwrap()]);
    let account = first["files"][0]["statements"][0]["account"]["id"].as_str().unwrap().to_string();
    let camt = write(&saldo, "januar.xml", camt("DE02120300000000202051").as_bytes());
    let second = import(&saldo, &["--account", &account, camt.to_str().unwrap()]);
    let statement = &second["files"][0]["statements"][0];
    assert_eq!((statement["new"].as_u64(), statement["duplicate"].as_u64()), (Some(1), Some(3)), "{second}");
    assert_eq!(stored_total(&saldo, &account), (4, 247_300));
});

/// A CAMT.053 of `transactions` (as `saldo transactions --json` lists them, booked ones only) in
/// the bank's export words: other texts, the file's own references.
fn camt_of(iban: &str, currency: &str, transactions: &[Value]) -> String {
    let entries: String = transactions
        .iter()
        .filter(|t| t["status"] == "booked")
        .enumerate()
        .map(|(n, t)| {
            let amount = t["amount"].as_str().unwrap();
            let (sign, amount) = match amount.strip_prefix('-') {
                Some(debit) => ("DBIT", debit),
                None => ("CRDT", amount),
            };
            format!(
                "<Ntry><Amt Ccy=\"{currency}\">{amount}</Amt><CdtDbtInd>{sign}</CdtDbtInd><Sts>BOOK</Sts>\
                 <BookgDt><Dt>{}</Dt></BookgDt><AcctSvcrRef>EXPORT-{n}</AcctSvcrRef>\
                 <NtryDtls><TxDtls><RmtInf><Ustrd>Umsatz {n}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n",
                t["booking_date"].as_str().unwrap()
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\"><BkToCstmrStmt>\n\
         <GrpHdr><MsgId>1</MsgId><CreDtTm>2024-02-01T00:00:00</CreDtTm></GrpHdr>\n\
         <Stmt><Id>S1</Id><Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>{currency}</Ccy></Acct>\n{entries}</Stmt>\
         </BkToCstmrStmt></Document>\n"
    )
}

both_backends!(an_imported_account_tracked_at_the_bank_is_linked_not_doubled, |saldo| {
    let connected = saldo.json(&["connect", "sandbox-bank", "--yes", "--json"]);
    let connection = connected["connection_id"].as_str().unwrap().to_string();
    let cash = connected["items"].as_array().unwrap().iter().find(|i| i["kind"] == "cash").unwrap().clone();
    let (item, iban, currency) =
        (cash["id"].as_str().unwrap(), cash["iban"].as_str().unwrap(), cash["currency"].as_str().unwrap());
    let account = cash["account_id"].as_str().unwrap().to_string();
    let held = saldo.json(&["transactions", "--account", &account, "--json"]).as_array().unwrap().clone();
    let export = write(&saldo, "export.xml", camt_of(iban, currency, &held).as_bytes());
    let booked = held.iter().filter(|t| t["status"] == "booked").count();

    // The household deletes the account, imports its bank export, then tracks the item again.
    saldo.ok(&["account", "delete", &account, "--yes"]);
    let items = saldo.json(&["items", &connection, "--json"]);
    let offered = items.as_array().unwrap().iter().find(|i| i["id"] == item).unwrap().clone();
    assert_eq!((offered["decision"].as_str(), &offered["account_id"]), (Some("offered"), &Value::Null), "{offered}");
    let imported = import(&saldo, &[export.to_str().unwrap()]);
    let statement = &imported["files"][0]["statements"][0];
    assert_eq!(statement["new"].as_u64(), Some(booked as u64), "{imported}");
    let imported_account = statement["account"]["id"].as_str().unwrap().to_string();

    // Before tracking, the item says where it goes.
    let items = saldo.json(&["items", &connection, "--json"]);
    let offered = items.as_array().unwrap().iter().find(|i| i["id"] == item).unwrap().clone();
    assert_eq!(offered["links_to"][0]["account_id"], imported_account.as_str(), "{offered}");
    let listed = saldo.ok(&["items", &connection]);
    assert!(listed.contains("will be linked to"), "{listed}");

    saldo.ok(&["track", &connection, item]);
    let accounts = saldo.json(&["accounts", "--json"]);
    assert_eq!(accounts.as_array().unwrap().len(), 3, "the imported account is the item's: {accounts}");
    let items = saldo.json(&["items", &connection, "--json"]);
    let tracked = items.as_array().unwrap().iter().find(|i| i["id"] == item).unwrap().clone();
    assert_eq!(tracked["account_id"], imported_account.as_str(), "{tracked}");
    // The sync matched the bank's bookings to the imported ones: each once.
    let after = saldo.json(&["transactions", "--account", &imported_account, "--json"]);
    let after = after.as_array().unwrap();
    assert_eq!(after.iter().filter(|t| t["status"] == "booked").count(), booked, "no booking twice");
    assert_eq!(after.len(), held.len(), "the pending ones came back from the bank");
});

both_backends!(the_user_may_link_an_item_to_another_account_than_the_one_it_matches, |saldo| {
    let connected = saldo.json(&["connect", "sandbox-bank", "--yes", "--no-track", "--json"]);
    let connection = connected["connection_id"].as_str().unwrap().to_string();
    let cash = connected["items"].as_array().unwrap().iter().find(|i| i["kind"] == "cash").unwrap().clone();
    let (item, iban, currency) =
        (cash["id"].as_str().unwrap(), cash["iban"].as_str().unwrap(), cash["currency"].as_str().unwrap());
    let export = write(&saldo, "empty.xml", camt_of(iban, currency, &[]).as_bytes());
    let first = import(&saldo, &[export.to_str().unwrap()]);
    let first_account = first["files"][0]["statements"][0]["account"]["id"].as_str().unwrap().to_string();
    saldo.ok(&["account", "add", "--name", "Second", "--kind", "cash", "--currency", currency]);
    let accounts = saldo.json(&["accounts", "--json"]);
    let second = accounts.as_array().unwrap().iter().find(|a| a["name"] == "Second").unwrap()["id"].clone();
    let second = second.as_str().unwrap();
    // Only an account that carries the IBAN is a match: the one the import made.
    let items = saldo.json(&["items", &connection, "--json"]);
    let offered = items.as_array().unwrap().iter().find(|i| i["id"] == item).unwrap().clone();
    let links: Vec<&str> =
        offered["links_to"].as_array().unwrap().iter().map(|l| l["account_id"].as_str().unwrap()).collect();
    assert_eq!(links, [first_account.as_str()], "{offered}");
    // The user knows better: the item feeds the account they name, which keeps what it had.
    let err = saldo.fail(&["track", &connection, item, "--as", "nope"]);
    assert!(err.contains("nope"), "{err}");
    saldo.ok(&["track", &connection, item, "--as", second]);
    let items = saldo.json(&["items", &connection, "--json"]);
    let tracked = items.as_array().unwrap().iter().find(|i| i["id"] == item).unwrap().clone();
    assert_eq!(tracked["account_id"], second, "the account the user chose: {tracked}");
    let accounts = saldo.json(&["accounts", "--json"]);
    assert_eq!(accounts.as_array().unwrap().len(), 2, "no third account: {accounts}");
});

both_backends!(a_connection_with_nothing_tracked_spends_no_access, |saldo| {
    let connected = saldo.json(&["connect", "sandbox-bank", "--yes", "--no-track", "--json"]);
    let connection = connected["connection_id"].as_str().unwrap().to_string();
    // Due or not, nothing tracked is nothing fetched: the scheduler passes it by.
    assert_eq!(saldo.json(&["sync", "--json"]), serde_json::json!([]));
    let err = saldo.fail(&["sync", "--connection", &connection]);
    assert!(err.contains("nothing of this connection is tracked"), "{err}");
    let history = saldo.json(&["connections", "--json"]);
    assert_eq!(history[0]["last_success_at"], Value::Null, "no sync ran: {history}");
    // Once something is tracked, it is fetched.
    let item = connected["items"][0]["id"].as_str().unwrap();
    saldo.ok(&["track", &connection, item]);
    assert!(saldo.json(&["connections", "--json"])[0]["last_success_at"].is_string());
});

both_backends!(a_closed_account_counts_up_to_its_closing_day_and_a_kept_one_goes_on, |saldo| {
    #[allow(clippy::disallowed_methods)] // The CLI runs on the real clock.
    let today = chrono::Utc::now().date_naive();
    let tomorrow = (today + chrono::Days::new(1)).to_string();
    let worth = |date: &str| saldo.json(&["networth", "--date", date, "--json"])["total"].as_str().unwrap().to_string();
    // Two connections of the sandbox bank, one closed at disconnect, one kept as manual accounts.
    let closed =
        saldo.json(&["connect", "sandbox-bank", "--yes", "--json"])["connection_id"].as_str().unwrap().to_string();
    let only_closed = worth(&tomorrow);
    assert_ne!(only_closed, "0.00");
    let kept =
        saldo.json(&["connect", "sandbox-bank", "--yes", "--json"])["connection_id"].as_str().unwrap().to_string();
    let both = worth(&tomorrow);

    saldo.ok(&["disconnect", &closed]);
    assert_eq!(worth(&today.to_string()), both, "counted on the day it closed");
    let expected = cents(&both) - cents(&only_closed);
    assert_eq!(cents(&worth(&tomorrow)), expected, "not after it closed");

    saldo.ok(&["disconnect", &kept, "--keep-as-manual"]);
    let manual = saldo.json(&["accounts", "--json"]);
    let manual: Vec<&Value> = manual.as_array().unwrap().iter().filter(|a| a["origin"] == "manual").collect();
    assert_eq!(manual.len(), 3, "the kept connection's accounts are manual now");
    assert!(manual.iter().all(|a| a["closed"] == false));
    assert_eq!(cents(&worth(&tomorrow)), expected, "still counted, at their last balance");
    // A manual account is valued by hand.
    let id = manual[0]["id"].as_str().unwrap();
    saldo.ok(&["valuation", "set", id, "1", "--date", &tomorrow]);
});

both_backends!(a_net_worth_names_what_it_leaves_out_and_the_old_rates_it_uses, |saldo| {
    saldo.ok(&["account", "add", "--name", "Flat", "--kind", "real_estate", "--currency", "EUR", "--value", "1000"]);
    // A statement without a balance: the import says what that means.
    let csv = b"Date,Description,Amount\n2026-11-02,Coffee,-3.50\n2026-11-03,Salary,1500.00\n";
    let file = write(&saldo, "no-balance.csv", csv);
    let report = import(&saldo, &["--currency", "EUR", file.to_str().unwrap()]);
    let problems = report["files"][0]["problems"].to_string();
    assert!(problems.contains("states no balance"), "{problems}");
    let imported = report["files"][0]["statements"][0]["account"]["id"].as_str().unwrap().to_string();
    // A yen account, and no rate for the yen at all.
    saldo.ok(&["account", "add", "--name", "Tokyo", "--kind", "cash", "--currency", "JPY", "--value", "150000"]);

    let worth = saldo.json(&["networth", "--json"]);
    assert_eq!(worth["total"], "1000.00", "what can be counted is: {worth}");
    let left: Vec<(&str, &str)> = worth["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["name"].as_str().unwrap(), l["reason"].as_str().unwrap()))
        .collect();
    assert!(left.contains(&("Tokyo", "no_rate")) && left.iter().any(|(_, r)| *r == "no_balance"), "{worth}");
    let text = saldo.ok(&["networth"]);
    assert!(text.contains("left out: Tokyo") && text.contains("no exchange rate for JPY"), "{text}");

    // The imported account takes a valuation and counts from then on.
    saldo.ok(&["valuation", "set", &imported, "1496.50"]);
    let worth = saldo.json(&["networth", "--json"]);
    assert_eq!(worth["total"], "2496.50", "{worth}");
    assert_eq!(worth["left_out"].as_array().unwrap().len(), 1, "{worth}");

    // A yen rate from three years ago is used, and said to be old.
    let rates = write(&saldo, "old.csv", b"Date, JPY, \n02 November 2023, 160.00, \n");
    saldo.ok(&["fx", "import", rates.to_str().unwrap()]);
    let worth = saldo.json(&["networth", "--json"]);
    assert_eq!(worth["total"], "3434.00", "150000 JPY at 160 per euro: {worth}");
    assert_eq!(worth["stale_rates"][0]["currency"], "JPY", "{worth}");
    assert_eq!(worth["stale_rates"][0]["published"], "2023-11-02", "{worth}");
    assert!(saldo.ok(&["networth"]).contains("over a week old"));
});

/// A broker's OFX investment statement: two positions worth 2,000 and 2,200 USD, and 300 USD cash.
const INVESTMENT_OFX: &str = "OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\nSECURITY:NONE\r\nENCODING:USASCII\r\n\
    CHARSET:1252\r\nCOMPRESSION:NONE\r\nOLDFILEUID:NONE\r\nNEWFILEUID:NONE\r\n\r\n\
    <OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS><DTSERVER>20240131<LANGUAGE>ENG</SONRS>\
    </SIGNONMSGSRSV1><INVSTMTMSGSRSV1><INVSTMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>\
    <INVSTMTRS><DTASOF>20240131<CURDEF>USD<INVACCTFROM><BROKERID>broker.example<ACCTID>INV-77</INVACCTFROM>\
    <INVTRANLIST><DTSTART>20240101<DTEND>20240131</INVTRANLIST><INVPOSLIST>\
    <POSSTOCK><INVPOS><SECID><UNIQUEID>US0378331005<UNIQUEIDTYPE>ISIN</SECID><HELDINACCT>CASH<POSTYPE>LONG\
    <UNITS>10<UNITPRICE>200<MKTVAL>2000<DTPRICEASOF>20240131</INVPOS></POSSTOCK>\
    <POSMF><INVPOS><SECID><UNIQUEID>US9229087690<UNIQUEIDTYPE>ISIN</SECID><HELDINACCT>CASH<POSTYPE>LONG\
    <UNITS>20<UNITPRICE>110<MKTVAL>2200<DTPRICEASOF>20240131</INVPOS></POSMF></INVPOSLIST>\
    <INVBAL><AVAILCASH>300<MARGINBALANCE>0<SHORTBALANCE>0</INVBAL></INVSTMTRS></INVSTMTTRNRS></INVSTMTMSGSRSV1>\
    <SECLISTMSGSRSV1><SECLIST><STOCKINFO><SECINFO><SECID><UNIQUEID>US0378331005<UNIQUEIDTYPE>ISIN</SECID>\
    <SECNAME>Apple Inc<TICKER>AAPL</SECINFO></STOCKINFO><MFINFO><SECINFO><SECID><UNIQUEID>US9229087690\
    <UNIQUEIDTYPE>ISIN</SECID><SECNAME>Vanguard Total Stock Market<TICKER>VTI</SECINFO></MFINFO></SECLIST>\
    </SECLISTMSGSRSV1></OFX>\r\n";

both_backends!(an_imported_investment_account_is_worth_its_cash_and_its_positions, |saldo| {
    let file = write(&saldo, "broker.ofx", INVESTMENT_OFX.as_bytes());
    let report = import(&saldo, &[file.to_str().unwrap()]);
    let statement = &report["files"][0]["statements"][0];
    assert_eq!(statement["holdings"], 2, "{report}");
    let account = statement["account"]["id"].as_str().unwrap().to_string();
    let accounts = saldo.json(&["accounts", "--json"]);
    assert_eq!(accounts[0]["balance"], "4500.00", "300 cash + 2,000 + 2,200: {accounts}");
    assert_eq!(accounts[0]["holdings"].as_array().unwrap().len(), 2, "and its JSON lists them: {accounts}");
    let worth = saldo.json(&["networth", "--date", "2024-02-01", "--currency", "USD", "--json"]);
    assert_eq!(worth["total"], "4500.00", "{worth}");

    let holdings = saldo.json(&["holdings", &account, "--json"]);
    let listed: Vec<(&str, &str)> = holdings
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["ticker"].as_str().unwrap(), h["market_value"].as_str().unwrap()))
        .collect();
    assert_eq!(listed.len(), 2, "{holdings}");
    assert!(listed.contains(&("AAPL", "2000.00")) && listed.contains(&("VTI", "2200.00")), "{holdings}");
    assert!(saldo.ok(&["holdings", &account]).contains("Vanguard Total Stock Market"));

    // The same statement again changes nothing.
    import(&saldo, &[file.to_str().unwrap()]);
    assert_eq!(saldo.json(&["accounts", "--json"])[0]["balance"], "4500.00");
});

both_backends!(untracking_an_account_stops_its_item_and_tracking_it_again_resumes, |saldo| {
    let connected = saldo.json(&["connect", "sandbox-bank", "--yes", "--json"]);
    let connection = connected["connection_id"].as_str().unwrap().to_string();
    let cash = connected["items"].as_array().unwrap().iter().find(|i| i["kind"] == "cash").unwrap().clone();
    let account = cash["account_id"].as_str().unwrap().to_string();
    let decision = |saldo: &Saldo| {
        let items = saldo.json(&["items", &connection, "--json"]);
        let item = items.as_array().unwrap().iter().find(|i| i["id"] == cash["id"]).unwrap().clone();
        (item["decision"].as_str().unwrap().to_string(), item["account_id"].as_str().map(str::to_string))
    };
    saldo.ok(&["account", "edit", &account, "--untrack"]);
    assert_eq!(decision(&saldo), ("ignored".to_string(), Some(account.clone())), "items shows it");
    // Tracking the item again resumes into the same account, which counts again.
    saldo.ok(&["track", &connection, cash["id"].as_str().unwrap()]);
    assert_eq!(decision(&saldo), ("tracked".to_string(), Some(account.clone())));
    let accounts = saldo.json(&["accounts", "--json"]);
    let again = accounts.as_array().unwrap().iter().find(|a| a["id"] == account.as_str()).unwrap().clone();
    assert_eq!((again["tracked"].as_bool(), accounts.as_array().unwrap().len()), (Some(true), 3), "{accounts}");
    // And from the account's side too.
    saldo.ok(&["account", "edit", &account, "--untrack"]);
    saldo.ok(&["account", "edit", &account, "--track"]);
    assert_eq!(decision(&saldo), ("tracked".to_string(), Some(account)));
});

both_backends!(a_dry_run_into_a_named_account_previews_what_is_new_and_writes_nothing, |saldo| {
    let january = [("A1", "20240102", "-12.50", "Coffee"), ("A2", "20240103", "2500.00", "Salary")];
    let file = write(&saldo, "jan.ofx", crate::import::ofx(&january, "2487.50").as_bytes());
    let first = import(&saldo, &[file.to_str().unwrap()]);
    let account = first["files"][0]["statements"][0]["account"]["id"].as_str().unwrap().to_string();
    let more = [january[0], january[1], ("A3", "20240104", "-80.00", "Groceries")];
    let next = write(&saldo, "jan-feb.ofx", crate::import::ofx(&more, "2407.50").as_bytes());

    let preview = import(&saldo, &["--dry-run", "--account", &account, next.to_str().unwrap()]);
    let statement = &preview["files"][0]["statements"][0];
    assert_eq!(preview["files"][0]["dry_run"], true);
    assert_eq!(statement["account"]["id"], account.as_str(), "{preview}");
    assert_eq!((statement["new"].as_u64(), statement["duplicate"].as_u64()), (Some(1), Some(2)), "{preview}");
    let text = saldo.ok(&["import", "--dry-run", "--account", &account, next.to_str().unwrap()]);
    assert!(text.contains("would be new 1, duplicate 2"), "{text}");
    assert_eq!(stored_total(&saldo, &account), (2, 248_750), "nothing written");
    assert_eq!(saldo.json(&["accounts", "--json"])[0]["balance"], "2487.50", "nor a balance");
});
