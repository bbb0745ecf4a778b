//! What the report builder reads: the rows of one dataset (tickets,
//! messages, ticket log changes, sign-ins or satisfaction ratings) in a
//! time range, grouped by up to two dimensions. Counts are made by the
//! database; for the other measures (percentiles, working time) each
//! row's values come back and the application reduces them. Every
//! dataset but sign-ins is read through the tickets its reader may see
//! (`ReportScope`, with the report's search), in the same read-only
//! transaction with a statement timeout as the dashboard.

use sqlx::{Encode, QueryBuilder, Type};

use super::reports::{ReportScope, push_scope};
use crate::backend::BeginRead;
use crate::{StoreResult, on_backend};

/// What a report counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportDataset {
    /// Tickets, by when they were opened.
    Tickets,
    /// Replies and notes, by when they were written.
    Messages,
    /// Ticket log entries (one per changed property), by when.
    Changes,
    /// Agents' sign-ins and failed attempts (no tickets involved).
    Logins,
    /// Satisfaction ratings, by when they were given.
    Ratings,
}

/// What rows are grouped by. Each answers a key (what is grouped on) and
/// a label (what the reader sees); an empty key is "none" (unassigned,
/// no label, not an agent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportDimension {
    /// The hour a row's time falls in, counted from the epoch after
    /// adding `shift` milliseconds (the zone's part of an hour): the
    /// application makes local days, weeks and months of them.
    Hour {
        shift: i64,
    },
    Department,
    /// The assignee (tickets, ratings), the author (messages), who made
    /// the change (changes) or who signed in (sign-ins); only agents.
    Agent,
    Team,
    Status,
    Label,
    Channel,
    Organization,
    /// The host name recorded for the address (or the address itself).
    Hostname,
    /// A custom field's value.
    Field(i64),
    /// `good` or `bad`.
    Rating,
    /// The property a log entry changed.
    Change,
    /// `succeeded` or `failed`.
    Outcome,
}

/// What each row measures beyond being counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportValue {
    /// From opening to the first agent reply.
    FirstResponse,
    /// From opening to resolution.
    Resolution,
    Urgency,
    /// A custom field's value, as text.
    Field(i64),
}

/// One report's reading.
#[derive(Debug, Clone)]
pub struct ReportQuery {
    pub dataset: ReportDataset,
    pub scope: ReportScope,
    /// `[from, until)`, Unix milliseconds.
    pub from: i64,
    pub until: i64,
    /// None, one or two.
    pub dimensions: Vec<ReportDimension>,
}

/// A group and how many rows fall in it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReportCount {
    pub key1: String,
    pub label1: String,
    pub key2: String,
    pub label2: String,
    pub count: i64,
}

/// One row's measured values, with its groups: `start` and `end` for
/// durations, `number` for urgency, `text` for a custom field.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReportMeasured {
    pub key1: String,
    pub label1: String,
    pub key2: String,
    pub label2: String,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub text: Option<String>,
}

/// Groups answered at most (the largest first).
pub const REPORT_GROUPS: i64 = 5_000;

impl ReportDataset {
    /// The table read and the joins every dimension may use.
    fn source(self) -> &'static str {
        match self {
            ReportDataset::Tickets => " FROM tickets t",
            ReportDataset::Messages => {
                " FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id"
            }
            ReportDataset::Changes => " FROM ticket_log l JOIN tickets t ON t.id = l.ticket_id",
            ReportDataset::Logins => {
                " FROM login_log g JOIN people gp ON gp.id = g.person_id AND gp.is_agent"
            }
            ReportDataset::Ratings => " FROM ticket_ratings r JOIN tickets t ON t.id = r.ticket_id",
        }
    }

    /// The column of each row's time.
    fn time(self) -> &'static str {
        match self {
            ReportDataset::Tickets => "t.created_at",
            ReportDataset::Messages => "m.created_at",
            ReportDataset::Changes => "l.occurred_at",
            ReportDataset::Logins => "g.occurred_at",
            ReportDataset::Ratings => "r.rated_at",
        }
    }

    /// The person a row is about, for the agent dimension.
    fn person(self) -> &'static str {
        match self {
            ReportDataset::Tickets | ReportDataset::Ratings => "t.agent_id",
            ReportDataset::Messages => "m.author_id",
            ReportDataset::Changes => "l.actor_id",
            ReportDataset::Logins => "g.person_id",
        }
    }

    /// The address a row came from, where it has one.
    fn address(self) -> Option<&'static str> {
        match self {
            ReportDataset::Messages => Some("m.ip"),
            ReportDataset::Logins => Some("g.ip"),
            _ => None,
        }
    }

    /// Whether dimension `dimension` means anything for these rows.
    pub fn offers(self, dimension: ReportDimension) -> bool {
        use ReportDimension as D;
        match dimension {
            D::Hour { .. } | D::Agent => true,
            D::Hostname => self.address().is_some(),
            D::Rating => self == ReportDataset::Ratings,
            D::Change => self == ReportDataset::Changes,
            D::Outcome => self == ReportDataset::Logins,
            D::Department
            | D::Team
            | D::Status
            | D::Label
            | D::Channel
            | D::Organization
            | D::Field(_) => self != ReportDataset::Logins,
        }
    }
}

/// Appends one dimension's `key, label` to the select list and answers
/// the join it needs; `n` keeps the joins of two dimensions apart.
fn push_dimension<DB: sqlx::Database>(
    select: &mut QueryBuilder<DB>,
    dataset: ReportDataset,
    dimension: Option<ReportDimension>,
    n: usize,
) -> String
where
    for<'t> i64: Encode<'t, DB> + Type<DB>,
{
    use ReportDimension as D;
    let text = |expression: &str| format!("COALESCE(CAST({expression} AS TEXT), '')");
    let (key, label, join) = match dimension {
        None => ("''".to_owned(), "''".to_owned(), String::new()),
        Some(dimension) if !dataset.offers(dimension) => {
            ("''".to_owned(), "''".to_owned(), String::new())
        }
        Some(D::Hour { shift }) => {
            select.push(format!("CAST(({} + ", dataset.time()));
            select.push_bind(shift);
            select.push(format!(") / 3600000 AS TEXT) AS key{n}, '' AS label{n}, "));
            return String::new();
        }
        Some(D::Department) => (
            text("t.department_id"),
            text(&format!("d{n}.name")),
            format!(" LEFT JOIN departments d{n} ON d{n}.id = t.department_id"),
        ),
        Some(D::Agent) => (
            format!(
                "CASE WHEN a{n}.is_agent THEN {} ELSE '' END",
                text(&format!("a{n}.id"))
            ),
            format!(
                "CASE WHEN a{n}.is_agent THEN {} ELSE '' END",
                text(&format!("a{n}.name"))
            ),
            format!(" LEFT JOIN people a{n} ON a{n}.id = {}", dataset.person()),
        ),
        Some(D::Team) => (
            text("t.team_id"),
            text(&format!("tm{n}.name")),
            format!(" LEFT JOIN teams tm{n} ON tm{n}.id = t.team_id"),
        ),
        Some(D::Status) => ("t.status".to_owned(), "t.status".to_owned(), String::new()),
        Some(D::Channel) => (
            "t.channel".to_owned(),
            "t.channel".to_owned(),
            String::new(),
        ),
        Some(D::Label) => (
            text(&format!("tl{n}.label")),
            text(&format!("tl{n}.label")),
            format!(" LEFT JOIN ticket_labels tl{n} ON tl{n}.ticket_id = t.id"),
        ),
        Some(D::Organization) => (
            text("t.organization_id"),
            text(&format!("o{n}.name")),
            format!(" LEFT JOIN organizations o{n} ON o{n}.id = t.organization_id"),
        ),
        Some(D::Hostname) => {
            let address = dataset.address().unwrap_or("''");
            let named = format!("COALESCE(h{n}.hostname, {address})");
            (
                named.clone(),
                named,
                format!(" LEFT JOIN ip_hostnames h{n} ON h{n}.ip = {address}"),
            )
        }
        Some(D::Field(id)) => (
            text(&format!("fv{n}.value")),
            text(&format!("fv{n}.value")),
            format!(
                " LEFT JOIN ticket_field_values fv{n} ON fv{n}.ticket_id = t.id AND fv{n}.field_id = {id}"
            ),
        ),
        Some(D::Rating) => ("r.rating".to_owned(), "r.rating".to_owned(), String::new()),
        Some(D::Change) => ("l.field".to_owned(), "l.field".to_owned(), String::new()),
        Some(D::Outcome) => {
            let outcome = "CASE WHEN g.succeeded THEN 'succeeded' ELSE 'failed' END";
            (outcome.to_owned(), outcome.to_owned(), String::new())
        }
    };
    select.push(format!("{key} AS key{n}, {label} AS label{n}, "));
    join
}

/// Appends everything up to and including the conditions: the groups'
/// columns (the caller has pushed `SELECT` and pushes the measure after
/// the first part), the source with the joins, the time range and the
/// scope.
fn push_report_source<DB: sqlx::Database>(
    builder: &mut QueryBuilder<DB>,
    query: &ReportQuery,
    measure: &str,
    measure_join: &str,
) where
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> String: Encode<'t, DB> + Type<DB>,
{
    let first = push_dimension(builder, query.dataset, query.dimensions.first().copied(), 1);
    let second = push_dimension(builder, query.dataset, query.dimensions.get(1).copied(), 2);
    builder.push(measure);
    builder.push(query.dataset.source());
    builder.push(first);
    builder.push(second);
    builder.push(measure_join);
    builder.push(" WHERE ");
    builder.push(query.dataset.time());
    builder.push(" >= ");
    builder.push_bind(query.from);
    builder.push(" AND ");
    builder.push(query.dataset.time());
    builder.push(" < ");
    builder.push_bind(query.until);
    if query.dataset == ReportDataset::Logins {
        builder.push(" AND g.surface = 'staff'");
    } else {
        push_scope(builder, &query.scope);
    }
}

impl super::Tickets<'_> {
    /// How many rows fall in each group, the largest groups first, at
    /// most `REPORT_GROUPS`.
    pub async fn report_counts(&self, query: &ReportQuery) -> StoreResult<Vec<ReportCount>> {
        Ok(on_backend!(self, pool => {
            let mut transaction = pool.begin_report().await?;
            let mut builder = QueryBuilder::new("SELECT ");
            push_report_source(&mut builder, query, "COUNT(*) AS count", "");
            builder.push(" GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC, 1, 3 LIMIT +");
            builder.push_bind(REPORT_GROUPS);
            let rows = builder.build_query_as().fetch_all(&mut *transaction).await?;
            transaction.commit().await?;
            rows
        }))
    }

    /// Each ticket's measured values (tickets only), at most `limit`
    /// rows: those without a value (never answered, not resolved, the
    /// field empty) are left out.
    pub async fn report_measured(
        &self,
        query: &ReportQuery,
        value: ReportValue,
        limit: i64,
    ) -> StoreResult<Vec<ReportMeasured>> {
        let (measure, join, present) = match value {
            ReportValue::FirstResponse => (
                "t.created_at AS start, t.first_agent_reply_at AS \"end\", CAST(NULL AS TEXT) AS text",
                String::new(),
                " AND t.first_agent_reply_at IS NOT NULL",
            ),
            ReportValue::Resolution => (
                "t.created_at AS start, t.resolved_at AS \"end\", CAST(NULL AS TEXT) AS text",
                String::new(),
                " AND t.resolved_at IS NOT NULL",
            ),
            ReportValue::Urgency => (
                "CAST(NULL AS BIGINT) AS start, CAST(t.urgency AS BIGINT) AS \"end\", CAST(NULL AS TEXT) AS text",
                String::new(),
                "",
            ),
            ReportValue::Field(id) => (
                "CAST(NULL AS BIGINT) AS start, CAST(NULL AS BIGINT) AS \"end\", mv.value AS text",
                format!(
                    " JOIN ticket_field_values mv ON mv.ticket_id = t.id AND mv.field_id = {id}"
                ),
                "",
            ),
        };
        Ok(on_backend!(self, pool => {
            let mut transaction = pool.begin_report().await?;
            let mut builder = QueryBuilder::new("SELECT ");
            push_report_source(&mut builder, query, measure, &join);
            builder.push(present);
            builder.push(" LIMIT +");
            builder.push_bind(limit);
            let rows = builder.build_query_as().fetch_all(&mut *transaction).await?;
            transaction.commit().await?;
            rows
        }))
    }
}
