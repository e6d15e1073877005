//! What every statement parser produces, whatever the format: statements of one account each, with
//! balances, transactions and holdings, handed to a [`StatementSink`] one by one as the parser meets
//! them, so that a file of a million transactions never sits in memory.
//!
//! Values stay as the file states them: amounts are exact decimals with the currency the file gives
//! (the statement's, or the entry's own), dates are the file's dates. Turning them into saldo's
//! accounts and minor units is the importer's job, not the parser's.

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;

/// The statement formats saldo reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// OFX 1.x (SGML) and 2.x (XML), with the QFX and QBO variants.
    Ofx,
    /// ISO 20022 CAMT.052, .053 and .054.
    Camt,
    /// SWIFT MT940 and MT942.
    Mt940,
    /// Bank CSV exports.
    Csv,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Ofx => "ofx",
            Format::Camt => "camt",
            Format::Mt940 => "mt940",
            Format::Csv => "csv",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "ofx" | "qfx" | "qbo" => Some(Format::Ofx),
            "camt" | "camt052" | "camt053" | "camt054" | "xml" => Some(Format::Camt),
            "mt940" | "mt942" | "sta" | "swift" => Some(Format::Mt940),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// Where in the file something is: what a person needs to find it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// 1-based line, when the format has lines.
    pub line: Option<u64>,
    /// Byte offset from the start of the file.
    pub offset: Option<u64>,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.offset) {
            (Some(line), _) => write!(f, "line {line}"),
            (None, Some(offset)) => write!(f, "byte {offset}"),
            (None, None) => write!(f, "somewhere"),
        }
    }
}

/// Why a file could not be read as its format. Nothing of a file that fails is imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{format} at {at}: expected {expected}, found {found}")]
pub struct ParseError {
    pub format: &'static str,
    pub at: Position,
    /// What the format requires there, in words ("a date YYYYMMDD in <DTPOSTED>").
    pub expected: String,
    /// What the file has instead, shortened to a readable snippet.
    pub found: String,
    /// The file ends before its structure closes: it was most likely cut off (a download that
    /// broke). Everything complete before the cut was handed to the sink, so an importer may keep
    /// it when the user asks for what is there; an entry the cut went through never is.
    pub cut_short: bool,
}

impl ParseError {
    pub fn new(format: Format, at: Position, expected: impl Into<String>, found: impl AsRef<[u8]>) -> ParseError {
        ParseError {
            format: format.as_str(),
            at,
            expected: expected.into(),
            found: snippet(found.as_ref()),
            cut_short: false,
        }
    }

    /// The same error, with what the file has there described in words rather than quoted.
    pub fn with_found(self, found: impl Into<String>) -> ParseError {
        ParseError { found: found.into(), ..self }
    }

    /// The file ends at `at` where the format still expects `expected`.
    pub fn cut_short(format: Format, at: Position, expected: impl Into<String>) -> ParseError {
        ParseError {
            format: format.as_str(),
            at,
            expected: expected.into(),
            found: "the end of the file".into(),
            cut_short: true,
        }
    }
}

/// At most 60 characters of `bytes`, lossily decoded, for messages.
pub fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return "nothing".into();
    }
    let mut out: String = text.chars().take(60).collect();
    if text.chars().count() > 60 {
        out.push('…');
    }
    format!("{out:?}")
}

/// Something odd a parser stepped over without failing: reported next to a successful import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub at: Position,
    pub message: String,
}

/// The account a statement is about, as the file identifies it. Any field may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatementAccount {
    /// The bank's account number or id as written (OFX ACCTID, MT940 :25:, CAMT Othr/Id).
    pub number: Option<String>,
    /// IBAN, without spaces, upper case.
    pub iban: Option<String>,
    /// Bank, routing or sort code; BIC for CAMT and MT940 when given.
    pub bank_id: Option<String>,
    pub branch_id: Option<String>,
    /// What kind of account the file says it is.
    pub kind: Option<AccountKindHint>,
    /// The account's or statement's currency (ISO 4217, upper case).
    pub currency: Option<String>,
    /// A name the file gives the account or its owner, if any.
    pub name: Option<String>,
}

/// The account kind a file states, when it states one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKindHint {
    Checking,
    Savings,
    MoneyMarket,
    CreditLine,
    CreditCard,
    Investment,
    Loan,
}

/// A statement begins: which account, which period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatementHeader {
    pub account: StatementAccount,
    /// The statement's own id (CAMT Stmt/Id, MT940 :20:), if any.
    pub id: Option<String>,
    /// The period the statement covers, as stated.
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
}

/// Whether a transaction has booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EntryStatus {
    #[default]
    Booked,
    Pending,
}

/// One transaction. `amount` is signed from the account holder's view: negative is money out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedTransaction {
    pub booking_date: NaiveDate,
    pub value_date: Option<NaiveDate>,
    pub amount: Decimal,
    /// The entry's own currency when it states one; otherwise the statement's applies.
    pub currency: Option<String>,
    pub status: EntryStatus,
    /// What the transaction is for, as one readable line (OFX NAME + MEMO, CAMT remittance info,
    /// MT940 :86: purpose).
    pub description: String,
    pub counterparty: Option<String>,
    /// The counterparty's account (IBAN or number), when given.
    pub counterparty_account: Option<String>,
    /// The file's unique id for it (OFX FITID, CAMT AcctSvcrRef or entry reference, MT940 bank
    /// reference), if it has one: it is how re-imports are recognised.
    pub provider_id: Option<String>,
    /// The format's transaction type code (OFX TRNTYPE, CAMT bank transaction code, MT940 type).
    pub code: Option<String>,
    /// For investment transactions: the security and the units moved.
    pub security: Option<String>,
    pub units: Option<Decimal>,
    pub at: Position,
}

impl ParsedTransaction {
    /// A booked transaction with only the required fields; the others empty.
    pub fn new(booking_date: NaiveDate, amount: Decimal, description: impl Into<String>) -> ParsedTransaction {
        ParsedTransaction {
            booking_date,
            value_date: None,
            amount,
            currency: None,
            status: EntryStatus::Booked,
            description: description.into(),
            counterparty: None,
            counterparty_account: None,
            provider_id: None,
            code: None,
            security: None,
            units: None,
            at: Position::default(),
        }
    }
}

/// Which balance a statement states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BalanceKind {
    /// Booked balance at the start of the period (CAMT OPBD/PRCD, MT940 :60F:/:60M:).
    Opening,
    /// Booked balance at the end (OFX LEDGERBAL, CAMT CLBD, MT940 :62F:/:62M:).
    Closing,
    /// Available balance at the start (CAMT OPAV).
    OpeningAvailable,
    /// Available balance at the end (OFX AVAILBAL, CAMT CLAV, MT940 :64:).
    ClosingAvailable,
    /// Forward available (CAMT FWAV, MT940 :65:).
    ForwardAvailable,
    /// Intraday or interim (CAMT ITBD/ITAV, MT942 :34F: floor excluded).
    Interim,
    /// Any other type code, kept as written.
    Other(String),
}

impl BalanceKind {
    pub fn as_str(&self) -> &str {
        match self {
            BalanceKind::Opening => "opening",
            BalanceKind::Closing => "closing",
            BalanceKind::OpeningAvailable => "opening_available",
            BalanceKind::ClosingAvailable => "closing_available",
            BalanceKind::ForwardAvailable => "forward_available",
            BalanceKind::Interim => "interim",
            BalanceKind::Other(code) => code,
        }
    }
}

/// A balance the statement states, signed (negative = overdrawn or owed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedBalance {
    pub kind: BalanceKind,
    pub date: NaiveDate,
    pub amount: Decimal,
    /// The balance's own currency when it states one; otherwise the statement's applies.
    pub currency: Option<String>,
    pub at: Position,
}

/// A position in an investment statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedHolding {
    /// The security's id as the file gives it (CUSIP, ISIN, ticker…).
    pub security_id: String,
    /// What kind of id (`CUSIP`, `ISIN`, `TICKER`…), when stated.
    pub id_type: Option<String>,
    /// Name and ticker from the file's security list, when it has one.
    pub name: Option<String>,
    pub ticker: Option<String>,
    pub units: Decimal,
    pub unit_price: Option<Decimal>,
    pub market_value: Option<Decimal>,
    pub currency: Option<String>,
    /// When the price or position was stated.
    pub as_of: Option<NaiveDate>,
    pub at: Position,
}

/// Receives a file's content in file order: `begin`, then any number of transactions, balances
/// and holdings, then `end`; again for each further statement. Problems may come at any time.
pub trait StatementSink {
    fn begin(&mut self, header: StatementHeader);
    fn transaction(&mut self, transaction: ParsedTransaction);
    fn balance(&mut self, balance: ParsedBalance);
    fn holding(&mut self, holding: ParsedHolding);
    fn end(&mut self);
    fn problem(&mut self, problem: Problem);
    /// An entry the file holds but that could not be read (a row without a valid amount or
    /// date): a problem that means data left behind, which an import refuses unless told.
    fn entry_skipped(&mut self, problem: Problem) {
        self.problem(problem);
    }
}

/// A statement with everything in it: what [`Collect`] builds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statement {
    pub header: StatementHeader,
    pub transactions: Vec<ParsedTransaction>,
    pub balances: Vec<ParsedBalance>,
    pub holdings: Vec<ParsedHolding>,
}

/// A sink that keeps everything: for tests and small files.
#[derive(Debug, Default)]
pub struct Collect {
    pub statements: Vec<Statement>,
    pub problems: Vec<Problem>,
    open: Option<Statement>,
}

impl Collect {
    /// The statements and problems, closing a statement the parser left open.
    pub fn finish(mut self) -> (Vec<Statement>, Vec<Problem>) {
        if let Some(open) = self.open.take() {
            self.statements.push(open);
        }
        (self.statements, self.problems)
    }

    fn current(&mut self) -> &mut Statement {
        self.open.get_or_insert_with(Statement::default)
    }
}

impl StatementSink for Collect {
    fn begin(&mut self, header: StatementHeader) {
        if let Some(open) = self.open.take() {
            self.statements.push(open);
        }
        self.open = Some(Statement { header, ..Statement::default() });
    }
    fn transaction(&mut self, transaction: ParsedTransaction) {
        self.current().transactions.push(transaction);
    }
    fn balance(&mut self, balance: ParsedBalance) {
        self.current().balances.push(balance);
    }
    fn holding(&mut self, holding: ParsedHolding) {
        self.current().holdings.push(holding);
    }
    fn end(&mut self) {
        if let Some(open) = self.open.take() {
            self.statements.push(open);
        }
    }
    fn problem(&mut self, problem: Problem) {
        self.problems.push(problem);
    }
}
