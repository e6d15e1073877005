//! Parsers for the files saldo imports. Each takes bytes and returns domain values plus the problems
//! it could step over; it fails only when the input is not that format at all.
//!
//! Invariant: no I/O of their own. Parsers read from any `BufRead` they are given (a byte slice in
//! tests and fuzzing), never open files or read the clock. Statement formats (OFX, CAMT, MT940, CSV) share one model,
//! [`statement`], and hand what they read to a [`StatementSink`] as they go.

pub mod ecb;

pub mod camt;
pub mod csv;
pub mod detect;
pub mod mt940;
pub mod ofx;
pub mod statement;
pub mod text;

pub use statement::{
    AccountKindHint, BalanceKind, Collect, EntryStatus, Format, ParseError, ParsedBalance, ParsedHolding,
    ParsedTransaction, Position, Problem, Statement, StatementAccount, StatementHeader, StatementSink,
};

/// Parses a statement file of a known format, handing its content to `sink` as it goes. CSV is
/// read with the layout it detects; [`csv::parse`] takes a saved profile.
pub fn parse<R: std::io::BufRead>(format: Format, reader: R, sink: &mut dyn StatementSink) -> Result<(), ParseError> {
    match format {
        Format::Ofx => ofx::parse(reader, sink),
        Format::Camt => camt::parse(reader, sink),
        Format::Mt940 => mt940::parse(reader, sink),
        Format::Csv => csv::parse(reader, None, sink).map(|_| ()),
    }
}
