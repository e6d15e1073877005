//! Statement import: a file is detected, parsed as it streams in (on a blocking thread), and what
//! it holds lands in the account it identifies, all in one database transaction, so a file that
//! fails part-way writes nothing. The transaction begins once the file is parsed (`HELD_ROWS`
//! bounds what is held until then), so the write lock is held only for the writes and memory
//! stays bounded however large the file is.
//!
//! Deduplication follows core's rules (`saldo_core::dedupe`): file ids, fingerprints, synced
//! transactions recognised by date and amount, pending replaced. A statement that names no account
//! goes where its transactions already are (`Writer::resolve_by_content`).

mod accounts;
mod amounts;
mod feed;
mod positions;
mod report;

use crate::ops::{Actor, App, OpsError};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use saldo_core::account::{Account, AccountKind};
use saldo_core::dedupe::{file_id, Decision, ImportDedupe};
use saldo_core::ids::TransactionId;
use saldo_core::money::{Currency, Money};
use saldo_core::transaction::{FingerprintContent, Fingerprinter, Source, Transaction, TransactionStatus};
use saldo_core::user::User;
use saldo_import::csv::CsvProfile;
use saldo_import::{BalanceKind, EntryStatus, Format, ParseError, ParsedTransaction, StatementHeader};
use saldo_store::ImportTx;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use amounts::{problem, statement_money, stored_amount, warn_of_no_currency};
use feed::{ChannelSink, CountedReport, Event, BATCH};
pub use report::{AccountCandidate, AccountReport, BalanceReport, FileReport, ProblemReport, StatementReport};
use tokio::sync::mpsc;

/// Transactions of a file parsed before its writes begin (some 20 MB): every statement file a
/// bank gives a person fits, and only larger ones are written while they are still being parsed.
const HELD_ROWS: usize = 50_000;

/// What to import and how.
#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    pub format: Option<Format>,
    /// An account (id, or name) every statement goes into, instead of the one each identifies.
    pub account: Option<String>,
    /// The kind of accounts created for statements that don't say what they are.
    pub kind: Option<AccountKind>,
    pub dry_run: bool,
    /// Import what a file cut off before its end holds, instead of refusing it.
    pub accept_truncated: bool,
    /// Import a file whose unreadable entries are left out (each named), instead of refusing it.
    pub skip_unreadable: bool,
    /// The currency of accounts created for statements that do not state theirs (nor show it in
    /// their entries or balances).
    pub currency: Option<saldo_core::money::Currency>,
    /// Which column (counted from 1) of a CSV file holds the amounts, for files whose columns
    /// do not say; it overrides the layout saved for the account.
    pub amount_column: Option<usize>,
}

/// Why a file could not be imported.
#[derive(Debug, thiserror::Error)]
enum FileError {
    #[error("cannot read the file: {0}")]
    Read(#[from] std::io::Error),
    #[error("{0}")]
    Parse(#[from] ParseError),
    #[error(
        "the statement names no account (no IBAN or account number), and {reason}: say which account it goes into"
    )]
    WhichAccount { reason: &'static str, candidates: Vec<AccountCandidate> },
    #[error("the file ends before it closes, as a file cut off in a broken download does ({0})")]
    CutShort(ParseError),
    #[error(
        "{count} of its entries cannot be read or stored (the problems name them); nothing was imported: \
         fix the file, or leave them out with --skip-unreadable"
    )]
    Skipped { count: u64 },
    #[error("{0}")]
    Unknown(String),
    #[error(
        "the statement does not say its currency (nor do its entries or balances) and no account of yours is \
         known by its {identity}: import it with --currency CODE"
    )]
    NoCurrency { identity: String },
    #[error(
        "the statement is kept in {code:?}, which is not a currency saldo keeps (historic ISO 4217 codes \
         such as DEM or FRF have no rates here); nothing was imported, and its amounts are never relabelled \
         as another currency"
    )]
    UnknownCurrency { code: String },
    #[error(
        "not a statement file saldo reads (OFX/QFX, CAMT.052/053/054, MT940/MT942 or CSV); if it is one, name its format"
    )]
    UnknownFormat,
    #[error("{0}")]
    Ops(#[from] OpsError),
}

impl From<saldo_store::StoreError> for FileError {
    fn from(err: saldo_store::StoreError) -> FileError {
        FileError::Ops(OpsError::Store(err))
    }
}

/// Imports files one after another; each file lands whole or not at all. `progress` is told the
/// bytes read so far of the current file.
pub async fn import_files(
    ctx: Option<(&App, &Actor)>,
    paths: &[PathBuf],
    request: &ImportRequest,
    progress: &(dyn Fn(&Path, u64, u64) + Sync),
) -> Vec<FileReport> {
    let mut reports = Vec::new();
    for path in paths {
        let mut report = FileReport::new(path.display().to_string(), request.dry_run || ctx.is_none());
        if let Err(err) = import_file(ctx, path, request, &mut report, progress).await {
            fail(&mut report, &err);
        }
        reports.push(report);
    }
    reports
}

async fn import_file(
    ctx: Option<(&App, &Actor)>,
    path: &Path,
    request: &ImportRequest,
    report: &mut FileReport,
    progress: &(dyn Fn(&Path, u64, u64) + Sync),
) -> Result<(), FileError> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let reader = BufReader::with_capacity(256 * 1024, file);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    import_reader(ctx, name.as_deref(), reader, request, report, &|read| progress(path, read, size)).await
}

/// Imports an upload the front end spooled to a file (the HTTP API), under the name the upload
/// gave: the same pipeline and report as a file the command line names.
pub async fn import_spooled(
    ctx: &App,
    actor: &Actor,
    name: &str,
    file: std::fs::File,
    request: &ImportRequest,
) -> FileReport {
    let mut report = FileReport::new(name.to_string(), request.dry_run);
    let reader = BufReader::with_capacity(256 * 1024, file);
    if let Err(err) = import_reader(Some((ctx, actor)), Some(name), reader, request, &mut report, &|_| {}).await {
        fail(&mut report, &err);
    }
    report
}

/// Imports one uploaded file held in memory: the same pipeline and report as a file on disk.
pub async fn import_bytes<B: AsRef<[u8]> + Send + 'static>(
    ctx: &App,
    actor: &Actor,
    name: &str,
    bytes: B,
    request: &ImportRequest,
) -> FileReport {
    let mut report = FileReport::new(name.to_string(), request.dry_run);
    let reader = std::io::Cursor::new(bytes);
    if let Err(err) = import_reader(Some((ctx, actor)), Some(name), reader, request, &mut report, &|_| {}).await {
        fail(&mut report, &err);
    }
    report
}

/// Records why a file was not imported and clears the counts that would suggest it was.
fn fail(report: &mut FileReport, err: &FileError) {
    report.error = Some(err.to_string());
    if let FileError::WhichAccount { candidates, .. } = err {
        report.account_candidates = candidates.clone();
    }
    report.format_unknown = matches!(err, FileError::UnknownFormat);
    report.busy = matches!(err, FileError::Ops(OpsError::Store(store)) if store.is_busy());
    for statement in &mut report.statements {
        statement.account.id = statement.account.id.take().filter(|_| !statement.account.created);
        statement.account.created = false;
        statement.new = 0;
        statement.duplicate = 0;
        statement.reused_ids = 0;
        statement.pending_replaced = 0;
        statement.balance_points = 0;
    }
}

async fn import_reader<R: BufRead + Send + 'static>(
    acting: Option<(&App, &Actor)>,
    name: Option<&str>,
    mut reader: R,
    request: &ImportRequest,
    report: &mut FileReport,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(), FileError> {
    let head = {
        let buffered = reader.fill_buf()?;
        buffered[..saldo_import::detect::HEAD.min(buffered.len())].to_vec()
    };
    let format = match request.format {
        Some(format) => format,
        None => saldo_import::detect::detect(name, &head).ok_or(FileError::UnknownFormat)?,
    };
    report.format = Some(format.as_str());

    let ctx = acting.map(|(ctx, _)| ctx);
    let user = acting.map(|(_, actor)| actor.user.clone());
    let target = match (acting, &request.account) {
        (Some((ctx, actor)), Some(reference)) => Some(crate::accounts::find_account(ctx, actor, reference).await?),
        _ => None,
    };
    let saved_profile = match (ctx, &target, format) {
        (Some(ctx), Some(account), Format::Csv) => {
            ctx.db.csv_profile(account.id).await?.and_then(|json| serde_json::from_str::<CsvProfile>(&json).ok())
        }
        _ => None,
    };

    let amount_column = request.amount_column;
    let (events, mut inbox) = mpsc::channel::<Event>(8);
    let (read_tx, mut read_rx) = tokio::sync::watch::channel(0u64);
    let parser = tokio::task::spawn_blocking(move || {
        let mut sink = ChannelSink { events, batch: Vec::with_capacity(BATCH), closed: false };
        let mut counted = CountedReport { inner: reader, read: 0, report: read_tx };
        let result = match format {
            Format::Csv => {
                saldo_import::csv::parse_with(&mut counted, saved_profile.as_ref(), amount_column, &mut sink).map(Some)
            }
            other => saldo_import::parse(other, &mut counted, &mut sink).map(|()| None),
        };
        sink.flush();
        result
    });

    // A dry run into a named account writes as the import would, to show what would be new and
    // what is there already, and then takes it all back.
    let previews = request.dry_run && target.is_some();
    let writes_as = match (ctx, user) {
        (Some(ctx), Some(user)) if !request.dry_run || previews => Some((ctx, user)),
        _ => None,
    };
    let mut writer: Option<Writer> = None;
    // What the parser read before the write transaction begins: a file is parsed whole before
    // SQLite's write lock is taken, so other writers wait only for the writes (and a file that
    // is refused never takes it), unless it holds more than HELD_ROWS transactions, which are
    // then written as the parser reads on.
    let mut held: Vec<Event> = Vec::new();
    let mut held_rows = 0usize;
    let mut current: Option<StatementReport> = None;
    let mut write_error: Option<FileError> = None;
    let mut reading = true;
    loop {
        let event = tokio::select! {
            event = inbox.recv() => event,
            // Once the parser is done its progress sender is gone: stop watching it.
            changed = read_rx.changed(), if reading => {
                match changed {
                    Ok(()) => progress(*read_rx.borrow()),
                    Err(_) => reading = false,
                }
                continue;
            }
        };
        let Some(event) = event else { break };
        if write_error.is_some() {
            continue;
        }
        let event = match &writes_as {
            Some((ctx, user)) if writer.is_none() => {
                if let Event::Transactions(batch) = &event {
                    held_rows += batch.len();
                }
                held.push(event);
                if held_rows < HELD_ROWS {
                    continue;
                }
                writer = Some(Writer::begin(ctx, user.clone(), format, target.clone()).await?);
                None
            }
            _ => Some(event),
        };
        for event in held.drain(..).chain(event) {
            if let Err(err) = handle(event, &mut current, report, writer.as_mut(), request).await {
                write_error = Some(err);
                // Dropping the receiver stops the parser from doing work nobody will use.
                inbox.close();
                break;
            }
        }
    }
    let parsed = parser.await.map_err(|err| FileError::Unknown(format!("the parser stopped: {err}")))?;
    if let Some((ctx, user)) = writes_as.filter(|_| writer.is_none() && write_error.is_none()) {
        // A file that will be refused is reported without taking the lock.
        let refused = match &parsed {
            Ok(_) => held.iter().any(|e| matches!(e, Event::Skipped(_))) && !request.skip_unreadable,
            Err(err) => !(err.cut_short && request.accept_truncated),
        };
        if !refused {
            writer = Some(Writer::begin(ctx, user, format, target.clone()).await?);
        }
    }
    for event in held.drain(..) {
        if write_error.is_some() {
            break;
        }
        if let Err(err) = handle(event, &mut current, report, writer.as_mut(), request).await {
            write_error = Some(err);
        }
    }
    if let Some(statement) = current.take() {
        report.statements.push(statement);
    }
    if let Some(err) = write_error {
        return Err(err);
    }
    let kept = match &parsed {
        Ok(_) => true,
        Err(err) => err.cut_short && request.accept_truncated,
    };
    if let Some(writer) = writer.as_mut().filter(|w| kept && w.unresolved.is_some()) {
        let mut open = StatementReport::default();
        let statement = report.statements.last_mut().unwrap_or(&mut open);
        writer.settle(&[], statement, &mut report.problems, request).await?;
    }
    // Sums in their currency's decimals, the same in the dry run as in the import: the currency
    // the entries show, else the statement's (or its account's), else the one asked for.
    let asked = request.currency.map(|c| c.code().to_string());
    let mut without_balance = Vec::new();
    for statement in &mut report.statements {
        let currency =
            statement.shown_currency.clone().or_else(|| statement.account.currency.clone()).or(asked.clone());
        statement.sum = amounts::shown(statement.sum_exact, currency.as_deref());
        if statement.opening_balance.is_none() && statement.closing_balance.is_none() && statement.holdings == 0 {
            let account = &statement.account;
            without_balance
                .push(account.iban.clone().or(account.number.clone()).unwrap_or_else(|| "its account".into()));
        }
    }
    for account in without_balance {
        report.problems.push(ProblemReport {
            line: None,
            offset: None,
            message: format!(
                "the statement of {account} states no balance: an account without any balance is left out of net \
                 worth until it gets one (a valuation, or a statement that states it)"
            ),
        });
    }
    if report.skipped_entries > 0 && !request.skip_unreadable {
        return Err(FileError::Skipped { count: report.skipped_entries });
    }
    let profile = match parsed {
        Ok(profile) => profile,
        Err(err) if err.cut_short => {
            report.truncated = Some(err.to_string());
            if !request.accept_truncated {
                return Err(FileError::CutShort(err));
            }
            report.problems.push(ProblemReport {
                line: err.at.line,
                offset: err.at.offset,
                message: format!("the file ends here, before {}: only what came before was imported", err.expected),
            });
            None
        }
        Err(err) => return Err(err.into()),
    };
    if let Some(mut writer) = writer.filter(|_| !request.dry_run) {
        // The layout is remembered for the account the file went into, so its next export needs
        // no detection (and no questions when detection would be unsure).
        let account = writer.account.clone().or_else(|| writer.state.as_ref().map(|s| s.account.clone()));
        if let (Some(profile), Some(account)) = (profile, account) {
            let json = serde_json::to_string(&profile).map_err(|err| FileError::Unknown(err.to_string()))?;
            writer.tx.save_csv_profile(account.id, &json, writer.ctx.clock.now()).await?;
        }
        writer.tx.commit().await?;
    }
    Ok(())
}

/// Writes one file's statements into one open import.
struct Writer<'a> {
    ctx: &'a App,
    user: User,
    tx: ImportTx,
    /// What its rows are stored as coming from: the file's format.
    source: Source,
    /// The account statements go into: given with `--account`, else the current statement's.
    account: Option<Account>,
    /// Accounts this import created: not visible outside its transaction until it commits.
    created: Vec<Account>,
    state: Option<StatementState>,
    /// A statement that names no account: where it goes is decided by its first transactions.
    unresolved: Option<StatementHeader>,
    /// Balances and holdings of the unresolved statement, written once its account is known.
    deferred: Vec<Event>,
}

impl<'a> Writer<'a> {
    /// Begins the import's write transaction (on SQLite, takes the write lock).
    async fn begin(
        ctx: &'a App,
        user: User,
        format: Format,
        account: Option<Account>,
    ) -> Result<Writer<'a>, FileError> {
        Ok(Writer {
            ctx,
            user,
            tx: ctx.db.begin_import().await?,
            source: source_of(format),
            account,
            created: Vec::new(),
            state: None,
            unresolved: None,
            deferred: Vec::new(),
        })
    }
}

/// The source a file of `format` is to its transactions.
fn source_of(format: Format) -> Source {
    match format {
        Format::Ofx => Source::Ofx,
        Format::Camt => Source::Camt,
        Format::Mt940 => Source::Mt940,
        Format::Csv => Source::Csv,
    }
}

/// Deduplication state of the statement being written.
struct StatementState {
    account: Account,
    /// Identical rows counted on the fingerprint's normalised content (core's one rule).
    fingerprints: Fingerprinter,
    /// Rules 3 and 4 (synced transactions recognised, pending replaced), core's decisions.
    dedupe: ImportDedupe,
    /// The statement's last closing balance: for an investment account, its cash.
    cash: Option<(NaiveDate, Money)>,
    /// The summed market value of the statement's positions, as of their latest day.
    positions: Option<(NaiveDate, i64)>,
}

/// What one batch of a statement's rows did to the account.
#[derive(Debug, Default)]
struct BatchWritten {
    new: u64,
    duplicate: u64,
    replaced: u64,
    reused_ids: u64,
    /// Rows that could not be stored (an amount in another currency than the account's).
    skipped: u64,
}

async fn handle(
    event: Event,
    current: &mut Option<StatementReport>,
    report: &mut FileReport,
    writer: Option<&mut Writer<'_>>,
    request: &ImportRequest,
) -> Result<(), FileError> {
    let mut writer = writer;
    match event {
        Event::Begin(header) => {
            // A currency the file states but saldo does not keep is refused, in the dry run as in
            // the import: never relabelled as another (`--currency` included).
            if let Some(code) = header.account.currency.as_deref() {
                if Currency::parse(code).is_err() {
                    return Err(FileError::UnknownCurrency { code: code.to_string() });
                }
            }
            if let Some(mut done) = current.take() {
                if let Some(writer) = writer.as_deref_mut() {
                    writer.settle(&[], &mut done, &mut report.problems, request).await?;
                }
                report.statements.push(done);
            }
            let mut statement = StatementReport {
                account: AccountReport {
                    iban: header.account.iban.clone(),
                    number: header.account.number.clone(),
                    currency: header.account.currency.clone(),
                    name: header.account.name.clone(),
                    ..AccountReport::default()
                },
                ..StatementReport::default()
            };
            if let Some(writer) = writer {
                let names_account = header.account.iban.is_some() || header.account.number.is_some();
                // A statement that names no account, or does not say its currency, waits for its
                // first entries: they may show which account, or which currency.
                let says_currency = header.account.currency.is_some() || request.currency.is_some();
                if writer.account.is_none() && (!names_account || !says_currency) {
                    writer.state = None;
                    writer.unresolved = Some(header);
                } else {
                    let (account, created) = writer.resolve(&header, request, &mut report.problems).await?;
                    writer.start(&mut statement, account, created);
                }
            }
            *current = Some(statement);
        }
        Event::Transactions(batch) => {
            let statement = current.get_or_insert_with(StatementReport::default);
            statement.transactions += batch.len() as u64;
            for t in &batch {
                statement.sum_exact += stored_amount(t, statement.account.currency.as_deref(), &mut report.problems);
            }
            if statement.shown_currency.is_none() {
                statement.shown_currency = batch.iter().find_map(|t| t.currency.clone());
            }
            statement.sum = amounts::shown(statement.sum_exact, None);
            if let Some(writer) = writer {
                writer.settle(&batch, statement, &mut report.problems, request).await?;
                let written = writer.write_batch(&batch, &mut report.problems).await?;
                statement.new += written.new;
                statement.duplicate += written.duplicate;
                statement.pending_replaced += written.replaced;
                statement.reused_ids += written.reused_ids;
                report.skipped_entries += written.skipped;
                if written.reused_ids > 0 {
                    report.problems.push(ProblemReport {
                        line: batch.first().and_then(|t| t.at.line),
                        offset: None,
                        message: format!(
                            "{} transaction(s) carry an id (FITID or reference) that this file or an earlier one gave \
                             another transaction; both are kept, told apart by their content",
                            written.reused_ids
                        ),
                    });
                }
            }
        }
        Event::Balance(balance) => {
            let statement = current.get_or_insert_with(StatementReport::default);
            if statement.shown_currency.is_none() {
                statement.shown_currency = balance.currency.clone();
            }
            let currency = balance.currency.clone().or_else(|| statement.account.currency.clone());
            let shown = BalanceReport {
                amount: amounts::shown(balance.amount, currency.as_deref()),
                currency,
                date: balance.date.to_string(),
            };
            match balance.kind {
                BalanceKind::Opening => statement.opening_balance = Some(shown),
                BalanceKind::Closing => statement.closing_balance = Some(shown),
                _ => {}
            }
            match writer {
                Some(writer) if writer.unresolved.is_some() => writer.deferred.push(Event::Balance(balance)),
                Some(writer) if balance.kind == BalanceKind::Closing => {
                    statement.balance_points += writer.write_balance(&balance, &mut report.problems).await?;
                }
                _ => {}
            }
        }
        Event::Holding(holding) => {
            let statement = current.get_or_insert_with(StatementReport::default);
            statement.holdings += 1;
            match writer {
                Some(writer) if writer.unresolved.is_some() => writer.deferred.push(Event::Holding(holding)),
                Some(writer) => writer.write_holding(&holding, &mut report.problems).await?,
                None => {}
            }
        }
        Event::End => {
            if let Some(mut done) = current.take() {
                match writer {
                    Some(writer) => {
                        writer.settle(&[], &mut done, &mut report.problems, request).await?;
                        writer.finish_statement(&mut done).await?;
                    }
                    None => warn_of_no_currency(&done, report, request),
                }
                report.statements.push(done);
            }
        }
        Event::Problem(problem) => report.problems.push(ProblemReport::from(&problem)),
        Event::Skipped(problem) => {
            report.problems.push(ProblemReport::from(&problem));
            report.skipped_entries += 1;
        }
    }
    Ok(())
}

impl Writer<'_> {
    /// The statement's transactions go into `account` from now on.
    fn start(&mut self, statement: &mut StatementReport, account: Account, created: bool) {
        statement.account.id = Some(account.id.to_string());
        statement.account.created = created;
        if statement.account.currency.is_none() {
            statement.account.currency = Some(account.currency.code().to_string());
        }
        self.state = Some(StatementState {
            account,
            fingerprints: Fingerprinter::new(),
            dedupe: ImportDedupe::new(self.source),
            cash: None,
            positions: None,
        });
    }

    /// Decides the account of a statement that names none, from its first transactions `batch`
    /// (empty when it has none), then writes what waited for it. Does nothing for a statement
    /// whose account is known.
    async fn settle(
        &mut self,
        batch: &[ParsedTransaction],
        statement: &mut StatementReport,
        problems: &mut Vec<ProblemReport>,
        request: &ImportRequest,
    ) -> Result<(), FileError> {
        let Some(mut header) = self.unresolved.take() else { return Ok(()) };
        if header.account.currency.is_none() {
            // What the entries and balances say, when the statement itself does not.
            let balances = self.deferred.iter().filter_map(|e| match e {
                Event::Balance(balance) => balance.currency.clone(),
                _ => None,
            });
            header.account.currency =
                batch.iter().find_map(|t| t.currency.clone()).or_else(|| balances.into_iter().next());
        }
        let names_account = header.account.iban.is_some() || header.account.number.is_some();
        let (account, created) = if names_account {
            self.resolve(&header, request, problems).await?
        } else {
            self.resolve_by_content(&header, batch, request, problems).await?
        };
        self.start(statement, account, created);
        for event in std::mem::take(&mut self.deferred) {
            match event {
                Event::Balance(balance) if balance.kind == BalanceKind::Closing => {
                    statement.balance_points += self.write_balance(&balance, problems).await?;
                }
                Event::Holding(holding) => self.write_holding(&holding, problems).await?,
                _ => {}
            }
        }
        Ok(())
    }

    fn money(
        &self,
        amount: Decimal,
        currency: Option<&str>,
        at: saldo_import::Position,
    ) -> Result<Money, ProblemReport> {
        let Some(state) = &self.state else {
            return Err(problem(at, "an entry outside any statement; skipped".into()));
        };
        statement_money(amount, currency, state.account.currency, at)
    }

    async fn write_batch(
        &mut self,
        batch: &[ParsedTransaction],
        problems: &mut Vec<ProblemReport>,
    ) -> Result<BatchWritten, FileError> {
        let mut rows = Vec::with_capacity(batch.len());
        let mut skipped = 0;
        for parsed in batch {
            let amount = match self.money(parsed.amount, parsed.currency.as_deref(), parsed.at) {
                Ok(amount) => amount,
                Err(problem) => {
                    problems.push(problem);
                    skipped += 1;
                    continue;
                }
            };
            let Some(state) = self.state.as_mut() else { continue };
            let content = FingerprintContent {
                booking_date: parsed.booking_date,
                amount,
                description: &parsed.description,
                counterparty: parsed.counterparty.as_deref(),
            };
            let (fingerprint, _) = state.fingerprints.next(content);
            rows.push(Transaction {
                id: TransactionId(self.ctx.new_id()),
                account_id: state.account.id,
                status: match parsed.status {
                    EntryStatus::Booked => TransactionStatus::Booked,
                    EntryStatus::Pending => TransactionStatus::Pending,
                },
                booking_date: parsed.booking_date,
                value_date: parsed.value_date,
                amount,
                fingerprint,
                description: parsed.description.clone(),
                counterparty: parsed.counterparty.clone(),
                // Marked as a file's id: a sync's ids and a file's never meet.
                provider_id: parsed.provider_id.as_deref().and_then(file_id),
                source: self.source,
                pending_of: None,
            });
        }
        let Some(state) = self.state.as_mut() else { return Ok(BatchWritten { skipped, ..BatchWritten::default() }) };
        let (Some(from), Some(to)) =
            (rows.iter().map(|t| t.booking_date).min(), rows.iter().map(|t| t.booking_date).max())
        else {
            return Ok(BatchWritten { skipped, ..BatchWritten::default() });
        };
        let stored = self.tx.entries_between(state.account.id, from, to).await?;
        let Decision { insert, recognised, replaced } = state.dedupe.decide(rows, &stored);
        let replaced_count = self.tx.delete_pending(state.account.id, &replaced).await?;
        let (new, reused_ids) = self.tx.insert_transactions(&insert).await?;
        let duplicate = insert.len() as u64 - new + recognised;
        Ok(BatchWritten { new, duplicate, replaced: replaced_count, reused_ids, skipped })
    }
}
