//! Webhooks and the log of their deliveries.

use ferrodesk_core::Timestamp;

use crate::{Store, StoreResult, on_backend, on_backend_write};

const WEBHOOK_COLUMNS: &str =
    "id, name, url, events, secret_sealed, is_enabled, created_at, updated_at";
const DELIVERY_COLUMNS: &str = "id, webhook_id, delivery_key, event, payload, state, attempts, \
    response_status, latency_ms, response_excerpt, error, created_at, finished_at";

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WebhookRecord {
    pub id: i64,
    pub name: String,
    pub url: String,
    /// Event keys, comma-separated.
    pub events: String,
    /// The signing secret sealed with the instance key; empty for none.
    pub secret_sealed: String,
    pub is_enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A webhook as written (already checked); `secret_sealed: None` keeps
/// the stored secret.
#[derive(Debug, Clone, Copy)]
pub struct WebhookWrite<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub events: &'a str,
    pub secret_sealed: Option<&'a str>,
    pub is_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryRecord {
    pub id: i64,
    pub webhook_id: i64,
    pub delivery_key: String,
    pub event: String,
    pub payload: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub response_status: Option<i64>,
    pub latency_ms: Option<i64>,
    pub response_excerpt: String,
    pub error: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// One attempt's outcome.
#[derive(Debug, Clone)]
pub struct DeliveryAttempt<'a> {
    /// `pending` (to be tried again), `delivered` or `failed`.
    pub state: &'a str,
    pub response_status: Option<i64>,
    pub latency_ms: Option<i64>,
    pub response_excerpt: &'a str,
    pub error: &'a str,
}

impl Webhooks<'_> {
    pub async fn list_webhooks(&self) -> StoreResult<Vec<WebhookRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, WebhookRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY lower(name), id"
            )))
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn get_webhook(&self, id: i64) -> StoreResult<Option<WebhookRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, WebhookRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    pub async fn create_webhook(
        &self,
        hook: &WebhookWrite<'_>,
        now: Timestamp,
    ) -> StoreResult<i64> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO webhooks (name, url, events, secret_sealed, is_enabled, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
            )
            .bind(hook.name)
            .bind(hook.url)
            .bind(hook.events)
            .bind(hook.secret_sealed.unwrap_or(""))
            .bind(hook.is_enabled)
            .bind(now.millis())
            .fetch_one(pool)
            .await?
        }))
    }

    pub async fn update_webhook(
        &self,
        id: i64,
        hook: &WebhookWrite<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query(
                "UPDATE webhooks SET name = $1, url = $2, events = $3, \
                 secret_sealed = COALESCE($4, secret_sealed), is_enabled = $5, updated_at = $6 WHERE id = $7",
            )
            .bind(hook.name)
            .bind(hook.url)
            .bind(hook.events)
            .bind(hook.secret_sealed)
            .bind(hook.is_enabled)
            .bind(now.millis())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
                > 0
        }))
    }

    pub async fn delete_webhook(&self, id: i64) -> StoreResult<bool> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query("DELETE FROM webhooks WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
                > 0
        }))
    }

    /// Records a delivery to be made.
    pub async fn create_delivery(
        &self,
        webhook_id: i64,
        delivery_key: &str,
        event: &str,
        payload: &str,
        now: Timestamp,
    ) -> StoreResult<i64> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO webhook_deliveries (webhook_id, delivery_key, event, payload, state, created_at) \
                 VALUES ($1, $2, $3, $4, 'pending', $5) RETURNING id",
            )
            .bind(webhook_id)
            .bind(delivery_key)
            .bind(event)
            .bind(payload)
            .bind(now.millis())
            .fetch_one(pool)
            .await?
        }))
    }

    pub async fn get_delivery(&self, id: i64) -> StoreResult<Option<DeliveryRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, DeliveryRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// A webhook's newest deliveries, newest first.
    pub async fn recent_deliveries(
        &self,
        webhook_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, DeliveryRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 \
                 ORDER BY id DESC LIMIT +$2"
            )))
            .bind(webhook_id)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Forgets deliveries that finished before `cutoff`; answers how many.
    pub async fn delete_deliveries_finished_before(&self, cutoff: Timestamp) -> StoreResult<u64> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query("DELETE FROM webhook_deliveries WHERE finished_at < $1")
                .bind(cutoff.millis())
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    /// Records an attempt: one more attempt, its answer, and the state.
    pub async fn record_attempt(
        &self,
        id: i64,
        attempt: &DeliveryAttempt<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        let finished = (attempt.state != "pending").then_some(now.millis());
        on_backend_write!(self, pool => {
            sqlx::query(
                "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, response_status = $2, \
                 latency_ms = $3, response_excerpt = $4, error = $5, finished_at = $6 WHERE id = $7",
            )
            .bind(attempt.state)
            .bind(attempt.response_status)
            .bind(attempt.latency_ms)
            .bind(attempt.response_excerpt)
            .bind(attempt.error)
            .bind(finished)
            .bind(id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}

/// The store's operations on webhooks: `store.webhooks()`.
#[derive(Clone, Copy)]
pub struct Webhooks<'a> {
    store: &'a Store,
}

impl Store {
    pub fn webhooks(&self) -> Webhooks<'_> {
        Webhooks { store: self }
    }
}

impl std::ops::Deref for Webhooks<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
