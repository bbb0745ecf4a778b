//! Merging one ticket into another.

use ferrodesk_core::Timestamp;

use super::TicketRecord;
use super::write::{NewLogEntry, TicketActor, insert_log};
use crate::backend::BeginWrite;
use crate::{StoreResult, on_backend};

impl super::Tickets<'_> {
    /// Merges `source` into `target` in one transaction: messages (with
    /// their attachments), log, labels, followers, CCs and field values the
    /// target lacks move over; the source is hidden as deleted and points
    /// at the target, as do tickets merged into it before.
    pub async fn merge_tickets(
        &self,
        source: &TicketRecord,
        target: &TicketRecord,
        actor: TicketActor<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            for statement in [
                "UPDATE ticket_messages SET ticket_id = $2 WHERE ticket_id = $1",
                "UPDATE ticket_log SET ticket_id = $2 WHERE ticket_id = $1",
                "INSERT INTO ticket_labels (ticket_id, label) SELECT $2, label FROM ticket_labels WHERE ticket_id = $1 \
                 ON CONFLICT DO NOTHING",
                "INSERT INTO ticket_followers (ticket_id, person_id) SELECT $2, person_id FROM ticket_followers \
                 WHERE ticket_id = $1 ON CONFLICT DO NOTHING",
                "INSERT INTO ticket_ccs (ticket_id, person_id) SELECT $2, person_id FROM ticket_ccs \
                 WHERE ticket_id = $1 ON CONFLICT DO NOTHING",
                "INSERT INTO ticket_field_values (ticket_id, field_id, value) SELECT $2, field_id, value \
                 FROM ticket_field_values WHERE ticket_id = $1 ON CONFLICT DO NOTHING",
                "UPDATE tickets SET merged_into_id = $2 WHERE merged_into_id = $1",
            ] {
                sqlx::query(statement)
                    .bind(source.id)
                    .bind(target.id)
                    .execute(&mut *transaction)
                    .await?;
            }
            sqlx::query(
                "UPDATE tickets SET status = 'deleted', merged_into_id = $2, updated_at = $3, \
                     locked_by_id = NULL, locked_until = NULL WHERE id = $1",
            )
            .bind(source.id)
            .bind(target.id)
            .bind(now.millis())
            .execute(&mut *transaction)
            .await?;
            sqlx::query("UPDATE tickets SET updated_at = $2 WHERE id = $1")
                .bind(target.id)
                .bind(now.millis())
                .execute(&mut *transaction)
                .await?;
            let into_target = [NewLogEntry {
                field: "merged",
                before: Some(format!("{} {}", source.reference, source.subject)),
                after: Some(target.reference.to_string()),
            }];
            insert_log(&mut transaction, target.id, actor, &into_target, now).await?;
            // The target now holds the source's messages; the source none.
            super::reindex(&mut transaction, super::Reindex::Ticket(target.id)).await?;
            super::reindex(&mut transaction, super::Reindex::Ticket(source.id)).await?;
            for ticket in [source.id, target.id] {
                super::events::insert_event(&mut transaction, ticket, super::TicketEventKind::Merged, actor.id, None, now).await?;
            }
            transaction.commit().await?;
            self.note_ticket_write();
            self.note_ticket_event();
        });
        Ok(())
    }
}
