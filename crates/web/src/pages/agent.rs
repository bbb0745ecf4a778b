//! The agent interface.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use ferrodesk_app::Actor;
use ferrodesk_core::Surface;

use crate::AppState;
use crate::client_ip::ClientIp;
use crate::error::WebResult;
use crate::forms::HtmlForm;
use crate::pages::password_reset::{self, NewPasswordForm};
use crate::pages::sign_in::{self, LoginForm, LoginQuery};
use crate::pages::{Chrome, render, to_staff_login};
use crate::session::Session;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent", get(home))
        .route("/agent/", get(|| async { Redirect::permanent("/agent") }))
        .route("/agent/login", get(login_page).post(login))
        .route("/agent/logout", post(logout))
        .route("/agent/reset-password/{token}", get(reset_page).post(reset))
}

#[derive(Template)]
#[template(path = "agent_home.html")]
struct AgentHome<'a> {
    chrome: Chrome,
    agent_name: &'a str,
}

async fn home(session: Session) -> WebResult<Response> {
    match &session.actor {
        Actor::Agent(agent) => render(&AgentHome {
            chrome: Chrome::for_session(&session),
            agent_name: &agent.name,
        }),
        _ => Ok(to_staff_login("/agent")),
    }
}

async fn login_page(session: Session, Query(query): Query<LoginQuery>) -> WebResult<Response> {
    // Someone already signed in has nothing to do here.
    if matches!(session.actor, Actor::Agent(_)) {
        return Ok(Redirect::to("/agent").into_response());
    }
    sign_in::show(Surface::Staff, &session, &query).await
}

async fn login(
    State(state): State<AppState>,
    session: Session,
    Extension(client_ip): Extension<ClientIp>,
    headers: HeaderMap,
    HtmlForm(form): HtmlForm<LoginForm>,
) -> WebResult<Response> {
    sign_in::submit(
        Surface::Staff,
        &state,
        &session,
        client_ip,
        super::user_agent(&headers),
        form,
    )
    .await
}

async fn logout(State(state): State<AppState>, session: Session) -> WebResult<Response> {
    sign_in::log_out(Surface::Staff, &state, &session).await
}

async fn reset_page(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> WebResult<Response> {
    password_reset::show(Surface::Staff, &state, &session, &token).await
}

async fn reset(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
    HtmlForm(form): HtmlForm<NewPasswordForm>,
) -> WebResult<Response> {
    password_reset::submit(Surface::Staff, &state, &session, &token, form).await
}
