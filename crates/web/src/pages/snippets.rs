//! Snippets (canned replies) for agents: the list by category with a
//! filter, and the editor. Inserting one into a reply is on the ticket
//! page (`tickets::insert_snippet`).

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{AppError, FieldErrors, SNIPPET_PLACEHOLDERS, SnippetInput, SnippetView};
use serde::Deserialize;

use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::admin::NoticeQuery;
use crate::pages::{AgentSession, Chrome, path_id, render_form};
use crate::session::Session;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/snippets", get(list))
        .route("/agent/snippets/new", get(new_snippet).post(create))
        .route("/agent/snippets/{id}", get(edit).post(save))
        .route("/agent/snippets/{id}/delete", post(delete))
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    q: String,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "agent/snippets.html")]
struct ListPage {
    chrome: Chrome,
    query: String,
    /// Snippets by category, in the library's order.
    categories: Vec<(String, Vec<SnippetView>)>,
    total: usize,
    may_manage_shared: bool,
    notice: Option<&'static str>,
}

/// Whether a snippet matches a filter: every word in its title, shortcut,
/// category or text.
fn matches(snippet: &SnippetView, query: &str) -> bool {
    let record = &snippet.record;
    let haystack = format!(
        "{} /{} {} {}",
        record.title, record.shortcut, record.category, record.body
    )
    .to_lowercase();
    query
        .to_lowercase()
        .split_whitespace()
        .all(|word| haystack.contains(word))
}

async fn list(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Query(query): Query<ListQuery>,
) -> WebResult<Response> {
    let library = state.app.snippet_library(&session.actor).await?;
    let total = library.snippets.len();
    let mut categories: Vec<(String, Vec<SnippetView>)> = Vec::new();
    for snippet in library
        .snippets
        .into_iter()
        .filter(|snippet| matches(snippet, &query.q))
    {
        match categories.last_mut() {
            Some((category, members))
                if category.eq_ignore_ascii_case(&snippet.record.category) =>
            {
                members.push(snippet)
            }
            _ => categories.push((snippet.record.category.clone(), vec![snippet])),
        }
    }
    let notice = NoticeQuery::from(query.notice).text(&[
        ("saved", "The snippet is saved."),
        ("deleted", "The snippet is deleted."),
    ]);
    render_form(
        &ListPage {
            chrome: Chrome::for_session(&session),
            query: query.q,
            categories,
            total,
            may_manage_shared: library.may_manage_shared,
            notice,
        },
        false,
    )
}

#[derive(Debug, Default, Deserialize)]
struct SnippetForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    shortcut: String,
    #[serde(default)]
    body: String,
    /// "1" for a shared snippet (only when creating).
    #[serde(default)]
    shared: String,
}

impl SnippetForm {
    fn input(&self) -> SnippetInput {
        SnippetInput {
            title: self.title.clone(),
            category: self.category.clone(),
            shortcut: self.shortcut.clone(),
            body: self.body.clone(),
            shared: self.shared == "1",
        }
    }
}

#[derive(Template)]
#[template(path = "agent/snippet.html")]
struct EditorPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    /// The snippet being changed; `None` for a new one.
    snippet: Option<SnippetView>,
    form: SnippetForm,
    may_manage_shared: bool,
    placeholders: &'static [&'static str],
    errors: FieldErrors,
}

impl EditorPage<'_> {
    fn action(&self) -> String {
        match &self.snippet {
            Some(snippet) => format!("/agent/snippets/{}", snippet.record.id),
            None => "/agent/snippets/new".to_owned(),
        }
    }
}

async fn editor_page(
    state: &AppState,
    session: &Session,
    snippet: Option<SnippetView>,
    form: SnippetForm,
    errors: FieldErrors,
) -> WebResult<Response> {
    let may_manage_shared = state
        .app
        .snippet_library(&session.actor)
        .await?
        .may_manage_shared;
    let has_errors = !errors.is_empty();
    render_form(
        &EditorPage {
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            snippet,
            form,
            may_manage_shared,
            placeholders: &SNIPPET_PLACEHOLDERS,
            errors,
        },
        has_errors,
    )
}

async fn new_snippet(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
) -> WebResult<Response> {
    editor_page(
        &state,
        &session,
        None,
        SnippetForm::default(),
        FieldErrors::new(),
    )
    .await
}

async fn create(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    HtmlForm(form): HtmlForm<SnippetForm>,
) -> WebResult<Response> {
    match state
        .app
        .create_snippet(&session.caller(), &form.input())
        .await
    {
        Ok(_) => Ok(Redirect::to("/agent/snippets?notice=saved").into_response()),
        Err(AppError::Invalid(errors)) => editor_page(&state, &session, None, form, errors).await,
        Err(other) => Err(other.into()),
    }
}

async fn edit(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let snippet = state.app.snippet(&session.actor, path_id(&id)?).await?;
    if !snippet.may_edit {
        return Err(AppError::Forbidden.into());
    }
    let record = &snippet.record;
    let form = SnippetForm {
        title: record.title.clone(),
        category: record.category.clone(),
        shortcut: record.shortcut.clone(),
        body: record.body.clone(),
        shared: if snippet.shared { "1" } else { "" }.to_owned(),
    };
    editor_page(&state, &session, Some(snippet), form, FieldErrors::new()).await
}

async fn save(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
    HtmlForm(form): HtmlForm<SnippetForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    match state
        .app
        .update_snippet(&session.caller(), id, &form.input())
        .await
    {
        Ok(()) => Ok(Redirect::to("/agent/snippets?notice=saved").into_response()),
        Err(AppError::Invalid(errors)) => {
            let snippet = state.app.snippet(&session.actor, id).await?;
            editor_page(&state, &session, Some(snippet), form, errors).await
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
        .delete_snippet(&session.caller(), path_id(&id)?)
        .await?;
    Ok(Redirect::to("/agent/snippets?notice=deleted").into_response())
}
