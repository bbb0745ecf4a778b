//! What the reports read: bounded by time, through the same visibility as
//! the ticket list (so a report never counts a ticket its reader may not
//! see), in read-only transactions with a statement timeout on
//! PostgreSQL (`BeginRead`), so a heavy report cannot hold up the desk.
//! Sums and groups are made by the database; durations come back as
//! pairs of times, for percentiles and working time in the application.

use sqlx::{Encode, QueryBuilder, Type};

use super::list::{Visibility, push_ids, push_visibility};
use super::search::{SearchConstraint, push_search_constraint};
use crate::backend::BeginRead;
use crate::{StoreResult, on_backend};

/// Which tickets a report counts.
#[derive(Debug, Clone)]
pub struct ReportScope {
    pub visibility: Visibility,
    /// Only these departments (a department and its sub-departments);
    /// empty: every department the visibility allows.
    pub department_ids: Vec<i64>,
    pub team_id: Option<i64>,
    /// A search's filters and words the tickets must also match.
    pub search: Option<SearchConstraint>,
}

/// The dashboard's time range, in milliseconds: `[from, until)` and the
/// period before it, `[previous_from, from)`.
#[derive(Debug, Clone, Copy)]
pub struct DashboardWindow {
    pub previous_from: i64,
    pub from: i64,
    pub until: i64,
}

/// The statuses a ticket counts as open in (waiting on someone).
pub const OPEN_STATUSES: [&str; 3] = ["awaiting_agent", "awaiting_user", "pending"];

/// A ticket opened in the dashboard's periods, with what it is counted by.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OpenedTicket {
    pub created_at: i64,
    pub first_agent_reply_at: Option<i64>,
    pub channel: String,
    pub department_id: i64,
    pub agent_id: Option<i64>,
    pub team_id: Option<i64>,
}

/// What the dashboard is made of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DashboardRows {
    /// Tickets opened in both periods, read once: the counts, first
    /// responses and breakdowns are made from them.
    pub opened: Vec<OpenedTicket>,
    /// Tickets resolved in both periods (and still resolved or
    /// archived): (opened, resolved).
    pub resolved: Vec<(i64, i64)>,
    /// When tickets were reopened, in both periods.
    pub reopened: Vec<i64>,
    /// Open tickets now.
    pub open_now: i64,
    /// From the period's end until now (for a period in the past): when
    /// tickets were opened (+1); and since the period began, when a status
    /// change opened (+1) or closed (-1) one. With the openings in
    /// `opened`, they walk the backlog back from `open_now`.
    pub backlog_changes: Vec<(i64, i64)>,
    /// The most used labels of the period's tickets.
    pub by_label: Vec<(String, i64)>,
    /// SLA targets due in the period: (target, state, met at, due at).
    pub sla_targets: Vec<(String, String, Option<i64>, i64)>,
    /// Satisfaction ratings given in both periods: (when, `good`/`bad`).
    pub ratings: Vec<(i64, String)>,
}

/// Where an agent wrote or signed in from in a period: how often, and
/// when last.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AddressUse {
    pub person_id: i64,
    pub ip: String,
    pub count: i64,
    pub last_at: i64,
}

/// A message an agent wrote, for a link to it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AgentMessageLink {
    pub message_id: i64,
    pub reference: String,
    pub subject: String,
    pub created_at: i64,
}

/// How many labels the dashboard shows.
const TOP_LABELS: i64 = 12;

/// Appends the scope's conditions on the tickets `t`: visible, in the
/// chosen departments and team, neither spam nor deleted (nor merged away,
/// which leaves a ticket deleted).
pub(super) fn push_scope<DB: sqlx::Database>(builder: &mut QueryBuilder<DB>, scope: &ReportScope)
where
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> String: Encode<'t, DB> + Type<DB>,
{
    push_visibility(builder, &scope.visibility);
    if !scope.department_ids.is_empty() {
        builder.push(" AND t.department_id IN (");
        push_ids(builder, &scope.department_ids);
        builder.push(")");
    }
    if let Some(team_id) = scope.team_id {
        builder.push(" AND t.team_id = ");
        builder.push_bind(team_id);
    }
    // A ticket merged into another is `deleted` too.
    builder.push(" AND t.status NOT IN ('spam', 'deleted')");
    if let Some(search) = &scope.search {
        push_search_constraint(builder, search);
    }
}

/// Appends `AND t.created_at` within `[from, until)`.
fn push_opened_within<DB: sqlx::Database>(builder: &mut QueryBuilder<DB>, from: i64, until: i64)
where
    for<'t> i64: Encode<'t, DB> + Type<DB>,
{
    builder.push(" AND t.created_at >= ");
    builder.push_bind(from);
    builder.push(" AND t.created_at < ");
    builder.push_bind(until);
}

/// Appends a status-change condition on the log `l` within `[from, until)`.
fn push_status_changes<DB: sqlx::Database>(builder: &mut QueryBuilder<DB>, from: i64, until: i64)
where
    for<'t> i64: Encode<'t, DB> + Type<DB>,
{
    builder.push(" AND l.field = 'status' AND l.occurred_at >= ");
    builder.push_bind(from);
    builder.push(" AND l.occurred_at < ");
    builder.push_bind(until);
}

impl super::Tickets<'_> {
    /// Everything the dashboard shows for one scope and window; `now`
    /// bounds the backlog's walk back. Three reads run side by side, each
    /// in its own read-only transaction: the period's openings, its labels
    /// (at a million tickets a year, a year's labels alone take as long as
    /// the rest), and everything else.
    pub async fn dashboard_rows(
        &self,
        scope: &ReportScope,
        window: DashboardWindow,
        now: i64,
    ) -> StoreResult<DashboardRows> {
        let (opened, by_label, mut rows) = tokio::try_join!(
            self.dashboard_openings(scope, window),
            self.dashboard_labels(scope, window),
            self.dashboard_changes(scope, window, now),
        )?;
        rows.opened = opened;
        rows.by_label = by_label;
        Ok(rows)
    }

    /// The tickets opened in both periods.
    async fn dashboard_openings(
        &self,
        scope: &ReportScope,
        window: DashboardWindow,
    ) -> StoreResult<Vec<OpenedTicket>> {
        Ok(on_backend!(self, pool => {
            let mut transaction = pool.begin_report().await?;
            let mut query = QueryBuilder::new(
                "SELECT t.created_at, t.first_agent_reply_at, t.channel, t.department_id, \
                 t.agent_id, t.team_id FROM tickets t WHERE 1 = 1",
            );
            push_scope(&mut query, scope);
            push_opened_within(&mut query, window.previous_from, window.until);
            let opened = query.build_query_as().fetch_all(&mut *transaction).await?;
            transaction.commit().await?;
            opened
        }))
    }

    /// The most used labels of the period's openings.
    async fn dashboard_labels(
        &self,
        scope: &ReportScope,
        window: DashboardWindow,
    ) -> StoreResult<Vec<(String, i64)>> {
        Ok(on_backend!(self, pool => {
            let mut transaction = pool.begin_report().await?;
            let mut query = QueryBuilder::new(
                "SELECT fl.label, COUNT(*) FROM ticket_labels fl JOIN tickets t ON t.id = fl.ticket_id WHERE 1 = 1",
            );
            push_scope(&mut query, scope);
            push_opened_within(&mut query, window.from, window.until);
            query.push(" GROUP BY fl.label ORDER BY COUNT(*) DESC, fl.label LIMIT +");
            query.push_bind(TOP_LABELS);
            let labels = query.build_query_as().fetch_all(&mut *transaction).await?;
            transaction.commit().await?;
            labels
        }))
    }

    /// Resolutions, reopenings, what is open now and the backlog's
    /// changes, SLA targets and ratings.
    async fn dashboard_changes(
        &self,
        scope: &ReportScope,
        window: DashboardWindow,
        now: i64,
    ) -> StoreResult<DashboardRows> {
        let DashboardWindow {
            previous_from,
            from,
            until,
        } = window;
        let open_list = OPEN_STATUSES
            .iter()
            .map(|status| format!("'{status}'"))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(on_backend!(self, pool => {
            let mut transaction = pool.begin_report().await?;
            let mut rows = DashboardRows::default();
            let mut query = QueryBuilder::new(
                "SELECT t.created_at, t.resolved_at FROM tickets t WHERE t.resolved_at >= ",
            );
            query.push_bind(previous_from);
            query.push(" AND t.resolved_at < ");
            query.push_bind(until);
            query.push(" AND t.status IN ('resolved', 'archived')");
            push_scope(&mut query, scope);
            rows.resolved = query.build_query_as().fetch_all(&mut *transaction).await?;

            let mut query = QueryBuilder::new(
                "SELECT l.occurred_at FROM ticket_log l JOIN tickets t ON t.id = l.ticket_id WHERE 1 = 1",
            );
            push_status_changes(&mut query, previous_from, until);
            query.push(format!(
                " AND l.before_value IN ('resolved', 'archived') AND l.after_value IN ({open_list})"
            ));
            push_scope(&mut query, scope);
            rows.reopened = query.build_query_scalar().fetch_all(&mut *transaction).await?;

            let mut query = QueryBuilder::new(format!(
                "SELECT COUNT(*) FROM tickets t WHERE t.status IN ({open_list})"
            ));
            push_scope(&mut query, scope);
            rows.open_now = query.build_query_scalar().fetch_one(&mut *transaction).await?;

            // Openings after the period (up to now), when it lies in the past.
            let mut changes: Vec<(i64, i64)> = Vec::new();
            if now >= until {
                let mut query =
                    QueryBuilder::new("SELECT t.created_at, CAST(1 AS BIGINT) FROM tickets t WHERE 1 = 1");
                push_scope(&mut query, scope);
                push_opened_within(&mut query, until, now + 1);
                changes = query.build_query_as().fetch_all(&mut *transaction).await?;
            }
            let mut query = QueryBuilder::new(format!(
                "SELECT l.occurred_at, CAST(\
                 CASE WHEN l.after_value IN ({open_list}) THEN 1 ELSE 0 END \
                 - CASE WHEN l.before_value IN ({open_list}) THEN 1 ELSE 0 END AS BIGINT) \
                 FROM ticket_log l JOIN tickets t ON t.id = l.ticket_id WHERE 1 = 1"
            ));
            push_status_changes(&mut query, from, now.max(until));
            push_scope(&mut query, scope);
            let status_changes: Vec<(i64, i64)> =
                query.build_query_as().fetch_all(&mut *transaction).await?;
            changes.extend(status_changes.into_iter().filter(|(_, delta)| *delta != 0));
            rows.backlog_changes = changes;

            let mut query = QueryBuilder::new(
                "SELECT s.target, s.state, s.met_at, s.due_at FROM ticket_slas s \
                 JOIN tickets t ON t.id = s.ticket_id WHERE s.due_at >= ",
            );
            query.push_bind(from);
            query.push(" AND s.due_at < ");
            query.push_bind(until);
            push_scope(&mut query, scope);
            rows.sla_targets = query.build_query_as().fetch_all(&mut *transaction).await?;

            let mut query = QueryBuilder::new(
                "SELECT r.rated_at, r.rating FROM ticket_ratings r \
                 JOIN tickets t ON t.id = r.ticket_id WHERE r.rated_at >= ",
            );
            query.push_bind(previous_from);
            query.push(" AND r.rated_at < ");
            query.push_bind(until);
            push_scope(&mut query, scope);
            rows.ratings = query.build_query_as().fetch_all(&mut *transaction).await?;

            transaction.commit().await?;
            rows
        }))
    }

    /// Agents' messages (replies and notes written with an address) in
    /// `[from, until)` on tickets in scope, by author and address.
    pub async fn agent_message_addresses(
        &self,
        scope: &ReportScope,
        from: i64,
        until: i64,
    ) -> StoreResult<Vec<AddressUse>> {
        Ok(on_backend!(self, pool => {
            let mut transaction = pool.begin_report().await?;
            let mut query = QueryBuilder::new(
                "SELECT m.author_id AS person_id, m.ip, COUNT(*) AS count, MAX(m.created_at) AS last_at \
                 FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id \
                 JOIN people p ON p.id = m.author_id \
                 WHERE p.is_agent AND m.ip <> '' AND m.created_at >= ",
            );
            query.push_bind(from);
            query.push(" AND m.created_at < ");
            query.push_bind(until);
            push_scope(&mut query, scope);
            query.push(" GROUP BY m.author_id, m.ip");
            let rows = query.build_query_as().fetch_all(&mut *transaction).await?;
            transaction.commit().await?;
            rows
        }))
    }

    /// The newest messages one agent wrote from one address in
    /// `[from, until)` on tickets in scope, at most `limit`.
    pub async fn agent_messages_from(
        &self,
        scope: &ReportScope,
        (person_id, ip): (i64, &str),
        (from, until): (i64, i64),
        limit: i64,
    ) -> StoreResult<Vec<AgentMessageLink>> {
        Ok(on_backend!(self, pool => {
            let mut transaction = pool.begin_report().await?;
            let mut query = QueryBuilder::new(
                "SELECT m.id AS message_id, t.reference, t.subject, m.created_at \
                 FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id WHERE m.author_id = ",
            );
            query.push_bind(person_id);
            query.push(" AND m.ip = ");
            query.push_bind(ip.to_owned());
            query.push(" AND m.created_at >= ");
            query.push_bind(from);
            query.push(" AND m.created_at < ");
            query.push_bind(until);
            push_scope(&mut query, scope);
            query.push(" ORDER BY m.created_at DESC, m.id DESC LIMIT +");
            query.push_bind(limit);
            let rows = query.build_query_as().fetch_all(&mut *transaction).await?;
            transaction.commit().await?;
            rows
        }))
    }
}
