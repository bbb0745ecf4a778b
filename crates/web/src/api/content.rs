//! Knowledge base and news through the API, for agents who manage content
//! (the same permission as the authoring pages): every status, not only
//! what the help center publishes.

use axum::extract::{Path, State};
use axum::response::Response;
use ferrodesk_app::{ArticleInput, ArticleRecord, ArticleSummary, NewsPostRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::directory::PageParams;
use super::reference::whole_list;
use super::{
    ApiJson, ApiQuery, ApiRequest, ApiResult, ListMeta, ObjectMeta, created, page_of, path_id, time,
};
use crate::AppState;

/// An article; `content` and `body_html` only on a single article.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Article {
    pub id: i64,
    pub category: i64,
    pub title: String,
    pub slug: String,
    /// `draft`, `published` or `archived`.
    pub status: String,
    pub view_count: i64,
    /// The markdown source.
    pub content: Option<String>,
    /// The sanitized HTML readers see.
    pub body_html: Option<String>,
    pub helpful_yes: Option<i64>,
    pub helpful_no: Option<i64>,
    pub updated_at: String,
    pub published_at: Option<String>,
}

impl Article {
    fn from_summary(article: ArticleSummary) -> Article {
        Article {
            id: article.id,
            category: article.category_id,
            title: article.title,
            slug: article.slug,
            status: article.status,
            view_count: article.view_count,
            content: None,
            body_html: None,
            helpful_yes: None,
            helpful_no: None,
            updated_at: time(article.updated_at),
            published_at: None,
        }
    }

    fn from_record(article: ArticleRecord) -> Article {
        Article {
            id: article.id,
            category: article.category_id,
            title: article.title,
            slug: article.slug,
            status: article.status,
            view_count: article.view_count,
            content: Some(article.body_markdown),
            body_html: Some(article.body_html),
            helpful_yes: Some(article.helpful_yes),
            helpful_no: Some(article.helpful_no),
            updated_at: time(article.updated_at),
            published_at: article.published_at.map(time),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ArticleEnvelope {
    pub data: Article,
    pub meta: ObjectMeta,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ArticleListEnvelope {
    pub data: Vec<Article>,
    pub meta: ListMeta,
}

/// Every article, newest change first.
#[utoipa::path(get, path = "/api/v2/articles", tag = "content",
    params(PageParams),
    responses(
        (status = 200, body = ArticleListEnvelope),
        (status = 400, body = super::ApiErrorBody),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn articles(
    State(state): State<AppState>,
    request: ApiRequest,
    ApiQuery(params): ApiQuery<PageParams>,
) -> ApiResult<axum::Json<ArticleListEnvelope>> {
    request.scope("articles.list")?;
    let paging = params.paging()?;
    let articles = state
        .app
        .articles_for_authors(&request.caller.actor)
        .await?;
    let (rows, meta) = page_of(articles, &paging);
    Ok(axum::Json(ArticleListEnvelope {
        data: rows.into_iter().map(Article::from_summary).collect(),
        meta,
    }))
}

async fn article_by_id(state: &AppState, request: &ApiRequest, id: i64) -> ApiResult<Article> {
    let editor = state.app.article_editor(&request.caller.actor, id).await?;
    Ok(Article::from_record(editor.article))
}

/// One article with its text.
#[utoipa::path(get, path = "/api/v2/articles/{id}", tag = "content",
    params(("id" = i64, Path, minimum = 1, example = 1)),
    responses(
        (status = 200, body = ArticleEnvelope),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 404, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn article(
    State(state): State<AppState>,
    request: ApiRequest,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<ArticleEnvelope>> {
    request.scope("articles.view")?;
    let id = path_id(&id)?;
    Ok(axum::Json(ArticleEnvelope {
        data: article_by_id(&state, &request, id).await?,
        meta: ObjectMeta::default(),
    }))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct NewArticleBody {
    #[schema(
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff]*[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff][^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff]*$"
    )]
    pub title: String,
    /// Markdown; raw HTML shows as text.
    #[schema(pattern = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$")]
    pub content: String,
    /// `draft` (the default), `published` or `archived`.
    #[schema(pattern = "^(draft|published|archived)$")]
    pub status: Option<String>,
    /// A category id (see `/api/v2/article_categories`).
    #[schema(minimum = 1)]
    pub category: i64,
    /// The address; made from the title when left out.
    #[schema(
        max_length = 80,
        pattern = "^([A-Za-z0-9]([A-Za-z0-9-]{0,78}[A-Za-z0-9])?)?$"
    )]
    pub slug: Option<String>,
}

/// Writes an article; every save is a revision.
#[utoipa::path(post, path = "/api/v2/articles", tag = "content",
    request_body = NewArticleBody,
    responses(
        (status = 201, body = ArticleEnvelope, headers(("Location" = String))),
        (status = 400, body = super::ApiErrorBody),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 415, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn create_article(
    State(state): State<AppState>,
    request: ApiRequest,
    ApiJson(body): ApiJson<NewArticleBody>,
) -> ApiResult<Response> {
    request.scope("articles.create")?;
    let input = ArticleInput {
        title: body.title,
        slug: body.slug.unwrap_or_default(),
        category_id: body.category.to_string(),
        content: body.content,
        status: body.status.unwrap_or_else(|| "draft".to_owned()),
    };
    let id = state
        .app
        .save_article(&request.actor_caller(), None, &input)
        .await?;
    Ok(created(
        format!("/api/v2/articles/{id}"),
        ArticleEnvelope {
            data: article_by_id(&state, &request, id).await?,
            meta: ObjectMeta::default(),
        },
    ))
}

/// What to change; anything left out stays.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct ArticleChangeBody {
    #[schema(
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff]*[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff][^\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f\\ufeff]*$"
    )]
    pub title: Option<String>,
    #[schema(pattern = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$")]
    pub content: Option<String>,
    #[schema(pattern = "^(draft|published|archived)$")]
    pub status: Option<String>,
    #[schema(minimum = 1)]
    pub category: Option<i64>,
    #[schema(
        max_length = 80,
        pattern = "^([A-Za-z0-9]([A-Za-z0-9-]{0,78}[A-Za-z0-9])?)?$"
    )]
    pub slug: Option<String>,
}

/// Changes an article; the save is a new revision.
#[utoipa::path(patch, path = "/api/v2/articles/{id}", tag = "content",
    params(("id" = i64, Path, minimum = 1, example = 1)),
    request_body = ArticleChangeBody,
    responses(
        (status = 200, body = ArticleEnvelope),
        (status = 400, body = super::ApiErrorBody),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 404, body = super::ApiErrorBody),
        (status = 415, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn update_article(
    State(state): State<AppState>,
    request: ApiRequest,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ArticleChangeBody>,
) -> ApiResult<axum::Json<ArticleEnvelope>> {
    request.scope("articles.update")?;
    let id = path_id(&id)?;
    let current = state
        .app
        .article_editor(&request.caller.actor, id)
        .await?
        .article;
    let input = ArticleInput {
        title: body.title.unwrap_or(current.title),
        slug: body.slug.unwrap_or(current.slug),
        category_id: body.category.unwrap_or(current.category_id).to_string(),
        content: body.content.unwrap_or(current.body_markdown),
        status: body.status.unwrap_or(current.status),
    };
    state
        .app
        .save_article(&request.actor_caller(), Some(id), &input)
        .await?;
    Ok(axum::Json(ArticleEnvelope {
        data: article_by_id(&state, &request, id).await?,
        meta: ObjectMeta::default(),
    }))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ArticleCategory {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub name: String,
    pub description: String,
    /// Published articles directly in it.
    pub published_count: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ArticleCategoryListEnvelope {
    pub data: Vec<ArticleCategory>,
    pub meta: ListMeta,
}

/// Every knowledge-base category, parents before children.
#[utoipa::path(get, path = "/api/v2/article_categories", tag = "content",
    responses(
        (status = 200, body = ArticleCategoryListEnvelope),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn article_categories(
    State(state): State<AppState>,
    request: ApiRequest,
) -> ApiResult<axum::Json<ArticleCategoryListEnvelope>> {
    request.scope("article_categories.list")?;
    let categories = state.app.article_categories(&request.caller.actor).await?;
    let meta = whole_list(categories.len());
    Ok(axum::Json(ArticleCategoryListEnvelope {
        data: categories
            .into_iter()
            .map(|node| ArticleCategory {
                id: node.category.id,
                parent_id: node.category.parent_id,
                name: node.category.name,
                description: node.category.description,
                published_count: node.category.published_count,
            })
            .collect(),
        meta,
    }))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct NewsPost {
    pub id: i64,
    pub category: Option<Named>,
    pub title: String,
    pub slug: String,
    pub status: String,
    pub content: String,
    pub body_html: String,
    pub author_name: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub published_at: Option<String>,
}

use super::tickets::Named;

impl NewsPost {
    fn from_record(post: NewsPostRecord) -> NewsPost {
        NewsPost {
            id: post.id,
            category: post.category_id.map(|id| Named {
                id,
                name: post.category_name.unwrap_or_default(),
            }),
            title: post.title,
            slug: post.slug,
            status: post.status,
            content: post.body_markdown,
            body_html: post.body_html,
            author_name: post.author_name,
            created_at: time(post.created_at),
            updated_at: time(post.updated_at),
            published_at: post.published_at.map(time),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct NewsEnvelope {
    pub data: NewsPost,
    pub meta: ObjectMeta,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct NewsListEnvelope {
    pub data: Vec<NewsPost>,
    pub meta: ListMeta,
}

/// Every news post, newest first.
#[utoipa::path(get, path = "/api/v2/news", tag = "content",
    params(PageParams),
    responses(
        (status = 200, body = NewsListEnvelope),
        (status = 400, body = super::ApiErrorBody),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn news(
    State(state): State<AppState>,
    request: ApiRequest,
    ApiQuery(params): ApiQuery<PageParams>,
) -> ApiResult<axum::Json<NewsListEnvelope>> {
    request.scope("news.list")?;
    let paging = params.paging()?;
    let (posts, _) = state.app.news_for_authors(&request.caller.actor).await?;
    let (rows, meta) = page_of(posts, &paging);
    Ok(axum::Json(NewsListEnvelope {
        data: rows.into_iter().map(NewsPost::from_record).collect(),
        meta,
    }))
}

/// One news post.
#[utoipa::path(get, path = "/api/v2/news/{id}", tag = "content",
    params(("id" = i64, Path, minimum = 1, example = 1)),
    responses(
        (status = 200, body = NewsEnvelope),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 404, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn news_post(
    State(state): State<AppState>,
    request: ApiRequest,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<NewsEnvelope>> {
    request.scope("news.view")?;
    let id = path_id(&id)?;
    let post = state.app.news_editor(&request.caller.actor, id).await?;
    Ok(axum::Json(NewsEnvelope {
        data: NewsPost::from_record(post),
        meta: ObjectMeta::default(),
    }))
}

/// The same as PATCH: fields left out stay as they are.
#[utoipa::path(put, path = "/api/v2/articles/{id}", tag = "content",
    params(("id" = i64, Path, minimum = 1, example = 1)),
    request_body = ArticleChangeBody,
    responses(
        (status = 200, body = ArticleEnvelope),
        (status = 400, body = super::ApiErrorBody),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 404, body = super::ApiErrorBody),
        (status = 415, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn replace_article(
    State(state): State<AppState>,
    request: ApiRequest,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ArticleChangeBody>,
) -> ApiResult<axum::Json<ArticleEnvelope>> {
    update_article(State(state), request, Path(id), ApiJson(body)).await
}
