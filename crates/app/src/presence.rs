//! Presence on a ticket: which other agents have it open, and who is
//! typing a reply. Nothing is stored: each node keeps what it knows in
//! memory, tells the other nodes through PostgreSQL's `NOTIFY` (on SQLite
//! there is one process), and forgets what is not renewed: an open ticket
//! page renews its presence every `RENEW_EVERY`, typing every few seconds.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferrodesk_core::Permission;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::tickets::TicketKey;
use crate::{Actor, App, AppError, AppResult};

/// How often an open ticket page says it is still open.
pub const RENEW_EVERY: Duration = Duration::from_secs(20);
/// A viewer not heard of for this long has gone.
const VIEWER_LAPSES_AFTER: Duration = Duration::from_secs(45);
/// "Is typing" lasts this long after the last keystroke reported.
const TYPING_LAPSES_AFTER: Duration = Duration::from_secs(8);

/// One agent on one ticket, as this node knows it.
#[derive(Debug, Clone)]
struct Viewer {
    name: String,
    seen_until: Instant,
    typing_until: Option<Instant>,
}

/// Another agent with the ticket open, as the page shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PresentAgent {
    pub agent_id: i64,
    pub name: String,
    pub typing: bool,
}

/// What one node tells the others.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PresenceNews {
    node: String,
    ticket: i64,
    agent: i64,
    name: String,
    /// `view`, `type` or `leave`.
    state: String,
}

/// This node's view of presence, and the news of its changes (the id of
/// the ticket that changed).
#[derive(Debug)]
pub(crate) struct PresenceBoard {
    node: String,
    tickets: Mutex<HashMap<i64, HashMap<i64, Viewer>>>,
    changes: broadcast::Sender<i64>,
}

impl PresenceBoard {
    pub(crate) fn new() -> PresenceBoard {
        let node = crate::secrets::random_bytes::<8>()
            .map(hex::encode)
            .unwrap_or_else(|_| format!("{}", std::process::id()));
        let (changes, _) = broadcast::channel(1024);
        PresenceBoard {
            node,
            tickets: Mutex::new(HashMap::new()),
            changes,
        }
    }

    /// Applies one piece of news (this node's or another's) and tells the
    /// streams of the ticket.
    fn apply(&self, news: &PresenceNews) {
        let now = Instant::now();
        if let Ok(mut tickets) = self.tickets.lock() {
            let viewers = tickets.entry(news.ticket).or_default();
            viewers.retain(|_, viewer| viewer.seen_until > now);
            match news.state.as_str() {
                "leave" => {
                    viewers.remove(&news.agent);
                }
                state => {
                    let viewer = viewers.entry(news.agent).or_insert_with(|| Viewer {
                        name: news.name.clone(),
                        seen_until: now,
                        typing_until: None,
                    });
                    viewer.name.clone_from(&news.name);
                    viewer.seen_until = now + VIEWER_LAPSES_AFTER;
                    if state == "type" {
                        viewer.typing_until = Some(now + TYPING_LAPSES_AFTER);
                    }
                }
            }
            if viewers.is_empty() {
                tickets.remove(&news.ticket);
            }
        }
        let _ = self.changes.send(news.ticket);
    }

    fn present(&self, ticket_id: i64, except: i64) -> Vec<PresentAgent> {
        let now = Instant::now();
        let Ok(tickets) = self.tickets.lock() else {
            return Vec::new();
        };
        let mut present: Vec<PresentAgent> = tickets
            .get(&ticket_id)
            .into_iter()
            .flatten()
            .filter(|(agent_id, viewer)| **agent_id != except && viewer.seen_until > now)
            .map(|(agent_id, viewer)| PresentAgent {
                agent_id: *agent_id,
                name: viewer.name.clone(),
                typing: viewer.typing_until.is_some_and(|until| until > now),
            })
            .collect();
        present.sort_by(|a, b| a.name.cmp(&b.name));
        present
    }
}

/// An agent's open ticket page, for as long as its stream lasts; dropping
/// it tells the others the agent left.
#[derive(Debug)]
pub struct TicketWatch {
    app: App,
    pub ticket_id: i64,
    agent_id: i64,
    name: String,
}

impl Drop for TicketWatch {
    fn drop(&mut self) {
        let app = self.app.clone();
        let news = app.news(self.ticket_id, self.agent_id, &self.name, "leave");
        app.inner.presence.apply(&news);
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(async move { app.spread(&news).await });
        }
    }
}

impl App {
    fn news(&self, ticket: i64, agent: i64, name: &str, state: &str) -> PresenceNews {
        PresenceNews {
            node: self.inner.presence.node.clone(),
            ticket,
            agent,
            name: name.to_owned(),
            state: state.to_owned(),
        }
    }

    /// Tells the other nodes; presence is best effort, so a failure is
    /// only logged.
    async fn spread(&self, news: &PresenceNews) {
        let Ok(payload) = serde_json::to_string(news) else {
            return;
        };
        if let Err(error) = self.store().tickets().announce_presence(&payload).await {
            tracing::debug!(%error, "cannot announce presence");
        }
    }

    async fn announce(&self, news: PresenceNews) {
        self.inner.presence.apply(&news);
        self.spread(&news).await;
    }

    /// Another node's news, as its listener heard it.
    pub(crate) fn heard_presence(&self, payload: &str) {
        match serde_json::from_str::<PresenceNews>(payload) {
            Ok(news) if news.node != self.inner.presence.node => self.inner.presence.apply(&news),
            Ok(_) => {}
            Err(error) => tracing::debug!(%error, "unreadable presence news"),
        }
    }

    /// The agent has the ticket open (it must be one they may see).
    pub async fn watch_ticket(&self, actor: &Actor, key: &TicketKey) -> AppResult<TicketWatch> {
        let Actor::Agent(agent) = actor else {
            return Err(AppError::Forbidden);
        };
        let context = self.agent_context(actor).await?;
        let (ticket, _) = self.visible_ticket(&context, key).await?;
        let watch = TicketWatch {
            app: self.clone(),
            ticket_id: ticket.id,
            agent_id: agent.person_id,
            name: agent.name.clone(),
        };
        self.renew_watch(&watch).await;
        Ok(watch)
    }

    /// The ticket is still open.
    pub async fn renew_watch(&self, watch: &TicketWatch) {
        let news = self.news(watch.ticket_id, watch.agent_id, &watch.name, "view");
        self.announce(news).await;
    }

    /// The agent is typing a reply or note on the ticket.
    pub async fn note_typing(&self, actor: &Actor, key: &TicketKey) -> AppResult<()> {
        let Actor::Agent(agent) = actor else {
            return Err(AppError::Forbidden);
        };
        let context = self.agent_context(actor).await?;
        let (ticket, _) = self.visible_ticket(&context, key).await?;
        if !context.effective.has(Permission::TicketReply)
            && !context.effective.has(Permission::TicketNote)
        {
            return Err(AppError::Forbidden);
        }
        let news = self.news(ticket.id, agent.person_id, &agent.name, "type");
        self.announce(news).await;
        Ok(())
    }

    /// The other agents with the ticket open.
    pub fn present_on(&self, watch: &TicketWatch) -> Vec<PresentAgent> {
        self.inner.presence.present(watch.ticket_id, watch.agent_id)
    }

    /// The ids of tickets whose presence changes from now on.
    pub fn subscribe_presence(&self) -> broadcast::Receiver<i64> {
        self.inner.presence.changes.subscribe()
    }
}
