//! What an import reports of each file: its statements, what landed where, and what was odd.

use rust_decimal::Decimal;
use saldo_core::account::Account;
use saldo_import::Problem;
use serde::Serialize;

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
    /// Of `new`, transactions under an id the file (or an earlier one) gave another transaction:
    /// stored by their content, since the id cannot tell them apart.
    pub reused_ids: u64,
    pub pending_replaced: u64,
    pub balance_points: u64,
    #[serde(skip)]
    pub(super) sum_exact: Decimal,
    /// A currency the statement's entries or balances state.
    #[serde(skip)]
    pub(super) shown_currency: Option<String>,
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
    /// saldo could not tell the file's format: it may still be one it reads, if named.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub format_unknown: bool,
    /// Another process held the database's write lock too long: the file may be sent again.
    #[serde(skip)]
    pub busy: bool,
    pub dry_run: bool,
    /// Entries the file holds that could not be read or stored (each is a problem). A file with
    /// any is refused, unless leaving them out was asked for (`skip_unreadable`).
    pub skipped_entries: u64,
}

impl FileReport {
    /// The report of a file not read yet.
    pub fn new(path: String, dry_run: bool) -> FileReport {
        FileReport {
            path,
            format: None,
            statements: Vec::new(),
            problems: Vec::new(),
            error: None,
            truncated: None,
            account_candidates: Vec::new(),
            format_unknown: false,
            busy: false,
            dry_run,
            skipped_entries: 0,
        }
    }

    pub fn transactions(&self) -> u64 {
        self.statements.iter().map(|s| s.transactions).sum()
    }

    pub fn sum(&self) -> Decimal {
        self.statements.iter().map(|s| s.sum_exact).sum()
    }

    /// [`FileReport::sum`] as text, with the decimals of the currency its statements share.
    pub fn sum_shown(&self) -> String {
        let currency = |s: &StatementReport| s.shown_currency.clone().or_else(|| s.account.currency.clone());
        let first = self.statements.first().and_then(currency);
        let shared = first.filter(|code| self.statements.iter().all(|s| currency(s).as_ref() == Some(code)));
        super::amounts::shown(self.sum(), shared.as_deref())
    }
}
