//! Ticket counts kept per node while no ticket changes.

use std::collections::HashMap;
use std::time::Duration;

use ferrodesk_store::{TicketChangeMark, TicketFilter, TicketSearch, Visibility};

use crate::{App, AppResult};

/// How long a ticket count is kept at most. Writes through this node always
/// move the change mark; another node's write moves it through the newest
/// id or change time, which a change in the same millisecond as the newest
/// one, or a clock running behind, can leave as it was. This bounds how
/// stale those can make a count.
const TICKET_COUNT_TTL: Duration = Duration::from_secs(10);
/// How long other requests show the previous count while one counts
/// afresh; a count that failed or was abandoned is taken over after this.
const RECOUNT_GRACE: Duration = Duration::from_secs(5);
/// Counts kept per node before the cache starts again.
const TICKET_COUNT_ENTRIES: usize = 2_000;

/// Counting the tickets a list holds is the one part of a list page whose
/// cost grows with the database: the API's exact total counts every match
/// (half a million at a million tickets), and the agent list counts five
/// views. Each count is kept with the change mark it was made at
/// (`App::ticket_change_mark`) and used again while the mark holds, so
/// a ticket opened or changed makes the next page count afresh (one page
/// at a time: see `get`).
#[derive(Debug, Default)]
pub(crate) struct TicketCountCache(std::sync::Mutex<HashMap<TicketCountKey, CachedCount>>);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TicketCountKey(String);

#[derive(Debug, Clone, Copy)]
struct CachedCount {
    mark: TicketChangeMark,
    counted_at: std::time::Instant,
    count: i64,
    /// When a request set out to count afresh; others show `count` till
    /// then.
    recount_started: Option<std::time::Instant>,
}

impl TicketCountKey {
    /// `None` for the followed view: following changes no ticket, so
    /// another node's follow would not move the mark (and that count is
    /// small and cheap).
    fn new(
        visibility: &Visibility,
        filter: &TicketFilter,
        cap: Option<i64>,
    ) -> Option<TicketCountKey> {
        if filter.followed_by.is_some() {
            return None;
        }
        Some(TicketCountKey(format!("{visibility:?}|{filter:?}|{cap:?}")))
    }

    /// A search's count (`None` when it cannot be kept, as for `new`).
    /// Filters that hold the time (`sla:`) never repeat, so are never
    /// used again.
    pub(crate) fn for_search(
        visibility: &Visibility,
        search: &TicketSearch,
        cap: i64,
    ) -> Option<TicketCountKey> {
        if search.base.followed_by.is_some() {
            return None;
        }
        Some(TicketCountKey(format!("{visibility:?}|{search:?}|{cap}")))
    }
}

impl TicketCountCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<TicketCountKey, CachedCount>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The count to show, or `None` when the caller is to count. While
    /// one request counts afresh, the others show the count before it
    /// rather than all counting at once (at a million tickets an exact
    /// count takes half a second, and 32 at once took the API list's p99
    /// to 580 ms when a count expired under load).
    fn get(&self, key: &TicketCountKey, mark: TicketChangeMark) -> Option<i64> {
        let mut entries = self.entries();
        let cached = entries.get_mut(key)?;
        if cached.mark == mark && cached.counted_at.elapsed() < TICKET_COUNT_TTL {
            return Some(cached.count);
        }
        match cached.recount_started {
            Some(started) if started.elapsed() < RECOUNT_GRACE => Some(cached.count),
            _ => {
                cached.recount_started = Some(std::time::Instant::now());
                None
            }
        }
    }

    fn put(&self, key: TicketCountKey, mark: TicketChangeMark, count: i64) {
        let mut entries = self.entries();
        if entries.len() >= TICKET_COUNT_ENTRIES {
            entries.clear();
        }
        entries.insert(
            key,
            CachedCount {
                mark,
                counted_at: std::time::Instant::now(),
                count,
                recount_started: None,
            },
        );
    }
}

impl App {
    /// A search's count kept from an earlier request while no ticket has
    /// changed; `None` when the caller is to count (and keep it with
    /// `keep_search_count`), as `counted` does for lists.
    pub(crate) fn kept_search_count(
        &self,
        key: &TicketCountKey,
        mark: TicketChangeMark,
    ) -> Option<i64> {
        self.inner.ticket_counts.get(key, mark)
    }

    pub(crate) fn keep_search_count(
        &self,
        key: TicketCountKey,
        mark: TicketChangeMark,
        count: i64,
    ) {
        self.inner.ticket_counts.put(key, mark, count);
    }

    /// How many tickets a list holds (up to `cap`), from this node's cache
    /// while no ticket has been opened or changed since it was counted.
    pub(super) async fn counted(
        &self,
        visibility: &Visibility,
        filter: &TicketFilter,
        cap: Option<i64>,
        mark: TicketChangeMark,
    ) -> AppResult<i64> {
        let key = TicketCountKey::new(visibility, filter, cap);
        if let Some(count) = key
            .as_ref()
            .and_then(|key| self.inner.ticket_counts.get(key, mark))
        {
            return Ok(count);
        }
        let count = match cap {
            Some(cap) => {
                self.store()
                    .tickets()
                    .count_tickets_up_to(visibility, filter, cap)
                    .await?
            }
            None => {
                self.store()
                    .tickets()
                    .count_tickets(visibility, filter)
                    .await?
            }
        };
        if let Some(key) = key {
            self.inner.ticket_counts.put(key, mark, count);
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_is_kept_until_tickets_change_and_counted_once_at_a_time() {
        let cache = TicketCountCache::default();
        let key =
            TicketCountKey::new(&Visibility::Everything, &TicketFilter::default(), None).unwrap();
        let mark = TicketChangeMark::for_tests(0, 10, 100);
        assert_eq!(cache.get(&key, mark), None);
        cache.put(key.clone(), mark, 7);
        assert_eq!(cache.get(&key, mark), Some(7));
        // A ticket changed: the first request counts afresh, the ones
        // meanwhile show the count before, and the new count is used next.
        let moved = TicketChangeMark::for_tests(1, 10, 100);
        assert_eq!(cache.get(&key, moved), None);
        assert_eq!(cache.get(&key, moved), Some(7));
        cache.put(key.clone(), moved, 8);
        assert_eq!(cache.get(&key, moved), Some(8));
        // The followed view is never kept.
        let followed = TicketFilter {
            followed_by: Some(3),
            ..TicketFilter::default()
        };
        assert!(TicketCountKey::new(&Visibility::Everything, &followed, None).is_none());
    }
}
