//! Bulk actions from the ticket list: the ticked tickets (or every ticket
//! the list matches, up to `BULK_LIMIT`) get one change, are followed, or
//! are merged into one of them (chosen on a confirmation page). The
//! answer is a report of what changed and what was left alone, and why.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use ferrodesk_app::{
    BULK_LIMIT, BulkAction, BulkOutcome, FieldErrors, Parsed, TicketChange, TicketRecord, parsed,
};
use ferrodesk_core::{Labels, TicketStatus, Urgency};
use serde::Deserialize;

use crate::AppState;
use crate::error::{WebError, WebResult};
use crate::forms::HtmlForm;
use crate::pages::tickets::ListParameters;
use crate::pages::{AgentSession, Chrome, render, render_form};
use crate::session::Session;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/agent/tickets/bulk", post(act))
}

/// The list's bulk form as sent.
#[derive(Debug, Default, Deserialize)]
struct BulkForm {
    /// The ticked tickets' ids.
    #[serde(default)]
    ticket: Vec<String>,
    /// "1": every ticket the list matches instead (up to the limit).
    #[serde(default)]
    all_matching: String,
    /// `change`, `follow`, `unfollow` or `merge`.
    #[serde(default)]
    action: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    urgency: String,
    #[serde(default)]
    department: String,
    /// An agent's id, `none` to unassign, empty to keep.
    #[serde(default)]
    agent: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    add_labels: String,
    #[serde(default)]
    remove_labels: String,
    /// The ticket to merge into (its id), once chosen.
    #[serde(default)]
    into: String,
    /// The macro to apply (its id).
    #[serde(default, rename = "macro")]
    chosen_macro: String,
    /// The list's own query string, to select all it matches and to go
    /// back to it.
    #[serde(default)]
    list: String,
}

/// A choice that may be left as it is: empty keeps, `none` clears.
fn kept_or_cleared(text: &str, field: &'static str) -> Option<Parsed<Option<i64>>> {
    match text.trim() {
        "" => None,
        "none" => Some(Ok(None)),
        text => Some(text.parse().map(Some).map_err(|_| {
            let mut errors = FieldErrors::new();
            errors.add(field, "Choose from the list.");
            errors
        })),
    }
}

impl BulkForm {
    fn change(&self) -> Result<BulkAction, FieldErrors> {
        let mut errors = FieldErrors::new();
        let status = match self.status.trim() {
            "" => None,
            key => Some(TicketStatus::from_key(key).ok_or_else(|| {
                let mut errors = FieldErrors::new();
                errors.add("status", "Unknown status.");
                errors
            })),
        };
        let urgency = match self.urgency.trim() {
            "" => None,
            text => Some(parsed("urgency", Urgency::parse(text))),
        };
        let department_id = kept_or_cleared(&self.department, "department").map(|department| {
            department.and_then(|id| {
                id.ok_or_else(|| {
                    let mut errors = FieldErrors::new();
                    errors.add("department", "A ticket always has a department.");
                    errors
                })
            })
        });
        let mut labels = |text: &str| {
            errors
                .check("labels", Labels::parse_list(text))
                .unwrap_or_default()
        };
        let add_labels = labels(&self.add_labels);
        let remove_labels = labels(&self.remove_labels);
        let change = TicketChange {
            status,
            urgency,
            department_id,
            agent_id: kept_or_cleared(&self.agent, "agent"),
            team_id: kept_or_cleared(&self.team, "team"),
            ..TicketChange::default()
        };
        for parsed in [
            change
                .status
                .as_ref()
                .map(|status| status.as_ref().map(|_| ())),
            change
                .urgency
                .as_ref()
                .map(|urgency| urgency.as_ref().map(|_| ())),
            change
                .department_id
                .as_ref()
                .map(|id| id.as_ref().map(|_| ())),
            change.agent_id.as_ref().map(|id| id.as_ref().map(|_| ())),
            change.team_id.as_ref().map(|id| id.as_ref().map(|_| ())),
        ]
        .into_iter()
        .flatten()
        {
            if let Err(problems) = parsed {
                errors.merge(problems.clone());
            }
        }
        let nothing = change.status.is_none()
            && change.urgency.is_none()
            && change.department_id.is_none()
            && change.agent_id.is_none()
            && change.team_id.is_none()
            && add_labels.is_empty()
            && remove_labels.is_empty();
        if nothing && errors.is_empty() {
            errors.add("action", "Choose what to change.");
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(BulkAction::Change {
            change: Box::new(change),
            add_labels,
            remove_labels,
        })
    }

    /// The list's query string, if it looks like one (see
    /// `tickets::is_list_query`).
    fn list_query(&self) -> &str {
        if crate::pages::tickets::is_list_query(&self.list.as_str()) {
            &self.list
        } else {
            ""
        }
    }
}

#[derive(Template)]
#[template(path = "agent/bulk_result.html")]
struct ResultPage {
    chrome: Chrome,
    outcome: BulkOutcome,
    what: &'static str,
    back: String,
}

#[derive(Template)]
#[template(path = "agent/bulk_merge.html")]
struct MergePage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    tickets: Vec<TicketRecord>,
    list: String,
    back: String,
}

#[derive(Template)]
#[template(path = "agent/bulk_refused.html")]
struct RefusedPage {
    chrome: Chrome,
    errors: FieldErrors,
    back: String,
}

async fn act(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    HtmlForm(form): HtmlForm<BulkForm>,
) -> WebResult<Response> {
    let back = format!("/agent/tickets?{}", form.list_query());
    let ids = selected_ids(&state, &session, &form).await?;
    let refuse = |errors: FieldErrors| {
        render_form(
            &RefusedPage {
                chrome: Chrome::for_session(&session),
                errors,
                back: back.clone(),
            },
            true,
        )
    };
    if ids.is_empty() {
        let mut errors = FieldErrors::new();
        errors.add("ticket", "Tick the tickets to change first.");
        return refuse(errors);
    }
    let (action, what) = match form.action.as_str() {
        "follow" => (BulkAction::Follow(true), "followed"),
        "unfollow" => (BulkAction::Follow(false), "no longer followed"),
        "macro" => match form.chosen_macro.trim().parse::<i64>() {
            Ok(id) => (BulkAction::Macro(id), "changed by the macro"),
            Err(_) => {
                let mut errors = FieldErrors::new();
                errors.add("macro", "Choose a macro.");
                return refuse(errors);
            }
        },
        "merge" => match form.into.trim().parse::<i64>() {
            Ok(into) => (BulkAction::MergeInto(into), "merged"),
            Err(_) => return merge_page(&state, &session, &ids, &form, back).await,
        },
        _ => match form.change() {
            Ok(action) => (action, "changed"),
            Err(errors) => return refuse(errors),
        },
    };
    match state
        .app
        .bulk_action(&session.caller(), &ids, &action)
        .await
    {
        Ok(outcome) => render(&ResultPage {
            chrome: Chrome::for_session(&session),
            outcome,
            what,
            back,
        }),
        Err(ferrodesk_app::AppError::Invalid(errors)) => refuse(errors),
        Err(other) => Err(other.into()),
    }
}

/// The tickets the action is for: the ticked ones, or all the list
/// matches when asked.
async fn selected_ids(state: &AppState, session: &Session, form: &BulkForm) -> WebResult<Vec<i64>> {
    if form.all_matching == "1" {
        let parameters: ListParameters = serde_urlencoded::from_str(form.list_query())
            .map_err(|_| WebError::BadRequest("The list's filters could not be read.".into()))?;
        return Ok(state
            .app
            .matching_ticket_ids(&session.actor, &parameters.query()?)
            .await?);
    }
    if form.ticket.len() > BULK_LIMIT {
        return Err(WebError::BadRequest(
            format!("Select at most {BULK_LIMIT} tickets at once.").into(),
        ));
    }
    form.ticket
        .iter()
        .map(|id| {
            id.trim()
                .parse()
                .map_err(|_| WebError::BadRequest("A ticket id is not a number.".into()))
        })
        .collect()
}

/// Asks which of the tickets the others go into.
async fn merge_page(
    state: &AppState,
    session: &Session,
    ids: &[i64],
    form: &BulkForm,
    back: String,
) -> WebResult<Response> {
    let tickets = state.app.visible_tickets(&session.actor, ids).await?;
    render(&MergePage {
        chrome: Chrome::for_session(session),
        csrf_token: &session.csrf_token,
        tickets,
        list: form.list_query().to_owned(),
        back,
    })
}
