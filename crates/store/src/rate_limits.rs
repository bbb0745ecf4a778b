use std::time::Duration;

use ferrodesk_core::Timestamp;

use crate::{Store, StoreResult, on_backend_write};

impl RateLimits<'_> {
    /// Counts one hit against `key` in a fixed window and answers whether it
    /// is within `limit`. Counters live in the database, so every node
    /// shares them.
    pub async fn hit_rate_limit(
        &self,
        key: &str,
        window: Duration,
        limit: i64,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let window_opened_before = now.minus(window);
        let hits: i64 = on_backend_write!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 1) \
                 ON CONFLICT (key) DO UPDATE SET \
                     hits = CASE WHEN rate_limits.window_start <= $3 THEN 1 ELSE rate_limits.hits + 1 END, \
                     window_start = CASE WHEN rate_limits.window_start <= $3 THEN $2 ELSE rate_limits.window_start END \
                 RETURNING hits",
            )
            .bind(key)
            .bind(now.millis())
            .bind(window_opened_before.millis())
            .fetch_one(pool)
            .await?
        });
        Ok(hits <= limit)
    }

    /// Claims `amount` more of the window that opened at `window_start`
    /// (windows every node agrees on) for `key`, in one atomic update;
    /// answers the window's claims so far, this one included. A claim
    /// for a window older than the one counted gets that one's total, so
    /// a node whose clock is behind is not given a fresh window.
    pub async fn claim_allowance(
        &self,
        key: &str,
        window_start: i64,
        amount: i64,
    ) -> StoreResult<i64> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET \
                     hits = CASE WHEN rate_limits.window_start = $2 THEN rate_limits.hits + $3 \
                         WHEN rate_limits.window_start < $2 THEN $3 ELSE rate_limits.hits END, \
                     window_start = CASE WHEN rate_limits.window_start < $2 THEN $2 \
                         ELSE rate_limits.window_start END \
                 RETURNING hits",
            )
            .bind(key)
            .bind(window_start)
            .bind(amount)
            .fetch_one(pool)
            .await?
        }))
    }

    /// Removes counters whose window opened before `before`.
    pub async fn delete_rate_limits_before(&self, before: Timestamp) -> StoreResult<u64> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
                .bind(before.millis())
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}

/// The store's operations on rate-limit counters: `store.rate_limits()`.
#[derive(Clone, Copy)]
pub struct RateLimits<'a> {
    store: &'a Store,
}

impl Store {
    pub fn rate_limits(&self) -> RateLimits<'_> {
        RateLimits { store: self }
    }
}

impl std::ops::Deref for RateLimits<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
