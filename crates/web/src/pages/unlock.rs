//! The page an unlock link leads to: the mail sent when too many failed
//! sign-ins paused signing in to an account from one address. Opening the
//! link only shows what it would do; the button lifts the pause, so mail
//! scanners that fetch every link change nothing.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use ferrodesk_app::AppError;
use ferrodesk_core::Surface;

use crate::AppState;
use crate::error::{WebError, WebResult};
use crate::pages::{Chrome, render};
use crate::session::Session;

/// Sealed tokens are hex, and short.
fn checked_token(token: &str) -> WebResult<&str> {
    if !token.is_empty()
        && token.len() <= 1_000
        && token.bytes().all(|byte| byte.is_ascii_hexdigit())
    {
        Ok(token)
    } else {
        Err(WebError::App(AppError::NotFound))
    }
}

#[derive(Template)]
#[template(path = "account/unlock.html")]
struct UnlockPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    action: String,
    name: String,
    source: String,
    staff: bool,
}

pub(crate) async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> WebResult<Response> {
    let token = checked_token(&token)?;
    let link = state.app.unlock_link(token).await?;
    let staff = link.surface == Surface::Staff;
    render(&UnlockPage {
        chrome: Chrome::for_session(&session),
        csrf_token: &session.csrf_token,
        action: format!(
            "{}/{token}",
            if staff { "/agent/unlock" } else { "/unlock" }
        ),
        name: link.name,
        source: link.source,
        staff,
    })
}

pub(crate) async fn confirm(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> WebResult<Response> {
    let token = checked_token(&token)?;
    let surface = state.app.unlock_by_link(token, &session.ip).await?;
    let login = match surface {
        Surface::Staff => "/agent/login",
        Surface::Portal => "/login",
    };
    Ok(Redirect::to(&format!("{login}?notice=unlocked")).into_response())
}
