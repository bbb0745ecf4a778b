//! Macros for agents: the list, the editor, and applying one to a ticket
//! (a preview of what it changes first). Applying one to many tickets is
//! a bulk action (`bulk.rs`).

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{
    AppError, FieldErrors, MacroActions, MacroAssignee, MacroInput, MacroPreview, MacroView,
    TicketKey,
};
use ferrodesk_core::TicketStatus;
use serde::Deserialize;

use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::admin::NoticeQuery;
use crate::pages::{AgentSession, Chrome, path_id, render, render_form};
use crate::session::Session;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/macros", get(list))
        .route("/agent/macros/new", get(new_macro).post(create))
        .route("/agent/macros/{id}", get(edit).post(save))
        .route("/agent/macros/{id}/delete", post(delete))
        .route("/agent/tickets/{reference}/macro", get(preview).post(apply))
}

#[derive(Template)]
#[template(path = "agent/macros.html")]
struct ListPage {
    chrome: Chrome,
    macros: Vec<MacroView>,
    notice: Option<&'static str>,
}

async fn list(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let (macros, _) = state.app.macro_library(&session.actor).await?;
    let notice = query.text(&[
        ("saved", "The macro is saved."),
        ("deleted", "The macro is deleted."),
    ]);
    render(&ListPage {
        chrome: Chrome::for_session(&session),
        macros,
        notice,
    })
}

/// The editor's form as sent.
#[derive(Debug, Default, Deserialize)]
struct MacroForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    urgency: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    department: String,
    /// `me`, `none`, an agent's id, or empty to keep.
    #[serde(default)]
    agent: String,
    /// `none`, a team's id, or empty to keep.
    #[serde(default)]
    team: String,
    #[serde(default)]
    add_labels: String,
    #[serde(default)]
    remove_labels: String,
    #[serde(default)]
    follow: String,
    #[serde(default)]
    snippet: String,
    /// `note` for an internal note.
    #[serde(default)]
    message_kind: String,
    #[serde(default)]
    shared: String,
}

fn labels_in(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|label| !label.is_empty())
        .map(str::to_owned)
        .collect()
}

impl MacroForm {
    /// The input, or the fields that are not numbers where numbers belong.
    fn input(&self) -> Result<MacroInput, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut number = |text: &str, field: &'static str| -> Option<i64> {
            match text.trim() {
                "" => None,
                "none" => Some(0),
                text => errors.check(
                    field,
                    text.parse::<i64>().map_err(|_| "Choose from the list."),
                ),
            }
        };
        let urgency = number(&self.urgency, "urgency");
        let priority = number(&self.priority, "priority");
        let department = number(&self.department, "department");
        let team = number(&self.team, "team");
        let snippet = number(&self.snippet, "snippet");
        let agent = match self.agent.trim() {
            "" => None,
            "me" => Some(MacroAssignee::Me),
            "none" => Some(MacroAssignee::Nobody),
            id => number(id, "agent").map(MacroAssignee::Agent),
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(MacroInput {
            title: self.title.clone(),
            shared: self.shared == "1",
            actions: MacroActions {
                status: Some(self.status.trim().to_owned()).filter(|status| !status.is_empty()),
                urgency,
                priority,
                department,
                agent,
                team,
                add_labels: labels_in(&self.add_labels),
                remove_labels: labels_in(&self.remove_labels),
                follow: self.follow == "1",
                snippet,
                as_note: self.message_kind == "note",
            },
        })
    }

    fn of(view: &MacroView) -> MacroForm {
        let actions = &view.actions;
        let id = |value: Option<i64>| match value {
            None => String::new(),
            Some(0) => "none".to_owned(),
            Some(id) => id.to_string(),
        };
        MacroForm {
            title: view.title.clone(),
            status: actions.status.clone().unwrap_or_default(),
            urgency: actions.urgency.map(|u| u.to_string()).unwrap_or_default(),
            priority: id(actions.priority),
            department: actions
                .department
                .map(|d| d.to_string())
                .unwrap_or_default(),
            agent: match actions.agent {
                None => String::new(),
                Some(MacroAssignee::Me) => "me".to_owned(),
                Some(MacroAssignee::Nobody) => "none".to_owned(),
                Some(MacroAssignee::Agent(id)) => id.to_string(),
            },
            team: id(actions.team),
            add_labels: actions.add_labels.join(", "),
            remove_labels: actions.remove_labels.join(", "),
            follow: if actions.follow { "1" } else { "" }.to_owned(),
            snippet: actions.snippet.map(|s| s.to_string()).unwrap_or_default(),
            message_kind: if actions.as_note { "note" } else { "reply" }.to_owned(),
            shared: if view.shared { "1" } else { "" }.to_owned(),
        }
    }
}

#[derive(Template)]
#[template(path = "agent/macro.html")]
struct EditorPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    existing: Option<MacroView>,
    form: MacroForm,
    choices: ferrodesk_app::MacroChoices,
    statuses: Vec<TicketStatus>,
    errors: FieldErrors,
}

impl EditorPage<'_> {
    fn action(&self) -> String {
        match &self.existing {
            Some(existing) => format!("/agent/macros/{}", existing.id),
            None => "/agent/macros/new".to_owned(),
        }
    }

    /// Whether `value` is the form's choice for a select.
    fn chose(&self, current: &str, value: &i64) -> bool {
        current == value.to_string()
    }
}

async fn editor_page(
    state: &AppState,
    session: &Session,
    existing: Option<MacroView>,
    form: MacroForm,
    errors: FieldErrors,
) -> WebResult<Response> {
    let choices = state.app.macro_choices(&session.actor).await?;
    let has_errors = !errors.is_empty();
    render_form(
        &EditorPage {
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            existing,
            form,
            choices,
            statuses: TicketStatus::ALL.to_vec(),
            errors,
        },
        has_errors,
    )
}

async fn new_macro(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
) -> WebResult<Response> {
    editor_page(
        &state,
        &session,
        None,
        MacroForm::default(),
        FieldErrors::new(),
    )
    .await
}

async fn create(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    HtmlForm(form): HtmlForm<MacroForm>,
) -> WebResult<Response> {
    let outcome = match form.input() {
        Ok(input) => state.app.create_macro(&session.caller(), &input).await,
        Err(errors) => Err(AppError::Invalid(errors)),
    };
    match outcome {
        Ok(_) => Ok(Redirect::to("/agent/macros?notice=saved").into_response()),
        Err(AppError::Invalid(errors)) => editor_page(&state, &session, None, form, errors).await,
        Err(other) => Err(other.into()),
    }
}

async fn edit(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let existing = state.app.macro_view(&session.actor, path_id(&id)?).await?;
    if !existing.may_edit {
        return Err(AppError::Forbidden.into());
    }
    let form = MacroForm::of(&existing);
    editor_page(&state, &session, Some(existing), form, FieldErrors::new()).await
}

async fn save(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
    HtmlForm(form): HtmlForm<MacroForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let outcome = match form.input() {
        Ok(input) => state.app.update_macro(&session.caller(), id, &input).await,
        Err(errors) => Err(AppError::Invalid(errors)),
    };
    match outcome {
        Ok(()) => Ok(Redirect::to("/agent/macros?notice=saved").into_response()),
        Err(AppError::Invalid(errors)) => {
            let existing = state.app.macro_view(&session.actor, id).await?;
            editor_page(&state, &session, Some(existing), form, errors).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn delete(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    state
        .app
        .delete_macro(&session.caller(), path_id(&id)?)
        .await?;
    Ok(Redirect::to("/agent/macros?notice=deleted").into_response())
}

#[derive(Template)]
#[template(path = "agent/macro_preview.html")]
struct PreviewPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    reference: String,
    view: MacroView,
    /// What it would do; `None` when it cannot be applied (see `errors`).
    preview: Option<MacroPreview>,
    errors: FieldErrors,
}

/// The preview page: what the macro would do to the ticket, with a button
/// to do it, or why it cannot be applied.
async fn preview_page(
    state: &AppState,
    session: &Session,
    reference: String,
    id: i64,
    errors: FieldErrors,
) -> WebResult<Response> {
    let key = TicketKey::parse(&reference)?;
    let view = state.app.macro_view(&session.actor, id).await?;
    let (preview, errors) = match state.app.preview_macro(&session.actor, &key, id).await {
        Ok((_, preview)) if errors.is_empty() => (Some(preview), errors),
        Ok(_) => (None, errors),
        Err(AppError::Invalid(problems)) => (None, problems),
        Err(other) => return Err(other.into()),
    };
    let has_errors = !errors.is_empty();
    render_form(
        &PreviewPage {
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            reference,
            view,
            preview,
            errors,
        },
        has_errors,
    )
}

/// The macro chosen on the ticket page (its id).
#[derive(Debug, Default, Deserialize)]
struct MacroChoice {
    #[serde(default, rename = "macro")]
    chosen: String,
}

async fn preview(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(reference): Path<String>,
    Query(choice): Query<MacroChoice>,
) -> WebResult<Response> {
    preview_page(
        &state,
        &session,
        reference,
        path_id(&choice.chosen)?,
        FieldErrors::new(),
    )
    .await
}

async fn apply(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(reference): Path<String>,
    HtmlForm(choice): HtmlForm<MacroChoice>,
) -> WebResult<Response> {
    let key = TicketKey::parse(&reference)?;
    let id = path_id(&choice.chosen)?;
    match state.app.apply_macro(&session.caller(), &key, id).await {
        Ok(()) => {
            Ok(Redirect::to(&format!("/agent/tickets/{reference}?notice=macro")).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            preview_page(&state, &session, reference, id, errors).await
        }
        Err(other) => Err(other.into()),
    }
}
