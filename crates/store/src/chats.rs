//! Live chats: the chats, their messages, each agent's availability, and
//! the events every node follows to deliver them.
//!
//! Everything a chat's people see is stored first and told afterwards: a
//! write adds its `chat_events` row in its own transaction, and each
//! node's reader hands the rows after the last one it read to its open
//! sockets. On PostgreSQL ids come from a sequence in the order
//! transactions ask for them, not the order they commit, so a reader may
//! see id 12 before 11 commits: it hands out rows only up to the first
//! missing id, waiting a moment for it (a rolled-back write leaves a hole
//! for good, which it then steps over; see `app/src/chat/hub.rs`). No
//! lock orders the writers, so concurrent chats commit together (one WAL
//! flush for many). A `NOTIFY` (delivered at commit) wakes the other
//! nodes; SQLite has one writer and one process, which its in-process
//! wake-up covers.

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
    /// Round robin: the one agent a waiting chat is offered to now.
    pub offered_agent_id: Option<i64>,
    pub offered_at: Option<i64>,
    /// The signed-in visitor's open ticket the transcript goes into.
    pub attach_ticket_id: Option<i64>,
    pub transcript_wanted: bool,
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
    #[sqlx(flatten)]
    pub file: ChatFileColumns,
}

/// The file a chat message carries, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct ChatFileColumns {
    pub file_sha256: Option<String>,
    pub file_name: Option<String>,
    pub file_type: Option<String>,
    pub file_size: Option<i64>,
}

/// A file to add to a chat as a message.
#[derive(Debug, Clone, Copy)]
pub struct ChatFile<'a> {
    pub sha256: &'a str,
    pub name: &'a str,
    pub content_type: &'a str,
    pub size: i64,
}

/// An event with what a socket needs to decide who hears of it and to
/// tell it: the chat's department, state and agent now, and the message
/// when the event is one.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChatEventRecord {
    pub id: i64,
    pub chat_id: i64,
    /// `waiting`, `message`, `accepted`, `offered`, `transferred`,
    /// `invited`, `left` or `ended`.
    pub kind: String,
    /// The agent the event is about: offered to, transferred to, invited,
    /// or leaving.
    pub target_agent_id: Option<i64>,
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
    #[sqlx(flatten)]
    pub file: ChatFileColumns,
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
    pub attach_ticket_id: Option<i64>,
}

/// Who writes a message: the visitor, or an agent.
#[derive(Debug, Clone, Copy)]
pub struct ChatAuthor<'a> {
    pub agent_id: Option<i64>,
    pub name: &'a str,
}

/// A change to a chat, as its event names it, with the agent it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChatChange {
    Accepted(i64),
    Ended,
    /// To one agent, or (`None`) to everyone of the department.
    Offered(Option<i64>),
    /// To an agent, or (`None`) to a department's queue.
    Transferred(Option<i64>),
    Invited(i64),
    Left(i64),
}

impl ChatChange {
    fn kind(self) -> &'static str {
        match self {
            ChatChange::Accepted(_) => "accepted",
            ChatChange::Ended => "ended",
            ChatChange::Offered(_) => "offered",
            ChatChange::Transferred(_) => "transferred",
            ChatChange::Invited(_) => "invited",
            ChatChange::Left(_) => "left",
        }
    }

    fn agent(self) -> Option<i64> {
        match self {
            ChatChange::Accepted(agent) | ChatChange::Invited(agent) | ChatChange::Left(agent) => {
                Some(agent)
            }
            ChatChange::Offered(agent) | ChatChange::Transferred(agent) => agent,
            ChatChange::Ended => None,
        }
    }
}

const MESSAGE_COLUMNS: &str = "id, chat_id, agent_id, author_name, body, created_at, file_sha256, file_name, file_type, file_size";

const CHAT_COLUMNS: &str = "c.id, c.department_id, d.name AS department_name, c.person_id, \
     c.visitor_name, c.visitor_email, c.state, c.agent_id, \
     (SELECT p.name FROM people p WHERE p.id = c.agent_id) AS agent_name, \
     c.page_url, c.ip, c.ticket_id, c.created_at, c.accepted_at, c.ended_at, \
     c.offered_agent_id, c.offered_at, c.attach_ticket_id, c.transcript_wanted \
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

/// Adds a chat event on the transaction the caller holds (see the
/// module's note).
async fn insert_chat_event(
    connected: &mut impl Connected,
    chat_id: i64,
    kind: &str,
    message_id: Option<i64>,
    target_agent_id: Option<i64>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    if let Connection::Postgres(connection) = connected.connection() {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHAT_EVENTS_CHANNEL)
            .execute(&mut *connection)
            .await?;
    }
    on_connection!(connected, connection => {
        sqlx::query(
            "INSERT INTO chat_events (chat_id, kind, message_id, agent_id, occurred_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(chat_id)
        .bind(kind)
        .bind(message_id)
        .bind(target_agent_id)
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
    file: Option<ChatFile<'_>>,
    now: Timestamp,
) -> Result<i64, sqlx::Error> {
    on_connection!(connected, connection => {
        sqlx::query_scalar(
            "INSERT INTO chat_messages (chat_id, agent_id, author_name, body, created_at, \
                 file_sha256, file_name, file_type, file_size) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(chat_id)
        .bind(author.agent_id)
        .bind(author.name)
        .bind(body)
        .bind(now.millis())
        .bind(file.map(|file| file.sha256))
        .bind(file.map(|file| file.name))
        .bind(file.map(|file| file.content_type))
        .bind(file.map(|file| file.size))
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
                     state, page_url, ip, created_at, visitor_seen_at, attach_ticket_id) \
                 SELECT $1, $2, $3, $4, $5, 'waiting', $6, $7, $8, $8, $9 \
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
            .bind(chat.attach_ticket_id)
            .fetch_optional(&mut *transaction)
            .await?;
            let Some(id) = id else {
                transaction.rollback().await?;
                return Ok(None);
            };
            let author = ChatAuthor { agent_id: None, name: chat.visitor_name };
            let message_id = insert_chat_message(&mut transaction, id, author, chat.first_message, None, now).await?;
            // The queue hears of the chat, then of its first message.
            insert_chat_event(&mut transaction, id, "waiting", None, None, now).await?;
            insert_chat_event(&mut transaction, id, "message", Some(message_id), None, now).await?;
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

    /// The messages of several chats in one query, oldest first, by chat.
    pub async fn messages_of_chats(
        &self,
        chat_ids: &[i64],
    ) -> StoreResult<std::collections::HashMap<i64, Vec<ChatMessageRecord>>> {
        if chat_ids.is_empty() {
            return Ok(Default::default());
        }
        let messages = on_backend!(self, pool => {
            let mut builder = sqlx::QueryBuilder::new(format!(
                "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE chat_id IN ("
            ));
            crate::tickets::push_ids(&mut builder, chat_ids);
            builder.push(") ORDER BY id");
            builder.build_query_as::<ChatMessageRecord>().fetch_all(pool).await?
        });
        let mut by_chat: std::collections::HashMap<i64, Vec<ChatMessageRecord>> =
            Default::default();
        for message in messages {
            by_chat.entry(message.chat_id).or_default().push(message);
        }
        Ok(by_chat)
    }

    /// A chat's messages, oldest first.
    pub async fn chat_messages(&self, chat_id: i64) -> StoreResult<Vec<ChatMessageRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ChatMessageRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE chat_id = $1 ORDER BY id"
            )))
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
        file: Option<ChatFile<'_>>,
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
            let message_id = insert_chat_message(&mut transaction, chat_id, author, body, file, now).await?;
            insert_chat_event(&mut transaction, chat_id, "message", Some(message_id), None, now).await?;
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
            "UPDATE chats SET state = 'active', agent_id = $2, accepted_at = $3, \
                 offered_agent_id = NULL, offered_at = NULL \
             WHERE id = $1 AND state = 'waiting' AND (offered_agent_id IS NULL OR offered_agent_id = $2)",
            &[Some(agent_id), Some(now.millis())],
            ChatChange::Accepted(agent_id),
            now,
        )
        .await
    }

    /// Ends a chat that has not ended; `false` when it had.
    pub async fn end_chat(&self, chat_id: i64, now: Timestamp) -> StoreResult<bool> {
        self.change_chat(
            chat_id,
            // `$2` is NULL: the agent stays who it was.
            "UPDATE chats SET state = 'ended', ended_at = $2, offered_agent_id = NULL, offered_at = NULL \
             WHERE id = $1 AND state <> 'ended'",
            &[Some(now.millis())],
            ChatChange::Ended,
            now,
        )
        .await
    }

    /// Applies `update` (`$1` the chat, then `binds`) and, when it changed
    /// the chat, writes what the change brings with it and its event.
    async fn change_chat(
        &self,
        chat_id: i64,
        update: &'static str,
        binds: &[Option<i64>],
        change: ChatChange,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let mut query = sqlx::query(update).bind(chat_id);
            for bind in binds {
                query = query.bind(*bind);
            }
            let changed = query.execute(&mut *transaction).await?.rows_affected();
            if changed == 0 {
                transaction.rollback().await?;
                return Ok(false);
            }
            match change {
                ChatChange::Offered(Some(agent_id)) => {
                    // Asked in this round; round robin asks the agent
                    // offered a chat longest ago first.
                    sqlx::query(
                        "INSERT INTO chat_offers (chat_id, agent_id, offered_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (chat_id, agent_id) DO UPDATE SET offered_at = EXCLUDED.offered_at",
                    )
                    .bind(chat_id)
                    .bind(agent_id)
                    .bind(now.millis())
                    .execute(&mut *transaction)
                    .await?;
                    sqlx::query("UPDATE chat_agents SET last_offered_at = $2 WHERE agent_id = $1")
                        .bind(agent_id)
                        .bind(now.millis())
                        .execute(&mut *transaction)
                        .await?;
                }
                ChatChange::Transferred(to) => {
                    // A fresh round of offers; the new holder is no longer
                    // a guest, and a chat sent to a queue has none.
                    sqlx::query("DELETE FROM chat_offers WHERE chat_id = $1")
                        .bind(chat_id)
                        .execute(&mut *transaction)
                        .await?;
                    sqlx::query("DELETE FROM chat_guests WHERE chat_id = $1 AND ($2 IS NULL OR agent_id = $2)")
                        .bind(chat_id)
                        .bind(to)
                        .execute(&mut *transaction)
                        .await?;
                }
                _ => {}
            }
            insert_chat_event(&mut transaction, chat_id, change.kind(), None, change.agent(), now).await?;
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
                "SELECT e.id, e.chat_id, e.kind, e.agent_id AS target_agent_id, e.occurred_at, c.department_id, \
                     c.state, c.agent_id, (SELECT p.name FROM people p WHERE p.id = c.agent_id) AS agent_name, \
                     c.visitor_name, e.message_id, m.agent_id AS message_agent_id, \
                     m.author_name, m.body, m.file_sha256, m.file_name, m.file_type, m.file_size \
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

    /// The newest chat event id handed out so far (0 when none): on
    /// PostgreSQL the sequence's (ids taken by writes not yet committed
    /// included), so a reader starting there waits only for ids taken after
    /// it started.
    pub async fn newest_chat_event_id(&self) -> StoreResult<i64> {
        let query = match &self.backend {
            crate::Backend::Sqlite(_) => "SELECT COALESCE(MAX(id), 0) FROM chat_events",
            crate::Backend::Postgres(_) => {
                "SELECT COALESCE(pg_sequence_last_value(pg_get_serial_sequence('chat_events', 'id')::regclass), 0)"
            }
        };
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>(query).fetch_one(pool).await?
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

    /// How many chats each agent holding any holds now.
    pub async fn active_chat_counts(&self) -> StoreResult<Vec<(i64, i64)>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT agent_id, COUNT(*) FROM chats WHERE state = 'active' AND agent_id IS NOT NULL \
                 GROUP BY agent_id",
            )
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

    /// One message of a chat (a file's download finds it so).
    pub async fn chat_message(&self, message_id: i64) -> StoreResult<Option<ChatMessageRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ChatMessageRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {MESSAGE_COLUMNS} FROM chat_messages WHERE id = $1"
            )))
            .bind(message_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Offers a waiting chat to `to` (or, with `None`, to everyone of its
    /// department), if it is still offered as `expected` says (the agent
    /// and since when): of two nodes re-offering at once, one does.
    pub async fn offer_chat(
        &self,
        chat_id: i64,
        expected: (Option<i64>, Option<i64>),
        to: Option<i64>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let (expected_agent, expected_at) = expected;
        self.change_chat(
            chat_id,
            "UPDATE chats SET offered_agent_id = $2, offered_at = $3 \
             WHERE id = $1 AND state = 'waiting' \
             AND offered_agent_id IS NOT DISTINCT FROM $4 AND offered_at IS NOT DISTINCT FROM $5",
            &[to, to.map(|_| now.millis()), expected_agent, expected_at],
            ChatChange::Offered(to),
            now,
        )
        .await
    }

    /// The agents a chat has been offered to in this round.
    pub async fn offered_agents(&self, chat_id: i64) -> StoreResult<Vec<i64>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT agent_id FROM chat_offers WHERE chat_id = $1 ORDER BY agent_id")
                .bind(chat_id)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Waiting chats offered to an agent since before `before`.
    pub async fn offers_due(&self, before: Timestamp) -> StoreResult<Vec<ChatRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ChatRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {CHAT_COLUMNS} WHERE c.state = 'waiting' AND c.offered_agent_id IS NOT NULL \
                 AND c.offered_at < $1 ORDER BY c.offered_at LIMIT 100"
            )))
            .bind(before.millis())
            .fetch_all(pool)
            .await?
        }))
    }

    /// When each of these agents was last offered a chat (never: 0).
    pub async fn last_offered(&self, agent_ids: &[i64]) -> StoreResult<Vec<(i64, i64)>> {
        if agent_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(on_backend!(self, pool => {
            let mut builder = sqlx::QueryBuilder::new(
                "SELECT agent_id, last_offered_at FROM chat_agents WHERE agent_id IN (",
            );
            crate::tickets::push_ids(&mut builder, agent_ids);
            builder.push(")");
            builder.build_query_as::<(i64, i64)>().fetch_all(pool).await?
        }))
    }

    /// Gives a chat under way from one agent to another.
    pub async fn transfer_to_agent(
        &self,
        chat_id: i64,
        from: i64,
        to: i64,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.change_chat(
            chat_id,
            "UPDATE chats SET agent_id = $3 WHERE id = $1 AND state = 'active' AND agent_id = $2",
            &[Some(from), Some(to)],
            ChatChange::Transferred(Some(to)),
            now,
        )
        .await
    }

    /// Puts a chat under way back in the queue, of another department.
    pub async fn transfer_to_department(
        &self,
        chat_id: i64,
        from: i64,
        department_id: i64,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.change_chat(
            chat_id,
            "UPDATE chats SET state = 'waiting', agent_id = NULL, accepted_at = NULL, \
                 offered_agent_id = NULL, offered_at = NULL, department_id = $3 \
             WHERE id = $1 AND state = 'active' AND agent_id = $2 \
             AND EXISTS (SELECT 1 FROM departments WHERE id = $3)",
            &[Some(from), Some(department_id)],
            ChatChange::Transferred(None),
            now,
        )
        .await
    }

    /// Invites an agent into a chat under way; `false` when it is not under
    /// way or they are in it already.
    pub async fn add_guest(
        &self,
        chat_id: i64,
        agent_id: i64,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.change_chat(
            chat_id,
            "INSERT INTO chat_guests (chat_id, agent_id, added_at) \
             SELECT $1, $2, $3 WHERE EXISTS \
                 (SELECT 1 FROM chats WHERE id = $1 AND state = 'active' AND agent_id <> $2) \
             ON CONFLICT (chat_id, agent_id) DO NOTHING",
            &[Some(agent_id), Some(now.millis())],
            ChatChange::Invited(agent_id),
            now,
        )
        .await
    }

    /// An invited agent leaves a chat.
    pub async fn remove_guest(
        &self,
        chat_id: i64,
        agent_id: i64,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.change_chat(
            chat_id,
            "DELETE FROM chat_guests WHERE chat_id = $1 AND agent_id = $2",
            &[Some(agent_id)],
            ChatChange::Left(agent_id),
            now,
        )
        .await
    }

    /// The agents invited into a chat, with their names.
    pub async fn chat_guests(&self, chat_id: i64) -> StoreResult<Vec<(i64, String)>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, (i64, String)>(
                "SELECT g.agent_id, p.name FROM chat_guests g JOIN people p ON p.id = g.agent_id \
                 WHERE g.chat_id = $1 ORDER BY g.added_at",
            )
            .bind(chat_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The guests of several chats in one query, by chat (each in the
    /// order they were invited).
    pub async fn guests_of_chats(
        &self,
        chat_ids: &[i64],
    ) -> StoreResult<std::collections::HashMap<i64, Vec<(i64, String)>>> {
        if chat_ids.is_empty() {
            return Ok(Default::default());
        }
        let rows = on_backend!(self, pool => {
            let mut builder = sqlx::QueryBuilder::new(
                "SELECT g.chat_id, g.agent_id, p.name FROM chat_guests g JOIN people p ON p.id = g.agent_id \
                 WHERE g.chat_id IN (",
            );
            crate::tickets::push_ids(&mut builder, chat_ids);
            builder.push(") ORDER BY g.added_at");
            builder.build_query_as::<(i64, i64, String)>().fetch_all(pool).await?
        });
        let mut by_chat: std::collections::HashMap<i64, Vec<(i64, String)>> = Default::default();
        for (chat_id, agent_id, name) in rows {
            by_chat.entry(chat_id).or_default().push((agent_id, name));
        }
        Ok(by_chat)
    }

    /// The chats not ended that the agent was invited into.
    pub async fn guest_chats(&self, agent_id: i64) -> StoreResult<Vec<i64>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, i64>(
                "SELECT g.chat_id FROM chat_guests g JOIN chats c ON c.id = g.chat_id \
                 WHERE g.agent_id = $1 AND c.state <> 'ended' ORDER BY g.chat_id",
            )
            .bind(agent_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The visitor asked for the transcript by mail.
    pub async fn want_transcript(&self, chat_id: i64) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query("UPDATE chats SET transcript_wanted = TRUE WHERE id = $1")
                .bind(chat_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Deletes up to `limit` chats that ended before `before` and whose
    /// transcripts are saved (their messages, events and guests go with
    /// them); answers how many went.
    pub async fn delete_ended_chats(&self, before: Timestamp, limit: i64) -> StoreResult<u64> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query(
                "DELETE FROM chats WHERE id IN (SELECT id FROM chats WHERE state = 'ended' \
                 AND ended_at < $1 AND ticket_id IS NOT NULL ORDER BY ended_at LIMIT +$2)",
            )
            .bind(before.millis())
            .bind(limit)
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }
}
