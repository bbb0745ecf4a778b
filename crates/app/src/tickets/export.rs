//! A ticket list as CSV (`/agent/tickets.csv`): the list an agent sees,
//! with its view, filters, search and order, read a page at a time by
//! keyset, so a million rows never sit in memory. Agents with the reports
//! permission export; each export is audited with its query.

use ferrodesk_core::{Permission, Timestamp, Zone};
use ferrodesk_store::{TicketFilter, TicketOrder, Visibility};

use super::list::{PageRequest, TicketListQuery, ticket_filter};
use crate::audit::{Audit, Caller};
use crate::{App, AppResult};

/// Rows read per page of an export.
const EXPORT_PAGE: i64 = 1_000;

/// The columns of an exported ticket list.
pub const TICKET_EXPORT_COLUMNS: [&str; 17] = [
    "Reference",
    "Subject",
    "Status",
    "Urgency",
    "Priority",
    "Department",
    "Team",
    "Agent",
    "Requester",
    "Requester address",
    "Organization",
    "Labels",
    "Opened",
    "Last activity",
    "First response",
    "Resolved",
    "Link",
];

/// An export under way: where the next page starts.
pub struct TicketExport {
    visibility: Visibility,
    filter: TicketFilter,
    order: TicketOrder,
    after: Option<String>,
    finished: bool,
    zone: Zone,
    link_base: String,
}

impl App {
    /// Starts exporting the list `query` shows the agent (audited).
    pub async fn start_ticket_export(
        &self,
        caller: &Caller<'_>,
        query: &TicketListQuery,
    ) -> AppResult<TicketExport> {
        let context = self.agent_context(caller.actor).await?;
        context.require(Permission::ReportsView)?;
        let visibility = context.visibility();
        let (search, _) = self.list_search(&context, &query.search).await?;
        let filter = ticket_filter(&context, query, query.view, search.as_ref());
        let (order, _) = self.kept_order(&visibility, &filter, query.order).await?;
        let (zone, _) = self.zone_of(caller.actor).await?;
        self.audit(
            &Audit::new(caller, "tickets.exported")
                .on("tickets", None, "ticket list as CSV")
                .after(&serde_json::json!({
                    "view": query.view.key(),
                    "search": query.search,
                    "department": query.department_id,
                    "order": query.order.key.key(),
                })),
        )
        .await?;
        Ok(TicketExport {
            visibility,
            filter,
            order,
            after: None,
            finished: false,
            zone,
            link_base: format!("{}/agent/tickets/", self.public_url()),
        })
    }

    /// The next rows of an export, as cells; `None` once all are read.
    pub async fn next_export_rows(
        &self,
        export: &mut TicketExport,
    ) -> AppResult<Option<Vec<Vec<String>>>> {
        if export.finished {
            return Ok(None);
        }
        let page = self
            .ticket_page(
                &export.visibility,
                &export.filter,
                PageRequest {
                    after: export.after.as_deref(),
                    before: None,
                    size: EXPORT_PAGE,
                    offset: 0,
                    order: export.order,
                },
            )
            .await?;
        export.finished = page.next.is_none();
        export.after = page.next;
        let ids: Vec<i64> = page.tickets.iter().map(|ticket| ticket.id).collect();
        let labels = self.store().tickets().labels_of_tickets(&ids).await?;
        let time =
            |at: Option<i64>| at.map_or_else(String::new, |at| export.zone.time(Timestamp(at)));
        let rows = page
            .tickets
            .into_iter()
            .map(|ticket| {
                vec![
                    ticket.reference.to_string(),
                    ticket.subject.clone(),
                    ticket.status.label().to_owned(),
                    ticket.urgency.get().to_string(),
                    ticket.priority_name.clone().unwrap_or_default(),
                    ticket.department_name.clone(),
                    ticket.team_name.clone().unwrap_or_default(),
                    ticket.agent_name.clone().unwrap_or_default(),
                    ticket.requester_name.clone(),
                    ticket.requester_email.clone(),
                    ticket.organization_name.clone().unwrap_or_default(),
                    labels
                        .get(&ticket.id)
                        .map(|labels| labels.to_strings().join(" "))
                        .unwrap_or_default(),
                    time(Some(ticket.created_at)),
                    time(Some(ticket.updated_at)),
                    time(ticket.first_agent_reply_at),
                    time(ticket.resolved_at),
                    format!("{}{}", export.link_base, ticket.reference),
                ]
            })
            .collect();
        Ok(Some(rows))
    }
}
