//! The mail server settings, and a test mail that reports the server's answer.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{
    AppError, FieldErrors, Security, SmtpSettingsInput, SmtpSettingsView, SmtpSource,
};
use ferrodesk_core::Secret;
use serde::Deserialize;

use super::{AdminMenu, AdminSession, NoticeQuery};
use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::{Chrome, render};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/email", get(show).post(save))
        .route("/admin/email/test", post(send_test))
}

/// The answer to "send test email".
enum TestOutcome {
    Sent(String),
    Failed(String),
}

#[derive(Template)]
#[template(path = "admin/email.html")]
struct EmailPage<'a> {
    chrome: Chrome,
    menu: AdminMenu,
    csrf_token: &'a str,
    settings: SmtpSettingsView,
    from_environment: bool,
    configured: bool,
    security_options: [(&'static str, &'static str, bool); 3],
    port: String,
    errors: FieldErrors,
    notice: Option<&'static str>,
    test_outcome: Option<TestOutcome>,
    test_to: &'a str,
}

#[derive(Deserialize)]
struct SmtpForm {
    host: String,
    port: String,
    security: String,
    username: String,
    password: String,
    forget_password: Option<String>,
    from_address: String,
    from_name: String,
}

impl std::fmt::Debug for SmtpForm {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SmtpForm")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct TestForm {
    to: String,
}

fn security_options(chosen: Security) -> [(&'static str, &'static str, bool); 3] {
    [
        (
            "starttls",
            "STARTTLS (usually port 587)",
            chosen == Security::Starttls,
        ),
        (
            "tls",
            "TLS from the start (usually port 465)",
            chosen == Security::Tls,
        ),
        (
            "none",
            "None: only for a server on this machine or network",
            chosen == Security::None,
        ),
    ]
}

struct PageState<'a> {
    settings: SmtpSettingsView,
    port: String,
    errors: FieldErrors,
    notice: Option<&'static str>,
    test_outcome: Option<TestOutcome>,
    test_to: &'a str,
}

fn page(admin: &AdminSession, state: PageState<'_>) -> WebResult<Response> {
    let from_environment = state.settings.source == SmtpSource::Environment;
    let configured = state.settings.source != SmtpSource::NotConfigured;
    render(&EmailPage {
        chrome: admin.chrome(),
        menu: AdminMenu {
            current: "/admin/email",
        },
        csrf_token: admin.csrf_token(),
        security_options: security_options(state.settings.security),
        from_environment,
        configured,
        settings: state.settings,
        port: state.port,
        errors: state.errors,
        notice: state.notice,
        test_outcome: state.test_outcome,
        test_to: state.test_to,
    })
}

fn admin_email(admin: &AdminSession) -> &str {
    match admin.actor() {
        ferrodesk_app::Actor::Agent(agent) => &agent.email,
        _ => "",
    }
}

async fn show(
    State(state): State<AppState>,
    admin: AdminSession,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let settings = state.app.smtp_settings(admin.actor()).await?;
    let notice = query.text(&[(
        "saved",
        "The mail server settings are saved. Send a test email to check them.",
    )]);
    page(
        &admin,
        PageState {
            port: settings.port.to_string(),
            settings,
            errors: FieldErrors::new(),
            notice,
            test_outcome: None,
            test_to: admin_email(&admin),
        },
    )
}

async fn save(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<SmtpForm>,
) -> WebResult<Response> {
    let password = Secret::new(form.password);
    let input = SmtpSettingsInput {
        host: &form.host,
        port: &form.port,
        security: &form.security,
        username: &form.username,
        password: &password,
        forget_password: form.forget_password.is_some(),
        from_address: &form.from_address,
        from_name: &form.from_name,
    };
    match state.app.save_smtp_settings(&admin.caller(), &input).await {
        Ok(()) => Ok(Redirect::to("/admin/email?notice=saved").into_response()),
        Err(AppError::Invalid(errors)) => {
            // Show what was typed (never the password) with the problems.
            let stored = state.app.smtp_settings(admin.actor()).await?;
            let settings = SmtpSettingsView {
                host: form.host.clone(),
                security: Security::parse(&form.security).unwrap_or(stored.security),
                username: form.username.clone(),
                from_address: form.from_address.clone(),
                from_name: form.from_name.clone(),
                ..stored
            };
            let mut response = page(
                &admin,
                PageState {
                    settings,
                    port: form.port.clone(),
                    errors,
                    notice: None,
                    test_outcome: None,
                    test_to: admin_email(&admin),
                },
            )?;
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}

async fn send_test(
    State(state): State<AppState>,
    admin: AdminSession,
    HtmlForm(form): HtmlForm<TestForm>,
) -> WebResult<Response> {
    let settings = state.app.smtp_settings(admin.actor()).await?;
    let (outcome, errors, status) = match state.app.send_test_mail(admin.actor(), &form.to).await {
        Ok(Ok(())) => (
            Some(TestOutcome::Sent(format!(
                "The mail server accepted a test email to {}.",
                form.to.trim()
            ))),
            FieldErrors::new(),
            StatusCode::OK,
        ),
        Ok(Err(server_error)) => (
            Some(TestOutcome::Failed(server_error)),
            FieldErrors::new(),
            StatusCode::OK,
        ),
        Err(AppError::Invalid(errors)) => (None, errors, StatusCode::UNPROCESSABLE_ENTITY),
        Err(other) => return Err(other.into()),
    };
    let mut response = page(
        &admin,
        PageState {
            port: settings.port.to_string(),
            settings,
            errors,
            notice: None,
            test_outcome: outcome,
            test_to: &form.to,
        },
    )?;
    *response.status_mut() = status;
    Ok(response)
}
