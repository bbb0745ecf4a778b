//! Saved reports: a report builder's query string under a name, an
//! agent's own or shared with teams, each agent's favourites, and the
//! schedules that mail them. A due schedule is claimed by moving its next
//! run forward only if nobody else did (a conditional update), with the
//! mailing job queued in the same transaction: each run is mailed once,
//! however many nodes look.

use ferrodesk_core::Timestamp;

use crate::backend::BeginWrite;
use crate::{Store, StoreResult, on_backend, on_backend_write};

/// The job that mails one scheduled report.
pub const REPORT_MAIL_JOB_KIND: &str = "report_mail";

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SavedReportRecord {
    pub id: i64,
    pub owner_id: i64,
    pub name: String,
    /// The builder's own query string.
    pub definition: String,
    /// The teams it is shared with, as a JSON array of ids.
    pub team_ids: String,
    /// `""`, `weekly` or `monthly`.
    pub schedule: String,
    /// The agents it is mailed to, as a JSON array of ids.
    pub recipient_ids: String,
    pub scheduled_by: Option<i64>,
    pub next_run_at: Option<i64>,
    pub updated_at: i64,
    /// Whether the agent who asked keeps it among their favourites.
    pub favourite: bool,
}

/// A report as written.
#[derive(Debug, Clone, Copy)]
pub struct SavedReportWrite<'a> {
    pub name: &'a str,
    pub definition: &'a str,
    pub team_ids: &'a str,
}

/// A report's schedule as written; `schedule` empty clears it.
#[derive(Debug, Clone, Copy)]
pub struct ReportScheduleWrite<'a> {
    pub schedule: &'a str,
    pub recipient_ids: &'a str,
    pub scheduled_by: Option<i64>,
    pub next_run_at: Option<i64>,
}

macro_rules! report_query {
    ($tail:literal) => {
        concat!(
            "SELECT r.id, r.owner_id, r.name, r.definition, r.team_ids, r.schedule, r.recipient_ids, ",
            "r.scheduled_by, r.next_run_at, r.updated_at, ",
            "EXISTS (SELECT 1 FROM saved_report_favourites f WHERE f.report_id = r.id AND f.person_id = $1) AS favourite ",
            "FROM saved_reports r ",
            $tail
        )
    };
}

impl SavedReports<'_> {
    /// `agent_id`'s own reports and every report shared with some team
    /// (the caller keeps those of the agent's teams), favourites first,
    /// then by name.
    pub async fn reports_for(&self, agent_id: i64) -> StoreResult<Vec<SavedReportRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, SavedReportRecord>(report_query!(
                "WHERE r.owner_id = $1 OR r.team_ids <> '[]' ORDER BY favourite DESC, lower(r.name), r.id"
            ))
            .bind(agent_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// One report, with whether `agent_id` keeps it as a favourite.
    pub async fn get_report(
        &self,
        agent_id: i64,
        id: i64,
    ) -> StoreResult<Option<SavedReportRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, SavedReportRecord>(report_query!("WHERE r.id = $2"))
                .bind(agent_id)
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    pub async fn create_report(
        &self,
        owner_id: i64,
        report: &SavedReportWrite<'_>,
        now: Timestamp,
    ) -> StoreResult<i64> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO saved_reports (owner_id, name, definition, team_ids, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
            )
            .bind(owner_id)
            .bind(report.name)
            .bind(report.definition)
            .bind(report.team_ids)
            .bind(now.millis())
            .fetch_one(pool)
            .await?
        }))
    }

    pub async fn update_report(
        &self,
        id: i64,
        report: &SavedReportWrite<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query(
                "UPDATE saved_reports SET name = $1, definition = $2, team_ids = $3, updated_at = $4 \
                 WHERE id = $5",
            )
            .bind(report.name)
            .bind(report.definition)
            .bind(report.team_ids)
            .bind(now.millis())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
                > 0
        }))
    }

    pub async fn delete_report(&self, id: i64) -> StoreResult<bool> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query("DELETE FROM saved_reports WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
                > 0
        }))
    }

    /// How many reports `owner_id` keeps.
    pub async fn count_own(&self, owner_id: i64) -> StoreResult<i64> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM saved_reports WHERE owner_id = $1")
                .bind(owner_id)
                .fetch_one(pool)
                .await?
        }))
    }

    /// Marks or unmarks a favourite of one agent.
    pub async fn set_favourite(
        &self,
        person_id: i64,
        report_id: i64,
        favourite: bool,
    ) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            let statement = if favourite {
                "INSERT INTO saved_report_favourites (person_id, report_id) VALUES ($1, $2) \
                 ON CONFLICT (person_id, report_id) DO NOTHING"
            } else {
                "DELETE FROM saved_report_favourites WHERE person_id = $1 AND report_id = $2"
            };
            sqlx::query(statement)
                .bind(person_id)
                .bind(report_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn set_schedule(
        &self,
        id: i64,
        schedule: &ReportScheduleWrite<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query(
                "UPDATE saved_reports SET schedule = $1, recipient_ids = $2, scheduled_by = $3, \
                 next_run_at = $4, updated_at = $5 WHERE id = $6",
            )
            .bind(schedule.schedule)
            .bind(schedule.recipient_ids)
            .bind(schedule.scheduled_by)
            .bind(schedule.next_run_at)
            .bind(now.millis())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
                > 0
        }))
    }

    /// Scheduled reports whose next run is due, the oldest first.
    pub async fn due_reports(
        &self,
        now: Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<SavedReportRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, SavedReportRecord>(report_query!(
                "WHERE r.next_run_at IS NOT NULL AND r.next_run_at <= $2 ORDER BY r.next_run_at LIMIT +$3"
            ))
            .bind(0_i64)
            .bind(now.millis())
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Claims the run due at `due_at`: moves the next run to `next_at`
    /// and queues the mailing job, unless another node did first.
    pub async fn claim_run(
        &self,
        id: i64,
        (due_at, next_at): (i64, i64),
        payload: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let claimed = sqlx::query(
                "UPDATE saved_reports SET next_run_at = $1 WHERE id = $2 AND next_run_at = $3",
            )
            .bind(next_at)
            .bind(id)
            .bind(due_at)
            .execute(&mut *transaction)
            .await?
            .rows_affected()
                > 0;
            if claimed {
                sqlx::query_scalar::<_, i64>(crate::jobs::INSERT_JOB)
                    .bind(REPORT_MAIL_JOB_KIND)
                    .bind(payload)
                    .bind(now.millis())
                    .bind(5_i64)
                    .bind(now.millis())
                    .fetch_one(&mut *transaction)
                    .await?;
            }
            transaction.commit().await?;
            Ok(claimed)
        })
    }
}

/// The store's operations on saved reports: `store.saved_reports()`.
#[derive(Clone, Copy)]
pub struct SavedReports<'a> {
    store: &'a Store,
}

impl Store {
    pub fn saved_reports(&self) -> SavedReports<'_> {
        SavedReports { store: self }
    }
}

impl std::ops::Deref for SavedReports<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
