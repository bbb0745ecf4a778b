//! Live updates for agents: one reader per node follows the ticket events
//! table (woken by this process's writes, by PostgreSQL's `NOTIFY` for
//! the other nodes', and by a poll each second as a safety net) and hands
//! each new event, in id order and only up to the first id not yet
//! committed (see `event_cursor`), to every open stream of this node. Each
//! stream decides per event, with its agent's own permissions, whether to
//! pass it on, so the work per event is one read however many agents are
//! connected. What the reader has handed out is where pages' live updates
//! start and how far a stream catching up reads from the database.
//!
//! The same listener brings the other nodes' presence news (see
//! `presence`).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use ferrodesk_core::{DepartmentAccess, Timestamp};
use ferrodesk_store::{TicketChangeMark, TicketEventRecord};
use tokio::sync::{broadcast, watch};

use crate::event_cursor::{EventCursor, HOLE_POLL};
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
    /// The last event handed out: every one up to it has committed.
    handed_out: AtomicI64,
}

impl LiveHub {
    pub(crate) fn after(started_after: i64) -> LiveHub {
        let (events, _) = broadcast::channel(BUFFERED_EVENTS);
        LiveHub {
            events,
            started_after,
            handed_out: AtomicI64::new(started_after),
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

    /// The last ticket event this node's reader handed out: every event up
    /// to it has committed, so a page read after this reflects them all,
    /// and its live updates start here (a later change the page already
    /// shows is replayed, never one it lacks skipped).
    pub fn ticket_events_handed_out(&self) -> i64 {
        self.inner.live.handed_out.load(Ordering::Acquire)
    }

    /// The ticket change mark (see `Tickets::ticket_change_mark`), with
    /// the events handed out read first.
    pub(crate) async fn ticket_change_mark(&self) -> AppResult<TicketChangeMark> {
        let handed_out = self.ticket_events_handed_out();
        Ok(self
            .store()
            .tickets()
            .ticket_change_mark(handed_out)
            .await?)
    }

    /// Stored events after `after_id` (a stream catching up), oldest
    /// first, up to those the reader has handed out: later ones reach the
    /// stream from the reader, in order.
    pub async fn ticket_events_after(&self, after_id: i64) -> AppResult<Vec<TicketEventRecord>> {
        let up_to = self.ticket_events_handed_out();
        Ok(self
            .store()
            .tickets()
            .ticket_events_after(after_id, up_to, READ_BATCH)
            .await?)
    }

    /// Where a new stream starts, and the oldest event a returning one can
    /// resume after.
    pub async fn ticket_event_bounds(&self) -> AppResult<(i64, i64)> {
        Ok((
            self.ticket_events_handed_out(),
            self.store().tickets().oldest_ticket_event_id().await?,
        ))
    }

    /// Follows the events table until stopped, handing new events to this
    /// node's streams and pruning old ones.
    pub(crate) async fn run_live_reader(&self, mut stopped: watch::Receiver<bool>) {
        let store = self.store();
        let written = store.ticket_event_written();
        let mut cursor = EventCursor::after(self.inner.live.started_after);
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
            self.hand_out_events(&mut cursor).await;
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
            // Waiting on a hole: look again soon even if nothing wakes us.
            let poll = if cursor.waits_on_a_hole() {
                HOLE_POLL
            } else {
                SAFETY_POLL
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
                () = tokio::time::sleep(poll) => {}
                _ = stopped.changed() => {}
            }
        }
    }

    /// Reads what is new after the cursor and hands it out, in id order,
    /// up to the first event not yet committed.
    async fn hand_out_events(&self, cursor: &mut EventCursor) {
        loop {
            let events = match self
                .store()
                .tickets()
                .ticket_events_after(cursor.last(), i64::MAX, READ_BATCH)
                .await
            {
                Ok(events) => events,
                Err(error) => {
                    tracing::warn!(%error, "cannot read ticket events");
                    return;
                }
            };
            let full = events.len() as i64 >= READ_BATCH;
            for event in events {
                if !cursor.may_pass(event.id, "ticket") {
                    // A write before this one has not committed yet.
                    return;
                }
                // Marked handed out before it is sent: a stream that reads
                // the stored events up to here and the same event from the
                // channel passes it once (streams skip ids they passed).
                self.inner
                    .live
                    .handed_out
                    .fetch_max(event.id, Ordering::AcqRel);
                // No stream open is not a failure.
                let _ = self.inner.live.events.send(Arc::new(event));
            }
            if !full {
                return;
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
