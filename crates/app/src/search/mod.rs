//! Searching what the help center publishes. Whatever a visitor types
//! becomes plain search terms (runs of letters and digits), so quotes,
//! operators, control characters or odd Unicode never reach the query
//! language and never cause an error.

mod spelling;

use std::sync::Arc;

use ferrodesk_store::{MATCH_END, MATCH_START};

pub(crate) use spelling::VocabularyCache;

use crate::{App, AppResult};

/// Terms a query may have; more are ignored.
const MAX_TERMS: usize = 8;
const MAX_TERM_CHARS: usize = 40;
const SEARCH_RESULTS: i64 = 30;
const SUGGESTIONS: i64 = 5;
/// Shorter words ("my", "is") suggest nothing.
const MIN_SUGGESTION_TERM_CHARS: usize = 3;

/// One result, ready to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResult {
    /// `article` or `news`.
    pub kind: String,
    pub title: String,
    /// Where it lives: `/kb/articles/<slug>` or `/news/<slug>`.
    pub path: String,
    /// The text around the matches, HTML-escaped, matches in `<mark>`.
    pub snippet_html: String,
}

/// Published items a spelling suggestion may learn words from.
const VOCABULARY_ITEMS: i64 = 20_000;

/// What a search found, and the query it searched for when the one typed
/// found nothing but a respelt one did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchOutcome {
    pub results: Vec<SearchResult>,
    /// The corrected query ("password" for "passwrd"), when the results
    /// are for it.
    pub corrected_query: Option<String>,
}

/// The search terms in a query: lower-case runs of letters and digits.
pub fn search_terms(query: &str) -> Vec<String> {
    query
        .split(|character: char| !(character.is_alphabetic() || character.is_ascii_digit()))
        .filter(|term| !term.is_empty())
        .map(|term| term.to_lowercase().chars().take(MAX_TERM_CHARS).collect())
        .take(MAX_TERMS)
        .collect()
}

/// A snippet with its match markers, as safe HTML.
fn snippet_html(snippet: &str) -> String {
    let mut html = String::with_capacity(snippet.len() + 32);
    let mut open = false;
    for character in snippet.chars() {
        match character {
            MATCH_START if !open => {
                html.push_str("<mark>");
                open = true;
            }
            MATCH_END if open => {
                html.push_str("</mark>");
                open = false;
            }
            MATCH_START | MATCH_END => {}
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '&' => html.push_str("&amp;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            other => html.push(other),
        }
    }
    if open {
        html.push_str("</mark>");
    }
    html
}

impl App {
    /// Published articles and news matching every term of the query, best
    /// first; `kind` narrows to `article` or `news`. When nothing matches,
    /// misspelt words are corrected to published ones and the search tried
    /// once more.
    pub async fn search(&self, query: &str, kind: &str) -> AppResult<SearchOutcome> {
        let terms = search_terms(query);
        let results = self
            .search_terms_in(&terms, false, kind, SEARCH_RESULTS)
            .await?;
        if !results.is_empty() || terms.is_empty() {
            return Ok(SearchOutcome {
                results,
                corrected_query: None,
            });
        }
        let Some(corrected) = self.search_vocabulary().await?.correct(&terms) else {
            return Ok(SearchOutcome::default());
        };
        let results = self
            .search_terms_in(&corrected, false, kind, SEARCH_RESULTS)
            .await?;
        Ok(SearchOutcome {
            corrected_query: (!results.is_empty()).then(|| spelling::as_query(&corrected)),
            results,
        })
    }

    /// The words published content uses, read at most once a minute.
    async fn search_vocabulary(&self) -> AppResult<Arc<spelling::Vocabulary>> {
        if let Some(vocabulary) = self.inner.search_vocabulary.fresh() {
            return Ok(vocabulary);
        }
        let texts = self
            .store()
            .search()
            .published_texts(VOCABULARY_ITEMS)
            .await?;
        let vocabulary = Arc::new(spelling::Vocabulary::of(
            texts
                .iter()
                .flat_map(|(title, body)| [title.as_str(), body.as_str()]),
        ));
        self.inner.search_vocabulary.keep(vocabulary.clone());
        Ok(vocabulary)
    }

    async fn search_terms_in(
        &self,
        terms: &[String],
        any_term: bool,
        kind: &str,
        limit: i64,
    ) -> AppResult<Vec<SearchResult>> {
        let kind = match kind {
            "article" | "news" => kind,
            _ => "",
        };
        let hits = self
            .store()
            .search()
            .search_content(terms, any_term, kind, limit)
            .await?;
        Ok(hits
            .into_iter()
            .filter(|hit| !hit.slug.is_empty())
            .map(|hit| SearchResult {
                path: if hit.kind == "news" {
                    format!("/news/{}", hit.slug)
                } else {
                    format!("/kb/articles/{}", hit.slug)
                },
                kind: hit.kind,
                title: hit.title,
                snippet_html: snippet_html(&hit.snippet),
            })
            .collect())
    }

    /// Articles that may answer a request, for the new-request form as the
    /// subject is typed: any of its longer words may match.
    pub async fn suggest_articles(&self, subject: &str) -> AppResult<Vec<SearchResult>> {
        let terms: Vec<String> = search_terms(subject)
            .into_iter()
            .filter(|term| term.chars().count() >= MIN_SUGGESTION_TERM_CHARS)
            .collect();
        self.search_terms_in(&terms, true, "article", SUGGESTIONS)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_input_becomes_plain_terms() {
        assert_eq!(
            search_terms("Reset my PASSWORD!"),
            ["reset", "my", "password"]
        );
        assert_eq!(
            search_terms("\"a\" OR b* NEAR(c) -d ^e {f}:g"),
            ["a", "or", "b", "near", "c", "d", "e", "f", "g"]
                .iter()
                .take(8)
                .map(|term| (*term).to_owned())
                .collect::<Vec<_>>()
        );
        assert_eq!(search_terms("größe café 東京"), ["größe", "café", "東京"]);
        assert!(
            search_terms("'; DROP TABLE articles; --")
                .iter()
                .all(|term| term.chars().all(char::is_alphanumeric))
        );
        assert!(search_terms("\u{0}\u{202e}\u{fe0f}💥²").is_empty());
        assert_eq!(search_terms(&"x".repeat(500))[0].len(), MAX_TERM_CHARS);
    }

    #[test]
    fn snippets_are_escaped_and_marked() {
        assert_eq!(
            snippet_html("a <b> \u{E000}reset\u{E001} & \u{E001}more\u{E000}"),
            "a &lt;b&gt; <mark>reset</mark> &amp; more<mark></mark>"
        );
    }
}
