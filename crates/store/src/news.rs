//! News posts with optional categories; published posts are in the search
//! index.

use ferrodesk_core::Timestamp;

use crate::audit::NewAuditEntry;
use crate::backend::BeginWrite;
use crate::{Store, StoreError, StoreResult, on_backend};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NewsCategoryRecord {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NewsPostRecord {
    pub id: i64,
    pub category_id: Option<i64>,
    pub category_name: Option<String>,
    pub title: String,
    pub slug: String,
    pub body_markdown: String,
    pub body_html: String,
    pub status: String,
    pub author_name: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub published_at: Option<i64>,
}

macro_rules! news_query {
    ($tail:literal) => {
        concat!(
            "SELECT n.id, n.category_id, c.name AS category_name, n.title, n.slug, n.body_markdown, ",
            "n.body_html, n.status, p.name AS author_name, n.created_at, n.updated_at, n.published_at ",
            "FROM news_posts n LEFT JOIN news_categories c ON c.id = n.category_id ",
            "LEFT JOIN people p ON p.id = n.author_id ",
            $tail
        )
    };
}

/// A news post as saved by an agent.
#[derive(Debug, Clone)]
pub struct NewsWrite<'a> {
    pub category_id: Option<i64>,
    pub title: &'a str,
    pub slug: &'a str,
    pub body_markdown: &'a str,
    pub body_html: &'a str,
    /// The body as plain text, for the search index and its snippets.
    pub search_text: &'a str,
    pub status: &'a str,
    pub author_id: Option<i64>,
}

impl NewsWrite<'_> {
    fn searchable(&self) -> Option<(&str, &str)> {
        (self.status == "published").then_some((self.title, self.search_text))
    }
}

impl News<'_> {
    pub async fn list_news_categories(&self) -> StoreResult<Vec<NewsCategoryRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, NewsCategoryRecord>("SELECT id, name FROM news_categories ORDER BY name_normalized, id")
                .fetch_all(pool)
                .await?
        }))
    }

    pub async fn create_news_category(
        &self,
        name: &str,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<i64> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO news_categories (name, name_normalized, created_at) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(name)
            .bind(name.to_lowercase())
            .bind(now.millis())
            .fetch_one(&mut *transaction)
            .await
            .map_err(|error| StoreError::from_insert(error, "a news category with this name"))?;
            let audit = NewAuditEntry { target_id: Some(id), ..audit.clone() };
            crate::audit::insert_audit(&mut transaction, &audit, now).await?;
            transaction.commit().await?;
            Ok(id)
        })
    }

    /// Deletes a category; its posts keep no category.
    pub async fn delete_news_category(
        &self,
        id: i64,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(on_backend!(self, pool => {
            crate::audit::audited_statement!(
                pool,
                sqlx::query("DELETE FROM news_categories WHERE id = $1").bind(id),
                audit,
                now
            )
        }))
    }

    /// Creates (`id` None) or saves a post, keeping the search index in
    /// step; a taken slug is a `Conflict`. Returns the id, or `None` when
    /// there is no such post.
    pub async fn write_news_post(
        &self,
        id: Option<i64>,
        post: &NewsWrite<'_>,
        now: Timestamp,
    ) -> StoreResult<Option<i64>> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let written: Option<i64> = match id {
                None => Some(
                    sqlx::query_scalar(
                        "INSERT INTO news_posts (category_id, title, slug, body_markdown, body_html, status, author_id, \
                             created_at, updated_at, published_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, CASE WHEN $6 = 'published' THEN $8 END) RETURNING id",
                    )
                    .bind(post.category_id)
                    .bind(post.title)
                    .bind(post.slug)
                    .bind(post.body_markdown)
                    .bind(post.body_html)
                    .bind(post.status)
                    .bind(post.author_id)
                    .bind(now.millis())
                    .fetch_one(&mut *transaction)
                    .await
                    .map_err(|error| StoreError::from_insert(error, "a news post with this address"))?,
                ),
                Some(id) => sqlx::query_scalar(
                    "UPDATE news_posts SET category_id = $1, title = $2, slug = $3, body_markdown = $4, body_html = $5, \
                         status = $6, updated_at = $7, \
                         published_at = CASE WHEN $6 = 'published' THEN COALESCE(published_at, $7) ELSE published_at END \
                     WHERE id = $8 RETURNING id",
                )
                .bind(post.category_id)
                .bind(post.title)
                .bind(post.slug)
                .bind(post.body_markdown)
                .bind(post.body_html)
                .bind(post.status)
                .bind(now.millis())
                .bind(id)
                .fetch_optional(&mut *transaction)
                .await
                .map_err(|error| StoreError::from_insert(error, "a news post with this address"))?,
            };
            let Some(written) = written else {
                return Ok(None);
            };
            crate::search::index_content(&mut transaction, "news", written, post.searchable()).await?;
            transaction.commit().await?;
            Ok(Some(written))
        })
    }

    pub async fn get_news_post(&self, id: i64) -> StoreResult<Option<NewsPostRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, NewsPostRecord>(news_query!("WHERE n.id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    pub async fn find_news_post(&self, slug: &str) -> StoreResult<Option<NewsPostRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, NewsPostRecord>(news_query!("WHERE n.slug = $1"))
                .bind(slug)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Published posts, newest first, optionally of one category and
    /// before a publication time (the page before's last).
    pub async fn published_news(
        &self,
        category_id: Option<i64>,
        before: Option<(i64, i64)>,
        limit: i64,
    ) -> StoreResult<Vec<NewsPostRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, NewsPostRecord>(news_query!(
                "WHERE n.status = 'published' AND ($1 IS NULL OR n.category_id = $1) \
                 AND ($2 IS NULL OR (n.published_at, n.id) < ($2, $3)) \
                 ORDER BY n.published_at DESC, n.id DESC LIMIT +$4"
            ))
            .bind(category_id)
            .bind(before.map(|(at, _)| at))
            .bind(before.map_or(0, |(_, id)| id))
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Every post, newest change first, for the authoring list.
    pub async fn list_all_news(&self, limit: i64) -> StoreResult<Vec<NewsPostRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, NewsPostRecord>(news_query!("ORDER BY n.updated_at DESC, n.id DESC LIMIT +$1"))
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }
}

/// The store's operations on news posts: `store.news()`.
#[derive(Clone, Copy)]
pub struct News<'a> {
    store: &'a Store,
}

impl Store {
    pub fn news(&self) -> News<'_> {
        News { store: self }
    }
}

impl std::ops::Deref for News<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
