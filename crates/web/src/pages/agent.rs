//! The agent interface.

use askama::Template;
use axum::Router;
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::Actor;

use crate::AppState;
use crate::error::WebResult;
use crate::pages::{
    Chrome, forgot_password, password_reset, render, sign_in, to_staff_login, verify_ip,
};
use crate::session::Session;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent", get(home))
        .route("/agent/", get(|| async { Redirect::permanent("/agent") }))
        .route("/agent/login", get(sign_in::show).post(sign_in::submit))
        .route(
            "/agent/login/two-factor",
            get(sign_in::show_second_factor).post(sign_in::submit_second_factor),
        )
        .route(
            "/agent/verify-ip/{token}",
            get(verify_ip::show).post(verify_ip::confirm),
        )
        .route(
            "/agent/unlock/{token}",
            get(super::unlock::show).post(super::unlock::confirm),
        )
        .route("/agent/logout", post(sign_in::log_out))
        .route(
            "/agent/forgot-password",
            get(forgot_password::show).post(forgot_password::submit),
        )
        .route(
            "/agent/reset-password/{token}",
            get(password_reset::show).post(password_reset::submit),
        )
}

#[derive(Template)]
#[template(path = "agent/home.html")]
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
