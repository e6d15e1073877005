//! A Berlin Group bank as the operator configures it, and the HTTP client (with the TPP's client
//! certificate) saldo talks to it with.

use crate::http::{Client, Transport};
use saldo_core::failure::{Failure, FailureKind};
use std::path::{Path, PathBuf};

/// How the user authorises at a bank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaApproach {
    /// At the bank's web page, which sends the browser back to saldo.
    Redirect,
    /// In the bank's app on another device, while saldo polls.
    Decoupled,
}

/// One bank (ASPSP) as the operator configures it.
#[derive(Debug, Clone)]
pub struct BerlinGroupBank {
    /// saldo's institution id, e.g. "demo-bank-de".
    pub id: String,
    pub name: String,
    pub country: Option<String>,
    pub bic: Option<String>,
    /// The ASPSP's XS2A root, under which `/v1/consents` etc. live.
    pub base_url: String,
    pub sca_approach: ScaApproach,
    /// PEM certificate (chain) for mTLS: the QWAC of a licensed TPP.
    pub client_certificate: Option<PathBuf>,
    /// PEM private key of the certificate.
    pub client_key: Option<PathBuf>,
    /// Days of validity saldo asks for (banks may shorten it).
    pub max_consent_days: u32,
    /// Accesses without the user per day saldo asks for (at most 4 unless agreed with the bank).
    pub frequency_per_day: u32,
    /// Days of history the bank gives outside the first minutes after authorisation.
    pub max_history_days: u32,
}

impl BerlinGroupBank {
    pub const DEFAULT_MAX_CONSENT_DAYS: u32 = 180;
    pub const DEFAULT_FREQUENCY_PER_DAY: u32 = 4;
    pub const DEFAULT_MAX_HISTORY_DAYS: u32 = 90;

    /// A bank with the defaults: 180 days of consent, 4 accesses a day, 90 days of history, no
    /// client certificate.
    pub fn new(id: &str, name: &str, base_url: &str, sca_approach: ScaApproach) -> BerlinGroupBank {
        BerlinGroupBank {
            id: id.into(),
            name: name.into(),
            country: None,
            bic: None,
            base_url: base_url.into(),
            sca_approach,
            client_certificate: None,
            client_key: None,
            max_consent_days: Self::DEFAULT_MAX_CONSENT_DAYS,
            frequency_per_day: Self::DEFAULT_FREQUENCY_PER_DAY,
            max_history_days: Self::DEFAULT_MAX_HISTORY_DAYS,
        }
    }
}

pub struct BerlinGroupSettings {
    pub banks: Vec<BerlinGroupBank>,
    pub transport: Transport,
}

fn read_pem(path: &Path, what: &str, bank: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| {
        Failure::new(
            FailureKind::Config,
            "client_certificate_unreadable",
            format!("the {what} file for {bank}, {}, cannot be read: {}", path.display(), e.kind()),
        )
    })
}

/// The bank's client: with the TPP certificate when both of its files are configured.
pub(super) fn client_for(bank: &BerlinGroupBank, transport: Transport) -> Result<Client, Failure> {
    match (&bank.client_certificate, &bank.client_key) {
        (None, None) => Ok(Client::new(transport)),
        (Some(certificate), Some(key)) => {
            let mut pem = read_pem(certificate, "client certificate", &bank.name)?;
            pem.push(b'\n');
            pem.extend(read_pem(key, "client key", &bank.name)?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|_| {
                Failure::new(
                    FailureKind::Config,
                    "client_certificate_invalid",
                    format!(
                        "the client certificate {} and key {} for {} are not a PEM certificate and private key",
                        certificate.display(),
                        key.display(),
                        bank.name
                    ),
                )
            })?;
            Ok(Client::with_identity(transport, identity))
        }
        _ => Err(Failure::new(
            FailureKind::Config,
            "client_certificate_incomplete",
            format!("{} needs both client_certificate and client_key, or neither", bank.name),
        )),
    }
}
