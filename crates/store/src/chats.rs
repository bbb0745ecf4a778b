//! Live chats: the chats, their messages, each agent's availability, and
//! the events every node follows to deliver them.
//!
//! Everything a chat's people see is stored first and told afterwards: a
//! write adds its `chat_events` row in its own transaction, and each
//! node's reader hands the rows after the last one it read to its open
//! sockets. On PostgreSQL the row is written last under a
//! transaction-scoped advisory lock, so ids follow commit order, and a
//! `NOTIFY` (delivered at commit) wakes the other nodes; SQLite has one
//! writer and one process, which its in-process wake-up covers.

use ferrodesk_core::Timestamp;

use crate::backend::{BeginWrite, Connected, Connection, on_connection};
use crate::{Store, StoreResult, on_backend, on_backend_write};

/// The channel every node listens on for new chat events.
pub const CHAT_EVENTS_CHANNEL: &str = "ferrodesk_chat_events";
/// The channel nodes tell each other who is typing in which chat on
/// (never stored).
pub const CHAT_TYPING_CHANNEL: &str = "ferrodesk_chat_typing";

/// A chat as its people see it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChatRecord {
    pub id: i64,
    pub department_id: i64,
    pub department_name: String,
    pub person_id: Option<i64>,
    pub visitor_name: String,
    pub visitor_email: String,
    /// `waiting`, `active` or `ended`.
    pub state: String,
    pub agent_id: Option<i64>,
    pub agent_name: Option<String>,
    pub page_url: String,
    pub ip: String,
    pub ticket_id: Option<i64>,
    pub created_at: i64,
    pub accepted_at: Option<i64>,
    pub ended_at: Option<i64>,
}

/// One message of a chat.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChatMessageRecord {
    pub id: i64,
    pub chat_id: i64,
    /// `None` for the visitor.
    pub agent_id: Option<i64>,
    pub author_name: String,
    pub body: String,
    pub created_at: i64,
}

/// An event with what a socket needs to decide who hears of it and to
/// tell it: the chat's department, state and agent now, and the message
/// when the event is one.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChatEventRecord {
    pub id: i64,
    pub chat_id: i64,
    /// `waiting`, `message`, `accepted` or `ended`.
    pub kind: String,
    pub occurred_at: i64,
    pub department_id: i64,
    pub state: String,
    pub agent_id: Option<i64>,
    pub agent_name: Option<String>,
    pub visitor_name: String,
    pub message_id: Option<i64>,
    pub message_agent_id: Option<i64>,
    pub author_name: Option<String>,
    pub body: Option<String>,
}

/// A chat a visitor starts, with their first message.
#[derive(Debug, Clone, Copy)]
pub struct NewChat<'a> {
    pub visitor_key_sha256: &'a str,
    pub department_id: i64,
    pub person_id: Option<i64>,
    pub visitor_name: &'a str,
    pub visitor_email: &'a str,
    pub page_url: &'a str,
    pub ip: &'a str,
    pub first_message: &'a str,
}

/// Who writes a message: the visitor, or an agent.
#[derive(Debug, Clone, Copy)]
pub struct ChatAuthor<'a> {
    pub agent_id: Option<i64>,
    pub name: &'a str,
}

const CHAT_COLUMNS: &str = "c.id, c.department_id, d.name AS department_name, c.person_id, \
     c.visitor_name, c.visitor_email, c.state, c.agent_id, \
     (SELECT p.name FROM people p WHERE p.id = c.agent_id) AS agent_name, \
     c.page_url, c.ip, c.ticket_id, c.created_at, c.accepted_at, c.ended_at \
     FROM chats c JOIN departments d ON d.id = c.department_id";

/// The store's operations on chats: `store.chats()`.
#[derive(Clone, Copy)]
pub struct Chats<'a> {
    store: &'a Store,
}

impl Store {
    pub fn chats(&self) -> Chats<'_> {
        Chats { store: self }
    }

    /// Resolves when this process next commits a chat event.
    pub fn chat_event_written(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.chat_events.clone()
    }
}

impl std::ops::Deref for Chats<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}

/// Adds a chat event on the transaction the caller holds; call it last,
/// just before the commit (see the module's note).
async fn insert_chat_event(
    connected: &mut impl Connected,
    chat_id: i64,
    kind: &str,
    message_id: Option<i64>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    if let Connection::Postgres(connection) = connected.connection() {
        sqlx::query("SELECT pg_advisory_xact_lock(7301003)")
            .execute(&mut *connection)
            .await?;
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHAT_EVENTS_CHANNEL)
            .execute(&mut *connection)
            .await?;
    }
    on_connection!(connected, connection => {
        sqlx::query(
            "INSERT INTO chat_events (chat_id, kind, message_id, occurred_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(chat_id)
        .bind(kind)
        .bind(message_id)
        .bind(now.millis())
        .execute(connection)
        .await?;
    });
    Ok(())
}

async fn insert_chat_message(
    connected: &mut impl Connected,
    chat_id: i64,
    author: ChatAuthor<'_>,
    body: &str,
    now: Timestamp,
) -> Result<i64, sqlx::Error> {
    on_connection!(connected, connection => {
        sqlx::query_scalar(
            "INSERT INTO chat_messages (chat_id, agent_id, author_name, body, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(chat_id)
        .bind(author.agent_id)
        .bind(author.name)
        .bind(body)
        .bind(now.millis())
        .fetch_one(connection)
        .await
    })
}

impl Chats<'_> {
    /// Opens a chat in the queue with its first message; answers its id,
    /// or `None` when the department no longer exists.
    pub async fn start_chat(&self, chat: &NewChat<'_>, now: Timestamp) -> StoreResult<Option<i64>> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO chats (visitor_key_sha256, department_id, person_id, visitor_name, visitor_email, \
                     state, page_url, ip, created_at, visitor_seen_at) \
                 SELECT $1, $2, $3, $4, $5, 'waiting', $6, $7, $8, $8 \
                 WHERE EXISTS (SELECT 1 FROM departments WHERE id = $2) RETURNING id",
            )
            .bind(chat.visitor_key_sha256)
            .bind(chat.department_id)
            .bind(chat.person_id)
            .bind(chat.visitor_name)
            .bind(chat.visitor_email)
            .bind(chat.page_url)
            .bind(chat.ip)
            .bind(now.millis())
            .fetch_optional(&mut *transaction)
            .await?;
            let Some(id) = id else {
                transaction.rollback().await?;
                return Ok(None);
            };
            let author = ChatAuthor { agent_id: None, name: chat.visitor_name };
            let message_id = insert_chat_message(&mut transaction, id, author, chat.first_message, now).await?;
            // The queue hears of the chat, then of its first message.
            insert_chat_event(&mut transaction, id, "waiting", None, now).await?;
            insert_chat_event(&mut transaction, id, "message", Some(message_id), now).await?;
            transaction.commit().await?;
            self.chat_events.notify_waiters();
            Ok(Some(id))
        })
    }

    /// The chat whose visitor holds the key with this SHA-256.
    pub async fn chat_by_visitor_key(&self, key_sha256: &str) -> StoreResult<Option<ChatRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ChatRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {CHAT_COLUMNS} WHERE c.visitor_key_sha256 = $1"
            )))
            .bind(key_sha256)
            .fetch_optional(pool)
            .await?
        }))
    }

    pub async fn chat(&self, id: i64) -> StoreResult<Option<ChatRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ChatRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {CHAT_COLUMNS} WHERE c.id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Chats waiting or under way in these departments, oldest first.
    pub async fn open_chats(&self, department_ids: &[i64]) -> StoreResult<Vec<ChatRecord>> {
        if department_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_backend!(self, pool => {
            let mut builder = sqlx::QueryBuilder::new(format!(
                "SELECT {CHAT_COLUMNS} WHERE c.state <> 'ended' AND c.department_id IN ("
            ));
            crate::tickets::push_ids(&mut builder, department_ids);
            builder.push(") ORDER BY c.id");
            builder.build_query_as::<ChatRecord>().fetch_all(pool).await?
        }))
    }

    /// A chat's messages, oldest first.
    pub async fn chat_messages(&self, chat_id: i64) -> StoreResult<Vec<ChatMessageRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ChatMessageRecord>(
                "SELECT id, chat_id, agent_id, author_name, body, created_at FROM chat_messages \
                 WHERE chat_id = $1 ORDER BY id",
            )
            .bind(chat_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Adds a message to a chat that has not ended; answers its id, or
    /// `None` when the chat has ended (or is gone).
    pub async fn add_chat_message(
        &self,
        chat_id: i64,
        author: ChatAuthor<'_>,
        body: &str,
        now: Timestamp,
    ) -> StoreResult<Option<i64>> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let open: Option<i64> = sqlx::query_scalar("SELECT id FROM chats WHERE id = $1 AND state <> 'ended'")
                .bind(chat_id)
                .fetch_optional(&mut *transaction)
                .await?;
            if open.is_none() {
                transaction.rollback().await?;
                return Ok(None);
            }
            let message_id = insert_chat_message(&mut transaction, chat_id, author, body, now).await?;
            insert_chat_event(&mut transaction, chat_id, "message", Some(message_id), now).await?;
            transaction.commit().await?;
            self.chat_events.notify_waiters();
            Ok(Some(message_id))
        })
    }

    /// Gives a waiting chat to an agent; `false` when it is no longer
    /// waiting (another agent was quicker, or the visitor left).
    pub async fn accept_chat(
        &self,
        chat_id: i64,
        agent_id: i64,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.change_chat(
            chat_id,
            "UPDATE chats SET state = 'active', agent_id = $2, accepted_at = $3 WHERE id = $1 AND state = 'waiting'",
            Some(agent_id),
            "accepted",
            now,
        )
        .await
    }

    /// Ends a chat that has not ended; `false` when it had.
    pub async fn end_chat(&self, chat_id: i64, now: Timestamp) -> StoreResult<bool> {
        self.change_chat(
            chat_id,
            // `$2` is NULL: the agent stays who it was.
            "UPDATE chats SET state = 'ended', ended_at = $3, agent_id = COALESCE(agent_id, $2) \
             WHERE id = $1 AND state <> 'ended'",
            None,
            "ended",
            now,
        )
        .await
    }

    async fn change_chat(
        &self,
        chat_id: i64,
        update: &'static str,
        agent_id: Option<i64>,
        kind: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let changed = sqlx::query(update)
                .bind(chat_id)
                .bind(agent_id)
                .bind(now.millis())
                .execute(&mut *transaction)
                .await?
                .rows_affected();
            if changed == 0 {
                transaction.rollback().await?;
                return Ok(false);
            }
            insert_chat_event(&mut transaction, chat_id, kind, None, now).await?;
            transaction.commit().await?;
            self.chat_events.notify_waiters();
            Ok(true)
        })
    }

    /// Notes the ticket an ended chat's transcript became, and who the
    /// visitor turned out to be.
    pub async fn set_chat_ticket(
        &self,
        chat_id: i64,
        ticket_id: i64,
        person_id: i64,
    ) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query("UPDATE chats SET ticket_id = $2, person_id = $3 WHERE id = $1")
                .bind(chat_id)
                .bind(ticket_id)
                .bind(person_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Up to `limit` events after `after_id`, oldest first, each with its
    /// chat as it is now.
    pub async fn chat_events_after(
        &self,
        after_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<ChatEventRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ChatEventRecord>(
                "SELECT e.id, e.chat_id, e.kind, e.occurred_at, c.department_id, c.state, c.agent_id, \
                     (SELECT p.name FROM people p WHERE p.id = c.agent_id) AS agent_name, c.visitor_name, \
                     e.message_id, m.agent_id AS message_agent_id, m.author_name, m.body \
                 FROM chat_events e JOIN chats c ON c.id = e.chat_id \
                 LEFT JOIN chat_messages m ON m.id = e.message_id \
                 WHERE e.id > $1 ORDER BY e.id LIMIT +$2",
            )
            .bind(after_id)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The newest chat event's id (0 when there is none).
    pub async fn newest_chat_event_id(&self) -> StoreResult<i64> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(id), 0) FROM chat_events")
                .fetch_one(pool)
                .await?
        }))
    }

    /// An agent's availability: `online`, `away` or `offline` (never set).
    pub async fn availability(&self, agent_id: i64) -> StoreResult<String> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, String>("SELECT availability FROM chat_agents WHERE agent_id = $1")
                .bind(agent_id)
                .fetch_optional(pool)
                .await?
        })
        .unwrap_or_else(|| "offline".to_owned()))
    }

    pub async fn set_availability(
        &self,
        agent_id: i64,
        availability: &str,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query(
                "INSERT INTO chat_agents (agent_id, availability, changed_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (agent_id) DO UPDATE SET availability = EXCLUDED.availability, changed_at = EXCLUDED.changed_at",
            )
            .bind(agent_id)
            .bind(availability)
            .bind(now.millis())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The ids of agents online for chat.
    pub async fn online_agents(&self) -> StoreResult<Vec<i64>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>(
                "SELECT a.agent_id FROM chat_agents a JOIN people p ON p.id = a.agent_id \
                 WHERE a.availability = 'online' AND p.is_agent ORDER BY a.agent_id",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// Tells the other nodes someone is typing (`payload` is the app's
    /// JSON); nothing to do on SQLite, whose one process knows already.
    pub async fn announce_chat_typing(&self, payload: &str) -> StoreResult<()> {
        if let crate::Backend::Postgres(pool) = &self.backend {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHAT_TYPING_CHANNEL)
                .bind(payload)
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// The visitor of a chat that has not ended showed they are there.
    pub async fn note_visitor_seen(&self, chat_id: i64, now: Timestamp) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query("UPDATE chats SET visitor_seen_at = $2 WHERE id = $1 AND state <> 'ended'")
                .bind(chat_id)
                .bind(now.millis())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Chats not ended whose visitor was last seen before `before`.
    pub async fn abandoned_chats(&self, before: Timestamp) -> StoreResult<Vec<i64>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>(
                "SELECT id FROM chats WHERE state <> 'ended' AND visitor_seen_at < $1 ORDER BY id",
            )
            .bind(before.millis())
            .fetch_all(pool)
            .await?
        }))
    }

    /// How many chats the agent holds now.
    pub async fn active_chats_of(&self, agent_id: i64) -> StoreResult<i64> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM chats WHERE state = 'active' AND agent_id = $1")
                .bind(agent_id)
                .fetch_one(pool)
                .await?
        }))
    }
}
