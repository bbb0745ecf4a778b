//! The email outbox: every mail is a row, written in the same transaction as
//! the change that caused it, together with the job that sends it. Nothing is
//! lost when the mail server is down or the process restarts.

use ferrodesk_core::Timestamp;

use crate::backend::{BeginWrite, Connected, on_connection};
use crate::jobs::INSERT_JOB;
use crate::{Store, StoreResult, on_backend, on_backend_write};

/// The job kind that sends one outbox row; its payload is `{"outbox_id": N}`.
pub const MAIL_JOB_KIND: &str = "mail.send";
/// With backoff capped at an hour this keeps trying for most of a day.
pub const MAIL_MAX_ATTEMPTS: i64 = 25;

/// A rendered mail ready to queue.
#[derive(Debug, Clone)]
pub struct NewMail<'a> {
    pub message_id: &'a str,
    /// JSON array of addresses.
    pub recipients: &'a str,
    pub subject: &'a str,
    pub text_body: &'a str,
    pub html_body: Option<&'a str>,
    /// JSON object of extra header fields (threading headers, for example);
    /// the mail crate checks each name and value again before sending.
    pub headers: &'a str,
    /// Which template produced it (for the admin's outbox view).
    pub template: &'a str,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MailRecord {
    pub id: i64,
    pub message_id: String,
    pub recipients: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    pub headers: String,
    pub template: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

/// The payload of the job that sends outbox row `outbox_id`. Written in one
/// place because a retry finds the dead job of a mail by this exact text.
pub fn mail_job_payload(outbox_id: i64) -> String {
    format!("{{\"outbox_id\":{outbox_id}}}")
}

pub(crate) const INSERT_OUTBOX: &str = "INSERT INTO outbox (message_id, recipients, subject, text_body, html_body, headers, template, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";

/// Inserts an outbox row and its sending job on a transaction the caller
/// holds; answers the outbox id.
pub(crate) async fn insert_mail(
    connected: &mut impl Connected,
    mail: &NewMail<'_>,
    now: Timestamp,
) -> Result<i64, sqlx::Error> {
    let payload_of = mail_job_payload;
    on_connection!(connected, connection => {
        let outbox_id: i64 = sqlx::query_scalar(INSERT_OUTBOX)
            .bind(mail.message_id)
            .bind(mail.recipients)
            .bind(mail.subject)
            .bind(mail.text_body)
            .bind(mail.html_body)
            .bind(mail.headers)
            .bind(mail.template)
            .bind(now.millis())
            .fetch_one(&mut *connection)
            .await?;
        sqlx::query_scalar::<_, i64>(crate::jobs::INSERT_JOB)
            .bind(MAIL_JOB_KIND)
            .bind(payload_of(outbox_id))
            .bind(now.millis())
            .bind(MAIL_MAX_ATTEMPTS)
            .bind(now.millis())
            .fetch_one(&mut *connection)
            .await?;
        Ok(outbox_id)
    })
}

macro_rules! mail_query {
    ($tail:literal) => {
        concat!(
            "SELECT id, message_id, recipients, subject, text_body, html_body, headers, template, status, ",
            "attempts, last_error, created_at, sent_at FROM outbox ",
            $tail
        )
    };
}

impl Outbox<'_> {
    /// Queues a mail on its own (when nothing else changes with it).
    pub async fn queue_mail(&self, mail: &NewMail<'_>, now: Timestamp) -> StoreResult<i64> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let id = crate::outbox::insert_mail(&mut transaction, mail, now).await?;
            transaction.commit().await?;
            Ok(id)
        })
    }

    /// Queues several mails in one transaction (one event's notices).
    pub async fn queue_mails(&self, mails: &[NewMail<'_>], now: Timestamp) -> StoreResult<()> {
        if mails.is_empty() {
            return Ok(());
        }
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            for mail in mails {
                crate::outbox::insert_mail(&mut transaction, mail, now).await?;
            }
            transaction.commit().await?;
        });
        Ok(())
    }

    pub async fn get_mail(&self, id: i64) -> StoreResult<Option<MailRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, MailRecord>(mail_query!("WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Mails, newest first, optionally only those in `status`.
    pub async fn list_mail(
        &self,
        status: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<MailRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, MailRecord>(mail_query!(
                "WHERE ($1 IS NULL OR status = $1) ORDER BY id DESC LIMIT +$2"
            ))
            .bind(status)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// How many mails are in each status, for the outbox filter.
    pub async fn count_mail_by_status(&self) -> StoreResult<Vec<(String, i64)>> {
        self.count_by_status("SELECT status, COUNT(*) FROM outbox GROUP BY status ORDER BY status")
            .await
    }

    /// Runs a `SELECT status, COUNT(*) … GROUP BY status` query.
    pub(crate) async fn count_by_status(
        &self,
        query: &'static str,
    ) -> StoreResult<Vec<(String, i64)>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, (String, i64)>(query).fetch_all(pool).await?
        }))
    }

    pub async fn mark_mail_sent(&self, id: i64, now: Timestamp) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query("UPDATE outbox SET status = 'sent', attempts = attempts + 1, last_error = NULL, sent_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now.millis())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Records a failed delivery attempt; `gave_up` marks the mail failed.
    pub async fn mark_mail_attempt_failed(
        &self,
        id: i64,
        error: &str,
        gave_up: bool,
    ) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2, \
                     status = CASE WHEN $3 THEN 'failed' ELSE status END WHERE id = $1",
            )
            .bind(id)
            .bind(error)
            .bind(gave_up)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Sends a failed mail again: back to queued, with a new sending job,
    /// and the audit entry of whoever asked.
    pub async fn retry_mail(
        &self,
        id: i64,
        audit: &crate::NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let reset = sqlx::query("UPDATE outbox SET status = 'queued' WHERE id = $1 AND status = 'failed'")
                .bind(id)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
            if reset == 1 {
                let payload = mail_job_payload(id);
                // The dead job that gave up on it makes way for the new one.
                sqlx::query("DELETE FROM jobs WHERE kind = $1 AND payload = $2 AND status = 'dead'")
                    .bind(MAIL_JOB_KIND)
                    .bind(&payload)
                    .execute(&mut *transaction)
                    .await?;
                sqlx::query_scalar::<_, i64>(INSERT_JOB)
                    .bind(MAIL_JOB_KIND)
                    .bind(&payload)
                    .bind(now.millis())
                    .bind(MAIL_MAX_ATTEMPTS)
                    .bind(now.millis())
                    .fetch_one(&mut *transaction)
                    .await?;
                crate::audit::insert_audit(&mut transaction, audit, now).await?;
            }
            transaction.commit().await?;
            Ok(reset == 1)
        })
    }
}

/// The store's operations on the mail outbox: `store.outbox()`.
#[derive(Clone, Copy)]
pub struct Outbox<'a> {
    store: &'a Store,
}

impl Store {
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox { store: self }
    }
}

impl std::ops::Deref for Outbox<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
