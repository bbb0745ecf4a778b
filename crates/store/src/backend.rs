use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a writer waits for SQLite's write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const SQLITE_MAX_CONNECTIONS: u32 = 8;
/// As much of the database file as the bundled SQLite maps (its
/// `SQLITE_MAX_MMAP_SIZE`, just under 2 GiB); beyond it pages are read.
const SQLITE_MMAP_BYTES: i64 = 0x7fff_0000;
/// PostgreSQL connections per node: two per core and two more, between 4
/// and 32. More connections than the cores can serve only queue inside the
/// database and switch between its processes: on two cores, 16 served the
/// agent list and search 10–15 % slower than 6, with a third longer tail.
fn postgres_max_connections() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    u32::try_from(cores.saturating_mul(2).saturating_add(2))
        .unwrap_or(u32::MAX)
        .clamp(4, 32)
}
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// sqlx pings a connection when it goes back to the pool (and drops it if
/// the ping fails); pinging again when it is taken out would add a round
/// trip to PostgreSQL, or a hop to SQLite's worker thread, to every query.
/// A connection that died while idle fails one query and is then dropped.
const TEST_BEFORE_ACQUIRE: bool = false;

#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unsupported database URL scheme (use sqlite:PATH or postgres://…)")]
    UnsupportedScheme,
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    #[error("cannot connect to the database: {0}")]
    Connect(sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot lock the SQLite database for migration: {0}")]
    MigrationLock(std::io::Error),
}

/// How many connections a pool may open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connections {
    /// A server's pool: several, by the cores.
    Serving,
    /// A short command that runs one thing at a time (the mail pipe): one
    /// connection, reused for every query. A pool that may open more opens
    /// a second while the first is still being handed back, and each new
    /// PostgreSQL connection costs a process on the server and, over TLS,
    /// a handshake.
    One,
}

impl Backend {
    pub async fn connect(url: &str) -> Result<Backend, ConnectError> {
        Backend::connect_with(url, Connections::Serving).await
    }

    pub async fn connect_with(
        url: &str,
        connections: Connections,
    ) -> Result<Backend, ConnectError> {
        let one = connections == Connections::One;
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|error| ConnectError::InvalidUrl(error.to_string()))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                // Pages read through a memory map rather than a `pread`
                // and a copy each; the pages touched count in the
                // process's resident size but are the page cache's.
                // A short command reads little: its pages need no map, whose
                // touched pages would count in its resident size.
                .pragma(
                    "mmap_size",
                    if one { 0 } else { SQLITE_MMAP_BYTES }.to_string(),
                );
            let in_memory = options.get_filename() == Path::new(":memory:");
            let pool = SqlitePoolOptions::new()
                // An in-memory database exists once per connection.
                .max_connections(if in_memory || one {
                    1
                } else {
                    SQLITE_MAX_CONNECTIONS
                })
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .test_before_acquire(TEST_BEFORE_ACQUIRE)
                .connect_with(options)
                .await
                .map_err(ConnectError::Connect)?;
            Ok(Backend::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)
                .map_err(|error| ConnectError::InvalidUrl(error.to_string()))?
                .application_name("ferrodesk")
                // No parallel workers: starting two for a query costs a few
                // milliseconds, more than any one of ours gains from them,
                // and under load they take the cores other requests need.
                .options([("max_parallel_workers_per_gather", "0")]);
            let pool = PgPoolOptions::new()
                .max_connections(if one { 1 } else { postgres_max_connections() })
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .test_before_acquire(TEST_BEFORE_ACQUIRE)
                .connect_with(options)
                .await
                .map_err(ConnectError::Connect)?;
            Ok(Backend::Postgres(pool))
        } else {
            Err(ConnectError::UnsupportedScheme)
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Applies pending migrations. Two nodes may start at once: on PostgreSQL
    /// sqlx holds an advisory lock while migrating; on SQLite (whose sqlx
    /// migrator takes no lock) two processes on one file are serialized with
    /// an exclusive lock on a file beside the database.
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        match self {
            Backend::Postgres(pool) => Ok(POSTGRES_MIGRATIONS.run(pool).await?),
            Backend::Sqlite(pool) => {
                let lock = match sqlite_database_file(pool) {
                    Some(database) => Some(lock_beside(&database).await?),
                    None => None,
                };
                let outcome = SQLITE_MIGRATIONS.run(pool).await;
                drop(lock);
                Ok(outcome?)
            }
        }
    }
}

impl Backend {
    /// Whether every migration this build knows is applied already: one
    /// query, where running the migrator takes a lock and reads them all.
    pub async fn is_migrated(&self) -> bool {
        const NEWEST_APPLIED: &str =
            "SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE";
        let (newest, known) = match self {
            Backend::Postgres(pool) => (
                sqlx::query_scalar::<_, Option<i64>>(NEWEST_APPLIED)
                    .fetch_one(pool)
                    .await,
                &POSTGRES_MIGRATIONS,
            ),
            Backend::Sqlite(pool) => (
                sqlx::query_scalar::<_, Option<i64>>(NEWEST_APPLIED)
                    .fetch_one(pool)
                    .await,
                &SQLITE_MIGRATIONS,
            ),
        };
        let expected = known.iter().map(|migration| migration.version).max();
        matches!(newest, Ok(Some(version)) if Some(version) == expected)
    }
}

fn sqlite_database_file(pool: &SqlitePool) -> Option<PathBuf> {
    let options = pool.connect_options();
    let file = options.get_filename();
    (file != Path::new(":memory:") && !file.as_os_str().is_empty()).then(|| file.to_path_buf())
}

async fn lock_beside(database: &Path) -> Result<std::fs::File, ConnectError> {
    let mut lock_path = database.as_os_str().to_owned();
    lock_path.push(".migrate-lock");
    let lock_path = PathBuf::from(lock_path);
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)?;
        file.lock()?;
        Ok(file)
    })
    .await
    .map_err(|join_error| ConnectError::MigrationLock(std::io::Error::other(join_error)))?
    .map_err(ConnectError::MigrationLock)
}

/// The names of the embedded migrations for one backend, for the drift test.
#[cfg(test)]
fn migration_names(backend: &str) -> Vec<String> {
    let migrator = if backend == "sqlite" {
        &SQLITE_MIGRATIONS
    } else {
        &POSTGRES_MIGRATIONS
    };
    migrator
        .iter()
        .map(|migration| format!("{}_{}", migration.version, migration.description))
        .collect()
}

/// A transaction that will write. Executes like the connection it holds
/// (`&mut *transaction`); on SQLite it also holds this process's turn to
/// write, given back when the transaction ends.
pub(crate) struct WriteTransaction<DB: sqlx::Database> {
    transaction: sqlx::Transaction<'static, DB>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl<DB: sqlx::Database> WriteTransaction<DB> {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.transaction.commit().await
    }

    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        self.transaction.rollback().await
    }
}

impl<DB: sqlx::Database> std::ops::Deref for WriteTransaction<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        &self.transaction
    }
}

impl<DB: sqlx::Database> std::ops::DerefMut for WriteTransaction<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.transaction
    }
}

/// A connection of either database, borrowed from a transaction or the
/// pool: what the statements that several writes share (an audit entry,
/// a queued mail, a ticket's log line) run on. Those are plain functions
/// taking `&mut impl Connected`; the one match on the backend is inside
/// each, through `on_connection!`, so one SQL text still serves both.
pub(crate) enum Connection<'a> {
    Sqlite(&'a mut sqlx::SqliteConnection),
    Postgres(&'a mut sqlx::PgConnection),
}

/// Something statements can run on: a write transaction or a pooled
/// connection of either database.
pub(crate) trait Connected: Send {
    fn connection(&mut self) -> Connection<'_>;
}

impl Connected for WriteTransaction<sqlx::Sqlite> {
    fn connection(&mut self) -> Connection<'_> {
        Connection::Sqlite(&mut self.transaction)
    }
}

impl Connected for WriteTransaction<sqlx::Postgres> {
    fn connection(&mut self) -> Connection<'_> {
        Connection::Postgres(&mut self.transaction)
    }
}

impl Connected for sqlx::pool::PoolConnection<sqlx::Sqlite> {
    fn connection(&mut self) -> Connection<'_> {
        Connection::Sqlite(self)
    }
}

impl Connected for sqlx::pool::PoolConnection<sqlx::Postgres> {
    fn connection(&mut self) -> Connection<'_> {
        Connection::Postgres(self)
    }
}

/// Runs `$body` with `$connection` bound to the `&mut` connection of
/// whichever database `$connected` (a `Connected`) is on; like
/// `on_backend!`, the body is type-checked once per driver.
macro_rules! on_connection {
    ($connected:expr, $connection:ident => $body:expr) => {
        match $crate::backend::Connected::connection($connected) {
            $crate::backend::Connection::Sqlite($connection) => $body,
            $crate::backend::Connection::Postgres($connection) => $body,
        }
    };
}
pub(crate) use on_connection;

/// Begins a transaction that will write. On SQLite it takes the write lock at
/// once (`BEGIN IMMEDIATE`); a deferred transaction that later tries to write
/// fails at once with "database is locked" instead of waiting its turn.
pub(crate) trait BeginWrite {
    type Database: sqlx::Database;
    async fn begin_write(&self) -> Result<WriteTransaction<Self::Database>, sqlx::Error>;
}

/// One queue per SQLite database file for the writers of this process.
/// SQLite lets one connection write at a time, and a connection that finds
/// the lock taken polls for it, sleeping 1, 2, 5, 10… ms between tries, so
/// under load writers overtake one another and the unlucky ones wait tens of
/// milliseconds for a lock that was free most of that time. Queued here,
/// they take turns in order and at once. The busy timeout still covers
/// writers from other processes (the command line beside a running server).
fn sqlite_write_turns(pool: &SqlitePool) -> Option<Arc<tokio::sync::Mutex<()>>> {
    static TURNS: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
        LazyLock::new(Mutex::default);
    // An in-memory database has one connection, which is queue enough.
    let file = sqlite_database_file(pool)?;
    let mut turns = TURNS.lock().unwrap_or_else(PoisonError::into_inner);
    Some(Arc::clone(turns.entry(file).or_default()))
}

/// Waits for this process's turn to write to the SQLite database behind
/// `pool` (none for an in-memory one); the turn lasts while it is held.
pub(crate) async fn sqlite_write_turn(
    pool: &SqlitePool,
) -> Option<tokio::sync::OwnedMutexGuard<()>> {
    match sqlite_write_turns(pool) {
        Some(turns) => Some(turns.lock_owned().await),
        None => None,
    }
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<WriteTransaction<sqlx::Sqlite>, sqlx::Error> {
        let turn = sqlite_write_turn(self).await;
        Ok(WriteTransaction {
            transaction: self.begin_with("BEGIN IMMEDIATE").await?,
            _turn: turn,
        })
    }
}

impl BeginWrite for PgPool {
    type Database = sqlx::Postgres;
    async fn begin_write(&self) -> Result<WriteTransaction<sqlx::Postgres>, sqlx::Error> {
        Ok(WriteTransaction {
            transaction: self.begin().await?,
            _turn: None,
        })
    }
}

/// How long one statement of a report may run on PostgreSQL.
pub(crate) const REPORT_STATEMENT_TIMEOUT_MS: i64 = 15_000;

/// A read-only transaction for reports: one snapshot for all their
/// queries, which never blocks a writer (SQLite's WAL readers, a
/// PostgreSQL `READ ONLY` transaction), and on PostgreSQL a statement
/// timeout, so a heavy report cannot hold up the desk.
pub(crate) trait BeginRead {
    type Database: sqlx::Database;
    async fn begin_report(&self)
    -> Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>;
}

impl BeginRead for SqlitePool {
    type Database = sqlx::Sqlite;
    async fn begin_report(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN DEFERRED").await
    }
}

impl BeginRead for PgPool {
    type Database = sqlx::Postgres;
    async fn begin_report(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        let mut transaction = self.begin_with("BEGIN READ ONLY").await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SET LOCAL statement_timeout = {REPORT_STATEMENT_TIMEOUT_MS}"
        )))
        .execute(&mut *transaction)
        .await?;
        Ok(transaction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_have_the_same_migrations() {
        let sqlite = migration_names("sqlite");
        let postgres = migration_names("postgres");
        assert!(!sqlite.is_empty());
        assert_eq!(
            sqlite, postgres,
            "migrations/sqlite and migrations/postgres have drifted apart"
        );
    }

    #[test]
    fn the_migration_folders_list_the_same_files() {
        let list = |folder: &str| {
            let mut names: Vec<String> =
                std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(folder))
                    .unwrap()
                    .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                    .collect();
            names.sort();
            names
        };
        assert_eq!(list("migrations/sqlite"), list("migrations/postgres"));
    }
}
