//! The login form and its handling, shared by the help center and the staff
//! interface. Every failure renders the same page with the same message, so
//! a response never tells whether an email is registered.

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use ferrodesk_app::{Actor, AppError, ChallengeAnswer, LoginAttempt, LoginOutcome, OpenedSession};
use ferrodesk_core::{ReturnPath, Secret, Surface};
use serde::Deserialize;

use crate::AppState;
use crate::client_ip::ClientIp;
use crate::error::{WebError, WebResult};
use crate::forms::HtmlForm;
use crate::pages::Chrome;
use crate::pages::{render, user_agent};
use crate::session::{Session, challenge_cookie, cleared_cookie, signed_in_cookie};
use crate::text::t;

#[derive(Template)]
#[template(path = "account/login.html")]
struct LoginPage<'a> {
    chrome: Chrome,
    heading: String,
    area: &'a str,
    home: &'a str,
    action: &'a str,
    forgot_password: &'a str,
    csrf_token: &'a str,
    return_to: Option<&'a str>,
    error: Option<&'a str>,
    notice: Option<&'a str>,
    offer_remember_me: bool,
    /// The help center's login offers registration while it is open.
    offer_registration: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginQuery {
    return_to: Option<String>,
    notice: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    email: String,
    password: Secret,
    return_to: Option<String>,
    /// A checkbox: present when ticked.
    remember_me: Option<String>,
}

struct SurfacePaths {
    area: &'static str,
    home: &'static str,
    action: &'static str,
    forgot_password: &'static str,
    second_factor: &'static str,
    default_return: &'static str,
    allowed_returns: &'static [&'static str],
}

fn paths(surface: Surface) -> SurfacePaths {
    match surface {
        Surface::Staff => SurfacePaths {
            area: "staff",
            home: "/agent",
            action: "/agent/login",
            forgot_password: "/agent/forgot-password",
            second_factor: "/agent/login/two-factor",
            default_return: "/agent",
            allowed_returns: &["/agent", "/admin"],
        },
        Surface::Portal => SurfacePaths {
            area: "portal",
            home: "/",
            action: "/login",
            forgot_password: "/forgot-password",
            second_factor: "/login/two-factor",
            default_return: "/",
            allowed_returns: &["/"],
        },
    }
}

fn safe_return(surface: Surface, requested: Option<&str>) -> Option<ReturnPath> {
    let requested = requested?;
    paths(surface).allowed_returns.iter().find_map(|prefix| {
        ReturnPath::parse_under(requested, prefix.trim_end_matches('/')).or_else(|| {
            (*prefix == "/")
                .then(|| ReturnPath::parse(requested))
                .flatten()
        })
    })
}

/// Notices that a redirect may ask the login page to show; anything else in
/// the query is ignored, so the page cannot be made to show arbitrary text.
fn notice_text(code: Option<&str>) -> Option<String> {
    let text = match code? {
        "logged-out" => t("sign-in-notice-logged-out"),
        "password-set" => t("sign-in-notice-password-set"),
        "setup-done" => t("sign-in-notice-setup-done"),
        "expired" => t("sign-in-notice-expired"),
        "fresh-login" => t("sign-in-notice-fresh-login"),
        "password-changed" => t("sign-in-notice-password-changed"),
        "code-expired" => t("sign-in-notice-code-expired"),
        "ip-trusted" => t("sign-in-notice-ip-trusted"),
        "unlocked" => t("sign-in-notice-unlocked"),
        "confirmation-sent" => t("sign-in-notice-confirmation-sent"),
        _ => return None,
    };
    Some(text)
}

async fn login_page(
    state: &AppState,
    surface: Surface,
    session: &Session,
    return_to: Option<&ReturnPath>,
    error: Option<&str>,
    notice: Option<&str>,
) -> WebResult<Response> {
    let paths = paths(surface);
    let heading = match surface {
        Surface::Staff => t("sign-in-staff-heading"),
        Surface::Portal => t("common-log-in"),
    };
    let settings = state.app.settings().await?;
    let offer_remember_me = match surface {
        Surface::Staff => settings.staff_sessions.remember_me_allowed,
        Surface::Portal => settings.portal_sessions.remember_me_allowed,
    };
    render(&LoginPage {
        chrome: Chrome::for_session(session),
        heading,
        area: paths.area,
        home: paths.home,
        action: paths.action,
        forgot_password: paths.forgot_password,
        csrf_token: &session.csrf_token,
        return_to: return_to.map(ReturnPath::as_str),
        error,
        notice,
        offer_remember_me,
        offer_registration: surface == Surface::Portal
            && settings.help_center.registration != ferrodesk_app::RegistrationMode::Closed,
    })
}

/// The login form. Someone already signed in on this surface has nothing to
/// do here and goes on to where the form would have taken them.
pub(crate) async fn show(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<LoginQuery>,
) -> WebResult<Response> {
    let surface = session.surface;
    let return_to = safe_return(surface, query.return_to.as_deref());
    if !matches!(session.actor, Actor::Visitor) {
        let target = return_to
            .as_ref()
            .map_or(paths(surface).default_return, ReturnPath::as_str);
        return Ok(Redirect::to(target).into_response());
    }
    login_page(
        &state,
        surface,
        &session,
        return_to.as_ref(),
        None,
        notice_text(query.notice.as_deref()).as_deref(),
    )
    .await
}

pub(crate) async fn submit(
    State(state): State<AppState>,
    session: Session,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    HtmlForm(form): HtmlForm<LoginForm>,
) -> WebResult<Response> {
    let surface = session.surface;
    let attempt = LoginAttempt {
        surface,
        email: &form.email,
        password: &form.password,
        ip: &ip.to_string(),
        user_agent: user_agent(&headers),
        remember_me: form.remember_me.is_some(),
    };
    let return_to = safe_return(surface, form.return_to.as_deref());
    match state.app.log_in(&attempt).await {
        Ok(LoginOutcome::Opened(opened)) => {
            signed_in(&state, &session, return_to.as_ref(), &opened).await
        }
        Ok(LoginOutcome::SecondFactorNeeded { challenge }) => {
            let mut target = paths(surface).second_factor.to_owned();
            if let Some(return_to) = &return_to {
                target.push_str("?return_to=");
                target.extend(percent_encoding::utf8_percent_encode(
                    return_to.as_str(),
                    percent_encoding::NON_ALPHANUMERIC,
                ));
            }
            let mut response = Redirect::to(&target).into_response();
            let cookie = challenge_cookie(surface, &challenge, state.config.is_https())
                .ok_or_else(|| {
                    WebError::App(AppError::Internal(
                        "challenge cookie is not a header value".into(),
                    ))
                })?;
            response.headers_mut().append(header::SET_COOKIE, cookie);
            Ok(response)
        }
        Err(AppError::AddressUnconfirmed) => {
            confirm_first(&session, &form.email, StatusCode::FORBIDDEN)
        }
        Err(
            refused @ (AppError::InvalidCredentials
            | AppError::LoginLocked { .. }
            | AppError::TooManyRequests
            | AppError::IpNotTrusted),
        ) => refused_login(&state, &session, return_to.as_ref(), &refused).await,
        Err(other) => Err(other.into()),
    }
}

#[derive(Template)]
#[template(path = "account/confirm_first.html")]
struct ConfirmFirstPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    email: String,
}

/// The right password to an account whose address is not confirmed yet:
/// says so, with a button that mails the link again.
fn confirm_first(session: &Session, email: &str, status: StatusCode) -> WebResult<Response> {
    let mut response = render(&ConfirmFirstPage {
        chrome: Chrome::for_session(session),
        csrf_token: &session.csrf_token,
        email: email.trim().to_owned(),
    })?;
    *response.status_mut() = status;
    Ok(response)
}

/// The address a "send the link again" button sends.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ResendForm {
    #[serde(default)]
    email: String,
}

/// Mails a new confirmation link when an account at the address waits for
/// one; the answer is the same either way.
pub(crate) async fn resend_confirmation(
    State(state): State<AppState>,
    session: Session,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    HtmlForm(form): HtmlForm<ResendForm>,
) -> WebResult<Response> {
    let ip = ip.to_string();
    let caller = ferrodesk_app::Caller::new(&session.actor, &ip);
    state.app.resend_confirmation(&caller, &form.email).await?;
    Ok(Redirect::to("/login?notice=confirmation-sent").into_response())
}

/// The login form again, with why the login was refused.
async fn refused_login(
    state: &AppState,
    session: &Session,
    return_to: Option<&ReturnPath>,
    refused: &AppError,
) -> WebResult<Response> {
    let (status, message) = refusal_message(refused);
    let mut response = login_page(
        state,
        session.surface,
        session,
        return_to,
        Some(&message),
        None,
    )
    .await?;
    *response.status_mut() = status;
    if let AppError::LoginLocked {
        retry_after_seconds,
    } = refused
    {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            axum::http::HeaderValue::from(*retry_after_seconds),
        );
    }
    Ok(response)
}

fn refusal_message(refused: &AppError) -> (StatusCode, String) {
    match refused {
        AppError::LoginLocked { .. } => (StatusCode::TOO_MANY_REQUESTS, t("sign-in-locked")),
        AppError::TooManyRequests => (
            StatusCode::TOO_MANY_REQUESTS,
            t("sign-in-too-many-attempts"),
        ),
        AppError::IpNotTrusted => (StatusCode::FORBIDDEN, t("sign-in-ip-not-trusted")),
        _ => (StatusCode::UNAUTHORIZED, t("sign-in-invalid-credentials")),
    }
}

/// Sets the session cookie and goes on to where the login was headed.
async fn signed_in(
    state: &AppState,
    session: &Session,
    return_to: Option<&ReturnPath>,
    opened: &OpenedSession,
) -> WebResult<Response> {
    let surface = session.surface;
    // Whoever was signed in on this browser before is signed out now.
    if !matches!(session.actor, Actor::Visitor) {
        state.app.log_out(session.token.expose()).await?;
    }
    let target = return_to.map_or(paths(surface).default_return, ReturnPath::as_str);
    let mut response = Redirect::to(target).into_response();
    let cookie = signed_in_cookie(
        surface,
        &opened.token,
        state.config.is_https(),
        opened.keep_cookie_for,
    )
    .ok_or_else(|| {
        WebError::App(AppError::Internal(
            "session cookie is not a header value".into(),
        ))
    })?;
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

#[derive(Template)]
#[template(path = "account/login_two_factor.html")]
struct SecondFactorPage<'a> {
    chrome: Chrome,
    area: &'a str,
    home: &'a str,
    action: &'a str,
    login: &'a str,
    csrf_token: &'a str,
    return_to: Option<&'a str>,
    error: Option<&'a str>,
}

fn second_factor_page(
    session: &Session,
    return_to: Option<&ReturnPath>,
    error: Option<&str>,
) -> WebResult<Response> {
    let paths = paths(session.surface);
    render(&SecondFactorPage {
        chrome: Chrome::for_session(session),
        area: paths.area,
        home: paths.home,
        action: paths.second_factor,
        login: paths.action,
        csrf_token: &session.csrf_token,
        return_to: return_to.map(ReturnPath::as_str),
        error,
    })
}

fn back_to_login(surface: Surface) -> Response {
    Redirect::to(&format!("{}?notice=code-expired", paths(surface).action)).into_response()
}

/// The code form of a login whose password was right.
pub(crate) async fn show_second_factor(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<LoginQuery>,
) -> WebResult<Response> {
    let surface = session.surface;
    let open = session.pending_challenge
        && state
            .app
            .login_challenge_is_open(surface, session.token.expose())
            .await?;
    if !open {
        return Ok(back_to_login(surface));
    }
    let return_to = safe_return(surface, query.return_to.as_deref());
    second_factor_page(&session, return_to.as_ref(), None)
}

#[derive(Debug, Deserialize)]
pub(crate) struct SecondFactorForm {
    code: Secret,
    return_to: Option<String>,
}

pub(crate) async fn submit_second_factor(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    HtmlForm(form): HtmlForm<SecondFactorForm>,
) -> WebResult<Response> {
    let surface = session.surface;
    if !session.pending_challenge {
        return Ok(back_to_login(surface));
    }
    let return_to = safe_return(surface, form.return_to.as_deref());
    let answer = ChallengeAnswer {
        surface,
        challenge: session.token.expose(),
        code: form.code.expose(),
        ip: &session.ip,
        user_agent: user_agent(&headers),
    };
    match state.app.answer_login_challenge(&answer).await {
        Ok(opened) => signed_in(&state, &session, return_to.as_ref(), &opened).await,
        Err(AppError::Invalid(errors)) => {
            let message = errors
                .for_field("code")
                .first()
                .map_or_else(|| t("sign-in-wrong-code"), |message| (*message).to_owned());
            let mut response = second_factor_page(&session, return_to.as_ref(), Some(&message))?;
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            Ok(response)
        }
        Err(AppError::LoginChallengeExpired) => Ok(back_to_login(surface)),
        Err(refused @ AppError::LoginLocked { .. }) => {
            refused_login(&state, &session, return_to.as_ref(), &refused).await
        }
        Err(other) => Err(other.into()),
    }
}

/// Ends the session on the server and removes the cookie.
pub(crate) async fn log_out(
    State(state): State<AppState>,
    session: Session,
) -> WebResult<Response> {
    let surface = session.surface;
    state.app.log_out(session.token.expose()).await?;
    let mut response =
        Redirect::to(&format!("{}?notice=logged-out", paths(surface).action)).into_response();
    if let Some(cookie) = cleared_cookie(surface, state.config.is_https()) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_logins_return_only_into_the_staff_interface() {
        assert_eq!(
            safe_return(Surface::Staff, Some("/admin"))
                .unwrap()
                .as_str(),
            "/admin"
        );
        assert_eq!(
            safe_return(Surface::Staff, Some("/agent/tickets/4"))
                .unwrap()
                .as_str(),
            "/agent/tickets/4"
        );
        assert!(safe_return(Surface::Staff, Some("/")).is_none());
        assert!(safe_return(Surface::Staff, Some("//evil.example/agent")).is_none());
        assert!(safe_return(Surface::Staff, Some("https://evil.example/agent")).is_none());
        assert_eq!(
            safe_return(Surface::Portal, Some("/kb")).unwrap().as_str(),
            "/kb"
        );
        assert!(safe_return(Surface::Portal, Some("//evil.example")).is_none());
    }
}
