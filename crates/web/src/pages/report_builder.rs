//! The report builder (`/agent/reports/builder`) and saved reports
//! (`/agent/reports/{id}`): the form is a GET, so a report is a link; a
//! report is saved, shared, marked as a favourite, scheduled and deleted
//! by POSTs, and exported as CSV.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::reports::{
    BuilderChoices, BuiltReport, ReportInput, ReportScheduleInput, SCHEDULES, SavedReport,
    SavedReportInput,
};
use ferrodesk_app::{AppError, FieldErrors};
use serde::Deserialize;

use crate::AppState;
use crate::charts::{self, Series};
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::{AgentSession, Chrome, path_id, render_form};
use crate::session::Session;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/reports/builder", get(builder))
        .route("/agent/reports/builder/export.csv", get(builder_csv))
        .route("/agent/reports/saved", post(create))
        .route("/agent/reports/{id}", get(show).post(save))
        .route("/agent/reports/{id}/export.csv", get(export_csv))
        .route("/agent/reports/{id}/delete", post(delete))
        .route("/agent/reports/{id}/favourite", post(favourite))
        .route("/agent/reports/{id}/schedule", post(schedule))
}

/// The builder's fields, and a save's name and teams.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReportForm {
    dataset: String,
    q: String,
    period: String,
    from: String,
    to: String,
    department: String,
    team: String,
    calendar: String,
    group: String,
    then: String,
    measure: String,
    of: String,
    chart: String,
    /// The saved report being changed.
    report: String,
    name: String,
    share: Vec<String>,
}

impl ReportForm {
    fn definition(&self) -> ReportInput {
        ReportInput {
            dataset: self.dataset.clone(),
            q: self.q.clone(),
            period: self.period.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            department: self.department.clone(),
            team: self.team.clone(),
            calendar: self.calendar.clone(),
            group: self.group.clone(),
            then: self.then.clone(),
            measure: self.measure.clone(),
            of: self.of.clone(),
            chart: self.chart.clone(),
        }
    }

    fn saved(&self) -> SavedReportInput {
        SavedReportInput {
            name: self.name.clone(),
            definition: self.definition(),
            team_ids: self
                .share
                .iter()
                .filter_map(|id| id.trim().parse().ok())
                .collect(),
        }
    }
}

/// The chart a report asks for, drawn; `None` for a table only or no rows.
fn report_chart(built: &BuiltReport) -> Option<String> {
    if built.input.chart == "table" || built.rows.is_empty() || built.chart_labels.is_empty() {
        return None;
    }
    let series: Vec<Series<'_>> = built
        .chart_series
        .iter()
        .enumerate()
        .map(|(index, one)| Series {
            name: &one.name,
            values: &one.values,
            class: charts::series_class(index),
        })
        .collect();
    let title = match &built.first_heading {
        Some(heading) => format!("{} by {}", built.measure_words, heading.to_lowercase()),
        None => built.measure_words.clone(),
    };
    let labels = &built.chart_labels;
    Some(match built.input.chart.as_str() {
        "line" => charts::line_chart("report-chart", &title, labels, &series),
        "stacked" => charts::stacked_column_chart("report-chart", &title, labels, &series),
        "pie" => charts::pie_chart(
            "report-chart",
            &title,
            labels,
            series.first().map_or(&[][..], |one| one.values),
        ),
        _ => charts::column_chart("report-chart", &title, labels, &series),
    })
}

/// The chart's key: (class, name) per series, or per slice of a pie.
fn chart_key(built: &BuiltReport) -> Vec<(&'static str, String)> {
    if built.input.chart == "pie" {
        return built
            .chart_labels
            .iter()
            .enumerate()
            .map(|(index, label)| (charts::series_class(index), label.clone()))
            .collect();
    }
    built
        .chart_series
        .iter()
        .enumerate()
        .map(|(index, one)| (charts::series_class(index), one.name.clone()))
        .collect()
}

/// The definition's fields for hidden inputs (a save from the builder).
fn definition_fields(input: &ReportInput) -> Vec<(&'static str, String)> {
    vec![
        ("dataset", input.dataset.clone()),
        ("q", input.q.clone()),
        ("period", input.period.clone()),
        ("from", input.from.clone()),
        ("to", input.to.clone()),
        ("department", input.department.clone()),
        ("team", input.team.clone()),
        ("calendar", input.calendar.clone()),
        ("group", input.group.clone()),
        ("then", input.then.clone()),
        ("measure", input.measure.clone()),
        ("of", input.of.clone()),
        ("chart", input.chart.clone()),
    ]
}

#[derive(Template)]
#[template(path = "agent/report_builder.html")]
struct BuilderPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    /// The form as typed (or as understood, once read).
    input: ReportInput,
    choices: BuilderChoices,
    built: Option<BuiltReport>,
    chart: Option<String>,
    key: Vec<(&'static str, String)>,
    errors: FieldErrors,
    /// The saved report being changed.
    editing: Option<SavedReport>,
    name: String,
    teams: Vec<ferrodesk_app::TeamRecord>,
    may_share: bool,
    shared_with: Vec<i64>,
    hidden: Vec<(&'static str, String)>,
    periods_offered: Vec<(&'static str, &'static str)>,
}

impl BuilderPage<'_> {
    fn chosen(&self, field: &str, key: &str) -> bool {
        let value = match field {
            "dataset" => &self.input.dataset,
            "period" => &self.input.period,
            "department" => &self.input.department,
            "team" => &self.input.team,
            "calendar" => &self.input.calendar,
            "group" => &self.input.group,
            "then" => &self.input.then,
            "measure" => &self.input.measure,
            "of" => &self.input.of,
            "chart" => &self.input.chart,
            _ => return false,
        };
        value == key
    }

    fn chosen_id(&self, field: &str, id: &i64) -> bool {
        self.chosen(field, &id.to_string())
    }

    fn shares_with(&self, team: &i64) -> bool {
        self.shared_with.contains(team)
    }

    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors.for_field(field).first().copied()
    }

    /// The report's link (its query string), for export.
    fn query(&self) -> String {
        self.input.query_string()
    }
}

/// The builder's page for a form, read when it can be.
async fn builder_page(
    state: &AppState,
    session: &Session,
    form: &ReportForm,
    mut errors: FieldErrors,
) -> WebResult<Response> {
    let input = form.definition();
    let editing = match form.report.trim() {
        "" => None,
        id => Some(state.app.saved_report(&session.actor, path_id(id)?).await?),
    };
    let (built, choices) = if errors.is_empty() {
        match state.app.build_report(&session.actor, &input).await {
            Ok(built) => {
                let choices = built.choices.clone();
                (Some(built), choices)
            }
            Err(AppError::Invalid(refused)) => {
                errors = refused;
                (
                    None,
                    state.app.report_builder_choices(&session.actor).await?,
                )
            }
            Err(other) => return Err(other.into()),
        }
    } else {
        (
            None,
            state.app.report_builder_choices(&session.actor).await?,
        )
    };
    let bulk = state.app.bulk_choices(&session.actor).await?;
    let chart = built.as_ref().and_then(report_chart);
    let key = built.as_ref().map(chart_key).unwrap_or_default();
    let shown = built
        .as_ref()
        .map_or_else(|| input.clone(), |built| built.input.clone());
    let name = match (&editing, form.name.trim()) {
        (_, typed) if !typed.is_empty() => typed.to_owned(),
        (Some(saved), _) => saved.name.clone(),
        (None, _) => String::new(),
    };
    let shared_with = match &editing {
        Some(saved) if form.share.is_empty() => saved.team_ids.clone(),
        _ => form.saved().team_ids,
    };
    let has_errors = !errors.is_empty();
    render_form(
        &BuilderPage {
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            hidden: definition_fields(&shown),
            input: shown,
            periods_offered: choices.periods.clone(),
            choices,
            built,
            chart,
            key,
            errors,
            editing,
            name,
            teams: bulk.teams,
            may_share: bulk.may_share,
            shared_with,
        },
        has_errors,
    )
}

async fn builder(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Query(form): Query<ReportForm>,
) -> WebResult<Response> {
    builder_page(&state, &session, &form, FieldErrors::new()).await
}

/// Saves the builder's report under a name, then shows it.
async fn create(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    HtmlForm(form): HtmlForm<ReportForm>,
) -> WebResult<Response> {
    match state
        .app
        .create_saved_report(&session.caller(), &form.saved())
        .await
    {
        Ok(id) => Ok(Redirect::to(&format!("/agent/reports/{id}")).into_response()),
        Err(AppError::Invalid(errors)) => builder_page(&state, &session, &form, errors).await,
        Err(other) => Err(other.into()),
    }
}

/// Saves changes to a report from the builder.
async fn save(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
    HtmlForm(mut form): HtmlForm<ReportForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    form.report = id.to_string();
    match state
        .app
        .update_saved_report(&session.caller(), id, &form.saved())
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/agent/reports/{id}")).into_response()),
        Err(AppError::Invalid(errors)) => builder_page(&state, &session, &form, errors).await,
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "agent/report_saved.html")]
struct SavedPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    saved: SavedReport,
    built: BuiltReport,
    chart: Option<String>,
    key: Vec<(&'static str, String)>,
    agents: Vec<ferrodesk_app::MemberRecord>,
    schedules: [(&'static str, &'static str); 3],
    /// What was wrong with a schedule just sent.
    errors: FieldErrors,
    zone: ferrodesk_core::Zone,
}

impl SavedPage<'_> {
    fn receives(&self, agent: &i64) -> bool {
        self.saved.recipient_ids.contains(agent)
    }

    fn next_run(&self) -> Option<String> {
        self.saved
            .next_run_at
            .map(|at| self.zone.time(ferrodesk_core::Timestamp(at)))
    }

    fn query(&self) -> String {
        self.built.input.query_string()
    }
}

async fn saved_page(
    state: &AppState,
    session: &Session,
    id: i64,
    errors: FieldErrors,
) -> WebResult<Response> {
    let (saved, built) = state.app.run_saved_report(&session.actor, id).await?;
    let bulk = state.app.bulk_choices(&session.actor).await?;
    let (zone, _) = state.app.zone_of(&session.actor).await?;
    let has_errors = !errors.is_empty();
    render_form(
        &SavedPage {
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            chart: report_chart(&built),
            key: chart_key(&built),
            saved,
            built,
            agents: bulk.agents,
            schedules: SCHEDULES,
            errors,
            zone,
        },
        has_errors,
    )
}

async fn show(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    saved_page(&state, &session, path_id(&id)?, FieldErrors::new()).await
}

async fn delete(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    state
        .app
        .delete_saved_report(&session.caller(), path_id(&id)?)
        .await?;
    Ok(Redirect::to("/agent/reports").into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FavouriteForm {
    favourite: String,
}

async fn favourite(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
    HtmlForm(form): HtmlForm<FavouriteForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    state
        .app
        .favourite_report(&session.actor, id, form.favourite == "1")
        .await?;
    Ok(Redirect::to(&format!("/agent/reports/{id}")).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ScheduleForm {
    schedule: String,
    recipient: Vec<String>,
}

async fn schedule(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
    HtmlForm(form): HtmlForm<ScheduleForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let input = ReportScheduleInput {
        schedule: form.schedule.clone(),
        recipient_ids: form
            .recipient
            .iter()
            .filter_map(|id| id.trim().parse().ok())
            .collect(),
    };
    match state
        .app
        .schedule_report(&session.caller(), id, &input)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/agent/reports/{id}#schedule")).into_response()),
        Err(AppError::Invalid(errors)) => saved_page(&state, &session, id, errors).await,
        Err(other) => Err(other.into()),
    }
}

/// A report's rows as CSV: its groups and its figure (durations also in
/// minutes, for spreadsheets).
fn report_csv(built: &BuiltReport, file_name: &str) -> Response {
    use ferrodesk_app::csv;
    use ferrodesk_app::reports::ValueKind;
    let mut headings: Vec<String> = Vec::new();
    headings.extend(built.first_heading.clone());
    headings.extend(built.second_heading.clone());
    headings.push(built.measure_words.clone());
    if built.value_kind == ValueKind::Duration {
        headings.push(format!("{} (minutes)", built.measure_words));
    }
    let mut text = format!("{}{}", csv::BYTE_ORDER_MARK, csv::line(&headings));
    for row in &built.rows {
        let mut cells: Vec<String> = Vec::new();
        if built.first_heading.is_some() {
            cells.push(row.first.clone());
        }
        if built.second_heading.is_some() {
            cells.push(row.second.clone());
        }
        match built.value_kind {
            ValueKind::Duration => {
                cells.push(row.shown.clone());
                cells.push(row.value.map_or_else(String::new, |millis| {
                    format!("{:.1}", millis as f64 / 60_000.0)
                }));
            }
            _ => cells.push(
                row.value
                    .map_or_else(String::new, |value| value.to_string()),
            ),
        }
        text.push_str(&csv::line(&cells));
    }
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
            (axum::http::header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        text,
    )
        .into_response()
}

/// A file name made of a report's name: letters, digits and dashes.
fn file_name_of(name: &str) -> String {
    let mut stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while stem.contains("--") {
        stem = stem.replace("--", "-");
    }
    let stem = stem.trim_matches('-');
    if stem.is_empty() {
        "report.csv".to_owned()
    } else {
        format!("{}.csv", stem.chars().take(60).collect::<String>())
    }
}

async fn export_csv(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let (saved, built) = state
        .app
        .export_saved_report(&session.caller(), path_id(&id)?)
        .await?;
    Ok(report_csv(&built, &file_name_of(&saved.name)))
}

async fn builder_csv(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Query(form): Query<ReportForm>,
) -> WebResult<Response> {
    let built = state
        .app
        .export_built_report(&session.caller(), &form.definition())
        .await?;
    Ok(report_csv(&built, "report.csv"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_keep_letters_and_digits() {
        assert_eq!(
            file_name_of("First response / team (Nov)"),
            "first-response-team-nov.csv"
        );
        assert_eq!(file_name_of("\"; rm -rf"), "rm-rf.csv");
        assert_eq!(file_name_of("日本"), "report.csv");
    }
}
