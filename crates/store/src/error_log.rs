use ferrodesk_core::Timestamp;

use crate::{Store, StoreResult, on_backend, on_backend_write};

const MAX_PATH_LENGTH: usize = 2000;
const MAX_MESSAGE_LENGTH: usize = 8000;

pub struct NewErrorLogEntry<'a> {
    pub request_id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub message: &'a str,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ErrorLogEntry {
    pub id: i64,
    pub request_id: String,
    pub occurred_at: i64,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub message: String,
}

fn clip(text: &str, limit: usize) -> &str {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => &text[..cut],
        None => text,
    }
}

impl ErrorLog<'_> {
    pub async fn record_error(
        &self,
        entry: &NewErrorLogEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query(
                "INSERT INTO error_log (request_id, occurred_at, method, path, status, message) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(entry.request_id)
            .bind(now.millis())
            .bind(clip(entry.method, 16))
            .bind(clip(entry.path, MAX_PATH_LENGTH))
            .bind(i64::from(entry.status))
            .bind(clip(entry.message, MAX_MESSAGE_LENGTH))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The newest errors first.
    pub async fn recent_errors(&self, limit: i64) -> StoreResult<Vec<ErrorLogEntry>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ErrorLogEntry>(
                "SELECT id, request_id, occurred_at, method, path, status, message \
                 FROM error_log ORDER BY occurred_at DESC, id DESC LIMIT +$1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }
}

/// The store's operations on the error log: `store.error_log()`.
#[derive(Clone, Copy)]
pub struct ErrorLog<'a> {
    store: &'a Store,
}

impl Store {
    pub fn error_log(&self) -> ErrorLog<'_> {
        ErrorLog { store: self }
    }
}

impl std::ops::Deref for ErrorLog<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
