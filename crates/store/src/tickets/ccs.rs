//! The users copied on a ticket's replies.

use ferrodesk_core::Timestamp;

use super::write::{NewLogEntry, TicketActor, insert_log};
use crate::backend::BeginWrite;
use crate::{StoreResult, on_backend};

impl super::Tickets<'_> {
    /// The users copied on a ticket's replies, by name.
    pub async fn ticket_ccs(&self, ticket_id: i64) -> StoreResult<Vec<crate::MemberRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, crate::MemberRecord>(
                "SELECT p.id, p.name, p.email FROM ticket_ccs c JOIN people p ON p.id = c.person_id \
                 WHERE c.ticket_id = $1 ORDER BY lower(p.name), p.id",
            )
            .bind(ticket_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Copies a person on a ticket's replies, or stops copying them, with a
    /// `cc` log line when it changed anything.
    pub async fn set_ticket_cc(
        &self,
        ticket_id: i64,
        person: (i64, &str),
        copied: bool,
        actor: TicketActor<'_>,
        now: Timestamp,
    ) -> StoreResult<()> {
        let (person_id, label) = person;
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let changed = if copied {
                sqlx::query("INSERT INTO ticket_ccs (ticket_id, person_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            } else {
                sqlx::query("DELETE FROM ticket_ccs WHERE ticket_id = $1 AND person_id = $2")
            }
            .bind(ticket_id)
            .bind(person_id)
            .execute(&mut *transaction)
            .await?
            .rows_affected() > 0;
            if changed {
                let entry = [NewLogEntry {
                    field: "cc",
                    before: (!copied).then(|| label.to_owned()),
                    after: copied.then(|| label.to_owned()),
                }];
                insert_log(&mut transaction, ticket_id, actor, &entry, now).await?;
                sqlx::query("UPDATE tickets SET updated_at = $2 WHERE id = $1")
                    .bind(ticket_id)
                    .bind(now.millis())
                    .execute(&mut *transaction)
                    .await?;
                transaction.commit().await?;
            }
        });
        Ok(())
    }

    /// Whether a person is copied on a ticket.
    pub async fn is_copied(&self, ticket_id: i64, person_id: i64) -> StoreResult<bool> {
        let found: Option<i64> = on_backend!(self, pool => {
            sqlx::query_scalar("SELECT person_id FROM ticket_ccs WHERE ticket_id = $1 AND person_id = $2")
                .bind(ticket_id)
                .bind(person_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(found.is_some())
    }
}
