//! Live chat over WebSocket: `/chat` and `/chat/socket` for visitors of
//! the help center, `/agent/chats` and `/agent/chat/socket` for agents.
//!
//! Both sockets speak JSON text frames. The handshake checks `Origin`:
//! the agent's only from the helpdesk's own pages (and with the staff
//! session), the visitor's from the help center or a site the admin
//! lists. A visitor's socket is bound to the one chat whose secret key it
//! presents; an agent's checks the agent's departments on every action
//! and on every event it passes on. Clients never choose what they hear.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Form, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::chat::{
    ChatAudience, ChatDepartment, ChatEventRecord, ChatMessageRecord, ChatRecord, ChatTyping,
    ChatView, MAX_CHAT_MESSAGE_CHARS, NewChatInput,
};
use ferrodesk_app::{Actor, App, AppError, Caller};
use ferrodesk_core::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::AppState;
use crate::error::WebResult;
use crate::pages::{AgentSession, Chrome, render};
use crate::session::Session;

/// The largest frame a client may send.
const MAX_FRAME_BYTES: usize = 16 * 1024;
/// A socket that hears nothing from its client this long is closed.
const IDLE_LIMIT: Duration = Duration::from_secs(30 * 60);
/// How often the server pings, so proxies keep a quiet socket open and a
/// vanished client is noticed.
const PING_EVERY: Duration = Duration::from_secs(25);
/// Messages one socket may send in a burst, and how fast the allowance
/// comes back (one every `REFILL_EVERY`).
const MESSAGE_BURST: f64 = 10.0;
const REFILL_EVERY: Duration = Duration::from_millis(1_000);
/// How often a visitor's socket notes that the visitor is still there.
const SEEN_EVERY: Duration = Duration::from_secs(60);
/// A socket's "typing" is passed on at most this often.
const TYPING_EVERY: Duration = Duration::from_secs(2);

pub(crate) fn portal_routes() -> Router<AppState> {
    Router::new()
        .route("/chat", get(visitor_page))
        .route("/chat/socket", get(visitor_socket))
}

pub(crate) fn staff_routes() -> Router<AppState> {
    Router::new()
        .route("/agent/chats", get(agent_page))
        .route("/agent/chat/socket", get(agent_socket))
        .route("/agent/chat/availability", post(set_availability))
}

/// What the chat panel shows, on the page or in a frame.
struct VisitorPanel {
    departments: Vec<ChatDepartment>,
    welcome: String,
    agents_online: bool,
    wait_seconds: u32,
    signed_in: bool,
    max_chars: usize,
    /// "{agent} is here.", for the page's script to fill in.
    agent_here: String,
    /// "{name} is typing…", likewise.
    typing_text: String,
}

#[derive(Template)]
#[template(path = "help_center/chat.html")]
struct VisitorPage {
    chrome: Chrome,
    panel: VisitorPanel,
}

/// The same in another site's frame (see `/chat/widget.js`): no top bar.
#[derive(Template)]
#[template(path = "help_center/chat_embedded.html")]
struct EmbeddedPage {
    chrome: Chrome,
    panel: VisitorPanel,
}

#[derive(Debug, Default, Deserialize)]
struct VisitorQuery {
    #[serde(default)]
    embedded: Option<String>,
}

async fn visitor_page(
    State(state): State<AppState>,
    session: Session,
    axum::extract::Query(query): axum::extract::Query<VisitorQuery>,
) -> WebResult<Response> {
    let settings = state.app.chat_settings().await?;
    let panel = VisitorPanel {
        agents_online: state.app.chat_agents_online().await?,
        departments: state.app.chat_departments().await?,
        welcome: settings.welcome,
        wait_seconds: settings.wait_seconds,
        signed_in: matches!(session.actor, Actor::User(_)),
        max_chars: MAX_CHAT_MESSAGE_CHARS,
        agent_here: crate::text::t_with("chat-agent-here", &[("agent", &"{agent}")]),
        typing_text: crate::text::t_with("chat-typing", &[("name", &"{name}")]),
    };
    let chrome = Chrome::for_session(&session);
    if query.embedded.is_none() {
        return render(&VisitorPage { chrome, panel });
    }
    // Framed by the sites the admin lists, and by nobody else.
    let mut response = render(&EmbeddedPage { chrome, panel })?;
    let policy = crate::security_headers::policy_framed_by(&settings.allowed_origins);
    if let Ok(value) = axum::http::HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
        response
            .extensions_mut()
            .insert(crate::security_headers::FramingAllowed);
    }
    Ok(response)
}

#[derive(Template)]
#[template(path = "agent/chats.html")]
struct AgentPage {
    chrome: Chrome,
    csrf_token: String,
    availability: &'static str,
    chat_offered: bool,
    max_chars: usize,
}

async fn agent_page(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
) -> WebResult<Response> {
    let availability = state.app.chat_availability(&session.actor).await?;
    render(&AgentPage {
        chrome: Chrome::for_session(&session),
        csrf_token: session.csrf_token.clone(),
        availability: availability.key(),
        chat_offered: state.app.chat_settings().await?.enabled,
        max_chars: MAX_CHAT_MESSAGE_CHARS,
    })
}

#[derive(Debug, Deserialize)]
struct AvailabilityForm {
    #[serde(default)]
    availability: String,
}

async fn set_availability(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Form(form): Form<AvailabilityForm>,
) -> WebResult<Response> {
    state
        .app
        .set_chat_availability(&session.actor, &form.availability)
        .await?;
    Ok(Redirect::to("/agent/chats").into_response())
}

/// The `Origin` a WebSocket handshake must carry.
fn origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN)?.to_str().ok()
}

async fn visitor_socket(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> WebResult<Response> {
    let Some(origin) = origin(&headers) else {
        return Err(AppError::Forbidden.into());
    };
    let own_page = !crate::session::comes_from_another_site(&headers, &state.config.public_url);
    if !own_page && !state.app.chat_origin_allowed(origin).await? {
        return Err(AppError::Forbidden.into());
    }
    let Ok(slot) = state.chat_sockets.clone().try_acquire_owned() else {
        return Ok(too_many_sockets());
    };
    let app = state.app.clone();
    let actor = session.actor.clone();
    let ip = session.ip.clone();
    Ok(upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| async move {
            VisitorSocket::new(app, actor, ip, socket).run().await;
            drop(slot);
        }))
}

async fn agent_socket(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> WebResult<Response> {
    if origin(&headers).is_none()
        || crate::session::comes_from_another_site(&headers, &state.config.public_url)
    {
        return Err(AppError::Forbidden.into());
    }
    let Ok(slot) = state.chat_sockets.clone().try_acquire_owned() else {
        return Ok(too_many_sockets());
    };
    let audience = state.app.chat_audience(&session.actor).await?;
    let app = state.app.clone();
    let actor = session.actor.clone();
    Ok(upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| async move {
            AgentSocket {
                app,
                actor,
                audience,
                socket,
                typed_at: None,
            }
            .run()
            .await;
            drop(slot);
        }))
}

/// This node holds as many chat sockets as it may: try again later (or
/// another node).
fn too_many_sockets() -> Response {
    tracing::warn!("chat sockets at their limit; refusing a new one");
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        "Too many open chats on this server; try again in a moment.",
    )
        .into_response()
}

/// A token bucket: how many messages a socket may send now.
struct Allowance {
    tokens: f64,
    at: Instant,
}

impl Allowance {
    fn new() -> Allowance {
        Allowance {
            tokens: MESSAGE_BURST,
            at: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let earned = now.duration_since(self.at).as_secs_f64() / REFILL_EVERY.as_secs_f64();
        self.tokens = (self.tokens + earned).min(MESSAGE_BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Whether a "typing" may be passed on now (at most every
/// `TYPING_EVERY`); notes the time when it may.
fn due(typed_at: &mut Option<Instant>) -> bool {
    let now = Instant::now();
    if typed_at.is_some_and(|at| now.duration_since(at) < TYPING_EVERY) {
        return false;
    }
    *typed_at = Some(now);
    true
}

fn at(millis: i64) -> String {
    Timestamp(millis).rfc3339()
}

fn message_json(message: &ChatMessageRecord) -> Value {
    json!({
        "type": "message",
        "chat": message.chat_id,
        "id": message.id,
        "from": if message.agent_id.is_some() { "agent" } else { "visitor" },
        "name": message.author_name,
        "body": message.body,
        "at": at(message.created_at),
    })
}

fn event_message_json(event: &ChatEventRecord) -> Value {
    json!({
        "type": "message",
        "chat": event.chat_id,
        "id": event.message_id,
        "from": if event.message_agent_id.is_some() { "agent" } else { "visitor" },
        "name": event.author_name,
        "body": event.body,
        "at": at(event.occurred_at),
    })
}

/// A chat as the agent's page shows it; with its messages and the
/// visitor's recent tickets when the agent may read them.
fn agent_chat_json(
    chat: &ChatRecord,
    messages: Option<&[ChatMessageRecord]>,
    tickets: &[ferrodesk_app::TicketRecord],
    me: i64,
) -> Value {
    let tickets: Vec<Value> = tickets
        .iter()
        .map(|ticket| {
            json!({
                "reference": ticket.reference.to_string(),
                "subject": ticket.subject,
                "status": ticket.status.label(),
                "updated": at(ticket.updated_at),
            })
        })
        .collect();
    json!({
        "tickets": tickets,
        "type": "chat",
        "id": chat.id,
        "state": chat.state,
        "mine": chat.agent_id == Some(me),
        "agent": chat.agent_name,
        "visitor": chat.visitor_name,
        "email": chat.visitor_email,
        "department": chat.department_name,
        "page": chat.page_url,
        "started": at(chat.created_at),
        "messages": messages.map(|messages| messages.iter().map(message_json).collect::<Vec<_>>()),
    })
}

/// What a visitor sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum VisitorCommand {
    Start(NewChatInput),
    Resume { key: String },
    Message { body: String },
    Typing,
    End,
}

/// What an agent sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum AgentCommand {
    Accept { chat: i64 },
    Message { chat: i64, body: String },
    Typing { chat: i64 },
    End { chat: i64 },
}

/// An answer to a command that could not be carried out.
fn refusal(error: &AppError, chat: Option<i64>) -> Value {
    let message = match error {
        AppError::Invalid(errors) => errors
            .iter()
            .map(|(_, message)| message.to_owned())
            .collect::<Vec<_>>()
            .join(" "),
        AppError::Conflict(message) => message.clone(),
        AppError::TooManyRequests => "Too many chats from here; try again later.".to_owned(),
        AppError::NotFound => "That chat does not exist.".to_owned(),
        AppError::Forbidden | AppError::Unauthenticated => "Not allowed.".to_owned(),
        _ => "Something went wrong; try again.".to_owned(),
    };
    let fields: Vec<&str> = match error {
        AppError::Invalid(errors) => errors.iter().map(|(field, _)| field).collect(),
        _ => Vec::new(),
    };
    json!({ "type": "error", "chat": chat, "message": message, "fields": fields })
}

async fn send(socket: &mut WebSocket, value: &Value) -> bool {
    socket
        .send(Message::Text(Utf8Bytes::from(value.to_string())))
        .await
        .is_ok()
}

/// What a client's frame means for its socket's loop.
enum ClientFrame<'a> {
    Command(&'a str),
    /// A ping, a pong: the client is there.
    Alive,
    /// Closed, broken, or binary (which neither side speaks).
    Gone,
}

fn heard_from_client(received: &Option<Result<Message, axum::Error>>) -> ClientFrame<'_> {
    match received {
        Some(Ok(Message::Text(text))) => ClientFrame::Command(text.as_str()),
        Some(Ok(Message::Binary(_)) | Err(_)) | None => ClientFrame::Gone,
        Some(Ok(_)) => ClientFrame::Alive,
    }
}

async fn send_ping(socket: &mut WebSocket) -> bool {
    socket.send(Message::Ping(Default::default())).await.is_ok()
}

/// What the next turn of a socket's loop brought.
enum Turn {
    Client(Option<Result<Message, axum::Error>>),
    Event(Result<Arc<ChatEventRecord>, broadcast::error::RecvError>),
    Typing(Result<ChatTyping, broadcast::error::RecvError>),
    Ping,
    Idle,
}

/// One visitor's socket: no chat until it starts one or presents a key.
struct VisitorSocket {
    app: App,
    actor: Actor,
    ip: String,
    socket: WebSocket,
    chat: Option<ChatRecord>,
    events: broadcast::Receiver<Arc<ChatEventRecord>>,
    /// The newest event already reflected.
    last: i64,
    allowance: Allowance,
    typing: broadcast::Receiver<ChatTyping>,
    typed_at: Option<Instant>,
    seen_at: Option<Instant>,
}

impl VisitorSocket {
    fn new(app: App, actor: Actor, ip: String, socket: WebSocket) -> VisitorSocket {
        let events = app.subscribe_chat_events();
        let typing = app.subscribe_chat_typing();
        VisitorSocket {
            typing,
            typed_at: None,
            seen_at: None,
            app,
            actor,
            ip,
            socket,
            chat: None,
            events,
            last: i64::MAX,
            allowance: Allowance::new(),
        }
    }

    async fn run(mut self) {
        let mut heard_at = Instant::now();
        let mut ping = tokio::time::interval(PING_EVERY);
        loop {
            let turn = tokio::select! {
                received = self.socket.recv() => Turn::Client(received),
                event = self.events.recv(), if self.chat.is_some() => Turn::Event(event),
                typing = self.typing.recv(), if self.chat.is_some() => Turn::Typing(typing),
                _ = ping.tick() => Turn::Ping,
                () = tokio::time::sleep_until(heard_at + IDLE_LIMIT) => Turn::Idle,
            };
            if matches!(turn, Turn::Client(Some(Ok(_)))) {
                self.seen().await;
            }
            let going_on = match turn {
                Turn::Client(received) => match heard_from_client(&received) {
                    ClientFrame::Command(text) => {
                        heard_at = Instant::now();
                        self.command(text).await
                    }
                    ClientFrame::Alive => {
                        heard_at = Instant::now();
                        true
                    }
                    ClientFrame::Gone => false,
                },
                Turn::Idle => false,
                Turn::Typing(Ok(typing)) => {
                    let ours = self
                        .chat
                        .as_ref()
                        .is_some_and(|chat| chat.id == typing.chat_id);
                    !(ours && typing.by_agent)
                        || send(
                            &mut self.socket,
                            &json!({"type": "typing", "name": typing.name}),
                        )
                        .await
                }
                Turn::Typing(Err(broadcast::error::RecvError::Lagged(_))) => true,
                Turn::Typing(Err(broadcast::error::RecvError::Closed)) => false,
                Turn::Event(Ok(event)) => self.event(&event).await,
                Turn::Event(Err(broadcast::error::RecvError::Lagged(_))) => self.catch_up().await,
                Turn::Event(Err(broadcast::error::RecvError::Closed)) => false,
                Turn::Ping => send_ping(&mut self.socket).await,
            };
            if !going_on {
                break;
            }
        }
        let _ = self.socket.send(Message::Close(None)).await;
    }

    async fn command(&mut self, text: &str) -> bool {
        let Ok(command) = serde_json::from_str::<VisitorCommand>(text) else {
            return send(
                &mut self.socket,
                &json!({"type": "error", "message": "Unknown command."}),
            )
            .await;
        };
        let outcome = match command {
            VisitorCommand::Start(input) if self.chat.is_none() => {
                let caller = Caller::new(&self.actor, &self.ip);
                match self.app.start_chat(&caller, &input).await {
                    Ok(started) => {
                        let key = started.visitor_key.clone();
                        if !send(&mut self.socket, &json!({"type": "started", "key": key})).await {
                            return false;
                        }
                        self.attach(&key).await
                    }
                    Err(error) => Err(error),
                }
            }
            VisitorCommand::Resume { key } if self.chat.is_none() => self.attach(&key).await,
            VisitorCommand::Start(_) | VisitorCommand::Resume { .. } => Err(AppError::Conflict(
                "This socket has a chat already.".to_owned(),
            )),
            VisitorCommand::Message { body } => match self.chat.clone() {
                Some(_) if !self.allowance.take() => Err(AppError::TooManyRequests),
                Some(chat) => self
                    .app
                    .post_visitor_message(&chat, &body)
                    .await
                    .map(|()| true),
                None => Err(AppError::NotFound),
            },
            VisitorCommand::Typing => match self.chat.clone() {
                Some(chat) if due(&mut self.typed_at) => {
                    self.app.visitor_typing(&chat).await.map(|()| true)
                }
                _ => Ok(true),
            },
            VisitorCommand::End => match self.chat.clone() {
                Some(chat) => self.app.visitor_ends_chat(&chat).await.map(|()| true),
                None => Err(AppError::NotFound),
            },
        };
        match outcome {
            Ok(going_on) => going_on,
            Err(AppError::TooManyRequests) if self.chat.is_some() => {
                send(
                    &mut self.socket,
                    &json!({"type": "error", "message": "Slow down a little."}),
                )
                .await
            }
            Err(error) => send(&mut self.socket, &refusal(&error, None)).await,
        }
    }

    /// Notes now and then that the visitor is still there (a frame or an
    /// answer to a ping came), so the chat is not taken for abandoned.
    async fn seen(&mut self) {
        let Some(chat) = self.chat.as_ref() else {
            return;
        };
        if self.seen_at.is_some_and(|at| at.elapsed() < SEEN_EVERY) {
            return;
        }
        self.seen_at = Some(Instant::now());
        if let Err(error) = self.app.note_visitor_seen(chat).await {
            tracing::warn!(%error, "cannot note a chat visitor as seen");
        }
    }

    /// Binds the socket to the chat of `key` and sends it whole; the
    /// events after it follow.
    async fn attach(&mut self, key: &str) -> Result<bool, AppError> {
        // Subscribed before reading, so no event falls between.
        self.events = self.app.subscribe_chat_events();
        let newest = self.app.newest_chat_event_id().await?;
        let ChatView { chat, messages } = self.app.visitor_chat(key).await?;
        let snapshot = json!({
            "type": "chat",
            "state": chat.state,
            "agent": chat.agent_name,
            "department": chat.department_name,
            "messages": messages.iter().map(message_json).collect::<Vec<_>>(),
        });
        self.last = newest;
        self.chat = Some(chat);
        self.seen_at = None;
        self.seen().await;
        Ok(send(&mut self.socket, &snapshot).await)
    }

    async fn event(&mut self, event: &ChatEventRecord) -> bool {
        let Some(chat) = self.chat.as_ref() else {
            return true;
        };
        if event.chat_id != chat.id || event.id <= self.last {
            return true;
        }
        self.last = event.id;
        let message = match event.kind.as_str() {
            "message" => event_message_json(event),
            _ => json!({ "type": "state", "state": event.state, "agent": event.agent_name }),
        };
        send(&mut self.socket, &message).await
    }

    /// Fell behind the node's buffer: reads this chat's events from the
    /// store.
    async fn catch_up(&mut self) -> bool {
        loop {
            let Ok(events) = self.app.chat_events_after(self.last).await else {
                return false;
            };
            let full = events.len() as i64 >= ferrodesk_app::chat::READ_BATCH;
            for event in &events {
                if !self.event(event).await {
                    return false;
                }
                self.last = self.last.max(event.id);
            }
            if !full {
                return true;
            }
        }
    }
}

/// One agent's socket.
struct AgentSocket {
    app: App,
    actor: Actor,
    audience: ChatAudience,
    socket: WebSocket,
    typed_at: Option<Instant>,
}

impl AgentSocket {
    async fn run(mut self) {
        let mut events = self.app.subscribe_chat_events();
        let mut typing = self.app.subscribe_chat_typing();
        let mut last = match self.app.newest_chat_event_id().await {
            Ok(newest) => newest,
            Err(_) => return,
        };
        if !self.send_all_chats().await {
            return;
        }
        let mut heard_at = Instant::now();
        let mut ping = tokio::time::interval(PING_EVERY);
        loop {
            let turn = tokio::select! {
                received = self.socket.recv() => Turn::Client(received),
                event = events.recv() => Turn::Event(event),
                news = typing.recv() => Turn::Typing(news),
                _ = ping.tick() => Turn::Ping,
                () = tokio::time::sleep_until(heard_at + IDLE_LIMIT) => Turn::Idle,
            };
            let going_on = match turn {
                Turn::Typing(Ok(news)) => {
                    !self.audience.hears_typing(&news)
                        || send(
                            &mut self.socket,
                            &json!({"type": "typing", "chat": news.chat_id, "name": news.name}),
                        )
                        .await
                }
                Turn::Typing(Err(broadcast::error::RecvError::Lagged(_))) => true,
                Turn::Typing(Err(broadcast::error::RecvError::Closed)) => false,
                Turn::Client(received) => match heard_from_client(&received) {
                    ClientFrame::Command(text) => {
                        heard_at = Instant::now();
                        self.command(text).await
                    }
                    ClientFrame::Alive => {
                        heard_at = Instant::now();
                        true
                    }
                    ClientFrame::Gone => false,
                },
                Turn::Idle => false,
                Turn::Event(Ok(event)) if event.id > last => {
                    last = event.id;
                    self.event(&event).await
                }
                Turn::Event(Ok(_)) => true,
                // Fell behind: the whole picture again.
                Turn::Event(Err(broadcast::error::RecvError::Lagged(_))) => {
                    match self.app.newest_chat_event_id().await {
                        Ok(newest) => last = newest,
                        Err(_) => break,
                    }
                    self.send_all_chats().await
                }
                Turn::Event(Err(broadcast::error::RecvError::Closed)) => false,
                Turn::Ping => send_ping(&mut self.socket).await,
            };
            if !going_on {
                break;
            }
        }
        let _ = self.socket.send(Message::Close(None)).await;
    }

    async fn send_all_chats(&mut self) -> bool {
        let Ok(chats) = self.app.agent_chats(&self.actor).await else {
            return false;
        };
        let me = self.audience.agent_id;
        let mut listed = Vec::with_capacity(chats.len());
        for view in &chats {
            let Ok(tickets) = self.app.chat_visitor_tickets(&self.actor, &view.chat).await else {
                return false;
            };
            listed.push(agent_chat_json(
                &view.chat,
                Some(&view.messages),
                &tickets,
                me,
            ));
        }
        let chats = listed;
        send(
            &mut self.socket,
            &json!({ "type": "chats", "chats": chats }),
        )
        .await
    }

    async fn command(&mut self, text: &str) -> bool {
        let Ok(command) = serde_json::from_str::<AgentCommand>(text) else {
            return send(
                &mut self.socket,
                &json!({"type": "error", "message": "Unknown command."}),
            )
            .await;
        };
        let (chat, outcome) = match command {
            AgentCommand::Accept { chat } => (chat, self.app.accept_chat(&self.actor, chat).await),
            AgentCommand::Message { chat, body } => (
                chat,
                self.app.post_agent_message(&self.actor, chat, &body).await,
            ),
            AgentCommand::End { chat } => (chat, self.app.agent_ends_chat(&self.actor, chat).await),
            AgentCommand::Typing { chat } if due(&mut self.typed_at) => {
                (chat, self.app.agent_typing(&self.actor, chat).await)
            }
            AgentCommand::Typing { .. } => return true,
        };
        match outcome {
            Ok(()) => true,
            Err(error) => send(&mut self.socket, &refusal(&error, Some(chat))).await,
        }
    }

    async fn event(&mut self, event: &ChatEventRecord) -> bool {
        match self.audience.admits(&self.app, event).await {
            Ok(true) => {}
            Ok(false) => return true,
            Err(_) => return false,
        }
        if event.kind == "message" {
            return send(&mut self.socket, &event_message_json(event)).await;
        }
        // A change: the chat as it is now, with its messages when the
        // agent may read them (waiting in their queue, or theirs).
        let Ok(Some(chat)) = self.app.store().chats().chat(event.chat_id).await else {
            return true;
        };
        let me = self.audience.agent_id;
        let readable = chat.state == "waiting" || chat.agent_id == Some(me);
        let (messages, tickets) = if readable {
            match (
                self.app.store().chats().chat_messages(chat.id).await,
                self.app.chat_visitor_tickets(&self.actor, &chat).await,
            ) {
                (Ok(messages), Ok(tickets)) => (Some(messages), tickets),
                _ => return false,
            }
        } else {
            (None, Vec::new())
        };
        send(
            &mut self.socket,
            &agent_chat_json(&chat, messages.as_deref(), &tickets, me),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowance_runs_out_and_comes_back() {
        let mut allowance = Allowance::new();
        for _ in 0..10 {
            assert!(allowance.take());
        }
        assert!(!allowance.take());
        allowance.at -= REFILL_EVERY * 2;
        assert!(allowance.take());
        assert!(allowance.take());
        assert!(!allowance.take());
    }

    #[test]
    fn commands_are_read_by_their_type() {
        assert!(matches!(
            serde_json::from_str::<AgentCommand>(r#"{"type":"accept","chat":4}"#),
            Ok(AgentCommand::Accept { chat: 4 })
        ));
        assert!(
            serde_json::from_str::<AgentCommand>(r#"{"type":"accept","chat":"4; DROP"}"#).is_err()
        );
        assert!(matches!(
            serde_json::from_str::<VisitorCommand>(r#"{"type":"end"}"#),
            Ok(VisitorCommand::End)
        ));
    }
}
