//! One log line per request, and the request id that ties it to error pages
//! and the error log. Only the matched route is logged, never the raw path:
//! paths can carry one-time tokens (`/agent/reset-password/{token}`).

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The id of one request, shown on error pages and stored with errors.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub String);

impl RequestId {
    fn generate() -> RequestId {
        let mut bytes = [0u8; 8];
        // Uniqueness, not secrecy, is what matters here; should the system
        // randomness fail, a time-based id still tells requests apart.
        if getrandom::fill(&mut bytes).is_err() {
            bytes = ferrodesk_core::Timestamp::now().millis().to_be_bytes();
        }
        RequestId(hex::encode(bytes))
    }
}

pub(crate) async fn log_request(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = RequestId::generate();
    request.extensions_mut().insert(request_id.clone());
    let method = request.method().clone();
    // Layers added with `Router::layer` run after routing, so the matched
    // route template is known here.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("-", |path| path.as_str())
        .to_owned();
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&request_id.0) {
        response.headers_mut().insert("x-request-id", value);
    }
    tracing::info!(
        request_id = %request_id.0,
        method = %method,
        route = %route,
        status = response.status().as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}
