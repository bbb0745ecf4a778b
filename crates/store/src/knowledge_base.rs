//! The knowledge base: nested categories, articles with every saved version,
//! views, "was this helpful?" votes and moderated comments. Who may read or
//! write what is decided by the caller.

use ferrodesk_core::Timestamp;

use crate::audit::NewAuditEntry;
use crate::backend::BeginWrite;
use crate::{DeleteOutcome, Store, StoreError, StoreResult, on_backend, on_backend_write};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ArticleCategoryRecord {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub name: String,
    pub description: String,
    pub position: i64,
    /// Published articles directly in it.
    pub published_count: i64,
}

/// An article whole.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ArticleRecord {
    pub id: i64,
    pub category_id: i64,
    pub category_name: String,
    pub title: String,
    pub slug: String,
    pub body_markdown: String,
    pub body_html: String,
    pub status: String,
    pub author_id: Option<i64>,
    pub author_name: Option<String>,
    pub view_count: i64,
    pub helpful_yes: i64,
    pub helpful_no: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub published_at: Option<i64>,
}

macro_rules! article_query {
    ($tail:literal) => {
        concat!(
            "SELECT a.id, a.category_id, c.name AS category_name, a.title, a.slug, a.body_markdown, ",
            "a.body_html, a.status, a.author_id, p.name AS author_name, a.view_count, a.helpful_yes, ",
            "a.helpful_no, a.created_at, a.updated_at, a.published_at FROM articles a ",
            "JOIN article_categories c ON c.id = a.category_id ",
            "LEFT JOIN people p ON p.id = a.author_id ",
            $tail
        )
    };
}

/// An article in a list.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ArticleSummary {
    pub id: i64,
    pub category_id: i64,
    pub title: String,
    pub slug: String,
    pub status: String,
    pub view_count: i64,
    pub updated_at: i64,
}

macro_rules! summary_query {
    ($tail:literal) => {
        concat!(
            "SELECT id, category_id, title, slug, status, view_count, updated_at FROM articles ",
            $tail
        )
    };
}

/// One saved version of an article.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ArticleRevisionRecord {
    pub id: i64,
    pub title: String,
    pub body_markdown: String,
    pub status: String,
    pub author: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ArticleCommentRecord {
    pub id: i64,
    pub article_id: i64,
    pub article_title: String,
    pub article_slug: String,
    pub author_name: Option<String>,
    pub body: String,
    pub status: String,
    pub created_at: i64,
}

macro_rules! comment_query {
    ($tail:literal) => {
        concat!(
            "SELECT m.id, m.article_id, a.title AS article_title, a.slug AS article_slug, ",
            "p.name AS author_name, m.body, m.status, m.created_at FROM article_comments m ",
            "JOIN articles a ON a.id = m.article_id LEFT JOIN people p ON p.id = m.person_id ",
            $tail
        )
    };
}

/// An article as saved by an agent.
#[derive(Debug, Clone)]
pub struct ArticleWrite<'a> {
    pub category_id: i64,
    pub title: &'a str,
    pub slug: &'a str,
    pub body_markdown: &'a str,
    pub body_html: &'a str,
    /// The body as plain text, for the search index and its snippets.
    pub search_text: &'a str,
    pub status: &'a str,
    pub author_id: Option<i64>,
    pub author: &'a str,
}

impl ArticleWrite<'_> {
    /// What the search index holds for it: only published articles.
    fn searchable(&self) -> Option<(&str, &str)> {
        (self.status == "published").then_some((self.title, self.search_text))
    }
}

/// A category as saved by an agent.
#[derive(Debug, Clone)]
pub struct CategoryWrite<'a> {
    pub parent_id: Option<i64>,
    pub name: &'a str,
    pub description: &'a str,
    pub position: i64,
}

/// Writes a revision row inside a transaction the caller holds.
pub(crate) async fn insert_revision(
    connected: &mut impl crate::backend::Connected,
    article_id: i64,
    write: &ArticleWrite<'_>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    crate::backend::on_connection!(connected, connection => {
        sqlx::query(
            "INSERT INTO article_revisions (article_id, title, body_markdown, status, author_id, author, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(article_id)
        .bind(write.title)
        .bind(write.body_markdown)
        .bind(write.status)
        .bind(write.author_id)
        .bind(write.author)
        .bind(now.millis())
        .execute(&mut *connection)
        .await?;
    });
    Ok(())
}

impl KnowledgeBase<'_> {
    pub async fn list_article_categories(&self) -> StoreResult<Vec<ArticleCategoryRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ArticleCategoryRecord>(
                "SELECT c.id, c.parent_id, c.name, c.description, c.position, \
                     (SELECT COUNT(*) FROM articles a WHERE a.category_id = c.id AND a.status = 'published') \
                     AS published_count \
                 FROM article_categories c ORDER BY c.position, lower(c.name), c.id",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn create_article_category(
        &self,
        category: &CategoryWrite<'_>,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<i64> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO article_categories (parent_id, name, description, position, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(category.parent_id)
            .bind(category.name)
            .bind(category.description)
            .bind(category.position)
            .bind(now.millis())
            .fetch_one(&mut *transaction)
            .await?;
            let audit = NewAuditEntry { target_id: Some(id), ..audit.clone() };
            crate::audit::insert_audit(&mut transaction, &audit, now).await?;
            transaction.commit().await?;
            Ok(id)
        })
    }

    pub async fn update_article_category(
        &self,
        id: i64,
        category: &CategoryWrite<'_>,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(on_backend!(self, pool => {
            crate::audit::audited_statement!(
                pool,
                sqlx::query(
                    "UPDATE article_categories SET parent_id = $1, name = $2, description = $3, position = $4 \
                     WHERE id = $5",
                )
                .bind(category.parent_id)
                .bind(category.name)
                .bind(category.description)
                .bind(category.position)
                .bind(id),
                audit,
                now
            )
        }))
    }

    /// Deletes an empty category: one with sub-categories or articles
    /// (whatever their status) is `InUse`.
    pub async fn delete_article_category(
        &self,
        id: i64,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<DeleteOutcome> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let in_use: i64 = sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM article_categories WHERE parent_id = $1) \
                      + (SELECT COUNT(*) FROM articles WHERE category_id = $1)",
            )
            .bind(id)
            .fetch_one(&mut *transaction)
            .await?;
            if in_use > 0 {
                return Ok(DeleteOutcome::InUse);
            }
            let deleted = sqlx::query("DELETE FROM article_categories WHERE id = $1")
                .bind(id)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
            if deleted == 0 {
                return Ok(DeleteOutcome::NotFound);
            }
            crate::audit::insert_audit(&mut transaction, audit, now).await?;
            transaction.commit().await?;
            Ok(DeleteOutcome::Deleted)
        })
    }

    /// Stores a new article with its first revision; a taken slug is a
    /// `Conflict`.
    pub async fn create_article(
        &self,
        article: &ArticleWrite<'_>,
        now: Timestamp,
    ) -> StoreResult<i64> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO articles (category_id, title, slug, body_markdown, body_html, status, author_id, \
                     created_at, updated_at, published_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, CASE WHEN $6 = 'published' THEN $8 END) RETURNING id",
            )
            .bind(article.category_id)
            .bind(article.title)
            .bind(article.slug)
            .bind(article.body_markdown)
            .bind(article.body_html)
            .bind(article.status)
            .bind(article.author_id)
            .bind(now.millis())
            .fetch_one(&mut *transaction)
            .await
            .map_err(|error| StoreError::from_insert(error, "an article with this address"))?;
            crate::knowledge_base::insert_revision(&mut transaction, id, article, now).await?;
            crate::search::index_content(&mut transaction, "article", id, article.searchable()).await?;
            transaction.commit().await?;
            Ok(id)
        })
    }

    /// Saves a new version of an article; the first publication is
    /// stamped. False when there is no such article.
    pub async fn update_article(
        &self,
        id: i64,
        article: &ArticleWrite<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            let changed = sqlx::query(
                "UPDATE articles SET category_id = $1, title = $2, slug = $3, body_markdown = $4, body_html = $5, \
                     status = $6, updated_at = $7, \
                     published_at = CASE WHEN $6 = 'published' THEN COALESCE(published_at, $7) ELSE published_at END \
                 WHERE id = $8",
            )
            .bind(article.category_id)
            .bind(article.title)
            .bind(article.slug)
            .bind(article.body_markdown)
            .bind(article.body_html)
            .bind(article.status)
            .bind(now.millis())
            .bind(id)
            .execute(&mut *transaction)
            .await
            .map_err(|error| StoreError::from_insert(error, "an article with this address"))?
            .rows_affected() > 0;
            if !changed {
                return Ok(false);
            }
            crate::knowledge_base::insert_revision(&mut transaction, id, article, now).await?;
            crate::search::index_content(&mut transaction, "article", id, article.searchable()).await?;
            transaction.commit().await?;
            Ok(true)
        })
    }

    pub async fn get_article(&self, id: i64) -> StoreResult<Option<ArticleRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ArticleRecord>(article_query!("WHERE a.id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    pub async fn find_article(&self, slug: &str) -> StoreResult<Option<ArticleRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ArticleRecord>(article_query!("WHERE a.slug = $1"))
                .bind(slug)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Every article, newest change first, for the authoring list.
    pub async fn list_all_articles(&self, limit: i64) -> StoreResult<Vec<ArticleSummary>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ArticleSummary>(summary_query!("ORDER BY updated_at DESC, id DESC LIMIT +$1"))
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    /// The published articles of a category, by title.
    pub async fn published_articles_in(
        &self,
        category_id: i64,
    ) -> StoreResult<Vec<ArticleSummary>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ArticleSummary>(summary_query!(
                "WHERE category_id = $1 AND status = 'published' ORDER BY lower(title), id LIMIT 500"
            ))
            .bind(category_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The most read published articles, optionally of one category and
    /// without one article.
    pub async fn popular_articles(
        &self,
        category_id: Option<i64>,
        except: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<ArticleSummary>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ArticleSummary>(summary_query!(
                "WHERE status = 'published' AND ($1 IS NULL OR category_id = $1) AND ($2 IS NULL OR id <> $2) \
                 ORDER BY view_count DESC, id DESC LIMIT +$3"
            ))
            .bind(category_id)
            .bind(except)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The most recently updated published articles.
    pub async fn recent_articles(&self, limit: i64) -> StoreResult<Vec<ArticleSummary>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ArticleSummary>(summary_query!(
                "WHERE status = 'published' ORDER BY updated_at DESC, id DESC LIMIT +$1"
            ))
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    pub async fn article_revisions(
        &self,
        article_id: i64,
    ) -> StoreResult<Vec<ArticleRevisionRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ArticleRevisionRecord>(
                "SELECT id, title, body_markdown, status, author, created_at FROM article_revisions \
                 WHERE article_id = $1 ORDER BY id DESC LIMIT 200",
            )
            .bind(article_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Everyone who saved a version, by their current names, first author
    /// first.
    pub async fn article_authors(&self, article_id: i64) -> StoreResult<Vec<String>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, String>(
                "SELECT p.name FROM people p JOIN article_revisions r ON r.author_id = p.id \
                 WHERE r.article_id = $1 GROUP BY p.id, p.name ORDER BY MIN(r.id)",
            )
            .bind(article_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Adds views counted elsewhere to an article's total.
    pub async fn add_article_views(&self, article_id: i64, views: i64) -> StoreResult<()> {
        on_backend_write!(self, pool => {
            sqlx::query("UPDATE articles SET view_count = view_count + $2 WHERE id = $1")
                .bind(article_id)
                .bind(views)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Records a voter's "helpful" or "not helpful" (a second vote replaces
    /// the first) and recounts the article's totals.
    pub async fn vote_on_article(
        &self,
        article_id: i64,
        voter: &str,
        helpful: bool,
        now: Timestamp,
    ) -> StoreResult<()> {
        on_backend!(self, pool => {
            let mut transaction = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO article_votes (article_id, voter, helpful, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (article_id, voter) DO UPDATE SET helpful = excluded.helpful, created_at = excluded.created_at",
            )
            .bind(article_id)
            .bind(voter)
            .bind(helpful)
            .bind(now.millis())
            .execute(&mut *transaction)
            .await?;
            sqlx::query(
                "UPDATE articles SET \
                     helpful_yes = (SELECT COUNT(*) FROM article_votes v WHERE v.article_id = $1 AND v.helpful), \
                     helpful_no = (SELECT COUNT(*) FROM article_votes v WHERE v.article_id = $1 AND NOT v.helpful) \
                 WHERE id = $1",
            )
            .bind(article_id)
            .execute(&mut *transaction)
            .await?;
            transaction.commit().await?;
        });
        Ok(())
    }

    /// A voter's vote on an article, if any.
    pub async fn article_vote(&self, article_id: i64, voter: &str) -> StoreResult<Option<bool>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_scalar::<_, bool>("SELECT helpful FROM article_votes WHERE article_id = $1 AND voter = $2")
                .bind(article_id)
                .bind(voter)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// A comment waiting for moderation.
    pub async fn add_article_comment(
        &self,
        article_id: i64,
        person_id: i64,
        body: &str,
        now: Timestamp,
    ) -> StoreResult<i64> {
        Ok(on_backend_write!(self, pool => {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO article_comments (article_id, person_id, body, status, created_at) \
                 VALUES ($1, $2, $3, 'pending', $4) RETURNING id",
            )
            .bind(article_id)
            .bind(person_id)
            .bind(body)
            .bind(now.millis())
            .fetch_one(pool)
            .await?
        }))
    }

    pub async fn approved_comments(
        &self,
        article_id: i64,
    ) -> StoreResult<Vec<ArticleCommentRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ArticleCommentRecord>(comment_query!(
                "WHERE m.article_id = $1 AND m.status = 'approved' ORDER BY m.id LIMIT 500"
            ))
            .bind(article_id)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The moderation queue, oldest first.
    pub async fn pending_comments(&self, limit: i64) -> StoreResult<Vec<ArticleCommentRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, ArticleCommentRecord>(comment_query!(
                "WHERE m.status = 'pending' ORDER BY m.id LIMIT +$1"
            ))
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Approves or rejects a pending comment. False when it was not pending.
    pub async fn moderate_comment(
        &self,
        id: i64,
        approve: bool,
        moderator_id: i64,
        audit: &NewAuditEntry<'_>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        Ok(on_backend!(self, pool => {
            crate::audit::audited_statement!(
                pool,
                sqlx::query(
                    "UPDATE article_comments SET status = $1, moderated_by = $2, moderated_at = $3 \
                     WHERE id = $4 AND status = 'pending'",
                )
                .bind(if approve { "approved" } else { "rejected" })
                .bind(moderator_id)
                .bind(now.millis())
                .bind(id),
                audit,
                now
            )
        }))
    }
}

/// The store's operations on the knowledge base: `store.knowledge_base()`.
#[derive(Clone, Copy)]
pub struct KnowledgeBase<'a> {
    store: &'a Store,
}

impl Store {
    pub fn knowledge_base(&self) -> KnowledgeBase<'_> {
        KnowledgeBase { store: self }
    }
}

impl std::ops::Deref for KnowledgeBase<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
