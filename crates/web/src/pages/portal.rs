//! The help center's pages.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};

use crate::AppState;
use crate::error::WebResult;
use crate::pages::{Chrome, forgot_password, password_reset, render, sign_in};
use crate::session::Session;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(sign_in::show).post(sign_in::submit))
        .route(
            "/unlock/{token}",
            get(super::unlock::show).post(super::unlock::confirm),
        )
        .route(
            "/login/two-factor",
            get(sign_in::show_second_factor).post(sign_in::submit_second_factor),
        )
        .route("/logout", post(sign_in::log_out))
        .route(
            "/login/resend-confirmation",
            post(sign_in::resend_confirmation),
        )
        .route(
            "/forgot-password",
            get(forgot_password::show).post(forgot_password::submit),
        )
        .route(
            "/reset-password/{token}",
            get(password_reset::show).post(password_reset::submit),
        )
        .merge(super::account::portal_routes())
        .merge(super::help_tickets::routes())
        .merge(super::register::routes())
        .merge(super::knowledge_base::routes())
        .merge(super::news::routes())
        .merge(super::chat::portal_routes())
}

#[derive(Template)]
#[template(path = "help_center/home.html")]
struct HomePage {
    chrome: Chrome,
    may_register: bool,
    page: ferrodesk_app::FrontPage,
}

impl HomePage {
    fn date(&self, millis: &Option<i64>) -> String {
        millis
            .map(|millis| crate::pages::date(&millis))
            .unwrap_or_default()
    }
}

async fn home(State(state): State<AppState>, session: Session) -> WebResult<Response> {
    let settings = state.app.settings().await?;
    render(&HomePage {
        chrome: Chrome::for_session(&session),
        may_register: settings.help_center.registration != ferrodesk_app::RegistrationMode::Closed,
        page: state.app.front_page().await?,
    })
}
