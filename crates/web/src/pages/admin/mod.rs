//! The admin interface. Only admins get in: a visitor is sent to the staff
//! login, another agent gets 403. The use cases check again, so a route that
//! forgot the extractor still could not act.

pub(crate) mod agents;
mod api_keys;
mod branding;
mod business_hours;
mod chat;
mod escalations;
mod help_center;
mod jobs;
mod logs;
mod mail;
mod mail_in;
mod organization;
mod outbox;
mod permission_groups;
mod security;
mod slas;
mod templates;
mod ticket_settings;
mod triggers;
mod webhooks;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::Method;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferrodesk_app::{Actor, AgentSummary, AppError};
use serde::Deserialize;

use crate::AppState;
use crate::error::{WebError, WebResult};
use crate::pages::{Chrome, render, to_staff_login};
use crate::session::Session;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(home))
        .merge(agents::routes())
        .merge(mail::routes())
        .merge(mail_in::routes())
        .merge(outbox::routes())
        .merge(templates::routes())
        .merge(jobs::routes())
        .merge(security::routes())
        .merge(logs::routes())
        .merge(organization::routes())
        .merge(permission_groups::routes())
        .merge(ticket_settings::routes())
        .merge(help_center::routes())
        .merge(chat::routes())
        .merge(branding::routes())
        .merge(api_keys::routes())
        .merge(business_hours::routes())
        .merge(triggers::routes())
        .merge(escalations::routes())
        .merge(slas::routes())
        .merge(webhooks::routes())
}

/// A session of an admin; anything else is turned away before the handler.
pub(crate) struct AdminSession(pub Session);

impl AdminSession {
    pub fn actor(&self) -> &Actor {
        &self.0.actor
    }

    pub fn chrome(&self) -> Chrome {
        Chrome::for_session(&self.0)
    }

    pub fn csrf_token(&self) -> &str {
        &self.0.csrf_token
    }

    pub fn caller(&self) -> ferrodesk_app::Caller<'_> {
        self.0.caller()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AdminSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<AdminSession, Response> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match &session.actor {
            Actor::Visitor => {
                // Come back to the page after logging in; a form post comes
                // back to the admin home instead of being replayed.
                let back = if parts.method == Method::GET {
                    parts.uri.path()
                } else {
                    "/admin"
                };
                Err(to_staff_login(back))
            }
            // A "remember me" session never reaches the admin interface.
            Actor::Agent(agent) if agent.is_admin && agent.remembered => {
                Err(axum::response::Redirect::to("/agent/login?notice=fresh-login").into_response())
            }
            actor if actor.may_administer() => Ok(AdminSession(session)),
            _ => Err(WebError::App(AppError::Forbidden).into_response()),
        }
    }
}

/// The sections of the admin interface, for the menu beside its pages.
pub(crate) struct AdminMenu {
    pub current: &'static str,
}

/// One group of the menu: its heading and its pages (path, label).
type MenuGroup = (&'static str, &'static [(&'static str, &'static str)]);

/// A menu entry as the page shows it: path, label, whether it is the page.
type MenuEntry = (&'static str, &'static str, bool);

impl AdminMenu {
    pub const GROUPS: [MenuGroup; 6] = [
        (
            "People",
            &[
                ("/admin", "Agents"),
                ("/admin/permission-groups", "Permission groups"),
                ("/admin/teams", "Teams"),
                ("/admin/departments", "Departments"),
            ],
        ),
        ("Tickets", &[("/admin/tickets", "Ticket settings")]),
        (
            "Business rules",
            &[
                ("/admin/rules/triggers", "Triggers"),
                ("/admin/rules/escalations", "Escalations"),
                ("/admin/rules/slas", "SLAs"),
                ("/admin/rules/business-hours", "Business hours"),
                ("/admin/rules/webhooks", "Webhooks"),
            ],
        ),
        (
            "Help center",
            &[
                ("/admin/help-center", "Help center"),
                ("/admin/branding", "Branding"),
                ("/admin/chat", "Chat"),
            ],
        ),
        (
            "Email",
            &[
                ("/admin/email", "Email server"),
                ("/admin/email/accounts", "Email accounts"),
                ("/admin/email/rejections", "Rejected mail"),
                ("/admin/email/outbox", "Outbox"),
                ("/admin/email/templates", "Email templates"),
            ],
        ),
        (
            "Security and system",
            &[
                ("/admin/security", "Security"),
                ("/admin/api-keys", "API keys"),
                ("/admin/audit", "Audit log"),
                ("/admin/logins", "Login log"),
                ("/admin/errors", "Error log"),
                ("/admin/jobs", "Background jobs"),
            ],
        ),
    ];

    /// Each group's heading with its entries (path, label, whether it is
    /// the page shown).
    pub fn groups(&self) -> Vec<(&'static str, Vec<MenuEntry>)> {
        AdminMenu::GROUPS
            .iter()
            .map(|(heading, entries)| {
                (
                    *heading,
                    entries
                        .iter()
                        .map(|(path, label)| (*path, *label, *path == self.current))
                        .collect(),
                )
            })
            .collect()
    }
}

/// `?notice=code`, which a redirect after a form adds so the next page can
/// say what happened. Only codes the page knows show text, so the query
/// cannot make a page show arbitrary words.
#[derive(Debug, Deserialize)]
pub(crate) struct NoticeQuery {
    notice: Option<String>,
}

impl From<Option<String>> for NoticeQuery {
    fn from(notice: Option<String>) -> NoticeQuery {
        NoticeQuery { notice }
    }
}

impl NoticeQuery {
    pub fn text<T: Clone>(&self, known: &[(&str, T)]) -> Option<T> {
        let code = self.notice.as_deref()?;
        known
            .iter()
            .find(|(known_code, _)| *known_code == code)
            .map(|(_, text)| text.clone())
    }
}

/// How many items a `(status, count)` list has in `status`.
pub(crate) fn count_of(counts: &[(String, i64)], status: &str) -> i64 {
    counts
        .iter()
        .find(|(counted, _)| counted == status)
        .map_or(0, |(_, count)| *count)
}

#[derive(Template)]
#[template(path = "admin/home.html")]
struct AdminHome {
    chrome: Chrome,
    menu: AdminMenu,
    agents: Vec<AgentSummary>,
    notice: Option<&'static str>,
}

async fn home(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let agents = state.app.list_agents(admin.actor()).await?;
    render(&AdminHome {
        chrome: admin.chrome(),
        menu: AdminMenu { current: "/admin" },
        agents,
        notice: query.text(&[(
            "invited",
            "The invitation is on its way. The new agent chooses a password through the link in it.",
        )]),
    })
}
