//! The knowledge base as visitors read it: the category tree with popular
//! articles, a category, an article with its votes and comments.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{
    AppError, ArticlePage, CategoryPage, FieldErrors, KnowledgeBaseHome, voter_key,
};

use serde::Deserialize;

use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::admin::NoticeQuery;
use crate::pages::{Chrome, path_id, render, render_form, time};
use crate::session::Session;
use crate::text::t;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/kb", get(home))
        .route("/kb/categories/{id}", get(category))
        .route("/kb/articles/{slug}", get(article))
        .route("/kb/articles/{slug}/vote", post(vote))
        .route("/kb/articles/{slug}/comments", post(comment))
}

#[derive(Template)]
#[template(path = "help_center/kb_home.html")]
struct HomePage {
    chrome: Chrome,
    kb: KnowledgeBaseHome,
}

async fn home(State(state): State<AppState>, session: Session) -> WebResult<Response> {
    render(&HomePage {
        chrome: Chrome::for_session(&session),
        kb: state.app.knowledge_base_home().await?,
    })
}

#[derive(Template)]
#[template(path = "help_center/kb_category.html")]
struct CategoryView {
    chrome: Chrome,
    page: CategoryPage,
}

async fn category(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    render(&CategoryView {
        chrome: Chrome::for_session(&session),
        page: state.app.knowledge_base_category(id).await?,
    })
}

#[derive(Template)]
#[template(path = "help_center/kb_article.html")]
struct ArticleView<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    page: ArticlePage,
    typed_comment: String,
    errors: FieldErrors,
    notice: Option<String>,
}

impl ArticleView<'_> {
    fn time(&self, millis: &i64) -> String {
        time(millis)
    }

    fn voted(&self, helpful: bool) -> bool {
        self.page.own_vote == Some(helpful)
    }
}

async fn article_page(
    state: &AppState,
    session: &Session,
    slug: &str,
    typed_comment: String,
    errors: FieldErrors,
    notice: Option<String>,
) -> WebResult<Response> {
    // A visitor who brought no token cannot have voted yet.
    let voter = (!session.new_visitor).then(|| voter_key(&session.actor, session.token.expose()));
    let page = state
        .app
        .knowledge_base_article(&session.actor, slug, voter.as_deref())
        .await?;
    let has_errors = !errors.is_empty();
    render_form(
        &ArticleView {
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            page,
            typed_comment,
            errors,
            notice,
        },
        has_errors,
    )
}

async fn article(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let notice = query.text(&[
        ("voted", t("kb-notice-voted")),
        ("commented", t("kb-notice-commented")),
    ]);
    article_page(
        &state,
        &session,
        &slug,
        String::new(),
        FieldErrors::new(),
        notice,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
struct VoteForm {
    #[serde(default)]
    helpful: String,
}
async fn vote(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    HtmlForm(fields): HtmlForm<VoteForm>,
) -> WebResult<Response> {
    let voter = voter_key(&session.actor, session.token.expose());
    state
        .app
        .vote_on_article(&slug, &voter, fields.helpful.as_str() == "1")
        .await?;
    Ok(Redirect::to(&format!("/kb/articles/{slug}?notice=voted#feedback")).into_response())
}

#[derive(Debug, Default, Deserialize)]
struct CommentForm {
    #[serde(default)]
    comment: String,
}
async fn comment(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    HtmlForm(fields): HtmlForm<CommentForm>,
) -> WebResult<Response> {
    let body = fields.comment.as_str().to_owned();
    match state
        .app
        .comment_on_article(&session.actor, &slug, &body)
        .await
    {
        Ok(()) => Ok(
            Redirect::to(&format!("/kb/articles/{slug}?notice=commented#comments")).into_response(),
        ),
        Err(AppError::Invalid(errors)) => {
            article_page(&state, &session, &slug, body, errors, None).await
        }
        Err(other) => Err(other.into()),
    }
}
