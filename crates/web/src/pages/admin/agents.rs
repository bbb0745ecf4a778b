//! Inviting an agent: the admin gives a name and an email address, the new
//! agent gets a single-use link to choose a password.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{
    AgentAccess, AgentAction, AgentDetail, AppError, FieldErrors, INVITATION_LIFETIME, OwnSession,
};
use ferrodesk_core::DepartmentAccess;
use serde::Deserialize;

use super::logs::LoginRow;
use super::{AdminMenu, AdminSession, NoticeQuery};
use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::{Chrome, render};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/agents/invite", get(show).post(submit))
        .route("/admin/agents/{id}", get(detail).post(save_profile))
        .route("/admin/agents/{id}/{action}", post(act))
        .route("/admin/agents/{id}/access", post(save_access))
        .route(
            "/admin/agents/{id}/trusted-ips/revoke",
            post(revoke_trusted_ip),
        )
}

#[derive(Template)]
#[template(path = "admin/invite.html")]
struct InvitePage<'a> {
    chrome: Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    name: &'a str,
    email: &'a str,
    make_admin: bool,
    valid_days: u64,
    errors: FieldErrors,
}

#[derive(Debug, Deserialize)]
struct InviteForm {
    name: String,
    email: String,
    /// A checkbox: present when ticked.
    make_admin: Option<String>,
}

fn page(
    admin: &AdminSession,
    form: Option<&InviteForm>,
    errors: FieldErrors,
) -> WebResult<Response> {
    render(&InvitePage {
        chrome: admin.chrome(),
        menu: AdminMenu { current: "/admin" },
        csrf_token: admin.csrf_token(),
        name: form.map_or("", |form| form.name.as_str()),
        email: form.map_or("", |form| form.email.as_str()),
        make_admin: form.is_some_and(|form| form.make_admin.is_some()),
        valid_days: INVITATION_LIFETIME.as_secs() / 86_400,
        errors,
    })
}

async fn show(admin: AdminSession) -> WebResult<Response> {
    page(&admin, None, FieldErrors::new())
}

async fn submit(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<InviteForm>,
) -> WebResult<Response> {
    match state
        .app
        .invite_agent(
            &admin.caller(),
            &form.name,
            &form.email,
            form.make_admin.is_some(),
        )
        .await
    {
        Ok(_) => Ok(Redirect::to("/admin?notice=invited").into_response()),
        Err(AppError::Invalid(errors)) => {
            let mut response = page(&admin, Some(&form), errors)?;
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}

pub(crate) struct SessionRow {
    pub session: OwnSession,
    pub started: String,
    pub last_seen: String,
}

impl SessionRow {
    pub fn from_session(session: OwnSession) -> SessionRow {
        SessionRow {
            started: crate::pages::time(&session.created_at),
            last_seen: crate::pages::time(&session.last_seen_at),
            session,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/agent.html")]
struct AgentPage<'a> {
    chrome: Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    id: i64,
    name: &'a str,
    email: &'a str,
    is_admin: bool,
    is_disabled: bool,
    has_password: bool,
    must_change_password: bool,
    last_login: Option<String>,
    locked_until: Option<String>,
    sessions: Vec<SessionRow>,
    rows: Vec<LoginRow>,
    two_factor_since: Option<String>,
    access: AgentAccess,
    /// (department path, access) of what the agent's groups reach.
    reach: Vec<(String, &'static str)>,
    /// (address, trusted until, how) of each trusted address.
    trusted_ips: Vec<(String, String, &'static str)>,
    errors: FieldErrors,
    notice: Option<&'static str>,
    email_query: String,
}

#[derive(Debug, Deserialize)]
struct ProfileForm {
    name: String,
    email: String,
}

/// What the agent page needs besides the agent: their groups and teams, and
/// the departments those reach.
async fn agent_access(
    state: &AppState,
    admin: &AdminSession,
    id: i64,
) -> WebResult<(AgentAccess, Vec<(String, &'static str)>)> {
    let access = state.app.agent_access(admin.actor(), id).await?;
    let reach = if access.effective.all_departments {
        vec![("Every department".to_owned(), "full access")]
    } else {
        state
            .app
            .departments(admin.actor())
            .await?
            .into_iter()
            .filter_map(|node| {
                access.effective.department_access(node.id).map(|level| {
                    let label = match level {
                        DepartmentAccess::Full => "full access",
                        DepartmentAccess::AssignOnly => "assign only",
                    };
                    (node.path, label)
                })
            })
            .collect()
    };
    Ok((access, reach))
}

fn agent_page(
    admin: &AdminSession,
    detail: AgentDetail,
    (access, reach): (AgentAccess, Vec<(String, &'static str)>),
    form: Option<&ProfileForm>,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    let person = &detail.person;
    render(&AgentPage {
        chrome: admin.chrome(),
        menu: AdminMenu { current: "/admin" },
        csrf_token: admin.csrf_token(),
        id: person.id,
        name: form.map_or(person.name.as_str(), |form| form.name.as_str()),
        email: form.map_or(person.email.as_str(), |form| form.email.as_str()),
        is_admin: person.is_admin,
        is_disabled: person.is_disabled,
        has_password: person.password_hash.is_some(),
        must_change_password: person.must_change_password,
        last_login: person.last_login_at.map(|at| crate::pages::time(&at)),
        locked_until: detail.locked_until.map(|until| until.to_string()),
        sessions: detail
            .sessions
            .into_iter()
            .map(SessionRow::from_session)
            .collect(),
        rows: detail
            .recent_logins
            .into_iter()
            .map(LoginRow::from_record)
            .collect(),
        two_factor_since: person.totp_enabled_at.map(|at| crate::pages::time(&at)),
        access,
        reach,
        trusted_ips: detail
            .trusted_ips
            .into_iter()
            .map(|trusted| {
                let how = match trusted.source.as_str() {
                    "command_line" => "command line",
                    "settings" => "turning the allow-list on",
                    _ => "emailed link",
                };
                (trusted.ip, crate::pages::time(&trusted.trusted_until), how)
            })
            .collect(),
        errors,
        notice,
        email_query: format!(
            "email={}",
            percent_encoding::utf8_percent_encode(
                &person.email,
                percent_encoding::NON_ALPHANUMERIC
            )
        ),
    })
}

const AGENT_NOTICES: [(&str, &str); 11] = [
    (
        "access",
        "The agent's groups and teams are saved; the new permissions apply at once.",
    ),
    ("saved", "The agent's details are saved."),
    (
        "disable",
        "The agent is disabled and logged out everywhere.",
    ),
    ("enable", "The agent can log in again."),
    (
        "promote",
        "The agent is now an admin. Their sessions ended, so the new rights start with a fresh login.",
    ),
    (
        "demote",
        "The agent is no longer an admin and has been logged out.",
    ),
    (
        "force-password-change",
        "The agent must choose a new password at the next page they open.",
    ),
    ("end-sessions", "Every session of the agent has ended."),
    ("unlock", "The login lock is lifted."),
    (
        "reset-2fa",
        "Two-factor login is off for this agent and their sessions ended; they can set it up again after logging in.",
    ),
    (
        "ip-revoked",
        "That address is no longer trusted for this agent.",
    ),
];

async fn detail(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<i64>,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let detail = state.app.agent_detail(admin.actor(), id).await?;
    let access = agent_access(&state, &admin, id).await?;
    agent_page(
        &admin,
        detail,
        access,
        None,
        FieldErrors::new(),
        query.text(&AGENT_NOTICES),
    )
}

async fn save_profile(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<i64>,
    HtmlForm(form): HtmlForm<ProfileForm>,
) -> WebResult<Response> {
    match state
        .app
        .update_agent_profile(&admin.caller(), id, &form.name, &form.email)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/admin/agents/{id}?notice=saved")).into_response()),
        Err(AppError::Invalid(errors)) => {
            let detail = state.app.agent_detail(admin.actor(), id).await?;
            let access = agent_access(&state, &admin, id).await?;
            let mut response = agent_page(&admin, detail, access, Some(&form), errors, None)?;
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}

async fn act(
    State(state): State<AppState>,
    admin: AdminSession,
    Path((id, action)): Path<(i64, String)>,
) -> WebResult<Response> {
    let Some(agent_action) = AgentAction::from_key(&action) else {
        return Err(AppError::NotFound.into());
    };
    state
        .app
        .act_on_agent(&admin.caller(), id, agent_action)
        .await?;
    Ok(Redirect::to(&format!("/admin/agents/{id}?notice={action}")).into_response())
}

#[derive(Debug, Deserialize)]
struct TrustedIpForm {
    ip: String,
}

async fn revoke_trusted_ip(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<i64>,
    HtmlForm(form): HtmlForm<TrustedIpForm>,
) -> WebResult<Response> {
    state
        .app
        .revoke_trusted_ip(&admin.caller(), id, &form.ip)
        .await?;
    Ok(Redirect::to(&format!("/admin/agents/{id}?notice=ip-revoked")).into_response())
}

/// An agent's permission groups and teams, a checkbox each.
#[derive(Debug, Default, Deserialize)]
struct AccessForm {
    #[serde(default)]
    group: Vec<i64>,
    #[serde(default)]
    team: Vec<i64>,
}

async fn save_access(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<i64>,
    HtmlForm(form): HtmlForm<AccessForm>,
) -> WebResult<Response> {
    state
        .app
        .set_agent_access(&admin.caller(), id, &form.group, &form.team)
        .await?;
    Ok(Redirect::to(&format!("/admin/agents/{id}?notice=access")).into_response())
}
