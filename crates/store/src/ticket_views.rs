//! Saved ticket lists ("views"): an agent's own, or shared with teams.

use ferrodesk_core::Timestamp;

use crate::{Store, StoreResult, on_backend, on_backend_write};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TicketViewRecord {
    pub id: i64,
    pub owner_id: i64,
    pub title: String,
    /// The ticket list's own query string (its filters).
    pub filters: String,
    /// The column keys shown, comma-separated.
    pub columns: String,
    /// The teams it is shared with, as a JSON array of ids.
    pub team_ids: String,
}

/// A view as written.
#[derive(Debug, Clone, Copy)]
pub struct TicketViewWrite<'a> {
    pub title: &'a str,
    pub filters: &'a str,
    pub columns: &'a str,
    pub team_ids: &'a str,
}

impl TicketViews<'_> {
    /// `agent_id`'s own views and every view shared with some team (the
    /// caller keeps those of the agent's teams), by title.
    pub async fn views_for(&self, agent_id: i64) -> StoreResult<Vec<TicketViewRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, TicketViewRecord>(
                "SELECT id, owner_id, title, filters, columns, team_ids FROM ticket_views \
                 WHERE owner_id = $1 OR team_ids <> '[]' ORDER BY lower(title), id",
            )
            .bind(agent_id)
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn get_view(&self, id: i64) -> StoreResult<Option<TicketViewRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, TicketViewRecord>(
                "SELECT id, owner_id, title, filters, columns, team_ids FROM ticket_views WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    pub async fn create_view(
        &self,
        owner_id: i64,
        view: &TicketViewWrite<'_>,
        now: Timestamp,
    ) -> StoreResult<i64> {
        let written = on_backend_write!(self, pool => {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO ticket_views (owner_id, title, filters, columns, team_ids, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
            )
            .bind(owner_id)
            .bind(view.title)
            .bind(view.filters)
            .bind(view.columns)
            .bind(view.team_ids)
            .bind(now.millis())
            .fetch_one(pool)
            .await?
        });
        self.store.directory_changed();
        Ok(written)
    }

    pub async fn update_view(
        &self,
        id: i64,
        view: &TicketViewWrite<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let written = on_backend_write!(self, pool => {
            sqlx::query(
                "UPDATE ticket_views SET title = $1, filters = $2, columns = $3, team_ids = $4, updated_at = $5 \
                 WHERE id = $6",
            )
            .bind(view.title)
            .bind(view.filters)
            .bind(view.columns)
            .bind(view.team_ids)
            .bind(now.millis())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
                > 0
        });
        self.store.directory_changed();
        Ok(written)
    }

    pub async fn delete_view(&self, id: i64) -> StoreResult<bool> {
        let written = on_backend_write!(self, pool => {
            sqlx::query("DELETE FROM ticket_views WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
                > 0
        });
        self.store.directory_changed();
        Ok(written)
    }
}

/// The store's operations on saved views: `store.ticket_views()`.
#[derive(Clone, Copy)]
pub struct TicketViews<'a> {
    store: &'a Store,
}

impl Store {
    pub fn ticket_views(&self) -> TicketViews<'_> {
        TicketViews { store: self }
    }
}

impl std::ops::Deref for TicketViews<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
