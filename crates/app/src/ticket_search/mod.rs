//! Ticket search for agents (the search page, the search box on every
//! agent page, `GET /api/v2/search`): the query language read by `query`,
//! its names (departments, agents, teams, organizations) resolved here,
//! and the search run by the store with the agent's visibility inside the
//! query, so results, counts and snippets only ever come from tickets the
//! agent may see. Snippets are cut from the matching message of each
//! result shown.

mod query;

use std::collections::HashMap;

use ferrodesk_core::{Email, Label, Labels, TicketRef, TicketStatus};
use ferrodesk_store::{
    Comparison, SearchCondition, SearchConstraint, SearchCounting, SearchFilter, SearchOrder,
    SearchPosition, TextQuery, TextTerm, TicketFilter, TicketRecord, TicketSearch,
};

pub use query::{FilterKey, ParsedQuery, parse_query};

use crate::error::parse_keyset_cursor;
use crate::tickets::{TicketCountKey, TicketKey};
use crate::{Actor, App, AppError, AppResult};

/// Results per page.
pub const SEARCH_PAGE_SIZE: i64 = 25;
/// Searches that are not ranked count their tickets up to this many and
/// say "200+" beyond: counting further costs more than the page itself
/// (5 ms for a thousand at a million tickets).
pub const SEARCH_COUNT_CAP: i64 = 200;
/// Characters of context a snippet shows around its first match.
const SNIPPET_CHARS: usize = 220;

/// What the agent asked for: the query and the page.
#[derive(Debug, Clone, Default)]
pub struct TicketSearchInput {
    pub query: String,
    /// Newest-first pages: the cursor of the page before (its last
    /// result's "updated_at.id", or its id when listed by opening).
    pub after: Option<String>,
    /// Ranked pages: results to skip.
    pub offset: i64,
}

/// One result.
#[derive(Debug, Clone)]
pub struct TicketSearchHit {
    pub ticket: TicketRecord,
    /// The text around the first match, HTML-escaped, matches in `<mark>`;
    /// empty when the match is in the subject or requester only.
    pub snippet_html: String,
    /// The snippet comes from an internal note.
    pub snippet_from_note: bool,
    pub labels: Labels,
}

/// A page of results.
#[derive(Debug, Clone, Default)]
pub struct TicketSearchPage {
    pub hits: Vec<TicketSearchHit>,
    /// Tickets found; with `more_than_total`, at least that many.
    pub total: i64,
    pub more_than_total: bool,
    /// Ranked by relevance; else newest first (the most recently updated
    /// for filters alone, the most recently opened for words).
    pub ranked: bool,
    /// The next page's `after`, or `offset`, when there is one.
    pub next_after: Option<String>,
    pub next_offset: Option<i64>,
    /// What the query could not use ("No department is called X").
    pub notices: Vec<String>,
    /// A reference typed alone, of a ticket the agent may see: go there.
    pub jump_to: Option<TicketRef>,
}

/// A query's filters resolved against the database.
struct Resolved {
    search: TicketSearch,
    notices: Vec<String>,
}

impl App {
    /// Searches the tickets the agent may see.
    pub async fn search_tickets(
        &self,
        actor: &Actor,
        input: &TicketSearchInput,
    ) -> AppResult<TicketSearchPage> {
        let context = self.agent_context(actor).await?;
        let typed = input.query.trim();
        if let Ok(reference) = TicketRef::parse(typed)
            && let Ok((ticket, _)) = self
                .visible_ticket(&context, &TicketKey::Reference(reference))
                .await
        {
            return Ok(TicketSearchPage {
                jump_to: Some(ticket.reference),
                ..TicketSearchPage::default()
            });
        }
        let parsed = parse_query(typed);
        if parsed.words.is_empty() && parsed.excluded_words.is_empty() && parsed.filters.is_empty()
        {
            return Ok(TicketSearchPage::default());
        }
        // Read before the search: a change made meanwhile moves the mark,
        // so the count kept below is made again next time.
        let mark = self.ticket_change_mark().await?;
        let Resolved { search, notices } = self.resolve_query(&context, &parsed).await?;
        let visibility = context.visibility();
        let count_key = TicketCountKey::for_search(&visibility, &search, SEARCH_COUNT_CAP);
        let known_total = count_key
            .as_ref()
            .and_then(|key| self.kept_search_count(key, mark));
        let cursor = input.after.as_deref().filter(|cursor| !cursor.is_empty());
        let (after, after_id) = match cursor {
            Some(cursor) if !cursor.contains('.') => (
                None,
                Some(
                    cursor
                        .parse::<i64>()
                        .map_err(|_| AppError::unresolved("after", "That page does not exist."))?,
                ),
            ),
            cursor => (parse_keyset_cursor(cursor)?, None),
        };
        let position = SearchPosition {
            offset: input.offset.clamp(0, ferrodesk_store::RANKED_MATCHES),
            after,
            after_id,
            limit: SEARCH_PAGE_SIZE,
        };
        let found = self
            .store()
            .tickets()
            .search_tickets(
                &visibility,
                &search,
                position,
                SearchCounting {
                    known_total,
                    ..SearchCounting::caps(ferrodesk_store::RANKED_MATCHES, SEARCH_COUNT_CAP)
                },
            )
            .await?;
        // A ranked count is exact and costs nothing more than the ranking;
        // the capped count of the other orders is kept while no ticket
        // changes (the next page, the same search again).
        if let (Some(key), None, false) =
            (count_key, known_total, found.order == SearchOrder::Ranked)
        {
            self.keep_search_count(key, mark, found.total);
        }
        let snippets = self.snippets(&found.tickets, &search.text).await?;
        let ids: Vec<i64> = found.tickets.iter().map(|ticket| ticket.id).collect();
        let mut labels = self.store().tickets().labels_of_tickets(&ids).await?;
        let shown = i64::try_from(found.tickets.len()).unwrap_or(i64::MAX);
        let full_page = shown == SEARCH_PAGE_SIZE;
        let (next_after, next_offset) = match (found.order, found.tickets.last()) {
            (SearchOrder::Ranked, Some(_)) if position.offset + shown < found.total => {
                (None, Some(position.offset + shown))
            }
            (SearchOrder::Updated, Some(last)) if full_page => {
                (Some(format!("{}.{}", last.updated_at, last.id)), None)
            }
            (SearchOrder::Opened, Some(last)) if full_page => (Some(last.id.to_string()), None),
            _ => (None, None),
        };
        let ranked = found.order == SearchOrder::Ranked;
        let hits = found
            .tickets
            .into_iter()
            .map(|ticket| {
                let (snippet_html, snippet_from_note) =
                    snippets.get(&ticket.id).cloned().unwrap_or_default();
                TicketSearchHit {
                    labels: labels.remove(&ticket.id).unwrap_or_default(),
                    ticket,
                    snippet_html,
                    snippet_from_note,
                }
            })
            .collect();
        Ok(TicketSearchPage {
            hits,
            total: found.total,
            more_than_total: !ranked && found.total >= SEARCH_COUNT_CAP,
            ranked,
            next_after,
            next_offset,
            notices,
            jump_to: None,
        })
    }

    /// A list's search (a list or saved view made from a search) as a
    /// condition of the list, with what it could not use; `None` when it
    /// holds no words or filters. The list keeps its own statuses.
    pub(crate) async fn list_search(
        &self,
        context: &crate::tickets::AgentContext,
        text: &str,
    ) -> AppResult<(Option<SearchConstraint>, Vec<String>)> {
        let parsed = parse_query(text.trim());
        if parsed.words.is_empty() && parsed.excluded_words.is_empty() && parsed.filters.is_empty()
        {
            return Ok((None, Vec::new()));
        }
        let Resolved { search, notices } = self.resolve_query(context, &parsed).await?;
        Ok((
            Some(SearchConstraint {
                filters: search.filters,
                text: search.text,
            }),
            notices,
        ))
    }

    /// The query's filters as the store takes them; a name nothing has
    /// matches nothing (and says so), rather than being dropped.
    async fn resolve_query(
        &self,
        context: &crate::tickets::AgentContext,
        parsed: &ParsedQuery,
    ) -> AppResult<Resolved> {
        let mut notices = Vec::new();
        let mut filters = Vec::new();
        let mut notes_only = false;
        let mut statuses: Vec<TicketStatus> = TicketStatus::VISIBLE.to_vec();
        let now = self.now().millis();
        // Days in date filters are the reader's own.
        let dated = parsed.filters.iter().any(|raw| {
            matches!(
                raw.key,
                FilterKey::Created | FilterKey::Updated | FilterKey::Resolved | FilterKey::Reopened
            )
        });
        let zone = if dated {
            self.zone_of_person(context.agent_id).await?.time_zone()
        } else {
            jiff::tz::TimeZone::UTC
        };
        for raw in &parsed.filters {
            let value = raw.value.as_str();
            let mut add = |condition: SearchCondition| {
                filters.push(SearchFilter {
                    condition,
                    negated: raw.negated,
                });
            };
            match raw.key {
                FilterKey::Status => {
                    let named = status_names(value);
                    if named.is_empty() {
                        notices.push(format!("No status is called \u{201c}{value}\u{201d}."));
                    }
                    if named.contains(&TicketStatus::Spam) && !raw.negated {
                        statuses.push(TicketStatus::Spam);
                    }
                    add(SearchCondition::Statuses(named));
                }
                FilterKey::Department => {
                    let ids = self.department_ids_named(value).await?;
                    if ids.is_empty() {
                        notices.push(format!("No department is called \u{201c}{value}\u{201d}."));
                    }
                    add(SearchCondition::Departments(ids));
                }
                FilterKey::Agent => match value.to_lowercase().as_str() {
                    "me" => add(SearchCondition::Agent(Some(context.agent_id))),
                    "none" | "nobody" | "unassigned" => add(SearchCondition::Agent(None)),
                    _ => match self.agent_named(value).await? {
                        Some(id) => add(SearchCondition::Agent(Some(id))),
                        None => {
                            notices.push(format!("No agent is called \u{201c}{value}\u{201d}."));
                            add(SearchCondition::Statuses(Vec::new()));
                        }
                    },
                },
                FilterKey::Team => {
                    let ids = self.team_ids_named(value).await?;
                    if ids.is_empty() {
                        notices.push(format!("No team is called \u{201c}{value}\u{201d}."));
                    }
                    add(SearchCondition::Teams(ids));
                }
                FilterKey::Label => match Label::parse(value) {
                    Ok(Some(label)) => add(SearchCondition::Label(label.as_str().to_owned())),
                    _ => notices.push(format!("\u{201c}{value}\u{201d} is not a label.")),
                },
                FilterKey::From => match from_condition(value) {
                    Some(condition) => add(condition),
                    None => notices.push(format!(
                        "from: takes an address or a domain, not \u{201c}{value}\u{201d}."
                    )),
                },
                FilterKey::Organization => {
                    let ids = match self.store().directory().find_organization(value).await? {
                        Some(organization) => vec![organization.id],
                        None => {
                            notices.push(format!(
                                "No organization is called \u{201c}{value}\u{201d}."
                            ));
                            Vec::new()
                        }
                    };
                    add(SearchCondition::Organizations(ids));
                }
                FilterKey::Urgency => {
                    let (comparison, number) = query::comparison(value);
                    match number.parse::<i64>() {
                        Ok(number) if (1..=10).contains(&number) => {
                            add(SearchCondition::Urgency(comparison, number));
                        }
                        _ => notices.push("urgency: takes 1 to 10, as in urgency:>5.".to_owned()),
                    }
                }
                FilterKey::Reopened => match query::date_bounds(value, now, &zone) {
                    Some(bounds) => {
                        let (mut from, mut until) = (None, None);
                        for (comparison, millis) in bounds {
                            match comparison {
                                Comparison::Below | Comparison::AtMost => until = Some(millis),
                                _ => from = Some(millis),
                            }
                        }
                        add(SearchCondition::Reopened { from, until });
                    }
                    None => notices.push(format!(
                        "Dates are written 2026-01-31, >2026-01-31 or <7d, not \u{201c}{value}\u{201d}."
                    )),
                },
                FilterKey::Created | FilterKey::Updated | FilterKey::Resolved => match query::date_bounds(value, now, &zone) {
                    Some(bounds) => {
                        for (comparison, millis) in bounds {
                            add(match raw.key {
                                FilterKey::Created => SearchCondition::Created(comparison, millis),
                                FilterKey::Resolved => SearchCondition::Resolved(comparison, millis),
                                _ => SearchCondition::Updated(comparison, millis),
                            });
                        }
                    }
                    None => notices.push(format!(
                        "Dates are written 2026-01-31, >2026-01-31 or <7d, not \u{201c}{value}\u{201d}."
                    )),
                },
                FilterKey::Channel => match value.to_lowercase().as_str() {
                    "web" | "help-center" | "portal" => add(SearchCondition::Channel("web".into())),
                    "email" | "mail" => add(SearchCondition::Channel("email".into())),
                    "api" => add(SearchCondition::Channel("api".into())),
                    "agent" => add(SearchCondition::Channel("agent".into())),
                    "chat" => add(SearchCondition::Channel("chat".into())),
                    _ => notices.push(format!(
                        "channel: takes web, email, api, agent or chat, not \u{201c}{value}\u{201d}."
                    )),
                },
                FilterKey::Has => match value.to_lowercase().as_str() {
                    "attachment" | "attachments" | "file" | "files" => {
                        add(SearchCondition::HasAttachment);
                    }
                    _ => notices.push("has: takes attachment.".to_owned()),
                },
                FilterKey::Sla => match value.to_lowercase().as_str() {
                    "warning" | "warn" => add(SearchCondition::SlaWarning(self.now().millis())),
                    "failed" | "missed" | "breached" => {
                        add(SearchCondition::SlaFailed(self.now().millis()));
                    }
                    _ => notices.push("sla: takes warning or failed.".to_owned()),
                },
                FilterKey::Is => match value.to_lowercase().as_str() {
                    "note" | "notes" if !raw.negated => notes_only = true,
                    "unassigned" => add(SearchCondition::Agent(None)),
                    "open" => add(SearchCondition::Statuses(TicketStatus::open().collect())),
                    _ => notices.push("is: takes note, open or unassigned.".to_owned()),
                },
            }
        }
        let filters = merged_reopened(filters);
        Ok(Resolved {
            search: TicketSearch {
                base: TicketFilter {
                    statuses,
                    ..TicketFilter::default()
                },
                filters,
                text: TextQuery {
                    all_of: parsed.words.clone(),
                    none_of: parsed.excluded_words.clone(),
                    notes_only,
                },
            },
            notices,
        })
    }

    /// Departments by id or name (any case), with their sub-departments.
    async fn department_ids_named(&self, name: &str) -> AppResult<Vec<i64>> {
        let directory = self.shared_directory().await?;
        let departments = &directory.departments;
        let wanted = name.trim().to_lowercase();
        let mut ids: Vec<i64> = departments
            .iter()
            .filter(|department| {
                department.name.to_lowercase() == wanted || department.id.to_string() == wanted
            })
            .map(|department| department.id)
            .collect();
        let mut index = 0;
        while index < ids.len() {
            let parent = ids[index];
            for child in departments.iter().filter(|d| d.parent_id == Some(parent)) {
                if !ids.contains(&child.id) {
                    ids.push(child.id);
                }
            }
            index += 1;
        }
        Ok(ids)
    }

    /// An agent by address, or by name (whole, or the first name alone
    /// when only one agent has it).
    async fn agent_named(&self, name: &str) -> AppResult<Option<i64>> {
        let wanted = name.trim().to_lowercase();
        let agents = self.store().people().list_agents().await?;
        if let Some(agent) = agents.iter().find(|agent| {
            agent.name.to_lowercase() == wanted || agent.email.to_lowercase() == wanted
        }) {
            return Ok(Some(agent.id));
        }
        let first_named: Vec<i64> = agents
            .iter()
            .filter(|agent| {
                agent
                    .name
                    .split_whitespace()
                    .next()
                    .is_some_and(|first| first.to_lowercase() == wanted)
            })
            .map(|agent| agent.id)
            .collect();
        Ok(match first_named.as_slice() {
            [only] => Some(*only),
            _ => None,
        })
    }

    async fn team_ids_named(&self, name: &str) -> AppResult<Vec<i64>> {
        let wanted = name.trim().to_lowercase();
        Ok(self
            .shared_directory()
            .await?
            .teams
            .iter()
            .filter(|team| team.name.to_lowercase() == wanted)
            .map(|team| team.id)
            .collect())
    }

    /// For each ticket, the text around the first match in its messages
    /// (notes only when the search is held to notes).
    async fn snippets(
        &self,
        tickets: &[TicketRecord],
        text: &TextQuery,
    ) -> AppResult<HashMap<i64, (String, bool)>> {
        let mut snippets = HashMap::new();
        if text.all_of.is_empty() || tickets.is_empty() {
            return Ok(snippets);
        }
        let ids: Vec<i64> = tickets.iter().map(|ticket| ticket.id).collect();
        for (ticket_id, is_note, body) in self.store().tickets().message_texts(&ids, text).await? {
            // The store reads notes alone when the search is held to them.
            if snippets.contains_key(&ticket_id) {
                continue;
            }
            if let Some(html) = snippet_html(&body, &text.all_of) {
                snippets.insert(ticket_id, (html, is_note));
            }
        }
        Ok(snippets)
    }
}

/// Statuses a `status:` value names: keys, "open", "closed", "any";
/// several separated by commas.
fn status_names(value: &str) -> Vec<TicketStatus> {
    let mut statuses = Vec::new();
    for name in value.split(',') {
        let name = name.trim().to_lowercase().replace([' ', '-'], "_");
        let named: Vec<TicketStatus> = match name.as_str() {
            "open" => TicketStatus::open().collect(),
            "closed" => vec![TicketStatus::Resolved, TicketStatus::Archived],
            "any" | "all" => TicketStatus::VISIBLE.to_vec(),
            "spam" => vec![TicketStatus::Spam],
            key => TicketStatus::VISIBLE
                .into_iter()
                .filter(|status| status.key() == key)
                .collect(),
        };
        for status in named {
            if !statuses.contains(&status) {
                statuses.push(status);
            }
        }
    }
    statuses
}

/// `from:` with an address or a domain.
fn from_condition(value: &str) -> Option<SearchCondition> {
    let value = value.trim();
    if value.contains('@') && !value.starts_with('@') {
        return Email::parse(value)
            .ok()
            .map(|email| SearchCondition::FromAddress(email.normalized()));
    }
    let domain = value.trim_start_matches('@').to_lowercase();
    let plain = !domain.is_empty()
        && domain.len() <= 253
        && domain.contains('.')
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    plain.then_some(SearchCondition::FromDomain(domain))
}

/// The stretch of `body` around the first word that matches a term, with
/// every matching word marked; `None` when no word matches.
fn snippet_html(body: &str, terms: &[TextTerm]) -> Option<String> {
    let matches = |word: &str| {
        let word = word.to_lowercase();
        terms.iter().any(|term| {
            term.words.iter().any(|wanted| {
                if term.prefix {
                    word.starts_with(wanted.as_str())
                } else {
                    word == *wanted
                }
            })
        })
    };
    // Word boundaries, by byte offset.
    let mut words = Vec::new();
    let mut start = None;
    for (index, character) in body.char_indices() {
        match (character.is_alphanumeric(), start) {
            (true, None) => start = Some(index),
            (false, Some(begun)) => {
                words.push((begun, index));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(begun) = start {
        words.push((begun, body.len()));
    }
    let first = words
        .iter()
        .find(|(from, to)| matches(&body[*from..*to]))?
        .0;
    // About a third of the window before the match.
    let mut window_start = body[..first]
        .char_indices()
        .rev()
        .nth(SNIPPET_CHARS / 3)
        .map_or(0, |(index, _)| index);
    if let Some((index, _)) = body[window_start..first]
        .char_indices()
        .find(|(_, c)| c.is_whitespace())
        .filter(|_| window_start > 0)
    {
        window_start += index + 1;
    }
    let window_end = body[window_start..]
        .char_indices()
        .nth(SNIPPET_CHARS)
        .map_or(body.len(), |(index, _)| window_start + index);
    let mut html = String::new();
    if window_start > 0 {
        html.push('\u{2026}');
    }
    let mut cursor = window_start;
    for (from, to) in words
        .iter()
        .filter(|(from, to)| *from >= window_start && *to <= window_end)
    {
        if matches(&body[*from..*to]) {
            html.push_str(&crate::markdown::escape_html(&one_line(
                &body[cursor..*from],
            )));
            html.push_str("<mark>");
            html.push_str(&crate::markdown::escape_html(&body[*from..*to]));
            html.push_str("</mark>");
            cursor = *to;
        }
    }
    html.push_str(&crate::markdown::escape_html(&one_line(
        &body[cursor..window_end],
    )));
    if window_end < body.len() {
        html.push('\u{2026}');
    }
    Some(html)
}

/// Line breaks and runs of spaces as one space.
fn one_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len());
    let mut space = false;
    for character in text.chars() {
        if character.is_whitespace() {
            if !space {
                line.push(' ');
            }
            space = true;
        } else {
            line.push(character);
            space = false;
        }
    }
    line
}

/// `reopened:>=A reopened:<=B` asks for one reopening between the two:
/// the bounds of every `reopened:` filter that is not negated are one
/// condition, so two reopenings outside the range do not match together.
fn merged_reopened(filters: Vec<SearchFilter>) -> Vec<SearchFilter> {
    let (mut from, mut until, mut any) = (None::<i64>, None::<i64>, false);
    let mut kept = Vec::with_capacity(filters.len());
    for filter in filters {
        match filter.condition {
            SearchCondition::Reopened {
                from: start,
                until: end,
            } if !filter.negated => {
                any = true;
                from = from.max(start);
                until = match (until, end) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            _ => kept.push(filter),
        }
    }
    if any {
        kept.push(SearchFilter {
            condition: SearchCondition::Reopened { from, until },
            negated: false,
        });
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str) -> TextTerm {
        TextTerm {
            words: vec![text.to_owned()],
            prefix: true,
        }
    }

    #[test]
    fn snippets_mark_matches_and_escape_the_rest() {
        let body = "Hello <b>team</b>,\n\nthe printer on floor 3 jams; printers elsewhere work.";
        let html = snippet_html(body, &[word("printer")]).unwrap();
        assert!(
            html.contains("the <mark>printer</mark> on floor 3"),
            "{html}"
        );
        assert!(html.contains("<mark>printers</mark>"));
        assert!(html.contains("&lt;b&gt;team&lt;/b&gt;") && !html.contains("<b>"));
        assert!(snippet_html(body, &[word("toner")]).is_none());
        let long = format!("{} needle {}", "hay ".repeat(200), "straw ".repeat(200));
        let html = snippet_html(&long, &[word("needle")]).unwrap();
        assert!(html.starts_with('\u{2026}') && html.ends_with('\u{2026}'));
        assert!(html.chars().count() < 400, "{}", html.chars().count());
    }

    #[test]
    fn statuses_and_senders_are_named() {
        assert_eq!(status_names("open").len(), 3);
        assert_eq!(
            status_names("resolved,archived"),
            vec![TicketStatus::Resolved, TicketStatus::Archived]
        );
        assert_eq!(status_names("deleted"), Vec::<TicketStatus>::new());
        assert_eq!(
            from_condition("Ines@Example.net"),
            Some(SearchCondition::FromAddress("ines@example.net".into()))
        );
        assert_eq!(
            from_condition("@example.net"),
            Some(SearchCondition::FromDomain("example.net".into()))
        );
        assert_eq!(from_condition("x%_y"), None);
    }
}
