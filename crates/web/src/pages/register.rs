//! Opening a help-center account (`/register`) and confirming its address
//! (`/verify-email/{token}`), as the admin's registration mode allows. The
//! page after sending says the same whoever the address belongs to.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use ferrodesk_app::{
    AppError, ConfirmationOutcome, FieldErrors, RegistrationInput, RegistrationMode,
    RegistrationOutcome,
};
use ferrodesk_core::Secret;

use serde::Deserialize;

use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::{Chrome, render, render_form};
use crate::session::Session;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/register", get(show).post(submit))
        .route(
            "/verify-email/{token}",
            get(show_confirmation).post(confirm),
        )
}

#[derive(Template)]
#[template(path = "help_center/register.html")]
struct RegisterPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    mode: RegistrationMode,
    name: String,
    email: String,
    /// After sending: what to tell.
    outcome: Option<RegistrationOutcome>,
    errors: FieldErrors,
}

impl RegisterPage<'_> {
    fn is_closed(&self) -> bool {
        self.mode == RegistrationMode::Closed
    }

    fn needs_approval(&self) -> bool {
        self.mode == RegistrationMode::Approval
    }

    fn ready(&self) -> bool {
        self.outcome == Some(RegistrationOutcome::Ready)
    }

    fn check_mail(&self) -> bool {
        self.outcome == Some(RegistrationOutcome::CheckMail)
    }
}

async fn page(
    state: &AppState,
    session: &Session,
    typed: (String, String),
    outcome: Option<RegistrationOutcome>,
    errors: FieldErrors,
) -> WebResult<Response> {
    let has_errors = !errors.is_empty();
    render_form(
        &RegisterPage {
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            mode: state.app.settings().await?.help_center.registration,
            name: typed.0,
            email: typed.1,
            outcome,
            errors,
        },
        has_errors,
    )
}

async fn show(State(state): State<AppState>, session: Session) -> WebResult<Response> {
    page(
        &state,
        &session,
        (String::new(), String::new()),
        None,
        FieldErrors::new(),
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
struct SubmitForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirmation: String,
    #[serde(default)]
    website: String,
}
async fn submit(
    State(state): State<AppState>,
    session: Session,
    HtmlForm(fields): HtmlForm<SubmitForm>,
) -> WebResult<Response> {
    let input = RegistrationInput {
        name: fields.name.as_str().to_owned(),
        email: fields.email.as_str().to_owned(),
        password: Secret::new(fields.password.as_str().to_owned()),
        password_confirmation: Secret::new(fields.password_confirmation.as_str().to_owned()),
        honeypot: fields.website.as_str().to_owned(),
    };
    let typed = (input.name.clone(), input.email.clone());
    match state.app.register(&session.caller(), &input).await {
        Ok(outcome) => page(&state, &session, typed, Some(outcome), FieldErrors::new()).await,
        Err(AppError::Invalid(errors)) => page(&state, &session, typed, None, errors).await,
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "help_center/verify_email.html")]
struct ConfirmationPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    token: String,
    valid: bool,
    outcome: Option<ConfirmationOutcome>,
}

impl ConfirmationPage<'_> {
    fn signed_up(&self) -> bool {
        self.outcome == Some(ConfirmationOutcome::SignInNow)
    }

    fn awaiting_approval(&self) -> bool {
        self.outcome == Some(ConfirmationOutcome::AwaitingApproval)
    }
}

fn is_token(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

async fn show_confirmation(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> WebResult<Response> {
    let valid = is_token(&token) && state.app.email_verification_is_valid(&token).await?;
    let mut response = render(&ConfirmationPage {
        chrome: Chrome::for_session(&session),
        csrf_token: &session.csrf_token,
        token,
        valid,
        outcome: None,
    })?;
    if !valid {
        *response.status_mut() = axum::http::StatusCode::NOT_FOUND;
    }
    Ok(response)
}

async fn confirm(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> WebResult<Response> {
    if !is_token(&token) {
        return Err(AppError::NotFound.into());
    }
    let outcome = state.app.confirm_email(&token).await?;
    render(&ConfirmationPage {
        chrome: Chrome::for_session(&session),
        csrf_token: &session.csrf_token,
        token,
        valid: true,
        outcome: Some(outcome),
    })
}
