//! Ferrodesk's HTTP layer: the help center (`/`), the agent and admin
//! interfaces (`/agent`, `/admin`), first-run setup and health checks. A
//! handler parses the request, calls one use case in `ferrodesk-app` with the
//! actor, and renders the answer; nothing here talks to the database.

mod api;
mod assets;
mod body_limit;
mod branding;
mod charts;
mod client_ip;
mod downloads;
mod error;
mod form_values;
mod forms;
mod health;
mod network;
mod pages;
mod request_log;
mod security_headers;
mod session;
mod text;
mod viewer_zone;

pub use client_ip::TrustedProxies;
pub use network::AllowList;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use ferrodesk_app::App;
use tower_http::catch_panic::CatchPanicLayer;

/// Bodies of ordinary forms; uploads get their own limit where they are accepted.
pub const FORM_BODY_LIMIT: usize = 64 * 1024;
/// A request that takes longer than this is answered with 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a request carrying files may take.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// What the web layer needs to know about how it is reached.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The address people use, e.g. `https://help.example.com`; no trailing slash.
    pub public_url: String,
    pub trusted_proxies: TrustedProxies,
    /// `FERRODESK_ADMIN_ALLOW`: who may reach `/admin` (C8).
    pub admin_allow: AllowList,
    /// `FERRODESK_AGENT_ALLOW`: who may reach `/agent` and `/admin`.
    pub agent_allow: AllowList,
    /// `FERRODESK_BENCH_BASELINE_BYTES`: when set, `/bench/baseline` serves
    /// a static page of this size through the whole stack, the benchmark's
    /// yardstick.
    pub baseline_bytes: Option<usize>,
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
    /// Open chat sockets on this node: an upgraded connection leaves the
    /// server's connection count, so sockets have a cap of their own.
    pub chat_sockets: Arc<tokio::sync::Semaphore>,
}

/// Chat sockets one node keeps open at most (visitors and agents).
pub(crate) const MAX_CHAT_SOCKETS: usize = 20_000;

/// The whole route table with its middleware, outermost first: request id and
/// log line, security headers, error pages, panic catcher, timeout, body
/// limit, client IP; then per surface the session and CSRF check.
pub fn router(app: App, config: WebConfig) -> Router {
    let state = AppState {
        app,
        config: Arc::new(config),
        chat_sockets: Arc::new(tokio::sync::Semaphore::new(MAX_CHAT_SOCKETS)),
    };
    let portal = pages::portal::routes()
        .route_layer(from_fn_with_state(state.clone(), session::portal_session));
    let staff = pages::staff_routes()
        .route_layer(from_fn_with_state(state.clone(), session::staff_session));
    Router::new()
        .merge(portal)
        .merge(pages::chat::keyed_routes())
        .merge(staff)
        .merge(api::routes(state.clone()))
        .merge(health::routes())
        .merge(assets::routes())
        .merge(assets::baseline_routes(state.config.baseline_bytes))
        .merge(branding::routes())
        .fallback(error::not_found)
        .layer(from_fn_with_state(state.clone(), network::restrict))
        .layer(from_fn_with_state(state.clone(), client_ip::resolve))
        // The body limit is our own, per kind of request; axum's
        // extractors would otherwise apply theirs on top.
        .layer(DefaultBodyLimit::disable())
        .layer(from_fn_with_state(state.clone(), body_limit::limit))
        .layer(from_fn(body_limit::deadline))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(from_fn_with_state(state.clone(), error::render_error_pages))
        .layer(from_fn_with_state(state.clone(), security_headers::apply))
        .layer(from_fn(request_log::log_request))
        .with_state(state)
}

/// Limits on connections, against clients that try to exhaust the server.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// How long a client may take to send its request headers. Without it a
    /// client trickling bytes would hold a connection open for ever.
    pub header_read_timeout: Duration,
    /// Open connections beyond this are closed at once instead of queuing.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(15),
            max_connections: 4096,
        }
    }
}
/// How long requests in flight may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Serves until `shutdown` completes, then lets the requests in flight finish.
///
/// A small accept loop over hyper rather than `axum::serve`, because that
/// gives hyper no timer: there would be no header-read timeout and no cap on
/// connections, and slow clients could exhaust the server.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::Service;

    let mut make_service = router.into_make_service_with_connect_info::<SocketAddr>();
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    // Told to every connection when the server stops: each finishes the
    // request it is serving and closes. (hyper-util's graceful-shutdown
    // watcher takes no connection that can be upgraded to a WebSocket.)
    let (closing, closing_heard) = tokio::sync::watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a moment
                    // rather than spinning.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "too many open connections; closing a new one");
            drop(stream);
            continue;
        };
        let Ok(tower_service) = make_service.call(peer).await;
        let hyper_service = hyper_util::service::TowerToHyperService::new(tower_service);
        let connection = http
            .serve_connection(TokioIo::new(stream), hyper_service)
            .with_upgrades();
        let mut closing_heard = closing_heard.clone();
        tokio::spawn(async move {
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = closing_heard.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = closing.send(true);
    // Every connection's permit back means every connection has closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_GRACE, connections.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("requests still running after the grace period were cut off");
    }
    Ok(())
}
