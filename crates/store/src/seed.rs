//! Bulk writes for `ferrodesk seed`: organizations, users and tickets with
//! their threads, many rows per statement and many statements per
//! transaction, with ids chosen up front so rows can refer to each other
//! without reading back. Only for filling a database nobody else writes to
//! at the same time (a benchmark or demo install).

use ferrodesk_core::Timestamp;

use crate::backend::BeginWrite;
use crate::{Store, StoreResult, on_backend};

/// Rows per INSERT, kept under both databases' limits on bound values.
const ROWS_PER_STATEMENT: usize = 1_000;

pub struct SeedUser {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub organization_id: Option<i64>,
    pub is_organization_manager: bool,
    pub created_at: i64,
}

pub struct SeedTicket {
    pub id: i64,
    pub reference: String,
    pub subject: String,
    pub status: &'static str,
    pub urgency: i64,
    pub department_id: i64,
    pub requester_id: i64,
    pub organization_id: Option<i64>,
    pub agent_id: Option<i64>,
    pub team_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub first_agent_reply_at: Option<i64>,
    pub resolved_at: Option<i64>,
    /// The channel of its first message.
    pub channel: &'static str,
}

pub struct SeedMessage {
    pub id: i64,
    pub ticket_id: i64,
    pub author_id: i64,
    pub is_note: bool,
    pub body_markdown: String,
    pub body_html: String,
    pub channel: &'static str,
    pub created_at: i64,
}

pub struct SeedAttachment {
    pub message_id: i64,
    pub blob_sha256: String,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    pub created_at: i64,
}

/// One batch of tickets with everything that hangs off them.
#[derive(Default)]
pub struct SeedBatch {
    pub tickets: Vec<SeedTicket>,
    pub messages: Vec<SeedMessage>,
    /// (ticket id, label)
    pub labels: Vec<(i64, String)>,
    /// (ticket id, field id, value)
    pub field_values: Vec<(i64, i64, String)>,
    pub attachments: Vec<SeedAttachment>,
}

/// The next free id of each table a seed writes with chosen ids.
#[derive(Debug, Clone, Copy)]
pub struct SeedIds {
    pub person: i64,
    pub organization: i64,
    pub ticket: i64,
    pub message: i64,
}

impl Seed<'_> {
    pub async fn seed_next_ids(&self) -> StoreResult<SeedIds> {
        Ok(on_backend!(self, pool => {
            let (person, organization, ticket, message): (i64, i64, i64, i64) = sqlx::query_as(
                "SELECT (SELECT COALESCE(MAX(id), 0) + 1 FROM people), \
                        (SELECT COALESCE(MAX(id), 0) + 1 FROM organizations), \
                        (SELECT COALESCE(MAX(id), 0) + 1 FROM tickets), \
                        (SELECT COALESCE(MAX(id), 0) + 1 FROM ticket_messages)",
            )
            .fetch_one(pool)
            .await?;
            SeedIds { person, organization, ticket, message }
        }))
    }

    /// Organizations with chosen ids: (id, name).
    pub async fn seed_organizations(
        &self,
        rows: &[(i64, String)],
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                let mut builder = sqlx::QueryBuilder::new(
                    "INSERT INTO organizations (id, name, name_normalized, created_at) ",
                );
                builder.push_values(chunk, |mut row, (id, name)| {
                    row.push_bind(*id)
                        .push_bind(name.clone())
                        .push_bind(name.to_lowercase())
                        .push_bind(now.millis());
                });
                builder.build().execute(&mut *transaction).await?;
            }
            transaction.commit().await?;
        });
        Ok(())
    }

    /// Help-center users with chosen ids, without passwords.
    pub async fn seed_users(&self, rows: &[SeedUser]) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                let mut builder = sqlx::QueryBuilder::new(
                    "INSERT INTO people (id, email, email_normalized, name, organization_id, \
                     is_organization_manager, created_at, updated_at) ",
                );
                builder.push_values(chunk, |mut row, user| {
                    row.push_bind(user.id)
                        .push_bind(user.email.clone())
                        .push_bind(user.email.to_lowercase())
                        .push_bind(user.name.clone())
                        .push_bind(user.organization_id)
                        .push_bind(user.is_organization_manager)
                        .push_bind(user.created_at)
                        .push_bind(user.created_at);
                });
                builder.build().execute(&mut *transaction).await?;
            }
            transaction.commit().await?;
        });
        Ok(())
    }

    /// A batch of tickets with their messages, labels, field values and
    /// attachments, in one transaction.
    pub async fn seed_tickets(&self, batch: &SeedBatch) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            for chunk in batch.tickets.chunks(ROWS_PER_STATEMENT) {
                let mut builder = sqlx::QueryBuilder::new(
                    "INSERT INTO tickets (id, reference, subject, status, urgency, department_id, \
                     requester_id, organization_id, agent_id, team_id, created_at, updated_at, \
                     first_agent_reply_at, resolved_at, channel) ",
                );
                builder.push_values(chunk, |mut row, ticket| {
                    row.push_bind(ticket.id)
                        .push_bind(ticket.reference.clone())
                        .push_bind(ticket.subject.clone())
                        .push_bind(ticket.status)
                        .push_bind(ticket.urgency)
                        .push_bind(ticket.department_id)
                        .push_bind(ticket.requester_id)
                        .push_bind(ticket.organization_id)
                        .push_bind(ticket.agent_id)
                        .push_bind(ticket.team_id)
                        .push_bind(ticket.created_at)
                        .push_bind(ticket.updated_at)
                        .push_bind(ticket.first_agent_reply_at)
                        .push_bind(ticket.resolved_at)
                        .push_bind(ticket.channel);
                });
                builder.build().execute(&mut *transaction).await?;
            }
            for chunk in batch.messages.chunks(ROWS_PER_STATEMENT) {
                let mut builder = sqlx::QueryBuilder::new(
                    "INSERT INTO ticket_messages (id, ticket_id, author_id, is_note, body_markdown, \
                     body_html, channel, ip, created_at) ",
                );
                builder.push_values(chunk, |mut row, message| {
                    row.push_bind(message.id)
                        .push_bind(message.ticket_id)
                        .push_bind(message.author_id)
                        .push_bind(message.is_note)
                        .push_bind(message.body_markdown.clone())
                        .push_bind(message.body_html.clone())
                        .push_bind(message.channel)
                        .push_bind("192.0.2.1")
                        .push_bind(message.created_at);
                });
                builder.build().execute(&mut *transaction).await?;
            }
            for chunk in batch.labels.chunks(ROWS_PER_STATEMENT) {
                let mut builder = sqlx::QueryBuilder::new("INSERT INTO ticket_labels (ticket_id, label) ");
                builder.push_values(chunk, |mut row, (ticket_id, label)| {
                    row.push_bind(*ticket_id).push_bind(label.clone());
                });
                builder.build().execute(&mut *transaction).await?;
            }
            for chunk in batch.field_values.chunks(ROWS_PER_STATEMENT) {
                let mut builder = sqlx::QueryBuilder::new(
                    "INSERT INTO ticket_field_values (ticket_id, field_id, value) ",
                );
                builder.push_values(chunk, |mut row, (ticket_id, field_id, value)| {
                    row.push_bind(*ticket_id).push_bind(*field_id).push_bind(value.clone());
                });
                builder.build().execute(&mut *transaction).await?;
            }
            for chunk in batch.attachments.chunks(ROWS_PER_STATEMENT) {
                let mut builder = sqlx::QueryBuilder::new(
                    "INSERT INTO ticket_attachments (message_id, blob_sha256, file_name, content_type, \
                     size, created_at) ",
                );
                builder.push_values(chunk, |mut row, attachment| {
                    row.push_bind(attachment.message_id)
                        .push_bind(attachment.blob_sha256.clone())
                        .push_bind(attachment.file_name.clone())
                        .push_bind(attachment.content_type.clone())
                        .push_bind(attachment.size)
                        .push_bind(attachment.created_at);
                });
                builder.build().execute(&mut *transaction).await?;
            }
            if let (Some(first), Some(last)) = (batch.tickets.first(), batch.tickets.last()) {
                crate::tickets::reindex(&mut transaction, crate::tickets::Reindex::Range(first.id, last.id)).await?;
            }
            transaction.commit().await?;
            self.note_ticket_write();
        });
        Ok(())
    }

    /// After writing chosen ids: PostgreSQL's identity sequences move past
    /// them, and both databases refresh their planner statistics.
    pub async fn finish_seed(&self) -> StoreResult<()> {
        let statements = crate::dialect::after_seeding(&self.backend);
        on_backend!(self, pool => {
            for statement in statements {
                sqlx::query(*statement).execute(pool).await?;
            }
        });
        Ok(())
    }
}

/// The store's operations on bulk demo data: `store.seed()`.
#[derive(Clone, Copy)]
pub struct Seed<'a> {
    store: &'a Store,
}

impl Store {
    pub fn seed(&self) -> Seed<'_> {
        Seed { store: self }
    }
}

impl std::ops::Deref for Seed<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
