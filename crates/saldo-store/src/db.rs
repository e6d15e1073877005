//! Opening a database, running its migrations and checking it is reachable.

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Connection as _;
use sqlx::{PgPool, SqlitePool};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Where the data lives: `sqlite://PATH`, a bare path (SQLite), or `postgres://…`.
#[derive(Clone, PartialEq, Eq)]
pub enum DbUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DbUrl {
    /// Parses a database URL; the error says which forms are accepted.
    pub fn parse(text: &str) -> Result<DbUrl, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("database URL is empty".into());
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            PgConnectOptions::from_str(text)
                .map_err(|err| format!("invalid PostgreSQL URL {}: {err}", redact(text)))?;
            return Ok(DbUrl::Postgres(text.to_string()));
        }
        if let Some(path) = text.strip_prefix("sqlite://").or_else(|| text.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err("sqlite URL has no path: expected sqlite://PATH".into());
            }
            return Ok(DbUrl::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(format!(
                "unsupported database scheme {scheme:?}: expected sqlite://PATH, a file path, or postgres://…"
            ));
        }
        Ok(DbUrl::Sqlite(PathBuf::from(text)))
    }

    pub fn backend(&self) -> Backend {
        match self {
            DbUrl::Sqlite(_) => Backend::Sqlite,
            DbUrl::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Shows the URL with any password replaced, so it can be logged and printed.
impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DbUrl::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Replaces the password in `scheme://user:password@host` with `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A pool on one of the two backends. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Db {
    /// SQLite has one writer at a time; the gate makes this process's writers queue for it instead
    /// of polling the file lock in SQLite's busy handler.
    Sqlite(SqlitePool, WriteGate),
    Postgres(PgPool),
}

/// Serialises one process's writes to an SQLite database.
pub type WriteGate = std::sync::Arc<tokio::sync::Mutex<()>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {url}: {message}")]
    Connect { url: String, message: String },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The worker's claim on a connection lapsed and another worker may hold it: nothing was written.
    #[error("the lease on connection {0} was lost; the sync was not recorded")]
    LeaseLost(String),
    #[error("stored {what} is not valid: {message}")]
    Corrupt { what: &'static str, message: String },
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
}

impl Db {
    /// Opens the database, creating an SQLite file and its directory when missing. Does not migrate.
    pub async fn connect(url: &DbUrl) -> Result<Db, StoreError> {
        let failed = |err: &dyn fmt::Display| StoreError::Connect { url: url.to_string(), message: err.to_string() };
        match url {
            DbUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|err| failed(&err))?;
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10));
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
                    .map_err(|err| failed(&err))?;
                Ok(Db::Sqlite(pool, WriteGate::default()))
            }
            DbUrl::Postgres(text) => {
                let options = PgConnectOptions::from_str(text).map_err(|err| failed(&err))?;
                // One direct connection first: a pool would retry until its timeout and then report
                // only "pool timed out", hiding why (refused, unknown host, no such database).
                let probe = tokio::time::timeout(Duration::from_secs(10), PgConnection::connect_with(&options))
                    .await
                    .map_err(|_| failed(&"no answer within 10 s"))?
                    .map_err(|err| failed(&err))?;
                probe.close().await.map_err(|err| failed(&err))?;
                let pool = PgPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_lazy_with(options);
                Ok(Db::Postgres(pool))
            }
        }
    }

    /// Brings the schema up to date. Safe to run from several processes at once on PostgreSQL,
    /// where the migrator holds an advisory lock.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(pool, _) => SQLITE_MIGRATIONS.run(pool).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Names of the migrations this build carries for a backend.
    pub fn migration_names(backend: Backend) -> Vec<String> {
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.iter().map(|m| format!("{}_{}", m.version, m.description)).collect()
    }

    /// Checks that the database answers a query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.fetch("SELECT 1", &[]).await.map(|_| ())
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(..) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Closes every connection; waits for queries under way.
    pub async fn close(&self) {
        match self {
            Db::Sqlite(pool, _) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_accepted_forms() {
        assert_eq!(DbUrl::parse("sqlite:///tmp/a.db").unwrap(), DbUrl::Sqlite("/tmp/a.db".into()));
        assert_eq!(DbUrl::parse("data/saldo.db").unwrap(), DbUrl::Sqlite("data/saldo.db".into()));
        assert_eq!(DbUrl::parse("postgres://u@h/db").unwrap().backend(), Backend::Postgres);
        assert!(DbUrl::parse("mysql://h/db").unwrap_err().contains("mysql"));
        assert!(DbUrl::parse("").is_err());
    }

    #[test]
    fn display_hides_the_password() {
        let url = DbUrl::parse("postgres://saldo:hunter2@db.local:5432/saldo").unwrap();
        assert_eq!(url.to_string(), "postgres://saldo:***@db.local:5432/saldo");
        assert!(!format!("{url:?}").contains("hunter2"));
    }
}
