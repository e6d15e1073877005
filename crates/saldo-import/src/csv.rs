//! Bank CSV exports. There is no standard: every bank picks its separator, charset, decimal mark,
//! date order, column names and preamble. A [`CsvProfile`] records those choices, so a file is read
//! either with the profile saved for its account (nothing to ask) or with one detected from a
//! bounded sample of its first bytes; the rest of the file is then streamed record by record.

mod detect;
mod keywords;
mod preamble;
mod presets;
#[cfg(test)]
mod tests;
mod value;

pub use presets::presets;
pub use value::{decimal_hint, parse_amount, DateFormat};

use crate::statement::{
    BalanceKind, EntryStatus, Format, ParseError, ParsedBalance, ParsedTransaction, Position, Problem,
    StatementAccount, StatementHeader, StatementSink,
};
use crate::text::{trim, Charset};
use chrono::NaiveDate;
use preamble::{amount_currency, read_preamble, read_preamble_balance, StatedBalance};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Cursor, Read};

/// How many leading bytes detection looks at: enough for a preamble, a header and a few hundred
/// rows, small enough that memory stays flat whatever the file's size.
pub const SAMPLE: usize = 64 * 1024;

/// Problems held back until the first good row: a file that fails reports its error, not a flood.
const HELD_PROBLEMS: usize = 1000;

/// The character set of a CSV file (serialisable, unlike [`Charset`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CsvCharset {
    #[default]
    #[serde(rename = "UTF-8")]
    Utf8,
    #[serde(rename = "Windows-1252")]
    Windows1252,
}

impl CsvCharset {
    fn charset(self) -> Charset {
        match self {
            CsvCharset::Utf8 => Charset::Utf8,
            CsvCharset::Windows1252 => Charset::Windows1252,
        }
    }
}

/// Where the amount is: one signed column, or money out and money in apart (German Soll/Haben,
/// YNAB Outflow/Inflow). Debits count as money out whether the bank writes them signed or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AmountColumns {
    Signed {
        column: usize,
    },
    DebitCredit {
        debit: usize,
        credit: usize,
    },
    /// No amounts: a balance export, whose rows are the balance on their day.
    BalanceOnly,
}

/// Which column (0-based) holds what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Columns {
    pub booking_date: usize,
    #[serde(default)]
    pub value_date: Option<usize>,
    pub amount: AmountColumns,
    /// Joined with spaces, empty ones left out.
    #[serde(default)]
    pub description: Vec<usize>,
    #[serde(default)]
    pub counterparty: Option<usize>,
    #[serde(default)]
    pub counterparty_account: Option<usize>,
    #[serde(default)]
    pub currency: Option<usize>,
    /// The bank's id of the transaction: becomes `provider_id`, how re-imports are recognised.
    #[serde(default)]
    pub reference: Option<usize>,
    /// The bank's transaction type (`CARD_PAYMENT`, `Lastschrift`…).
    #[serde(default)]
    pub code: Option<usize>,
    /// A running balance: its value after the latest row becomes the closing balance.
    #[serde(default)]
    pub balance: Option<usize>,
    /// A debit/credit indicator (`Af`/`Bij`, `D`/`C`, `S`/`H`, `Debit`/`Credit`…): it signs the
    /// amount, which such files write unsigned.
    #[serde(default)]
    pub direction: Option<usize>,
    /// Pending / booked; rows a bank marks declined or reverted are left out.
    #[serde(default)]
    pub status: Option<usize>,
    /// The account the row belongs to, for exports that carry it on every row.
    #[serde(default)]
    pub account: Option<usize>,
}

/// How a bank's CSV export is laid out. Stored per account as JSON, so the next import of that
/// bank's file needs no detection and no questions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvProfile {
    /// A preset's name, or `detected`.
    pub name: String,
    pub delimiter: char,
    /// `None`: quotes are ordinary characters.
    pub quote: Option<char>,
    pub charset: CsvCharset,
    pub decimal_comma: bool,
    pub date_format: DateFormat,
    /// Records (non-empty lines) before the header or the first row: account details some banks
    /// print first. They are read for an IBAN, account number or currency.
    #[serde(default)]
    pub preamble_rows: usize,
    pub has_header: bool,
    /// The header's labels the profile was made for; a file whose header differs gets a problem.
    #[serde(default)]
    pub header: Vec<String>,
    pub columns: Columns,
    /// The statement's currency when neither the rows nor the preamble state one.
    #[serde(default)]
    pub currency: Option<String>,
}

/// Reads a bank CSV export with `profile`, or with a profile detected from its first
/// [`SAMPLE`] bytes, and returns the profile used so the caller can keep it for the account.
pub fn parse<R: BufRead>(
    reader: R,
    profile: Option<&CsvProfile>,
    sink: &mut dyn StatementSink,
) -> Result<CsvProfile, ParseError> {
    parse_with(reader, profile, None, sink)
}

/// [`parse`], with the user's word on which column (counted from 1) holds the amounts: a file
/// whose money columns leave that open is refused without it, and it overrides a saved profile.
pub fn parse_with<R: BufRead>(
    mut reader: R,
    profile: Option<&CsvProfile>,
    amount_column: Option<usize>,
    sink: &mut dyn StatementSink,
) -> Result<CsvProfile, ParseError> {
    let mut head = Vec::new();
    (&mut reader).take(SAMPLE as u64).read_to_end(&mut head).map_err(|e| io_error(&e))?;
    if head.starts_with(&[0xff, 0xfe]) || head.starts_with(&[0xfe, 0xff]) {
        return Err(ParseError::new(Format::Csv, at(1, 0), "UTF-8 or Windows-1252 text", "a UTF-16 byte order mark"));
    }
    let bom: u64 = if head.starts_with(b"\xef\xbb\xbf") { 3 } else { 0 };
    let mut notes = Vec::new();
    let chosen = match amount_column {
        Some(0) => return Err(ParseError::new(Format::Csv, at(1, 0), "an amount column counted from 1", "0")),
        other => other.map(|c| c - 1),
    };
    let profile = match (profile, chosen) {
        (Some(profile), None) => profile.clone(),
        _ => detect::detect(&head[bom as usize..], head.len() >= SAMPLE, chosen, &mut notes)?,
    };
    let mut input = Cursor::new(head);
    input.set_position(bom);
    stream(input.chain(reader), &profile, bom, sink, notes)?;
    Ok(profile)
}

fn at(line: u64, offset: u64) -> Position {
    Position { line: Some(line), offset: Some(offset) }
}

fn io_error(error: &std::io::Error) -> ParseError {
    ParseError::new(Format::Csv, Position::default(), "a readable file", error.to_string())
}

fn ascii(c: char, what: &str) -> Result<u8, ParseError> {
    u8::try_from(c)
        .ok()
        .filter(u8::is_ascii)
        .ok_or_else(|| ParseError::new(Format::Csv, Position::default(), format!("an ASCII {what}"), c.to_string()))
}

/// A csv reader configured as `profile` says, tolerant of rows of varying length (preambles, banks
/// that append fields the header does not name).
fn reader<R: Read>(input: R, delimiter: u8, quote: Option<u8>) -> ::csv::Reader<R> {
    let mut builder = ::csv::ReaderBuilder::new();
    // Records end at '\n' only: with the crate's default CRLF handling, line numbers after a
    // "\r\n" come out one short. The '\r' left at a record's end is trimmed with the field.
    builder
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(64 * 1024)
        .terminator(::csv::Terminator::Any(b'\n'));
    match quote {
        Some(quote) => builder.quote(quote),
        None => builder.quoting(false),
    };
    builder.from_reader(input)
}

/// How a row's status reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowStatus {
    Booked,
    Pending,
    /// Declined, reverted, cancelled: never moved money.
    Void,
}

fn row_status(bytes: &[u8]) -> RowStatus {
    const PENDING: [&str; 24] = [
        "pending",
        "in process",
        "processing",
        "not yet booked",
        "not booked",
        "noch nicht gebucht",
        "offen",
        "umsatz vorgemerkt",
        "vorgemerkter umsatz",
        "vorgemerkt",
        "vorgemerkte",
        "ausstehend",
        "in bearbeitung",
        "en attente",
        "en cours",
        "pendiente",
        "in sospeso",
        "in attesa",
        "in behandeling",
        "väntande",
        "reserviert",
        "reserved",
        "authorised",
        "authorized",
    ];
    const VOID: [&str; 9] =
        ["declined", "reverted", "failed", "cancelled", "canceled", "abgelehnt", "storniert", "rejected", "refused"];
    let value = trim(bytes);
    let is = |words: &[&str]| words.iter().any(|w| w.as_bytes().eq_ignore_ascii_case(value));
    if is(&PENDING) {
        RowStatus::Pending
    } else if is(&VOID) {
        RowStatus::Void
    } else {
        RowStatus::Booked
    }
}

/// Decodes the fields that are kept, noting once that the file is not in its declared charset.
struct Decoder {
    charset: Charset,
    mislabelled: bool,
}

impl Decoder {
    fn text(&mut self, bytes: Option<&[u8]>) -> Option<String> {
        let bytes = trim(bytes?);
        if bytes.is_empty() {
            return None;
        }
        // Valid UTF-8 reads the same in either charset when it is ASCII, and as itself in UTF-8.
        if let Ok(text) = std::str::from_utf8(bytes) {
            if self.charset == Charset::Utf8 || text.is_ascii() {
                return Some(text.to_owned());
            }
        }
        let decoded = self.charset.decode(bytes);
        self.mislabelled |= decoded.mislabelled;
        Some(decoded.text)
    }

    /// Appends the field's text to `out`, after a space when `out` has text already.
    fn append(&mut self, out: &mut String, bytes: Option<&[u8]>) {
        let Some(bytes) = bytes.map(trim).filter(|b| !b.is_empty()) else { return };
        if !out.is_empty() {
            out.push(' ');
        }
        match std::str::from_utf8(bytes) {
            Ok(text) if self.charset == Charset::Utf8 || text.is_ascii() => out.push_str(text),
            _ => {
                let decoded = self.charset.decode(bytes);
                self.mislabelled |= decoded.mislabelled;
                out.push_str(&decoded.text);
            }
        }
    }
}

/// The closing balance from a running-balance column: the balance after the latest row. Files run
/// oldest or newest first, which decides which of several rows of the latest day is the last one;
/// the direction shows itself at the first change of date.
#[derive(Default)]
struct ClosingBalance {
    first_date: Option<NaiveDate>,
    descending: Option<bool>,
    first_of_latest: Option<(NaiveDate, Decimal, Position)>,
    last_of_latest: Option<(NaiveDate, Decimal, Position)>,
}

impl ClosingBalance {
    fn see(&mut self, date: NaiveDate, amount: Decimal, at: Position) {
        match self.first_date {
            None => self.first_date = Some(date),
            Some(first) if self.descending.is_none() && date != first => self.descending = Some(date < first),
            Some(_) => {}
        }
        match self.first_of_latest {
            Some((latest, _, _)) if date < latest => {}
            Some((latest, _, _)) if date == latest => self.last_of_latest = Some((date, amount, at)),
            _ => {
                self.first_of_latest = Some((date, amount, at));
                self.last_of_latest = Some((date, amount, at));
            }
        }
    }

    fn take(&mut self) -> Option<ParsedBalance> {
        let pick = if self.descending == Some(true) { self.first_of_latest } else { self.last_of_latest };
        *self = ClosingBalance::default();
        pick.map(|(date, amount, at)| ParsedBalance { kind: BalanceKind::Closing, date, amount, currency: None, at })
    }
}

/// An IBAN-shaped string (country, check digits, 11–30 letters or digits), spaces removed.
pub(crate) fn as_iban(text: &str) -> Option<String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    let b = compact.as_bytes();
    let shaped = (15..=34).contains(&b.len())
        && b[..2].iter().all(u8::is_ascii_alphabetic)
        && b[2..4].iter().all(u8::is_ascii_digit)
        && b[4..].iter().all(u8::is_ascii_alphanumeric)
        && b[4..].iter().any(u8::is_ascii_digit);
    shaped.then_some(compact)
}

/// The account a row's account field names: an IBAN, a number, or (Monefy, YNAB) a name.
fn account_from(value: &str, account: &mut StatementAccount) {
    if let Some(iban) = as_iban(value) {
        account.iban = Some(iban);
    } else if value.chars().filter(char::is_ascii_digit).count() * 2 >= value.chars().count() {
        account.number = Some(value.to_owned());
    } else {
        account.name = Some(value.to_owned());
    }
}

fn is_currency_code(text: &str) -> bool {
    text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Debit,
    Credit,
}

/// What a debit/credit indicator says, in the words banks use for it.
pub(crate) fn direction(bytes: &[u8]) -> Option<Direction> {
    let word = String::from_utf8_lossy(trim(bytes)).trim_end_matches('.').to_lowercase();
    match word.as_str() {
        "d" | "dr" | "db" | "debit" | "debet" | "af" | "s" | "soll" | "belastung" | "uit" | "out" => {
            Some(Direction::Debit)
        }
        "c" | "cr" | "credit" | "bij" | "h" | "haben" | "gutschrift" | "in" => Some(Direction::Credit),
        _ => None,
    }
}

/// A row read: what decides whether it is kept.
struct Row {
    booking: NaiveDate,
    value: Option<NaiveDate>,
    amount: Decimal,
    balance: Option<Decimal>,
    status: RowStatus,
}

/// Why a row could not be read.
struct Bad {
    expected: String,
    found: Vec<u8>,
}

fn read_row(record: &::csv::ByteRecord, profile: &CsvProfile) -> Result<Row, Bad> {
    let columns = &profile.columns;
    let field = |i: usize| -> Result<&[u8], Bad> {
        record.get(i).map(trim).ok_or_else(|| Bad {
            expected: format!("at least {} fields", i + 1),
            found: format!("{} fields", record.len()).into_bytes(),
        })
    };
    let optional = |i: Option<usize>| i.and_then(|i| record.get(i)).map(trim).filter(|b| !b.is_empty());
    let format = profile.date_format;
    let date_error = |i: usize, found: &[u8]| Bad {
        expected: format!("a date {} in column {}", format.example(), i + 1),
        found: found.to_vec(),
    };
    // A pending row says so in its status column, else in its transaction type (`Vorgang`), else
    // where its booking date would be (comdirect's `offen`).
    let booking_field = field(columns.booking_date)?;
    let marked = |bytes: Option<&[u8]>| bytes.map_or(RowStatus::Booked, row_status);
    let status = match marked(optional(columns.status)) {
        RowStatus::Booked => match marked(optional(columns.code)) {
            RowStatus::Pending => RowStatus::Pending,
            _ => marked(Some(booking_field)),
        },
        other => other,
    };
    let value = match optional(columns.value_date) {
        Some(bytes) => Some(format.parse(bytes).ok_or_else(|| date_error(columns.value_date.unwrap_or(0), bytes))?),
        None => None,
    };
    let booking = match (format.parse(booking_field), value) {
        (Some(date), _) => date,
        // Pending rows may lack the booking date (Revolut's Completed Date, comdirect's `offen`)
        // but have the other.
        (None, Some(value)) if booking_field.is_empty() || status == RowStatus::Pending => value,
        (None, _) => return Err(date_error(columns.booking_date, booking_field)),
    };
    let decimal_comma = profile.decimal_comma;
    let amount_error = |what: String, found: &[u8]| Bad { expected: what, found: found.to_vec() };
    let amount = match columns.amount {
        AmountColumns::Signed { column } => {
            let bytes = field(column)?;
            parse_amount(bytes, decimal_comma)
                .ok_or_else(|| amount_error(format!("an amount in column {}", column + 1), bytes))?
        }
        AmountColumns::DebitCredit { debit, credit } => {
            let expected = || format!("an amount in column {} or {}", debit + 1, credit + 1);
            let debit_bytes = record.get(debit).map(trim).unwrap_or_default();
            let credit_bytes = record.get(credit).map(trim).unwrap_or_default();
            if debit_bytes.is_empty() && credit_bytes.is_empty() {
                return Err(amount_error(expected(), b""));
            }
            let read = |bytes: &[u8]| -> Result<Decimal, Bad> {
                if bytes.is_empty() {
                    Ok(Decimal::ZERO)
                } else {
                    parse_amount(bytes, decimal_comma).ok_or_else(|| amount_error(expected(), bytes))
                }
            };
            read(credit_bytes)? - read(debit_bytes)?.abs()
        }
        AmountColumns::BalanceOnly => Decimal::ZERO,
    };
    let amount = match columns.direction {
        Some(column) => {
            let bytes = field(column)?;
            match direction(bytes) {
                Some(Direction::Debit) => -amount.abs(),
                Some(Direction::Credit) => amount.abs(),
                None => {
                    return Err(amount_error(
                        format!("a debit/credit mark (D or C, Af or Bij, S or H…) in column {}", column + 1),
                        bytes,
                    ))
                }
            }
        }
        None => amount,
    };
    let balance =
        match optional(columns.balance) {
            Some(bytes) => Some(parse_amount(bytes, decimal_comma).ok_or_else(|| {
                amount_error(format!("a balance in column {}", columns.balance.unwrap_or(0) + 1), bytes)
            })?),
            None => None,
        };
    Ok(Row { booking, value, amount, balance, status })
}

/// The statement being written: which account's, and its running balance.
struct Open {
    key: Vec<u8>,
    closing: ClosingBalance,
    /// The latest booking day of its rows.
    latest: Option<NaiveDate>,
}

struct Stream<'a> {
    sink: &'a mut dyn StatementSink,
    /// With whether each is a skipped row.
    held: Vec<(Problem, bool)>,
    begun: bool,
}

impl Stream<'_> {
    fn problem(&mut self, at: Position, message: String) {
        self.tell(Problem { at, message }, false);
    }

    fn row_skipped(&mut self, at: Position, message: String) {
        self.tell(Problem { at, message }, true);
    }

    fn tell(&mut self, problem: Problem, skipped: bool) {
        if self.begun {
            Stream::send(self.sink, problem, skipped);
        } else if self.held.len() < HELD_PROBLEMS {
            self.held.push((problem, skipped));
        }
    }

    fn send(sink: &mut dyn StatementSink, problem: Problem, skipped: bool) {
        if skipped {
            sink.entry_skipped(problem);
        } else {
            sink.problem(problem);
        }
    }

    /// Ends a statement with its running balance's last value, else (for the file's only
    /// statement) the balance its preamble states.
    fn end(&mut self, open: &mut Open, stated: Option<&StatedBalance>) {
        let stated = stated.and_then(|s| s.amount.map(|(amount, at)| (amount, at, s.day.or(open.latest))));
        match (open.closing.take(), stated) {
            (Some(balance), _) => self.sink.balance(balance),
            (None, Some((amount, at, Some(date)))) => {
                self.sink.balance(ParsedBalance { kind: BalanceKind::Closing, date, amount, currency: None, at })
            }
            _ => {}
        }
        self.sink.end();
    }
}

fn stream<R: Read>(
    input: R,
    profile: &CsvProfile,
    bom: u64,
    sink: &mut dyn StatementSink,
    notes: Vec<Problem>,
) -> Result<(), ParseError> {
    let delimiter = ascii(profile.delimiter, "delimiter")?;
    let quote = profile.quote.map(|q| ascii(q, "quote character")).transpose()?;
    let mut csv = reader(input, delimiter, quote);
    let mut record = ::csv::ByteRecord::new();
    let mut decoder = Decoder { charset: profile.charset.charset(), mislabelled: false };
    let mut out = Stream { sink, held: notes.into_iter().map(|p| (p, false)).collect(), begun: false };
    let columns = &profile.columns;
    let mut preamble = StatementAccount::default();
    let mut stated = StatedBalance::default();
    let mut statements = 0usize;
    let mut open: Option<Open> = None;
    let mut first_error: Option<(Position, Bad)> = None;
    let mut index = 0usize;
    let mut last_line = 1;
    let mut told_mislabelled = false;
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => {
                let line = error.position().map_or(last_line, ::csv::Position::line);
                return Err(ParseError::new(Format::Csv, at(line, 0), "a readable CSV record", error.to_string()));
            }
        }
        let position = record.position().map_or(at(last_line, 0), |p| at(p.line(), p.byte() + bom));
        last_line = position.line.unwrap_or(last_line);
        if record.iter().all(|f| trim(f).is_empty()) {
            continue;
        }
        index += 1;
        if index <= profile.preamble_rows {
            let fields: Vec<String> = record.iter().filter_map(|f| decoder.text(Some(f))).collect();
            read_preamble(&fields, &mut preamble);
            read_preamble_balance(&fields, profile, position, &mut stated, &mut preamble);
            continue;
        }
        if profile.has_header && index == profile.preamble_rows + 1 {
            if !profile.header.is_empty() {
                let labels: Vec<String> = record.iter().map(|f| decoder.text(Some(f)).unwrap_or_default()).collect();
                if !detect::same_header(&labels, &profile.header) {
                    out.problem(
                        position,
                        format!("the header differs from the one profile {:?} was made for", profile.name),
                    );
                }
            }
            continue;
        }
        let row = match read_row(&record, profile) {
            Ok(row) => row,
            Err(bad) => {
                out.row_skipped(
                    position,
                    format!("row skipped: expected {}, found {}", bad.expected, crate::statement::snippet(&bad.found)),
                );
                first_error.get_or_insert((position, bad));
                continue;
            }
        };
        if row.status == RowStatus::Void {
            continue;
        }
        let key = columns.account.and_then(|i| record.get(i)).map(trim).unwrap_or_default();
        // Lengths first: comparing two empty keys through memcmp costs more than the whole row.
        if open.as_ref().is_none_or(|o| o.key.len() != key.len() || (!key.is_empty() && o.key != key)) {
            if let Some(mut previous) = open.take() {
                out.end(&mut previous, None);
            }
            statements += 1;
            let mut account = preamble.clone();
            if let Some(value) = decoder.text(Some(key)) {
                account_from(&value, &mut account);
            }
            if account.currency.is_none() {
                let amount_fields = match columns.amount {
                    AmountColumns::Signed { column } => vec![column],
                    AmountColumns::DebitCredit { debit, credit } => vec![debit, credit],
                    AmountColumns::BalanceOnly => columns.balance.into_iter().collect(),
                };
                account.currency = decoder
                    .text(columns.currency.and_then(|i| record.get(i)))
                    .filter(|c| is_currency_code(c))
                    .or_else(|| profile.currency.clone())
                    .or_else(|| {
                        let iban = account.iban.as_deref();
                        amount_fields.iter().find_map(|&i| record.get(i).and_then(|raw| amount_currency(raw, iban)))
                    });
            }
            out.sink.begin(StatementHeader { account, ..StatementHeader::default() });
            if !out.begun {
                out.begun = true;
                for (problem, skipped) in std::mem::take(&mut out.held) {
                    Stream::send(out.sink, problem, skipped);
                }
            }
            open = Some(Open { key: key.to_vec(), closing: ClosingBalance::default(), latest: None });
        }
        let mut description = String::new();
        for &i in &columns.description {
            decoder.append(&mut description, record.get(i));
        }
        let counterparty = decoder.text(columns.counterparty.and_then(|i| record.get(i)));
        let code = decoder.text(columns.code.and_then(|i| record.get(i)));
        if description.is_empty() {
            description = counterparty.clone().or_else(|| code.clone()).unwrap_or_default();
        }
        let status = if row.status == RowStatus::Pending { EntryStatus::Pending } else { EntryStatus::Booked };
        if let Some(o) = open.as_mut() {
            o.latest = o.latest.max(Some(row.booking));
        }
        if columns.amount == AmountColumns::BalanceOnly {
            // A balance export: each row is the account's balance on its day.
            match row.balance {
                Some(amount) => out.sink.balance(ParsedBalance {
                    kind: BalanceKind::Closing,
                    date: row.booking,
                    amount,
                    currency: decoder.text(columns.currency.and_then(|i| record.get(i))),
                    at: position,
                }),
                None => out.row_skipped(position, "row skipped: a balance export's row without a balance".into()),
            }
            continue;
        }
        if let (Some(balance), Some(o)) = (row.balance, open.as_mut()) {
            if status == EntryStatus::Booked {
                o.closing.see(row.booking, balance, position);
            }
        }
        out.sink.transaction(ParsedTransaction {
            booking_date: row.booking,
            value_date: row.value,
            amount: row.amount,
            currency: decoder.text(columns.currency.and_then(|i| record.get(i))),
            status,
            description,
            counterparty,
            counterparty_account: decoder.text(columns.counterparty_account.and_then(|i| record.get(i))),
            provider_id: decoder.text(columns.reference.and_then(|i| record.get(i))),
            code,
            security: None,
            units: None,
            at: position,
        });
        if decoder.mislabelled && !told_mislabelled {
            told_mislabelled = true;
            out.problem(position, format!("text is not valid {:?}; read in the other charset", profile.charset));
        }
    }
    match open {
        Some(mut open) => {
            // A preamble speaks for the file: its balance only closes a file of one statement.
            out.end(&mut open, (statements == 1).then_some(&stated));
            Ok(())
        }
        None => Err(match first_error {
            Some((position, bad)) => ParseError::new(Format::Csv, position, bad.expected, bad.found),
            None => {
                ParseError::new(Format::Csv, at(last_line + u64::from(index > 0), 0), "a transaction row", "nothing")
            }
        }),
    }
}
