//! Saved reports through the API (`GET /api/v2/reports/{id}`): a report's
//! figures as the key's agent would see them on its page, counted through
//! that agent's ticket visibility.

use axum::extract::{Path, State};
use ferrodesk_app::reports::{BuiltReport, SavedReport, ValueKind};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiRequest, ApiResult, ObjectMeta, path_id};
use crate::AppState;

/// One group of a report: where it falls and its figure.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ReportRowBody {
    /// The first dimension's value in words; null when not grouped.
    pub group: Option<String>,
    /// The second dimension's value in words; null without one.
    pub then: Option<String>,
    /// A count, a number, or milliseconds for durations; null when the
    /// group has nothing to measure.
    pub value: Option<i64>,
    /// The value as the page shows it (`3 h 20 min`).
    pub shown: String,
}

/// A saved report's definition and figures.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ReportBody {
    pub id: i64,
    pub name: String,
    /// `tickets`, `messages`, `changes`, `logins` or `ratings`.
    pub dataset: String,
    /// The report's search-language filter.
    pub query: String,
    /// The first and last day counted, in the agent's time zone.
    pub from: String,
    pub to: String,
    /// What the values are (`Median first response time`).
    pub measure: String,
    /// `count`, `duration` (milliseconds) or `number`.
    pub value_kind: String,
    /// The dimensions' names, first then second.
    pub group_by: Vec<String>,
    pub rows: Vec<ReportRowBody>,
    /// What the reader should know (filters that matched nothing, groups
    /// left out).
    pub notices: Vec<String>,
}

impl ReportBody {
    fn from_report(saved: SavedReport, built: BuiltReport) -> ReportBody {
        let grouped = built.first_heading.is_some();
        let then = built.second_heading.is_some();
        ReportBody {
            id: saved.id,
            name: saved.name,
            dataset: built.input.dataset.clone(),
            query: built.input.q.clone(),
            from: built.input.from.clone(),
            to: built.input.to.clone(),
            measure: built.measure_words.clone(),
            value_kind: match built.value_kind {
                ValueKind::Count => "count",
                ValueKind::Duration => "duration",
                ValueKind::Number => "number",
            }
            .to_owned(),
            group_by: built
                .first_heading
                .iter()
                .chain(built.second_heading.iter())
                .cloned()
                .collect(),
            rows: built
                .rows
                .into_iter()
                .map(|row| ReportRowBody {
                    group: grouped.then_some(row.first),
                    then: then.then_some(row.second),
                    value: row.value,
                    shown: row.shown,
                })
                .collect(),
            notices: built.notices,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ReportEnvelope {
    pub data: ReportBody,
    pub meta: ObjectMeta,
}

/// A saved report's figures, read now as the key's agent sees them (the
/// reports permission is needed, and the report must be the agent's own
/// or shared with one of their teams).
#[utoipa::path(get, path = "/api/v2/reports/{id}", tag = "reports",
    params(("id" = i64, Path, minimum = 1, example = 1)),
    responses(
        (status = 200, body = ReportEnvelope),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 404, body = super::ApiErrorBody),
        (status = 422, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn report(
    State(state): State<AppState>,
    request: ApiRequest,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<ReportEnvelope>> {
    request.scope("reports.view")?;
    let id = path_id(&id)?;
    let (saved, built) = state
        .app
        .run_saved_report(&request.caller.actor, id)
        .await?;
    Ok(axum::Json(ReportEnvelope {
        data: ReportBody::from_report(saved, built),
        meta: ObjectMeta::default(),
    }))
}
