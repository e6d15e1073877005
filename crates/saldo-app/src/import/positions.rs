//! What an import writes for a statement's balances and positions: the balance point of each
//! closing balance, and for an investment account one of its cash and its positions together.

use super::{amounts::problem, FileError, StatementReport, Writer};
use crate::import::ProblemReport;
use chrono::NaiveDate;
use saldo_core::balance::{BalancePoint, BalanceSource};
use saldo_core::holding::{Holding, Instrument};
use saldo_core::money::Money;
use saldo_import::{ParsedBalance, ParsedHolding};

impl Writer<'_> {
    pub(super) async fn write_balance(
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
        let Some(state) = &mut self.state else { return Ok(0) };
        state.cash = Some((balance.date, amount));
        let point = statement_point(state.account.id, balance.date, amount);
        Ok(self.tx.insert_points(&[point]).await?)
    }

    /// Ends a statement: an account with positions is worth its cash and their market value, as
    /// a sync's broker balance is, so the statement's balance point says so.
    pub(super) async fn finish_statement(&mut self, statement: &mut StatementReport) -> Result<(), FileError> {
        let Some(state) = &self.state else { return Ok(()) };
        let Some((held_on, positions)) = state.positions else { return Ok(()) };
        let currency = state.account.currency;
        let (day, cash) = state.cash.unwrap_or((held_on, Money::zero(currency)));
        let point = statement_point(state.account.id, day, Money::new(cash.minor + positions, currency));
        if self.tx.replace_point(&point).await? && state.cash.is_none() {
            statement.balance_points += 1;
        }
        Ok(())
    }

    pub(super) async fn write_holding(
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
        let (as_of, value) = (record.as_of, record.market_value.minor);
        self.tx.upsert_holdings(&[record]).await?;
        if let Some(state) = &mut self.state {
            let (day, total) = state.positions.get_or_insert((as_of, 0));
            *day = (*day).max(as_of);
            *total += value;
        }
        Ok(())
    }
}

/// The one balance point a statement gives its account on a day: a later import of the same
/// statement adds nothing.
fn statement_point(account: saldo_core::ids::AccountId, date: NaiveDate, amount: Money) -> BalancePoint {
    BalancePoint {
        account_id: account,
        date,
        observed_at: date.and_hms_opt(23, 59, 59).unwrap_or_default().and_utc(),
        amount,
        source: BalanceSource::Import,
    }
}
