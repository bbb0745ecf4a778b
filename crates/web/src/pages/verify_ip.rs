//! The page an IP verification mail links to (C7). Opening the link only
//! shows what it would do; the button confirms. Mail scanners that fetch
//! every link therefore cannot spend it or trust an address by themselves.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use ferrodesk_app::AppError;

use crate::AppState;
use crate::error::{WebError, WebResult};
use crate::pages::Chrome;
use crate::pages::render;
use crate::session::Session;

#[derive(Template)]
#[template(path = "account/verify_ip.html")]
struct VerifyIpPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    action: String,
    name: &'a str,
    ip: &'a str,
    trust_days: u32,
}

fn checked_token(token: &str) -> WebResult<&str> {
    if token.len() == 64 && token.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        Ok(token)
    } else {
        Err(WebError::App(AppError::NotFound))
    }
}

pub(crate) async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> WebResult<Response> {
    let token = checked_token(&token)?;
    let verification = state.app.ip_verification(token).await?;
    let trust_days = state.app.settings().await?.ip_allow_list.trust_days;
    render(&VerifyIpPage {
        chrome: Chrome::for_session(&session),
        csrf_token: &session.csrf_token,
        action: format!("/agent/verify-ip/{token}"),
        name: &verification.name,
        ip: &verification.ip,
        trust_days,
    })
}

pub(crate) async fn confirm(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
) -> WebResult<Response> {
    let token = checked_token(&token)?;
    state
        .app
        .confirm_ip_verification(token, &session.ip)
        .await?;
    Ok(Redirect::to("/agent/login?notice=ip-trusted").into_response())
}
