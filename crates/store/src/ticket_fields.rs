//! Custom ticket fields defined by admins, and their values per ticket;
//! the optional priority list.

use ferrodesk_core::Timestamp;

use crate::audit::{NewAuditEntry, audited_statement};
use crate::backend::BeginWrite;
use crate::{Store, StoreError, StoreResult, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TicketFieldRecord {
    pub id: i64,
    pub name: String,
    /// `text`, `multiline`, `number`, `date`, `checkbox`, `choice` or
    /// `multiple_choice`.
    pub kind: String,
    /// The choices, one per line.
    pub choices: String,
    pub is_required: bool,
    pub visible_to_users: bool,
    pub position: i64,
}

/// A field's definition as an admin saves it.
#[derive(Debug, Clone)]
pub struct TicketFieldDefinition<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub choices: &'a str,
    pub is_required: bool,
    pub visible_to_users: bool,
    pub position: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FieldValueRecord {
    pub field_id: i64,
    pub value: String,
}

/// One entry of the priority list.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TicketPriorityRecord {
    pub id: i64,
    pub name: String,
    pub position: i64,
}

impl TicketFields<'_> {
    /// The priority list in its order.
    pub async fn list_ticket_priorities(&self) -> StoreResult<Vec<TicketPriorityRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, TicketPriorityRecord>(
                "SELECT id, name, position FROM ticket_priorities ORDER BY position, id",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// Adds a priority; a name taken whatever the case is a `Conflict`.
    pub async fn create_ticket_priority(
        &self,
        name: &str,
        position: i64,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<i64> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO ticket_priorities (name, name_normalized, position, created_at) \
                 VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(name)
            .bind(name.to_lowercase())
            .bind(position)
            .bind(now.millis())
            .fetch_one(&mut *transaction)
            .await
            .map_err(|error| StoreError::from_insert(error, "a priority with this name"))?;
            let audit = NewAuditEntry { target_id: Some(id), ..audit.clone() };
            crate::audit::insert_audit(&mut transaction, &audit, now).await?;
            transaction.commit().await?;
            Ok(id)
        })
    }

    /// Deletes a priority; tickets that had it keep none.
    pub async fn delete_ticket_priority(
        &self,
        id: i64,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(on_backend!(self, pool => audited_statement!(
            pool,
            sqlx::query("DELETE FROM ticket_priorities WHERE id = $1").bind(id),
            audit,
            now
        )))
    }

    pub async fn list_ticket_fields(&self) -> StoreResult<Vec<TicketFieldRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, TicketFieldRecord>(
                "SELECT id, name, kind, choices, is_required, visible_to_users, position FROM ticket_fields \
                 ORDER BY position, id",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn get_ticket_field(&self, id: i64) -> StoreResult<Option<TicketFieldRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, TicketFieldRecord>(
                "SELECT id, name, kind, choices, is_required, visible_to_users, position FROM ticket_fields WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    pub async fn create_ticket_field(
        &self,
        field: &TicketFieldDefinition<'_>,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<i64> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO ticket_fields (name, kind, choices, is_required, visible_to_users, position, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(field.name)
            .bind(field.kind)
            .bind(field.choices)
            .bind(field.is_required)
            .bind(field.visible_to_users)
            .bind(field.position)
            .bind(now.millis())
            .fetch_one(&mut *transaction)
            .await?;
            let audit = NewAuditEntry { target_id: Some(id), ..audit.clone() };
            crate::audit::insert_audit(&mut transaction, &audit, now).await?;
            transaction.commit().await?;
            Ok(id)
        })
    }

    /// Saves a field's definition; its kind never changes (stored values
    /// are in that kind's form).
    pub async fn update_ticket_field(
        &self,
        id: i64,
        field: &TicketFieldDefinition<'_>,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(on_backend!(self, pool => audited_statement!(
            pool,
            sqlx::query(
                "UPDATE ticket_fields SET name = $1, choices = $2, is_required = $3, visible_to_users = $4, \
                 position = $5 WHERE id = $6",
            )
            .bind(field.name)
            .bind(field.choices)
            .bind(field.is_required)
            .bind(field.visible_to_users)
            .bind(field.position)
            .bind(id),
            audit,
            now
        )))
    }

    /// Deletes a field with every ticket's value of it.
    pub async fn delete_ticket_field(
        &self,
        id: i64,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(on_backend!(self, pool => audited_statement!(
            pool,
            sqlx::query("DELETE FROM ticket_fields WHERE id = $1").bind(id),
            audit,
            now
        )))
    }

    pub async fn ticket_field_values(&self, ticket_id: i64) -> StoreResult<Vec<FieldValueRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, FieldValueRecord>(
                "SELECT field_id, value FROM ticket_field_values WHERE ticket_id = $1 ORDER BY field_id",
            )
            .bind(ticket_id)
            .fetch_all(pool)
            .await?
        }))
    }
}

/// The store's operations on custom ticket fields and priorities: `store.ticket_fields()`.
#[derive(Clone, Copy)]
pub struct TicketFields<'a> {
    store: &'a Store,
}

impl Store {
    pub fn ticket_fields(&self) -> TicketFields<'_> {
        TicketFields { store: self }
    }
}

impl std::ops::Deref for TicketFields<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
