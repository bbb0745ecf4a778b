//! A ticket as the agent page and the API show it.

use std::collections::HashMap;

use ferrodesk_core::{Labels, Permission, TicketStatus};
use ferrodesk_store::{
    AttachmentRecord, MemberRecord, MessageRecord, TicketFilter, TicketLogRecord, TicketPage,
    TicketRecord,
};

use super::{AgentContext, TicketKey};
use crate::attachments::attachments_by_message;
use crate::departments::{DepartmentNode, department_tree};
use crate::ticket_fields::{FieldView, field_views};
use crate::{Actor, App, AppResult};

/// A ticket as its agent page shows it.
#[derive(Debug, Clone)]
pub struct TicketView {
    pub ticket: TicketRecord,
    pub labels: Labels,
    pub messages: Vec<MessageRecord>,
    pub log: Vec<TicketLogRecord>,
    pub following: bool,
    pub may_reply: bool,
    pub may_note: bool,
    pub may_edit: bool,
    /// The newest message when the page was made, to warn about replies
    /// written since.
    pub last_message_id: i64,
    /// Departments the ticket may be moved to.
    pub departments: Vec<DepartmentNode>,
    /// Agents the ticket may be assigned to.
    pub agents: Vec<MemberRecord>,
    pub teams: Vec<ferrodesk_store::TeamRecord>,
    /// Attachments by message id.
    pub attachments: HashMap<i64, Vec<AttachmentRecord>>,
    pub fields: Vec<FieldView>,
    pub may_merge: bool,
    /// Who holds an unexpired lock, when it is someone else.
    pub locked_by_other: Option<String>,
    /// Whether the viewing agent holds the lock.
    pub locked_by_me: bool,
    /// Users copied on replies.
    pub ccs: Vec<MemberRecord>,
    /// Whether the agent may open the requester's page.
    pub may_view_people: bool,
    pub may_spam: bool,
    pub may_delete: bool,
    /// The signature the agent's replies end with, on one line.
    pub reply_signature: Option<String>,
    /// The optional priority list (empty when the admins keep none).
    pub priorities: Vec<ferrodesk_store::TicketPriorityRecord>,
    pub requester: RequesterCard,
    /// The snippets the agent may insert into a reply or note.
    pub snippets: Vec<ferrodesk_store::SnippetRecord>,
    /// The newest ticket event when the page was read: its live updates
    /// start after it.
    pub events_after: i64,
    /// The macros the agent may apply: (id, title).
    pub macros: Vec<(i64, String)>,
    /// When the view was read, for "5 min ago".
    pub read_at: i64,
    /// The SLA that applies and each of its targets.
    pub sla: Option<(String, Vec<crate::rules::SlaTargetView>)>,
    /// The SLAs an agent who may edit the ticket can choose from (empty
    /// otherwise), and the one chosen (`None`: by the SLAs' criteria).
    pub sla_choices: Vec<(i64, String)>,
    pub sla_chosen: Option<i64>,
    /// The requester's answer to the satisfaction survey.
    pub rating: Option<ferrodesk_store::RatingRecord>,
}

/// Other tickets of the requester shown beside a ticket.
const REQUESTER_TICKETS: i64 = 5;

/// The requester beside their ticket: their organization and their other
/// recent tickets that the agent may see.
#[derive(Debug, Clone, Default)]
pub struct RequesterCard {
    /// The organization's id and name.
    pub organization: Option<(i64, String)>,
    /// Their newest other tickets, newest activity first.
    pub other_tickets: Vec<TicketRecord>,
}

impl TicketView {
    pub fn attachments_of(&self, message_id: &i64) -> &[AttachmentRecord] {
        self.attachments.get(message_id).map_or(&[], Vec::as_slice)
    }
}

/// A ticket as a use case left it: its row, labels and fields, which is
/// what the API answers with.
#[derive(Debug, Clone)]
pub struct TicketState {
    pub ticket: TicketRecord,
    pub labels: Labels,
    pub fields: Vec<FieldView>,
}

/// A ticket's thread for an agent: every message, notes included, oldest
/// first, with each message's files.
#[derive(Debug, Clone)]
pub struct TicketThread {
    pub messages: Vec<MessageRecord>,
    /// Attachments by message id.
    pub attachments: HashMap<i64, Vec<AttachmentRecord>>,
}

impl TicketThread {
    pub fn attachments_of(&self, message_id: &i64) -> &[AttachmentRecord] {
        self.attachments.get(message_id).map_or(&[], Vec::as_slice)
    }
}

impl App {
    /// A ticket's thread, without what only the agent page needs (agents,
    /// departments, teams, the log): what the API lists.
    pub async fn ticket_thread(&self, actor: &Actor, key: &TicketKey) -> AppResult<TicketThread> {
        let context = self.agent_context(actor).await?;
        let (ticket, _) = self.visible_ticket(&context, key).await?;
        let tickets = self.store().tickets();
        Ok(TicketThread {
            messages: tickets.ticket_messages(ticket.id, true).await?,
            attachments: attachments_by_message(tickets.ticket_attachments(ticket.id, true).await?),
        })
    }

    /// A ticket the agent may see with its labels and field values, without
    /// the thread: what the API answers for one ticket.
    pub async fn ticket_state(&self, actor: &Actor, key: &TicketKey) -> AppResult<TicketState> {
        let context = self.agent_context(actor).await?;
        let (ticket, _) = self.visible_ticket(&context, key).await?;
        self.state_of(ticket).await
    }

    /// A ticket's labels and field values as they are stored now.
    pub(crate) async fn state_of(&self, ticket: TicketRecord) -> AppResult<TicketState> {
        let labels = self.store().tickets().ticket_labels(ticket.id).await?;
        let fields = field_views(
            self.store().ticket_fields().list_ticket_fields().await?,
            &self
                .store()
                .ticket_fields()
                .ticket_field_values(ticket.id)
                .await?,
        );
        Ok(TicketState {
            ticket,
            labels,
            fields,
        })
    }

    /// A ticket with its thread (notes included), log and what the agent
    /// may do with it.
    pub async fn ticket_view(&self, actor: &Actor, key: &TicketKey) -> AppResult<TicketView> {
        let context = self.agent_context(actor).await?;
        // Read first, so a change made while the page is read is replayed.
        let events_after = self.ticket_events_handed_out();
        let (ticket, following) = self.visible_ticket(&context, key).await?;
        let messages = self
            .store()
            .tickets()
            .ticket_messages(ticket.id, true)
            .await?;
        let directory = self.shared_directory().await?;
        let departments = department_tree(&directory.departments)
            .into_iter()
            .filter(|node| context.effective.department_access(node.id).is_some())
            .collect();
        let (locked_by_other, locked_by_me) = self.lock_seen_by(&ticket, context.agent_id);
        let requester = self.requester_card(&context, &ticket).await?;
        let may = |permission| context.effective.has(permission);
        let snippets = if may(Permission::TicketReply) || may(Permission::TicketNote) {
            self.store()
                .snippets()
                .usable_snippets(context.agent_id)
                .await?
        } else {
            Vec::new()
        };
        let macros = self
            .agent_library(context.agent_id)
            .await?
            .macros
            .iter()
            .map(|record| (record.id, record.title.clone()))
            .collect();
        let TicketState {
            ticket,
            labels,
            fields,
        } = self.state_of(ticket).await?;
        let sla_choices = if may(Permission::TicketEdit) {
            self.active_slas()
                .await?
                .slas
                .iter()
                .map(|sla| (sla.id, sla.name.clone()))
                .collect()
        } else {
            Vec::new()
        };
        Ok(TicketView {
            sla: self.ticket_sla(ticket.id).await?,
            // Read only when the page offers the choice.
            sla_chosen: match sla_choices.is_empty() {
                true => None,
                false => self.store().tickets().chosen_sla(ticket.id).await?,
            },
            rating: self.store().tickets().ticket_rating(ticket.id).await?,
            sla_choices,
            read_at: self.now().millis(),
            macros,
            reply_signature: self
                .signature_for(actor)
                .await?
                .map(|signature| signature.replace('\n', " \u{b7} ")),
            last_message_id: messages.last().map_or(0, |message| message.id),
            log: self.store().tickets().ticket_log(ticket.id).await?,
            attachments: attachments_by_message(
                self.store()
                    .tickets()
                    .ticket_attachments(ticket.id, true)
                    .await?,
            ),
            ccs: self.store().tickets().ticket_ccs(ticket.id).await?,
            agents: directory.agents.clone(),
            teams: directory.teams.clone(),
            priorities: self
                .store()
                .ticket_fields()
                .list_ticket_priorities()
                .await?,
            requester,
            snippets,
            events_after,
            may_spam: may(Permission::TicketSpam),
            may_delete: may(Permission::TicketDelete),
            may_view_people: may(Permission::PeopleView),
            may_merge: may(Permission::TicketMerge),
            may_reply: may(Permission::TicketReply),
            may_note: may(Permission::TicketNote),
            may_edit: may(Permission::TicketEdit),
            locked_by_other,
            locked_by_me,
            fields,
            ticket,
            labels,
            messages,
            following,
            departments,
        })
    }

    /// The requester's organization and other recent tickets, through the
    /// agent's visibility like every list.
    async fn requester_card(
        &self,
        context: &AgentContext,
        ticket: &TicketRecord,
    ) -> AppResult<RequesterCard> {
        let user = self
            .store()
            .directory()
            .get_user(ticket.requester_id)
            .await?;
        let filter = TicketFilter {
            requester_id: Some(ticket.requester_id),
            statuses: TicketStatus::VISIBLE.to_vec(),
            ..TicketFilter::default()
        };
        let mut other_tickets = self
            .store()
            .tickets()
            .list_tickets(
                &context.visibility(),
                &filter,
                TicketPage {
                    limit: REQUESTER_TICKETS + 1,
                    ..TicketPage::default()
                },
            )
            .await?;
        other_tickets.retain(|other| other.id != ticket.id);
        other_tickets.truncate(REQUESTER_TICKETS as usize);
        Ok(RequesterCard {
            organization: user.and_then(|user| user.organization_id.zip(user.organization_name)),
            other_tickets,
        })
    }

    /// Agents a ticket may be assigned to: every agent not disabled.
    pub(crate) async fn assignable_agents(&self) -> AppResult<Vec<MemberRecord>> {
        Ok(self.shared_directory().await?.agents.clone())
    }

    /// Who holds an unexpired lock when it is someone else, and whether
    /// `agent_id` holds it.
    fn lock_seen_by(&self, ticket: &TicketRecord, agent_id: i64) -> (Option<String>, bool) {
        let holder = ticket
            .locked_until
            .filter(|until| *until > self.now().millis())
            .and(ticket.locked_by_id);
        match holder {
            Some(holder) if holder != agent_id => (
                Some(
                    ticket
                        .locked_by_name
                        .clone()
                        .unwrap_or_else(|| "another agent".to_owned()),
                ),
                false,
            ),
            Some(_) => (None, true),
            None => (None, false),
        }
    }
}
