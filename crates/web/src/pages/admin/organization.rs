//! Departments and teams in the admin interface.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{AppError, DepartmentNode, FieldErrors, MemberRecord, TeamRecord};

use super::{AdminMenu, AdminSession, NoticeQuery};
use serde::Deserialize;

use crate::AppState;
use crate::error::{WebError, WebResult};
use crate::forms::HtmlForm;
use crate::pages::render_form;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/departments",
            get(departments).post(create_department),
        )
        .route("/admin/departments/{id}", post(update_department))
        .route("/admin/departments/{id}/delete", post(delete_department))
        .route("/admin/teams", get(teams).post(create_team))
        .route("/admin/teams/{id}", get(team).post(update_team))
        .route("/admin/teams/{id}/delete", post(delete_team))
}

/// The team form: its name and a `member` checkbox per agent.
#[derive(Debug, Default, Deserialize)]
struct TeamForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    member: Vec<i64>,
}

/// The department form as sent.
#[derive(Debug, Default, Deserialize)]
struct DepartmentForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    parent: String,
}

/// A parent chosen in a form: empty for none, else a department id.
fn parent_field(form: &DepartmentForm) -> WebResult<Option<i64>> {
    let value = form.parent.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|_| WebError::BadRequest("Choose a parent department from the list.".into()))
}

#[derive(Template)]
#[template(path = "admin/departments.html")]
struct DepartmentsPage<'a> {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    departments: Vec<DepartmentNode>,
    /// The department whose form had errors (`None`: the new-department form).
    failed: Option<i64>,
    typed_name: String,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

impl DepartmentsPage<'_> {
    /// Whether the form of `node` is the one that had errors.
    fn failed_on(&self, node: &DepartmentNode) -> bool {
        self.failed == Some(node.id)
    }

    fn is_parent(&self, node: &DepartmentNode, other: &DepartmentNode) -> bool {
        node.parent_id == Some(other.id)
    }
}

async fn departments_page(
    state: &AppState,
    admin: &AdminSession,
    failed: Option<i64>,
    typed_name: String,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    let has_errors = !errors.is_empty();
    render_form(
        &DepartmentsPage {
            chrome: admin.chrome(),
            menu: AdminMenu {
                current: "/admin/departments",
            },
            csrf_token: admin.csrf_token(),
            departments: state.app.departments(admin.actor()).await?,
            failed,
            typed_name,
            errors,
            notice,
        },
        has_errors,
    )
}

async fn departments(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let notice = query.text(&[
        ("created", "The department is added."),
        ("saved", "The department is saved."),
        ("deleted", "The department is deleted."),
    ]);
    departments_page(
        &state,
        &admin,
        None,
        String::new(),
        FieldErrors::new(),
        notice,
    )
    .await
}

/// Shows the departments again with the form's errors, or passes the error on.
async fn department_refused(
    state: &AppState,
    admin: &AdminSession,
    failed: Option<i64>,
    typed_name: &str,
    error: AppError,
) -> WebResult<Response> {
    let errors = form_errors(error)?;
    departments_page(state, admin, failed, typed_name.to_owned(), errors, None).await
}

async fn create_department(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<DepartmentForm>,
) -> WebResult<Response> {
    let parent = parent_field(&form)?;
    let name = form.name.as_str();
    match state
        .app
        .create_department(&admin.caller(), name, parent)
        .await
    {
        Ok(_) => Ok(Redirect::to("/admin/departments?notice=created").into_response()),
        Err(error) => department_refused(&state, &admin, None, name, error).await,
    }
}

async fn update_department(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<i64>,
    HtmlForm(form): HtmlForm<DepartmentForm>,
) -> WebResult<Response> {
    let parent = parent_field(&form)?;
    let name = form.name.as_str();
    match state
        .app
        .update_department(&admin.caller(), id, name, parent)
        .await
    {
        Ok(()) => Ok(Redirect::to("/admin/departments?notice=saved").into_response()),
        Err(error) => department_refused(&state, &admin, Some(id), name, error).await,
    }
}

async fn delete_department(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    state.app.delete_department(&admin.caller(), id).await?;
    Ok(Redirect::to("/admin/departments?notice=deleted").into_response())
}

#[derive(Template)]
#[template(path = "admin/teams.html")]
struct TeamsPage<'a> {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    teams: Vec<TeamRecord>,
    typed_name: String,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

async fn teams_page(
    state: &AppState,
    admin: &AdminSession,
    typed_name: String,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    let has_errors = !errors.is_empty();
    render_form(
        &TeamsPage {
            chrome: admin.chrome(),
            menu: AdminMenu {
                current: "/admin/teams",
            },
            csrf_token: admin.csrf_token(),
            teams: state.app.teams(admin.actor()).await?,
            typed_name,
            errors,
            notice,
        },
        has_errors,
    )
}

async fn teams(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let notice = query.text(&[("deleted", "The team is deleted.")]);
    teams_page(&state, &admin, String::new(), FieldErrors::new(), notice).await
}

/// Field errors from an invalid form or a taken name; other errors pass on.
fn form_errors(error: AppError) -> WebResult<FieldErrors> {
    match error {
        AppError::Invalid(errors) => Ok(errors),
        AppError::Conflict(message) => {
            let mut errors = FieldErrors::new();
            errors.add("name", message);
            Ok(errors)
        }
        other => Err(other.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
struct CreateTeamForm {
    #[serde(default)]
    name: String,
}
async fn create_team(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(fields): HtmlForm<CreateTeamForm>,
) -> WebResult<Response> {
    let name = fields.name.as_str();
    match state.app.create_team(&admin.caller(), name).await {
        Ok(id) => Ok(Redirect::to(&format!("/admin/teams/{id}?notice=created")).into_response()),
        Err(error) => teams_page(&state, &admin, name.to_owned(), form_errors(error)?, None).await,
    }
}

#[derive(Template)]
#[template(path = "admin/team.html")]
struct TeamPage<'a> {
    chrome: crate::pages::Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    team: TeamRecord,
    name: String,
    /// Every agent, with whether they are in the team.
    agents: Vec<(MemberRecord, bool)>,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

async fn team_page(
    state: &AppState,
    admin: &AdminSession,
    id: i64,
    typed: Option<(&str, &[i64])>,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    let (team, members) = state.app.team(admin.actor(), id).await?;
    let chosen: Vec<i64> = match typed {
        Some((_, ids)) => ids.to_vec(),
        None => members.iter().map(|member| member.id).collect(),
    };
    let agents = state
        .app
        .list_agents(admin.actor())
        .await?
        .into_iter()
        .map(|agent| {
            let member = chosen.contains(&agent.id);
            (
                MemberRecord {
                    id: agent.id,
                    name: agent.name,
                    email: agent.email,
                },
                member,
            )
        })
        .collect();
    let has_errors = !errors.is_empty();
    render_form(
        &TeamPage {
            chrome: admin.chrome(),
            menu: AdminMenu {
                current: "/admin/teams",
            },
            csrf_token: admin.csrf_token(),
            name: typed.map_or_else(|| team.name.clone(), |(name, _)| name.to_owned()),
            team,
            agents,
            errors,
            notice,
        },
        has_errors,
    )
}

async fn team(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<i64>,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let notice = query.text(&[
        ("created", "The team is added. Choose its members."),
        ("saved", "The team is saved."),
    ]);
    team_page(&state, &admin, id, None, FieldErrors::new(), notice).await
}

async fn update_team(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<i64>,
    HtmlForm(form): HtmlForm<TeamForm>,
) -> WebResult<Response> {
    let members = form.member;
    let name = form.name.as_str();
    match state
        .app
        .update_team(&admin.caller(), id, name, &members)
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/admin/teams/{id}?notice=saved")).into_response()),
        Err(error) => {
            let errors = form_errors(error)?;
            team_page(&state, &admin, id, Some((name, &members)), errors, None).await
        }
    }
}

async fn delete_team(
    State(state): State<AppState>,
    admin: AdminSession,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    state.app.delete_team(&admin.caller(), id).await?;
    Ok(Redirect::to("/admin/teams?notice=deleted").into_response())
}
