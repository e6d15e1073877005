//! Parses statement files with nothing else around them and prints `N transactions, sum X` per
//! file: the parsers' own speed, for profiling and for docs/benchmarks.md.
//! Run: `cargo run --release -p saldo-import --example parse -- FILE…`

use rust_decimal::Decimal;
use saldo_import::{ParsedBalance, ParsedHolding, ParsedTransaction, Problem, StatementHeader, StatementSink};
use std::io::BufReader;
use std::time::Instant;

#[derive(Default)]
struct Count {
    transactions: u64,
    sum: Decimal,
    problems: u64,
}

impl StatementSink for Count {
    fn begin(&mut self, _: StatementHeader) {}
    fn transaction(&mut self, t: ParsedTransaction) {
        self.transactions += 1;
        self.sum += t.amount;
    }
    fn balance(&mut self, _: ParsedBalance) {}
    fn holding(&mut self, _: ParsedHolding) {}
    fn end(&mut self) {}
    fn problem(&mut self, _: Problem) {
        self.problems += 1;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for path in std::env::args().skip(1) {
        let file = std::fs::File::open(&path)?;
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        let head = std::io::BufRead::fill_buf(&mut reader)?.to_vec();
        let format = saldo_import::detect::detect(Some(&path), &head).ok_or("unknown format")?;
        let mut count = Count::default();
        let started = Instant::now();
        saldo_import::parse(format, reader, &mut count)?;
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "{path}: {} in {seconds:.3} s = {:.0} transactions/s, {} problems",
            format.as_str(),
            count.transactions as f64 / seconds,
            count.problems
        );
        println!("{} transactions, sum {}", count.transactions, count.sum.normalize());
    }
    Ok(())
}
