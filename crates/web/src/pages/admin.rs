//! The admin interface. Only admins get in; other agents get 403.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use ferrodesk_app::{Actor, AgentSummary, AppError};

use crate::AppState;
use crate::error::{WebError, WebResult};
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
    match &session.actor {
        Actor::Agent(agent) if agent.is_admin => {
            let agents = state.app.list_agents().await?;
            render(&AdminHome {
                chrome: Chrome::for_session(&session),
                agents,
            })
        }
        Actor::Agent(_) | Actor::User(_) => Err(WebError::App(AppError::Forbidden)),
        Actor::Visitor => Ok(to_staff_login("/admin")),
    }
}
