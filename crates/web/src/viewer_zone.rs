//! The time zone of whoever a page is made for, set around each request
//! of the staff and help-center surfaces (`session::with_session`), so
//! that every time a page shows is in the reader's zone without each
//! handler passing it along.

use std::future::Future;

use ferrodesk_core::{Timestamp, Zone};

tokio::task_local! {
    static VIEWER_ZONE: Zone;
}

/// Runs `future` with `zone` as the reader's zone.
pub(crate) async fn within<F: Future>(zone: Zone, future: F) -> F::Output {
    VIEWER_ZONE.scope(zone, future).await
}

/// `at` as the reader reads it (UTC outside a request).
pub(crate) fn local_time(at: Timestamp) -> String {
    VIEWER_ZONE
        .try_with(|zone| zone.time(at))
        .unwrap_or_else(|_| Zone::utc().time(at))
}

/// `at`'s date in the reader's zone.
pub(crate) fn local_date(at: Timestamp) -> String {
    VIEWER_ZONE
        .try_with(|zone| zone.date(at))
        .unwrap_or_else(|_| Zone::utc().date(at))
}
