//! The fixed-layout fields of MT940: dates, balances, the :61: statement line and the :25: account.
//! Everything here works on the tag's bytes and allocates only the strings a caller keeps.

use crate::statement::StatementAccount;
use crate::text::{number, parse_decimal, parse_yymmdd, trim, Charset};
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;

/// A date and whether it had to be moved to its month's last day.
pub(super) type Fixed = (NaiveDate, bool);

/// `YYMMDD`. Banks write 30 February for the last day of February (an "ultimo" value date), so a
/// day past the month's end is moved to the month's last day and the caller reports it; a month
/// outside 1–12 is no date at all.
pub(super) fn yymmdd(bytes: &[u8]) -> Option<Fixed> {
    if let Some(date) = parse_yymmdd(bytes) {
        return Some((date, false));
    }
    let d = bytes.get(..6)?;
    let yy = number(&d[..2])? as i32;
    let year = if yy < 80 { 2000 + yy } else { 1900 + yy };
    clamped(year, number(&d[2..4])?, number(&d[4..6])?)
}

fn clamped(year: i32, month: u32, day: u32) -> Option<Fixed> {
    if let Some(date) = NaiveDate::from_ymd_opt(year, month, day) {
        return Some((date, false));
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    Some((NaiveDate::from_ymd_opt(next_year, next_month, 1)?.pred_opt()?, true))
}

/// The entry date `MMDD` has no year: it is the one that puts it closest to the value date, so an
/// entry on 31 December for a value date of 2 January lands in the year before.
pub(super) fn entry_date(mmdd: &[u8], value: NaiveDate) -> Option<Fixed> {
    let month = number(mmdd.get(..2)?)?;
    let day = number(mmdd.get(2..4)?)?;
    let mut best: Option<Fixed> = None;
    for year in [value.year() - 1, value.year(), value.year() + 1] {
        if let Some(candidate) = clamped(year, month, day) {
            let distance = (candidate.0 - value).num_days().abs();
            if best.is_none_or(|b| distance < (b.0 - value).num_days().abs()) {
                best = Some(candidate);
            }
        }
    }
    best
}

/// `YYMMDDhhmm` of the MT942 :13D: date-time indication; the UTC offset after it is dropped, as
/// the model keeps the file's local times.
pub(super) fn date_time(bytes: &[u8]) -> Option<NaiveDateTime> {
    let (date, _) = yymmdd(trim(bytes))?;
    let t = trim(bytes).get(6..10)?;
    date.and_hms_opt(number(&t[..2])?, number(&t[2..4])?, 0)
}

/// A balance tag (:60F:, :62F:, :64:…): mark C/D, date, currency, amount.
pub(super) struct Balance {
    pub date: NaiveDate,
    pub clamped: bool,
    pub currency: String,
    pub amount: Decimal,
}

pub(super) const BALANCE_LAYOUT: &str = "a balance: mark C or D, date YYMMDD, currency, amount with decimal comma";

pub(super) fn balance(content: &[u8]) -> Option<Balance> {
    let line = trim(first_line(content));
    let negative = match line.first()? {
        b'C' => false,
        b'D' => true,
        _ => return None,
    };
    let (date, clamped) = yymmdd(line.get(1..7)?)?;
    let currency = currency(line.get(7..10)?)?;
    let amount = amount(line.get(10..)?)?;
    Some(Balance { date, clamped, currency, amount: if negative { -amount } else { amount } })
}

/// An amount as MT940 writes it: digits with one decimal comma, nothing else (a point would be a
/// thousands separator to [`parse_decimal`] and turn 12.50 into 1250, so it is refused).
pub(super) fn amount(bytes: &[u8]) -> Option<Decimal> {
    let bytes = trim(bytes);
    if bytes.is_empty() || !bytes.iter().all(|b| b.is_ascii_digit() || *b == b',') {
        return None;
    }
    parse_decimal(bytes, true)
}

pub(super) fn currency(bytes: &[u8]) -> Option<String> {
    if bytes.len() == 3 && bytes.iter().all(u8::is_ascii_alphabetic) {
        Some(String::from_utf8_lossy(bytes).to_ascii_uppercase())
    } else {
        None
    }
}

pub(super) fn first_line(content: &[u8]) -> &[u8] {
    match content.iter().position(|&b| b == b'\n') {
        Some(end) => &content[..end],
        None => content,
    }
}

/// Debit/credit mark of a statement line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mark {
    Credit,
    Debit,
    /// RC: a credit taken back, so money out.
    ReversalOfCredit,
    /// RD: a debit taken back, so money in.
    ReversalOfDebit,
}

impl Mark {
    /// Whether the entry takes money out of the account.
    pub fn is_debit(self) -> bool {
        matches!(self, Mark::Debit | Mark::ReversalOfCredit)
    }
}

/// A parsed :61: line, borrowing from the tag's content.
pub(super) struct StatementLine<'a> {
    pub value: Fixed,
    /// Booking date when an entry date is given (`None` inside when it is no date at all).
    pub entry: Option<Option<Fixed>>,
    pub mark: Mark,
    /// MT942 expected entries (EC/ED): not booked yet.
    pub expected: bool,
    pub amount: Decimal,
    pub code: [u8; 4],
    pub bank_reference: &'a [u8],
    /// Text after the references on the first line (Rabobank puts the counterparty there).
    pub same_line_extra: &'a [u8],
    /// The supplementary details: the lines after the first.
    pub supplementary: &'a [u8],
}

pub(super) const LINE_LAYOUT: &str =
    "a :61: statement line: value date YYMMDD, optional entry date MMDD, mark C, D, RC or RD, \
     optional funds code letter, amount with decimal comma, transaction type (N, F or S and 3 characters), reference";

/// Reads the fixed part of a :61: line. Line breaks inside it are skipped: some banks wrap the
/// line before the amount (`:61:1811261126CR` / `30,00N062NONREF`).
pub(super) fn statement_line(content: &[u8]) -> Option<StatementLine<'_>> {
    let mut c = Cursor { bytes: content, at: 0 };
    let mut date = [0u8; 6];
    for d in &mut date {
        *d = c.digit()?;
    }
    let value = yymmdd(&date)?;
    let entry = if c.peek().is_some_and(|b| b.is_ascii_digit()) {
        let mut mmdd = [0u8; 4];
        for d in &mut mmdd {
            *d = c.digit()?;
        }
        Some(entry_date(&mmdd, value.0))
    } else {
        None
    };
    // Some German banks export a blank before the mark and before the transaction type
    // (`2401020102 D12,35 NTRF…`); the standard has none there, so a blank there is no content.
    c.skip_blanks();
    let (mark, expected) = match c.next()? {
        b'C' => (Mark::Credit, false),
        b'D' => (Mark::Debit, false),
        b'R' => match c.next()? {
            b'C' => (Mark::ReversalOfCredit, false),
            b'D' => (Mark::ReversalOfDebit, false),
            _ => return None,
        },
        b'E' => match c.next()? {
            b'C' => (Mark::Credit, true),
            b'D' => (Mark::Debit, true),
            _ => return None,
        },
        _ => return None,
    };
    // Funds code (third character of the currency code), a letter.
    if c.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
        c.next();
    }
    let mut digits = [0u8; 32];
    let mut len = 0;
    while let Some(b) = c.peek().filter(|b| b.is_ascii_digit() || *b == b',') {
        *digits.get_mut(len)? = b;
        len += 1;
        c.next();
    }
    let amount = amount(&digits[..len])?;
    c.skip_blanks();
    let mut code = [0u8; 4];
    code[0] = c.next().filter(u8::is_ascii_alphabetic)?;
    for slot in &mut code[1..] {
        *slot = c.next()?;
    }
    // The rest of this line holds the references; the lines after it, the supplementary details.
    let rest = &content[c.at.min(content.len())..];
    let (line, supplementary) = match rest.iter().position(|&b| b == b'\n') {
        Some(end) => (&rest[..end], &rest[end + 1..]),
        None => (rest, &rest[rest.len()..]),
    };
    // The customer reference (up to 16 characters) is not kept: the bank reference identifies
    // the entry, and the customer's own is mostly NONREF.
    let (bank_reference, same_line_extra) = match find(line, b"//") {
        Some(at) => {
            let bank = trim(&line[at + 2..]);
            let end = bank.iter().position(u8::is_ascii_whitespace).unwrap_or(bank.len());
            (&bank[..end], trim(&bank[end..]))
        }
        None => (&line[line.len()..], trim(line.get(16..).unwrap_or_default())),
    };
    Some(StatementLine {
        value,
        entry,
        mark,
        expected,
        amount,
        code,
        bank_reference,
        same_line_extra,
        supplementary: trim(supplementary),
    })
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    /// Skips line breaks and the blanks that end a line before one.
    fn skip_breaks(&mut self) {
        if !matches!(self.bytes.get(self.at), Some(b' ' | b'\t' | b'\n')) {
            return;
        }
        loop {
            let blanks =
                self.bytes[self.at.min(self.bytes.len())..].iter().take_while(|&&b| b == b' ' || b == b'\t').count();
            if self.bytes.get(self.at + blanks) != Some(&b'\n') {
                return;
            }
            self.at += blanks + 1;
        }
    }
    /// Skips blanks (not line breaks) here.
    fn skip_blanks(&mut self) {
        while matches!(self.bytes.get(self.at), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.skip_breaks();
        self.bytes.get(self.at).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }
    fn digit(&mut self) -> Option<u8> {
        self.next().filter(u8::is_ascii_digit)
    }
}

pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(k) = haystack.get(from..)?.iter().position(|&b| b == first) {
        let at = from + k;
        let tail = haystack.get(at + 1..at + needle.len())?;
        if tail.iter().zip(rest).all(|(a, b)| a == b) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The :25: account identification: `BLZ/number`, `BIC/IBAN` (or `BIC IBAN`), an IBAN, a
/// number, optionally with a currency, glued (`1526.89.184EUR`, `DE89…3000EUR`) or after a blank
/// (`DE89…3000 EUR`). The currency goes to `currency`; the IBAN or number is kept alone.
pub(super) fn account(content: &[u8]) -> StatementAccount {
    let text = trim(first_line(content));
    let mut account = StatementAccount::default();
    let (bank, rest) = match text.iter().position(|&b| b == b'/' || b == b' ') {
        Some(cut) if text[cut] == b'/' && is_bank_code(&text[..cut]) => (Some(&text[..cut]), trim(&text[cut + 1..])),
        // Only a BIC stands before the account with a blank: a number before one is the account.
        Some(cut) if is_bic(&text[..cut]) => (Some(&text[..cut]), trim(&text[cut + 1..])),
        _ => (None, text),
    };
    account.bank_id = bank.map(decode);
    // A currency after a blank.
    let mut words = rest.split(|&b| b == b' ' || b == b'\t').filter(|w| !w.is_empty());
    let ident = words.next().unwrap_or_default();
    if let Some(code) = words.next().filter(|w| w.len() == 3 && w.iter().all(u8::is_ascii_uppercase)) {
        account.currency = currency(code);
    }
    // An IBAN one currency code longer than its country's IBANs: the code is glued on.
    let (ident, glued) = match iban_length(ident) {
        Some(length) if ident.len() == length + 3 && ident[length..].iter().all(u8::is_ascii_uppercase) => {
            (&ident[..length], Some(&ident[length..]))
        }
        _ => (ident, None),
    };
    if let Some(code) = glued {
        account.currency = currency(code);
    }
    if is_iban(ident) {
        account.iban = Some(decode(ident).to_ascii_uppercase());
    } else {
        let split = ident.len().saturating_sub(3);
        let suffix = &ident[split..];
        let before = ident[..split].last();
        if before.is_some_and(u8::is_ascii_digit) && suffix.iter().all(u8::is_ascii_uppercase) {
            account.currency = currency(suffix);
            account.number = Some(decode(&ident[..split]));
        } else if !ident.is_empty() {
            account.number = Some(decode(ident));
        }
    }
    // `BLZ/number` is a German account, and a Dutch bank's BIC names its bank code: the IBAN
    // follows, and matches the account's CAMT statements and bank connection.
    if let (None, Some(bank), Some(number)) = (&account.iban, &account.bank_id, &account.number) {
        let country = if bank.len() == 8 && bank.bytes().all(|b| b.is_ascii_digit()) {
            Some(("DE", bank.as_str()))
        } else {
            is_bic(bank.as_bytes()).then(|| (&bank[4..6], &bank[..4]))
        };
        account.iban = country.and_then(|(country, code)| saldo_core::iban::from_national(country, code, number));
    }
    account
}

/// The length of IBANs of the country an IBAN-like text starts with, for the countries whose
/// banks' exports saldo has met (the SWIFT IBAN registry).
fn iban_length(text: &[u8]) -> Option<usize> {
    let country = text.get(..2)?;
    let length = match country {
        b"NO" => 15,
        b"BE" => 16,
        b"DK" | b"FI" | b"FO" | b"GL" | b"NL" => 18,
        b"SI" => 19,
        b"AT" | b"EE" | b"KZ" | b"LT" | b"LU" => 20,
        b"CH" | b"HR" | b"LI" | b"LV" => 21,
        b"BG" | b"DE" | b"GB" | b"IE" | b"ME" | b"RS" => 22,
        b"AE" | b"GI" | b"IL" => 23,
        b"CZ" | b"ES" | b"MD" | b"RO" | b"SA" | b"SE" | b"SK" | b"TN" => 24,
        b"PT" => 25,
        b"IS" | b"TR" => 26,
        b"FR" | b"GR" | b"IT" | b"MC" | b"SM" => 27,
        b"AL" | b"CY" | b"HU" | b"PL" => 28,
        b"MT" => 31,
        _ => return None,
    };
    Some(length)
}

/// A German bank code (8 digits, or any digits) or a BIC (4 letters bank, 2 letters country, 2
/// alphanumerics location, optionally 3 alphanumerics branch).
fn is_bank_code(b: &[u8]) -> bool {
    let digits = !b.is_empty() && b.iter().all(u8::is_ascii_digit);
    digits || is_bic(b)
}

fn is_bic(b: &[u8]) -> bool {
    (b.len() == 8 || b.len() == 11)
        && b[..6].iter().all(u8::is_ascii_uppercase)
        && b[6..].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The IBAN shape (country letters, check digits, 11–30 alphanumerics); the checksum is the
/// bank's business, and redacted sample files fail it.
pub(super) fn is_iban(b: &[u8]) -> bool {
    (15..=34).contains(&b.len())
        && b[..2].iter().all(u8::is_ascii_alphabetic)
        && b[2..4].iter().all(u8::is_ascii_digit)
        && b[4..].iter().all(u8::is_ascii_alphanumeric)
}

pub(super) fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => Charset::Utf8.decode(bytes).text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn february_30_is_moved_to_the_months_end_and_flagged() {
        assert_eq!(yymmdd(b"160230"), Some((date(2016, 2, 29), true)));
        assert_eq!(yymmdd(b"160229"), Some((date(2016, 2, 29), false)));
        assert_eq!(yymmdd(b"161301"), None);
        assert_eq!(yymmdd(b"160200"), None);
    }

    #[test]
    fn entry_dates_take_the_year_nearest_the_value_date() {
        assert_eq!(entry_date(b"1231", date(2011, 1, 2)), Some((date(2010, 12, 31), false)));
        assert_eq!(entry_date(b"0102", date(2010, 12, 30)), Some((date(2011, 1, 2), false)));
        assert_eq!(entry_date(b"0524", date(2011, 5, 24)), Some((date(2011, 5, 24), false)));
        assert_eq!(entry_date(b"1301", date(2011, 5, 24)), None);
    }

    #[test]
    fn accounts_in_their_forms() {
        let a = account(b"50880050/0194804000888");
        assert_eq!((a.bank_id.as_deref(), a.number.as_deref()), (Some("50880050"), Some("0194804000888")));
        let a = account(b"BPHKPLPK/320000546101 ");
        assert_eq!((a.bank_id.as_deref(), a.number.as_deref()), (Some("BPHKPLPK"), Some("320000546101")));
        let a = account(b"PL29114010810000267002001002");
        assert_eq!((a.iban.as_deref(), a.number), (Some("PL29114010810000267002001002"), None));
        let a = account(b"INGBNL2A/NL20INGB0001234567");
        assert_eq!((a.bank_id.as_deref(), a.iban.as_deref()), (Some("INGBNL2A"), Some("NL20INGB0001234567")));
        let a = account(b"1526.89.184EUR");
        assert_eq!((a.number.as_deref(), a.currency.as_deref()), (Some("1526.89.184"), Some("EUR")));
        let a = account(b"517852257");
        assert_eq!((a.number.as_deref(), a.bank_id), (Some("517852257"), None));
    }

    #[test]
    fn an_iban_keeps_apart_from_its_currency_and_its_bank() {
        for text in
            [&b"DE89370400440532013000 EUR"[..], b"DE89370400440532013000EUR", b"DEUTDEFF DE89370400440532013000 EUR"]
        {
            let a = account(text);
            let shown = (a.iban.as_deref(), a.number.as_deref(), a.currency.as_deref());
            assert_eq!(shown, (Some("DE89370400440532013000"), None, Some("EUR")), "{}", decode(text));
        }
        // A number with its currency after a blank is a number, not a bank code.
        let a = account(b"12345678 EUR");
        assert_eq!((a.bank_id, a.number.as_deref(), a.currency.as_deref()), (None, Some("12345678"), Some("EUR")));
        // A Dutch IBAN of its own length is not cut.
        let a = account(b"NL20INGB0001234567");
        assert_eq!((a.iban.as_deref(), a.currency), (Some("NL20INGB0001234567"), None));
    }

    #[test]
    fn a_german_bank_code_or_a_dutch_bic_before_the_number_gives_the_iban() {
        let a = account(b"37040044/5942859575");
        let shown = (a.bank_id.as_deref(), a.number.as_deref(), a.iban.as_deref());
        assert_eq!(shown, (Some("37040044"), Some("5942859575"), Some("DE65370400445942859575")));
        let a = account(b"ABNANL2A/0417164300");
        assert_eq!(a.iban.as_deref(), Some("NL91ABNA0417164300"));
        // Elsewhere the number alone says nothing of the IBAN.
        assert_eq!(account(b"DEUTDEFF 0532013000").iban, None, "a German BIC names no BLZ");
        assert_eq!(account(b"517852257").iban, None);
    }

    #[test]
    fn statement_lines_with_blanks_before_the_mark_or_the_type_are_read() {
        for line in [
            &b"2401020102 D12,35 NTRFNONREF//123"[..],
            b"2401020102D12,35 NTRFNONREF//123",
            b"240102 C100,00NMSCNONREF",
        ] {
            let read = statement_line(line).unwrap_or_else(|| panic!("{}", decode(line)));
            assert!(read.amount == Decimal::new(1235, 2) || read.amount == Decimal::new(10000, 2));
        }
        let read = statement_line(b"2401020102 D12,35 NTRFNONREF//123").unwrap();
        assert_eq!((read.mark.is_debit(), &read.code, read.bank_reference), (true, b"NTRF", &b"123"[..]));
    }

    #[test]
    fn amounts_refuse_a_decimal_point() {
        assert_eq!(amount(b"12,50"), Decimal::from_str_exact("12.50").ok());
        assert_eq!(amount(b"500"), Some(Decimal::from(500)));
        assert_eq!(amount(b"12.50"), None);
    }
}
