//! Static files compiled into the binary. Nothing is served from disk, so no
//! path from a request can reach the file system.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::AppState;

const STYLESHEET: &str = include_str!("../assets/ferrodesk.css");
const SUGGEST_SCRIPT: &str = include_str!("../assets/suggest.js");

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/static/ferrodesk.css", get(stylesheet))
        .route("/static/suggest.js", get(suggest_script))
}

async fn suggest_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SUGGEST_SCRIPT,
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
