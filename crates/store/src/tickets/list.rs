//! The ticket list: which tickets an agent may see (`Visibility`), the
//! filters, keyset pages newest first, bounded and exact counts, and the
//! mark that tells a cached count whether tickets changed since.

use std::sync::atomic::Ordering;

use ferrodesk_core::{Label, TicketStatus, Urgency};
use sqlx::{Encode, QueryBuilder, Type};

use super::{TICKET_COLUMNS, TicketRecord};
use crate::{Store, StoreResult, on_backend};

/// Which tickets an agent may list: every ticket, or those of the
/// departments with full access plus, in assign-only departments, those
/// assigned to the agent or their teams or followed by them.
#[derive(Debug, Clone)]
pub enum Visibility {
    Everything,
    Limited {
        agent_id: i64,
        full_departments: Vec<i64>,
        assign_departments: Vec<i64>,
        team_ids: Vec<i64>,
    },
}

/// See `Store::ticket_change_mark`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketChangeMark {
    local_writes: u64,
    newest_id: i64,
    newest_change: i64,
    /// The newest ticket event (see `Tickets::newest_ticket_event_id`).
    newest_event_id: i64,
}

impl TicketChangeMark {
    /// The newest ticket event when the mark was read: where a page's live
    /// updates start.
    pub fn newest_event_id(&self) -> i64 {
        self.newest_event_id
    }

    /// A mark made up, for the cache's own tests.
    #[doc(hidden)]
    pub fn for_tests(local_writes: u64, newest_id: i64, newest_change: i64) -> TicketChangeMark {
        TicketChangeMark {
            local_writes,
            newest_id,
            newest_change,
            newest_event_id: 0,
        }
    }
}

/// The list's filters; all narrow the list.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub statuses: Vec<TicketStatus>,
    pub department_id: Option<i64>,
    /// `Some(None)`: unassigned.
    pub agent_id: Option<Option<i64>>,
    pub team_ids: Option<Vec<i64>>,
    pub followed_by: Option<i64>,
    pub label: Option<Label>,
    pub urgency_at_least: Option<Urgency>,
    pub requester_id: Option<i64>,
    pub organization_id: Option<i64>,
    /// Tickets whose subject contains this text, ignoring case. A scan of
    /// the rows the other conditions leave: only for lists already narrowed
    /// to one requester or organization.
    pub subject_contains: Option<String>,
}

/// `text` as a LIKE pattern matching it anywhere, its own `%`, `_` and
/// `\` taken literally (with `ESCAPE '\'`).
fn contains_pattern(text: &str) -> String {
    format!("%{}%", like_literal(&text.to_lowercase()))
}

/// `text` with LIKE's own characters (`%`, `_`, `\`) taken literally
/// (with `ESCAPE '\'`).
pub(super) fn like_literal(text: &str) -> String {
    let mut literal = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '%' | '_' | '\\') {
            literal.push('\\');
        }
        literal.push(character);
    }
    literal
}

/// One page of the list, newest first: after the (updated_at, id) of the
/// last row of the page before (keyset paging, as fast deep as near the
/// top), before the first row of the page after (going back towards the
/// newest), or else skipping `offset` rows (numbered pages for the API).
#[derive(Debug, Clone, Copy, Default)]
pub struct TicketPage {
    /// Read oldest activity first instead of newest first; `after` and
    /// `before` then follow that order.
    pub oldest_first: bool,
    pub after: Option<(i64, i64)>,
    /// The rows just newer than this, still answered newest first.
    pub before: Option<(i64, i64)>,
    pub limit: i64,
    pub offset: i64,
}

/// Whether the statuses' condition is for reading a page newest first
/// or for counting; see `push_statuses`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    Page,
    Count,
}

/// Appends the WHERE clause of a list or count to `builder`.
pub(super) fn push_conditions<DB: sqlx::Database>(
    builder: &mut QueryBuilder<DB>,
    visibility: &Visibility,
    filter: &TicketFilter,
    purpose: Purpose,
) where
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> String: Encode<'t, DB> + Type<DB>,
{
    builder.push(" WHERE 1 = 1");
    if let Visibility::Limited {
        agent_id,
        full_departments,
        assign_departments,
        team_ids,
    } = visibility
    {
        builder.push(" AND (t.department_id IN (");
        push_ids(builder, full_departments);
        builder.push(") OR (t.department_id IN (");
        push_ids(builder, assign_departments);
        builder.push(") AND (t.agent_id = ");
        builder.push_bind(*agent_id);
        builder.push(" OR t.team_id IN (");
        push_ids(builder, team_ids);
        builder.push(
            ") OR EXISTS (SELECT 1 FROM ticket_followers vf WHERE vf.ticket_id = t.id AND vf.person_id = ",
        );
        builder.push_bind(*agent_id);
        builder.push("))))");
    }
    push_statuses(builder, &filter.statuses, purpose);
    if let Some(department_id) = filter.department_id {
        builder.push(" AND t.department_id = ");
        builder.push_bind(department_id);
    }
    match filter.agent_id {
        Some(Some(agent_id)) => {
            builder.push(" AND t.agent_id = ");
            builder.push_bind(agent_id);
        }
        Some(None) => {
            builder.push(" AND t.agent_id IS NULL");
        }
        None => {}
    }
    if let Some(team_ids) = &filter.team_ids {
        builder.push(" AND t.team_id IN (");
        push_ids(builder, team_ids);
        builder.push(")");
    }
    if let Some(person_id) = filter.followed_by {
        // Driven from the follower's index: an EXISTS per ticket would
        // visit every ticket to find the few someone follows.
        builder.push(
            " AND t.id IN (SELECT ff.ticket_id FROM ticket_followers ff WHERE ff.person_id = ",
        );
        builder.push_bind(person_id);
        builder.push(")");
    }
    if let Some(label) = &filter.label {
        builder.push(
            " AND EXISTS (SELECT 1 FROM ticket_labels fl WHERE fl.ticket_id = t.id AND fl.label = ",
        );
        builder.push_bind(label.as_str().to_owned());
        builder.push(")");
    }
    if let Some(urgency) = filter.urgency_at_least {
        builder.push(" AND t.urgency >= ");
        builder.push_bind(urgency.get());
    }
    if let Some(requester_id) = filter.requester_id {
        builder.push(" AND t.requester_id = ");
        builder.push_bind(requester_id);
    }
    if let Some(organization_id) = filter.organization_id {
        builder.push(" AND t.organization_id = ");
        builder.push_bind(organization_id);
    }
    if let Some(text) = &filter.subject_contains {
        builder.push(" AND lower(t.subject) LIKE ");
        builder.push_bind(contains_pattern(text));
        builder.push(" ESCAPE '\\'");
    }
}

fn push_statuses<DB: sqlx::Database>(
    builder: &mut QueryBuilder<DB>,
    statuses: &[TicketStatus],
    purpose: Purpose,
) where
    for<'t> String: Encode<'t, DB> + Type<DB>,
{
    match statuses {
        [] => {}
        [status] => {
            builder.push(" AND t.status = ");
            builder.push_bind(status.key().to_owned());
        }
        statuses => {
            // Several statuses match most tickets. For a page the condition
            // is an expression, which keeps the planner off the status index
            // (which would sort every match) and on the (updated_at, id)
            // index, read newest first until the page is full: 3 s became
            // 0.3 ms at a million tickets on SQLite. Counting reads the
            // status index alone.
            builder.push(match purpose {
                Purpose::Page => " AND (t.status || '') IN (",
                Purpose::Count => " AND t.status IN (",
            });
            let mut separated = builder.separated(", ");
            for status in statuses {
                separated.push_bind(status.key().to_owned());
            }
            builder.push(")");
        }
    }
}

/// A comma-separated list of bound ids; an empty list is `NULL`, which
/// matches nothing in `IN (…)`.
pub(super) fn push_ids<DB: sqlx::Database>(builder: &mut QueryBuilder<DB>, ids: &[i64])
where
    for<'t> i64: Encode<'t, DB> + Type<DB>,
{
    if ids.is_empty() {
        builder.push("NULL");
    } else {
        let mut separated = builder.separated(", ");
        for id in ids {
            separated.push_bind(*id);
        }
    }
}

impl super::Tickets<'_> {
    /// One page of tickets, newest updated first.
    pub async fn list_tickets(
        &self,
        visibility: &Visibility,
        filter: &TicketFilter,
        page: TicketPage,
    ) -> StoreResult<Vec<TicketRecord>> {
        let mut tickets = on_backend!(self, pool => {
            let mut builder = QueryBuilder::new(format!("SELECT {TICKET_COLUMNS} FROM tickets t"));
            push_conditions(&mut builder, visibility, filter, Purpose::Page);
            // A row-value comparison, which both databases turn into one
            // range of the (updated_at, id) index, read from either end.
            // Newest first reads the index down; oldest first, up.
            let (onward, back, forwards, backwards) = if page.oldest_first {
                (" AND (t.updated_at, t.id) > (", " AND (t.updated_at, t.id) < (",
                 " ORDER BY t.updated_at, t.id LIMIT +", " ORDER BY t.updated_at DESC, t.id DESC LIMIT +")
            } else {
                (" AND (t.updated_at, t.id) < (", " AND (t.updated_at, t.id) > (",
                 " ORDER BY t.updated_at DESC, t.id DESC LIMIT +", " ORDER BY t.updated_at, t.id LIMIT +")
            };
            let (bound, order) = match (page.after, page.before) {
                (Some(after), _) => (Some((onward, after)), forwards),
                (None, Some(before)) => (Some((back, before)), backwards),
                (None, None) => (None, forwards),
            };
            if let Some((comparison, (updated_at, id))) = bound {
                builder.push(comparison);
                builder.push_bind(updated_at);
                builder.push(", ");
                builder.push_bind(id);
                builder.push(")");
            }
            builder.push(order);
            builder.push_bind(page.limit);
            if bound.is_none() && page.offset > 0 {
                builder.push(" OFFSET +");
                builder.push_bind(page.offset);
            }
            builder.build_query_as::<TicketRecord>().fetch_all(pool).await?
        });
        if page.after.is_none() && page.before.is_some() {
            tickets.reverse();
        }
        Ok(tickets)
    }

    /// How many tickets a list would show, counting no further than `cap`:
    /// the cost stays bounded however many tickets match.
    pub async fn count_tickets_up_to(
        &self,
        visibility: &Visibility,
        filter: &TicketFilter,
        cap: i64,
    ) -> StoreResult<i64> {
        Ok(on_backend!(self, pool => {
            let mut builder = QueryBuilder::new("SELECT COUNT(*) FROM (SELECT 1 FROM tickets t");
            push_conditions(&mut builder, visibility, filter, Purpose::Count);
            builder.push(" LIMIT +");
            builder.push_bind(cap);
            builder.push(") capped");
            builder.build_query_scalar::<i64>().fetch_one(pool).await?
        }))
    }

    /// How many tickets a list would show in all.
    pub async fn count_tickets(
        &self,
        visibility: &Visibility,
        filter: &TicketFilter,
    ) -> StoreResult<i64> {
        Ok(on_backend!(self, pool => {
            let mut builder = QueryBuilder::new("SELECT COUNT(*) FROM tickets t");
            push_conditions(&mut builder, visibility, filter, Purpose::Count);
            builder.build_query_scalar::<i64>().fetch_one(pool).await?
        }))
    }

    /// A mark that moves whenever a ticket is opened or changed: the count
    /// of ticket writes made through this store, and the newest id and
    /// change time in the database, which other nodes' writes move; with
    /// the newest ticket event beside them. Three index lookups, however
    /// many tickets there are (each `MAX` on its own, which SQLite answers
    /// from the index only when it stands alone).
    pub async fn ticket_change_mark(&self) -> StoreResult<TicketChangeMark> {
        // Read before the database, so a write committed in between moves
        // the mark the next time rather than hiding behind it.
        let local_writes = self.ticket_writes.load(Ordering::Acquire);
        let (newest_id, newest_change, newest_event_id) = on_backend!(self, pool => {
            sqlx::query_as::<_, (i64, i64, i64)>(
                "SELECT COALESCE((SELECT MAX(id) FROM tickets), 0), \
                        COALESCE((SELECT MAX(updated_at) FROM tickets), 0), \
                        COALESCE((SELECT MAX(id) FROM ticket_events), 0)",
            )
            .fetch_one(pool)
            .await?
        });
        Ok(TicketChangeMark {
            local_writes,
            newest_id,
            newest_change,
            newest_event_id,
        })
    }

    /// The labels of several tickets in one query, by ticket id.
    pub async fn labels_of_tickets(
        &self,
        ticket_ids: &[i64],
    ) -> StoreResult<std::collections::HashMap<i64, ferrodesk_core::Labels>> {
        if ticket_ids.is_empty() {
            return Ok(Default::default());
        }
        let rows: Vec<(i64, String)> = on_backend!(self, pool => {
            let mut builder =
                QueryBuilder::new("SELECT ticket_id, label FROM ticket_labels WHERE ticket_id IN (");
            push_ids(&mut builder, ticket_ids);
            builder.push(")");
            builder.build_query_as::<(i64, String)>().fetch_all(pool).await?
        });
        let mut texts: std::collections::HashMap<i64, Vec<String>> = Default::default();
        for (ticket_id, label) in rows {
            texts.entry(ticket_id).or_default().push(label);
        }
        Ok(texts
            .into_iter()
            .map(|(ticket_id, labels)| (ticket_id, super::labels_from(labels)))
            .collect())
    }
}

impl Store {
    /// Moves the change mark; called once a write to tickets, their labels
    /// or their followers is committed.
    pub(crate) fn note_ticket_write(&self) {
        self.ticket_writes.fetch_add(1, Ordering::AcqRel);
    }

    /// Wakes this process's event readers; called once a write that added
    /// a ticket event is committed.
    pub(crate) fn note_ticket_event(&self) {
        self.ticket_events.notify_waiters();
    }

    /// Resolves when this process next commits a ticket event.
    pub fn ticket_event_written(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.ticket_events.clone()
    }
}
