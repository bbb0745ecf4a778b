//! Ticket events for the agents' live updates: every write to a ticket
//! adds one row in its own transaction, and the event streams read the
//! rows after the last one they saw.
//!
//! On PostgreSQL ids come in the order transactions ask for them, not the
//! order they commit, so a reader may see id 12 before 11 commits: each
//! node's reader hands rows out only up to the first missing id, waiting
//! a moment for it (`app/src/event_cursor.rs`). No lock orders the
//! writers, so concurrent ticket writes commit together (one WAL flush
//! for many). A `NOTIFY` (delivered at commit) wakes every node's reader;
//! SQLite has one writer at a time and one process, which its in-process
//! wake-up covers.
//!
//! The same listener carries the nodes' presence news (who has a ticket
//! open, who is typing), which is never stored.

use ferrodesk_core::{TicketRef, TicketStatus, Timestamp};

use crate::backend::{Connected, Connection, on_connection};
use crate::{StoreResult, on_backend, on_backend_write};

/// The channel every node listens on for new ticket events.
pub const TICKET_EVENTS_CHANNEL: &str = "ferrodesk_ticket_events";
/// The channel nodes tell each other who has which ticket open on.
pub const PRESENCE_CHANNEL: &str = "ferrodesk_presence";

/// What happened to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketEventKind {
    Created,
    /// A message the requester sees, from anyone.
    Replied,
    /// An internal note.
    Noted,
    /// Properties changed (status, assignment, labels, fields…).
    Changed,
    /// Another ticket was merged into it, or it into another.
    Merged,
}

impl TicketEventKind {
    pub fn key(self) -> &'static str {
        match self {
            TicketEventKind::Created => "created",
            TicketEventKind::Replied => "replied",
            TicketEventKind::Noted => "noted",
            TicketEventKind::Changed => "changed",
            TicketEventKind::Merged => "merged",
        }
    }
}

/// An event with the ticket as it is now: what a stream needs to decide
/// who may see it and to describe it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TicketEventRecord {
    pub id: i64,
    pub ticket_id: i64,
    pub kind: String,
    pub actor_id: Option<i64>,
    /// The actor's name, when the actor is a person still there.
    pub actor_name: Option<String>,
    pub occurred_at: i64,
    #[sqlx(try_from = "String")]
    pub reference: TicketRef,
    pub subject: String,
    #[sqlx(try_from = "String")]
    pub status: TicketStatus,
    pub department_id: i64,
    pub agent_id: Option<i64>,
    pub team_id: Option<i64>,
}

/// The kind of job that runs the triggers (and the webhooks) on one
/// ticket event: queued in the same transaction as the write, so no event
/// is missed and none is seen twice.
pub const TICKET_RULES_JOB_KIND: &str = "ticket_rules";

/// What the rules job of a write needs besides the event: where it came
/// from, its message, and what changed (as the log lines say it).
#[derive(Debug, Clone, Copy)]
pub struct RulesCue<'a> {
    /// Who acted, for the rules: the event's actor, except that an agent
    /// who opens a ticket for a user acted though the user's words are
    /// the message.
    pub actor_id: Option<i64>,
    /// `web`, `agent`, `api`, `email` or `chat`.
    pub channel: &'a str,
    pub message_id: Option<i64>,
    pub changes: &'a [crate::NewLogEntry<'a>],
    /// The message is an automatic mail (an auto-reply, a bulk or list
    /// mail): rules send its sender nothing back.
    pub automatic: bool,
}

/// The rules job's payload: a JSON object the application reads.
fn rules_payload(ticket_id: i64, kind: TicketEventKind, cue: &RulesCue<'_>) -> String {
    let changes: Vec<serde_json::Value> = cue
        .changes
        .iter()
        .map(|entry| serde_json::json!([entry.field, entry.before, entry.after]))
        .collect();
    serde_json::json!({
        "ticket_id": ticket_id,
        "event": kind.key(),
        "actor_id": cue.actor_id,
        "channel": cue.channel,
        "message_id": cue.message_id,
        "changes": changes,
        "automatic": cue.automatic,
    })
    .to_string()
}

/// Adds an event on the transaction the caller holds; call it last, just
/// before the commit, so its id waits for the commit as briefly as it can
/// (see the module's note). With a cue, the event's rules job is queued
/// too.
pub(crate) async fn insert_event(
    connected: &mut impl Connected,
    ticket_id: i64,
    kind: TicketEventKind,
    actor_id: Option<i64>,
    cue: Option<&RulesCue<'_>>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    if let Some(cue) = cue {
        let payload = rules_payload(ticket_id, kind, cue);
        on_connection!(connected, connection => {
            sqlx::query_scalar::<_, i64>(crate::jobs::INSERT_JOB)
                .bind(TICKET_RULES_JOB_KIND)
                .bind(payload)
                .bind(now.millis())
                .bind(5_i64)
                .bind(now.millis())
                .fetch_one(&mut *connection)
                .await?;
        });
    }
    if let Connection::Postgres(connection) = connected.connection() {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(TICKET_EVENTS_CHANNEL)
            .execute(&mut *connection)
            .await?;
    }
    on_connection!(connected, connection => {
        sqlx::query(
            "INSERT INTO ticket_events (ticket_id, kind, actor_id, occurred_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(ticket_id)
        .bind(kind.key())
        .bind(actor_id)
        .bind(now.millis())
        .execute(connection)
        .await?;
    });
    Ok(())
}

impl super::Tickets<'_> {
    /// Up to `limit` events after `after_id` and at most `up_to`, oldest
    /// first, each with its ticket as it is now.
    pub async fn ticket_events_after(
        &self,
        after_id: i64,
        up_to: i64,
        limit: i64,
    ) -> StoreResult<Vec<TicketEventRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, TicketEventRecord>(
                "SELECT e.id, e.ticket_id, e.kind, e.actor_id, \
                     (SELECT p.name FROM people p WHERE p.id = e.actor_id) AS actor_name, e.occurred_at, \
                     t.reference, t.subject, t.status, t.department_id, t.agent_id, t.team_id \
                 FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id \
                 WHERE e.id > $1 AND e.id <= $2 ORDER BY e.id LIMIT +$3",
            )
            .bind(after_id)
            .bind(up_to)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The newest event's id (0 when there is none): where a node's reader
    /// starts.
    pub async fn newest_ticket_event_id(&self) -> StoreResult<i64> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(id), 0) FROM ticket_events")
                .fetch_one(pool)
                .await?
        }))
    }

    /// The oldest event still kept (0 when there is none): a stream asked
    /// to resume from before it has missed events.
    pub async fn oldest_ticket_event_id(&self) -> StoreResult<i64> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT COALESCE(MIN(id), 0) FROM ticket_events")
                .fetch_one(pool)
                .await?
        }))
    }

    /// Forgets events older than `before`; answers how many.
    pub async fn prune_ticket_events(&self, before: Timestamp) -> StoreResult<u64> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query("DELETE FROM ticket_events WHERE occurred_at < $1")
                .bind(before.millis())
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }

    /// Tells the other nodes about presence (`payload` is the app's JSON);
    /// nothing to do on SQLite, whose one process knows already.
    pub async fn announce_presence(&self, payload: &str) -> StoreResult<()> {
        if let crate::Backend::Postgres(pool) = &self.backend {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(PRESENCE_CHANNEL)
                .bind(payload)
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// A connection that hears about new events from every node
    /// (PostgreSQL's `LISTEN`); `None` on SQLite, where this process is
    /// the only writer and wakes its readers itself.
    pub async fn listen_for_ticket_events(&self) -> StoreResult<Option<TicketEventListener>> {
        match &self.backend {
            crate::Backend::Sqlite(_) => Ok(None),
            crate::Backend::Postgres(pool) => {
                let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
                listener
                    .listen_all([
                        TICKET_EVENTS_CHANNEL,
                        PRESENCE_CHANNEL,
                        crate::CHAT_EVENTS_CHANNEL,
                        crate::CHAT_TYPING_CHANNEL,
                    ])
                    .await?;
                Ok(Some(TicketEventListener { listener }))
            }
        }
    }
}

/// A PostgreSQL connection listening for new ticket events.
pub struct TicketEventListener {
    listener: sqlx::postgres::PgListener,
}

impl std::fmt::Debug for TicketEventListener {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("TicketEventListener")
    }
}

/// What a listener heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// New ticket events (several may arrive as one).
    TicketEvents,
    /// Another node's presence news, as it sent it.
    Presence(String),
    /// New chat events (several may arrive as one).
    ChatEvents,
    /// Another node's news of someone typing in a chat, as it sent it.
    ChatTyping(String),
}

impl TicketEventListener {
    /// Waits for the next notification. An error means the connection was
    /// lost; the listener reconnects on the next call.
    pub async fn next(&mut self) -> StoreResult<Heard> {
        let notification = self.listener.recv().await?;
        Ok(match notification.channel() {
            PRESENCE_CHANNEL => Heard::Presence(notification.payload().to_owned()),
            crate::CHAT_EVENTS_CHANNEL => Heard::ChatEvents,
            crate::CHAT_TYPING_CHANNEL => Heard::ChatTyping(notification.payload().to_owned()),
            _ => Heard::TicketEvents,
        })
    }
}
