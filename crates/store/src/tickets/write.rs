//! Opening a ticket with its first message, and changing one: properties,
//! labels, field values, a message, log lines and queued mail, each change
//! in one transaction. The statements that several writes share are plain
//! functions on a transaction the caller holds.

use ferrodesk_core::{Label, Labels, TicketRef, TicketStatus, Timestamp, Urgency};
use sqlx::QueryBuilder;

use crate::backend::{BeginWrite, Connected, on_connection};
use crate::{NewAuditEntry, NewMail, StoreError, StoreResult, on_backend};

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub author_id: Option<i64>,
    pub is_note: bool,
    pub body_markdown: &'a str,
    pub body_html: &'a str,
    /// `web`, `agent`, `api` or `email`.
    pub channel: &'a str,
    pub ip: &'a str,
    /// Files already stored as blobs, to attach to the message.
    pub attachments: &'a [NewAttachment<'a>],
    /// The received mail it came from; that mail is marked done, with
    /// this ticket and what it became, in the same transaction.
    pub inbound_mail: Option<FromMail>,
}

/// The received mail a message came from, and what it became (a new
/// ticket, a reply, an agent's answer, a note), as its row notes it.
#[derive(Debug, Clone, Copy)]
pub struct FromMail {
    pub id: i64,
    pub outcome: &'static str,
}

/// A stored file to attach to a message.
#[derive(Debug, Clone)]
pub struct NewAttachment<'a> {
    pub blob_sha256: &'a str,
    pub file_name: &'a str,
    pub content_type: &'a str,
    pub size: i64,
}

/// A line of the ticket log to write.
#[derive(Debug, Clone)]
pub struct NewLogEntry<'a> {
    pub field: &'a str,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Who did something to a ticket, for its log.
#[derive(Debug, Clone, Copy)]
pub struct TicketActor<'a> {
    pub id: Option<i64>,
    pub label: &'a str,
}

/// The kind of job that tells agents about a ticket (composed when it runs,
/// so that each recipient's access is checked then).
pub const AGENT_NOTICE_JOB_KIND: &str = "agent_notification";

/// Agents to tell about what a write did: queued as a job in the same
/// transaction. `event` is one of the app's event names (letters and
/// underscores).
#[derive(Debug, Clone, Copy)]
pub struct AgentNotice<'a> {
    pub event: &'a str,
    pub actor_id: Option<i64>,
}

/// Queues the job of an agent notice about `ticket_id` (and the message it
/// concerns).
pub(super) async fn insert_notice(
    connected: &mut impl Connected,
    ticket_id: i64,
    message_id: Option<i64>,
    notice: AgentNotice<'_>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let event: String = notice
        .event
        .chars()
        .filter(|character| character.is_ascii_alphabetic() || *character == '_')
        .collect();
    let number =
        |value: Option<i64>| value.map_or_else(|| "null".to_owned(), |value| value.to_string());
    let payload = format!(
        "{{\"ticket_id\":{ticket_id},\"event\":\"{event}\",\"actor_id\":{},\"message_id\":{}}}",
        number(notice.actor_id),
        number(message_id)
    );
    on_connection!(connected, connection => {
        sqlx::query_scalar::<_, i64>(crate::jobs::INSERT_JOB)
            .bind(AGENT_NOTICE_JOB_KIND)
            .bind(payload)
            .bind(now.millis())
            .bind(3_i64)
            .bind(now.millis())
            .fetch_one(&mut *connection)
            .await?;
    });
    Ok(())
}

/// A ticket to open, as it is written.
pub struct NewTicketRow<'a> {
    pub reference: &'a TicketRef,
    pub subject: &'a str,
    pub status: TicketStatus,
    pub urgency: Urgency,
    pub department_id: i64,
    pub requester_id: i64,
    pub organization_id: Option<i64>,
    pub agent_id: Option<i64>,
    pub team_id: Option<i64>,
    pub labels: &'a Labels,
    /// Custom field values: (field id, canonical value).
    pub field_values: &'a [(i64, String)],
    pub message: &'a NewMessage<'a>,
    /// Mail to queue with the ticket (its receipt), in the same transaction.
    pub mails: &'a [NewMail<'a>],
    /// An audit entry to write in the same transaction (an API request's).
    pub audit: Option<&'a NewAuditEntry<'a>>,
    /// Who opened it: the requester, or the agent who opened it for them
    /// (the actor the rules see; the event's is the first message's
    /// author).
    pub actor_id: Option<i64>,
    /// The first message is an automatic mail (see `RulesCue`).
    pub automatic: bool,
}

/// The properties of a ticket after a change; the caller writes what each
/// changed field was before in the log entries.
#[derive(Debug, Clone)]
pub struct TicketProperties<'a> {
    pub status: TicketStatus,
    pub urgency: Urgency,
    pub department_id: i64,
    pub agent_id: Option<i64>,
    pub team_id: Option<i64>,
    pub priority_id: Option<i64>,
    /// The labels after the change; `None` leaves them as they are.
    pub labels: Option<&'a Labels>,
}

/// One change to a ticket: what it becomes, who did it, the log lines, and
/// the message that came with it.
pub struct TicketUpdate<'a> {
    pub properties: &'a TicketProperties<'a>,
    pub actor: TicketActor<'a>,
    pub log: &'a [NewLogEntry<'a>],
    pub message: Option<&'a NewMessage<'a>>,
    /// An agent's reply: stamps the first agent reply time once.
    pub agent_replied: bool,
    /// Custom field values to set (`Some`) or clear (`None`).
    pub field_values: &'a [(i64, Option<String>)],
    /// Mail to queue with the change (a reply to the requester), in the
    /// same transaction so a stored reply is never left unsent.
    pub mails: &'a [NewMail<'a>],
    /// Agents to tell about the change.
    pub notice: Option<AgentNotice<'a>>,
    /// Where a change without a message came from (`agent` or `api`), for
    /// the triggers.
    pub channel: &'a str,
    /// The message is an automatic mail (see `RulesCue`).
    pub automatic: bool,
}

impl<'a> TicketUpdate<'a> {
    /// A change of properties alone, with its log lines; a message, field
    /// values or mail are added with struct update syntax.
    pub fn new(
        properties: &'a TicketProperties<'a>,
        actor: TicketActor<'a>,
        log: &'a [NewLogEntry<'a>],
    ) -> TicketUpdate<'a> {
        TicketUpdate {
            properties,
            actor,
            log,
            message: None,
            agent_replied: false,
            field_values: &[],
            mails: &[],
            notice: None,
            channel: "agent",
            automatic: false,
        }
    }
}

/// Writes log lines.
pub(super) async fn insert_log(
    connected: &mut impl Connected,
    ticket_id: i64,
    actor: TicketActor<'_>,
    entries: &[NewLogEntry<'_>],
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    on_connection!(connected, connection => {
        for entry in entries {
            sqlx::query(
                "INSERT INTO ticket_log (ticket_id, actor_id, actor, field, before_value, after_value, occurred_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(ticket_id)
            .bind(actor.id)
            .bind(actor.label)
            .bind(entry.field)
            .bind(entry.before.as_deref())
            .bind(entry.after.as_deref())
            .bind(now.millis())
            .execute(&mut *connection)
            .await?;
        }
    });
    Ok(())
}

/// Stores a message with its attachments; answers its id.
pub(super) async fn insert_message(
    connected: &mut impl Connected,
    ticket_id: i64,
    message: &NewMessage<'_>,
    now: Timestamp,
) -> Result<i64, sqlx::Error> {
    on_connection!(connected, connection => {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO ticket_messages (ticket_id, author_id, is_note, body_markdown, body_html, channel, ip, created_at, inbound_mail_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(ticket_id)
        .bind(message.author_id)
        .bind(message.is_note)
        .bind(message.body_markdown)
        .bind(message.body_html)
        .bind(message.channel)
        .bind(message.ip)
        .bind(now.millis())
        .bind(message.inbound_mail.map(|source| source.id))
        .fetch_one(&mut *connection)
        .await?;
        if let Some(source) = message.inbound_mail {
            sqlx::query(
                "UPDATE inbound_mails SET state = 'done', reason = $4, ticket_id = $2, processed_at = $3, processing_until = NULL WHERE id = $1",
            )
            .bind(source.id)
            .bind(ticket_id)
            .bind(now.millis())
            .bind(source.outcome)
            .execute(&mut *connection)
            .await?;
        }
        for attachment in message.attachments {
            sqlx::query("INSERT INTO blobs (sha256, size, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(attachment.blob_sha256)
                .bind(attachment.size)
                .bind(now.millis())
                .execute(&mut *connection)
                .await?;
            sqlx::query(
                "INSERT INTO ticket_attachments (message_id, blob_sha256, file_name, content_type, size, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(attachment.blob_sha256)
            .bind(attachment.file_name)
            .bind(attachment.content_type)
            .bind(attachment.size)
            .bind(now.millis())
            .execute(&mut *connection)
            .await?;
        }
        Ok(id)
    })
}

/// Adds labels to a ticket in one statement.
async fn insert_labels(
    connected: &mut impl Connected,
    ticket_id: i64,
    labels: &[Label],
) -> Result<(), sqlx::Error> {
    if labels.is_empty() {
        return Ok(());
    }
    on_connection!(connected, connection => {
        let mut builder = QueryBuilder::new("INSERT INTO ticket_labels (ticket_id, label) ");
        builder.push_values(labels, |mut row, label| {
            row.push_bind(ticket_id).push_bind(label.as_str());
        });
        builder.build().execute(connection).await?;
    });
    Ok(())
}

/// Writes a ticket's properties (and labels, when given); a move to
/// `resolved` stamps the time, leaving it clears it.
pub(super) async fn update_properties(
    connected: &mut impl Connected,
    ticket_id: i64,
    properties: &TicketProperties<'_>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    on_connection!(&mut *connected, connection => {
        sqlx::query(
            "UPDATE tickets SET status = $1, urgency = $2, department_id = $3, agent_id = $4, team_id = $5, \
                 updated_at = $6, priority_id = $8, \
                 resolved_at = CASE WHEN $1 = 'resolved' THEN COALESCE(resolved_at, $6) \
                     WHEN $1 = 'archived' THEN resolved_at ELSE NULL END, \
                 status_since = CASE WHEN status = $1 THEN status_since ELSE $6 END \
             WHERE id = $7",
        )
        .bind(properties.status.key())
        .bind(properties.urgency.get())
        .bind(properties.department_id)
        .bind(properties.agent_id)
        .bind(properties.team_id)
        .bind(now.millis())
        .bind(ticket_id)
        .bind(properties.priority_id)
        .execute(&mut *connection)
        .await?;
        if properties.labels.is_some() {
            sqlx::query("DELETE FROM ticket_labels WHERE ticket_id = $1")
                .bind(ticket_id)
                .execute(&mut *connection)
                .await?;
        }
    });
    if let Some(labels) = properties.labels {
        insert_labels(connected, ticket_id, labels.as_slice()).await?;
    }
    Ok(())
}

/// Sets (`Some`) or clears (`None`) custom field values.
pub(super) async fn write_field_values(
    connected: &mut impl Connected,
    ticket_id: i64,
    values: &[(i64, Option<String>)],
) -> Result<(), sqlx::Error> {
    on_connection!(connected, connection => {
        for (field_id, value) in values {
            sqlx::query("DELETE FROM ticket_field_values WHERE ticket_id = $1 AND field_id = $2")
                .bind(ticket_id)
                .bind(*field_id)
                .execute(&mut *connection)
                .await?;
            if let Some(value) = value {
                sqlx::query("INSERT INTO ticket_field_values (ticket_id, field_id, value) VALUES ($1, $2, $3)")
                    .bind(ticket_id)
                    .bind(*field_id)
                    .bind(value.as_str())
                    .execute(&mut *connection)
                    .await?;
            }
        }
    });
    Ok(())
}

/// A new ticket's field values, in one statement.
async fn insert_field_values(
    connected: &mut impl Connected,
    ticket_id: i64,
    values: &[(i64, String)],
) -> Result<(), sqlx::Error> {
    if values.is_empty() {
        return Ok(());
    }
    on_connection!(connected, connection => {
        let mut builder =
            QueryBuilder::new("INSERT INTO ticket_field_values (ticket_id, field_id, value) ");
        builder.push_values(values, |mut row, (field_id, value)| {
            row.push_bind(ticket_id).push_bind(*field_id).push_bind(value.as_str());
        });
        builder.build().execute(connection).await?;
    });
    Ok(())
}

/// The ticket row itself; `None` when its department does not exist.
async fn insert_ticket_row(
    connected: &mut impl Connected,
    ticket: &NewTicketRow<'_>,
    now: Timestamp,
) -> StoreResult<Option<i64>> {
    on_connection!(connected, connection => {
        // The department is checked by the insert itself: no row, no
        // department, and no query of its own.
        sqlx::query_scalar(
            "INSERT INTO tickets (reference, subject, status, urgency, department_id, requester_id, \
                 organization_id, agent_id, team_id, created_at, updated_at, status_since, channel) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $10, $11 \
             WHERE EXISTS (SELECT 1 FROM departments WHERE id = $5) RETURNING id",
        )
        .bind(ticket.reference.as_str())
        .bind(ticket.subject)
        .bind(ticket.status.key())
        .bind(ticket.urgency.get())
        .bind(ticket.department_id)
        .bind(ticket.requester_id)
        .bind(ticket.organization_id)
        .bind(ticket.agent_id)
        .bind(ticket.team_id)
        .bind(now.millis())
        .bind(ticket.message.channel)
        .fetch_optional(connection)
        .await
        .map_err(|error| StoreError::from_insert(error, "A ticket with this reference"))
    })
}

/// Everything a new ticket brings besides its row.
async fn insert_ticket_contents(
    connected: &mut impl Connected,
    id: i64,
    ticket: &NewTicketRow<'_>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    insert_labels(connected, id, ticket.labels.as_slice()).await?;
    insert_field_values(connected, id, ticket.field_values).await?;
    let message_id = insert_message(connected, id, ticket.message, now).await?;
    for mail in ticket.mails {
        crate::outbox::insert_mail(connected, mail, now).await?;
    }
    if let Some(entry) = ticket.audit {
        crate::audit::insert_audit(connected, entry, now).await?;
    }
    super::reindex(connected, super::Reindex::Ticket(id)).await?;
    let cue = super::RulesCue {
        actor_id: ticket.actor_id,
        channel: ticket.message.channel,
        message_id: Some(message_id),
        changes: &[],
        automatic: ticket.automatic,
    };
    super::events::insert_event(
        connected,
        id,
        super::TicketEventKind::Created,
        ticket.message.author_id,
        Some(&cue),
        now,
    )
    .await?;
    Ok(())
}

/// A change beside the ticket's own properties (an SLA chosen, a rating
/// given): the ticket's `updated_at`, its log lines, and the event with
/// its rules job, in the transaction the caller holds.
pub(super) async fn record_side_change(
    connected: &mut impl Connected,
    ticket_id: i64,
    actor: TicketActor<'_>,
    log: &[NewLogEntry<'_>],
    channel: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    on_connection!(&mut *connected, connection => {
        sqlx::query("UPDATE tickets SET updated_at = $1 WHERE id = $2")
            .bind(now.millis())
            .bind(ticket_id)
            .execute(&mut *connection)
            .await?;
    });
    insert_log(connected, ticket_id, actor, log, now).await?;
    let cue = super::RulesCue {
        actor_id: actor.id,
        channel,
        message_id: None,
        changes: log,
        automatic: false,
    };
    super::events::insert_event(
        connected,
        ticket_id,
        super::TicketEventKind::Changed,
        actor.id,
        Some(&cue),
        now,
    )
    .await
}

/// Everything one change writes, in the transaction the caller holds.
async fn apply_update(
    connected: &mut impl Connected,
    ticket_id: i64,
    update: &TicketUpdate<'_>,
    now: Timestamp,
) -> Result<Option<i64>, sqlx::Error> {
    let message_id = match update.message {
        Some(message) => Some(insert_message(connected, ticket_id, message, now).await?),
        None => None,
    };
    update_properties(connected, ticket_id, update.properties, now).await?;
    write_field_values(connected, ticket_id, update.field_values).await?;
    if update.agent_replied {
        on_connection!(&mut *connected, connection => {
            sqlx::query(
                "UPDATE tickets SET first_agent_reply_at = $1 WHERE id = $2 AND first_agent_reply_at IS NULL",
            )
            .bind(now.millis())
            .bind(ticket_id)
            .execute(connection)
            .await?;
        });
    }
    insert_log(connected, ticket_id, update.actor, update.log, now).await?;
    for mail in update.mails {
        crate::outbox::insert_mail(connected, mail, now).await?;
    }
    if let Some(notice) = update.notice {
        insert_notice(connected, ticket_id, message_id, notice, now).await?;
    }
    // Only a message, labels or field values change the ticket's words;
    // a status change or an assignment leaves its search document alone.
    let words_changed = update.message.is_some()
        || update.properties.labels.is_some()
        || !update.field_values.is_empty();
    if words_changed {
        super::reindex(connected, super::Reindex::Ticket(ticket_id)).await?;
    }
    let (kind, actor_id) = match update.message {
        Some(message) if message.is_note => (super::TicketEventKind::Noted, message.author_id),
        Some(message) => (super::TicketEventKind::Replied, message.author_id),
        None => (super::TicketEventKind::Changed, update.actor.id),
    };
    let cue = super::RulesCue {
        actor_id,
        channel: update
            .message
            .map_or(update.channel, |message| message.channel),
        message_id,
        changes: update.log,
        automatic: update.automatic,
    };
    super::events::insert_event(connected, ticket_id, kind, actor_id, Some(&cue), now).await?;
    Ok(message_id)
}

impl super::Tickets<'_> {
    /// Opens a ticket with its first message, labels, field values, queued
    /// mail and audit entry in one transaction; answers its id, or `None`
    /// when its department no longer exists. A reference that is taken
    /// already is a `Conflict` (the caller draws another).
    pub async fn create_ticket(
        &self,
        ticket: &NewTicketRow<'_>,
        now: Timestamp,
    ) -> StoreResult<Option<i64>> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let Some(id) = insert_ticket_row(&mut transaction, ticket, now).await? else {
                transaction.rollback().await?;
                return Ok(None);
            };
            insert_ticket_contents(&mut transaction, id, ticket, now).await?;
            transaction.commit().await?;
            self.note_ticket_write();
            self.note_ticket_event();
            Ok(Some(id))
        })
    }

    /// Writes a change to a ticket in one transaction: an optional message,
    /// the properties after the change and the log lines. Returns the new
    /// message's id, if there is one.
    pub async fn update_ticket(
        &self,
        ticket_id: i64,
        update: &TicketUpdate<'_>,
        now: Timestamp,
    ) -> StoreResult<Option<i64>> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let message_id = apply_update(&mut transaction, ticket_id, update, now).await?;
            transaction.commit().await?;
            self.note_ticket_write();
            self.note_ticket_event();
            Ok(message_id)
        })
    }
}
