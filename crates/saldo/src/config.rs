//! Configuration, validated once at start. Each setting comes from, in order of precedence, a
//! command-line flag, a `SALDO_*` environment variable, the TOML config file, or its default. An
//! invalid value is reported with the name of the key and where it came from.
//!
//! This module and `clock` are the only places that read the environment.

use crate::connector_config::{ConnectorFiles, ConnectorsConfig};
use saldo_core::money::Currency;
use saldo_core::secret::Secret;
use saldo_store::DbUrl;
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Settings given on the command line; `None` means "not given".
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub config: Option<PathBuf>,
    pub database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
    pub user: Option<String>,
}

/// The config file's form. Unknown keys are errors, so a typo never goes unnoticed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    log_format: Option<String>,
    log_level: Option<String>,
    base_currency: Option<String>,
    user: Option<String>,
    sandbox: Option<bool>,
    sandbox_seed: Option<u64>,
    sandbox_latency_ms: Option<u64>,
    sync_lease_seconds: Option<u64>,
    secret_key_file: Option<PathBuf>,
    allow_insecure_loopback: Option<bool>,
    allow_signup: Option<bool>,
    http_timeout_seconds: Option<u64>,
    session_idle_hours: Option<u64>,
    session_lifetime_days: Option<u64>,
    simplefin: Option<bool>,
    public_url: Option<String>,
    enable_banking: Option<crate::connector_config::EnableBankingFile>,
    gocardless: Option<crate::connector_config::GoCardlessFile>,
    #[serde(default)]
    berlin_group: Vec<crate::connector_config::BerlinGroupBankFile>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Human => "human",
            LogFormat::Json => "json",
        }
    }
}

/// Where a setting's value came from, for error messages and `config check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag(&'static str),
    Env(&'static str),
    File(PathBuf),
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Env(var) => write!(f, "environment {var}"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Default => f.write_str("default"),
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: DbUrl,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub log_format: LogFormat,
    /// Log filter; `None` lets each command pick its default.
    pub log_level: Option<String>,
    /// Base currency given to a user when saldo creates it.
    pub base_currency: Currency,
    /// The user the command line acts as (an e-mail); the install's owner when not set.
    pub user: Option<String>,
    /// Whether anyone who reaches the server may sign up (after the owner claimed the install).
    pub allow_signup: bool,
    /// How long an HTTP client may take to send a request's headers, keep a connection idle, or
    /// pause within a request body.
    pub http_timeout_seconds: u64,
    /// A session not used for this many hours ends.
    pub session_idle_hours: u64,
    /// A session ends this many days after sign-in, however much it is used.
    pub session_lifetime_days: u64,
    /// Whether the built-in sandbox bank is offered.
    pub sandbox: bool,
    /// Seed of the sandbox bank's behaviour and data.
    pub sandbox_seed: u64,
    /// How long each sandbox call takes, to mimic a slow provider.
    pub sandbox_latency_ms: u64,
    /// How long a worker's claim on a connection lasts before another worker may take over.
    pub sync_lease_seconds: u64,
    /// The master key that encrypts stored secrets, when given in `SALDO_SECRET_KEY` (64 hex
    /// digits or 44 base64 characters); otherwise it is read from `secret_key_file`.
    pub secret_key: Option<Secret>,
    /// The key `saldo secrets rotate` moves to when the current one comes from the environment
    /// (`SALDO_NEW_SECRET_KEY`).
    pub new_secret_key: Option<Secret>,
    /// The key file, created with mode 0600 on first use when no key is given.
    pub secret_key_file: PathBuf,
    /// A file whose RFC 3339 time the server's clock reads instead of the system's
    /// (`SALDO_CLOCK_FILE`, for demos and the browser tests that move a running server's time).
    pub clock_file: Option<PathBuf>,
    /// Whether provider URLs may be plain http on loopback addresses (local emulators, tests).
    pub allow_insecure_loopback: bool,
    /// Whether the SimpleFIN Bridge connector is offered (it needs no keys of saldo's own).
    pub simplefin: bool,
    /// Enable Banking, GoCardless, Berlin Group banks and the public URL for their callbacks.
    pub connectors: ConnectorsConfig,
    pub config_file: Option<PathBuf>,
    /// For each key, where its value came from.
    pub sources: Vec<(&'static str, Source)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid {key} (from {from}): {message}")]
    Invalid { key: &'static str, from: Source, message: String },
    #[error("cannot read config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("no data directory: set data_dir or SALDO_DATA_DIR (no home directory was found)")]
    NoDataDir,
}

/// Reads the process environment for `SALDO_*` variables.
pub fn env_from_process() -> impl Fn(&str) -> Option<String> {
    #[allow(clippy::disallowed_methods)] // The one place that reads the environment.
    |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Config {
    /// Builds the configuration from flags, an environment lookup and the config file.
    pub fn load(flags: &Flags, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut sources = Vec::new();
        let (config_file, file) = read_file(flags, &env)?;
        let file_source = || Source::File(config_file.clone().unwrap_or_default());

        // Picks the first of flag, env, file; records where it came from.
        let mut pick = |key: &'static str,
                        flag: (&'static str, Option<String>),
                        var: &'static str,
                        from_file: Option<String>|
         -> Option<(String, Source)> {
            let found = flag
                .1
                .map(|v| (v, Source::Flag(flag.0)))
                .or_else(|| env(var).map(|v| (v, Source::Env(var))))
                .or_else(|| from_file.map(|v| (v, file_source())));
            sources.push((key, found.as_ref().map_or(Source::Default, |(_, s)| s.clone())));
            found
        };

        let data_dir = match pick(
            "data_dir",
            ("--data-dir", flags.data_dir.as_ref().map(|p| p.display().to_string())),
            "SALDO_DATA_DIR",
            file.data_dir.as_ref().map(|p| p.display().to_string()),
        ) {
            Some((dir, _)) => PathBuf::from(dir),
            None => default_data_dir().ok_or(ConfigError::NoDataDir)?,
        };

        let database_url = match pick(
            "database_url",
            ("--db", flags.database_url.clone()),
            "SALDO_DATABASE_URL",
            file.database_url.clone(),
        ) {
            Some((text, source)) => DbUrl::parse(&text).map_err(|message| ConfigError::Invalid {
                key: "database_url",
                from: source,
                message,
            })?,
            None => DbUrl::Sqlite(data_dir.join("saldo.db")),
        };

        let listen = match pick("listen", ("--listen", flags.listen.clone()), "SALDO_LISTEN", file.listen.clone()) {
            Some((text, source)) => text.parse::<SocketAddr>().map_err(|_| ConfigError::Invalid {
                key: "listen",
                from: source,
                message: format!("{text:?} is not an address and port such as 127.0.0.1:8080"),
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };

        let log_format = match pick(
            "log_format",
            ("--log-format", flags.log_format.clone()),
            "SALDO_LOG_FORMAT",
            file.log_format.clone(),
        ) {
            Some((text, source)) => match text.as_str() {
                "human" => LogFormat::Human,
                "json" => LogFormat::Json,
                _ => {
                    return Err(ConfigError::Invalid {
                        key: "log_format",
                        from: source,
                        message: format!("{text:?}: expected human or json"),
                    })
                }
            },
            None => LogFormat::Human,
        };

        let log_level =
            match pick("log_level", ("--log-level", flags.log_level.clone()), "SALDO_LOG", file.log_level.clone()) {
                Some((text, source)) => {
                    tracing_subscriber::EnvFilter::try_new(&text).map_err(|err| ConfigError::Invalid {
                        key: "log_level",
                        from: source,
                        message: format!(
                            "{text:?}: {err} (expected a level such as info or a filter such as saldo=debug)"
                        ),
                    })?;
                    Some(text)
                }
                None => None,
            };

        let base_currency = match pick("base_currency", ("", None), "SALDO_BASE_CURRENCY", file.base_currency.clone()) {
            Some((text, source)) => Currency::parse(&text).map_err(|err| ConfigError::Invalid {
                key: "base_currency",
                from: source,
                message: err.to_string(),
            })?,
            None => Currency::EUR,
        };

        let user = match pick("user", ("--user", flags.user.clone()), "SALDO_USER", file.user.clone()) {
            Some((text, source)) if text.trim().is_empty() => {
                return Err(ConfigError::Invalid { key: "user", from: source, message: "user e-mail is empty".into() })
            }
            Some((text, _)) => Some(text.trim().to_string()),
            None => None,
        };

        let mut boolean = |key: &'static str, var: &'static str, from_file: Option<bool>, default: bool| match pick(
            key,
            ("", None),
            var,
            from_file.map(|b| b.to_string()),
        ) {
            Some((text, source)) => match text.as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(ConfigError::Invalid {
                    key,
                    from: source,
                    message: format!("{text:?}: expected true or false"),
                }),
            },
            None => Ok(default),
        };
        let sandbox = boolean("sandbox", "SALDO_SANDBOX", file.sandbox, true)?;
        let allow_insecure_loopback =
            boolean("allow_insecure_loopback", "SALDO_ALLOW_INSECURE_LOOPBACK", file.allow_insecure_loopback, false)?;
        let allow_signup = boolean("allow_signup", "SALDO_ALLOW_SIGNUP", file.allow_signup, false)?;
        let simplefin = boolean("simplefin", "SALDO_SIMPLEFIN", file.simplefin, true)?;

        // The key itself only ever comes from the environment: a config file is too easily shared.
        let secret_key = env("SALDO_SECRET_KEY").map(Secret::new);
        let new_secret_key = env("SALDO_NEW_SECRET_KEY").map(Secret::new);
        let clock_file = env("SALDO_CLOCK_FILE").map(PathBuf::from);
        let secret_key_file = match pick(
            "secret_key_file",
            ("", None),
            "SALDO_SECRET_KEY_FILE",
            file.secret_key_file.as_ref().map(|p| p.display().to_string()),
        ) {
            Some((path, _)) => PathBuf::from(path),
            None => data_dir.join("secret.key"),
        };

        let sandbox_seed =
            match pick("sandbox_seed", ("", None), "SALDO_SANDBOX_SEED", file.sandbox_seed.map(|n| n.to_string())) {
                Some((text, source)) => text.parse::<u64>().map_err(|_| ConfigError::Invalid {
                    key: "sandbox_seed",
                    from: source,
                    message: format!("{text:?}: expected a whole number"),
                })?,
                None => 1,
            };

        let number = |key: &'static str, var: &'static str, from_file: Option<u64>, default: u64, min: u64| match (
            env(var).map(|v| (v, Source::Env(var))).or_else(|| from_file.map(|n| (n.to_string(), file_source()))),
            default,
        ) {
            (Some((text, source)), _) => {
                text.parse::<u64>().ok().filter(|n| *n >= min).map(|n| (n, source.clone())).ok_or(
                    ConfigError::Invalid {
                        key,
                        from: source,
                        message: format!("{text:?}: expected a whole number of at least {min}"),
                    },
                )
            }
            (None, default) => Ok((default, Source::Default)),
        };
        let (sandbox_latency_ms, latency_source) =
            number("sandbox_latency_ms", "SALDO_SANDBOX_LATENCY_MS", file.sandbox_latency_ms, 0, 0)?;
        let (sync_lease_seconds, lease_source) =
            number("sync_lease_seconds", "SALDO_SYNC_LEASE_SECONDS", file.sync_lease_seconds, 600, 1)?;
        sources.push(("sandbox_latency_ms", latency_source));
        sources.push(("sync_lease_seconds", lease_source));
        let (session_idle_hours, idle_source) =
            number("session_idle_hours", "SALDO_SESSION_IDLE_HOURS", file.session_idle_hours, 168, 1)?;
        let (session_lifetime_days, lifetime_source) =
            number("session_lifetime_days", "SALDO_SESSION_LIFETIME_DAYS", file.session_lifetime_days, 30, 1)?;
        sources.push(("session_idle_hours", idle_source));
        let (http_timeout_seconds, http_timeout_source) =
            number("http_timeout_seconds", "SALDO_HTTP_TIMEOUT_SECONDS", file.http_timeout_seconds, 30, 1)?;
        sources.push(("http_timeout_seconds", http_timeout_source));
        sources.push(("session_lifetime_days", lifetime_source));
        sources
            .push(("secret_key", if secret_key.is_some() { Source::Env("SALDO_SECRET_KEY") } else { Source::Default }));

        let connector_files = ConnectorFiles {
            public_url: file.public_url.clone(),
            enable_banking: file.enable_banking.clone(),
            gocardless: file.gocardless.clone(),
            berlin_group: file.berlin_group.clone(),
        };
        let connectors = ConnectorsConfig::load(connector_files, &file_source, &env)?;

        Ok(Config {
            database_url,
            data_dir,
            listen,
            log_format,
            log_level,
            base_currency,
            user,
            sandbox,
            sandbox_seed,
            sandbox_latency_ms,
            sync_lease_seconds,
            allow_signup,
            http_timeout_seconds,
            session_idle_hours,
            session_lifetime_days,
            secret_key,
            new_secret_key,
            secret_key_file,
            clock_file,
            allow_insecure_loopback,
            simplefin,
            connectors,
            config_file,
            sources,
        })
    }

    /// The effective configuration as TOML, secrets redacted, each key annotated with its source.
    pub fn render(&self) -> String {
        let value = |key: &str| -> String {
            match key {
                "database_url" => self.database_url.to_string(),
                "data_dir" => self.data_dir.display().to_string(),
                "listen" => self.listen.to_string(),
                "log_format" => self.log_format.as_str().into(),
                "log_level" => self.log_level.clone().unwrap_or_else(|| "info for serve, warn otherwise".into()),
                "base_currency" => self.base_currency.code().into(),
                "user" => self.user.clone().unwrap_or_else(|| "the owner".into()),
                "allow_signup" => self.allow_signup.to_string(),
                "session_idle_hours" => self.session_idle_hours.to_string(),
                "http_timeout_seconds" => self.http_timeout_seconds.to_string(),
                "session_lifetime_days" => self.session_lifetime_days.to_string(),
                "sandbox" => self.sandbox.to_string(),
                "sandbox_seed" => self.sandbox_seed.to_string(),
                "sandbox_latency_ms" => self.sandbox_latency_ms.to_string(),
                "sync_lease_seconds" => self.sync_lease_seconds.to_string(),
                "secret_key" if self.secret_key.is_some() => "*** (not shown)".into(),
                "secret_key" => format!("none: the key file is used ({})", self.secret_key_file.display()),
                "secret_key_file" => self.secret_key_file.display().to_string(),
                "allow_insecure_loopback" => self.allow_insecure_loopback.to_string(),
                "simplefin" => self.simplefin.to_string(),
                _ => String::new(),
            }
        };
        let mut out = match &self.config_file {
            Some(path) => format!("# config file: {}\n", path.display()),
            None => "# config file: none\n".to_string(),
        };
        for (key, source) in &self.sources {
            let quoted = match *key {
                // Booleans and numbers are written bare, as the config file takes them.
                "sandbox"
                | "sandbox_seed"
                | "sandbox_latency_ms"
                | "sync_lease_seconds"
                | "allow_signup"
                | "session_idle_hours"
                | "http_timeout_seconds"
                | "session_lifetime_days"
                | "allow_insecure_loopback"
                | "simplefin" => value(key),
                // Not a key of the file: shown as a comment.
                "secret_key" => {
                    out.push_str(&format!("# secret_key: {}  # {source}\n", value(key)));
                    continue;
                }
                _ => toml::Value::String(value(key)).to_string(),
            };
            out.push_str(&format!("{key} = {quoted}  # {source}\n"));
        }
        for (key, value, source) in &self.connectors.sources {
            out.push_str(&format!("{key} = {}  # {source}\n", toml::Value::String(value.clone())));
        }
        out
    }
}

fn read_file(
    flags: &Flags,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(Option<PathBuf>, FileConfig), ConfigError> {
    // An explicitly named file must exist; the default one is optional.
    let (path, required) = match flags.config.clone().or_else(|| env("SALDO_CONFIG").map(PathBuf::from)) {
        Some(path) => (path, true),
        None => match default_config_file() {
            Some(path) => (path, false),
            None => return Ok((None, FileConfig::default())),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if !required && err.kind() == std::io::ErrorKind::NotFound => {
            return Ok((None, FileConfig::default()))
        }
        Err(err) => return Err(ConfigError::File { path, message: err.to_string() }),
    };
    let file: FileConfig = toml::from_str(&text).map_err(|err| ConfigError::File {
        path: path.clone(),
        message: err.message().to_string() + &line_of(&text, err.message(), err.span()),
    })?;
    Ok((Some(path), file))
}

/// The line an error is on. For an unknown key toml points at the whole table, so look for the key.
fn line_of(text: &str, message: &str, span: Option<std::ops::Range<usize>>) -> String {
    let unknown_key = message.strip_prefix("unknown field `").and_then(|rest| rest.split_once('`')).map(|(key, _)| key);
    let line = match unknown_key {
        Some(key) => text.lines().position(|line| {
            line.trim_start().strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('='))
        }),
        None => span.map(|span| text[..span.start.min(text.len())].matches('\n').count()),
    };
    line.map(|index| format!(" (line {})", index + 1)).unwrap_or_default()
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "saldo")
}

/// The platform data directory (`~/.local/share/saldo` on Linux).
pub fn default_data_dir() -> Option<PathBuf> {
    project_dirs().map(|dirs| dirs.data_dir().to_path_buf())
}

/// The platform config file (`~/.config/saldo/saldo.toml` on Linux), read when it exists.
pub fn default_config_file() -> Option<PathBuf> {
    project_dirs().map(|dirs| dirs.config_dir().join("saldo.toml"))
}

impl Config {
    /// Whether a path is the configured SQLite database (used to tell the user where data lives).
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.database_url {
            DbUrl::Sqlite(path) => Some(path),
            DbUrl::Postgres(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    fn flags_with_file(text: &str) -> (tempfile::TempDir, Flags) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("saldo.toml");
        std::fs::write(&path, text).unwrap();
        (dir, Flags { config: Some(path), ..Flags::default() })
    }

    #[test]
    fn flag_beats_env_beats_file_beats_default() {
        let (_dir, mut flags) =
            flags_with_file("listen = \"127.0.0.1:3000\"\nlog_format = \"json\"\ndata_dir = \"/srv/saldo\"\n");
        let config = Config::load(&flags, env(&[("SALDO_LISTEN", "127.0.0.1:4000")])).unwrap();
        assert_eq!(config.listen.port(), 4000);
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.database_url, DbUrl::Sqlite("/srv/saldo/saldo.db".into()));
        flags.listen = Some("127.0.0.1:5000".into());
        let config = Config::load(&flags, env(&[("SALDO_LISTEN", "127.0.0.1:4000")])).unwrap();
        assert_eq!(config.listen.port(), 5000);
        assert!(config.render().contains("listen = \"127.0.0.1:5000\"  # flag --listen"));
        assert!(config.render().contains("log_format = \"json\"  # file"));
        assert!(config.render().contains("base_currency = \"EUR\"  # default"));
    }

    #[test]
    fn errors_name_the_key_and_its_source() {
        let flags = Flags { data_dir: Some("/tmp/x".into()), ..Flags::default() };
        let err = Config::load(&flags, env(&[("SALDO_BASE_CURRENCY", "EURO")])).unwrap_err().to_string();
        assert!(
            err.starts_with("invalid base_currency (from environment SALDO_BASE_CURRENCY): unknown currency"),
            "{err}"
        );
        let err = Config::load(&flags, env(&[("SALDO_DATABASE_URL", "mysql://x/y")])).unwrap_err().to_string();
        assert!(err.contains("database_url") && err.contains("mysql"), "{err}");
        let err = Config::load(&flags, env(&[("SALDO_LOG_FORMAT", "xml")])).unwrap_err().to_string();
        assert!(err.contains("log_format") && err.contains("expected human or json"), "{err}");
        let (_dir, flags) = flags_with_file("data_dir = \"/tmp\"\nlisen = \"x\"\n");
        let err = Config::load(&flags, env(&[])).unwrap_err().to_string();
        assert!(err.contains("unknown field `lisen`") && err.contains("line 2"), "{err}");
        let missing = Flags { config: Some("/nonexistent/saldo.toml".into()), ..Flags::default() };
        assert!(Config::load(&missing, env(&[])).unwrap_err().to_string().contains("/nonexistent/saldo.toml"));
    }

    #[test]
    fn config_check_redacts_the_database_password() {
        let flags = Flags { data_dir: Some("/tmp/x".into()), ..Flags::default() };
        let config = Config::load(&flags, env(&[("SALDO_DATABASE_URL", "postgres://saldo:s3cret@db/saldo")])).unwrap();
        let rendered = config.render();
        assert!(!rendered.contains("s3cret"), "{rendered}");
        assert!(rendered.contains("postgres://saldo:***@db/saldo"));
    }

    #[test]
    fn the_secret_key_is_never_shown_and_booleans_are_checked() {
        let flags = Flags { data_dir: Some("/tmp/x".into()), ..Flags::default() };
        let key = "9f".repeat(32);
        let config = Config::load(&flags, env(&[("SALDO_SECRET_KEY", &key)])).unwrap();
        let rendered = config.render();
        assert!(!rendered.contains(&key), "{rendered}");
        assert!(rendered.contains("# secret_key: *** (not shown)  # environment SALDO_SECRET_KEY"), "{rendered}");
        assert!(!format!("{config:?}").contains(&key));
        let config = Config::load(&flags, env(&[("SALDO_ALLOW_INSECURE_LOOPBACK", "true")])).unwrap();
        assert!(config.allow_insecure_loopback && config.simplefin && config.secret_key.is_none());
        assert_eq!(config.secret_key_file, PathBuf::from("/tmp/x/secret.key"));
        assert!(config.render().contains("secret_key_file = \"/tmp/x/secret.key\"  # default"));
        let err = Config::load(&flags, env(&[("SALDO_SIMPLEFIN", "maybe")])).unwrap_err().to_string();
        assert!(err.contains("invalid simplefin (from environment SALDO_SIMPLEFIN)"), "{err}");
    }
}
