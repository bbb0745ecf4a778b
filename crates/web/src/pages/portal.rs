//! The help center's pages.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use ferrodesk_core::Surface;

use crate::AppState;
use crate::client_ip::ClientIp;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::password_reset::{self, NewPasswordForm};
use crate::pages::sign_in::{self, LoginForm, LoginQuery};
use crate::pages::{Chrome, render};
use crate::session::Session;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/reset-password/{token}", get(reset_page).post(reset))
}

#[derive(Template)]
#[template(path = "portal_home.html")]
struct HomePage {
    chrome: Chrome,
}

async fn home(session: Session) -> WebResult<Response> {
    render(&HomePage {
        chrome: Chrome::for_session(&session),
    })
}

async fn login_page(session: Session, Query(query): Query<LoginQuery>) -> WebResult<Response> {
    sign_in::show(Surface::Portal, &session, &query).await
}

async fn login(
    State(state): State<AppState>,
    session: Session,
    Extension(client_ip): Extension<ClientIp>,
    headers: HeaderMap,
    HtmlForm(form): HtmlForm<LoginForm>,
) -> WebResult<Response> {
    sign_in::submit(
        Surface::Portal,
        &state,
        &session,
        client_ip,
        super::user_agent(&headers),
        form,
    )
    .await
}

async fn logout(State(state): State<AppState>, session: Session) -> WebResult<Response> {
    sign_in::log_out(Surface::Portal, &state, &session).await
}

async fn reset_page(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> WebResult<Response> {
    password_reset::show(Surface::Portal, &state, &session, &token).await
}

async fn reset(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
    HtmlForm(form): HtmlForm<NewPasswordForm>,
) -> WebResult<Response> {
    password_reset::submit(Surface::Portal, &state, &session, &token, form).await
}
