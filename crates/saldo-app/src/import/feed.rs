//! What the parser thread hands the import's writer: the statement's events in batches, through
//! a bounded channel (so a file is never held whole), and how far it has read.

use saldo_import::{ParsedBalance, ParsedHolding, ParsedTransaction, Problem, StatementHeader, StatementSink};
use std::io::{BufRead, Read};
use tokio::sync::mpsc;

/// Transactions handed from the parser to the writer at a time.
pub(super) const BATCH: usize = 4096;

/// What the parser thread sends to the writer.
pub(super) enum Event {
    Begin(StatementHeader),
    Transactions(Vec<ParsedTransaction>),
    Balance(ParsedBalance),
    Holding(ParsedHolding),
    End,
    Problem(Problem),
    /// An entry the parser could not read.
    Skipped(Problem),
}

/// A sink that batches the parser's output into a channel.
pub(super) struct ChannelSink {
    pub(super) events: mpsc::Sender<Event>,
    pub(super) batch: Vec<ParsedTransaction>,
    /// The writer went away (it failed): parsing can stop caring.
    pub(super) closed: bool,
}

impl ChannelSink {
    fn send(&mut self, event: Event) {
        if !self.closed && self.events.blocking_send(event).is_err() {
            self.closed = true;
        }
    }

    pub(super) fn flush(&mut self) {
        if !self.batch.is_empty() {
            let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            self.send(Event::Transactions(batch));
        }
    }
}

impl StatementSink for ChannelSink {
    fn begin(&mut self, header: StatementHeader) {
        self.flush();
        self.send(Event::Begin(header));
    }
    fn transaction(&mut self, transaction: ParsedTransaction) {
        self.batch.push(transaction);
        if self.batch.len() >= BATCH {
            self.flush();
        }
    }
    fn balance(&mut self, balance: ParsedBalance) {
        self.flush();
        self.send(Event::Balance(balance));
    }
    fn holding(&mut self, holding: ParsedHolding) {
        self.flush();
        self.send(Event::Holding(holding));
    }
    fn end(&mut self) {
        self.flush();
        self.send(Event::End);
    }
    fn problem(&mut self, problem: Problem) {
        self.send(Event::Problem(problem));
    }
    fn entry_skipped(&mut self, problem: Problem) {
        self.send(Event::Skipped(problem));
    }
}

/// A reader that tells how far it has read, for the progress bar.
pub(super) struct CountedReport<R> {
    pub(super) inner: R,
    pub(super) read: u64,
    pub(super) report: tokio::sync::watch::Sender<u64>,
}

impl<R: BufRead> Read for CountedReport<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.advance(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for CountedReport<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
        self.advance(amount);
    }
}

impl<R> CountedReport<R> {
    fn advance(&mut self, n: usize) {
        let before = self.read;
        self.read += n as u64;
        // Tell the writer side every 4 MiB: often enough for a bar, rare enough to cost nothing.
        if before >> 22 != self.read >> 22 {
            let _ = self.report.send(self.read);
        }
    }
}
