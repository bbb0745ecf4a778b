//! News authoring for agents with `content.manage`: the post list with
//! categories, and the post editor with preview.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{
    ARTICLE_STATUSES, AppError, ArticleInput, FieldErrors, NewsCategoryRecord, NewsPostRecord,
};

use serde::Deserialize;

use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::admin::NoticeQuery;
use crate::pages::authoring::ArticleForm;
use crate::pages::{AgentSession, Chrome, path_id, render_form, time};
use crate::session::Session;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/news", get(overview))
        .route("/agent/news/new", get(new_post).post(create_post))
        .route("/agent/news/{id}", get(edit_post).post(save_post))
        .route("/agent/news/categories", post(create_category))
        .route("/agent/news/categories/{id}/delete", post(delete_category))
}

#[derive(Template)]
#[template(path = "agent/news.html")]
struct OverviewPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    posts: Vec<NewsPostRecord>,
    categories: Vec<NewsCategoryRecord>,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

impl OverviewPage<'_> {
    fn time(&self, millis: &i64) -> String {
        time(millis)
    }
}

async fn overview_page(
    state: &AppState,
    session: &Session,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    let (posts, categories) = state.app.news_for_authors(&session.actor).await?;
    let has_errors = !errors.is_empty();
    render_form(
        &OverviewPage {
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            posts,
            categories,
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
        ("category_saved", "The category is added."),
        (
            "category_deleted",
            "The category is deleted; its posts keep none.",
        ),
    ]);
    overview_page(&state, &session, FieldErrors::new(), notice).await
}

#[derive(Debug, Default, Deserialize)]
struct CreateCategoryForm {
    #[serde(default)]
    name: String,
}
async fn create_category(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    HtmlForm(fields): HtmlForm<CreateCategoryForm>,
) -> WebResult<Response> {
    match state
        .app
        .create_news_category(&session.caller(), fields.name.as_str())
        .await
    {
        Ok(_) => Ok(Redirect::to("/agent/news?notice=category_saved").into_response()),
        Err(AppError::Invalid(errors)) => overview_page(&state, &session, errors, None).await,
        Err(other) => Err(other.into()),
    }
}

async fn delete_category(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    state
        .app
        .delete_news_category(&session.caller(), id)
        .await?;
    Ok(Redirect::to("/agent/news?notice=category_deleted").into_response())
}

#[derive(Template)]
#[template(path = "agent/news_post.html")]
struct EditorPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    action: String,
    post: Option<NewsPostRecord>,
    input: ArticleInput,
    categories: Vec<NewsCategoryRecord>,
    statuses: [(&'static str, &'static str); 3],
    preview: Option<String>,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

impl EditorPage<'_> {
    fn is_category(&self, id: &i64) -> bool {
        self.input.category_id == id.to_string()
    }
}

async fn editor_page(
    state: &AppState,
    session: &Session,
    id: Option<i64>,
    input: ArticleInput,
    preview: Option<String>,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    let post = match id {
        Some(id) => Some(state.app.news_editor(&session.actor, id).await?),
        None => None,
    };
    let (_, categories) = state.app.news_for_authors(&session.actor).await?;
    let has_errors = !errors.is_empty();
    render_form(
        &EditorPage {
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            action: id.map_or("/agent/news/new".to_owned(), |id| {
                format!("/agent/news/{id}")
            }),
            post,
            input,
            categories,
            statuses: ARTICLE_STATUSES,
            preview,
            errors,
            notice,
        },
        has_errors,
    )
}

async fn new_post(
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
        None,
        input,
        None,
        FieldErrors::new(),
        None,
    )
    .await
}

async fn edit_post(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let post = state.app.news_editor(&session.actor, id).await?;
    let input = ArticleInput {
        title: post.title,
        slug: post.slug,
        category_id: post
            .category_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        content: post.body_markdown,
        status: post.status,
    };
    let notice = query.text(&[("saved", "The post is saved.")]);
    editor_page(
        &state,
        &session,
        Some(id),
        input,
        None,
        FieldErrors::new(),
        notice,
    )
    .await
}

async fn write_post(
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
            id,
            input,
            Some(preview),
            FieldErrors::new(),
            None,
        )
        .await;
    }
    match state
        .app
        .save_news_post(&session.caller(), id, &input)
        .await
    {
        Ok(saved) => Ok(Redirect::to(&format!("/agent/news/{saved}?notice=saved")).into_response()),
        Err(AppError::Invalid(errors)) => {
            editor_page(state, session, id, input, None, errors, None).await
        }
        Err(other) => Err(other.into()),
    }
}

async fn create_post(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    HtmlForm(form): HtmlForm<ArticleForm>,
) -> WebResult<Response> {
    write_post(&state, &session, None, form).await
}

async fn save_post(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
    HtmlForm(form): HtmlForm<ArticleForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    write_post(&state, &session, Some(id), form).await
}
