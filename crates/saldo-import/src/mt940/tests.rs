#![allow(clippy::unwrap_used)]

use super::parse;
use crate::statement::{BalanceKind, Collect, EntryStatus, ParseError, Problem, Statement};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::str::FromStr;

fn read(input: &[u8]) -> Result<(Vec<Statement>, Vec<Problem>), ParseError> {
    let mut sink = Collect::default();
    parse(input, &mut sink)?;
    Ok(sink.finish())
}

fn ok(input: &[u8]) -> (Vec<Statement>, Vec<Problem>) {
    read(input).unwrap()
}

/// What a statement without its closing balance holds. Such a file is cut short (it says so),
/// and what came before the cut is read just the same.
fn cut(input: &[u8]) -> (Vec<Statement>, Vec<Problem>) {
    let mut sink = Collect::default();
    let err = parse(input, &mut sink).unwrap_err();
    assert!(err.cut_short, "{err}");
    sink.finish()
}

#[test]
fn a_statement_without_its_closing_balance_is_cut_short() {
    let cut = &SIMPLE[..SIMPLE.find(":62F:").unwrap()];
    let err = read(cut.as_bytes()).unwrap_err();
    assert!(err.cut_short, "{err}");
    assert_eq!(err.at.line, Some(8));
    // Both lines before the cut were handed on.
    assert_eq!(self::cut(cut.as_bytes()).0[0].transactions.len(), 2);
    // Cut inside a statement line: that line is not read, the file is cut short, not malformed.
    let cut = &SIMPLE[..SIMPLE.find("C1,50").unwrap() + 2];
    let err = read(cut.as_bytes()).unwrap_err();
    assert!(err.cut_short, "{err}");
    assert_eq!(self::cut(cut.as_bytes()).0[0].transactions.len(), 1);
    // A whole statement, and an MT942 report (which has no closing balance), are not cut short.
    assert!(read(SIMPLE.as_bytes()).is_ok());
    assert!(read(SIMPLE.trim_end_matches("-\n").as_bytes()).is_ok());
    let mt942 = ":20:REF\n:25:12345678\n:28C:1\n:34F:EUR0,\n:13D:2401021200+0100\n:61:2401020102D10,00NTRFNONREF\n";
    assert!(read(mt942.as_bytes()).is_ok());
    // Cut after a further statement's header: the whole first statement is read, the file is cut.
    let next = format!("{SIMPLE}:20:REF2\n:25:12345678/0001234567\n");
    assert_eq!(self::cut(next.as_bytes()).0[0].transactions.len(), 2);
    assert!(read(b":20:REF1\n:25:12345678\n").unwrap_err().cut_short);
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

const SIMPLE: &str = ":20:REF1\n:25:12345678/0001234567\n:28C:1/1\n:60F:C110522EUR3236,28\n\
:61:1105240524D9,N192NONREF\n:86:KPN DIGITENNE\n:61:1105240524C1,50NTRFREF//BANKREF1\nsupplement\n\
:62F:C110524EUR3228,78\n-\n";

#[test]
fn a_simple_statement() {
    let (statements, problems) = ok(SIMPLE.as_bytes());
    assert_eq!(problems, vec![]);
    assert_eq!(statements.len(), 1);
    let s = &statements[0];
    assert_eq!(s.header.id.as_deref(), Some("REF1"));
    assert_eq!(s.header.account.bank_id.as_deref(), Some("12345678"));
    assert_eq!(s.header.account.number.as_deref(), Some("0001234567"));
    assert_eq!(s.header.account.currency.as_deref(), Some("EUR"));
    assert_eq!(s.balances[0].kind, BalanceKind::Opening);
    assert_eq!(s.balances[0].amount, dec("3236.28"));
    assert_eq!(s.balances[0].date, date(2011, 5, 22));
    assert_eq!(s.balances[1].kind, BalanceKind::Closing);
    let t = &s.transactions;
    assert_eq!(t.len(), 2);
    assert_eq!((t[0].amount, t[0].booking_date, t[0].code.as_deref()), (dec("-9"), date(2011, 5, 24), Some("N192")));
    assert_eq!(t[0].description, "KPN DIGITENNE");
    assert_eq!(t[0].provider_id, None);
    assert_eq!(t[0].at.line, Some(5));
    assert_eq!((t[1].amount, t[1].provider_id.as_deref()), (dec("1.50"), Some("BANKREF1")));
    // Without a :86:, the supplementary details describe the line.
    assert_eq!(t[1].description, "supplement");
}

#[test]
fn line_ends_blank_lines_and_trailing_blanks_do_not_matter() {
    let (lf, _) = ok(SIMPLE.as_bytes());
    let crlf = SIMPLE.replace('\n', "\r\n");
    let cr = SIMPLE.replace('\n', "\r");
    let padded = SIMPLE.replace('\n', "   \n\n");
    for variant in [crlf, cr, padded] {
        let (statements, problems) = ok(variant.as_bytes());
        assert_eq!(problems, vec![]);
        assert_eq!(statements[0].transactions.len(), 2);
        for (a, b) in statements[0].transactions.iter().zip(&lf[0].transactions) {
            assert_eq!((a.amount, &a.description, a.booking_date), (b.amount, &b.description, b.booking_date));
        }
    }
    let (cr, _) = ok(SIMPLE.replace('\n', "\r").as_bytes());
    assert_eq!(cr[0].transactions[0].at.line, Some(5));
}

#[test]
fn envelopes_header_lines_and_terminators_are_stepped_over() {
    let input =
        "ABNANL2A\n940\n{1:F01ASNBNL21XXXX0000000000}{2:O940ASNBNL21XXXXN}{3:}{4:\n:20:A\n:25:NL81ASNB9999999999\n\
:60F:C200101EUR444,29\n:62F:C200101EUR444,29\n-}{5:}\n\x01\n{1:F01X}{2:O940X}{4::20:B\n:25:NL81ASNB9999999999\n\
:60F:C200101EUR1,\n:62F:C200101EUR1,\n-XXX\n:20:C\n:60F:C200101EUR1,\n-\x03\n";
    let (statements, problems) = ok(input.as_bytes());
    assert_eq!(problems, vec![]);
    let ids: Vec<_> = statements.iter().map(|s| s.header.id.as_deref()).collect();
    assert_eq!(ids, vec![Some("A"), Some("B"), Some("C")]);
    assert_eq!(statements[0].header.account.iban.as_deref(), Some("NL81ASNB9999999999"));
    assert_eq!(statements[0].header.account.number, None);
}

#[test]
fn a_new_reference_starts_a_new_statement_without_terminator() {
    let input =
        ":20:A\n:25:1\n:60F:C200101EUR1,\n:62F:C200101EUR1,\n:20:B\n:25:2\n:60F:D200101USD2,\n:62F:D200101USD2,\n";
    let (statements, _) = ok(input.as_bytes());
    assert_eq!(statements.len(), 2);
    assert_eq!(statements[1].header.account.number.as_deref(), Some("2"));
    assert_eq!(statements[1].header.account.currency.as_deref(), Some("USD"));
    assert_eq!(statements[1].balances[0].amount, dec("-2"));
}

#[test]
fn entry_dates_wrap_the_year() {
    let input =
        ":20:A\n:60F:C101230EUR0,\n:61:1101021231D1,NTRFNONREF\n:61:1012300102C1,NTRFNONREF\n:61:110105C2,NTRFNONREF\n";
    let (statements, _) = cut(input.as_bytes());
    let t = &statements[0].transactions;
    assert_eq!((t[0].booking_date, t[0].value_date), (date(2010, 12, 31), Some(date(2011, 1, 2))));
    assert_eq!((t[1].booking_date, t[1].value_date), (date(2011, 1, 2), Some(date(2010, 12, 30))));
    assert_eq!((t[2].booking_date, t[2].value_date), (date(2011, 1, 5), Some(date(2011, 1, 5))));
}

#[test]
fn marks_reversals_and_funds_codes() {
    let input = ":20:A\n:60F:C070903EUR0,\n:61:0709040904CR300,NTRFX//R1\n:61:0709040904DR10,NTRFX\n\
:61:0709040904RCR204,88NRTINONREF\n:61:0709040904RD5,NRTINONREF\n:61:1710111011DF2402,00S   X\n:61:170119EC1,NTRF\n";
    let (statements, _) = cut(input.as_bytes());
    let amounts: Vec<_> = statements[0].transactions.iter().map(|t| t.amount).collect();
    assert_eq!(amounts, vec![dec("300"), dec("-10"), dec("-204.88"), dec("5"), dec("-2402.00"), dec("1")]);
    let t = &statements[0].transactions;
    assert_eq!(t[4].code.as_deref(), Some("S"));
    assert_eq!(t[5].status, EntryStatus::Pending);
    assert_eq!(t[0].provider_id.as_deref(), Some("R1"));
}

#[test]
fn continuation_lines_and_repeated_86_make_one_description() {
    let input = ":20:A\n:60F:C070903EUR0,\n:61:110527D000000001213,28N0440121470966      W.P. Jansen\n\
:86:Terugboeking   \n:86:NIET AKKOORD\n:61:110527D1,N044X\n:86:051?00UEBERWEISUNG?20Gehalt Oktob\ner?32MUELLER\n";
    let (statements, _) = cut(input.as_bytes());
    let t = &statements[0].transactions;
    assert_eq!(t[0].amount, dec("-1213.28"));
    assert_eq!(t[0].description, "Terugboeking NIET AKKOORD");
    assert_eq!(t[1].description, "Gehalt Oktober");
    assert_eq!(t[1].counterparty.as_deref(), Some("MUELLER"));
}

#[test]
fn latin1_and_utf8_text_both_decode() {
    let mut input =
        b":20:STAR1\xc3\x9cTUMS\n:60F:C100318EUR1,\n:61:1003190319C1,NTRFX\n:86:Caf\xe9 M\xfcller\n".to_vec();
    input.extend_from_slice(b":61:1003190319C1,NTRFX\n:86:\x01K\xc3\xb6ln\n");
    let (statements, _) = cut(&input);
    assert_eq!(statements[0].header.id.as_deref(), Some("STAR1ÜTUMS"));
    assert_eq!(statements[0].transactions[0].description, "Café Müller");
    assert_eq!(statements[0].transactions[1].description, "Köln");
}

#[test]
fn february_30_is_read_as_the_months_end_with_a_problem() {
    let input = ":20:A\n:60F:C160229EUR1200,00\n:61:1602300301DR6,00N024NONREF\n:62F:C160301EUR1194,00\n";
    let (statements, problems) = ok(input.as_bytes());
    let t = &statements[0].transactions[0];
    assert_eq!((t.value_date, t.booking_date), (Some(date(2016, 2, 29)), date(2016, 3, 1)));
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].at.line, Some(3));
    assert!(problems[0].message.contains("line 3"), "{}", problems[0].message);
}

#[test]
fn an_unreadable_statement_line_fails_the_file() {
    let input = ":20:A\n:60F:C160229EUR1200,00\n:61:1602290229D6.00N024NONREF\n:62F:C160301EUR1194,00\n";
    let error = read(input.as_bytes()).unwrap_err();
    assert_eq!(error.at.line, Some(3));
    assert!(error.expected.contains("value date YYMMDD"), "{}", error.expected);
    assert!(error.found.contains("1602290229D6.00"), "{}", error.found);
    for bad in [":61:16022\n", ":61:160229X1,NTRF\n", ":61:160229C1,\n", ":61:161329C1,NTRF\n", ":61:\n"] {
        let error = read(format!(":20:A\n{bad}").as_bytes()).unwrap_err();
        assert_eq!(error.at.line, Some(2), "{bad}");
    }
}

#[test]
fn input_that_is_not_mt940_fails() {
    for input in
        [&b""[..], b"\n\n", b"OFXHEADER:100\nDATA:OFXSGML\n<OFX>", b"date;amount\n2020-01-01;1,00\n", b"<?xml?>"]
    {
        let error = read(input).unwrap_err();
        assert!(error.expected.contains(":20:"), "{error}");
    }
    let mut long = b"x\n".repeat(1000);
    long.extend_from_slice(SIMPLE.as_bytes());
    assert!(read(&long).is_err());
}

#[test]
fn a_tag_split_after_its_colon_and_a_line_wrapped_before_its_amount() {
    let input = ":61:1811261126CR\n30,00N062NONREF\n:\n86:166?00GUTSCHR. UEBERWEISUNG?081542?20SVWZ+Test\n";
    let (statements, problems) = ok(input.as_bytes());
    let t = &statements[0].transactions[0];
    assert_eq!((t.amount, t.booking_date, t.code.as_deref()), (dec("30.00"), date(2018, 11, 26), Some("N062")));
    assert_eq!(t.description, "Test");
    // The statement had no :20:.
    assert_eq!(problems.len(), 1);
    assert_eq!(statements[0].header.account.currency, None);
}

#[test]
fn a_stray_account_tag_after_the_lines_is_a_problem_not_the_account() {
    let input = ":20:A\n:25:50880050/0194787400888\n:60F:C070903EUR0,\n:61:0709070904CR1,NTRFNONREF//07247\n\
:25:166?00GUTSCHRIFT?100399?20EREF\n:62F:C070904EUR1,\n:64:C070904EUR2,\n:65:C070905EUR3,";
    let (statements, problems) = ok(input.as_bytes());
    assert_eq!(statements[0].header.account.number.as_deref(), Some("0194787400888"));
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].at.line, Some(5));
    let kinds: Vec<_> = statements[0].balances.iter().map(|b| b.kind.clone()).collect();
    assert_eq!(
        kinds,
        vec![BalanceKind::Opening, BalanceKind::Closing, BalanceKind::ClosingAvailable, BalanceKind::ForwardAvailable]
    );
}

#[test]
fn a_statement_that_does_not_add_up_is_reported() {
    let input = ":20:A\n:60F:C070903EUR10,\n:61:070904C1,NTRF\n:62F:C070904EUR12,\n";
    let (_, problems) = ok(input.as_bytes());
    assert_eq!(problems.len(), 1);
    assert!(problems[0].message.contains("11") && problems[0].message.contains("12"), "{}", problems[0].message);
}

const MT942: &str = "\x01\n:20:ST170119CYC/0001\n:25:PL29114010810000267002001002\n:28C:1/1\n:34F:PLN0\n\
:13D:1701191815+0100\n:61:1701190119CN0,01NTRFNONREF//MB1\n911-TRANSAKCJA IPH\n:86:911 TRANSAKCJA\n\
:61:1701190119CN0,02NTRFNONREF//MB2\n:90D:0PLN0,00\n:90C:2PLN0,03\n-\x03\n";

#[test]
fn mt942_date_time_floor_limit_and_sums() {
    let (statements, problems) = ok(MT942.as_bytes());
    assert_eq!(problems, vec![]);
    let s = &statements[0];
    assert_eq!(s.header.to, date(2017, 1, 19).and_hms_opt(18, 15, 0));
    assert_eq!(s.header.account.currency.as_deref(), Some("PLN"));
    assert_eq!(s.header.account.iban.as_deref(), Some("PL29114010810000267002001002"));
    assert_eq!(s.transactions.len(), 2);
    assert_eq!(s.transactions[0].provider_id.as_deref(), Some("MB1"));
    let wrong = MT942.replace(":90C:2PLN0,03", ":90C:3PLN0,03").replace(":90D:0PLN0,00", ":90D:0PLN1,00");
    let (_, problems) = ok(wrong.as_bytes());
    assert_eq!(problems.len(), 2);
    assert_eq!(problems[0].at.line, Some(11));
    assert_eq!(problems[1].at.line, Some(12));
}

#[test]
fn problems_are_capped() {
    let mut input = b":20:A\n:60F:C070903EUR0,\n".to_vec();
    for _ in 0..1000 {
        input.extend_from_slice(b":99:x\n");
    }
    let (_, problems) = cut(&input);
    assert_eq!(problems.len(), super::MAX_PROBLEMS + 1);
}

#[test]
fn a_blank_ending_a_wrapped_line_is_kept_between_words() {
    // The space after "Fuellzeichen" ends the first line; the line wrapped before "xxxx".
    let input = ":20:A\n:60F:C070903EUR0,\n:61:070904C1,NTRFX\n:86:166?00GUTSCHRIFT?32Richter?33Fuellzeichen \nxxxx\n";
    let (statements, _) = cut(input.as_bytes());
    assert_eq!(statements[0].transactions[0].counterparty.as_deref(), Some("Richter Fuellzeichen xxxx"));
    // Blanks before a break inside the fixed part of a :61: do not matter.
    let input = ":20:A\n:60F:C070903EUR0,\n:61:0709040904CR \n30,00N062NONREF\n";
    let (statements, _) = cut(input.as_bytes());
    assert_eq!(statements[0].transactions[0].amount, dec("30.00"));
}

/// A statement sent as two pages (:28C: 1/2 ending :62M:, then 2/2 opening :60M:), in the
/// SWIFT-like layout with `-` between messages and in PostFinance's without a sequence prefix.
const PAGES: [&str; 2] = [
    ":20:STMT1\r\n:25:DE89370400440532013000\r\n:28C:00001/001\r\n:60F:C240101EUR1000,00\r\n\
     :61:2401020102D3,50NTRFNONREF\r\n:86:Coffee\r\n:62M:C240102EUR996,50\r\n-\r\n\
     :20:STMT1\r\n:25:DE89370400440532013000\r\n:28C:00001/002\r\n:60M:C240102EUR996,50\r\n\
     :61:2401020102D3,50NTRFNONREF\r\n:86:Coffee\r\n:62F:C240102EUR993,00\r\n-\r\n",
    ":20:2014040708285927\n:25:CH9809000000250097798\n:28C:999/1\n:60F:C131130CHF0,\n\
     :61:1312021202D3,50NMSCNONREF\n:86:Coffee\n:62M:D140407CHF3,50\n\
     :20:2014040708285928\n:25:CH9809000000250097798\n:28C:999/2\n:60M:D140407CHF3,50\n\
     :61:1312021202D3,50NMSCNONREF\n:86:Coffee\n:62F:D140407CHF7,00\n",
];

#[test]
fn pages_of_one_statement_are_one_statement_and_identical_lines_on_them_are_two() {
    for (index, file) in PAGES.iter().enumerate() {
        let (statements, problems) = ok(file.as_bytes());
        assert_eq!(statements.len(), 1, "file {index}: {statements:?}");
        let statement = &statements[0];
        assert_eq!(statement.transactions.len(), 2, "file {index}: two coffees, one per page");
        let kinds: Vec<BalanceKind> = statement.balances.iter().map(|b| b.kind.clone()).collect();
        assert_eq!(
            kinds,
            [BalanceKind::Opening, BalanceKind::Interim, BalanceKind::Interim, BalanceKind::Closing],
            "file {index}: the pages' balances are interim, only :62F: closes"
        );
        assert!(problems.is_empty(), "file {index}: {problems:?}");
    }
}

#[test]
fn a_page_whose_next_page_is_missing_says_so() {
    let first_page = &PAGES[0][..PAGES[0].find("-\r\n").unwrap() + 3];
    let (statements, problems) = ok(first_page.as_bytes());
    assert_eq!((statements.len(), statements[0].transactions.len()), (1, 1));
    assert!(statements[0].balances.iter().all(|b| b.kind != BalanceKind::Closing));
    assert!(problems.iter().any(|p| p.message.contains("next page is missing")), "{problems:?}");
    // A next message for another account is another statement, and the missing page is told.
    let other = format!("{first_page}{}", SIMPLE);
    let (statements, problems) = ok(other.as_bytes());
    assert_eq!(statements.len(), 2);
    assert!(problems.iter().any(|p| p.message.contains("next page is missing")), "{problems:?}");
}
