//! Exact money: an integer count of minor units with its ISO-4217 currency.
//!
//! Invariant: no floating point anywhere. Decimal text is parsed into minor units and rejected when it
//! has more decimals than the currency allows, so nothing is rounded silently.

use rust_decimal::Decimal;
use std::fmt;
use std::str::FromStr;

/// An ISO-4217 currency that has a minor unit (EUR, SEK, JPY…).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency(iso_currency::Currency);

/// Why a currency code or an amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("unknown currency {0:?}: expected an ISO-4217 code such as EUR or USD")]
    UnknownCurrency(String),
    #[error("currency {0} has no minor unit and cannot hold an account balance")]
    NoMinorUnit(String),
    #[error("invalid amount {0:?}: expected a decimal number such as 1234.56")]
    InvalidAmount(String),
    #[error("amount {amount:?} has more decimals than {currency} allows ({exponent})")]
    TooManyDecimals { amount: String, currency: Currency, exponent: u32 },
    #[error("amount {0:?} is too large")]
    Overflow(String),
}

impl Currency {
    /// The euro, the ECB's reference currency.
    pub const EUR: Currency = Currency(iso_currency::Currency::EUR);

    /// Parses an ISO-4217 code; case-insensitive, surrounding spaces ignored.
    pub fn parse(code: &str) -> Result<Currency, MoneyError> {
        let upper = code.trim().to_ascii_uppercase();
        let currency = iso_currency::Currency::from_code(&upper)
            .ok_or_else(|| MoneyError::UnknownCurrency(code.trim().to_string()))?;
        if currency.exponent().is_none() {
            return Err(MoneyError::NoMinorUnit(upper));
        }
        Ok(Currency(currency))
    }

    /// The three-letter code.
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Number of decimals of the minor unit (2 for EUR, 0 for JPY, 3 for KWD).
    pub fn exponent(self) -> u32 {
        // Currencies without an exponent are refused by `parse`.
        u32::from(self.0.exponent().unwrap_or(0))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

/// An amount of money: minor units and currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    /// Count of minor units (cents for EUR), signed.
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    pub fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    /// Parses decimal text ("1234.56", "-12", "1_000.5" is refused) into exact minor units.
    pub fn parse(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        let trimmed = text.trim();
        let value = Decimal::from_str_exact(trimmed).map_err(|_| MoneyError::InvalidAmount(trimmed.to_string()))?;
        Money::from_decimal(value, currency).map_err(|err| match err {
            MoneyError::TooManyDecimals { currency, exponent, .. } => {
                MoneyError::TooManyDecimals { amount: trimmed.to_string(), currency, exponent }
            }
            MoneyError::Overflow(_) => MoneyError::Overflow(trimmed.to_string()),
            other => other,
        })
    }

    /// Exact conversion of a decimal into minor units; refuses values that would need rounding.
    pub fn from_decimal(value: Decimal, currency: Currency) -> Result<Money, MoneyError> {
        let exponent = currency.exponent();
        let normalized = value.normalize();
        if normalized.scale() > exponent {
            return Err(MoneyError::TooManyDecimals { amount: value.to_string(), currency, exponent });
        }
        let minor = normalized
            .checked_mul(Decimal::from(10_i64.pow(exponent)))
            .and_then(|m| i64::try_from(m).ok())
            .ok_or_else(|| MoneyError::Overflow(value.to_string()))?;
        Ok(Money { minor, currency })
    }

    /// Rounds a decimal to the currency's minor unit, half to even (banker's rounding), for values
    /// that come out of a conversion and cannot be exact.
    pub fn round_from_decimal(value: Decimal, currency: Currency) -> Result<Money, MoneyError> {
        let rounded =
            value.round_dp_with_strategy(currency.exponent(), rust_decimal::RoundingStrategy::MidpointNearestEven);
        Money::from_decimal(rounded, currency)
    }

    /// The amount as an exact decimal in major units.
    pub fn to_decimal(self) -> Decimal {
        Decimal::from_i128_with_scale(i128::from(self.minor), self.currency.exponent())
    }

    pub fn is_zero(self) -> bool {
        self.minor == 0
    }
}

impl fmt::Display for Money {
    /// The amount as decimal text with exactly the currency's number of decimals, no currency code.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_decimal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cur(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn parses_codes_case_insensitively_and_refuses_unknown_ones() {
        assert_eq!(cur(" sek ").code(), "SEK");
        assert_eq!(cur("JPY").exponent(), 0);
        assert_eq!(cur("KWD").exponent(), 3);
        assert_eq!(Currency::parse("EURO"), Err(MoneyError::UnknownCurrency("EURO".into())));
        assert_eq!(Currency::parse("XAU"), Err(MoneyError::NoMinorUnit("XAU".into())));
    }

    #[test]
    fn amounts_are_exact_and_never_rounded_silently() {
        assert_eq!(Money::parse("1234.5", cur("EUR")).unwrap().minor, 123450);
        assert_eq!(Money::parse("-0.01", cur("EUR")).unwrap().minor, -1);
        assert_eq!(Money::parse("1.000", cur("EUR")).unwrap().minor, 100);
        assert_eq!(Money::parse("500", cur("JPY")).unwrap().minor, 500);
        assert!(matches!(Money::parse("1.005", cur("EUR")), Err(MoneyError::TooManyDecimals { exponent: 2, .. })));
        assert!(matches!(Money::parse("1,5", cur("EUR")), Err(MoneyError::InvalidAmount(_))));
        assert!(matches!(Money::parse("1e5", cur("EUR")), Err(MoneyError::InvalidAmount(_))));
        assert!(matches!(Money::parse("99999999999999999999", cur("EUR")), Err(MoneyError::Overflow(_))));
    }

    #[test]
    fn displays_with_the_currency_decimals() {
        assert_eq!(Money::new(123450, cur("EUR")).to_string(), "1234.50");
        assert_eq!(Money::new(-5, cur("EUR")).to_string(), "-0.05");
        assert_eq!(Money::new(7, cur("JPY")).to_string(), "7");
        assert_eq!(Money::new(1, cur("KWD")).to_string(), "0.001");
    }

    #[test]
    fn rounding_is_half_to_even() {
        let eur = cur("EUR");
        let r = |s: &str| Money::round_from_decimal(Decimal::from_str(s).unwrap(), eur).unwrap().minor;
        assert_eq!(r("0.125"), 12);
        assert_eq!(r("0.135"), 14);
        assert_eq!(r("-0.125"), -12);
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(minor in -1_000_000_000_000i64..1_000_000_000_000i64) {
            for code in ["EUR", "JPY", "KWD"] {
                let money = Money::new(minor, cur(code));
                prop_assert_eq!(Money::parse(&money.to_string(), money.currency).unwrap(), money);
            }
        }
    }
}
