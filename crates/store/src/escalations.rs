//! Escalations (time-based rules) and their timers: one per ticket and
//! escalation whose clock runs, with the time it is due. The scheduler
//! reads only the due ones (a partial index on `due_at`), turns each into
//! a job in the transaction that marks it queued, and the job marks it
//! done in the transaction of what the escalation did: a timer fires
//! once, on one node, however many there are.

use ferrodesk_core::Timestamp;

use crate::backend::{BeginWrite, Connected, on_connection};
use crate::{Backend, Store, StoreResult, on_backend, on_backend_write};

/// The kind of job that runs one due escalation on one ticket.
pub const ESCALATION_JOB_KIND: &str = "escalation";
/// The kind of job that starts the timers of an escalation on the tickets
/// already in its state (after it is added or changed).
pub const ESCALATION_BACKFILL_JOB_KIND: &str = "escalation_backfill";

const ESCALATION_COLUMNS: &str =
    "id, name, position, is_enabled, definition, created_at, updated_at";

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EscalationRecord {
    pub id: i64,
    pub name: String,
    pub position: i64,
    pub is_enabled: bool,
    /// The clock, its length, criteria and actions (JSON).
    pub definition: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An escalation as written (already checked).
#[derive(Debug, Clone, Copy)]
pub struct EscalationWrite<'a> {
    pub name: &'a str,
    pub is_enabled: bool,
    pub definition: &'a str,
}

/// What a ticket's timer for an escalation should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerChange {
    /// The clock runs from `basis_at` and is due at `due_at`; a timer with
    /// another basis starts again, one with this basis stays as it is.
    Run {
        escalation_id: i64,
        basis_at: i64,
        due_at: i64,
    },
    /// The clock does not run (the ticket left the state).
    Stop { escalation_id: i64 },
}

/// A ticket's timer as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TimerRecord {
    pub escalation_id: i64,
    pub ticket_id: i64,
    pub basis_at: i64,
    pub due_at: i64,
    pub state: String,
}

/// A ticket as the timers need it: its status and the times clocks
/// start from.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TicketClock {
    pub id: i64,
    pub status: String,
    pub created_at: i64,
    /// When it entered its status (its last change for older tickets).
    pub status_since: i64,
}

/// Writes timer changes for one ticket on the caller's transaction.
pub(crate) async fn write_timers(
    connected: &mut impl Connected,
    ticket_id: i64,
    changes: &[TimerChange],
) -> Result<(), sqlx::Error> {
    on_connection!(connected, connection => {
        for change in changes {
            match *change {
                TimerChange::Run { escalation_id, basis_at, due_at } => {
                    sqlx::query(
                        "INSERT INTO escalation_timers (escalation_id, ticket_id, basis_at, due_at, state) \
                         VALUES ($1, $2, $3, $4, 'waiting') \
                         ON CONFLICT (escalation_id, ticket_id) DO UPDATE \
                         SET basis_at = excluded.basis_at, due_at = excluded.due_at, state = 'waiting' \
                         WHERE escalation_timers.basis_at <> excluded.basis_at \
                            OR (escalation_timers.state = 'waiting' AND escalation_timers.due_at <> excluded.due_at)",
                    )
                    .bind(escalation_id)
                    .bind(ticket_id)
                    .bind(basis_at)
                    .bind(due_at)
                    .execute(&mut *connection)
                    .await?;
                }
                TimerChange::Stop { escalation_id } => {
                    sqlx::query("DELETE FROM escalation_timers WHERE escalation_id = $1 AND ticket_id = $2")
                        .bind(escalation_id)
                        .bind(ticket_id)
                        .execute(&mut *connection)
                        .await?;
                }
            }
        }
    });
    Ok(())
}

impl Escalations<'_> {
    pub async fn list_escalations(&self) -> StoreResult<Vec<EscalationRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, EscalationRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {ESCALATION_COLUMNS} FROM escalations ORDER BY position, id"
            )))
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn get_escalation(&self, id: i64) -> StoreResult<Option<EscalationRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, EscalationRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {ESCALATION_COLUMNS} FROM escalations WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Changes whenever any escalation does (count, sum of change times:
    /// an edit stamped earlier than the newest still shows).
    pub async fn escalations_fingerprint(&self) -> StoreResult<(i64, i64)> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT COUNT(*), CAST(COALESCE(SUM(updated_at), 0) AS BIGINT) FROM escalations",
            )
            .fetch_one(pool)
            .await?
        }))
    }

    /// Adds an escalation and queues the job that starts its timers.
    pub async fn create_escalation(
        &self,
        escalation: &EscalationWrite<'_>,
        now: Timestamp,
    ) -> StoreResult<i64> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO escalations (name, position, is_enabled, definition, created_at, updated_at) \
                 VALUES ($1, (SELECT COALESCE(MAX(position), 0) + 1 FROM escalations), $2, $3, $4, $4) RETURNING id",
            )
            .bind(escalation.name)
            .bind(escalation.is_enabled)
            .bind(escalation.definition)
            .bind(now.millis())
            .fetch_one(&mut *transaction)
            .await?;
            queue_backfill(&mut transaction, id, now).await?;
            transaction.commit().await?;
            Ok(id)
        })
    }

    /// Changes an escalation: its timers are dropped and started again
    /// by a backfill job (a new clock or length means new due times).
    pub async fn update_escalation(
        &self,
        id: i64,
        escalation: &EscalationWrite<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let changed = sqlx::query(
                "UPDATE escalations SET name = $1, is_enabled = $2, definition = $3, updated_at = $4 WHERE id = $5",
            )
            .bind(escalation.name)
            .bind(escalation.is_enabled)
            .bind(escalation.definition)
            .bind(now.millis())
            .bind(id)
            .execute(&mut *transaction)
            .await?
            .rows_affected()
                > 0;
            if changed {
                sqlx::query("DELETE FROM escalation_timers WHERE escalation_id = $1 AND state = 'waiting'")
                    .bind(id)
                    .execute(&mut *transaction)
                    .await?;
                queue_backfill(&mut transaction, id, now).await?;
            }
            transaction.commit().await?;
            Ok(changed)
        })
    }

    pub async fn delete_escalation(&self, id: i64) -> StoreResult<bool> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query("DELETE FROM escalations WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
                > 0
        }))
    }

    /// A ticket's timers.
    pub async fn ticket_timers(&self, ticket_id: i64) -> StoreResult<Vec<TimerRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, TimerRecord>(
                "SELECT escalation_id, ticket_id, basis_at, due_at, state FROM escalation_timers WHERE ticket_id = $1",
            )
            .bind(ticket_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// A ticket's status with the times its clocks start from.
    pub async fn ticket_clock(&self, ticket_id: i64) -> StoreResult<Option<TicketClock>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, TicketClock>(
                "SELECT id, status, created_at, COALESCE(status_since, updated_at) AS status_since FROM tickets WHERE id = $1",
            )
            .bind(ticket_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Up to `limit` tickets in `statuses` after `after_id`, by id: what a
    /// backfill walks through.
    pub async fn ticket_clocks_after(
        &self,
        statuses: &[&str],
        after_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<TicketClock>> {
        Ok(on_backend!(self, pool => {
            let mut builder = sqlx::QueryBuilder::new(
                "SELECT id, status, created_at, COALESCE(status_since, updated_at) AS status_since FROM tickets WHERE id > ",
            );
            builder.push_bind(after_id).push(" AND status IN (");
            let mut list = builder.separated(", ");
            for status in statuses {
                list.push_bind(*status);
            }
            builder.push(") ORDER BY id LIMIT +").push_bind(limit);
            builder.build_query_as::<TicketClock>().fetch_all(pool).await?
        }))
    }

    /// Writes the timers of many tickets in one transaction.
    pub async fn set_timers(&self, timers: &[(i64, TimerChange)]) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            for (ticket_id, change) in timers {
                write_timers(&mut transaction, *ticket_id, std::slice::from_ref(change)).await?;
            }
            transaction.commit().await?;
        });
        Ok(())
    }

    /// Turns up to `limit` due timers into jobs, each timer marked queued
    /// in the same transaction; answers how many. On PostgreSQL, rows
    /// another node is queueing are skipped, never taken twice.
    pub async fn queue_due_timers(&self, now: Timestamp, limit: i64) -> StoreResult<usize> {
        let claim = match &self.backend {
            Backend::Sqlite(_) => {
                "UPDATE escalation_timers SET state = 'queued' WHERE (escalation_id, ticket_id) IN \
                 (SELECT escalation_id, ticket_id FROM escalation_timers WHERE state = 'waiting' AND due_at <= $1 \
                  ORDER BY due_at LIMIT +$2) AND state = 'waiting' RETURNING escalation_id, ticket_id, basis_at"
            }
            Backend::Postgres(_) => {
                "UPDATE escalation_timers SET state = 'queued' WHERE (escalation_id, ticket_id) IN \
                 (SELECT escalation_id, ticket_id FROM escalation_timers WHERE state = 'waiting' AND due_at <= $1 \
                  ORDER BY due_at LIMIT +$2 FOR UPDATE SKIP LOCKED) AND state = 'waiting' \
                 RETURNING escalation_id, ticket_id, basis_at"
            }
        };
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let due: Vec<(i64, i64, i64)> = sqlx::query_as(claim)
                .bind(now.millis())
                .bind(limit)
                .fetch_all(&mut *transaction)
                .await?;
            for (escalation_id, ticket_id, basis_at) in &due {
                sqlx::query_scalar::<_, i64>(crate::jobs::INSERT_JOB)
                    .bind(ESCALATION_JOB_KIND)
                    .bind(format!(
                        "{{\"escalation_id\":{escalation_id},\"ticket_id\":{ticket_id},\"basis_at\":{basis_at}}}"
                    ))
                    .bind(now.millis())
                    .bind(5_i64)
                    .bind(now.millis())
                    .fetch_one(&mut *transaction)
                    .await?;
            }
            transaction.commit().await?;
            Ok(due.len())
        })
    }

    /// Marks a queued timer done and removes its job, when the escalation
    /// had nothing to do; `false` when the lease was lost.
    pub async fn finish_timer(
        &self,
        escalation_id: i64,
        ticket_id: i64,
        basis_at: i64,
        job_id: i64,
        lease_owner: &str,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let removed = sqlx::query("DELETE FROM jobs WHERE id = $1 AND lease_owner = $2")
                .bind(job_id)
                .bind(lease_owner)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
            if removed != 1 {
                transaction.rollback().await?;
                return Ok(false);
            }
            sqlx::query(
                "UPDATE escalation_timers SET state = 'done' WHERE escalation_id = $1 AND ticket_id = $2 AND basis_at = $3",
            )
            .bind(escalation_id)
            .bind(ticket_id)
            .bind(basis_at)
            .execute(&mut *transaction)
            .await?;
            transaction.commit().await?;
            Ok(true)
        })
    }
}

async fn queue_backfill(
    connected: &mut impl Connected,
    escalation_id: i64,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    on_connection!(connected, connection => {
        sqlx::query_scalar::<_, i64>(crate::jobs::INSERT_JOB)
            .bind(ESCALATION_BACKFILL_JOB_KIND)
            .bind(format!("{{\"escalation_id\":{escalation_id},\"after_id\":0}}"))
            .bind(now.millis())
            .bind(5_i64)
            .bind(now.millis())
            .fetch_one(connection)
            .await?;
    });
    Ok(())
}

/// The store's operations on escalations: `store.escalations()`.
#[derive(Clone, Copy)]
pub struct Escalations<'a> {
    store: &'a Store,
}

impl Store {
    pub fn escalations(&self) -> Escalations<'_> {
        Escalations { store: self }
    }
}

impl std::ops::Deref for Escalations<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
