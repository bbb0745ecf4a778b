//! The per-key request limit: a fixed one-minute window counted in this
//! node's memory, so checking it costs no database write. With several
//! nodes behind a balancer each counts its own share.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, header};

use super::{RATE_LIMIT_LIMIT, RATE_LIMIT_REMAINING, RATE_LIMIT_RESET};

const WINDOW: Duration = Duration::from_secs(60);
/// Windows are forgotten once this many keys are counted, oldest first.
const MAX_TRACKED_KEYS: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct ApiRateLimiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

/// What one hit found: whether it may pass and what the headers say.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Verdict {
    pub allowed: bool,
    limit: u32,
    remaining: u32,
    reset_after: Duration,
}

impl Verdict {
    pub fn write_headers(&self, headers: &mut HeaderMap, refused: bool) {
        headers.insert(RATE_LIMIT_LIMIT, HeaderValue::from(self.limit));
        headers.insert(RATE_LIMIT_REMAINING, HeaderValue::from(self.remaining));
        let seconds = self.reset_after.as_secs().max(1);
        headers.insert(RATE_LIMIT_RESET, HeaderValue::from(seconds));
        if refused {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
    }
}

impl ApiRateLimiter {
    /// Counts one request of `key` against `limit` per minute.
    pub fn hit(&self, key: &str, limit: u32, now: Instant) -> Verdict {
        let mut windows = match self.windows.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if windows.len() >= MAX_TRACKED_KEYS && !windows.contains_key(key) {
            windows.retain(|_, (opened, _)| now.duration_since(*opened) < WINDOW);
        }
        let window = windows.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(window.0) >= WINDOW {
            *window = (now, 0);
        }
        window.1 = window.1.saturating_add(1);
        let reset_after = WINDOW.saturating_sub(now.duration_since(window.0));
        Verdict {
            allowed: window.1 <= limit,
            limit,
            remaining: limit.saturating_sub(window.1),
            reset_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_refused_past_its_limit_until_the_window_turns() {
        let limiter = ApiRateLimiter::default();
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.hit("k1", 3, start).allowed);
        }
        let refused = limiter.hit("k1", 3, start);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert!(limiter.hit("k2", 3, start).allowed, "keys count apart");
        assert!(limiter.hit("k1", 3, start + WINDOW).allowed);
    }
}
