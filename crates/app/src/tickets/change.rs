//! Changing a ticket's properties (status, urgency, department, agent,
//! team, priority, labels, custom fields) with a log line for each that
//! changed, and deleting one (moving it to Deleted).

use ferrodesk_core::{Labels, Permission, TicketStatus, Urgency};
use ferrodesk_store::{
    NewLogEntry, TicketPriorityRecord, TicketProperties, TicketRecord, TicketUpdate,
};

use super::inputs::Parsed;
use super::reply::permitted_status;
use super::{AgentContext, FieldValues, TicketChange, TicketKey, TicketState};
use crate::audit::Caller;
use crate::ticket_fields::{FieldView, checked_field_values, values_for};
use crate::{App, AppError, AppResult, FieldErrors};

/// A ticket's properties once a change is laid over them.
struct Target {
    status: TicketStatus,
    urgency: Urgency,
    department_id: i64,
    agent_id: Option<i64>,
    team_id: Option<i64>,
    priority: Option<TicketPriorityRecord>,
    labels: Labels,
    /// Every field's value after the change, in field order.
    fields: Vec<FieldView>,
}

/// The log lines of a change, one per property that changed.
fn log_of<'a>(ticket: &TicketRecord, before: &TicketState, after: &Target) -> Vec<NewLogEntry<'a>> {
    let mut log = Vec::new();
    let mut note = |field: &'static str, before: Option<String>, after: Option<String>| {
        if before != after {
            log.push(NewLogEntry {
                field,
                before,
                after,
            });
        }
    };
    let id_text = |id: Option<i64>| id.map(|id| id.to_string());
    note(
        "status",
        Some(ticket.status.key().to_owned()),
        Some(after.status.key().to_owned()),
    );
    note(
        "urgency",
        Some(ticket.urgency.to_string()),
        Some(after.urgency.to_string()),
    );
    note(
        "department",
        Some(ticket.department_id.to_string()),
        Some(after.department_id.to_string()),
    );
    note("agent", id_text(ticket.agent_id), id_text(after.agent_id));
    note("team", id_text(ticket.team_id), id_text(after.team_id));
    note(
        "priority",
        ticket.priority_name.clone(),
        after
            .priority
            .as_ref()
            .map(|priority| priority.name.clone()),
    );
    note(
        "labels",
        Some(before.labels.joined()),
        Some(after.labels.joined()),
    );
    for (old, new) in before.fields.iter().zip(&after.fields) {
        if old.value != new.value {
            log.push(NewLogEntry {
                field: "field",
                before: Some(format!("{}: {}", old.field.name, old.display())),
                after: Some(format!("{}: {}", new.field.name, new.display())),
            });
        }
    }
    log
}

impl App {
    /// Changes what `change` names, with a log line for each property that
    /// changed; answers the ticket as it is now.
    pub async fn change_ticket(
        &self,
        caller: &Caller<'_>,
        key: &TicketKey,
        change: &TicketChange,
    ) -> AppResult<TicketState> {
        let (context, ticket) = self.ticket_to_edit(caller.actor, key).await?;
        let (state, _) = self.apply_change(&context, ticket, change).await?;
        Ok(state)
    }

    /// Changes a ticket the agent may edit (`context` is checked already);
    /// answers the ticket as it is now and whether anything changed.
    pub(crate) async fn apply_change(
        &self,
        context: &AgentContext,
        ticket: TicketRecord,
        change: &TicketChange,
    ) -> AppResult<(TicketState, bool)> {
        self.apply_change_as(context, ticket, change, &context.label)
            .await
    }

    /// What `change` would do to the ticket, in the log's words, checked
    /// as if it were made; nothing is written.
    pub(crate) async fn describe_change(
        &self,
        context: &AgentContext,
        before: &TicketState,
        change: &TicketChange,
    ) -> AppResult<Vec<String>> {
        let target = self.checked_target(context, before, change).await?;
        let directory = self.shared_directory().await?;
        let departments = crate::departments::department_tree(&directory.departments);
        let names = super::LogNames {
            departments: &departments,
            agents: &directory.agents,
            teams: &directory.teams,
        };
        Ok(log_of(&before.ticket, before, &target)
            .into_iter()
            .map(|entry| {
                let record = ferrodesk_store::TicketLogRecord {
                    id: 0,
                    actor: String::new(),
                    field: entry.field.to_owned(),
                    before_value: entry.before,
                    after_value: entry.after,
                    occurred_at: 0,
                };
                // The log says what was done; a preview, what will be.
                let words = super::describe_log_entry(&record, &names);
                [
                    ("changed ", "Change "),
                    ("assigned ", "Assign "),
                    ("unassigned ", "Unassign "),
                    ("left ", "Leave "),
                ]
                .iter()
                .find_map(|(done, to_do)| {
                    words
                        .strip_prefix(done)
                        .map(|rest| format!("{to_do}{rest}"))
                })
                .unwrap_or(words)
            })
            .collect())
    }

    /// `apply_change` with the log's actor named `actor_label` (a macro's
    /// changes name the macro).
    pub(crate) async fn apply_change_as(
        &self,
        context: &AgentContext,
        ticket: TicketRecord,
        change: &TicketChange,
        actor_label: &str,
    ) -> AppResult<(TicketState, bool)> {
        let before = self.state_of(ticket).await?;
        let target = self.checked_target(context, &before, change).await?;
        let ticket = &before.ticket;
        let log = log_of(ticket, &before, &target);
        if log.is_empty() {
            return Ok((before, false));
        }
        let changed_fields: Vec<(i64, Option<String>)> = before
            .fields
            .iter()
            .zip(&target.fields)
            .filter(|(old, new)| old.value != new.value)
            .map(|(_, new)| (new.field.id, new.value.clone()))
            .collect();
        let properties = TicketProperties {
            status: target.status,
            urgency: target.urgency,
            department_id: target.department_id,
            agent_id: target.agent_id,
            team_id: target.team_id,
            priority_id: target.priority.as_ref().map(|priority| priority.id),
            labels: Some(&target.labels),
        };
        let resolved_mails =
            if target.status == TicketStatus::Resolved && ticket.status != TicketStatus::Resolved {
                self.resolved_mails(ticket).await?
            } else {
                Vec::new()
            };
        let mails: Vec<_> = resolved_mails.iter().map(|mail| mail.as_new()).collect();
        let update = TicketUpdate {
            field_values: &changed_fields,
            mails: &mails,
            ..TicketUpdate::new(
                &properties,
                ferrodesk_store::TicketActor {
                    id: Some(context.agent_id),
                    label: actor_label,
                },
                &log,
            )
        };
        self.store()
            .tickets()
            .update_ticket(ticket.id, &update, self.now())
            .await?;
        if !mails.is_empty() {
            self.wake_workers();
        }
        // Read back for the names the row points to (agent, team, …).
        let ticket = self
            .store()
            .tickets()
            .get_ticket(ticket.id)
            .await?
            .ok_or(AppError::NotFound)?;
        let state = TicketState {
            ticket,
            labels: target.labels,
            fields: target.fields,
        };
        Ok((state, true))
    }

    /// Moves a ticket to Deleted (agents with the delete permission); a
    /// deleted ticket stays as it is.
    pub async fn delete_ticket(&self, caller: &Caller<'_>, key: &TicketKey) -> AppResult<()> {
        let (context, ticket) = self.ticket_to_edit(caller.actor, key).await?;
        if ticket.status == TicketStatus::Deleted {
            return Ok(());
        }
        context.require(Permission::TicketDelete)?;
        let change = TicketChange {
            status: Some(Ok(TicketStatus::Deleted)),
            ..TicketChange::default()
        };
        self.change_ticket(caller, &TicketKey::Id(ticket.id), &change)
            .await?;
        Ok(())
    }

    /// The properties after `change`, each checked where it changes.
    async fn checked_target(
        &self,
        context: &AgentContext,
        before: &TicketState,
        change: &TicketChange,
    ) -> AppResult<Target> {
        let ticket = &before.ticket;
        let mut errors = FieldErrors::new();
        let status = match given(&mut errors, &change.status) {
            Some(status) if status != ticket.status => {
                permitted_status(context, status, &mut errors).unwrap_or(ticket.status)
            }
            _ => ticket.status,
        };
        let urgency = given(&mut errors, &change.urgency).unwrap_or(ticket.urgency);
        let labels = given(&mut errors, &change.labels).unwrap_or_else(|| before.labels.clone());
        let department_id =
            given(&mut errors, &change.department_id).unwrap_or(ticket.department_id);
        self.check_department(context, ticket, department_id, &mut errors)
            .await?;
        let agent_id = given(&mut errors, &change.agent_id).unwrap_or(ticket.agent_id);
        // An assignment is checked when it changes (or the department does),
        // so a status change is not refused over an older assignment that
        // the agent's permissions no longer cover.
        if let Some(agent_id) = agent_id
            && (Some(agent_id) != ticket.agent_id || department_id != ticket.department_id)
        {
            self.check_assignee(agent_id, department_id, &mut errors)
                .await?;
        }
        let team_id = given(&mut errors, &change.team_id).unwrap_or(ticket.team_id);
        if let Some(team_id) = team_id
            && ticket.team_id != Some(team_id)
            && self
                .store()
                .departments()
                .get_team(team_id)
                .await?
                .is_none()
        {
            errors.add_unresolved("team", "That team does not exist.");
        }
        let priority_id = given(&mut errors, &change.priority_id).unwrap_or(ticket.priority_id);
        let priority = self.checked_priority(priority_id, &mut errors).await?;
        let fields = changed_fields(&before.fields, &change.fields, &mut errors);
        errors.into_result()?;
        Ok(Target {
            status,
            urgency,
            department_id,
            agent_id,
            team_id,
            priority,
            labels,
            fields,
        })
    }

    async fn check_department(
        &self,
        context: &AgentContext,
        ticket: &TicketRecord,
        department_id: i64,
        errors: &mut FieldErrors,
    ) -> AppResult<()> {
        if department_id == ticket.department_id {
            return Ok(());
        }
        if context.effective.department_access(department_id).is_none() {
            errors.add("department", "You have no access to that department.");
        }
        if !self
            .store()
            .departments()
            .list_departments()
            .await?
            .iter()
            .any(|department| department.id == department_id)
        {
            errors.add_unresolved("department", "That department does not exist.");
        }
        Ok(())
    }

    /// Whether an agent may be given tickets of a department.
    async fn check_assignee(
        &self,
        agent_id: i64,
        department_id: i64,
        errors: &mut FieldErrors,
    ) -> AppResult<()> {
        let assignable = self
            .store()
            .people()
            .get_person(agent_id)
            .await?
            .is_some_and(|person| person.is_agent && !person.is_disabled);
        let has_access = assignable
            && self
                .effective_permissions(agent_id)
                .await?
                .department_access(department_id)
                .is_some();
        if !has_access {
            errors.add_unresolved(
                "agent",
                "That agent cannot be assigned tickets of this department.",
            );
        }
        Ok(())
    }

    /// The priority after the change: an entry of the admins' list.
    async fn checked_priority(
        &self,
        priority_id: Option<i64>,
        errors: &mut FieldErrors,
    ) -> AppResult<Option<TicketPriorityRecord>> {
        let Some(id) = priority_id else {
            return Ok(None);
        };
        let found = self
            .store()
            .ticket_fields()
            .list_ticket_priorities()
            .await?
            .into_iter()
            .find(|priority| priority.id == id);
        if found.is_none() {
            errors.add_unresolved("priority", "That priority is not in the list.");
        }
        Ok(found)
    }
}

/// A property the change names, when it parsed (otherwise its errors are
/// added and it stays as it is).
fn given<T: Clone>(errors: &mut FieldErrors, property: &Option<Parsed<T>>) -> Option<T> {
    property.as_ref().and_then(|parsed| errors.take(parsed))
}

/// Every field's value after the change: the fields the change names,
/// checked against their definitions; the others keep theirs.
fn changed_fields(
    before: &[FieldView],
    sent: &FieldValues,
    errors: &mut FieldErrors,
) -> Vec<FieldView> {
    let named: Vec<_> = before
        .iter()
        .filter(|view| !sent.keeps(view.field.id))
        .map(|view| view.field.clone())
        .collect();
    let values = checked_field_values(&named, |id| values_for(sent.pairs(), id), errors);
    before
        .iter()
        .map(
            |view| match values.iter().find(|(id, _)| *id == view.field.id) {
                Some((_, value)) => FieldView {
                    value: value.clone(),
                    ..view.clone()
                },
                None => view.clone(),
            },
        )
        .collect()
}
