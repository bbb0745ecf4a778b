//! Full-text search over what the help center publishes: SQLite's FTS5 on
//! SQLite, a `tsvector` with a GIN index on PostgreSQL, behind one method.
//! The caller passes plain search terms (letters and digits only), so no
//! user text ever reaches a query language.

use crate::{Store, StoreResult, on_backend};

/// Marks the start and end of a matched word in a snippet; private-use
/// characters that never occur in indexed text (they are removed from it).
pub const MATCH_START: char = '\u{E000}';
pub const MATCH_END: char = '\u{E001}';

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SearchHit {
    /// `article` or `news`.
    pub kind: String,
    pub ref_id: i64,
    pub title: String,
    /// Text around the matches, with matches between `MATCH_START` and
    /// `MATCH_END`; not HTML-escaped.
    pub snippet: String,
    pub slug: String,
}

/// Text as indexed: without the snippet markers.
pub(crate) fn indexable(text: &str) -> String {
    text.chars()
        .filter(|character| *character != MATCH_START && *character != MATCH_END)
        .collect()
}

/// Puts an item into the index (`Some((title, body))`) or takes it out
/// (`None`), inside a transaction the caller holds.
pub(crate) async fn index_content(
    connected: &mut impl crate::backend::Connected,
    kind: &str,
    ref_id: i64,
    content: Option<(&str, &str)>,
) -> Result<(), sqlx::Error> {
    crate::backend::on_connection!(connected, connection => {
        sqlx::query("DELETE FROM content_search WHERE kind = $1 AND ref_id = $2")
            .bind(kind)
            .bind(ref_id)
            .execute(&mut *connection)
            .await?;
        if let Some((title, body)) = content {
            sqlx::query(
                "INSERT INTO content_search (kind, ref_id, title, body) VALUES ($1, $2, $3, $4)",
            )
            .bind(kind)
            .bind(ref_id)
            .bind(crate::search::indexable(title))
            .bind(crate::search::indexable(body))
            .execute(&mut *connection)
            .await?;
        }
    });
    Ok(())
}

impl Search<'_> {
    /// Published items matching every term (or, with `any_term`, at least
    /// one), each also as a prefix, best first. `kind` narrows to
    /// `article` or `news`; empty for both. No terms, no results.
    pub async fn search_content(
        &self,
        terms: &[String],
        any_term: bool,
        kind: &str,
        limit: i64,
    ) -> StoreResult<Vec<SearchHit>> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let postgres = matches!(self.backend, crate::Backend::Postgres(_));
        Ok(on_backend!(self, pool => {
            if postgres {
                let query: Vec<String> = terms.iter().map(|term| format!("{term}:*")).collect();
                let options = format!(
                    "StartSel={MATCH_START}, StopSel={MATCH_END}, MaxWords=35, MinWords=15, MaxFragments=2, FragmentDelimiter=\" \u{2026} \""
                );
                sqlx::query_as::<_, SearchHit>(crate::dialect::POSTGRES_SEARCH)
                    .bind(query.join(if any_term { " | " } else { " & " }))
                    .bind(limit)
                    .bind(options)
                    .bind(kind)
                    .fetch_all(pool)
                    .await?
            } else {
                let query: Vec<String> = terms.iter().map(|term| format!("\"{term}\"*")).collect();
                sqlx::query_as::<_, SearchHit>(crate::dialect::SQLITE_SEARCH)
                    .bind(query.join(if any_term { " OR " } else { " " }))
                    .bind(limit)
                    .bind(MATCH_START.to_string())
                    .bind(MATCH_END.to_string())
                    .bind(kind)
                    .fetch_all(pool)
                    .await?
            }
        }))
    }

    /// The title and text of published items, up to `limit` of them: what
    /// a spelling suggestion may propose.
    pub async fn published_texts(&self, limit: i64) -> StoreResult<Vec<(String, String)>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, (String, String)>("SELECT title, body FROM content_search LIMIT +$1")
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_never_reach_the_index() {
        assert_eq!(indexable("a\u{E000}b\u{E001}c"), "abc");
    }
}

/// The store's operations on full-text search: `store.search()`.
#[derive(Clone, Copy)]
pub struct Search<'a> {
    store: &'a Store,
}

impl Store {
    pub fn search(&self) -> Search<'_> {
        Search { store: self }
    }
}

impl std::ops::Deref for Search<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
