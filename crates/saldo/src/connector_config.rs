//! Configuration of the real-bank connectors: Enable Banking, GoCardless Bank Account Data and
//! Berlin Group banks, plus the public URL providers send users back to.
//!
//! Each connector is on when its keys are given and off otherwise, so that `saldo institutions`
//! lists only what can work. Keys that are secrets come only from the environment or from files
//! the operator points at: a config file is too easily shared.

use crate::config::{ConfigError, Source};
use saldo_core::secret::Secret;
use serde::Deserialize;
use std::path::PathBuf;

/// `[enable_banking]` in the config file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnableBankingFile {
    application_id: Option<String>,
    key_file: Option<PathBuf>,
    countries: Option<Vec<String>>,
    url: Option<String>,
}

/// `[gocardless]` in the config file. The secret key is not a key of the file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GoCardlessFile {
    secret_id: Option<String>,
    countries: Option<Vec<String>>,
    url: Option<String>,
}

/// One `[[berlin_group]]` bank in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BerlinGroupBankFile {
    pub id: String,
    pub name: String,
    pub country: Option<String>,
    pub bic: Option<String>,
    pub base_url: String,
    /// `redirect` (the default) or `decoupled`.
    pub sca_approach: Option<String>,
    pub client_certificate: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub max_consent_days: Option<u32>,
    pub frequency_per_day: Option<u32>,
    pub max_history_days: Option<u32>,
}

impl BerlinGroupBankFile {
    /// The connector's form, with the defaults for what the file leaves out.
    pub fn bank(&self) -> saldo_connectors::berlin_group::BerlinGroupBank {
        use saldo_connectors::berlin_group::{BerlinGroupBank, ScaApproach};
        let approach = match self.sca_approach.as_deref() {
            Some("decoupled") => ScaApproach::Decoupled,
            _ => ScaApproach::Redirect,
        };
        BerlinGroupBank {
            country: self.country.clone(),
            bic: self.bic.clone(),
            client_certificate: self.client_certificate.clone(),
            client_key: self.client_key.clone(),
            max_consent_days: self.max_consent_days.unwrap_or(BerlinGroupBank::DEFAULT_MAX_CONSENT_DAYS),
            frequency_per_day: self.frequency_per_day.unwrap_or(BerlinGroupBank::DEFAULT_FREQUENCY_PER_DAY),
            max_history_days: self.max_history_days.unwrap_or(BerlinGroupBank::DEFAULT_MAX_HISTORY_DAYS),
            ..BerlinGroupBank::new(&self.id, &self.name, &self.base_url, approach)
        }
    }
}

/// The connector sections of the config file.
#[derive(Debug, Default, Clone, Deserialize)]
pub(crate) struct ConnectorFiles {
    pub public_url: Option<String>,
    pub enable_banking: Option<EnableBankingFile>,
    pub gocardless: Option<GoCardlessFile>,
    #[serde(default)]
    pub berlin_group: Vec<BerlinGroupBankFile>,
}

#[derive(Debug, Clone)]
pub struct EnableBankingConfig {
    pub application_id: String,
    pub key_file: PathBuf,
    /// The key, read from `key_file` when the configuration was loaded.
    pub private_key: Secret,
    pub countries: Vec<String>,
    pub url: String,
}

#[derive(Debug, Clone)]
pub struct GoCardlessConfig {
    pub secret_id: String,
    pub secret_key: Secret,
    pub countries: Vec<String>,
    pub url: String,
}

/// The validated connector configuration.
#[derive(Debug, Clone, Default)]
pub struct ConnectorsConfig {
    /// Where this saldo is reached from the user's browser; providers redirect to
    /// `{public_url}/callback/{connector}`. `None`: `http://{listen}`.
    pub public_url: Option<String>,
    pub enable_banking: Option<EnableBankingConfig>,
    pub gocardless: Option<GoCardlessConfig>,
    pub berlin_group: Vec<BerlinGroupBankFile>,
    /// For `config check`: each key and where it came from.
    pub sources: Vec<(String, String, Source)>,
}

fn invalid(key: &'static str, from: Source, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key, from, message: message.into() }
}

/// `FI, se` → `["FI", "SE"]`; each must be two letters.
fn countries(key: &'static str, from: Source, list: Vec<String>) -> Result<Vec<String>, ConfigError> {
    let list: Vec<String> = list.iter().map(|c| c.trim().to_ascii_uppercase()).filter(|c| !c.is_empty()).collect();
    match list.iter().find(|c| c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_alphabetic())) {
        Some(bad) => Err(invalid(key, from, format!("{bad:?} is not a two-letter country code"))),
        None => Ok(list),
    }
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',').map(str::to_string).collect()
}

impl ConnectorsConfig {
    pub(crate) fn load(
        file: ConnectorFiles,
        file_source: &dyn Fn() -> Source,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ConnectorsConfig, ConfigError> {
        let mut config = ConnectorsConfig::default();
        let mut pick = |key: &'static str, var: &'static str, from_file: Option<String>| {
            let found = env(var).map(|v| (v, Source::Env(var))).or_else(|| from_file.map(|v| (v, file_source())));
            if let Some((value, source)) = &found {
                config.sources.push((key.to_string(), value.clone(), source.clone()));
            }
            found
        };

        let public_url = pick("public_url", "SALDO_PUBLIC_URL", file.public_url.clone());
        if let Some((url, source)) = &public_url {
            let host = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).unwrap_or_default();
            if host.trim_matches('/').is_empty() || host.contains(char::is_whitespace) {
                return Err(invalid("public_url", source.clone(), format!("{url:?} is not an http(s) URL")));
            }
        }
        let public_url = public_url.map(|(url, _)| url.trim_end_matches('/').to_string());

        let eb = file.enable_banking.clone().unwrap_or_default();
        let eb_id = pick("enable_banking.application_id", "SALDO_ENABLE_BANKING_APPLICATION_ID", eb.application_id);
        let eb_key = pick(
            "enable_banking.key_file",
            "SALDO_ENABLE_BANKING_KEY_FILE",
            eb.key_file.map(|p| p.display().to_string()),
        );
        let eb_countries =
            pick("enable_banking.countries", "SALDO_ENABLE_BANKING_COUNTRIES", eb.countries.map(|c| c.join(",")));
        let eb_url = pick("enable_banking.url", "SALDO_ENABLE_BANKING_URL", eb.url);
        let enable_banking = match (eb_id, eb_key) {
            (None, None) => None,
            (Some((_, source)), None) => {
                return Err(invalid(
                    "enable_banking.key_file",
                    source,
                    "an application id is set but no key file (SALDO_ENABLE_BANKING_KEY_FILE)",
                ))
            }
            (None, Some((_, source))) => {
                return Err(invalid(
                    "enable_banking.application_id",
                    source,
                    "a key file is set but no application id (SALDO_ENABLE_BANKING_APPLICATION_ID)",
                ))
            }
            (Some((application_id, _)), Some((key_file, key_source))) => {
                let key_file = PathBuf::from(key_file);
                let pem = std::fs::read_to_string(&key_file).map_err(|e| {
                    invalid("enable_banking.key_file", key_source.clone(), format!("{}: {e}", key_file.display()))
                })?;
                if !pem.contains("PRIVATE KEY-----") {
                    return Err(invalid(
                        "enable_banking.key_file",
                        key_source,
                        format!("{} holds no PEM private key", key_file.display()),
                    ));
                }
                let countries = match eb_countries {
                    Some((list, source)) => countries("enable_banking.countries", source, split_list(&list))?,
                    None => Vec::new(),
                };
                Some(EnableBankingConfig {
                    application_id: application_id.trim().to_string(),
                    key_file,
                    private_key: Secret::new(pem),
                    countries,
                    url: eb_url
                        .map_or_else(|| saldo_connectors::enable_banking::DEFAULT_BASE_URL.to_string(), |(url, _)| url),
                })
            }
        };

        let gc = file.gocardless.clone().unwrap_or_default();
        let gc_id = pick("gocardless.secret_id", "SALDO_GOCARDLESS_SECRET_ID", gc.secret_id);
        let gc_key = env("SALDO_GOCARDLESS_SECRET_KEY").map(Secret::new);
        let gc_countries =
            pick("gocardless.countries", "SALDO_GOCARDLESS_COUNTRIES", gc.countries.map(|c| c.join(",")));
        let gc_url = pick("gocardless.url", "SALDO_GOCARDLESS_URL", gc.url);
        let gocardless = match (gc_id, gc_key) {
            (None, None) => None,
            (Some((_, source)), None) => {
                return Err(invalid(
                    "gocardless.secret_id",
                    source,
                    "a secret id is set but no secret key: set SALDO_GOCARDLESS_SECRET_KEY",
                ))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "gocardless.secret_id",
                    Source::Env("SALDO_GOCARDLESS_SECRET_KEY"),
                    "a secret key is set but no secret id (SALDO_GOCARDLESS_SECRET_ID)",
                ))
            }
            (Some((secret_id, _)), Some(secret_key)) => {
                config.sources.push((
                    "gocardless.secret_key".into(),
                    "*** (not shown)".into(),
                    Source::Env("SALDO_GOCARDLESS_SECRET_KEY"),
                ));
                Some(GoCardlessConfig {
                    secret_id: secret_id.trim().to_string(),
                    secret_key,
                    countries: match gc_countries {
                        Some((list, source)) => countries("gocardless.countries", source, split_list(&list))?,
                        None => Vec::new(),
                    },
                    url: gc_url
                        .map_or_else(|| saldo_connectors::gocardless::DEFAULT_BASE_URL.to_string(), |(url, _)| url),
                })
            }
        };

        let mut seen = std::collections::HashSet::new();
        for bank in &file.berlin_group {
            if bank.id.trim().is_empty() || !seen.insert(bank.id.clone()) {
                return Err(invalid(
                    "berlin_group",
                    file_source(),
                    format!("bank id {:?} is empty or repeated", bank.id),
                ));
            }
            if !matches!(bank.sca_approach.as_deref(), None | Some("redirect" | "decoupled")) {
                return Err(invalid(
                    "berlin_group",
                    file_source(),
                    format!("bank {:?}: sca_approach must be redirect or decoupled", bank.id),
                ));
            }
            let within = |value: Option<u32>, max: u32| value.is_none_or(|n| (1..=max).contains(&n));
            if !within(bank.frequency_per_day, 96)
                || !within(bank.max_consent_days, 3650)
                || !within(bank.max_history_days, 3650)
            {
                return Err(invalid(
                    "berlin_group",
                    file_source(),
                    format!(
                        "bank {:?}: frequency_per_day must be 1 to 96, max_consent_days and max_history_days 1 to 3650",
                        bank.id
                    ),
                ));
            }
            if bank.client_certificate.is_some() != bank.client_key.is_some() {
                return Err(invalid(
                    "berlin_group",
                    file_source(),
                    format!("bank {:?}: client_certificate and client_key go together", bank.id),
                ));
            }
            config.sources.push((format!("berlin_group.{}", bank.id), bank.base_url.clone(), file_source()));
        }
        config.public_url = public_url;
        config.enable_banking = enable_banking;
        config.gocardless = gocardless;
        config.berlin_group = file.berlin_group;
        Ok(config)
    }

    /// The base URL providers redirect the browser to.
    pub fn callback_base(&self, listen: std::net::SocketAddr) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{listen}"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn load(file: ConnectorFiles, vars: &[(&str, &str)]) -> Result<ConnectorsConfig, ConfigError> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let env = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        ConnectorsConfig::load(file, &|| Source::File(PathBuf::from("saldo.toml")), &env)
    }

    #[test]
    fn connectors_are_off_until_their_keys_are_given() {
        let config = load(ConnectorFiles::default(), &[]).unwrap();
        assert!(config.enable_banking.is_none() && config.gocardless.is_none() && config.berlin_group.is_empty());
    }

    #[test]
    fn enable_banking_needs_an_id_and_a_readable_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("eb.pem");
        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n").unwrap();
        let key_text = key.display().to_string();
        let config = load(
            ConnectorFiles::default(),
            &[
                ("SALDO_ENABLE_BANKING_APPLICATION_ID", "app"),
                ("SALDO_ENABLE_BANKING_KEY_FILE", &key_text),
                ("SALDO_ENABLE_BANKING_COUNTRIES", "fi, SE"),
            ],
        )
        .unwrap();
        let eb = config.enable_banking.unwrap();
        assert_eq!((eb.application_id.as_str(), eb.countries), ("app", vec!["FI".to_string(), "SE".to_string()]));
        let only_id = load(ConnectorFiles::default(), &[("SALDO_ENABLE_BANKING_APPLICATION_ID", "app")]);
        assert!(only_id.unwrap_err().to_string().contains("no key file"));
        let missing = load(
            ConnectorFiles::default(),
            &[("SALDO_ENABLE_BANKING_APPLICATION_ID", "app"), ("SALDO_ENABLE_BANKING_KEY_FILE", "/nonexistent.pem")],
        );
        assert!(missing.unwrap_err().to_string().contains("/nonexistent.pem"));
        let bad_country = load(
            ConnectorFiles::default(),
            &[
                ("SALDO_ENABLE_BANKING_APPLICATION_ID", "app"),
                ("SALDO_ENABLE_BANKING_KEY_FILE", &key_text),
                ("SALDO_ENABLE_BANKING_COUNTRIES", "Finland"),
            ],
        );
        assert!(bad_country.unwrap_err().to_string().contains("\"FINLAND\" is not a two-letter country code"));
    }

    #[test]
    fn the_gocardless_secret_key_comes_only_from_the_environment_and_is_never_shown() {
        let file: ConnectorFiles =
            toml::from_str("[gocardless]\nsecret_id = \"id-1\"\ncountries = [\"de\"]\n").unwrap();
        let without_key = load(file.clone(), &[]).unwrap_err().to_string();
        assert!(without_key.contains("SALDO_GOCARDLESS_SECRET_KEY"), "{without_key}");
        let config = load(file, &[("SALDO_GOCARDLESS_SECRET_KEY", "s3cr3t-key")]).unwrap();
        assert_eq!(config.gocardless.as_ref().unwrap().countries, ["DE"]);
        assert!(!format!("{config:?}").contains("s3cr3t-key"));
        assert!(config.sources.iter().all(|(_, value, _)| !value.contains("s3cr3t-key")));
        assert!(toml::from_str::<ConnectorFiles>("[gocardless]\nsecret_key = \"x\"\n").is_err());
    }

    #[test]
    fn berlin_group_banks_are_checked() {
        let ok: ConnectorFiles = toml::from_str(
            "[[berlin_group]]\nid = \"demo\"\nname = \"Demo Bank\"\nbase_url = \"https://xs2a.demo.example/\"\n",
        )
        .unwrap();
        assert_eq!(load(ok, &[]).unwrap().berlin_group.len(), 1);
        let twice: ConnectorFiles = toml::from_str(
            "[[berlin_group]]\nid = \"d\"\nname = \"D\"\nbase_url = \"https://a.example/\"\n\
             [[berlin_group]]\nid = \"d\"\nname = \"E\"\nbase_url = \"https://b.example/\"\n",
        )
        .unwrap();
        assert!(load(twice, &[]).unwrap_err().to_string().contains("repeated"));
        let half_cert: ConnectorFiles = toml::from_str(
            "[[berlin_group]]\nid = \"d\"\nname = \"D\"\nbase_url = \"https://a.example/\"\nclient_key = \"k.pem\"\n",
        )
        .unwrap();
        assert!(load(half_cert, &[]).unwrap_err().to_string().contains("go together"));
        for bad in ["frequency_per_day = 0", "max_consent_days = 100000", "max_history_days = 0"] {
            let file: ConnectorFiles = toml::from_str(&format!(
                "[[berlin_group]]\nid = \"d\"\nname = \"D\"\nbase_url = \"https://a.example/\"\n{bad}\n"
            ))
            .unwrap();
            assert!(load(file, &[]).unwrap_err().to_string().contains("1 to"), "{bad}");
        }
    }

    #[test]
    fn the_public_url_must_be_a_url() {
        let config = load(ConnectorFiles::default(), &[("SALDO_PUBLIC_URL", "https://saldo.example/")]).unwrap();
        assert_eq!(config.callback_base("127.0.0.1:8080".parse().unwrap()), "https://saldo.example");
        let default = load(ConnectorFiles::default(), &[]).unwrap();
        assert_eq!(default.callback_base("127.0.0.1:8080".parse().unwrap()), "http://127.0.0.1:8080");
        assert!(load(ConnectorFiles::default(), &[("SALDO_PUBLIC_URL", "saldo")]).is_err());
    }
}
