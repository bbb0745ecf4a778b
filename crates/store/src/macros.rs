//! Macros: named bundles of ticket actions, each agent's own and the
//! shared ones, with how often each was applied. The actions are stored
//! as the app's JSON.

use ferrodesk_core::Timestamp;

use crate::audit::{NewAuditEntry, insert_audit};
use crate::backend::BeginWrite;
use crate::{Store, StoreResult, on_backend, on_backend_write};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MacroRecord {
    pub id: i64,
    /// The agent it belongs to; `None` when shared with every agent.
    pub owner_id: Option<i64>,
    pub title: String,
    /// The actions, as the app wrote them.
    pub actions: String,
    pub usage_count: i64,
    pub updated_at: i64,
}

/// A macro as written, before it has an id.
#[derive(Debug, Clone, Copy)]
pub struct MacroWrite<'a> {
    pub owner_id: Option<i64>,
    pub title: &'a str,
    pub actions: &'a str,
}

impl Macros<'_> {
    /// The macros `agent_id` may apply: theirs and the shared ones, by title.
    pub async fn usable_macros(&self, agent_id: i64) -> StoreResult<Vec<MacroRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, MacroRecord>(
                "SELECT id, owner_id, title, actions, usage_count, updated_at FROM macros \
                 WHERE owner_id IS NULL OR owner_id = $1 ORDER BY lower(title), id",
            )
            .bind(agent_id)
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn get_macro(&self, id: i64) -> StoreResult<Option<MacroRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, MacroRecord>(
                "SELECT id, owner_id, title, actions, usage_count, updated_at FROM macros WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Adds a macro; a shared one with its audit entry.
    pub async fn create_macro(
        &self,
        written: &MacroWrite<'_>,
        audit: Option<&NewAuditEntry<'_>>,
        now: Timestamp,
    ) -> StoreResult<i64> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO macros (owner_id, title, actions, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) RETURNING id",
            )
            .bind(written.owner_id)
            .bind(written.title)
            .bind(written.actions)
            .bind(now.millis())
            .fetch_one(&mut *transaction)
            .await?;
            if let Some(audit) = audit {
                let audit = NewAuditEntry { target_id: Some(id), ..audit.clone() };
                insert_audit(&mut transaction, &audit, now).await?;
            }
            transaction.commit().await?;
            self.store.directory_changed();
            Ok(id)
        })
    }

    /// Rewrites macro `id` (its owner stays); false when it is gone.
    pub async fn update_macro(
        &self,
        id: i64,
        written: &MacroWrite<'_>,
        audit: Option<&NewAuditEntry<'_>>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let changed = sqlx::query(
                "UPDATE macros SET title = $1, actions = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(written.title)
            .bind(written.actions)
            .bind(now.millis())
            .bind(id)
            .execute(&mut *transaction)
            .await?
            .rows_affected()
                > 0;
            if changed && let Some(audit) = audit {
                insert_audit(&mut transaction, audit, now).await?;
            }
            transaction.commit().await?;
            self.store.directory_changed();
            Ok(changed)
        })
    }

    /// Deletes macro `id`; false when it was gone already.
    pub async fn delete_macro(
        &self,
        id: i64,
        audit: Option<&NewAuditEntry<'_>>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let changed = sqlx::query("DELETE FROM macros WHERE id = $1")
                .bind(id)
                .execute(&mut *transaction)
                .await?
                .rows_affected()
                > 0;
            if changed && let Some(audit) = audit {
                insert_audit(&mut transaction, audit, now).await?;
            }
            transaction.commit().await?;
            self.store.directory_changed();
            Ok(changed)
        })
    }

    /// Counts one application of macro `id`.
    pub async fn count_macro_use(&self, id: i64) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query("UPDATE macros SET usage_count = usage_count + 1 WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}

/// The store's operations on macros: `store.macros()`.
#[derive(Clone, Copy)]
pub struct Macros<'a> {
    store: &'a Store,
}

impl Store {
    pub fn macros(&self) -> Macros<'_> {
        Macros { store: self }
    }
}

impl std::ops::Deref for Macros<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
