//! SWIFT MT940 (customer statement) and MT942 (interim transaction report).
//!
//! The parser reads line by line into one reused buffer and keeps only the tag being read and the
//! last statement line (its :86: may follow), so a file's size costs scanning, not memory.
//!
//! Real files stray from the standard in many ways, and this parser steps over what it can: bank
//! header lines before the first tag and SWIFT envelopes (`{1:…}{2:…}{4:`), blank lines, trailing
//! blanks, CR-only line ends, `-`, `-}` and `-XXX` terminators, a tag split after its first colon,
//! a :61: wrapped before its amount, text in UTF-8 or Windows-1252, 30 February. What it cannot
//! step over is a statement line it cannot read: an amount it would have to drop means the import
//! would not add up, so the file fails instead.

mod fields;
mod info;

use crate::statement::{
    BalanceKind, EntryStatus, Format, ParseError, ParsedBalance, ParsedTransaction, Position, Problem, StatementHeader,
    StatementSink,
};
use fields::decode;
use rust_decimal::Decimal;

const FORMAT: Format = Format::Mt940;
/// More problems than this in one file are counted, not reported one by one: a bank that writes
/// the same oddity on every line would otherwise flood the import report.
const MAX_PROBLEMS: usize = 200;
/// Lines without any tag before a file is judged not to be MT940 at all (banks put a few header
/// lines first; a CSV or XML file has no tags however long it runs).
const PREAMBLE_LIMIT: u64 = 100;

/// Parses MT940/MT942 from `reader`, handing statements to `sink` as it goes.
pub fn parse<R: std::io::BufRead>(mut reader: R, sink: &mut dyn StatementSink) -> Result<(), ParseError> {
    let mut parser = Parser::new(sink);
    let mut buf = Vec::with_capacity(256);
    loop {
        buf.clear();
        let start = parser.offset;
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| ParseError::new(FORMAT, parser.here(), "readable input", e.to_string()))?;
        if n == 0 {
            break;
        }
        parser.offset += n as u64;
        parser.physical_line(&buf, start)?;
    }
    parser.finish()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    None,
    Reference,
    Account,
    Opening,
    Line,
    Info,
    Closing,
    Available,
    Forward,
    DateTime,
    FloorLimit,
    DebitSums,
    CreditSums,
    /// Tags read and ignored: :21:, :28C:, :NS:, Rabobank's :940:.
    Ignored,
    Unknown,
}

fn tag_of(name: &[u8]) -> Tag {
    match name {
        b"20" => Tag::Reference,
        b"25" | b"25P" => Tag::Account,
        b"60F" | b"60M" => Tag::Opening,
        b"61" => Tag::Line,
        b"86" => Tag::Info,
        b"62F" | b"62M" => Tag::Closing,
        b"64" => Tag::Available,
        b"65" => Tag::Forward,
        b"13" | b"13D" => Tag::DateTime,
        b"34F" => Tag::FloorLimit,
        b"90D" => Tag::DebitSums,
        b"90C" => Tag::CreditSums,
        b"21" | b"28" | b"28C" | b"NS" | b"940" | b"942" => Tag::Ignored,
        _ => Tag::Unknown,
    }
}

/// `:NN:`, `:NNa:`, `:NS:` at the start of `line`: the tag's name and where its content starts.
fn tag_at(line: &[u8]) -> Option<(&[u8], usize)> {
    if line.first() != Some(&b':') {
        return None;
    }
    let end = line.iter().skip(1).take(5).position(|&b| b == b':')? + 1;
    let name = &line[1..end];
    let valid = name.len() >= 2
        && (name[0].is_ascii_digit() || name == b"NS")
        && name.iter().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
    valid.then_some((name, end + 1))
}

/// `-` ends a message; files add `}` (envelope), `XXX` (ING) or control characters after it.
fn is_terminator(line: &[u8]) -> bool {
    match line.split_first() {
        Some((b'-', rest)) => {
            rest == b"XXX" || rest.first() == Some(&b'}') || rest.iter().all(|b| !b.is_ascii_alphanumeric())
        }
        _ => false,
    }
}

/// The statement being read.
struct Statement {
    header: StatementHeader,
    began: bool,
    /// Kept for the statement's own checks after the header went to the sink.
    id: Option<String>,
    opening: Option<(Decimal, String)>,
    /// Sum of the lines since the opening balance; `None` once it overflowed.
    sum: Option<Decimal>,
    debits: (u64, Decimal),
    credits: (u64, Decimal),
    /// Its closing balance :62F:/:62M: was read: an MT940 statement that ends without one (the
    /// file ends after its opening balance) was cut off.
    closed: bool,
    /// Anything beyond its header tags (a balance, a line, an MT942's date or floor limit) was read:
    /// a file that ends after a statement's header alone was cut off there.
    has_content: bool,
    /// Its page ended with an intermediate balance :62M:: the next page (a :20: and :25: of the
    /// same account, :28C: counting on) continues it.
    awaiting_page: bool,
    /// The account its :25: named, to tell a next page from another statement.
    account: Option<(Option<String>, Option<String>)>,
    /// A next page's :20: reference, should its :25: name another account after all.
    next_id: Option<String>,
}

impl Default for Statement {
    fn default() -> Statement {
        Statement {
            header: StatementHeader::default(),
            began: false,
            id: None,
            opening: None,
            sum: Some(Decimal::ZERO),
            debits: (0, Decimal::ZERO),
            credits: (0, Decimal::ZERO),
            closed: false,
            has_content: false,
            awaiting_page: false,
            account: None,
            next_id: None,
        }
    }
}

struct Parser<'s> {
    sink: &'s mut dyn StatementSink,
    line: u64,
    offset: u64,
    tag: Tag,
    tag_name: Vec<u8>,
    tag_at: Position,
    content: Vec<u8>,
    /// A recognised tag was seen: the file is MT940.
    seen_tag: bool,
    preamble: u64,
    first_text: Option<(Position, Vec<u8>)>,
    /// A line that was only `:`, which may be the start of a tag split over two lines.
    split_colon: Option<Position>,
    statement: Option<Statement>,
    /// The last statement line, waiting for its :86:.
    pending: Option<ParsedTransaction>,
    info: Vec<u8>,
    supplementary: Vec<u8>,
    scratch: info::Scratch,
    joined: Vec<u8>,
    problems: usize,
}

impl<'s> Parser<'s> {
    fn new(sink: &'s mut dyn StatementSink) -> Parser<'s> {
        Parser {
            sink,
            line: 0,
            offset: 0,
            tag: Tag::None,
            tag_name: Vec::new(),
            tag_at: Position::default(),
            content: Vec::with_capacity(256),
            seen_tag: false,
            preamble: 0,
            first_text: None,
            split_colon: None,
            statement: None,
            pending: None,
            info: Vec::with_capacity(256),
            supplementary: Vec::new(),
            scratch: info::Scratch::default(),
            joined: Vec::new(),
            problems: 0,
        }
    }

    fn here(&self) -> Position {
        Position { line: Some(self.line.max(1)), offset: Some(self.offset) }
    }

    /// One `\n`-terminated chunk; a lone CR also ends a line (old Mac files).
    fn physical_line(&mut self, buf: &[u8], start: u64) -> Result<(), ParseError> {
        let buf = buf.strip_suffix(b"\n").unwrap_or(buf);
        let buf = buf.strip_suffix(b"\r").unwrap_or(buf);
        if !has_byte(buf, b'\r') {
            self.line += 1;
            return self.logical_line(buf, Position { line: Some(self.line), offset: Some(start) });
        }
        let mut offset = start;
        for segment in buf.split(|&b| b == b'\r') {
            self.line += 1;
            self.logical_line(segment, Position { line: Some(self.line), offset: Some(offset) })?;
            offset += segment.len() as u64 + 1;
        }
        Ok(())
    }

    fn logical_line(&mut self, raw: &[u8], at: Position) -> Result<(), ParseError> {
        let line = trim_end(raw);
        if line.is_empty() {
            return Ok(());
        }
        if let Some(colon_at) = self.split_colon.take() {
            let mut joined = std::mem::take(&mut self.joined);
            joined.clear();
            joined.push(b':');
            joined.extend_from_slice(line);
            let result = if tag_at(&joined).is_some() {
                self.line_content(&joined, colon_at)
            } else {
                self.line_content(b":", colon_at).and_then(|()| self.line_content(raw, at))
            };
            self.joined = joined;
            return result;
        }
        if line == b":" {
            self.split_colon = Some(at);
            return Ok(());
        }
        if line.first() == Some(&b'{') {
            // SWIFT envelope: the message text follows `{4:`, the rest is routing.
            self.dispatch()?;
            let text = fields::find(line, b"{4:").map_or(&[][..], |p| trim_start(&line[p + 3..]));
            return if text.is_empty() { Ok(()) } else { self.line_content(text, at) };
        }
        self.line_content(raw, at)
    }

    /// `raw` keeps its trailing blanks: in a wrapped :86: a line of 65 characters may end with
    /// the space between two words.
    fn line_content(&mut self, raw: &[u8], at: Position) -> Result<(), ParseError> {
        let line = trim_end(raw);
        if let Some((name, content_start)) = tag_at(line) {
            self.dispatch()?;
            self.tag = tag_of(name);
            self.seen_tag |= self.tag != Tag::Unknown;
            self.tag_name.clear();
            self.tag_name.extend_from_slice(name);
            self.tag_at = at;
            self.content.clear();
            self.content.extend_from_slice(&raw[content_start..]);
        } else if is_terminator(line) {
            self.dispatch()?;
            // A page that ended with :62M: is continued by the next message.
            if !self.statement.as_ref().is_some_and(|s| s.awaiting_page) {
                self.end_statement();
            }
        } else if self.tag != Tag::None {
            self.content.push(b'\n');
            self.content.extend_from_slice(raw);
        } else if !self.seen_tag {
            // Bank header lines before the first tag.
            if self.first_text.is_none() {
                self.first_text = Some((at, line.iter().take(80).copied().collect()));
            }
            self.preamble += 1;
            if self.preamble > PREAMBLE_LIMIT {
                return Err(self.not_mt940());
            }
        }
        Ok(())
    }

    fn not_mt940(&self) -> ParseError {
        let (at, found) = self.first_text.clone().unwrap_or((self.here(), Vec::new()));
        ParseError::new(FORMAT, at, "an MT940/MT942 statement: tags such as :20:, :25:, :60F:, :61:", found)
    }

    fn finish(mut self) -> Result<(), ParseError> {
        if let Some(at) = self.split_colon.take() {
            self.line_content(b":", at)?;
        }
        let at = self.here();
        let unclosed = |parser: &Parser<'_>| {
            parser.statement.as_ref().is_some_and(|s| (s.opening.is_some() && !s.closed) || !s.has_content)
        };
        // A last line the file's end cut through cannot be read, but the file is cut, not malformed.
        if let Err(err) = self.dispatch() {
            if !unclosed(&self) {
                return Err(err);
            }
        }
        let cut_short = unclosed(&self);
        if self.statement.as_ref().is_some_and(|s| s.awaiting_page) {
            self.problem(at, || {
                format!(
                    "{at}: the file's last statement ends with an intermediate balance :62M:; its next page is missing"
                )
            });
        }
        self.end_statement();
        if !self.seen_tag {
            return Err(self.not_mt940());
        }
        if cut_short {
            return Err(ParseError::cut_short(FORMAT, at, "the statement's closing balance :62F: and its end"));
        }
        Ok(())
    }

    fn problem(&mut self, at: Position, message: impl FnOnce() -> String) {
        self.problems += 1;
        if self.problems <= MAX_PROBLEMS {
            self.sink.problem(Problem { at, message: message() });
        } else if self.problems == MAX_PROBLEMS + 1 {
            self.sink.problem(Problem { at, message: "further problems in this file are not listed".into() });
        }
    }

    /// Handles the tag read so far, now that its last continuation line is known.
    fn dispatch(&mut self) -> Result<(), ParseError> {
        let tag = std::mem::replace(&mut self.tag, Tag::None);
        if tag == Tag::None {
            return Ok(());
        }
        let content = std::mem::take(&mut self.content);
        let result = self.handle(tag, &content);
        self.content = content;
        result
    }

    fn handle(&mut self, tag: Tag, content: &[u8]) -> Result<(), ParseError> {
        let at = self.tag_at;
        let body = matches!(
            tag,
            Tag::Opening
                | Tag::Closing
                | Tag::Available
                | Tag::Forward
                | Tag::Line
                | Tag::DateTime
                | Tag::FloorLimit
                | Tag::DebitSums
                | Tag::CreditSums
        );
        self.handle_tag(tag, content, at)?;
        if body {
            if let Some(statement) = self.statement.as_mut() {
                statement.has_content = true;
            }
        }
        Ok(())
    }

    fn handle_tag(&mut self, tag: Tag, content: &[u8], at: Position) -> Result<(), ParseError> {
        match tag {
            Tag::None | Tag::Ignored => {}
            Tag::Info => {
                if self.pending.is_some() {
                    if !self.info.is_empty() {
                        self.info.push(b'\n');
                    }
                    self.info.extend_from_slice(content);
                }
                // Otherwise it informs about the statement as a whole (ING's counts after :62F:).
            }
            Tag::Reference => {
                let id = trim_end(trim_start(fields::first_line(content)));
                let id = (!id.is_empty()).then(|| decode(id));
                if let Some(statement) = self.statement.as_mut().filter(|s| s.awaiting_page) {
                    // A next page, unless its :25: names another account.
                    statement.next_id = id;
                    return Ok(());
                }
                self.end_statement();
                let header = StatementHeader { id: id.clone(), ..StatementHeader::default() };
                self.statement = Some(Statement { header, id, ..Statement::default() });
            }
            Tag::Account => {
                self.flush();
                if let Some(statement) = self.statement.as_mut().filter(|s| s.awaiting_page) {
                    let account = fields::account(content);
                    if statement.account == Some((account.iban.clone(), account.number.clone())) {
                        // The statement's next page: its lines and balances continue it.
                        statement.awaiting_page = false;
                        statement.closed = false;
                        return Ok(());
                    }
                    let id = statement.next_id.take();
                    self.problem(at, || {
                        format!("{at}: the statement before ends with an intermediate balance :62M:, but its next page is missing")
                    });
                    self.end_statement();
                    let header = StatementHeader { id: id.clone(), ..StatementHeader::default() };
                    self.statement = Some(Statement { header, id, ..Statement::default() });
                }
                let statement = self.statement.get_or_insert_with(Statement::default);
                if !statement.began {
                    let account = fields::account(content);
                    statement.account = Some((account.iban.clone(), account.number.clone()));
                    let currency = statement.header.account.currency.take();
                    statement.header.account = account;
                    if statement.header.account.currency.is_none() {
                        statement.header.account.currency = currency;
                    }
                } else {
                    // sepa_snippet_broken.sta has a :25: where its last :86: should be.
                    self.problem(at, || {
                        format!(
                            "{at}: an account identification :25: after the statement's balances or lines is ignored: {}",
                            crate::statement::snippet(content)
                        )
                    });
                }
            }
            Tag::Opening | Tag::Closing | Tag::Available | Tag::Forward => self.balance(tag, content, at),
            Tag::Line => self.statement_line(content, at)?,
            Tag::DateTime => {
                let statement = self.statement.get_or_insert_with(Statement::default);
                match fields::date_time(content) {
                    Some(dt) if !statement.began => statement.header.to = Some(dt),
                    Some(_) => {}
                    None => self.problem(at, || {
                        format!(
                            "{at}: expected a date-time YYMMDDhhmm in :13D:, found {}",
                            crate::statement::snippet(content)
                        )
                    }),
                }
            }
            Tag::FloorLimit => {
                let statement = self.statement.get_or_insert_with(Statement::default);
                let account = &mut statement.header.account;
                if account.currency.is_none() && !statement.began {
                    account.currency = content.get(..3).and_then(fields::currency);
                }
            }
            Tag::DebitSums | Tag::CreditSums => {
                self.flush();
                self.check_sums(tag == Tag::DebitSums, content, at);
            }
            Tag::Unknown => {
                let name = String::from_utf8_lossy(&self.tag_name).into_owned();
                self.problem(at, || format!("{at}: tag :{name}: is not an MT940 tag and was ignored"));
            }
        }
        Ok(())
    }

    /// Sends the statement's header if not done yet, opening a statement for tags that come
    /// without a :20: (sparkassen.sta starts with a :61:).
    fn begin(&mut self, at: Position) {
        if self.statement.is_none() {
            self.problem(at, || format!("{at}: statement content before any :20: statement reference"));
            self.statement = Some(Statement::default());
        }
        if let Some(statement) = self.statement.as_mut() {
            if !statement.began {
                statement.began = true;
                self.sink.begin(std::mem::take(&mut statement.header));
            }
        }
    }

    fn end_statement(&mut self) {
        self.flush();
        if self.statement.is_some() {
            self.begin(self.tag_at);
            self.sink.end();
            self.statement = None;
        }
    }

    fn balance(&mut self, tag: Tag, content: &[u8], at: Position) {
        self.flush();
        let Some(balance) = fields::balance(content) else {
            self.problem(at, || {
                format!(
                    "{at}: expected {}, found {}; the balance is ignored",
                    fields::BALANCE_LAYOUT,
                    crate::statement::snippet(content)
                )
            });
            return;
        };
        if balance.clamped {
            self.problem(at, || format!("{at}: the balance's date is past its month's end; read as {}", balance.date));
        }
        if tag == Tag::Opening {
            if let Some(statement) = self.statement.as_mut().filter(|s| !s.began) {
                statement.header.account.currency = Some(balance.currency.clone());
            }
        }
        self.begin(at);
        // :60M:/:62M: open and close a page of a statement, not the statement: they are interim.
        let intermediate = self.tag_name.ends_with(b"M");
        let kind = match tag {
            Tag::Opening | Tag::Closing if intermediate => BalanceKind::Interim,
            Tag::Opening => BalanceKind::Opening,
            Tag::Closing => BalanceKind::Closing,
            Tag::Available => BalanceKind::ClosingAvailable,
            _ => BalanceKind::ForwardAvailable,
        };
        if let Some(statement) = self.statement.as_mut() {
            match tag {
                Tag::Opening => {
                    statement.opening = Some((balance.amount, balance.currency.clone()));
                    statement.sum = Some(Decimal::ZERO);
                }
                Tag::Closing => {
                    statement.closed = true;
                    statement.awaiting_page = intermediate;
                    let expected = match (&statement.opening, statement.sum) {
                        (Some((opening, currency)), Some(sum)) if *currency == balance.currency => {
                            opening.checked_add(sum)
                        }
                        _ => None,
                    };
                    if let Some(expected) = expected.filter(|e| *e != balance.amount) {
                        let id = statement.id.clone().unwrap_or_default();
                        let stated = balance.amount;
                        self.problem(at, || {
                            format!(
                                "{at}: statement {id:?} does not add up: opening balance and lines give {expected}, \
                                 the closing balance says {stated}"
                            )
                        });
                    }
                }
                _ => {}
            }
        }
        self.sink.balance(ParsedBalance {
            kind,
            date: balance.date,
            amount: balance.amount,
            currency: Some(balance.currency),
            at,
        });
    }

    fn statement_line(&mut self, content: &[u8], at: Position) -> Result<(), ParseError> {
        self.flush();
        let Some(line) = fields::statement_line(content) else {
            return Err(ParseError::new(FORMAT, at, fields::LINE_LAYOUT, fields::first_line(content)));
        };
        self.begin(at);
        let (value, value_clamped) = line.value;
        if value_clamped {
            self.problem(at, || format!("{at}: the value date is past its month's end; read as {value}"));
        }
        let booking = match line.entry {
            None => value,
            Some(Some((entry, clamped))) => {
                if clamped {
                    self.problem(at, || format!("{at}: the entry date is past its month's end; read as {entry}"));
                }
                entry
            }
            Some(None) => {
                self.problem(at, || format!("{at}: the entry date is no date; the value date {value} is used"));
                value
            }
        };
        let amount = if line.mark.is_debit() { -line.amount } else { line.amount };
        if let Some(statement) = self.statement.as_mut() {
            statement.sum = statement.sum.and_then(|s| s.checked_add(amount));
            let tally = if line.mark.is_debit() { &mut statement.debits } else { &mut statement.credits };
            tally.0 += 1;
            tally.1 = tally.1.checked_add(line.amount).unwrap_or(Decimal::MAX);
        }
        let code = trim_end(&line.code);
        let mut transaction = ParsedTransaction::new(booking, amount, String::new());
        transaction.value_date = Some(value);
        transaction.status = if line.expected { EntryStatus::Pending } else { EntryStatus::Booked };
        transaction.code = (!code.is_empty()).then(|| decode(code));
        transaction.provider_id = (!line.bank_reference.is_empty()
            && !line.bank_reference.eq_ignore_ascii_case(b"NONREF"))
        .then(|| decode(line.bank_reference));
        transaction.at = at;
        self.supplementary.clear();
        let details = if line.supplementary.is_empty() { line.same_line_extra } else { line.supplementary };
        self.supplementary.extend_from_slice(details);
        self.pending = Some(transaction);
        Ok(())
    }

    /// Sends the pending statement line with what its :86: says.
    fn flush(&mut self) {
        let Some(mut transaction) = self.pending.take() else { return };
        if !self.info.is_empty() {
            let info = info::interpret(&self.info, &mut self.scratch);
            transaction.description = info.description;
            transaction.counterparty = info.counterparty;
            transaction.counterparty_account = info.counterparty_account;
        }
        if transaction.description.is_empty() && !self.supplementary.is_empty() {
            transaction.description = info::plain(&self.supplementary, &mut self.scratch);
        }
        self.info.clear();
        self.supplementary.clear();
        self.sink.transaction(transaction);
    }

    /// MT942 :90D:/:90C: number and sum of debit/credit entries, checked against the lines read.
    fn check_sums(&mut self, debit: bool, content: &[u8], at: Position) {
        let text = trim_start(fields::first_line(content));
        let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
        let stated = crate::text::number(&text[..digits]).and_then(|count| {
            let currency = fields::currency(text.get(digits..digits + 3)?)?;
            Some((count, currency, fields::amount(text.get(digits + 3..)?)?))
        });
        let side = if debit { "debit" } else { "credit" };
        let Some((count, _, sum)) = stated else {
            self.problem(at, || {
                format!(
                    "{at}: expected the number and sum of {side} entries (e.g. 3EUR12,50), found {}",
                    crate::statement::snippet(content)
                )
            });
            return;
        };
        let (lines, total) = match self.statement.as_ref() {
            Some(s) if debit => s.debits,
            Some(s) => s.credits,
            None => (0, Decimal::ZERO),
        };
        if u64::from(count) != lines || sum != total {
            self.problem(at, || {
                format!("{at}: the report states {count} {side} entries summing to {sum}, but its lines hold {lines} summing to {total}")
            });
        }
    }
}

/// Whether `byte` is in `hay`, looked for a block at a time (which the compiler turns into vector
/// code).
fn has_byte(hay: &[u8], byte: u8) -> bool {
    hay.chunks(32).any(|block| block.iter().fold(false, |found, &b| found | (b == byte)))
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(0, |i| i + 1);
    &bytes[..end]
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests;
