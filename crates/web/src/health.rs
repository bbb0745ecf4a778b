//! Liveness and readiness for load balancers and orchestrators.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process answers.
async fn healthz() -> impl IntoResponse {
    (
        StatusCode::OK,
        [("content-type", "text/plain; charset=utf-8")],
        "ok\n",
    )
}

/// The database answers too.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.app.database_ready().await {
        (
            StatusCode::OK,
            [("content-type", "text/plain; charset=utf-8")],
            "ready\n",
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [("content-type", "text/plain; charset=utf-8")],
            "database unavailable\n",
        )
    }
}
