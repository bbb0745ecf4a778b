//! First-run setup: creates the first admin, reachable only with the token
//! the server logged at start and only while no admin exists (404 otherwise).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use ferrodesk_app::{AppError, FieldErrors, NewAccount};
use ferrodesk_core::Secret;
use serde::Deserialize;

use crate::AppState;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::Chrome;
use crate::pages::password_reset::NewPasswordPage;
use crate::pages::render;
use crate::session::Session;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/setup", get(show).post(submit))
}

#[derive(Deserialize)]
struct SetupQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
struct SetupForm {
    #[serde(default)]
    token: String,
    name: String,
    email: String,
    password: String,
    password_confirmation: String,
}

async fn page(
    state: &AppState,
    session: &Session,
    token: &str,
    name: &str,
    email: &str,
    errors: FieldErrors,
) -> WebResult<Response> {
    let policy = state.app.settings().await?.agent_password_policy.clone();
    render(&NewPasswordPage {
        chrome: Chrome::for_session(session),
        heading: "Set up Ferrodesk",
        intro: "Create the first administrator account. You can invite your team once you are in.",
        area: "staff",
        action: "/setup",
        submit: "Create the admin account",
        csrf_token: &session.csrf_token,
        setup_token: Some(token),
        ask_identity: true,
        name,
        email,
        min_length: policy.min_length,
        errors,
    })
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<SetupQuery>,
) -> WebResult<Response> {
    state.app.check_setup_token(&query.token).await?;
    page(&state, &session, &query.token, "", "", FieldErrors::new()).await
}

async fn submit(
    State(state): State<AppState>,
    session: Session,
    HtmlForm(form): HtmlForm<SetupForm>,
) -> WebResult<Response> {
    let password = Secret::new(form.password);
    let confirmation = Secret::new(form.password_confirmation);
    let account = NewAccount {
        email: &form.email,
        name: &form.name,
        password: &password,
        password_confirmation: Some(&confirmation),
    };
    match state.app.complete_setup(&form.token, &account).await {
        Ok(()) => Ok(Redirect::to("/agent/login?notice=setup-done").into_response()),
        Err(AppError::Invalid(errors)) => {
            let mut response = page(
                &state,
                &session,
                &form.token,
                &form.name,
                &form.email,
                errors,
            )
            .await?;
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}
