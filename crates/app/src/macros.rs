//! Macros: a named bundle of ticket actions (status, urgency, priority,
//! department, agent, team, labels to add and remove, follow, and a reply
//! or note from a snippet), applied from the ticket page or to many
//! tickets from the list. Each agent keeps their own; shared ones need the
//! "shared.manage" permission and are audited. Applying one checks every
//! action as if the agent did it by hand, shows first what it would
//! change, and writes the changes to the ticket log under the macro's
//! name.

use ferrodesk_core::{Labels, Permission, TicketStatus, Urgency};
use ferrodesk_store::{MacroRecord, MacroWrite};
use serde::{Deserialize, Serialize};

use crate::audit::{Audit, Caller};
use crate::tickets::{AgentContext, TicketChange, TicketKey};
use crate::{Actor, App, AppError, AppResult, FieldErrors};

/// The most macros one agent keeps, and the most shared ones.
pub const MAX_MACROS: usize = 500;
const MAX_TITLE_CHARS: usize = 100;

/// Who a macro assigns a ticket to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MacroAssignee {
    /// Whoever applies the macro.
    Me,
    Nobody,
    Agent(i64),
}

/// What a macro does; what is `None` (or empty) it leaves alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MacroActions {
    pub status: Option<String>,
    pub urgency: Option<i64>,
    /// A priority's id, or 0 for none.
    pub priority: Option<i64>,
    pub department: Option<i64>,
    pub agent: Option<MacroAssignee>,
    /// A team's id, or 0 for none.
    pub team: Option<i64>,
    pub add_labels: Vec<String>,
    pub remove_labels: Vec<String>,
    pub follow: bool,
    /// A snippet whose text is added, filled in for the ticket.
    pub snippet: Option<i64>,
    /// Whether that text is an internal note rather than a reply.
    pub as_note: bool,
}

/// A macro as the agent sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroView {
    pub id: i64,
    pub title: String,
    pub shared: bool,
    pub may_edit: bool,
    pub usage_count: i64,
    pub actions: MacroActions,
}

/// A macro as a form sends it.
#[derive(Debug, Clone, Default)]
pub struct MacroInput {
    pub title: String,
    pub actions: MacroActions,
    /// Shared with every agent (only when creating).
    pub shared: bool,
}

/// What applying a macro to a ticket would do, line by line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MacroPreview {
    pub changes: Vec<String>,
    /// The reply or note it would add, filled in.
    pub message: Option<(bool, String)>,
}

fn view_of(context: &AgentContext, record: MacroRecord) -> MacroView {
    let shared = record.owner_id.is_none();
    MacroView {
        id: record.id,
        title: record.title,
        shared,
        may_edit: !shared || context.effective.has(Permission::SharedManage),
        usage_count: record.usage_count,
        actions: serde_json::from_str(&record.actions).unwrap_or_default(),
    }
}

/// A macro's actions checked for shape (what needs the database is
/// checked when it is applied, against the ticket and the agent).
fn checked_input(input: &MacroInput) -> AppResult<(String, String)> {
    let mut errors = FieldErrors::new();
    let title = input.title.trim();
    if let Err(error) = ferrodesk_core::ItemName::parse(title, MAX_TITLE_CHARS) {
        errors.add("title", error.to_string());
    }
    let actions = &input.actions;
    if let Some(status) = &actions.status
        && TicketStatus::from_key(status).is_none()
    {
        errors.add("status", "Unknown status.");
    }
    if let Some(urgency) = actions.urgency {
        errors.check("urgency", Urgency::new(urgency));
    }
    for labels in [&actions.add_labels, &actions.remove_labels] {
        errors.check("labels", Labels::parse(labels.iter().map(String::as_str)));
    }
    let does_something = actions.status.is_some()
        || actions.urgency.is_some()
        || actions.priority.is_some()
        || actions.department.is_some()
        || actions.agent.is_some()
        || actions.team.is_some()
        || !actions.add_labels.is_empty()
        || !actions.remove_labels.is_empty()
        || actions.follow
        || actions.snippet.is_some();
    if !does_something {
        errors.add("title", "Choose at least one action.");
    }
    errors.into_result()?;
    let json =
        serde_json::to_string(actions).map_err(|error| AppError::Internal(error.to_string()))?;
    Ok((title.to_owned(), json))
}

impl MacroActions {
    /// The change to a ticket's properties, for the agent applying it;
    /// labels are added to and taken from `current`.
    fn change(&self, agent_id: i64, current: &Labels) -> TicketChange {
        let status = self.status.as_deref().map(|key| {
            TicketStatus::from_key(key).ok_or_else(|| {
                let mut errors = FieldErrors::new();
                errors.add("status", "Unknown status.");
                errors
            })
        });
        let labels = (!self.add_labels.is_empty() || !self.remove_labels.is_empty()).then(|| {
            let kept = current
                .iter()
                .map(|label| label.as_str())
                .filter(|label| {
                    !self
                        .remove_labels
                        .iter()
                        .any(|gone| gone.eq_ignore_ascii_case(label))
                })
                .chain(self.add_labels.iter().map(String::as_str));
            crate::parsed("labels", Labels::parse(kept))
        });
        TicketChange {
            status,
            urgency: self
                .urgency
                .map(|urgency| crate::parsed("urgency", Urgency::new(urgency))),
            department_id: self.department.map(Ok),
            agent_id: self.agent.map(|agent| {
                Ok(match agent {
                    MacroAssignee::Me => Some(agent_id),
                    MacroAssignee::Nobody => None,
                    MacroAssignee::Agent(id) => Some(id),
                })
            }),
            team_id: self.team.map(|team| Ok((team != 0).then_some(team))),
            priority_id: self
                .priority
                .map(|priority| Ok((priority != 0).then_some(priority))),
            labels,
            ..TicketChange::default()
        }
    }

    fn changes_properties(&self) -> bool {
        self.status.is_some()
            || self.urgency.is_some()
            || self.priority.is_some()
            || self.department.is_some()
            || self.agent.is_some()
            || self.team.is_some()
            || !self.add_labels.is_empty()
            || !self.remove_labels.is_empty()
    }
}

/// What a macro's editor offers.
#[derive(Debug, Clone, Default)]
pub struct MacroChoices {
    pub departments: Vec<crate::DepartmentNode>,
    pub agents: Vec<ferrodesk_store::MemberRecord>,
    pub teams: Vec<ferrodesk_store::TeamRecord>,
    pub priorities: Vec<ferrodesk_store::TicketPriorityRecord>,
    pub snippets: Vec<ferrodesk_store::SnippetRecord>,
    pub may_manage_shared: bool,
}

impl App {
    /// A macro's snippet must be one its users may use: a shared macro's,
    /// a shared snippet.
    async fn check_macro_snippet(
        &self,
        context: &AgentContext,
        actions: &MacroActions,
        shared: bool,
    ) -> AppResult<()> {
        let Some(id) = actions.snippet else {
            return Ok(());
        };
        let usable = self
            .store()
            .snippets()
            .get_snippet(id)
            .await?
            .filter(|snippet| match snippet.owner_id {
                None => true,
                Some(owner) => !shared && owner == context.agent_id,
            });
        if usable.is_none() {
            return Err(AppError::invalid(
                "snippet",
                if shared {
                    "A shared macro can only add a shared snippet."
                } else {
                    "Choose one of your snippets or a shared one."
                },
            ));
        }
        Ok(())
    }

    /// The departments, agents, teams, priorities and snippets a macro
    /// may name, for its editor.
    pub async fn macro_choices(&self, actor: &Actor) -> AppResult<MacroChoices> {
        let context = self.agent_context(actor).await?;
        let departments = crate::departments::department_tree(
            &self.store().departments().list_departments().await?,
        )
        .into_iter()
        .filter(|node| context.effective.department_access(node.id).is_some())
        .collect();
        Ok(MacroChoices {
            departments,
            agents: self.assignable_agents().await?,
            teams: self.store().departments().list_teams().await?,
            priorities: self
                .store()
                .ticket_fields()
                .list_ticket_priorities()
                .await?,
            snippets: self
                .store()
                .snippets()
                .usable_snippets(context.agent_id)
                .await?,
            may_manage_shared: context.effective.has(Permission::SharedManage),
        })
    }

    /// The macros the agent may apply, and whether they may write shared ones.
    pub async fn macro_library(&self, actor: &Actor) -> AppResult<(Vec<MacroView>, bool)> {
        let context = self.agent_context(actor).await?;
        let macros = self
            .store()
            .macros()
            .usable_macros(context.agent_id)
            .await?
            .into_iter()
            .map(|record| view_of(&context, record))
            .collect();
        Ok((macros, context.effective.has(Permission::SharedManage)))
    }

    pub async fn macro_view(&self, actor: &Actor, id: i64) -> AppResult<MacroView> {
        let context = self.agent_context(actor).await?;
        let record = self.usable_macro(&context, id).await?;
        Ok(view_of(&context, record))
    }

    pub async fn create_macro(&self, caller: &Caller<'_>, input: &MacroInput) -> AppResult<i64> {
        let context = self.agent_context(caller.actor).await?;
        if input.shared {
            context.require(Permission::SharedManage)?;
        }
        let (title, actions) = checked_input(input)?;
        self.check_macro_snippet(&context, &input.actions, input.shared)
            .await?;
        let owner_id = (!input.shared).then_some(context.agent_id);
        let count = self
            .store()
            .macros()
            .usable_macros(context.agent_id)
            .await?
            .iter()
            .filter(|record| record.owner_id == owner_id)
            .count();
        if count >= MAX_MACROS {
            return Err(AppError::invalid(
                "title",
                format!("There are {MAX_MACROS} macros already; delete some first."),
            ));
        }
        let audit = input.shared.then(|| {
            Audit::new(caller, "macro.created")
                .on("macro", None, &title)
                .after(&serde_json::json!({ "title": title, "actions": input.actions }))
        });
        Ok(self
            .store()
            .macros()
            .create_macro(
                &MacroWrite {
                    owner_id,
                    title: &title,
                    actions: &actions,
                },
                audit.as_ref().map(Audit::entry).as_ref(),
                self.now(),
            )
            .await?)
    }

    pub async fn update_macro(
        &self,
        caller: &Caller<'_>,
        id: i64,
        input: &MacroInput,
    ) -> AppResult<()> {
        let context = self.agent_context(caller.actor).await?;
        let current = self.editable_macro(&context, id).await?;
        let (title, actions) = checked_input(input)?;
        self.check_macro_snippet(&context, &input.actions, current.owner_id.is_none())
            .await?;
        let audit = current.owner_id.is_none().then(|| {
            Audit::new(caller, "macro.updated")
                .on("macro", Some(id), &title)
                .change(
                    &serde_json::json!({ "title": current.title, "actions": current.actions }),
                    &serde_json::json!({ "title": title, "actions": actions }),
                )
        });
        let found = self
            .store()
            .macros()
            .update_macro(
                id,
                &MacroWrite {
                    owner_id: current.owner_id,
                    title: &title,
                    actions: &actions,
                },
                audit.as_ref().map(Audit::entry).as_ref(),
                self.now(),
            )
            .await?;
        if found {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }

    pub async fn delete_macro(&self, caller: &Caller<'_>, id: i64) -> AppResult<()> {
        let context = self.agent_context(caller.actor).await?;
        let current = self.editable_macro(&context, id).await?;
        let audit = current
            .owner_id
            .is_none()
            .then(|| Audit::new(caller, "macro.deleted").on("macro", Some(id), &current.title));
        self.store()
            .macros()
            .delete_macro(id, audit.as_ref().map(Audit::entry).as_ref(), self.now())
            .await?;
        Ok(())
    }

    /// What macro `id` would do to the ticket, without doing it; every
    /// action is checked as when it is applied.
    pub async fn preview_macro(
        &self,
        actor: &Actor,
        key: &TicketKey,
        id: i64,
    ) -> AppResult<(MacroView, MacroPreview)> {
        let context = self.agent_context(actor).await?;
        let view = view_of(&context, self.usable_macro(&context, id).await?);
        let (ticket, _) = self.visible_ticket(&context, key).await?;
        let mut preview = MacroPreview::default();
        if view.actions.changes_properties() {
            context.require(Permission::TicketEdit)?;
            let state = self.state_of(ticket.clone()).await?;
            let change = view.actions.change(context.agent_id, &state.labels);
            preview.changes = self.describe_change(&context, &state, &change).await?;
        }
        if view.actions.follow {
            preview.changes.push("Follow the ticket".to_owned());
        }
        preview.message = self
            .macro_message(&context, actor, &view.actions, ticket.id)
            .await?;
        Ok((view, preview))
    }

    /// Applies macro `id` to the ticket: every action is checked first (as
    /// if done by hand), then the properties change (logged as by the
    /// macro) and the reply or note is added.
    pub async fn apply_macro(
        &self,
        caller: &Caller<'_>,
        key: &TicketKey,
        id: i64,
    ) -> AppResult<()> {
        let context = self.agent_context(caller.actor).await?;
        let view = view_of(&context, self.usable_macro(&context, id).await?);
        let (ticket, _) = self.visible_ticket(&context, key).await?;
        let ticket_key = TicketKey::Id(ticket.id);
        // The message first: a macro refused there changes nothing.
        let message = self
            .macro_message(&context, caller.actor, &view.actions, ticket.id)
            .await?;
        let body = message
            .as_ref()
            .map(|(_, text)| crate::parsed("body", ferrodesk_core::MessageText::parse(text)))
            .transpose()
            .map_err(AppError::Invalid)?;
        let mut status_after = None;
        if view.actions.changes_properties() {
            context.require(Permission::TicketEdit)?;
            let state = self.state_of(ticket.clone()).await?;
            let change = view.actions.change(context.agent_id, &state.labels);
            let label = format!("{} (macro \u{201c}{}\u{201d})", context.label, view.title);
            // Checks every property before writing any (`checked_target`).
            let (after, _) = self
                .apply_change_as(&context, ticket, &change, &label)
                .await?;
            status_after = view.actions.status.is_some().then_some(after.ticket.status);
        }
        if view.actions.follow {
            self.follow_ticket(caller.actor, &ticket_key, true).await?;
        }
        if let (Some((is_note, _)), Some(body)) = (message, body) {
            let input = crate::ReplyInput {
                body: Ok(body),
                is_note,
                // The macro's status stays; otherwise a reply waits for the user.
                status: status_after.map(Ok),
                seen_message_id: None,
                attachments: Vec::new(),
                channel: crate::Channel::Agent,
                inbound_mail: None,
            };
            self.reply_to_ticket(caller, &ticket_key, &input).await?;
        }
        self.store().macros().count_macro_use(id).await?;
        Ok(())
    }

    /// The reply or note a macro adds, filled in for the ticket, once the
    /// agent's permission to write it is checked.
    async fn macro_message(
        &self,
        context: &AgentContext,
        actor: &Actor,
        actions: &MacroActions,
        ticket_id: i64,
    ) -> AppResult<Option<(bool, String)>> {
        let Some(snippet) = actions.snippet else {
            return Ok(None);
        };
        context.require(if actions.as_note {
            Permission::TicketNote
        } else {
            Permission::TicketReply
        })?;
        let text = self
            .fill_snippet_quietly(actor, &TicketKey::Id(ticket_id), snippet)
            .await?;
        Ok(Some((actions.as_note, text)))
    }

    async fn usable_macro(&self, context: &AgentContext, id: i64) -> AppResult<MacroRecord> {
        self.store()
            .macros()
            .get_macro(id)
            .await?
            .filter(|record| {
                record
                    .owner_id
                    .is_none_or(|owner| owner == context.agent_id)
            })
            .ok_or(AppError::NotFound)
    }

    async fn editable_macro(&self, context: &AgentContext, id: i64) -> AppResult<MacroRecord> {
        let record = self.usable_macro(context, id).await?;
        if record.owner_id.is_none() {
            context.require(Permission::SharedManage)?;
        }
        Ok(record)
    }
}
