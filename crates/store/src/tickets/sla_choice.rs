//! The SLA an agent chose for a ticket, over the one the SLAs' criteria
//! would pick.

use ferrodesk_core::Timestamp;

use super::write::{NewLogEntry, TicketActor};
use crate::backend::BeginWrite;
use crate::{StoreResult, on_backend};

impl super::Tickets<'_> {
    /// The SLA an agent chose for the ticket, if one did.
    pub async fn chosen_sla(&self, ticket_id: i64) -> StoreResult<Option<i64>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT sla_id FROM ticket_sla_choices WHERE ticket_id = $1")
                .bind(ticket_id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Sets (`Some`) or clears the agent's choice, with its log line and
    /// the event whose rules job puts the SLA's targets on the ticket, in
    /// one transaction.
    pub async fn choose_sla(
        &self,
        ticket_id: i64,
        sla_id: Option<i64>,
        actor: TicketActor<'_>,
        log: &[NewLogEntry<'_>],
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            match sla_id {
                Some(sla_id) => {
                    sqlx::query(
                        "INSERT INTO ticket_sla_choices (ticket_id, sla_id, chosen_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (ticket_id) DO UPDATE SET sla_id = excluded.sla_id, chosen_at = excluded.chosen_at",
                    )
                    .bind(ticket_id)
                    .bind(sla_id)
                    .bind(now.millis())
                    .execute(&mut *transaction)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM ticket_sla_choices WHERE ticket_id = $1")
                        .bind(ticket_id)
                        .execute(&mut *transaction)
                        .await?;
                }
            }
            super::write::record_side_change(&mut transaction, ticket_id, actor, log, "agent", now)
                .await?;
            transaction.commit().await?;
        });
        self.note_ticket_write();
        self.note_ticket_event();
        Ok(())
    }
}
