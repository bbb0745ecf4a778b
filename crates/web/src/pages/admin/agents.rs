//! Inviting an agent: the admin gives a name and an email address, the new
//! agent gets a single-use link to choose a password.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use ferrodesk_app::{AppError, FieldErrors, INVITATION_LIFETIME};
use serde::Deserialize;

use super::{AdminMenu, AdminSession};
use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::{Chrome, render};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/admin/agents/invite", get(show).post(submit))
}

#[derive(Template)]
#[template(path = "admin_invite.html")]
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
            admin.actor(),
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
