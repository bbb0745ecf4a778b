//! Satisfaction ratings: one per ticket, written with its log line and the
//! event that lets the triggers answer it.

use ferrodesk_core::Timestamp;

use super::write::{NewLogEntry, TicketActor};
use crate::backend::BeginWrite;
use crate::{StoreResult, on_backend};

/// A ticket's rating.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RatingRecord {
    pub ticket_id: i64,
    /// `good` or `bad`.
    pub rating: String,
    pub comment: String,
    pub rated_at: i64,
}

impl super::Tickets<'_> {
    /// The ticket's rating, if its requester gave one.
    pub async fn ticket_rating(&self, ticket_id: i64) -> StoreResult<Option<RatingRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, RatingRecord>(
                "SELECT ticket_id, rating, comment, rated_at FROM ticket_ratings WHERE ticket_id = $1",
            )
            .bind(ticket_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Records a rating, once per ticket: `false` when the ticket has one
    /// already (nothing is written then).
    pub async fn rate_ticket(
        &self,
        rating: &RatingRecord,
        actor: TicketActor<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let log = [NewLogEntry {
            field: "satisfaction",
            before: None,
            after: Some(rating.rating.clone()),
        }];
        let written = on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let inserted = sqlx::query(
                "INSERT INTO ticket_ratings (ticket_id, rating, comment, person_id, rated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ticket_id) DO NOTHING",
            )
            .bind(rating.ticket_id)
            .bind(&rating.rating)
            .bind(&rating.comment)
            .bind(actor.id)
            .bind(now.millis())
            .execute(&mut *transaction)
            .await?
            .rows_affected();
            if inserted != 1 {
                transaction.rollback().await?;
                false
            } else {
                super::write::record_side_change(
                    &mut transaction,
                    rating.ticket_id,
                    actor,
                    &log,
                    "web",
                    now,
                )
                .await?;
                transaction.commit().await?;
                true
            }
        });
        if written {
            self.note_ticket_write();
            self.note_ticket_event();
        }
        Ok(written)
    }
}
