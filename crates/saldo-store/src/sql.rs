//! The one place that runs SQL: statements are written once with `$N` placeholders, arguments are
//! [`Arg`]s, and rows come back as [`Row`]s that decode into the Rust types both backends support.
//! Everything else in this crate is plain SQL and mapping.
//!
//! PostgreSQL goes through sqlx. SQLite goes through rusqlite, called directly on the task's own
//! thread: a statement takes microseconds, and handing each one to a driver thread (as an async
//! SQLite driver must) cost more than the statement itself. Values are stored as sqlx stored them
//! (UUIDs as 16-byte blobs, dates as `YYYY-MM-DD`, times as RFC 3339 text), so existing databases
//! keep working and times still compare in SQL as text.

use crate::db::{Db, SqliteDb, StoreError};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rusqlite::types::Value;
use sqlx::query::Query;
use sqlx::{Database, Decode, Encode, Postgres, Row as _, Type};
use uuid::Uuid;

/// A bound argument. Both backends encode each of these natively.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Uuid(Uuid),
    OptUuid(Option<Uuid>),
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
    Date(NaiveDate),
    OptDate(Option<NaiveDate>),
    Time(DateTime<Utc>),
    OptTime(Option<DateTime<Utc>>),
}

fn bind_all<'q, DB>(sql: &'q str, args: &'q [Arg]) -> Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    Uuid: Encode<'q, DB> + Type<DB>,
    Option<Uuid>: Encode<'q, DB> + Type<DB>,
    &'q str: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
    NaiveDate: Encode<'q, DB> + Type<DB>,
    Option<NaiveDate>: Encode<'q, DB> + Type<DB>,
    DateTime<Utc>: Encode<'q, DB> + Type<DB>,
    Option<DateTime<Utc>>: Encode<'q, DB> + Type<DB>,
{
    let mut query = sqlx::query::<DB>(sql);
    for arg in args {
        query = match arg {
            Arg::Uuid(v) => query.bind(*v),
            Arg::OptUuid(v) => query.bind(*v),
            Arg::Text(v) => query.bind(v.as_str()),
            Arg::OptText(v) => query.bind(v.as_deref()),
            Arg::Int(v) => query.bind(*v),
            Arg::OptInt(v) => query.bind(*v),
            Arg::Bool(v) => query.bind(*v),
            Arg::Date(v) => query.bind(*v),
            Arg::OptDate(v) => query.bind(*v),
            Arg::Time(v) => query.bind(*v),
            Arg::OptTime(v) => query.bind(*v),
        };
    }
    query
}

/// How SQLite stores each argument.
fn sqlite_value(arg: &Arg) -> Value {
    fn opt<T>(value: &Option<T>, f: impl FnOnce(&T) -> Value) -> Value {
        value.as_ref().map_or(Value::Null, f)
    }
    let uuid = |u: &Uuid| Value::Blob(u.as_bytes().to_vec());
    let date = |d: &NaiveDate| Value::Text(d.format("%F").to_string());
    let time = |t: &DateTime<Utc>| Value::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, false));
    match arg {
        Arg::Uuid(v) => uuid(v),
        Arg::OptUuid(v) => opt(v, uuid),
        Arg::Text(v) => Value::Text(v.clone()),
        Arg::OptText(v) => opt(v, |s| Value::Text(s.clone())),
        Arg::Int(v) => Value::Integer(*v),
        Arg::OptInt(v) => opt(v, |i| Value::Integer(*i)),
        Arg::Bool(v) => Value::Integer(i64::from(*v)),
        Arg::Date(v) => date(v),
        Arg::OptDate(v) => opt(v, date),
        Arg::Time(v) => time(v),
        Arg::OptTime(v) => opt(v, time),
    }
}

/// Prepares (from the connection's statement cache) and binds. `$N` becomes SQLite's `?N`, which
/// binds to index N directly; `$N` is a named parameter to SQLite, and looking names up is linear
/// in the number of parameters, which made multi-row inserts quadratic.
fn sqlite_prepare<'c>(
    conn: &'c rusqlite::Connection,
    sql: &str,
    args: &[Arg],
) -> Result<rusqlite::CachedStatement<'c>, StoreError> {
    let mut statement = conn.prepare_cached(&positional(sql))?;
    let wanted = statement.parameter_count();
    if wanted > args.len() {
        return Err(StoreError::Statement(format!("{sql:?} wants {wanted} arguments, got {}", args.len())));
    }
    for (index, arg) in args.iter().enumerate().take(wanted) {
        statement.raw_bind_parameter(index + 1, sqlite_value(arg))?;
    }
    Ok(statement)
}

/// `$1` → `?1` (the statements hold no `$` in literals).
fn positional(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) { '?' } else { c });
    }
    out
}

pub(crate) fn sqlite_execute(conn: &rusqlite::Connection, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
    Ok(sqlite_prepare(conn, sql, args)?.raw_execute()? as u64)
}

pub(crate) fn sqlite_fetch(conn: &rusqlite::Connection, sql: &str, args: &[Arg]) -> Result<Vec<Row>, StoreError> {
    let mut statement = sqlite_prepare(conn, sql, args)?;
    let columns = statement.column_count();
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(Row::Sqlite((0..columns).map(|i| row.get::<_, Value>(i)).collect::<Result<_, _>>()?));
    }
    Ok(out)
}

/// A result row from either backend.
pub(crate) enum Row {
    Sqlite(Vec<Value>),
    Postgres(sqlx::postgres::PgRow),
}

/// Decoding a value SQLite returned.
pub(crate) trait FromSqlite: Sized {
    fn from_sqlite(value: &Value) -> Result<Self, String>;
}

fn unexpected<T>(wanted: &str, value: &Value) -> Result<T, String> {
    Err(format!("expected {wanted}, found {:?}", value.data_type()))
}

impl FromSqlite for String {
    fn from_sqlite(value: &Value) -> Result<Self, String> {
        match value {
            Value::Text(s) => Ok(s.clone()),
            other => unexpected("text", other),
        }
    }
}

impl FromSqlite for i64 {
    fn from_sqlite(value: &Value) -> Result<Self, String> {
        match value {
            Value::Integer(i) => Ok(*i),
            other => unexpected("an integer", other),
        }
    }
}

impl FromSqlite for bool {
    fn from_sqlite(value: &Value) -> Result<Self, String> {
        i64::from_sqlite(value).map(|i| i != 0)
    }
}

impl FromSqlite for Uuid {
    fn from_sqlite(value: &Value) -> Result<Self, String> {
        match value {
            Value::Blob(bytes) => Uuid::from_slice(bytes).map_err(|err| err.to_string()),
            Value::Text(text) => Uuid::parse_str(text).map_err(|err| err.to_string()),
            other => unexpected("a UUID", other),
        }
    }
}

impl FromSqlite for NaiveDate {
    fn from_sqlite(value: &Value) -> Result<Self, String> {
        let text = String::from_sqlite(value)?;
        // A date column may hold a time when SQL computed it; its first ten characters are the day.
        NaiveDate::parse_from_str(text.get(..10).unwrap_or(&text), "%F").map_err(|err| format!("{text:?}: {err}"))
    }
}

impl FromSqlite for DateTime<Utc> {
    fn from_sqlite(value: &Value) -> Result<Self, String> {
        let text = String::from_sqlite(value)?;
        if let Ok(time) = DateTime::parse_from_rfc3339(&text) {
            return Ok(time.with_timezone(&Utc));
        }
        // SQLite's own CURRENT_TIMESTAMP form, in UTC.
        chrono::NaiveDateTime::parse_from_str(&text, "%F %T%.f")
            .map(|naive| naive.and_utc())
            .map_err(|err| format!("{text:?}: {err}"))
    }
}

impl<T: FromSqlite> FromSqlite for Option<T> {
    fn from_sqlite(value: &Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_sqlite(other).map(Some),
        }
    }
}

/// A Rust type both backends can decode a column into.
pub(crate) trait Column: FromSqlite + for<'r> Decode<'r, Postgres> + Type<Postgres> {}

impl<T> Column for T where T: FromSqlite + for<'r> Decode<'r, Postgres> + Type<Postgres> {}

impl Row {
    pub(crate) fn get<T: Column>(&self, index: usize) -> Result<T, StoreError> {
        Ok(match self {
            Row::Sqlite(values) => {
                let value = values.get(index).unwrap_or(&Value::Null);
                T::from_sqlite(value)
                    .map_err(|message| StoreError::Corrupt { what: "column", message: format!("{index}: {message}") })?
            }
            Row::Postgres(row) => row.try_get(index)?,
        })
    }
}

impl Db {
    pub(crate) async fn execute(&self, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
        match self {
            Db::Sqlite(db) => {
                let writer = db.writer.lock().await;
                may_wait_for_other_process(|| sqlite_execute(&writer, sql, args))
            }
            Db::Postgres(pool) => Ok(bind_all::<Postgres>(sql, args).execute(pool).await?.rows_affected()),
        }
    }

    /// Copies what SQLite's WAL holds into the database file and syncs both (a no-op on
    /// PostgreSQL, whose commits are durable): after it, a power cut keeps every commit made.
    pub(crate) async fn make_durable(&self) -> Result<(), StoreError> {
        if let Db::Sqlite(db) = self {
            let writer = db.writer.lock().await;
            writer.query_row("PRAGMA wal_checkpoint(FULL)", [], |_| Ok(()))?;
        }
        Ok(())
    }

    pub(crate) async fn fetch(&self, sql: &str, args: &[Arg]) -> Result<Vec<Row>, StoreError> {
        Ok(match self {
            Db::Sqlite(db) => db.read(|conn| sqlite_fetch(conn, sql, args))?,
            Db::Postgres(pool) => {
                bind_all::<Postgres>(sql, args).fetch_all(pool).await?.into_iter().map(Row::Postgres).collect()
            }
        })
    }

    pub(crate) async fn fetch_optional(&self, sql: &str, args: &[Arg]) -> Result<Option<Row>, StoreError> {
        Ok(self.fetch(sql, args).await?.into_iter().next())
    }

    /// Starts a database transaction; dropping it without [`Tx::commit`] rolls everything back.
    pub(crate) async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite(db) => Tx::Sqlite(SqliteTx::begin(db).await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }
}

/// An SQLite transaction on the writer connection, which it holds until commit or drop.
pub(crate) struct SqliteTx {
    conn: tokio::sync::OwnedMutexGuard<rusqlite::Connection>,
    open: bool,
}

impl SqliteTx {
    async fn begin(db: &SqliteDb) -> Result<SqliteTx, StoreError> {
        let conn = db.writer.clone().lock_owned().await;
        // Take the write lock at BEGIN: a deferred transaction that reads first and writes later can
        // fail with SQLITE_BUSY_SNAPSHOT when another process committed meanwhile.
        may_wait_for_other_process(|| conn.execute_batch("BEGIN IMMEDIATE"))?;
        Ok(SqliteTx { conn, open: true })
    }
}

/// Runs a statement that takes SQLite's write lock, which another process (an import beside
/// `saldo serve`) may hold for seconds: SQLite's busy handler then sleeps on this thread, so on a
/// multi-threaded runtime the thread's other tasks are handed to another first, and the web keeps
/// answering while this one waits. Statements within a transaction hold the lock already and run
/// on the task's thread (see docs/benchmarks.md, "Readers while the engine writes").
fn may_wait_for_other_process<T>(statement: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(statement),
        _ => statement(),
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.open {
            // Nothing to report to: the caller is already returning an error or unwinding.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// An open database transaction on either backend.
pub(crate) enum Tx {
    Sqlite(SqliteTx),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    pub(crate) async fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
        Ok(match self {
            Tx::Sqlite(tx) => sqlite_execute(&tx.conn, sql, args)?,
            Tx::Postgres(tx) => bind_all::<Postgres>(sql, args).execute(&mut **tx).await?.rows_affected(),
        })
    }

    pub(crate) async fn fetch(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Row>, StoreError> {
        Ok(match self {
            Tx::Sqlite(tx) => sqlite_fetch(&tx.conn, sql, args)?,
            Tx::Postgres(tx) => {
                bind_all::<Postgres>(sql, args).fetch_all(&mut **tx).await?.into_iter().map(Row::Postgres).collect()
            }
        })
    }

    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(mut tx) => {
                tx.conn.execute_batch("COMMIT")?;
                tx.open = false;
            }
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// Decodes a stored code with `parse`, naming what was stored when it is not valid.
pub(crate) fn parse_stored<T, E: std::fmt::Display>(
    what: &'static str,
    text: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, StoreError> {
    parse(text).map_err(|err| StoreError::Corrupt { what, message: format!("{text:?}: {err}") })
}

/// How to split `n` rows into statements: powers of two up to 256 rows, so that a backend's
/// statement cache sees at most nine shapes of each statement.
pub(crate) fn chunk_sizes(mut n: usize) -> Vec<usize> {
    const MOST_ROWS: usize = 256;
    let mut sizes = Vec::new();
    while n > 0 {
        let size = if n >= MOST_ROWS { MOST_ROWS } else { 1 << n.ilog2() };
        sizes.push(size);
        n -= size;
    }
    sizes
}

/// Splits values for `… IN (…)` into chunks (as [`chunk_sizes`]), each with its placeholder list
/// `$1, $2, …`.
pub(crate) fn in_lists(values: Vec<Arg>) -> Vec<(String, Vec<Arg>)> {
    let mut values = values.into_iter();
    chunk_sizes(values.len())
        .into_iter()
        .map(|size| {
            let list: Vec<String> = (1..=size).map(|n| format!("${n}")).collect();
            (list.join(", "), values.by_ref().take(size).collect())
        })
        .collect()
}

/// The statements `INSERT … VALUES (…), (…) …tail` for many rows.
fn row_statements(head: &str, tail: &str, columns: usize, rows: Vec<Vec<Arg>>) -> Vec<(String, Vec<Arg>)> {
    let mut rows = rows.into_iter();
    chunk_sizes(rows.len())
        .into_iter()
        .map(|size| {
            let placeholders: Vec<String> = (0..size)
                .map(|row| {
                    let params: Vec<String> = (1..=columns).map(|col| format!("${}", row * columns + col)).collect();
                    format!("({})", params.join(", "))
                })
                .collect();
            let args: Vec<Arg> = rows.by_ref().take(size).flatten().collect();
            (format!("{head} VALUES {} {tail}", placeholders.join(", ")), args)
        })
        .collect()
}

/// Runs `INSERT … VALUES (…), (…) …tail` for many rows with few statements; returns rows affected.
/// Each row must have `columns` arguments. PostgreSQL refuses an upsert that touches one row twice in
/// a statement, so callers pass rows with distinct conflict keys.
pub(crate) async fn insert_rows(
    tx: &mut Tx,
    head: &str,
    tail: &str,
    columns: usize,
    rows: Vec<Vec<Arg>>,
) -> Result<u64, StoreError> {
    let mut affected = 0;
    for (sql, args) in row_statements(head, tail, columns, rows) {
        affected += tx.execute(&sql, &args).await?;
    }
    Ok(affected)
}

/// [`insert_rows`] with a `RETURNING` clause in `tail`: the rows it returns.
pub(crate) async fn insert_rows_returning(
    tx: &mut Tx,
    head: &str,
    tail: &str,
    columns: usize,
    rows: Vec<Vec<Arg>>,
) -> Result<Vec<Row>, StoreError> {
    let mut returned = Vec::new();
    for (sql, args) in row_statements(head, tail, columns, rows) {
        returned.extend(tx.fetch(&sql, &args).await?);
    }
    Ok(returned)
}
