//! The agent list and the API's ticket list: views, filters, keyset
//! pages, and each view's count (from the per-node count cache).

use std::collections::HashMap;

use ferrodesk_core::{Label, Labels, TicketStatus, Urgency};
use ferrodesk_store::{
    ListPosition, SearchConstraint, SortValue, TicketChangeMark, TicketFilter, TicketOrder,
    TicketPage, TicketRecord, TicketSortKey, Visibility,
};

use super::AgentContext;
use crate::error::parse_keyset_cursor;
use crate::{Actor, App, AppError, AppResult};

/// Rows per page of the agent list.
pub const TICKET_PAGE_SIZE: i64 = 50;
/// The agent list counts each view's tickets up to this many and shows
/// "1000+" beyond, so the page costs the same at a million tickets.
pub const LIST_COUNT_CAP: i64 = 1000;

/// A list sorted by a column no index serves (a name read from another
/// table, the status) holds at most this many tickets; a larger one is
/// shown by last activity, with a notice: sorting it would read and sort
/// every matching ticket (1.6 s for a million on SQLite).
pub const SORT_WITHOUT_INDEX_LIMIT: i64 = 10_000;

/// A view of the list: whose tickets it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ListView {
    Mine,
    Unassigned,
    /// The agent's teams'.
    Teams,
    Followed,
    #[default]
    All,
}

impl ListView {
    pub const ALL: [ListView; 5] = [
        ListView::Mine,
        ListView::Unassigned,
        ListView::Teams,
        ListView::Followed,
        ListView::All,
    ];

    pub fn key(self) -> &'static str {
        match self {
            ListView::Mine => "mine",
            ListView::Unassigned => "unassigned",
            ListView::Teams => "teams",
            ListView::Followed => "followed",
            ListView::All => "all",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ListView::Mine => "Mine",
            ListView::Unassigned => "Unassigned",
            ListView::Teams => "My teams",
            ListView::Followed => "Followed",
            ListView::All => "All",
        }
    }

    /// A view by its key; anything else is the whole list.
    pub fn from_key(key: &str) -> ListView {
        ListView::ALL
            .into_iter()
            .find(|view| view.key() == key)
            .unwrap_or_default()
    }
}

/// Which statuses the list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    /// Everything not resolved or archived.
    #[default]
    Open,
    /// Every status the lists show.
    Any,
    Only(TicketStatus),
}

impl StatusFilter {
    /// As a form or the API sends it: empty, `any` or a status key.
    pub fn parse(text: &str) -> AppResult<StatusFilter> {
        match text.trim() {
            "" => Ok(StatusFilter::Open),
            "any" => Ok(StatusFilter::Any),
            key => TicketStatus::from_key(key)
                .map(StatusFilter::Only)
                .ok_or_else(|| AppError::invalid("status", "Unknown status.")),
        }
    }

    /// The key the filter was chosen with, for links.
    pub fn key(self) -> &'static str {
        match self {
            StatusFilter::Open => "",
            StatusFilter::Any => "any",
            StatusFilter::Only(status) => status.key(),
        }
    }

    fn statuses(self) -> Vec<TicketStatus> {
        match self {
            StatusFilter::Open => TicketStatus::open().collect(),
            StatusFilter::Any => TicketStatus::VISIBLE.to_vec(),
            StatusFilter::Only(status) => vec![status],
        }
    }
}

/// The filters of the agent list, as the page or API parsed them.
#[derive(Debug, Clone, Default)]
pub struct TicketListQuery {
    pub view: ListView,
    pub status: StatusFilter,
    pub department_id: Option<i64>,
    pub label: Option<Label>,
    pub urgency_at_least: Option<Urgency>,
    /// Tickets assigned to this agent (in the whole list).
    pub agent_id: Option<i64>,
    /// A search in the workspace's query language (words and filters such
    /// as `label:vip`), narrowing the list further.
    pub search: String,
    /// The column and direction (the newest activity first by default).
    pub order: TicketOrder,
    /// The cursor of the page: the sort value and id of the last row
    /// before (see `list_cursor`).
    pub after: Option<String>,
    /// Or of the first row after, going back towards the newest.
    pub before: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TicketList {
    pub tickets: Vec<TicketRecord>,
    /// The tickets under the filters; in the agent list at most
    /// `LIST_COUNT_CAP` (meaning that many or more).
    pub total: i64,
    /// The cursor of the next (older) page, when there is one.
    pub next: Option<String>,
    /// The cursor of the page before (newer), when there is one.
    pub previous: Option<String>,
    /// How many tickets each view holds under the same filters.
    pub view_counts: Vec<(ListView, i64)>,
    /// Each ticket of the page's labels, by ticket id.
    pub labels: HashMap<i64, Labels>,
    /// The newest ticket event when the agent list was read (its live
    /// updates start after it); 0 for the API's lists.
    pub events_after: i64,
    /// What the list's search could not use ("No department is called X"),
    /// and an order it could not keep.
    pub notices: Vec<String>,
    /// The order the tickets are in (the one asked for, unless the list
    /// was too long for it; see `SORT_WITHOUT_INDEX_LIMIT`).
    pub order: TicketOrder,
}

/// The agent list page: its tickets and what it shows beside them.
#[derive(Debug, Clone)]
pub struct AgentListPage {
    pub list: TicketList,
    pub bulk: super::BulkChoices,
    /// The agent's saved views, each with how many tickets it holds.
    pub saved_views: Vec<(crate::SavedView, i64)>,
    pub departments: Vec<crate::DepartmentNode>,
    /// Whether any SLA is switched on (the page then offers its filters).
    pub has_slas: bool,
    /// Whether the agent may export the list as CSV (the reports
    /// permission).
    pub may_export: bool,
}

/// The tickets beside one in a list.
#[derive(Debug, Clone, Default)]
pub struct TicketNeighbours {
    /// The ticket above it (more recent activity).
    pub newer: Option<TicketRecord>,
    /// The ticket below it.
    pub older: Option<TicketRecord>,
}

/// The store filter for one view of the list with the query's filters
/// and its search as resolved (see `App::list_search`).
pub(super) fn ticket_filter(
    context: &AgentContext,
    query: &TicketListQuery,
    view: ListView,
    search: Option<&SearchConstraint>,
) -> TicketFilter {
    let mut filter = TicketFilter {
        statuses: query.status.statuses(),
        department_id: query.department_id,
        label: query.label.clone(),
        urgency_at_least: query.urgency_at_least,
        search: search.cloned(),
        ..TicketFilter::default()
    };
    match view {
        ListView::Mine => filter.agent_id = Some(Some(context.agent_id)),
        ListView::Unassigned => filter.agent_id = Some(None),
        ListView::Teams => filter.team_ids = Some(context.team_ids.clone()),
        ListView::Followed => filter.followed_by = Some(context.agent_id),
        ListView::All => filter.agent_id = query.agent_id.map(Some),
    }
    filter
}

/// A page of the list with what its counts need.
struct Listing {
    context: AgentContext,
    /// The list's search, resolved.
    search: Option<SearchConstraint>,
    notices: Vec<String>,
    order: TicketOrder,
    visibility: Visibility,
    filter: TicketFilter,
    page: KeysetPage,
    /// The page's tickets' labels, by ticket id.
    labels: HashMap<i64, Labels>,
    mark: TicketChangeMark,
}

impl Listing {
    fn into_list(self, total: i64, view_counts: Vec<(ListView, i64)>) -> TicketList {
        TicketList {
            tickets: self.page.tickets,
            total,
            next: self.page.next,
            previous: self.page.previous,
            view_counts,
            labels: self.labels,
            events_after: 0,
            notices: self.notices,
            order: self.order,
        }
    }

    /// The agent list: its total is the count of the view shown, and its
    /// live updates start after the events handed out when the mark was
    /// read.
    fn into_agent_list(self, view: ListView, view_counts: Vec<(ListView, i64)>) -> TicketList {
        let total = view_counts
            .iter()
            .find(|(counted, _)| *counted == view)
            .map_or(0, |(_, count)| *count);
        let events_after = self.mark.events_handed_out();
        TicketList {
            events_after,
            ..self.into_list(total, view_counts)
        }
    }
}

/// One keyset page: its tickets, newest first, and the cursors of the
/// pages beside it.
pub(crate) struct KeysetPage {
    pub tickets: Vec<TicketRecord>,
    /// Older tickets follow (after this cursor).
    pub next: Option<String>,
    /// Newer tickets come before (before this cursor).
    pub previous: Option<String>,
}

/// Where a keyset page starts and how long it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageRequest<'a> {
    /// The cursor sent back by an "older" link.
    pub after: Option<&'a str>,
    /// The cursor sent back by a "newer" link.
    pub before: Option<&'a str>,
    pub size: i64,
    /// Rows to skip instead (numbered pages of the API).
    pub offset: i64,
    pub order: TicketOrder,
}

/// A page cursor as links carry it: "<value>.<id>" in lists sorted by a
/// number, "<id>.<text>" in lists sorted by a text.
pub(crate) fn list_cursor(position: &ListPosition) -> String {
    match &position.value {
        SortValue::Number(number) => format!("{number}.{}", position.id),
        SortValue::Text(text) => format!("{}.{text}", position.id),
    }
}

/// A cursor sent back by a page link of a list sorted by `key`; empty for
/// the first page.
fn parse_list_cursor(key: TicketSortKey, cursor: Option<&str>) -> AppResult<Option<ListPosition>> {
    if !key.is_text() {
        return Ok(
            parse_keyset_cursor(cursor)?.map(|(number, id)| ListPosition {
                value: SortValue::Number(number),
                id,
            }),
        );
    }
    match cursor {
        None | Some("") => Ok(None),
        Some(cursor) => cursor
            .split_once('.')
            .and_then(|(id, text)| {
                Some(ListPosition {
                    id: id.parse().ok()?,
                    value: SortValue::Text(text.to_owned()),
                })
            })
            .map(Some)
            .ok_or_else(|| AppError::unresolved("after", "That page does not exist.")),
    }
}

impl App {
    /// One page of tickets in the request's order, with the cursors of the
    /// pages beside it when there are some: the one keyset page behind the agent
    /// list, the API's list and the help center's "my requests".
    pub(crate) async fn ticket_page(
        &self,
        visibility: &Visibility,
        filter: &TicketFilter,
        request: PageRequest<'_>,
    ) -> AppResult<KeysetPage> {
        let key = request.order.key;
        let after = parse_list_cursor(key, request.after)?;
        let before = parse_list_cursor(key, request.before)?.filter(|_| after.is_none());
        let going_back = before.is_some();
        let mut tickets = self
            .store()
            .tickets()
            .list_ticket_page(
                visibility,
                filter,
                &TicketPage {
                    order: request.order,
                    after: after.clone(),
                    before,
                    // One more than shown tells whether a page lies beyond.
                    limit: request.size + 1,
                    offset: request.offset,
                },
            )
            .await?;
        let size = usize::try_from(request.size).unwrap_or(0);
        let more = tickets.len() > size;
        if more {
            // Going back, the extra row is the first; otherwise the last.
            if going_back {
                tickets.remove(0);
            } else {
                tickets.truncate(size);
            }
        }
        let (earlier, later) = match going_back {
            true => (more, true),
            false => (after.is_some(), more),
        };
        Ok(KeysetPage {
            next: later
                .then(|| tickets.last().map(|last| list_cursor(&last.position)))
                .flatten(),
            previous: earlier
                .then(|| tickets.first().map(|first| list_cursor(&first.position)))
                .flatten(),
            tickets: tickets.into_iter().map(|listed| listed.ticket).collect(),
        })
    }

    /// One page of what the agent may see under the query's view and
    /// filters, with what counting it needs.
    async fn listing(
        &self,
        context: AgentContext,
        query: &TicketListQuery,
        size: i64,
        offset: i64,
    ) -> AppResult<Listing> {
        // Read first: a change made while the list is read moves the mark
        // (its counts are counted again) and is replayed by the page's live
        // updates, which start after the events the mark saw handed out.
        let mark = self.ticket_change_mark().await?;
        let visibility = context.visibility();
        let (search, mut notices) = self.list_search(&context, &query.search).await?;
        let filter = ticket_filter(&context, query, query.view, search.as_ref());
        let (order, notice) = self.kept_order(&visibility, &filter, query.order).await?;
        notices.extend(notice);
        let page = self
            .ticket_page(
                &visibility,
                &filter,
                PageRequest {
                    after: query.after.as_deref(),
                    before: query.before.as_deref(),
                    size,
                    offset,
                    order,
                },
            )
            .await?;
        let ids: Vec<i64> = page.tickets.iter().map(|ticket| ticket.id).collect();
        let labels = self.store().tickets().labels_of_tickets(&ids).await?;
        Ok(Listing {
            context,
            search,
            notices,
            order,
            visibility,
            filter,
            page,
            labels,
            mark,
        })
    }

    /// The order a list is read in: the one asked for, or by last activity
    /// (with a notice why) when no index serves it and the list holds more
    /// than `SORT_WITHOUT_INDEX_LIMIT` tickets.
    pub(super) async fn kept_order(
        &self,
        visibility: &Visibility,
        filter: &TicketFilter,
        order: TicketOrder,
    ) -> AppResult<(TicketOrder, Option<String>)> {
        if order.key.has_index() {
            return Ok((order, None));
        }
        let limit = self.inner.sort_without_index_limit;
        let count = self
            .store()
            .tickets()
            .count_tickets_up_to(visibility, filter, limit + 1)
            .await?;
        if count <= limit {
            return Ok((order, None));
        }
        Ok((
            TicketOrder::default(),
            Some(format!(
                "Sorting by {} takes a list of at most {} tickets; narrow this one with filters. It is shown by last activity.",
                order.key.key(),
                limit
            )),
        ))
    }

    /// The agent list page: one page of the tickets the agent may see,
    /// with the filters, each view's count, and what the page shows beside
    /// the list (bulk choices, saved views with their counts, each view's
    /// filters read by `query_of`, and departments), for one look-up of the
    /// agent.
    pub async fn agent_list_page(
        &self,
        actor: &Actor,
        query: &TicketListQuery,
        query_of: impl Fn(&str) -> TicketListQuery,
    ) -> AppResult<AgentListPage> {
        let context = self.agent_context(actor).await?;
        let listing = self.listing(context, query, TICKET_PAGE_SIZE, 0).await?;
        let view_counts = self.view_counts(&listing, query).await?;
        let mut saved_views = Vec::new();
        for view in self.saved_views_for(&listing.context).await? {
            let saved_query = query_of(&view.filters);
            let (search, _) = self
                .list_search(&listing.context, &saved_query.search)
                .await?;
            let filter = ticket_filter(
                &listing.context,
                &saved_query,
                saved_query.view,
                search.as_ref(),
            );
            let count = self.list_count(&listing, &filter).await?;
            saved_views.push((view, count));
        }
        let bulk = self.bulk_choices_for(&listing.context).await?;
        let departments =
            crate::departments::department_tree(&self.shared_directory().await?.departments);
        let may_export = listing
            .context
            .effective
            .has(ferrodesk_core::Permission::ReportsView);
        Ok(AgentListPage {
            list: listing.into_agent_list(query.view, view_counts),
            bulk,
            saved_views,
            departments,
            has_slas: !self.active_slas().await?.slas.is_empty(),
            may_export,
        })
    }

    /// One page of the tickets the agent may see, with the filters, and
    /// each view's count (the list page without what it shows beside).
    pub async fn list_tickets(
        &self,
        actor: &Actor,
        query: &TicketListQuery,
    ) -> AppResult<TicketList> {
        let context = self.agent_context(actor).await?;
        let listing = self.listing(context, query, TICKET_PAGE_SIZE, 0).await?;
        let view_counts = self.view_counts(&listing, query).await?;
        Ok(listing.into_agent_list(query.view, view_counts))
    }

    /// How many tickets each view holds under the query's filters.
    async fn view_counts(
        &self,
        listing: &Listing,
        query: &TicketListQuery,
    ) -> AppResult<Vec<(ListView, i64)>> {
        let mut counts = Vec::with_capacity(ListView::ALL.len());
        for view in ListView::ALL {
            let filter = ticket_filter(&listing.context, query, view, listing.search.as_ref());
            counts.push((view, self.list_count(listing, &filter).await?));
        }
        Ok(counts)
    }

    /// How many of the tickets the listing's agent may see `filter` holds,
    /// up to `LIST_COUNT_CAP`, kept while the listing's mark stands.
    async fn list_count(&self, listing: &Listing, filter: &TicketFilter) -> AppResult<i64> {
        self.counted(
            &listing.visibility,
            filter,
            Some(LIST_COUNT_CAP),
            listing.mark,
        )
        .await
    }

    /// The tickets just newer and just older than `ticket` in the list the
    /// query describes (its page cursors are ignored): the ticket page's
    /// "previous" and "next".
    pub async fn ticket_neighbours(
        &self,
        actor: &Actor,
        query: &TicketListQuery,
        ticket: &TicketRecord,
    ) -> AppResult<TicketNeighbours> {
        let context = self.agent_context(actor).await?;
        let visibility = context.visibility();
        let (search, _) = self.list_search(&context, &query.search).await?;
        let filter = ticket_filter(&context, query, query.view, search.as_ref());
        let (order, _) = self.kept_order(&visibility, &filter, query.order).await?;
        let position = match order.key {
            TicketSortKey::Updated => Some(ListPosition {
                value: SortValue::Number(ticket.updated_at),
                id: ticket.id,
            }),
            key => self.store().tickets().list_position(key, ticket.id).await?,
        };
        if position.is_none() {
            return Ok(TicketNeighbours::default());
        }
        let tickets = self.store().tickets();
        let one = |after: Option<ListPosition>, before: Option<ListPosition>| TicketPage {
            order,
            after,
            before,
            limit: 1,
            offset: 0,
        };
        let newer = tickets
            .list_tickets(&visibility, &filter, one(None, position.clone()))
            .await?;
        let older = tickets
            .list_tickets(&visibility, &filter, one(position, None))
            .await?;
        Ok(TicketNeighbours {
            newer: newer.into_iter().next(),
            older: older.into_iter().next(),
        })
    }

    /// The ids of the tickets the list's query holds (its cursors
    /// ignored), newest activity first, at most `super::BULK_LIMIT`: "select all
    /// matching".
    pub async fn matching_ticket_ids(
        &self,
        actor: &Actor,
        query: &TicketListQuery,
    ) -> AppResult<Vec<i64>> {
        let query = TicketListQuery {
            after: None,
            before: None,
            ..query.clone()
        };
        let context = self.agent_context(actor).await?;
        let listing = self
            .listing(context, &query, super::BULK_LIMIT as i64, 0)
            .await?;
        Ok(listing
            .page
            .tickets
            .iter()
            .map(|ticket| ticket.id)
            .collect())
    }

    /// Tickets for the API: `count` rows after the cursor, or else from
    /// `offset`, with the exact total under the same filters and each
    /// ticket's labels.
    pub async fn ticket_window(
        &self,
        actor: &Actor,
        query: &TicketListQuery,
        count: i64,
        offset: i64,
    ) -> AppResult<TicketList> {
        let context = self.agent_context(actor).await?;
        let listing = self.listing(context, query, count, offset).await?;
        let total = self
            .counted(&listing.visibility, &listing.filter, None, listing.mark)
            .await?;
        Ok(listing.into_list(total, Vec::new()))
    }
}
