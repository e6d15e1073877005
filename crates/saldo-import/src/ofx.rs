//! OFX statements: OFX 1.x (SGML, leaves never closed), OFX 2.x (XML), and Intuit's QFX/QBO, which
//! are OFX with extra tags (`<INTU.BID>`…) that are simply not read.
//!
//! The parser does not build a tree. It keeps a stack of the aggregates it understands (statement,
//! account, transaction, balance, position…) and reads every other tag as a field of the innermost
//! one. That makes unknown aggregates transparent and an SGML field left empty and unclosed
//! (`<BALAMT>` followed directly by `<DTASOF>`) harmless, which is what real bank files need.
//!
//! Transactions and balances reach the sink as soon as they are read. Holdings cannot: their
//! names are in the security list, which OFX puts after all statements. So an investment statement's
//! positions (a handful) wait, with the statement's `end`, until the security list is read; if
//! another statement begins first, they go out unnamed.
//!
//! Descriptions: NAME and MEMO, joined by " / " when each says something the other does not; when
//! one contains the other, the longer alone. Without a NAME, the CHECKNUM is added ("check 1025").
//! Investment transactions are described by their MEMO, or by their type and security.

mod fields;
mod scan;

use std::collections::HashMap;
use std::io::BufRead;
use std::mem;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::statement::snippet;
use crate::statement::{
    AccountKindHint, BalanceKind, EntryStatus, Format, ParseError, ParsedBalance, ParsedHolding, ParsedTransaction,
    Position, Problem, StatementAccount, StatementHeader, StatementSink,
};
use crate::text::{trim, Charset};
use scan::{Kind, Scanner};

/// Deeper than any OFX; beyond it aggregates are not tracked (their fields go to the last one that is).
const MAX_DEPTH: usize = 64;
/// Bound on the securities remembered from security lists, so that memory does not grow with a
/// hostile file.
const MAX_SECURITIES: usize = 100_000;

/// Reads an OFX file, handing each statement to `sink` as it goes. Fails only when the input is
/// not OFX (no `<OFX>` element first) or cannot be read; everything odd inside a real OFX file is
/// a [`Problem`] next to what could be read.
pub fn parse<R: BufRead>(reader: R, sink: &mut dyn StatementSink) -> Result<(), ParseError> {
    let mut scanner = Scanner::new(reader);
    let mut parser = Parser::new(sink);
    parser.read_prologue(&mut scanner)?;
    parser.read_body(&mut scanner)
}

/// The aggregates the parser gives meaning to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agg {
    Ofx,
    SignOn,
    /// A transaction wrapper (`STMTTRNRS`…): its STATUS says whether the bank could answer.
    Response,
    Status,
    Statement(StatementKind),
    AccountFrom,
    AccountTo,
    TransactionList,
    BankTransaction,
    /// `BUYMF`, `SELLSTOCK`, `INCOME`, `TRANSFER`…, named as in the file.
    InvestmentTransaction(&'static str),
    Payee,
    Currency,
    OriginalCurrency,
    LedgerBalance,
    AvailableBalance,
    Position,
    SecurityId,
    InvestmentBalance,
    SecurityList,
    SecurityInfo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatementKind {
    Bank,
    CreditCard,
    Investment,
}

impl Agg {
    fn named(name: &[u8]) -> Option<Agg> {
        Some(match name {
            b"OFX" => Agg::Ofx,
            b"SONRS" => Agg::SignOn,
            b"STMTTRNRS" | b"CCSTMTTRNRS" | b"INVSTMTTRNRS" => Agg::Response,
            b"STATUS" => Agg::Status,
            b"STMTRS" => Agg::Statement(StatementKind::Bank),
            b"CCSTMTRS" => Agg::Statement(StatementKind::CreditCard),
            b"INVSTMTRS" => Agg::Statement(StatementKind::Investment),
            b"BANKACCTFROM" | b"CCACCTFROM" | b"INVACCTFROM" => Agg::AccountFrom,
            b"BANKACCTTO" | b"CCACCTTO" | b"INVACCTTO" => Agg::AccountTo,
            b"BANKTRANLIST" | b"INVTRANLIST" => Agg::TransactionList,
            b"STMTTRN" => Agg::BankTransaction,
            b"PAYEE" => Agg::Payee,
            b"CURRENCY" => Agg::Currency,
            b"ORIGCURRENCY" => Agg::OriginalCurrency,
            b"LEDGERBAL" => Agg::LedgerBalance,
            b"AVAILBAL" => Agg::AvailableBalance,
            b"INVPOS" => Agg::Position,
            b"SECID" => Agg::SecurityId,
            b"INVBAL" => Agg::InvestmentBalance,
            b"SECLIST" => Agg::SecurityList,
            b"SECINFO" => Agg::SecurityInfo,
            _ => Agg::InvestmentTransaction(investment_transaction(name)?),
        })
    }

    /// Aggregates some banks write as a plain field (`<CURRENCY>EUR`, `<PAYEE>Shop`).
    fn may_be_field(self) -> bool {
        matches!(self, Agg::Currency | Agg::OriginalCurrency | Agg::Payee)
    }

    /// OFX never nests an aggregate in one of its own kind: a second one opening means the first
    /// was left unclosed.
    fn same_kind(self, other: Agg) -> bool {
        mem::discriminant(&self) == mem::discriminant(&other)
    }
}

fn investment_transaction(name: &[u8]) -> Option<&'static str> {
    Some(match name {
        b"BUYDEBT" => "BUYDEBT",
        b"BUYMF" => "BUYMF",
        b"BUYOPT" => "BUYOPT",
        b"BUYOTHER" => "BUYOTHER",
        b"BUYSTOCK" => "BUYSTOCK",
        b"CLOSUREOPT" => "CLOSUREOPT",
        b"INCOME" => "INCOME",
        b"INVEXPENSE" => "INVEXPENSE",
        b"JRNLFUND" => "JRNLFUND",
        b"JRNLSEC" => "JRNLSEC",
        b"MARGININTEREST" => "MARGININTEREST",
        b"REINVEST" => "REINVEST",
        b"RETOFCAP" => "RETOFCAP",
        b"SELLDEBT" => "SELLDEBT",
        b"SELLMF" => "SELLMF",
        b"SELLOPT" => "SELLOPT",
        b"SELLOTHER" => "SELLOTHER",
        b"SELLSTOCK" => "SELLSTOCK",
        b"SPLIT" => "SPLIT",
        b"TRANSFER" => "TRANSFER",
        _ => return None,
    })
}

/// Investment transactions that move units, not cash: without a TOTAL their cash amount is zero.
fn moves_no_cash(code: &str) -> bool {
    matches!(code, "TRANSFER" | "SPLIT" | "JRNLSEC" | "CLOSUREOPT")
}

/// A statement between its opening tag and `end`.
struct OpenStatement {
    header: StatementHeader,
    begun: bool,
    /// INVSTMTRS DTASOF: the date of the investment balance, which has none of its own.
    as_of: Option<NaiveDate>,
    positions: Vec<ParsedHolding>,
}

/// Fields of the transaction being read; the byte buffers are reused from one transaction to the
/// next, and only the fields kept are decoded, once, at its end.
#[derive(Default)]
struct TransactionFields {
    at: Position,
    investment: Option<&'static str>,
    kind: Vec<u8>,
    booked: Option<NaiveDate>,
    available: Option<NaiveDate>,
    initiated: Option<NaiveDate>,
    settled: Option<NaiveDate>,
    amount: Option<Decimal>,
    units: Option<Decimal>,
    fitid: Vec<u8>,
    name: Vec<u8>,
    payee: Vec<u8>,
    memo: Vec<u8>,
    checknum: Vec<u8>,
    security: Vec<u8>,
    counterparty_account: Vec<u8>,
    currency: Option<String>,
    /// Why a required field is unusable, and where it is.
    date_issue: Option<(Position, String)>,
    amount_issue: Option<(Position, String)>,
}

impl TransactionFields {
    fn reset(&mut self, at: Position, investment: Option<&'static str>) {
        for buffer in [
            &mut self.kind,
            &mut self.fitid,
            &mut self.name,
            &mut self.payee,
            &mut self.memo,
            &mut self.checknum,
            &mut self.security,
            &mut self.counterparty_account,
        ] {
            buffer.clear();
        }
        self.at = at;
        self.investment = investment;
        self.booked = None;
        self.available = None;
        self.initiated = None;
        self.settled = None;
        self.amount = None;
        self.units = None;
        self.currency = None;
        self.date_issue = None;
        self.amount_issue = None;
    }
}

#[derive(Default)]
struct BalanceFields {
    at: Position,
    amount: Option<Decimal>,
    date: Option<NaiveDate>,
    /// Why a required field is unusable, and where it is.
    amount_issue: Option<(Position, String)>,
    date_issue: Option<(Position, String)>,
}

#[derive(Default)]
struct PositionFields {
    at: Position,
    security: Vec<u8>,
    id_type: Vec<u8>,
    units: Option<Decimal>,
    unit_price: Option<Decimal>,
    market_value: Option<Decimal>,
    as_of: Option<NaiveDate>,
    currency: Option<String>,
}

#[derive(Default)]
struct SecurityFields {
    id: Vec<u8>,
    name: Vec<u8>,
    ticker: Vec<u8>,
}

#[derive(Default)]
struct StatusFields {
    at: Position,
    code: Vec<u8>,
    severity: Vec<u8>,
    message: Vec<u8>,
}

struct Parser<'s> {
    sink: &'s mut dyn StatementSink,
    charset: Charset,
    /// How the file declared its charset (`CHARSET:1252`), when it did.
    declared_charset: Option<String>,
    mislabel_reported: bool,
    stack: Vec<(Agg, u64)>,
    statement: Option<OpenStatement>,
    transaction: TransactionFields,
    balance: BalanceFields,
    position: PositionFields,
    security: SecurityFields,
    status: StatusFields,
    /// Security id → (name, ticker), from the security lists read so far.
    securities: HashMap<String, (Option<String>, Option<String>)>,
    security_list_read: bool,
    /// Holdings of the last investment statement, whose `end` waits for the security list.
    pending_holdings: Option<Vec<ParsedHolding>>,
    /// The memo of the transaction being built.
    memo: String,
}

impl<'s> Parser<'s> {
    fn new(sink: &'s mut dyn StatementSink) -> Parser<'s> {
        Parser {
            sink,
            charset: Charset::Utf8,
            declared_charset: None,
            mislabel_reported: false,
            stack: Vec::with_capacity(16),
            statement: None,
            transaction: TransactionFields::default(),
            balance: BalanceFields::default(),
            position: PositionFields::default(),
            security: SecurityFields::default(),
            status: StatusFields::default(),
            securities: HashMap::new(),
            security_list_read: false,
            pending_holdings: None,
            memo: String::new(),
        }
    }

    /// Everything up to and including `<OFX>`: the OFX 1 header block or the OFX 2 processing
    /// instructions, which say the charset. Anything else first means the input is not OFX.
    fn read_prologue<R: BufRead>(&mut self, scanner: &mut Scanner<R>) -> Result<(), ParseError> {
        let prelude = scanner.prelude()?;
        let header = scanner.slice(prelude);
        let header = header.strip_prefix(b"\xef\xbb\xbf").unwrap_or(header);
        let beginning: Vec<u8> = trim(header).iter().take(80).copied().collect();
        if let Some((charset, declared)) = fields::sgml_header_charset(header) {
            self.charset = charset;
            self.declared_charset = Some(declared);
        }
        loop {
            let Some(token) = scanner.next()? else {
                return Err(ParseError::new(Format::Ofx, scanner.here(), "an <OFX> element", beginning));
            };
            let name = scanner.slice(token.name.clone());
            match token.kind {
                Kind::Instruction => {
                    if name == b"XML" {
                        if let Some((charset, declared)) = fields::xml_declared_charset(scanner.slice(token.text)) {
                            self.charset = charset;
                            self.declared_charset = Some(declared);
                        }
                    }
                }
                Kind::Start | Kind::Empty if name == b"OFX" => {
                    self.stack.push((Agg::Ofx, token.offset));
                    if token.kind == Kind::Empty {
                        self.close_through(scanner, Agg::Ofx);
                    }
                    return Ok(());
                }
                kind => {
                    let slash = if kind == Kind::End { "/" } else { "" };
                    let found = format!("<{slash}{}>", String::from_utf8_lossy(name));
                    return Err(ParseError::new(
                        Format::Ofx,
                        scanner.position(token.offset),
                        "an <OFX> element",
                        found,
                    ));
                }
            }
        }
    }

    fn read_body<R: BufRead>(&mut self, scanner: &mut Scanner<R>) -> Result<(), ParseError> {
        let mut closed_ofx = self.stack.is_empty();
        while let Some(token) = scanner.next()? {
            let name = scanner.slice(token.name.clone());
            match (token.kind, Agg::named(name)) {
                (Kind::Start, Some(agg))
                    if !agg.may_be_field() || trim(scanner.slice(token.text.clone())).is_empty() =>
                {
                    // A further document in the same file must close too.
                    closed_ofx &= agg != Agg::Ofx;
                    self.open(scanner, agg, token.offset)
                }
                (Kind::Start, _) => self.field(scanner, name, scanner.slice(token.text), token.offset),
                (Kind::Empty, Some(agg)) => {
                    self.open(scanner, agg, token.offset);
                    self.close_through(scanner, agg);
                }
                (Kind::Empty, None) => self.field(scanner, name, b"", token.offset),
                (Kind::End, Some(agg)) => {
                    closed_ofx |= agg == Agg::Ofx && self.stack.iter().any(|&(open, _)| open == Agg::Ofx);
                    self.close_through(scanner, agg);
                }
                (Kind::End, None) | (Kind::Instruction, _) => {}
            }
        }
        let cut_short = !closed_ofx || scanner.truncated;
        while let Some((agg, _)) = self.stack.pop() {
            // An entry the cut went through may have lost digits of its amount: never handed on.
            let entry = matches!(agg, Agg::BankTransaction | Agg::InvestmentTransaction(_) | Agg::Position);
            if !(cut_short && entry) {
                self.close(scanner, agg);
            }
        }
        self.flush_pending_holdings();
        if cut_short {
            return Err(ParseError::cut_short(Format::Ofx, scanner.here(), "</OFX>"));
        }
        Ok(())
    }

    fn open<R: BufRead>(&mut self, scanner: &Scanner<R>, agg: Agg, offset: u64) {
        if self.stack.iter().any(|&(open, _)| open.same_kind(agg)) {
            self.close_through(scanner, agg);
        }
        match agg {
            Agg::Statement(kind) => self.begin_statement(kind),
            Agg::BankTransaction => self.transaction.reset(scanner.position(offset), None),
            Agg::InvestmentTransaction(code) => self.transaction.reset(scanner.position(offset), Some(code)),
            Agg::LedgerBalance | Agg::AvailableBalance => {
                self.balance = BalanceFields { at: scanner.position(offset), ..BalanceFields::default() }
            }
            Agg::Position => {
                let mut position = mem::take(&mut self.position);
                position.security.clear();
                position.id_type.clear();
                self.position = PositionFields {
                    at: scanner.position(offset),
                    security: position.security,
                    id_type: position.id_type,
                    ..PositionFields::default()
                };
            }
            Agg::Status => {
                self.status.at = scanner.position(offset);
                self.status.code.clear();
                self.status.severity.clear();
                self.status.message.clear();
            }
            Agg::SecurityInfo => {
                self.security.id.clear();
                self.security.name.clear();
                self.security.ticker.clear();
            }
            _ => {}
        }
        if self.stack.len() < MAX_DEPTH {
            self.stack.push((agg, offset));
        }
    }

    /// Closes `agg` and whatever was left open inside it; an end tag of nothing open is ignored
    /// (SGML files close some fields and not others).
    fn close_through<R: BufRead>(&mut self, scanner: &Scanner<R>, agg: Agg) {
        if !self.stack.iter().any(|&(open, _)| open.same_kind(agg)) {
            return;
        }
        while let Some((open, _)) = self.stack.pop() {
            self.close(scanner, open);
            if open.same_kind(agg) {
                break;
            }
        }
    }

    fn close<R: BufRead>(&mut self, _scanner: &Scanner<R>, agg: Agg) {
        match agg {
            Agg::Statement(_) => self.end_statement(),
            Agg::BankTransaction | Agg::InvestmentTransaction(_) => self.end_transaction(),
            Agg::LedgerBalance => self.end_balance(BalanceKind::Closing, "LEDGERBAL"),
            Agg::AvailableBalance => self.end_balance(BalanceKind::ClosingAvailable, "AVAILBAL"),
            Agg::Position => self.end_position(),
            Agg::Status => self.end_status(),
            Agg::SecurityInfo => self.end_security_info(),
            Agg::SecurityList => {
                self.security_list_read = true;
                self.flush_pending_holdings();
            }
            _ => {}
        }
    }

    /// The aggregate enclosing the innermost one.
    fn parent(&self) -> Option<Agg> {
        self.stack.iter().rev().nth(1).map(|&(agg, _)| agg)
    }

    fn field<R: BufRead>(&mut self, scanner: &Scanner<R>, name: &[u8], raw: &[u8], offset: u64) {
        let Some(&(context, _)) = self.stack.last() else { return };
        match context {
            Agg::BankTransaction | Agg::InvestmentTransaction(_) => self.transaction_field(scanner, name, raw, offset),
            Agg::Statement(_) => self.statement_field(scanner, name, raw, offset),
            Agg::AccountFrom if matches!(self.parent(), Some(Agg::Statement(_))) => self.account_field(name, raw),
            Agg::AccountTo if name == b"ACCTID" && self.parent() == Some(Agg::BankTransaction) => {
                copy(&mut self.transaction.counterparty_account, raw)
            }
            Agg::TransactionList => {
                let Some(statement) = self.statement.as_mut().filter(|s| !s.begun) else { return };
                match name {
                    b"DTSTART" => statement.header.from = fields::date_time(raw),
                    b"DTEND" => statement.header.to = fields::date_time(raw),
                    _ => {}
                }
            }
            Agg::Payee if name == b"NAME" && self.parent() == Some(Agg::BankTransaction) => {
                copy(&mut self.transaction.payee, raw)
            }
            Agg::Currency if name == b"CURSYM" => match self.parent() {
                Some(Agg::BankTransaction | Agg::InvestmentTransaction(_)) => {
                    self.transaction.currency = fields::currency(raw)
                }
                Some(Agg::Position) => self.position.currency = fields::currency(raw),
                _ => {}
            },
            Agg::LedgerBalance | Agg::AvailableBalance => match name {
                b"BALAMT" => match fields::amount(raw) {
                    Some(amount) => self.balance.amount = Some(amount),
                    None => {
                        self.balance.amount_issue =
                            Some((scanner.position(offset), unusable("BALAMT", "an amount", raw)))
                    }
                },
                b"DTASOF" => match fields::date(raw) {
                    Some(date) => self.balance.date = Some(date),
                    None => {
                        self.balance.date_issue = Some((scanner.position(offset), unusable("DTASOF", "a date", raw)))
                    }
                },
                _ => {}
            },
            Agg::Position => match name {
                b"UNITS" => self.position.units = fields::amount(raw),
                b"UNITPRICE" => self.position.unit_price = fields::amount(raw),
                b"MKTVAL" => self.position.market_value = fields::amount(raw),
                b"DTPRICEASOF" => self.position.as_of = fields::date(raw),
                b"CURRENCY" => self.position.currency = fields::currency(raw),
                _ => {}
            },
            Agg::SecurityId => {
                let (id, id_type) = match self.parent() {
                    Some(Agg::InvestmentTransaction(_)) => (&mut self.transaction.security, None),
                    Some(Agg::Position) => (&mut self.position.security, Some(&mut self.position.id_type)),
                    Some(Agg::SecurityInfo) => (&mut self.security.id, None),
                    _ => return,
                };
                match (name, id_type) {
                    (b"UNIQUEID", _) => copy(id, raw),
                    (b"UNIQUEIDTYPE", Some(id_type)) => copy(id_type, raw),
                    _ => {}
                }
            }
            Agg::InvestmentBalance if name == b"AVAILCASH" => self.investment_cash(scanner, raw, offset),
            Agg::SecurityInfo => match name {
                b"SECNAME" => copy(&mut self.security.name, raw),
                b"TICKER" => copy(&mut self.security.ticker, raw),
                _ => {}
            },
            Agg::Status => match name {
                b"CODE" => copy(&mut self.status.code, raw),
                b"SEVERITY" => copy(&mut self.status.severity, raw),
                b"MESSAGE" => copy(&mut self.status.message, raw),
                _ => {}
            },
            _ => {}
        }
    }

    fn transaction_field<R: BufRead>(&mut self, scanner: &Scanner<R>, name: &[u8], raw: &[u8], offset: u64) {
        let investment = self.transaction.investment.is_some();
        let t = &mut self.transaction;
        match name {
            b"TRNTYPE" => copy(&mut t.kind, raw),
            b"DTPOSTED" | b"DTTRADE" if (name == b"DTTRADE") == investment => match fields::date(raw) {
                Some(date) => t.booked = Some(date),
                None => t.date_issue = Some((scanner.position(offset), unusable_name(name, "a date", raw))),
            },
            b"DTAVAIL" => t.available = fields::date(raw),
            b"DTUSER" => t.initiated = fields::date(raw),
            b"DTSETTLE" => t.settled = fields::date(raw),
            b"TRNAMT" | b"TOTAL" if (name == b"TOTAL") == investment => match fields::amount(raw) {
                Some(amount) => t.amount = Some(amount),
                None => t.amount_issue = Some((scanner.position(offset), unusable_name(name, "an amount", raw))),
            },
            b"UNITS" => t.units = fields::amount(raw),
            b"FITID" => copy(&mut t.fitid, raw),
            b"NAME" => copy(&mut t.name, raw),
            b"PAYEE" => copy(&mut t.payee, raw),
            b"MEMO" => copy(&mut t.memo, raw),
            b"CHECKNUM" => copy(&mut t.checknum, raw),
            b"CURRENCY" => t.currency = fields::currency(raw),
            _ => {}
        }
    }

    fn statement_field<R: BufRead>(&mut self, scanner: &Scanner<R>, name: &[u8], raw: &[u8], offset: u64) {
        let Some(statement) = self.statement.as_mut() else { return };
        match name {
            b"CURDEF" => match fields::currency(raw) {
                Some(currency) => statement.header.account.currency = Some(currency),
                None => {
                    let message = if trim(raw).is_empty() {
                        "<CURDEF> is empty: the statement's currency is unknown".to_owned()
                    } else {
                        format!("<CURDEF> is not a currency code: {}", snippet(raw))
                    };
                    self.problem(scanner.position(offset), message);
                }
            },
            b"DTASOF" => statement.as_of = fields::date(raw),
            _ => {}
        }
    }

    fn account_field(&mut self, name: &[u8], raw: &[u8]) {
        let charset = self.charset;
        let Some(statement) = self.statement.as_mut().filter(|s| !s.begun) else { return };
        let account = &mut statement.header.account;
        let text = || Some(fields::decode_text(charset, raw).0).filter(|t| !t.is_empty());
        match name {
            b"BANKID" | b"BROKERID" => account.bank_id = text(),
            b"BRANCHID" => account.branch_id = text(),
            b"ACCTID" => account.number = text(),
            b"ACCTTYPE" => {
                account.kind = match fields::plain(raw).to_ascii_uppercase().as_slice() {
                    b"CHECKING" => Some(AccountKindHint::Checking),
                    b"SAVINGS" | b"CD" => Some(AccountKindHint::Savings),
                    b"MONEYMRKT" => Some(AccountKindHint::MoneyMarket),
                    b"CREDITLINE" => Some(AccountKindHint::CreditLine),
                    _ => None,
                }
            }
            _ => {}
        }
    }

    fn begin_statement(&mut self, kind: StatementKind) {
        self.flush_pending_holdings();
        if self.statement.is_some() {
            self.end_statement();
        }
        let kind = match kind {
            StatementKind::Bank => None,
            StatementKind::CreditCard => Some(AccountKindHint::CreditCard),
            StatementKind::Investment => Some(AccountKindHint::Investment),
        };
        self.statement = Some(OpenStatement {
            header: StatementHeader {
                account: StatementAccount { kind, ..StatementAccount::default() },
                ..Default::default()
            },
            begun: false,
            as_of: None,
            positions: Vec::new(),
        });
    }

    /// Hands the statement's header to the sink before its first content: the header's fields
    /// (account, currency, period) all come before the transactions in OFX.
    fn begin_if_needed(&mut self) -> Option<&mut OpenStatement> {
        let statement = self.statement.as_mut()?;
        if !statement.begun {
            statement.begun = true;
            self.sink.begin(statement.header.clone());
        }
        Some(statement)
    }

    fn end_statement(&mut self) {
        if self.begin_if_needed().is_none() {
            return;
        }
        let Some(statement) = self.statement.take() else { return };
        if statement.positions.is_empty() {
            self.sink.end();
        } else {
            self.pending_holdings = Some(statement.positions);
            if self.security_list_read {
                self.flush_pending_holdings();
            }
        }
    }

    fn flush_pending_holdings(&mut self) {
        let Some(holdings) = self.pending_holdings.take() else { return };
        for mut holding in holdings {
            if let Some((name, ticker)) = self.securities.get(&holding.security_id) {
                holding.name.clone_from(name);
                holding.ticker.clone_from(ticker);
            }
            self.sink.holding(holding);
        }
        self.sink.end();
    }

    fn end_transaction(&mut self) {
        let fields = mem::take(&mut self.transaction);
        if let Some(transaction) = self.build_transaction(&fields) {
            if self.begin_if_needed().is_some() {
                self.sink.transaction(transaction);
            }
        }
        self.transaction = fields;
    }

    fn build_transaction(&mut self, t: &TransactionFields) -> Option<ParsedTransaction> {
        let (date_field, amount_field) =
            if t.investment.is_some() { ("DTTRADE", "TOTAL") } else { ("DTPOSTED", "TRNAMT") };
        let skipped = |issue: &str| format!("transaction at {} skipped: {issue}", t.at);
        let Some(statement) = self.statement.as_ref() else {
            self.skipped_entry(t.at, skipped("it is outside any statement"));
            return None;
        };
        let Some(booking_date) = t.booked else {
            let (at, issue) = t.date_issue.clone().unwrap_or((t.at, format!("it has no <{date_field}>")));
            self.skipped_entry(at, skipped(&issue));
            return None;
        };
        let amount = match (t.amount, &t.amount_issue, t.investment) {
            (Some(amount), _, _) => amount,
            (None, None, Some(code)) if moves_no_cash(code) => Decimal::ZERO,
            (None, issue, _) => {
                let (at, issue) = issue.clone().unwrap_or((t.at, format!("it has no <{amount_field}>")));
                self.skipped_entry(at, skipped(&issue));
                return None;
            }
        };
        let currency = t.currency.clone().filter(|c| statement.header.account.currency.as_ref() != Some(c));
        let mut name = self.text(&t.name, t.at);
        if name.is_empty() {
            name = self.text(&t.payee, t.at);
        }
        // The memo is often only compared with the name: decoded into a reused buffer.
        let mut memo = mem::take(&mut self.memo);
        self.text_into(&t.memo, t.at, &mut memo);
        let security = Some(self.text(&t.security, t.at)).filter(|s| !s.is_empty());
        let kind = self.text(&t.kind, t.at);
        let description = match t.investment {
            Some(code) if memo.is_empty() => join(code, security.as_deref().unwrap_or_default()),
            Some(_) => memo.clone(),
            None => {
                let checknum = self.text(&t.checknum, t.at);
                describe(&name, &memo, &checknum, &kind)
            }
        };
        self.memo = memo;
        let code = match t.investment {
            Some(code) => Some(code.to_owned()),
            None => Some(kind).filter(|k| !k.is_empty()),
        };
        let provider_id = Some(self.text(&t.fitid, t.at)).filter(|s| !s.is_empty());
        let counterparty_account = Some(self.text(&t.counterparty_account, t.at)).filter(|s| !s.is_empty());
        Some(ParsedTransaction {
            booking_date,
            value_date: if t.investment.is_some() { t.settled } else { t.available.or(t.initiated) },
            amount,
            currency,
            status: EntryStatus::Booked,
            description,
            counterparty: Some(name).filter(|n| !n.is_empty()),
            counterparty_account,
            provider_id,
            code,
            security,
            units: t.units,
            at: t.at,
        })
    }

    fn end_balance(&mut self, kind: BalanceKind, tag: &str) {
        let b = mem::take(&mut self.balance);
        let (at, issue) = match (b.amount, b.date) {
            (Some(amount), Some(date)) => {
                let balance = ParsedBalance { kind, date, amount, currency: None, at: b.at };
                match self.begin_if_needed() {
                    Some(_) => self.sink.balance(balance),
                    None => self.problem(b.at, format!("<{tag}> at {} is outside any statement: skipped", b.at)),
                }
                return;
            }
            (None, _) => b.amount_issue.unwrap_or_else(|| (b.at, "it has no <BALAMT>".into())),
            (_, None) => b.date_issue.unwrap_or_else(|| (b.at, "it has no <DTASOF>".into())),
        };
        self.problem(at, format!("balance <{tag}> at {} skipped: {issue}", b.at));
    }

    /// INVBAL's AVAILCASH: the cash the investment account holds, which its transactions' totals
    /// move; read as the closing balance, dated by the statement.
    fn investment_cash<R: BufRead>(&mut self, scanner: &Scanner<R>, raw: &[u8], offset: u64) {
        let at = scanner.position(offset);
        let Some(amount) = fields::amount(raw) else {
            self.problem(
                at,
                format!("balance <AVAILCASH> at {at} skipped: {}", unusable("AVAILCASH", "an amount", raw)),
            );
            return;
        };
        let date = self.statement.as_ref().and_then(|s| s.as_of.or(s.header.to.map(|t| t.date())));
        let Some(date) = date else {
            self.problem(at, format!("balance <AVAILCASH> at {at} skipped: the statement has no <DTASOF>"));
            return;
        };
        if self.begin_if_needed().is_some() {
            self.sink.balance(ParsedBalance { kind: BalanceKind::Closing, date, amount, currency: None, at });
        }
    }

    fn end_position(&mut self) {
        let p = mem::take(&mut self.position);
        let security_id = self.text(&p.security, p.at);
        let issue = match p.units {
            _ if security_id.is_empty() => "it has no <SECID><UNIQUEID>",
            None => "it has no <UNITS>",
            Some(units) => {
                let id_type = Some(self.text(&p.id_type, p.at)).filter(|t| !t.is_empty());
                let currency_default = self.statement.as_ref().and_then(|s| s.header.account.currency.clone());
                let holding = ParsedHolding {
                    security_id,
                    id_type,
                    name: None,
                    ticker: None,
                    units,
                    unit_price: p.unit_price,
                    market_value: p.market_value,
                    currency: p.currency.clone().filter(|c| currency_default.as_ref() != Some(c)),
                    as_of: p.as_of,
                    at: p.at,
                };
                match self.statement.as_mut() {
                    Some(statement) => statement.positions.push(holding),
                    None => self.problem(p.at, format!("position at {} is outside any statement: skipped", p.at)),
                }
                self.position = p;
                return;
            }
        };
        self.problem(p.at, format!("position at {} skipped: {issue}", p.at));
        self.position = p;
    }

    fn end_security_info(&mut self) {
        if self.securities.len() >= MAX_SECURITIES {
            return;
        }
        let charset = self.charset;
        let text = |raw: &[u8]| Some(fields::decode_text(charset, raw).0).filter(|t| !t.is_empty());
        let Some(id) = text(&self.security.id) else { return };
        let entry = (text(&self.security.name), text(&self.security.ticker));
        self.securities.insert(id, entry);
    }

    /// A STATUS other than 0 is the bank saying it could not answer (fully): the user must hear
    /// what it said, though the file is OFX and may hold other statements.
    fn end_status(&mut self) {
        let code = String::from_utf8_lossy(trim(&self.status.code)).into_owned();
        if code.is_empty() || code.bytes().all(|b| b == b'0') {
            return;
        }
        let at = self.status.at;
        let severity = self.text(&self.status.severity.clone(), at);
        let message = self.text(&self.status.message.clone(), at);
        let about = match self.stack.last() {
            Some((Agg::SignOn, _)) => "at sign-on",
            Some((Agg::Response, _)) => "for a statement",
            _ => "",
        };
        let mut said = format!("the bank reported status {code}");
        if !severity.is_empty() {
            said.push_str(&format!(" ({severity})"));
        }
        if !about.is_empty() {
            said.push(' ');
            said.push_str(about);
        }
        if !message.is_empty() {
            said.push_str(&format!(": {message}"));
        }
        self.problem(at, format!("{said} (at {at})"));
    }

    /// A text field, decoded; the first field that is not in the declared charset is reported,
    /// once for the file (the rest are surely the same).
    fn text(&mut self, raw: &[u8], at: Position) -> String {
        let mut text = String::new();
        self.text_into(raw, at, &mut text);
        text
    }

    /// [`Parser::text`] into `out`, replacing what it held.
    fn text_into(&mut self, raw: &[u8], at: Position, out: &mut String) {
        let mislabelled = fields::decode_text_into(self.charset, raw, out);
        if mislabelled && !self.mislabel_reported {
            if let Some(declared) = &self.declared_charset {
                let read_as = match self.charset {
                    Charset::Utf8 => "Windows-1252",
                    Charset::Windows1252 => "UTF-8",
                };
                let message = format!("the file declares {declared} but its text is not in that charset: read as {read_as} (first at {at})");
                self.mislabel_reported = true;
                self.problem(at, message);
            }
        }
    }

    fn problem(&mut self, at: Position, message: String) {
        self.sink.problem(Problem { at, message });
    }

    fn skipped_entry(&mut self, at: Position, message: String) {
        self.sink.entry_skipped(Problem { at, message });
    }
}

fn copy(into: &mut Vec<u8>, raw: &[u8]) {
    into.clear();
    into.extend_from_slice(raw);
}

/// Why a required field cannot be used, naming the field.
fn unusable(field: &str, what: &str, raw: &[u8]) -> String {
    if trim(raw).is_empty() {
        format!("<{field}> is empty")
    } else {
        format!("<{field}> is not {what}: {}", snippet(raw))
    }
}

fn unusable_name(name: &[u8], what: &str, raw: &[u8]) -> String {
    unusable(&String::from_utf8_lossy(name), what, raw)
}

fn join(first: &str, second: &str) -> String {
    match (first.is_empty(), second.is_empty()) {
        (_, true) => first.to_owned(),
        (true, false) => second.to_owned(),
        (false, false) => {
            let mut joined = String::with_capacity(first.len() + 3 + second.len());
            joined.push_str(first);
            joined.push_str(" / ");
            joined.push_str(second);
            joined
        }
    }
}

/// One readable line from a bank transaction's NAME, MEMO and CHECKNUM (see the module docs).
fn describe(name: &str, memo: &str, checknum: &str, kind: &str) -> String {
    if !name.is_empty() {
        return if memo.is_empty() || name.contains(memo) {
            name.to_owned()
        } else if memo.contains(name) {
            memo.to_owned()
        } else {
            join(name, memo)
        };
    }
    let check = if checknum.is_empty() { String::new() } else { format!("check {checknum}") };
    match (memo.is_empty(), check.is_empty()) {
        (true, true) => kind.to_owned(),
        _ => join(memo, &check),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::statement::{Collect, Statement};
    use std::io::Read;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn read(bytes: &[u8]) -> (Vec<Statement>, Vec<Problem>) {
        let mut sink = Collect::default();
        parse(bytes, &mut sink).unwrap();
        sink.finish()
    }

    /// Records the order of the sink calls.
    #[derive(Default)]
    struct Events(Vec<String>);

    impl StatementSink for Events {
        fn begin(&mut self, header: StatementHeader) {
            self.0.push(format!("begin {}", header.account.number.unwrap_or_default()));
        }
        fn transaction(&mut self, t: ParsedTransaction) {
            self.0.push(format!("transaction {}", t.amount));
        }
        fn balance(&mut self, b: ParsedBalance) {
            self.0.push(format!("balance {}", b.amount));
        }
        fn holding(&mut self, h: ParsedHolding) {
            self.0.push(format!("holding {}", h.name.unwrap_or_default()));
        }
        fn end(&mut self) {
            self.0.push("end".into());
        }
        fn problem(&mut self, p: Problem) {
            self.0.push(format!("problem {}", p.message));
        }
    }

    const SGML: &str = "OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:102\r\nCHARSET:1252\r\n\r\n<OFX><BANKMSGSRSV1><STMTTRNRS>\
        <STMTRS><CURDEF>EUR<BANKACCTFROM><BANKID>123<BRANCHID>45<ACCTID>9876<ACCTTYPE>SAVINGS</BANKACCTFROM>\r\n\
        <BANKTRANLIST><DTSTART>20240101<DTEND>20240131120000\r\n\
        <STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240105120000.000[-5:EST]<DTUSER>20240104<TRNAMT>-12.50<FITID>A1<NAME>Shop<MEMO>Card 1234</STMTTRN>\r\n\
        <STMTTRN><TRNTYPE>CREDIT<DTPOSTED>20240106<TRNAMT>100<FITID>A2<NAME>Employer</STMTTRN>\r\n\
        </BANKTRANLIST><LEDGERBAL><BALAMT>87.50<DTASOF>20240131</LEDGERBAL><AVAILBAL><BALAMT>80<DTASOF>20240131</AVAILBAL>\
        </STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\r\n";

    #[test]
    fn sgml_leaves_are_read_without_end_tags() {
        let (statements, problems) = read(SGML.as_bytes());
        assert!(problems.is_empty(), "{problems:?}");
        let s = &statements[0];
        let account = &s.header.account;
        assert_eq!(
            (account.number.as_deref(), account.bank_id.as_deref(), account.branch_id.as_deref()),
            (Some("9876"), Some("123"), Some("45"))
        );
        assert_eq!((account.kind, account.currency.as_deref()), (Some(AccountKindHint::Savings), Some("EUR")));
        assert_eq!(s.header.from, Some(day(2024, 1, 1).and_hms_opt(0, 0, 0).unwrap()));
        assert_eq!(s.header.to, Some(day(2024, 1, 31).and_hms_opt(12, 0, 0).unwrap()));
        let t = &s.transactions[0];
        assert_eq!((t.booking_date, t.value_date, t.amount), (day(2024, 1, 5), Some(day(2024, 1, 4)), dec("-12.50")));
        assert_eq!((t.description.as_str(), t.counterparty.as_deref()), ("Shop / Card 1234", Some("Shop")));
        assert_eq!((t.provider_id.as_deref(), t.code.as_deref()), (Some("A1"), Some("DEBIT")));
        assert_eq!(t.at.line, Some(8));
        assert_eq!(s.transactions[1].description, "Employer");
        assert_eq!(
            s.balances[0],
            ParsedBalance {
                kind: BalanceKind::Closing,
                date: day(2024, 1, 31),
                amount: dec("87.50"),
                currency: None,
                at: s.balances[0].at
            }
        );
        assert_eq!((s.balances[1].kind.clone(), s.balances[1].amount), (BalanceKind::ClosingAvailable, dec("80")));
    }

    #[test]
    fn header_on_one_line_or_missing() {
        let one_line = SGML.replace("\r\n", "");
        let (statements, problems) = read(one_line.as_bytes());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(statements[0].transactions.len(), 2);
        assert_eq!(statements[0].transactions[1].at.line, Some(1));
        let no_header = &SGML[SGML.find("<OFX>").unwrap()..];
        assert_eq!(read(no_header.as_bytes()).0[0].transactions.len(), 2);
    }

    #[test]
    fn lines_end_with_lf_crlf_or_a_lone_cr() {
        let body =
            "<OFX>\n<STMTRS>\n<BANKTRANLIST>\n<STMTTRN><TRNAMT>1<FITID>x</STMTTRN></BANKTRANLIST></STMTRS></OFX>";
        for newline in ["\n", "\r\n", "\r"] {
            let text = body.replace('\n', newline);
            let (_, problems) = read(text.as_bytes());
            assert_eq!(problems[0].at.line, Some(4), "{newline:?}: {problems:?}");
            assert!(problems[0].message.contains("line 4") && problems[0].message.contains("<DTPOSTED>"));
        }
    }

    #[test]
    fn the_declared_charset_is_used_and_a_wrong_one_reported_once() {
        let cp1252 = b"OFXHEADER:100\nCHARSET:1252\n<OFX><STMTRS><STMTTRN><DTPOSTED>20240101<TRNAMT>1<NAME>Caf\xe9 \x80</STMTTRN></STMTRS></OFX>";
        let (statements, problems) = read(cp1252);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(statements[0].transactions[0].description, "Café €");
        let utf8_in_1252 = "OFXHEADER:100\nCHARSET:1252\n<OFX><STMTRS>\
            <STMTTRN><DTPOSTED>20240101<TRNAMT>1<NAME>Café</STMTTRN>\
            <STMTTRN><DTPOSTED>20240101<TRNAMT>2<NAME>Straße<MEMO>Grüße</STMTTRN></STMTRS></OFX>";
        let (statements, problems) = read(utf8_in_1252.as_bytes());
        assert_eq!(statements[0].transactions[1].description, "Straße / Grüße");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("CHARSET:1252") && problems[0].message.contains("UTF-8"));
        let xml = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><?OFX OFXHEADER=\"200\"?><OFX><STMTRS><STMTTRN><DTPOSTED>20240101</DTPOSTED><TRNAMT>1</TRNAMT><NAME>Caf\xe9</NAME></STMTTRN></STMTRS></OFX>";
        let (statements, problems) = read(xml);
        assert_eq!(statements[0].transactions[0].description, "Café");
        assert!(problems[0].message.contains("encoding=\"UTF-8\""), "{problems:?}");
    }

    #[test]
    fn entities_raw_ampersands_cdata_and_stray_less_than() {
        let text = "<OFX><STMTRS><STMTTRN><DTPOSTED>20240101<TRNAMT>1\
            <NAME>A&amp;B &lt;x&gt; &quot;q&quot; &apos;s&apos; &#233;&#xE9; K&L &unknown; & done\
            <MEMO><![CDATA[<b>raw &amp; kept</b>]]> and 1 < 2</STMTTRN></STMTRS></OFX>";
        let (statements, _) = read(text.as_bytes());
        let t = &statements[0].transactions[0];
        assert_eq!(t.counterparty.as_deref(), Some("A&B <x> \"q\" 's' éé K&L &unknown; & done"));
        assert!(t.description.ends_with(" / <b>raw &amp; kept</b> and 1 < 2"), "{}", t.description);
    }

    #[test]
    fn empty_and_self_closing_tags() {
        let text = "<OFX><STMTRS><CURDEF>USD</CURDEF><BANKACCTFROM><BANKID/><BRANCHID></BRANCHID><ACCTID>1</ACCTID></BANKACCTFROM>\
            <BANKTRANLIST/><STMTTRN><DTPOSTED>20240101</DTPOSTED><TRNAMT>1</TRNAMT><FITID/><NAME/><MEMO>m</MEMO></STMTTRN>\
            <LEDGERBAL><BALAMT>\n<DTASOF>20240101\n</LEDGERBAL><AVAILBAL><BALAMT>5<DTASOF>20240102</AVAILBAL></STMTRS></OFX>";
        let (statements, problems) = read(text.as_bytes());
        let s = &statements[0];
        assert_eq!((s.header.account.bank_id.as_deref(), s.header.account.branch_id.as_deref()), (None, None));
        let t = &s.transactions[0];
        assert_eq!((t.provider_id.as_deref(), t.counterparty.as_deref(), t.description.as_str()), (None, None, "m"));
        // The empty, unclosed BALAMT does not swallow DTASOF or the next balance.
        assert_eq!(s.balances.len(), 1);
        assert_eq!((s.balances[0].amount, s.balances[0].date), (dec("5"), day(2024, 1, 2)));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("<BALAMT> is empty"));
    }

    #[test]
    fn amounts_with_a_decimal_comma() {
        let text = "<OFX><STMTRS><STMTTRN><DTPOSTED>20240101<TRNAMT>-200,05</STMTTRN><STMTTRN><DTPOSTED>20240101<TRNAMT>+1,234.5</STMTTRN>\
            <LEDGERBAL><BALAMT>1.000,5<DTASOF>20240101</LEDGERBAL></STMTRS></OFX>";
        let (statements, problems) = read(text.as_bytes());
        assert_eq!(statements[0].transactions[0].amount, dec("-200.05"));
        assert_eq!(statements[0].transactions[1].amount, dec("1234.5"));
        // Both separators and the comma last: not an amount OFX allows; reported, not guessed.
        assert!(problems[0].message.contains("<BALAMT> is not an amount"), "{problems:?}");
    }

    #[test]
    fn investment_holdings_wait_for_the_security_list() {
        let text = "<OFX><INVSTMTMSGSRSV1><INVSTMTTRNRS><INVSTMTRS><DTASOF>20240131<CURDEF>USD\
            <INVACCTFROM><BROKERID>b.com<ACCTID>INV1</INVACCTFROM>\
            <INVTRANLIST><DTSTART>20240101<DTEND>20240131\
            <BUYSTOCK><INVBUY><INVTRAN><FITID>T1<DTTRADE>20240110<DTSETTLE>20240112</INVTRAN>\
            <SECID><UNIQUEID>US0001<UNIQUEIDTYPE>ISIN</SECID><UNITS>10<UNITPRICE>5<TOTAL>-50.00</INVBUY><BUYTYPE>BUY</BUYSTOCK>\
            <TRANSFER><INVTRAN><FITID>T2<DTTRADE>20240111</INVTRAN><SECID><UNIQUEID>US0002</SECID><UNITS>3\
            <INVACCTFROM><BROKERID>other<ACCTID>ELSEWHERE</INVACCTFROM><TFERACTION>IN</TRANSFER>\
            <INVBANKTRAN><STMTTRN><TRNTYPE>DEP<DTPOSTED>20240115<TRNAMT>0.24<FITID>T3<NAME>Interest</STMTTRN></INVBANKTRAN>\
            </INVTRANLIST><INVPOSLIST><POSSTOCK><INVPOS><SECID><UNIQUEID>US0001<UNIQUEIDTYPE>ISIN</SECID>\
            <UNITS>10<UNITPRICE>6<MKTVAL>60<DTPRICEASOF>20240131<CURRENCY><CURRATE>1.1<CURSYM>EUR</CURRENCY></INVPOS></POSSTOCK></INVPOSLIST>\
            <INVBAL><AVAILCASH>950<MARGINBALANCE>0</INVBAL></INVSTMTRS></INVSTMTTRNRS></INVSTMTMSGSRSV1>\
            <SECLISTMSGSRSV1><SECLIST><STOCKINFO><SECINFO><SECID><UNIQUEID>US0001<UNIQUEIDTYPE>ISIN</SECID>\
            <SECNAME>Acme &amp; Co<TICKER>ACME</SECINFO></STOCKINFO></SECLIST></SECLISTMSGSRSV1></OFX>";
        let mut events = Events::default();
        parse(text.as_bytes(), &mut events).unwrap();
        assert_eq!(
            events.0,
            [
                "begin INV1",
                "transaction -50.00",
                "transaction 0",
                "transaction 0.24",
                "balance 950",
                "holding Acme & Co",
                "end"
            ]
        );
        let (statements, _) = read(text.as_bytes());
        let s = &statements[0];
        assert_eq!(s.header.account.number.as_deref(), Some("INV1"));
        let buy = &s.transactions[0];
        assert_eq!((buy.booking_date, buy.value_date), (day(2024, 1, 10), Some(day(2024, 1, 12))));
        assert_eq!(
            (buy.units, buy.security.as_deref(), buy.code.as_deref()),
            (Some(dec("10")), Some("US0001"), Some("BUYSTOCK"))
        );
        assert_eq!((buy.provider_id.as_deref(), buy.description.as_str()), (Some("T1"), "BUYSTOCK / US0001"));
        let h = &s.holdings[0];
        assert_eq!(
            (h.security_id.as_str(), h.id_type.as_deref(), h.ticker.as_deref()),
            ("US0001", Some("ISIN"), Some("ACME"))
        );
        assert_eq!((h.units, h.unit_price, h.market_value), (dec("10"), Some(dec("6")), Some(dec("60"))));
        assert_eq!((h.currency.as_deref(), h.as_of), (Some("EUR"), Some(day(2024, 1, 31))));
        assert_eq!((s.balances[0].kind.clone(), s.balances[0].date), (BalanceKind::Closing, day(2024, 1, 31)));
    }

    #[test]
    fn several_statements_each_begin_and_end() {
        let one = "<STMTTRNRS><STMTRS><BANKACCTFROM><ACCTID>A</BANKACCTFROM><BANKTRANLIST><STMTTRN><DTPOSTED>20240101<TRNAMT>1</STMTTRN></BANKTRANLIST></STMTRS></STMTTRNRS>";
        let card = "<CCSTMTTRNRS><CCSTMTRS><CCACCTFROM><ACCTID>C</CCACCTFROM></CCSTMTRS></CCSTMTTRNRS>";
        let text = format!(
            "<OFX><BANKMSGSRSV1>{one}{}</BANKMSGSRSV1><CREDITCARDMSGSRSV1>{card}</CREDITCARDMSGSRSV1></OFX>",
            one.replace(">A<", ">B<")
        );
        let mut events = Events::default();
        parse(text.as_bytes(), &mut events).unwrap();
        assert_eq!(events.0, ["begin A", "transaction 1", "end", "begin B", "transaction 1", "end", "begin C", "end"]);
    }

    #[test]
    fn a_bank_error_status_is_a_problem_with_its_words() {
        let text = "<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS></SONRS></SIGNONMSGSRSV1>\n\
            <BANKMSGSRSV1><STMTTRNRS><STATUS><CODE>2000<SEVERITY>ERROR<MESSAGE>General &amp; bad</STATUS></STMTTRNRS></BANKMSGSRSV1></OFX>";
        let (statements, problems) = read(text.as_bytes());
        assert!(statements.is_empty());
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].message,
            "the bank reported status 2000 (ERROR) for a statement: General & bad (at line 2)"
        );
    }

    #[test]
    fn a_transaction_missing_a_required_field_is_skipped_with_a_problem() {
        let text = "<OFX><STMTRS><BANKTRANLIST>\n<STMTTRN><TRNAMT>1</STMTTRN>\n<STMTTRN><DTPOSTED>20240101<TRNAMT></STMTTRN>\n\
            <STMTTRN><DTPOSTED>2024-01-01<TRNAMT>1</STMTTRN>\n<STMTTRN><DTPOSTED>20240101<TRNAMT>abc</STMTTRN>\n\
            <STMTTRN><DTPOSTED>20240101<TRNAMT>3</STMTTRN></BANKTRANLIST></STMTRS></OFX>";
        let (statements, problems) = read(text.as_bytes());
        assert_eq!(statements[0].transactions.len(), 1);
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "transaction at line 2 skipped: it has no <DTPOSTED>",
                "transaction at line 3 skipped: <TRNAMT> is empty",
                "transaction at line 4 skipped: <DTPOSTED> is not a date: \"2024-01-01\"",
                "transaction at line 5 skipped: <TRNAMT> is not an amount: \"abc\"",
            ]
        );
    }

    #[test]
    fn input_that_is_not_ofx_is_an_error_saying_where() {
        let camt = "<?xml version=\"1.0\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\">";
        let error = parse(camt.as_bytes(), &mut Collect::default()).unwrap_err();
        assert_eq!((error.at.line, error.at.offset), (Some(2), Some(22)));
        assert_eq!((error.expected.as_str(), error.found.as_str()), ("an <OFX> element", "\"<DOCUMENT>\""));
        let csv = "date;amount\n2024-01-01;12,50\n";
        let error = parse(csv.as_bytes(), &mut Collect::default()).unwrap_err();
        assert_eq!((error.at.line, error.found.as_str()), (Some(3), "\"date;amount\\n2024-01-01;12,50\""));
        assert!(parse(&b""[..], &mut Collect::default()).is_err());
        let mut sink = Collect::default();
        let cut = b"OFXHEADER:100\n\n<OFX><STMTRS><STMTTRN><DTPOSTED>20240101<TRNAMT>1\n</STMTTRN>\n<STMTTRN><DTPOSTED>20240102<TRNAMT>1";
        let error = parse(&cut[..], &mut sink).unwrap_err();
        assert!(error.cut_short, "{error}");
        assert_eq!((error.at.line, error.expected.as_str()), (Some(5), "</OFX>"));
        assert_eq!(error.to_string(), "ofx at line 5: expected </OFX>, found the end of the file");
        // What is whole before the cut reached the sink; the entry the cut went through did not.
        let (statements, _) = sink.finish();
        assert_eq!(statements[0].transactions.len(), 1);
        // A whole document followed by a cut one is cut short too.
        let whole = "<OFX><STMTRS><STMTTRN><DTPOSTED>20240101<TRNAMT>1</STMTTRN></STMTRS></OFX>\n";
        let two = format!("OFXHEADER:100\n\n{whole}{whole}<OFX><STMTRS><STMTTRN><DTPOSTED>20240102<TRNAMT>2");
        assert!(parse(two.as_bytes(), &mut Collect::default()).unwrap_err().cut_short);
        assert!(parse(format!("OFXHEADER:100\n\n{whole}{whole}").as_bytes(), &mut Collect::default()).is_ok());
    }

    #[test]
    fn currency_is_the_entrys_own_only_when_the_amount_is_in_it() {
        let text = "<OFX><STMTRS><CURDEF>USD\
            <STMTTRN><DTPOSTED>20240101<TRNAMT>1<CURRENCY><CURRATE>0.9<CURSYM>EUR</CURRENCY></STMTTRN>\
            <STMTTRN><DTPOSTED>20240101<TRNAMT>2<ORIGCURRENCY><CURRATE>0.9<CURSYM>EUR</ORIGCURRENCY></STMTTRN>\
            <STMTTRN><DTPOSTED>20240101<TRNAMT>3<CURRENCY>USD</STMTTRN>\
            <STMTTRN><DTPOSTED>20240101<TRNAMT>4<CURRENCY>gbp</STMTTRN></STMTRS></OFX>";
        let (statements, _) = read(text.as_bytes());
        let currencies: Vec<_> = statements[0].transactions.iter().map(|t| t.currency.as_deref()).collect();
        // ORIGCURRENCY: the amount was converted to CURDEF already.
        assert_eq!(currencies, [Some("EUR"), None, None, Some("GBP")]);
    }

    #[test]
    fn payee_aggregate_and_check_number_describe_a_transaction() {
        let text =
            "<OFX><STMTRS><STMTTRN><DTPOSTED>20240101<TRNAMT>-9<CHECKNUM>1025<PAYEE><NAME>Landlord<ADDR1>x</PAYEE>\
            <BANKACCTTO><BANKID>1<ACCTID>DE00123</BANKACCTTO></STMTTRN>\
            <STMTTRN><DTPOSTED>20240101<TRNAMT>-9<TRNTYPE>CHECK<CHECKNUM>1026</STMTTRN>\
            <STMTTRN><DTPOSTED>20240101<TRNAMT>-9<TRNTYPE>FEE</STMTTRN></STMTRS></OFX>";
        let (statements, _) = read(text.as_bytes());
        let t = &statements[0].transactions;
        assert_eq!((t[0].counterparty.as_deref(), t[0].description.as_str()), (Some("Landlord"), "Landlord"));
        assert_eq!(t[0].counterparty_account.as_deref(), Some("DE00123"));
        assert_eq!((t[1].description.as_str(), t[2].description.as_str()), ("check 1026", "FEE"));
    }

    /// An OFX 1 file of `count` transactions, made as it is read, with the sum of their amounts.
    struct Generated {
        count: usize,
        next: usize,
        pending: Vec<u8>,
        sum: Decimal,
    }

    impl Generated {
        fn new(count: usize) -> Generated {
            let header = "OFXHEADER:100\r\nDATA:OFXSGML\r\nCHARSET:1252\r\n\r\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>EUR\r\n\
                <BANKACCTFROM><BANKID>1<ACCTID>2</BANKACCTFROM><BANKTRANLIST><DTSTART>20240101<DTEND>20241231\r\n";
            Generated { count, next: 0, pending: header.as_bytes().to_vec(), sum: Decimal::ZERO }
        }
    }

    impl Read for Generated {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            while self.pending.len() < out.len() && self.next <= self.count {
                if self.next == self.count {
                    self.pending.extend_from_slice(b"</BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\r\n");
                } else {
                    let i = self.next;
                    let amount = Decimal::new(i as i64 % 20_000 - 10_000, 2);
                    self.sum += amount;
                    let record = format!(
                        "<STMTTRN>\r\n<TRNTYPE>DEBIT\r\n<DTPOSTED>202401{:02}\r\n<TRNAMT>{amount}\r\n<FITID>{i}\r\n<NAME>Caf\u{e9} &amp; Co {i}\r\n<MEMO>Ref {i}\r\n</STMTTRN>\r\n",
                        i % 28 + 1
                    );
                    self.pending.extend(record.chars().map(|c| if c == 'é' { 0xe9 } else { c as u8 }));
                }
                self.next += 1;
            }
            let n = out.len().min(self.pending.len());
            out[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            Ok(n)
        }
    }

    struct Totals {
        count: usize,
        sum: Decimal,
        last_line: Option<u64>,
    }

    impl StatementSink for Totals {
        fn begin(&mut self, _: StatementHeader) {}
        fn transaction(&mut self, t: ParsedTransaction) {
            self.count += 1;
            self.sum += t.amount;
            self.last_line = t.at.line;
        }
        fn balance(&mut self, _: ParsedBalance) {}
        fn holding(&mut self, _: ParsedHolding) {}
        fn end(&mut self) {}
        fn problem(&mut self, p: Problem) {
            panic!("{p:?}");
        }
    }

    #[test]
    fn a_large_file_streams_through_a_small_buffer() {
        let count = 50_000;
        let mut generated = Generated::new(count);
        let mut totals = Totals { count: 0, sum: Decimal::ZERO, last_line: None };
        let mut scanner = Scanner::new(std::io::BufReader::with_capacity(8192, &mut generated));
        let mut parser = Parser::new(&mut totals);
        parser.read_prologue(&mut scanner).unwrap();
        parser.read_body(&mut scanner).unwrap();
        assert!(scanner.buffer_capacity() <= 256 * 1024, "{}", scanner.buffer_capacity());
        drop(scanner);
        assert_eq!((totals.count, totals.sum), (count, generated.sum));
        assert_eq!(totals.last_line, Some(7 + 8 * (count as u64 - 1)));
    }

    #[test]
    fn reading_byte_by_byte_changes_nothing() {
        let text = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/files/ofx/ofxparse/fidelity.ofx"))
            .unwrap();
        let whole = read(&text);
        let mut sink = Collect::default();
        parse(std::io::BufReader::with_capacity(1, text.as_slice()), &mut sink).unwrap();
        assert_eq!(sink.finish(), whole);
        for newline in ["\r\n", "\r"] {
            let converted = String::from_utf8_lossy(&text).replace("\r\n", "\n").replace('\n', newline);
            let whole = read(converted.as_bytes());
            let mut sink = Collect::default();
            parse(std::io::BufReader::with_capacity(1, converted.as_bytes()), &mut sink).unwrap();
            assert_eq!(sink.finish(), whole, "{newline:?}");
        }
    }
}
