//! The session of each browser surface, and the CSRF check in front of every
//! unsafe request on it.
//!
//! The cookie holds `s.<token>` for a signed-in session (looked up by hash in
//! the database) or `v.<token>` for a visitor: a random pre-login token that
//! is never stored and only keys the visitor's CSRF token, so an anonymous page
//! view costs no database write.

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferrodesk_app::{Actor, Caller};
use ferrodesk_core::{Secret, Surface};

use crate::client_ip::ClientIp;
use crate::error::WebError;
use crate::forms::{is_urlencoded, parse_pairs};
use crate::{AppState, FORM_BODY_LIMIT};

/// The session a request runs in, put into the request by the middleware.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub surface: Surface,
    pub token: Secret,
    pub actor: Actor,
    pub csrf_token: String,
    /// The client's address, for the audit log.
    pub ip: String,
    /// The cookie holds a login waiting for its second factor; `token` is
    /// that challenge's token.
    pub pending_challenge: bool,
    /// A visitor who brought no token: the token was made for this request,
    /// so nothing can have been recorded under it yet.
    pub new_visitor: bool,
    /// The branding the page is made with.
    pub brand: crate::branding::Brand,
    /// Whether a signed-in person has not chosen a time zone yet (their
    /// browser's is then offered).
    pub zone_unset: bool,
}

impl Session {
    /// The actor and address that use cases audit.
    pub fn caller(&self) -> Caller<'_> {
        Caller::new(&self.actor, &self.ip)
    }
}

/// Header our pages' own background requests carry; with "require activity"
/// on, they do not keep a session alive.
pub(crate) const BACKGROUND_HEADER: &str = "x-ferrodesk-background";

/// Whether a request is one of the pages' own background requests: it
/// carries `BACKGROUND_HEADER`, or it is the live-update stream (which
/// cannot carry headers, and reconnects on its own).
fn is_background(request: &Request) -> bool {
    request.headers().contains_key(BACKGROUND_HEADER) || request.uri().path() == "/agent/events"
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Session, WebError> {
        parts.extensions.get::<Session>().cloned().ok_or_else(|| {
            WebError::App(ferrodesk_app::AppError::Internal(
                "route has no session layer".into(),
            ))
        })
    }
}

fn cookie_name(surface: Surface, https: bool) -> &'static str {
    match (surface, https) {
        (Surface::Portal, true) => "__Host-ferrodesk",
        (Surface::Portal, false) => "ferrodesk",
        (Surface::Staff, true) => "__Host-ferrodesk-staff",
        (Surface::Staff, false) => "ferrodesk-staff",
    }
}

enum CookieToken {
    Session(String),
    Visitor(String),
    /// A login whose password was right, waiting for its code.
    Challenge(String),
}

impl CookieToken {
    fn token(&self) -> &str {
        match self {
            CookieToken::Session(token)
            | CookieToken::Visitor(token)
            | CookieToken::Challenge(token) => token,
        }
    }
}

fn read_cookie(headers: &HeaderMap, name: &str) -> Option<CookieToken> {
    let is_token =
        |text: &str| text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit());
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(cookie, _)| *cookie == name)
        .find_map(|(_, value)| match value.split_once('.') {
            Some(("s", token)) if is_token(token) => Some(CookieToken::Session(token.to_owned())),
            Some(("v", token)) if is_token(token) => Some(CookieToken::Visitor(token.to_owned())),
            Some(("c", token)) if is_token(token) => Some(CookieToken::Challenge(token.to_owned())),
            _ => None,
        })
}

fn cookie_header(
    name: &str,
    value: &str,
    https: bool,
    max_age: Option<std::time::Duration>,
) -> Option<HeaderValue> {
    let secure = if https { "; Secure" } else { "" };
    let expiry = match max_age {
        Some(age) => format!("; Max-Age={}", age.as_secs()),
        None => String::new(),
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}{expiry}"
    ))
    .ok()
}

/// The `Set-Cookie` value that starts a signed-in session; a remembered
/// session's cookie outlives the browser for `keep_for`.
pub(crate) fn signed_in_cookie(
    surface: Surface,
    token: &Secret,
    https: bool,
    keep_for: Option<std::time::Duration>,
) -> Option<HeaderValue> {
    cookie_header(
        cookie_name(surface, https),
        &format!("s.{}", token.expose()),
        https,
        keep_for,
    )
}

/// The `Set-Cookie` value that removes the session cookie.
/// The cookie that carries a login to its second step; it outlives the
/// challenge by nothing.
pub(crate) fn challenge_cookie(
    surface: Surface,
    challenge: &Secret,
    https: bool,
) -> Option<HeaderValue> {
    cookie_header(
        cookie_name(surface, https),
        &format!("c.{}", challenge.expose()),
        https,
        Some(ferrodesk_app::LOGIN_CHALLENGE_LIFETIME),
    )
}

pub(crate) fn cleared_cookie(surface: Surface, https: bool) -> Option<HeaderValue> {
    cookie_header(
        cookie_name(surface, https),
        "",
        https,
        Some(std::time::Duration::ZERO),
    )
}

pub(crate) async fn portal_session(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    with_session(Surface::Portal, state, request, next).await
}

pub(crate) async fn staff_session(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    with_session(Surface::Staff, state, request, next).await
}

async fn with_session(surface: Surface, state: AppState, request: Request, next: Next) -> Response {
    let https = state.config.is_https();
    let name = cookie_name(surface, https);
    let presented = read_cookie(request.headers(), name);

    let request = if is_unsafe(request.method()) {
        match check_csrf(&state, surface, presented.as_ref(), request).await {
            Ok(request) => request,
            Err(error) => return error.into_response(),
        }
    } else {
        request
    };

    let resumed = match &presented {
        Some(CookieToken::Session(token)) => match state
            .app
            .resume_session(surface, token, is_background(&request))
            .await
        {
            Ok(Actor::Visitor) => None,
            Ok(actor) => Some((Secret::new(token.clone()), actor)),
            Err(error) => return WebError::from(error).into_response(),
        },
        Some(CookieToken::Visitor(token) | CookieToken::Challenge(token)) => {
            Some((Secret::new(token.clone()), Actor::Visitor))
        }
        None => None,
    };
    let (token, actor, is_new_visitor) = match resumed {
        Some((token, actor)) => (token, actor, false),
        None => match state.app.new_visitor_token() {
            Ok(token) => (token, Actor::Visitor, true),
            Err(error) => return WebError::from(error).into_response(),
        },
    };

    if let Some(redirect) = first_things_first(surface, &actor, &request) {
        return redirect;
    }
    let brand = match state.app.settings().await {
        Ok(settings) => crate::branding::Brand::of(&settings),
        Err(error) => return WebError::from(error).into_response(),
    };
    let pending_challenge = matches!(presented, Some(CookieToken::Challenge(_)));
    let csrf_token = state.app.csrf_token(surface, token.expose());
    let visitor_cookie = format!("v.{}", token.expose());
    let ip = request
        .extensions()
        .get::<ClientIp>()
        .map(|client| client.0.to_string())
        .unwrap_or_default();
    let (zone, zone_chosen) = match state.app.zone_of(&actor).await {
        Ok(found) => found,
        Err(error) => return WebError::from(error).into_response(),
    };
    let zone_unset = !zone_chosen && !matches!(actor, Actor::Visitor | Actor::System);
    let mut request = request;
    request.extensions_mut().insert(Session {
        zone_unset,
        surface,
        token,
        actor,
        csrf_token,
        ip,
        pending_challenge,
        new_visitor: is_new_visitor,
        brand,
    });
    let mut response = crate::viewer_zone::within(zone, next.run(request)).await;

    let handler_set_cookie = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|value| value.as_bytes().starts_with(format!("{name}=").as_bytes()));
    if is_new_visitor
        && !handler_set_cookie
        && let Some(value) = cookie_header(name, &visitor_cookie, https, None)
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Where a person whose password must change is sent, per surface.
pub(crate) fn password_change_path(surface: Surface) -> &'static str {
    match surface {
        Surface::Staff => "/agent/account/password",
        Surface::Portal => "/account/password",
    }
}

/// Someone whose password expired (or an admin asked for a new one) may
/// only choose a new password or log out; every other page sends them to
/// the form, and other requests are refused the same way.
pub(crate) fn two_factor_setup_path(surface: Surface) -> &'static str {
    match surface {
        Surface::Staff => "/agent/account/two-factor",
        Surface::Portal => "/account/two-factor",
    }
}

/// Sends someone who must first choose a new password, or first set up
/// two-factor login, to that page from everywhere but it and logout.
fn first_things_first(surface: Surface, actor: &Actor, request: &Request) -> Option<Response> {
    let person = actor.signed_in()?;
    let required_page = if person.must_change_password {
        password_change_path(surface)
    } else if person.must_set_up_two_factor {
        two_factor_setup_path(surface)
    } else {
        return None;
    };
    let path = request.uri().path();
    let logout = match surface {
        Surface::Staff => "/agent/logout",
        Surface::Portal => "/logout",
    };
    let on_required_page = path == required_page || path.starts_with(&format!("{required_page}/"));
    if on_required_page || path == logout {
        return None;
    }
    Some(axum::response::Redirect::to(required_page).into_response())
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Refuses an unsafe request unless it comes from our own pages: not
/// cross-site by `Sec-Fetch-Site` or `Origin`, and carrying the session's
/// synchronizer token in `X-CSRF-Token` or the `csrf_token` form field.
async fn check_csrf(
    state: &AppState,
    surface: Surface,
    presented: Option<&CookieToken>,
    request: Request,
) -> Result<Request, WebError> {
    if comes_from_another_site(request.headers(), &state.config.public_url) {
        return Err(WebError::CsrfRejected);
    }
    let Some(session_token) = presented.map(CookieToken::token) else {
        return Err(WebError::CsrfRejected);
    };
    if let Some(header_token) = request
        .headers()
        .get("x-csrf-token")
        .and_then(|value| value.to_str().ok())
    {
        return if state
            .app
            .csrf_token_matches(surface, session_token, header_token)
        {
            Ok(request)
        } else {
            Err(WebError::CsrfRejected)
        };
    }
    if crate::body_limit::is_multipart(request.headers()) {
        // Files are only ever sent by signed-in people.
        if !matches!(presented, Some(CookieToken::Session(_))) {
            return Err(WebError::CsrfRejected);
        }
        return check_multipart_csrf(state, surface, session_token, request).await;
    }
    if !is_urlencoded(request.headers()) {
        return Err(WebError::CsrfRejected);
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, FORM_BODY_LIMIT)
        .await
        .map_err(|_| {
            WebError::BadRequest("The form could not be read (it may be too large).".into())
        })?;
    let pairs = parse_pairs(&bytes)?;
    let form_token = pairs
        .iter()
        .find(|(field, _)| field == "csrf_token")
        .map(|(_, value)| value.as_str());
    match form_token {
        Some(token) if state.app.csrf_token_matches(surface, session_token, token) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        _ => Err(WebError::CsrfRejected),
    }
}

/// How much of a multipart body is read to find the token: our forms send
/// it first, so it ends within a few hundred bytes.
const MULTIPART_TOKEN_WINDOW: usize = 8 * 1024;

/// Checks the `csrf_token` that must be the first part of a multipart form,
/// reading only the start of the body; the body is then passed on whole,
/// still streaming, so files are never buffered here.
async fn check_multipart_csrf(
    state: &AppState,
    surface: Surface,
    session_token: &str,
    request: Request,
) -> Result<Request, WebError> {
    use futures_util::StreamExt;

    let boundary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| multer::parse_boundary(value).ok())
        .ok_or(WebError::CsrfRejected)?;
    let (parts, body) = request.into_parts();
    let mut stream = body.into_data_stream();
    let mut start: Vec<axum::body::Bytes> = Vec::new();
    let mut read = 0;
    while read < MULTIPART_TOKEN_WINDOW {
        match stream.next().await {
            Some(Ok(chunk)) => {
                read += chunk.len();
                start.push(chunk);
            }
            Some(Err(_)) => {
                return Err(WebError::BadRequest(
                    "The form could not be read (it may be too large).".into(),
                ));
            }
            None => break,
        }
    }
    let copy = start.clone();
    let mut first_part = multer::Multipart::new(
        futures_util::stream::iter(copy.into_iter().map(Ok::<_, std::io::Error>)),
        boundary,
    );
    let token = match first_part.next_field().await {
        Ok(Some(field)) if field.name() == Some("csrf_token") => field.text().await.ok(),
        _ => None,
    };
    match token {
        Some(token) if state.app.csrf_token_matches(surface, session_token, &token) => {
            let whole = futures_util::stream::iter(start.into_iter().map(Ok)).chain(stream);
            Ok(Request::from_parts(parts, Body::from_stream(whole)))
        }
        _ => Err(WebError::CsrfRejected),
    }
}

/// True when the browser tells us the request was made by another site.
/// Requests without either header (non-browser clients) still need the token.
pub(crate) fn comes_from_another_site(headers: &HeaderMap, public_url: &str) -> bool {
    if let Some(site) = headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok())
    {
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    if origin.eq_ignore_ascii_case(public_url) {
        return false;
    }
    // The origin the browser used, when it differs from the configured
    // public URL (say localhost instead of 127.0.0.1), is the Host it sent.
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok());
    let origin_authority = origin.split_once("://").map(|(_, authority)| authority);
    !matches!((origin_authority, host), (Some(authority), Some(host)) if authority.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn cross_site_requests_are_recognised() {
        let public = "https://help.example.com";
        assert!(!comes_from_another_site(&headers(&[]), public));
        assert!(!comes_from_another_site(
            &headers(&[("sec-fetch-site", "same-origin")]),
            public
        ));
        assert!(comes_from_another_site(
            &headers(&[("sec-fetch-site", "cross-site")]),
            public
        ));
        assert!(comes_from_another_site(
            &headers(&[("sec-fetch-site", "same-site")]),
            public
        ));
        assert!(!comes_from_another_site(
            &headers(&[("origin", "https://help.example.com")]),
            public
        ));
        assert!(comes_from_another_site(
            &headers(&[("origin", "https://evil.example")]),
            public
        ));
        assert!(comes_from_another_site(
            &headers(&[("origin", "null")]),
            public
        ));
        assert!(!comes_from_another_site(
            &headers(&[
                ("origin", "http://localhost:8080"),
                ("host", "localhost:8080")
            ]),
            public
        ));
        assert!(comes_from_another_site(
            &headers(&[
                ("origin", "http://evil.example"),
                ("host", "localhost:8080")
            ]),
            public
        ));
    }

    #[test]
    fn only_well_formed_cookie_values_are_read() {
        let token = "a".repeat(64);
        let cookie = HeaderValue::from_str(&format!("other=1; ferrodesk-staff=s.{token}")).unwrap();
        let mut map = HeaderMap::new();
        map.insert(header::COOKIE, cookie);
        assert!(
            matches!(read_cookie(&map, "ferrodesk-staff"), Some(CookieToken::Session(t)) if t == token)
        );
        assert!(read_cookie(&map, "ferrodesk").is_none());
        let mut bad = HeaderMap::new();
        bad.insert(
            header::COOKIE,
            HeaderValue::from_static("ferrodesk-staff=s.not-hex"),
        );
        assert!(read_cookie(&bad, "ferrodesk-staff").is_none());
    }
}
