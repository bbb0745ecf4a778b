//! The admin interface. Only admins get in; other agents get 403.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use ferrodesk_app::{Actor, AgentSummary};

use crate::AppState;
use crate::error::WebResult;
use crate::pages::{Chrome, render, to_staff_login};
use crate::session::Session;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/admin", get(home))
}

#[derive(Template)]
#[template(path = "admin_home.html")]
struct AdminHome {
    chrome: Chrome,
    agents: Vec<AgentSummary>,
}

async fn home(State(state): State<AppState>, session: Session) -> WebResult<Response> {
    if matches!(session.actor, Actor::Visitor) {
        return Ok(to_staff_login("/admin"));
    }
    // The use case decides who may see the agents; anyone else gets 403.
    let agents = state.app.list_agents(&session.actor).await?;
    render(&AdminHome {
        chrome: Chrome::for_session(&session),
        agents,
    })
}
