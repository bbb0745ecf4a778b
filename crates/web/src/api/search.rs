//! Search through the API (`GET /api/v2/search`): tickets in the agents'
//! query language, or people and organizations by name and address, each
//! with the permissions and scopes of its own list.

use axum::extract::State;
use ferrodesk_app::{AppError, DirectoryQuery, TicketSearchInput};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::directory::{Organization, Person};
use super::tickets::Ticket;
use super::{ApiQuery, ApiRequest, ApiResult};
use crate::AppState;

/// What to search and where.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchParams {
    /// The query. For tickets, the agents' search language: words,
    /// `"phrases"`, `-excluded`, and `status:`, `department:`, `agent:`
    /// (`me`, `none`, a name), `team:`, `label:`, `from:` (address or
    /// domain), `org:`, `urgency:>5`, `created:`/`updated:`/`resolved:`/`reopened:`
    /// (`>2026-01-01`, `<7d`), `channel:` (`web`, `email`, `api`, `agent`,
    /// `chat`), `has:attachment`, `is:note`.
    #[param(max_length = 1000, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    #[serde(default)]
    pub q: String,
    /// `tickets` (the default), `people` or `organizations`.
    #[serde(rename = "type")]
    #[param(rename = "type", pattern = "^(tickets|people|organizations)$")]
    pub kind: Option<String>,
    /// `meta.next_cursor` of the page before.
    pub cursor: Option<String>,
}

/// One ticket found, with the text around its first match.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct TicketHit {
    pub ticket: Ticket,
    /// HTML-escaped text with matches in `<mark>`; empty when the match is
    /// in the subject, requester or labels only.
    pub snippet_html: String,
    pub snippet_from_note: bool,
}

/// `meta` of a search.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub(crate) struct SearchMeta {
    /// How many match; with `total_is_lower_bound`, at least that many.
    pub total: i64,
    pub total_is_lower_bound: bool,
    /// Tickets ranked by relevance (else newest first).
    pub ranked: bool,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
    /// What the query could not use, in words.
    pub notices: Vec<String>,
}

/// Results: `tickets`, `people` or `organizations`, as asked.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub(crate) struct SearchEnvelope {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tickets: Option<Vec<TicketHit>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub people: Option<Vec<Person>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizations: Option<Vec<Organization>>,
    pub meta: SearchMeta,
}

/// Results per page of people or organizations.
const DIRECTORY_PAGE: i64 = 25;

/// Searches tickets (scope `tickets.list`), people (`people.list`) or
/// organizations (`organizations.list`) the key's agent may see.
#[utoipa::path(get, path = "/api/v2/search", tag = "tickets",
    params(SearchParams),
    responses(
        (status = 200, body = SearchEnvelope),
        (status = 400, body = super::ApiErrorBody),
        (status = 401, body = super::ApiErrorBody),
        (status = 403, body = super::ApiErrorBody),
        (status = 429, body = super::ApiErrorBody),
    ),
    security(("api_key" = [])))]
pub(crate) async fn search(
    State(state): State<AppState>,
    request: ApiRequest,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> ApiResult<axum::Json<SearchEnvelope>> {
    if params.q.chars().count() > 1000 {
        return Err(AppError::invalid("q", "A query has at most 1,000 characters.").into());
    }
    if params.q.chars().any(char::is_control) {
        return Err(AppError::invalid("q", "Search for text without control characters.").into());
    }
    let cursor = params.cursor.filter(|cursor| !cursor.is_empty());
    match params.kind.as_deref().unwrap_or("tickets") {
        "tickets" => {
            request.scope("tickets.list")?;
            search_tickets(&state, &request, params.q, cursor).await
        }
        "people" => {
            request.scope("people.list")?;
            let list = state
                .app
                .list_users(&request.caller.actor, &directory_query(params.q, cursor))
                .await?;
            Ok(axum::Json(SearchEnvelope {
                people: Some(list.rows.into_iter().map(Person::from_record).collect()),
                meta: SearchMeta {
                    total: list.total,
                    next_cursor: list.next,
                    ..SearchMeta::default()
                },
                ..SearchEnvelope::default()
            }))
        }
        "organizations" => {
            request.scope("organizations.list")?;
            let list = state
                .app
                .list_organizations(&request.caller.actor, &directory_query(params.q, cursor))
                .await?;
            Ok(axum::Json(SearchEnvelope {
                organizations: Some(
                    list.rows
                        .into_iter()
                        .map(Organization::from_record)
                        .collect(),
                ),
                meta: SearchMeta {
                    total: list.total,
                    next_cursor: list.next,
                    ..SearchMeta::default()
                },
                ..SearchEnvelope::default()
            }))
        }
        _ => Err(AppError::invalid("type", "Choose tickets, people or organizations.").into()),
    }
}

fn directory_query(search: String, cursor: Option<String>) -> DirectoryQuery {
    DirectoryQuery {
        search,
        after: cursor,
        limit: Some(DIRECTORY_PAGE),
        offset: 0,
    }
}

/// A ticket search's cursor: `a<updated_at.id>` after a newest-first
/// page, `o<offset>` into a ranked one.
async fn search_tickets(
    state: &AppState,
    request: &ApiRequest,
    query: String,
    cursor: Option<String>,
) -> ApiResult<axum::Json<SearchEnvelope>> {
    let (after, offset) = match cursor.as_deref() {
        None => (None, 0),
        Some(cursor) => match (cursor.strip_prefix('a'), cursor.strip_prefix('o')) {
            (Some(after), _) => (Some(after.to_owned()), 0),
            (_, Some(offset)) => match offset.parse::<i64>() {
                Ok(offset) if offset >= 0 => (None, offset),
                _ => return Err(bad_cursor()),
            },
            _ => return Err(bad_cursor()),
        },
    };
    let page = state
        .app
        .search_tickets(
            &request.caller.actor,
            &TicketSearchInput {
                query,
                after,
                offset,
            },
        )
        .await?;
    let next_cursor = match (&page.next_after, page.next_offset) {
        (Some(after), _) => Some(format!("a{after}")),
        (None, Some(offset)) => Some(format!("o{offset}")),
        _ => None,
    };
    let mut total = page.total;
    let tickets = match page.jump_to {
        // A reference alone: that ticket, found as the pages would jump.
        Some(reference) => {
            let state = state
                .app
                .ticket_state(
                    &request.caller.actor,
                    &ferrodesk_app::TicketKey::Reference(reference),
                )
                .await?;
            total = 1;
            vec![TicketHit {
                ticket: Ticket::from_record(state.ticket, &state.labels),
                snippet_html: String::new(),
                snippet_from_note: false,
            }]
        }
        None => page
            .hits
            .into_iter()
            .map(|hit| TicketHit {
                ticket: Ticket::from_record(hit.ticket, &hit.labels),
                snippet_html: hit.snippet_html,
                snippet_from_note: hit.snippet_from_note,
            })
            .collect(),
    };
    Ok(axum::Json(SearchEnvelope {
        tickets: Some(tickets),
        meta: SearchMeta {
            total,
            total_is_lower_bound: page.more_than_total,
            ranked: page.ranked,
            next_cursor,
            notices: page.notices,
        },
        ..SearchEnvelope::default()
    }))
}

fn bad_cursor() -> super::ApiError {
    AppError::unresolved("cursor", "Use meta.next_cursor of the page before.").into()
}
