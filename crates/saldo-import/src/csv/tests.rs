#![allow(clippy::unwrap_used)]

use super::*;
use crate::statement::{Collect, Statement};
use std::str::FromStr;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn run(bytes: &[u8], profile: Option<&CsvProfile>) -> Result<(CsvProfile, Vec<Statement>, Vec<Problem>), ParseError> {
    let mut sink = Collect::default();
    let profile = parse(bytes, profile, &mut sink)?;
    let (statements, problems) = sink.finish();
    Ok((profile, statements, problems))
}

fn amounts(statements: &[Statement]) -> Vec<Decimal> {
    statements.iter().flat_map(|s| s.transactions.iter().map(|t| t.amount)).collect()
}

#[test]
fn each_separator_is_found() {
    for sep in [';', ',', '\t', '|'] {
        let text =
            format!("Date{sep}Amount{sep}Description\n2024-01-02{sep}-1.50{sep}Coffee\n2024-01-03{sep}20{sep}Refund\n");
        let (profile, statements, _) = run(text.as_bytes(), None).unwrap();
        assert_eq!(profile.delimiter, sep);
        assert_eq!(amounts(&statements), [dec("-1.50"), dec("20")], "{sep:?}");
        assert_eq!(statements[0].transactions[0].description, "Coffee");
    }
}

#[test]
fn decimal_comma_and_thousands() {
    let text = "Buchungstag;Betrag;Verwendungszweck\n02.01.2024;-1.234,56;Miete\n03.01.2024;12,5;Zinsen\n";
    let (profile, statements, _) = run(text.as_bytes(), None).unwrap();
    assert!(profile.decimal_comma);
    assert_eq!(profile.date_format, DateFormat::DmyDot);
    assert_eq!(amounts(&statements), [dec("-1234.56"), dec("12.5")]);
    // Comma-separated with a decimal comma in quotes.
    let text = "Date,Amount,Text\n2024-01-02,\"-1,50\",A\n2024-01-03,\"2,25\",B\n";
    let (profile, statements, _) = run(text.as_bytes(), None).unwrap();
    assert!(profile.decimal_comma);
    assert_eq!(amounts(&statements), [dec("-1.50"), dec("2.25")]);
}

#[test]
fn each_date_format_is_detected() {
    let cases: [(DateFormat, [&str; 2]); 9] = [
        (DateFormat::YmdDash, ["2024-01-05", "2024-01-20"]),
        (DateFormat::YmdSlash, ["2024/1/5", "2024/1/20"]),
        (DateFormat::YmdDot, ["2024.01.05", "2024.01.20"]),
        (DateFormat::YmdCompact, ["20240105", "20240120"]),
        (DateFormat::DmyDot, ["05.01.2024", "20.01.2024"]),
        (DateFormat::DmySlash, ["05/01/2024", "20/01/2024"]),
        (DateFormat::DmyDash, ["05-01-2024", "20-01-2024"]),
        (DateFormat::MdySlash, ["01/05/2024", "01/20/2024"]),
        (DateFormat::MdyDash, ["01-05-2024", "01-20-2024"]),
    ];
    for (format, [a, b]) in cases {
        let text = format!("Date;Amount;Text\n{a};-1.00;x\n{b};2.00;y\n");
        let (profile, statements, problems) = run(text.as_bytes(), None).unwrap();
        assert_eq!(profile.date_format, format, "{a}");
        let t = &statements[0].transactions;
        assert_eq!((t[0].booking_date, t[1].booking_date), (day(2024, 1, 5), day(2024, 1, 20)), "{a}");
        assert!(problems.is_empty(), "{a}: {problems:?}");
    }
}

#[test]
fn ambiguous_dates_follow_the_decimal_mark_and_say_so() {
    // No day above 12: a decimal comma suggests a European day-first order.
    let text = "Datum;Betrag;Text\n05/01/2024;-1,00;x\n06/02/2024;2,50;y\n";
    let (profile, statements, problems) = run(text.as_bytes(), None).unwrap();
    assert_eq!(profile.date_format, DateFormat::DmySlash);
    assert_eq!(statements[0].transactions[0].booking_date, day(2024, 1, 5));
    assert_eq!(problems.len(), 1);
    assert!(problems[0].message.contains("DD/MM/YYYY"), "{problems:?}");
    // A decimal point suggests month first.
    let text = "Date,Amount,Text\n05/01/2024,-1.00,x\n06/02/2024,2.50,y\n";
    let (profile, statements, problems) = run(text.as_bytes(), None).unwrap();
    assert_eq!(profile.date_format, DateFormat::MdySlash);
    assert_eq!(statements[0].transactions[0].booking_date, day(2024, 5, 1));
    assert_eq!(problems.len(), 1);
    // A day above 12 anywhere settles it without a problem.
    let text = "Date,Amount,Text\n05/01/2024,-1.00,x\n13/02/2024,2.50,y\n";
    let (profile, _, problems) = run(text.as_bytes(), None).unwrap();
    assert_eq!(profile.date_format, DateFormat::DmySlash);
    assert!(problems.is_empty());
}

#[test]
fn header_or_not() {
    let text = "2024-01-02;-1,50;Coffee shop;100,00\n2024-01-03;20,00;Refund from shop;120,00\n2024-01-04;-5,00;Bakery;115,00\n";
    let (profile, statements, _) = run(text.as_bytes(), None).unwrap();
    assert!(!profile.has_header);
    assert_eq!(profile.columns.amount, AmountColumns::Signed { column: 1 });
    assert_eq!(profile.columns.description, [2]);
    assert_eq!(profile.columns.balance, Some(3), "a column that runs with the amounts is the balance");
    assert_eq!(statements[0].transactions.len(), 3);
    let closing = &statements[0].balances[0];
    assert_eq!(
        (closing.kind.clone(), closing.date, closing.amount),
        (BalanceKind::Closing, day(2024, 1, 4), dec("115"))
    );

    let with_header = format!("Datum;Betrag;Text;Saldo\n{text}");
    let (profile, statements, _) = run(with_header.as_bytes(), None).unwrap();
    assert!(profile.has_header);
    assert_eq!(profile.header, ["Datum", "Betrag", "Text", "Saldo"]);
    assert_eq!(statements[0].transactions.len(), 3);
    assert_eq!(statements[0].transactions[0].at.line, Some(2));
}

#[test]
fn closing_balance_of_a_newest_first_file() {
    let text =
        "Datum;Betrag;Text;Saldo\n04.01.2024;-5,00;c;115,00\n04.01.2024;-1,00;b;120,00\n02.01.2024;20,00;a;121,00\n";
    let (_, statements, _) = run(text.as_bytes(), None).unwrap();
    assert_eq!(statements[0].balances[0].amount, dec("115"));
    assert_eq!(statements[0].balances[0].date, day(2024, 1, 4));
}

#[test]
fn debit_and_credit_columns() {
    let text = "Buchungstag;Vorgang;Soll;Haben\n01.03.2024;Miete;1.200,00;\n02.03.2024;Gehalt;;2.500,00\n03.03.2024;Storno;-10,00;\n";
    let (profile, statements, _) = run(text.as_bytes(), None).unwrap();
    assert_eq!(profile.columns.amount, AmountColumns::DebitCredit { debit: 2, credit: 3 });
    assert_eq!(amounts(&statements), [dec("-1200"), dec("2500"), dec("-10")]);
    let text =
        "Date,Payee,Withdrawal,Deposit\n2024-03-01,Landlord,\"$1,200.00\",\n2024-03-02,Employer,,\"$2,500.00\"\n";
    let (_, statements, _) = run(text.as_bytes(), None).unwrap();
    assert_eq!(amounts(&statements), [dec("-1200"), dec("2500")]);
    assert_eq!(statements[0].transactions[0].counterparty.as_deref(), Some("Landlord"));
}

#[test]
fn preamble_lines_are_skipped_and_read() {
    let text = "Umsätze Girokonto;;\nIBAN:;DE89 3704 0044 0532 0130 00;\nWährung:;EUR;\n\nBuchungstag;Valuta;Text;Betrag\n02.01.2024;03.01.2024;Miete;-800,00\n05.01.2024;05.01.2024;Gehalt;2.000,00\n";
    let (profile, statements, problems) = run(text.as_bytes(), None).unwrap();
    assert_eq!(profile.preamble_rows, 3);
    assert!(profile.has_header);
    assert_eq!(profile.columns.value_date, Some(1));
    let header = &statements[0].header.account;
    assert_eq!(header.iban.as_deref(), Some("DE89370400440532013000"));
    assert_eq!(header.currency.as_deref(), Some("EUR"));
    assert_eq!(amounts(&statements), [dec("-800"), dec("2000")]);
    assert_eq!(statements[0].transactions[0].value_date, Some(day(2024, 1, 3)));
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn windows_1252_text() {
    let text = b"Datum;Betrag;Empf\xe4nger;Verwendungszweck\n02.01.2024;-3,20;B\xe4ckerei M\xfcller;Br\xf6tchen \x80\n";
    let (profile, statements, problems) = run(text, None).unwrap();
    assert_eq!(profile.charset, CsvCharset::Windows1252);
    let t = &statements[0].transactions[0];
    assert_eq!(t.counterparty.as_deref(), Some("Bäckerei Müller"));
    assert_eq!(t.description, "Brötchen €");
    assert!(problems.is_empty(), "{problems:?}");
    // The same bytes read with a profile that says UTF-8 still decode, with a note.
    let utf8 = CsvProfile { charset: CsvCharset::Utf8, ..profile };
    let (_, statements, problems) = run(text, Some(&utf8)).unwrap();
    assert_eq!(statements[0].transactions[0].description, "Brötchen €");
    assert_eq!(problems.len(), 1);
}

#[test]
fn a_saved_profile_is_applied_as_stored() {
    // Detection alone would read these dates month first; the saved profile knows better.
    let text = "05/01/2024,-1.00,x\n06/02/2024,2.50,y\n";
    let (detected, _, _) = run(text.as_bytes(), None).unwrap();
    assert_eq!(detected.date_format, DateFormat::MdySlash);
    let saved = CsvProfile { date_format: DateFormat::DmySlash, name: "my bank".into(), ..detected };
    let json = serde_json::to_string(&saved).unwrap();
    assert!(json.contains("\"%d/%m/%Y\""), "{json}");
    let restored: CsvProfile = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, saved);
    let (used, statements, problems) = run(text.as_bytes(), Some(&restored)).unwrap();
    assert_eq!(used, saved);
    assert_eq!(statements[0].transactions[0].booking_date, day(2024, 1, 5));
    assert!(problems.is_empty());
}

#[test]
fn a_saved_profile_notices_another_header() {
    let (profile, _, _) = run(b"Date;Amount;Text\n2024-01-02;1,00;a\n", None).unwrap();
    let (_, statements, problems) = run(b"Datum;Betrag;Text\n2024-01-02;1,00;a\n", Some(&profile)).unwrap();
    assert_eq!(statements[0].transactions.len(), 1);
    assert_eq!(problems.len(), 1);
}

#[test]
fn bad_rows_become_problems() {
    let text = "Date;Amount;Text\n2024-01-02;-1,00;ok\n2024-13-02;5,00;bad date\n2024-01-03;abc;bad amount\n2024-01-04\n2024-01-05;2,00;ok\n;;\n";
    let (_, statements, problems) = run(text.as_bytes(), None).unwrap();
    assert_eq!(amounts(&statements), [dec("-1"), dec("2")]);
    let lines: Vec<_> = problems.iter().map(|p| p.at.line).collect();
    assert_eq!(lines, [Some(3), Some(4), Some(5)], "{problems:?}");
    assert!(problems[0].message.contains("a date YYYY-MM-DD in column 1"), "{problems:?}");
    assert!(problems[1].message.contains("an amount in column 2"), "{problems:?}");
    assert!(problems[2].message.contains("at least"), "{problems:?}");
}

#[test]
fn pending_and_void_rows() {
    let text = "Date,Amount,Description,State\n2024-01-02,-1.00,a,COMPLETED\n2024-01-03,-2.00,b,PENDING\n2024-01-04,-3.00,c,DECLINED\n";
    let (_, statements, _) = run(text.as_bytes(), None).unwrap();
    let t = &statements[0].transactions;
    assert_eq!(t.len(), 2);
    assert_eq!((t[0].status, t[1].status), (EntryStatus::Booked, EntryStatus::Pending));
}

#[test]
fn no_readable_row_is_an_error() {
    let profile = run(b"Date;Amount;Text\n2024-01-02;1,00;a\n", None).unwrap().0;
    let error = run(b"Date;Amount;Text\nyesterday;1,00;a\n2024-01-02;lots;b\n", Some(&profile)).unwrap_err();
    assert_eq!(error.at.line, Some(2));
    assert!(error.expected.contains("a date YYYY-MM-DD"), "{error}");
    assert!(error.found.contains("yesterday"), "{error}");
    let error = run(b"Date;Amount;Text\n", Some(&profile)).unwrap_err();
    assert_eq!(error.expected, "a transaction row");
    assert!(run(b"", None).is_err());
    assert!(run(b"just some words\nno separators here\n", None).is_err());
    assert!(run(b"a;b;c\nd;e;f\n", None).is_err());
}

#[test]
fn amounts_with_currency_and_odd_signs_in_rows() {
    let text =
        "Date;Amount;Text\n2024-01-02;€ 1.234,56;a\n2024-01-03;12,00-;b\n2024-01-04;(3,00);c\n2024-01-05;-7,00 EUR;d\n";
    let (_, statements, _) = run(text.as_bytes(), None).unwrap();
    assert_eq!(amounts(&statements), [dec("1234.56"), dec("-12"), dec("-3"), dec("-7")]);
}

#[test]
fn several_accounts_make_several_statements() {
    let text = "Account;Date;Amount;Text\nDE89370400440532013000;2024-01-02;1,00;a\nDE89370400440532013000;2024-01-03;2,00;b\nDE02120300000000202051;2024-01-03;3,00;c\n";
    let (_, statements, _) = run(text.as_bytes(), None).unwrap();
    assert_eq!(statements.len(), 2);
    assert_eq!(statements[1].header.account.iban.as_deref(), Some("DE02120300000000202051"));
}

#[test]
fn bom_and_crlf() {
    let text = b"\xef\xbb\xbfDate,Amount,Text\r\n2024-01-02,1.00,\"a\"\r\n2024-01-03,2.00,b\r\n";
    let (profile, statements, _) = run(text, None).unwrap();
    assert_eq!(profile.header[0], "Date");
    let t = &statements[0].transactions;
    assert_eq!((t[0].description.as_str(), t[1].at.line), ("a", Some(3)));
    assert_eq!(t[0].at.offset, Some(21));
}

#[test]
fn presets_are_listed_and_serialise() {
    let names: Vec<&str> = presets().iter().map(|p| p.name.as_str()).collect();
    assert!(names.contains(&"ING-DiBa Austria") && names.contains(&"Revolut"), "{names:?}");
    for preset in presets() {
        let json = serde_json::to_string(preset).unwrap();
        assert_eq!(&serde_json::from_str::<CsvProfile>(&json).unwrap(), preset);
    }
}

#[test]
fn a_debit_credit_column_signs_unsigned_amounts_in_each_bank_s_words() {
    // ING Netherlands: "Af Bij" beside an unsigned "Bedrag (EUR)".
    let ing = "\"Datum\",\"Naam / Omschrijving\",\"Rekening\",\"Tegenrekening\",\"Code\",\"Af Bij\",\"Bedrag (EUR)\",\"Mutatiesoort\",\"Mededelingen\"\n\
               \"20240102\",\"Albert Heijn\",\"NL20INGB0001234567\",\"\",\"BA\",\"Af\",\"12,35\",\"Betaalautomaat\",\"Pasvolgnr 001\"\n\
               \"20240103\",\"Werkgever BV\",\"NL20INGB0001234567\",\"NL91ABNA0417164300\",\"OV\",\"Bij\",\"2500,00\",\"Overschrijving\",\"Salaris\"\n";
    // A German export with Soll/Haben marks.
    let soll_haben =
        "Buchungstag;Verwendungszweck;Betrag;Soll/Haben\n02.01.2024;Miete;900,00;S\n03.01.2024;Gehalt;2.500,00;H\n";
    // An unlabelled mark column: found by its values, debits and credits both.
    let marks = "Date,Description,Amount,Type\n2024-01-02,Coffee,3.50,DR\n2024-01-03,Refund,20.00,CR\n";
    for (name, text, expected) in [
        ("ing", ing, [dec("-12.35"), dec("2500.00")]),
        ("soll/haben", soll_haben, [dec("-900.00"), dec("2500.00")]),
        ("dr/cr", marks, [dec("-3.50"), dec("20.00")]),
    ] {
        let (profile, statements, problems) = run(text.as_bytes(), None).unwrap();
        assert!(profile.columns.direction.is_some(), "{name}: {profile:?}");
        assert_eq!(amounts(&statements), expected, "{name}: {problems:?}");
    }
}

#[test]
fn a_row_whose_mark_is_unreadable_is_named() {
    let text =
        "Buchungstag;Verwendungszweck;Betrag;Soll/Haben\n02.01.2024;Miete;900,00;S\n03.01.2024;Gehalt;2.500,00;H\n\
                04.01.2024;Strom;80,00;S\n05.01.2024;Bonus;100,00;?\n";
    let outcome = run(text.as_bytes(), None);
    let message = match outcome {
        Ok((_, _, problems)) => problems.iter().map(|p| p.message.clone()).collect::<Vec<_>>().join("; "),
        Err(err) => err.to_string(),
    };
    assert!(message.contains("debit/credit mark"), "{message}");
}

#[test]
fn pending_rows_are_told_by_their_status_type_or_missing_booking_day() {
    // comdirect: a pending row has "offen" where its booking day would be, and its value date.
    let comdirect = "Buchungstag;Wertstellung (Valuta);Vorgang;Buchungstext;Umsatz in EUR\n\
                     offen;05.01.2024;Kartenverfügung;Tankstelle;-60,00\n\
                     03.01.2024;03.01.2024;Lastschrift;Miete;-900,00\n\
                     02.01.2024;02.01.2024;Lastschrift;Strom;-80,00\n\
                     02.01.2024;02.01.2024;Gutschrift;Gehalt;2500,00\n";
    // An English export with a status column.
    let english = "Date,Description,Amount,Status\n2024-01-05,Hotel,-120.00,In process\n\
                   2024-01-04,Taxi,-18.00,Not yet booked\n2024-01-03,Rent,-900.00,Completed\n";
    for (name, text, statuses) in [
        (
            "comdirect",
            comdirect,
            vec![EntryStatus::Pending, EntryStatus::Booked, EntryStatus::Booked, EntryStatus::Booked],
        ),
        ("english", english, vec![EntryStatus::Pending, EntryStatus::Pending, EntryStatus::Booked]),
    ] {
        let (_, statements, problems) = run(text.as_bytes(), None).unwrap();
        let read: Vec<EntryStatus> = statements.iter().flat_map(|s| s.transactions.iter().map(|t| t.status)).collect();
        assert_eq!(read, statuses, "{name}: {problems:?}");
    }
    let (_, statements, _) = run(comdirect.as_bytes(), None).unwrap();
    assert_eq!(statements[0].transactions[0].booking_date, day(2024, 1, 5), "dated by its value date");
}

#[test]
fn a_preamble_states_the_account_currency_and_closing_balance() {
    // A DKB-like block: name, IBAN, period, balance with its currency in the next cell.
    let dkb = "Kontoname;Girokonto\nIBAN;DE89370400440532013000\nZeitraum;01.01.2024 - 31.01.2024\nSaldo;150,00;EUR\n\n\
               Buchungstag;Verwendungszweck;Betrag\n02.01.2024;Kaffee;-3,50\n03.01.2024;Miete;-900,00\n04.01.2024;Gehalt;2500,00\n";
    // A Sparkasse-like block: the balance's day in its label, the currency after the amount.
    let sparkasse = "Umsätze Girokonto\nKontonummer:;1234567890\nKontostand vom 31.01.2024:;1.234,56 EUR\n\n\
                     Buchungstag;Verwendungszweck;Betrag\n02.01.2024;Kaffee;-3,50\n05.01.2024;Gehalt;2500,00\n";
    for (name, text, amount, day_of) in
        [("dkb", dkb, dec("150.00"), day(2024, 1, 31)), ("sparkasse", sparkasse, dec("1234.56"), day(2024, 1, 31))]
    {
        let (_, statements, problems) = run(text.as_bytes(), None).unwrap();
        assert_eq!(statements.len(), 1, "{name}");
        let statement = &statements[0];
        assert_eq!(statement.header.account.currency.as_deref(), Some("EUR"), "{name}: {problems:?}");
        let closing: Vec<(Decimal, NaiveDate)> =
            statement.balances.iter().filter(|b| b.kind == BalanceKind::Closing).map(|b| (b.amount, b.date)).collect();
        assert_eq!(closing, [(amount, day_of)], "{name}: {problems:?}");
        assert_eq!(statement.transactions.len() as u64, if name == "dkb" { 3 } else { 2 });
    }
}

#[test]
fn the_holder_s_account_column_names_the_account_never_the_counterparty_s() {
    // ING Netherlands: "Rekening" is the holder's, "Tegenrekening" the other party's.
    let ing = "\"Datum\",\"Naam / Omschrijving\",\"Rekening\",\"Tegenrekening\",\"Code\",\"Af Bij\",\"Bedrag (EUR)\"\n\
               \"20240102\",\"Albert Heijn\",\"NL20INGB0001234567\",\"\",\"BA\",\"Af\",\"12,35\"\n\
               \"20240103\",\"Werkgever BV\",\"NL20INGB0001234567\",\"NL91ABNA0417164300\",\"OV\",\"Bij\",\"2500,00\"\n\
               \"20240104\",\"Verhuurder\",\"NL20INGB0001234567\",\"NL91ABNA0417164301\",\"OV\",\"Af\",\"900,00\"\n";
    // An app's export: "Account" and "Counterparty IBAN".
    let app = "Date,Account,Counterparty IBAN,Description,Amount,Currency\n\
               2024-01-02,DE89370400440532013000,FR1420041010050500013M02606,Rent,-900.00,EUR\n\
               2024-01-03,DE89370400440532013000,GB29NWBK60161331926819,Salary,2500.00,EUR\n\
               2024-01-04,DE89370400440532013000,,Coffee,-3.50,EUR\n";
    for (name, text, own) in [("ing", ing, "NL20INGB0001234567"), ("app", app, "DE89370400440532013000")] {
        let (_, statements, problems) = run(text.as_bytes(), None).unwrap();
        assert_eq!(statements.len(), 1, "{name}: one holder's account is one statement: {problems:?}");
        assert_eq!(statements[0].header.account.iban.as_deref(), Some(own), "{name}");
        let others: Vec<Option<&str>> =
            statements[0].transactions.iter().map(|t| t.counterparty_account.as_deref()).collect();
        assert!(others.iter().flatten().all(|o| *o != own), "{name}: {others:?}");
        assert!(others.iter().flatten().count() == 2, "{name}: the other parties' accounts are kept as such");
    }
}

#[test]
fn a_file_whose_only_money_column_is_a_balance_gives_balance_points() {
    for text in [
        "Date;Balance\n02.01.2024;996,50\n03.01.2024;3496,50\n04.01.2024;2596,50\n",
        "Datum,Kontostand,Währung\n2024-01-02,996.50,EUR\n2024-01-03,3496.50,EUR\n",
    ] {
        let (profile, statements, problems) = run(text.as_bytes(), None).unwrap();
        assert_eq!(profile.columns.amount, AmountColumns::BalanceOnly, "{text}");
        assert!(statements[0].transactions.is_empty(), "no transactions made up: {problems:?}");
        let points: Vec<(NaiveDate, Decimal)> = statements[0].balances.iter().map(|b| (b.date, b.amount)).collect();
        assert_eq!(points[0], (day(2024, 1, 2), dec("996.50")), "{text}");
        assert!(statements[0].balances.iter().all(|b| b.kind == BalanceKind::Closing));
    }
}

#[test]
fn an_amount_s_symbol_or_code_gives_the_statement_its_currency_and_a_dollar_does_not() {
    for (text, currency) in [
        ("Date,Description,Amount\n2024-01-02,Coffee,€3.50\n2024-01-03,Books,€12.00\n", Some("EUR")),
        ("Datum;Omschrijving;Bedrag\n02-01-2024;Koffie;-3,50 EUR\n03-01-2024;Boek;-12,00 EUR\n", Some("EUR")),
        ("Date,Description,Amount\n2024-01-02,Tea,-£3.20\n2024-01-03,Train,-£12.00\n", Some("GBP")),
        ("Date,Description,Amount\n2024-01-02,Coffee,-$3.50\n2024-01-03,Books,-$12.00\n", None),
        // "kr" is the krona or krone of the account's country, and nothing without one.
        ("Konto;SE4550000000058398257466\n\nDatum;Text;Belopp\n2024-01-02;ICA;-35,50 kr\n2024-01-03;Lön;25 000,00 kr\n",
            Some("SEK")),
        ("Konto;NO9386011117947\n\nDato;Tekst;Beløp\n02.01.2024;Rema;kr -35,50\n03.01.2024;Lønn;kr 25 000,00\n", Some("NOK")),
        ("Dato;Tekst;Beløb\n02.01.2024;Netto;-35,50 kr.\n03.01.2024;Løn;25.000,00 kr.\n", None),
    ] {
        let (_, statements, problems) = run(text.as_bytes(), None).unwrap();
        assert_eq!(statements[0].header.account.currency.as_deref(), currency, "{text}: {problems:?}");
        assert_eq!(statements[0].transactions.len(), 2, "{text}");
    }
}

#[test]
fn without_a_header_the_running_balance_tells_the_amount_from_the_balance() {
    // The balance before the amount, in two banks' orders: the values decide.
    for text in [
        "02.01.2024;Coffee;996,50;-3,50\n03.01.2024;Salary;3496,50;2500,00\n04.01.2024;Rent;2596,50;-900,00\n",
        "2024-01-02,-3.50,996.50,Coffee\n2024-01-03,2500.00,3496.50,Salary\n2024-01-04,-900.00,2596.50,Rent\n",
    ] {
        let (profile, statements, problems) = run(text.as_bytes(), None).unwrap();
        assert_eq!(amounts(&statements), [dec("-3.50"), dec("2500.00"), dec("-900.00")], "{text}: {problems:?}");
        assert!(profile.columns.balance.is_some(), "{text}");
        let closing: Vec<Decimal> = statements[0].balances.iter().map(|b| b.amount).collect();
        assert_eq!(closing, [dec("2596.50")], "{text}");
    }
}

#[test]
fn money_columns_that_leave_the_amount_open_are_refused_until_the_user_says_which() {
    // An amount and its fee, without a header (Revolut-like) and under names saldo does not know.
    for (text, first_row, fees) in [
        ("2024-01-02,-3.50,-0.10,Coffee\n2024-01-03,-12.00,-0.20,Books\n2024-01-04,-8.00,-0.30,Lunch\n", 1, 3),
        ("Day;Wert;Gebühr;Notiz\n02.01.2024;-3,50;-0,10;Kaffee\n03.01.2024;-12,00;-0,20;Buch\n", 2, 2),
    ] {
        let mut sink = Collect::default();
        let err = parse(text.as_bytes(), None, &mut sink).unwrap_err();
        assert!(err.found.contains("columns 2, 3"), "{err}");
        assert_eq!(err.at.line, Some(first_row), "{err}");
        assert!(sink.finish().0.is_empty(), "nothing read before the refusal");

        let mut sink = Collect::default();
        let profile = parse_with(text.as_bytes(), None, Some(3), &mut sink).unwrap();
        let (statements, _) = sink.finish();
        assert_eq!(profile.columns.amount, AmountColumns::Signed { column: 2 }, "{text}");
        assert_eq!(amounts(&statements), [dec("-0.10"), dec("-0.20"), dec("-0.30")][..fees], "{text}");
    }
    // The choice overrides what the names say, and must name a column of amounts.
    let named = "Date,Description,Amount,Balance\n2024-01-02,Coffee,-3.50,996.50\n2024-01-03,Salary,2500.00,3496.50\n";
    let mut sink = Collect::default();
    let err = parse_with(named.as_bytes(), None, Some(2), &mut sink).unwrap_err();
    assert!(err.found.contains("column 2 holds no amounts"), "{err}");
    let mut sink = Collect::default();
    parse_with(named.as_bytes(), None, Some(0), &mut sink).unwrap_err();
}

#[test]
fn named_amount_and_balance_columns_are_checked_against_each_other() {
    // Headers swapped by an export tool: the values show which is which.
    let swapped =
        "Date,Description,Balance,Amount\n2024-01-02,Coffee,-3.50,996.50\n2024-01-03,Salary,2500.00,3496.50\n\
                   2024-01-04,Rent,-900.00,2596.50\n";
    let (_, statements, problems) = run(swapped.as_bytes(), None).unwrap();
    assert_eq!(amounts(&statements), [dec("-3.50"), dec("2500.00"), dec("-900.00")], "{problems:?}");
    assert!(problems.iter().any(|p| p.message.contains("runs as the balance")), "{problems:?}");
    // A row missing between two others: the balances do not follow, and the problem says so.
    let gap = "Datum;Text;Betrag;Saldo\n02.01.2024;Kaffee;-3,50;996,50\n04.01.2024;Miete;-900,00;2596,50\n";
    let (_, statements, problems) = run(gap.as_bytes(), None).unwrap();
    assert_eq!(amounts(&statements), [dec("-3.50"), dec("-900.00")]);
    assert!(problems.iter().any(|p| p.message.contains("do not follow from the amounts")), "{problems:?}");
}
