//! ISO 20022 CAMT.052 (account report), .053 (statement) and .054 (debit/credit notification), every
//! version from 001.01 to 001.08.
//!
//! The versions differ mostly in where they nest things (`Sts` became `Sts/Cd`, parties gained a
//! `Pty` level, `TxDtls/Amt` appeared next to `AmtDtls/TxAmt/Amt`), so elements are matched by local
//! name, whatever the namespace or prefix, and each field accepts every nesting the versions use.
//! The reader streams: one small stack of element tags, one entry (with its transaction details)
//! at a time, handed to the sink as its `</Ntry>` closes. A statement is begun at its first entry
//! (or its end) rather than at `<Stmt>`, because the account's currency may only be knowable from
//! the balances that precede the entries.
//!
//! Choices the standard leaves to the reader:
//! - **Sign.** `CdtDbtInd` gives the direction of the booking itself. For a reversal
//!   (`RvslInd` true) ISO 20022's usage rule is that `CdtDbtInd` is already the reversal's own
//!   direction: a reversed debit is booked `CRDT`, money in; a reversed credit is booked `DBIT`.
//!   So `RvslInd` never flips the sign; it is noted in the description ("reversal").
//! - **Batches.** An entry whose several `TxDtls` each carry an amount that together add up to the
//!   entry becomes one transaction per detail, because that is what the account holder recognises
//!   (the single salaries of a salary run, the single direct debits of a collection). Otherwise the
//!   entry stays one transaction and its details are merged into it, so the sum of transactions
//!   always equals the sum of booked entries and balances reconcile.
//! - **Description.** The remittance information (`Ustrd` lines, structured creditor references and
//!   their additional text), then `AddtlTxInf` and `AddtlNtryInf`, each once, joined by " | ":
//!   what the payer wrote comes first because it is what identifies a payment.
//! - **Charges.** `Chrgs` are noted in the description ("charges 1.50 EUR"); the amount stays the
//!   booked entry amount, since that is what moved the balance.
//! - **No currency.** `Ccy="XXX"` (ISO 4217's "no currency") or a missing `Ccy` leaves the amount's
//!   currency empty, so the account's own currency applies, and is reported once per statement.
//! - **Status.** `PDNG` and `FUTR` entries are pending; `INFO` entries are information only, never
//!   booked, so they are skipped with a problem.
//! - **Placeholders.** `NONREF` and `NOTPROVIDED` are not references: taken as ids they would make
//!   different transactions look like re-imports of each other.

use crate::statement::{
    BalanceKind, EntryStatus, Format, ParseError, ParsedBalance, ParsedTransaction, Position, Problem, StatementHeader,
    StatementSink,
};
use crate::text::{parse_decimal, parse_iso_date, trim, Charset};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use quick_xml::errors::{Error, SyntaxError};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use rust_decimal::Decimal;
use std::io::BufRead;

/// Parses a CAMT message, handing each statement (report, notification) to `sink` as it is read.
pub fn parse<R: BufRead>(reader: R, sink: &mut dyn StatementSink) -> Result<(), ParseError> {
    parse_in_slices(reader, sink, SLICE)
}

/// How much input is parsed at a time: large enough that setting up a reader per slice costs
/// nothing, small enough that memory stays flat.
const SLICE: usize = 256 * 1024;
/// A single comment, CDATA section or tag longer than this is taken for a broken file rather than
/// read on until the memory runs out.
const MAX_CONSTRUCT: usize = 64 << 20;

/// The XML is read in slices that end just after a `>`, and each slice is parsed by quick-xml in
/// place: events borrow the input instead of being copied into a buffer first, which is most of
/// the reading cost. A construct that runs past the cut (a `>` inside a comment, CDATA or a quoted
/// attribute) shows up as "input ended" and is parsed again with the next slice appended. Since
/// each slice gets a fresh reader, the end-tag check is done here, on one stack of names.
fn parse_in_slices<R: BufRead>(mut input: R, sink: &mut dyn StatementSink, slice: usize) -> Result<(), ParseError> {
    let mut parser = Parser::new(sink);
    let mut buf: Vec<u8> = Vec::with_capacity(slice * 2);
    // Offset of `buf[0]` in the input.
    let mut base = 0u64;
    let mut lines = Lines::default();
    let mut open = OpenNames::default();
    let mut eof = false;
    let mut wanted = slice;
    loop {
        while !eof && buf.len() < wanted {
            let filled = buf.len();
            buf.resize(wanted.max(filled + slice), 0);
            let read = loop {
                match input.read(&mut buf[filled..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let at = Position { line: None, offset: Some(base + filled as u64) };
                        return Err(ParseError::new(Format::Camt, at, "a readable file", e.to_string()));
                    }
                }
            };
            buf.truncate(filled + read);
            eof = read == 0;
        }
        let cut = if eof { buf.len() } else { buf.iter().rposition(|&b| b == b'>').map_or(0, |i| i + 1) };
        let mut reader = Reader::from_reader(&buf[..cut]);
        let config = reader.config_mut();
        // Whitespace between elements never matters in CAMT; skipping it halves the events.
        config.trim_text(true);
        config.check_end_names = false;
        config.allow_unmatched_ends = true;
        let mut consumed = cut;
        loop {
            let before = reader.buffer_position() as usize;
            let event = match reader.read_event() {
                Ok(Event::Eof) => break,
                Ok(event) => event,
                Err(Error::Syntax(kind)) if !eof && kind != SyntaxError::InvalidBangMarkup => {
                    consumed = before;
                    break;
                }
                Err(Error::Syntax(kind)) if eof && parser.root_seen && is_unclosed(kind) => {
                    // The file ends inside a tag, comment or CDATA section: cut off, not malformed.
                    let at = lines.position(&buf, base, before);
                    return Err(ParseError::cut_short(Format::Camt, at, "the rest of the document"));
                }
                Err(error) => {
                    let at = lines.position(&buf, base, reader.error_position() as usize);
                    return Err(ParseError::new(Format::Camt, at, "well-formed XML", error.to_string()));
                }
            };
            // Where the event begins: the reader is at its end, and the tag's own bytes (between
            // `<` and `>`, plus the delimiters) lead back to its start. Worked out only when asked
            // for: most events never need their position.
            let after = reader.buffer_position() as usize;
            let mut here = |content: &[u8], delimiters: usize| {
                lines.position(&buf, base, after.saturating_sub(content.len() + delimiters))
            };
            match event {
                Event::Start(e) => {
                    open.push(e.name().as_ref());
                    parser.start(&e, &mut || here(&e, 2))?
                }
                Event::Empty(e) => {
                    let mut at = || here(&e, 3);
                    parser.start(&e, &mut at)?;
                    parser.end(&mut at)?;
                }
                Event::End(e) => {
                    let mut at = || here(&e, 3);
                    open.pop(e.name().as_ref(), &mut at)?;
                    parser.end(&mut at)?
                }
                Event::Text(e) => parser.text(&e, true, &mut || here(&e, 0))?,
                Event::CData(e) => parser.text(&e, false, &mut || here(&e, 12))?,
                Event::Decl(e) => {
                    if let Some(Ok(label)) = e.encoding() {
                        parser.decoder.charset = Charset::from_label(&String::from_utf8_lossy(&label));
                    }
                }
                Event::Eof | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            }
        }
        if eof && consumed == buf.len() {
            let end = buf.len();
            return parser.eof(lines.position(&buf, base, end));
        }
        if consumed == 0 {
            if buf.len() >= MAX_CONSTRUCT {
                let at = lines.position(&buf, base, 0);
                let found = format!("a tag, comment or CDATA section longer than {} MiB", MAX_CONSTRUCT >> 20);
                return Err(ParseError::new(Format::Camt, at, "well-formed XML", found));
            }
            wanted = buf.len() + slice;
            continue;
        }
        lines.forget(&buf, consumed);
        buf.drain(..consumed);
        base += consumed as u64;
        wanted = slice;
    }
}

/// The position of the event being handled, worked out on demand.
type Here<'a> = &'a mut dyn FnMut() -> Position;

/// Newlines are counted lazily, only up to where a position is asked for: errors and problems
/// name a line, but most events never need one.
#[derive(Default)]
struct Lines {
    /// Newlines before `buf[counted]`.
    newlines: u64,
    counted: usize,
}

impl Lines {
    fn position(&mut self, buf: &[u8], base: u64, at: usize) -> Position {
        let at = at.min(buf.len());
        let line = if at >= self.counted {
            self.newlines += count_newlines(&buf[self.counted..at]);
            self.counted = at;
            self.newlines
        } else {
            self.newlines - count_newlines(&buf[at..self.counted])
        };
        Position { line: Some(line + 1), offset: Some(base + at as u64) }
    }

    /// `buf[..consumed]` is about to be dropped.
    fn forget(&mut self, buf: &[u8], consumed: usize) {
        if self.counted < consumed {
            self.newlines += count_newlines(&buf[self.counted..consumed]);
            self.counted = consumed;
        }
        self.counted -= consumed;
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    // Summed per block as bytes, which the compiler turns into wide compares.
    bytes.chunks(255).map(|block| u64::from(block.iter().fold(0u8, |n, &b| n + u8::from(b == b'\n')))).sum()
}

/// The names of the open elements, innermost last, for the end-tag check.
#[derive(Default)]
struct OpenNames {
    names: Vec<u8>,
    starts: Vec<usize>,
}

impl OpenNames {
    fn push(&mut self, name: &[u8]) {
        self.starts.push(self.names.len());
        self.names.extend_from_slice(name);
    }

    fn pop(&mut self, name: &[u8], at: Here) -> Result<(), ParseError> {
        let found = || String::from_utf8_lossy(name).into_owned();
        let Some(start) = self.starts.pop() else {
            return Err(ParseError::new(
                Format::Camt,
                at(),
                "well-formed XML",
                format!("</{}> with no element open", found()),
            ));
        };
        if self.names[start..] != *name {
            let open = String::from_utf8_lossy(&self.names[start..]).into_owned();
            return Err(ParseError::new(
                Format::Camt,
                at(),
                "well-formed XML",
                format!("</{}> closing <{open}>", found()),
            ));
        }
        self.names.truncate(start);
        Ok(())
    }
}

/// The elements the parser cares about, so that paths are compared as small enums, not strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Acct,
    AcctSvcrRef,
    AddtlNtryInf,
    AddtlRmtInf,
    AddtlTxInf,
    Amt,
    AmtDtls,
    Bal,
    Bban,
    Bic,
    Bicfi,
    BkTxCd,
    BookgDt,
    Ccy,
    Cd,
    CdOrPrtry,
    CdtDbtInd,
    Cdtr,
    CdtrAcct,
    CdtrRefInf,
    Chrgs,
    Dbtr,
    DbtrAcct,
    Document,
    Domn,
    Dt,
    DtTm,
    EndToEndId,
    FinInstnId,
    Fmly,
    FrDt,
    FrDtTm,
    FrToDt,
    Iban,
    Id,
    /// `BkToCstmrStmt`, `BkToCstmrAcctRpt`, `BkToCstmrDbtCdtNtfctn` (version 1 adds `V01`).
    Message,
    Nm,
    Ntfctn,
    Ntry,
    NtryDtls,
    NtryRef,
    Othr,
    Ownr,
    Prtry,
    PrtryAcct,
    Pty,
    Rcrd,
    Ref,
    Refs,
    RltdPties,
    RmtInf,
    Rpt,
    RvslInd,
    Stmt,
    Strd,
    Sts,
    SubFmlyCd,
    Svcr,
    ToDt,
    ToDtTm,
    Tp,
    TtlChrgsAndTaxAmt,
    TxAmt,
    TxDtls,
    TxId,
    Upic,
    Ustrd,
    ValDt,
    Other,
}

/// Matches on the length first: a flat match over ~70 byte strings would compare them one by one.
fn tag(local: &[u8]) -> Tag {
    let known = match local.len() {
        2 => match local {
            b"Cd" => Tag::Cd,
            b"Dt" => Tag::Dt,
            b"Id" => Tag::Id,
            b"Nm" => Tag::Nm,
            b"Tp" => Tag::Tp,
            _ => Tag::Other,
        },
        3 => match local {
            b"Amt" => Tag::Amt,
            b"Bal" => Tag::Bal,
            b"BIC" => Tag::Bic,
            b"Ccy" => Tag::Ccy,
            b"Pty" => Tag::Pty,
            b"Ref" => Tag::Ref,
            b"Rpt" => Tag::Rpt,
            b"Sts" => Tag::Sts,
            _ => Tag::Other,
        },
        4 => match local {
            b"Acct" => Tag::Acct,
            b"BBAN" => Tag::Bban,
            b"Cdtr" => Tag::Cdtr,
            b"Dbtr" => Tag::Dbtr,
            b"Domn" => Tag::Domn,
            b"DtTm" => Tag::DtTm,
            b"Fmly" => Tag::Fmly,
            b"FrDt" => Tag::FrDt,
            b"IBAN" => Tag::Iban,
            b"Ntry" => Tag::Ntry,
            b"Othr" => Tag::Othr,
            b"Ownr" => Tag::Ownr,
            b"Rcrd" => Tag::Rcrd,
            b"Refs" => Tag::Refs,
            b"Stmt" => Tag::Stmt,
            b"Strd" => Tag::Strd,
            b"Svcr" => Tag::Svcr,
            b"ToDt" => Tag::ToDt,
            b"TxId" => Tag::TxId,
            b"UPIC" => Tag::Upic,
            _ => Tag::Other,
        },
        5 => match local {
            b"BICFI" => Tag::Bicfi,
            b"Chrgs" => Tag::Chrgs,
            b"Prtry" => Tag::Prtry,
            b"TxAmt" => Tag::TxAmt,
            b"Ustrd" => Tag::Ustrd,
            b"ValDt" => Tag::ValDt,
            _ => Tag::Other,
        },
        6 => match local {
            b"BkTxCd" => Tag::BkTxCd,
            b"FrDtTm" => Tag::FrDtTm,
            b"FrToDt" => Tag::FrToDt,
            b"Ntfctn" => Tag::Ntfctn,
            b"RmtInf" => Tag::RmtInf,
            b"ToDtTm" => Tag::ToDtTm,
            b"TxDtls" => Tag::TxDtls,
            _ => Tag::Other,
        },
        7 => match local {
            b"AmtDtls" => Tag::AmtDtls,
            b"BookgDt" => Tag::BookgDt,
            b"NtryRef" => Tag::NtryRef,
            b"RvslInd" => Tag::RvslInd,
            _ => Tag::Other,
        },
        8 => match local {
            b"CdtrAcct" => Tag::CdtrAcct,
            b"DbtrAcct" => Tag::DbtrAcct,
            b"Document" => Tag::Document,
            b"NtryDtls" => Tag::NtryDtls,
            _ => Tag::Other,
        },
        9 => match local {
            b"CdOrPrtry" => Tag::CdOrPrtry,
            b"CdtDbtInd" => Tag::CdtDbtInd,
            b"PrtryAcct" => Tag::PrtryAcct,
            b"RltdPties" => Tag::RltdPties,
            b"SubFmlyCd" => Tag::SubFmlyCd,
            _ => Tag::Other,
        },
        10 => match local {
            b"AddtlTxInf" => Tag::AddtlTxInf,
            b"CdtrRefInf" => Tag::CdtrRefInf,
            b"EndToEndId" => Tag::EndToEndId,
            b"FinInstnId" => Tag::FinInstnId,
            _ => Tag::Other,
        },
        11 => match local {
            b"AcctSvcrRef" => Tag::AcctSvcrRef,
            b"AddtlRmtInf" => Tag::AddtlRmtInf,
            _ => Tag::Other,
        },
        12 => match local {
            b"AddtlNtryInf" => Tag::AddtlNtryInf,
            _ => Tag::Other,
        },
        17 => match local {
            b"TtlChrgsAndTaxAmt" => Tag::TtlChrgsAndTaxAmt,
            _ => Tag::Other,
        },
        _ => Tag::Other,
    };
    if known == Tag::Other && local.len() >= 13 && local[0] == b'B' && is_message(local) {
        Tag::Message
    } else {
        known
    }
}

const MESSAGES: [&[u8]; 3] = [b"BkToCstmrStmt", b"BkToCstmrAcctRpt", b"BkToCstmrDbtCdtNtfctn"];
const EXPECTED_MESSAGE: &str =
    "a CAMT.052/053/054 message (<BkToCstmrAcctRpt>, <BkToCstmrStmt> or <BkToCstmrDbtCdtNtfctn>) in <Document>";

/// The message elements, with or without the `V01`-style suffix version 1 used.
fn is_message(local: &[u8]) -> bool {
    MESSAGES.iter().any(|m| {
        local.strip_prefix(*m).is_some_and(|rest| {
            rest.is_empty() || (rest.len() == 3 && rest[0] == b'V' && rest[1..].iter().all(u8::is_ascii_digit))
        })
    })
}

/// A currency as the file states it; `None` for no usable currency (`XXX`, missing, not a code).
type Ccy = Option<[u8; 3]>;

fn ccy_of(e: &BytesStart) -> (Ccy, bool) {
    for attr in e.attributes().with_checks(false).flatten() {
        if attr.key.local_name().as_ref() == b"Ccy" {
            let value = trim(&attr.value);
            if let [a, b, c] = value {
                let code = [a.to_ascii_uppercase(), b.to_ascii_uppercase(), c.to_ascii_uppercase()];
                if code.iter().all(u8::is_ascii_uppercase) && &code != b"XXX" {
                    return (Some(code), true);
                }
            }
            return (None, true);
        }
    }
    (None, false)
}

fn ccy_string(ccy: Ccy) -> Option<String> {
    ccy.map(|c| c.iter().map(|&b| char::from(b)).collect())
}

/// Turns field bytes into text in the document's charset, remembering when the charset was wrong.
struct Decoder {
    charset: Charset,
    mislabelled: bool,
}

impl Decoder {
    /// Text with whitespace runs (line breaks in long remittance lines) made single spaces.
    fn text(&mut self, bytes: &[u8]) -> String {
        let bytes = trim(bytes);
        // ASCII whitespace reads the same in either charset, so the raw bytes tell.
        let collapse = needs_collapsing(bytes);
        // Valid UTF-8 is itself in UTF-8, and so is ASCII in Windows-1252: no detour.
        let text = match std::str::from_utf8(bytes) {
            Ok(text) if !collapse && (self.charset == Charset::Utf8 || text.is_ascii()) => return text.to_owned(),
            _ => {
                let decoded = self.charset.decode(bytes);
                self.mislabelled |= decoded.mislabelled;
                decoded.text
            }
        };
        if collapse {
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        } else {
            text
        }
    }

    /// Text, or `None` when empty.
    fn field(&mut self, bytes: &[u8]) -> Option<String> {
        Some(self.text(bytes)).filter(|t| !t.is_empty())
    }

    /// A reference, or `None` for empty and placeholder values.
    fn reference(&mut self, bytes: &[u8]) -> Option<String> {
        self.field(bytes).filter(|r| !is_placeholder(r))
    }
}

/// Whether text has a line break, a tab or two spaces in a row: whitespace to make single spaces.
fn needs_collapsing(bytes: &[u8]) -> bool {
    let mut space = false;
    for &b in bytes {
        match b {
            b'\n' | b'\r' | b'\t' => return true,
            b' ' if space => return true,
            _ => space = b == b' ',
        }
    }
    false
}

fn is_placeholder(reference: &str) -> bool {
    ["NONREF", "NOTPROVIDED", "NOT PROVIDED", "NONE"].iter().any(|p| reference.eq_ignore_ascii_case(p))
}

/// A decimal as XML Schema writes it: digits and an optional `.`, nothing else (a comma here is an
/// error, not a decimal separator).
fn xml_decimal(bytes: &[u8]) -> Option<Decimal> {
    let bytes = trim(bytes);
    if bytes.iter().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+')) {
        parse_decimal(bytes, false)
    } else {
        None
    }
}

fn debit_indicator(bytes: &[u8]) -> Option<bool> {
    match trim(bytes) {
        b"DBIT" => Some(true),
        b"CRDT" => Some(false),
        _ => None,
    }
}

/// An ISO date-time as written, its offset dropped: the statement period is the bank's local one.
fn iso_datetime(bytes: &[u8]) -> Option<NaiveDateTime> {
    let bytes = trim(bytes);
    let date = parse_iso_date(bytes)?;
    let time = match bytes.get(10..19) {
        Some([b'T', h1, h2, b':', m1, m2, b':', s1, s2]) => NaiveTime::from_hms_opt(
            crate::text::number(&[*h1, *h2])?,
            crate::text::number(&[*m1, *m2])?,
            crate::text::number(&[*s1, *s2])?,
        )?,
        _ => NaiveTime::MIN,
    };
    Some(date.and_time(time))
}

/// Appends `raw` XML text to `out` with the predefined and numeric entities resolved.
fn unescape_into(out: &mut Vec<u8>, raw: &[u8]) {
    let mut rest = raw;
    while let Some(amp) = rest.iter().position(|&b| b == b'&') {
        out.extend_from_slice(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.iter().take(12).position(|&b| b == b';') else {
            out.push(b'&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..semi];
        let resolved = match name {
            b"lt" => Some('<'),
            b"gt" => Some('>'),
            b"amp" => Some('&'),
            b"quot" => Some('"'),
            b"apos" => Some('\''),
            [b'#', b'x' | b'X', hex @ ..] => {
                std::str::from_utf8(hex).ok().and_then(|h| u32::from_str_radix(h, 16).ok()).and_then(char::from_u32)
            }
            [b'#', dec @ ..] => {
                std::str::from_utf8(dec).ok().and_then(|d| d.parse::<u32>().ok()).and_then(char::from_u32)
            }
            _ => None,
        };
        match resolved {
            Some(c) => {
                let mut utf8 = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                rest = &rest[semi + 1..];
            }
            None => {
                out.push(b'&');
                rest = &rest[1..];
            }
        }
    }
    out.extend_from_slice(rest);
}

/// A text field longer than this is cut: no CAMT field is near it, and memory stays bounded.
const MAX_TEXT: usize = 64 * 1024;
/// Balances kept back before the first entry; more than this and the statement begins anyway.
const MAX_PENDING_BALANCES: usize = 64;
/// Transaction details kept per entry; beyond this an entry is imported as one transaction.
const MAX_DETAILS: usize = 10_000;

/// A bank transaction code as its parts: `PMNT/ICDT/DMCT`, or the proprietary code.
#[derive(Debug, Default)]
struct Code {
    domain: Option<String>,
    family: Option<String>,
    subfamily: Option<String>,
    proprietary: Option<String>,
}

impl Code {
    /// Takes the parts under `BkTxCd` (`rel` is the path below it).
    fn set(&mut self, rel: &[Tag], text: &[u8], decoder: &mut Decoder) -> bool {
        let slot = match rel {
            [Tag::Domn, Tag::Cd] => &mut self.domain,
            [Tag::Domn, Tag::Fmly, Tag::Cd] => &mut self.family,
            [Tag::Domn, Tag::Fmly, Tag::SubFmlyCd] => &mut self.subfamily,
            [Tag::Prtry, Tag::Cd] => &mut self.proprietary,
            _ => return false,
        };
        *slot = decoder.field(text);
        true
    }

    fn render(&self) -> Option<String> {
        match &self.domain {
            Some(domain) => {
                let mut code = domain.clone();
                for part in [&self.family, &self.subfamily].into_iter().flatten() {
                    code.push('/');
                    code.push_str(part);
                }
                Some(code)
            }
            None => self.proprietary.clone(),
        }
    }
}

/// Charges stated for an entry or a detail: the total when given, else the sum of the records.
#[derive(Debug, Default)]
struct Charges {
    total: Option<(Decimal, Ccy)>,
    sum: Option<(Decimal, Ccy)>,
}

impl Charges {
    fn set(&mut self, rel: &[Tag], text: &[u8], ccy: Ccy) -> bool {
        match rel {
            [Tag::TtlChrgsAndTaxAmt] => {
                self.total = xml_decimal(text).map(|a| (a, ccy));
            }
            [Tag::Amt] | [Tag::Rcrd, Tag::Amt] => {
                if let Some(amount) = xml_decimal(text) {
                    self.sum = match self.sum {
                        None => Some((amount, ccy)),
                        Some((sum, c)) => sum.checked_add(amount).map(|s| (s, c)),
                    };
                }
            }
            _ => return false,
        }
        true
    }

    fn note(&self) -> Option<String> {
        let (amount, ccy) = self.total.or(self.sum)?;
        if amount.is_zero() {
            return None;
        }
        Some(match ccy_string(ccy) {
            Some(ccy) => format!("charges {amount} {ccy}"),
            None => format!("charges {amount}"),
        })
    }
}

/// One `TxDtls`.
#[derive(Debug, Default)]
struct Detail {
    amount: Option<(Decimal, Ccy)>,
    tx_amount: Option<(Decimal, Ccy)>,
    debit: Option<bool>,
    acct_svcr_ref: Option<String>,
    end_to_end_id: Option<String>,
    tx_id: Option<String>,
    proprietary_ref: Option<String>,
    debtor: Option<String>,
    creditor: Option<String>,
    debtor_account: Option<String>,
    creditor_account: Option<String>,
    unstructured: String,
    creditor_refs: String,
    additional: Option<String>,
    code: Code,
    charges: Charges,
}

impl Detail {
    fn set(&mut self, rel: &[Tag], text: &[u8], ccy: Ccy, decoder: &mut Decoder) {
        match rel {
            [Tag::Refs, Tag::AcctSvcrRef] => self.acct_svcr_ref = decoder.reference(text),
            [Tag::Refs, Tag::EndToEndId] => self.end_to_end_id = decoder.reference(text),
            [Tag::Refs, Tag::TxId] => self.tx_id = decoder.reference(text),
            [Tag::Refs, Tag::Prtry, Tag::Ref] => self.proprietary_ref = decoder.reference(text),
            [Tag::Amt] => self.amount = xml_decimal(text).map(|a| (a, ccy)),
            [Tag::AmtDtls, Tag::TxAmt, Tag::Amt] => self.tx_amount = xml_decimal(text).map(|a| (a, ccy)),
            [Tag::CdtDbtInd] => self.debit = debit_indicator(text),
            [Tag::RltdPties, Tag::Dbtr, Tag::Nm] | [Tag::RltdPties, Tag::Dbtr, Tag::Pty, Tag::Nm] => {
                self.debtor = decoder.field(text)
            }
            [Tag::RltdPties, Tag::Cdtr, Tag::Nm] | [Tag::RltdPties, Tag::Cdtr, Tag::Pty, Tag::Nm] => {
                self.creditor = decoder.field(text)
            }
            [Tag::RltdPties, Tag::DbtrAcct, Tag::Id, Tag::Iban | Tag::Bban | Tag::Upic]
            | [Tag::RltdPties, Tag::DbtrAcct, Tag::Id, Tag::Othr | Tag::PrtryAcct, Tag::Id] => {
                self.debtor_account = decoder.field(text).map(account_id)
            }
            [Tag::RltdPties, Tag::CdtrAcct, Tag::Id, Tag::Iban | Tag::Bban | Tag::Upic]
            | [Tag::RltdPties, Tag::CdtrAcct, Tag::Id, Tag::Othr | Tag::PrtryAcct, Tag::Id] => {
                self.creditor_account = decoder.field(text).map(account_id)
            }
            [Tag::RmtInf, Tag::Ustrd] => append(&mut self.unstructured, decoder.field(text), " "),
            [Tag::RmtInf, Tag::Strd, Tag::CdtrRefInf, Tag::Ref] | [Tag::RmtInf, Tag::Strd, Tag::AddtlRmtInf] => {
                append(&mut self.creditor_refs, decoder.field(text), " ")
            }
            [Tag::AddtlTxInf] => self.additional = decoder.field(text),
            [Tag::BkTxCd, code @ ..] => {
                self.code.set(code, text, decoder);
            }
            [Tag::Chrgs, charges @ ..] => {
                self.charges.set(charges, text, ccy);
            }
            _ => {}
        }
    }

    /// The detail's own amount: `TxDtls/Amt` (v3+) or `AmtDtls/TxAmt/Amt`.
    fn own_amount(&self) -> Option<(Decimal, Ccy)> {
        self.amount.or(self.tx_amount)
    }

    /// The other party and its account, seen from the account holder: the creditor of a debit, the
    /// debtor of a credit. A reversal may list the original transaction's parties either way round,
    /// so for one the other side is taken when the expected one is missing.
    fn counterparty(&self, debit: bool, reversal: bool) -> (Option<&String>, Option<&String>) {
        let (name, account, other_name, other_account) = if debit {
            (&self.creditor, &self.creditor_account, &self.debtor, &self.debtor_account)
        } else {
            (&self.debtor, &self.debtor_account, &self.creditor, &self.creditor_account)
        };
        if reversal && name.is_none() && account.is_none() {
            (other_name.as_ref(), other_account.as_ref())
        } else {
            (name.as_ref(), account.as_ref())
        }
    }

    /// [`Detail::counterparty`], moved out.
    fn take_counterparty(&mut self, debit: bool, reversal: bool) -> (Option<String>, Option<String>) {
        let (name, account, other_name, other_account) = if debit {
            (&mut self.creditor, &mut self.creditor_account, &mut self.debtor, &mut self.debtor_account)
        } else {
            (&mut self.debtor, &mut self.debtor_account, &mut self.creditor, &mut self.creditor_account)
        };
        if reversal && name.is_none() && account.is_none() {
            (other_name.take(), other_account.take())
        } else {
            (name.take(), account.take())
        }
    }

    /// [`Detail::reference`], moved out.
    fn take_reference(&mut self) -> Option<String> {
        self.acct_svcr_ref
            .take()
            .or_else(|| self.end_to_end_id.take())
            .or_else(|| self.tx_id.take())
            .or_else(|| self.proprietary_ref.take())
    }

    /// The detail's best own reference.
    fn reference(&self) -> Option<&String> {
        self.acct_svcr_ref
            .as_ref()
            .or(self.end_to_end_id.as_ref())
            .or(self.tx_id.as_ref())
            .or(self.proprietary_ref.as_ref())
    }

    fn describe(&self, description: &mut String) {
        append_part(description, &self.unstructured);
        append_part(description, &self.creditor_refs);
        if let Some(additional) = &self.additional {
            append_part(description, additional);
        }
        if let Some(note) = self.charges.note() {
            append_part(description, &note);
        }
    }
}

fn account_id(id: String) -> String {
    if id.contains(' ') || id.bytes().any(|b| b.is_ascii_lowercase()) {
        id.chars().filter(|c| !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect()
    } else {
        id
    }
}

fn append(to: &mut String, part: Option<String>, separator: &str) {
    if let Some(part) = part {
        if !to.is_empty() {
            to.push_str(separator);
        }
        to.push_str(&part);
    }
}

/// Adds a part to a description, unless it is empty or already said.
fn append_part(description: &mut String, part: &str) {
    if part.is_empty() || description.contains(part) {
        return;
    }
    if !description.is_empty() {
        description.push_str(" | ");
    }
    description.push_str(part);
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Status {
    Booked,
    Pending,
    Info,
    Unknown(String),
}

/// One `Ntry`, gathered until it closes.
#[derive(Debug, Default)]
struct Entry {
    at: Position,
    amount: Option<(Decimal, Ccy)>,
    debit: Option<bool>,
    reversal: bool,
    status: Option<Status>,
    booking_date: Option<NaiveDate>,
    value_date: Option<NaiveDate>,
    acct_svcr_ref: Option<String>,
    entry_ref: Option<String>,
    code: Code,
    additional: Option<String>,
    charges: Charges,
    details: Vec<Detail>,
    dropped_details: bool,
}

impl Entry {
    fn set(&mut self, rel: &[Tag], text: &[u8], ccy: Ccy, decoder: &mut Decoder) {
        match rel {
            [Tag::NtryRef] => self.entry_ref = decoder.reference(text),
            [Tag::Amt] => self.amount = xml_decimal(text).map(|a| (a, ccy)),
            [Tag::CdtDbtInd] => self.debit = debit_indicator(text),
            [Tag::RvslInd] => self.reversal = matches!(trim(text), b"true" | b"1"),
            [Tag::Sts] | [Tag::Sts, Tag::Cd | Tag::Prtry] => {
                let code = trim(text);
                if !code.is_empty() {
                    self.status = Some(match code {
                        b"BOOK" => Status::Booked,
                        b"PDNG" | b"FUTR" => Status::Pending,
                        b"INFO" => Status::Info,
                        other => Status::Unknown(decoder.text(other)),
                    });
                }
            }
            [Tag::BookgDt, Tag::Dt | Tag::DtTm] => self.booking_date = parse_iso_date(trim(text)),
            [Tag::ValDt, Tag::Dt | Tag::DtTm] => self.value_date = parse_iso_date(trim(text)),
            [Tag::AcctSvcrRef] => self.acct_svcr_ref = decoder.reference(text),
            [Tag::BkTxCd, code @ ..] => {
                self.code.set(code, text, decoder);
            }
            [Tag::AddtlNtryInf] => self.additional = decoder.field(text),
            [Tag::Chrgs, charges @ ..] => {
                self.charges.set(charges, text, ccy);
            }
            _ => {}
        }
    }
}

/// One balance, gathered until `</Bal>`.
#[derive(Debug, Default)]
struct Balance {
    at: Position,
    code: Option<String>,
    amount: Option<(Decimal, Ccy)>,
    debit: Option<bool>,
    date: Option<NaiveDate>,
}

impl Balance {
    fn set(&mut self, rel: &[Tag], text: &[u8], ccy: Ccy, decoder: &mut Decoder) {
        match rel {
            [Tag::Tp, Tag::CdOrPrtry, Tag::Cd | Tag::Prtry] | [Tag::Tp, Tag::Cd | Tag::Prtry] => {
                self.code = decoder.field(text)
            }
            [Tag::Amt] => self.amount = xml_decimal(text).map(|a| (a, ccy)),
            [Tag::CdtDbtInd] => self.debit = debit_indicator(text),
            [Tag::Dt, Tag::Dt | Tag::DtTm] => self.date = parse_iso_date(trim(text)),
            _ => {}
        }
    }
}

fn balance_kind(code: &str) -> BalanceKind {
    match code {
        "OPBD" | "PRCD" => BalanceKind::Opening,
        "CLBD" => BalanceKind::Closing,
        "OPAV" => BalanceKind::OpeningAvailable,
        "CLAV" => BalanceKind::ClosingAvailable,
        "FWAV" => BalanceKind::ForwardAvailable,
        "ITBD" | "ITAV" => BalanceKind::Interim,
        other => BalanceKind::Other(other.to_owned()),
    }
}

/// One `Stmt`, `Rpt` or `Ntfctn`.
#[derive(Debug, Default)]
struct Stmt {
    header: StatementHeader,
    owner_name: Option<String>,
    begun: bool,
    pending_balances: Vec<ParsedBalance>,
    no_currency_reported: bool,
}

struct Parser<'s> {
    sink: &'s mut dyn StatementSink,
    decoder: Decoder,
    mislabelled_reported: bool,
    stack: Vec<Tag>,
    text: Vec<u8>,
    /// Whether non-whitespace text arrived since the last tag (for the root check).
    root_seen: bool,
    /// Stack index of the message element, and its name and statement count for messages.
    message: Option<(usize, String, usize)>,
    stmt: Option<Stmt>,
    balance: Option<Balance>,
    entry: Option<Entry>,
    detail: Option<(usize, Detail)>,
    /// `Ccy` of the innermost amount element opened last.
    ccy: Ccy,
}

impl<'s> Parser<'s> {
    fn new(sink: &'s mut dyn StatementSink) -> Parser<'s> {
        Parser {
            sink,
            decoder: Decoder { charset: Charset::Utf8, mislabelled: false },
            mislabelled_reported: false,
            stack: Vec::with_capacity(32),
            text: Vec::with_capacity(256),
            root_seen: false,
            message: None,
            stmt: None,
            balance: None,
            entry: None,
            detail: None,
            ccy: None,
        }
    }

    /// Stack index of statement elements (`Stmt`, `Rpt`, `Ntfctn`).
    fn stmt_depth(&self) -> Option<usize> {
        self.message.as_ref().map(|(depth, _, _)| depth + 1)
    }

    fn start(&mut self, e: &BytesStart, at: Here) -> Result<(), ParseError> {
        let local = e.local_name();
        let local = local.as_ref();
        let tag = tag(local);
        let depth = self.stack.len();
        self.stack.push(tag);
        self.text.clear();
        if depth == 0 {
            self.root_seen = true;
            match tag {
                Tag::Document => {}
                Tag::Message => self.message = Some((0, String::from_utf8_lossy(local).into_owned(), 0)),
                _ => return Err(not_camt(at(), "a CAMT <Document>", local)),
            }
            return Ok(());
        }
        if depth == 1 && self.stack[0] == Tag::Document {
            if tag != Tag::Message {
                return Err(not_camt(at(), EXPECTED_MESSAGE, local));
            }
            self.message = Some((1, String::from_utf8_lossy(local).into_owned(), 0));
            return Ok(());
        }
        let Some(stmt_depth) = self.stmt_depth() else { return Ok(()) };
        if depth == stmt_depth {
            if matches!(tag, Tag::Stmt | Tag::Rpt | Tag::Ntfctn) {
                self.stmt = Some(Stmt::default());
                if let Some((_, _, count)) = self.message.as_mut() {
                    *count += 1;
                }
            }
            return Ok(());
        }
        if self.stmt.is_none() {
            return Ok(());
        }
        if depth == stmt_depth + 1 {
            match tag {
                Tag::Bal => self.balance = Some(Balance { at: at(), ..Balance::default() }),
                Tag::Ntry => {
                    self.begin_statement();
                    self.entry = Some(Entry { at: at(), ..Entry::default() });
                }
                _ => {}
            }
            return Ok(());
        }
        if tag == Tag::TxDtls && self.detail.is_none() {
            let entry_depth = stmt_depth + 1;
            let in_entry = self.entry.is_some()
                && (depth == entry_depth + 1
                    || (depth == entry_depth + 2 && self.stack.get(entry_depth + 1) == Some(&Tag::NtryDtls)));
            if in_entry {
                self.detail = Some((depth, Detail::default()));
            }
        }
        if matches!(tag, Tag::Amt | Tag::TtlChrgsAndTaxAmt) {
            let (ccy, stated) = ccy_of(e);
            self.ccy = ccy;
            let in_money = self.balance.is_some() || self.entry.is_some();
            if ccy.is_none() && in_money {
                let found = if stated { "XXX or an unknown code" } else { "none" };
                self.no_currency(at(), found);
            }
        }
        Ok(())
    }

    fn no_currency(&mut self, at: Position, found: &str) {
        let Some(stmt) = self.stmt.as_mut() else { return };
        if stmt.no_currency_reported {
            return;
        }
        stmt.no_currency_reported = true;
        self.sink.problem(Problem {
            at,
            message: format!(
                "amounts without a usable currency (Ccy: {found}); they are read in the account's own currency"
            ),
        });
    }

    fn text(&mut self, raw: &[u8], escaped: bool, at: Here) -> Result<(), ParseError> {
        if self.stack.is_empty() {
            let content = trim(raw);
            if !content.is_empty() {
                let expected = if self.root_seen { "nothing after the document" } else { "a CAMT <Document>" };
                return Err(ParseError::new(Format::Camt, at(), expected, content));
            }
            return Ok(());
        }
        if self.text.len() < MAX_TEXT {
            if escaped {
                unescape_into(&mut self.text, raw);
            } else {
                self.text.extend_from_slice(raw);
            }
        }
        Ok(())
    }

    fn end(&mut self, at: Here) -> Result<(), ParseError> {
        let Some(depth) = self.stack.len().checked_sub(1) else { return Ok(()) };
        self.field(depth);
        let tag = self.stack[depth];
        if depth == 0 && tag == Tag::Document && self.message.is_none() {
            return Err(ParseError::new(Format::Camt, at(), EXPECTED_MESSAGE, "</Document> without one"));
        }
        if let Some(stmt_depth) = self.stmt_depth() {
            if depth == stmt_depth + 1 && self.stmt.is_some() {
                match tag {
                    Tag::Bal => self.finish_balance(),
                    Tag::Ntry => self.finish_entry(),
                    _ => {}
                }
            } else if depth == stmt_depth && self.stmt.is_some() {
                self.finish_statement();
            } else if depth + 1 == stmt_depth {
                self.finish_message(at())?;
            } else if self.detail.as_ref().is_some_and(|(d, _)| *d == depth) {
                if let (Some((_, detail)), Some(entry)) = (self.detail.take(), self.entry.as_mut()) {
                    if entry.details.len() < MAX_DETAILS {
                        entry.details.push(detail);
                    } else {
                        entry.dropped_details = true;
                    }
                }
            }
        }
        self.stack.pop();
        self.text.clear();
        if self.decoder.mislabelled && !self.mislabelled_reported {
            self.mislabelled_reported = true;
            self.sink.problem(Problem {
                at: at(),
                message: "text not in the declared character set; read as Windows-1252".into(),
            });
        }
        Ok(())
    }

    /// Takes the text of the element closing at `depth` into whatever is being gathered.
    fn field(&mut self, depth: usize) {
        let Some(stmt_depth) = self.stmt_depth() else { return };
        if self.stmt.is_none() || depth <= stmt_depth {
            return;
        }
        let text = trim(&self.text);
        if let Some((detail_depth, detail)) = self.detail.as_mut() {
            if depth > *detail_depth {
                detail.set(&self.stack[*detail_depth + 1..=depth], text, self.ccy, &mut self.decoder);
                return;
            }
        }
        let rel = &self.stack[stmt_depth + 1..=depth];
        if let Some(entry) = self.entry.as_mut() {
            if let [Tag::Ntry, rel @ ..] = rel {
                entry.set(rel, text, self.ccy, &mut self.decoder);
            }
            return;
        }
        if let Some(balance) = self.balance.as_mut() {
            if let [Tag::Bal, rel @ ..] = rel {
                balance.set(rel, text, self.ccy, &mut self.decoder);
            }
            return;
        }
        let Some(stmt) = self.stmt.as_mut() else { return };
        let decoder = &mut self.decoder;
        let header = &mut stmt.header;
        let account = &mut header.account;
        match rel {
            [Tag::Id] => header.id = decoder.field(text),
            [Tag::FrToDt, Tag::FrDtTm | Tag::FrDt] => header.from = iso_datetime(text),
            [Tag::FrToDt, Tag::ToDtTm | Tag::ToDt] => header.to = iso_datetime(text),
            [Tag::Acct, Tag::Id, Tag::Iban] => account.iban = decoder.field(text).map(account_id),
            [Tag::Acct, Tag::Id, Tag::Othr | Tag::PrtryAcct, Tag::Id] | [Tag::Acct, Tag::Id, Tag::Bban | Tag::Upic] => {
                account.number = decoder.field(text)
            }
            [Tag::Acct, Tag::Ccy] => account.currency = decoder.field(text).map(|c| c.to_ascii_uppercase()),
            [Tag::Acct, Tag::Nm] => account.name = decoder.field(text),
            [Tag::Acct, Tag::Ownr, Tag::Nm] | [Tag::Acct, Tag::Ownr, Tag::Pty, Tag::Nm] => {
                stmt.owner_name = decoder.field(text)
            }
            [Tag::Acct, Tag::Svcr, Tag::FinInstnId, Tag::Bic | Tag::Bicfi] => account.bank_id = decoder.field(text),
            _ => {}
        }
    }

    /// Hands the statement's header to the sink, with the balances read so far.
    fn begin_statement(&mut self) {
        let Some(stmt) = self.stmt.as_mut() else { return };
        if stmt.begun {
            return;
        }
        stmt.begun = true;
        let mut header = std::mem::take(&mut stmt.header);
        if header.account.name.is_none() {
            header.account.name = stmt.owner_name.take();
        }
        if header.account.currency.is_none() {
            // The balances are the account's: when they agree on a currency, it is the account's.
            let mut currencies = stmt.pending_balances.iter().map(|b| b.currency.as_deref());
            if let Some(Some(first)) = currencies.next() {
                if currencies.all(|c| c == Some(first)) {
                    header.account.currency = Some(first.to_owned());
                }
            }
        }
        self.sink.begin(header);
        for balance in stmt.pending_balances.drain(..) {
            self.sink.balance(balance);
        }
    }

    fn finish_balance(&mut self) {
        let Some(balance) = self.balance.take() else { return };
        let (Some(code), Some((amount, ccy)), Some(date)) = (balance.code, balance.amount, balance.date) else {
            self.sink.problem(Problem {
                at: balance.at,
                message: "balance without a type code, a valid amount or a date; skipped".into(),
            });
            return;
        };
        let debit = balance.debit.unwrap_or_else(|| {
            self.sink.problem(Problem {
                at: balance.at,
                message: format!("balance {code} without CdtDbtInd; read as a credit"),
            });
            false
        });
        let parsed = ParsedBalance {
            kind: balance_kind(&code),
            date,
            amount: if debit { -amount } else { amount },
            currency: ccy_string(ccy),
            at: balance.at,
        };
        let Some(stmt) = self.stmt.as_mut() else { return };
        if stmt.begun {
            self.sink.balance(parsed);
        } else {
            stmt.pending_balances.push(parsed);
            if stmt.pending_balances.len() >= MAX_PENDING_BALANCES {
                self.begin_statement();
            }
        }
    }

    fn finish_statement(&mut self) {
        self.begin_statement();
        self.stmt = None;
        self.balance = None;
        self.entry = None;
        self.detail = None;
        self.sink.end();
    }

    fn finish_message(&mut self, at: Position) -> Result<(), ParseError> {
        if let Some((_, name, 0)) = &self.message {
            let expected = format!("at least one <Stmt>, <Rpt> or <Ntfctn> in <{name}>");
            return Err(ParseError::new(Format::Camt, at, expected, format!("</{name}> without any")));
        }
        Ok(())
    }

    fn problem(&mut self, at: Position, message: String) {
        self.sink.problem(Problem { at, message });
    }

    fn skipped_entry(&mut self, at: Position, message: String) {
        self.sink.entry_skipped(Problem { at, message });
    }

    fn finish_entry(&mut self) {
        let Some(mut entry) = self.entry.take() else { return };
        self.detail = None;
        let at = entry.at;
        let Some((amount, ccy)) = entry.amount else {
            return self.skipped_entry(at, "entry without a valid <Amt>; skipped".into());
        };
        let Some(debit) = entry.debit else {
            return self.skipped_entry(at, format!("entry of {amount} without CdtDbtInd CRDT or DBIT; skipped"));
        };
        let status = match &entry.status {
            Some(Status::Info) => {
                return self
                    .problem(at, format!("entry of {amount} is information only (Sts INFO), not booked; skipped"));
            }
            Some(Status::Pending) => EntryStatus::Pending,
            Some(Status::Unknown(code)) => {
                self.problem(at, format!("entry status {code:?} unknown; read as booked"));
                EntryStatus::Booked
            }
            Some(Status::Booked) | None => EntryStatus::Booked,
        };
        let booking_date = match (entry.booking_date, entry.value_date) {
            (Some(date), _) => date,
            (None, Some(value)) => {
                if status == EntryStatus::Booked {
                    self.problem(at, format!("entry of {amount} without a booking date; its value date is used"));
                }
                value
            }
            (None, None) => {
                return self
                    .skipped_entry(at, format!("entry of {amount} without a valid booking or value date; skipped"));
            }
        };
        if entry.dropped_details {
            self.problem(at, format!("entry with more than {MAX_DETAILS} details; imported as one transaction"));
        }
        let signed = if debit { -amount } else { amount };
        let code = entry.code.render().or_else(|| entry.details.iter().find_map(|d| d.code.render()));
        let entry_ref = entry.acct_svcr_ref.take().or_else(|| entry.entry_ref.take());
        let template = ParsedTransaction {
            booking_date,
            value_date: entry.value_date,
            amount: signed,
            currency: ccy_string(ccy),
            status,
            description: String::new(),
            counterparty: None,
            counterparty_account: None,
            provider_id: None,
            code,
            security: None,
            units: None,
            at,
        };

        match split(&entry, signed, ccy) {
            Split::Yes(amounts) => {
                let refs: Vec<Option<&String>> = entry.details.iter().map(Detail::reference).collect();
                let refs_unique = refs.iter().enumerate().all(|(i, r)| r.is_some() && !refs[..i].contains(r));
                for (index, (detail, amount)) in entry.details.iter().zip(amounts).enumerate() {
                    let detail_ref = if refs_unique { detail.reference().cloned() } else { None };
                    let provider_id = match (&entry_ref, detail_ref) {
                        (Some(base), Some(own)) => Some(format!("{base}/{own}")),
                        (Some(base), None) => Some(format!("{base}/{}", index + 1)),
                        (None, own) => own,
                    };
                    let detail_debit = detail.debit.unwrap_or(debit);
                    let (counterparty, account) = detail.counterparty(detail_debit, entry.reversal);
                    let mut description = String::new();
                    detail.describe(&mut description);
                    let transaction = ParsedTransaction {
                        amount,
                        description: finish_description(description, &entry),
                        counterparty: counterparty.cloned(),
                        counterparty_account: account.cloned(),
                        provider_id,
                        ..template.clone()
                    };
                    self.sink.transaction(transaction);
                }
            }
            Split::No { mismatch } => {
                if mismatch {
                    self.problem(
                        at,
                        format!(
                            "the details of the entry of {signed} do not add up to it; imported as one transaction"
                        ),
                    );
                }
                let mut description = String::new();
                for detail in &entry.details {
                    detail.describe(&mut description);
                }
                let (counterparty, account, provider_id) = if let [detail] = entry.details.as_mut_slice() {
                    // The common case, one detail: its values are moved rather than copied.
                    let (counterparty, account) = detail.take_counterparty(debit, entry.reversal);
                    (counterparty, account, entry_ref.or_else(|| detail.take_reference()))
                } else {
                    let parties: Vec<_> = entry.details.iter().map(|d| d.counterparty(debit, entry.reversal)).collect();
                    let counterparty = only(parties.iter().filter_map(|p| p.0));
                    let account = only(parties.iter().filter_map(|p| p.1));
                    (
                        counterparty,
                        account,
                        entry_ref.or_else(|| only(entry.details.iter().filter_map(Detail::reference))),
                    )
                };
                let transaction = ParsedTransaction {
                    description: finish_description(description, &entry),
                    counterparty,
                    counterparty_account: account,
                    provider_id,
                    ..template
                };
                self.sink.transaction(transaction);
            }
        }
    }

    fn eof(&mut self, at: Position) -> Result<(), ParseError> {
        if let Some(&open) = self.stack.last() {
            let expected = match open {
                Tag::Other => "the open elements closed".to_owned(),
                known => format!("</{}>", tag_name(known)),
            };
            return Err(ParseError::cut_short(Format::Camt, at, expected));
        }
        if !self.root_seen {
            return Err(ParseError::new(Format::Camt, at, "a CAMT <Document>", ""));
        }
        Ok(())
    }
}

/// A tag still open at the end of input: the file was cut inside it. (A comment or CDATA section
/// left open swallows the rest of a document: that is malformed, not cut.)
fn is_unclosed(kind: SyntaxError) -> bool {
    kind == SyntaxError::UnclosedTag
}

fn not_camt(at: Position, expected: &str, local: &[u8]) -> ParseError {
    ParseError::new(Format::Camt, at, expected, format!("<{}>", String::from_utf8_lossy(local)))
}

fn tag_name(tag: Tag) -> String {
    match tag {
        Tag::Bban => "BBAN".into(),
        Tag::Bic => "BIC".into(),
        Tag::Bicfi => "BICFI".into(),
        Tag::Iban => "IBAN".into(),
        Tag::Upic => "UPIC".into(),
        Tag::Message => "message".into(),
        other => format!("{other:?}"),
    }
}

/// The one distinct value, if all given values agree.
fn only<'a>(mut values: impl Iterator<Item = &'a String>) -> Option<String> {
    let first = values.next()?;
    values.all(|v| v == first).then(|| first.clone())
}

fn finish_description(mut description: String, entry: &Entry) -> String {
    if let Some(additional) = &entry.additional {
        append_part(&mut description, additional);
    }
    if let Some(note) = entry.charges.note() {
        append_part(&mut description, &note);
    }
    if entry.reversal {
        append_part(&mut description, "reversal");
    }
    description
}

enum Split {
    /// One transaction per detail, with these signed amounts.
    Yes(Vec<Decimal>),
    /// One transaction for the entry; `mismatch` when the details had amounts that did not add up.
    No { mismatch: bool },
}

/// Whether a batched entry is imported per detail: only when every detail has its own amount in the
/// entry's currency and they add up to the entry exactly.
fn split(entry: &Entry, signed: Decimal, ccy: Ccy) -> Split {
    if entry.details.len() < 2 || entry.dropped_details {
        return Split::No { mismatch: false };
    }
    let mut amounts = Vec::with_capacity(entry.details.len());
    let mut sum = Decimal::ZERO;
    for detail in &entry.details {
        let Some((amount, detail_ccy)) = detail.own_amount() else { return Split::No { mismatch: false } };
        if detail_ccy.is_some() && ccy.is_some() && detail_ccy != ccy {
            return Split::No { mismatch: false };
        }
        let debit = detail.debit.or(entry.debit).unwrap_or(false);
        let amount = if debit { -amount } else { amount };
        let Some(next) = sum.checked_add(amount) else { return Split::No { mismatch: true } };
        sum = next;
        amounts.push(amount);
    }
    if sum == signed {
        Split::Yes(amounts)
    } else {
        Split::No { mismatch: true }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::statement::{Collect, Statement};
    use std::str::FromStr;

    fn run(xml: &str) -> Result<(Vec<Statement>, Vec<Problem>), ParseError> {
        let mut sink = Collect::default();
        parse(xml.as_bytes(), &mut sink)?;
        Ok(sink.finish())
    }

    fn ok(xml: &str) -> (Vec<Statement>, Vec<Problem>) {
        run(xml).unwrap()
    }

    fn run_sliced(bytes: &[u8], slice: usize) -> Result<(Vec<Statement>, Vec<Problem>), ParseError> {
        let mut sink = Collect::default();
        parse_in_slices(bytes, &mut sink, slice)?;
        Ok(sink.finish())
    }

    /// Every CAMT file of the corpus, and constructs with a `>` inside, read whole and in slices
    /// of a few bytes: where the input is cut must never change what is read, nor an error.
    #[test]
    fn slicing_the_input_anywhere_changes_nothing() {
        let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
        let listing = std::fs::read_to_string(manifest.join("MANIFEST.tsv")).unwrap();
        let mut inputs: Vec<Vec<u8>> = listing
            .lines()
            .filter_map(|l| l.split('\t').next())
            .filter(|p| p.starts_with("files/camt/"))
            .map(|p| std::fs::read(manifest.join(p)).unwrap())
            .collect();
        assert!(inputs.len() > 20, "{} CAMT files", inputs.len());
        let tricky = ntry("1.5", "CRDT", "<!-- a > b --><AddtlNtryInf><![CDATA[x > y]]></AddtlNtryInf><?pi a > b?>")
            .replace(r#"<Amt Ccy="EUR">"#, r#"<Amt q="a>b" Ccy="EUR">"#);
        inputs.push(stmt(&tricky).into_bytes());
        inputs.push(stmt(&tricky).replace("</Dt>", "</Dx>").into_bytes());
        inputs.push(stmt(&tricky).replace("-->", "").into_bytes());
        for input in &inputs {
            let whole = run_sliced(input, SLICE);
            for slice in [1, 2, 3, 7, 64, 1000] {
                assert_eq!(run_sliced(input, slice), whole, "slice {slice}");
            }
        }
        let (statements, _) = ok(&stmt(&tricky));
        assert_eq!(statements[0].transactions[0].amount, dec("1.5"));
        assert_eq!(statements[0].transactions[0].description, "x > y");
        assert!(run(&stmt(&tricky).replace("-->", "")).unwrap_err().found.contains("comment"));
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        parse_iso_date(s.as_bytes()).unwrap()
    }

    /// A camt.053 document with `body` inside `<Stmt>`, after an account.
    fn stmt(body: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
<GrpHdr><MsgId>M</MsgId></GrpHdr>
<Stmt><Id>S1</Id><Acct><Id><IBAN>DE12 3456</IBAN></Id><Ccy>EUR</Ccy></Acct>
{body}
</Stmt></BkToCstmrStmt></Document>"#
        )
    }

    fn ntry(amount: &str, cd: &str, extra: &str) -> String {
        format!(
            r#"<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{cd}</CdtDbtInd><Sts>BOOK</Sts>
<BookgDt><Dt>2024-01-02</Dt></BookgDt>{extra}</Ntry>"#
        )
    }

    #[test]
    fn a_reversed_debit_is_money_in_and_says_so() {
        let xml = stmt(&ntry("10.00", "CRDT", "<RvslInd>true</RvslInd><AddtlNtryInf>Return</AddtlNtryInf>"));
        let (statements, _) = ok(&xml);
        let t = &statements[0].transactions[0];
        assert_eq!(t.amount, dec("10.00"));
        assert_eq!(t.description, "Return | reversal");
        let xml = stmt(&ntry("10.00", "DBIT", "<RvslInd>true</RvslInd>"));
        assert_eq!(ok(&xml).0[0].transactions[0].amount, dec("-10.00"));
    }

    const BATCH: &str = r#"<AcctSvcrRef>B1</AcctSvcrRef><NtryDtls><Btch><NbOfTxs>2</NbOfTxs></Btch>
<TxDtls><Refs><EndToEndId>E1</EndToEndId></Refs><AmtDtls><TxAmt><Amt Ccy="EUR">7.50</Amt></TxAmt></AmtDtls>
<RltdPties><Cdtr><Nm>Alice</Nm></Cdtr><CdtrAcct><Id><IBAN>NL01</IBAN></Id></CdtrAcct></RltdPties>
<RmtInf><Ustrd>Salary</Ustrd><Ustrd>January</Ustrd></RmtInf></TxDtls>
<TxDtls><Refs><EndToEndId>E2</EndToEndId></Refs><Amt Ccy="EUR">2.50</Amt>
<RltdPties><Cdtr><Pty><Nm>Bob</Nm></Pty></Cdtr></RltdPties></TxDtls></NtryDtls>
<AddtlNtryInf>Salaries</AddtlNtryInf>"#;

    #[test]
    fn a_batch_whose_details_add_up_becomes_one_transaction_each() {
        let (statements, problems) = ok(&stmt(&ntry("10.00", "DBIT", BATCH)));
        assert!(problems.is_empty(), "{problems:?}");
        let t = &statements[0].transactions;
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].amount, t[1].amount), (dec("-7.50"), dec("-2.50")));
        assert_eq!(t[0].provider_id.as_deref(), Some("B1/E1"));
        assert_eq!(t[1].provider_id.as_deref(), Some("B1/E2"));
        assert_eq!(t[0].counterparty.as_deref(), Some("Alice"));
        assert_eq!(t[0].counterparty_account.as_deref(), Some("NL01"));
        assert_eq!(t[1].counterparty.as_deref(), Some("Bob"));
        assert_eq!(t[0].description, "Salary January | Salaries");
    }

    #[test]
    fn a_batch_that_does_not_add_up_stays_one_transaction() {
        let (statements, problems) = ok(&stmt(&ntry("11.00", "DBIT", BATCH)));
        let t = &statements[0].transactions;
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].amount, dec("-11.00"));
        assert_eq!(t[0].provider_id.as_deref(), Some("B1"));
        assert_eq!(t[0].counterparty, None, "two different parties");
        assert!(problems[0].message.contains("do not add up"), "{problems:?}");
    }

    #[test]
    fn duplicate_detail_refs_are_numbered() {
        let batch = BATCH.replace("E2", "E1");
        let (statements, _) = ok(&stmt(&ntry("10.00", "DBIT", &batch)));
        let ids: Vec<_> = statements[0].transactions.iter().map(|t| t.provider_id.clone().unwrap()).collect();
        assert_eq!(ids, ["B1/1", "B1/2"]);
    }

    #[test]
    fn pending_and_info_entries() {
        let pending = ntry("1", "CRDT", "").replace("<Sts>BOOK</Sts>", "<Sts><Cd>PDNG</Cd></Sts>");
        let info = ntry("2", "CRDT", "").replace("BOOK", "INFO");
        let (statements, problems) = ok(&stmt(&format!("{pending}{info}")));
        let t = &statements[0].transactions;
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].status, EntryStatus::Pending);
        assert!(problems[0].message.contains("INFO"), "{problems:?}");
    }

    #[test]
    fn datetime_dates_and_periods() {
        let entry = r#"<Ntry><Amt Ccy="EUR">1</Amt><CdtDbtInd>CRDT</CdtDbtInd>
<BookgDt><DtTm>2007-10-18T23:15:00+01:00</DtTm></BookgDt><ValDt><DtTm>2007-10-19T00:00:00Z</DtTm></ValDt></Ntry>"#;
        let body = format!(
            r#"<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">5</Amt><CdtDbtInd>DBIT</CdtDbtInd>
<Dt><DtTm>2007-10-17T00:00:00.000</DtTm></Dt></Bal>{entry}"#
        );
        let xml = stmt(&body).replace(
            "<Id>S1</Id>",
            "<Id>S1</Id><FrToDt><FrDtTm>2007-10-18T08:00:00+01:00</FrDtTm><ToDtTm>2007-10-18T12:30:00.5Z</ToDtTm></FrToDt>",
        );
        let (statements, _) = ok(&xml);
        let s = &statements[0];
        assert_eq!(s.header.from, Some(date("2007-10-18").and_hms_opt(8, 0, 0).unwrap()));
        assert_eq!(s.header.to, Some(date("2007-10-18").and_hms_opt(12, 30, 0).unwrap()));
        assert_eq!(s.transactions[0].booking_date, date("2007-10-18"));
        assert_eq!(s.transactions[0].value_date, Some(date("2007-10-19")));
        assert_eq!(s.balances[0].date, date("2007-10-17"));
        assert_eq!(s.balances[0].amount, dec("-5"));
        assert_eq!(s.header.account.iban.as_deref(), Some("DE123456"));
    }

    #[test]
    fn no_currency_is_reported_once_and_left_empty() {
        let entries = ntry("1", "CRDT", "").replace("EUR", "XXX") + &ntry("2", "CRDT", "").replace(" Ccy=\"EUR\"", "");
        let xml = stmt(&entries).replace("<Ccy>EUR</Ccy>", "");
        let (statements, problems) = ok(&xml);
        assert_eq!(statements[0].transactions[0].currency, None);
        assert_eq!(statements[0].transactions[1].currency, None);
        assert_eq!(statements[0].header.account.currency, None);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("XXX"));
    }

    #[test]
    fn currency_from_balances_when_the_account_has_none() {
        let bal = r#"<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="CHF">1</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2020-01-01</Dt></Dt></Bal>"#;
        let xml = stmt(bal).replace("<Ccy>EUR</Ccy>", "");
        assert_eq!(ok(&xml).0[0].header.account.currency.as_deref(), Some("CHF"));
    }

    #[test]
    fn other_documents_are_refused_with_what_was_found() {
        let pain = r#"<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"><CstmrCdtTrfInitn/></Document>"#;
        let error = run(pain).unwrap_err();
        assert!(error.expected.contains("BkToCstmrStmt"), "{error}");
        assert_eq!(error.found, "\"<CstmrCdtTrfInitn>\"");
        let error = run("<OFX><SIGNONMSGSRSV1/></OFX>").unwrap_err();
        assert_eq!((error.expected.as_str(), error.found.as_str()), ("a CAMT <Document>", "\"<OFX>\""));
        let error = run("OFXHEADER:100\nDATA:OFXSGML").unwrap_err();
        assert!(error.found.contains("OFXHEADER"), "{error}");
        assert!(run("").is_err());
    }

    #[test]
    fn malformed_xml_names_the_offset_and_line() {
        let xml = stmt(&ntry("1", "CRDT", "")).replace("</BookgDt>", "</BookgDtX>");
        let error = run(&xml).unwrap_err();
        assert_eq!(error.expected, "well-formed XML");
        assert_eq!(error.at.line, Some(6), "{error}");
        assert!(error.at.offset.is_some_and(|o| o > 200), "{error:?}");
        let truncated = &stmt(&ntry("1", "CRDT", ""))[..300];
        assert!(run(truncated).is_err());
    }

    #[test]
    fn a_cut_off_document_is_cut_short_wherever_the_cut_falls() {
        let whole = stmt(&format!("{}{}", ntry("1", "CRDT", ""), ntry("2", "DBIT", "")));
        let second = whole.rfind("<Ntry>").unwrap();
        for cut in [second + 3, second + 40, whole.len() - 12, whole.len() - 1] {
            let mut sink = Collect::default();
            let error = parse(&whole.as_bytes()[..cut], &mut sink).unwrap_err();
            assert!(error.cut_short, "cut at {cut}: {error}");
            // The first entry is whole and was handed on; the one the cut went through was not.
            let (statements, _) = sink.finish();
            let entries: usize = statements.iter().map(|s| s.transactions.len()).sum();
            let expected = if cut >= whole.len() - 12 { 2 } else { 1 };
            assert_eq!(entries, expected, "cut at {cut}");
        }
        // Malformed is not cut short.
        let error = run(&whole.replace("</Ntry>", "</Ntryx>")).unwrap_err();
        assert!(!error.cut_short);
    }

    #[test]
    fn several_statements_and_balance_kinds() {
        let bal = |code: &str| {
            format!(
                r#"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2020-01-01</Dt></Dt></Bal>"#
            )
        };
        let one: String = ["PRCD", "CLBD", "OPAV", "CLAV", "FWAV", "ITAV", "XPCD"].iter().map(|c| bal(c)).collect();
        let xml = stmt(&one).replace("</Stmt>", "</Stmt><Stmt><Id>S2</Id></Stmt>");
        let (statements, _) = ok(&xml);
        assert_eq!(statements.len(), 2);
        let kinds: Vec<_> = statements[0].balances.iter().map(|b| b.kind.clone()).collect();
        use BalanceKind::*;
        assert_eq!(
            kinds,
            [Opening, Closing, OpeningAvailable, ClosingAvailable, ForwardAvailable, Interim, Other("XPCD".into())]
        );
        assert_eq!(statements[1].header.id.as_deref(), Some("S2"));
    }

    #[test]
    fn placeholders_are_not_ids_and_charges_are_noted() {
        let extra = r#"<AcctSvcrRef>NONREF</AcctSvcrRef><Chrgs><Amt Ccy="EUR">1.50</Amt></Chrgs>
<NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId><AcctSvcrRef>T-1</AcctSvcrRef></Refs>
<RmtInf><Ustrd>Fee &amp; more</Ustrd></RmtInf></TxDtls></NtryDtls>"#;
        let (statements, _) = ok(&stmt(&ntry("3", "DBIT", extra)));
        let t = &statements[0].transactions[0];
        assert_eq!(t.provider_id.as_deref(), Some("T-1"));
        assert_eq!(t.description, "Fee & more | charges 1.50 EUR");
        assert_eq!(t.amount, dec("-3"));
    }

    #[test]
    fn many_entries_in_several_statements_add_up() {
        let mut xml = String::from("<Document><BkToCstmrStmt>");
        let mut expected = Decimal::ZERO;
        for s in 0..3 {
            xml.push_str(&format!("<Stmt><Id>{s}</Id><Acct><Id><IBAN>X{s}</IBAN></Id></Acct>"));
            for i in 0..2000u32 {
                let (amount, cd) = (Decimal::new(i64::from(i) * 7 + 1, 2), if i % 3 == 0 { "DBIT" } else { "CRDT" });
                expected += if cd == "DBIT" { -amount } else { amount };
                xml.push_str(&ntry(&amount.to_string(), cd, &format!("<AcctSvcrRef>{s}-{i}</AcctSvcrRef>")));
            }
            xml.push_str("</Stmt>");
        }
        xml.push_str("</BkToCstmrStmt></Document>");
        let (statements, problems) = ok(&xml);
        assert!(problems.is_empty());
        assert_eq!(statements.len(), 3);
        let all: Vec<_> = statements.iter().flat_map(|s| &s.transactions).collect();
        assert_eq!(all.len(), 6000);
        assert_eq!(all.iter().map(|t| t.amount).sum::<Decimal>(), expected);
        assert_eq!(all[5999].provider_id.as_deref(), Some("2-1999"));
    }

    #[test]
    fn latin1_text_is_decoded_as_declared() {
        let xml = stmt(&ntry("1", "CRDT", "<AddtlNtryInf>Caf\u{e9}</AddtlNtryInf>"))
            .replace("UTF-8", "ISO-8859-1")
            .replace('\u{e9}', "\u{1}");
        let bytes: Vec<u8> = xml.bytes().map(|b| if b == 1 { 0xe9 } else { b }).collect();
        let mut sink = Collect::default();
        parse(bytes.as_slice(), &mut sink).unwrap();
        let (statements, problems) = sink.finish();
        assert_eq!(statements[0].transactions[0].description, "Caf\u{e9}");
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn an_empty_message_is_not_a_statement() {
        let xml = r#"<Document><BkToCstmrStmt><GrpHdr><MsgId>1</MsgId></GrpHdr></BkToCstmrStmt></Document>"#;
        let error = run(xml).unwrap_err();
        assert!(error.expected.contains("at least one <Stmt>"), "{error}");
    }

    #[test]
    fn prefixed_elements_and_version_one_roots() {
        let xml = r#"<c:Document xmlns:c="x"><c:BkToCstmrAcctRptV01><c:Rpt><c:Acct><c:Id><c:PrtryAcct><c:Id>42</c:Id></c:PrtryAcct></c:Id></c:Acct>
<c:Ntry><c:Amt Ccy="SEK">200000</c:Amt><c:CdtDbtInd>DBIT</c:CdtDbtInd><c:BookgDt><c:Dt>2007-10-18</c:Dt></c:BookgDt></c:Ntry></c:Rpt></c:BkToCstmrAcctRptV01></c:Document>"#;
        let (statements, _) = ok(xml);
        assert_eq!(statements[0].header.account.number.as_deref(), Some("42"));
        assert_eq!(statements[0].transactions[0].amount, dec("-200000"));
        assert_eq!(statements[0].transactions[0].currency.as_deref(), Some("SEK"));
    }
}
