//! How many documents of the search index a query's words match, as this
//! process last counted them. The count only chooses between ranking
//! every match and listing the newest first, so a count a minute old does
//! as well as a fresh one, and a search typed again (the next page, the
//! same word by another agent) saves PostgreSQL's estimate and count: two
//! statements, four round trips.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a count is used.
const KEPT_FOR: Duration = Duration::from_secs(60);
/// The most queries remembered; beyond it the stale ones are dropped, and
/// everything if none is stale.
const MOST_KEPT: usize = 4_096;

/// Counts by (query, cap), with when they were made.
#[derive(Debug, Default)]
pub(crate) struct MatchCounts {
    counted: Mutex<HashMap<(String, i64), (Instant, i64)>>,
}

impl MatchCounts {
    /// The count of `query` up to `cap`, if made less than `KEPT_FOR` ago.
    pub(crate) fn get(&self, query: &str, cap: i64) -> Option<i64> {
        let counted = self.counted.lock().ok()?;
        counted
            .get(&(query.to_owned(), cap))
            .filter(|(at, _)| at.elapsed() < KEPT_FOR)
            .map(|(_, count)| *count)
    }

    pub(crate) fn put(&self, query: &str, cap: i64, count: i64) {
        let Ok(mut counted) = self.counted.lock() else {
            return;
        };
        if counted.len() >= MOST_KEPT {
            counted.retain(|_, (at, _)| at.elapsed() < KEPT_FOR);
            if counted.len() >= MOST_KEPT {
                counted.clear();
            }
        }
        counted.insert((query.to_owned(), cap), (Instant::now(), count));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_is_kept_per_query_and_cap() {
        let counts = MatchCounts::default();
        assert_eq!(counts.get("'error'", 1_001), None);
        counts.put("'error'", 1_001, 1_001);
        assert_eq!(counts.get("'error'", 1_001), Some(1_001));
        assert_eq!(counts.get("'error'", 5), None);
        assert_eq!(counts.get("'errors'", 1_001), None);
    }

    #[test]
    fn a_full_memory_makes_room() {
        let counts = MatchCounts::default();
        for word in 0..MOST_KEPT + 10 {
            counts.put(&word.to_string(), 1, 1);
        }
        assert!(
            counts
                .counted
                .lock()
                .map(|counted| counted.len())
                .unwrap_or(0)
                <= MOST_KEPT
        );
        assert_eq!(counts.get(&(MOST_KEPT + 9).to_string(), 1), Some(1));
    }
}
