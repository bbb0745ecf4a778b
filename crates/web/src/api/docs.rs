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
    modifiers(&KeySecurity, &QueryRules, &BodyRules, &UnresolvedAnswers),
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

/// Every operation of a path.
fn operations(
    item: &mut utoipa::openapi::path::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// Whether a schema's type is `kind` or a list that holds it.
fn may_be(
    schema_type: &utoipa::openapi::schema::SchemaType,
    kind: utoipa::openapi::schema::Type,
) -> bool {
    use utoipa::openapi::schema::SchemaType;
    match schema_type {
        SchemaType::Type(single) => *single == kind,
        SchemaType::Array(kinds) => kinds.contains(&kind),
        SchemaType::AnyValue => false,
    }
}

/// What every query parameter is held to (`ApiQuery`): no NUL anywhere.
/// A text parameter without a pattern of its own gets this one, so that a
/// request the document allows is one the server takes.
const NO_NUL: &str = "^[^\\u0000]*$";

struct QueryRules;

impl Modify for QueryRules {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::schema::Type;
        use utoipa::openapi::{RefOr, Schema};
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                for parameter in operation.parameters.iter_mut().flatten() {
                    if parameter.parameter_in != ParameterIn::Query {
                        continue;
                    }
                    if let Some(RefOr::T(Schema::Object(object))) = parameter.schema.as_mut()
                        && may_be(&object.schema_type, Type::String)
                        && object.pattern.is_none()
                    {
                        object.pattern = Some(NO_NUL.to_owned());
                    }
                }
            }
        }
    }
}

/// What every JSON body is held to (`ApiJson`): no NUL in any text, not
/// even in a property the server does not know (and ignores). Text
/// without a pattern of its own gets [`NO_NUL`]; every object's property
/// names are held to it; an object with named properties takes others as
/// any JSON without NUL (`UnknownValue`); and each label of a `labels` list
/// is held to the label rule (at most 20 labels, each of at most 50
/// characters with nothing hidden).
struct BodyRules;

impl Modify for BodyRules {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for schema in components.schemas.values_mut() {
            if let utoipa::openapi::RefOr::T(schema) = schema {
                hold_text(schema, None);
            }
        }
        components.schemas.insert(
            UNKNOWN_VALUE.to_owned(),
            utoipa::openapi::RefOr::T(unknown_value()),
        );
    }
}

/// The component a property the server does not know may hold: any JSON
/// without NUL (the server ignores it, after refusing NUL anywhere).
const UNKNOWN_VALUE: &str = "UnknownValue";

fn unknown_value() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{
        ArrayBuilder, ObjectBuilder, OneOfBuilder, Ref, SchemaType, Type,
    };
    let any = || Ref::from_schema_name(UNKNOWN_VALUE);
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(SchemaType::Array(vec![
                    Type::String,
                    Type::Number,
                    Type::Boolean,
                    Type::Null,
                ]))
                .pattern(Some(NO_NUL)),
        )
        .item(ArrayBuilder::new().items(any()))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .additional_properties(Some(any()))
                .property_names(Some(no_nul_name())),
        )
        .build()
        .into()
}

fn no_nul_name() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(NO_NUL))
        .build()
}

fn hold_text(schema: &mut utoipa::openapi::Schema, name: Option<&str>) {
    use utoipa::openapi::schema::{
        AdditionalProperties, ArrayItems, KnownFormat, SchemaFormat, Type,
    };
    use utoipa::openapi::{RefOr, Schema};
    let inner = |schemas: &mut Vec<RefOr<Schema>>| {
        for item in schemas.iter_mut() {
            if let RefOr::T(schema) = item {
                hold_text(schema, None);
            }
        }
    };
    match schema {
        Schema::Object(object) => {
            let text = may_be(&object.schema_type, Type::String);
            let binary = object.format == Some(SchemaFormat::KnownFormat(KnownFormat::Binary));
            if text && !binary && object.pattern.is_none() {
                object.pattern = Some(NO_NUL.to_owned());
            }
            for (property, value) in object.properties.iter_mut() {
                if let RefOr::T(schema) = value {
                    hold_text(schema, Some(property));
                }
            }
            if !object.properties.is_empty() && object.additional_properties.is_none() {
                object.additional_properties = Some(Box::new(AdditionalProperties::RefOr(
                    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(UNKNOWN_VALUE)),
                )));
            }
            if may_be(&object.schema_type, Type::Object) {
                match object.property_names.as_deref_mut() {
                    None => object.property_names = Some(Box::new(Schema::Object(no_nul_name()))),
                    Some(Schema::Object(names)) if names.pattern.is_none() => {
                        names.pattern = Some(NO_NUL.to_owned());
                    }
                    Some(_) => {}
                }
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items
                && let RefOr::T(items) = items.as_mut()
            {
                if let (Some("labels"), Schema::Object(label)) = (name, &mut *items) {
                    label.max_length = Some(50);
                    label.pattern = Some(ferrodesk_core::VISIBLE_TEXT_PATTERN.to_owned());
                    array.max_items = Some(20);
                }
                hold_text(items, None);
            }
        }
        Schema::OneOf(one_of) => inner(&mut one_of.items),
        Schema::AllOf(all_of) => inner(&mut all_of.items),
        Schema::AnyOf(any_of) => inner(&mut any_of.items),
        _ => {}
    }
}

/// Every operation that answers 400 for what the document rules out also
/// answers 422 for a well-formed value that names nothing there is (an id,
/// a cursor, an upload token, a name already taken).
struct UnresolvedAnswers;

impl Modify for UnresolvedAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, ResponseBuilder};
        let answer = ResponseBuilder::new()
            .description("A value names something that does not exist or cannot be used here")
            .content(
                "application/json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name("ApiErrorBody")))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                let responses = &mut operation.responses.responses;
                if responses.contains_key("400") && !responses.contains_key("422") {
                    responses.insert("422".to_owned(), RefOr::T(answer.clone()));
                }
            }
        }
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

    /// Patterns (in a document built from attributes, where only
    /// literals go) that state the name rule are the core's one rule.
    #[test]
    fn every_name_in_the_document_is_held_to_the_one_name_rule() {
        fn patterns<'a>(value: &'a serde_json::Value, found: &mut Vec<&'a str>) {
            match value {
                serde_json::Value::Object(map) => {
                    for (key, inner) in map {
                        match (key.as_str(), inner.as_str()) {
                            ("pattern", Some(pattern)) => found.push(pattern),
                            _ => patterns(inner, found),
                        }
                    }
                }
                serde_json::Value::Array(items) => {
                    items.iter().for_each(|item| patterns(item, found))
                }
                _ => {}
            }
        }
        let document: serde_json::Value = serde_json::from_str(openapi_document()).unwrap();
        let mut found = Vec::new();
        patterns(&document, &mut found);
        let names: Vec<&str> = found
            .into_iter()
            .filter(|pattern| pattern.contains("u200b"))
            .collect();
        assert!(names.len() >= 5, "names, titles: {names:?}");
        assert!(
            names.iter().all(|pattern| [
                ferrodesk_core::NAME_PATTERN,
                ferrodesk_core::VISIBLE_TEXT_PATTERN
            ]
            .contains(pattern)),
            "{names:?}"
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
