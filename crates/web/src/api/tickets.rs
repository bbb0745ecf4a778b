//! Tickets through the API: the list with the agent interface's filters,
//! one ticket, creating, changing properties, deleting, and the thread.
//! A ticket is named by its id or its reference; one the key's agent may
//! not see is 404, exactly like one that does not exist.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Response;
use ferrodesk_app::{
    AttachmentRecord, MessageRecord, NewTicketInput, PropertiesInput, ReplyInput, TicketListQuery,
    TicketRecord, TicketState, TicketView,
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    ApiError, ApiJson, ApiQuery, ApiRequest, ApiResult, ListMeta, ObjectMeta, Paging, created,
    no_content, time,
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
    fn from_record(ticket: TicketRecord, mut labels: Vec<String>) -> Ticket {
        // One order whichever way the labels were read: as written, or from
        // the database, whose collation differs between the two backends.
        labels.sort_by_key(|label| label.to_lowercase());
        Ticket {
            id: ticket.id,
            reference: ticket.reference,
            subject: ticket.subject,
            status: ticket.status,
            urgency: ticket.urgency,
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
            labels,
            fields: None,
            created_at: time(ticket.created_at),
            updated_at: time(ticket.updated_at),
            resolved_at: ticket.resolved_at.map(time),
        }
    }

    fn with_fields(
        ticket: TicketRecord,
        labels: Vec<String>,
        fields: &[ferrodesk_app::FieldView],
    ) -> Ticket {
        let fields = fields
            .iter()
            .map(|field| FieldValue {
                field: field.field.id,
                name: field.field.name.clone(),
                values: field
                    .value
                    .as_deref()
                    .map(|value| value.lines().map(str::to_owned).collect())
                    .unwrap_or_default(),
            })
            .collect();
        let mut ticket = Ticket::from_record(ticket, labels);
        ticket.fields = Some(fields);
        ticket
    }

    /// A ticket as a use case left it.
    fn from_state(state: TicketState) -> Ticket {
        Ticket::with_fields(state.ticket, state.labels, &state.fields)
    }

    /// One ticket as the API shows it, without loading its thread.
    async fn load(state: &AppState, request: &ApiRequest, reference: &str) -> ApiResult<Ticket> {
        let (ticket, labels, fields) = state
            .app
            .ticket_properties(&request.caller.actor, reference)
            .await?;
        Ok(Ticket::with_fields(ticket, labels, &fields))
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
    pub status: Option<String>,
    pub department: Option<i64>,
    pub label: Option<String>,
    /// Tickets at least this urgent.
    #[param(minimum = 1, maximum = 10)]
    pub urgency: Option<i64>,
    /// Tickets assigned to this agent (with `view=all`).
    pub agent: Option<i64>,
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
    if params
        .urgency
        .is_some_and(|urgency| !(1..=10).contains(&urgency))
    {
        return Err(ApiError::invalid("urgency", "Urgency is from 1 to 10."));
    }
    let query = TicketListQuery {
        view: params.view.unwrap_or_else(|| "all".to_owned()),
        status: params.status,
        department_id: params.department,
        label: params.label,
        urgency_at_least: params.urgency,
        agent_id: params.agent,
        after: params.cursor.filter(|cursor| !cursor.is_empty()),
    };
    let mut list = state
        .app
        .ticket_window(&request.caller.actor, &query, paging.count, paging.offset())
        .await?;
    let data = list
        .tickets
        .into_iter()
        .map(|ticket| {
            let labels = list.labels.remove(&ticket.id).unwrap_or_default();
            Ticket::from_record(ticket, labels)
        })
        .collect();
    Ok(axum::Json(TicketListEnvelope {
        data,
        meta: paging.meta(list.total, list.next),
    }))
}

async fn view_of(state: &AppState, request: &ApiRequest, key: &str) -> ApiResult<TicketView> {
    let reference = state.app.ticket_reference(key).await?;
    Ok(state
        .app
        .ticket_view(&request.caller.actor, &reference)
        .await?)
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
    let reference = state.app.ticket_reference(&key).await?;
    Ok(axum::Json(TicketEnvelope {
        data: Ticket::load(&state, &request, &reference).await?,
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
        #[schema(max_length = 254)]
        email: String,
        /// Needed when no user has the address yet (at most 200
        /// characters).
        #[serde(default)]
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

/// Field values as the use cases take them: (field id, value) pairs.
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

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct NewTicketBody {
    #[schema(min_length = 1, max_length = 200)]
    pub subject: String,
    /// The first message, in markdown (at most 100,000 bytes).
    #[schema(min_length = 1)]
    pub message: String,
    pub person: PersonInput,
    /// A department id (see `/api/v2/departments`).
    pub department: i64,
    #[schema(minimum = 1, maximum = 10)]
    pub urgency: Option<i64>,
    /// At most 20, each of at most 50 characters.
    pub labels: Option<Vec<String>>,
    /// Custom field values by field id.
    pub fields: Option<BTreeMap<String, FieldInput>>,
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
    let (requester_id, requester_email, requester_name) = match body.person {
        PersonInput::Id(id) => (Some(id), String::new(), String::new()),
        PersonInput::Address { email, name } => (None, email, name),
    };
    let input = NewTicketInput {
        requester_id,
        requester_email,
        requester_name,
        subject: body.subject,
        message: body.message,
        department_id: body.department.to_string(),
        urgency: body.urgency.unwrap_or(1).to_string(),
        labels: body.labels.unwrap_or_default().join(","),
        fields: field_pairs(body.fields),
        channel: "api",
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

fn id_text(id: Option<i64>) -> String {
    id.map(|id| id.to_string()).unwrap_or_default()
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
    let reference = state.app.ticket_reference(&key).await?;
    let (ticket, labels, fields) = state
        .app
        .ticket_properties(&request.caller.actor, &reference)
        .await?;
    let changed = change(&state, &request, &ticket, labels, &fields, body).await?;
    Ok(axum::Json(TicketEnvelope {
        data: Ticket::from_state(changed),
        meta: ObjectMeta::default(),
    }))
}

/// Applies a change over the ticket's current properties.
async fn change(
    state: &AppState,
    request: &ApiRequest,
    ticket: &TicketRecord,
    labels: Vec<String>,
    current_fields: &[ferrodesk_app::FieldView],
    body: TicketChangeBody,
) -> ApiResult<TicketState> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let changed = field_pairs(body.fields);
    for field in current_fields {
        let id = field.field.id.to_string();
        if changed.iter().any(|(sent, _)| *sent == id) {
            continue;
        }
        for value in field.value.as_deref().unwrap_or_default().lines() {
            fields.push((id.clone(), value.to_owned()));
        }
    }
    fields.extend(changed);
    let input = PropertiesInput {
        status: body.status.unwrap_or_else(|| ticket.status.clone()),
        urgency: body.urgency.unwrap_or(ticket.urgency).to_string(),
        department_id: body.department.unwrap_or(ticket.department_id).to_string(),
        agent_id: id_text(body.agent.unwrap_or(ticket.agent_id)),
        team_id: id_text(body.team.unwrap_or(ticket.team_id)),
        priority_id: id_text(body.priority.unwrap_or(ticket.priority_id)),
        labels: body.labels.unwrap_or(labels).join(","),
        fields,
    };
    Ok(state
        .app
        .change_ticket(&request.actor_caller(), &ticket.reference, &input)
        .await?)
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
    let view = view_of(&state, &request, &key).await?;
    if view.ticket.status != "deleted" {
        if !view.may_delete {
            return Err(ferrodesk_app::AppError::Forbidden.into());
        }
        let body = TicketChangeBody {
            status: Some("deleted".to_owned()),
            ..TicketChangeBody::default()
        };
        change(
            &state,
            &request,
            &view.ticket,
            view.labels,
            &view.fields,
            body,
        )
        .await?;
    }
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
    let view = view_of(&state, &request, &key).await?;
    let total = view.messages.len() as i64;
    let data: Vec<Message> = view
        .messages
        .iter()
        .map(|message| Message::from_record(message.clone(), view.attachments_of(&message.id)))
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
    pub message: String,
    /// A note is for agents only; by default the message is a reply that
    /// goes to the requester and CCs.
    #[serde(default)]
    pub is_note: bool,
    /// The status to leave the ticket in; a reply sets awaiting_user by default.
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
    let view = view_of(&state, &request, &key).await?;
    let mut files = Vec::new();
    for token in body.attachments.unwrap_or_default() {
        files.push(
            state
                .app
                .api_upload_from_token(&request.caller.actor, &token)?,
        );
    }
    let input = ReplyInput {
        body: body.message,
        is_note: body.is_note,
        status: body.status,
        seen_message_id: None,
        attachments: files,
    };
    state
        .app
        .reply_to_ticket(&request.actor_caller(), &view.ticket.reference, &input)
        .await?;
    let view = view_of(&state, &request, &key).await?;
    let Some(message) = view.messages.iter().max_by_key(|message| message.id) else {
        return Err(ferrodesk_app::AppError::Internal("the new message is gone".into()).into());
    };
    let location = format!("/api/v2/tickets/{}/messages", view.ticket.id);
    Ok(created(
        location,
        MessageEnvelope {
            data: Message::from_record(message.clone(), view.attachments_of(&message.id)),
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
