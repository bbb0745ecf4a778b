//! The agent's directory: users with their addresses and tickets,
//! organizations with members and managers, and merging two users.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{
    AppError, DirectoryList, DirectoryQuery, FieldErrors, OrganizationDetail, OrganizationRecord,
    UserDetail, UserInput, UserRecord,
};
use serde::Deserialize;

use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::admin::NoticeQuery;
use crate::pages::{
    AgentSession, Chrome, answer_form, path_id, render, render_form, time, url_encoded,
};
use crate::session::Session;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/people", get(list_users))
        .route("/agent/people/new", get(new_user_form).post(create_user))
        .route("/agent/people/{id}", get(show_user).post(update_user))
        .route("/agent/people/{id}/emails", post(add_email))
        .route(
            "/agent/people/{id}/emails/{email_id}/remove",
            post(remove_email),
        )
        .route(
            "/agent/people/{id}/emails/{email_id}/primary",
            post(make_primary),
        )
        .route("/agent/people/{id}/merge", post(merge_user))
        .route("/agent/people/{id}/approve", post(approve_user))
        .route(
            "/agent/organizations",
            get(list_organizations).post(create_organization),
        )
        .route(
            "/agent/organizations/{id}",
            get(show_organization).post(rename_organization),
        )
        .route(
            "/agent/organizations/{id}/delete",
            get(confirm_delete_organization).post(delete_organization),
        )
        .route("/agent/organizations/{id}/members", post(add_member))
        .route(
            "/agent/organizations/{id}/members/{person_id}/remove",
            post(remove_member),
        )
}

#[derive(Debug, Default, Deserialize)]
struct ListParameters {
    #[serde(default)]
    q: String,
    after: Option<String>,
}

impl ListParameters {
    fn query(&self) -> DirectoryQuery {
        DirectoryQuery {
            search: self.q.clone(),
            after: self.after.clone(),
            ..DirectoryQuery::default()
        }
    }
}

#[derive(Template)]
#[template(path = "agent/people.html")]
struct UsersPage {
    chrome: Chrome,
    search: String,
    list: DirectoryList<UserRecord>,
}

impl UsersPage {
    fn time(&self, millis: &i64) -> String {
        time(millis)
    }

    fn next_link(&self) -> Option<String> {
        let next = self.list.next.as_deref()?;
        Some(format!(
            "/agent/people?q={}&after={}",
            url_encoded(&self.search),
            url_encoded(next)
        ))
    }
}

async fn list_users(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Query(parameters): Query<ListParameters>,
) -> WebResult<Response> {
    let list = state
        .app
        .list_users(&session.actor, &parameters.query())
        .await?;
    render(&UsersPage {
        chrome: Chrome::for_session(&session),
        search: parameters.q,
        list,
    })
}

#[derive(Template)]
#[template(path = "agent/person_new.html")]
struct NewUserPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    input: UserInput,
    errors: FieldErrors,
}

async fn new_user_form(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
) -> WebResult<Response> {
    state.app.require_people_editor(&session.actor).await?;
    render(&NewUserPage {
        chrome: Chrome::for_session(&session),
        csrf_token: &session.csrf_token,
        input: UserInput::default(),
        errors: FieldErrors::new(),
    })
}

/// The user form as sent.
#[derive(Debug, Default, Deserialize)]
struct UserForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    organization: String,
    #[serde(default)]
    manager: bool,
    #[serde(default)]
    disabled: bool,
}

impl From<UserForm> for UserInput {
    fn from(form: UserForm) -> UserInput {
        UserInput {
            name: form.name,
            email: form.email,
            organization: form.organization,
            is_organization_manager: form.manager,
            is_disabled: form.disabled,
        }
    }
}

async fn create_user(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    HtmlForm(form): HtmlForm<UserForm>,
) -> WebResult<Response> {
    let input = UserInput::from(form);
    match state.app.create_user(&session.caller(), &input).await {
        Ok(id) => Ok(Redirect::to(&format!("/agent/people/{id}?notice=created")).into_response()),
        Err(AppError::Invalid(errors)) => render_form(
            &NewUserPage {
                chrome: Chrome::for_session(&session),
                csrf_token: &session.csrf_token,
                input,
                errors,
            },
            true,
        ),
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "agent/person.html")]
struct UserPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    detail: UserDetail,
    /// The profile form as sent, when it comes back with errors.
    input: UserInput,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

impl UserPage<'_> {
    fn time(&self, millis: &i64) -> String {
        time(millis)
    }

    fn is_primary(&self, email: &str) -> bool {
        self.detail.user.email == email
    }
}

fn profile_of(user: &UserRecord) -> UserInput {
    UserInput {
        name: user.name.clone(),
        email: user.email.clone(),
        organization: user.organization_name.clone().unwrap_or_default(),
        is_organization_manager: user.is_organization_manager,
        is_disabled: user.is_disabled,
    }
}

async fn user_page(
    state: &AppState,
    session: &Session,
    id: i64,
    input: Option<UserInput>,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    let detail = state.app.user_detail(&session.actor, id).await?;
    let has_errors = !errors.is_empty();
    render_form(
        &UserPage {
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            input: input.unwrap_or_else(|| profile_of(&detail.user)),
            detail,
            errors,
            notice,
        },
        has_errors,
    )
}

/// Answers a form on a directory page (see `answer_form`).
async fn answer<F, Fut>(outcome: Result<String, AppError>, page_again: F) -> WebResult<Response>
where
    F: FnOnce(FieldErrors) -> Fut,
    Fut: std::future::Future<Output = WebResult<Response>>,
{
    answer_form(outcome, "form", page_again).await
}

const USER_NOTICES: [(&str, &str); 7] = [
    ("created", "The user is created."),
    ("saved", "The user is saved."),
    ("email_added", "The address is added."),
    ("email_removed", "The address is removed."),
    ("primary", "Mail now goes to the new primary address."),
    ("merged", "The users are merged into this one."),
    ("approved", "The account is approved."),
];

async fn show_user(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    user_page(
        &state,
        &session,
        id,
        None,
        FieldErrors::new(),
        query.text(&USER_NOTICES),
    )
    .await
}

async fn update_user(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
    HtmlForm(form): HtmlForm<UserForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let input = UserInput::from(form);
    let outcome = state
        .app
        .update_user(&session.caller(), id, &input)
        .await
        .map(|()| format!("/agent/people/{id}?notice=saved"));
    answer(outcome, |errors| {
        user_page(&state, &session, id, Some(input.clone()), errors, None)
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
struct AddEmailForm {
    #[serde(default)]
    email: String,
}
async fn add_email(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
    HtmlForm(fields): HtmlForm<AddEmailForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let outcome = state
        .app
        .add_user_email(&session.caller(), id, fields.email.as_str())
        .await
        .map(|()| format!("/agent/people/{id}?notice=email_added"));
    answer(outcome, |errors| {
        user_page(&state, &session, id, None, errors, None)
    })
    .await
}

async fn remove_email(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path((id, email_id)): Path<(String, String)>,
) -> WebResult<Response> {
    let (id, email_id) = (path_id(&id)?, path_id(&email_id)?);
    let outcome = state
        .app
        .remove_user_email(&session.caller(), id, email_id)
        .await
        .map(|()| format!("/agent/people/{id}?notice=email_removed"));
    answer(outcome, |errors| {
        user_page(&state, &session, id, None, errors, None)
    })
    .await
}

async fn make_primary(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path((id, email_id)): Path<(String, String)>,
) -> WebResult<Response> {
    let (id, email_id) = (path_id(&id)?, path_id(&email_id)?);
    let outcome = state
        .app
        .make_user_email_primary(&session.caller(), id, email_id)
        .await
        .map(|()| format!("/agent/people/{id}?notice=primary"));
    answer(outcome, |errors| {
        user_page(&state, &session, id, None, errors, None)
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
struct MergeUserForm {
    #[serde(default)]
    into: String,
}
async fn merge_user(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
    HtmlForm(fields): HtmlForm<MergeUserForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let outcome = state
        .app
        .merge_users(&session.caller(), id, fields.into.as_str())
        .await
        .map(|kept| format!("/agent/people/{kept}?notice=merged"));
    answer(outcome, |errors| {
        user_page(&state, &session, id, None, errors, None)
    })
    .await
}

async fn approve_user(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let outcome = state
        .app
        .approve_user(&session.caller(), id)
        .await
        .map(|()| format!("/agent/people/{id}?notice=approved"));
    answer(outcome, |errors| {
        user_page(&state, &session, id, None, errors, None)
    })
    .await
}

#[derive(Template)]
#[template(path = "agent/organizations.html")]
struct OrganizationsPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    search: String,
    list: DirectoryList<OrganizationRecord>,
    typed_name: String,
    errors: FieldErrors,
}

impl OrganizationsPage<'_> {
    fn next_link(&self) -> Option<String> {
        let next = self.list.next.as_deref()?;
        Some(format!(
            "/agent/organizations?q={}&after={}",
            url_encoded(&self.search),
            url_encoded(next)
        ))
    }
}

async fn organizations_page(
    state: &AppState,
    session: &Session,
    parameters: ListParameters,
    typed_name: String,
    errors: FieldErrors,
) -> WebResult<Response> {
    let list = state
        .app
        .list_organizations(&session.actor, &parameters.query())
        .await?;
    let has_errors = !errors.is_empty();
    render_form(
        &OrganizationsPage {
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            search: parameters.q,
            list,
            typed_name,
            errors,
        },
        has_errors,
    )
}

async fn list_organizations(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Query(parameters): Query<ListParameters>,
) -> WebResult<Response> {
    organizations_page(
        &state,
        &session,
        parameters,
        String::new(),
        FieldErrors::new(),
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
struct CreateOrganizationForm {
    #[serde(default)]
    name: String,
}
async fn create_organization(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    HtmlForm(fields): HtmlForm<CreateOrganizationForm>,
) -> WebResult<Response> {
    let name = fields.name.as_str().to_owned();
    let outcome = state
        .app
        .create_organization(&session.caller(), &name)
        .await
        .map(|id| format!("/agent/organizations/{id}?notice=created"));
    answer(outcome, |errors| {
        organizations_page(
            &state,
            &session,
            ListParameters::default(),
            name.clone(),
            errors,
        )
    })
    .await
}

#[derive(Template)]
#[template(path = "agent/organization.html")]
struct OrganizationPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    detail: OrganizationDetail,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

impl OrganizationPage<'_> {
    fn time(&self, millis: &i64) -> String {
        time(millis)
    }
}

async fn organization_page(
    state: &AppState,
    session: &Session,
    id: i64,
    errors: FieldErrors,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    let detail = state.app.organization_detail(&session.actor, id).await?;
    let has_errors = !errors.is_empty();
    render_form(
        &OrganizationPage {
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            detail,
            errors,
            notice,
        },
        has_errors,
    )
}

async fn show_organization(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let notice = query.text(&[
        ("created", "The organization is created."),
        ("saved", "The organization is saved."),
        ("member_added", "The user is a member now."),
        ("member_removed", "The user is no longer a member."),
    ]);
    organization_page(&state, &session, id, FieldErrors::new(), notice).await
}

#[derive(Debug, Default, Deserialize)]
struct RenameOrganizationForm {
    #[serde(default)]
    name: String,
}
async fn rename_organization(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
    HtmlForm(fields): HtmlForm<RenameOrganizationForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let outcome = state
        .app
        .rename_organization(&session.caller(), id, fields.name.as_str())
        .await
        .map(|()| format!("/agent/organizations/{id}?notice=saved"));
    answer(outcome, |errors| {
        organization_page(&state, &session, id, errors, None)
    })
    .await
}

#[derive(Template)]
#[template(path = "agent/organization_delete.html")]
struct DeleteOrganizationPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    detail: OrganizationDetail,
}

/// Asks before an organization goes, saying what happens to its members
/// and tickets.
async fn confirm_delete_organization(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let detail = state.app.organization_detail(&session.actor, id).await?;
    if !detail.may_edit {
        return Err(AppError::Forbidden.into());
    }
    render(&DeleteOrganizationPage {
        chrome: Chrome::for_session(&session),
        csrf_token: &session.csrf_token,
        detail,
    })
}

async fn delete_organization(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    state.app.delete_organization(&session.caller(), id).await?;
    Ok(Redirect::to("/agent/organizations").into_response())
}

#[derive(Debug, Default, Deserialize)]
struct AddMemberForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    manager: String,
}
async fn add_member(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(id): Path<String>,
    HtmlForm(fields): HtmlForm<AddMemberForm>,
) -> WebResult<Response> {
    let id = path_id(&id)?;
    let outcome = state
        .app
        .add_organization_member(
            &session.caller(),
            id,
            fields.email.as_str(),
            fields.manager.as_str() == "1",
        )
        .await
        .map(|()| format!("/agent/organizations/{id}?notice=member_added"));
    answer(outcome, |errors| {
        organization_page(&state, &session, id, errors, None)
    })
    .await
}

async fn remove_member(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path((id, person_id)): Path<(String, String)>,
) -> WebResult<Response> {
    let (id, person_id) = (path_id(&id)?, path_id(&person_id)?);
    state
        .app
        .remove_organization_member(&session.caller(), id, person_id)
        .await?;
    Ok(Redirect::to(&format!("/agent/organizations/{id}?notice=member_removed")).into_response())
}
