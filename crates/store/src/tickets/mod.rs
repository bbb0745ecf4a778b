//! Tickets, by concern: the rows and their lookups here; the list and its
//! counts (`list`), opening and changing a ticket (`write`), its thread
//! and files (`thread`), merging (`merge`), the people on it (`ccs`,
//! `followers`) and its lock and mailed links (`access`). Who may see or
//! change what is decided by the caller; the list query takes that
//! decision as a `Visibility`.

pub(crate) use list::push_ids;
pub(crate) use match_counts::MatchCounts;

mod access;
mod ccs;
mod events;
mod followers;
mod list;
mod match_counts;
mod merge;
mod ratings;
mod report_builder;
mod reports;
mod rules;
mod search;
mod sla_choice;
mod thread;
mod write;

pub use events::{
    Heard, PRESENCE_CHANNEL, RulesCue, TICKET_EVENTS_CHANNEL, TICKET_RULES_JOB_KIND,
    TicketEventKind, TicketEventListener, TicketEventRecord,
};
pub use list::{
    ListPosition, ListedTicket, SortValue, TicketChangeMark, TicketFilter, TicketOrder, TicketPage,
    TicketSortKey, Visibility,
};
pub use ratings::RatingRecord;
pub use report_builder::{
    REPORT_GROUPS, ReportCount, ReportDataset, ReportDimension, ReportMeasured, ReportQuery,
    ReportValue,
};
pub use reports::{
    AddressUse, AgentMessageLink, DashboardRows, DashboardWindow, OPEN_STATUSES, OpenedTicket,
    ReportScope,
};
pub use rules::{
    NewDelivery, RuleOutcome, RuleStep, RuleWrite, WEBHOOK_DELIVERY_ATTEMPTS,
    WEBHOOK_DELIVERY_JOB_KIND,
};
pub use search::{
    Comparison, RANKED_MATCHES, SearchCondition, SearchConstraint, SearchCounting, SearchFilter,
    SearchOrder, SearchPosition, SearchResults, TextQuery, TextTerm, TicketSearch,
};
pub(crate) use search::{Reindex, reindex};
pub use thread::{AttachmentRecord, MessageRecord, StoredAttachment, TicketLogRecord};
pub use write::{
    AGENT_NOTICE_JOB_KIND, AgentNotice, FromMail, NewAttachment, NewLogEntry, NewMessage,
    NewTicketRow, TicketActor, TicketProperties, TicketUpdate,
};

use ferrodesk_core::{Labels, TicketRef, TicketStatus, Urgency};

use crate::{Store, StoreResult, on_backend};

/// A ticket with the names the pages show next to its ids. Status,
/// urgency and reference are decoded into their types: a stored value
/// that is none of them is a decoding error, never a guess.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TicketRecord {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub reference: TicketRef,
    pub subject: String,
    #[sqlx(try_from = "String")]
    pub status: TicketStatus,
    #[sqlx(try_from = "i64")]
    pub urgency: Urgency,
    pub department_id: i64,
    pub department_name: String,
    pub requester_id: i64,
    pub requester_name: String,
    pub requester_email: String,
    pub organization_id: Option<i64>,
    pub organization_name: Option<String>,
    pub agent_id: Option<i64>,
    pub agent_name: Option<String>,
    pub team_id: Option<i64>,
    pub team_name: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub first_agent_reply_at: Option<i64>,
    pub resolved_at: Option<i64>,
    /// Set once the ticket was merged into another; its reference then
    /// leads there.
    pub merged_into_id: Option<i64>,
    /// A manual lock: who holds it and until when (it lapses by itself).
    pub locked_by_id: Option<i64>,
    pub locked_by_name: Option<String>,
    pub locked_until: Option<i64>,
    /// The entry of the optional priority list.
    pub priority_id: Option<i64>,
    pub priority_name: Option<String>,
    /// Raised to revoke the access codes mailed so far.
    pub access_generation: i64,
    /// The earliest due time and warning of its running SLA targets
    /// (`NO_SLA_DUE` when none runs).
    pub sla_due_at: i64,
    pub sla_warn_at: i64,
}

/// A ticket's columns with the names of what it points to. The names are
/// scalar subqueries rather than joins: each is one primary-key lookup per
/// row shown, and PostgreSQL plans a one-table query in a fraction of the
/// time a seven-way join takes (1.5 ms of planning per lookup by id, 4 ms per
/// list page, measured with `EXPLAIN ANALYZE`).
const TICKET_COLUMNS: &str = "t.id, t.reference, t.subject, t.status, t.urgency, t.department_id, \
    (SELECT d.name FROM departments d WHERE d.id = t.department_id) AS department_name, \
    t.requester_id, \
    (SELECT r.name FROM people r WHERE r.id = t.requester_id) AS requester_name, \
    (SELECT r.email FROM people r WHERE r.id = t.requester_id) AS requester_email, \
    t.organization_id, \
    (SELECT o.name FROM organizations o WHERE o.id = t.organization_id) AS organization_name, \
    t.agent_id, \
    (SELECT a.name FROM people a WHERE a.id = t.agent_id) AS agent_name, \
    t.team_id, \
    (SELECT tm.name FROM teams tm WHERE tm.id = t.team_id) AS team_name, \
    t.created_at, t.updated_at, t.first_agent_reply_at, t.resolved_at, t.merged_into_id, \
    t.locked_by_id, \
    (SELECT lk.name FROM people lk WHERE lk.id = t.locked_by_id) AS locked_by_name, \
    t.locked_until, t.priority_id, \
    (SELECT pr.name FROM ticket_priorities pr WHERE pr.id = t.priority_id) AS priority_name, \
    t.access_generation, t.sla_due_at, t.sla_warn_at";

impl Tickets<'_> {
    pub async fn get_ticket(&self, id: i64) -> StoreResult<Option<TicketRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, TicketRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {TICKET_COLUMNS} FROM tickets t WHERE t.id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    pub async fn find_ticket(&self, reference: &TicketRef) -> StoreResult<Option<TicketRecord>> {
        Ok(on_backend!(self, pool => {
            sqlx::query_as::<_, TicketRecord>(sqlx::AssertSqlSafe(format!(
                "SELECT {TICKET_COLUMNS} FROM tickets t WHERE t.reference = $1"
            )))
            .bind(reference.as_str())
            .fetch_optional(pool)
            .await?
        }))
    }

    /// A ticket's labels, in the one order labels are shown in.
    pub async fn ticket_labels(&self, ticket_id: i64) -> StoreResult<Labels> {
        let texts: Vec<String> = on_backend!(self, pool => {
            sqlx::query_scalar::<_, String>("SELECT label FROM ticket_labels WHERE ticket_id = $1")
                .bind(ticket_id)
                .fetch_all(pool)
                .await?
        });
        Ok(labels_from(texts))
    }

    /// Whether any ticket is filed in the department.
    pub async fn department_has_tickets(&self, department_id: i64) -> StoreResult<bool> {
        let found: Option<i64> = on_backend!(self, pool => {
            sqlx::query_scalar("SELECT id FROM tickets WHERE department_id = $1 LIMIT 1")
                .bind(department_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(found.is_some())
    }
}

/// Labels as stored. Every stored label passed `Label::parse` on its way
/// in; one that no longer would (a rule made stricter since) is left out
/// rather than failing the whole page.
fn labels_from(texts: Vec<String>) -> Labels {
    Labels::sorted(
        texts
            .into_iter()
            .filter_map(|text| ferrodesk_core::Label::try_from(text).ok())
            .collect(),
    )
}

/// The store's operations on tickets and their threads: `store.tickets()`.
#[derive(Clone, Copy)]
pub struct Tickets<'a> {
    store: &'a Store,
}

impl Store {
    pub fn tickets(&self) -> Tickets<'_> {
        Tickets { store: self }
    }
}

impl std::ops::Deref for Tickets<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}
