//! The help center's front page: the admin's welcome, the knowledge base's
//! categories as tiles, popular and recent articles, and the latest news.

use ferrodesk_store::{ArticleCategoryRecord, ArticleSummary, NewsPostRecord};

use crate::{App, AppResult, markdown};

/// Articles in each of the front page's two lists.
const FRONT_PAGE_ARTICLES: i64 = 5;
/// News posts on the front page.
const FRONT_PAGE_NEWS: i64 = 3;

/// A top-level category, with the published articles in it and every
/// category below it.
#[derive(Debug, Clone)]
pub struct CategoryTile {
    pub category: ArticleCategoryRecord,
    pub article_count: i64,
}

/// Everything the front page shows.
#[derive(Debug, Clone)]
pub struct FrontPage {
    /// The admin's heading, if they set one.
    pub welcome_title: Option<String>,
    /// The admin's introduction rendered from markdown, if they set one.
    pub welcome_html: Option<String>,
    pub categories: Vec<CategoryTile>,
    pub popular: Vec<ArticleSummary>,
    pub recent: Vec<ArticleSummary>,
    pub news: Vec<NewsPostRecord>,
}

/// The top-level categories, each counting the published articles of its
/// whole subtree.
pub fn category_tiles(categories: &[ArticleCategoryRecord]) -> Vec<CategoryTile> {
    let top_of = |category: &ArticleCategoryRecord| {
        let mut parent_id = category.parent_id;
        let mut top = category.id;
        // A parent chain longer than the list is a cycle: stop there.
        for _ in 0..categories.len() {
            let Some(parent) =
                parent_id.and_then(|parent| categories.iter().find(|found| found.id == parent))
            else {
                break;
            };
            top = parent.id;
            parent_id = parent.parent_id;
        }
        top
    };
    let mut tiles: Vec<CategoryTile> = categories
        .iter()
        .filter(|category| category.parent_id.is_none())
        .map(|category| CategoryTile {
            category: category.clone(),
            article_count: 0,
        })
        .collect();
    for category in categories {
        let top = top_of(category);
        if let Some(tile) = tiles.iter_mut().find(|tile| tile.category.id == top) {
            tile.article_count += category.published_count;
        }
    }
    tiles
}

impl App {
    /// The help center's front page.
    pub async fn front_page(&self) -> AppResult<FrontPage> {
        let settings = self.settings().await?;
        let welcome = &settings.help_center;
        let knowledge_base = self.store().knowledge_base();
        let categories = knowledge_base.list_article_categories().await?;
        Ok(FrontPage {
            welcome_title: (!welcome.welcome_title.is_empty())
                .then(|| welcome.welcome_title.clone()),
            welcome_html: (!welcome.welcome_text.is_empty())
                .then(|| markdown::render_message(&welcome.welcome_text)),
            categories: category_tiles(&categories),
            popular: knowledge_base
                .popular_articles(None, None, FRONT_PAGE_ARTICLES)
                .await?,
            recent: knowledge_base.recent_articles(FRONT_PAGE_ARTICLES).await?,
            news: self
                .store()
                .news()
                .published_news(None, None, FRONT_PAGE_NEWS)
                .await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn category(id: i64, parent_id: Option<i64>, published_count: i64) -> ArticleCategoryRecord {
        ArticleCategoryRecord {
            id,
            parent_id,
            name: format!("Category {id}"),
            description: String::new(),
            position: id,
            published_count,
        }
    }

    #[test]
    fn tiles_count_the_articles_of_their_whole_subtree() {
        let tiles = category_tiles(&[
            category(1, None, 2),
            category(2, Some(1), 3),
            category(3, Some(2), 4),
            category(4, None, 0),
        ]);
        let counts: Vec<(i64, i64)> = tiles
            .iter()
            .map(|tile| (tile.category.id, tile.article_count))
            .collect();
        assert_eq!(counts, [(1, 9), (4, 0)]);
    }

    #[test]
    fn a_cycle_of_parents_cannot_hang_the_page() {
        let tiles = category_tiles(&[category(1, Some(2), 1), category(2, Some(1), 1)]);
        assert!(tiles.is_empty());
    }
}
