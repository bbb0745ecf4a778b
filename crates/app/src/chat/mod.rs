//! Live chat: a visitor of the help center starts a chat in a department
//! the admin offers, an available agent of that department accepts it,
//! they write to each other, and when it ends its transcript becomes a
//! ticket (channel `chat`) in the department, linked to the visitor as a
//! user.
//!
//! The visitor's side is keyed by a random secret their browser holds (its
//! SHA-256 is stored), never by a chat id a client sends. The agent's side
//! is checked against the agent's permissions on every action: only
//! agents with full access to a chat's department see it.

mod files;
mod hub;
mod routing;
mod transcript;

use std::collections::BTreeSet;

use ferrodesk_core::{DepartmentAccess, Email, PersonName, Timestamp};
use ferrodesk_store::{ChatAuthor, NewChat};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use ferrodesk_store::{ChatEventRecord, ChatFileColumns, ChatMessageRecord, ChatRecord};
pub use hub::{ChatAudience, ChatHub, ChatNews, ChatSubscription, ChatTyping, READ_BATCH};
pub use routing::{ChatColleague, TransferTarget};

use crate::audit::Caller;
use crate::settings::CHAT;
use crate::{Actor, App, AppError, AppResult, FieldErrors};

/// The longest chat message, in characters.
pub const MAX_CHAT_MESSAGE_CHARS: usize = 4_000;
/// A chat whose visitor has shown no sign of being there for this long
/// (their browser answers the server's ping every 25 s) is abandoned:
/// ended, and its transcript saved.
pub const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(180);
/// The visitor's tickets shown beside a chat.
const VISITOR_TICKETS_SHOWN: i64 = 5;
/// New chats one address may start in `NEW_CHAT_WINDOW`.
const NEW_CHATS_PER_IP: i64 = 10;
const NEW_CHAT_WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);

/// How chat is offered: Admin → Chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatSettings {
    pub enabled: bool,
    /// The departments a visitor may choose; none means the default one.
    pub department_ids: Vec<i64>,
    /// Seconds a visitor waits for an agent before being offered the
    /// request form with what they wrote.
    pub wait_seconds: u32,
    /// The greeting above the chat form.
    pub welcome: String,
    /// Other sites (origins such as `https://www.example.com`) whose pages
    /// may open the chat socket.
    pub allowed_origins: Vec<String>,
    /// Chats one agent may hold at once.
    pub chats_per_agent: u32,
    /// Departments whose new chats are offered to one agent at a time
    /// (the others broadcast to every available agent).
    pub round_robin_department_ids: Vec<i64>,
    /// Seconds an agent has to accept a chat offered to them alone
    /// before it is offered to the next.
    pub ack_seconds: u32,
    /// Whether a visitor must give an address. Without one nobody can
    /// answer them by mail once the chat ends; their transcript is filed
    /// under a placeholder address (`….invalid`, never mailed).
    pub require_email: bool,
    /// The embedded button's words and colour (`#rrggbb`).
    pub button_label: String,
    pub button_colour: String,
    /// Days an ended chat is kept beside its transcript ticket (0: kept).
    pub retention_days: u32,
}

impl Default for ChatSettings {
    fn default() -> ChatSettings {
        ChatSettings {
            enabled: false,
            department_ids: Vec::new(),
            wait_seconds: 120,
            welcome: "Questions? Chat with us.".to_owned(),
            allowed_origins: Vec::new(),
            chats_per_agent: 3,
            round_robin_department_ids: Vec::new(),
            ack_seconds: 30,
            require_email: true,
            button_label: "Chat with us".to_owned(),
            button_colour: "#1f5fbf".to_owned(),
            retention_days: 90,
        }
    }
}

/// The most seconds a visitor can be made to wait.
pub const MAX_CHAT_WAIT_SECONDS: u32 = 3_600;
/// The most chats an agent may be allowed to hold at once.
pub const MAX_CHATS_PER_AGENT: u32 = 20;
/// The longest an agent may be given to accept an offered chat.
pub const MAX_ACK_SECONDS: u32 = 600;
/// The longest ended chats may be kept beside their transcripts.
pub const MAX_RETENTION_DAYS: u32 = 3_650;

/// What the admin's form sends.
#[derive(Debug, Clone, Default)]
pub struct ChatSettingsInput {
    pub enabled: bool,
    pub department_ids: Vec<String>,
    pub wait_seconds: String,
    pub welcome: String,
    /// One origin per line.
    pub allowed_origins: String,
    pub chats_per_agent: String,
    pub round_robin_department_ids: Vec<String>,
    pub ack_seconds: String,
    pub require_email: bool,
    pub button_label: String,
    pub button_colour: String,
    pub retention_days: String,
}

impl From<&ChatSettings> for ChatSettingsInput {
    /// The form as the saved settings fill it.
    fn from(saved: &ChatSettings) -> ChatSettingsInput {
        let ids = |ids: &[i64]| ids.iter().map(i64::to_string).collect();
        ChatSettingsInput {
            enabled: saved.enabled,
            department_ids: ids(&saved.department_ids),
            wait_seconds: saved.wait_seconds.to_string(),
            welcome: saved.welcome.clone(),
            allowed_origins: saved.allowed_origins.join("\n"),
            chats_per_agent: saved.chats_per_agent.to_string(),
            round_robin_department_ids: ids(&saved.round_robin_department_ids),
            ack_seconds: saved.ack_seconds.to_string(),
            require_email: saved.require_email,
            button_label: saved.button_label.clone(),
            button_colour: saved.button_colour.clone(),
            retention_days: saved.retention_days.to_string(),
        }
    }
}

/// What a visitor sends to start a chat.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewChatInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub department: Option<i64>,
    #[serde(default)]
    pub message: String,
    /// The page the visitor is on (shown to the agent).
    #[serde(default)]
    pub page: String,
    /// A signed-in user's open ticket the chat should go into.
    #[serde(default)]
    pub ticket: Option<String>,
}

/// A chat just started: the visitor's secret key (shown once, held by
/// their browser) and the chat.
#[derive(Debug, Clone)]
pub struct StartedChat {
    pub visitor_key: String,
    pub chat: ChatRecord,
}

/// A department a visitor may choose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatDepartment {
    pub id: i64,
    pub name: String,
}

/// A chat with its messages.
#[derive(Debug, Clone)]
pub struct ChatView {
    pub chat: ChatRecord,
    pub messages: Vec<ChatMessageRecord>,
}

/// A chat as an agent's desk lists it: its messages, who was invited in,
/// and the visitor's requests the agent may see.
#[derive(Debug, Clone)]
pub struct AgentChatView {
    pub chat: ChatRecord,
    pub messages: Vec<ChatMessageRecord>,
    pub guests: Vec<(i64, String)>,
    pub visitor_tickets: Vec<ferrodesk_store::TicketRecord>,
}

/// An agent's availability for chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Online,
    Away,
    Offline,
}

impl Availability {
    pub fn parse(text: &str) -> Option<Availability> {
        match text {
            "online" => Some(Availability::Online),
            "away" => Some(Availability::Away),
            "offline" => Some(Availability::Offline),
            _ => None,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Availability::Online => "online",
            Availability::Away => "away",
            Availability::Offline => "offline",
        }
    }
}

/// Whether a ticket is one of the person's open requests: those the chat
/// form offers, and the only ones a chat's transcript may go into.
pub(crate) fn is_open_request_of(ticket: &ferrodesk_store::TicketRecord, person_id: i64) -> bool {
    ticket.requester_id == person_id
        && crate::portal::PortalStateFilter::Open
            .statuses()
            .contains(&ticket.status)
}

/// The signed-in agent's name, as their messages carry it.
fn agent_name(actor: &Actor) -> String {
    actor
        .signed_in()
        .map(|agent| agent.name.clone())
        .unwrap_or_default()
}

/// The SHA-256 a visitor's key is stored as.
fn key_digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A message's text: trimmed, not empty, not too long, no NUL.
pub fn checked_chat_message(body: &str) -> AppResult<String> {
    let body = body.trim();
    if body.is_empty() {
        return Err(AppError::invalid("message", "Write something first."));
    }
    if body.chars().count() > MAX_CHAT_MESSAGE_CHARS {
        return Err(AppError::invalid(
            "message",
            format!("A message holds at most {MAX_CHAT_MESSAGE_CHARS} characters."),
        ));
    }
    if body.contains('\0') {
        return Err(AppError::invalid("message", "The message holds a NUL."));
    }
    Ok(body.to_owned())
}

/// Departments chosen on the admin's form: known ones, each once, sorted;
/// anything else is refused under `field`.
fn checked_department_ids(
    texts: &[String],
    known: &[i64],
    field: &'static str,
    errors: &mut FieldErrors,
) -> Vec<i64> {
    let mut ids = Vec::new();
    for text in texts {
        match text.trim().parse::<i64>() {
            Ok(id) if known.contains(&id) => ids.push(id),
            _ => errors.add_unresolved(field, "Choose departments from the list."),
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// A whole number from the admin's form within `range`; otherwise
/// `message` under `field` (and 0, never stored).
fn number_within(
    text: &str,
    range: std::ops::RangeInclusive<u32>,
    field: &'static str,
    message: String,
    errors: &mut FieldErrors,
) -> u32 {
    match text.trim().parse::<u32>() {
        Ok(number) if range.contains(&number) => number,
        _ => {
            errors.add(field, message);
            0
        }
    }
}

/// An origin as browsers send it: scheme, host and port only.
fn normalized_origin(text: &str) -> Option<String> {
    let text = text.trim().trim_end_matches('/');
    let (scheme, rest) = text.split_once("://")?;
    if !matches!(scheme, "http" | "https")
        || rest.is_empty()
        || rest.contains(['/', '?', '#', '@', ' '])
    {
        return None;
    }
    Some(format!("{scheme}://{}", rest.to_ascii_lowercase()))
}

impl App {
    /// How chat is offered now.
    pub async fn chat_settings(&self) -> AppResult<ChatSettings> {
        Ok(self.settings().await?.chat.clone())
    }

    /// Whether a page at `origin` may open the visitor's chat socket: the
    /// help center's own pages, and the sites the admin lists.
    pub async fn chat_origin_allowed(&self, origin: &str) -> AppResult<bool> {
        let Some(origin) = normalized_origin(origin) else {
            return Ok(false);
        };
        if normalized_origin(self.public_url()).as_deref() == Some(origin.as_str()) {
            return Ok(true);
        }
        Ok(self
            .chat_settings()
            .await?
            .allowed_origins
            .contains(&origin))
    }

    /// The departments a visitor may choose (empty when chat is off).
    pub async fn chat_departments(&self) -> AppResult<Vec<ChatDepartment>> {
        let settings = self.chat_settings().await?;
        if !settings.enabled {
            return Ok(Vec::new());
        }
        let departments = self.store().departments().list_departments().await?;
        let offered: Vec<ChatDepartment> = departments
            .iter()
            .filter(|department| {
                if settings.department_ids.is_empty() {
                    department.is_default
                } else {
                    settings.department_ids.contains(&department.id)
                }
            })
            .map(|department| ChatDepartment {
                id: department.id,
                name: department.name.clone(),
            })
            .collect();
        Ok(offered)
    }

    /// Whether any agent who could take a chat is online now.
    pub async fn chat_agents_online(&self) -> AppResult<bool> {
        Ok(!self.online_chat_agents().await?.is_empty())
    }

    /// Starts a chat for a visitor (or a signed-in user, whose name and
    /// address are their account's).
    pub async fn start_chat(
        &self,
        caller: &Caller<'_>,
        input: &NewChatInput,
    ) -> AppResult<StartedChat> {
        let departments = self.chat_departments().await?;
        if departments.is_empty() {
            return Err(AppError::invalid(
                "chat",
                "Chat is not offered right now; send a request instead.",
            ));
        }
        let mut errors = FieldErrors::new();
        let (name, email, person_id) = match caller.actor {
            Actor::User(user) => (user.name.clone(), user.email.clone(), Some(user.person_id)),
            _ => {
                let name = match PersonName::parse(&input.name) {
                    Ok(name) => Some(name.as_str().to_owned()),
                    Err(error) => {
                        errors.add("name", error.to_string());
                        None
                    }
                };
                let optional = !self.chat_settings().await?.require_email;
                let email = match Email::parse(input.email.trim()) {
                    Ok(email) => Some(email.as_str().to_owned()),
                    Err(_) if optional && input.email.trim().is_empty() => None,
                    Err(_) => {
                        errors.add("email", "Give an email address we can write to.");
                        None
                    }
                };
                (name.unwrap_or_default(), email.unwrap_or_default(), None)
            }
        };
        let department_id = match input.department {
            None if departments.len() == 1 => departments[0].id,
            Some(id) if departments.iter().any(|department| department.id == id) => id,
            _ => {
                errors.add("department", "Choose one of the departments listed.");
                0
            }
        };
        let message = match checked_chat_message(&input.message) {
            Ok(message) => message,
            Err(AppError::Invalid(problems)) => {
                errors.merge(problems);
                String::new()
            }
            Err(other) => return Err(other),
        };
        let attach_ticket_id = match (&input.ticket, person_id) {
            (Some(reference), Some(person_id)) if !reference.trim().is_empty() => {
                match self.open_ticket_of(person_id, reference.trim()).await? {
                    Some(ticket_id) => Some(ticket_id),
                    None => {
                        errors.add("ticket", "Choose one of your open requests, or none.");
                        None
                    }
                }
            }
            _ => None,
        };
        errors.into_result()?;
        if !self
            .store()
            .rate_limits()
            .hit_rate_limit(
                &format!("chat-ip:{}", caller.ip),
                NEW_CHAT_WINDOW,
                NEW_CHATS_PER_IP,
                self.now(),
            )
            .await?
        {
            return Err(AppError::TooManyRequests);
        }
        let visitor_key = hex::encode(crate::secrets::random_bytes::<32>()?);
        let page: String = input.page.chars().take(500).collect();
        let chat = NewChat {
            visitor_key_sha256: &key_digest(&visitor_key),
            department_id,
            person_id,
            visitor_name: &name,
            visitor_email: &email,
            page_url: page.trim(),
            ip: caller.ip,
            first_message: &message,
            attach_ticket_id,
        };
        let id = self
            .store()
            .chats()
            .start_chat(&chat, self.now())
            .await?
            .ok_or_else(|| AppError::invalid("department", "That department is gone."))?;
        let chat = self
            .store()
            .chats()
            .chat(id)
            .await?
            .ok_or(AppError::NotFound)?;
        tracing::info!(chat_id = id, "chat started");
        self.route_chat(&chat).await?;
        Ok(StartedChat { visitor_key, chat })
    }

    /// A signed-in user's open requests, newest first: the chat form lets
    /// them add the chat to one. Nobody else has any here.
    pub async fn chat_open_tickets(&self, actor: &Actor) -> AppResult<Vec<(String, String)>> {
        let Actor::User(user) = actor else {
            return Ok(Vec::new());
        };
        let filter = ferrodesk_store::TicketFilter {
            requester_id: Some(user.person_id),
            statuses: crate::portal::PortalStateFilter::Open.statuses(),
            ..ferrodesk_store::TicketFilter::default()
        };
        Ok(self
            .store()
            .tickets()
            .list_tickets(
                &ferrodesk_store::Visibility::Everything,
                &filter,
                ferrodesk_store::TicketPage {
                    limit: 20,
                    ..ferrodesk_store::TicketPage::default()
                },
            )
            .await?
            .into_iter()
            .map(|ticket| (ticket.reference.to_string(), ticket.subject))
            .collect())
    }

    /// The visitor's chat, by the key their browser holds.
    pub async fn visitor_chat(&self, visitor_key: &str) -> AppResult<ChatView> {
        let chat = self
            .store()
            .chats()
            .chat_by_visitor_key(&key_digest(visitor_key))
            .await?
            .ok_or(AppError::NotFound)?;
        let messages = self.store().chats().chat_messages(chat.id).await?;
        Ok(ChatView { chat, messages })
    }

    /// The visitor writes in their chat.
    pub async fn post_visitor_message(&self, chat: &ChatRecord, body: &str) -> AppResult<()> {
        let body = checked_chat_message(body)?;
        let author = ChatAuthor {
            agent_id: None,
            name: &chat.visitor_name,
        };
        self.store()
            .chats()
            .add_chat_message(chat.id, author, &body, None, self.now())
            .await?
            .ok_or_else(|| AppError::Conflict("This chat has ended.".to_owned()))?;
        Ok(())
    }

    /// The visitor is typing: the agent holding the chat hears it.
    pub async fn visitor_typing(&self, chat: &ChatRecord) -> AppResult<()> {
        self.tell_chat_typing(chat.id, false, &chat.visitor_name)
            .await
    }

    /// The agent is typing in a chat they hold: the visitor hears it.
    pub async fn agent_typing(&self, actor: &Actor, chat_id: i64) -> AppResult<()> {
        let (agent_id, chat) = self.agent_chat(actor, chat_id).await?;
        if chat.state != "active" || !self.takes_part(agent_id, &chat).await? {
            return Ok(());
        }
        let name = agent_name(actor);
        self.tell_chat_typing(chat.id, true, &name).await
    }

    /// The visitor's browser is still there.
    pub async fn note_visitor_seen(&self, chat: &ChatRecord) -> AppResult<()> {
        Ok(self
            .store()
            .chats()
            .note_visitor_seen(chat.id, self.now())
            .await?)
    }

    /// Ends the chats whose visitors went away (see `ABANDONED_AFTER`) and
    /// saves them as tickets; answers how many. Any node may run it: each
    /// chat is ended once.
    pub async fn end_abandoned_chats(&self) -> AppResult<usize> {
        let before = Timestamp(self.now().millis() - ABANDONED_AFTER.as_millis() as i64);
        let mut ended = 0;
        for chat_id in self.store().chats().abandoned_chats(before).await? {
            if self.store().chats().end_chat(chat_id, self.now()).await? {
                self.save_transcript(chat_id).await?;
                ended += 1;
            }
        }
        if ended > 0 {
            tracing::info!(ended, "abandoned chats ended and saved");
        }
        Ok(ended)
    }

    /// Deletes the ended chats older than the admin's retention (their
    /// transcripts stay, as tickets); answers how many went.
    pub async fn forget_old_chats(&self) -> AppResult<u64> {
        let days = self.chat_settings().await?.retention_days;
        if days == 0 {
            return Ok(0);
        }
        let before = Timestamp::minus(
            self.now(),
            std::time::Duration::from_secs(u64::from(days) * 86_400),
        );
        let forgotten = self.store().chats().delete_ended_chats(before, 500).await?;
        if forgotten > 0 {
            tracing::info!(forgotten, "ended chats past their retention deleted");
        }
        Ok(forgotten)
    }

    /// The visitor asks for the transcript by mail when the chat ends.
    pub async fn visitor_wants_transcript(&self, chat: &ChatRecord) -> AppResult<()> {
        if chat.visitor_email.is_empty() {
            return Err(AppError::invalid(
                "transcript",
                "There is no address to send it to.",
            ));
        }
        Ok(self.store().chats().want_transcript(chat.id).await?)
    }

    /// The visitor ends their chat; its transcript is saved.
    pub async fn visitor_ends_chat(&self, chat: &ChatRecord) -> AppResult<()> {
        if self.store().chats().end_chat(chat.id, self.now()).await? {
            self.save_transcript(chat.id).await?;
        }
        Ok(())
    }

    /// The departments whose chats this agent sees: those offered for chat
    /// where the agent has full access.
    pub async fn agent_chat_departments(&self, actor: &Actor) -> AppResult<BTreeSet<i64>> {
        let context = self.agent_context(actor).await?;
        self.chat_departments_served(&context.effective).await
    }

    /// Of the departments offered for chat, those these permissions give
    /// full access to.
    async fn chat_departments_served(
        &self,
        effective: &ferrodesk_core::EffectivePermissions,
    ) -> AppResult<BTreeSet<i64>> {
        Ok(self
            .chat_departments()
            .await?
            .into_iter()
            .filter(|department| {
                effective.department_access(department.id) == Some(DepartmentAccess::Full)
            })
            .map(|department| department.id)
            .collect())
    }

    /// The chats waiting or under way that the agent sees: the queue of
    /// their departments and the chats they hold.
    pub async fn agent_chats(&self, actor: &Actor) -> AppResult<Vec<AgentChatView>> {
        let context = self.agent_context(actor).await?;
        let agent_id = context.agent_id;
        let departments: Vec<i64> = self
            .chat_departments_served(&context.effective)
            .await?
            .into_iter()
            .collect();
        let guest_of = self.store().chats().guest_chats(agent_id).await?;
        let chats: Vec<ChatRecord> = self
            .store()
            .chats()
            .open_chats(&departments)
            .await?
            .into_iter()
            .filter(|chat| {
                chat.state != "active"
                    || chat.agent_id == Some(agent_id)
                    || guest_of.contains(&chat.id)
            })
            .collect();
        // Messages and guests of all the chats in one query each.
        let ids: Vec<i64> = chats.iter().map(|chat| chat.id).collect();
        let mut messages = self.store().chats().messages_of_chats(&ids).await?;
        let mut guests = self.store().chats().guests_of_chats(&ids).await?;
        let mut views = Vec::with_capacity(chats.len());
        for chat in chats {
            views.push(AgentChatView {
                visitor_tickets: self.visitor_tickets_seen_by(&context, &chat).await?,
                messages: messages.remove(&chat.id).unwrap_or_default(),
                guests: guests.remove(&chat.id).unwrap_or_default(),
                chat,
            });
        }
        Ok(views)
    }

    /// Whether the agent holds the chat or was invited into it.
    pub(crate) async fn takes_part(&self, agent_id: i64, chat: &ChatRecord) -> AppResult<bool> {
        Ok(chat.agent_id == Some(agent_id)
            || self
                .store()
                .chats()
                .chat_guests(chat.id)
                .await?
                .iter()
                .any(|(guest, _)| *guest == agent_id))
    }

    /// The id of the person's open ticket with this reference.
    async fn open_ticket_of(&self, person_id: i64, reference: &str) -> AppResult<Option<i64>> {
        let Ok(reference) = ferrodesk_core::TicketRef::parse(reference) else {
            return Ok(None);
        };
        Ok(self
            .store()
            .tickets()
            .find_ticket(&reference)
            .await?
            .filter(|ticket| is_open_request_of(ticket, person_id))
            .map(|ticket| ticket.id))
    }

    /// A chat the agent may act on: in one of their departments.
    pub(crate) async fn agent_chat(
        &self,
        actor: &Actor,
        chat_id: i64,
    ) -> AppResult<(i64, ChatRecord)> {
        let context = self.agent_context(actor).await?;
        let chat = self
            .store()
            .chats()
            .chat(chat_id)
            .await?
            .ok_or(AppError::NotFound)?;
        if !self
            .chat_departments_served(&context.effective)
            .await?
            .contains(&chat.department_id)
        {
            return Err(AppError::NotFound);
        }
        Ok((context.agent_id, chat))
    }

    /// The visitor's recent tickets (transcripts of earlier chats among
    /// them) that the agent may see, newest first: shown beside the chat.
    pub async fn chat_visitor_tickets(
        &self,
        actor: &Actor,
        chat: &ChatRecord,
    ) -> AppResult<Vec<ferrodesk_store::TicketRecord>> {
        let context = self.agent_context(actor).await?;
        self.visitor_tickets_seen_by(&context, chat).await
    }

    /// The same with the agent's permissions already read.
    async fn visitor_tickets_seen_by(
        &self,
        context: &crate::tickets::AgentContext,
        chat: &ChatRecord,
    ) -> AppResult<Vec<ferrodesk_store::TicketRecord>> {
        let person_id = match chat.person_id {
            Some(id) => Some(id),
            None => match Email::parse(&chat.visitor_email) {
                Ok(email) => self
                    .person_with_address(&email)
                    .await?
                    .map(|person| person.id),
                Err(_) => None,
            },
        };
        let Some(person_id) = person_id else {
            return Ok(Vec::new());
        };
        let filter = ferrodesk_store::TicketFilter {
            requester_id: Some(person_id),
            statuses: ferrodesk_core::TicketStatus::VISIBLE.to_vec(),
            ..ferrodesk_store::TicketFilter::default()
        };
        Ok(self
            .store()
            .tickets()
            .list_tickets(
                &context.visibility(),
                &filter,
                ferrodesk_store::TicketPage {
                    limit: VISITOR_TICKETS_SHOWN,
                    ..ferrodesk_store::TicketPage::default()
                },
            )
            .await?)
    }

    /// The agent takes a waiting chat.
    pub async fn accept_chat(&self, actor: &Actor, chat_id: i64) -> AppResult<()> {
        let (agent_id, chat) = self.agent_chat(actor, chat_id).await?;
        if chat.state == "waiting" && chat.offered_agent_id.is_some_and(|to| to != agent_id) {
            return Err(AppError::Conflict(
                "This chat is offered to another agent for now.".to_owned(),
            ));
        }
        let limit = i64::from(self.chat_settings().await?.chats_per_agent);
        if chat.state == "waiting" && self.store().chats().active_chats_of(agent_id).await? >= limit
        {
            return Err(AppError::Conflict(format!(
                "You hold {limit} chats already, the most one agent may; end one first."
            )));
        }
        if chat.state != "waiting"
            || !self
                .store()
                .chats()
                .accept_chat(chat.id, agent_id, self.now())
                .await?
        {
            return Err(AppError::Conflict(
                "Another agent has taken this chat, or it has ended.".to_owned(),
            ));
        }
        tracing::info!(chat_id, agent_id, "chat accepted");
        Ok(())
    }

    /// The agent who holds a chat writes in it.
    pub async fn post_agent_message(
        &self,
        actor: &Actor,
        chat_id: i64,
        body: &str,
    ) -> AppResult<()> {
        let (agent_id, chat) = self.agent_chat(actor, chat_id).await?;
        if chat.state != "active" || !self.takes_part(agent_id, &chat).await? {
            return Err(AppError::Conflict(
                "Accept the chat before writing in it.".to_owned(),
            ));
        }
        let body = checked_chat_message(body)?;
        let name = agent_name(actor);
        let author = ChatAuthor {
            agent_id: Some(agent_id),
            name: &name,
        };
        self.store()
            .chats()
            .add_chat_message(chat.id, author, &body, None, self.now())
            .await?
            .ok_or_else(|| AppError::Conflict("This chat has ended.".to_owned()))?;
        Ok(())
    }

    /// The agent ends a chat they hold (or one waiting in their queue);
    /// its transcript is saved.
    pub async fn agent_ends_chat(&self, actor: &Actor, chat_id: i64) -> AppResult<()> {
        let (agent_id, chat) = self.agent_chat(actor, chat_id).await?;
        if chat.state == "active" && chat.agent_id != Some(agent_id) {
            return Err(AppError::Conflict(
                "Only the agent holding this chat can end it.".to_owned(),
            ));
        }
        if self.store().chats().end_chat(chat.id, self.now()).await? {
            self.save_transcript(chat.id).await?;
        }
        Ok(())
    }

    pub async fn chat_availability(&self, actor: &Actor) -> AppResult<Availability> {
        let agent_id = self.agent_context(actor).await?.agent_id;
        let stored = self.store().chats().availability(agent_id).await?;
        Ok(Availability::parse(&stored).unwrap_or(Availability::Offline))
    }

    pub async fn set_chat_availability(&self, actor: &Actor, availability: &str) -> AppResult<()> {
        let availability = Availability::parse(availability)
            .ok_or_else(|| AppError::invalid("availability", "Choose online, away or offline."))?;
        let agent_id = self.agent_context(actor).await?.agent_id;
        self.store()
            .chats()
            .set_availability(agent_id, availability.key(), self.now())
            .await?;
        Ok(())
    }

    /// Admin → Chat.
    pub async fn set_chat_settings(
        &self,
        caller: &Caller<'_>,
        input: &ChatSettingsInput,
    ) -> AppResult<()> {
        caller.actor.require_admin()?;
        let mut errors = FieldErrors::new();
        let known: Vec<i64> = self
            .store()
            .departments()
            .list_departments()
            .await?
            .iter()
            .map(|department| department.id)
            .collect();
        let department_ids =
            checked_department_ids(&input.department_ids, &known, "department_ids", &mut errors);
        let wait_seconds = number_within(
            &input.wait_seconds,
            10..=MAX_CHAT_WAIT_SECONDS,
            "wait_seconds",
            format!("The wait is a number of seconds from 10 to {MAX_CHAT_WAIT_SECONDS}."),
            &mut errors,
        );
        let welcome = input.welcome.trim().to_owned();
        if welcome.chars().count() > 300 || welcome.contains('\0') {
            errors.add("welcome", "The greeting holds at most 300 characters.");
        }
        let mut allowed_origins = Vec::new();
        for line in input.allowed_origins.lines() {
            if line.trim().is_empty() {
                continue;
            }
            match normalized_origin(line) {
                Some(origin) => allowed_origins.push(origin),
                None => errors.add(
                    "allowed_origins",
                    format!(
                        "\u{201c}{}\u{201d} is not an origin such as https://www.example.com.",
                        line.trim()
                    ),
                ),
            }
        }
        let chats_per_agent = number_within(
            &input.chats_per_agent,
            1..=MAX_CHATS_PER_AGENT,
            "chats_per_agent",
            format!("Chats per agent is a number from 1 to {MAX_CHATS_PER_AGENT}."),
            &mut errors,
        );
        let round_robin_department_ids = checked_department_ids(
            &input.round_robin_department_ids,
            &known,
            "round_robin_department_ids",
            &mut errors,
        );
        let ack_seconds = number_within(
            &input.ack_seconds,
            5..=MAX_ACK_SECONDS,
            "ack_seconds",
            format!("The time to accept is a number of seconds from 5 to {MAX_ACK_SECONDS}."),
            &mut errors,
        );
        let button_label = input.button_label.trim().to_owned();
        if button_label.is_empty()
            || button_label.chars().count() > 40
            || button_label.contains('\0')
        {
            errors.add("button_label", "The button's words are 1 to 40 characters.");
        }
        let button_colour = input.button_colour.trim().to_ascii_lowercase();
        // The button writes in black or white, whichever reads better.
        if ferrodesk_core::colour::Rgb::parse(&button_colour).is_none() {
            errors.add("button_colour", "A colour is written #rrggbb.");
        }
        let retention_days = number_within(
            &input.retention_days,
            0..=MAX_RETENTION_DAYS,
            "retention_days",
            format!("Keep ended chats 0 (always) to {MAX_RETENTION_DAYS} days."),
            &mut errors,
        );
        errors.into_result()?;
        let after = ChatSettings {
            enabled: input.enabled,
            department_ids,
            wait_seconds,
            welcome,
            allowed_origins,
            chats_per_agent,
            round_robin_department_ids,
            ack_seconds,
            require_email: input.require_email,
            button_label,
            button_colour,
            retention_days,
        };
        let before = self.chat_settings().await?;
        self.put_audited_setting(caller, CHAT, &before, &after)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert_eq!(
            normalized_origin("https://WWW.Example.com/"),
            Some("https://www.example.com".to_owned())
        );
        assert_eq!(
            normalized_origin("http://localhost:8080"),
            Some("http://localhost:8080".to_owned())
        );
        for refused in [
            "www.example.com",
            "https://",
            "ftp://example.com",
            "https://example.com/page",
            "https://user@example.com",
            "javascript://x",
        ] {
            assert_eq!(normalized_origin(refused), None, "{refused}");
        }
    }

    #[test]
    fn messages_are_trimmed_and_bounded() {
        assert_eq!(checked_chat_message("  hi  ").ok().as_deref(), Some("hi"));
        assert!(checked_chat_message(" \n ").is_err());
        assert!(checked_chat_message(&"x".repeat(MAX_CHAT_MESSAGE_CHARS + 1)).is_err());
        assert!(checked_chat_message("a\0b").is_err());
    }
}
