//! Headers every response carries, errors and 404s included.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// No inline script or style anywhere: everything comes from our own origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const PERMISSIONS_POLICY: &str = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), \
     accelerometer=(), gyroscope=(), magnetometer=()";
const HSTS: &str = "max-age=31536000; includeSubDomains";
/// `Retry-After` of a 429 that named no time of its own.
const DEFAULT_RETRY_AFTER_SECONDS: &str = "60";

/// Set on a response (as an extension) that other sites may frame: the
/// handler's own `frame-ancestors` names them, so no `X-Frame-Options`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FramingAllowed;

/// The policy of a page that the sites in `origins` may frame.
pub(crate) fn policy_framed_by(origins: &[String]) -> String {
    let ancestors = std::iter::once("'self'")
        .chain(origins.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    CONTENT_SECURITY_POLICY.replace(
        "frame-ancestors 'none'",
        &format!("frame-ancestors {ancestors}"),
    )
}

pub(crate) async fn apply(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let framing_allowed = response.extensions().get::<FramingAllowed>().is_some();
    let headers = response.headers_mut();
    // A handler may set a stricter policy (downloads sandbox themselves).
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    let fixed: [(HeaderName, &'static str); 4] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            HeaderName::from_static("permissions-policy"),
            PERMISSIONS_POLICY,
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !framing_allowed {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    // Only the chat widget's script is for other sites to load.
    let resource_policy = HeaderName::from_static("cross-origin-resource-policy");
    if !headers.contains_key(&resource_policy) {
        headers.insert(resource_policy, HeaderValue::from_static("same-origin"));
    }
    // Pages may hold personal data: nothing is cached unless a handler (the
    // static assets) says otherwise.
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.config.is_https() {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    headers.remove(header::SERVER);
    // Every 429 says when to come back; those that know (a lock-out, the
    // API's limit) said it already.
    if response.status() == axum::http::StatusCode::TOO_MANY_REQUESTS
        && !response.headers().contains_key(header::RETRY_AFTER)
    {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(DEFAULT_RETRY_AFTER_SECONDS),
        );
    }
    response
}
