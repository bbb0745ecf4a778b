//! The agents' ticket search (`/agent/search?q=`): the query language,
//! results with their snippets, and a reference typed alone going straight
//! to its ticket.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use ferrodesk_app::{TicketSearchInput, TicketSearchPage};
use serde::Deserialize;

use super::tickets::relative_time;
use super::{AgentSession, Chrome, render, time, url_encoded};
use crate::AppState;
use crate::error::WebResult;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/agent/search", get(search))
}

#[derive(Debug, Default, Deserialize)]
struct SearchParameters {
    #[serde(default)]
    q: String,
    after: Option<String>,
    offset: Option<i64>,
}

#[derive(Template)]
#[template(path = "agent/search.html")]
struct SearchPage {
    chrome: Chrome,
    query: String,
    page: TicketSearchPage,
    now: i64,
}

impl SearchPage {
    /// A time as a `datetime` attribute reads it (RFC 3339, UTC).
    fn iso(&self, millis: &i64) -> String {
        ferrodesk_core::Timestamp(*millis).rfc3339()
    }

    fn time(&self, millis: &i64) -> String {
        time(millis)
    }

    fn ago(&self, millis: &i64) -> String {
        relative_time(*millis, self.now)
    }

    fn encoded_query(&self) -> String {
        url_encoded(&self.query)
    }

    /// "25 tickets", "200+ tickets", "1 ticket".
    fn found(&self) -> String {
        let plus = if self.page.more_than_total { "+" } else { "" };
        match (self.page.total, plus) {
            (1, "") => "1 ticket".to_owned(),
            (total, plus) => format!("{total}{plus} tickets"),
        }
    }
}

async fn search(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Query(parameters): Query<SearchParameters>,
) -> WebResult<Response> {
    let input = TicketSearchInput {
        query: parameters.q.chars().take(1000).collect(),
        after: parameters.after.filter(|after| !after.is_empty()),
        offset: parameters.offset.unwrap_or(0),
    };
    let page = state.app.search_tickets(&session.actor, &input).await?;
    if let Some(reference) = &page.jump_to {
        return Ok(Redirect::to(&format!("/agent/tickets/{reference}")).into_response());
    }
    render(&SearchPage {
        chrome: Chrome::for_session(&session),
        query: input.query,
        page,
        now: state.app.now().millis(),
    })
}
