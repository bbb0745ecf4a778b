//! Ferrodesk's HTTP layer: the help center (`/`), the agent and admin
//! interfaces (`/agent`, `/admin`), first-run setup and health checks. A
//! handler parses the request, calls one use case in `ferrodesk-app` with the
//! actor, and renders the answer; nothing here talks to the database.

mod assets;
mod client_ip;
mod error;
mod forms;
mod health;
mod pages;
mod request_log;
mod security_headers;
mod session;

pub use client_ip::TrustedProxies;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use ferrodesk_app::App;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// Bodies of ordinary forms; uploads get their own limit where they are accepted.
pub const FORM_BODY_LIMIT: usize = 64 * 1024;
/// A request that takes longer than this is answered with 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the web layer needs to know about how it is reached.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The address people use, e.g. `https://help.example.com`; no trailing slash.
    pub public_url: String,
    pub trusted_proxies: TrustedProxies,
}

impl WebConfig {
    /// Cookies get `Secure` and the `__Host-` prefix, and responses HSTS,
    /// when the public URL is https.
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

#[derive(Clone, Debug)]
pub(crate) struct AppState {
    pub app: App,
    pub config: Arc<WebConfig>,
}

/// The whole route table with its middleware, outermost first: request id and
/// log line, security headers, error pages, panic catcher, timeout, body
/// limit, client IP; then per surface the session and CSRF check.
pub fn router(app: App, config: WebConfig) -> Router {
    let state = AppState {
        app,
        config: Arc::new(config),
    };
    let portal = pages::portal::routes()
        .route_layer(from_fn_with_state(state.clone(), session::portal_session));
    let staff = pages::staff_routes()
        .route_layer(from_fn_with_state(state.clone(), session::staff_session));
    Router::new()
        .merge(portal)
        .merge(staff)
        .merge(health::routes())
        .merge(assets::routes())
        .fallback(error::not_found)
        .layer(from_fn_with_state(state.clone(), client_ip::resolve))
        .layer(DefaultBodyLimit::max(FORM_BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(FORM_BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(from_fn_with_state(state.clone(), error::render_error_pages))
        .layer(from_fn_with_state(state.clone(), security_headers::apply))
        .layer(from_fn(request_log::log_request))
        .with_state(state)
}

/// Serves until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
