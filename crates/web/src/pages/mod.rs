//! The browser pages, one module per area.

pub(crate) mod account;
pub(crate) mod admin;
pub(crate) mod agent;
pub(crate) mod authoring;
pub(crate) mod bulk;
pub(crate) mod chat;
pub(crate) mod forgot_password;
pub(crate) mod help_tickets;
pub(crate) mod knowledge_base;
pub(crate) mod live;
pub(crate) mod macros;
pub(crate) mod news;
pub(crate) mod news_authoring;
pub(crate) mod password_reset;
pub(crate) mod people;
pub(crate) mod portal;
pub(crate) mod register;
pub(crate) mod report_builder;
pub(crate) mod reports;
pub(crate) mod saved_views;
pub(crate) mod setup;
pub(crate) mod sign_in;
pub(crate) mod snippets;
pub(crate) mod survey;
mod ticket_search;
pub(crate) mod tickets;
pub(crate) mod unlock;
pub(crate) mod verify_ip;

use askama::Template;
use axum::Router;
use axum::response::{Html, IntoResponse, Redirect, Response};
use ferrodesk_app::{Actor, AppError};
use ferrodesk_core::Surface;

use crate::AppState;
use crate::error::{WebError, WebResult};
use crate::session::Session;

/// Routes that live in the staff session: agent, admin and first-run setup.
pub(crate) fn staff_routes() -> Router<AppState> {
    agent::routes()
        .merge(tickets::routes())
        .merge(bulk::routes())
        .merge(live::routes())
        .merge(chat::staff_routes())
        .merge(macros::routes())
        .merge(saved_views::routes())
        .merge(ticket_search::routes())
        .merge(snippets::routes())
        .merge(reports::routes())
        .merge(report_builder::routes())
        .merge(survey::routes())
        .merge(people::routes())
        .merge(authoring::routes())
        .merge(news_authoring::routes())
        .merge(account::staff_routes())
        .merge(admin::routes())
        .merge(setup::routes())
}

/// What the layout shows around every page: who is signed in and how to log out.
pub(crate) struct Chrome {
    pub person: Option<String>,
    pub csrf_token: String,
    pub logout_action: &'static str,
    pub login_action: &'static str,
    pub account_path: &'static str,
    pub show_admin_link: bool,
    pub show_agent_link: bool,
    pub brand: crate::branding::Brand,
    /// Where the page's script sends the browser's time zone, for a
    /// signed-in person who has not chosen one.
    pub zone_path: Option<&'static str>,
}

impl Chrome {
    pub fn for_session(session: &Session) -> Chrome {
        let (person, is_admin) = match &session.actor {
            Actor::Visitor | Actor::System => (None, false),
            Actor::User(person) => (Some(person.name.clone()), false),
            Actor::Agent(person) => (Some(person.name.clone()), person.is_admin),
        };
        let staff = session.surface == Surface::Staff;
        Chrome {
            person,
            csrf_token: session.csrf_token.clone(),
            logout_action: if staff { "/agent/logout" } else { "/logout" },
            login_action: if staff { "/agent/login" } else { "/login" },
            account_path: if staff { "/agent/account" } else { "/account" },
            show_admin_link: staff && is_admin,
            show_agent_link: staff,
            brand: session.brand.clone(),
            zone_path: session.zone_unset.then_some(if staff {
                "/agent/account/time-zone"
            } else {
                "/account/time-zone"
            }),
        }
    }

    /// The layout for a page made outside any session (an error page).
    pub fn without_session(brand: crate::branding::Brand) -> Chrome {
        Chrome {
            person: None,
            csrf_token: String::new(),
            logout_action: "/logout",
            login_action: "/login",
            account_path: "/account",
            show_admin_link: false,
            show_agent_link: false,
            brand,
            zone_path: None,
        }
    }
}

/// Renders a template into a response, or an error page if it cannot render.
pub(crate) fn render(template: &impl Template) -> WebResult<Response> {
    template
        .render()
        .map(|html| Html(html).into_response())
        .map_err(|error| WebError::App(AppError::Internal(format!("template: {error}"))))
}

/// Renders a form page; when it shows errors, answers 422 so that scripts
/// and tests see the refusal.
pub(crate) fn render_form(template: &impl Template, has_errors: bool) -> WebResult<Response> {
    let mut response = render(template)?;
    if has_errors {
        *response.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

/// Text made safe for a URL's path or query.
pub(crate) fn url_encoded(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).collect()
}

/// Sends a visitor to the staff login page, to come back to `path` after.
pub(crate) fn to_staff_login(path: &str) -> Response {
    Redirect::to(&format!("/agent/login?return_to={}", url_encoded(path))).into_response()
}

/// A number from the path; anything else is a page that does not exist.
pub(crate) fn path_id(text: &str) -> WebResult<i64> {
    text.parse().map_err(|_| WebError::App(AppError::NotFound))
}

/// A stored time as pages show it: in the reader's time zone
/// (`2026-11-22 10:30 CET`).
pub(crate) fn time(millis: &i64) -> String {
    crate::viewer_zone::local_time(ferrodesk_core::Timestamp(*millis))
}

/// A stored time's date (`2026-11-22`) in the reader's zone, for lists of
/// posts.
pub(crate) fn date(millis: &i64) -> String {
    crate::viewer_zone::local_date(ferrodesk_core::Timestamp(*millis))
}

/// Answers a form: on success a redirect to where the use case led; on bad
/// input the page again with the errors (422, through `render_form`); on a
/// conflict the page again with its message under `conflict_field`, as 409.
/// Anything else is the error page.
pub(crate) async fn answer_form<F, Fut>(
    outcome: Result<String, AppError>,
    conflict_field: &'static str,
    page_again: F,
) -> WebResult<Response>
where
    F: FnOnce(ferrodesk_app::FieldErrors) -> Fut,
    Fut: std::future::Future<Output = WebResult<Response>>,
{
    match outcome {
        Ok(next) => Ok(Redirect::to(&next).into_response()),
        Err(AppError::Invalid(errors)) => page_again(errors).await,
        Err(AppError::Conflict(message)) => {
            let mut errors = ferrodesk_app::FieldErrors::new();
            errors.add(conflict_field, message);
            let mut response = page_again(errors).await?;
            *response.status_mut() = axum::http::StatusCode::CONFLICT;
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}

/// A session with someone signed in, on either surface. A visitor is sent
/// to the surface's login page, to come back to the page asked for (for
/// a GET) or to their account (after a form).
pub(crate) struct SignedInSession(pub Session);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for SignedInSession {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<SignedInSession, Response> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if session.actor.signed_in().is_some() {
            return Ok(SignedInSession(session));
        }
        let back = if parts.method == axum::http::Method::GET {
            parts.uri.path()
        } else {
            match session.surface {
                Surface::Staff => "/agent/account",
                Surface::Portal => "/account",
            }
        };
        Err(match session.surface {
            Surface::Staff => to_staff_login(back),
            Surface::Portal => to_portal_login(back),
        })
    }
}

/// Sends a visitor to the help-center login, to come back to `path`.
pub(crate) fn to_portal_login(path: &str) -> Response {
    Redirect::to(&format!("/login?return_to={}", url_encoded(path))).into_response()
}

/// An agent's session. Visitors are sent to the staff login (back to the
/// page for a GET, to the ticket list after a form); help-center users get
/// 403. Handlers that take it never see anyone else.
pub(crate) struct AgentSession(pub Session);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for AgentSession {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<AgentSession, Response> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match &session.actor {
            Actor::Agent(_) => Ok(AgentSession(session)),
            Actor::Visitor => {
                let back = if parts.method == axum::http::Method::GET {
                    parts.uri.path()
                } else {
                    "/agent/tickets"
                };
                Err(to_staff_login(back))
            }
            Actor::User(_) | Actor::System => {
                Err(WebError::App(AppError::Forbidden).into_response())
            }
        }
    }
}

const MAX_USER_AGENT_LENGTH: usize = 512;

/// The browser's User-Agent, clipped, for the session list and login log.
pub(crate) fn user_agent(headers: &axum::http::HeaderMap) -> &str {
    let agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    match agent.char_indices().nth(MAX_USER_AGENT_LENGTH) {
        Some((cut, _)) => &agent[..cut],
        None => agent,
    }
}
