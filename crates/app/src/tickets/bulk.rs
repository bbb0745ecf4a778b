//! Acting on many tickets at once from the list: the same change, a
//! merge, following. Each ticket is checked on its own, exactly as the
//! ticket page would check it (visibility, then the permission), and
//! changed in its own transaction; the tickets the agent may not change
//! are reported and left alone. One audit entry lists what was done.

use ferrodesk_core::{Label, Labels, Permission};
use ferrodesk_store::{MemberRecord, TeamRecord, TicketRecord};
use serde::Serialize;

use super::{AgentContext, TicketChange, TicketKey};
use crate::audit::{Audit, Caller};
use crate::{App, AppError, AppResult};

/// The most tickets one bulk action takes, and "select all matching"
/// selects.
pub const BULK_LIMIT: usize = 500;

/// What to do to every selected ticket.
#[derive(Debug, Clone)]
pub enum BulkAction {
    /// Set properties; labels are added to and taken from each ticket's own.
    Change {
        change: Box<TicketChange>,
        add_labels: Labels,
        remove_labels: Labels,
    },
    /// Start or stop following.
    Follow(bool),
    /// Merge every other selected ticket into this one (by id).
    MergeInto(i64),
    /// Apply a macro (by id) to each.
    Macro(i64),
}

/// A ticket as a bulk action's report names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BulkTicket {
    /// The reference, or `#id` for a ticket the agent may not see.
    pub label: String,
    pub subject: String,
}

/// What a bulk action did, ticket by ticket.
#[derive(Debug, Clone, Default)]
pub struct BulkOutcome {
    pub changed: Vec<BulkTicket>,
    /// Already as asked: nothing to change.
    pub unchanged: Vec<BulkTicket>,
    /// Left alone, with why.
    pub refused: Vec<(BulkTicket, String)>,
}

fn named(ticket: &TicketRecord) -> BulkTicket {
    BulkTicket {
        label: ticket.reference.to_string(),
        subject: ticket.subject.clone(),
    }
}

/// Why a ticket was left alone, in words that tell nothing about a ticket
/// the agent may not see.
fn reason(error: AppError) -> String {
    match error {
        AppError::NotFound => "It is not a ticket you can see.".to_owned(),
        AppError::Forbidden => "You may not change it.".to_owned(),
        AppError::Invalid(errors) => errors
            .iter()
            .map(|(_, message)| message.to_owned())
            .collect::<Vec<_>>()
            .join(" "),
        AppError::Conflict(message) => message,
        other => other.to_string(),
    }
}

/// What the list's bulk controls (and its "save as a view") offer this
/// agent.
#[derive(Debug, Clone, Default)]
pub struct BulkChoices {
    pub agents: Vec<MemberRecord>,
    pub teams: Vec<TeamRecord>,
    pub may_edit: bool,
    pub may_merge: bool,
    pub may_spam: bool,
    pub may_delete: bool,
    /// Whether saved views may be shared with teams.
    pub may_share: bool,
    /// The macros the agent may apply: (id, title).
    pub macros: Vec<(i64, String)>,
}

impl App {
    /// The agents, teams and actions the list's bulk controls offer.
    pub async fn bulk_choices(&self, actor: &crate::Actor) -> AppResult<BulkChoices> {
        let context = self.agent_context(actor).await?;
        self.bulk_choices_for(&context).await
    }

    pub(crate) async fn bulk_choices_for(&self, context: &AgentContext) -> AppResult<BulkChoices> {
        let may = |permission| context.effective.has(permission);
        let directory = self.shared_directory().await?;
        Ok(BulkChoices {
            agents: if may(Permission::TicketEdit) {
                directory.agents.clone()
            } else {
                Vec::new()
            },
            teams: directory.teams.clone(),
            may_edit: may(Permission::TicketEdit),
            may_merge: may(Permission::TicketMerge),
            may_spam: may(Permission::TicketSpam),
            may_delete: may(Permission::TicketDelete),
            may_share: may(Permission::SharedManage),
            macros: self
                .agent_library(context.agent_id)
                .await?
                .macros
                .iter()
                .map(|record| (record.id, record.title.clone()))
                .collect(),
        })
    }

    /// Those of `ids` the agent may see, oldest first (a merge's choices).
    pub async fn visible_tickets(
        &self,
        actor: &crate::Actor,
        ids: &[i64],
    ) -> AppResult<Vec<TicketRecord>> {
        let context = self.agent_context(actor).await?;
        let mut tickets = Vec::new();
        for id in ids.iter().take(BULK_LIMIT) {
            match self.visible_ticket(&context, &TicketKey::Id(*id)).await {
                Ok((ticket, _))
                    if !tickets
                        .iter()
                        .any(|seen: &TicketRecord| seen.id == ticket.id) =>
                {
                    tickets.push(ticket)
                }
                Ok(_) | Err(AppError::NotFound) => {}
                Err(other) => return Err(other),
            }
        }
        tickets.sort_by_key(|ticket| ticket.created_at);
        Ok(tickets)
    }

    /// Does `action` to each ticket of `ids` the agent may change; at most
    /// `BULK_LIMIT` tickets.
    pub async fn bulk_action(
        &self,
        caller: &Caller<'_>,
        ids: &[i64],
        action: &BulkAction,
    ) -> AppResult<BulkOutcome> {
        let context = self.agent_context(caller.actor).await?;
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Err(AppError::invalid("ticket", "Select at least one ticket."));
        }
        if ids.len() > BULK_LIMIT {
            return Err(AppError::invalid(
                "ticket",
                format!("Select at most {BULK_LIMIT} tickets at once."),
            ));
        }
        let mut outcome = BulkOutcome::default();
        for id in ids {
            let ticket = match self.visible_ticket(&context, &TicketKey::Id(id)).await {
                Ok((ticket, _)) => ticket,
                Err(error) => {
                    let unseen = BulkTicket {
                        label: format!("#{id}"),
                        subject: String::new(),
                    };
                    outcome.refused.push((unseen, reason(error)));
                    continue;
                }
            };
            let label = named(&ticket);
            match self.act_on(caller, &context, ticket, action).await {
                Ok(true) => outcome.changed.push(label),
                Ok(false) => outcome.unchanged.push(label),
                Err(error) => outcome.refused.push((label, reason(error))),
            }
        }
        self.audit(&bulk_audit(caller, action, &outcome)).await?;
        Ok(outcome)
    }

    /// One ticket of a bulk action; answers whether it changed.
    async fn act_on(
        &self,
        caller: &Caller<'_>,
        context: &AgentContext,
        ticket: TicketRecord,
        action: &BulkAction,
    ) -> AppResult<bool> {
        match action {
            BulkAction::Change {
                change,
                add_labels,
                remove_labels,
            } => {
                context.require(Permission::TicketEdit)?;
                let mut change = TicketChange::clone(change);
                if !add_labels.is_empty() || !remove_labels.is_empty() {
                    let labels = self.store().tickets().ticket_labels(ticket.id).await?;
                    let removed = |label: &&Label| {
                        remove_labels
                            .iter()
                            .any(|gone| gone.as_str().eq_ignore_ascii_case(label.as_str()))
                    };
                    let texts: Vec<&str> = labels
                        .iter()
                        .filter(|label| !removed(label))
                        .chain(add_labels.iter())
                        .map(Label::as_str)
                        .collect();
                    change.labels = Some(super::parsed("labels", Labels::parse(texts)));
                }
                let (_, changed) = self.apply_change(context, ticket, &change).await?;
                Ok(changed)
            }
            BulkAction::Follow(following) => {
                self.follow_ticket(caller.actor, &TicketKey::Id(ticket.id), *following)
                    .await?;
                Ok(true)
            }
            BulkAction::Macro(macro_id) => {
                self.apply_macro(caller, &TicketKey::Id(ticket.id), *macro_id)
                    .await?;
                Ok(true)
            }
            BulkAction::MergeInto(target_id) => {
                if ticket.id == *target_id {
                    return Ok(false);
                }
                let target = self.ticket_by_key(&TicketKey::Id(*target_id)).await?;
                self.merge_ticket(
                    caller,
                    &TicketKey::Id(ticket.id),
                    &target.reference.to_string(),
                )
                .await?;
                Ok(true)
            }
        }
    }
}

/// The one audit entry of a bulk action: what was asked and which tickets
/// changed or were left alone.
fn bulk_audit(caller: &Caller<'_>, action: &BulkAction, outcome: &BulkOutcome) -> Audit {
    let labels = |tickets: &[BulkTicket]| -> Vec<String> {
        tickets.iter().map(|ticket| ticket.label.clone()).collect()
    };
    let asked = match action {
        BulkAction::Change {
            change,
            add_labels,
            remove_labels,
        } => serde_json::json!({
            "status": change.status.as_ref().and_then(|status| status.as_ref().ok()).map(|status| status.key()),
            "urgency": change.urgency.as_ref().and_then(|urgency| urgency.as_ref().ok()).map(|urgency| urgency.get()),
            "department": change.department_id.as_ref().and_then(|id| id.as_ref().ok()),
            "agent": change.agent_id.as_ref().and_then(|id| id.as_ref().ok()),
            "team": change.team_id.as_ref().and_then(|id| id.as_ref().ok()),
            "add_labels": add_labels.to_strings(),
            "remove_labels": remove_labels.to_strings(),
        }),
        BulkAction::Follow(following) => serde_json::json!({ "following": following }),
        BulkAction::MergeInto(target) => serde_json::json!({ "merge_into": target }),
        BulkAction::Macro(id) => serde_json::json!({ "macro": id }),
    };
    let refused: Vec<String> = outcome
        .refused
        .iter()
        .map(|(ticket, _)| ticket.label.clone())
        .collect();
    Audit::new(caller, "tickets.bulk_action")
        .on(
            "tickets",
            None,
            &format!("{} tickets", outcome.changed.len()),
        )
        .after(&serde_json::json!({
            "action": asked,
            "changed": labels(&outcome.changed),
            "unchanged": labels(&outcome.unchanged),
            "refused": refused,
        }))
}
