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
    ChatAudience, ChatDepartment, ChatEventRecord, ChatFileColumns, ChatMessageRecord, ChatNews,
    ChatRecord, ChatSubscription, ChatTyping, ChatView, MAX_CHAT_MESSAGE_CHARS, NewChatInput,
    TransferTarget,
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
/// What a socket reads at a time. Small, since most sockets sit idle (a
/// help-center page with the chat loaded) and frames are small; a larger
/// frame is read in several turns. Frames go out as soon as they are
/// written (no write buffer kept per socket).
const READ_BUFFER_BYTES: usize = 4 * 1024;
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
        .route("/chat/files/{message}/{token}", get(visitor_file))
}

/// The visitor's file upload: outside the help center's session, whose
/// cookie a frame on another site may not get; the chat's secret key in
/// the form is what proves the sender (a forged request cannot know it).
pub(crate) fn keyed_routes() -> Router<AppState> {
    Router::new().route("/chat/files", post(visitor_upload))
}

pub(crate) fn staff_routes() -> Router<AppState> {
    Router::new()
        .route("/agent/chats", get(agent_page))
        .route("/agent/chat/socket", get(agent_socket))
        .route("/agent/chat/availability", post(set_availability))
        .route("/agent/chat/files", post(agent_upload))
        .route("/agent/chat/files/{message_id}", get(agent_file))
}

/// A chat upload's fields: the text ones (which must come first) and the
/// one file, stored once the text fields were checked by `accept`.
async fn read_chat_upload<F, Fut>(
    app: &App,
    request: axum::extract::Request,
    accept: F,
) -> WebResult<ferrodesk_app::UploadedFile>
where
    F: FnOnce(std::collections::HashMap<String, String>) -> Fut,
    Fut: std::future::Future<Output = WebResult<()>>,
{
    use axum::extract::FromRequest;
    let unreadable = || crate::error::WebError::BadRequest("The upload could not be read.".into());
    if !crate::body_limit::is_multipart(request.headers()) {
        return Err(crate::error::WebError::BadRequest(
            "Send the file as multipart/form-data.".into(),
        ));
    }
    let mut multipart = axum::extract::Multipart::from_request(request, &())
        .await
        .map_err(|_| unreadable())?;
    let mut fields = std::collections::HashMap::new();
    let mut accept = Some(accept);
    while let Some(mut field) = multipart.next_field().await.map_err(|_| unreadable())? {
        let name = field.name().unwrap_or_default().to_owned();
        let Some(file_name) = field.file_name().map(str::to_owned) else {
            let value = field.text().await.map_err(|_| unreadable())?;
            if value.len() > 1024 || fields.len() > 8 {
                return Err(unreadable());
            }
            fields.insert(name, value);
            continue;
        };
        if name != "file" || file_name.is_empty() {
            continue;
        }
        let Some(accept) = accept.take() else {
            return Err(unreadable());
        };
        accept(std::mem::take(&mut fields)).await?;
        let mut upload = app.begin_chat_upload(&file_name).await?;
        while let Some(chunk) = field.chunk().await.map_err(|_| unreadable())? {
            upload.write(&chunk).await?;
        }
        return Ok(app.finish_upload(upload).await?);
    }
    Err(AppError::invalid("file", "Choose a file to send.").into())
}

/// Answers an upload: 204, or the problem as JSON for the chat's script,
/// with the status the pages give it (422 for a refused file or field).
fn upload_answer(outcome: WebResult<()>) -> Response {
    match outcome {
        Ok(()) => axum::http::StatusCode::NO_CONTENT.into_response(),
        // The error page, so the error log hears of it.
        Err(crate::error::WebError::App(AppError::Internal(detail))) => {
            crate::error::WebError::App(AppError::Internal(detail)).into_response()
        }
        Err(crate::error::WebError::App(error)) => {
            let problem = refusal(&error, None);
            let status = match error {
                AppError::Invalid(_) => axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                other => crate::error::WebError::App(other).into_response().status(),
            };
            (status, axum::Json(problem)).into_response()
        }
        Err(other) => other.into_response(),
    }
}

async fn visitor_upload(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Response {
    let outcome = async {
        refuse_foreign_visitor_origin(&state, request.headers()).await?;
        let app = state.app.clone();
        let mut chat = None;
        let file = read_chat_upload(&state.app, request, |fields| {
            let chat = &mut chat;
            async move {
                let key = fields.get("key").map(String::as_str).unwrap_or_default();
                let view = app.visitor_chat(key).await?;
                if view.chat.state == "ended" {
                    return Err(AppError::Conflict("This chat has ended.".to_owned()).into());
                }
                app.take_chat_file_allowance(view.chat.id).await?;
                *chat = Some(view.chat);
                Ok(())
            }
        })
        .await?;
        let chat = chat.ok_or(AppError::NotFound)?;
        state.app.post_visitor_file(&chat, &file).await?;
        Ok(())
    }
    .await;
    upload_answer(outcome)
}

async fn agent_upload(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    request: axum::extract::Request,
) -> Response {
    let outcome = async {
        let mut chat_id = None;
        let app = state.app.clone();
        let file = read_chat_upload(&state.app, request, |fields| {
            let chat_id = &mut chat_id;
            async move {
                *chat_id = fields
                    .get("chat")
                    .and_then(|text| text.trim().parse::<i64>().ok());
                match *chat_id {
                    Some(id) => Ok(app.take_chat_file_allowance(id).await?),
                    None => Err(AppError::NotFound.into()),
                }
            }
        })
        .await?;
        let chat_id = chat_id.ok_or(AppError::NotFound)?;
        state
            .app
            .post_agent_file(&session.actor, chat_id, &file)
            .await?;
        Ok(())
    }
    .await;
    upload_answer(outcome)
}

async fn visitor_file(
    State(state): State<AppState>,
    axum::extract::Path((message, token)): axum::extract::Path<(i64, String)>,
) -> WebResult<Response> {
    let download = state.app.chat_file_for_visitor(message, &token).await?;
    crate::downloads::serve(download).await
}

async fn agent_file(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    axum::extract::Path(message): axum::extract::Path<i64>,
) -> WebResult<Response> {
    let download = state
        .app
        .chat_file_for_agent(&session.actor, message)
        .await?;
    crate::downloads::serve(download).await
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
    /// A signed-in user's open requests (reference, subject).
    open_tickets: Vec<(String, String)>,
    require_email: bool,
    /// "Sending {name}…" and "… could not be sent: {reason}".
    file_sending: String,
    file_failed: String,
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
        open_tickets: state.app.chat_open_tickets(&session.actor).await?,
        require_email: settings.require_email,
        file_sending: crate::text::t_with("chat-file-sending", &[("name", &"{name}")]),
        file_failed: crate::text::t_with("chat-file-failed", &[("reason", &"{reason}")]),
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

/// A visitor's socket or upload comes from the help center's pages or a
/// site the admin lists, and says so in `Origin`.
async fn refuse_foreign_visitor_origin(state: &AppState, headers: &HeaderMap) -> WebResult<()> {
    let Some(origin) = origin(headers) else {
        return Err(AppError::Forbidden.into());
    };
    let own_page = !crate::session::comes_from_another_site(headers, &state.config.public_url);
    if !own_page && !state.app.chat_origin_allowed(origin).await? {
        return Err(AppError::Forbidden.into());
    }
    Ok(())
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
    refuse_foreign_visitor_origin(&state, &headers).await?;
    let Ok(slot) = state.chat_sockets.clone().try_acquire_owned() else {
        return Ok(too_many_sockets());
    };
    let app = state.app.clone();
    let actor = session.actor.clone();
    let ip = session.ip.clone();
    Ok(upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
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
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .on_upgrade(move |socket| async move {
            AgentSocket {
                app,
                actor,
                audience,
                socket,
                typed_at: None,
                shown: std::collections::BTreeSet::new(),
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

/// Who a message's file link is for: the visitor's carries a MAC, the
/// agent's is checked against their departments.
#[derive(Clone, Copy)]
enum Reader<'a> {
    Visitor(&'a App),
    Agent,
}

impl Reader<'_> {
    fn file_json(self, message_id: i64, file: &ChatFileColumns) -> Value {
        let Some(sha256) = file.file_sha256.as_deref() else {
            return Value::Null;
        };
        let url = match self {
            Reader::Visitor(app) => format!(
                "/chat/files/{message_id}/{}",
                app.chat_file_token(message_id, sha256)
            ),
            Reader::Agent => format!("/agent/chat/files/{message_id}"),
        };
        json!({
            "name": file.file_name,
            "size": file.file_size,
            "image": file.file_type.as_deref().is_some_and(ferrodesk_app::is_inline_image_type),
            "url": url,
        })
    }

    fn message_json(self, message: &ChatMessageRecord) -> Value {
        json!({
            "type": "message",
            "chat": message.chat_id,
            "id": message.id,
            "from": if message.agent_id.is_some() { "agent" } else { "visitor" },
            "name": message.author_name,
            "body": message.body,
            "file": self.file_json(message.id, &message.file),
            "at": at(message.created_at),
        })
    }

    fn event_message_json(self, event: &ChatEventRecord) -> Value {
        json!({
            "type": "message",
            "chat": event.chat_id,
            "id": event.message_id,
            "from": if event.message_agent_id.is_some() { "agent" } else { "visitor" },
            "name": event.author_name,
            "body": event.body,
            "file": event.message_id.map_or(Value::Null, |id| self.file_json(id, &event.file)),
            "at": at(event.occurred_at),
        })
    }
}

/// What the agent's page needs to know of a chat beyond the chat itself.
struct AgentChatExtras<'a> {
    messages: Option<&'a [ChatMessageRecord]>,
    tickets: &'a [ferrodesk_app::TicketRecord],
    guests: &'a [(i64, String)],
    me: i64,
    /// Seconds an agent has to accept an offer.
    ack_seconds: u32,
}

/// A chat as the agent's page shows it; with its messages and the
/// visitor's recent tickets when the agent may read them.
fn agent_chat_json(chat: &ChatRecord, extras: &AgentChatExtras<'_>) -> Value {
    let me = extras.me;
    let tickets: Vec<Value> = extras
        .tickets
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
    let offer_ends = chat
        .offered_at
        .map(|since| at(since + i64::from(extras.ack_seconds) * 1000));
    json!({
        "tickets": tickets,
        "type": "chat",
        "id": chat.id,
        "state": chat.state,
        "mine": chat.agent_id == Some(me),
        "guest": extras.guests.iter().any(|(id, _)| *id == me),
        "guests": extras.guests.iter().map(|(_, name)| name).collect::<Vec<_>>(),
        "offered_to_me": chat.offered_agent_id == Some(me),
        "offered_to_other": chat.offered_agent_id.is_some_and(|agent| agent != me),
        "offer_ends": offer_ends,
        "agent": chat.agent_name,
        "visitor": chat.visitor_name,
        "email": chat.visitor_email,
        "department": chat.department_name,
        "department_id": chat.department_id,
        "page": chat.page_url,
        "started": at(chat.created_at),
        "messages": extras.messages.map(|messages| {
            messages.iter().map(|message| Reader::Agent.message_json(message)).collect::<Vec<_>>()
        }),
    })
}

/// A chat for an agent's page, with the visitor's tickets and the chat's
/// guests; `None` when the store fails.
async fn agent_view_of(
    app: &App,
    actor: &Actor,
    me: i64,
    chat: &ChatRecord,
    messages: Option<&[ChatMessageRecord]>,
) -> Option<Value> {
    let tickets = if messages.is_some() {
        app.chat_visitor_tickets(actor, chat).await.ok()?
    } else {
        Vec::new()
    };
    let guests = app.store().chats().chat_guests(chat.id).await.ok()?;
    let ack_seconds = app.chat_settings().await.ok()?.ack_seconds;
    Some(agent_chat_json(
        chat,
        &AgentChatExtras {
            messages,
            tickets: &tickets,
            guests: &guests,
            me,
            ack_seconds,
        },
    ))
}

/// What a visitor sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum VisitorCommand {
    Start(NewChatInput),
    Resume {
        key: String,
    },
    Message {
        body: String,
    },
    Typing,
    /// Mail me the transcript when the chat ends.
    Transcript,
    End,
}

/// What an agent sends.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum AgentCommand {
    Accept {
        chat: i64,
    },
    Decline {
        chat: i64,
    },
    Message {
        chat: i64,
        body: String,
    },
    Typing {
        chat: i64,
    },
    End {
        chat: i64,
    },
    /// To an agent or to a department's queue.
    Transfer {
        chat: i64,
        #[serde(default)]
        agent: Option<i64>,
        #[serde(default)]
        department: Option<i64>,
    },
    Invite {
        chat: i64,
        agent: i64,
    },
    Leave {
        chat: i64,
    },
    /// Who is available to take or join a chat now.
    Colleagues,
    /// The snippets the agent may use.
    Snippets,
    /// A snippet filled in for a chat.
    Snippet {
        chat: i64,
        snippet: i64,
    },
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
    /// The visitor's chat's news.
    News(Result<ChatNews, broadcast::error::RecvError>),
    Ping,
    Idle,
}

/// The next news of the socket's chat; never, while it has none.
async fn next_news(
    news: &mut Option<ChatSubscription>,
) -> Result<ChatNews, broadcast::error::RecvError> {
    match news {
        Some(subscription) => subscription.recv().await,
        None => std::future::pending().await,
    }
}

/// One visitor's socket: no chat until it starts one or presents a key.
struct VisitorSocket {
    app: App,
    actor: Actor,
    ip: String,
    socket: WebSocket,
    chat: Option<ChatRecord>,
    /// The chat's news, once the socket has one.
    news: Option<ChatSubscription>,
    /// The newest event already reflected.
    last: i64,
    allowance: Allowance,
    typed_at: Option<Instant>,
    seen_at: Option<Instant>,
}

impl VisitorSocket {
    fn new(app: App, actor: Actor, ip: String, socket: WebSocket) -> VisitorSocket {
        VisitorSocket {
            news: None,
            typed_at: None,
            seen_at: None,
            app,
            actor,
            ip,
            socket,
            chat: None,
            last: i64::MAX,
            allowance: Allowance::new(),
        }
    }

    /// The socket's life. What a turn does is boxed (`Box::pin`), so the
    /// task of a socket that only waits (most of them) keeps just the
    /// waiting, not room for the largest thing a turn could do.
    async fn run(mut self) {
        let mut heard_at = Instant::now();
        let mut ping = tokio::time::interval(PING_EVERY);
        loop {
            let turn = tokio::select! {
                received = self.socket.recv() => Turn::Client(received),
                news = next_news(&mut self.news) => Turn::News(news),
                _ = ping.tick() => Turn::Ping,
                () = tokio::time::sleep_until(heard_at + IDLE_LIMIT) => Turn::Idle,
            };
            if matches!(turn, Turn::Client(Some(Ok(_)))) {
                Box::pin(self.seen()).await;
            }
            let going_on = match turn {
                Turn::Client(received) => match heard_from_client(&received) {
                    ClientFrame::Command(text) => {
                        heard_at = Instant::now();
                        Box::pin(self.command(text)).await
                    }
                    ClientFrame::Alive => {
                        heard_at = Instant::now();
                        true
                    }
                    ClientFrame::Gone => false,
                },
                Turn::Idle => false,
                Turn::News(Ok(ChatNews::Typing(typing))) => {
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
                Turn::News(Ok(ChatNews::Event(event))) => Box::pin(self.event(&event)).await,
                Turn::News(Err(broadcast::error::RecvError::Lagged(_))) => {
                    Box::pin(self.catch_up()).await
                }
                Turn::News(Err(broadcast::error::RecvError::Closed)) => false,
                Turn::Ping => send_ping(&mut self.socket).await,
                Turn::Event(_) | Turn::Typing(_) => true,
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
            VisitorCommand::Transcript => match self.chat.clone() {
                Some(chat) => self
                    .app
                    .visitor_wants_transcript(&chat)
                    .await
                    .map(|()| true),
                None => Err(AppError::NotFound),
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
        let ChatView { chat, .. } = self.app.visitor_chat(key).await?;
        // Subscribed before reading again, so no event falls between.
        self.news = Some(self.app.subscribe_chat(chat.id));
        let newest = self.app.newest_chat_event_id();
        let ChatView { chat, messages } = self.app.visitor_chat(key).await?;
        let snapshot = json!({
            "type": "chat",
            "state": chat.state,
            "agent": chat.agent_name,
            "department": chat.department_name,
            // The transcript can be mailed only to an address given.
            "transcript_by_mail": !chat.visitor_email.is_empty(),
            "transcript_wanted": chat.transcript_wanted,
            "messages": messages
                .iter()
                .map(|message| Reader::Visitor(&self.app).message_json(message))
                .collect::<Vec<_>>(),
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
            "message" => Reader::Visitor(&self.app).event_message_json(event),
            "accepted" | "transferred" | "ended" => {
                json!({ "type": "state", "state": event.state, "agent": event.agent_name })
            }
            // Offers and colleagues coming and going are the desk's affair.
            _ => return true,
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
    /// The chats the page was told of and not told are gone.
    shown: std::collections::BTreeSet<i64>,
}

impl AgentSocket {
    async fn run(mut self) {
        let mut events = self.app.subscribe_chat_events();
        let mut typing = self.app.subscribe_chat_typing();
        let mut last = self.app.newest_chat_event_id();
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
                        Box::pin(self.command(text)).await
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
                    Box::pin(self.event(&event)).await
                }
                Turn::Event(Ok(_)) => true,
                // Fell behind: the whole picture again.
                Turn::Event(Err(broadcast::error::RecvError::Lagged(_))) => {
                    last = self.app.newest_chat_event_id();
                    Box::pin(self.send_all_chats()).await
                }
                Turn::Event(Err(broadcast::error::RecvError::Closed)) => false,
                Turn::Ping => send_ping(&mut self.socket).await,
                Turn::News(_) => true,
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
        let Ok(settings) = self.app.chat_settings().await else {
            return false;
        };
        let mut listed = Vec::with_capacity(chats.len());
        self.shown.clear();
        for view in &chats {
            self.shown.insert(view.chat.id);
            listed.push(agent_chat_json(
                &view.chat,
                &AgentChatExtras {
                    messages: Some(&view.messages),
                    tickets: &view.visitor_tickets,
                    guests: &view.guests,
                    me: self.audience.agent_id,
                    ack_seconds: settings.ack_seconds,
                },
            ));
        }
        send(
            &mut self.socket,
            &json!({ "type": "chats", "chats": listed }),
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
        let app = &self.app;
        let actor = &self.actor;
        let (chat, outcome) = match command {
            AgentCommand::Accept { chat } => (chat, app.accept_chat(actor, chat).await),
            AgentCommand::Decline { chat } => (chat, app.decline_chat(actor, chat).await),
            AgentCommand::Message { chat, body } => {
                (chat, app.post_agent_message(actor, chat, &body).await)
            }
            AgentCommand::End { chat } => (chat, app.agent_ends_chat(actor, chat).await),
            AgentCommand::Transfer {
                chat,
                agent,
                department,
            } => {
                let target = match (agent, department) {
                    (Some(agent), None) => Ok(TransferTarget::Agent(agent)),
                    (None, Some(department)) => Ok(TransferTarget::Department(department)),
                    _ => Err(AppError::invalid(
                        "transfer",
                        "Choose an agent or a department.",
                    )),
                };
                let outcome = match target {
                    Ok(target) => app.transfer_chat(actor, chat, target).await,
                    Err(error) => Err(error),
                };
                (chat, outcome)
            }
            AgentCommand::Invite { chat, agent } => {
                (chat, app.invite_to_chat(actor, chat, agent).await)
            }
            AgentCommand::Leave { chat } => (chat, app.leave_chat(actor, chat).await),
            AgentCommand::Typing { chat } if due(&mut self.typed_at) => {
                (chat, app.agent_typing(actor, chat).await)
            }
            AgentCommand::Typing { .. } => return true,
            AgentCommand::Colleagues => return self.send_colleagues().await,
            AgentCommand::Snippets => return self.send_snippets().await,
            AgentCommand::Snippet { chat, snippet } => {
                match app.fill_snippet_for_chat(actor, chat, snippet).await {
                    Ok(text) => {
                        return send(
                            &mut self.socket,
                            &json!({"type": "snippet", "chat": chat, "text": text}),
                        )
                        .await;
                    }
                    Err(error) => (chat, Err(error)),
                }
            }
        };
        match outcome {
            Ok(()) => true,
            Err(error) => send(&mut self.socket, &refusal(&error, Some(chat))).await,
        }
    }

    async fn send_snippets(&mut self) -> bool {
        let Ok(library) = self.app.snippet_library(&self.actor).await else {
            return false;
        };
        let snippets: Vec<Value> = library
            .snippets
            .iter()
            .map(|view| {
                json!({
                    "id": view.record.id,
                    "title": view.record.title,
                    "shortcut": view.record.shortcut,
                })
            })
            .collect();
        send(
            &mut self.socket,
            &json!({ "type": "snippets", "snippets": snippets }),
        )
        .await
    }

    /// The colleagues available for chats and the chat departments: what
    /// the transfer and invite choices offer.
    async fn send_colleagues(&mut self) -> bool {
        let (Ok(colleagues), Ok(departments)) = (
            self.app.chat_colleagues(&self.actor).await,
            self.app.chat_departments().await,
        ) else {
            return false;
        };
        send(
            &mut self.socket,
            &json!({ "type": "colleagues", "agents": colleagues, "departments": departments }),
        )
        .await
    }

    async fn event(&mut self, event: &ChatEventRecord) -> bool {
        match self.audience.admits(&self.app, event).await {
            Ok(true) => {}
            Ok(false) => {
                // A chat the page shows that the agent may no longer see
                // (moved to a department they do not serve, or access
                // taken away) leaves the page.
                if self.shown.remove(&event.chat_id) {
                    return send(
                        &mut self.socket,
                        &json!({"type": "gone", "chat": event.chat_id}),
                    )
                    .await;
                }
                return true;
            }
            Err(_) => return false,
        }
        if event.kind == "message" {
            return send(&mut self.socket, &Reader::Agent.event_message_json(event)).await;
        }
        // A change: the chat as it is now, with its messages when the
        // agent may read them (waiting in their queue, theirs, or one
        // they were invited into).
        let Ok(Some(chat)) = self.app.store().chats().chat(event.chat_id).await else {
            return true;
        };
        let me = self.audience.agent_id;
        let readable =
            chat.state == "waiting" || chat.agent_id == Some(me) || self.audience.is_guest(chat.id);
        let messages = if readable {
            match self.app.store().chats().chat_messages(chat.id).await {
                Ok(messages) => Some(messages),
                Err(_) => return false,
            }
        } else {
            None
        };
        let Some(json) = agent_view_of(
            &self.app,
            &self.actor,
            self.audience.agent_id,
            &chat,
            messages.as_deref(),
        )
        .await
        else {
            return false;
        };
        // The page keeps the chats in its queue and those the agent takes
        // part in; the rest it drops on this very frame.
        let kept = chat.state == "waiting"
            || (chat.state == "active"
                && (chat.agent_id == Some(me) || self.audience.is_guest(chat.id)));
        if kept {
            self.shown.insert(chat.id);
        } else {
            self.shown.remove(&chat.id);
        }
        send(&mut self.socket, &json).await
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
