//! Statement import: a file is detected, parsed as it streams in (on a blocking thread), and what
//! it holds lands in the account it identifies, all in one database transaction, so a file that
//! fails part-way writes nothing and memory stays flat however large the file is.
//!
//! Deduplication follows core's rules (`saldo_core::dedupe`): file ids, fingerprints, synced
//! transactions recognised by date and amount, pending replaced. A statement that names no account
//! goes where its transactions already are (`Writer::resolve_by_content`).

use crate::ops::{Actor, App, OpsError};
use rust_decimal::Decimal;
use saldo_core::account::{Account, AccountAlias, AccountKind, Origin};
use saldo_core::balance::{BalancePoint, BalanceSource};
use saldo_core::dedupe::{file_id, Decision, ImportDedupe};
use saldo_core::holding::{Holding, Instrument};
use saldo_core::ids::{AccountId, TransactionId};
use saldo_core::money::{Currency, Money};
use saldo_core::transaction::{FingerprintContent, Fingerprinter, Transaction, TransactionStatus};
use saldo_core::user::User;
use saldo_import::csv::CsvProfile;
use saldo_import::{
    AccountKindHint, BalanceKind, EntryStatus, Format, ParseError, ParsedBalance, ParsedHolding, ParsedTransaction,
    Problem, StatementHeader, StatementSink,
};
use saldo_store::ImportTx;
use serde::Serialize;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// Transactions handed from the parser to the writer at a time.
const BATCH: usize = 4096;

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
}

/// A statement's account in a report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct AccountReport {
    /// saldo's account; none in a dry run or when nothing was written.
    pub id: Option<String>,
    pub iban: Option<String>,
    pub number: Option<String>,
    pub currency: Option<String>,
    pub name: Option<String>,
    /// The import created this account.
    pub created: bool,
}

/// A balance a statement states.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BalanceReport {
    pub amount: String,
    pub currency: Option<String>,
    /// `YYYY-MM-DD`.
    pub date: String,
}

/// One statement of a file: what it holds and what the import did with it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct StatementReport {
    pub account: AccountReport,
    /// Transactions in the statement.
    pub transactions: u64,
    /// The signed total of the statement's transactions, as a decimal.
    pub sum: String,
    pub opening_balance: Option<BalanceReport>,
    pub closing_balance: Option<BalanceReport>,
    /// Positions in the statement.
    pub holdings: u64,
    /// Transactions stored for the first time.
    pub new: u64,
    /// Transactions already stored (from an earlier import or a sync).
    pub duplicate: u64,
    pub pending_replaced: u64,
    pub balance_points: u64,
    #[serde(skip)]
    sum_exact: Decimal,
}

/// Something a file made saldo notice, where it is in the file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProblemReport {
    pub line: Option<u64>,
    pub offset: Option<u64>,
    pub message: String,
}

impl From<&Problem> for ProblemReport {
    fn from(p: &Problem) -> ProblemReport {
        ProblemReport { line: p.at.line, offset: p.at.offset, message: p.message.clone() }
    }
}

/// An account a file that names none may belong to.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AccountCandidate {
    pub id: String,
    pub name: String,
    pub currency: String,
}

impl From<&Account> for AccountCandidate {
    fn from(account: &Account) -> AccountCandidate {
        AccountCandidate {
            id: account.id.to_string(),
            name: account.name.clone(),
            currency: account.currency.code().to_string(),
        }
    }
}

/// One file's import.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileReport {
    pub path: String,
    pub format: Option<&'static str>,
    pub statements: Vec<StatementReport>,
    pub problems: Vec<ProblemReport>,
    /// Why nothing of the file was imported, when it wasn't.
    pub error: Option<String>,
    /// Where a file that ends before it closes ends, and what it still lacked there. Such a file
    /// is refused (`error`), unless what it holds was asked for (`accept_truncated`).
    pub truncated: Option<String>,
    /// When the file names no account and saldo could not tell which it goes into: the accounts
    /// it may belong to. Import it again naming one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub account_candidates: Vec<AccountCandidate>,
    pub dry_run: bool,
}

impl FileReport {
    pub fn transactions(&self) -> u64 {
        self.statements.iter().map(|s| s.transactions).sum()
    }

    pub fn sum(&self) -> Decimal {
        self.statements.iter().map(|s| s.sum_exact).sum()
    }
}

/// What the parser thread sends to the writer.
enum Event {
    Begin(StatementHeader),
    Transactions(Vec<ParsedTransaction>),
    Balance(ParsedBalance),
    Holding(ParsedHolding),
    End,
    Problem(Problem),
}

/// A sink that batches the parser's output into a channel.
struct ChannelSink {
    events: mpsc::Sender<Event>,
    batch: Vec<ParsedTransaction>,
    /// The writer went away (it failed): parsing can stop caring.
    closed: bool,
}

impl ChannelSink {
    fn send(&mut self, event: Event) {
        if !self.closed && self.events.blocking_send(event).is_err() {
            self.closed = true;
        }
    }

    fn flush(&mut self) {
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
    #[error("{0}")]
    Unknown(String),
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
        let mut report = FileReport {
            path: path.display().to_string(),
            format: None,
            statements: Vec::new(),
            problems: Vec::new(),
            error: None,
            truncated: None,
            account_candidates: Vec::new(),
            dry_run: request.dry_run || ctx.is_none(),
        };
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

/// Imports one uploaded file (the HTTP API): the same pipeline and report as a file on disk.
pub async fn import_bytes<B: AsRef<[u8]> + Send + 'static>(
    ctx: &App,
    actor: &Actor,
    name: &str,
    bytes: B,
    request: &ImportRequest,
) -> FileReport {
    let mut report = FileReport {
        path: name.to_string(),
        format: None,
        statements: Vec::new(),
        problems: Vec::new(),
        error: None,
        truncated: None,
        account_candidates: Vec::new(),
        dry_run: request.dry_run,
    };
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
    for statement in &mut report.statements {
        statement.account.id = statement.account.id.take().filter(|_| !statement.account.created);
        statement.account.created = false;
        statement.new = 0;
        statement.duplicate = 0;
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
        None => saldo_import::detect::detect(name, &head).ok_or_else(|| {
            FileError::Unknown(
                "not a statement file saldo reads (OFX/QFX, CAMT.052/053/054, MT940/MT942 or CSV); \
                 name one with --format if it is"
                    .into(),
            )
        })?,
    };
    report.format = Some(format.as_str());

    let ctx = acting.map(|(ctx, _)| ctx);
    let user = acting.map(|(_, actor)| actor.user.clone());
    let target = match (acting, &request.account) {
        (Some((ctx, actor)), Some(reference)) => Some(crate::ops::find_account(ctx, actor, reference).await?),
        _ => None,
    };
    let saved_profile = match (ctx, &target, format) {
        (Some(ctx), Some(account), Format::Csv) => {
            ctx.db.csv_profile(account.id).await?.and_then(|json| serde_json::from_str::<CsvProfile>(&json).ok())
        }
        _ => None,
    };

    let (events, mut inbox) = mpsc::channel::<Event>(8);
    let (read_tx, mut read_rx) = tokio::sync::watch::channel(0u64);
    let parser = tokio::task::spawn_blocking(move || {
        let mut sink = ChannelSink { events, batch: Vec::with_capacity(BATCH), closed: false };
        let mut counted = CountedReport { inner: reader, read: 0, report: read_tx };
        let result = match format {
            Format::Csv => saldo_import::csv::parse(&mut counted, saved_profile.as_ref(), &mut sink).map(Some),
            other => saldo_import::parse(other, &mut counted, &mut sink).map(|()| None),
        };
        sink.flush();
        result
    });

    let mut writer = match (ctx, user) {
        (Some(ctx), Some(user)) if !request.dry_run => Some(Writer {
            ctx,
            user,
            tx: ctx.db.begin_import().await?,
            account: target.clone(),
            created: Vec::new(),
            state: None,
            unresolved: None,
            deferred: Vec::new(),
        }),
        _ => None,
    };
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
        let step = handle(event, &mut current, report, writer.as_mut(), request).await;
        if let Err(err) = step {
            write_error = Some(err);
            // Dropping the receiver stops the parser from doing work nobody will use.
            inbox.close();
        }
    }
    if let Some(statement) = current.take() {
        report.statements.push(statement);
    }
    let parsed = parser.await.map_err(|err| FileError::Unknown(format!("the parser stopped: {err}")))?;
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
                message: format!(
                    "the file ends at {} before {}: only what came before was imported",
                    err.at, err.expected
                ),
            });
            None
        }
        Err(err) => return Err(err.into()),
    };
    if let Some(mut writer) = writer {
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

/// Deduplication state of the statement being written.
struct StatementState {
    account: Account,
    /// Identical rows counted on the fingerprint's normalised content (core's one rule).
    fingerprints: Fingerprinter,
    /// Rules 3 and 4 (synced transactions recognised, pending replaced), core's decisions.
    dedupe: ImportDedupe,
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
                if writer.account.is_none() && !names_account {
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
                statement.sum_exact += t.amount;
            }
            statement.sum = statement.sum_exact.normalize().to_string();
            if let Some(writer) = writer {
                writer.settle(&batch, statement, &mut report.problems, request).await?;
                let (new, duplicate, replaced) = writer.write_batch(&batch, &mut report.problems).await?;
                statement.new += new;
                statement.duplicate += duplicate;
                statement.pending_replaced += replaced;
            }
        }
        Event::Balance(balance) => {
            let statement = current.get_or_insert_with(StatementReport::default);
            let shown = BalanceReport {
                amount: balance.amount.normalize().to_string(),
                currency: balance.currency.clone().or_else(|| statement.account.currency.clone()),
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
                if let Some(writer) = writer {
                    writer.settle(&[], &mut done, &mut report.problems, request).await?;
                }
                report.statements.push(done);
            }
        }
        Event::Problem(problem) => report.problems.push(ProblemReport::from(&problem)),
    }
    Ok(())
}

fn kind_from_hint(hint: Option<AccountKindHint>) -> Option<AccountKind> {
    Some(match hint? {
        AccountKindHint::Checking | AccountKindHint::MoneyMarket => AccountKind::Cash,
        AccountKindHint::Savings => AccountKind::Savings,
        AccountKindHint::CreditLine | AccountKindHint::CreditCard => AccountKind::CreditCard,
        AccountKindHint::Investment => AccountKind::Brokerage,
        AccountKindHint::Loan => AccountKind::Loan,
    })
}

fn problem(at: saldo_import::Position, message: String) -> ProblemReport {
    ProblemReport { line: at.line, offset: at.offset, message }
}

/// The currency a statement states, when it states a valid one.
fn stated_currency(header: &StatementHeader, problems: &mut Vec<ProblemReport>) -> Option<Currency> {
    let code = header.account.currency.as_deref()?;
    Currency::parse(code)
        .map_err(|err| problems.push(ProblemReport { line: None, offset: None, message: format!("{err}; ignored") }))
        .ok()
}

impl Writer<'_> {
    /// The statement's transactions go into `account` from now on.
    fn start(&mut self, statement: &mut StatementReport, account: Account, created: bool) {
        statement.account.id = Some(account.id.to_string());
        statement.account.created = created;
        if statement.account.currency.is_none() {
            statement.account.currency = Some(account.currency.code().to_string());
        }
        self.state = Some(StatementState { account, fingerprints: Fingerprinter::new(), dedupe: ImportDedupe::new() });
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
        let Some(header) = self.unresolved.take() else { return Ok(()) };
        let (account, created) = self.resolve_by_content(&header, batch, request, problems).await?;
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

    /// The account of a statement that names none. Importing a file again must never make a
    /// second account for it, so it goes where its transactions already are: into the one account,
    /// among those earlier imports created for statements naming none, that holds any of them. With
    /// no such account yet it gets a new one; with some, but none or several holding its
    /// transactions, saldo cannot tell and asks which.
    async fn resolve_by_content(
        &mut self,
        header: &StatementHeader,
        batch: &[ParsedTransaction],
        request: &ImportRequest,
        problems: &mut Vec<ProblemReport>,
    ) -> Result<(Account, bool), FileError> {
        let currency = stated_currency(header, problems);
        let candidates = self.tx.unnamed_import_accounts(self.user.id, currency).await?;
        if candidates.is_empty() {
            return self.create(header, currency, request, problems).await;
        }
        let mut holding = Vec::new();
        for candidate in &candidates {
            if self.holds_any(candidate, batch).await? {
                holding.push(candidate);
            }
        }
        match holding.as_slice() {
            [account] => {
                let created = self.created.iter().any(|c| c.id == account.id);
                Ok(((*account).clone(), created))
            }
            [] => Err(FileError::WhichAccount {
                reason: "none of its transactions is in the accounts earlier files naming no account went into",
                candidates: candidates.iter().map(AccountCandidate::from).collect(),
            }),
            several => Err(FileError::WhichAccount {
                reason: "its transactions are in more than one account earlier files naming no account went into",
                candidates: several.iter().map(|a| AccountCandidate::from(*a)).collect(),
            }),
        }
    }

    /// Whether `account` holds any transaction of `batch`, by the file's id or by fingerprint.
    async fn holds_any(&mut self, account: &Account, batch: &[ParsedTransaction]) -> Result<bool, FileError> {
        let (Some(from), Some(to)) =
            (batch.iter().map(|t| t.booking_date).min(), batch.iter().map(|t| t.booking_date).max())
        else {
            return Ok(false);
        };
        let stored = self.tx.entries_between(account.id, from, to).await?;
        let known: std::collections::HashSet<&str> =
            stored.iter().flat_map(|e| [Some(e.fingerprint.as_str()), e.provider_id.as_deref()]).flatten().collect();
        let mut fingerprints = Fingerprinter::new();
        for parsed in batch {
            if parsed.provider_id.as_deref().and_then(file_id).is_some_and(|id| known.contains(id.as_str())) {
                return Ok(true);
            }
            let Ok(amount) = Money::from_decimal(parsed.amount, account.currency) else { continue };
            let content = FingerprintContent {
                booking_date: parsed.booking_date,
                amount,
                description: &parsed.description,
                counterparty: parsed.counterparty.as_deref(),
            };
            if known.contains(fingerprints.next(content).0.as_str()) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The account a statement goes into, created when the user has none with its identity.
    async fn resolve(
        &mut self,
        header: &StatementHeader,
        request: &ImportRequest,
        problems: &mut Vec<ProblemReport>,
    ) -> Result<(Account, bool), FileError> {
        let stated_currency = stated_currency(header, problems);
        if let Some(account) = &self.account {
            if stated_currency.is_some_and(|c| c != account.currency) {
                return Err(FileError::Unknown(format!(
                    "the statement is in {}, but account {:?} is in {}",
                    header.account.currency.as_deref().unwrap_or("?"),
                    account.name,
                    account.currency
                )));
            }
            return Ok((account.clone(), false));
        }
        let iban = header.account.iban.as_deref();
        let number = header.account.number.as_deref();
        if iban.is_some() || number.is_some() {
            if let Some(id) = self.tx.account_by_identity(self.user.id, iban, number, stated_currency).await? {
                if let Some(account) = self.created.iter().find(|a| a.id == id) {
                    return Ok((account.clone(), true));
                }
                if let Some(account) = self.ctx.db.account(id).await? {
                    return Ok((account, false));
                }
            }
        }
        self.create(header, stated_currency, request, problems).await
    }

    /// A new account for a statement, named after what the file says of it.
    async fn create(
        &mut self,
        header: &StatementHeader,
        stated_currency: Option<Currency>,
        request: &ImportRequest,
        problems: &mut Vec<ProblemReport>,
    ) -> Result<(Account, bool), FileError> {
        let iban = header.account.iban.as_deref();
        let number = header.account.number.as_deref();
        let currency = stated_currency.unwrap_or(self.user.base_currency);
        let kind = request.kind.or_else(|| kind_from_hint(header.account.kind)).unwrap_or_else(|| {
            problems.push(ProblemReport {
                line: None,
                offset: None,
                message: "the file does not say what kind of account this is; created as cash \
                          (change it with `saldo account edit`, or import with --kind)"
                    .into(),
            });
            AccountKind::Cash
        });
        let identity = iban.or(number).map(str::to_string);
        let name = header
            .account
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| identity.clone().map(|id| format!("Imported {id}")))
            .unwrap_or_else(|| "Imported account".into());
        let account = Account {
            id: AccountId(self.ctx.new_id()),
            user_id: self.user.id,
            name: saldo_core::account::validate_name(&name).unwrap_or_else(|_| "Imported account".into()),
            kind,
            currency,
            tracked: true,
            origin: Origin::Import,
            closed: false,
            created_at: self.ctx.clock.now(),
        };
        let alias = identity.is_some().then(|| AccountAlias {
            provider_account_id: number.map(str::to_string),
            iban: iban.map(str::to_string),
            masked_number: None,
            currency,
            name: header.account.name.clone(),
        });
        self.tx.create_account(&account, alias.as_ref()).await?;
        self.created.push(account.clone());
        Ok((account, true))
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
        let account_currency = state.account.currency;
        if let Some(code) = currency {
            if !code.eq_ignore_ascii_case(account_currency.code()) {
                return Err(problem(
                    at,
                    format!("an amount in {code} in an account kept in {account_currency}; skipped"),
                ));
            }
        }
        Money::from_decimal(amount, account_currency).or_else(|_| {
            Money::round_from_decimal(amount, account_currency).map_err(|err| problem(at, format!("{err}; skipped")))
        })
    }

    async fn write_batch(
        &mut self,
        batch: &[ParsedTransaction],
        problems: &mut Vec<ProblemReport>,
    ) -> Result<(u64, u64, u64), FileError> {
        let mut rows = Vec::with_capacity(batch.len());
        for parsed in batch {
            let amount = match self.money(parsed.amount, parsed.currency.as_deref(), parsed.at) {
                Ok(amount) => amount,
                Err(problem) => {
                    problems.push(problem);
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
                // Marked as a file's id: rule 3 must tell what a sync stored from what a file did.
                provider_id: parsed.provider_id.as_deref().and_then(file_id),
            });
        }
        let Some(state) = self.state.as_mut() else { return Ok((0, 0, 0)) };
        let (Some(from), Some(to)) =
            (rows.iter().map(|t| t.booking_date).min(), rows.iter().map(|t| t.booking_date).max())
        else {
            return Ok((0, 0, 0));
        };
        let stored = self.tx.entries_between(state.account.id, from, to).await?;
        let Decision { insert, recognised, replaced } = state.dedupe.decide(rows, &stored);
        let replaced_count = self.tx.delete_pending(state.account.id, &replaced).await?;
        let new = self.tx.insert_transactions(&insert).await?;
        let duplicate = insert.len() as u64 - new + recognised;
        Ok((new, duplicate, replaced_count))
    }

    async fn write_balance(
        &mut self,
        balance: &ParsedBalance,
        problems: &mut Vec<ProblemReport>,
    ) -> Result<u64, FileError> {
        let amount = match self.money(balance.amount, balance.currency.as_deref(), balance.at) {
            Ok(amount) => amount,
            Err(problem) => {
                problems.push(problem);
                return Ok(0);
            }
        };
        let Some(state) = &self.state else { return Ok(0) };
        let point = BalancePoint {
            account_id: state.account.id,
            date: balance.date,
            // One point per statement day: a later import of the same statement adds nothing.
            observed_at: balance.date.and_hms_opt(23, 59, 59).unwrap_or_default().and_utc(),
            amount,
            source: BalanceSource::Import,
        };
        Ok(self.tx.insert_points(&[point]).await?)
    }

    async fn write_holding(
        &mut self,
        holding: &ParsedHolding,
        problems: &mut Vec<ProblemReport>,
    ) -> Result<(), FileError> {
        let Some(state) = &self.state else { return Ok(()) };
        let currency = holding.currency.as_deref();
        let value = match holding.market_value.or_else(|| holding.unit_price.map(|p| p * holding.units)) {
            Some(value) => value,
            None => {
                problems.push(problem(
                    holding.at,
                    format!("position {} has no value or price; skipped", holding.security_id),
                ));
                return Ok(());
            }
        };
        let market_value = match self.money(value, currency, holding.at) {
            Ok(money) => money,
            Err(problem) => {
                problems.push(problem);
                return Ok(());
            }
        };
        let is_isin = holding.id_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("ISIN"));
        let record = Holding {
            account_id: state.account.id,
            instrument: Instrument {
                isin: is_isin.then(|| holding.security_id.clone()),
                ticker: holding.ticker.clone().or_else(|| (!is_isin).then(|| holding.security_id.clone())),
                name: holding.name.clone().unwrap_or_else(|| holding.security_id.clone()),
            },
            quantity: holding.units,
            unit_price: holding.unit_price,
            market_value,
            as_of: holding.as_of.unwrap_or_else(|| self.ctx.clock.today()),
        };
        self.tx.upsert_holdings(&[record]).await?;
        Ok(())
    }
}

/// A reader that tells how far it has read, for the progress bar.
struct CountedReport<R> {
    inner: R,
    read: u64,
    report: tokio::sync::watch::Sender<u64>,
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
