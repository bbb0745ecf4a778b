//! The REST API (`/api/v2`): JSON over the same use cases as the pages. A
//! request carries `Authorization: key <id>:<secret>`; the key's agent is
//! the actor, so the API can do only what that agent could do in the
//! browser, and the key's scopes narrow it further. Answers are
//! `{"data": …, "meta": {…}}`; errors are
//! `{"status", "code", "message", "errors"}`.

mod attachments;
mod content;
mod directory;
mod docs;
mod rate_limit;
mod reference;
mod reports;
mod search;
mod tickets;

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use ferrodesk_app::{ApiCaller, AppError, Caller};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use crate::AppState;
use crate::client_ip::ClientIp;

/// Rows per page unless `count` asks otherwise, and the most it may ask.
pub(crate) const DEFAULT_COUNT: i64 = 25;
pub(crate) const MAX_COUNT: i64 = 200;

pub(crate) fn routes(state: AppState) -> Router<AppState> {
    let keyed = Router::new()
        .route("/api/v2/me", get(reference::me))
        .route("/api/v2/tickets", get(tickets::list).post(tickets::create))
        .route(
            "/api/v2/tickets/{ticket}",
            get(tickets::show)
                .patch(tickets::update)
                .put(tickets::replace)
                .delete(tickets::delete),
        )
        .route(
            "/api/v2/tickets/{ticket}/messages",
            get(tickets::messages).post(tickets::add_message),
        )
        .route(
            "/api/v2/tickets/{ticket}/attachments/{id}",
            get(attachments::download),
        )
        .route("/api/v2/search", get(search::search))
        .route("/api/v2/attachments", post(attachments::upload))
        .route("/api/v2/departments", get(reference::departments))
        .route("/api/v2/ticket_fields", get(reference::ticket_fields))
        .route("/api/v2/agents", get(directory::agents))
        .route("/api/v2/agents/{id}", get(directory::agent))
        .route(
            "/api/v2/people",
            get(directory::people).post(directory::create_person),
        )
        .route(
            "/api/v2/people/{id}",
            get(directory::person)
                .patch(directory::update_person)
                .put(directory::replace_person),
        )
        .route("/api/v2/organizations", get(directory::organizations))
        .route("/api/v2/organizations/{id}", get(directory::organization))
        .route(
            "/api/v2/articles",
            get(content::articles).post(content::create_article),
        )
        .route(
            "/api/v2/articles/{id}",
            get(content::article)
                .patch(content::update_article)
                .put(content::replace_article),
        )
        .route(
            "/api/v2/article_categories",
            get(content::article_categories),
        )
        .route("/api/v2/news", get(content::news))
        .route("/api/v2/news/{id}", get(content::news_post))
        .route("/api/v2/reports/{id}", get(reports::report))
        .route_layer(from_fn_with_state(state, authenticate));
    Router::new()
        .merge(keyed)
        .route("/api/v2/openapi.json", get(docs::openapi_json))
        .route("/api/v2", any(unknown_route))
        .route("/api/v2/", any(unknown_route))
        .route("/api/v2/{*rest}", any(unknown_route))
}

async fn unknown_route() -> ApiError {
    ApiError::from(AppError::NotFound)
}

/// What a handler knows about the request: the key's caller and the
/// client's address, for the audit log.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub caller: ApiCaller,
    pub ip: String,
    /// Method and path, as the audit entry names the request.
    pub target: String,
}

/// Put on a response by a handler that wrote the request's audit entry
/// itself, in the transaction of its change; the middleware then writes
/// none.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestAudited;

impl ApiRequest {
    pub fn actor_caller(&self) -> Caller<'_> {
        Caller::new(&self.caller.actor, &self.ip)
    }

    /// `403` unless the key's scopes allow `scope`.
    pub fn scope(&self, scope: &str) -> Result<(), ApiError> {
        Ok(self.caller.require_scope(scope)?)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ApiRequest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<ApiRequest, ApiError> {
        parts
            .extensions
            .get::<ApiRequest>()
            .cloned()
            .ok_or_else(|| ApiError::from(AppError::Unauthenticated))
    }
}

/// Recognises the key, applies the per-key rate limit, and writes an audit
/// entry for every request through a key that changed something.
async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(authorization) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    else {
        return ApiError::from(AppError::Unauthenticated).into_response();
    };
    let caller = match state.app.authenticate_api_key(authorization).await {
        Ok(caller) => caller,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let per_minute = match state.app.settings().await {
        Ok(settings) => settings.api.requests_per_minute,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let verdict = match state.app.hit_api_limit(&caller.key_id, per_minute).await {
        Ok(verdict) => verdict,
        Err(error) => return ApiError::from(error).into_response(),
    };
    if !verdict.allowed {
        let mut response = ApiError::from(AppError::TooManyRequests).into_response();
        rate_limit::write_headers(&verdict, response.headers_mut());
        return response;
    }
    let ip = request
        .extensions()
        .get::<ClientIp>()
        .map(|ClientIp(address)| address.to_string())
        .unwrap_or_default();
    let method = request.method().clone();
    let target = format!("{} {}", method, request.uri().path());
    request.extensions_mut().insert(ApiRequest {
        caller: caller.clone(),
        ip: ip.clone(),
        target: target.clone(),
    });
    let mut response = next.run(request).await;
    rate_limit::write_headers(&verdict, response.headers_mut());
    if !method.is_safe()
        && response.status().is_success()
        && response.extensions().get::<RequestAudited>().is_none()
        && let Err(error) = state
            .app
            .audit_api_request(&caller, &ip, &target, response.status().as_u16())
            .await
    {
        tracing::error!(%error, "cannot write the audit entry of an API request");
    }
    response
}

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ApiErrorBody {
    /// The HTTP status, repeated.
    pub status: u16,
    /// A stable word for programs: `invalid`, `unauthenticated`, `forbidden`,
    /// `not_found`, `conflict`, `rate_limited`, `internal`, …
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// Messages per request field, for `invalid`.
    pub errors: BTreeMap<String, Vec<String>>,
}

#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    errors: BTreeMap<String, Vec<String>>,
    /// What went wrong inside, for the error log only.
    internal: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            errors: BTreeMap::new(),
            internal: None,
        }
    }

    /// A 400 about one field of the request.
    pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
        let message = message.into();
        let mut error = ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "The request is not valid.",
        );
        error.errors.insert(field.to_owned(), vec![message]);
        error
    }

    /// The answer for a status a lower layer gave without a body.
    pub fn for_status(status: StatusCode) -> ApiError {
        let (code, message) = match status {
            StatusCode::NOT_FOUND => ("not_found", "Nothing is here."),
            StatusCode::METHOD_NOT_ALLOWED => (
                "method_not_allowed",
                "This resource does not take that method.",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => ("too_large", "The request body is too large."),
            StatusCode::REQUEST_TIMEOUT => ("timeout", "The request took too long."),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "unsupported_media_type",
                "Send JSON with Content-Type: application/json.",
            ),
            status if status.is_server_error() => {
                ("internal", "Something went wrong on the server.")
            }
            _ => ("bad_request", "The request is not valid."),
        };
        ApiError::new(status, code, message)
    }
}

/// 400 for what the OpenAPI document rules out; 422 when every problem is
/// a well-formed value that names nothing there is (an id, a page, an
/// upload), which no schema can state. Each field's messages go under the
/// API's name for the field.
fn field_errors_answer(problems: &ferrodesk_app::FieldErrors) -> ApiError {
    let mut answer = if problems.only_unresolved() {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unresolved",
            "The request names something that does not exist or cannot be used here.",
        )
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "The request is not valid.",
        )
    };
    for (field, message) in problems.iter() {
        answer
            .errors
            .entry(api_field_name(field).to_owned())
            .or_default()
            .push(message.to_owned());
    }
    answer
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> ApiError {
        match error {
            AppError::Invalid(problems) => field_errors_answer(&problems),
            AppError::Unauthenticated | AppError::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Send a valid key as `Authorization: key <id>:<secret>`.",
            ),
            AppError::Forbidden => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "This key may not do this.",
            ),
            AppError::NotFound => ApiError::for_status(StatusCode::NOT_FOUND),
            AppError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            AppError::TooManyRequests | AppError::LoginLocked { .. } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests; wait and try again.",
            ),
            AppError::IpNotTrusted
            | AppError::LoginChallengeExpired
            | AppError::AddressUnconfirmed => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "This key may not do this.",
            ),
            AppError::Internal(detail) => {
                let mut answer = ApiError::for_status(StatusCode::INTERNAL_SERVER_ERROR);
                answer.internal = Some(detail);
                answer
            }
        }
    }
}

/// The use cases name fields as the pages' forms do; the API's names differ
/// for a few.
fn api_field_name(field: &str) -> &str {
    match field {
        "requester_email" | "requester_name" => "person",
        "body" => "message",
        "category_id" => "category",
        other => other,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ApiErrorBody {
            status: self.status.as_u16(),
            code: self.code.to_owned(),
            message: self.message,
            errors: self.errors,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("key"));
        }
        if let Some(detail) = self.internal {
            response
                .extensions_mut()
                .insert(crate::error::InternalDetail(detail));
        }
        response
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// A JSON body; anything that does not parse is a 400 in the API's shape.
pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<ApiJson<T>, ApiError> {
        match axum::Json::<serde_json::Value>::from_request(request, state).await {
            Ok(axum::Json(value)) => {
                // No field has a use for NUL, and PostgreSQL refuses it.
                if has_nul(&value) {
                    return Err(ApiError::invalid(
                        "body",
                        "Text may not contain NUL characters.",
                    ));
                }
                let mut value = value;
                whole_numbers_as_integers(&mut value);
                serde_json::from_value(value)
                    .map(ApiJson)
                    .map_err(|error| ApiError::invalid("body", error.to_string()))
            }
            Err(rejection) => {
                let status = rejection.status();
                let mut error = ApiError::for_status(status);
                if status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY {
                    error = ApiError::invalid("body", rejection.body_text());
                }
                Err(error)
            }
        }
    }
}

/// JSON does not tell `3` from `3.0`, and JSON Schema counts both as
/// integers: a whole number written with a fraction is taken as an integer.
fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(number) if !number.is_i64() && !number.is_u64() => {
            if let Some(whole) = number
                .as_f64()
                .filter(|float| float.fract() == 0.0 && float.abs() < 9.0e15)
            {
                // In range: the cast is exact.
                *value = serde_json::Value::from(whole as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        serde_json::Value::Object(fields) => {
            fields.values_mut().for_each(whole_numbers_as_integers)
        }
        _ => {}
    }
}

fn has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => text.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(has_nul),
        serde_json::Value::Object(fields) => fields
            .iter()
            .any(|(name, value)| name.contains('\0') || has_nul(value)),
        _ => false,
    }
}

/// Query parameters; anything that does not parse is a 400.
pub(crate) struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<ApiQuery<T>, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        if query.to_ascii_lowercase().contains("%00") {
            return Err(ApiError::invalid(
                "query",
                "Parameters may not contain NUL characters.",
            ));
        }
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(ApiError::invalid("query", rejection.body_text())),
        }
    }
}

/// `meta` of a single object.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub(crate) struct ObjectMeta {}

/// `meta` of a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ListMeta {
    /// The page number asked for; null when paging by cursor.
    pub page: Option<i64>,
    pub count: i64,
    pub total: i64,
    pub total_pages: i64,
    /// Pass as `cursor` for the page after this one (deep paging without
    /// counting rows); null on the last page.
    pub next_cursor: Option<String>,
}

/// `page`, `count` and `cursor` of a list request, checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Paging {
    pub page: i64,
    pub count: i64,
    pub by_cursor: bool,
}

impl Paging {
    pub fn new(page: Option<i64>, count: Option<i64>, cursor: Option<&str>) -> ApiResult<Paging> {
        let page = page.unwrap_or(1);
        if !(1..=1_000_000).contains(&page) {
            return Err(ApiError::invalid("page", "A page is a number from 1."));
        }
        let count = count.unwrap_or(DEFAULT_COUNT);
        if !(1..=MAX_COUNT).contains(&count) {
            return Err(ApiError::invalid("count", "A count is from 1 to 200."));
        }
        Ok(Paging {
            page,
            count,
            by_cursor: cursor.is_some_and(|cursor| !cursor.is_empty()),
        })
    }

    pub fn offset(&self) -> i64 {
        if self.by_cursor {
            0
        } else {
            (self.page - 1) * self.count
        }
    }

    pub fn meta(&self, total: i64, next_cursor: Option<String>) -> ListMeta {
        ListMeta {
            page: (!self.by_cursor).then_some(self.page),
            count: self.count,
            total,
            total_pages: (total + self.count - 1) / self.count,
            next_cursor,
        }
    }
}

/// Pages a list the use case returned whole.
pub(crate) fn page_of<T>(rows: Vec<T>, paging: &Paging) -> (Vec<T>, ListMeta) {
    let total = rows.len() as i64;
    let rows: Vec<T> = rows
        .into_iter()
        .skip(usize::try_from(paging.offset()).unwrap_or(usize::MAX))
        .take(usize::try_from(paging.count).unwrap_or(0))
        .collect();
    (rows, paging.meta(total, None))
}

/// A 201 with the object and where it lives.
pub(crate) fn created<T: Serialize>(location: String, body: T) -> Response {
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// The rate-limit headers' names.
pub(crate) const RATE_LIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub(crate) const RATE_LIMIT_REMAINING: HeaderName =
    HeaderName::from_static("x-ratelimit-remaining");
pub(crate) const RATE_LIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// Milliseconds to the RFC 3339 time the API shows.
pub(crate) fn time(millis: i64) -> String {
    ferrodesk_core::Timestamp(millis).rfc3339()
}

/// Parses a numeric path id; anything else is 404.
pub(crate) fn path_id(text: &str) -> ApiResult<i64> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::from(AppError::NotFound))
}
