//! Mail in: every message received is stored whole first (with the job
//! that processes it, in one transaction), so none is lost whatever
//! happens next; processing then marks it done (with the ticket it went
//! to) or rejected (with why), and the rejected ones are the rejection log.
//! Messages fetched over IMAP carry their UID, and the fetch position
//! moves in the same transaction that stores them.

use ferrodesk_core::Timestamp;

use crate::backend::BeginWrite;
use crate::{Store, StoreResult, on_backend, on_backend_write};

/// The kind of job that processes one received message.
pub const INBOUND_MAIL_JOB_KIND: &str = "inbound_mail";
/// Attempts before a message that keeps failing is left as a dead job
/// (it stays stored, pending, and an admin can process it again).
pub const INBOUND_MAIL_MAX_ATTEMPTS: i64 = 8;

/// The payload of the job that processes message `id`.
pub fn inbound_job_payload(id: i64) -> String {
    format!("{{\"inbound_mail_id\":{id}}}")
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewInboundMail<'a> {
    pub account_id: Option<i64>,
    /// `(UIDVALIDITY, UID)` when it came by IMAP.
    pub imap: Option<(i64, i64)>,
    pub source: MailSource<'a>,
    pub message_id: &'a str,
    pub sender: &'a str,
    pub subject: &'a str,
    /// Refused as it is stored (too large to take): kept for the
    /// rejection log with why, and the notice to its sender queued in the
    /// same transaction; no job processes it. `None`: stored pending with
    /// the job that turns it into a ticket.
    pub refused: Option<Refusal<'a>>,
}

/// Where a received message's source is kept.
#[derive(Debug, Clone, Copy)]
pub enum MailSource<'a> {
    /// In its row.
    Row(&'a [u8]),
    /// A large one: a file in the attachment store, already recorded.
    File { sha256: &'a str, size: usize },
}

/// A received message's source as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredSource {
    Row(Vec<u8>),
    /// The SHA-256 of its file in the attachment store.
    File(String),
}

/// Why a message is refused as it is stored, and the mail telling its
/// sender, when one may go.
#[derive(Debug, Clone)]
pub struct Refusal<'a> {
    pub reason: &'a str,
    pub notice: Option<crate::NewMail<'a>>,
}

/// A stored message, without its source.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InboundMailRecord {
    pub id: i64,
    pub account_id: Option<i64>,
    pub size: i64,
    pub message_id: String,
    pub sender: String,
    pub subject: String,
    /// `pending`, `done` or `rejected`.
    pub state: String,
    pub reason: String,
    pub ticket_id: Option<i64>,
    pub attempts: i64,
    pub received_at: i64,
    pub processed_at: Option<i64>,
}

/// A query on received mail with the columns of `InboundMailRecord`.
macro_rules! record_query {
    ($tail:literal) => {
        concat!(
            "SELECT id, account_id, size, message_id, sender, subject, state, reason, \
             ticket_id, attempts, received_at, processed_at FROM inbound_mails ",
            $tail
        )
    };
}

/// Writes a received message and the job that processes it (or, for one
/// refused as it is stored, its refusal and the notice to its sender), in
/// the transaction the caller holds; answers its id.
async fn insert_inbound(
    connected: &mut impl crate::backend::Connected,
    mail: &NewInboundMail<'_>,
    now: Timestamp,
) -> Result<i64, sqlx::Error> {
    let (state, reason, processed_at) = match &mail.refused {
        Some(refusal) => ("rejected", refusal.reason, Some(now.millis())),
        None => ("pending", "", None),
    };
    let (row_bytes, file_sha256, size): (&[u8], Option<&str>, usize) = match mail.source {
        MailSource::Row(bytes) => (bytes, None, bytes.len()),
        MailSource::File { sha256, size } => (&[], Some(sha256), size),
    };
    let id = crate::backend::on_connection!(connected, connection => {
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO inbound_mails (account_id, imap_uid_validity, imap_uid, raw, raw_sha256, size, \
                 message_id, sender, subject, state, reason, processed_at, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(mail.account_id)
        .bind(mail.imap.map(|(validity, _)| validity))
        .bind(mail.imap.map(|(_, uid)| uid))
        .bind(row_bytes)
        .bind(file_sha256)
        .bind(i64::try_from(size).unwrap_or(i64::MAX))
        .bind(mail.message_id)
        .bind(mail.sender)
        .bind(mail.subject)
        .bind(state)
        .bind(reason)
        .bind(processed_at)
        .bind(now.millis())
        .fetch_one(&mut *connection)
        .await?
    });
    match &mail.refused {
        None => insert_processing_job(connected, id, now).await?,
        Some(Refusal {
            notice: Some(notice),
            ..
        }) => {
            crate::outbox::insert_mail(connected, notice, now).await?;
        }
        Some(_) => {}
    }
    Ok(id)
}

/// The account, folder and UIDs fetched messages span: `None` unless all
/// come from one account and folder in ascending UID order.
fn fetched_span(mails: &[NewInboundMail<'_>]) -> Option<(i64, (i64, i64), i64)> {
    let first = mails.first()?;
    let (account_id, (validity, first_uid)) = (first.account_id?, first.imap?);
    let mut last_uid = first_uid;
    for mail in mails.iter().skip(1) {
        match (mail.account_id, mail.imap) {
            (Some(account), Some((same_validity, uid)))
                if account == account_id && same_validity == validity && uid > last_uid =>
            {
                last_uid = uid;
            }
            _ => return None,
        }
    }
    Some((account_id, (validity, first_uid), last_uid))
}

/// Queues the job that processes received message `id`.
async fn insert_processing_job(
    connected: &mut impl crate::backend::Connected,
    id: i64,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    crate::backend::on_connection!(connected, connection => {
        sqlx::query_scalar::<_, i64>(crate::jobs::INSERT_JOB_WITH_PRIORITY)
            .bind(INBOUND_MAIL_JOB_KIND)
            .bind(inbound_job_payload(id))
            .bind(now.millis())
            .bind(INBOUND_MAIL_MAX_ATTEMPTS)
            .bind(now.millis())
            .bind(crate::JobPriority::First.rank())
            .fetch_one(&mut *connection)
            .await?;
    });
    Ok(())
}

impl InboundMail<'_> {
    /// Stores a message with the job that processes it; `None` when the
    /// same IMAP message (account, UIDVALIDITY, UID) is stored already.
    pub async fn store_inbound_mail(
        &self,
        mail: &NewInboundMail<'_>,
        now: Timestamp,
    ) -> StoreResult<Option<i64>> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            if let Some((validity, uid)) = mail.imap {
                let known: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM inbound_mails WHERE account_id = $1 AND imap_uid_validity = $2 AND imap_uid = $3",
                )
                .bind(mail.account_id)
                .bind(validity)
                .bind(uid)
                .fetch_optional(&mut *transaction)
                .await?;
                if known.is_some() {
                    return Ok(None);
                }
            }
            let id = insert_inbound(&mut transaction, mail, now).await?;
            transaction.commit().await?;
            Ok(Some(id))
        })
    }

    pub async fn get_inbound_mail(&self, id: i64) -> StoreResult<Option<InboundMailRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, InboundMailRecord>(record_query!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// A stored message's source.
    pub async fn inbound_mail_source(&self, id: i64) -> StoreResult<Option<StoredSource>> {
        let row = on_backend!(self, pool => {
            sqlx::query_as::<_, (Vec<u8>, Option<String>)>(
                "SELECT raw, raw_sha256 FROM inbound_mails WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(raw, file)| match file {
            Some(sha256) => StoredSource::File(sha256),
            None => StoredSource::Row(raw),
        }))
    }

    /// Takes a pending message to process until `until`, counting the
    /// attempt; false when it is not pending or another node holds it.
    pub async fn take_inbound_mail(
        &self,
        id: i64,
        until: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let taken = on_backend_write!(self, pool => {
            sqlx::query(
                "UPDATE inbound_mails SET attempts = attempts + 1, processing_until = $2 \
                 WHERE id = $1 AND state = 'pending' AND (processing_until IS NULL OR processing_until < $3)",
            )
            .bind(id)
            .bind(until.millis())
            .bind(now.millis())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(taken == 1)
    }

    /// Lets go of a message whose processing failed, for the next try.
    pub async fn release_inbound_mail(&self, id: i64) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query("UPDATE inbound_mails SET processing_until = NULL WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Marks a pending message rejected, with why. False when it was not
    /// pending (processed meanwhile).
    pub async fn reject_inbound_mail(
        &self,
        id: i64,
        reason: &str,
        ticket_id: Option<i64>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let changed = on_backend_write!(self, pool => {
            sqlx::query(
                "UPDATE inbound_mails SET state = 'rejected', reason = $2, ticket_id = $3, processed_at = $4 \
                 WHERE id = $1 AND state = 'pending'",
            )
            .bind(id)
            .bind(reason)
            .bind(ticket_id)
            .bind(now.millis())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(changed == 1)
    }

    /// Marks a pending message done without a message of its own (a copy
    /// of one already on `ticket_id`).
    pub async fn mark_inbound_done(
        &self,
        id: i64,
        ticket_id: Option<i64>,
        reason: &str,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query(
                "UPDATE inbound_mails SET state = 'done', reason = $2, ticket_id = $3, processed_at = $4 \
                 WHERE id = $1 AND state = 'pending'",
            )
            .bind(id)
            .bind(reason)
            .bind(ticket_id)
            .bind(now.millis())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Puts a rejected message back to be processed again, with its job.
    pub async fn retry_inbound_mail(&self, id: i64, now: Timestamp) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let changed = sqlx::query(
                "UPDATE inbound_mails SET state = 'pending', reason = '', processed_at = NULL, processing_until = NULL \
                 WHERE id = $1 AND state = 'rejected'",
            )
            .bind(id)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
            if changed == 1 {
                insert_processing_job(&mut transaction, id, now).await?;
            }
            transaction.commit().await?;
            Ok(changed == 1)
        })
    }

    /// Rejected messages, newest first, before `(received_at, id)`.
    pub async fn rejected_inbound_mails(
        &self,
        before: Option<(i64, i64)>,
        limit: i64,
    ) -> StoreResult<Vec<InboundMailRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, InboundMailRecord>(record_query!(
                "WHERE state = 'rejected' AND ($1 IS NULL OR (received_at, id) < ($1, $2)) \
                 ORDER BY received_at DESC, id DESC LIMIT +$3"
            ))
            .bind(before.map(|(at, _)| at))
            .bind(before.map_or(0, |(_, id)| id))
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Deletes the rejected messages received before `cutoff` (those a
    /// ticket message points at stay).
    pub async fn forget_inbound_mails(&self, cutoff: Timestamp) -> StoreResult<u64> {
        Ok(on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let rejected = sqlx::query(
                "DELETE FROM inbound_mails WHERE state = 'rejected' AND received_at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM ticket_messages m WHERE m.inbound_mail_id = inbound_mails.id)",
            )
            .bind(cutoff.millis())
            .execute(&mut *transaction)
            .await?
            .rows_affected();
            transaction.commit().await?;
            rejected
        }))
    }

    /// How many messages a sender (or, with an empty sender, an account)
    /// sent since `since`: for flood limits.
    pub async fn count_recent_inbound(
        &self,
        sender: &str,
        account_id: Option<i64>,
        since: Timestamp,
    ) -> StoreResult<i64> {
        Ok(on_backend!(self, pool => {
            if sender.is_empty() {
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM inbound_mails WHERE account_id IS NOT DISTINCT FROM $1 AND received_at >= $2",
                )
                .bind(account_id)
                .bind(since.millis())
                .fetch_one(pool)
                .await?
            } else {
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM inbound_mails WHERE sender = $1 AND received_at >= $2",
                )
                .bind(sender)
                .bind(since.millis())
                .fetch_one(pool)
                .await?
            }
        }))
    }

    /// The ticket an earlier copy of the same message (same Message-ID and
    /// sender) already went to, so a message delivered twice is stored
    /// once on the ticket.
    pub async fn ticket_of_earlier_copy(
        &self,
        id: i64,
        message_id: &str,
        sender: &str,
    ) -> StoreResult<Option<i64>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, Option<i64>>(
                "SELECT ticket_id FROM inbound_mails WHERE message_id = $1 AND sender = $2 AND id <> $3 \
                 AND state = 'done' ORDER BY id LIMIT 1",
            )
            .bind(message_id)
            .bind(sender)
            .bind(id)
            .fetch_optional(pool)
            .await?
            .flatten()
        }))
    }

    /// The received mail a ticket's message came from.
    pub async fn inbound_mail_of_message(
        &self,
        ticket_id: i64,
        message_id: i64,
    ) -> StoreResult<Option<i64>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, Option<i64>>(
                "SELECT inbound_mail_id FROM ticket_messages WHERE id = $1 AND ticket_id = $2",
            )
            .bind(message_id)
            .bind(ticket_id)
            .fetch_optional(pool)
            .await?
            .flatten()
        }))
    }

    /// The Message-ID of the mail a ticket started from, when it started
    /// from one: the root its conversation is threaded under.
    pub async fn first_message_id_of_ticket(&self, ticket_id: i64) -> StoreResult<Option<String>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, String>(
                "SELECT im.message_id FROM ticket_messages m JOIN inbound_mails im ON im.id = m.inbound_mail_id \
                 WHERE m.ticket_id = $1 AND im.message_id <> '' ORDER BY m.id LIMIT 1",
            )
            .bind(ticket_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// The ticket message a stored mail became, if it became one (so that
    /// processing twice adds nothing).
    pub async fn message_from_inbound(&self, id: i64) -> StoreResult<Option<(i64, i64)>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT ticket_id, id FROM ticket_messages WHERE inbound_mail_id = $1 LIMIT 1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }
}

/// The store's operations on received mail: `store.inbound_mail()`.
#[derive(Clone, Copy)]
pub struct InboundMail<'a> {
    store: &'a Store,
}

impl Store {
    pub fn inbound_mail(&self) -> InboundMail<'_> {
        InboundMail { store: self }
    }
}

impl std::ops::Deref for InboundMail<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}

/// Where fetching one IMAP account stands.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ImapFetchState {
    pub account_id: i64,
    pub uid_validity: i64,
    pub last_uid: i64,
    pub acted_uid: i64,
    pub last_error: String,
    pub last_fetch_at: Option<i64>,
}

impl InboundMail<'_> {
    /// Takes the lease on fetching an account until `until` (or renews it
    /// for its holder); `None` while another node holds it.
    pub async fn take_imap_lease(
        &self,
        account_id: i64,
        owner: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> StoreResult<Option<ImapFetchState>> {
        Ok(on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO imap_fetch_state (account_id) SELECT $1 \
                 WHERE NOT EXISTS (SELECT 1 FROM imap_fetch_state WHERE account_id = $1)",
            )
            .bind(account_id)
            .execute(&mut *transaction)
            .await?;
            let state = sqlx::query_as::<_, ImapFetchState>(
                "UPDATE imap_fetch_state SET lease_owner = $2, lease_until = $3 \
                 WHERE account_id = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < $4) \
                 RETURNING account_id, uid_validity, last_uid, acted_uid, last_error, last_fetch_at",
            )
            .bind(account_id)
            .bind(owner)
            .bind(until.millis())
            .bind(now.millis())
            .fetch_optional(&mut *transaction)
            .await?;
            transaction.commit().await?;
            state
        }))
    }

    /// Starts over after the folder's UIDVALIDITY changed (its UIDs mean
    /// other messages now); false when the lease was lost.
    pub async fn restart_imap_folder(
        &self,
        account_id: i64,
        owner: &str,
        uid_validity: i64,
    ) -> StoreResult<bool> {
        let changed = on_backend_write!(self, pool => {
            sqlx::query(
                "UPDATE imap_fetch_state SET uid_validity = $3, last_uid = 0, acted_uid = 0 \
                 WHERE account_id = $1 AND lease_owner = $2",
            )
            .bind(account_id)
            .bind(owner)
            .bind(uid_validity)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(changed == 1)
    }

    /// Stores fetched messages (in ascending UID order, all of one
    /// account and folder) with their jobs and moves the account's
    /// position to the last one's UID, in one transaction, while `owner`
    /// holds the lease; `None` when the lease was lost (nothing stored).
    pub async fn store_fetched_mails(
        &self,
        owner: &str,
        mails: &[NewInboundMail<'_>],
        now: Timestamp,
    ) -> StoreResult<Option<Vec<i64>>> {
        let Some((account_id, (validity, first_uid), last_uid)) = fetched_span(mails) else {
            return Ok(None);
        };
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let moved = sqlx::query(
                "UPDATE imap_fetch_state SET last_uid = $5 \
                 WHERE account_id = $1 AND lease_owner = $2 AND uid_validity = $3 AND last_uid < $4",
            )
            .bind(account_id)
            .bind(owner)
            .bind(validity)
            .bind(first_uid)
            .bind(last_uid)
            .execute(&mut *transaction)
            .await?
            .rows_affected();
            if moved != 1 {
                return Ok(None);
            }
            let mut ids = Vec::with_capacity(mails.len());
            for mail in mails {
                ids.push(insert_inbound(&mut transaction, mail, now).await?);
            }
            transaction.commit().await?;
            Ok(Some(ids))
        })
    }

    /// Notes that the messages up to `uid` were marked, moved or deleted.
    pub async fn mark_imap_acted(&self, account_id: i64, owner: &str, uid: i64) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query(
                "UPDATE imap_fetch_state SET acted_uid = $3 WHERE account_id = $1 AND lease_owner = $2 AND acted_uid < $3",
            )
            .bind(account_id)
            .bind(owner)
            .bind(uid)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Ends a fetch: the lease is let go, and its error (or none) noted.
    pub async fn finish_imap_fetch(
        &self,
        account_id: i64,
        owner: &str,
        error: &str,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query(
                "UPDATE imap_fetch_state SET lease_owner = NULL, lease_until = NULL, last_error = $3, last_fetch_at = $4 \
                 WHERE account_id = $1 AND lease_owner = $2",
            )
            .bind(account_id)
            .bind(owner)
            .bind(error)
            .bind(now.millis())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Every account's fetching state, for the admin page.
    pub async fn imap_fetch_states(&self) -> StoreResult<Vec<ImapFetchState>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ImapFetchState>(
                "SELECT account_id, uid_validity, last_uid, acted_uid, last_error, last_fetch_at FROM imap_fetch_state",
            )
            .fetch_all(pool)
            .await?
        }))
    }
}
