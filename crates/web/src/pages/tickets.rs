//! The agent's ticket pages: the list with its filters, a ticket with its
//! thread and editors, and a new ticket on a user's behalf.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{
    Actor, AppError, DepartmentNode, FieldErrors, FieldView, LIST_VIEWS, NewTicketInput,
    PropertiesInput, ReplyInput, TicketList, TicketListQuery, TicketView,
};
use ferrodesk_core::{FieldKind, TicketStatus, Timestamp};
use serde::Deserialize;

use crate::AppState;
use crate::error::{WebError, WebResult};
use crate::forms::{FormFields, MessageForm};
use crate::pages::{Chrome, render, render_form, to_staff_login};
use crate::session::Session;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/tickets", get(list))
        .route("/agent/tickets/new", get(new_form).post(create))
        .route("/agent/tickets/{reference}", get(show))
        .route("/agent/tickets/{reference}/reply", post(reply))
        .route("/agent/tickets/{reference}/properties", post(change))
        .route("/agent/tickets/{reference}/follow", post(follow))
        .route("/agent/tickets/{reference}/merge", post(merge))
        .route("/agent/tickets/{reference}/lock", post(lock))
        .route(
            "/agent/tickets/{reference}/attachments/{attachment_id}",
            get(download),
        )
}

/// The custom field inputs of a form (`field_<id>`), as (id, value).
fn custom_field_values(fields: &FormFields) -> Vec<(String, String)> {
    fields
        .with_prefix("field_")
        .map(|(id, value)| (id.to_owned(), value.to_owned()))
        .collect()
}

/// A trip to the login page for anyone but an agent.
fn agents_only(session: &Session, back: &str) -> Option<Response> {
    match &session.actor {
        Actor::Agent(_) => None,
        Actor::Visitor => Some(to_staff_login(back)),
        Actor::User(_) | Actor::System => {
            Some(crate::error::WebError::App(AppError::Forbidden).into_response())
        }
    }
}

pub(crate) fn status_label(key: &str) -> &'static str {
    TicketStatus::from_key(key).map_or("Unknown", TicketStatus::label)
}

fn time(millis: &i64) -> String {
    Timestamp(*millis).to_string()
}

#[derive(Debug, Default, Deserialize)]
struct ListParameters {
    #[serde(default)]
    view: String,
    status: Option<String>,
    department: Option<String>,
    label: Option<String>,
    urgency: Option<String>,
    after: Option<String>,
}

#[derive(Template)]
#[template(path = "agent_tickets.html")]
struct ListPage {
    chrome: Chrome,
    view: String,
    status: String,
    department: String,
    label: String,
    urgency: String,
    list: TicketList,
    views: Vec<(&'static str, &'static str, i64)>,
    departments: Vec<DepartmentNode>,
    statuses: Vec<TicketStatus>,
    /// The query string of this list without the cursor, for the next link.
    base_query: String,
}

impl ListPage {
    fn status_label(&self, key: &str) -> &'static str {
        status_label(key)
    }

    fn time(&self, millis: &i64) -> String {
        time(millis)
    }
}

fn optional_number(text: Option<&str>) -> WebResult<Option<i64>> {
    match text.map(str::trim).filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| {
            crate::error::WebError::BadRequest("A filter value is not a number.".into())
        }),
    }
}

async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(parameters): Query<ListParameters>,
) -> WebResult<Response> {
    if let Some(redirect) = agents_only(&session, "/agent/tickets") {
        return Ok(redirect);
    }
    let query = TicketListQuery {
        view: parameters.view.clone(),
        status: parameters.status.clone(),
        department_id: optional_number(parameters.department.as_deref())?,
        label: parameters.label.clone(),
        urgency_at_least: optional_number(parameters.urgency.as_deref())?,
        agent_id: None,
        after: parameters.after.clone(),
    };
    let list = state.app.list_tickets(&session.actor, &query).await?;
    let views = LIST_VIEWS
        .iter()
        .zip(&list.view_counts)
        .map(|((key, label), (_, count))| (*key, *label, *count))
        .collect();
    let encode = |text: &str| -> String {
        percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).collect()
    };
    let base_query = format!(
        "view={}&status={}&department={}&label={}&urgency={}",
        encode(&parameters.view),
        encode(parameters.status.as_deref().unwrap_or("")),
        encode(parameters.department.as_deref().unwrap_or("")),
        encode(parameters.label.as_deref().unwrap_or("")),
        encode(parameters.urgency.as_deref().unwrap_or("")),
    );
    render(&ListPage {
        chrome: Chrome::for_session(&session),
        view: parameters.view,
        status: parameters.status.unwrap_or_default(),
        department: parameters.department.unwrap_or_default(),
        label: parameters.label.unwrap_or_default(),
        urgency: parameters.urgency.unwrap_or_default(),
        list,
        views,
        departments: state.app.departments(&session.actor).await?,
        statuses: TicketStatus::ALL.to_vec(),
        base_query,
    })
}

#[derive(Template)]
#[template(path = "agent_ticket.html")]
struct TicketPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    view: TicketView,
    statuses: Vec<TicketStatus>,
    /// What the reply form had, when it comes back with errors.
    typed_body: String,
    typed_note: bool,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

impl TicketPage<'_> {
    fn status_label(&self, key: &str) -> &'static str {
        status_label(key)
    }

    fn time(&self, millis: &i64) -> String {
        time(millis)
    }

    fn labels_text(&self) -> String {
        self.view.labels.join(", ")
    }

    fn is_assigned(&self, agent_id: &i64) -> bool {
        self.view.ticket.agent_id == Some(*agent_id)
    }

    fn is_team(&self, team_id: &i64) -> bool {
        self.view.ticket.team_id == Some(*team_id)
    }

    fn is_department(&self, department_id: &i64) -> bool {
        self.view.ticket.department_id == *department_id
    }

    fn base(&self) -> String {
        format!("/agent/tickets/{}", self.view.ticket.reference)
    }

    fn is_image(&self, content_type: &str) -> bool {
        content_type.starts_with("image/")
    }

    fn size(&self, bytes: &i64) -> String {
        human_size(*bytes)
    }

    /// The reply box starts as a note when the agent was writing one, may
    /// only write notes, or someone else holds the lock.
    fn note_first(&self) -> bool {
        self.typed_note || !self.view.may_reply || self.view.locked_by_other.is_some()
    }

    fn lock_until(&self) -> String {
        self.view
            .ticket
            .locked_until
            .map(Timestamp)
            .map(|at| at.to_string())
            .unwrap_or_default()
    }
}

/// A byte count as people read it.
pub(crate) fn human_size(bytes: i64) -> String {
    const KIB: i64 = 1024;
    if bytes < KIB {
        format!("{bytes} B")
    } else if bytes < KIB * KIB {
        format!("{:.1} KiB", bytes as f64 / KIB as f64)
    } else {
        format!("{:.1} MiB", bytes as f64 / (KIB * KIB) as f64)
    }
}

#[derive(Debug, Deserialize)]
struct NoticeParameter {
    notice: Option<String>,
}

async fn ticket_page(
    state: &AppState,
    session: &Session,
    reference: &str,
    typed: Option<(&str, bool)>,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    let view = state.app.ticket_view(&session.actor, reference).await?;
    let has_errors = !errors.is_empty();
    // A merged ticket's address leads to the ticket it went into.
    if view.ticket.reference != reference && !has_errors && typed.is_none() {
        let notice = notice.map_or("", |_| "?notice=merged");
        return Ok(
            Redirect::to(&format!("/agent/tickets/{}{notice}", view.ticket.reference))
                .into_response(),
        );
    }
    render_form(
        &TicketPage {
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            view,
            statuses: TicketStatus::ALL.to_vec(),
            typed_body: typed.map(|(body, _)| body.to_owned()).unwrap_or_default(),
            typed_note: typed.is_some_and(|(_, note)| note),
            errors,
            notice,
        },
        has_errors,
    )
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(reference): Path<String>,
    Query(parameters): Query<NoticeParameter>,
) -> WebResult<Response> {
    if let Some(redirect) = agents_only(&session, &format!("/agent/tickets/{reference}")) {
        return Ok(redirect);
    }
    let notice = match parameters.notice.as_deref() {
        Some("sent") => Some("Your reply is sent."),
        Some("noted") => Some("Your note is added."),
        Some("saved") => Some("The ticket is saved."),
        Some("created") => Some("The ticket is open."),
        Some("merged") => Some("The tickets are merged."),
        Some("locked") => Some("You hold the lock on this ticket for 30 minutes."),
        Some("unlocked") => Some("The lock is released."),
        _ => None,
    };
    ticket_page(
        &state,
        &session,
        &reference,
        None,
        FieldErrors::new(),
        notice,
    )
    .await
}

async fn reply(
    State(state): State<AppState>,
    session: Session,
    Path(reference): Path<String>,
    request: Request,
) -> WebResult<Response> {
    if let Some(redirect) = agents_only(&session, "/agent/tickets") {
        return Ok(redirect);
    }
    let form = MessageForm::read(&state.app, &session.actor, request).await?;
    let fields = &form.fields;
    let is_note = fields.one("kind") == "note";
    let seen = fields.one("seen_message_id").trim();
    let input = ReplyInput {
        body: fields.one("body").to_owned(),
        is_note,
        status: Some(fields.one("status").to_owned()).filter(|status| !status.is_empty()),
        seen_message_id: if seen.is_empty() {
            None
        } else {
            seen.parse().ok()
        },
        attachments: form.files,
    };
    let typed = Some((input.body.as_str(), is_note));
    if !form.file_errors.is_empty() {
        let mut errors = form.file_errors;
        errors.add(
            "attachments",
            "Nothing was sent: pick the files you want to attach again, then send.",
        );
        return ticket_page(&state, &session, &reference, typed, errors, None).await;
    }
    match state
        .app
        .reply_to_ticket(&session.caller(), &reference, &input)
        .await
    {
        Ok(()) => {
            let notice = if is_note { "noted" } else { "sent" };
            Ok(
                Redirect::to(&format!("/agent/tickets/{reference}?notice={notice}"))
                    .into_response(),
            )
        }
        Err(AppError::Invalid(errors)) => {
            ticket_page(&state, &session, &reference, typed, errors, None).await
        }
        Err(AppError::Conflict(message)) => {
            let mut errors = FieldErrors::new();
            errors.add("body", message);
            let mut response =
                ticket_page(&state, &session, &reference, typed, errors, None).await?;
            *response.status_mut() = StatusCode::CONFLICT;
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}

async fn merge(
    State(state): State<AppState>,
    session: Session,
    Path(reference): Path<String>,
    fields: FormFields,
) -> WebResult<Response> {
    if let Some(redirect) = agents_only(&session, "/agent/tickets") {
        return Ok(redirect);
    }
    match state
        .app
        .merge_ticket(&session.caller(), &reference, fields.one("into"))
        .await
    {
        Ok(target) => {
            Ok(Redirect::to(&format!("/agent/tickets/{target}?notice=merged")).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            ticket_page(&state, &session, &reference, None, errors, None).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn lock(
    State(state): State<AppState>,
    session: Session,
    Path(reference): Path<String>,
    fields: FormFields,
) -> WebResult<Response> {
    if let Some(redirect) = agents_only(&session, "/agent/tickets") {
        return Ok(redirect);
    }
    let locking = fields.one("lock") == "1";
    match state
        .app
        .lock_ticket(&session.actor, &reference, locking)
        .await
    {
        Ok(()) => {
            let notice = if locking { "locked" } else { "unlocked" };
            Ok(
                Redirect::to(&format!("/agent/tickets/{reference}?notice={notice}"))
                    .into_response(),
            )
        }
        Err(AppError::Conflict(message)) => {
            let mut errors = FieldErrors::new();
            errors.add("lock", message);
            let mut response =
                ticket_page(&state, &session, &reference, None, errors, None).await?;
            *response.status_mut() = StatusCode::CONFLICT;
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}

async fn download(
    State(state): State<AppState>,
    session: Session,
    Path((reference, attachment_id)): Path<(String, String)>,
) -> WebResult<Response> {
    if let Some(redirect) = agents_only(&session, "/agent/tickets") {
        return Ok(redirect);
    }
    let attachment_id: i64 = attachment_id
        .parse()
        .map_err(|_| WebError::App(AppError::NotFound))?;
    let download = state
        .app
        .attachment_for_agent(&session.actor, &reference, attachment_id)
        .await?;
    crate::downloads::serve(download).await
}

async fn change(
    State(state): State<AppState>,
    session: Session,
    Path(reference): Path<String>,
    fields: FormFields,
) -> WebResult<Response> {
    if let Some(redirect) = agents_only(&session, "/agent/tickets") {
        return Ok(redirect);
    }
    let input = PropertiesInput {
        status: fields.one("status").to_owned(),
        urgency: fields.one("urgency").to_owned(),
        department_id: fields.one("department").to_owned(),
        agent_id: fields.one("agent").to_owned(),
        team_id: fields.one("team").to_owned(),
        labels: fields.one("labels").to_owned(),
        fields: custom_field_values(&fields),
    };
    match state
        .app
        .change_ticket(&session.caller(), &reference, &input)
        .await
    {
        Ok(()) => {
            Ok(Redirect::to(&format!("/agent/tickets/{reference}?notice=saved")).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            ticket_page(&state, &session, &reference, None, errors, None).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn follow(
    State(state): State<AppState>,
    session: Session,
    Path(reference): Path<String>,
    fields: FormFields,
) -> WebResult<Response> {
    if let Some(redirect) = agents_only(&session, "/agent/tickets") {
        return Ok(redirect);
    }
    let following = fields.one("following") == "1";
    state
        .app
        .follow_ticket(&session.actor, &reference, following)
        .await?;
    Ok(Redirect::to(&format!("/agent/tickets/{reference}")).into_response())
}

#[derive(Template)]
#[template(path = "agent_new_ticket.html")]
struct NewTicketPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    departments: Vec<DepartmentNode>,
    fields: Vec<FieldView>,
    input: NewTicketInput,
    errors: FieldErrors,
}

/// The fields with what a form sent for them, to show the form again.
fn fields_as_typed(
    fields: Vec<ferrodesk_app::TicketFieldRecord>,
    sent: &[(String, String)],
) -> Vec<FieldView> {
    fields
        .into_iter()
        .filter_map(|field| {
            let kind = FieldKind::from_key(&field.kind)?;
            let id = field.id.to_string();
            let values: Vec<&str> = sent
                .iter()
                .filter(|(name, _)| *name == id)
                .map(|(_, value)| value.as_str())
                .collect();
            let value = (!values.is_empty()).then(|| values.join("\n"));
            Some(FieldView { field, kind, value })
        })
        .collect()
}

async fn new_ticket_page(
    state: &AppState,
    session: &Session,
    input: NewTicketInput,
    errors: FieldErrors,
) -> WebResult<Response> {
    let context = state.app.agent_context(&session.actor).await?;
    let departments = state
        .app
        .departments(&session.actor)
        .await?
        .into_iter()
        .filter(|node| context.effective.department_access(node.id).is_some())
        .collect();
    let has_errors = !errors.is_empty();
    let fields = fields_as_typed(
        state.app.ticket_fields(&session.actor).await?,
        &input.fields,
    );
    render_form(
        &NewTicketPage {
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            departments,
            fields,
            input,
            errors,
        },
        has_errors,
    )
}

async fn new_form(State(state): State<AppState>, session: Session) -> WebResult<Response> {
    if let Some(redirect) = agents_only(&session, "/agent/tickets/new") {
        return Ok(redirect);
    }
    let input = NewTicketInput {
        urgency: "1".to_owned(),
        ..NewTicketInput::default()
    };
    new_ticket_page(&state, &session, input, FieldErrors::new()).await
}

async fn create(
    State(state): State<AppState>,
    session: Session,
    fields: FormFields,
) -> WebResult<Response> {
    if let Some(redirect) = agents_only(&session, "/agent/tickets/new") {
        return Ok(redirect);
    }
    let input = NewTicketInput {
        requester_email: fields.one("requester_email").to_owned(),
        requester_name: fields.one("requester_name").to_owned(),
        subject: fields.one("subject").to_owned(),
        message: fields.one("message").to_owned(),
        department_id: fields.one("department").to_owned(),
        urgency: fields.one("urgency").to_owned(),
        labels: fields.one("labels").to_owned(),
        fields: custom_field_values(&fields),
    };
    match state
        .app
        .create_ticket_for_user(&session.caller(), &input)
        .await
    {
        Ok(reference) => {
            Ok(Redirect::to(&format!("/agent/tickets/{reference}?notice=created")).into_response())
        }
        Err(AppError::Invalid(errors)) => new_ticket_page(&state, &session, input, errors).await,
        Err(other) => Err(other.into()),
    }
}
