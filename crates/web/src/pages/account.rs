//! One's own account, for agents (`/agent/account`) and help-center users
//! (`/account`): change the password (the current one is required), choose
//! login mails (agents), see and end one's sessions.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{Actor, AppError, FieldErrors};
use ferrodesk_core::{Secret, Surface};
use serde::Deserialize;

use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::admin::NoticeQuery;
use crate::pages::admin::agents::SessionRow;
use crate::pages::{Chrome, render, to_staff_login};
use crate::session::{Session, password_change_path};

pub(crate) fn staff_routes() -> Router<AppState> {
    routes_under("/agent/account")
}

pub(crate) fn portal_routes() -> Router<AppState> {
    routes_under("/account")
}

fn routes_under(base: &str) -> Router<AppState> {
    Router::new()
        .route(base, get(overview))
        .route(
            &format!("{base}/password"),
            get(password_form).post(change_password),
        )
        .route(&format!("{base}/notifications"), post(save_notifications))
        .route(
            &format!("{base}/sessions/end-others"),
            post(end_other_sessions),
        )
        .route(
            &format!("{base}/sessions/{{id}}/revoke"),
            post(revoke_session),
        )
}

fn base_path(surface: Surface) -> &'static str {
    match surface {
        Surface::Staff => "/agent/account",
        Surface::Portal => "/account",
    }
}

/// A trip to the login page for someone not signed in; `None` otherwise.
fn not_signed_in(session: &Session, back: &str) -> Option<Response> {
    match &session.actor {
        Actor::Agent(_) | Actor::User(_) => None,
        _ => Some(match session.surface {
            Surface::Staff => to_staff_login(back),
            Surface::Portal => Redirect::to("/login").into_response(),
        }),
    }
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    chrome: Chrome,
    base: &'static str,
    csrf_token: &'a str,
    name: String,
    email: String,
    is_agent: bool,
    notify_success: bool,
    notify_failure: bool,
    sessions: Vec<(SessionRow, bool)>,
    notice: Option<&'static str>,
}

async fn overview(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let base = base_path(session.surface);
    if let Some(redirect) = not_signed_in(&session, base) {
        return Ok(redirect);
    }
    let person = state.app.own_person(&session.actor).await?;
    let current = state.app.session_id(session.token.expose());
    let sessions = state
        .app
        .own_sessions(&session.actor)
        .await?
        .into_iter()
        .map(|own| {
            let is_current = own.id == current;
            (SessionRow::from_session(own), is_current)
        })
        .collect();
    render(&AccountPage {
        chrome: Chrome::for_session(&session),
        base,
        csrf_token: &session.csrf_token,
        name: person.name,
        email: person.email,
        is_agent: person.is_agent,
        notify_success: person.notify_login_success,
        notify_failure: person.notify_login_failure,
        sessions,
        notice: query.text(&[
            (
                "password-changed",
                "Your password is changed. Your other sessions have ended.",
            ),
            ("notifications-saved", "Your login mail choices are saved."),
            ("session-ended", "That session has ended."),
            ("others-ended", "You are logged out everywhere else."),
        ]),
    })
}

#[derive(Template)]
#[template(path = "account_password.html")]
struct PasswordPage<'a> {
    chrome: Chrome,
    base: &'static str,
    csrf_token: &'a str,
    must_change: bool,
    errors: FieldErrors,
}

fn password_page(session: &Session, errors: FieldErrors) -> WebResult<Response> {
    let must_change = session
        .actor
        .signed_in()
        .is_some_and(|person| person.must_change_password);
    render(&PasswordPage {
        chrome: Chrome::for_session(session),
        base: base_path(session.surface),
        csrf_token: &session.csrf_token,
        must_change,
        errors,
    })
}

async fn password_form(session: Session) -> WebResult<Response> {
    if let Some(redirect) = not_signed_in(&session, password_change_path(session.surface)) {
        return Ok(redirect);
    }
    password_page(&session, FieldErrors::new())
}

#[derive(Deserialize)]
struct PasswordForm {
    current_password: String,
    password: String,
    password_confirmation: String,
}

impl std::fmt::Debug for PasswordForm {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PasswordForm")
            .finish_non_exhaustive()
    }
}

async fn change_password(
    State(state): State<AppState>,
    session: Session,
    HtmlForm(form): HtmlForm<PasswordForm>,
) -> WebResult<Response> {
    if let Some(redirect) = not_signed_in(&session, base_path(session.surface)) {
        return Ok(redirect);
    }
    match state
        .app
        .change_own_password(
            &session.caller(),
            session.token.expose(),
            &Secret::new(form.current_password),
            &Secret::new(form.password),
            &Secret::new(form.password_confirmation),
        )
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!(
            "{}?notice=password-changed",
            base_path(session.surface)
        ))
        .into_response()),
        Err(AppError::Invalid(errors)) => {
            let mut response = password_page(&session, errors)?;
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Deserialize)]
struct NotificationsForm {
    on_success: Option<String>,
    on_failure: Option<String>,
}

async fn save_notifications(
    State(state): State<AppState>,
    session: Session,
    HtmlForm(form): HtmlForm<NotificationsForm>,
) -> WebResult<Response> {
    if let Some(redirect) = not_signed_in(&session, base_path(session.surface)) {
        return Ok(redirect);
    }
    state
        .app
        .set_login_notifications(
            &session.caller(),
            form.on_success.is_some(),
            form.on_failure.is_some(),
        )
        .await?;
    Ok(Redirect::to(&format!(
        "{}?notice=notifications-saved",
        base_path(session.surface)
    ))
    .into_response())
}

async fn revoke_session(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    if let Some(redirect) = not_signed_in(&session, base_path(session.surface)) {
        return Ok(redirect);
    }
    state.app.revoke_own_session(&session.caller(), &id).await?;
    Ok(Redirect::to(&format!(
        "{}?notice=session-ended",
        base_path(session.surface)
    ))
    .into_response())
}

async fn end_other_sessions(
    State(state): State<AppState>,
    session: Session,
) -> WebResult<Response> {
    if let Some(redirect) = not_signed_in(&session, base_path(session.surface)) {
        return Ok(redirect);
    }
    state
        .app
        .end_other_sessions(&session.caller(), session.token.expose())
        .await?;
    Ok(Redirect::to(&format!(
        "{}?notice=others-ended",
        base_path(session.surface)
    ))
    .into_response())
}
