//! SLAs and each ticket's targets (first response, next response,
//! resolution), with the ticket's earliest due time and warning kept on
//! the ticket row for the list. The scheduler reads only running targets
//! that are due (a partial index), marks them breaching and queues a job
//! in the same transaction; the job marks them failed in the transaction
//! of what the SLA's actions did, so a breach fires once.

use ferrodesk_core::Timestamp;

use crate::backend::{BeginWrite, Connected, on_connection};
use crate::{Backend, Store, StoreResult, on_backend};

/// The kind of job that acts on one missed target.
pub const SLA_BREACH_JOB_KIND: &str = "sla_breach";
/// The kind of job that applies the SLAs to the open tickets after one is
/// added or changed.
pub const SLA_BACKFILL_JOB_KIND: &str = "sla_backfill";
/// What the ticket columns hold when no target runs (sorts last).
pub const NO_SLA_DUE: i64 = i64::MAX;

const SLA_COLUMNS: &str = "id, name, position, is_enabled, definition, created_at, updated_at";
const TARGET_COLUMNS: &str = "ticket_id, sla_id, target, started_at, warn_at, due_at, state, left_to_warn, left_to_due, met_at";

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SlaRecord {
    pub id: i64,
    pub name: String,
    pub position: i64,
    pub is_enabled: bool,
    pub definition: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An SLA as written (already checked).
#[derive(Debug, Clone, Copy)]
pub struct SlaWrite<'a> {
    pub name: &'a str,
    pub is_enabled: bool,
    pub definition: &'a str,
}

/// One target of a ticket's SLA.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TargetRecord {
    pub ticket_id: i64,
    pub sla_id: i64,
    /// `first_response`, `next_response` or `resolution`.
    pub target: String,
    pub started_at: i64,
    pub warn_at: i64,
    pub due_at: i64,
    /// `running`, `paused`, `met`, `failed` or `breaching`.
    pub state: String,
    pub left_to_warn: Option<i64>,
    pub left_to_due: Option<i64>,
    pub met_at: Option<i64>,
}

/// A ticket's targets as they are to be: every row (a target missing
/// from the list is removed) and the earliest due time and warning of the
/// running ones for the ticket row.
#[derive(Debug, Clone)]
pub struct TargetsWrite<'a> {
    pub targets: &'a [TargetRecord],
    pub due_at: i64,
    pub warn_at: i64,
}

pub(crate) async fn write_targets(
    connected: &mut impl Connected,
    ticket_id: i64,
    write: &TargetsWrite<'_>,
) -> Result<(), sqlx::Error> {
    on_connection!(connected, connection => {
        sqlx::query("DELETE FROM ticket_slas WHERE ticket_id = $1")
            .bind(ticket_id)
            .execute(&mut *connection)
            .await?;
        for target in write.targets {
            sqlx::query(
                "INSERT INTO ticket_slas (ticket_id, sla_id, target, started_at, warn_at, due_at, state, left_to_warn, left_to_due, met_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(ticket_id)
            .bind(target.sla_id)
            .bind(&target.target)
            .bind(target.started_at)
            .bind(target.warn_at)
            .bind(target.due_at)
            .bind(&target.state)
            .bind(target.left_to_warn)
            .bind(target.left_to_due)
            .bind(target.met_at)
            .execute(&mut *connection)
            .await?;
        }
        sqlx::query("UPDATE tickets SET sla_due_at = $1, sla_warn_at = $2 WHERE id = $3")
            .bind(write.due_at)
            .bind(write.warn_at)
            .bind(ticket_id)
            .execute(&mut *connection)
            .await?;
    });
    Ok(())
}

impl Slas<'_> {
    pub async fn list_slas(&self) -> StoreResult<Vec<SlaRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, SlaRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {SLA_COLUMNS} FROM slas ORDER BY position, id"
            )))
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn get_sla(&self, id: i64) -> StoreResult<Option<SlaRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, SlaRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {SLA_COLUMNS} FROM slas WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Changes whenever any SLA does (count, sum of change times: an edit
    /// stamped earlier than the newest still shows).
    pub async fn slas_fingerprint(&self) -> StoreResult<(i64, i64)> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, (i64, i64)>("SELECT COUNT(*), CAST(COALESCE(SUM(updated_at), 0) AS BIGINT) FROM slas")
                .fetch_one(pool)
                .await?
        }))
    }

    /// Adds an SLA and queues the job that applies it to open tickets.
    pub async fn create_sla(&self, sla: &SlaWrite<'_>, now: Timestamp) -> StoreResult<i64> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO slas (name, position, is_enabled, definition, created_at, updated_at) \
                 VALUES ($1, (SELECT COALESCE(MAX(position), 0) + 1 FROM slas), $2, $3, $4, $4) RETURNING id",
            )
            .bind(sla.name)
            .bind(sla.is_enabled)
            .bind(sla.definition)
            .bind(now.millis())
            .fetch_one(&mut *transaction)
            .await?;
            queue_backfill(&mut transaction, now).await?;
            transaction.commit().await?;
            Ok(id)
        })
    }

    /// Changes an SLA and queues the job that applies the SLAs again.
    pub async fn update_sla(
        &self,
        id: i64,
        sla: &SlaWrite<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let changed = sqlx::query(
                "UPDATE slas SET name = $1, is_enabled = $2, definition = $3, updated_at = $4 WHERE id = $5",
            )
            .bind(sla.name)
            .bind(sla.is_enabled)
            .bind(sla.definition)
            .bind(now.millis())
            .bind(id)
            .execute(&mut *transaction)
            .await?
            .rows_affected()
                > 0;
            if changed {
                queue_backfill(&mut transaction, now).await?;
            }
            transaction.commit().await?;
            Ok(changed)
        })
    }

    /// Up to `limit` ids of open tickets after `after_id`, by id: what
    /// the backfill walks through.
    pub async fn open_ticket_ids_after(&self, after_id: i64, limit: i64) -> StoreResult<Vec<i64>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>(
                "SELECT id FROM tickets WHERE id > $1 AND status IN ('awaiting_agent', 'awaiting_user', 'pending') \
                 AND merged_into_id IS NULL ORDER BY id LIMIT +$2",
            )
            .bind(after_id)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Writes a ticket's targets on their own (the backfill).
    pub async fn set_ticket_targets(
        &self,
        ticket_id: i64,
        write: &TargetsWrite<'_>,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            write_targets(&mut transaction, ticket_id, write).await?;
            transaction.commit().await?;
        });
        Ok(())
    }

    /// Deletes an SLA; its targets go with it, and the tickets' due times
    /// are worked out again at their next change.
    pub async fn delete_sla(&self, id: i64) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            sqlx::query(
                "UPDATE tickets SET sla_due_at = $1, sla_warn_at = $1 \
                 WHERE id IN (SELECT ticket_id FROM ticket_slas WHERE sla_id = $2)",
            )
            .bind(NO_SLA_DUE)
            .bind(id)
            .execute(&mut *transaction)
            .await?;
            let deleted = sqlx::query("DELETE FROM slas WHERE id = $1")
                .bind(id)
                .execute(&mut *transaction)
                .await?
                .rows_affected()
                > 0;
            transaction.commit().await?;
            Ok(deleted)
        })
    }

    /// A ticket's targets.
    pub async fn ticket_targets(&self, ticket_id: i64) -> StoreResult<Vec<TargetRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, TargetRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {TARGET_COLUMNS} FROM ticket_slas WHERE ticket_id = $1 ORDER BY target"
            )))
            .bind(ticket_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Marks a breaching target failed and removes its job, for a ticket
    /// no rule acts on any more; `false` when the lease was lost.
    pub async fn finish_breach(
        &self,
        ticket_id: i64,
        target: &str,
        due_at: i64,
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
                "UPDATE ticket_slas SET state = 'failed' WHERE ticket_id = $1 AND target = $2 AND due_at = $3 AND state = 'breaching'",
            )
            .bind(ticket_id)
            .bind(target)
            .bind(due_at)
            .execute(&mut *transaction)
            .await?;
            transaction.commit().await?;
            Ok(true)
        })
    }

    /// Marks up to `limit` running targets that are due as breaching and
    /// queues a job for each, in one transaction; answers how many.
    pub async fn queue_due_breaches(&self, now: Timestamp, limit: i64) -> StoreResult<usize> {
        let claim = match &self.backend {
            Backend::Sqlite(_) => {
                "UPDATE ticket_slas SET state = 'breaching' WHERE (ticket_id, target) IN \
                 (SELECT ticket_id, target FROM ticket_slas WHERE state = 'running' AND due_at <= $1 \
                  ORDER BY due_at LIMIT +$2) AND state = 'running' RETURNING ticket_id, target, due_at"
            }
            Backend::Postgres(_) => {
                "UPDATE ticket_slas SET state = 'breaching' WHERE (ticket_id, target) IN \
                 (SELECT ticket_id, target FROM ticket_slas WHERE state = 'running' AND due_at <= $1 \
                  ORDER BY due_at LIMIT +$2 FOR UPDATE SKIP LOCKED) AND state = 'running' \
                 RETURNING ticket_id, target, due_at"
            }
        };
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let due: Vec<(i64, String, i64)> = sqlx::query_as(claim)
                .bind(now.millis())
                .bind(limit)
                .fetch_all(&mut *transaction)
                .await?;
            for (ticket_id, target, due_at) in &due {
                let target: String = target.chars().filter(|c| c.is_ascii_lowercase() || *c == '_').collect();
                sqlx::query_scalar::<_, i64>(crate::jobs::INSERT_JOB)
                    .bind(SLA_BREACH_JOB_KIND)
                    .bind(format!("{{\"ticket_id\":{ticket_id},\"target\":\"{target}\",\"due_at\":{due_at}}}"))
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
}

async fn queue_backfill(connected: &mut impl Connected, now: Timestamp) -> Result<(), sqlx::Error> {
    on_connection!(connected, connection => {
        sqlx::query_scalar::<_, i64>(crate::jobs::INSERT_JOB)
            .bind(SLA_BACKFILL_JOB_KIND)
            .bind("{\"after_id\":0}")
            .bind(now.millis())
            .bind(5_i64)
            .bind(now.millis())
            .fetch_one(connection)
            .await?;
    });
    Ok(())
}

/// The store's operations on SLAs: `store.slas()`.
#[derive(Clone, Copy)]
pub struct Slas<'a> {
    store: &'a Store,
}

impl Store {
    pub fn slas(&self) -> Slas<'_> {
        Slas { store: self }
    }
}

impl std::ops::Deref for Slas<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
