//! Query strings: each parameter read by name and type, unknown ones refused, every fault naming
//! the parameter.

use saldo_app::ops::OpsError;
use std::collections::HashMap;

pub(crate) struct Params<'a> {
    params: &'a HashMap<String, String>,
}

impl<'a> Params<'a> {
    /// The query, refusing parameters not in `known`.
    pub(crate) fn new(params: &'a HashMap<String, String>, known: &[&str]) -> Result<Params<'a>, OpsError> {
        if let Some(unknown) = params.keys().find(|key| !known.contains(&key.as_str())) {
            let message = format!("unknown query parameter {unknown:?}");
            return Err(OpsError::InvalidField { field: unknown.clone(), message });
        }
        Ok(Params { params })
    }

    pub(crate) fn text(&self, key: &str) -> Option<&'a str> {
        self.params.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub(crate) fn number(&self, key: &str, min: u32, max: u32) -> Result<Option<u32>, OpsError> {
        self.text(key)
            .map(|value| {
                value.parse::<u32>().ok().filter(|n| (min..=max).contains(n)).ok_or_else(|| OpsError::InvalidField {
                    field: key.to_string(),
                    message: format!("invalid {key} {value:?}: expected a whole number from {min} to {max}"),
                })
            })
            .transpose()
    }

    pub(crate) fn flag(&self, key: &str) -> Result<Option<bool>, OpsError> {
        self.text(key)
            .map(|value| {
                value.parse().map_err(|_| OpsError::InvalidField {
                    field: key.to_string(),
                    message: format!("invalid {key} {value:?}: expected true or false"),
                })
            })
            .transpose()
    }

    pub(crate) fn date(&self, key: &str) -> Result<Option<chrono::NaiveDate>, OpsError> {
        self.text(key).map(|value| saldo_app::ops::parse_date(value, key)).transpose()
    }
}

/// A currency code a request gives in `field`.
pub(crate) fn currency(code: &str, field: &str) -> Result<saldo_core::money::Currency, OpsError> {
    saldo_core::money::Currency::parse(code).map_err(|_| OpsError::InvalidField {
        field: field.to_string(),
        message: format!("invalid {field} {code:?}: expected an ISO 4217 code such as EUR"),
    })
}

/// An account kind a request gives in `field`.
pub(crate) fn kind(text: &str, field: &str) -> Result<saldo_core::account::AccountKind, OpsError> {
    text.parse().map_err(|err: saldo_core::account::UnknownKind| OpsError::InvalidField {
        field: field.to_string(),
        message: err.to_string(),
    })
}
