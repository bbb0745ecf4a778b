//! How large a request body may be. Forms are small (64 KiB); a message with
//! attachments may be as large as the admin's attachment limits allow. The
//! limit is enforced on the declared length up front and on the bytes as
//! they arrive, so a client cannot stream past it.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{AppState, FORM_BODY_LIMIT};

/// Whether a request says it carries a multipart form (file uploads).
pub(crate) fn is_multipart(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .get(..19)
                .is_some_and(|start| start.eq_ignore_ascii_case("multipart/form-data"))
        })
}

pub(crate) async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = if is_multipart(request.headers()) {
        match state.app.settings().await {
            Ok(settings) => {
                usize::try_from(settings.attachments.max_request_bytes()).unwrap_or(FORM_BODY_LIMIT)
            }
            Err(_) => FORM_BODY_LIMIT,
        }
    } else {
        FORM_BODY_LIMIT
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    let (parts, body) = request.into_parts();
    let limited = Body::new(http_body_util::Limited::new(body, limit));
    next.run(Request::from_parts(parts, limited)).await
}

/// How long a request may take: uploads get longer, so a large file on a
/// slow line is not cut off.
pub(crate) async fn deadline(request: Request, next: Next) -> Response {
    let duration = if is_multipart(request.headers()) {
        crate::UPLOAD_TIMEOUT
    } else {
        crate::REQUEST_TIMEOUT
    };
    match tokio::time::timeout(duration, next.run(request)).await {
        Ok(response) => response,
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}
