//! The logs admins read: the audit log (with CSV export), the login log and
//! the server error log. All read-only: nothing here edits or deletes.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferrodesk_app::{AuditFilter, AuditRecord, ErrorLogEntry, LoginFilter, LoginRecord};
use ferrodesk_core::{Surface, Timestamp};
use serde::Deserialize;

use super::{AdminMenu, AdminSession};
use crate::AppState;
use crate::error::WebResult;
use crate::pages::{Chrome, render};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/audit", get(audit))
        .route("/admin/audit.csv", get(audit_csv))
        .route("/admin/logins", get(logins))
        .route("/admin/errors", get(errors))
}

/// The audit log's filters as the query string carries them.
#[derive(Debug, Default, Deserialize)]
struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    ip: String,
    /// Days back from now, or empty for all time.
    #[serde(default)]
    days: String,
    before: Option<i64>,
}

/// The filled-in filters as a query string, for "older" and export links.
fn filter_query(pairs: &[(&str, &String)]) -> String {
    pairs
        .iter()
        .filter(|(_, value)| !value.trim().is_empty())
        .map(|(key, value)| {
            let encoded = percent_encoding::utf8_percent_encode(
                value.trim(),
                percent_encoding::NON_ALPHANUMERIC,
            );
            format!("{key}={encoded}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn non_empty(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.chars().take(200).collect())
}

impl AuditQuery {
    fn filter(&self, now: Timestamp) -> AuditFilter {
        let days = self
            .days
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|days| *days > 0);
        AuditFilter {
            action_prefix: non_empty(&self.action),
            actor_contains: non_empty(&self.actor),
            target_contains: non_empty(&self.target),
            ip: non_empty(&self.ip),
            from: days
                .map(|days| now.minus(std::time::Duration::from_secs(days.min(36_500) * 86_400))),
            before_id: self.before,
            ..AuditFilter::default()
        }
    }

    /// The query string for the same filters (for "older" and CSV links).
    fn query_string(&self) -> String {
        let pairs = [
            ("action", &self.action),
            ("actor", &self.actor),
            ("target", &self.target),
            ("ip", &self.ip),
            ("days", &self.days),
        ];
        filter_query(&pairs)
    }
}

struct AuditRow {
    entry: AuditRecord,
    at: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    chrome: Chrome,
    menu: AdminMenu,
    query: AuditQuery,
    rows: Vec<AuditRow>,
    filters: String,
    next_before: Option<i64>,
}

async fn audit(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<AuditQuery>,
) -> WebResult<Response> {
    let page = state
        .app
        .search_audit(admin.actor(), &query.filter(state.app.now()))
        .await?;
    render(&AuditPage {
        chrome: admin.chrome(),
        menu: AdminMenu {
            current: "/admin/audit",
        },
        filters: query.query_string(),
        rows: page
            .entries
            .into_iter()
            .map(|entry| AuditRow {
                at: crate::pages::time(&entry.occurred_at),
                entry,
            })
            .collect(),
        next_before: page.next_before_id,
        query,
    })
}

async fn audit_csv(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<AuditQuery>,
) -> WebResult<Response> {
    let filter = AuditFilter {
        before_id: None,
        ..query.filter(state.app.now())
    };
    let csv = state.app.export_audit_csv(&admin.caller(), &filter).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"ferrodesk-audit-log.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
struct LoginQuery {
    #[serde(default)]
    email: String,
    #[serde(default)]
    ip: String,
    #[serde(default)]
    hostname: String,
    /// `ok`, `failed` or empty.
    #[serde(default)]
    result: String,
    /// `staff`, `portal` or empty.
    #[serde(default)]
    surface: String,
    before: Option<i64>,
}

impl LoginQuery {
    fn filter(&self) -> LoginFilter {
        LoginFilter {
            email_contains: non_empty(&self.email),
            ip: non_empty(&self.ip),
            hostname_contains: non_empty(&self.hostname),
            surface: match self.surface.as_str() {
                "staff" => Some(Surface::Staff),
                "portal" => Some(Surface::Portal),
                _ => None,
            },
            succeeded: match self.result.as_str() {
                "ok" => Some(true),
                "failed" => Some(false),
                _ => None,
            },
            person_id: None,
            before_id: self.before,
        }
    }

    fn query_string(&self) -> String {
        let pairs = [
            ("email", &self.email),
            ("ip", &self.ip),
            ("hostname", &self.hostname),
            ("result", &self.result),
            ("surface", &self.surface),
        ];
        filter_query(&pairs)
    }
}

pub(super) struct LoginRow {
    pub record: LoginRecord,
    pub at: String,
}

impl LoginRow {
    pub fn from_record(record: LoginRecord) -> LoginRow {
        LoginRow {
            at: crate::pages::time(&record.occurred_at),
            record,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/logins.html")]
struct LoginsPage {
    chrome: Chrome,
    menu: AdminMenu,
    query: LoginQuery,
    rows: Vec<LoginRow>,
    filters: String,
    next_before: Option<i64>,
}

async fn logins(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<LoginQuery>,
) -> WebResult<Response> {
    let (records, next_before) = state
        .app
        .search_logins(admin.actor(), &query.filter())
        .await?;
    render(&LoginsPage {
        chrome: admin.chrome(),
        menu: AdminMenu {
            current: "/admin/logins",
        },
        filters: query.query_string(),
        rows: records.into_iter().map(LoginRow::from_record).collect(),
        next_before,
        query,
    })
}

struct ErrorRow {
    entry: ErrorLogEntry,
    at: String,
}

#[derive(Template)]
#[template(path = "admin/errors.html")]
struct ErrorsPage {
    chrome: Chrome,
    menu: AdminMenu,
    rows: Vec<ErrorRow>,
}

async fn errors(State(state): State<AppState>, admin: AdminSession) -> WebResult<Response> {
    let entries = state.app.recent_server_errors(admin.actor()).await?;
    render(&ErrorsPage {
        chrome: admin.chrome(),
        menu: AdminMenu {
            current: "/admin/errors",
        },
        rows: entries
            .into_iter()
            .map(|entry| ErrorRow {
                at: crate::pages::time(&entry.occurred_at),
                entry,
            })
            .collect(),
    })
}
