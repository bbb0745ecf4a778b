//! The durable job queue. A job is claimed by taking a lease; a worker that
//! dies simply lets its lease run out and another picks the job up. On
//! PostgreSQL, `FOR UPDATE SKIP LOCKED` lets several nodes claim side by side
//! without ever handing one job to two of them; SQLite has one writer, so its
//! claim is a single atomic UPDATE.

use ferrodesk_core::Timestamp;

use crate::backend::BeginWrite;
use crate::{Store, StoreResult, on_backend, on_backend_write};

/// A job to add to the queue.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    pub kind: &'a str,
    pub payload: &'a str,
    pub run_at: Timestamp,
    pub max_attempts: i64,
    pub priority: JobPriority,
}

/// Which due jobs run first: all due jobs of the first priority, in order
/// of due time, before any of the normal one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobPriority {
    /// Turning received mail into tickets: never held back by a queue of
    /// outgoing mail.
    First,
    Normal,
}

impl JobPriority {
    /// As stored (and as the claim's SQL orders them).
    pub(crate) fn rank(self) -> i64 {
        match self {
            JobPriority::First => 0,
            JobPriority::Normal => 1,
        }
    }
}

/// A job a worker holds the lease for.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
    pub max_attempts: i64,
}

/// A job as the admin pages show it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRecord {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub status: String,
    pub run_at: i64,
    pub attempts: i64,
    pub max_attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

macro_rules! job_query {
    ($tail:literal) => {
        concat!(
            "SELECT id, kind, payload, status, run_at, attempts, max_attempts, last_error, ",
            "created_at, updated_at FROM jobs ",
            $tail
        )
    };
}

pub(crate) const INSERT_JOB: &str = "INSERT INTO jobs (kind, payload, run_at, max_attempts, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $5) RETURNING id";

/// As [`INSERT_JOB`], with the job's priority (`$6`).
pub(crate) const INSERT_JOB_WITH_PRIORITY: &str = "INSERT INTO jobs (kind, payload, run_at, max_attempts, created_at, updated_at, priority) \
     VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING id";

impl Jobs<'_> {
    pub async fn enqueue_job(&self, job: &NewJob<'_>, now: Timestamp) -> StoreResult<i64> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query_scalar::<_, i64>(INSERT_JOB_WITH_PRIORITY)
                .bind(job.kind)
                .bind(job.payload)
                .bind(job.run_at.millis())
                .bind(job.max_attempts)
                .bind(now.millis())
                .bind(job.priority.rank())
                .fetch_one(pool)
                .await?
        }))
    }

    /// Takes the lease on up to `limit` due jobs (or jobs whose previous
    /// worker's lease ran out) for `owner` until `lease_until`.
    pub async fn claim_jobs(
        &self,
        owner: &str,
        lease_until: Timestamp,
        now: Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedJob>> {
        self.finish_and_claim_jobs(owner, &[], lease_until, now, limit)
            .await
    }

    /// Removes the jobs `owner` finished (`done`; any whose lease it lost
    /// stay) and claims up to `limit` due ones, in one transaction: a
    /// worker pool pays one write for the job it finished and the next.
    pub async fn finish_and_claim_jobs(
        &self,
        owner: &str,
        done: &[i64],
        lease_until: Timestamp,
        now: Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedJob>> {
        let claim = crate::dialect::claim_jobs(&self.backend);
        let mut jobs = on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            if !done.is_empty() {
                let mut delete = sqlx::QueryBuilder::new("DELETE FROM jobs WHERE lease_owner = ");
                delete.push_bind(owner).push(" AND id IN (");
                let mut ids = delete.separated(", ");
                for id in done {
                    ids.push_bind(*id);
                }
                delete.push(")");
                delete.build().execute(&mut *transaction).await?;
            }
            let jobs = if limit > 0 {
                sqlx::query_as::<_, ClaimedJob>(claim)
                    .bind(owner)
                    .bind(lease_until.millis())
                    .bind(now.millis())
                    .bind(limit)
                    .fetch_all(&mut *transaction)
                    .await?
            } else {
                Vec::new()
            };
            transaction.commit().await?;
            jobs
        });
        jobs.sort_by_key(|job| job.id);
        Ok(jobs)
    }

    /// Removes a finished job; `false` when the lease was lost meanwhile.
    pub async fn complete_job(&self, id: i64, owner: &str) -> StoreResult<bool> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query("DELETE FROM jobs WHERE id = $1 AND lease_owner = $2")
                .bind(id)
                .bind(owner)
                .execute(pool)
                .await?
                .rows_affected()
                == 1
        }))
    }

    /// Records a failure: the job runs again at `retry_at`, or becomes dead
    /// once it has used all its attempts or when `give_up` says it never
    /// can succeed.
    pub async fn fail_job(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        retry_at: Timestamp,
        give_up: bool,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query(
                "UPDATE jobs SET status = CASE WHEN $6 OR attempts >= max_attempts THEN 'dead' ELSE 'queued' END, \
                     run_at = $3, last_error = $4, lease_owner = NULL, lease_expires_at = NULL, updated_at = $5 \
                 WHERE id = $1 AND lease_owner = $2",
            )
            .bind(id)
            .bind(owner)
            .bind(retry_at.millis())
            .bind(error)
            .bind(now.millis())
            .bind(give_up)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Gives a job back without counting the attempt (on shutdown).
    pub async fn release_job(&self, id: i64, owner: &str, now: Timestamp) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query(
                "UPDATE jobs SET status = 'queued', attempts = attempts - 1, lease_owner = NULL, \
                     lease_expires_at = NULL, updated_at = $3 \
                 WHERE id = $1 AND lease_owner = $2",
            )
            .bind(id)
            .bind(owner)
            .bind(now.millis())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Puts a dead job back in the queue with fresh attempts, with the
    /// audit entry of whoever asked.
    pub async fn retry_dead_job(
        &self,
        id: i64,
        audit: &crate::NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(on_backend!(self, pool => crate::audit::audited_statement!(
            pool,
            sqlx::query(
                "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $2, last_error = NULL, updated_at = $2 \
                 WHERE id = $1 AND status = 'dead'",
            )
            .bind(id)
            .bind(now.millis()),
            audit,
            now
        )))
    }

    pub async fn get_job(&self, id: i64) -> StoreResult<Option<JobRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, JobRecord>(job_query!("WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Jobs in one status, most recently changed first.
    pub async fn jobs_with_status(&self, status: &str, limit: i64) -> StoreResult<Vec<JobRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, JobRecord>(job_query!(
                "WHERE status = $1 ORDER BY updated_at DESC, id DESC LIMIT +$2"
            ))
            .bind(status)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// How many jobs are in each status, for the admin pages.
    pub async fn count_jobs_by_status(&self) -> StoreResult<Vec<(String, i64)>> {
        self.outbox()
            .count_by_status("SELECT status, COUNT(*) FROM jobs GROUP BY status ORDER BY status")
            .await
    }

    /// How many jobs of a kind wait or run (dead ones are not counted).
    pub async fn count_jobs_of_kind(&self, kind: &str) -> StoreResult<i64> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM jobs WHERE kind = $1 AND status <> 'dead'")
                .bind(kind)
                .fetch_one(pool)
                .await?
        }))
    }

    pub async fn count_jobs(&self) -> StoreResult<i64> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM jobs").fetch_one(pool).await?
        }))
    }

    /// When the next queued job is due, for a worker deciding how long to wait.
    pub async fn next_job_due(&self) -> StoreResult<Option<Timestamp>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, Option<i64>>("SELECT MIN(run_at) FROM jobs WHERE status = 'queued'")
                .fetch_one(pool)
                .await?
        })
        .map(Timestamp))
    }
}

/// The store's operations on the job queue: `store.jobs()`.
#[derive(Clone, Copy)]
pub struct Jobs<'a> {
    store: &'a Store,
}

impl Store {
    pub fn jobs(&self) -> Jobs<'_> {
        Jobs { store: self }
    }
}

impl std::ops::Deref for Jobs<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
