//! Test support shared by saldo's suites (a dev-dependency only): a fresh database of either
//! backend for each test, and [`both_backends!`], which declares a test once and runs it as
//! `NAME::sqlite` and `NAME::postgres`. Nothing is skipped: a PostgreSQL test fails when the server
//! cannot be reached (`scripts/test` starts the local one).

#![allow(clippy::unwrap_used)] // Test support fails loudly by design.

use std::path::Path;
use tempfile::TempDir;

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database made for one test, in a temporary directory of its own that the test may use too:
/// an SQLite file (`data/saldo.db` in the directory), or a PostgreSQL database created on the server
/// `SALDO_TEST_POSTGRES_URL` names (default: the local cluster) and dropped, with whatever is still
/// connected to it, when this is dropped.
pub struct ScratchDatabase {
    url: String,
    dir: TempDir,
    postgres: Option<PostgresScratch>,
}

struct PostgresScratch {
    admin_url: String,
    name: String,
}

impl ScratchDatabase {
    pub fn new(backend: Backend) -> ScratchDatabase {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("data/saldo.db").display());
                ScratchDatabase { url, dir, postgres: None }
            }
            Backend::Postgres => {
                #[allow(clippy::disallowed_methods)] // Test support reads its own setting.
                let admin_url = std::env::var("SALDO_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.into());
                let name = format!("saldo_test_{}", uuid::Uuid::now_v7().simple());
                admin(&admin_url, format!("CREATE DATABASE {name}"));
                let (base, _) = admin_url.rsplit_once('/').unwrap();
                let url = format!("{base}/{name}");
                ScratchDatabase { url, dir, postgres: Some(PostgresScratch { admin_url, name }) }
            }
        }
    }

    /// The database's URL, as saldo's `--db` takes it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The test's own temporary directory (the SQLite file lives under `data/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Some(pg) = &self.postgres {
            admin(&pg.admin_url, format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", pg.name));
        }
    }
}

/// Runs one statement on the PostgreSQL server, on a thread of its own: the caller may be inside an
/// async runtime, which cannot start another.
fn admin(admin_url: &str, statement: String) {
    let admin_url = admin_url.to_string();
    let outcome = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
                .await
                .map_err(|err| format!("PostgreSQL is needed ({err}); scripts/test starts it"))?;
            sqlx::query(&statement).execute(&mut conn).await.map(|_| ()).map_err(|err| format!("{statement}: {err}"))
        })
    })
    .join()
    .unwrap();
    if let Err(message) = outcome {
        if !std::thread::panicking() {
            panic!("{message}");
        }
    }
}

/// Declares a test once and runs it as `NAME::sqlite` and `NAME::postgres`: `$run` is a function
/// `fn(Backend, BODY)` that sets up what the body gets (a database, a binary, an engine) and runs it.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $run:path, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn sqlite() {
                $run($crate::Backend::Sqlite, $body);
            }
            #[test]
            fn postgres() {
                $run($crate::Backend::Postgres, $body);
            }
        }
    };
}
