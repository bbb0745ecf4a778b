//! Delivering chat events: one reader per node follows the chat events
//! table (woken by this process's writes, by PostgreSQL's `NOTIFY` for
//! the other nodes', and by a poll each second as a safety net) and hands
//! each new event to the sockets of this node that may care: every agent
//! socket, and the visitor sockets of that one chat (a node with
//! thousands of visitors does not wake them all for each message). Each
//! socket still decides per event whether its owner may hear of it: a
//! visitor only of their own chat, an agent only of chats in their
//! departments.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrodesk_store::ChatEventRecord;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, broadcast, watch};

use crate::event_cursor::{EventCursor, HOLE_POLL};
use crate::{Actor, App, AppResult};

/// Events a slow socket may fall behind by before it reads the rest from
/// the database.
const BUFFERED_EVENTS: usize = 1024;
/// The most events read at once.
pub const READ_BATCH: i64 = 500;
/// How often the reader looks even when nothing woke it.
const SAFETY_POLL: Duration = Duration::from_secs(1);
/// How often a node looks for abandoned chats and old ones to forget.
const ABANDONED_SWEEP_EVERY: Duration = Duration::from_secs(60);
/// How often a node moves on offers nobody accepted in time.
const OFFER_SWEEP_EVERY: Duration = Duration::from_secs(2);
/// How long an agent's socket trusts the departments it read.
const AUDIENCE_FRESH_FOR: Duration = Duration::from_secs(15);
/// What one chat's visitor sockets may fall behind by.
const BUFFERED_PER_CHAT: usize = 64;

/// Someone typing in a chat: told to the chat's other side, never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatTyping {
    /// The node that heard it first (it has told its own sockets).
    node: String,
    pub chat_id: i64,
    pub department_id: i64,
    /// The agent holding the chat, if any.
    pub agent_id: Option<i64>,
    /// Typed by the agent (else by the visitor).
    pub by_agent: bool,
    pub name: String,
}

/// What a visitor's socket hears of its chat.
#[derive(Debug, Clone)]
pub enum ChatNews {
    Event(Arc<ChatEventRecord>),
    Typing(ChatTyping),
}

/// This node's fan-out of chat events.
#[derive(Debug)]
pub struct ChatHub {
    /// Every event, for agents' sockets.
    events: broadcast::Sender<Arc<ChatEventRecord>>,
    typing: broadcast::Sender<ChatTyping>,
    /// Each chat's news, for the visitor sockets bound to it; an entry
    /// lives while a socket listens.
    visitors: Mutex<HashMap<i64, broadcast::Sender<ChatNews>>>,
    node: String,
    /// Where the node's reader starts: the newest event id taken when it
    /// started (no socket is open yet to miss the older ones).
    started_after: i64,
    /// The newest event the reader has handed out.
    handed_out: AtomicI64,
    /// Another node wrote a chat event (heard by the live reader's
    /// listener).
    heard: Notify,
}

impl ChatHub {
    pub(crate) fn after(started_after: i64) -> ChatHub {
        let (events, _) = broadcast::channel(BUFFERED_EVENTS);
        let (typing, _) = broadcast::channel(BUFFERED_EVENTS);
        let node = crate::secrets::random_bytes::<8>()
            .map(hex::encode)
            .unwrap_or_else(|_| format!("{}", std::process::id()));
        ChatHub {
            events,
            typing,
            visitors: Mutex::new(HashMap::new()),
            node,
            started_after,
            handed_out: AtomicI64::new(started_after),
            heard: Notify::new(),
        }
    }

    pub(crate) fn heard_from_another_node(&self) {
        self.heard.notify_waiters();
    }

    fn visitors(&self) -> std::sync::MutexGuard<'_, HashMap<i64, broadcast::Sender<ChatNews>>> {
        // A panic while holding the map leaves it whole: carry on with it.
        self.visitors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Tells a chat's visitor sockets on this node, if any listen.
    fn tell_visitors(&self, chat_id: i64, news: ChatNews) {
        let mut visitors = self.visitors();
        if let Some(sender) = visitors.get(&chat_id)
            && sender.send(news).is_err()
        {
            visitors.remove(&chat_id);
        }
    }
}

/// A visitor socket's line to its chat's news; leaving, the last one
/// takes the chat's entry with it.
#[derive(Debug)]
pub struct ChatSubscription {
    app: App,
    chat_id: i64,
    receiver: Option<broadcast::Receiver<ChatNews>>,
}

impl ChatSubscription {
    /// The next news of the chat (`Lagged` when the socket fell behind:
    /// read the rest from the store).
    pub async fn recv(&mut self) -> Result<ChatNews, broadcast::error::RecvError> {
        match self.receiver.as_mut() {
            Some(receiver) => receiver.recv().await,
            None => Err(broadcast::error::RecvError::Closed),
        }
    }
}

impl Drop for ChatSubscription {
    fn drop(&mut self) {
        drop(self.receiver.take());
        let mut visitors = self.app.inner.chat.visitors();
        if visitors
            .get(&self.chat_id)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            visitors.remove(&self.chat_id);
        }
    }
}

/// The agent a socket is for and the departments whose chats they see,
/// re-read now and then so access taken away stops the events it allowed.
#[derive(Debug)]
pub struct ChatAudience {
    actor: Actor,
    pub agent_id: i64,
    departments: BTreeSet<i64>,
    /// The chats under way the agent was invited into (kept current from
    /// the events that change it).
    guest_of: BTreeSet<i64>,
    read_at: Instant,
}

impl ChatAudience {
    /// Whether the agent hears of the event: chats of their departments,
    /// and of those under way only the ones they hold.
    pub async fn admits(&mut self, app: &App, event: &ChatEventRecord) -> AppResult<bool> {
        if self.read_at.elapsed() > AUDIENCE_FRESH_FOR {
            self.departments = app.agent_chat_departments(&self.actor).await?;
            self.read_at = Instant::now();
        }
        if !self.departments.contains(&event.department_id) {
            return Ok(false);
        }
        let about_me = event.target_agent_id == Some(self.agent_id);
        match event.kind.as_str() {
            "invited" if about_me => {
                self.guest_of.insert(event.chat_id);
            }
            "left" | "transferred" if about_me => {
                self.guest_of.remove(&event.chat_id);
            }
            "ended" => {
                self.guest_of.remove(&event.chat_id);
            }
            _ => {}
        }
        let held_by_another = event.state == "active"
            && event.agent_id.is_some_and(|agent| agent != self.agent_id)
            && !self.guest_of.contains(&event.chat_id);
        // Others in the department hear that the chat was taken or ended
        // (it leaves their queue), never its messages.
        Ok(!(held_by_another && event.kind == "message"))
    }

    /// Whether the agent was invited into the chat.
    pub fn is_guest(&self, chat_id: i64) -> bool {
        self.guest_of.contains(&chat_id)
    }

    /// Whether the agent hears that a visitor is typing: in a chat of
    /// their departments that they hold.
    pub fn hears_typing(&self, typing: &ChatTyping) -> bool {
        !typing.by_agent
            && self.departments.contains(&typing.department_id)
            && (typing.agent_id == Some(self.agent_id) || self.guest_of.contains(&typing.chat_id))
    }
}

impl App {
    /// An agent socket's audience.
    pub async fn chat_audience(&self, actor: &Actor) -> AppResult<ChatAudience> {
        let agent_id = self.agent_context(actor).await?.agent_id;
        Ok(ChatAudience {
            agent_id,
            guest_of: self
                .store()
                .chats()
                .guest_chats(agent_id)
                .await?
                .into_iter()
                .collect(),
            departments: self.agent_chat_departments(actor).await?,
            actor: actor.clone(),
            read_at: Instant::now(),
        })
    }

    /// One chat's events and typing, for its visitor's socket; subscribe
    /// before reading the chat, so nothing falls between.
    pub fn subscribe_chat(&self, chat_id: i64) -> ChatSubscription {
        let receiver = self
            .inner
            .chat
            .visitors()
            .entry(chat_id)
            .or_insert_with(|| broadcast::channel(BUFFERED_PER_CHAT).0)
            .subscribe();
        ChatSubscription {
            app: self.clone(),
            chat_id,
            receiver: Some(receiver),
        }
    }

    /// News of typing in chats, this node's and the others'.
    pub fn subscribe_chat_typing(&self) -> broadcast::Receiver<ChatTyping> {
        self.inner.chat.typing.subscribe()
    }

    /// Someone typed in `chat_id`: the other side hears it on every node.
    /// The chat is read again, so an agent hears only of chats they hold.
    pub(crate) async fn tell_chat_typing(
        &self,
        chat_id: i64,
        by_agent: bool,
        name: &str,
    ) -> AppResult<()> {
        let Some(chat) = self.store().chats().chat(chat_id).await? else {
            return Ok(());
        };
        if chat.state == "ended" {
            return Ok(());
        }
        let typing = ChatTyping {
            node: self.inner.chat.node.clone(),
            chat_id,
            department_id: chat.department_id,
            agent_id: chat.agent_id,
            by_agent,
            name: name.to_owned(),
        };
        self.hand_out_typing(typing.clone());
        let payload = serde_json::to_string(&typing)
            .map_err(|error| crate::AppError::Internal(error.to_string()))?;
        self.store().chats().announce_chat_typing(&payload).await?;
        Ok(())
    }

    pub(crate) fn heard_chat_typing(&self, payload: &str) {
        match serde_json::from_str::<ChatTyping>(payload) {
            Ok(typing) if typing.node != self.inner.chat.node => self.hand_out_typing(typing),
            Ok(_) => {}
            Err(error) => tracing::debug!(%error, "unreadable chat typing news"),
        }
    }

    fn hand_out_typing(&self, typing: ChatTyping) {
        // The visitor hears the agent; agents hear visitors.
        if typing.by_agent {
            self.inner
                .chat
                .tell_visitors(typing.chat_id, ChatNews::Typing(typing));
        } else {
            // No socket open is not a failure.
            let _ = self.inner.chat.typing.send(typing);
        }
    }

    /// Every chat event this node reads from now on.
    pub fn subscribe_chat_events(&self) -> broadcast::Receiver<Arc<ChatEventRecord>> {
        self.inner.chat.events.subscribe()
    }

    /// Stored events after `after_id` that this node has handed out (a
    /// socket catching up), oldest first: never past the reader, which
    /// alone knows whether an earlier write is still to commit.
    pub async fn chat_events_after(&self, after_id: i64) -> AppResult<Vec<ChatEventRecord>> {
        let handed_out = self.newest_chat_event_id();
        let mut events = self
            .store()
            .chats()
            .chat_events_after(after_id, READ_BATCH)
            .await?;
        events.retain(|event| event.id <= handed_out);
        Ok(events)
    }

    /// The newest event this node has handed out: where a new socket
    /// starts (what it reads of its chat includes it; later ones come).
    pub fn newest_chat_event_id(&self) -> i64 {
        self.inner.chat.handed_out.load(Ordering::Acquire)
    }

    /// Follows the chat events table until stopped, handing new events to
    /// this node's sockets in id order.
    pub(crate) async fn run_chat_reader(&self, mut stopped: watch::Receiver<bool>) {
        let written = self.store().chat_event_written();
        let mut cursor = EventCursor::after(self.inner.chat.started_after);
        let mut swept_at = Instant::now();
        let mut offers_at = Instant::now();
        loop {
            if *stopped.borrow() {
                break;
            }
            if swept_at.elapsed() > ABANDONED_SWEEP_EVERY {
                swept_at = Instant::now();
                if let Err(error) = self.end_abandoned_chats().await {
                    tracing::warn!(%error, "cannot end abandoned chats");
                }
                if let Err(error) = self.forget_old_chats().await {
                    tracing::warn!(%error, "cannot forget old chats");
                }
            }
            if offers_at.elapsed() > OFFER_SWEEP_EVERY {
                offers_at = Instant::now();
                if let Err(error) = self.move_on_unanswered_offers().await {
                    tracing::warn!(%error, "cannot move chat offers on");
                }
            }
            // Asked to be woken before reading, so a write committed while
            // reading wakes the next round instead of waiting for the poll.
            let woken = written.notified();
            let heard = self.inner.chat.heard.notified();
            tokio::pin!(woken, heard);
            woken.as_mut().enable();
            heard.as_mut().enable();
            self.hand_out_chat_events(&mut cursor).await;
            // Waiting on a hole: look again soon even if nothing wakes us,
            // so a rolled-back write does not hold the rest for long.
            let poll = if cursor.waits_on_a_hole() {
                HOLE_POLL
            } else {
                SAFETY_POLL
            };
            tokio::select! {
                () = &mut woken => {}
                () = &mut heard => {}
                () = tokio::time::sleep(poll) => {}
                _ = stopped.changed() => {}
            }
        }
    }

    async fn hand_out_chat_events(&self, cursor: &mut EventCursor) {
        loop {
            let events = match self
                .store()
                .chats()
                .chat_events_after(cursor.last(), READ_BATCH)
                .await
            {
                Ok(events) => events,
                Err(error) => {
                    tracing::warn!(%error, "cannot read chat events");
                    return;
                }
            };
            let full = events.len() as i64 >= READ_BATCH;
            for event in events {
                if !cursor.may_pass(event.id, "chat") {
                    // A write before this one has not committed yet.
                    return;
                }
                let event = Arc::new(event);
                self.inner
                    .chat
                    .handed_out
                    .fetch_max(event.id, Ordering::AcqRel);
                self.inner
                    .chat
                    .tell_visitors(event.chat_id, ChatNews::Event(event.clone()));
                // No socket open is not a failure.
                let _ = self.inner.chat.events.send(event);
            }
            if !full {
                return;
            }
        }
    }
}
