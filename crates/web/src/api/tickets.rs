//! Tickets through the API: the list with the agent interface's filters,
//! one ticket, creating, changing properties, deleting, and the thread.
//! A ticket is named by its id or its reference; one the key's agent may
//! not see is 404, exactly like one that does not exist.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Response;
use ferrodesk_app::{
    AttachmentRecord, Channel, FieldErrors, FieldValues, ListView, MessageRecord, NewTicket,
    Parsed, PostedMessage, ReplyInput, Requester, StatusFilter, TicketChange, TicketKey,
    TicketListQuery, TicketOrder, TicketRecord, TicketSortKey, TicketState, parsed,
};
use ferrodesk_core::{
    Email, Label, Labels, MessageText, PersonName, Subject, TicketStatus, Urgency,
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    ApiJson, ApiQuery, ApiRequest, ApiResult, ListMeta, ObjectMeta, Paging, created, no_content,
    time,
};
use crate::AppState;

/// An id with the name people know it by.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Named {
    pub id: i64,
    pub name: String,
}

/// A person as a ticket names them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PersonRef {
    pub id: i64,
    pub name: String,
    pub email: String,
}

/// A custom field's value on a ticket.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct FieldValue {
    /// The field's id (see `/api/v2/ticket_fields`).
    pub field: i64,
    pub name: String,
    /// One value, or several for a multiple-choice field; empty when unset.
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Ticket {
    pub id: i64,
    pub reference: String,
    pub subject: String,
    /// `awaiting_agent`, `awaiting_user`, `pending`, `resolved`, `archived`,
    /// `spam` or `deleted`.
    pub status: String,
    /// 1 (lowest) to 10.
    pub urgency: i64,
    pub department: Named,
    /// The requester.
    pub person: PersonRef,
    pub organization_id: Option<i64>,
    pub agent: Option<Named>,
    pub team: Option<Named>,
    pub priority: Option<Named>,
    pub labels: Vec<String>,
    /// Custom field values; only on a single ticket, null in lists.
    pub fields: Option<Vec<FieldValue>>,
    pub created_at: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
}

fn named(id: Option<i64>, name: Option<String>) -> Option<Named> {
    id.map(|id| Named {
        id,
        name: name.unwrap_or_default(),
    })
}

impl Ticket {
    pub(crate) fn from_record(ticket: TicketRecord, labels: &Labels) -> Ticket {
        Ticket {
            id: ticket.id,
            reference: ticket.reference.to_string(),
            subject: ticket.subject,
            status: ticket.status.key().to_owned(),
            urgency: ticket.urgency.get(),
            department: Named {
                id: ticket.department_id,
                name: ticket.department_name,
            },
            person: PersonRef {
                id: ticket.requester_id,
                name: ticket.requester_name,
                email: ticket.requester_email,
            },
            organization_id: ticket.organization_id,
            agent: named(ticket.agent_id, ticket.agent_name),
            team: named(ticket.team_id, ticket.team_name),
            priority: named(ticket.priority_id, ticket.priority_name),
            // `Labels` keeps one order whichever way they were read.
            labels: labels.to_strings(),
            fields: None,
            created_at: time(ticket.created_at),
            updated_at: time(ticket.updated_at),
            resolved_at: ticket.resolved_at.map(time),
        }
    }

    /// A ticket as a use case left it.
    fn from_state(state: TicketState) -> Ticket {
        let TicketState {
            ticket,
            labels,
            fields,
        } = state;
        let fields = fields
            .into_iter()
            .map(|field| FieldValue {
                field: field.field.id,
                name: field.field.name,
                values: field
                    .value
                    .as_deref()
                    .map(|value| value.lines().map(str::to_owned).collect())
                    .unwrap_or_default(),
            })
            .collect();
        let mut ticket = Ticket::from_record(ticket, &labels);
        ticket.fields = Some(fields);
        ticket
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct TicketEnvelope {
    pub data: Ticket,
    pub meta: ObjectMeta,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct TicketListEnvelope {
    pub data: Vec<Ticket>,
    pub meta: ListMeta,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Attachment {
    pub id: i64,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Message {
    pub id: i64,
    pub author: Option<Named>,
    pub author_is_agent: bool,
    /// Notes are seen by agents only.
    pub is_note: bool,
    /// The message as sanitized HTML.
    pub body_html: String,
    /// `web`, `agent`, `api` or `email`.
    pub channel: String,
    pub attachments: Vec<Attachment>,
    pub created_at: String,
}

impl Message {
    /// A message as stored by a reply.
    fn posted(posted: PostedMessage) -> Message {
        Message::from_record(posted.message, &posted.attachments)
    }

    fn from_record(message: MessageRecord, attachments: &[AttachmentRecord]) -> Message {
        Message {
            id: message.id,
            author: named(message.author_id, message.author_name),
            author_is_agent: message.author_is_agent.unwrap_or(false),
            is_note: message.is_note,
            body_html: message.body_html,
            channel: message.channel,
            attachments: attachments
                .iter()
                .map(|attachment| Attachment {
                    id: attachment.id,
                    file_name: attachment.file_name.clone(),
                    content_type: attachment.content_type.clone(),
                    size: attachment.size,
                })
                .collect(),
            created_at: time(message.created_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct MessageListEnvelope {
    pub data: Vec<Message>,
    pub meta: ListMeta,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct MessageEnvelope {
    pub data: Message,
    pub meta: ObjectMeta,
}

/// The list's filters, as the agent interface has them, and paging.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TicketListParams {
    /// `mine`, `unassigned`, `teams`, `followed` or `all` (the default).
    pub view: Option<String>,
    /// A status, `any` for every status, or nothing for the unresolved ones.
    #[param(
        pattern = "^(|any|awaiting_agent|awaiting_user|pending|resolved|archived|spam|deleted)$"
    )]
    pub status: Option<String>,
    pub department: Option<i64>,
    /// A label (at most 50 characters).
    #[param(
        max_length = 50,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff]*$"
    )]
    pub label: Option<String>,
    /// Tickets at least this urgent.
    #[param(minimum = 1, maximum = 10)]
    pub urgency: Option<i64>,
    /// Tickets assigned to this agent (with `view=all`).
    pub agent: Option<i64>,
    /// A search in the query language of `GET /api/v2/search` (words,
    /// phrases, filters such as `label:vip`) narrowing the list.
    #[param(max_length = 1000)]
    pub q: Option<String>,
    /// The column to sort by: `updated` (the default), `created`,
    /// `reference`, `subject`, `requester`, `organization`, `status`,
    /// `urgency`, `priority`, `assignee`, `team`, `department` or `sla_due`
    /// (the earliest SLA target due, none last). A list of more than
    /// 10,000 tickets sorted by a column other than `updated`, `created`,
    /// `urgency`, `subject`, `reference` or `sla_due` comes by last
    /// activity.
    #[param(
        pattern = "^(|updated|created|reference|subject|requester|organization|status|urgency|priority|assignee|team|department|sla_due)$"
    )]
    pub sort: Option<String>,
    /// `asc` or `desc`; by default the newest and most urgent first, and
    /// names from A.
    #[param(pattern = "^(|asc|desc)$")]
    pub order: Option<String>,
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// Rows per page, 1 to 200 (25 by default).
    #[param(minimum = 1, maximum = 200)]
    pub count: Option<i64>,
    /// `meta.next_cursor` of the page before: deep pages as fast as the first.
    pub cursor: Option<String>,
}

/// Lists the tickets the key's agent may see.
#[utoipa::path(get, path = "/api/v2/tickets", tag = "tickets",
    params(TicketListParams),
    responses(
        (status = 200, body = TicketListEnvelope),
        (status = 400, body = super::ApiErrorBody),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    request: ApiRequest,
    ApiQuery(params): ApiQuery<TicketListParams>,
) -> ApiResult<axum::Json<TicketListEnvelope>> {
    request.scope("tickets.list")?;
    let paging = Paging::new(params.page, params.count, params.cursor.as_deref())?;
    let query = params.query()?;
    let mut list = state
        .app
        .ticket_window(&request.caller.actor, &query, paging.count, paging.offset())
        .await?;
    let data = list
        .tickets
        .into_iter()
        .map(|ticket| {
            let labels = list.labels.remove(&ticket.id).unwrap_or_default();
            Ticket::from_record(ticket, &labels)
        })
        .collect();
    Ok(axum::Json(TicketListEnvelope {
        data,
        meta: paging.meta(list.total, list.next),
    }))
}

impl TicketListParams {
    /// The filters as the use case takes them.
    fn query(self) -> ApiResult<TicketListQuery> {
        let mut errors = FieldErrors::new();
        let status = errors.check(
            "status",
            StatusFilter::parse(self.status.as_deref().unwrap_or("")).map_err(first_message),
        );
        let urgency = match self.urgency {
            Some(urgency) => errors.check("urgency", Urgency::new(urgency)),
            None => None,
        };
        let label = match self.label.as_deref() {
            Some(text) => errors.check("label", Label::parse(text)).flatten(),
            None => None,
        };
        let key = match self.sort.as_deref().map(str::trim).unwrap_or("") {
            "" => Some(TicketSortKey::Updated),
            key => errors.check(
                "sort",
                TicketSortKey::from_key(key).ok_or("Unknown column to sort by."),
            ),
        };
        let descending = match self.order.as_deref().map(str::trim).unwrap_or("") {
            "" => key.map(TicketSortKey::descends_by_default),
            "desc" => Some(true),
            "asc" => Some(false),
            _ => errors.check("order", Err::<bool, _>("Give asc or desc.")),
        };
        let search = self.q.unwrap_or_default();
        if search.chars().count() > 1000 {
            errors.add("q", "A search is at most 1,000 characters.");
        }
        if !errors.is_empty() {
            return Err(ferrodesk_app::AppError::Invalid(errors).into());
        }
        Ok(TicketListQuery {
            view: ListView::from_key(self.view.as_deref().unwrap_or("all")),
            status: status.unwrap_or_default(),
            department_id: self.department,
            label,
            urgency_at_least: urgency,
            agent_id: self.agent,
            search,
            order: TicketOrder {
                key: key.unwrap_or_default(),
                descending: descending.unwrap_or(true),
            },
            after: self.cursor.filter(|cursor| !cursor.is_empty()),
            before: None,
        })
    }
}

/// The message of an app error, for a field that failed to parse.
fn first_message(error: ferrodesk_app::AppError) -> String {
    match error {
        ferrodesk_app::AppError::Invalid(errors) => errors
            .iter()
            .next()
            .map(|(_, message)| message.to_owned())
            .unwrap_or_default(),
        other => other.to_string(),
    }
}

/// One ticket, by id or reference.
#[utoipa::path(get, path = "/api/v2/tickets/{ticket}", tag = "tickets",
    params(("ticket" = String, Path, description = "The ticket's id or reference", example = "1")),
    responses(
        (status = 200, body = TicketEnvelope),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 404, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn show(
    State(state): State<AppState>,
    request: ApiRequest,
    Path(key): Path<String>,
) -> ApiResult<axum::Json<TicketEnvelope>> {
    request.scope("tickets.view")?;
    let ticket = state
        .app
        .ticket_state(&request.caller.actor, &TicketKey::parse(&key)?)
        .await?;
    Ok(axum::Json(TicketEnvelope {
        data: Ticket::from_state(ticket),
        meta: ObjectMeta::default(),
    }))
}

/// The requester: an existing user's id, or an address that finds the user
/// or makes a new one with the name.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum PersonInput {
    Id(i64),
    Address {
        #[schema(max_length = 254, format = "email")]
        email: String,
        /// Needed when no user has the address yet (at most 200
        /// characters).
        #[serde(default)]
        #[schema(
            max_length = 200,
            pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff]*[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff][^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff]*$"
        )]
        name: String,
    },
}

/// A custom field's value: text, a number, true/false, or several choices.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum FieldInput {
    Flag(bool),
    Number(f64),
    Text(String),
    Several(Vec<String>),
}

/// Field values as the use cases take them: (field id, value) pairs, a
/// field with several choices once per choice.
fn field_pairs(fields: Option<BTreeMap<String, FieldInput>>) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (field, value) in fields.unwrap_or_default() {
        match value {
            FieldInput::Flag(flag) => pairs.push((field, if flag { "1" } else { "" }.to_owned())),
            FieldInput::Number(number) => pairs.push((field, number.to_string())),
            FieldInput::Text(text) => pairs.push((field, text)),
            FieldInput::Several(values) => {
                pairs.extend(values.into_iter().map(|value| (field.clone(), value)));
            }
        }
    }
    pairs
}

/// Labels sent as a list.
fn parsed_labels(labels: &[String]) -> Parsed<Labels> {
    parsed("labels", Labels::parse(labels.iter().map(String::as_str)))
}

impl PersonInput {
    fn parse(self) -> Parsed<Requester> {
        match self {
            PersonInput::Id(id) => Ok(Requester::Existing(id)),
            PersonInput::Address { email, name } => {
                let email = parsed("requester_email", Email::parse(&email))?;
                let name = match name.trim() {
                    "" => None,
                    name => Some(parsed("requester_name", PersonName::parse(name))?),
                };
                Ok(Requester::Address { email, name })
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct NewTicketBody {
    /// One line.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub subject: String,
    /// The first message, in markdown (at most 100,000 bytes).
    #[schema(min_length = 1, pattern = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$")]
    pub message: String,
    pub person: PersonInput,
    /// A department id (see `/api/v2/departments`); without it the ticket
    /// goes to the default department (Admin → Ticket settings).
    pub department: Option<i64>,
    #[schema(minimum = 1, maximum = 10)]
    pub urgency: Option<i64>,
    /// At most 20, each of at most 50 characters.
    pub labels: Option<Vec<String>>,
    /// Custom field values by field id.
    pub fields: Option<BTreeMap<String, FieldInput>>,
    /// Whether the person is mailed a receipt with a link to the ticket
    /// (the "Ticket received" template); `true` when left out.
    pub send_receipt: Option<bool>,
}

/// Opens a ticket on a user's behalf.
#[utoipa::path(post, path = "/api/v2/tickets", tag = "tickets",
    request_body = NewTicketBody,
    responses(
        (status = 201, body = TicketEnvelope, headers(("Location" = String))),
        (status = 400, body = super::ApiErrorBody),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 413, body = super::ApiErrorBody),
        (status = 415, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn create(
    State(state): State<AppState>,
    request: ApiRequest,
    ApiJson(body): ApiJson<NewTicketBody>,
) -> ApiResult<Response> {
    request.scope("tickets.create")?;
    let input = NewTicket {
        requester: body.person.parse(),
        subject: parsed("subject", Subject::parse(&body.subject)),
        message: parsed("body", MessageText::parse(&body.message)),
        department_id: Ok(body.department),
        urgency: parsed("urgency", Urgency::new(body.urgency.unwrap_or(1))),
        labels: parsed_labels(&body.labels.unwrap_or_default()),
        fields: FieldValues::Named(field_pairs(body.fields)),
        channel: Channel::Api,
        send_receipt: body.send_receipt.unwrap_or(true),
    };
    let opened = state
        .app
        .create_ticket_through_api(&request.caller, &request.ip, &request.target, &input)
        .await?;
    let ticket = Ticket::from_state(opened);
    let mut response = created(
        format!("/api/v2/tickets/{}", ticket.id),
        TicketEnvelope {
            data: ticket,
            meta: ObjectMeta::default(),
        },
    );
    response.extensions_mut().insert(super::RequestAudited);
    Ok(response)
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`).
fn explicit_null<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Properties to change; anything left out stays as it is.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub(crate) struct TicketChangeBody {
    #[schema(pattern = "^(awaiting_agent|awaiting_user|pending|resolved|archived|spam|deleted)$")]
    pub status: Option<String>,
    #[schema(minimum = 1, maximum = 10)]
    pub urgency: Option<i64>,
    pub department: Option<i64>,
    /// An agent's id, or null to unassign.
    #[serde(default, deserialize_with = "explicit_null")]
    #[schema(value_type = Option<i64>)]
    pub agent: Option<Option<i64>>,
    /// A team's id, or null for none.
    #[serde(default, deserialize_with = "explicit_null")]
    #[schema(value_type = Option<i64>)]
    pub team: Option<Option<i64>>,
    /// An entry of the priority list, or null for none.
    #[serde(default, deserialize_with = "explicit_null")]
    #[schema(value_type = Option<i64>)]
    pub priority: Option<Option<i64>>,
    /// The whole new set of labels: at most 20, each of at most 50
    /// characters.
    pub labels: Option<Vec<String>>,
    /// Field values to set, by field id; fields left out keep theirs.
    pub fields: Option<BTreeMap<String, FieldInput>>,
}

impl TicketChangeBody {
    /// The change as the use case takes it: only what was sent.
    fn parse(self) -> TicketChange {
        let status = self.status.map(|key| {
            TicketStatus::from_key(&key).ok_or_else(|| {
                let mut errors = FieldErrors::new();
                errors.add("status", "Unknown status.");
                errors
            })
        });
        TicketChange {
            status,
            urgency: self
                .urgency
                .map(|urgency| parsed("urgency", Urgency::new(urgency))),
            department_id: self.department.map(Ok),
            agent_id: self.agent.map(Ok),
            team_id: self.team.map(Ok),
            priority_id: self.priority.map(Ok),
            labels: self.labels.as_deref().map(parsed_labels),
            fields: FieldValues::Named(field_pairs(self.fields)),
        }
    }
}

/// Changes a ticket's properties.
#[utoipa::path(patch, path = "/api/v2/tickets/{ticket}", tag = "tickets",
    params(("ticket" = String, Path, description = "The ticket's id or reference", example = "1")),
    request_body = TicketChangeBody,
    responses(
        (status = 200, body = TicketEnvelope),
        (status = 400, body = super::ApiErrorBody),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 404, body = super::ApiErrorBody),
        (status = 409, body = super::ApiErrorBody),
        (status = 415, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn update(
    State(state): State<AppState>,
    request: ApiRequest,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<TicketChangeBody>,
) -> ApiResult<axum::Json<TicketEnvelope>> {
    request.scope("tickets.update")?;
    let changed = state
        .app
        .change_ticket(
            &request.actor_caller(),
            &TicketKey::parse(&key)?,
            &body.parse(),
        )
        .await?;
    Ok(axum::Json(TicketEnvelope {
        data: Ticket::from_state(changed),
        meta: ObjectMeta::default(),
    }))
}

/// Moves a ticket to Deleted (it can be restored from the agent interface).
#[utoipa::path(delete, path = "/api/v2/tickets/{ticket}", tag = "tickets",
    params(("ticket" = String, Path, description = "The ticket's id or reference", example = "1")),
    responses(
        (status = 204),
        (status = 400, body = super::ApiErrorBody),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 404, body = super::ApiErrorBody),
        (status = 409, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    request: ApiRequest,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    request.scope("tickets.delete")?;
    state
        .app
        .delete_ticket(&request.actor_caller(), &TicketKey::parse(&key)?)
        .await?;
    Ok(no_content())
}

/// A ticket's thread, oldest first, notes included.
#[utoipa::path(get, path = "/api/v2/tickets/{ticket}/messages", tag = "tickets",
    params(("ticket" = String, Path, description = "The ticket's id or reference", example = "1")),
    responses(
        (status = 200, body = MessageListEnvelope),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 404, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn messages(
    State(state): State<AppState>,
    request: ApiRequest,
    Path(key): Path<String>,
) -> ApiResult<axum::Json<MessageListEnvelope>> {
    request.scope("tickets.view")?;
    let thread = state
        .app
        .ticket_thread(&request.caller.actor, &TicketKey::parse(&key)?)
        .await?;
    let total = thread.messages.len() as i64;
    let data: Vec<Message> = thread
        .messages
        .iter()
        .map(|message| Message::from_record(message.clone(), thread.attachments_of(&message.id)))
        .collect();
    Ok(axum::Json(MessageListEnvelope {
        data,
        meta: ListMeta {
            page: Some(1),
            count: total,
            total,
            total_pages: i64::from(total > 0),
            next_cursor: None,
        },
    }))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct NewMessageBody {
    /// In markdown.
    #[schema(pattern = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$")]
    pub message: String,
    /// A note is for agents only; by default the message is a reply that
    /// goes to the requester and CCs.
    #[serde(default)]
    pub is_note: bool,
    /// The status to leave the ticket in; a reply sets awaiting_user by default.
    #[schema(pattern = "^(awaiting_agent|awaiting_user|pending|resolved|archived|spam|deleted)$")]
    pub status: Option<String>,
    /// Tokens of files uploaded to `/api/v2/attachments`.
    pub attachments: Option<Vec<String>>,
}

/// Adds a reply or a note.
#[utoipa::path(post, path = "/api/v2/tickets/{ticket}/messages", tag = "tickets",
    params(("ticket" = String, Path, description = "The ticket's id or reference", example = "1")),
    request_body = NewMessageBody,
    responses(
        (status = 201, body = MessageEnvelope, headers(("Location" = String))),
        (status = 400, body = super::ApiErrorBody),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 404, body = super::ApiErrorBody),
        (status = 409, body = super::ApiErrorBody),
        (status = 415, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn add_message(
    State(state): State<AppState>,
    request: ApiRequest,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<NewMessageBody>,
) -> ApiResult<Response> {
    request.scope("tickets.reply")?;
    let mut files = Vec::new();
    for token in body.attachments.unwrap_or_default() {
        files.push(
            state
                .app
                .api_upload_from_token(&request.caller.actor, &token)?,
        );
    }
    let status = body.status.map(|key| {
        TicketStatus::from_key(&key).ok_or_else(|| {
            let mut errors = FieldErrors::new();
            errors.add("status", "Unknown status.");
            errors
        })
    });
    let input = ReplyInput {
        body: parsed("body", MessageText::parse(&body.message)),
        is_note: body.is_note,
        status,
        seen_message_id: None,
        attachments: files,
        channel: Channel::Api,
        inbound_mail: None,
    };
    let posted = state
        .app
        .reply_to_ticket(&request.actor_caller(), &TicketKey::parse(&key)?, &input)
        .await?;
    let location = format!("/api/v2/tickets/{}/messages", posted.ticket_id);
    Ok(created(
        location,
        MessageEnvelope {
            data: Message::posted(posted),
            meta: ObjectMeta::default(),
        },
    ))
}

/// The same as PATCH: properties left out stay as they are.
#[utoipa::path(put, path = "/api/v2/tickets/{ticket}", tag = "tickets",
    params(("ticket" = String, Path, description = "The ticket's id or reference", example = "1")),
    request_body = TicketChangeBody,
    responses(
        (status = 200, body = TicketEnvelope),
        (status = 400, body = super::ApiErrorBody),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 404, body = super::ApiErrorBody),
        (status = 409, body = super::ApiErrorBody),
        (status = 415, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn replace(
    State(state): State<AppState>,
    request: ApiRequest,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<TicketChangeBody>,
) -> ApiResult<axum::Json<TicketEnvelope>> {
    update(State(state), request, Path(key), ApiJson(body)).await
}
