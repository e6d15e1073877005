//! Exchange rates: the ECB's reference-rate files, loaded whole or not at all.

use crate::ops::{App, OpsError};
use chrono::NaiveDate;
use saldo_core::money::Currency;
use saldo_import::ecb::parse_ecb_rates;
use saldo_import::Problem;

/// What an FX import did.
#[derive(Debug, Clone)]
pub struct FxImport {
    pub rates: usize,
    pub currencies: Vec<Currency>,
    pub first: Option<NaiveDate>,
    pub last: Option<NaiveDate>,
    pub problems: Vec<Problem>,
}

/// Loads an ECB reference-rate file; rates already stored for a day are replaced, so importing the
/// same or an overlapping file again is harmless. Writes all rates or none.
pub async fn import_fx(ctx: &App, bytes: &[u8]) -> Result<FxImport, OpsError> {
    let parsed = parse_ecb_rates(bytes).map_err(|err| OpsError::Invalid(err.to_string()))?;
    ctx.db.upsert_rates(&parsed.rates).await?;
    let mut currencies: Vec<Currency> = parsed.rates.iter().map(|r| r.currency).collect();
    currencies.sort();
    currencies.dedup();
    Ok(FxImport {
        rates: parsed.rates.len(),
        currencies,
        first: parsed.rates.iter().map(|r| r.date).min(),
        last: parsed.rates.iter().map(|r| r.date).max(),
        problems: parsed.problems,
    })
}
