//! "Forgot your password?": asks for an email address and answers the same
//! whether or not an account has it. The mail itself is sent by a background
//! job, so the answer also takes the same time.

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ferrodesk_app::{AppError, FieldErrors, RESET_LINK_LIFETIME};
use ferrodesk_core::Surface;
use serde::Deserialize;

use crate::AppState;
use crate::client_ip::ClientIp;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::Chrome;
use crate::pages::render;
use crate::session::Session;

#[derive(Template)]
#[template(path = "account/forgot_password.html")]
struct ForgotPasswordPage<'a> {
    chrome: Chrome,
    area: &'a str,
    home: &'a str,
    action: &'a str,
    login: &'a str,
    csrf_token: &'a str,
    email: &'a str,
    sent: bool,
    valid_minutes: u64,
    errors: FieldErrors,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ForgotPasswordForm {
    email: String,
}

fn page(session: &Session, email: &str, sent: bool, errors: FieldErrors) -> WebResult<Response> {
    let (area, home, action, login) = match session.surface {
        Surface::Staff => ("staff", "/agent", "/agent/forgot-password", "/agent/login"),
        Surface::Portal => ("portal", "/", "/forgot-password", "/login"),
    };
    render(&ForgotPasswordPage {
        chrome: Chrome::for_session(session),
        area,
        home,
        action,
        login,
        csrf_token: &session.csrf_token,
        email,
        sent,
        valid_minutes: RESET_LINK_LIFETIME.as_secs() / 60,
        errors,
    })
}

pub(crate) async fn show(session: Session) -> WebResult<Response> {
    page(&session, "", false, FieldErrors::new())
}

pub(crate) async fn submit(
    State(state): State<AppState>,
    session: Session,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    HtmlForm(form): HtmlForm<ForgotPasswordForm>,
) -> WebResult<Response> {
    match state
        .app
        .request_password_reset(&form.email, &ip.to_string())
        .await
    {
        Ok(()) => page(&session, &form.email, true, FieldErrors::new()),
        Err(AppError::Invalid(errors)) => {
            let mut response = page(&session, &form.email, false, errors)?;
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}
