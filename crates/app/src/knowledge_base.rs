//! The knowledge base: what visitors read (published articles by
//! category, popular and related ones, votes, approved comments) and what
//! agents with `content.manage` write (categories, articles with preview
//! and history, the comment queue). Drafts and archived articles are
//! "not found" to everyone else. Bodies are markdown rendered once, when
//! saved, with raw HTML escaped and only safe links kept.

use ferrodesk_core::Permission;
use ferrodesk_store::{
    ArticleCategoryRecord, ArticleCommentRecord, ArticleRecord, ArticleRevisionRecord,
    ArticleSummary, ArticleWrite, CategoryWrite, DeleteOutcome,
};

use crate::audit::{Audit, Caller};
use crate::departments::checked_name;
use crate::error::taken;
use crate::secrets::token_hash;
use crate::tickets::AgentContext;
use crate::{Actor, App, AppError, AppResult, FieldErrors, markdown};

const MAX_TITLE_CHARS: usize = 200;
const MAX_SLUG_CHARS: usize = 80;
const MAX_ARTICLE_BYTES: usize = 200_000;
const MAX_COMMENT_CHARS: usize = 5_000;
const MAX_DESCRIPTION_CHARS: usize = 500;
const POPULAR_ARTICLES: i64 = 10;
const RELATED_ARTICLES: i64 = 5;

/// How often a node writes the article views it counted.
pub const VIEW_FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// Article views counted in memory until the next flush.
#[derive(Debug, Default)]
pub(crate) struct ViewCounter(std::sync::Mutex<std::collections::HashMap<i64, i64>>);

impl ViewCounter {
    fn count(&self, article_id: i64) -> i64 {
        let mut views = match self.0.lock() {
            Ok(views) => views,
            Err(poisoned) => poisoned.into_inner(),
        };
        let pending = views.entry(article_id).or_insert(0);
        *pending += 1;
        *pending
    }

    fn take(&self) -> std::collections::HashMap<i64, i64> {
        let mut views = match self.0.lock() {
            Ok(views) => views,
            Err(poisoned) => poisoned.into_inner(),
        };
        std::mem::take(&mut *views)
    }
}

/// How long a node keeps a published article's page.
const ARTICLE_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);
/// Articles kept at most; beyond, the cache starts again.
const ARTICLE_CACHE_ENTRIES: usize = 2_000;

/// What every reader of a published article sees, kept a few seconds per
/// node: a busy article is read far more often than it changes, and the
/// page then costs one query (the reader's own vote) instead of five.
/// Every change to the knowledge base on this node empties it; other nodes
/// see a change within `ARTICLE_CACHE_TTL`.
#[derive(Debug, Default)]
pub(crate) struct ArticleCache(
    std::sync::Mutex<
        std::collections::HashMap<String, (std::time::Instant, std::sync::Arc<CachedArticle>)>,
    >,
);

#[derive(Debug)]
pub(crate) struct CachedArticle {
    article: ArticleRecord,
    authors: Vec<String>,
    related: Vec<ArticleSummary>,
    comments: Vec<ArticleCommentRecord>,
}

/// Empties the cache when dropped: after a write, whichever way it ended.
pub(crate) struct ClearWhenDone<'a>(&'a ArticleCache);

impl Drop for ClearWhenDone<'_> {
    fn drop(&mut self) {
        self.0.clear();
    }
}

impl ArticleCache {
    fn entries(
        &self,
    ) -> std::sync::MutexGuard<
        '_,
        std::collections::HashMap<String, (std::time::Instant, std::sync::Arc<CachedArticle>)>,
    > {
        match self.0.lock() {
            Ok(entries) => entries,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn get(&self, slug: &str) -> Option<std::sync::Arc<CachedArticle>> {
        let entries = self.entries();
        let (stored_at, page) = entries.get(slug)?;
        (stored_at.elapsed() < ARTICLE_CACHE_TTL).then(|| page.clone())
    }

    fn put(&self, slug: &str, page: std::sync::Arc<CachedArticle>) {
        let mut entries = self.entries();
        if entries.len() >= ARTICLE_CACHE_ENTRIES {
            entries.clear();
        }
        entries.insert(slug.to_owned(), (std::time::Instant::now(), page));
    }

    fn clear(&self) {
        self.entries().clear();
    }

    pub(crate) fn clear_when_done(&self) -> ClearWhenDone<'_> {
        ClearWhenDone(self)
    }
}

/// An article's status.
pub const ARTICLE_STATUSES: [(&str, &str); 3] = [
    ("draft", "Draft"),
    ("published", "Published"),
    ("archived", "Archived"),
];

/// A category in the tree with its depth, for indented lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryNode {
    pub category: ArticleCategoryRecord,
    pub depth: usize,
}

/// Orders categories parents first, each level by position and name.
pub fn category_tree(records: Vec<ArticleCategoryRecord>) -> Vec<CategoryNode> {
    let mut nodes = Vec::with_capacity(records.len());
    // Depth-first: children are pushed in reverse so they come out in order.
    let mut stack: Vec<(ArticleCategoryRecord, usize)> = records
        .iter()
        .filter(|record| record.parent_id.is_none())
        .rev()
        .map(|record| (record.clone(), 0))
        .collect();
    while let Some((record, depth)) = stack.pop() {
        for child in records
            .iter()
            .filter(|child| child.parent_id == Some(record.id))
            .rev()
        {
            stack.push((child.clone(), depth + 1));
        }
        nodes.push(CategoryNode {
            category: record,
            depth,
        });
    }
    nodes
}

/// A slug made from a title: lower-case letters and digits joined by
/// dashes.
pub fn slug_from(title: &str) -> String {
    let mut slug = String::with_capacity(title.len());
    for character in title.chars().flat_map(char::to_lowercase) {
        // A few capitals have no small form: they stay out, as `is_slug`
        // would refuse them.
        if character.is_alphanumeric() && !character.is_uppercase() {
            slug.push(character);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.chars().count() >= MAX_SLUG_CHARS {
            break;
        }
    }
    let slug = slug.trim_matches('-').to_owned();
    if slug.is_empty() {
        "article".to_owned()
    } else {
        slug
    }
}

/// `base-suffix`, the base shortened so the whole stays a slug (at most
/// `MAX_SLUG_CHARS`).
fn with_suffix(base: &str, suffix: &str) -> String {
    let room = MAX_SLUG_CHARS.saturating_sub(suffix.chars().count() + 1);
    let kept: String = base.chars().take(room).collect();
    format!("{}-{suffix}", kept.trim_end_matches('-'))
}

pub(crate) fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && text.chars().count() <= MAX_SLUG_CHARS
        && !text.starts_with('-')
        && !text.ends_with('-')
        && text.chars().all(|character| {
            character == '-' || (character.is_alphanumeric() && !character.is_uppercase())
        })
}

/// Title, address, text and status of an article or news post, checked.
pub(crate) struct CheckedPublication {
    pub title: String,
    /// `None`: keep or make one from the title.
    pub slug: Option<String>,
    pub content: String,
    pub status: &'static str,
}

/// Checks what the article and news editors send; problems go to `errors`.
pub(crate) fn checked_publication(
    input: &ArticleInput,
    errors: &mut FieldErrors,
) -> CheckedPublication {
    let title = input.title.trim().to_owned();
    if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        errors.add("title", "A title has 1 to 200 characters.");
    } else if title.chars().any(char::is_control) {
        errors.add("title", "A title is one line.");
    }
    let typed_slug = input.slug.trim().to_lowercase();
    let slug = if typed_slug.is_empty() {
        None
    } else if is_slug(&typed_slug) {
        Some(typed_slug)
    } else {
        errors.add(
            "slug",
            "An address has letters, digits and dashes only (at most 80).",
        );
        Some(String::new())
    };
    let content = input.content.trim_end().to_owned();
    if content.trim().is_empty() {
        errors.add("content", "Write the text first.");
    } else if content.len() > MAX_ARTICLE_BYTES {
        errors.add("content", "A text is at most 200,000 characters.");
    }
    let status = ARTICLE_STATUSES
        .iter()
        .find(|(key, _)| *key == input.status)
        .map_or("", |(key, _)| *key);
    if status.is_empty() {
        errors.add("status", "Choose draft, published or archived.");
    }
    CheckedPublication {
        title,
        slug,
        content,
        status,
    }
}

/// The knowledge base's front page.
#[derive(Debug, Clone)]
pub struct KnowledgeBaseHome {
    pub categories: Vec<CategoryNode>,
    pub popular: Vec<ArticleSummary>,
}

/// A category's page.
#[derive(Debug, Clone)]
pub struct CategoryPage {
    pub category: ArticleCategoryRecord,
    /// From the top down to the category's parent.
    pub trail: Vec<ArticleCategoryRecord>,
    pub subcategories: Vec<ArticleCategoryRecord>,
    pub articles: Vec<ArticleSummary>,
}

/// An article as readers see it.
#[derive(Debug, Clone)]
pub struct ArticlePage {
    pub article: ArticleRecord,
    pub authors: Vec<String>,
    pub related: Vec<ArticleSummary>,
    pub comments: Vec<ArticleCommentRecord>,
    /// The reader's own vote, if they voted.
    pub own_vote: Option<bool>,
    /// Whether the reader may comment (signed-in users).
    pub may_comment: bool,
}

/// An article as the editor form sends it.
#[derive(Debug, Clone, Default)]
pub struct ArticleInput {
    pub title: String,
    /// Empty: made from the title.
    pub slug: String,
    pub category_id: String,
    pub content: String,
    pub status: String,
}

/// The editor's view of an article.
#[derive(Debug, Clone)]
pub struct ArticleEditor {
    pub article: ArticleRecord,
    pub revisions: Vec<ArticleRevisionRecord>,
}

/// Who reads: a signed-in person or a visitor's session, for the vote.
pub fn voter_key(actor: &Actor, session_token: &str) -> String {
    match actor.signed_in() {
        Some(person) => format!("person:{}", person.person_id),
        None => format!("visitor:{}", token_hash(session_token)),
    }
}

impl App {
    /// The acting agent, when they may manage content.
    pub(crate) async fn content_context(&self, actor: &Actor) -> AppResult<AgentContext> {
        let context = self.agent_context(actor).await?;
        if context.effective.has(Permission::ContentManage) {
            Ok(context)
        } else {
            Err(AppError::Forbidden)
        }
    }

    pub async fn knowledge_base_home(&self) -> AppResult<KnowledgeBaseHome> {
        Ok(KnowledgeBaseHome {
            categories: category_tree(
                self.store()
                    .knowledge_base()
                    .list_article_categories()
                    .await?,
            ),
            popular: self
                .store()
                .knowledge_base()
                .popular_articles(None, None, POPULAR_ARTICLES)
                .await?,
        })
    }

    pub async fn knowledge_base_category(&self, id: i64) -> AppResult<CategoryPage> {
        let categories = self
            .store()
            .knowledge_base()
            .list_article_categories()
            .await?;
        let category = categories
            .iter()
            .find(|category| category.id == id)
            .cloned()
            .ok_or(AppError::NotFound)?;
        let mut trail = Vec::new();
        let mut parent = category.parent_id;
        while let Some(parent_id) = parent {
            let Some(found) = categories.iter().find(|category| category.id == parent_id) else {
                break;
            };
            if trail.len() > categories.len() {
                break;
            }
            trail.push(found.clone());
            parent = found.parent_id;
        }
        trail.reverse();
        let subcategories = categories
            .iter()
            .filter(|candidate| candidate.parent_id == Some(id))
            .cloned()
            .collect();
        Ok(CategoryPage {
            articles: self
                .store()
                .knowledge_base()
                .published_articles_in(id)
                .await?,
            category,
            trail,
            subcategories,
        })
    }

    /// A published article by its address, counted as read once more.
    pub async fn knowledge_base_article(
        &self,
        actor: &Actor,
        slug: &str,
        voter: Option<&str>,
    ) -> AppResult<ArticlePage> {
        if !is_slug(slug) {
            return Err(AppError::NotFound);
        }
        let cached = match self.inner.article_cache.get(slug) {
            Some(cached) => cached,
            None => {
                let article = self
                    .store()
                    .knowledge_base()
                    .find_article(slug)
                    .await?
                    .filter(|article| article.status == "published")
                    .ok_or(AppError::NotFound)?;
                let cached = std::sync::Arc::new(CachedArticle {
                    authors: self
                        .store()
                        .knowledge_base()
                        .article_authors(article.id)
                        .await?,
                    related: self
                        .store()
                        .knowledge_base()
                        .popular_articles(
                            Some(article.category_id),
                            Some(article.id),
                            RELATED_ARTICLES,
                        )
                        .await?,
                    comments: self
                        .store()
                        .knowledge_base()
                        .approved_comments(article.id)
                        .await?,
                    article,
                });
                self.inner.article_cache.put(slug, cached.clone());
                cached
            }
        };
        // Counted in memory and written by `flush_article_views`; the page
        // shows the stored count plus what this node has not written yet.
        let pending = self.inner.article_views.count(cached.article.id);
        let article = ArticleRecord {
            view_count: cached.article.view_count + pending,
            ..cached.article.clone()
        };
        Ok(ArticlePage {
            authors: cached.authors.clone(),
            related: cached.related.clone(),
            comments: cached.comments.clone(),
            own_vote: match voter {
                Some(voter) => {
                    self.store()
                        .knowledge_base()
                        .article_vote(article.id, voter)
                        .await?
                }
                None => None,
            },
            may_comment: matches!(actor, Actor::User(_)),
            article,
        })
    }

    /// Writes the article views counted since the last flush (run every
    /// `VIEW_FLUSH_INTERVAL` and at shutdown). Views of a failed write are
    /// lost, not retried: a counter is not worth a backlog.
    pub async fn flush_article_views(&self) -> AppResult<usize> {
        let _refresh = self.inner.article_cache.clear_when_done();
        let views = self.inner.article_views.take();
        for (article_id, count) in &views {
            self.store()
                .knowledge_base()
                .add_article_views(*article_id, *count)
                .await?;
        }
        Ok(views.len())
    }

    /// "Was this helpful?": one vote per person or visitor session; a new
    /// vote replaces the old one.
    pub async fn vote_on_article(&self, slug: &str, voter: &str, helpful: bool) -> AppResult<()> {
        let _refresh = self.inner.article_cache.clear_when_done();
        if !is_slug(slug) {
            return Err(AppError::NotFound);
        }
        let article = self
            .store()
            .knowledge_base()
            .find_article(slug)
            .await?
            .filter(|article| article.status == "published")
            .ok_or(AppError::NotFound)?;
        self.store()
            .knowledge_base()
            .vote_on_article(article.id, voter, helpful, self.now())
            .await?;
        Ok(())
    }

    /// A signed-in user's comment, shown once an agent approves it.
    pub async fn comment_on_article(&self, actor: &Actor, slug: &str, body: &str) -> AppResult<()> {
        let _refresh = self.inner.article_cache.clear_when_done();
        let Actor::User(user) = actor else {
            return Err(AppError::Unauthenticated);
        };
        if !is_slug(slug) {
            return Err(AppError::NotFound);
        }
        let article = self
            .store()
            .knowledge_base()
            .find_article(slug)
            .await?
            .filter(|article| article.status == "published")
            .ok_or(AppError::NotFound)?;
        let body = body.trim();
        if body.is_empty() || body.chars().count() > MAX_COMMENT_CHARS {
            return Err(AppError::invalid(
                "comment",
                format!("A comment has 1 to {MAX_COMMENT_CHARS} characters."),
            ));
        }
        self.store()
            .knowledge_base()
            .add_article_comment(article.id, user.person_id, body, self.now())
            .await?;
        Ok(())
    }

    /// Every category, for agents who manage content.
    pub async fn article_categories(&self, actor: &Actor) -> AppResult<Vec<CategoryNode>> {
        self.content_context(actor).await?;
        Ok(category_tree(
            self.store()
                .knowledge_base()
                .list_article_categories()
                .await?,
        ))
    }

    fn checked_category(
        categories: &[ArticleCategoryRecord],
        id: Option<i64>,
        name: &str,
        description: &str,
        parent_id: Option<i64>,
        position: &str,
    ) -> AppResult<(String, String, i64)> {
        let mut errors = FieldErrors::new();
        let name = match checked_name(name, "name") {
            Ok(name) => name,
            Err(AppError::Invalid(found)) => {
                errors.merge(found);
                String::new()
            }
            Err(other) => return Err(other),
        };
        let description = description.trim().to_owned();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            errors.add(
                "description",
                format!("A description has at most {MAX_DESCRIPTION_CHARS} characters."),
            );
        }
        let position = match position.trim() {
            "" => 0,
            text => text.parse::<i64>().unwrap_or_else(|_| {
                errors.add("position", "A position is a whole number.");
                0
            }),
        };
        if let Some(parent_id) = parent_id {
            // The parent must exist and must not be the category or below it.
            let mut cursor = Some(parent_id);
            let mut steps = 0;
            while let Some(current) = cursor {
                if Some(current) == id {
                    errors.add("parent", "A category cannot be placed inside itself.");
                    break;
                }
                let Some(found) = categories.iter().find(|category| category.id == current) else {
                    errors.add_unresolved("parent", "That parent category does not exist.");
                    break;
                };
                cursor = found.parent_id;
                steps += 1;
                if steps > 5 {
                    errors.add("parent", "Categories nest at most 5 levels deep.");
                    break;
                }
            }
        }
        errors.into_result()?;
        Ok((name, description, position))
    }

    pub async fn create_article_category(
        &self,
        caller: &Caller<'_>,
        name: &str,
        description: &str,
        parent_id: Option<i64>,
        position: &str,
    ) -> AppResult<i64> {
        let _refresh = self.inner.article_cache.clear_when_done();
        self.content_context(caller.actor).await?;
        let categories = self
            .store()
            .knowledge_base()
            .list_article_categories()
            .await?;
        let (name, description, position) =
            Self::checked_category(&categories, None, name, description, parent_id, position)?;
        let audit = Audit::new(caller, "article_category.created")
            .on("article_category", None, &name)
            .after(&serde_json::json!({ "name": name, "parent_id": parent_id }));
        Ok(self
            .store()
            .knowledge_base()
            .create_article_category(
                &CategoryWrite {
                    parent_id,
                    name: &name,
                    description: &description,
                    position,
                },
                &audit.entry(),
                self.now(),
            )
            .await?)
    }

    pub async fn update_article_category(
        &self,
        caller: &Caller<'_>,
        id: i64,
        name: &str,
        description: &str,
        parent_id: Option<i64>,
        position: &str,
    ) -> AppResult<()> {
        let _refresh = self.inner.article_cache.clear_when_done();
        self.content_context(caller.actor).await?;
        let categories = self
            .store()
            .knowledge_base()
            .list_article_categories()
            .await?;
        let current = categories
            .iter()
            .find(|category| category.id == id)
            .cloned()
            .ok_or(AppError::NotFound)?;
        let (name, description, position) = Self::checked_category(
            &categories,
            Some(id),
            name,
            description,
            parent_id,
            position,
        )?;
        let audit = Audit::new(caller, "article_category.changed")
            .on("article_category", Some(id), &current.name)
            .change(
                &serde_json::json!({ "name": current.name, "parent_id": current.parent_id }),
                &serde_json::json!({ "name": name, "parent_id": parent_id }),
            );
        self.store()
            .knowledge_base()
            .update_article_category(
                id,
                &CategoryWrite {
                    parent_id,
                    name: &name,
                    description: &description,
                    position,
                },
                &audit.entry(),
                self.now(),
            )
            .await?;
        Ok(())
    }

    pub async fn delete_article_category(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        let _refresh = self.inner.article_cache.clear_when_done();
        self.content_context(caller.actor).await?;
        let audit =
            Audit::new(caller, "article_category.deleted").on("article_category", Some(id), "");
        match self
            .store()
            .knowledge_base()
            .delete_article_category(id, &audit.entry(), self.now())
            .await?
        {
            DeleteOutcome::Deleted => Ok(()),
            DeleteOutcome::NotFound => Err(AppError::NotFound),
            DeleteOutcome::InUse => Err(AppError::Conflict(
                "Move its articles and sub-categories elsewhere first.".to_owned(),
            )),
        }
    }

    /// Every article for the authoring list, newest change first.
    pub async fn articles_for_authors(&self, actor: &Actor) -> AppResult<Vec<ArticleSummary>> {
        self.content_context(actor).await?;
        Ok(self.store().knowledge_base().list_all_articles(500).await?)
    }

    pub async fn article_editor(&self, actor: &Actor, id: i64) -> AppResult<ArticleEditor> {
        self.content_context(actor).await?;
        let article = self
            .store()
            .knowledge_base()
            .get_article(id)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(ArticleEditor {
            revisions: self.store().knowledge_base().article_revisions(id).await?,
            article,
        })
    }

    /// The HTML a body would render to, for the editor's preview.
    pub async fn preview_article(&self, actor: &Actor, content: &str) -> AppResult<String> {
        self.content_context(actor).await?;
        Ok(markdown::render(content))
    }

    /// Creates (`id` None) or saves an article; returns its id.
    pub async fn save_article(
        &self,
        caller: &Caller<'_>,
        id: Option<i64>,
        input: &ArticleInput,
    ) -> AppResult<i64> {
        let _refresh = self.inner.article_cache.clear_when_done();
        let context = self.content_context(caller.actor).await?;
        let current = match id {
            Some(id) => Some(
                self.store()
                    .knowledge_base()
                    .get_article(id)
                    .await?
                    .ok_or(AppError::NotFound)?,
            ),
            None => None,
        };
        let mut errors = FieldErrors::new();
        let checked = checked_publication(input, &mut errors);
        let slug = match checked.slug {
            Some(slug) => slug,
            None => match &current {
                Some(article) => article.slug.clone(),
                None => {
                    let base = slug_from(&checked.title);
                    self.free_slug(&base, |slug| async move {
                        Ok(self
                            .store()
                            .knowledge_base()
                            .find_article(&slug)
                            .await?
                            .is_some())
                    })
                    .await?
                }
            },
        };
        let (title, content, status) = (checked.title, checked.content, checked.status);
        let category_id = input.category_id.trim().parse::<i64>().ok();
        let categories = self
            .store()
            .knowledge_base()
            .list_article_categories()
            .await?;
        match category_id {
            None => errors.add("category", "Choose a category."),
            Some(id) if !categories.iter().any(|category| category.id == id) => {
                errors.add_unresolved("category", "Choose a category.");
            }
            Some(_) => {}
        }
        errors.into_result()?;
        let Some(category_id) = category_id else {
            return Err(AppError::invalid("category", "Choose a category."));
        };
        let html = markdown::render(&content);
        let search_text = markdown::plain_text(&content);
        let write = ArticleWrite {
            category_id,
            title: &title,
            slug: &slug,
            body_markdown: &content,
            body_html: &html,
            search_text: &search_text,
            status,
            author_id: Some(context.agent_id),
            author: &context.label,
        };
        let saved = match id {
            None => {
                self.store()
                    .knowledge_base()
                    .create_article(&write, self.now())
                    .await
            }
            Some(id) => self
                .store()
                .knowledge_base()
                .update_article(id, &write, self.now())
                .await
                .map(|_| id),
        };
        saved.map_err(taken("slug", "Another article has this address."))
    }

    /// The slug itself, or with -2, -3… when `taken` says it is.
    pub(crate) async fn free_slug<F, Fut>(&self, base: &str, taken: F) -> AppResult<String>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = AppResult<bool>>,
    {
        if !taken(base.to_owned()).await? {
            return Ok(base.to_owned());
        }
        for suffix in 2..100 {
            let candidate = with_suffix(base, &suffix.to_string());
            if !taken(candidate.clone()).await? {
                return Ok(candidate);
            }
        }
        Ok(with_suffix(base, &self.now().millis().to_string()))
    }

    /// The comments waiting for moderation.
    pub async fn comment_queue(&self, actor: &Actor) -> AppResult<Vec<ArticleCommentRecord>> {
        self.content_context(actor).await?;
        Ok(self.store().knowledge_base().pending_comments(200).await?)
    }

    pub async fn moderate_comment(
        &self,
        caller: &Caller<'_>,
        id: i64,
        approve: bool,
    ) -> AppResult<()> {
        let _refresh = self.inner.article_cache.clear_when_done();
        let context = self.content_context(caller.actor).await?;
        let action = if approve {
            "article_comment.approved"
        } else {
            "article_comment.rejected"
        };
        let audit = Audit::new(caller, action).on("article_comment", Some(id), "");
        if !self
            .store()
            .knowledge_base()
            .moderate_comment(id, approve, context.agent_id, &audit.entry(), self.now())
            .await?
        {
            return Err(AppError::NotFound);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_made_from_titles_and_checked() {
        assert_eq!(
            slug_from("How do I reset my password?"),
            "how-do-i-reset-my-password"
        );
        assert_eq!(slug_from("  Größe & Farbe  "), "größe-farbe");
        assert_eq!(slug_from("<script>"), "script");
        assert_eq!(slug_from("!!!"), "article");
        assert!(
            is_slug(&slug_from("\u{3d2} capital with no small form")),
            "ϒ stays out"
        );
        let long = "a".repeat(MAX_SLUG_CHARS);
        assert!(
            is_slug(&with_suffix(&long, "2")),
            "a suffix keeps a full-length slug a slug"
        );
        assert!(is_slug("reset-password-2"));
        for bad in ["", "-x", "x-", "Upper", "a/b", "a b", "../etc"] {
            assert!(!is_slug(bad), "{bad}");
        }
    }
}
