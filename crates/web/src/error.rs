//! One error type for handlers, and one place that turns every error response
//! (ours, axum's, or a middleware's) into a page with a short message and the
//! request id. Internal details go to the error log, never to the person.

use std::any::Any;
use std::borrow::Cow;

use askama::Template;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use ferrodesk_app::{AppError, ServerError};

use crate::AppState;
use crate::request_log::RequestId;
use crate::text::t;

#[derive(Debug)]
pub(crate) enum WebError {
    App(AppError),
    /// The request itself is malformed (bad form encoding, bad parameter).
    BadRequest(Cow<'static, str>),
    /// A cross-site or token-less unsafe request.
    CsrfRejected,
}

impl From<AppError> for WebError {
    fn from(error: AppError) -> WebError {
        WebError::App(error)
    }
}

pub(crate) type WebResult<T> = Result<T, WebError>;

/// Carried in a response's extensions from where an error happened to the
/// middleware that renders the page.
#[derive(Debug, Clone)]
pub(crate) struct ErrorPage {
    message: Cow<'static, str>,
    /// What went wrong inside, for the error log; `None` for client errors.
    internal: Option<String>,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, message, internal): (StatusCode, Cow<'static, str>, Option<String>) =
            match self {
                WebError::BadRequest(message) => (StatusCode::BAD_REQUEST, message, None),
                WebError::CsrfRejected => (StatusCode::FORBIDDEN, t("error-csrf").into(), None),
                WebError::App(error) => match error {
                    AppError::Invalid(errors) => {
                        let first = errors.iter().next().map(|(_, message)| message.to_owned());
                        (
                            StatusCode::BAD_REQUEST,
                            first.unwrap_or_else(|| t("error-invalid-input")).into(),
                            None,
                        )
                    }
                    AppError::InvalidCredentials => (
                        StatusCode::UNAUTHORIZED,
                        t("sign-in-invalid-credentials").into(),
                        None,
                    ),
                    AppError::Unauthenticated => (
                        StatusCode::UNAUTHORIZED,
                        t("error-sign-in-first").into(),
                        None,
                    ),
                    AppError::Forbidden => {
                        (StatusCode::FORBIDDEN, t("error-not-permitted").into(), None)
                    }
                    AppError::NotFound => (
                        StatusCode::NOT_FOUND,
                        default_message(StatusCode::NOT_FOUND).into(),
                        None,
                    ),
                    AppError::Conflict(message) => (StatusCode::CONFLICT, message.into(), None),
                    AppError::TooManyRequests => (
                        StatusCode::TOO_MANY_REQUESTS,
                        default_message(StatusCode::TOO_MANY_REQUESTS).into(),
                        None,
                    ),
                    AppError::LoginLocked { .. } => (
                        StatusCode::TOO_MANY_REQUESTS,
                        t("sign-in-locked").into(),
                        None,
                    ),
                    AppError::IpNotTrusted => (
                        StatusCode::FORBIDDEN,
                        t("error-ip-not-confirmed").into(),
                        None,
                    ),
                    AppError::AddressUnconfirmed => (
                        StatusCode::FORBIDDEN,
                        t("sign-in-address-unconfirmed").into(),
                        None,
                    ),
                    AppError::LoginChallengeExpired => (
                        StatusCode::UNAUTHORIZED,
                        t("error-login-expired").into(),
                        None,
                    ),
                    AppError::Internal(detail) => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        default_message(StatusCode::INTERNAL_SERVER_ERROR).into(),
                        Some(detail),
                    ),
                },
            };
        let mut response = status.into_response();
        response
            .extensions_mut()
            .insert(ErrorPage { message, internal });
        response
    }
}

fn default_message(status: StatusCode) -> String {
    match status.as_u16() {
        400 => t("error-bad-request"),
        401 => t("error-sign-in-first"),
        403 => t("error-forbidden"),
        404 => t("error-not-found"),
        405 => t("error-method-not-allowed"),
        408 => t("error-request-timeout"),
        413 => t("error-payload-too-large"),
        415 => t("error-unsupported-media-type"),
        422 => t("error-unprocessable"),
        429 => t("error-too-many-requests"),
        503 => t("error-service-unavailable"),
        500..=599 => t("error-server"),
        _ => t("error-other"),
    }
}

/// The error page's heading: the status's standard name.
fn title(status: StatusCode) -> String {
    match status.as_u16() {
        400 => t("error-title-bad-request"),
        401 => t("error-title-unauthorized"),
        403 => t("error-title-forbidden"),
        404 => t("error-title-not-found"),
        405 => t("error-title-method-not-allowed"),
        408 => t("error-title-request-timeout"),
        409 => t("error-title-conflict"),
        413 => t("error-title-payload-too-large"),
        415 => t("error-title-unsupported-media-type"),
        422 => t("error-title-unprocessable-entity"),
        429 => t("error-title-too-many-requests"),
        500 => t("error-title-internal-server-error"),
        503 => t("error-title-service-unavailable"),
        _ => t("error-title-other"),
    }
}

/// The answer for every path outside the route table (including `/data/…`).
pub(crate) async fn not_found() -> WebError {
    WebError::App(AppError::NotFound)
}

pub(crate) fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
        .unwrap_or_else(|| "panic with a non-text payload".to_owned());
    let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    response.extensions_mut().insert(ErrorPage {
        message: default_message(StatusCode::INTERNAL_SERVER_ERROR).into(),
        internal: Some(format!("panic: {detail}")),
    });
    response
}

#[derive(Template)]
#[template(path = "layout/error.html")]
struct ErrorTemplate<'a> {
    chrome: crate::pages::Chrome,
    status: u16,
    title: &'a str,
    message: &'a str,
    request_id: &'a str,
}

/// Renders error responses as pages and records server errors. Responses that
/// already carry an HTML page or JSON (a login form showing its error, the
/// API) are left alone unless a handler asked for an error page.
/// What went wrong inside an API handler, carried to the error log.
#[derive(Debug, Clone)]
pub(crate) struct InternalDetail(pub String);

/// API errors stay JSON: a handler's own answer is kept (its internal
/// detail logged), and a bare status from a lower layer gets the API's
/// error body.
async fn api_error_answer(
    state: &AppState,
    mut response: Response,
    request_id: &str,
    method: &str,
    location: &str,
) -> Response {
    let status = response.status();
    let detail = response
        .extensions_mut()
        .remove::<InternalDetail>()
        .map(|InternalDetail(detail)| detail)
        .or_else(|| {
            response
                .extensions_mut()
                .remove::<ErrorPage>()
                .and_then(|page| page.internal)
        })
        .or_else(|| {
            status
                .is_server_error()
                .then(|| format!("{status} from a lower layer"))
        });
    if let Some(detail) = detail {
        state
            .app
            .record_server_error(&ServerError {
                request_id,
                method,
                path: location,
                status: status.as_u16(),
                message: &detail,
            })
            .await;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (parts, _) = response.into_parts();
    let mut answer = crate::api::ApiError::for_status(status).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}

pub(crate) async fn render_error_pages(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map_or_else(|| "-".to_owned(), |id| id.0.clone());
    let method = request.method().to_string();
    let location = request.extensions().get::<MatchedPath>().map_or_else(
        || request.uri().path().to_owned(),
        |path| path.as_str().to_owned(),
    );
    let is_api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    if is_api {
        return api_error_answer(&state, response, &request_id, &method, &location).await;
    }
    if status == StatusCode::FORBIDDEN {
        // Refused permissions and CSRF checks, for whoever watches the logs.
        tracing::warn!(request_id = %request_id, method = %method, route = %location, "request refused (403)");
    }
    let page = response.extensions_mut().remove::<ErrorPage>();
    let has_own_body = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value.starts_with("text/html") || value.starts_with("application/json")
        });
    if page.is_none() && has_own_body {
        return response;
    }
    let (message, internal) = match page {
        Some(page) => (page.message, page.internal),
        None if status.is_server_error() => (
            Cow::Owned(default_message(status)),
            Some(format!("{status} from a lower layer")),
        ),
        None => (Cow::Owned(default_message(status)), None),
    };
    if let Some(detail) = internal {
        state
            .app
            .record_server_error(&ServerError {
                request_id: &request_id,
                method: &method,
                path: &location,
                status: status.as_u16(),
                message: &detail,
            })
            .await;
    }
    let title = title(status);
    let brand = match state.app.settings().await {
        Ok(settings) => crate::branding::Brand::of(&settings),
        Err(_) => crate::branding::Brand {
            name: ferrodesk_app::PRODUCT_NAME.to_owned(),
            has_logo: false,
            chat_offered: false,
        },
    };
    let body = ErrorTemplate {
        chrome: crate::pages::Chrome::without_session(brand),
        status: status.as_u16(),
        title: &title,
        message: &message,
        request_id: &request_id,
    }
    .render()
    .unwrap_or_else(|_| format!("{} {title}. Request id: {request_id}", status.as_u16()));
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Response::from_parts(parts, Html(body).into_response().into_body())
}
