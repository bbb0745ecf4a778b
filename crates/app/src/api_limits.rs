//! The API's per-key request limit, shared by every node. Windows are
//! whole minutes of the clock, so all nodes count the same window. The
//! count lives in the database, but a node does not write per request: it
//! claims a tenth of the limit at a time (one atomic update) and spends it
//! from memory, claiming again when it runs out. Whatever is claimed
//! counts, used or not, so N nodes together never let a key through more
//! than its limit (a node that claimed and went quiet only wastes some of
//! the minute's allowance); once the database says the minute is spent,
//! every further request is refused from memory until the next minute.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::{App, AppResult};

const WINDOW_MILLIS: i64 = 60_000;
/// A node claims this share of a key's limit at a time.
const CLAIMS_PER_WINDOW: u32 = 10;
/// Windows are forgotten once this many keys are counted, old ones first.
const MAX_TRACKED_KEYS: usize = 10_000;

/// What this node holds of each key's current minute.
#[derive(Debug, Default)]
pub(crate) struct ApiAllowances(Mutex<HashMap<String, Allowance>>);

#[derive(Debug, Clone, Copy, Default)]
struct Allowance {
    window_start: i64,
    /// Claimed by this node and not spent yet.
    left: i64,
    /// The minute's claims of every node, as the database last said.
    claimed: i64,
    /// The database said the minute is spent.
    exhausted: bool,
}

/// What one request found: whether it may pass, and the headers' figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiVerdict {
    pub allowed: bool,
    pub limit: u32,
    /// What is left of the minute, as far as this node knows.
    pub remaining: u32,
    /// Seconds until the minute turns.
    pub reset_after_seconds: u64,
}

impl ApiAllowances {
    fn with<T>(&self, key: &str, window_start: i64, act: impl FnOnce(&mut Allowance) -> T) -> T {
        let mut windows = match self.0.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if windows.len() >= MAX_TRACKED_KEYS && !windows.contains_key(key) {
            windows.retain(|_, allowance| allowance.window_start >= window_start);
        }
        let allowance = windows.entry(key.to_owned()).or_default();
        if allowance.window_start != window_start {
            *allowance = Allowance {
                window_start,
                ..Allowance::default()
            };
        }
        act(allowance)
    }
}

impl App {
    /// Counts one request of an API key against `limit` per minute, on
    /// every node together.
    pub async fn hit_api_limit(&self, key_id: &str, limit: u32) -> AppResult<ApiVerdict> {
        let now = self.now().millis();
        let window_start = now - now.rem_euclid(WINDOW_MILLIS);
        let reset_after_seconds =
            u64::try_from((window_start + WINDOW_MILLIS - now + 999) / 1000).unwrap_or(60);
        let limit_count = i64::from(limit);
        let verdict = |allowance: &Allowance, allowed: bool| ApiVerdict {
            allowed,
            limit,
            remaining: u32::try_from(
                (limit_count - (allowance.claimed - allowance.left)).clamp(0, limit_count),
            )
            .unwrap_or(0),
            reset_after_seconds,
        };
        let allowances = &self.inner.api_allowances;
        let spend = |allowance: &mut Allowance| -> Option<ApiVerdict> {
            if allowance.left > 0 {
                allowance.left -= 1;
                return Some(verdict(allowance, true));
            }
            allowance.exhausted.then(|| verdict(allowance, false))
        };
        if let Some(answer) = allowances.with(key_id, window_start, spend) {
            return Ok(answer);
        }
        let chunk = i64::from((limit / CLAIMS_PER_WINDOW).max(1));
        let claimed = self
            .store()
            .rate_limits()
            .claim_allowance(&format!("api:{key_id}"), window_start, chunk)
            .await?;
        let granted = (limit_count - (claimed - chunk)).clamp(0, chunk);
        Ok(allowances.with(key_id, window_start, |allowance| {
            allowance.left += granted;
            allowance.claimed = allowance.claimed.max(claimed);
            allowance.exhausted = claimed >= limit_count;
            if allowance.left > 0 {
                allowance.left -= 1;
                verdict(allowance, true)
            } else {
                verdict(allowance, false)
            }
        }))
    }
}
