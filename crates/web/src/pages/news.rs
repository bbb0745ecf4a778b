//! News for readers: the list, a post, the Atom feed; and search over the
//! knowledge base and news, with suggestions for the new-request form.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferrodesk_app::{AppError, NewsPage, NewsPostRecord, PRODUCT_NAME, SearchResult};
use ferrodesk_core::Timestamp;
use serde::Deserialize;

use crate::AppState;
use crate::error::{WebError, WebResult};
use crate::pages::{Chrome, render, time};
use crate::session::Session;
use crate::text::{t, t_with};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/news", get(list))
        .route("/news.atom", get(feed))
        .route("/news/{slug}", get(post))
        .route("/search", get(search))
        .route("/search/suggestions", get(suggestions))
}

#[derive(Debug, Default, Deserialize)]
struct ListParameters {
    category: Option<String>,
    after: Option<String>,
}

#[derive(Template)]
#[template(path = "help_center/news_list.html")]
struct ListPage {
    chrome: Chrome,
    page: NewsPage,
    category: Option<i64>,
}

impl ListPage {
    fn time(&self, millis: &i64) -> String {
        time(millis)
    }

    fn is_category(&self, id: &i64) -> bool {
        self.category == Some(*id)
    }

    fn next_link(&self) -> Option<String> {
        let next = self.page.next.as_deref()?;
        Some(match self.category {
            Some(category) => format!("/news?category={category}&after={next}"),
            None => format!("/news?after={next}"),
        })
    }
}

async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(parameters): Query<ListParameters>,
) -> WebResult<Response> {
    let category = match parameters.category.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(
            text.parse()
                .map_err(|_| WebError::BadRequest(t("news-no-such-category").into()))?,
        ),
    };
    let page = state
        .app
        .news_page(category, parameters.after.as_deref())
        .await?;
    render(&ListPage {
        chrome: Chrome::for_session(&session),
        page,
        category,
    })
}

#[derive(Template)]
#[template(path = "help_center/news_post.html")]
struct PostPage {
    chrome: Chrome,
    post: NewsPostRecord,
}

impl PostPage {
    fn time(&self, millis: &i64) -> String {
        time(millis)
    }
}

async fn post(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
) -> WebResult<Response> {
    render(&PostPage {
        chrome: Chrome::for_session(&session),
        post: state.app.news_post(&slug).await?,
    })
}

/// Escapes text for XML content and attribute values.
fn xml(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '&' => escaped.push_str("&amp;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0 at all.
            character if character.is_control() && !matches!(character, '\n' | '\t' | '\r') => {}
            other => escaped.push(other),
        }
    }
    escaped
}

/// The newest published posts as an Atom 1.0 feed.
async fn feed(State(state): State<AppState>) -> WebResult<Response> {
    let page = state.app.news_page(None, None).await?;
    let base = state.app.public_url().trim_end_matches('/').to_owned();
    let updated = page
        .posts
        .iter()
        .map(|post| post.updated_at)
        .max()
        .unwrap_or(0);
    let mut body = String::with_capacity(4096);
    body.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    body.push_str(&format!(
        "<title>{}</title>\n<id>{base}/news</id>\n<link rel=\"self\" href=\"{base}/news.atom\"/>\n<link href=\"{base}/news\"/>\n<updated>{}</updated>\n",
        xml(&t_with("news-feed-title", &[("product", &PRODUCT_NAME)])),
        Timestamp(updated).rfc3339()
    ));
    for post in &page.posts {
        let link = format!("{base}/news/{}", post.slug);
        body.push_str(&format!(
            "<entry>\n<title>{}</title>\n<id>{}</id>\n<link href=\"{}\"/>\n<published>{}</published>\n<updated>{}</updated>\n<author><name>{}</name></author>\n<content type=\"html\">{}</content>\n</entry>\n",
            xml(&post.title),
            xml(&link),
            xml(&link),
            Timestamp(post.published_at.unwrap_or(post.created_at)).rfc3339(),
            Timestamp(post.updated_at).rfc3339(),
            xml(post.author_name.as_deref().unwrap_or(PRODUCT_NAME)),
            xml(&post.body_html),
        ));
    }
    body.push_str("</feed>\n");
    Ok((
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        body,
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
struct SearchParameters {
    #[serde(default)]
    q: String,
    #[serde(default)]
    kind: String,
}

#[derive(Template)]
#[template(path = "help_center/search.html")]
struct SearchPage {
    chrome: Chrome,
    query: String,
    kind: String,
    results: Vec<SearchResult>,
    /// The respelt query the results are for, when the typed one found
    /// nothing.
    corrected_query: Option<String>,
}

/// Longest query read; the rest is ignored.
const MAX_QUERY_CHARS: usize = 200;

fn clipped(text: &str) -> String {
    text.chars().take(MAX_QUERY_CHARS).collect()
}

async fn search(
    State(state): State<AppState>,
    session: Session,
    Query(parameters): Query<SearchParameters>,
) -> WebResult<Response> {
    let query = clipped(&parameters.q);
    let outcome = state.app.search(&query, &parameters.kind).await?;
    render(&SearchPage {
        chrome: Chrome::for_session(&session),
        query,
        kind: parameters.kind,
        results: outcome.results,
        corrected_query: outcome.corrected_query,
    })
}

#[derive(Debug, Default, Deserialize)]
struct SuggestionParameters {
    #[serde(default)]
    subject: String,
}

#[derive(serde::Serialize)]
struct Suggestion {
    title: String,
    path: String,
}

/// Articles matching a subject being typed, as JSON for the new-request
/// form's script.
async fn suggestions(
    State(state): State<AppState>,
    Query(parameters): Query<SuggestionParameters>,
) -> WebResult<Response> {
    let results = state
        .app
        .suggest_articles(&clipped(&parameters.subject))
        .await
        .map_err(|error| match error {
            AppError::Invalid(_) => WebError::BadRequest(t("search-unreadable-subject").into()),
            other => other.into(),
        })?;
    let suggestions: Vec<Suggestion> = results
        .into_iter()
        .map(|result| Suggestion {
            title: result.title,
            path: result.path,
        })
        .collect();
    Ok(axum::Json(serde_json::json!({ "suggestions": suggestions })).into_response())
}
