use std::path::{Path, PathBuf};
use std::str::FromStr;
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
const POSTGRES_MAX_CONNECTIONS: u32 = 16;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

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

impl Backend {
    pub async fn connect(url: &str) -> Result<Backend, ConnectError> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|error| ConnectError::InvalidUrl(error.to_string()))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            let in_memory = options.get_filename() == Path::new(":memory:");
            let pool = SqlitePoolOptions::new()
                // An in-memory database exists once per connection.
                .max_connections(if in_memory { 1 } else { SQLITE_MAX_CONNECTIONS })
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(ConnectError::Connect)?;
            Ok(Backend::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)
                .map_err(|error| ConnectError::InvalidUrl(error.to_string()))?
                .application_name("ferrodesk");
            let pool = PgPoolOptions::new()
                .max_connections(POSTGRES_MAX_CONNECTIONS)
                .acquire_timeout(ACQUIRE_TIMEOUT)
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

/// Begins a transaction that will write. On SQLite it takes the write lock at
/// once (`BEGIN IMMEDIATE`); a deferred transaction that later tries to write
/// fails at once with "database is locked" instead of waiting its turn.
pub(crate) trait BeginWrite {
    type Database: sqlx::Database;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>;
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Database = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
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
