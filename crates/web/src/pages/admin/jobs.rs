//! Background jobs: how many wait and run, and the dead ones, which an admin
//! can put back in the queue.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::JobRecord;

use super::{AdminMenu, AdminSession, NoticeQuery, count_of};
use crate::AppState;
use crate::error::WebResult;
use crate::pages::{Chrome, render};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/jobs", get(list))
        .route("/admin/jobs/{id}/retry", post(retry))
}

struct DeadJob {
    job: JobRecord,
    failed_at: String,
}

#[derive(Template)]
#[template(path = "admin/jobs.html")]
struct JobsPage<'a> {
    chrome: Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    queued: i64,
    running: i64,
    dead_count: i64,
    dead: Vec<DeadJob>,
    notice: Option<&'static str>,
}

async fn list(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let counts = state.app.job_counts(admin.actor()).await?;
    let dead = state.app.dead_jobs(admin.actor()).await?;
    render(&JobsPage {
        chrome: admin.chrome(),
        menu: AdminMenu {
            current: "/admin/jobs",
        },
        csrf_token: admin.csrf_token(),
        queued: count_of(&counts, "queued"),
        running: count_of(&counts, "running"),
        dead_count: count_of(&counts, "dead"),
        dead: dead
            .into_iter()
            .map(|job| DeadJob {
                failed_at: crate::pages::time(&job.updated_at),
                job,
            })
            .collect(),
        notice: query.text(&[("retried", "The job is back in the queue.")]),
    })
}

async fn retry(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    state.app.retry_dead_job(&admin.caller(), id).await?;
    Ok(Redirect::to("/admin/jobs?notice=retried").into_response())
}
