//! Tickets for agents: the list, a ticket with its thread, replies and
//! notes, property changes with their log, following, and tickets made on a
//! user's behalf. Every use case starts from what the acting agent may see;
//! a ticket outside it is "not found", never "forbidden", so ids and
//! references tell nothing.

use ferrodesk_core::{
    DepartmentAccess, EffectivePermissions, Email, Permission, TicketStatus, URGENCY_RANGE,
};
use std::collections::HashMap;
use std::time::Duration;

use ferrodesk_store::{
    AttachmentRecord, FieldValueRecord, MemberRecord, MessageRecord, NewAttachment, NewLogEntry,
    NewMessage, NewPerson, NewTicket, PersonRecord, StoreError, TicketActor, TicketChangeMark,
    TicketFilter, TicketLogRecord, TicketPage, TicketProperties, TicketRecord, TicketUpdate,
    Visibility,
};

use crate::api_keys::ApiCaller;
use crate::attachments::{UploadedFile, attachments_by_message};
use crate::audit::{Audit, Caller};
use crate::departments::{DepartmentNode, department_tree};
use crate::error::parse_keyset_cursor;
use crate::secrets::random_bytes;
use crate::ticket_fields::{FieldView, checked_field_values, field_views, values_for};
use crate::{Actor, App, AppError, AppResult, FieldErrors, markdown};
use ferrodesk_mail::TemplateKind;

/// How long a ticket count is kept at most. Writes through this node always
/// move the change mark; another node's write moves it through the newest
/// id or change time, which a change in the same millisecond as the newest
/// one, or a clock running behind, can leave as it was. This bounds how
/// stale those can make a count.
const TICKET_COUNT_TTL: Duration = Duration::from_secs(10);
/// How long other requests show the previous count while one counts
/// afresh; a count that failed or was abandoned is taken over after this.
const RECOUNT_GRACE: Duration = Duration::from_secs(5);
/// Counts kept per node before the cache starts again.
const TICKET_COUNT_ENTRIES: usize = 2_000;

/// Counting the tickets a list holds is the one part of a list page whose
/// cost grows with the database: the API's exact total counts every match
/// (half a million at a million tickets), and the agent list counts five
/// views. Each count is kept with the change mark it was made at
/// (`Store::ticket_change_mark`) and used again while the mark holds, so
/// a ticket opened or changed makes the next page count afresh (one page
/// at a time: see `get`).
#[derive(Debug, Default)]
pub(crate) struct TicketCountCache(std::sync::Mutex<HashMap<TicketCountKey, CachedCount>>);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TicketCountKey(String);

#[derive(Debug, Clone, Copy)]
struct CachedCount {
    mark: TicketChangeMark,
    counted_at: std::time::Instant,
    count: i64,
    /// When a request set out to count afresh; others show `count` till
    /// then.
    recount_started: Option<std::time::Instant>,
}

impl TicketCountKey {
    /// `None` for the followed view: following changes no ticket, so
    /// another node's follow would not move the mark (and that count is
    /// small and cheap).
    fn new(
        visibility: &Visibility,
        filter: &TicketFilter,
        cap: Option<i64>,
    ) -> Option<TicketCountKey> {
        if filter.followed_by.is_some() {
            return None;
        }
        Some(TicketCountKey(format!("{visibility:?}|{filter:?}|{cap:?}")))
    }
}

impl TicketCountCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<TicketCountKey, CachedCount>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The count to show, or `None` when the caller is to count. While
    /// one request counts afresh, the others show the count before it
    /// rather than all counting at once (at a million tickets an exact
    /// count takes half a second, and 32 at once took the API list's p99
    /// to 580 ms when a count expired under load).
    fn get(&self, key: &TicketCountKey, mark: TicketChangeMark) -> Option<i64> {
        let mut entries = self.entries();
        let cached = entries.get_mut(key)?;
        if cached.mark == mark && cached.counted_at.elapsed() < TICKET_COUNT_TTL {
            return Some(cached.count);
        }
        match cached.recount_started {
            Some(started) if started.elapsed() < RECOUNT_GRACE => Some(cached.count),
            _ => {
                cached.recount_started = Some(std::time::Instant::now());
                None
            }
        }
    }

    fn put(&self, key: TicketCountKey, mark: TicketChangeMark, count: i64) {
        let mut entries = self.entries();
        if entries.len() >= TICKET_COUNT_ENTRIES {
            entries.clear();
        }
        entries.insert(
            key,
            CachedCount {
                mark,
                counted_at: std::time::Instant::now(),
                count,
                recount_started: None,
            },
        );
    }
}

/// Rows per page of the agent list.
pub const TICKET_PAGE_SIZE: i64 = 50;
/// The agent list counts each view's tickets up to this many and shows
/// "1000+" beyond, so the page costs the same at a million tickets.
pub const LIST_COUNT_CAP: i64 = 1000;
const MAX_SUBJECT_CHARS: usize = 200;
const MAX_MESSAGE_BYTES: usize = 100_000;
const MAX_LABELS: usize = 20;
const MAX_LABEL_CHARS: usize = 50;
/// How long a manual lock holds unless released.
pub const TICKET_LOCK_DURATION: Duration = Duration::from_secs(30 * 60);
/// Symbols of a reference: no 0/O or 1/I to misread.
const REFERENCE_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// The acting agent with what they may do.
#[derive(Debug, Clone)]
pub struct AgentContext {
    pub agent_id: i64,
    pub label: String,
    pub effective: EffectivePermissions,
    pub team_ids: Vec<i64>,
}

impl AgentContext {
    pub(crate) fn visibility(&self) -> Visibility {
        if self.effective.all_departments {
            return Visibility::Everything;
        }
        let mut full_departments = Vec::new();
        let mut assign_departments = Vec::new();
        for (department, access) in &self.effective.departments {
            match access {
                DepartmentAccess::Full => full_departments.push(*department),
                DepartmentAccess::AssignOnly => assign_departments.push(*department),
            }
        }
        Visibility::Limited {
            agent_id: self.agent_id,
            full_departments,
            assign_departments,
            team_ids: self.team_ids.clone(),
        }
    }

    fn may_see(&self, ticket: &TicketRecord, following: bool) -> bool {
        match self.effective.department_access(ticket.department_id) {
            Some(DepartmentAccess::Full) => true,
            Some(DepartmentAccess::AssignOnly) => {
                ticket.agent_id == Some(self.agent_id)
                    || ticket
                        .team_id
                        .is_some_and(|team| self.team_ids.contains(&team))
                    || following
            }
            None => false,
        }
    }

    pub(crate) fn actor(&self) -> TicketActor<'_> {
        TicketActor {
            id: Some(self.agent_id),
            label: &self.label,
        }
    }
}

/// The filters of the agent list, as the page or API sends them.
#[derive(Debug, Clone, Default)]
pub struct TicketListQuery {
    /// `mine`, `unassigned`, `teams`, `followed` or anything else for all.
    pub view: String,
    pub status: Option<String>,
    pub department_id: Option<i64>,
    pub label: Option<String>,
    pub urgency_at_least: Option<i64>,
    pub agent_id: Option<i64>,
    /// The cursor of the page: "updated_at.id" of the last row before.
    pub after: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TicketList {
    pub tickets: Vec<TicketRecord>,
    /// The tickets under the filters; in the agent list at most
    /// `LIST_COUNT_CAP` (meaning that many or more).
    pub total: i64,
    /// The cursor of the next page, when there is one.
    pub next: Option<String>,
    /// How many tickets each of `LIST_VIEWS` holds under the same filters.
    pub view_counts: Vec<(&'static str, i64)>,
    /// Each ticket's labels, by ticket id (filled for the API only).
    pub labels: HashMap<i64, Vec<String>>,
}

/// The views of the agent list, with what the page calls them.
pub const LIST_VIEWS: [(&str, &str); 5] = [
    ("mine", "Mine"),
    ("unassigned", "Unassigned"),
    ("teams", "My teams"),
    ("followed", "Followed"),
    ("all", "All"),
];

/// The store filter for one view of the list with the query's filters.
fn ticket_filter(
    context: &AgentContext,
    query: &TicketListQuery,
    view: &str,
) -> AppResult<TicketFilter> {
    if query
        .label
        .as_deref()
        .is_some_and(|label| !is_acceptable_label(label))
    {
        return Err(AppError::invalid(
            "label",
            format!("A label has at most {MAX_LABEL_CHARS} characters and no control characters."),
        ));
    }
    let mut filter = TicketFilter {
        department_id: query.department_id,
        label: query.label.clone().filter(|label| !label.is_empty()),
        urgency_at_least: query.urgency_at_least,
        ..TicketFilter::default()
    };
    filter.statuses = match query.status.as_deref() {
        Some("") | None => TicketStatus::VISIBLE
            .iter()
            .filter(|status| !matches!(status, TicketStatus::Resolved | TicketStatus::Archived))
            .map(|status| status.key().to_owned())
            .collect(),
        Some("any") => TicketStatus::VISIBLE
            .iter()
            .map(|status| status.key().to_owned())
            .collect(),
        Some(key) => {
            let status = TicketStatus::from_key(key)
                .ok_or_else(|| AppError::invalid("status", "Unknown status."))?;
            vec![status.key().to_owned()]
        }
    };
    match view {
        "mine" => filter.agent_id = Some(Some(context.agent_id)),
        "unassigned" => filter.agent_id = Some(None),
        "teams" => filter.team_ids = Some(context.team_ids.clone()),
        "followed" => filter.followed_by = Some(context.agent_id),
        _ => {
            if let Some(agent_id) = query.agent_id {
                filter.agent_id = Some(Some(agent_id));
            }
        }
    }
    Ok(filter)
}

/// A ticket as its agent page shows it.
#[derive(Debug, Clone)]
pub struct TicketView {
    pub ticket: TicketRecord,
    pub labels: Vec<String>,
    pub messages: Vec<MessageRecord>,
    pub log: Vec<TicketLogRecord>,
    pub following: bool,
    pub may_reply: bool,
    pub may_note: bool,
    pub may_edit: bool,
    /// The newest message when the page was made, to warn about replies
    /// written since.
    pub last_message_id: i64,
    /// Departments the ticket may be moved to.
    pub departments: Vec<DepartmentNode>,
    /// Agents the ticket may be assigned to.
    pub agents: Vec<MemberRecord>,
    pub teams: Vec<ferrodesk_store::TeamRecord>,
    /// Attachments by message id.
    pub attachments: HashMap<i64, Vec<AttachmentRecord>>,
    pub fields: Vec<FieldView>,
    pub may_merge: bool,
    /// Who holds an unexpired lock, when it is someone else.
    pub locked_by_other: Option<String>,
    /// Whether the viewing agent holds the lock.
    pub locked_by_me: bool,
    /// Users copied on replies.
    pub ccs: Vec<MemberRecord>,
    /// Whether the agent may open the requester's page.
    pub may_view_people: bool,
    pub may_spam: bool,
    pub may_delete: bool,
    /// The optional priority list (empty when the admins keep none).
    pub priorities: Vec<ferrodesk_store::TicketPriorityRecord>,
}

impl TicketView {
    pub fn attachments_of(&self, message_id: &i64) -> &[AttachmentRecord] {
        self.attachments.get(message_id).map_or(&[], Vec::as_slice)
    }
}

/// A reply or a note.
#[derive(Debug, Clone, Default)]
pub struct ReplyInput {
    pub body: String,
    pub is_note: bool,
    /// The status to leave the ticket in; by default a reply makes it
    /// "awaiting user" and a note leaves it alone.
    pub status: Option<String>,
    /// The newest message the agent had seen; a newer one is a conflict.
    pub seen_message_id: Option<i64>,
    /// Files received with the message, already stored.
    pub attachments: Vec<UploadedFile>,
}

/// Property changes from the ticket page.
#[derive(Debug, Clone, Default)]
pub struct PropertiesInput {
    pub status: String,
    pub urgency: String,
    pub department_id: String,
    pub agent_id: String,
    pub team_id: String,
    /// An entry of the priority list, or empty for none.
    pub priority_id: String,
    pub labels: String,
    /// What the form sent for custom fields: (field id as sent, value).
    pub fields: Vec<(String, String)>,
}

/// A ticket as a use case left it: its row, labels and fields, which is
/// what the API answers with.
#[derive(Debug, Clone)]
pub struct TicketState {
    pub ticket: TicketRecord,
    pub labels: Vec<String>,
    pub fields: Vec<FieldView>,
}

/// A ticket an agent opens for a user.
#[derive(Debug, Clone, Default)]
pub struct NewTicketInput {
    /// An existing user by id; otherwise `requester_email` finds or makes one.
    pub requester_id: Option<i64>,
    pub requester_email: String,
    pub requester_name: String,
    pub subject: String,
    pub message: String,
    pub department_id: String,
    pub urgency: String,
    pub labels: String,
    /// What the form sent for custom fields: (field id as sent, value).
    pub fields: Vec<(String, String)>,
    /// `api` for the REST API; the agent interface by default.
    pub channel: &'static str,
}

pub(crate) fn new_attachments(files: &[UploadedFile]) -> Vec<NewAttachment<'_>> {
    files
        .iter()
        .map(|file| NewAttachment {
            blob_sha256: &file.sha256,
            file_name: &file.file_name,
            content_type: &file.content_type,
            size: file.size,
        })
        .collect()
}

pub(crate) fn new_reference() -> AppResult<String> {
    let bytes = random_bytes::<8>()?;
    let symbols: String = bytes
        .iter()
        .map(|byte| char::from(REFERENCE_ALPHABET[usize::from(byte % 32)]))
        .collect();
    Ok(format!("{}-{}", &symbols[..4], &symbols[4..]))
}

/// Whether a text can be a reference at all (so junk never reaches SQL).
pub fn looks_like_reference(text: &str) -> bool {
    text.len() == 9
        && text.bytes().enumerate().all(|(index, byte)| {
            if index == 4 {
                byte == b'-'
            } else {
                REFERENCE_ALPHABET.contains(&byte)
            }
        })
}

/// Labels from a comma-separated field: trimmed, case-insensitively unique.
/// A label is short and on one line, whether it is stored or looked for.
fn is_acceptable_label(label: &str) -> bool {
    label.chars().count() <= MAX_LABEL_CHARS && !label.chars().any(char::is_control)
}

fn parse_labels(text: &str, errors: &mut FieldErrors) -> Vec<String> {
    let mut labels: Vec<String> = Vec::new();
    for label in text
        .split(',')
        .map(str::trim)
        .filter(|label| !label.is_empty())
    {
        if !is_acceptable_label(label) {
            errors.add(
                "labels",
                format!("A label has at most {MAX_LABEL_CHARS} characters and no line breaks."),
            );
            continue;
        }
        if !labels.iter().any(|known| known.eq_ignore_ascii_case(label)) {
            labels.push(label.to_owned());
        }
    }
    if labels.len() > MAX_LABELS {
        errors.add(
            "labels",
            format!("A ticket has at most {MAX_LABELS} labels."),
        );
    }
    labels.sort_by_key(|label| label.to_lowercase());
    labels
}

fn parse_urgency(text: &str, errors: &mut FieldErrors) -> i64 {
    match text.trim().parse::<i64>() {
        Ok(urgency) if URGENCY_RANGE.contains(&urgency) => urgency,
        _ => {
            errors.add("urgency", "Urgency is a number from 1 to 10.");
            1
        }
    }
}

fn parse_optional_id(text: &str, field: &'static str, errors: &mut FieldErrors) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match text.parse() {
        Ok(id) => Some(id),
        Err(_) => {
            errors.add(field, "Choose from the list.");
            None
        }
    }
}

/// A subject: one line of 1 to 200 characters.
pub(crate) fn checked_subject(text: &str, errors: &mut FieldErrors) -> String {
    let subject = text.trim().to_owned();
    if subject.is_empty() || subject.chars().count() > MAX_SUBJECT_CHARS {
        errors.add("subject", "A subject has 1 to 200 characters.");
    } else if subject.chars().any(char::is_control) {
        errors.add("subject", "A subject is one line.");
    }
    subject
}

pub(crate) fn checked_body(text: &str, has_attachments: bool, errors: &mut FieldErrors) -> String {
    let body = text.trim();
    if body.is_empty() && !has_attachments {
        errors.add("body", "Write something first.");
    } else if body.len() > MAX_MESSAGE_BYTES {
        errors.add(
            "body",
            "A message is at most 100,000 characters; attach long texts as files.",
        );
    }
    body.to_owned()
}

impl App {
    /// The acting agent and what they may do; anyone else is refused.
    pub async fn agent_context(&self, actor: &Actor) -> AppResult<AgentContext> {
        let Actor::Agent(agent) = actor else {
            return Err(AppError::Forbidden);
        };
        // The session is checked already; admins need no grants looked up.
        let effective = if agent.is_admin {
            EffectivePermissions::everything()
        } else {
            self.effective_permissions(agent.person_id).await?
        };
        let (_, team_ids) = self.store().agent_memberships(agent.person_id).await?;
        Ok(AgentContext {
            agent_id: agent.person_id,
            label: format!("{} <{}>", agent.name, agent.email),
            effective,
            team_ids,
        })
    }

    /// A ticket the agent may see, by reference; otherwise `NotFound`.
    pub(crate) async fn visible_ticket(
        &self,
        context: &AgentContext,
        reference: &str,
    ) -> AppResult<(TicketRecord, bool)> {
        if !looks_like_reference(reference) {
            return Err(AppError::NotFound);
        }
        let mut ticket = self
            .store()
            .find_ticket(reference)
            .await?
            .ok_or(AppError::NotFound)?;
        // A merged ticket's reference leads to the ticket it went into.
        if let Some(target) = ticket.merged_into_id {
            ticket = self
                .store()
                .get_ticket(target)
                .await?
                .ok_or(AppError::NotFound)?;
        }
        let following = self
            .store()
            .is_following(ticket.id, context.agent_id)
            .await?;
        if !context.may_see(&ticket, following) {
            return Err(AppError::NotFound);
        }
        Ok((ticket, following))
    }

    /// One page of the tickets the agent may see, with the filters.
    pub async fn list_tickets(
        &self,
        actor: &Actor,
        query: &TicketListQuery,
    ) -> AppResult<TicketList> {
        let context = self.agent_context(actor).await?;
        let filter = ticket_filter(&context, query, &query.view)?;
        let after = parse_keyset_cursor(query.after.as_deref())?;
        let visibility = context.visibility();
        let mut tickets = self
            .store()
            .list_tickets(
                &visibility,
                &filter,
                TicketPage {
                    after,
                    limit: TICKET_PAGE_SIZE + 1,
                    ..Default::default()
                },
            )
            .await?;
        let next = if tickets.len() > TICKET_PAGE_SIZE as usize {
            tickets.truncate(TICKET_PAGE_SIZE as usize);
            tickets
                .last()
                .map(|last| format!("{}.{}", last.updated_at, last.id))
        } else {
            None
        };
        // Each view's count under the same filters; the shown view's is the
        // total.
        let mark = self.store().ticket_change_mark().await?;
        let mut view_counts = Vec::with_capacity(LIST_VIEWS.len());
        let mut total = 0;
        for (view, _) in LIST_VIEWS {
            let view_filter = ticket_filter(&context, query, view)?;
            let count = self
                .counted(&visibility, &view_filter, Some(LIST_COUNT_CAP), mark)
                .await?;
            if view == query.view
                || (view == "all" && !LIST_VIEWS.iter().any(|(key, _)| *key == query.view))
            {
                total = count;
            }
            view_counts.push((view, count));
        }
        Ok(TicketList {
            tickets,
            total,
            next,
            view_counts,
            labels: HashMap::new(),
        })
    }

    /// Tickets for the API: `count` rows after the cursor, or else from
    /// `offset`, with the total under the same filters and the cursor of
    /// the next page.
    pub async fn ticket_window(
        &self,
        actor: &Actor,
        query: &TicketListQuery,
        count: i64,
        offset: i64,
    ) -> AppResult<TicketList> {
        let context = self.agent_context(actor).await?;
        let filter = ticket_filter(&context, query, &query.view)?;
        let after = parse_keyset_cursor(query.after.as_deref())?;
        let visibility = context.visibility();
        let mut tickets = self
            .store()
            .list_tickets(
                &visibility,
                &filter,
                TicketPage {
                    after,
                    limit: count + 1,
                    offset,
                },
            )
            .await?;
        let next = if tickets.len() > count as usize {
            tickets.truncate(count as usize);
            tickets
                .last()
                .map(|last| format!("{}.{}", last.updated_at, last.id))
        } else {
            None
        };
        let mark = self.store().ticket_change_mark().await?;
        let total = self.counted(&visibility, &filter, None, mark).await?;
        let ids: Vec<i64> = tickets.iter().map(|ticket| ticket.id).collect();
        let mut labels: HashMap<i64, Vec<String>> = HashMap::new();
        for (ticket_id, label) in self.store().labels_of_tickets(&ids).await? {
            labels.entry(ticket_id).or_default().push(label);
        }
        Ok(TicketList {
            tickets,
            total,
            next,
            view_counts: Vec::new(),
            labels,
        })
    }

    /// How many tickets a list holds (up to `cap`), from this node's cache
    /// while no ticket has been opened or changed since it was counted.
    async fn counted(
        &self,
        visibility: &Visibility,
        filter: &TicketFilter,
        cap: Option<i64>,
        mark: TicketChangeMark,
    ) -> AppResult<i64> {
        let key = TicketCountKey::new(visibility, filter, cap);
        if let Some(count) = key
            .as_ref()
            .and_then(|key| self.inner.ticket_counts.get(key, mark))
        {
            return Ok(count);
        }
        let count = match cap {
            Some(cap) => {
                self.store()
                    .count_tickets_up_to(visibility, filter, cap)
                    .await?
            }
            None => self.store().count_tickets(visibility, filter).await?,
        };
        if let Some(key) = key {
            self.inner.ticket_counts.put(key, mark, count);
        }
        Ok(count)
    }

    /// The reference of a ticket named by its reference or its numeric id,
    /// as the API accepts either; whether the agent may see it is checked
    /// by the use case the reference then goes to.
    pub async fn ticket_reference(&self, key: &str) -> AppResult<String> {
        if looks_like_reference(key) {
            return Ok(key.to_owned());
        }
        let id: i64 = key.parse().map_err(|_| AppError::NotFound)?;
        let ticket = self
            .store()
            .get_ticket(id)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(ticket.reference)
    }

    /// A ticket with its thread (notes included), log and what the agent
    /// may do with it.
    /// A ticket the agent may see with its labels and field values, without
    /// the thread: what the API answers for one ticket.
    pub async fn ticket_properties(
        &self,
        actor: &Actor,
        reference: &str,
    ) -> AppResult<(TicketRecord, Vec<String>, Vec<FieldView>)> {
        let context = self.agent_context(actor).await?;
        let (ticket, _) = self.visible_ticket(&context, reference).await?;
        let labels = self.store().ticket_labels(ticket.id).await?;
        let fields = field_views(
            self.store().list_ticket_fields().await?,
            &self.store().ticket_field_values(ticket.id).await?,
        );
        Ok((ticket, labels, fields))
    }

    pub async fn ticket_view(&self, actor: &Actor, reference: &str) -> AppResult<TicketView> {
        let context = self.agent_context(actor).await?;
        let (ticket, following) = self.visible_ticket(&context, reference).await?;
        let labels = self.store().ticket_labels(ticket.id).await?;
        let messages = self.store().ticket_messages(ticket.id, true).await?;
        let last_message_id = messages.last().map_or(0, |message| message.id);
        let log = self.store().ticket_log(ticket.id).await?;
        let departments = department_tree(&self.store().list_departments().await?)
            .into_iter()
            .filter(|node| context.effective.department_access(node.id).is_some())
            .collect();
        let agents = self
            .store()
            .list_agents()
            .await?
            .into_iter()
            .filter(|agent| !agent.is_disabled)
            .map(|agent| MemberRecord {
                id: agent.id,
                name: agent.name,
                email: agent.email,
            })
            .collect();
        let teams = self.store().list_teams().await?;
        let attachments =
            attachments_by_message(self.store().ticket_attachments(ticket.id, true).await?);
        let fields = field_views(
            self.store().list_ticket_fields().await?,
            &self.store().ticket_field_values(ticket.id).await?,
        );
        let lock_holder = ticket
            .locked_until
            .filter(|until| *until > self.now().millis())
            .and(ticket.locked_by_id);
        let locked_by_me = lock_holder == Some(context.agent_id);
        let locked_by_other = match lock_holder {
            Some(holder) if holder != context.agent_id => Some(
                ticket
                    .locked_by_name
                    .clone()
                    .unwrap_or_else(|| "another agent".to_owned()),
            ),
            _ => None,
        };
        let ccs = self.store().ticket_ccs(ticket.id).await?;
        let priorities = self.store().list_ticket_priorities().await?;
        Ok(TicketView {
            priorities,
            may_spam: context.effective.has(Permission::TicketSpam),
            may_delete: context.effective.has(Permission::TicketDelete),
            ccs,
            may_view_people: context.effective.has(Permission::PeopleView),
            attachments,
            fields,
            may_merge: context.effective.has(Permission::TicketMerge),
            locked_by_other,
            locked_by_me,
            may_reply: context.effective.has(Permission::TicketReply),
            may_note: context.effective.has(Permission::TicketNote),
            may_edit: context.effective.has(Permission::TicketEdit),
            ticket,
            labels,
            messages,
            log,
            following,
            last_message_id,
            departments,
            agents,
            teams,
        })
    }

    /// Checks a status an agent picked: known, and hidden ones only with
    /// the permission for them.
    fn checked_status(
        context: &AgentContext,
        key: &str,
        errors: &mut FieldErrors,
    ) -> Option<TicketStatus> {
        let Some(status) = TicketStatus::from_key(key) else {
            errors.add("status", "Unknown status.");
            return None;
        };
        let allowed = match status {
            TicketStatus::Spam => context.effective.has(Permission::TicketSpam),
            TicketStatus::Deleted => context.effective.has(Permission::TicketDelete),
            _ => true,
        };
        if !allowed {
            errors.add("status", "You may not put tickets there.");
            return None;
        }
        Some(status)
    }

    /// A reply (the requester sees it) or an internal note.
    pub async fn reply_to_ticket(
        &self,
        caller: &Caller<'_>,
        reference: &str,
        input: &ReplyInput,
    ) -> AppResult<()> {
        let context = self.agent_context(caller.actor).await?;
        let (ticket, _) = self.visible_ticket(&context, reference).await?;
        let needed = if input.is_note {
            Permission::TicketNote
        } else {
            Permission::TicketReply
        };
        if !context.effective.has(needed) {
            return Err(AppError::Forbidden);
        }
        let mut errors = FieldErrors::new();
        let body = checked_body(&input.body, !input.attachments.is_empty(), &mut errors);
        self.check_attachment_count(input.attachments.len(), &mut errors)
            .await?;
        let current = TicketStatus::from_key(&ticket.status).unwrap_or(TicketStatus::AwaitingAgent);
        let status = match input.status.as_deref().filter(|key| !key.is_empty()) {
            Some(key) if key != current.key() => {
                if !context.effective.has(Permission::TicketEdit) && input.is_note {
                    errors.add("status", "You may not change the status.");
                }
                Self::checked_status(&context, key, &mut errors).unwrap_or(current)
            }
            Some(_) => current,
            None if input.is_note => current,
            None => TicketStatus::after_agent_reply(),
        };
        errors.into_result()?;
        if let Some(seen) = input.seen_message_id {
            let newest = self.store().last_message_id(ticket.id).await?;
            if newest > seen {
                return Err(AppError::Conflict(
                    "Someone added to this ticket since you opened it. Read the new message, then send again."
                        .to_owned(),
                ));
            }
        }
        let mut log = Vec::new();
        if status.key() != ticket.status {
            log.push(NewLogEntry {
                field: "status",
                before: Some(ticket.status.clone()),
                after: Some(status.key().to_owned()),
            });
        }
        let html = markdown::render(&body);
        let attachments = new_attachments(&input.attachments);
        // A reply goes to the requester and the CCs by mail, each their
        // own copy; a note never leaves.
        let mut outgoing = Vec::new();
        if !input.is_note {
            let agent_name = match caller.actor {
                Actor::Agent(agent) => agent.name.clone(),
                _ => context.label.clone(),
            };
            let mut recipients = vec![(
                ticket.requester_name.clone(),
                ticket.requester_email.clone(),
            )];
            recipients.extend(
                self.store()
                    .ticket_ccs(ticket.id)
                    .await?
                    .into_iter()
                    .filter(|cc| cc.id != ticket.requester_id)
                    .map(|cc| (cc.name, cc.email)),
            );
            let link = self.ticket_link(&ticket.reference, &self.ticket_access_code(&ticket));
            for (name, email) in recipients {
                outgoing.push(
                    self.compose_mail(
                        TemplateKind::TicketReply,
                        &name,
                        &email,
                        serde_json::json!({
                            "name": name,
                            "reference": ticket.reference,
                            "subject": ticket.subject,
                            "agent": agent_name,
                            "message_text": body,
                            "message_html": html,
                            "link": link,
                        }),
                    )
                    .await?,
                );
            }
        }
        let mails: Vec<_> = outgoing.iter().map(|mail| mail.as_new()).collect();
        self.store()
            .update_ticket(
                ticket.id,
                &TicketUpdate {
                    properties: &TicketProperties {
                        status: status.key(),
                        urgency: ticket.urgency,
                        department_id: ticket.department_id,
                        agent_id: ticket.agent_id,
                        team_id: ticket.team_id,
                        priority_id: ticket.priority_id,
                        labels: None,
                    },
                    actor: context.actor(),
                    log: &log,
                    message: Some(&NewMessage {
                        author_id: Some(context.agent_id),
                        is_note: input.is_note,
                        body_markdown: &body,
                        body_html: &html,
                        channel: "agent",
                        ip: caller.ip,
                        attachments: &attachments,
                    }),
                    agent_replied: !input.is_note,
                    field_values: &[],
                    mails: &mails,
                },
                self.now(),
            )
            .await?;
        if !mails.is_empty() {
            self.wake_workers();
        }
        if caller.ip.parse::<std::net::IpAddr>().is_ok()
            && self.settings().await?.login_monitoring.resolve_hostnames
        {
            self.look_up_hostname_later(caller.ip).await?;
        }
        Ok(())
    }

    /// Changes status, urgency, department, assignment and labels, with a
    /// log line for each field that changed; answers with the ticket as it
    /// is now.
    pub async fn change_ticket(
        &self,
        caller: &Caller<'_>,
        reference: &str,
        input: &PropertiesInput,
    ) -> AppResult<TicketState> {
        let (context, ticket) = self.ticket_to_edit(caller, reference).await?;
        let mut errors = FieldErrors::new();
        let status = if input.status == ticket.status {
            TicketStatus::from_key(&ticket.status)
        } else {
            Self::checked_status(&context, &input.status, &mut errors)
        };
        let urgency = parse_urgency(&input.urgency, &mut errors);
        let department_id = parse_optional_id(&input.department_id, "department", &mut errors)
            .unwrap_or(ticket.department_id);
        if department_id != ticket.department_id
            && context.effective.department_access(department_id).is_none()
        {
            errors.add("department", "You have no access to that department.");
        }
        if !self
            .store()
            .list_departments()
            .await?
            .iter()
            .any(|department| department.id == department_id)
        {
            errors.add("department", "That department does not exist.");
        }
        let agent_id = parse_optional_id(&input.agent_id, "agent", &mut errors);
        // An assignment is checked when it changes (or the department does),
        // so a status change is not refused over an older assignment that
        // the agent's permissions no longer cover.
        if let Some(agent_id) = agent_id
            && (Some(agent_id) != ticket.agent_id || department_id != ticket.department_id)
        {
            let assignable = self
                .store()
                .get_person(agent_id)
                .await?
                .is_some_and(|person| person.is_agent && !person.is_disabled);
            let has_access = assignable
                && self
                    .effective_permissions(agent_id)
                    .await?
                    .department_access(department_id)
                    .is_some();
            if !has_access {
                errors.add(
                    "agent",
                    "That agent cannot be assigned tickets of this department.",
                );
            }
        }
        let team_id = parse_optional_id(&input.team_id, "team", &mut errors);
        if let Some(team_id) = team_id
            && self.store().get_team(team_id).await?.is_none()
        {
            errors.add("team", "That team does not exist.");
        }
        let priorities = self.store().list_ticket_priorities().await?;
        let priority = match parse_optional_id(&input.priority_id, "priority", &mut errors) {
            None => None,
            Some(id) => {
                let found = priorities
                    .iter()
                    .find(|priority| priority.id == id)
                    .cloned();
                if found.is_none() {
                    errors.add("priority", "That priority is not in the list.");
                }
                found
            }
        };
        let labels = parse_labels(&input.labels, &mut errors);
        let fields = self.store().list_ticket_fields().await?;
        let field_values =
            checked_field_values(&fields, |id| values_for(&input.fields, id), &mut errors);
        errors.into_result()?;
        let status = status.unwrap_or(TicketStatus::AwaitingAgent);
        let before_fields =
            field_views(fields, &self.store().ticket_field_values(ticket.id).await?);
        let before_labels = self.store().ticket_labels(ticket.id).await?;
        let mut log = Vec::new();
        let mut note = |field: &'static str, before: Option<String>, after: Option<String>| {
            if before != after {
                log.push(NewLogEntry {
                    field,
                    before,
                    after,
                });
            }
        };
        note(
            "status",
            Some(ticket.status.clone()),
            Some(status.key().to_owned()),
        );
        note(
            "urgency",
            Some(ticket.urgency.to_string()),
            Some(urgency.to_string()),
        );
        note(
            "department",
            Some(ticket.department_id.to_string()),
            Some(department_id.to_string()),
        );
        note(
            "agent",
            ticket.agent_id.map(|id| id.to_string()),
            agent_id.map(|id| id.to_string()),
        );
        note(
            "team",
            ticket.team_id.map(|id| id.to_string()),
            team_id.map(|id| id.to_string()),
        );
        note(
            "priority",
            ticket.priority_name.clone(),
            priority.as_ref().map(|priority| priority.name.clone()),
        );
        note(
            "labels",
            Some(before_labels.join(", ")),
            Some(labels.join(", ")),
        );
        let mut changed_fields = Vec::new();
        let mut field_log = Vec::new();
        for (view, (field_id, value)) in before_fields.iter().zip(&field_values) {
            if view.value != *value {
                let after = FieldView {
                    value: value.clone(),
                    ..view.clone()
                };
                field_log.push(NewLogEntry {
                    field: "field",
                    before: Some(format!("{}: {}", view.field.name, view.display())),
                    after: Some(format!("{}: {}", view.field.name, after.display())),
                });
                changed_fields.push((*field_id, value.clone()));
            }
        }
        log.extend(field_log);
        if log.is_empty() {
            return Ok(TicketState {
                ticket,
                labels: before_labels,
                fields: before_fields,
            });
        }
        self.store()
            .update_ticket(
                ticket.id,
                &TicketUpdate {
                    properties: &TicketProperties {
                        status: status.key(),
                        urgency,
                        department_id,
                        agent_id,
                        team_id,
                        priority_id: priority.as_ref().map(|priority| priority.id),
                        labels: Some(&labels),
                    },
                    actor: context.actor(),
                    log: &log,
                    message: None,
                    agent_replied: false,
                    field_values: &changed_fields,
                    mails: &[],
                },
                self.now(),
            )
            .await?;
        let fields = before_fields
            .into_iter()
            .zip(field_values)
            .map(|(view, (_, value))| FieldView { value, ..view })
            .collect();
        // Read back for the names the row points to (agent, team, …).
        let ticket = self
            .store()
            .get_ticket(ticket.id)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(TicketState {
            ticket,
            labels,
            fields,
        })
    }

    /// Merges the ticket into another (`into` is its reference): the
    /// messages, log, labels, followers and field values move over, and the
    /// merged reference leads to the other ticket from then on.
    pub async fn merge_ticket(
        &self,
        caller: &Caller<'_>,
        reference: &str,
        into: &str,
    ) -> AppResult<String> {
        let context = self.agent_context(caller.actor).await?;
        let (source, _) = self.visible_ticket(&context, reference).await?;
        if !context.effective.has(Permission::TicketMerge) {
            return Err(AppError::Forbidden);
        }
        let into = into.trim().to_ascii_uppercase();
        let target = match self.visible_ticket(&context, &into).await {
            Ok((target, _)) => target,
            Err(AppError::NotFound) => {
                return Err(AppError::invalid(
                    "into",
                    "No ticket you can see has that reference.",
                ));
            }
            Err(other) => return Err(other),
        };
        if target.id == source.id {
            return Err(AppError::invalid(
                "into",
                "A ticket cannot be merged into itself.",
            ));
        }
        self.store()
            .merge_tickets(&source, &target, context.actor(), self.now())
            .await?;
        tracing::info!(agent_id = context.agent_id, "tickets merged");
        Ok(target.reference)
    }

    /// Takes a manual lock on the ticket for `TICKET_LOCK_DURATION`, or
    /// releases it. Another agent's unexpired lock can be broken only by
    /// an admin.
    pub async fn lock_ticket(&self, actor: &Actor, reference: &str, lock: bool) -> AppResult<()> {
        let context = self.agent_context(actor).await?;
        let (ticket, _) = self.visible_ticket(&context, reference).await?;
        if !context.effective.has(Permission::TicketReply)
            && !context.effective.has(Permission::TicketNote)
        {
            return Err(AppError::Forbidden);
        }
        let now = self.now();
        let held_by_other = ticket
            .locked_by_id
            .is_some_and(|holder| holder != context.agent_id)
            && ticket
                .locked_until
                .is_some_and(|until| until > now.millis());
        if held_by_other && !actor.may_administer() {
            return Err(AppError::Conflict(format!(
                "{} holds the lock on this ticket.",
                ticket.locked_by_name.as_deref().unwrap_or("Another agent")
            )));
        }
        let new_lock = lock.then(|| (context.agent_id, now.plus(TICKET_LOCK_DURATION)));
        self.store().set_ticket_lock(ticket.id, new_lock).await?;
        Ok(())
    }

    pub async fn follow_ticket(
        &self,
        actor: &Actor,
        reference: &str,
        following: bool,
    ) -> AppResult<()> {
        let context = self.agent_context(actor).await?;
        let (ticket, _) = self.visible_ticket(&context, reference).await?;
        self.store()
            .set_following(ticket.id, context.agent_id, following)
            .await?;
        Ok(())
    }

    /// Whoever has this address, as any of theirs.
    pub(crate) async fn person_with_address(
        &self,
        email: &Email,
    ) -> AppResult<Option<PersonRecord>> {
        Ok(self
            .store()
            .person_by_any_email(&email.normalized())
            .await?)
    }

    /// Copies a user (found by any address, or made from it) on the
    /// ticket's replies.
    pub async fn add_ticket_cc(
        &self,
        caller: &Caller<'_>,
        reference: &str,
        address: &str,
    ) -> AppResult<()> {
        let (context, ticket) = self.ticket_to_edit(caller, reference).await?;
        let email =
            Email::parse(address).map_err(|error| AppError::invalid("cc", error.to_string()))?;
        let person = match self.person_with_address(&email).await? {
            Some(person) if person.is_agent => {
                return Err(AppError::invalid(
                    "cc",
                    "That address belongs to an agent; agents follow tickets instead.",
                ));
            }
            Some(person) if person.id == ticket.requester_id => {
                return Err(AppError::invalid(
                    "cc",
                    "The requester gets every reply already.",
                ));
            }
            Some(person) => person,
            None => {
                let name = email.as_str().split('@').next().unwrap_or("").to_owned();
                self.store()
                    .create_person(
                        &NewPerson {
                            email: email.as_str(),
                            email_normalized: &email.normalized(),
                            name: &name,
                            password_hash: None,
                            is_agent: false,
                            is_admin: false,
                            organization_id: None,
                        },
                        self.now(),
                    )
                    .await?
            }
        };
        self.write_ticket_cc(
            &context,
            &ticket,
            (person.id, &person.name, &person.email),
            true,
        )
        .await
    }

    /// A ticket the agent may see and change the properties of.
    pub(crate) async fn ticket_to_edit(
        &self,
        caller: &Caller<'_>,
        reference: &str,
    ) -> AppResult<(AgentContext, TicketRecord)> {
        let context = self.agent_context(caller.actor).await?;
        let (ticket, _) = self.visible_ticket(&context, reference).await?;
        if !context.effective.has(Permission::TicketEdit) {
            return Err(AppError::Forbidden);
        }
        Ok((context, ticket))
    }

    async fn write_ticket_cc(
        &self,
        context: &AgentContext,
        ticket: &TicketRecord,
        (person_id, name, email): (i64, &str, &str),
        copied: bool,
    ) -> AppResult<()> {
        let label = format!("{name} <{email}>");
        self.store()
            .set_ticket_cc(
                ticket.id,
                (person_id, &label),
                copied,
                context.actor(),
                self.now(),
            )
            .await?;
        Ok(())
    }

    /// Stops copying a person on the ticket's replies.
    pub async fn remove_ticket_cc(
        &self,
        caller: &Caller<'_>,
        reference: &str,
        person_id: i64,
    ) -> AppResult<()> {
        let (context, ticket) = self.ticket_to_edit(caller, reference).await?;
        let cc = self
            .store()
            .ticket_ccs(ticket.id)
            .await?
            .into_iter()
            .find(|cc| cc.id == person_id)
            .ok_or(AppError::NotFound)?;
        self.write_ticket_cc(&context, &ticket, (cc.id, &cc.name, &cc.email), false)
            .await
    }

    /// Opens a ticket for a user (found by email, or made if new); the
    /// first message is what the user asked.
    pub async fn create_ticket_for_user(
        &self,
        caller: &Caller<'_>,
        input: &NewTicketInput,
    ) -> AppResult<TicketState> {
        self.open_ticket_for_user(caller, input, None).await
    }

    /// The same through an API key: the request's audit entry is written
    /// with the ticket, in its transaction.
    pub async fn create_ticket_through_api(
        &self,
        caller: &ApiCaller,
        ip: &str,
        request: &str,
        input: &NewTicketInput,
    ) -> AppResult<TicketState> {
        let audit = caller.request_audit(ip, request, 201);
        self.open_ticket_for_user(&Caller::new(&caller.actor, ip), input, Some(&audit))
            .await
    }

    async fn open_ticket_for_user(
        &self,
        caller: &Caller<'_>,
        input: &NewTicketInput,
        audit: Option<&Audit>,
    ) -> AppResult<TicketState> {
        let context = self.agent_context(caller.actor).await?;
        let mut errors = FieldErrors::new();
        let by_id = match input.requester_id {
            Some(id) => {
                let person = self
                    .store()
                    .get_person(id)
                    .await?
                    .filter(|person| !person.is_agent);
                if person.is_none() {
                    errors.add("requester_email", "No user has that id.");
                }
                person
            }
            None => None,
        };
        let email = match &by_id {
            Some(person) => Email::parse(&person.email).ok(),
            None if input.requester_id.is_some() => None,
            None => match Email::parse(&input.requester_email) {
                Ok(email) => Some(email),
                Err(error) => {
                    errors.add("requester_email", error.to_string());
                    None
                }
            },
        };
        let subject = checked_subject(&input.subject, &mut errors);
        let body = checked_body(&input.message, false, &mut errors);
        let department_id = parse_optional_id(&input.department_id, "department", &mut errors);
        // Admins reach every department id; that the department exists is
        // checked when the ticket is written.
        match department_id {
            None => errors.add("department", "Choose a department."),
            Some(id) if context.effective.department_access(id).is_none() => {
                errors.add("department", "You have no access to that department.");
            }
            Some(_) => {}
        }
        let urgency = parse_urgency(&input.urgency, &mut errors);
        let labels = parse_labels(&input.labels, &mut errors);
        let fields = self.store().list_ticket_fields().await?;
        let field_values: Vec<(i64, String)> =
            checked_field_values(&fields, |id| values_for(&input.fields, id), &mut errors)
                .into_iter()
                .filter_map(|(id, value)| Some((id, value?)))
                .collect();
        let existing = match (&by_id, &email) {
            (Some(person), _) => Some(person.clone()),
            (None, Some(email)) => self.person_with_address(email).await?,
            (None, None) => None,
        };
        if existing.as_ref().is_some_and(|person| person.is_agent) {
            errors.add(
                "requester_email",
                "That address belongs to an agent, not a user.",
            );
        }
        let name = input.requester_name.trim();
        if existing.is_none() && email.is_some() && (name.is_empty() || name.chars().count() > 200)
        {
            errors.add("requester_name", "Give the new user's name.");
        }
        errors.into_result()?;
        let (Some(email), Some(department_id)) = (email, department_id) else {
            return Err(AppError::invalid(
                "requester_email",
                "Give the user's email.",
            ));
        };
        let requester = match existing {
            Some(person) => person,
            None => {
                self.store()
                    .create_person(
                        &NewPerson {
                            email: email.as_str(),
                            email_normalized: &email.normalized(),
                            name,
                            password_hash: None,
                            is_agent: false,
                            is_admin: false,
                            organization_id: None,
                        },
                        self.now(),
                    )
                    .await?
            }
        };
        let html = markdown::render(&body);
        let message = NewMessage {
            author_id: Some(requester.id),
            is_note: false,
            body_markdown: &body,
            body_html: &html,
            channel: if input.channel.is_empty() {
                "agent"
            } else {
                input.channel
            },
            ip: caller.ip,
            attachments: &[],
        };
        let audit_entry = audit.map(Audit::entry);
        // A clash of random references is rare; draw again a few times.
        for _ in 0..5 {
            let reference = new_reference()?;
            let created = self
                .store()
                .create_ticket(
                    &NewTicket {
                        reference: &reference,
                        subject: &subject,
                        status: TicketStatus::after_user_message().key(),
                        urgency,
                        department_id,
                        requester_id: requester.id,
                        organization_id: requester.organization_id,
                        agent_id: None,
                        team_id: None,
                        labels: &labels,
                        field_values: &field_values,
                        message: &message,
                        mails: &[],
                        audit: audit_entry.as_ref(),
                    },
                    self.now(),
                )
                .await;
            match created {
                Ok(None) => {
                    return Err(AppError::invalid(
                        "department",
                        "That department does not exist.",
                    ));
                }
                Ok(Some(id)) => {
                    tracing::info!(agent_id = context.agent_id, "ticket opened for a user");
                    // Read back for the names the row points to, once the
                    // write is done.
                    let ticket = self
                        .store()
                        .get_ticket(id)
                        .await?
                        .ok_or(AppError::NotFound)?;
                    let values: Vec<FieldValueRecord> = field_values
                        .into_iter()
                        .map(|(field_id, value)| FieldValueRecord { field_id, value })
                        .collect();
                    return Ok(TicketState {
                        ticket,
                        labels,
                        fields: field_views(fields, &values),
                    });
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(AppError::Internal("no free ticket reference".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_random_and_recognised() {
        let first = new_reference().unwrap();
        let second = new_reference().unwrap();
        assert_ne!(first, second);
        assert!(looks_like_reference(&first), "{first}");
        for junk in [
            "",
            "ABCD1234",
            "abcd-efgh",
            "ABCD-EFG0",
            "ABCD-EFGHI",
            "../../etc",
        ] {
            assert!(!looks_like_reference(junk), "{junk}");
        }
    }

    #[test]
    fn a_count_is_kept_until_tickets_change_and_counted_once_at_a_time() {
        let cache = TicketCountCache::default();
        let key =
            TicketCountKey::new(&Visibility::Everything, &TicketFilter::default(), None).unwrap();
        let mark = TicketChangeMark::for_tests(0, 10, 100);
        assert_eq!(cache.get(&key, mark), None);
        cache.put(key.clone(), mark, 7);
        assert_eq!(cache.get(&key, mark), Some(7));
        // A ticket changed: the first request counts afresh, the ones
        // meanwhile show the count before, and the new count is used next.
        let moved = TicketChangeMark::for_tests(1, 10, 100);
        assert_eq!(cache.get(&key, moved), None);
        assert_eq!(cache.get(&key, moved), Some(7));
        cache.put(key.clone(), moved, 8);
        assert_eq!(cache.get(&key, moved), Some(8));
        // The followed view is never kept.
        let followed = TicketFilter {
            followed_by: Some(3),
            ..TicketFilter::default()
        };
        assert!(TicketCountKey::new(&Visibility::Everything, &followed, None).is_none());
    }

    #[test]
    fn labels_are_trimmed_and_unique_whatever_the_case() {
        let mut errors = FieldErrors::new();
        assert_eq!(
            parse_labels(" billing, Refund ,billing ,BILLING,", &mut errors),
            ["billing", "Refund"]
        );
        assert!(errors.is_empty());
        parse_labels(&"x".repeat(51), &mut errors);
        assert!(!errors.is_empty());
    }
}
