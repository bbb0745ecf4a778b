//! Reports for agents with the reports permission: the dashboard of a
//! period against the one before, its charts drawn on the server.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferrodesk_app::AppError;
use ferrodesk_app::reports::{Bar, Dashboard, DashboardInput, HostnameReport, HostnameReportInput};
use serde::Deserialize;

use crate::AppState;
use crate::charts::{self, Series};
use crate::error::WebResult;
use crate::pages::{AgentSession, Chrome};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/reports", get(dashboard))
        .route("/agent/reports/hostnames", get(hostnames))
        .route("/agent/reports/hostnames.csv", get(hostnames_csv))
        .route("/agent/reports/hostnames/export.csv", get(hostnames_csv))
}

#[derive(Debug, Default, Deserialize)]
struct DashboardQuery {
    #[serde(default)]
    period: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    calendar: String,
}

/// Weekdays as the heat map labels them, Monday first.
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

#[derive(Template)]
#[template(path = "agent/reports.html")]
struct DashboardPage {
    chrome: Chrome,
    dashboard: Dashboard,
    /// What was wrong with the form (the default period is shown).
    problem: Option<String>,
    volume_chart: String,
    backlog_chart: String,
    heat_chart: String,
    weekdays: [&'static str; 7],
    /// The reader's saved reports, favourites first.
    saved: Vec<ferrodesk_app::reports::SavedReport>,
}

impl DashboardPage {
    fn bar(&self, bar: &Bar, bars: &[Bar]) -> String {
        let largest = bars.iter().map(|bar| bar.value).max().unwrap_or(0);
        charts::bar(bar.value, largest)
    }

    fn selected(&self, chosen: &Option<i64>, id: &i64) -> bool {
        *chosen == Some(*id)
    }

    /// `87%` of the targets met in time.
    fn percent(&self, met: &i64, missed: &i64) -> String {
        match met + missed {
            0 => "—".to_owned(),
            total => format!("{}%", met * 100 / total),
        }
    }

    /// Each bucket with what was opened, resolved and open at its end.
    fn volume_rows(&self) -> Vec<(&str, i64, i64, i64)> {
        let dashboard = &self.dashboard;
        dashboard
            .buckets
            .iter()
            .enumerate()
            .map(|(index, label)| {
                let at = |values: &[i64]| values.get(index).copied().unwrap_or(0);
                (
                    label.as_str(),
                    at(&dashboard.created),
                    at(&dashboard.resolved),
                    at(&dashboard.backlog),
                )
            })
            .collect()
    }

    /// Each weekday with its 24 hours.
    fn heat_rows(&self) -> Vec<(&'static str, &[i64])> {
        self.weekdays
            .iter()
            .zip(&self.dashboard.heat)
            .map(|(name, hours)| (*name, hours.as_slice()))
            .collect()
    }

    /// The breakdowns, titled.
    fn breakdowns(&self) -> Vec<(&'static str, &'static str, &[Bar])> {
        vec![
            (
                "by-channel",
                "Tickets by channel",
                &self.dashboard.by_channel,
            ),
            (
                "by-department",
                "Tickets by department",
                &self.dashboard.by_department,
            ),
            ("by-agent", "Tickets by agent", &self.dashboard.by_agent),
            ("by-team", "Tickets by team", &self.dashboard.by_team),
            ("by-label", "Tickets by label", &self.dashboard.by_label),
        ]
    }
}

async fn dashboard(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Query(query): Query<DashboardQuery>,
) -> WebResult<Response> {
    let input = DashboardInput {
        period: query.period,
        from: query.from,
        to: query.to,
        department: query.department,
        team: query.team,
        calendar: query.calendar,
    };
    let (dashboard, problem) = match state.app.dashboard(&session.actor, &input).await {
        Ok(dashboard) => (dashboard, None),
        Err(AppError::Invalid(errors)) => {
            let problem = errors
                .iter()
                .map(|(_, message)| message.to_owned())
                .collect::<Vec<_>>()
                .join(" ");
            let fallback = DashboardInput {
                period: String::new(),
                ..input
            };
            (
                state.app.dashboard(&session.actor, &fallback).await?,
                Some(problem),
            )
        }
        Err(other) => return Err(other.into()),
    };
    let volume_chart = charts::column_chart(
        "volume",
        "Tickets opened and resolved",
        &dashboard.buckets,
        &[
            Series {
                name: "opened",
                values: &dashboard.created,
                class: "series-1",
            },
            Series {
                name: "resolved",
                values: &dashboard.resolved,
                class: "series-2",
            },
        ],
    );
    let backlog_chart = charts::line_chart(
        "backlog",
        "Open tickets over time",
        &dashboard.buckets,
        &[Series {
            name: "open tickets",
            values: &dashboard.backlog,
            class: "series-1",
        }],
    );
    let heat_chart = charts::heat_map(
        "heat",
        "Tickets opened by weekday and hour",
        &WEEKDAYS,
        &dashboard.heat,
    );
    let saved = state.app.saved_reports(&session.actor).await?;
    let page = DashboardPage {
        chrome: Chrome::for_session(&session),
        saved,
        dashboard,
        problem,
        volume_chart,
        backlog_chart,
        heat_chart,
        weekdays: WEEKDAYS,
    };
    Ok(crate::pages::render(&page)?.into_response())
}

#[derive(Debug, Default, Deserialize)]
struct HostnameQuery {
    #[serde(default)]
    period: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    networks: String,
    #[serde(default)]
    domains: String,
}

impl HostnameQuery {
    fn input(self) -> HostnameReportInput {
        HostnameReportInput {
            period: self.period,
            from: self.from,
            to: self.to,
            networks: self.networks,
            domains: self.domains,
        }
    }
}

#[derive(Template)]
#[template(path = "agent/report_hostnames.html")]
struct HostnamePage {
    chrome: Chrome,
    report: Option<HostnameReport>,
    /// The form as typed, when it was refused.
    input: HostnameReportInput,
    periods: Vec<(&'static str, &'static str)>,
    problems: Vec<String>,
    /// This report's query string, for the CSV link.
    query: String,
    zone: ferrodesk_core::Zone,
}

impl HostnamePage {
    fn time(&self, at: &i64) -> String {
        self.zone.time(ferrodesk_core::Timestamp(*at))
    }

    fn period_key(&self) -> &str {
        self.report
            .as_ref()
            .map_or(self.input.period.as_str(), |report| {
                report.period_key.as_str()
            })
    }
}

/// The report's query string, encoded.
fn hostname_query(input: &HostnameReportInput) -> String {
    serde_urlencoded::to_string([
        ("period", input.period.as_str()),
        ("from", input.from.as_str()),
        ("to", input.to.as_str()),
        ("networks", input.networks.as_str()),
        ("domains", input.domains.as_str()),
    ])
    .unwrap_or_default()
}

async fn hostnames(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Query(query): Query<HostnameQuery>,
) -> WebResult<Response> {
    let input = query.input();
    let (zone, _) = state.app.zone_of(&session.actor).await?;
    let (report, problems) = match state.app.hostname_report(&session.actor, &input).await {
        Ok(report) => (Some(report), Vec::new()),
        Err(AppError::Invalid(errors)) => (
            None,
            errors
                .iter()
                .map(|(_, message)| message.to_owned())
                .collect(),
        ),
        Err(other) => return Err(other.into()),
    };
    let query = match &report {
        Some(report) => hostname_query(&HostnameReportInput {
            period: report.period_key.clone(),
            from: report.from.clone(),
            to: report.to.clone(),
            networks: report.networks.clone(),
            domains: report.domains.clone(),
        }),
        None => hostname_query(&input),
    };
    let page = HostnamePage {
        chrome: Chrome::for_session(&session),
        report,
        input,
        periods: ferrodesk_app::reports::PERIODS.to_vec(),
        problems,
        query,
        zone,
    };
    let status = if page.problems.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, crate::pages::render(&page)?).into_response())
}

/// The hostname report as CSV: one row per agent and address.
async fn hostnames_csv(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Query(query): Query<HostnameQuery>,
) -> WebResult<Response> {
    use ferrodesk_app::csv;
    let report = state
        .app
        .export_hostname_report(&session.caller(), &query.input())
        .await?;
    let (zone, _) = state.app.zone_of(&session.actor).await?;
    let mut text = format!(
        "{}{}",
        csv::BYTE_ORDER_MARK,
        csv::line(&[
            "Agent",
            "Address",
            "Host name",
            "Messages",
            "Sign-ins",
            "Last used",
            "Newest message"
        ])
    );
    for agent in &report.agents {
        for address in &agent.addresses {
            let newest = address.links.first().map_or_else(String::new, |link| {
                format!(
                    "{}/agent/tickets/{}#message-{}",
                    state.app.public_url(),
                    link.reference,
                    link.message_id
                )
            });
            text.push_str(&csv::line(&[
                agent.name.clone(),
                address.ip.clone(),
                address.hostname.clone().unwrap_or_default(),
                address.messages.to_string(),
                address.logins.to_string(),
                zone.time(ferrodesk_core::Timestamp(address.last_at)),
                newest,
            ]));
        }
    }
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"outside-addresses.csv\"",
            ),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response())
}
