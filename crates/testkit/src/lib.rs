//! Test support shared by the crates' integration tests: a fresh database per
//! test on SQLite or PostgreSQL, a macro that runs one test story on both,
//! and a small WebDriver client for headless Chromium.
//!
//! PostgreSQL tests need `FERRODESK_TEST_POSTGRES_URL` (a URL whose user may
//! create databases). Without it they are skipped with a printed reason,
//! except under `CI=true`, where a missing database is a failure.

#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

pub mod browser;
pub mod imap;
pub mod smtp;
pub mod totp;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::Connection;

pub const POSTGRES_URL_VARIABLE: &str = "FERRODESK_TEST_POSTGRES_URL";
const DATABASE_PREFIX: &str = "fdtest_";
/// Databases left behind by crashed runs are dropped once this old.
const ABANDONED_AFTER: Duration = Duration::from_secs(2 * 60 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Whether this run is CI, where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}

/// Skips a test with a reason, or fails it under CI.
pub fn skip(reason: &str) {
    assert!(!in_ci(), "CI=true and {reason}");
    eprintln!("SKIPPED: {reason}");
}

/// A database that exists for one test and is removed afterwards.
#[derive(Debug)]
pub struct TestDatabase {
    pub url: String,
    pub backend: Backend,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Directory(PathBuf),
    Postgres { admin_url: String, name: String },
}

/// A path in the temporary directory that no other test uses.
pub fn unique_temp_path(prefix: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{prefix}-{}", random_suffix()))
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("system randomness");
    hex::encode(bytes)
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

impl TestDatabase {
    /// Runs one SQL statement directly on the database, bypassing the app.
    pub async fn execute(&self, statement: &str) {
        let statement = sqlx::AssertSqlSafe(statement.to_owned());
        match self.backend {
            Backend::Sqlite => {
                let mut connection = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query(statement)
                    .execute(&mut connection)
                    .await
                    .unwrap();
            }
            Backend::Postgres => {
                let mut connection = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query(statement)
                    .execute(&mut connection)
                    .await
                    .unwrap();
            }
        }
    }

    /// The first column of the first row of a query, as an integer.
    pub async fn scalar(&self, query: &str) -> i64 {
        let query = sqlx::AssertSqlSafe(query.to_owned());
        match self.backend {
            Backend::Sqlite => {
                let mut connection = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar::<_, i64>(query)
                    .fetch_one(&mut connection)
                    .await
                    .unwrap()
            }
            Backend::Postgres => {
                let mut connection = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar::<_, i64>(query)
                    .fetch_one(&mut connection)
                    .await
                    .unwrap()
            }
        }
    }

    /// A fresh, empty database, or `None` (after printing why) when the
    /// backend is not available outside CI.
    pub async fn fresh(backend: Backend) -> Option<TestDatabase> {
        match backend {
            Backend::Sqlite => {
                let directory =
                    std::env::temp_dir().join(format!("ferrodesk-test-{}", random_suffix()));
                std::fs::create_dir_all(&directory).expect("create a temporary directory");
                Some(TestDatabase {
                    url: format!("sqlite:{}", directory.join("test.db").display()),
                    backend,
                    cleanup: Cleanup::Directory(directory),
                })
            }
            Backend::Postgres => {
                let Some(admin_url) = std::env::var(POSTGRES_URL_VARIABLE)
                    .ok()
                    .filter(|url| !url.is_empty())
                else {
                    skip(&format!(
                        "{POSTGRES_URL_VARIABLE} is not set, so the PostgreSQL variant did not run"
                    ));
                    return None;
                };
                let mut connection = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .unwrap_or_else(|error| {
                        panic!("cannot connect to {POSTGRES_URL_VARIABLE}: {error}")
                    });
                drop_abandoned_databases(&mut connection).await;
                let name = format!("{DATABASE_PREFIX}{}_{}", unix_seconds(), random_suffix());
                // The name is made here from digits and hex, never from input.
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut connection)
                    .await
                    .expect("create a test database");
                let _ = connection.close().await;
                Some(TestDatabase {
                    url: with_database(&admin_url, &name),
                    backend,
                    cleanup: Cleanup::Postgres { admin_url, name },
                })
            }
        }
    }
}

/// `admin_url` with its database name replaced by `name`.
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let (scheme, rest) = base.split_once("://").expect("a postgres:// URL");
    let authority = rest.split('/').next().unwrap_or(rest);
    match query {
        Some(query) => format!("{scheme}://{authority}/{name}?{query}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}

async fn drop_abandoned_databases(connection: &mut sqlx::PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'fdtest\\_%'")
            .fetch_all(&mut *connection)
            .await
            .unwrap_or_default();
    let cutoff = unix_seconds().saturating_sub(ABANDONED_AFTER.as_secs());
    for name in names {
        let created = name
            .strip_prefix(DATABASE_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|seconds| seconds.parse::<u64>().ok());
        if created.is_some_and(|created| created < cutoff)
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
            )))
            .execute(&mut *connection)
            .await;
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Directory(directory) => {
                let _ = std::fs::remove_dir_all(directory);
            }
            Cleanup::Postgres { admin_url, name } => {
                let admin_url = admin_url.clone();
                let name = name.clone();
                // Drop runs inside or outside a runtime; a thread of its own
                // with its own small runtime works in both cases.
                let dropper = std::thread::spawn(move || {
                    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    runtime.block_on(async move {
                        if let Ok(mut connection) = sqlx::PgConnection::connect(&admin_url).await {
                            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            )))
                            .execute(&mut connection)
                            .await;
                            let _ = connection.close().await;
                        }
                    });
                });
                let _ = dropper.join();
            }
        }
    }
}

/// Writes each test once and runs it on both backends, as `NAME::sqlite`
/// and `NAME::postgres`. `$setup` is an async function taking a `Backend`
/// and returning `Option<T>` (`None` skips); the test body receives the `T`.
#[macro_export]
macro_rules! on_both_backends {
    ($setup:path; $( $(#[$attribute:meta])* async fn $name:ident($argument:ident : $type:ty) $body:block )*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                $(#[$attribute])*
                async fn story($argument: $type) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(subject) = $setup($crate::Backend::Sqlite).await {
                        story(subject).await;
                    }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(subject) = $setup($crate::Backend::Postgres).await {
                        story(subject).await;
                    }
                }
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced_in_the_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "fdtest_1"),
            "postgres://postgres@127.0.0.1:5432/fdtest_1"
        );
        assert_eq!(
            with_database("postgres://u:p@db:5432?sslmode=disable", "fdtest_1"),
            "postgres://u:p@db:5432/fdtest_1?sslmode=disable"
        );
    }
}
