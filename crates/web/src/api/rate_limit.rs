//! The per-key request limit's headers. The count itself is the
//! application's (`App::hit_api_limit`): every node counts each key's
//! minute together, through the database, in chunks.

use axum::http::{HeaderMap, HeaderValue, header};
use ferrodesk_app::ApiVerdict;

use super::{RATE_LIMIT_LIMIT, RATE_LIMIT_REMAINING, RATE_LIMIT_RESET};

/// Writes the limit, what is left and when the minute turns; on a
/// refusal, `Retry-After` too.
pub(crate) fn write_headers(verdict: &ApiVerdict, headers: &mut HeaderMap) {
    headers.insert(RATE_LIMIT_LIMIT, HeaderValue::from(verdict.limit));
    headers.insert(RATE_LIMIT_REMAINING, HeaderValue::from(verdict.remaining));
    let seconds = verdict.reset_after_seconds.max(1);
    headers.insert(RATE_LIMIT_RESET, HeaderValue::from(seconds));
    if !verdict.allowed {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
}
