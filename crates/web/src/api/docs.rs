//! The OpenAPI 3 document, generated from the handlers' annotations and
//! served at `/api/v2/openapi.json`. A snapshot test keeps its changes
//! visible in review.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{attachments, content, directory, reference, reports, search, tickets};

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
        tickets::replace,
        tickets::delete,
        tickets::messages,
        tickets::add_message,
        search::search,
        attachments::upload,
        attachments::download,
        directory::people,
        directory::person,
        directory::create_person,
        directory::update_person,
        directory::replace_person,
        directory::agents,
        directory::agent,
        directory::organizations,
        directory::organization,
        content::articles,
        content::article,
        content::create_article,
        content::update_article,
        content::replace_article,
        content::article_categories,
        content::news,
        content::news_post,
        reports::report,
    ),
    modifiers(&KeySecurity),
    tags(
        (name = "tickets", description = "Tickets and their threads"),
        (name = "people", description = "Users, agents and organizations"),
        (name = "content", description = "Knowledge base and news"),
        (name = "reference", description = "The key's agent, departments and fields"),
        (name = "reports", description = "Saved reports' figures"),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed document; `FERRODESK_UPDATE_SNAPSHOTS=1` rewrites it.
    const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");

    #[test]
    fn the_document_matches_its_snapshot() {
        let current = format!("{}\n", openapi_document());
        if std::env::var_os("FERRODESK_UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(SNAPSHOT, &current).unwrap();
        }
        let committed = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
        assert!(
            committed == current,
            "the OpenAPI document changed; review it and run with FERRODESK_UPDATE_SNAPSHOTS=1 to accept"
        );
    }

    #[test]
    fn every_api_route_is_documented_and_every_operation_is_secured() {
        let document: serde_json::Value = serde_json::from_str(openapi_document()).unwrap();
        let paths = document["paths"].as_object().unwrap();
        let source = include_str!("mod.rs");
        let mut routes = 0;
        for rest in source.split("\"/api/v2").skip(1) {
            let route = format!("/api/v2{}", rest.split('"').next().unwrap());
            if route.contains('*') || route.len() <= "/api/v2/".len() || route.ends_with(".json") {
                continue;
            }
            routes += 1;
            assert!(
                paths.contains_key(&route),
                "{route} is not in the OpenAPI document"
            );
        }
        assert!(routes >= 15, "found only {routes} routes");
        for (path, item) in paths {
            for (method, operation) in item.as_object().unwrap() {
                assert!(
                    operation["security"].is_array(),
                    "{method} {path} has no security"
                );
                assert!(
                    operation["responses"]["401"].is_object(),
                    "{method} {path} has no 401"
                );
            }
        }
    }
}
