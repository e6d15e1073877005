//! Which account a statement goes into: the one it identifies (IBAN, number, currency), the one
//! `--account` names, or, for a statement that names none, the one its transactions are already in.

use super::{statement_money, AccountCandidate, FileError, ImportRequest, ProblemReport, Writer};
use saldo_core::account::{Account, AccountAlias, AccountKind, Origin};
use saldo_core::dedupe::file_id;
use saldo_core::ids::AccountId;
use saldo_core::money::Currency;
use saldo_core::transaction::{FingerprintContent, Fingerprinter};
use saldo_import::{AccountKindHint, ParsedTransaction, StatementHeader};

/// The currency a statement states, when it states a valid one.
pub(super) fn stated_currency(header: &StatementHeader, problems: &mut Vec<ProblemReport>) -> Option<Currency> {
    let code = header.account.currency.as_deref()?;
    Currency::parse(code)
        .map_err(|err| problems.push(ProblemReport { line: None, offset: None, message: format!("{err}; ignored") }))
        .ok()
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

impl Writer<'_> {
    /// The account of a statement that names none by IBAN or number. Importing a file again must
    /// never make a second account for it, so among the accounts imports created for such
    /// statements, it goes to the one with the name the statement gives (an export's account
    /// column), else to the one that holds any of its first transactions. With none, it gets a new
    /// account, unless accounts from earlier imports could be it: then saldo cannot tell, and asks.
    pub(super) async fn resolve_by_content(
        &mut self,
        header: &StatementHeader,
        batch: &[ParsedTransaction],
        request: &ImportRequest,
        problems: &mut Vec<ProblemReport>,
    ) -> Result<(Account, bool), FileError> {
        let currency = stated_currency(header, problems);
        let candidates = self.tx.unnamed_import_accounts(self.user.id, currency).await?;
        let created_here = |account: &Account, created: &[Account]| created.iter().any(|c| c.id == account.id);
        if let Some(name) = header.account.name.as_deref().map(str::trim).filter(|name| !name.is_empty()) {
            let named: Vec<&Account> = candidates.iter().filter(|a| a.name.eq_ignore_ascii_case(name)).collect();
            if let [account] = named.as_slice() {
                return Ok(((*account).clone(), created_here(account, &self.created)));
            }
        }
        let mut holding = Vec::new();
        for candidate in &candidates {
            if self.holds_any(candidate, batch).await? {
                holding.push(candidate);
            }
        }
        match holding.as_slice() {
            [account] => Ok(((*account).clone(), created_here(account, &self.created))),
            [] => {
                // Accounts this same import created hold other statements of the file.
                let earlier: Vec<&Account> = candidates.iter().filter(|a| !created_here(a, &self.created)).collect();
                if earlier.is_empty() {
                    return self.create(header, currency, request, problems).await;
                }
                Err(FileError::WhichAccount {
                    reason: "none of its transactions is in the accounts earlier files naming no account went into",
                    candidates: earlier.into_iter().map(AccountCandidate::from).collect(),
                })
            }
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
            // Counted exactly as the rows will be written, so the fingerprints match.
            let Ok(amount) = statement_money(parsed.amount, parsed.currency.as_deref(), account.currency, parsed.at)
            else {
                continue;
            };
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
    pub(super) async fn resolve(
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
        // Never the user's base currency: an amount in one currency is never relabelled another.
        let currency = stated_currency.or(request.currency).ok_or_else(|| FileError::NoCurrency {
            identity: match (iban, number) {
                (Some(iban), _) => format!("IBAN {iban}"),
                (None, Some(number)) => format!("account number {number}"),
                (None, None) => "content".into(),
            },
        })?;
        let kind = request.kind.or_else(|| kind_from_hint(header.account.kind)).unwrap_or_else(|| {
            problems.push(ProblemReport {
                line: None,
                offset: None,
                message: "the file does not say what kind of account this is; created as cash \
                          (change the account's kind, or name it when importing)"
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
}
