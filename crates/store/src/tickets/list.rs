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
    /// The ticket events this node had handed out (every one up to it
    /// committed): another node's write moves it once committed, even one
    /// that leaves the newest id and change time as they were.
    events_handed_out: i64,
}

impl TicketChangeMark {
    /// The ticket events handed out when the mark was read: where a page's
    /// live updates start (a change committed since is replayed to it).
    pub fn events_handed_out(&self) -> i64 {
        self.events_handed_out
    }

    /// A mark made up, for the cache's own tests.
    #[doc(hidden)]
    pub fn for_tests(local_writes: u64, newest_id: i64, newest_change: i64) -> TicketChangeMark {
        TicketChangeMark {
            local_writes,
            newest_id,
            newest_change,
            events_handed_out: 0,
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
    /// A search's filters and words (a list made from a search).
    pub search: Option<super::search::SearchConstraint>,
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

/// A column the list may be sorted by. Each is one SQL expression of the
/// ticket row; ties are broken by the ticket id in the same direction, so
/// every row has one place and keyset pages neither skip nor repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TicketSortKey {
    /// The last activity.
    #[default]
    Updated,
    Created,
    Reference,
    Subject,
    Requester,
    Organization,
    /// In the order of the workflow (awaiting an agent first).
    Status,
    Urgency,
    /// In the admin's order of the priority list; none before any.
    Priority,
    Assignee,
    Team,
    Department,
    /// The earliest due time of the running SLA targets; none last.
    SlaDue,
}

impl TicketSortKey {
    pub const ALL: [TicketSortKey; 13] = [
        TicketSortKey::Updated,
        TicketSortKey::Created,
        TicketSortKey::Reference,
        TicketSortKey::Subject,
        TicketSortKey::Requester,
        TicketSortKey::Organization,
        TicketSortKey::Status,
        TicketSortKey::Urgency,
        TicketSortKey::Priority,
        TicketSortKey::Assignee,
        TicketSortKey::Team,
        TicketSortKey::Department,
        TicketSortKey::SlaDue,
    ];

    /// The key of the list column it sorts.
    pub fn key(self) -> &'static str {
        match self {
            TicketSortKey::Updated => "updated",
            TicketSortKey::Created => "created",
            TicketSortKey::Reference => "reference",
            TicketSortKey::Subject => "subject",
            TicketSortKey::Requester => "requester",
            TicketSortKey::Organization => "organization",
            TicketSortKey::Status => "status",
            TicketSortKey::Urgency => "urgency",
            TicketSortKey::Priority => "priority",
            TicketSortKey::Assignee => "assignee",
            TicketSortKey::Team => "team",
            TicketSortKey::Department => "department",
            TicketSortKey::SlaDue => "sla_due",
        }
    }

    pub fn from_key(key: &str) -> Option<TicketSortKey> {
        TicketSortKey::ALL
            .into_iter()
            .find(|sort| sort.key() == key)
    }

    /// Whether a list sorted by it starts from the top by default (the
    /// newest, the most urgent) rather than from A or the first status.
    pub fn descends_by_default(self) -> bool {
        matches!(
            self,
            TicketSortKey::Updated
                | TicketSortKey::Created
                | TicketSortKey::Urgency
                | TicketSortKey::Priority
        )
    }

    /// Whether an index serves the order, so a page costs the same however
    /// many tickets the list holds (else every matching row is sorted).
    pub fn has_index(self) -> bool {
        matches!(
            self,
            TicketSortKey::Updated
                | TicketSortKey::Created
                | TicketSortKey::Urgency
                | TicketSortKey::Subject
                | TicketSortKey::Reference
                | TicketSortKey::SlaDue
        )
    }

    /// Whether it is a plain column of the ticket (else an expression).
    fn is_column(self) -> bool {
        matches!(
            self,
            TicketSortKey::Updated
                | TicketSortKey::Created
                | TicketSortKey::Urgency
                | TicketSortKey::SlaDue
        )
    }

    /// Whether its values are texts (else numbers).
    pub fn is_text(self) -> bool {
        self.expression().1
    }

    /// The SQL expression sorted by, and whether it is a text. Texts are
    /// compared lower-cased, and a missing name sorts as an empty one.
    fn expression(self) -> (&'static str, bool) {
        match self {
            TicketSortKey::Updated => ("t.updated_at", false),
            TicketSortKey::Created => ("t.created_at", false),
            TicketSortKey::Reference => ("t.reference", true),
            TicketSortKey::Subject => ("lower(t.subject)", true),
            TicketSortKey::Requester => (
                "COALESCE((SELECT lower(sr.name) FROM people sr WHERE sr.id = t.requester_id), '')",
                true,
            ),
            TicketSortKey::Organization => (
                "COALESCE((SELECT lower(so.name) FROM organizations so WHERE so.id = t.organization_id), '')",
                true,
            ),
            TicketSortKey::Status => (
                "(CASE t.status WHEN 'awaiting_agent' THEN 0 WHEN 'awaiting_user' THEN 1 \
                 WHEN 'pending' THEN 2 WHEN 'resolved' THEN 3 WHEN 'archived' THEN 4 \
                 WHEN 'spam' THEN 5 ELSE 6 END)",
                false,
            ),
            TicketSortKey::Urgency => ("t.urgency", false),
            TicketSortKey::Priority => (
                "COALESCE((SELECT sp.position FROM ticket_priorities sp WHERE sp.id = t.priority_id), -1)",
                false,
            ),
            TicketSortKey::Assignee => (
                "COALESCE((SELECT lower(sa.name) FROM people sa WHERE sa.id = t.agent_id), '')",
                true,
            ),
            TicketSortKey::Team => (
                "COALESCE((SELECT lower(st.name) FROM teams st WHERE st.id = t.team_id), '')",
                true,
            ),
            TicketSortKey::Department => (
                "COALESCE((SELECT lower(sd.name) FROM departments sd WHERE sd.id = t.department_id), '')",
                true,
            ),
            TicketSortKey::SlaDue => ("t.sla_due_at", false),
        }
    }

    /// The expression as the two sort columns a page selects: the number
    /// or the text, the other one NULL.
    fn selected(self) -> String {
        let (expression, text) = self.expression();
        if text {
            format!("CAST(NULL AS BIGINT) AS sort_number, {expression} AS sort_text")
        } else {
            format!("CAST({expression} AS BIGINT) AS sort_number, CAST(NULL AS TEXT) AS sort_text")
        }
    }
}

/// How a list is ordered: by one column, either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TicketOrder {
    pub key: TicketSortKey,
    pub descending: bool,
}

impl Default for TicketOrder {
    /// The newest activity first.
    fn default() -> Self {
        TicketOrder {
            key: TicketSortKey::Updated,
            descending: true,
        }
    }
}

/// A row's value in the column a list is sorted by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    Number(i64),
    Text(String),
}

/// A row's place in a sorted list: its sort value and id. Pages start
/// after or before one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPosition {
    pub value: SortValue,
    pub id: i64,
}

/// One page of the list in its order: after the position of the last row
/// of the page before (keyset paging, as fast deep as near the top),
/// before the first row of the page after (going back towards the top),
/// or else skipping `offset` rows (numbered pages for the API).
#[derive(Debug, Clone, Default)]
pub struct TicketPage {
    pub order: TicketOrder,
    pub after: Option<ListPosition>,
    /// The rows just before this, still answered in the list's order.
    pub before: Option<ListPosition>,
    pub limit: i64,
    pub offset: i64,
}

/// A ticket of a page with its place in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTicket {
    pub ticket: TicketRecord,
    pub position: ListPosition,
}

#[derive(sqlx::FromRow)]
struct SortedTicketRow {
    #[sqlx(flatten)]
    ticket: TicketRecord,
    sort_number: Option<i64>,
    sort_text: Option<String>,
}

impl SortedTicketRow {
    fn into_listed(self) -> ListedTicket {
        let value = match (self.sort_number, self.sort_text) {
            (Some(number), _) => SortValue::Number(number),
            (None, text) => SortValue::Text(text.unwrap_or_default()),
        };
        ListedTicket {
            position: ListPosition {
                value,
                id: self.ticket.id,
            },
            ticket: self.ticket,
        }
    }
}

/// Binds a sort value.
fn push_sort_value<DB: sqlx::Database>(builder: &mut QueryBuilder<DB>, value: &SortValue)
where
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> String: Encode<'t, DB> + Type<DB>,
{
    match value {
        SortValue::Number(number) => builder.push_bind(*number),
        SortValue::Text(text) => builder.push_bind(text.clone()),
    };
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
    push_visibility(builder, visibility);
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
    if let Some(search) = &filter.search {
        super::search::push_search_constraint(builder, search);
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
/// Appends `AND (…)`: the tickets (`t`) the visibility lets one see.
pub(super) fn push_visibility<DB: sqlx::Database>(
    builder: &mut QueryBuilder<DB>,
    visibility: &Visibility,
) where
    for<'t> i64: Encode<'t, DB> + Type<DB>,
{
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
}

pub(crate) fn push_ids<DB: sqlx::Database>(builder: &mut QueryBuilder<DB>, ids: &[i64])
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
    /// One page of tickets in the page's order.
    pub async fn list_tickets(
        &self,
        visibility: &Visibility,
        filter: &TicketFilter,
        page: TicketPage,
    ) -> StoreResult<Vec<TicketRecord>> {
        Ok(self
            .list_ticket_page(visibility, filter, &page)
            .await?
            .into_iter()
            .map(|listed| listed.ticket)
            .collect())
    }

    /// One page of tickets in the page's order, each with its position
    /// (what the cursors of the pages beside are made of).
    pub async fn list_ticket_page(
        &self,
        visibility: &Visibility,
        filter: &TicketFilter,
        page: &TicketPage,
    ) -> StoreResult<Vec<ListedTicket>> {
        let (expression, _) = page.order.key.expression();
        // Read in the list's order, or against it to go back a page.
        let (bound, backwards) = match (&page.after, &page.before) {
            (Some(after), _) => (Some(after), false),
            (None, Some(before)) => (Some(before), true),
            (None, None) => (None, false),
        };
        let descending = page.order.descending != backwards;
        let mut rows = on_backend!(self, pool => {
            let mut builder = QueryBuilder::new(format!(
                "SELECT {TICKET_COLUMNS}, {} FROM tickets t",
                page.order.key.selected()
            ));
            push_conditions(&mut builder, visibility, filter, Purpose::Page);
            // A row-value comparison, which both databases turn into one
            // range of an index on the column (and id) when there is one,
            // read from either end.
            if let Some(position) = bound {
                let beyond = if descending { "<" } else { ">" };
                if page.order.key.is_column() {
                    builder.push(format!(" AND ({expression}, t.id) {beyond} ("));
                    push_sort_value(&mut builder, &position.value);
                    builder.push(", ");
                    builder.push_bind(position.id);
                    builder.push(")");
                } else {
                    // Spelled out: SQLite seeks an expression index on a
                    // range of the expression, not on a row value holding it.
                    builder.push(format!(" AND {expression} {beyond}= "));
                    push_sort_value(&mut builder, &position.value);
                    builder.push(format!(" AND ({expression} {beyond} "));
                    push_sort_value(&mut builder, &position.value);
                    builder.push(format!(" OR t.id {beyond} "));
                    builder.push_bind(position.id);
                    builder.push(")");
                }
            }
            let direction = if descending { " DESC" } else { "" };
            builder.push(format!(
                " ORDER BY {expression}{direction}, t.id{direction} LIMIT +"
            ));
            builder.push_bind(page.limit);
            if bound.is_none() && page.offset > 0 {
                builder.push(" OFFSET +");
                builder.push_bind(page.offset);
            }
            builder.build_query_as::<SortedTicketRow>().fetch_all(pool).await?
        });
        if backwards {
            rows.reverse();
        }
        Ok(rows.into_iter().map(SortedTicketRow::into_listed).collect())
    }

    /// A ticket's position in lists sorted by `key`; `None` when there is
    /// no such ticket.
    pub async fn list_position(
        &self,
        key: TicketSortKey,
        ticket_id: i64,
    ) -> StoreResult<Option<ListPosition>> {
        let row: Option<(Option<i64>, Option<String>)> = on_backend!(self, pool => {
            // The expression is one of the fixed ones above.
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM tickets t WHERE t.id = $1",
                key.selected()
            )))
                .bind(ticket_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(number, text)| ListPosition {
            value: match number {
                Some(number) => SortValue::Number(number),
                None => SortValue::Text(text.unwrap_or_default()),
            },
            id: ticket_id,
        }))
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
    /// of ticket writes made through this store, the newest id and change
    /// time in the database, which other nodes' writes move, and
    /// `events_handed_out`, the ticket events this node's reader had handed
    /// out (read by the caller before this). Two index lookups, however
    /// many tickets there are (each `MAX` on its own, which SQLite answers
    /// from the index only when it stands alone).
    pub async fn ticket_change_mark(
        &self,
        events_handed_out: i64,
    ) -> StoreResult<TicketChangeMark> {
        // Read before the database, so a write committed in between moves
        // the mark the next time rather than hiding behind it.
        let local_writes = self.ticket_writes.load(Ordering::Acquire);
        let (newest_id, newest_change) = on_backend!(self, pool => {
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT COALESCE((SELECT MAX(id) FROM tickets), 0), \
                        COALESCE((SELECT MAX(updated_at) FROM tickets), 0)",
            )
            .fetch_one(pool)
            .await?
        });
        Ok(TicketChangeMark {
            local_writes,
            newest_id,
            newest_change,
            events_handed_out,
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
