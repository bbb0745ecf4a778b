//! Reading an events table in id order when ids are not handed out in
//! commit order.
//!
//! On PostgreSQL an identity column gives ids in the order transactions
//! ask for them, not the order they commit: a reader may see id 12 before
//! 11 commits. Rather than order the writers with a lock (which made every
//! writer wait for the one before it to flush its commit), readers hand
//! events out only up to the first missing id, waiting a moment for it; a
//! write that rolled back leaves a hole for good, which the reader then
//! steps over. SQLite has one writer at a time, so its ids never arrive
//! out of order and the cursor simply passes them.

use std::time::{Duration, Instant};

/// How long a reader waits for a missing id (a write that took its id and
/// has not committed yet) before taking it for rolled back.
const HOLE_PATIENCE: Duration = Duration::from_secs(3);
/// How often a reader waiting on a hole looks again, so a rolled-back
/// write does not hold the rest for long.
pub(crate) const HOLE_POLL: Duration = Duration::from_millis(100);

/// Where a reader is in its events: the last id handed out, and the
/// missing id it is waiting for, since when.
#[derive(Debug)]
pub(crate) struct EventCursor {
    last: i64,
    hole: Option<(i64, Instant)>,
}

impl EventCursor {
    pub(crate) fn after(last: i64) -> EventCursor {
        EventCursor { last, hole: None }
    }

    /// The last id handed out: every event up to it has been passed (or
    /// given up on as rolled back).
    pub(crate) fn last(&self) -> i64 {
        self.last
    }

    /// Whether the reader waits for a missing id (and should look again
    /// soon).
    pub(crate) fn waits_on_a_hole(&self) -> bool {
        self.hole.is_some()
    }

    /// Whether event `id` may be handed out now (and, if so, moves past
    /// it): the next id, or one after a hole waited on long enough.
    pub(crate) fn may_pass(&mut self, id: i64, events: &str) -> bool {
        self.may_pass_at(id, Instant::now(), events)
    }

    fn may_pass_at(&mut self, id: i64, now: Instant, events: &str) -> bool {
        if id <= self.last {
            return false;
        }
        if id != self.last + 1 {
            let (missing, since) = *self.hole.get_or_insert((self.last + 1, now));
            if missing == self.last + 1 && now.duration_since(since) < HOLE_PATIENCE {
                return false;
            }
            tracing::debug!(
                events,
                missing,
                up_to = id - 1,
                "event ids skipped: rolled back"
            );
        }
        self.last = id;
        self.hole = None;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_pass_in_order_and_a_hole_is_waited_for_then_stepped_over() {
        let start = Instant::now();
        let mut cursor = EventCursor::after(10);
        assert!(cursor.may_pass_at(11, start, "test"));
        assert!(!cursor.may_pass_at(11, start, "test"), "once");
        // 12 is missing (its write has not committed): 13 waits.
        assert!(!cursor.may_pass_at(13, start, "test"));
        assert!(cursor.waits_on_a_hole());
        assert!(!cursor.may_pass_at(13, start + Duration::from_secs(1), "test"));
        assert_eq!(cursor.last(), 11, "nothing past the hole is handed out");
        // It came: both pass.
        assert!(cursor.may_pass_at(12, start + Duration::from_secs(1), "test"));
        assert!(cursor.may_pass_at(13, start + Duration::from_secs(1), "test"));
        // 14 never comes (rolled back): 15 passes after the patience.
        let later = start + Duration::from_secs(2);
        assert!(!cursor.may_pass_at(15, later, "test"));
        assert!(!cursor.may_pass_at(15, later + HOLE_PATIENCE / 2, "test"));
        assert!(cursor.may_pass_at(15, later + HOLE_PATIENCE, "test"));
        assert_eq!(cursor.last(), 15);
        assert!(!cursor.waits_on_a_hole());
    }
}
