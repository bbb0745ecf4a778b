//! A ticket's thread: messages (notes only for those who may read them),
//! the log of changes, attachments, and the blobs behind them.

use ferrodesk_core::Timestamp;

use crate::{StoreResult, on_backend, on_backend_write};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MessageRecord {
    pub id: i64,
    pub author_id: Option<i64>,
    pub author_name: Option<String>,
    pub author_is_agent: Option<bool>,
    pub is_note: bool,
    pub body_html: String,
    pub channel: String,
    pub ip: String,
    /// From the reverse-DNS cache the login log uses.
    pub hostname: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TicketLogRecord {
    pub id: i64,
    pub actor: String,
    pub field: String,
    pub before_value: Option<String>,
    pub after_value: Option<String>,
    pub occurred_at: i64,
}

/// An attachment as the thread lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AttachmentRecord {
    pub id: i64,
    pub message_id: i64,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
}

/// An attachment with what a download needs to decide and serve.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredAttachment {
    pub id: i64,
    pub ticket_id: i64,
    pub is_note: bool,
    pub blob_sha256: String,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
}

impl super::Tickets<'_> {
    /// A ticket's messages, oldest first; notes only when asked for.
    pub async fn ticket_messages(
        &self,
        ticket_id: i64,
        with_notes: bool,
    ) -> StoreResult<Vec<MessageRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, MessageRecord>(
                "SELECT m.id, m.author_id, p.name AS author_name, p.is_agent AS author_is_agent, m.is_note, \
                        m.body_html, m.channel, m.ip, h.hostname, m.created_at \
                 FROM ticket_messages m \
                 LEFT JOIN people p ON p.id = m.author_id \
                 LEFT JOIN ip_hostnames h ON h.ip = m.ip \
                 WHERE m.ticket_id = $1 AND ($2 OR NOT m.is_note) ORDER BY m.id",
            )
            .bind(ticket_id)
            .bind(with_notes)
            .fetch_all(pool)
            .await?
        }))
    }

    /// One message's markdown text, whether it is a note, and its channel
    /// (what the triggers read of the message an event brought).
    pub async fn message_text(
        &self,
        ticket_id: i64,
        message_id: i64,
    ) -> StoreResult<Option<(String, bool, String)>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, (String, bool, String)>(
                "SELECT body_markdown, is_note, channel FROM ticket_messages WHERE id = $1 AND ticket_id = $2",
            )
            .bind(message_id)
            .bind(ticket_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// How many tickets await an answer from each of these agents.
    pub async fn awaiting_counts(&self, agent_ids: &[i64]) -> StoreResult<Vec<(i64, i64)>> {
        if agent_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_backend!(self, pool => {
            let mut builder = sqlx::QueryBuilder::new(
                "SELECT agent_id, COUNT(*) FROM tickets WHERE status = 'awaiting_agent' AND agent_id IN (",
            );
            let mut ids = builder.separated(", ");
            for id in agent_ids {
                ids.push_bind(*id);
            }
            builder.push(") GROUP BY agent_id");
            builder
                .build_query_as::<(i64, i64)>()
                .fetch_all(pool)
                .await?
        }))
    }

    /// The newest message id of a ticket, to tell whether someone wrote
    /// since a page was opened.
    pub async fn last_message_id(&self, ticket_id: i64) -> StoreResult<i64> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(id), 0) FROM ticket_messages WHERE ticket_id = $1")
                .bind(ticket_id)
                .fetch_one(pool)
                .await?
        }))
    }

    pub async fn ticket_log(&self, ticket_id: i64) -> StoreResult<Vec<TicketLogRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, TicketLogRecord>(
                "SELECT id, actor, field, before_value, after_value, occurred_at FROM ticket_log \
                 WHERE ticket_id = $1 ORDER BY id",
            )
            .bind(ticket_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The attachments of a ticket's messages (of replies only unless
    /// notes are asked for), in message order.
    pub async fn ticket_attachments(
        &self,
        ticket_id: i64,
        with_notes: bool,
    ) -> StoreResult<Vec<AttachmentRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, AttachmentRecord>(
                // From the ticket's messages to their files: joined the other
                // way, the planner may walk every attachment in message order.
                "SELECT a.id, a.message_id, a.file_name, a.content_type, a.size \
                 FROM ticket_attachments a \
                 WHERE a.message_id IN (SELECT m.id FROM ticket_messages m \
                     WHERE m.ticket_id = $1 AND ($2 OR NOT m.is_note)) \
                 ORDER BY a.message_id, a.id",
            )
            .bind(ticket_id)
            .bind(with_notes)
            .fetch_all(pool)
            .await?
        }))
    }

    /// One attachment with the ticket and message it belongs to.
    pub async fn find_attachment(
        &self,
        attachment_id: i64,
    ) -> StoreResult<Option<StoredAttachment>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, StoredAttachment>(
                "SELECT a.id, m.ticket_id, m.is_note, a.blob_sha256, a.file_name, a.content_type, a.size \
                 FROM ticket_attachments a JOIN ticket_messages m ON m.id = a.message_id WHERE a.id = $1",
            )
            .bind(attachment_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Blobs no attachment or received message refers to, stored before `before` (so a file
    /// uploaded a moment ago, whose message is still being written, is
    /// never taken).
    pub async fn unreferenced_blobs(
        &self,
        before: Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<String>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, String>(
                "SELECT b.sha256 FROM blobs b WHERE b.created_at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM ticket_attachments a WHERE a.blob_sha256 = b.sha256) \
                 AND NOT EXISTS (SELECT 1 FROM inbound_mails m WHERE m.raw_sha256 = b.sha256) \
                 AND NOT EXISTS (SELECT 1 FROM chat_messages c WHERE c.file_sha256 = b.sha256) LIMIT +$2",
            )
            .bind(before.millis())
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Forgets a blob, unless an attachment or a received message came to
    /// refer to it meanwhile; true when the row is gone (and the file may
    /// be deleted).
    pub async fn forget_blob(&self, sha256: &str) -> StoreResult<bool> {
        let deleted = on_backend_write!(self, pool => {
            sqlx::query(
                "DELETE FROM blobs WHERE sha256 = $1 \
                 AND NOT EXISTS (SELECT 1 FROM ticket_attachments a WHERE a.blob_sha256 = $1) \
                 AND NOT EXISTS (SELECT 1 FROM inbound_mails m WHERE m.raw_sha256 = $1) \
                 AND NOT EXISTS (SELECT 1 FROM chat_messages c WHERE c.file_sha256 = $1)",
            )
            .bind(sha256)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(deleted > 0)
    }

    /// Records a blob as just written, so the sweep leaves it alone for a
    /// while even before a message refers to it.
    pub async fn record_blob(&self, sha256: &str, size: i64, now: Timestamp) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query(
                "INSERT INTO blobs (sha256, size, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (sha256) DO UPDATE SET created_at = excluded.created_at",
            )
            .bind(sha256)
            .bind(size)
            .bind(now.millis())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The files of one message, in the order they were attached.
    pub async fn message_attachments(&self, message_id: i64) -> StoreResult<Vec<AttachmentRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, AttachmentRecord>(
                "SELECT id, message_id, file_name, content_type, size FROM ticket_attachments \
                 WHERE message_id = $1 ORDER BY id",
            )
            .bind(message_id)
            .fetch_all(pool)
            .await?
        }))
    }
}
