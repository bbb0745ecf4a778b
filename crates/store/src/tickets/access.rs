//! Who may work on a ticket and reach it from outside: its manual lock,
//! and the access codes of the links mailed to its requester.

use ferrodesk_core::Timestamp;

use super::write::{NewLogEntry, TicketActor, insert_log};
use crate::backend::BeginWrite;
use crate::{StoreResult, on_backend, on_backend_write};

impl super::Tickets<'_> {
    /// Locks a ticket for an agent until a time, or unlocks it (`None`).
    pub async fn set_ticket_lock(
        &self,
        ticket_id: i64,
        lock: Option<(i64, Timestamp)>,
    ) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query("UPDATE tickets SET locked_by_id = $1, locked_until = $2 WHERE id = $3")
                .bind(lock.map(|(agent_id, _)| agent_id))
                .bind(lock.map(|(_, until)| until.millis()))
                .bind(ticket_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Revokes every access code mailed for a ticket so far, and for the
    /// tickets merged into it, with a log line.
    pub async fn revoke_ticket_access(
        &self,
        ticket_id: i64,
        actor: TicketActor<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            // Tickets merged into this one keep their own codes; they go too.
            sqlx::query("UPDATE tickets SET access_generation = access_generation + 1 WHERE id = $1 OR merged_into_id = $1")
                .bind(ticket_id)
                .execute(&mut *transaction)
                .await?;
            let entry = [NewLogEntry {
                field: "access_links",
                before: Some("mailed links".to_owned()),
                after: Some("revoked".to_owned()),
            }];
            insert_log(&mut transaction, ticket_id, actor, &entry, now).await?;
            transaction.commit().await?;
        });
        Ok(())
    }
}
