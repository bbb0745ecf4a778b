//! "Did you mean": when a search finds nothing, each word it does not know
//! is replaced by the nearest word the help center publishes (at most one
//! edit away for short words, two for longer ones), so "passwrd" finds the
//! articles about passwords.
//!
//! The vocabulary is built from the search index's text when a search first
//! needs it and kept for a minute, on each node; only searches that find
//! nothing pay for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a node keeps a vocabulary before reading the index again.
const VOCABULARY_LIFETIME: Duration = Duration::from_secs(60);
/// Words shorter than this are never corrected ("is", "my").
const MIN_CORRECTED_CHARS: usize = 4;
/// Words from this many characters on may be two edits away.
const TWO_EDITS_FROM_CHARS: usize = 7;

/// The words of everything published, with how often each occurs.
#[derive(Debug, Default)]
pub(crate) struct Vocabulary {
    counts: HashMap<String, u32>,
}

impl Vocabulary {
    /// The vocabulary of some texts.
    pub(crate) fn of<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vocabulary {
        let mut counts: HashMap<String, u32> = HashMap::new();
        for text in texts {
            for word in words_of(text) {
                *counts.entry(word).or_default() += 1;
            }
        }
        Vocabulary { counts }
    }

    /// The query with every unknown word replaced by its nearest known
    /// word, or `None` when nothing would change.
    pub(crate) fn correct(&self, terms: &[String]) -> Option<Vec<String>> {
        let mut changed = false;
        let corrected = terms
            .iter()
            .map(|term| match self.nearest(term) {
                Some(word) if word != *term => {
                    changed = true;
                    word
                }
                _ => term.clone(),
            })
            .collect();
        changed.then_some(corrected)
    }

    /// The known word nearest to `term` (the most frequent among equally
    /// near ones), or `None` when it is known, short, or nothing is near.
    fn nearest(&self, term: &str) -> Option<String> {
        let length = term.chars().count();
        if length < MIN_CORRECTED_CHARS || self.counts.contains_key(term) {
            return None;
        }
        let allowed = if length >= TWO_EDITS_FROM_CHARS { 2 } else { 1 };
        let term: Vec<char> = term.chars().collect();
        let mut best: Option<(usize, u32, &str)> = None;
        for (word, count) in &self.counts {
            let candidate: Vec<char> = word.chars().collect();
            if candidate.len().abs_diff(term.len()) > allowed {
                continue;
            }
            let Some(distance) = edit_distance_within(&term, &candidate, allowed) else {
                continue;
            };
            let better = match best {
                None => true,
                Some((best_distance, best_count, best_word)) => {
                    (distance, std::cmp::Reverse(*count), word.as_str())
                        < (best_distance, std::cmp::Reverse(best_count), best_word)
                }
            };
            if better {
                best = Some((distance, *count, word));
            }
        }
        best.map(|(_, _, word)| word.to_owned())
    }
}

/// The words of a text as the search sees them; digits alone are not words
/// worth suggesting.
fn words_of(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|character: char| !(character.is_alphabetic() || character.is_ascii_digit()))
        .filter(|word| word.chars().count() >= MIN_CORRECTED_CHARS)
        .filter(|word| word.chars().any(char::is_alphabetic))
        .map(str::to_lowercase)
}

/// The number of edits (insert, delete, replace, swap two neighbours)
/// between two words, if it is at most `limit`.
fn edit_distance_within(from: &[char], to: &[char], limit: usize) -> Option<usize> {
    let width = to.len() + 1;
    let mut before_previous: Vec<usize> = vec![0; width];
    let mut previous: Vec<usize> = (0..width).collect();
    let mut current: Vec<usize> = vec![0; width];
    for i in 1..=from.len() {
        current[0] = i;
        let mut row_minimum = current[0];
        for j in 1..width {
            let cost = usize::from(from[i - 1] != to[j - 1]);
            let mut distance = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && from[i - 1] == to[j - 2] && from[i - 2] == to[j - 1] {
                distance = distance.min(before_previous[j - 2] + 1);
            }
            current[j] = distance;
            row_minimum = row_minimum.min(distance);
        }
        if row_minimum > limit {
            return None;
        }
        std::mem::swap(&mut before_previous, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    let distance = previous[to.len()];
    (distance <= limit).then_some(distance)
}

/// A node's vocabulary and when it was read.
#[derive(Debug, Default)]
pub(crate) struct VocabularyCache(Mutex<Option<(Instant, Arc<Vocabulary>)>>);

impl VocabularyCache {
    pub(crate) fn fresh(&self) -> Option<Arc<Vocabulary>> {
        let held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        held.as_ref()
            .filter(|(read_at, _)| read_at.elapsed() < VOCABULARY_LIFETIME)
            .map(|(_, vocabulary)| vocabulary.clone())
    }

    pub(crate) fn keep(&self, vocabulary: Arc<Vocabulary>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), vocabulary));
    }
}

/// The query's terms spelt as `corrected` says, for showing.
pub(crate) fn as_query(corrected: &[String]) -> String {
    corrected.join(" ")
}

#[cfg(test)]
mod tests {
    use super::super::search_terms;
    use super::*;

    fn terms(query: &str) -> Vec<String> {
        search_terms(query)
    }

    #[test]
    fn distances_count_edits_and_give_up_beyond_the_limit() {
        let chars = |word: &str| word.chars().collect::<Vec<_>>();
        assert_eq!(
            edit_distance_within(&chars("passwrd"), &chars("password"), 2),
            Some(1)
        );
        assert_eq!(
            edit_distance_within(&chars("pasword"), &chars("password"), 1),
            Some(1)
        );
        assert_eq!(
            edit_distance_within(&chars("passowrd"), &chars("password"), 1),
            Some(1)
        );
        assert_eq!(
            edit_distance_within(&chars("printer"), &chars("password"), 2),
            None
        );
        assert_eq!(
            edit_distance_within(&chars("größe"), &chars("grösse"), 2),
            Some(2)
        );
    }

    #[test]
    fn misspelt_words_become_the_nearest_published_word() {
        let vocabulary = Vocabulary::of([
            "Resetting your password",
            "If you forgot your password, use the reset link. Passwords expire.",
            "Printer setup",
        ]);
        assert_eq!(
            vocabulary.correct(&terms("passwrd")),
            Some(terms("password"))
        );
        assert_eq!(
            vocabulary.correct(&terms("reset my pasword")),
            Some(terms("reset my password"))
        );
        assert_eq!(vocabulary.correct(&terms("printr")), Some(terms("printer")));
        // Known words, short words and far-off words stay as typed.
        assert_eq!(vocabulary.correct(&terms("password reset")), None);
        assert_eq!(vocabulary.correct(&terms("pw")), None);
        assert_eq!(vocabulary.correct(&terms("zebra")), None);
    }

    #[test]
    fn the_more_frequent_of_equally_near_words_wins() {
        let vocabulary = Vocabulary::of(["mail mail mail", "male"]);
        assert_eq!(vocabulary.correct(&terms("maile")), Some(terms("mail")));
    }
}
