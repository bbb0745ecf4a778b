//! Ticket search: each ticket's words in one full-text document (SQLite
//! FTS5, contentless, with deletes; a weighted `tsvector` with a GIN index
//! on PostgreSQL), rewritten in the transaction of every write that
//! changes them, and a query that applies the agent's visibility and the
//! search's filters inside the database.
//!
//! Queries reach the database as words of letters and digits only, each
//! quoted, so no user text is ever read as query syntax. A query whose
//! words match few tickets (up to `RANKED_MATCHES`) is ranked by relevance
//! (BM25 on SQLite, `ts_rank` on PostgreSQL; a match in the subject,
//! reference, requester or labels weighs most); one matching more is
//! listed newest opened first, read down the index's own (ticket id)
//! order and stopped when the page is full, so a common word costs about
//! a page. Filters alone list the most recently updated first.
//!
//! The search statements are not kept prepared on PostgreSQL: it would
//! settle on one generic plan for every query's words, and how many tickets
//! a word matches decides between reading the GIN index and reading the
//! tickets backwards (a phrase took 3.5 ms with the generic plan, 0.1 ms
//! with its own), except the one search whose plan the words cannot
//! change (see `opened_search`). SQLite keeps them: its plans do not
//! depend on the words.

use ferrodesk_core::TicketStatus;
use sqlx::{Encode, QueryBuilder, Type};

use super::list::{Purpose, like_literal, push_conditions, push_ids};
use super::{TICKET_COLUMNS, TicketFilter, TicketRecord, Visibility};
use crate::backend::{Connected, Connection};
use crate::{StoreResult, on_backend};

/// The most matches a query may have and still be ranked by relevance.
pub const RANKED_MATCHES: i64 = 1_000;
/// How many times the ranking limit PostgreSQL must estimate a query's
/// matches at before they are not counted (its estimates of rare words
/// run high: a number nobody else has is guessed at 5,000).
const SURELY_MANY_FACTOR: i64 = 20;

/// The rows PostgreSQL expects from the top of a plan, from the first line
/// `EXPLAIN` prints ("Seq Scan on … (cost=0.00..135170.59 rows=689818
/// width=4)").
fn estimated_rows(plan_line: &str) -> Option<i64> {
    let after = &plan_line[plan_line.find(" rows=")? + " rows=".len()..];
    let digits = after
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(after.len());
    after[..digits].parse().ok()
}

/// The messages of a ticket a snippet is looked for in, at most (on
/// PostgreSQL; see `message_texts`).
const SNIPPET_CANDIDATES: i64 = 3;

/// The column a search page's rows carry their search's count in.
const TOTAL_COLUMN: &str = "search_total";

/// A page's tickets, and the count its rows carry (`None` without rows).
fn tickets_and_total<R>(rows: &[R]) -> Result<(Vec<TicketRecord>, Option<i64>), sqlx::Error>
where
    R: sqlx::Row,
    TicketRecord: for<'r> sqlx::FromRow<'r, R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + Type<R::Database>,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
{
    let total = rows
        .first()
        .map(|row| row.try_get::<i64, _>(TOTAL_COLUMN))
        .transpose()?;
    let tickets = rows
        .iter()
        .map(<TicketRecord as sqlx::FromRow<'_, R>>::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((tickets, total))
}

/// The most of a ticket's replies (or notes) that is indexed, in bytes.
const INDEXED_TEXT_BYTES: i64 = 400_000;

/// The words of one term: a single word (matched as a prefix when
/// `prefix`) or a phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextTerm {
    /// Lower-case runs of letters and digits; never empty.
    pub words: Vec<String>,
    pub prefix: bool,
}

/// The text part of a search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextQuery {
    /// Every one of these must match.
    pub all_of: Vec<TextTerm>,
    /// None of these may match.
    pub none_of: Vec<TextTerm>,
    /// Match in internal notes only.
    pub notes_only: bool,
}

impl TextQuery {
    pub fn is_empty(&self) -> bool {
        self.all_of.is_empty() && self.none_of.is_empty()
    }
}

/// A comparison in a filter (`urgency:>5`, `created:<2026-01-01`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Below,
    AtMost,
    Equal,
    AtLeast,
    Above,
}

impl Comparison {
    fn operator(self) -> &'static str {
        match self {
            Comparison::Below => " < ",
            Comparison::AtMost => " <= ",
            Comparison::Equal => " = ",
            Comparison::AtLeast => " >= ",
            Comparison::Above => " > ",
        }
    }
}

/// One filter of a search beyond the ticket list's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchCondition {
    Statuses(Vec<TicketStatus>),
    Departments(Vec<i64>),
    /// `None`: unassigned.
    Agent(Option<i64>),
    Teams(Vec<i64>),
    Label(String),
    Organizations(Vec<i64>),
    /// The requester has this address (normalized).
    FromAddress(String),
    /// The requester has an address at this domain (lower case).
    FromDomain(String),
    Urgency(Comparison, i64),
    /// Unix milliseconds.
    Created(Comparison, i64),
    Updated(Comparison, i64),
    /// When it was resolved (only tickets resolved or archived have a
    /// time).
    Resolved(Comparison, i64),
    HasAttachment,
    /// The channel the ticket came through (`web`, `email`, `api`,
    /// `agent`, `chat`).
    Channel(String),
    /// Reopened (a status change from resolved or archived to an open
    /// status) within `[from, until)`, Unix milliseconds; one event
    /// meets both bounds.
    Reopened {
        from: Option<i64>,
        until: Option<i64>,
    },
    /// A running SLA target is past its warning, not yet due (at this
    /// instant, Unix milliseconds).
    SlaWarning(i64),
    /// A running SLA target is past due.
    SlaFailed(i64),
}

/// A condition, or its negation (`-label:vip`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchFilter {
    pub condition: SearchCondition,
    pub negated: bool,
}

/// A search's filters and words as one more condition of a ticket list
/// (a list or saved view made from a search): the list keeps its own
/// order and paging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchConstraint {
    pub filters: Vec<SearchFilter>,
    pub text: TextQuery,
}

/// Appends a list's search condition: its filters, the words that must
/// match and those that must not. Words that could not reach the
/// database safely match nothing.
pub(super) fn push_search_constraint<DB: sqlx::Database>(
    builder: &mut QueryBuilder<DB>,
    search: &SearchConstraint,
) where
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> String: Encode<'t, DB> + Type<DB>,
{
    let postgres = DB::NAME == "PostgreSQL";
    if !safe_words(&search.text.all_of) || !safe_words(&search.text.none_of) {
        builder.push(" AND 1 = 0");
        return;
    }
    push_filters(builder, &search.filters, false);
    if !search.text.all_of.is_empty() {
        if postgres {
            builder.push(
                " AND t.id IN (SELECT ms.ticket_id FROM ticket_search ms \
                 WHERE ms.document @@ to_tsquery('simple', ",
            );
            builder.push_bind(postgres_query(&search.text.all_of, search.text.notes_only));
            builder.push("))");
        } else {
            builder
                .push(" AND t.id IN (SELECT rowid FROM ticket_search WHERE ticket_search MATCH ");
            builder.push_bind(fts5_query(&search.text.all_of, search.text.notes_only));
            builder.push(")");
        }
    }
    push_excluded(builder, &search.text, postgres);
}

/// A whole search: the statuses shown by default (all but spam and
/// deleted, unless a `status:` filter says otherwise) are in `base`.
#[derive(Debug, Clone, Default)]
pub struct TicketSearch {
    pub base: TicketFilter,
    pub filters: Vec<SearchFilter>,
    pub text: TextQuery,
}

/// Which page of results: a position in the ranked list, after the
/// `(updated_at, id)` of the last ticket shown (filters only), or after
/// its id (many words' matches, newest opened first).
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchPosition {
    pub offset: i64,
    pub after: Option<(i64, i64)>,
    pub after_id: Option<i64>,
    pub limit: i64,
}

/// How a search counts what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchCounting {
    /// The most matches a query may have and still be ranked (and counted
    /// exactly): `RANKED_MATCHES` (tests pass less).
    pub ranked_cap: i64,
    /// Pages not ranked count no further than this.
    pub newest_cap: i64,
    /// The count of a page not ranked, already known (kept from an
    /// earlier page while no ticket changed): it is not counted again.
    pub known_total: Option<i64>,
}

impl SearchCounting {
    /// Counting afresh, within these caps.
    pub fn caps(ranked_cap: i64, newest_cap: i64) -> SearchCounting {
        SearchCounting {
            ranked_cap,
            newest_cap,
            known_total: None,
        }
    }
}

/// How a page of results is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchOrder {
    /// Best match first (few matches); paged by offset.
    Ranked,
    /// Most recently updated first (filters only); paged after
    /// `(updated_at, id)`.
    #[default]
    Updated,
    /// Most recently opened first (words with many matches): read down
    /// the index's own order; paged after the id.
    Opened,
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct SearchResults {
    pub tickets: Vec<TicketRecord>,
    pub order: SearchOrder,
    /// How many tickets match, counting no further than `RANKED_MATCHES`
    /// (or the caller's cap otherwise).
    pub total: i64,
}

/// The document's text for one ticket (or, with `requester`, for every
/// ticket of one requester), per backend. `$1` is the id.
const SQLITE_DOCUMENT: &str = "SELECT t.id, \
        t.reference || ' ' || t.subject || ' ' || COALESCE(p.name, '') \
        || ' ' || COALESCE((SELECT group_concat(e.email, ' ') FROM person_emails e WHERE e.person_id = t.requester_id), '') \
        || ' ' || COALESCE((SELECT group_concat(l.label, ' ') FROM ticket_labels l WHERE l.ticket_id = t.id), '') \
        || ' ' || COALESCE((SELECT group_concat(v.value, ' ') FROM ticket_field_values v WHERE v.ticket_id = t.id), ''), \
        COALESCE((SELECT substr(group_concat(m.body_markdown, ' '), 1, $2) FROM ticket_messages m WHERE m.ticket_id = t.id AND NOT m.is_note), ''), \
        COALESCE((SELECT substr(group_concat(m.body_markdown, ' '), 1, $2) FROM ticket_messages m WHERE m.ticket_id = t.id AND m.is_note), '') \
    FROM tickets t LEFT JOIN people p ON p.id = t.requester_id";

/// Text for PostgreSQL's vector: every run of non-alphanumerics a space,
/// so that addresses and file names split into words as SQLite's
/// tokenizer and the query side split them.
const POSTGRES_DOCUMENT: &str = "SELECT t.id, \
        setweight(to_tsvector('simple', regexp_replace(t.reference || ' ' || t.subject || ' ' || COALESCE(p.name, '') \
            || ' ' || COALESCE((SELECT string_agg(e.email, ' ') FROM person_emails e WHERE e.person_id = t.requester_id), '') \
            || ' ' || COALESCE((SELECT string_agg(l.label, ' ') FROM ticket_labels l WHERE l.ticket_id = t.id), '') \
            || ' ' || COALESCE((SELECT string_agg(v.value, ' ') FROM ticket_field_values v WHERE v.ticket_id = t.id), ''), \
            '[^[:alnum:]]+', ' ', 'g')), 'A') \
        || setweight(to_tsvector('simple', regexp_replace(COALESCE((SELECT left(string_agg(m.body_markdown, ' ' ORDER BY m.id), $2::int) \
            FROM ticket_messages m WHERE m.ticket_id = t.id AND NOT m.is_note), ''), '[^[:alnum:]]+', ' ', 'g')), 'B') \
        || setweight(to_tsvector('simple', regexp_replace(COALESCE((SELECT left(string_agg(m.body_markdown, ' ' ORDER BY m.id), $2::int) \
            FROM ticket_messages m WHERE m.ticket_id = t.id AND m.is_note), ''), '[^[:alnum:]]+', ' ', 'g')), 'C') \
    FROM tickets t LEFT JOIN people p ON p.id = t.requester_id";

/// Which tickets to index again.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reindex {
    Ticket(i64),
    /// Every ticket this person asked for (their name or addresses changed).
    RequestedBy(i64),
    /// Tickets with ids in this range (a seeded batch).
    Range(i64, i64),
}

/// Rewrites the search documents of some tickets, inside a transaction
/// the caller holds.
pub(crate) async fn reindex(
    connected: &mut impl Connected,
    which: Reindex,
) -> Result<(), sqlx::Error> {
    let (condition, id, last) = match which {
        Reindex::Ticket(id) => ("t.id = $1", id, None),
        Reindex::RequestedBy(id) => ("t.requester_id = $1", id, None),
        Reindex::Range(first, last) => ("t.id BETWEEN $1 AND $3", first, Some(last)),
    };
    match connected.connection() {
        Connection::Postgres(connection) => {
            let statement = format!(
                "INSERT INTO ticket_search (ticket_id, document) {POSTGRES_DOCUMENT} WHERE {condition} \
                 ON CONFLICT (ticket_id) DO UPDATE SET document = EXCLUDED.document"
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(statement.as_str()))
                .bind(id)
                .bind(INDEXED_TEXT_BYTES);
            if let Some(last) = last {
                query = query.bind(last);
            }
            query.execute(&mut *connection).await?;
        }
        Connection::Sqlite(connection) => {
            // `$2` is unused by the delete; SQLite takes the spare value.
            let delete = format!(
                "DELETE FROM ticket_search WHERE rowid IN (SELECT t.id FROM tickets t WHERE {condition} AND $2 > 0)"
            );
            let insert = format!(
                "INSERT INTO ticket_search (rowid, head, body, notes) {SQLITE_DOCUMENT} WHERE {condition}"
            );
            for statement in [delete, insert] {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(statement.as_str()))
                    .bind(id)
                    .bind(INDEXED_TEXT_BYTES);
                if let Some(last) = last {
                    query = query.bind(last);
                }
                query.execute(&mut *connection).await?;
            }
        }
    }
    Ok(())
}

/// A term in FTS5's syntax: each word quoted (so nothing in it is syntax).
fn fts5_term(term: &TextTerm) -> String {
    let words: Vec<&str> = term.words.iter().map(String::as_str).collect();
    let quoted = format!("\"{}\"", words.join(" "));
    if term.prefix && term.words.len() == 1 {
        format!("{quoted}*")
    } else {
        quoted
    }
}

/// Every term must match (FTS5), in the notes column only when asked.
fn fts5_query(terms: &[TextTerm], notes_only: bool) -> String {
    let joined: Vec<String> = terms.iter().map(fts5_term).collect();
    let expression = joined.join(" AND ");
    if notes_only {
        format!("{{notes}} : ({expression})")
    } else {
        expression
    }
}

/// A term in `to_tsquery` syntax: words are letters and digits only.
fn postgres_term(term: &TextTerm, notes_only: bool) -> String {
    let weight = if notes_only { "C" } else { "" };
    let words: Vec<String> = term
        .words
        .iter()
        .map(
            |word| match (term.prefix && term.words.len() == 1, notes_only) {
                (true, _) => format!("{word}:*{weight}"),
                (false, true) => format!("{word}:{weight}"),
                (false, false) => word.clone(),
            },
        )
        .collect();
    format!("({})", words.join(" <-> "))
}

fn postgres_query(terms: &[TextTerm], notes_only: bool) -> String {
    let joined: Vec<String> = terms
        .iter()
        .map(|term| postgres_term(term, notes_only))
        .collect();
    joined.join(" & ")
}

/// The words of a query as it reaches the database.
fn safe_words(terms: &[TextTerm]) -> bool {
    terms.iter().all(|term| {
        !term.words.is_empty()
            && term
                .words
                .iter()
                .all(|word| !word.is_empty() && word.chars().all(char::is_alphanumeric))
    })
}

/// Appends the search's own filters. With `walk_updated` (SQLite pages
/// read newest first) the columns that have indexes of their own are
/// written so that no index serves them (`+column`, `status || ''`): the
/// page is then read down the `(updated_at, id)` index until it is full,
/// instead of every match being gathered and sorted (at a million tickets,
/// 130 ms became under one).
fn push_filters<DB: sqlx::Database>(
    builder: &mut QueryBuilder<DB>,
    filters: &[SearchFilter],
    walk_updated: bool,
) where
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> String: Encode<'t, DB> + Type<DB>,
{
    let hinted = |column: &'static str| -> &'static str {
        match (walk_updated, column) {
            (true, "t.department_id") => "+t.department_id",
            (true, "t.agent_id") => "+t.agent_id",
            (true, "t.team_id") => "+t.team_id",
            _ => column,
        }
    };
    for filter in filters {
        builder.push(if filter.negated {
            " AND NOT ("
        } else {
            " AND ("
        });
        match &filter.condition {
            SearchCondition::Statuses(statuses) => {
                builder.push(if walk_updated {
                    "(t.status || '') IN ("
                } else {
                    "t.status IN ("
                });
                let mut separated = builder.separated(", ");
                for status in statuses {
                    separated.push_bind(status.key().to_owned());
                }
                builder.push(")");
            }
            SearchCondition::Departments(ids) => push_in(builder, hinted("t.department_id"), ids),
            SearchCondition::Agent(Some(id)) => {
                builder.push(hinted("t.agent_id"));
                builder.push(" IS NOT NULL AND ");
                builder.push(hinted("t.agent_id"));
                builder.push(" = ");
                builder.push_bind(*id);
            }
            SearchCondition::Agent(None) => {
                builder.push(hinted("t.agent_id"));
                builder.push(" IS NULL");
            }
            SearchCondition::Teams(ids) => {
                builder.push(hinted("t.team_id"));
                builder.push(" IS NOT NULL AND ");
                push_in(builder, hinted("t.team_id"), ids);
            }
            SearchCondition::Label(label) => {
                builder.push(
                    "EXISTS (SELECT 1 FROM ticket_labels sl WHERE sl.ticket_id = t.id AND sl.label = ",
                );
                builder.push_bind(label.clone());
                builder.push(")");
            }
            SearchCondition::Organizations(ids) => {
                builder.push("t.organization_id IS NOT NULL AND ");
                push_in(builder, "t.organization_id", ids);
            }
            SearchCondition::FromAddress(address) => {
                builder.push(
                    "t.requester_id IN (SELECT se.person_id FROM person_emails se WHERE se.email_normalized = ",
                );
                builder.push_bind(address.clone());
                builder.push(")");
            }
            SearchCondition::FromDomain(domain) => {
                builder.push(
                    "t.requester_id IN (SELECT se.person_id FROM person_emails se WHERE se.email_normalized LIKE ",
                );
                builder.push_bind(format!("%@{}", like_literal(domain)));
                builder.push(" ESCAPE '\\')");
            }
            SearchCondition::Urgency(comparison, value) => {
                builder.push("t.urgency");
                builder.push(comparison.operator());
                builder.push_bind(*value);
            }
            SearchCondition::Created(comparison, millis) => {
                builder.push("t.created_at");
                builder.push(comparison.operator());
                builder.push_bind(*millis);
            }
            SearchCondition::Updated(comparison, millis) => {
                builder.push("t.updated_at");
                builder.push(comparison.operator());
                builder.push_bind(*millis);
            }
            SearchCondition::Channel(channel) => {
                builder.push("t.channel = ");
                builder.push_bind(channel.clone());
            }
            SearchCondition::Resolved(comparison, millis) => {
                builder.push("t.resolved_at");
                builder.push(comparison.operator());
                builder.push_bind(*millis);
            }
            SearchCondition::Reopened { from, until } => {
                builder.push(
                    "EXISTS (SELECT 1 FROM ticket_log rl WHERE rl.ticket_id = t.id AND rl.field = 'status' \
                     AND rl.before_value IN ('resolved', 'archived') \
                     AND rl.after_value IN ('awaiting_agent', 'awaiting_user', 'pending')",
                );
                if let Some(from) = from {
                    builder.push(" AND rl.occurred_at >= ");
                    builder.push_bind(*from);
                }
                if let Some(until) = until {
                    builder.push(" AND rl.occurred_at < ");
                    builder.push_bind(*until);
                }
                builder.push(")");
            }
            SearchCondition::HasAttachment => {
                builder.push(
                    "EXISTS (SELECT 1 FROM ticket_messages am JOIN ticket_attachments aa ON aa.message_id = am.id \
                     WHERE am.ticket_id = t.id)",
                );
            }
            SearchCondition::SlaWarning(now) => {
                builder.push("t.sla_warn_at <= ");
                builder.push_bind(*now);
                builder.push(" AND t.sla_due_at > ");
                builder.push_bind(*now);
            }
            SearchCondition::SlaFailed(now) => {
                builder.push("t.sla_due_at <= ");
                builder.push_bind(*now);
            }
        }
        builder.push(")");
    }
}

/// `column IN (ids)`; an empty list matches nothing.
fn push_in<DB: sqlx::Database>(builder: &mut QueryBuilder<DB>, column: &str, ids: &[i64])
where
    for<'t> i64: Encode<'t, DB> + Type<DB>,
{
    builder.push(column);
    builder.push(" IN (");
    push_ids(builder, ids);
    builder.push(")");
}

/// The words that must not match, as a condition on `t`.
fn push_excluded<DB: sqlx::Database>(
    builder: &mut QueryBuilder<DB>,
    text: &TextQuery,
    postgres: bool,
) where
    for<'t> String: Encode<'t, DB> + Type<DB>,
{
    if text.none_of.is_empty() {
        return;
    }
    if postgres {
        builder.push(
            " AND NOT EXISTS (SELECT 1 FROM ticket_search xs WHERE xs.ticket_id = t.id \
             AND xs.document @@ to_tsquery('simple', ",
        );
        builder.push_bind(postgres_any(&text.none_of, text.notes_only));
        builder.push("))");
    } else {
        builder.push(
            " AND NOT EXISTS (SELECT 1 FROM ticket_search xs WHERE xs.rowid = t.id AND ticket_search MATCH ",
        );
        builder.push_bind(fts5_any(&text.none_of, text.notes_only));
        builder.push(")");
    }
}

fn fts5_any(terms: &[TextTerm], notes_only: bool) -> String {
    let joined: Vec<String> = terms.iter().map(fts5_term).collect();
    let expression = joined.join(" OR ");
    if notes_only {
        format!("{{notes}} : ({expression})")
    } else {
        expression
    }
}

fn postgres_any(terms: &[TextTerm], notes_only: bool) -> String {
    let joined: Vec<String> = terms
        .iter()
        .map(|term| postgres_term(term, notes_only))
        .collect();
    joined.join(" | ")
}

impl super::Tickets<'_> {
    /// One page of the tickets a search finds among those `visibility`
    /// lets the agent see; see the module's notes on order and
    /// `SearchCounting` on the count.
    pub async fn search_tickets(
        &self,
        visibility: &Visibility,
        search: &TicketSearch,
        position: SearchPosition,
        counting: SearchCounting,
    ) -> StoreResult<SearchResults> {
        let SearchCounting {
            ranked_cap,
            newest_cap,
            known_total,
        } = counting;
        if !safe_words(&search.text.all_of) || !safe_words(&search.text.none_of) {
            return Ok(SearchResults {
                tickets: Vec::new(),
                order: SearchOrder::Updated,
                total: 0,
            });
        }
        let postgres = matches!(self.backend, crate::Backend::Postgres(_));
        let matching = if search.text.all_of.is_empty() {
            None
        } else {
            Some(if postgres {
                postgres_query(&search.text.all_of, search.text.notes_only)
            } else {
                fts5_query(&search.text.all_of, search.text.notes_only)
            })
        };
        let matches = match &matching {
            Some(query) => Some(self.index_matches_up_to(query, ranked_cap + 1).await?),
            None => None,
        };
        let few = matches.is_some_and(|matches| matches <= ranked_cap);
        if let (Some(query), true) = (&matching, few) {
            return self
                .ranked_search(visibility, search, query, position)
                .await;
        }
        match &matching {
            Some(query) => {
                // Words PostgreSQL's statistics put in a large share of the
                // tickets, searched by an agent who sees every ticket with
                // no other condition: reading down the index is the plan
                // whatever the words, so it is kept rather than planned
                // for each search (see `opened_search`).
                let kept_walk = postgres
                    && matches.is_some_and(|matches| {
                        matches >= (ranked_cap + 1).saturating_mul(SURELY_MANY_FACTOR)
                    })
                    && matches!(visibility, Visibility::Everything)
                    && search.filters.is_empty()
                    && search.text.none_of.is_empty();
                self.opened_search(
                    visibility,
                    search,
                    query,
                    position,
                    (newest_cap, known_total, kept_walk),
                )
                .await
            }
            None => {
                self.updated_search(visibility, search, position, (newest_cap, known_total))
                    .await
            }
        }
    }

    /// A search of many matches by an agent who sees everything, read as
    /// the kept walk of `opened_search` whatever the statistics say: for
    /// tests, whose few tickets never make words common.
    #[doc(hidden)]
    pub async fn search_as_kept_walk(
        &self,
        search: &TicketSearch,
        position: SearchPosition,
        newest_cap: i64,
    ) -> StoreResult<SearchResults> {
        let query = postgres_query(&search.text.all_of, search.text.notes_only);
        let postgres = matches!(self.backend, crate::Backend::Postgres(_));
        self.opened_search(
            &Visibility::Everything,
            search,
            &query,
            position,
            (newest_cap, None, postgres),
        )
        .await
    }

    /// How many documents match `query`, counting no further than `cap`
    /// (the agent's visibility is applied afterwards). On PostgreSQL a
    /// query its statistics say matches far more than `cap` is taken at
    /// that word, and answered as `cap` times `SURELY_MANY_FACTOR` (more
    /// than any count): counting even a thousand matches rechecks each
    /// document (2 ms for a common word, 11 ms for a common phrase at a
    /// million).
    async fn index_matches_up_to(&self, query: &str, cap: i64) -> StoreResult<i64> {
        if let Some(known) = self.match_counts.get(query, cap) {
            return Ok(known);
        }
        let counted = self.count_index_matches(query, cap).await?;
        self.match_counts.put(query, cap, counted);
        Ok(counted)
    }

    async fn count_index_matches(&self, query: &str, cap: i64) -> StoreResult<i64> {
        Ok(on_backend!(self, pool => {
            if matches!(self.backend, crate::Backend::Postgres(_)) {
                let plan: Vec<String> = sqlx::query_scalar(
                    "EXPLAIN SELECT 1 FROM ticket_search s WHERE s.document @@ to_tsquery('simple', $1)",
                )
                .persistent(false)
                .bind(query)
                .fetch_all(pool)
                .await?;
                if plan
                    .first()
                    .and_then(|line| estimated_rows(line))
                    .is_some_and(|estimate| estimate > cap.saturating_mul(SURELY_MANY_FACTOR))
                {
                    return Ok(cap.saturating_mul(SURELY_MANY_FACTOR));
                }
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM ticket_search s \
                     WHERE s.document @@ to_tsquery('simple', $1) LIMIT +$2) capped",
                )
                .persistent(false)
                .bind(query)
                .bind(cap)
                .fetch_one(pool)
                .await?
            } else {
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM (SELECT rowid FROM ticket_search WHERE ticket_search MATCH $1 LIMIT +$2) capped",
                )
                .bind(query)
                .bind(cap)
                .fetch_one(pool)
                .await?
            }
        }))
    }

    /// Few matches: all of them scored, the page cut from the ranking; the
    /// count of every visible match rides on each row.
    async fn ranked_search(
        &self,
        visibility: &Visibility,
        search: &TicketSearch,
        query: &str,
        position: SearchPosition,
    ) -> StoreResult<SearchResults> {
        let postgres = matches!(self.backend, crate::Backend::Postgres(_));
        let (from, score) = if postgres {
            (
                "FROM (SELECT ticket_id AS id, ts_rank(document, to_tsquery('simple', ",
                "), 0) AS score FROM ticket_search WHERE document @@ to_tsquery('simple', ",
            )
        } else {
            (
                "FROM (SELECT rowid AS id, -bm25(ticket_search, 5.0, 1.0, 1.0) AS score FROM ticket_search WHERE ticket_search MATCH ",
                "",
            )
        };
        let (tickets, total) = on_backend!(self, pool => {
            let build = |select: &str| {
                let mut builder = QueryBuilder::new(select);
                builder.push(from);
                if postgres {
                    builder.push_bind(query.to_owned());
                    builder.push(score);
                    builder.push_bind(query.to_owned());
                    builder.push(")");
                } else {
                    builder.push_bind(query.to_owned());
                }
                builder.push(") s JOIN tickets t ON t.id = s.id");
                push_conditions(&mut builder, visibility, &search.base, Purpose::Count);
                push_filters(&mut builder, &search.filters, false);
                push_excluded(&mut builder, &search.text, postgres);
                builder
            };
            let mut page = build(&format!("SELECT {TICKET_COLUMNS}, COUNT(*) OVER () AS {TOTAL_COLUMN} "));
            page.push(" ORDER BY s.score DESC, t.updated_at DESC, t.id DESC LIMIT +");
            page.push_bind(position.limit);
            page.push(" OFFSET +");
            page.push_bind(position.offset);
            let rows = page.build().persistent(!postgres).fetch_all(pool).await?;
            match tickets_and_total(&rows)? {
                (tickets, Some(total)) => (tickets, total),
                // A page past the last: the count needs its own statement.
                (tickets, None) if position.offset > 0 => {
                    let mut count = build("SELECT COUNT(*) ");
                    let total = count.build_query_scalar::<i64>().persistent(!postgres).fetch_one(pool).await?;
                    (tickets, total)
                }
                (tickets, None) => (tickets, 0),
            }
        });
        Ok(SearchResults {
            tickets,
            order: SearchOrder::Ranked,
            total,
        })
    }

    /// Filters only: the most recently updated first, a page at a time,
    /// with the capped count in the same statement.
    async fn updated_search(
        &self,
        visibility: &Visibility,
        search: &TicketSearch,
        position: SearchPosition,
        (cap, known_total): (i64, Option<i64>),
    ) -> StoreResult<SearchResults> {
        let postgres = matches!(self.backend, crate::Backend::Postgres(_));
        let (tickets, total) = on_backend!(self, pool => {
            let push_count = |builder: &mut QueryBuilder<_>| {
                builder.push("SELECT COUNT(*) FROM (SELECT 1 FROM tickets t");
                push_conditions(builder, visibility, &search.base, Purpose::Count);
                push_filters(builder, &search.filters, false);
                push_excluded(builder, &search.text, postgres);
                builder.push(" LIMIT +");
                builder.push_bind(cap);
                builder.push(") capped");
            };
            let mut page = QueryBuilder::new(format!("SELECT {TICKET_COLUMNS}, "));
            if let Some(known) = known_total {
                page.push_bind(known);
            } else {
                page.push("(");
                push_count(&mut page);
                page.push(")");
            }
            page.push(format!(" AS {TOTAL_COLUMN} FROM tickets t"));
            push_conditions(&mut page, visibility, &search.base, Purpose::Page);
            push_filters(&mut page, &search.filters, !postgres);
            push_excluded(&mut page, &search.text, postgres);
            if let Some((updated_at, id)) = position.after {
                page.push(" AND (t.updated_at, t.id) < (");
                page.push_bind(updated_at);
                page.push(", ");
                page.push_bind(id);
                page.push(")");
            }
            page.push(" ORDER BY t.updated_at DESC, t.id DESC LIMIT +");
            page.push_bind(position.limit);
            let rows = page.build().persistent(!postgres).fetch_all(pool).await?;
            let (tickets, total) = tickets_and_total(&rows)?;
            match total.or(known_total) {
                Some(total) => (tickets, total),
                None => {
                    let mut count = QueryBuilder::new("");
                    push_count(&mut count);
                    let total = count.build_query_scalar::<i64>().persistent(!postgres).fetch_one(pool).await?;
                    (tickets, total)
                }
            }
        });
        Ok(SearchResults {
            tickets,
            order: SearchOrder::Updated,
            total,
        })
    }

    /// Words with many matches: the most recently opened first, read down
    /// the index in ticket id order and joined to their tickets until the
    /// page is full; the capped count in the same statement.
    ///
    /// With `kept_walk` (PostgreSQL, words in a large share of the tickets,
    /// nothing but the words and the statuses) the statement is kept
    /// prepared and PostgreSQL soon settles on one plan for it: the match
    /// is written as the function behind `@@` (`ts_match_vq`), which no
    /// index serves, and the limits as numbers, so that one plan is the
    /// walk down the index the words call for anyway. Planning the
    /// statement afresh took about a third of its time.
    async fn opened_search(
        &self,
        visibility: &Visibility,
        search: &TicketSearch,
        query: &str,
        position: SearchPosition,
        (cap, known_total, kept_walk): (i64, Option<i64>, bool),
    ) -> StoreResult<SearchResults> {
        let postgres = matches!(self.backend, crate::Backend::Postgres(_));
        let (tickets, total) = on_backend!(self, pool => {
            let push_limit = |builder: &mut QueryBuilder<_>, limit: i64| {
                if kept_walk {
                    builder.push(format!(" LIMIT {limit}"));
                } else {
                    builder.push(" LIMIT +");
                    builder.push_bind(limit);
                }
            };
            let push_matches = |builder: &mut QueryBuilder<_>| {
                if postgres {
                    builder.push(" FROM ticket_search s JOIN tickets t ON t.id = s.ticket_id");
                } else {
                    builder.push(
                        " FROM (SELECT rowid AS ticket_id FROM ticket_search WHERE ticket_search MATCH ",
                    );
                    builder.push_bind(query.to_owned());
                    builder.push(") s JOIN tickets t ON t.id = s.ticket_id");
                }
                push_conditions(builder, visibility, &search.base, Purpose::Count);
                if kept_walk {
                    builder.push(" AND ts_match_vq(s.document, to_tsquery('simple', ");
                    builder.push_bind(query.to_owned());
                    builder.push("))");
                } else if postgres {
                    builder.push(" AND s.document @@ to_tsquery('simple', ");
                    builder.push_bind(query.to_owned());
                    builder.push(")");
                }
                push_filters(builder, &search.filters, false);
                push_excluded(builder, &search.text, postgres);
            };
            let push_count = |builder: &mut QueryBuilder<_>| {
                builder.push("SELECT COUNT(*) FROM (SELECT 1");
                push_matches(builder);
                push_limit(builder, cap);
                builder.push(") capped");
            };
            let mut page = QueryBuilder::new(format!("SELECT {TICKET_COLUMNS}, "));
            if let Some(known) = known_total {
                page.push_bind(known);
            } else {
                page.push("(");
                push_count(&mut page);
                page.push(")");
            }
            page.push(format!(" AS {TOTAL_COLUMN}"));
            push_matches(&mut page);
            if let Some(after_id) = position.after_id {
                page.push(" AND s.ticket_id < ");
                page.push_bind(after_id);
            }
            page.push(" ORDER BY s.ticket_id DESC");
            push_limit(&mut page, position.limit);
            let kept = kept_walk || !postgres;
            let rows = page.build().persistent(kept).fetch_all(pool).await?;
            let (tickets, total) = tickets_and_total(&rows)?;
            match total.or(known_total) {
                Some(total) => (tickets, total),
                None => {
                    let mut count = QueryBuilder::new("");
                    push_count(&mut count);
                    let total = count.build_query_scalar::<i64>().persistent(kept).fetch_one(pool).await?;
                    (tickets, total)
                }
            }
        });
        Ok(SearchResults {
            tickets,
            order: SearchOrder::Opened,
            total,
        })
    }

    /// The text of the messages of some tickets that may hold a term of
    /// the search (on SQLite any message when a word is not plain ASCII,
    /// which its `lower` cannot fold), oldest first, to cut snippets from:
    /// `(ticket_id, is_note, body)`. Notes only when the search is held to
    /// notes. On PostgreSQL each ticket's messages are read in order and
    /// only until `SNIPPET_CANDIDATES` may hold a word: a long thread's
    /// later messages are neither folded to lower case nor sent.
    pub async fn message_texts(
        &self,
        ticket_ids: &[i64],
        text: &TextQuery,
    ) -> StoreResult<Vec<(i64, bool, String)>> {
        if ticket_ids.is_empty() {
            return Ok(Vec::new());
        }
        // One pattern a term: a phrase's words in their order.
        let patterns: Vec<String> = text
            .all_of
            .iter()
            .map(|term| format!("%{}%", term.words.join("%")))
            .collect();
        let ascii = text
            .all_of
            .iter()
            .flat_map(|term| &term.words)
            .all(|word| word.is_ascii());
        let postgres = matches!(self.backend, crate::Backend::Postgres(_));
        let filtered = !patterns.is_empty() && (ascii || postgres);
        Ok(on_backend!(self, pool => {
            let mut builder = QueryBuilder::new(if postgres {
                "SELECT m.ticket_id, m.is_note, m.body_markdown FROM tickets x CROSS JOIN LATERAL \
                 (SELECT m.id, m.ticket_id, m.is_note, m.body_markdown FROM ticket_messages m \
                 WHERE m.ticket_id = x.id"
            } else {
                "SELECT m.ticket_id, m.is_note, m.body_markdown FROM ticket_messages m WHERE "
            });
            if !postgres {
                push_in(&mut builder, "m.ticket_id", ticket_ids);
            }
            if text.notes_only {
                builder.push(" AND m.is_note");
            }
            if filtered {
                builder.push(" AND (");
                // Words are ASCII here: PostgreSQL folds ASCII only under
                // "C", as SQLite's `lower` does, without converting every
                // character of the text (a third of the statement's time).
                let folded = if postgres && ascii {
                    "lower(m.body_markdown COLLATE \"C\") LIKE "
                } else {
                    "lower(m.body_markdown) LIKE "
                };
                let mut any = builder.separated(" OR ");
                for pattern in patterns {
                    any.push(folded);
                    any.push_bind_unseparated(pattern);
                }
                builder.push(")");
            }
            if postgres {
                builder.push(format!(" ORDER BY m.id LIMIT {SNIPPET_CANDIDATES}) m WHERE "));
                push_in(&mut builder, "x.id", ticket_ids);
            }
            builder.push(" ORDER BY m.id");
            builder.build_query_as::<(i64, bool, String)>().fetch_all(pool).await?
        }))
    }
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
    fn the_estimate_is_read_from_the_top_line_of_a_plan() {
        assert_eq!(
            estimated_rows(
                "Seq Scan on ticket_search s  (cost=0.00..135170.59 rows=689818 width=4)"
            ),
            Some(689_818)
        );
        assert_eq!(
            estimated_rows(
                "Bitmap Heap Scan on ticket_search s  (cost=70.77..16771.19 rows=5003 width=4)"
            ),
            Some(5003)
        );
        assert_eq!(estimated_rows("Result  (cost=0.00..0.01 width=4)"), None);
        assert_eq!(estimated_rows(""), None);
    }

    #[test]
    fn queries_quote_every_word() {
        let phrase = TextTerm {
            words: vec!["paper".into(), "jam".into()],
            prefix: false,
        };
        assert_eq!(
            fts5_query(&[word("printer"), phrase.clone()], false),
            "\"printer\"* AND \"paper jam\""
        );
        assert_eq!(
            fts5_query(&[word("printer")], true),
            "{notes} : (\"printer\"*)"
        );
        assert_eq!(
            postgres_query(&[word("printer"), phrase], false),
            "(printer:*) & (paper <-> jam)"
        );
        assert_eq!(postgres_query(&[word("printer")], true), "(printer:*C)");
        assert!(!safe_words(&[word("a\"b")]));
        assert!(!safe_words(&[TextTerm {
            words: vec![],
            prefix: false
        }]));
        assert!(safe_words(&[word("café42")]));
    }
}
