//! Snippets (canned replies): each agent's own and the shared ones, with
//! how often each was used.

use ferrodesk_core::Timestamp;

use crate::audit::{NewAuditEntry, insert_audit};
use crate::backend::BeginWrite;
use crate::{Store, StoreError, StoreResult, on_backend, on_backend_write};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SnippetRecord {
    pub id: i64,
    /// The agent it belongs to; `None` when shared with every agent.
    pub owner_id: Option<i64>,
    pub category: String,
    pub title: String,
    pub shortcut: String,
    pub body: String,
    pub usage_count: i64,
    pub last_used_at: Option<i64>,
    pub updated_at: i64,
}

/// A snippet as written, before it has an id.
#[derive(Debug, Clone, Copy)]
pub struct SnippetWrite<'a> {
    pub owner_id: Option<i64>,
    pub category: &'a str,
    pub title: &'a str,
    pub shortcut: &'a str,
    pub body: &'a str,
}

/// The columns of a `SnippetRecord`.
macro_rules! snippet_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, owner_id, category, title, shortcut, body, usage_count, last_used_at, updated_at \
             FROM snippets ",
            $rest
        )
    };
}

/// What names a taken shortcut in a conflict.
const TAKEN: &str = "a snippet with this shortcut";

impl Snippets<'_> {
    /// The snippets `agent_id` may use: theirs and the shared ones, by
    /// category, then title.
    pub async fn usable_snippets(&self, agent_id: i64) -> StoreResult<Vec<SnippetRecord>> {
        let sql = snippet_select!(
            "WHERE owner_id IS NULL OR owner_id = $1 ORDER BY lower(category), lower(title), id"
        );
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, SnippetRecord>(sql)
                .bind(agent_id)
                .fetch_all(pool)
                .await?
        }))
    }

    pub async fn get_snippet(&self, id: i64) -> StoreResult<Option<SnippetRecord>> {
        let sql = snippet_select!("WHERE id = $1");
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, SnippetRecord>(sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Adds a snippet; a shared one with its audit entry (`audit`).
    pub async fn create_snippet(
        &self,
        snippet: &SnippetWrite<'_>,
        audit: Option<&NewAuditEntry<'_>>,
        now: Timestamp,
    ) -> StoreResult<i64> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO snippets (owner_id, category, title, shortcut, body, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
            )
            .bind(snippet.owner_id)
            .bind(snippet.category)
            .bind(snippet.title)
            .bind(snippet.shortcut)
            .bind(snippet.body)
            .bind(now.millis())
            .fetch_one(&mut *transaction)
            .await
            .map_err(|error| StoreError::from_insert(error, TAKEN))?;
            if let Some(audit) = audit {
                let audit = NewAuditEntry { target_id: Some(id), ..audit.clone() };
                insert_audit(&mut transaction, &audit, now).await?;
            }
            transaction.commit().await?;
            Ok(id)
        })
    }

    /// Rewrites snippet `id` (its owner stays); false when it is gone.
    pub async fn update_snippet(
        &self,
        id: i64,
        snippet: &SnippetWrite<'_>,
        audit: Option<&NewAuditEntry<'_>>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let changed = sqlx::query(
                "UPDATE snippets SET category = $1, title = $2, shortcut = $3, body = $4, updated_at = $5 \
                 WHERE id = $6",
            )
            .bind(snippet.category)
            .bind(snippet.title)
            .bind(snippet.shortcut)
            .bind(snippet.body)
            .bind(now.millis())
            .bind(id)
            .execute(&mut *transaction)
            .await
            .map_err(|error| StoreError::from_insert(error, TAKEN))?
            .rows_affected()
                > 0;
            if changed && let Some(audit) = audit {
                insert_audit(&mut transaction, audit, now).await?;
            }
            transaction.commit().await?;
            Ok(changed)
        })
    }

    /// Deletes snippet `id`; false when it was gone already.
    pub async fn delete_snippet(
        &self,
        id: i64,
        audit: Option<&NewAuditEntry<'_>>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let changed = sqlx::query("DELETE FROM snippets WHERE id = $1")
                .bind(id)
                .execute(&mut *transaction)
                .await?
                .rows_affected()
                > 0;
            if changed && let Some(audit) = audit {
                insert_audit(&mut transaction, audit, now).await?;
            }
            transaction.commit().await?;
            Ok(changed)
        })
    }

    /// Counts one use of snippet `id`.
    pub async fn count_snippet_use(&self, id: i64, now: Timestamp) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query(
                "UPDATE snippets SET usage_count = usage_count + 1, last_used_at = $1 WHERE id = $2",
            )
            .bind(now.millis())
            .bind(id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}

/// The store's operations on snippets: `store.snippets()`.
#[derive(Clone, Copy)]
pub struct Snippets<'a> {
    store: &'a Store,
}

impl Store {
    pub fn snippets(&self) -> Snippets<'_> {
        Snippets { store: self }
    }
}

impl std::ops::Deref for Snippets<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
