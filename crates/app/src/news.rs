//! News: posts with optional categories, a list, a post page and an Atom
//! feed for readers (published posts only), and authoring for agents with
//! `content.manage`.

use ferrodesk_store::{NewsCategoryRecord, NewsPostRecord, NewsWrite};

use crate::audit::{Audit, Caller};
use crate::departments::checked_name;
use crate::error::parse_keyset_cursor;
use crate::error::taken;
use crate::knowledge_base::{ArticleInput, checked_publication, is_slug, slug_from};
use crate::{App, AppError, AppResult, FieldErrors, markdown};

/// Posts per page of the news list, and in the feed.
pub const NEWS_PAGE_SIZE: i64 = 20;

/// A page of news.
#[derive(Debug, Clone)]
pub struct NewsPage {
    pub posts: Vec<NewsPostRecord>,
    pub categories: Vec<NewsCategoryRecord>,
    /// The cursor of the next page: "published_at.id".
    pub next: Option<String>,
}

impl App {
    /// Published posts, newest first, a page at a time.
    pub async fn news_page(
        &self,
        category_id: Option<i64>,
        after: Option<&str>,
    ) -> AppResult<NewsPage> {
        let before = parse_keyset_cursor(after)?;
        let mut posts = self
            .store()
            .news()
            .published_news(category_id, before, NEWS_PAGE_SIZE + 1)
            .await?;
        let next = if posts.len() > NEWS_PAGE_SIZE as usize {
            posts.truncate(NEWS_PAGE_SIZE as usize);
            posts
                .last()
                .map(|last| format!("{}.{}", last.published_at.unwrap_or(0), last.id))
        } else {
            None
        };
        Ok(NewsPage {
            posts,
            categories: self.store().news().list_news_categories().await?,
            next,
        })
    }

    /// A published post by its address.
    pub async fn news_post(&self, slug: &str) -> AppResult<NewsPostRecord> {
        if !is_slug(slug) {
            return Err(AppError::NotFound);
        }
        self.store()
            .news()
            .find_news_post(slug)
            .await?
            .filter(|post| post.status == "published")
            .ok_or(AppError::NotFound)
    }

    pub async fn news_for_authors(
        &self,
        actor: &crate::Actor,
    ) -> AppResult<(Vec<NewsPostRecord>, Vec<NewsCategoryRecord>)> {
        self.content_context(actor).await?;
        Ok((
            self.store().news().list_all_news(500).await?,
            self.store().news().list_news_categories().await?,
        ))
    }

    pub async fn news_editor(&self, actor: &crate::Actor, id: i64) -> AppResult<NewsPostRecord> {
        self.content_context(actor).await?;
        self.store()
            .news()
            .get_news_post(id)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// Creates (`id` None) or saves a post; `input.category_id` may be
    /// empty. Returns the id.
    pub async fn save_news_post(
        &self,
        caller: &Caller<'_>,
        id: Option<i64>,
        input: &ArticleInput,
    ) -> AppResult<i64> {
        let context = self.content_context(caller.actor).await?;
        let current = match id {
            Some(id) => Some(
                self.store()
                    .news()
                    .get_news_post(id)
                    .await?
                    .ok_or(AppError::NotFound)?,
            ),
            None => None,
        };
        let mut errors = FieldErrors::new();
        let checked = checked_publication(input, &mut errors);
        let categories = self.store().news().list_news_categories().await?;
        let category_id = match input.category_id.trim() {
            "" => None,
            text => {
                let found = text
                    .parse::<i64>()
                    .ok()
                    .filter(|id| categories.iter().any(|category| category.id == *id));
                if found.is_none() {
                    errors.add_unresolved("category", "Choose a category from the list.");
                }
                found
            }
        };
        let slug = match checked.slug {
            Some(slug) => slug,
            None => match &current {
                Some(post) => post.slug.clone(),
                None => {
                    let base = slug_from(&checked.title);
                    self.free_slug(&base, |slug| async move {
                        Ok(self.store().news().find_news_post(&slug).await?.is_some())
                    })
                    .await?
                }
            },
        };
        errors.into_result()?;
        let html = markdown::render(&checked.content);
        let search_text = markdown::plain_text(&checked.content);
        let written = self
            .store()
            .news()
            .write_news_post(
                id,
                &NewsWrite {
                    category_id,
                    title: &checked.title,
                    slug: &slug,
                    body_markdown: &checked.content,
                    body_html: &html,
                    search_text: &search_text,
                    status: checked.status,
                    author_id: Some(context.agent_id),
                },
                self.now(),
            )
            .await
            .map_err(taken("slug", "Another post has this address."))?;
        written.ok_or(AppError::NotFound)
    }

    pub async fn create_news_category(&self, caller: &Caller<'_>, name: &str) -> AppResult<i64> {
        self.content_context(caller.actor).await?;
        let name = checked_name(name, "name")?;
        let audit = Audit::new(caller, "news_category.created")
            .on("news_category", None, &name)
            .after(&serde_json::json!({ "name": name }));
        self.store()
            .news()
            .create_news_category(&name, &audit.entry(), self.now())
            .await
            .map_err(taken("name", "A news category has this name already."))
    }

    pub async fn delete_news_category(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        self.content_context(caller.actor).await?;
        let audit = Audit::new(caller, "news_category.deleted").on("news_category", Some(id), "");
        if !self
            .store()
            .news()
            .delete_news_category(id, &audit.entry(), self.now())
            .await?
        {
            return Err(AppError::NotFound);
        }
        Ok(())
    }
}
