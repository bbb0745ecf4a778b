//! Setting a new password through a one-time link. The form page also serves
//! first-run setup, which asks for a name and email as well.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ferrodesk_app::{AppError, FieldErrors, LinkPurpose, PasswordLinkTarget};
use ferrodesk_core::{Secret, Surface};
use serde::Deserialize;

use crate::AppState;
use crate::error::{WebError, WebResult};
use crate::forms::HtmlForm;
use crate::pages::Chrome;
use crate::pages::render;
use crate::session::Session;
use crate::text::t;

#[derive(Template)]
#[template(path = "account/new_password.html")]
pub(crate) struct NewPasswordPage<'a> {
    pub chrome: Chrome,
    pub heading: &'a str,
    pub intro: &'a str,
    pub area: &'a str,
    pub action: &'a str,
    pub submit: &'a str,
    pub csrf_token: &'a str,
    pub setup_token: Option<&'a str>,
    pub ask_identity: bool,
    pub name: &'a str,
    pub email: &'a str,
    pub min_length: usize,
    pub errors: FieldErrors,
}

#[derive(Deserialize)]
pub(crate) struct NewPasswordForm {
    password: String,
    password_confirmation: String,
}

fn is_token(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

fn area(surface: Surface) -> (&'static str, &'static str) {
    match surface {
        Surface::Staff => ("staff", "/agent/reset-password/"),
        Surface::Portal => ("portal", "/reset-password/"),
    }
}

/// The person a token is for, when the token is valid for this surface.
async fn target(state: &AppState, surface: Surface, token: &str) -> WebResult<ResetTarget> {
    if !is_token(token) {
        return Err(WebError::App(AppError::NotFound));
    }
    let PasswordLinkTarget { person, purpose } = state.app.password_reset_target(token).await?;
    if person.is_agent != (surface == Surface::Staff) {
        return Err(WebError::App(AppError::NotFound));
    }
    Ok(ResetTarget {
        email: person.email,
        is_agent: person.is_agent,
        purpose,
    })
}

struct ResetTarget {
    email: String,
    is_agent: bool,
    purpose: LinkPurpose,
}

async fn page(
    state: &AppState,
    surface: Surface,
    session: &Session,
    token: &str,
    person: &ResetTarget,
    errors: FieldErrors,
) -> WebResult<Response> {
    let (area, action_prefix) = area(surface);
    let settings = state.app.settings().await?;
    let policy = if surface == Surface::Staff {
        &settings.agent_password_policy
    } else {
        &settings.user_password_policy
    };
    let (heading, intro, submit) = match person.purpose {
        LinkPurpose::Reset => (
            t("sign-in-reset-heading"),
            t("sign-in-reset-intro"),
            t("sign-in-reset-submit"),
        ),
        LinkPurpose::Invitation => (
            t("sign-in-invitation-heading"),
            t("sign-in-invitation-intro"),
            t("sign-in-invitation-submit"),
        ),
    };
    render(&NewPasswordPage {
        chrome: Chrome::for_session(session),
        heading: &heading,
        intro: &intro,
        area,
        action: &format!("{action_prefix}{token}"),
        submit: &submit,
        csrf_token: &session.csrf_token,
        setup_token: None,
        ask_identity: false,
        name: "",
        email: &person.email,
        min_length: policy.min_length,
        errors,
    })
}

pub(crate) async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> WebResult<Response> {
    let surface = session.surface;
    let person = target(&state, surface, &token).await?;
    page(
        &state,
        surface,
        &session,
        &token,
        &person,
        FieldErrors::new(),
    )
    .await
}

pub(crate) async fn submit(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
    HtmlForm(form): HtmlForm<NewPasswordForm>,
) -> WebResult<Response> {
    let surface = session.surface;
    let token = token.as_str();
    let person = target(&state, surface, token).await?;
    let password = Secret::new(form.password);
    let confirmation = Secret::new(form.password_confirmation);
    match state
        .app
        .complete_password_reset(token, &password, &confirmation, &session.ip)
        .await
    {
        Ok(_) => {
            let login = if person.is_agent {
                "/agent/login"
            } else {
                "/login"
            };
            Ok(Redirect::to(&format!("{login}?notice=password-set")).into_response())
        }
        Err(AppError::Invalid(errors)) => {
            let mut response = page(&state, surface, &session, token, &person, errors).await?;
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}
