//! Holdings: positions in an instrument inside a brokerage, fund or pension account. Each
//! observation is kept, so a holding has a history of values.

use crate::ids::AccountId;
use crate::money::Money;
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// A listed security or fund, identified as well as the provider allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instrument {
    pub isin: Option<String>,
    pub ticker: Option<String>,
    pub name: String,
}

impl Instrument {
    /// The key that identifies the instrument within an account: ISIN, else ticker, else name.
    pub fn key(&self) -> String {
        if let Some(isin) = &self.isin {
            format!("isin:{isin}")
        } else if let Some(ticker) = &self.ticker {
            format!("ticker:{ticker}")
        } else {
            format!("name:{}", self.name)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub account_id: AccountId,
    pub instrument: Instrument,
    /// Shares or units; fractional, hence a decimal rather than minor units.
    pub quantity: Decimal,
    /// Price of one unit in `market_value.currency`, when the provider gives it.
    pub unit_price: Option<Decimal>,
    pub market_value: Money,
    pub as_of: NaiveDate,
}
