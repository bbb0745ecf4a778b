//! `/agent/events`: the agent's live updates as Server-Sent Events. The
//! stream carries the ticket events the agent may see (checked per event
//! with their own permissions), numbered so that a browser that
//! reconnects resumes after the last one it got (`Last-Event-ID`). Only
//! the staff session opens it, and only from the helpdesk's own pages.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ferrodesk_app::{
    App, AppError, EventAudience, PresentAgent, RENEW_EVERY, TicketEventRecord, TicketKey,
    TicketWatch,
};
use ferrodesk_core::Timestamp;
use serde::Deserialize;
use tokio::sync::broadcast;

use crate::AppState;
use crate::error::WebResult;
use crate::pages::AgentSession;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/events", get(events))
        .route("/agent/tickets/{reference}/typing", post(typing))
}

/// The agent is typing in the ticket's reply box: the others with the
/// ticket open see it for a few seconds.
async fn typing(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(reference): Path<String>,
) -> WebResult<Response> {
    state
        .app
        .note_typing(&session.actor, &TicketKey::parse(&reference)?)
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// A stream ends after this long and the browser opens a new one (picking
/// up where it left off), so a session that ended or a permission taken
/// away is noticed by the next request's checks.
const STREAM_LIFETIME: Duration = Duration::from_secs(300);
/// How often a quiet stream sends a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a browser waits before reconnecting, in milliseconds.
const RECONNECT_AFTER_MS: u64 = 1_000;

#[derive(Debug, Default, Deserialize)]
struct EventsQuery {
    /// The newest event the page already reflects (its render time).
    after: Option<String>,
    /// The ticket the page shows: the stream also tells who else has it
    /// open and who is typing, and tells them about this agent.
    ticket: Option<String>,
}

/// Where the stream starts: after the id the browser last got, or after
/// the page's own, or from now.
fn resume_point(headers: &HeaderMap, query: &EventsQuery) -> Option<i64> {
    headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().parse().ok())
        .or_else(|| {
            query
                .after
                .as_deref()
                .and_then(|text| text.trim().parse().ok())
        })
        .filter(|id: &i64| *id >= 0)
}

async fn events(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    headers: HeaderMap,
    Query(query): Query<EventsQuery>,
) -> WebResult<Response> {
    // Only the helpdesk's own pages, as for any form (`Origin`, `Sec-Fetch-Site`).
    if crate::session::comes_from_another_site(&headers, &state.config.public_url) {
        return Err(AppError::Forbidden.into());
    }
    let audience = state.app.event_audience(&session.actor).await?;
    let watch = match query.ticket.as_deref() {
        Some(reference) => Some(
            state
                .app
                .watch_ticket(&session.actor, &TicketKey::parse(reference)?)
                .await?,
        ),
        None => None,
    };
    // Subscribed before reading the stored events, so none falls between.
    let receiver = state.app.subscribe_ticket_events();
    let (newest, oldest) = state.app.ticket_event_bounds().await?;
    let (last, missed) = match resume_point(&headers, &query) {
        Some(id) if id <= newest => (id, oldest > 0 && id + 1 < oldest),
        _ => (newest, false),
    };
    let stream = EventStream {
        presence: state.app.subscribe_presence(),
        presence_due: watch.is_some(),
        renew_at: tokio::time::Instant::now() + RENEW_EVERY,
        watch,
        app: state.app.clone(),
        audience,
        receiver,
        last,
        queue: VecDeque::new(),
        catch_up: last < newest,
        missed,
        ends_at: tokio::time::Instant::now() + STREAM_LIFETIME,
    };
    let events = futures_util::stream::unfold(stream, EventStream::next_event);
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)),
    )
        .into_response())
}

/// One agent's stream: what it has sent and what waits to be checked.
struct EventStream {
    app: App,
    audience: EventAudience,
    receiver: broadcast::Receiver<Arc<TicketEventRecord>>,
    /// The newest event id considered (sent or not).
    last: i64,
    queue: VecDeque<Arc<TicketEventRecord>>,
    /// Stored events must be read before the live ones.
    catch_up: bool,
    /// The browser asked to resume from events no longer kept: it must
    /// reload what it shows.
    missed: bool,
    ends_at: tokio::time::Instant,
    /// The ticket page's presence: renewed every `RENEW_EVERY`, and sent
    /// whenever it changes.
    watch: Option<TicketWatch>,
    presence: broadcast::Receiver<i64>,
    presence_due: bool,
    renew_at: tokio::time::Instant,
}

impl EventStream {
    async fn next_event(mut self) -> Option<(Result<Event, Infallible>, EventStream)> {
        if std::mem::take(&mut self.missed) {
            let reset = Event::default()
                .event("reset")
                .retry(Duration::from_millis(RECONNECT_AFTER_MS))
                .data("{}");
            return Some((Ok(reset), self));
        }
        loop {
            if std::mem::take(&mut self.catch_up) {
                let stored = self.app.ticket_events_after(self.last).await.ok()?;
                self.catch_up = stored.len() >= 500;
                self.queue.extend(stored.into_iter().map(Arc::new));
            }
            if let Some(event) = self.queue.pop_front() {
                if event.id <= self.last {
                    continue;
                }
                self.last = event.id;
                if self.audience.admits(&self.app, &event).await.ok()? {
                    return Some((Ok(ticket_event(&event)), self));
                }
                continue;
            }
            if let Some(watch) = self.watch.as_ref()
                && std::mem::take(&mut self.presence_due)
            {
                let present = self.app.present_on(watch);
                return Some((Ok(presence_event(&present)), self));
            }
            let watching = self.watch.as_ref().map(|watch| watch.ticket_id);
            tokio::select! {
                received = self.receiver.recv() => match received {
                    Ok(event) => self.queue.push_back(event),
                    Err(broadcast::error::RecvError::Lagged(_)) => self.catch_up = true,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                changed = self.presence.recv(), if watching.is_some() => {
                    if matches!(changed, Ok(ticket) if Some(ticket) == watching)
                        || matches!(changed, Err(broadcast::error::RecvError::Lagged(_)))
                    {
                        self.presence_due = true;
                    }
                }
                () = tokio::time::sleep_until(self.renew_at), if watching.is_some() => {
                    self.renew_at = tokio::time::Instant::now() + RENEW_EVERY;
                    if let Some(watch) = self.watch.as_ref() {
                        self.app.renew_watch(watch).await;
                    }
                    self.presence_due = true;
                }
                () = tokio::time::sleep_until(self.ends_at) => return None,
            }
        }
    }
}

/// Who else has the ticket open, and who of them is typing.
fn presence_event(present: &[PresentAgent]) -> Event {
    Event::default()
        .event("presence")
        .data(serde_json::json!({ "agents": present }).to_string())
}

/// An event as the pages read it.
fn ticket_event(event: &TicketEventRecord) -> Event {
    let data = serde_json::json!({
        "kind": event.kind,
        "reference": event.reference.to_string(),
        "subject": event.subject,
        "status": event.status.key(),
        "status_label": event.status.label(),
        "actor_id": event.actor_id,
        "actor": event.actor_name,
        "at": Timestamp(event.occurred_at).rfc3339(),
    });
    Event::default()
        .event("ticket")
        .id(event.id.to_string())
        .retry(Duration::from_millis(RECONNECT_AFTER_MS))
        .data(data.to_string())
}
