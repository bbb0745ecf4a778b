//! Static files compiled into the binary. Nothing is served from disk, so no
//! path from a request can reach the file system.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

const STYLESHEET: &str = include_str!("../assets/ferrodesk.css");
const SUGGEST_SCRIPT: &str = include_str!("../assets/suggest.js");
const PAGE_SCRIPT: &str = include_str!("../assets/ferrodesk.js");
const VISITOR_CHAT_SCRIPT: &str = include_str!("../assets/chat.js");
const AGENT_CHAT_SCRIPT: &str = include_str!("../assets/agent-chat.js");
const CHAT_WIDGET_SCRIPT: &str = include_str!("../assets/chat-widget.js");
const FAVICON: &str = include_str!("../assets/favicon.svg");

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/static/ferrodesk.css", get(stylesheet))
        .route("/static/suggest.js", get(suggest_script))
        .route("/static/ferrodesk.js", get(page_script))
        .route(
            "/static/chat.js",
            get(|| async { script(VISITOR_CHAT_SCRIPT) }),
        )
        .route(
            "/static/agent-chat.js",
            get(|| async { script(AGENT_CHAT_SCRIPT) }),
        )
        .route("/chat/widget.js", get(chat_widget))
        .route("/favicon.svg", get(favicon))
}

async fn favicon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON,
    )
}

/// The script other sites embed for chat: loadable from any page
/// (`Cross-Origin-Resource-Policy: cross-origin`); it only adds a button
/// and a frame of the help center's own chat page.
async fn chat_widget(State(state): State<AppState>) -> Response {
    // The admin's words and colour go first, as data the script reads.
    let settings = match state.app.chat_settings().await {
        Ok(settings) => settings,
        Err(error) => return crate::error::WebError::from(error).into_response(),
    };
    let look = serde_json::json!({
        "label": settings.button_label,
        "colour": settings.button_colour,
    });
    // Wrapped, so the page that embeds it gains no global name.
    let script = format!("(function (look) {{\n{CHAT_WIDGET_SCRIPT}}})({look});\n");
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            // Short: the admin's changes reach other sites soon.
            (header::CACHE_CONTROL, "public, max-age=300"),
            (
                header::HeaderName::from_static("cross-origin-resource-policy"),
                "cross-origin",
            ),
        ],
        script,
    )
        .into_response()
}

async fn suggest_script() -> impl IntoResponse {
    script(SUGGEST_SCRIPT)
}

async fn page_script() -> impl IntoResponse {
    script(PAGE_SCRIPT)
}

fn script(source: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        source,
    )
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
}

/// `/bench/baseline`: a static page of `bytes` bytes, made once, for the
/// benchmark to compare every page with. Absent unless configured.
pub(crate) fn baseline_routes(bytes: Option<usize>) -> Router<AppState> {
    let Some(bytes) = bytes else {
        return Router::new();
    };
    let head = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Baseline</title></head><body><p>";
    let tail = "</p></body></html>";
    let filler = bytes.saturating_sub(head.len() + tail.len());
    let page = axum::body::Bytes::from(format!("{head}{}{tail}", "x".repeat(filler)));
    Router::new().route(
        "/bench/baseline",
        get(move || {
            let page = page.clone();
            async move { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page) }
        }),
    )
}
