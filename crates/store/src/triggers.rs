//! Triggers: rules run in the admins' order on ticket events. The store
//! keeps each one's definition as the JSON the application checked.

use ferrodesk_core::Timestamp;

use crate::backend::BeginWrite;
use crate::{Store, StoreResult, on_backend, on_backend_write};

const TRIGGER_COLUMNS: &str =
    "id, name, position, is_enabled, definition, last_agent_id, created_at, updated_at";

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TriggerRecord {
    pub id: i64,
    pub name: String,
    /// Triggers run from the lowest position up.
    pub position: i64,
    pub is_enabled: bool,
    /// What it watches for, its criteria and actions (JSON).
    pub definition: String,
    /// Where its round-robin assignment left off.
    pub last_agent_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A trigger as written (already checked).
#[derive(Debug, Clone, Copy)]
pub struct TriggerWrite<'a> {
    pub name: &'a str,
    pub is_enabled: bool,
    pub definition: &'a str,
}

impl Triggers<'_> {
    /// Every trigger, in the order they run.
    pub async fn list_triggers(&self) -> StoreResult<Vec<TriggerRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, TriggerRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {TRIGGER_COLUMNS} FROM triggers ORDER BY position, id"
            )))
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn get_trigger(&self, id: i64) -> StoreResult<Option<TriggerRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, TriggerRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {TRIGGER_COLUMNS} FROM triggers WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// A fingerprint that changes whenever any trigger does: how many
    /// there are and the sum of their change times, so an edit stamped
    /// earlier than the newest (a node whose clock is behind) still shows.
    pub async fn triggers_fingerprint(&self) -> StoreResult<(i64, i64)> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT COUNT(*), CAST(COALESCE(SUM(updated_at), 0) AS BIGINT) FROM triggers",
            )
            .fetch_one(pool)
            .await?
        }))
    }

    /// Adds a trigger after the others.
    pub async fn create_trigger(
        &self,
        trigger: &TriggerWrite<'_>,
        now: Timestamp,
    ) -> StoreResult<i64> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO triggers (name, position, is_enabled, definition, created_at, updated_at) \
                 VALUES ($1, (SELECT COALESCE(MAX(position), 0) + 1 FROM triggers), $2, $3, $4, $4) RETURNING id",
            )
            .bind(trigger.name)
            .bind(trigger.is_enabled)
            .bind(trigger.definition)
            .bind(now.millis())
            .fetch_one(pool)
            .await?
        }))
    }

    pub async fn update_trigger(
        &self,
        id: i64,
        trigger: &TriggerWrite<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query(
                "UPDATE triggers SET name = $1, is_enabled = $2, definition = $3, updated_at = $4 WHERE id = $5",
            )
            .bind(trigger.name)
            .bind(trigger.is_enabled)
            .bind(trigger.definition)
            .bind(now.millis())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
                > 0
        }))
    }

    /// Swaps a trigger with its neighbour before (`up`) or after it;
    /// `false` when it is first (or last) already, or does not exist.
    pub async fn move_trigger(&self, id: i64, up: bool, now: Timestamp) -> StoreResult<bool> {
        let triggers = self.list_triggers().await?;
        let Some(index) = triggers.iter().position(|trigger| trigger.id == id) else {
            return Ok(false);
        };
        let neighbour = if up {
            index.checked_sub(1)
        } else {
            Some(index + 1).filter(|next| *next < triggers.len())
        };
        let Some(neighbour) = neighbour.and_then(|index| triggers.get(index)) else {
            return Ok(false);
        };
        let Some(this) = triggers.get(index) else {
            return Ok(false);
        };
        // Positions may tie (equal positions run by id), so both are
        // written from their places in the list.
        let (this_position, neighbour_position) = if up {
            (
                neighbour_position_of(index - 1),
                neighbour_position_of(index),
            )
        } else {
            (
                neighbour_position_of(index + 1),
                neighbour_position_of(index),
            )
        };
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            for (position, trigger) in triggers.iter().enumerate() {
                let position = if trigger.id == this.id {
                    this_position
                } else if trigger.id == neighbour.id {
                    neighbour_position
                } else {
                    neighbour_position_of(position)
                };
                sqlx::query("UPDATE triggers SET position = $1, updated_at = $2 WHERE id = $3")
                    .bind(position)
                    .bind(now.millis())
                    .bind(trigger.id)
                    .execute(&mut *transaction)
                    .await?;
            }
            transaction.commit().await?;
        });
        Ok(true)
    }

    pub async fn delete_trigger(&self, id: i64) -> StoreResult<bool> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query("DELETE FROM triggers WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
                > 0
        }))
    }
}

/// The position of the trigger at `index` of the list (1-based).
fn neighbour_position_of(index: usize) -> i64 {
    i64::try_from(index).unwrap_or(i64::MAX - 1) + 1
}

/// The store's operations on triggers: `store.triggers()`.
#[derive(Clone, Copy)]
pub struct Triggers<'a> {
    store: &'a Store,
}

impl Store {
    pub fn triggers(&self) -> Triggers<'_> {
        Triggers { store: self }
    }
}

impl std::ops::Deref for Triggers<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
