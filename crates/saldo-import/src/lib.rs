//! Parsers for the files saldo imports. Each takes bytes and returns domain values plus the problems
//! it could step over; it fails only when the input is not that format at all.
//!
//! Invariant: no I/O. Parsers never open files or read the clock, so they can be fuzzed and tested on
//! byte strings. Statement formats (OFX, CAMT, MT940, CSV) join the ECB rate files here.

pub mod ecb;

/// Something odd in a file that the parser stepped over without failing the import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line of the file, when the format has lines.
    pub line: Option<u64>,
    pub message: String,
}
