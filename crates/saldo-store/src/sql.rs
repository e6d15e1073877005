//! The one place that talks to sqlx: statements are written once with `$N` placeholders (SQLite
//! reads them as positional too), arguments are [`Arg`]s, and rows come back as [`Row`]s that decode
//! into the Rust types both drivers support. Everything else in this crate is plain SQL and mapping.

use crate::db::{Db, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::query::Query;
use sqlx::{Database, Decode, Encode, Postgres, Row as _, Sqlite, Type};
use uuid::Uuid;

/// A bound argument. Both drivers encode each of these natively.
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

/// A result row from either backend.
pub(crate) enum Row {
    Sqlite(sqlx::sqlite::SqliteRow),
    Postgres(sqlx::postgres::PgRow),
}

/// A Rust type both drivers can decode a column into.
pub(crate) trait Column:
    for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

impl<T> Column for T where T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres> {}

impl Row {
    pub(crate) fn get<T: Column>(&self, index: usize) -> Result<T, StoreError> {
        Ok(match self {
            Row::Sqlite(row) => row.try_get(index)?,
            Row::Postgres(row) => row.try_get(index)?,
        })
    }
}

impl Db {
    pub(crate) async fn execute(&self, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
        Ok(match self {
            Db::Sqlite(pool, gate) => {
                let _writer = gate.lock().await;
                bind_all::<Sqlite>(sql, args).execute(pool).await?.rows_affected()
            }
            Db::Postgres(pool) => bind_all::<Postgres>(sql, args).execute(pool).await?.rows_affected(),
        })
    }

    pub(crate) async fn fetch(&self, sql: &str, args: &[Arg]) -> Result<Vec<Row>, StoreError> {
        Ok(match self {
            Db::Sqlite(pool, _) => {
                bind_all::<Sqlite>(sql, args).fetch_all(pool).await?.into_iter().map(Row::Sqlite).collect()
            }
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
            Db::Sqlite(pool, gate) => {
                // Take the write lock at BEGIN: a deferred transaction that reads first and writes
                // later can fail with SQLITE_BUSY_SNAPSHOT when another writer committed meanwhile.
                let writer = gate.clone().lock_owned().await;
                Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?, writer)
            }
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }
}

/// An open database transaction on either backend.
pub(crate) enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>, tokio::sync::OwnedMutexGuard<()>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    pub(crate) async fn execute(&mut self, sql: &str, args: &[Arg]) -> Result<u64, StoreError> {
        Ok(match self {
            Tx::Sqlite(tx, _) => bind_all::<Sqlite>(sql, args).execute(&mut **tx).await?.rows_affected(),
            Tx::Postgres(tx) => bind_all::<Postgres>(sql, args).execute(&mut **tx).await?.rows_affected(),
        })
    }

    pub(crate) async fn fetch(&mut self, sql: &str, args: &[Arg]) -> Result<Vec<Row>, StoreError> {
        Ok(match self {
            Tx::Sqlite(tx, _) => {
                bind_all::<Sqlite>(sql, args).fetch_all(&mut **tx).await?.into_iter().map(Row::Sqlite).collect()
            }
            Tx::Postgres(tx) => {
                bind_all::<Postgres>(sql, args).fetch_all(&mut **tx).await?.into_iter().map(Row::Postgres).collect()
            }
        })
    }

    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx, _writer) => tx.commit().await?,
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
