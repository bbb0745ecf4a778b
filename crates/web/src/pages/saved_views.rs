//! Saved views of the ticket list: saving the list's filters and columns
//! under a name (from the list's sidebar), changing and deleting one.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use ferrodesk_app::{AppError, FieldErrors, SavedView, VIEW_COLUMNS, ViewInput};
use serde::Deserialize;

use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::{AgentSession, Chrome, path_id, render_form};
use crate::session::Session;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/views", post(create))
        .route("/agent/views/{id}", axum::routing::get(edit).post(save))
        .route("/agent/views/{id}/delete", post(delete))
}

#[derive(Debug, Default, Deserialize)]
struct ViewForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    filters: String,
    #[serde(default)]
    column: Vec<String>,
    #[serde(default)]
    team: Vec<String>,
}

impl ViewForm {
    fn input(&self) -> ViewInput {
        ViewInput {
            title: self.title.clone(),
            filters: self.filters.clone(),
            columns: self.column.clone(),
            team_ids: self
                .team
                .iter()
                .filter_map(|id| id.trim().parse().ok())
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "agent/view_edit.html")]
struct EditPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    view: SavedView,
    form: ViewInput,
    teams: Vec<ferrodesk_app::TeamRecord>,
    may_share: bool,
    all_columns: &'static [(&'static str, &'static str)],
    errors: FieldErrors,
}

impl EditPage<'_> {
    fn shows(&self, column: &str) -> bool {
        self.form.columns.iter().any(|shown| shown == column)
    }

    fn shares_with(&self, team: &i64) -> bool {
        self.form.team_ids.contains(team)
    }
}

async fn edit_page(
    state: &AppState,
    session: &Session,
    view: SavedView,
    form: ViewInput,
    errors: FieldErrors,
) -> WebResult<Response> {
    let choices = state.app.bulk_choices(&session.actor).await?;
    let has_errors = !errors.is_empty();
    render_form(
        &EditPage {
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            view,
            form,
            teams: choices.teams,
            may_share: choices.may_share,
            all_columns: &VIEW_COLUMNS,
            errors,
        },
        has_errors,
    )
}

/// Saves the list's filters as a new view, then shows it.
async fn create(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    HtmlForm(form): HtmlForm<ViewForm>,
) -> WebResult<Response> {
    match state
        .app
        .create_view(&session.caller(), &form.input())
        .await
    {
        Ok(id) => Ok(Redirect::to(&format!("/agent/tickets?saved={id}")).into_response()),
        Err(AppError::Invalid(errors)) => {
            let refused = SavedView {
                id: 0,
                title: form.title.clone(),
                filters: form.filters.clone(),
                columns: form.column.clone(),
                team_ids: Vec::new(),
                may_edit: true,
            };
            edit_page(&state, &session, refused, form.input(), errors).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn edit(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let view = state.app.saved_view(&session.actor, path_id(&id)?).await?;
    if !view.may_edit {
        return Err(AppError::Forbidden.into());
    }
    let form = ViewInput {
        title: view.title.clone(),
        filters: view.filters.clone(),
        columns: view.columns.clone(),
        team_ids: view.team_ids.clone(),
    };
    edit_page(&state, &session, view, form, FieldErrors::new()).await
}

async fn save(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
    HtmlForm(form): HtmlForm<ViewForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    match state
        .app
        .update_view(&session.caller(), id, &form.input())
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/agent/tickets?saved={id}")).into_response()),
        Err(AppError::Invalid(errors)) => {
            let view = state.app.saved_view(&session.actor, id).await?;
            edit_page(&state, &session, view, form.input(), errors).await
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
        .delete_view(&session.caller(), path_id(&id)?)
        .await?;
    Ok(Redirect::to("/agent/tickets").into_response())
}
