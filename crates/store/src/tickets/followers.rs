//! Agents following a ticket: it shows in their "followed" view, and in
//! assign-only departments following is what lets them see it.

use crate::{StoreResult, on_backend, on_backend_write};

impl super::Tickets<'_> {
    pub async fn ticket_followers(&self, ticket_id: i64) -> StoreResult<Vec<i64>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT person_id FROM ticket_followers WHERE ticket_id = $1 ORDER BY person_id")
                .bind(ticket_id)
                .fetch_all(pool)
                .await?
        }))
    }

    pub async fn is_following(&self, ticket_id: i64, person_id: i64) -> StoreResult<bool> {
        let found: Option<i64> = on_backend!(self, pool => {
            sqlx::query_scalar("SELECT person_id FROM ticket_followers WHERE ticket_id = $1 AND person_id = $2")
                .bind(ticket_id)
                .bind(person_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(found.is_some())
    }

    pub async fn set_following(
        &self,
        ticket_id: i64,
        person_id: i64,
        following: bool,
    ) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            if following {
                sqlx::query(
                    "INSERT INTO ticket_followers (ticket_id, person_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(ticket_id)
                .bind(person_id)
                .execute(pool)
                .await?;
            } else {
                sqlx::query("DELETE FROM ticket_followers WHERE ticket_id = $1 AND person_id = $2")
                    .bind(ticket_id)
                    .bind(person_id)
                    .execute(pool)
                    .await?;
            }
        });
        // What an agent with assign-only access sees includes what they
        // follow.
        self.note_ticket_write();
        Ok(())
    }
}
