//! The help center's ticket pages: "my tickets", a ticket with its replies,
//! answering, resolving and reopening, and the new-ticket form (for guests
//! too, when the admin allows it). Mailed links carry `?code=`; the forms
//! pass it on in a hidden `code` field.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{
    Actor, AppError, DepartmentNode, FieldErrors, FieldView, PortalListQuery, PortalReplyInput,
    PortalStateFilter, PortalTicketInput, PortalTicketList, PortalTicketOutcome, PortalTicketView,
    fields_as_sent,
};
use ferrodesk_core::{FieldKind, TicketStatus};
use serde::Deserialize;

use crate::AppState;
use crate::error::WebResult;
use crate::forms::{HtmlForm, MessageForm, OneOrMany, custom_field_values};
use crate::pages::admin::NoticeQuery;
use crate::pages::tickets::human_size;
use crate::pages::{
    Chrome, SignedInSession, path_id, render, render_form, time, to_portal_login, url_encoded,
};
use crate::session::Session;
use crate::text::t;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/tickets", get(list))
        .route("/tickets/new", get(new_form).post(create))
        .route("/tickets/{reference}", get(show))
        .route("/tickets/{reference}/reply", post(reply))
        .route("/tickets/{reference}/resolve", post(resolve))
        .route(
            "/tickets/{reference}/attachments/{attachment_id}",
            get(download),
        )
}

/// A ticket's status as the help center names it.
fn status_name(status: TicketStatus) -> String {
    match status {
        TicketStatus::AwaitingAgent => t("ticket-status-awaiting-agent"),
        TicketStatus::AwaitingUser => t("ticket-status-awaiting-user"),
        TicketStatus::Pending => t("ticket-status-pending"),
        TicketStatus::Resolved => t("ticket-status-resolved"),
        TicketStatus::Archived => t("ticket-status-archived"),
        TicketStatus::Spam => t("ticket-status-spam"),
        TicketStatus::Deleted => t("ticket-status-deleted"),
    }
}

#[derive(Debug, Default, Deserialize)]
struct ListParameters {
    scope: Option<String>,
    after: Option<String>,
    /// `open` (the default), `closed` or `all`.
    state: Option<String>,
    /// Text the subject contains.
    q: Option<String>,
}

#[derive(Template)]
#[template(path = "help_center/tickets.html")]
struct ListPage {
    chrome: Chrome,
    list: PortalTicketList,
    organization_scope: bool,
    query: PortalListQuery,
    states: [PortalStateFilter; 3],
    notice: Option<&'static str>,
}

impl ListPage {
    fn status_name(&self, status: &TicketStatus) -> String {
        status_name(*status)
    }

    fn time(&self, millis: &i64) -> String {
        time(millis)
    }

    fn next_link(&self) -> Option<String> {
        let next = self.list.next.as_deref()?;
        Some(format!(
            "{}&after={}",
            self.link_with(&self.query.state),
            url_encoded(next)
        ))
    }

    /// This list with another state filter (the search and scope kept).
    fn link_with(&self, state: &PortalStateFilter) -> String {
        let scope = if self.query.organization_scope {
            "organization"
        } else {
            "mine"
        };
        let mut link = format!("/tickets?scope={scope}&state={}", state.key());
        if !self.query.search.is_empty() {
            link.push_str("&q=");
            link.push_str(&url_encoded(&self.query.search));
        }
        link
    }

    fn state_label(&self, state: &PortalStateFilter) -> String {
        match state {
            PortalStateFilter::Open => crate::text::t("ticket-list-state-open"),
            PortalStateFilter::Closed => crate::text::t("ticket-list-state-closed"),
            PortalStateFilter::All => crate::text::t("ticket-list-state-all"),
        }
    }

    fn is_state(&self, state: &PortalStateFilter) -> bool {
        self.query.state == *state
    }
}

async fn list(
    State(state): State<AppState>,
    SignedInSession(session): SignedInSession,
    Query(parameters): Query<ListParameters>,
) -> WebResult<Response> {
    let query = PortalListQuery {
        organization_scope: parameters.scope.as_deref() == Some("organization"),
        state: PortalStateFilter::from_key(parameters.state.as_deref().unwrap_or("")),
        search: parameters.q.unwrap_or_default(),
        after: parameters.after,
    };
    let list = state.app.portal_tickets(&session.actor, &query).await?;
    render(&ListPage {
        chrome: Chrome::for_session(&session),
        organization_scope: query.organization_scope,
        states: [
            PortalStateFilter::Open,
            PortalStateFilter::Closed,
            PortalStateFilter::All,
        ],
        list,
        query,
        notice: None,
    })
}

#[derive(Template)]
#[template(path = "help_center/new_ticket.html")]
struct NewTicketPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    is_guest: bool,
    departments: Vec<DepartmentNode>,
    fields: Vec<FieldView>,
    input: PortalTicketInput,
    errors: FieldErrors,
}

impl NewTicketPage<'_> {
    fn is_department(&self, id: &i64) -> bool {
        self.input.department_id == id.to_string()
    }
}

async fn new_ticket_page(
    state: &AppState,
    session: &Session,
    input: PortalTicketInput,
    errors: FieldErrors,
) -> WebResult<Response> {
    let is_guest = matches!(session.actor, Actor::Visitor);
    if is_guest && !state.app.settings().await?.help_center.guest_tickets {
        return Ok(to_portal_login("/tickets/new"));
    }
    let has_errors = !errors.is_empty();
    let fields = fields_as_sent(state.app.portal_fields().await?, &input.fields);
    render_form(
        &NewTicketPage {
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            is_guest,
            departments: state.app.portal_departments().await?,
            fields,
            input,
            errors,
        },
        has_errors,
    )
}

async fn new_form(State(state): State<AppState>, session: Session) -> WebResult<Response> {
    if matches!(session.actor, Actor::Agent(_)) {
        return Err(AppError::Forbidden.into());
    }
    new_ticket_page(
        &state,
        &session,
        PortalTicketInput::default(),
        FieldErrors::new(),
    )
    .await
}

#[derive(Template)]
#[template(path = "help_center/ticket_sent.html")]
struct SentPage {
    chrome: Chrome,
}

/// The help center's request form as sent.
#[derive(Debug, Default, Deserialize)]
struct RequestForm {
    #[serde(default)]
    department: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    message: String,
    /// A guest's name and address.
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    /// The field people never see; bots fill it in.
    #[serde(default)]
    website: String,
    /// The `field_<id>` inputs (and the CSRF token).
    #[serde(flatten)]
    others: BTreeMap<String, OneOrMany>,
}

/// A message on a request, with the access code the page was reached by.
#[derive(Debug, Default, Deserialize)]
struct RequestReplyForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    body: String,
}

async fn create(
    State(state): State<AppState>,
    session: Session,
    request: Request,
) -> WebResult<Response> {
    let form = MessageForm::read(&state.app, &session.actor, request).await?;
    let fields: RequestForm = form.fields()?;
    let input = PortalTicketInput {
        fields: custom_field_values(&fields.others),
        department_id: fields.department,
        subject: fields.subject,
        message: fields.message,
        guest_name: fields.name,
        guest_email: fields.email,
        honeypot: fields.website,
        attachments: form.files,
    };
    if !form.file_errors.is_empty() {
        let mut errors = form.file_errors;
        errors.add("attachments", t("ticket-attachments-not-sent"));
        return new_ticket_page(&state, &session, input, errors).await;
    }
    match state
        .app
        .open_portal_ticket(&session.caller(), &input)
        .await
    {
        Ok(PortalTicketOutcome::Opened(reference)) => {
            Ok(Redirect::to(&format!("/tickets/{reference}?notice=created")).into_response())
        }
        Ok(PortalTicketOutcome::Mailed) => render(&SentPage {
            chrome: Chrome::for_session(&session),
        }),
        Err(AppError::Invalid(errors)) => {
            let input = PortalTicketInput {
                attachments: Vec::new(),
                ..input
            };
            new_ticket_page(&state, &session, input, errors).await
        }
        Err(AppError::Unauthenticated) => Ok(to_portal_login("/tickets/new")),
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
struct TicketParameters {
    code: Option<String>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "help_center/ticket.html")]
struct TicketPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    view: PortalTicketView,
    typed_body: String,
    errors: FieldErrors,
    notice: Option<String>,
    may_attach: bool,
}

impl TicketPage<'_> {
    /// Whether any field has a value: empty fields are not shown.
    fn has_field_values(&self) -> bool {
        self.view.fields.iter().any(|field| field.value.is_some())
    }

    fn status_name(&self, status: &TicketStatus) -> String {
        status_name(*status)
    }

    fn time(&self, millis: &i64) -> String {
        time(millis)
    }

    fn size(&self, bytes: &i64) -> String {
        human_size(*bytes)
    }

    /// Whether the file is an image the server shows inline (and so a
    /// thumbnail can show).
    fn is_image(&self, content_type: &str) -> bool {
        ferrodesk_app::is_inline_image_type(content_type)
    }

    fn base(&self) -> String {
        format!("/tickets/{}", self.view.ticket.reference)
    }

    /// `?code=…` for links, when the page was reached with one.
    fn code_query(&self) -> String {
        self.view
            .access_code
            .as_deref()
            .map(|code| format!("?code={}", url_encoded(code)))
            .unwrap_or_default()
    }

    fn code(&self) -> &str {
        self.view.access_code.as_deref().unwrap_or("")
    }
}

async fn ticket_page(
    state: &AppState,
    session: &Session,
    reference: &str,
    code: Option<&str>,
    typed_body: String,
    errors: FieldErrors,
    notice: Option<String>,
) -> WebResult<Response> {
    let view = match state
        .app
        .portal_ticket(&session.actor, reference, code)
        .await
    {
        Ok(view) => view,
        Err(AppError::NotFound) if matches!(session.actor, Actor::Visitor) && code.is_none() => {
            return Ok(to_portal_login(&format!("/tickets/{reference}")));
        }
        Err(other) => return Err(other.into()),
    };
    let has_errors = !errors.is_empty();
    render_form(
        &TicketPage {
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            may_attach: matches!(session.actor, Actor::User(_)),
            view,
            typed_body,
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
    Query(parameters): Query<TicketParameters>,
) -> WebResult<Response> {
    let notice = NoticeQuery::from(parameters.notice).text(&[
        ("created", t("ticket-notice-created")),
        ("sent", t("ticket-notice-sent")),
        ("resolved", t("ticket-notice-resolved")),
        ("reopened", t("ticket-notice-reopened")),
    ]);
    ticket_page(
        &state,
        &session,
        &reference,
        parameters.code.as_deref(),
        String::new(),
        FieldErrors::new(),
        notice,
    )
    .await
}

/// Where to go after a form on a ticket: the ticket, with the code it was
/// reached with.
fn back_to(reference: &str, code: &str, notice: &str) -> String {
    if code.is_empty() {
        format!("/tickets/{reference}?notice={notice}")
    } else {
        format!(
            "/tickets/{reference}?code={}&notice={notice}",
            url_encoded(code)
        )
    }
}

async fn reply(
    State(state): State<AppState>,
    session: Session,
    Path(reference): Path<String>,
    request: Request,
) -> WebResult<Response> {
    let form = MessageForm::read(&state.app, &session.actor, request).await?;
    let RequestReplyForm { code, body } = form.fields()?;
    let code_given = Some(code.as_str()).filter(|code| !code.is_empty());
    let outcome = if form.file_errors.is_empty() {
        state
            .app
            .portal_reply(
                &session.caller(),
                &reference,
                code_given,
                &PortalReplyInput {
                    body: body.clone(),
                    attachments: form.files,
                },
            )
            .await
    } else {
        let mut errors = form.file_errors;
        errors.add("attachments", t("ticket-attachments-not-sent"));
        Err(AppError::Invalid(errors))
    };
    match outcome {
        Ok(()) => Ok(Redirect::to(&back_to(&reference, &code, "sent")).into_response()),
        Err(AppError::Invalid(errors)) => {
            ticket_page(&state, &session, &reference, code_given, body, errors, None).await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
struct ResolveForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    resolved: String,
}
async fn resolve(
    State(state): State<AppState>,
    session: Session,
    Path(reference): Path<String>,
    HtmlForm(fields): HtmlForm<ResolveForm>,
) -> WebResult<Response> {
    let code = fields.code.as_str();
    let resolved = fields.resolved.as_str() == "1";
    state
        .app
        .portal_set_resolved(
            &session.caller(),
            &reference,
            Some(code).filter(|code| !code.is_empty()),
            resolved,
        )
        .await?;
    let notice = if resolved { "resolved" } else { "reopened" };
    Ok(Redirect::to(&back_to(&reference, code, notice)).into_response())
}

#[derive(Debug, Default, Deserialize)]
struct CodeParameter {
    code: Option<String>,
}

async fn download(
    State(state): State<AppState>,
    session: Session,
    Path((reference, attachment_id)): Path<(String, String)>,
    Query(parameters): Query<CodeParameter>,
) -> WebResult<Response> {
    let attachment_id = path_id(&attachment_id)?;
    let download = state
        .app
        .attachment_for_user(
            &session.actor,
            &reference,
            parameters.code.as_deref(),
            attachment_id,
        )
        .await?;
    let mut response = crate::downloads::serve(download).await?;
    // A link with its code is not for caches to keep.
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}
