//! The OpenAPI 3 document, generated from the handlers' annotations and
//! served at `/api/v2/openapi.json`. A snapshot test keeps its changes
//! visible in review.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{content, directory, reference, tickets};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ferrodesk REST API",
        version = "2",
        description = "Every request carries `Authorization: key <id>:<secret>`. A key acts as its agent, with that agent's permissions narrowed by the key's scopes. Answers are `{\"data\": …, \"meta\": {…}}`; errors are `{\"status\", \"code\", \"message\", \"errors\"}`."
    ),
    paths(
        reference::me,
        reference::departments,
        reference::ticket_fields,
        tickets::list,
        tickets::create,
        tickets::show,
        tickets::update,
        tickets::delete,
        tickets::messages,
        tickets::add_message,
        directory::people,
        directory::person,
        directory::create_person,
        directory::update_person,
        directory::agents,
        directory::agent,
        directory::organizations,
        directory::organization,
        content::articles,
        content::article,
        content::create_article,
        content::update_article,
        content::article_categories,
        content::news,
        content::news_post,
    ),
    modifiers(&KeySecurity),
    tags(
        (name = "tickets", description = "Tickets and their threads"),
        (name = "people", description = "Users, agents and organizations"),
        (name = "content", description = "Knowledge base and news"),
        (name = "reference", description = "The key's agent, departments and fields"),
    )
)]
pub(crate) struct ApiDoc;

struct KeySecurity;

impl Modify for KeySecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = ApiKeyValue::new("Authorization");
        scheme.description =
            Some("`key <id>:<secret>`, as `ferrodesk apikey create` prints it".to_owned());
        components.add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(scheme)));
    }
}

/// The document as JSON, built once.
pub(crate) fn openapi_document() -> &'static str {
    static DOCUMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"))
    });
    &DOCUMENT
}

pub(crate) async fn openapi_json() -> Response {
    let mut response = openapi_document().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
