//! Live updates for agents: one reader per node follows the ticket events
//! table (woken by this process's writes, by PostgreSQL's `NOTIFY` for
//! the other nodes', and by a poll each second as a safety net) and hands
//! each new event to every open stream of this node. Each stream decides
//! per event, with its agent's own permissions, whether to pass it on, so
//! the work per event is one read however many agents are connected.
//!
//! The same listener brings the other nodes' presence news (see
//! `presence`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrodesk_core::{DepartmentAccess, Timestamp};
use ferrodesk_store::TicketEventRecord;
use tokio::sync::{broadcast, watch};

use crate::tickets::AgentContext;
use crate::{Actor, App, AppResult};

/// Events a slow stream may fall behind by before it reads the rest from
/// the database.
const BUFFERED_EVENTS: usize = 1024;
/// The most events read at once.
const READ_BATCH: i64 = 500;
/// How often the reader looks even when nothing woke it.
const SAFETY_POLL: Duration = Duration::from_secs(1);
/// How long events are kept for streams that reconnect.
const KEPT_FOR: Duration = Duration::from_secs(24 * 3600);
/// How often old events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// How long a stream trusts the permissions it read.
const AUDIENCE_FRESH_FOR: Duration = Duration::from_secs(15);

/// This node's fan-out of ticket events.
#[derive(Debug)]
pub(crate) struct LiveHub {
    events: broadcast::Sender<Arc<TicketEventRecord>>,
    /// The newest event when the node started: it hands out the later ones.
    started_after: i64,
}

impl LiveHub {
    pub(crate) fn after(started_after: i64) -> LiveHub {
        let (events, _) = broadcast::channel(BUFFERED_EVENTS);
        LiveHub {
            events,
            started_after,
        }
    }
}

/// Who a stream is for and what they may see, re-read now and then so a
/// permission taken away stops the events it allowed.
#[derive(Debug)]
pub struct EventAudience {
    actor: Actor,
    context: AgentContext,
    read_at: Instant,
}

impl EventAudience {
    /// Whether the agent may see the ticket the event is about, as the
    /// ticket page would decide.
    pub async fn admits(&mut self, app: &App, event: &TicketEventRecord) -> AppResult<bool> {
        if self.read_at.elapsed() > AUDIENCE_FRESH_FOR {
            self.context = app.agent_context(&self.actor).await?;
            self.read_at = Instant::now();
        }
        let context = &self.context;
        match context.effective.department_access(event.department_id) {
            Some(DepartmentAccess::Full) => Ok(true),
            Some(DepartmentAccess::AssignOnly) => {
                if event.agent_id == Some(context.agent_id)
                    || event
                        .team_id
                        .is_some_and(|team| context.team_ids.contains(&team))
                {
                    return Ok(true);
                }
                Ok(app
                    .store()
                    .tickets()
                    .is_following(event.ticket_id, context.agent_id)
                    .await?)
            }
            None => Ok(false),
        }
    }
}

impl App {
    /// A stream's audience: the agent and their permissions now.
    pub async fn event_audience(&self, actor: &Actor) -> AppResult<EventAudience> {
        Ok(EventAudience {
            context: self.agent_context(actor).await?,
            actor: actor.clone(),
            read_at: Instant::now(),
        })
    }

    /// Every ticket event this node reads from now on.
    pub fn subscribe_ticket_events(&self) -> broadcast::Receiver<Arc<TicketEventRecord>> {
        self.inner.live.events.subscribe()
    }

    /// Stored events after `after_id` (a stream catching up), oldest first.
    pub async fn ticket_events_after(&self, after_id: i64) -> AppResult<Vec<TicketEventRecord>> {
        Ok(self
            .store()
            .tickets()
            .ticket_events_after(after_id, READ_BATCH)
            .await?)
    }

    /// Where a new stream starts, and the oldest event a returning one can
    /// resume after.
    pub async fn ticket_event_bounds(&self) -> AppResult<(i64, i64)> {
        let tickets = self.store().tickets();
        Ok((
            tickets.newest_ticket_event_id().await?,
            tickets.oldest_ticket_event_id().await?,
        ))
    }

    /// Follows the events table until stopped, handing new events to this
    /// node's streams and pruning old ones.
    pub(crate) async fn run_live_reader(&self, mut stopped: watch::Receiver<bool>) {
        let store = self.store();
        let written = store.ticket_event_written();
        let mut last = self.inner.live.started_after;
        let mut listener = None;
        let mut pruned_at = Instant::now();
        loop {
            if *stopped.borrow() {
                break;
            }
            if listener.is_none() {
                listener = store
                    .tickets()
                    .listen_for_ticket_events()
                    .await
                    .unwrap_or_else(|error| {
                        tracing::warn!(%error, "cannot listen for ticket events");
                        None
                    });
            }
            // Ask to be woken before reading, so a write committed while
            // reading wakes the next round instead of waiting for the poll.
            let woken = written.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            last = self.hand_out_events_after(last).await;
            if pruned_at.elapsed() > PRUNE_EVERY {
                pruned_at = Instant::now();
                self.prune_ticket_events().await;
            }
            let heard = async {
                match listener.as_mut() {
                    Some(listener) => listener.next().await,
                    None => std::future::pending().await,
                }
            };
            // Every ticket write queues its rules job: the workers take it
            // at once rather than at their next poll (the pool also hears
            // this node's writes itself).
            tokio::select! {
                () = &mut woken => self.wake_workers(),
                outcome = heard => match outcome {
                    Ok(ferrodesk_store::Heard::TicketEvents) => self.wake_workers(),
                    Ok(ferrodesk_store::Heard::Presence(payload)) => self.heard_presence(&payload),
                    Ok(ferrodesk_store::Heard::ChatEvents) => self.inner.chat.heard_from_another_node(),
                    Ok(ferrodesk_store::Heard::ChatTyping(payload)) => self.heard_chat_typing(&payload),
                    Err(error) => {
                        tracing::warn!(%error, "lost the ticket events listener");
                        listener = None;
                    }
                },
                () = tokio::time::sleep(SAFETY_POLL) => {}
                _ = stopped.changed() => {}
            }
        }
    }

    /// Reads what is new after `last` and hands it out; answers the newest
    /// id handed out.
    async fn hand_out_events_after(&self, mut last: i64) -> i64 {
        loop {
            let events = match self.ticket_events_after(last).await {
                Ok(events) => events,
                Err(error) => {
                    tracing::warn!(%error, "cannot read ticket events");
                    return last;
                }
            };
            let full = events.len() as i64 >= READ_BATCH;
            for event in events {
                last = event.id;
                // No stream open is not a failure.
                let _ = self.inner.live.events.send(Arc::new(event));
            }
            if !full {
                return last;
            }
        }
    }

    async fn prune_ticket_events(&self) {
        let cutoff = Timestamp(self.now().millis() - KEPT_FOR.as_millis() as i64);
        if let Err(error) = self.store().tickets().prune_ticket_events(cutoff).await {
            tracing::warn!(%error, "cannot prune ticket events");
        }
    }
}
