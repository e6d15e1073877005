//! Opening a database, running its migrations and checking it is reachable.

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::Connection as _;
use sqlx::PgPool;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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
    Sqlite(Arc<SqliteDb>),
    Postgres(PgPool),
}

/// An SQLite database: one writer connection, which this process's writers queue for (instead of
/// polling the file lock in SQLite's busy handler), and read-only connections for everything else,
/// which WAL lets run beside the writer.
#[derive(Debug)]
pub struct SqliteDb {
    path: std::path::PathBuf,
    pub(crate) writer: Arc<tokio::sync::Mutex<rusqlite::Connection>>,
    readers: Vec<Mutex<rusqlite::Connection>>,
    next_reader: AtomicUsize,
}

const SQLITE_READERS: usize = 4;

impl SqliteDb {
    fn open(path: &Path) -> Result<SqliteDb, rusqlite::Error> {
        use rusqlite::OpenFlags;
        let configure = |conn: &rusqlite::Connection| -> Result<(), rusqlite::Error> {
            conn.busy_timeout(Duration::from_secs(10))?;
            conn.set_prepared_statement_cache_capacity(256);
            conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
        };
        // A new database file is its owner's only; SQLite gives its WAL and shared-memory files
        // the database file's mode.
        if !path.exists() {
            crate::files::create_private_file(path).map_err(|err| {
                rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                    Some(format!("cannot create {}: {err}", path.display())),
                )
            })?;
        }
        let writer = rusqlite::Connection::open(path)?;
        writer.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        configure(&writer)?;
        let readers = (0..SQLITE_READERS)
            .map(|_| {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let reader = rusqlite::Connection::open_with_flags(path, flags)?;
                configure(&reader)?;
                Ok(Mutex::new(reader))
            })
            .collect::<Result<_, rusqlite::Error>>()?;
        Ok(SqliteDb {
            path: path.to_path_buf(),
            writer: Arc::new(tokio::sync::Mutex::new(writer)),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    /// Runs a read on a free reader connection (waiting for one when all are busy). Reads are short
    /// and synchronous, so no lock is held across an await.
    pub(crate) fn read<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let count = self.readers.len();
        let free = (0..count).find_map(|i| self.readers[(start + i) % count].try_lock().ok());
        let conn = match free {
            Some(conn) => conn,
            None => self.readers[start % count].lock().unwrap_or_else(std::sync::PoisonError::into_inner),
        };
        read(&conn)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {url}: {message}")]
    Connect { url: String, message: String },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database migration {name} failed: {message}")]
    Migration { name: String, message: String },
    /// The database's schema is not one this build can work on: nothing was written.
    #[error("{0}")]
    Schema(String),
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
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A statement and its arguments do not fit together (a bug, reported instead of a panic).
    #[error("invalid statement: {0}")]
    Statement(String),
}

impl StoreError {
    /// A unique constraint refused the write (a name or e-mail taken already).
    pub(crate) fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            StoreError::Sqlx(sqlx::Error::Database(e)) => e.is_unique_violation(),
            _ => false,
        }
    }

    /// SQLite's write lock was held by another process for longer than this one waits: nothing
    /// is wrong with the request, and it may be tried again shortly.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }
}

/// What a process that waits for another's SQLite write lock is told once per wait.
static WAITING_NOTICE: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// How long [`Db::wait_for_other_writers`] waits at most, in 20 ms steps: ten minutes.
const PATIENT_ATTEMPTS: i32 = 30_000;

fn wait_patiently(attempt: i32) -> bool {
    if attempt == 0 {
        if let Some(notice) = WAITING_NOTICE.get() {
            notice();
        }
    }
    std::thread::sleep(Duration::from_millis(20));
    attempt < PATIENT_ATTEMPTS
}

impl Db {
    /// Makes this process's writes wait their turn behind another process's (an import running
    /// beside a command) for up to ten minutes instead of failing after the usual ten seconds,
    /// calling `notice` once each time it starts to wait. For command-line processes; a server
    /// answers 503 instead.
    pub async fn wait_for_other_writers(&self, notice: fn()) -> Result<(), StoreError> {
        if let Db::Sqlite(db) = self {
            let _ = WAITING_NOTICE.set(notice);
            db.writer.lock().await.busy_handler(Some(wait_patiently))?;
        }
        Ok(())
    }

    /// The database's files and its directory where other accounts of this machine may read them,
    /// with their mode (SQLite only: PostgreSQL keeps its files itself).
    pub fn files_open_to_others(&self) -> Vec<(std::path::PathBuf, u32)> {
        match self {
            Db::Sqlite(db) => {
                let mut paths = crate::files::sqlite_files(&db.path);
                paths.extend(db.path.parent().filter(|d| !d.as_os_str().is_empty()).map(Path::to_path_buf));
                crate::files::open_to_others(&paths)
            }
            Db::Postgres(_) => Vec::new(),
        }
    }

    /// Opens the database, creating an SQLite file and its directory when missing, readable by
    /// their owner only. Does not migrate.
    pub async fn connect(url: &DbUrl) -> Result<Db, StoreError> {
        let failed = |err: &dyn fmt::Display| StoreError::Connect { url: url.to_string(), message: err.to_string() };
        match url {
            DbUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    crate::files::create_private_dir(dir).map_err(|err| failed(&err))?;
                }
                let db = SqliteDb::open(path).map_err(|err| failed(&err))?;
                Ok(Db::Sqlite(Arc::new(db)))
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
            Db::Sqlite(db) => migrate_sqlite(&mut *db.writer.lock().await)?,
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

    /// Whether this build can serve from the database: its schema is exactly this build's
    /// migrations, all applied, and each of saldo's tables answers a read. The error says what is
    /// wrong (a migration missing or unknown, a table that cannot be read, a damaged page).
    pub async fn ready(&self) -> Result<(), StoreError> {
        let names = Db::migration_names(self.backend());
        let applied = self.fetch("SELECT version, success FROM _sqlx_migrations ORDER BY version", &[]).await?;
        let mut versions = Vec::new();
        for row in &applied {
            let (version, success): (i64, bool) = (row.get(0)?, row.get(1)?);
            if !success {
                return Err(StoreError::Schema(format!("migration {version} failed part-way")));
            }
            versions.push(version);
        }
        let known: Vec<i64> = names.iter().filter_map(|n| n.split('_').next()?.parse().ok()).collect();
        if versions != known {
            return Err(StoreError::Schema(format!(
                "the schema has migrations {versions:?}, and this build's are {known:?}"
            )));
        }
        let tables = match self.backend() {
            Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            Backend::Postgres => "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()",
        };
        for row in self.fetch(tables, &[]).await? {
            let table: String = row.get(0)?;
            self.fetch(&format!("SELECT * FROM \"{table}\" LIMIT 1"), &[])
                .await
                .map_err(|err| StoreError::Schema(format!("table {table} cannot be read: {err}")))?;
        }
        Ok(())
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
            // Connections close when the last clone is dropped; SQLite checkpoints the WAL then.
            Db::Sqlite(_) => {}
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

/// Applies the SQLite migrations this build carries and has not applied yet, each in its own
/// transaction, in the bookkeeping table sqlx uses (databases created by earlier builds, which ran
/// sqlx's migrator, carry on). A migration changed after it was applied is an error.
fn migrate_sqlite(conn: &mut rusqlite::Connection) -> Result<(), StoreError> {
    let failed = |name: String, message: String| StoreError::Migration { name, message };
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
         installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, \
         checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)",
    )?;
    refuse_unknown_schema(conn)?;
    for migration in SQLITE_MIGRATIONS.iter() {
        let name = format!("{}_{}", migration.version, migration.description);
        let applied: Option<Vec<u8>> = {
            let mut statement = conn.prepare("SELECT checksum FROM _sqlx_migrations WHERE version = ?1")?;
            let mut rows = statement.query([migration.version])?;
            rows.next()?.map(|row| row.get(0)).transpose()?
        };
        match applied {
            Some(checksum) if checksum == *migration.checksum => continue,
            Some(_) => return Err(failed(name, "it was changed after it was applied".into())),
            None => {}
        }
        let started = std::time::Instant::now();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(&migration.sql).map_err(|err| failed(name.clone(), err.to_string()))?;
        tx.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (?1, ?2, TRUE, ?3, ?4)",
            rusqlite::params![
                migration.version,
                migration.description.as_ref(),
                migration.checksum.as_ref(),
                started.elapsed().as_nanos() as i64
            ],
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// Refuses, before any write, a database a newer saldo migrated (a version this build does not
/// carry: its code would misread the schema) or one whose migration failed half-way.
fn refuse_unknown_schema(conn: &rusqlite::Connection) -> Result<(), StoreError> {
    let known: Vec<i64> = SQLITE_MIGRATIONS.iter().map(|m| m.version).collect();
    let latest = known.iter().max().copied().unwrap_or(0);
    let mut statement = conn.prepare("SELECT version, description, success FROM _sqlx_migrations ORDER BY version")?;
    let applied: Vec<(i64, String, bool)> =
        statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?.collect::<Result<_, _>>()?;
    if let Some((version, description, _)) = applied.iter().find(|(v, _, _)| !known.contains(v)) {
        return Err(StoreError::Schema(format!(
            "the database was migrated by a newer saldo: it has migration {version}_{description}, and this build \
             knows migrations up to {latest}; run the newer saldo, or restore a backup made for this one"
        )));
    }
    if let Some((version, description, _)) = applied.iter().find(|(_, _, success)| !success) {
        return Err(StoreError::Schema(format!(
            "migration {version}_{description} failed part-way on this database; restore the backup made before \
             it (this build knows migrations up to {latest})"
        )));
    }
    Ok(())
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

    #[tokio::test]
    async fn sqlite_migrations_apply_once_and_refuse_a_changed_one_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&DbUrl::Sqlite(dir.path().join("m.db"))).await.unwrap();
        db.migrate().await.unwrap();
        db.migrate().await.unwrap();
        let applied = db.fetch("SELECT COUNT(*) FROM _sqlx_migrations", &[]).await.unwrap();
        assert_eq!(applied[0].get::<i64>(0).unwrap() as usize, Db::migration_names(Backend::Sqlite).len());
        db.execute("UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 1", &[]).await.unwrap();
        let err = db.migrate().await.unwrap_err().to_string();
        assert!(err.contains("1_foundation") && err.contains("changed"), "{err}");
    }

    #[tokio::test]
    async fn sqlite_refuses_a_newer_schema_and_a_half_done_migration_before_writing() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&DbUrl::Sqlite(dir.path().join("m.db"))).await.unwrap();
        db.migrate().await.unwrap();
        let latest = Db::migration_names(Backend::Sqlite).len();
        let newer = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                     VALUES (9999, 'from_the_future', TRUE, x'00', 0)";
        db.execute(newer, &[]).await.unwrap();
        let err = db.migrate().await.unwrap_err().to_string();
        assert!(err.contains("9999_from_the_future") && err.contains(&format!("up to {latest}")), "{err}");
        db.execute("DELETE FROM _sqlx_migrations WHERE version = 9999", &[]).await.unwrap();
        // A migration recorded as failed: refused, and the missing ones are not run over it.
        db.execute("UPDATE _sqlx_migrations SET success = FALSE WHERE version = 2", &[]).await.unwrap();
        db.execute(&format!("DELETE FROM _sqlx_migrations WHERE version = {latest}"), &[]).await.unwrap();
        let err = db.migrate().await.unwrap_err().to_string();
        assert!(err.contains("2_") && err.contains("failed part-way"), "{err}");
        let applied = db.fetch("SELECT COUNT(*) FROM _sqlx_migrations", &[]).await.unwrap();
        assert_eq!(applied[0].get::<i64>(0).unwrap() as usize, latest - 1, "nothing was written");
    }

    #[test]
    fn display_hides_the_password() {
        let url = DbUrl::parse("postgres://saldo:hunter2@db.local:5432/saldo").unwrap();
        assert_eq!(url.to_string(), "postgres://saldo:***@db.local:5432/saldo");
        assert!(!format!("{url:?}").contains("hunter2"));
    }
}
