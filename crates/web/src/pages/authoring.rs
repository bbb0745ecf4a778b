//! Knowledge-base authoring for agents with `content.manage`: the article
//! list and categories, the article editor with preview and history, and
//! the comment queue.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{
    ARTICLE_STATUSES, AppError, ArticleCommentRecord, ArticleEditor, ArticleInput, ArticleSummary,
    CategoryNode, FieldErrors,
};

use serde::Deserialize;

use crate::AppState;
use crate::error::{WebError, WebResult};
use crate::forms::HtmlForm;
use crate::pages::admin::NoticeQuery;
use crate::pages::{AgentSession, Chrome, answer_form, path_id, render, render_form, time};
use crate::session::Session;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/kb", get(overview))
        .route(
            "/agent/kb/articles/new",
            get(new_article).post(create_article),
        )
        .route(
            "/agent/kb/articles/{id}",
            get(edit_article).post(save_article),
        )
        .route("/agent/kb/categories", post(create_category))
        .route("/agent/kb/categories/{id}", post(update_category))
        .route("/agent/kb/categories/{id}/delete", post(delete_category))
        .route("/agent/kb/comments", get(comments))
        .route("/agent/kb/comments/{id}/{decision}", post(moderate))
}

fn optional_id(text: &str) -> WebResult<Option<i64>> {
    match text.trim() {
        "" => Ok(None),
        text => text
            .parse()
            .map(Some)
            .map_err(|_| WebError::BadRequest("Choose a category from the list.".into())),
    }
}

#[derive(Template)]
#[template(path = "agent/kb.html")]
struct OverviewPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    articles: Vec<ArticleSummary>,
    categories: Vec<CategoryNode>,
    pending_comments: usize,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

impl OverviewPage<'_> {
    fn time(&self, millis: &i64) -> String {
        time(millis)
    }

    fn category_name(&self, id: &i64) -> &str {
        self.categories
            .iter()
            .find(|node| node.category.id == *id)
            .map_or("", |node| node.category.name.as_str())
    }

    fn is_parent(&self, node: &CategoryNode, id: &i64) -> bool {
        node.category.parent_id == Some(*id)
    }
}

async fn overview_page(
    state: &AppState,
    session: &Session,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    let articles = state.app.articles_for_authors(&session.actor).await?;
    let has_errors = !errors.is_empty();
    render_form(
        &OverviewPage {
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            categories: state.app.article_categories(&session.actor).await?,
            pending_comments: state.app.comment_queue(&session.actor).await?.len(),
            articles,
            errors,
            notice,
        },
        has_errors,
    )
}

async fn overview(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let notice = query.text(&[
        ("category_saved", "The category is saved."),
        ("category_deleted", "The category is deleted."),
    ]);
    overview_page(&state, &session, FieldErrors::new(), notice).await
}

/// Answers a category form: back to the overview, or the overview with the
/// errors or the conflict.
async fn answer_category(
    state: &AppState,
    session: &Session,
    outcome: Result<&'static str, AppError>,
) -> WebResult<Response> {
    let next = outcome.map(|notice| format!("/agent/kb?notice={notice}"));
    answer_form(next, "category", |errors| {
        overview_page(state, session, errors, None)
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
struct CreateCategoryForm {
    #[serde(default)]
    description: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    parent: String,
    #[serde(default)]
    position: String,
}
async fn create_category(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    HtmlForm(fields): HtmlForm<CreateCategoryForm>,
) -> WebResult<Response> {
    let outcome = state
        .app
        .create_article_category(
            &session.caller(),
            fields.name.as_str(),
            fields.description.as_str(),
            optional_id(fields.parent.as_str())?,
            fields.position.as_str(),
        )
        .await
        .map(|_| "category_saved");
    answer_category(&state, &session, outcome).await
}

#[derive(Debug, Default, Deserialize)]
struct UpdateCategoryForm {
    #[serde(default)]
    description: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    parent: String,
    #[serde(default)]
    position: String,
}
async fn update_category(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
    HtmlForm(fields): HtmlForm<UpdateCategoryForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let outcome = state
        .app
        .update_article_category(
            &session.caller(),
            id,
            fields.name.as_str(),
            fields.description.as_str(),
            optional_id(fields.parent.as_str())?,
            fields.position.as_str(),
        )
        .await
        .map(|()| "category_saved");
    answer_category(&state, &session, outcome).await
}

async fn delete_category(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let outcome = state
        .app
        .delete_article_category(&session.caller(), id)
        .await
        .map(|()| "category_deleted");
    answer_category(&state, &session, outcome).await
}

#[derive(Template)]
#[template(path = "agent/article.html")]
struct EditorPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    /// Where the form goes.
    action: String,
    editor: Option<ArticleEditor>,
    input: ArticleInput,
    categories: Vec<CategoryNode>,
    statuses: [(&'static str, &'static str); 3],
    preview: Option<String>,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

impl EditorPage<'_> {
    fn time(&self, millis: &i64) -> String {
        time(millis)
    }

    fn is_category(&self, id: &i64) -> bool {
        self.input.category_id == id.to_string()
    }
}

struct EditorState {
    id: Option<i64>,
    input: ArticleInput,
    preview: Option<String>,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

async fn editor_page(
    state: &AppState,
    session: &Session,
    editor_state: EditorState,
) -> WebResult<Response> {
    let editor = match editor_state.id {
        Some(id) => Some(state.app.article_editor(&session.actor, id).await?),
        None => None,
    };
    let has_errors = !editor_state.errors.is_empty();
    render_form(
        &EditorPage {
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            action: editor_state
                .id
                .map_or("/agent/kb/articles/new".to_owned(), |id| {
                    format!("/agent/kb/articles/{id}")
                }),
            editor,
            input: editor_state.input,
            categories: state.app.article_categories(&session.actor).await?,
            statuses: ARTICLE_STATUSES,
            preview: editor_state.preview,
            errors: editor_state.errors,
            notice: editor_state.notice,
        },
        has_errors,
    )
}

/// The editor of an article or a news post as sent: its text, and whether
/// the author asked for a preview rather than to save.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ArticleForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    intent: String,
}

impl ArticleForm {
    /// Whether the author asked to see it rendered rather than saved.
    pub(crate) fn wants_preview(&self) -> bool {
        self.intent == "preview"
    }

    pub(crate) fn input(self) -> ArticleInput {
        ArticleInput {
            title: self.title,
            slug: self.slug,
            category_id: self.category,
            content: self.content,
            status: self.status,
        }
    }
}

async fn new_article(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
) -> WebResult<Response> {
    let input = ArticleInput {
        status: "draft".to_owned(),
        ..ArticleInput::default()
    };
    editor_page(
        &state,
        &session,
        EditorState {
            id: None,
            input,
            preview: None,
            errors: FieldErrors::new(),
            notice: None,
        },
    )
    .await
}

async fn edit_article(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let editor = state.app.article_editor(&session.actor, id).await?;
    let article = &editor.article;
    let input = ArticleInput {
        title: article.title.clone(),
        slug: article.slug.clone(),
        category_id: article.category_id.to_string(),
        content: article.body_markdown.clone(),
        status: article.status.clone(),
    };
    editor_page(
        &state,
        &session,
        EditorState {
            id: Some(id),
            input,
            preview: None,
            errors: FieldErrors::new(),
            notice: query.text(&[("saved", "The article is saved.")]),
        },
    )
    .await
}

/// Saves the article, or shows the preview when the preview button sent
/// the form (nothing is saved then).
async fn write_article(
    state: &AppState,
    session: &Session,
    id: Option<i64>,
    form: ArticleForm,
) -> WebResult<Response> {
    let preview_asked = form.wants_preview();
    let input = form.input();
    if preview_asked {
        let preview = state
            .app
            .preview_article(&session.actor, &input.content)
            .await?;
        return editor_page(
            state,
            session,
            EditorState {
                id,
                input,
                preview: Some(preview),
                errors: FieldErrors::new(),
                notice: None,
            },
        )
        .await;
    }
    match state.app.save_article(&session.caller(), id, &input).await {
        Ok(saved) => {
            Ok(Redirect::to(&format!("/agent/kb/articles/{saved}?notice=saved")).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            editor_page(
                state,
                session,
                EditorState {
                    id,
                    input,
                    preview: None,
                    errors,
                    notice: None,
                },
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

async fn create_article(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    HtmlForm(form): HtmlForm<ArticleForm>,
) -> WebResult<Response> {
    write_article(&state, &session, None, form).await
}

async fn save_article(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
    HtmlForm(form): HtmlForm<ArticleForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    write_article(&state, &session, Some(id), form).await
}

#[derive(Template)]
#[template(path = "agent/kb_comments.html")]
struct CommentsPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    comments: Vec<ArticleCommentRecord>,
    notice: Option<&'static str>,
}

impl CommentsPage<'_> {
    fn time(&self, millis: &i64) -> String {
        time(millis)
    }
}

async fn comments(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let comments = state.app.comment_queue(&session.actor).await?;
    render(&CommentsPage {
        chrome: Chrome::for_session(&session),
        csrf_token: &session.csrf_token,
        comments,
        notice: query.text(&[
            ("approve", "The comment is published."),
            ("reject", "The comment is rejected."),
        ]),
    })
}

async fn moderate(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path((id, decision)): Path<(String, String)>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let approve = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(AppError::NotFound.into()),
    };
    state
        .app
        .moderate_comment(&session.caller(), id, approve)
        .await?;
    Ok(Redirect::to(&format!("/agent/kb/comments?notice={decision}")).into_response())
}
