//! The agent's ticket pages: the list with its filters, a ticket with its
//! thread and editors, and a new ticket on a user's behalf.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodesk_app::{
    AppError, Channel, DEFAULT_COLUMNS, DepartmentNode, FieldErrors, FieldValues, FieldView,
    ListView, NewTicket, Parsed, ReplyInput, Requester, SavedView, StatusFilter, TicketChange,
    TicketKey, TicketList, TicketListQuery, TicketOrder, TicketSortKey, TicketView, VIEW_COLUMNS,
    fields_as_sent, parsed,
};
use ferrodesk_core::{
    Email, FieldKind, Label, Labels, MessageText, PersonName, Subject, TicketStatus, Urgency,
};
use serde::Deserialize;

use crate::AppState;
use crate::error::WebResult;
use crate::forms::{HtmlForm, MessageForm, OneOrMany, custom_field_values};
use crate::pages::admin::NoticeQuery;
use crate::pages::{
    AgentSession, Chrome, answer_form, path_id, render, render_form, time, url_encoded,
};
use crate::session::Session;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/agent/tickets", get(list))
        .route("/agent/tickets/new", get(new_form).post(create))
        .route("/agent/tickets.csv", get(export_csv))
        .route("/agent/tickets/{reference}", get(show))
        .route("/agent/tickets/{reference}/reply", post(reply))
        .route("/agent/tickets/{reference}/properties", post(change))
        .route(
            "/agent/tickets/{reference}/snippets/{snippet_id}",
            post(insert_snippet),
        )
        .route("/agent/tickets/{reference}/follow", post(follow))
        .route("/agent/tickets/{reference}/sla", post(choose_sla))
        .route(
            "/agent/tickets/{reference}/merge",
            get(confirm_merge).post(merge),
        )
        .route("/agent/tickets/{reference}/lock", post(lock))
        .route("/agent/tickets/{reference}/ccs", post(add_cc))
        .route(
            "/agent/tickets/{reference}/access-links/revoke",
            post(revoke_links),
        )
        .route(
            "/agent/tickets/{reference}/ccs/{person_id}/remove",
            post(remove_cc),
        )
        .route(
            "/agent/tickets/{reference}/attachments/{attachment_id}",
            get(download),
        )
        .route(
            "/agent/tickets/{reference}/messages/{message_id}/original",
            get(original),
        )
}

/// The most of a message's source shown as text.
const MAX_ORIGINAL_BYTES: usize = 5 * 1024 * 1024;

/// "View original": the source of the mail a message came from, as plain
/// text (headers included), for agents who may see the ticket.
async fn original(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path((reference, message_id)): Path<(String, String)>,
) -> WebResult<Response> {
    let message_id = path_id(&message_id)?;
    let raw = state
        .app
        .message_original(&session.actor, &path_ticket(&reference)?, message_id)
        .await?;
    let shown = &raw[..raw.len().min(MAX_ORIGINAL_BYTES)];
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            ),
            (
                axum::http::header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox",
            ),
        ],
        String::from_utf8_lossy(shown).into_owned(),
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListParameters {
    /// A saved view to show (its filters and columns).
    saved: Option<String>,
    #[serde(default)]
    view: String,
    status: Option<String>,
    department: Option<String>,
    label: Option<String>,
    urgency: Option<String>,
    /// A search in the workspace's query language narrowing the list.
    q: Option<String>,
    /// The column sorted by (a column key; the last activity by default).
    sort: Option<String>,
    /// `asc` or `desc`; empty for the column's usual direction (`oldest`,
    /// from older links, is the last activity ascending).
    order: Option<String>,
    after: Option<String>,
    before: Option<String>,
}

#[derive(Template)]
#[template(path = "agent/tickets.html")]
struct ListPage {
    chrome: Chrome,
    /// Whether any SLA is on (the SLA filters are offered).
    has_slas: bool,
    /// Whether "Export as CSV" is offered (the reports permission).
    may_export: bool,
    view: String,
    status: String,
    department: String,
    label: String,
    urgency: String,
    /// The list's search.
    search: String,
    /// The list's order.
    order: TicketOrder,
    list: TicketList,
    views: Vec<(&'static str, &'static str, i64)>,
    departments: Vec<DepartmentNode>,
    statuses: Vec<TicketStatus>,
    /// The query string of this list without the cursor, for the next link.
    base_query: String,
    /// When the page was made, for "5 min ago".
    now: i64,
    /// This list's own query (filters and page), encoded for the links to
    /// its tickets, to come back to.
    list_query: String,
    /// What the bulk controls offer.
    bulk: ferrodesk_app::BulkChoices,
    bulk_limit: i64,
    /// The list's filters alone (what a new saved view keeps).
    filters: String,
    /// The list's query without its order, for the column headings' links.
    unsorted_query: String,
    sort_choices: &'static [(&'static str, &'static str)],
    /// The saved view shown, if any.
    saved: Option<SavedView>,
    /// The agent's saved views with their counts.
    saved_views: Vec<(SavedView, i64)>,
    /// The columns shown, by key.
    columns: Vec<String>,
    all_columns: &'static [(&'static str, &'static str)],
}

impl ListPage {
    /// A count as the list shows it: counting stops at the cap.
    fn count(&self, count: &i64) -> String {
        if *count >= ferrodesk_app::LIST_COUNT_CAP {
            format!("{}+", ferrodesk_app::LIST_COUNT_CAP)
        } else {
            count.to_string()
        }
    }

    /// A time as a `datetime` attribute reads it (RFC 3339, UTC).
    fn iso(&self, millis: &i64) -> String {
        ferrodesk_core::Timestamp(*millis).rfc3339()
    }

    fn time(&self, millis: &i64) -> String {
        time(millis)
    }

    /// How long ago, in a few characters that never wrap.
    fn ago(&self, millis: &i64) -> String {
        relative_time(*millis, self.now)
    }

    /// A ticket's SLA due time in the list: (state, words); nothing when
    /// no target runs.
    fn sla_due(&self, ticket: &ferrodesk_app::TicketRecord) -> Option<(&'static str, String)> {
        if ticket.sla_due_at == ferrodesk_app::rules::NO_SLA_DUE {
            return None;
        }
        let minutes = (ticket.sla_due_at - self.now) / 60_000;
        let words = |minutes: i64| match minutes {
            0..=59 => format!("{minutes} min"),
            60..=2879 => format!("{} h", minutes / 60),
            _ => format!("{} d", minutes / 1_440),
        };
        Some(if ticket.sla_due_at <= self.now {
            ("failed", format!("{} late", words(-minutes)))
        } else if ticket.sla_warn_at <= self.now {
            ("warning", format!("in {}", words(minutes)))
        } else {
            ("ok", format!("in {}", words(minutes)))
        })
    }

    /// Whether the bulk controls offer a status: spam and deleted only to
    /// agents who may put tickets there.
    fn bulk_offers(&self, status: &TicketStatus) -> bool {
        match status {
            TicketStatus::Spam => self.bulk.may_spam,
            TicketStatus::Deleted => self.bulk.may_delete,
            _ => true,
        }
    }

    /// Whether the list shows a column.
    fn shows(&self, column: &str) -> bool {
        self.columns.iter().any(|shown| shown == column)
    }

    /// A page cursor as a link's query value.
    fn encoded(&self, cursor: &str) -> String {
        url_encoded(cursor)
    }

    /// Whether the list is sorted by the column.
    fn sorted_by(&self, column: &str) -> bool {
        self.order.key.key() == column
    }

    /// `aria-sort` of a column heading.
    fn aria_sort(&self, column: &str) -> &'static str {
        match (self.sorted_by(column), self.order.descending) {
            (false, _) => "none",
            (true, true) => "descending",
            (true, false) => "ascending",
        }
    }

    /// The link of a column heading: sorted by it, the other way round
    /// when it already is.
    fn sort_link(&self, column: &str) -> String {
        let Some(key) = TicketSortKey::from_key(column) else {
            return String::new();
        };
        let descending = if self.sorted_by(column) {
            !self.order.descending
        } else {
            key.descends_by_default()
        };
        format!(
            "/agent/tickets?{}&sort={column}&order={}",
            self.unsorted_query,
            if descending { "desc" } else { "asc" }
        )
    }

    /// A heading's words for screen readers, telling what its link does.
    fn sort_hint(&self, column: &str) -> &'static str {
        match (self.sorted_by(column), self.order.descending) {
            (true, true) => "sorted descending; sort ascending",
            (true, false) => "sorted ascending; sort descending",
            (false, _) => "sort by this column",
        }
    }

    fn is_saved(&self, id: &i64) -> bool {
        self.saved.as_ref().is_some_and(|view| view.id == *id)
    }

    fn labels_of(&self, ticket_id: &i64) -> Vec<String> {
        self.list
            .labels
            .get(ticket_id)
            .map(|labels| labels.to_strings())
            .unwrap_or_default()
    }
}

/// The columns a list may be sorted by, with the words of the order
/// menu.
const SORT_CHOICES: [(&str, &str); 13] = [
    ("updated", "Last activity"),
    ("created", "Created"),
    ("reference", "Reference"),
    ("subject", "Subject"),
    ("requester", "Requester"),
    ("organization", "Organization"),
    ("status", "Status"),
    ("urgency", "Urgency"),
    ("priority", "Priority"),
    ("assignee", "Assignee"),
    ("team", "Team"),
    ("department", "Department"),
    ("sla_due", "SLA due"),
];

/// "just now", "5 min", "3 h", "2 d", then the date: what a list shows of
/// a time.
pub(crate) fn relative_time(millis: i64, now: i64) -> String {
    let minutes = (now - millis).max(0) / 60_000;
    match minutes {
        0 => "just now".to_owned(),
        1..=59 => format!("{minutes} min ago"),
        60..=1439 => format!("{} h ago", minutes / 60),
        1440..=10079 => format!("{} d ago", minutes / 1440),
        _ => time(&millis).chars().take(10).collect(),
    }
}

fn optional_number(text: Option<&str>) -> WebResult<Option<i64>> {
    match text.map(str::trim).filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| {
            crate::error::WebError::BadRequest("A filter value is not a number.".into())
        }),
    }
}

impl ListParameters {
    /// The filters as the use case takes them; a value that does not
    /// parse is a bad request (the page's controls cannot send one).
    pub(crate) fn query(&self) -> WebResult<TicketListQuery> {
        let bad = |what: &str| crate::error::WebError::BadRequest(what.to_owned().into());
        let urgency = optional_number(self.urgency.as_deref())?
            .map(Urgency::new)
            .transpose()
            .map_err(|error| bad(&error.to_string()))?;
        let label = Label::parse(self.label.as_deref().unwrap_or(""))
            .map_err(|error| bad(&error.to_string()))?;
        let key = match self.sort.as_deref().map(str::trim).unwrap_or("") {
            "" => TicketSortKey::Updated,
            key => TicketSortKey::from_key(key).ok_or_else(|| bad("Unknown sort column."))?,
        };
        let descending = match self.order.as_deref().map(str::trim).unwrap_or("") {
            "" => key.descends_by_default(),
            "desc" => true,
            "asc" | "oldest" => false,
            _ => return Err(bad("Unknown order.")),
        };
        Ok(TicketListQuery {
            view: ListView::from_key(&self.view),
            status: StatusFilter::parse(self.status.as_deref().unwrap_or(""))
                .map_err(|_| bad("Unknown status."))?,
            department_id: optional_number(self.department.as_deref())?,
            label,
            urgency_at_least: urgency,
            agent_id: None,
            search: self.q.clone().unwrap_or_default(),
            order: TicketOrder { key, descending },
            after: self.after.clone(),
            before: self.before.clone().filter(|before| !before.is_empty()),
        })
    }
}

/// The saved view a list asks for, with its filters in place of the
/// request's (the request's page cursors kept).
async fn with_saved_view(
    state: &AppState,
    session: &Session,
    parameters: ListParameters,
) -> WebResult<(ListParameters, Option<SavedView>)> {
    let Some(id) = parameters.saved.as_deref().filter(|id| !id.is_empty()) else {
        return Ok((parameters, None));
    };
    let view = state.app.saved_view(&session.actor, path_id(id)?).await?;
    let mut from_view: ListParameters =
        serde_urlencoded::from_str(&view.filters).map_err(|_| {
            crate::error::WebError::BadRequest("This view's filters could not be read.".into())
        })?;
    from_view.saved = None;
    // A heading clicked on a view sorts the view.
    if parameters.sort.is_some() {
        from_view.sort = parameters.sort;
        from_view.order = parameters.order;
    }
    from_view.after = parameters.after;
    from_view.before = parameters.before;
    Ok((from_view, Some(view)))
}

async fn list(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Query(parameters): Query<ListParameters>,
) -> WebResult<Response> {
    let (parameters, saved) = with_saved_view(&state, &session, parameters).await?;
    let query = parameters.query()?;
    let page = state
        .app
        .agent_list_page(&session.actor, &query, |filters| {
            serde_urlencoded::from_str::<ListParameters>(filters)
                .ok()
                .and_then(|parameters| parameters.query().ok())
                .unwrap_or_default()
        })
        .await?;
    let list = page.list;
    let views = list
        .view_counts
        .iter()
        .map(|(view, count)| (view.key(), view.label(), *count))
        .collect();
    let encode = url_encoded;
    let unsorted_filters = format!(
        "view={}&status={}&department={}&label={}&urgency={}&q={}",
        encode(&parameters.view),
        encode(parameters.status.as_deref().unwrap_or("")),
        encode(parameters.department.as_deref().unwrap_or("")),
        encode(parameters.label.as_deref().unwrap_or("")),
        encode(parameters.urgency.as_deref().unwrap_or("")),
        encode(parameters.q.as_deref().unwrap_or("")),
    );
    let filters = format!(
        "{unsorted_filters}&sort={}&order={}",
        query.order.key.key(),
        if query.order.descending {
            "desc"
        } else {
            "asc"
        },
    );
    let (base_query, unsorted_query) = match &saved {
        Some(view) => (
            format!("saved={}&{filters}", view.id),
            format!("saved={}&{unsorted_filters}", view.id),
        ),
        None => (filters.clone(), unsorted_filters),
    };
    let list_query = match parameters
        .after
        .as_deref()
        .filter(|after| !after.is_empty())
    {
        Some(after) => encode(&format!("{base_query}&after={}", encode(after))),
        None => encode(&base_query),
    };
    let columns = match &saved {
        Some(view) => view.columns.clone(),
        // With SLAs on, the plain list shows when each ticket is due.
        None => DEFAULT_COLUMNS
            .iter()
            .map(|key| (*key).to_owned())
            .chain(page.has_slas.then(|| "sla_due".to_owned()))
            .collect(),
    };
    render(&ListPage {
        chrome: Chrome::for_session(&session),
        view: parameters.view,
        status: parameters.status.unwrap_or_default(),
        department: parameters.department.unwrap_or_default(),
        label: parameters.label.unwrap_or_default(),
        urgency: parameters.urgency.unwrap_or_default(),
        search: parameters.q.unwrap_or_default(),
        order: list.order,
        list,
        views,
        departments: page.departments,
        statuses: TicketStatus::ALL.to_vec(),
        base_query,
        filters,
        unsorted_query,
        sort_choices: &SORT_CHOICES,
        now: state.app.now().millis(),
        list_query,
        bulk: page.bulk,
        bulk_limit: ferrodesk_app::BULK_LIMIT as i64,
        saved,
        saved_views: page.saved_views,
        has_slas: page.has_slas,
        may_export: page.may_export,
        columns,
        all_columns: &VIEW_COLUMNS,
    })
}

#[derive(Template)]
#[template(path = "agent/ticket.html")]
struct TicketPage<'a> {
    chrome: Chrome,
    /// Back to the list the ticket was opened from, and along it.
    navigation: ListNavigation,
    csrf_token: &'a str,
    view: TicketView,
    statuses: Vec<TicketStatus>,
    /// What the reply form had, when it comes back with errors.
    typed_body: String,
    typed_note: bool,
    errors: FieldErrors,
    notice: Option<&'static str>,
    /// The signed-in agent, whose own changes the live banner leaves out.
    agent_id: i64,
}

/// Threads longer than this fold their middle messages away.
const UNFOLDED_MESSAGES: usize = 5;
/// The newest messages that always show.
const NEWEST_SHOWN: usize = 3;

impl TicketPage<'_> {
    /// How many messages between the first and the newest start folded.
    fn folded_count(&self) -> usize {
        let messages = self.view.messages.len();
        if messages > UNFOLDED_MESSAGES {
            messages - 1 - NEWEST_SHOWN
        } else {
            0
        }
    }

    /// Whether the fold opens before the message at `index`.
    fn folds_at_start(&self, index: &usize) -> bool {
        self.folded_count() > 0 && *index == 1
    }

    /// Whether the fold closes after the message at `index`.
    fn folds_at_end(&self, index: &usize) -> bool {
        self.folded_count() > 0 && *index == self.folded_count()
    }

    /// A log entry in words, names for ids.
    fn log_line(&self, entry: &ferrodesk_app::TicketLogRecord) -> String {
        ferrodesk_app::describe_log_entry(
            entry,
            &ferrodesk_app::LogNames {
                departments: &self.view.departments,
                agents: &self.view.agents,
                teams: &self.view.teams,
            },
        )
    }

    /// A message's time: how long ago for the last week (the exact time on
    /// hover), the exact time before.
    fn when(&self, millis: &i64) -> String {
        let now = self.view.read_at;
        if now - millis < 7 * 24 * 3600 * 1000 {
            relative_time(*millis, now)
        } else {
            time(millis)
        }
    }

    fn iso(&self, millis: &i64) -> String {
        ferrodesk_core::Timestamp(*millis).rfc3339()
    }

    fn is_current_status(&self, status: &TicketStatus) -> bool {
        self.view.ticket.status == *status
    }

    fn time(&self, millis: &i64) -> String {
        time(millis)
    }

    fn labels_text(&self) -> String {
        self.view.labels.joined()
    }

    fn is_assigned(&self, agent_id: &i64) -> bool {
        self.view.ticket.agent_id == Some(*agent_id)
    }

    fn is_team(&self, team_id: &i64) -> bool {
        self.view.ticket.team_id == Some(*team_id)
    }

    /// Whether the status list offers a status: the hidden ones only to
    /// agents who may put tickets there (and the one it is in).
    fn offers(&self, status: &TicketStatus) -> bool {
        match status {
            TicketStatus::Spam | TicketStatus::Deleted if self.view.ticket.status == *status => {
                true
            }
            TicketStatus::Spam => self.view.may_spam,
            TicketStatus::Deleted => self.view.may_delete,
            _ => true,
        }
    }

    fn is_priority(&self, priority_id: &i64) -> bool {
        self.view.ticket.priority_id == Some(*priority_id)
    }

    fn is_department(&self, department_id: &i64) -> bool {
        self.view.ticket.department_id == *department_id
    }

    fn base(&self) -> String {
        format!("/agent/tickets/{}", self.view.ticket.reference)
    }

    /// Whether the file is an image the server shows inline (and so a
    /// thumbnail can show).
    fn is_image(&self, content_type: &str) -> bool {
        ferrodesk_app::is_inline_image_type(content_type)
    }

    fn size(&self, bytes: &i64) -> String {
        human_size(*bytes)
    }

    /// The reply box starts as a note when the agent was writing one, may
    /// only write notes, or someone else holds the lock.
    fn note_first(&self) -> bool {
        self.typed_note || !self.view.may_reply || self.view.locked_by_other.is_some()
    }

    fn lock_until(&self) -> String {
        self.view
            .ticket
            .locked_until
            .map(|at| time(&at))
            .unwrap_or_default()
    }
}

/// A byte count as people read it.
pub(crate) fn human_size(bytes: i64) -> String {
    const KIB: i64 = 1024;
    if bytes < KIB {
        format!("{bytes} B")
    } else if bytes < KIB * KIB {
        format!("{:.1} KiB", bytes as f64 / KIB as f64)
    } else {
        format!("{:.1} MiB", bytes as f64 / (KIB * KIB) as f64)
    }
}

/// The ticket page for a view the caller already has.
fn render_ticket(
    session: &Session,
    view: TicketView,
    typed: Option<(&str, bool)>,
    errors: FieldErrors,
    (notice, navigation): (Option<&'static str>, ListNavigation),
) -> WebResult<Response> {
    let has_errors = !errors.is_empty();
    render_form(
        &TicketPage {
            navigation,
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            view,
            statuses: TicketStatus::ALL.to_vec(),
            typed_body: typed.map(|(body, _)| body.to_owned()).unwrap_or_default(),
            typed_note: typed.is_some_and(|(_, note)| note),
            errors,
            notice,
            agent_id: match &session.actor {
                ferrodesk_app::Actor::Agent(agent) => agent.person_id,
                _ => 0,
            },
        },
        has_errors,
    )
}

/// The ticket page again, with what a form had and why it was refused.
async fn ticket_page(
    state: &AppState,
    session: &Session,
    key: &TicketKey,
    typed: Option<(&str, bool)>,
    errors: FieldErrors,
) -> WebResult<Response> {
    let view = state.app.ticket_view(&session.actor, key).await?;
    let navigation = list_navigation(state, session, None, &view.ticket).await?;
    render_ticket(session, view, typed, errors, (None, navigation))
}

/// Answers a ticket form (see `answer_form`); what was typed is kept.
async fn answer_ticket_form(
    state: &AppState,
    session: &Session,
    key: &TicketKey,
    outcome: Result<String, AppError>,
    typed: Option<(&str, bool)>,
) -> WebResult<Response> {
    answer_form(outcome, "ticket", |errors| {
        ticket_page(state, session, key, typed, errors)
    })
    .await
}

/// The ticket a page's path names, by reference.
fn path_ticket(reference: &str) -> WebResult<TicketKey> {
    Ok(TicketKey::parse(reference)?)
}

/// A ticket page's query: a notice after a form, and the list it was opened
/// from (that list's own query string), to go back to.
#[derive(Debug, Default, Deserialize)]
struct ShowQuery {
    notice: Option<String>,
    list: Option<String>,
}

/// Where a ticket page's links lead: back to the list it was opened from
/// (with its filters and page, scrolled to the ticket's row), and to the
/// tickets just above and below it in that list.
#[derive(Debug, Default)]
struct ListNavigation {
    back: String,
    newer: Option<(String, String)>,
    older: Option<(String, String)>,
}

/// Whether a `list` parameter looks like a list's own query string: only
/// the characters the list's links use. Anything else means the plain list.
pub(crate) fn is_list_query(query: &&str) -> bool {
    ferrodesk_app::is_list_filters(query)
}

async fn list_navigation(
    state: &AppState,
    session: &Session,
    list: Option<&str>,
    ticket: &ferrodesk_app::TicketRecord,
) -> WebResult<ListNavigation> {
    let list = list.filter(is_list_query);
    let reference = ticket.reference.as_str();
    let query = list
        .and_then(|list| serde_urlencoded::from_str::<ListParameters>(list).ok())
        .and_then(|parameters| parameters.query().ok())
        .unwrap_or_default();
    let neighbours = state
        .app
        .ticket_neighbours(&session.actor, &query, ticket)
        .await?;
    let link = |other: ferrodesk_app::TicketRecord| {
        let path = match list {
            Some(list) => format!(
                "/agent/tickets/{}?list={}",
                other.reference,
                url_encoded(list)
            ),
            None => format!("/agent/tickets/{}", other.reference),
        };
        (path, other.subject)
    };
    Ok(ListNavigation {
        back: match list {
            Some(list) => format!("/agent/tickets?{list}#t-{reference}"),
            None => format!("/agent/tickets#t-{reference}"),
        },
        newer: neighbours.newer.map(link),
        older: neighbours.older.map(link),
    })
}

async fn show(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(reference): Path<String>,
    Query(query): Query<ShowQuery>,
) -> WebResult<Response> {
    let notice = NoticeQuery::from(query.notice).text(&[
        ("sent", "Your reply is sent."),
        ("noted", "Your note is added."),
        ("macro", "The macro is applied."),
        ("saved", "The ticket is saved."),
        ("created", "The ticket is open."),
        ("merged", "The tickets are merged."),
        ("locked", "You hold the lock on this ticket for 30 minutes."),
        ("unlocked", "The lock is released."),
        ("cc_added", "The address is copied on replies."),
        (
            "links_revoked",
            "Links mailed so far no longer open this ticket; the next reply carries a new one.",
        ),
        ("cc_removed", "The address is no longer copied."),
    ]);
    let view = state
        .app
        .ticket_view(&session.actor, &path_ticket(&reference)?)
        .await?;
    // A merged ticket's address (or one typed in lower case) leads to the
    // ticket's own.
    if view.ticket.reference.as_str() != reference {
        let notice = notice.map_or("", |_| "?notice=merged");
        return Ok(
            Redirect::to(&format!("/agent/tickets/{}{notice}", view.ticket.reference))
                .into_response(),
        );
    }
    let navigation = list_navigation(&state, &session, query.list.as_deref(), &view.ticket).await?;
    render_ticket(
        &session,
        view,
        None,
        FieldErrors::new(),
        (notice, navigation),
    )
}

/// The reply form as the use case takes it.
/// The reply box as sent.
#[derive(Debug, Default, Deserialize)]
struct ReplyForm {
    #[serde(default)]
    body: String,
    /// `reply` or `note`.
    #[serde(default)]
    kind: String,
    #[serde(default)]
    status: String,
    /// The newest message on the page when it was opened.
    #[serde(default)]
    seen_message_id: String,
}

fn reply_input(fields: &ReplyForm, files: Vec<ferrodesk_app::UploadedFile>) -> ReplyInput {
    ReplyInput {
        body: parsed("body", MessageText::parse(&fields.body)),
        is_note: fields.kind == "note",
        status: optional_status(&fields.status),
        seen_message_id: fields.seen_message_id.trim().parse().ok(),
        attachments: files,
        channel: Channel::Agent,
        inbound_mail: None,
    }
}

/// A status picked from a list; empty for "as it is".
fn optional_status(key: &str) -> Option<Parsed<TicketStatus>> {
    let key = key.trim();
    (!key.is_empty()).then(|| {
        TicketStatus::from_key(key).ok_or_else(|| {
            let mut errors = FieldErrors::new();
            errors.add("status", "Unknown status.");
            errors
        })
    })
}

async fn reply(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(reference): Path<String>,
    request: Request,
) -> WebResult<Response> {
    let key = path_ticket(&reference)?;
    let form = MessageForm::read(&state.app, &session.actor, request).await?;
    let fields: ReplyForm = form.fields()?;
    let input = reply_input(&fields, form.files);
    let typed = Some((fields.body.as_str(), input.is_note));
    let outcome = if form.file_errors.is_empty() {
        let notice = if input.is_note { "noted" } else { "sent" };
        state
            .app
            .reply_to_ticket(&session.caller(), &key, &input)
            .await
            .map(|_| format!("/agent/tickets/{reference}?notice={notice}"))
    } else {
        let mut errors = form.file_errors;
        errors.add(
            "attachments",
            "Nothing was sent: pick the files you want to attach again, then send.",
        );
        Err(AppError::Invalid(errors))
    };
    answer_ticket_form(&state, &session, &key, outcome, typed).await
}

/// The reply box as it was when the agent picked a snippet.
#[derive(Debug, Default, Deserialize)]
struct SnippetPick {
    #[serde(default)]
    body: String,
    #[serde(default)]
    kind: String,
}

/// A snippet filled in for this ticket: as JSON for the reply box's
/// script (`Accept: application/json`), otherwise (no script) the ticket
/// page again with the snippet added to what the reply box held.
async fn insert_snippet(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path((reference, snippet_id)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    HtmlForm(pick): HtmlForm<SnippetPick>,
) -> WebResult<Response> {
    let key = path_ticket(&reference)?;
    let filled = state
        .app
        .fill_snippet(&session.actor, &key, path_id(&snippet_id)?)
        .await;
    let wants_json = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"));
    if wants_json {
        let text = filled?;
        return Ok(axum::Json(serde_json::json!({ "text": text })).into_response());
    }
    let is_note = pick.kind == "note";
    match filled {
        Ok(text) => {
            let body = if pick.body.trim().is_empty() {
                text
            } else {
                format!("{}\n\n{text}", pick.body.trim_end())
            };
            ticket_page(
                &state,
                &session,
                &key,
                Some((&body, is_note)),
                FieldErrors::new(),
            )
            .await
        }
        Err(AppError::Invalid(errors)) => {
            ticket_page(&state, &session, &key, Some((&pick.body, is_note)), errors).await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
struct MergeForm {
    #[serde(default)]
    into: String,
}
/// The merge form's question, asked before anything moves.
#[derive(Debug, Default, Deserialize)]
struct MergeQuestion {
    #[serde(default)]
    into: String,
}

#[derive(Template)]
#[template(path = "agent/merge_confirm.html")]
struct MergeConfirmPage {
    chrome: Chrome,
    source: ferrodesk_app::TicketRecord,
    target: ferrodesk_app::TicketRecord,
}

/// Shows both tickets of a merge, so the agent confirms what goes where.
async fn confirm_merge(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(reference): Path<String>,
    Query(question): Query<MergeQuestion>,
) -> WebResult<Response> {
    let key = path_ticket(&reference)?;
    match state
        .app
        .merge_preview(&session.actor, &key, &question.into)
        .await
    {
        Ok((source, target)) => render(&MergeConfirmPage {
            chrome: Chrome::for_session(&session),
            source,
            target,
        }),
        Err(error) => answer_ticket_form(&state, &session, &key, Err(error), None).await,
    }
}

async fn merge(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(reference): Path<String>,
    HtmlForm(fields): HtmlForm<MergeForm>,
) -> WebResult<Response> {
    let key = path_ticket(&reference)?;
    let outcome = state
        .app
        .merge_ticket(&session.caller(), &key, fields.into.as_str())
        .await
        .map(|target| format!("/agent/tickets/{target}?notice=merged"));
    answer_ticket_form(&state, &session, &key, outcome, None).await
}

/// Runs an action on the ticket a page's path names and answers as the
/// ticket's forms do: back to the ticket with `notice`, or the page again
/// with why it was refused.
async fn on_ticket<Action>(
    (state, session): (&AppState, &Session),
    reference: &str,
    notice: &str,
    action: impl FnOnce(TicketKey) -> Action,
) -> WebResult<Response>
where
    Action: std::future::Future<Output = Result<(), AppError>>,
{
    let key = path_ticket(reference)?;
    let outcome = action(key.clone())
        .await
        .map(|()| format!("/agent/tickets/{reference}?notice={notice}"));
    answer_ticket_form(state, session, &key, outcome, None).await
}

#[derive(Debug, Default, Deserialize)]
struct LockForm {
    #[serde(default)]
    lock: String,
}
async fn lock(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(reference): Path<String>,
    HtmlForm(fields): HtmlForm<LockForm>,
) -> WebResult<Response> {
    let locking = fields.lock.as_str() == "1";
    let notice = if locking { "locked" } else { "unlocked" };
    let (app, actor) = (&state.app, &session.actor);
    on_ticket((&state, &session), &reference, notice, |key| async move {
        app.lock_ticket(actor, &key, locking).await
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
struct AddCcForm {
    #[serde(default)]
    cc: String,
}
async fn add_cc(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(reference): Path<String>,
    HtmlForm(fields): HtmlForm<AddCcForm>,
) -> WebResult<Response> {
    let (app, caller) = (&state.app, session.caller());
    on_ticket(
        (&state, &session),
        &reference,
        "cc_added",
        |key| async move { app.add_ticket_cc(&caller, &key, fields.cc.as_str()).await },
    )
    .await
}

async fn revoke_links(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(reference): Path<String>,
) -> WebResult<Response> {
    let (app, caller) = (&state.app, session.caller());
    on_ticket(
        (&state, &session),
        &reference,
        "links_revoked",
        |key| async move { app.revoke_ticket_links(&caller, &key).await },
    )
    .await
}

async fn remove_cc(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path((reference, person_id)): Path<(String, String)>,
) -> WebResult<Response> {
    let person_id = path_id(&person_id)?;
    let (app, caller) = (&state.app, session.caller());
    on_ticket(
        (&state, &session),
        &reference,
        "cc_removed",
        |key| async move { app.remove_ticket_cc(&caller, &key, person_id).await },
    )
    .await
}

async fn download(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path((reference, attachment_id)): Path<(String, String)>,
) -> WebResult<Response> {
    let attachment_id = path_id(&attachment_id)?;
    let download = state
        .app
        .attachment_for_agent(&session.actor, &path_ticket(&reference)?, attachment_id)
        .await?;
    crate::downloads::serve(download).await
}

/// An id picked from a list; empty for none.
fn optional_id(text: &str, field: &'static str) -> Parsed<Option<i64>> {
    match text.trim() {
        "" => Ok(None),
        text => text.parse().map(Some).map_err(|_| {
            let mut errors = FieldErrors::new();
            errors.add(field, "Choose from the list.");
            errors
        }),
    }
}

/// The properties form as the use case takes it: every property, every
/// custom field.
/// The properties form as sent: every property and every custom field.
#[derive(Debug, Default, Deserialize)]
struct PropertiesForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    urgency: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    agent: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    labels: String,
    /// The `field_<id>` inputs (and the CSRF token).
    #[serde(flatten)]
    others: BTreeMap<String, OneOrMany>,
}

fn properties_change(fields: &PropertiesForm) -> TicketChange {
    let department = optional_id(&fields.department, "department");
    TicketChange {
        status: Some(TicketStatus::from_key(&fields.status).ok_or_else(|| {
            let mut errors = FieldErrors::new();
            errors.add("status", "Unknown status.");
            errors
        })),
        urgency: Some(parsed("urgency", Urgency::parse(&fields.urgency))),
        // No department sent keeps the ticket where it is.
        department_id: department.transpose(),
        agent_id: Some(optional_id(&fields.agent, "agent")),
        team_id: Some(optional_id(&fields.team, "team")),
        priority_id: Some(optional_id(&fields.priority, "priority")),
        labels: Some(parsed("labels", Labels::parse_list(&fields.labels))),
        fields: FieldValues::Complete(custom_field_values(&fields.others)),
    }
}

async fn change(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(reference): Path<String>,
    HtmlForm(fields): HtmlForm<PropertiesForm>,
) -> WebResult<Response> {
    let (app, caller) = (&state.app, session.caller());
    on_ticket((&state, &session), &reference, "saved", |key| async move {
        app.change_ticket(&caller, &key, &properties_change(&fields))
            .await
            .map(|_| ())
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
struct FollowForm {
    #[serde(default)]
    following: String,
}
async fn follow(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(reference): Path<String>,
    HtmlForm(fields): HtmlForm<FollowForm>,
) -> WebResult<Response> {
    let following = fields.following.as_str() == "1";
    state
        .app
        .follow_ticket(&session.actor, &path_ticket(&reference)?, following)
        .await?;
    Ok(Redirect::to(&format!("/agent/tickets/{reference}")).into_response())
}

/// The list as CSV, with the list's own query string (view, filters,
/// search, order; a saved view by `saved=`), streamed a page at a time.
async fn export_csv(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Query(parameters): Query<ListParameters>,
) -> WebResult<Response> {
    use ferrodesk_app::csv;
    let (parameters, _) = with_saved_view(&state, &session, parameters).await?;
    let query = parameters.query()?;
    let export = state
        .app
        .start_ticket_export(&session.caller(), &query)
        .await?;
    let header = format!(
        "{}{}",
        csv::BYTE_ORDER_MARK,
        csv::line(&ferrodesk_app::TICKET_EXPORT_COLUMNS)
    );
    let rows = futures_util::stream::unfold(
        (state.app.clone(), export, Some(header)),
        |(app, mut export, header)| async move {
            if let Some(header) = header {
                return Some((Ok(header), (app, export, None)));
            }
            match app.next_export_rows(&mut export).await {
                Ok(Some(rows)) => {
                    let text: String = rows.iter().map(|row| csv::line(row)).collect();
                    Some((Ok(text), (app, export, None)))
                }
                Ok(None) => None,
                Err(error) => {
                    tracing::error!(%error, "a ticket export stopped");
                    Some((
                        Err(std::io::Error::other("the export stopped")),
                        (app, export, None),
                    ))
                }
            }
        },
    );
    let file = format!(
        "attachment; filename=\"tickets-{}.csv\"",
        ferrodesk_core::Timestamp(state.app.now().millis())
            .rfc3339()
            .chars()
            .take(10)
            .collect::<String>()
    );
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_owned(),
            ),
            (axum::http::header::CONTENT_DISPOSITION, file),
            (axum::http::header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        axum::body::Body::from_stream(rows),
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
struct SlaForm {
    /// An SLA's id, or empty for "by the SLAs' conditions".
    #[serde(default)]
    sla: String,
}

async fn choose_sla(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    Path(reference): Path<String>,
    HtmlForm(fields): HtmlForm<SlaForm>,
) -> WebResult<Response> {
    let sla_id = match fields.sla.trim() {
        "" => None,
        id => Some(
            id.parse::<i64>()
                .map_err(|_| ferrodesk_app::AppError::invalid("sla", "Choose one of the SLAs."))?,
        ),
    };
    state
        .app
        .choose_ticket_sla(&session.caller(), &path_ticket(&reference)?, sla_id)
        .await?;
    Ok(Redirect::to(&format!("/agent/tickets/{reference}#sla")).into_response())
}

/// The new-ticket form as typed, to show again with its errors.
#[derive(Debug, Clone, Default, Deserialize)]
struct NewTicketForm {
    #[serde(default)]
    requester_email: String,
    #[serde(default)]
    requester_name: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    message: String,
    #[serde(default, rename = "department")]
    department_id: String,
    #[serde(default)]
    urgency: String,
    #[serde(default)]
    labels: String,
    /// `1` when the user is to be mailed a receipt (a checkbox: absent
    /// when unticked).
    #[serde(default)]
    send_receipt: String,
    /// The `field_<id>` inputs (and the CSRF token).
    #[serde(flatten)]
    others: BTreeMap<String, OneOrMany>,
}

impl NewTicketForm {
    /// The custom fields as typed.
    fn fields(&self) -> Vec<(String, String)> {
        custom_field_values(&self.others)
    }

    /// The ticket as the use case takes it.
    fn parse(&self) -> NewTicket {
        let requester =
            parsed("requester_email", Email::parse(&self.requester_email)).and_then(|email| {
                let name = match self.requester_name.trim() {
                    "" => None,
                    name => Some(parsed("requester_name", PersonName::parse(name))?),
                };
                Ok(Requester::Address { email, name })
            });
        NewTicket {
            requester,
            subject: parsed("subject", Subject::parse(&self.subject)),
            message: parsed("body", MessageText::parse(&self.message)),
            department_id: optional_id(&self.department_id, "department"),
            urgency: parsed("urgency", Urgency::parse(&self.urgency)),
            labels: parsed("labels", Labels::parse_list(&self.labels)),
            fields: FieldValues::Complete(self.fields()),
            channel: Channel::Agent,
            send_receipt: self.send_receipt == "1",
        }
    }
}

#[derive(Template)]
#[template(path = "agent/new_ticket.html")]
struct NewTicketPage<'a> {
    chrome: Chrome,
    csrf_token: &'a str,
    departments: Vec<DepartmentNode>,
    fields: Vec<FieldView>,
    input: NewTicketForm,
    errors: FieldErrors,
}

async fn new_ticket_page(
    state: &AppState,
    session: &Session,
    input: NewTicketForm,
    errors: FieldErrors,
) -> WebResult<Response> {
    let context = state.app.agent_context(&session.actor).await?;
    let departments = state
        .app
        .departments(&session.actor)
        .await?
        .into_iter()
        .filter(|node| context.effective.department_access(node.id).is_some())
        .collect();
    let has_errors = !errors.is_empty();
    let fields = fields_as_sent(
        state.app.ticket_fields(&session.actor).await?,
        &input.fields(),
    );
    render_form(
        &NewTicketPage {
            chrome: Chrome::for_session(session),
            csrf_token: &session.csrf_token,
            departments,
            fields,
            input,
            errors,
        },
        has_errors,
    )
}

async fn new_form(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
) -> WebResult<Response> {
    let input = NewTicketForm {
        urgency: "1".to_owned(),
        send_receipt: "1".to_owned(),
        ..NewTicketForm::default()
    };
    new_ticket_page(&state, &session, input, FieldErrors::new()).await
}

async fn create(
    State(state): State<AppState>,
    AgentSession(session): AgentSession,
    HtmlForm(form): HtmlForm<NewTicketForm>,
) -> WebResult<Response> {
    match state
        .app
        .create_ticket_for_user(&session.caller(), &form.parse())
        .await
    {
        Ok(created) => Ok(Redirect::to(&format!(
            "/agent/tickets/{}?notice=created",
            created.ticket.reference
        ))
        .into_response()),
        Err(AppError::Invalid(errors)) => new_ticket_page(&state, &session, form, errors).await,
        Err(other) => Err(other.into()),
    }
}
